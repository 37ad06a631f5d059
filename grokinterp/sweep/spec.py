"""Sweep specs: the TOML file (`SweepSpec`, `load_spec`) and its expansion into named runs (`expand`, `SweepRun`).

A run is named after its varied values (`lr=0.001_weight_decay=1`, `format_value`); every expanded config is
built and validated before anything runs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grokinterp.config import ConfigError, RunConfig

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

SPEC_KEYS = ("preset", "out", "stop_when_grokked", "steps_after_grokked", "set", "grid", "runs")
_MAX_NAME = 120


# ------------------------------------------------------------------------------------------- the spec


@dataclass
class SweepSpec:
    """A parsed sweep spec. `set`, `grid` and each entry of `runs` map dotted config keys to values."""

    preset: str
    set: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    out: str | None = None
    stop_when_grokked: bool = False
    steps_after_grokked: int = 0  # > 0: train this many steps past the grokked step, then stop (implies the stop)
    source: str = field(default="sweep spec", compare=False)  # where it came from, for error messages

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({"preset": self.preset, "set": self.set, "grid": self.grid, "runs": self.runs,
                          "out": self.out, "stop_when_grokked": self.stop_when_grokked,
                          "steps_after_grokked": self.steps_after_grokked})

    @classmethod
    def from_dict(cls, d: Any, source: str = "sweep spec") -> SweepSpec:
        """Check the structure of a spec (not its config keys: `expand` does that) and normalise it."""
        if not isinstance(d, dict):
            raise ConfigError(f"{source}: expected a table, got {type(d).__name__}")
        unknown = [k for k in d if k not in SPEC_KEYS]
        if unknown:
            raise ConfigError(f"{source}: unknown key {unknown[0]!r} (known: {', '.join(SPEC_KEYS)})")
        preset = d.get("preset")
        if not isinstance(preset, str) or not preset:
            raise ConfigError(f"{source}: `preset` must be a preset name (see `grokinterp presets`)")
        out = d.get("out")
        if out is not None and not isinstance(out, str):
            raise ConfigError(f"{source}: `out` must be a string, got {out!r}")
        stop = d.get("stop_when_grokked", False)
        if not isinstance(stop, bool):
            raise ConfigError(f"{source}: `stop_when_grokked` must be true or false, got {stop!r}")
        after = d.get("steps_after_grokked", 0)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ConfigError(f"{source}: `steps_after_grokked` must be an integer >= 0, got {after!r}")
        stop = stop or after > 0
        overrides = _flatten(_table(d.get("set", {}), "[set]", source), "[set]", source)
        grid = _flatten(_table(d.get("grid", {}), "[grid]", source), "[grid]", source)
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"{source}: [grid] {key} must be a non-empty list of values, got {values!r}")
        runs = d.get("runs", [])
        if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
            raise ConfigError(f"{source}: `runs` must be an array of tables ([[runs]])")
        runs = [_flatten(r, "[[runs]]", source) for r in runs]
        both = sorted({k for r in runs for k in r} & set(grid))
        if both:
            raise ConfigError(f"{source}: {both[0]} is in both [grid] and [[runs]]; give it in one of them")
        return cls(preset=preset, set=overrides, grid=grid, runs=runs, out=out, stop_when_grokked=stop,
                   steps_after_grokked=after, source=source)


def _table(value: Any, where: str, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {where} must be a table, got {value!r}")
    return value


def _flatten(table: dict[str, Any], where: str, source: str) -> dict[str, Any]:
    """Dotted keys: an unquoted `train.lr = ...` is the nested table {"train": {"lr": ...}} in TOML."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                if isinstance(v, dict):
                    raise ConfigError(f"{source}: {where} {key}.{sub}: expected section.key = value")
                out[f"{key}.{sub}"] = v
        else:
            out[key] = value
    return _jsonable(out)


def _jsonable(x: Any) -> Any:
    """`x` with tuples as lists, as it reads back from JSON (so specs compare equal across a round trip)."""
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def load_spec(path: str | Path) -> SweepSpec:
    """Read a TOML sweep spec; `ConfigError` (one line) for a missing file, bad TOML or a bad structure."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"sweep spec {path} not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read sweep spec {path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    return SweepSpec.from_dict(data, source=str(path))


# ------------------------------------------------------------------------------------------- expansion


@dataclass
class SweepRun:
    """One run of a sweep: its name, the overrides that vary (on top of the spec's [set]) and its config."""

    name: str
    overrides: dict[str, Any]
    config: RunConfig


def format_value(v: Any) -> str:
    """Short readable form of an override value: 1.0 -> '1', 0.001 -> '0.001', [0.9, 0.98] -> '0.9,0.98'."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, (list, tuple)):
        return ",".join(format_value(x) for x in v)
    return str(v)


def _labels(keys: list[str]) -> dict[str, str]:
    """Each dotted key's label in run names: its last component, or the full key where two share it."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


_UNSAFE = re.compile(r"[^A-Za-z0-9._,=+-]+")


def _run_name(overrides: dict[str, Any], labels: dict[str, str]) -> str:
    if not overrides:
        return "base"
    name = "_".join(f"{labels[k]}={format_value(v)}" for k, v in overrides.items())
    name = _UNSAFE.sub("-", name).lstrip(".-") or "run"
    if len(name) > _MAX_NAME:  # keep it a valid file name; the hash keeps it unique
        digest = hashlib.sha1(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
        name = f"{name[:_MAX_NAME - 9]}-{digest}"
    return name


def expand(spec: SweepSpec) -> list[SweepRun]:
    """Every run of the spec, in grid order (first key slowest) crossed with [[runs]], each config built
    and validated: a ConfigError names the run and the key before anything is trained."""
    from grokinterp.presets import get_preset

    try:
        base = get_preset(spec.preset)
    except ConfigError as e:
        raise ConfigError(f"{spec.source}: {e}") from None
    try:
        base.with_overrides(spec.set)
    except ConfigError as e:
        raise ConfigError(f"{spec.source}: [set]: {e}") from None
    keys = list(spec.grid) + [k for k in dict.fromkeys(k for r in spec.runs for k in r)]
    labels = _labels(keys)
    combos = [dict(zip(spec.grid, values)) for values in itertools.product(*spec.grid.values())]
    entries = spec.runs or [{}]
    runs: list[SweepRun] = []
    seen: dict[str, dict[str, Any]] = {}
    for combo in combos:
        for entry in entries:
            overrides = _jsonable({**combo, **entry})
            name = _run_name(overrides, labels)
            try:
                cfg = base.with_overrides({**spec.set, **overrides})
            except ConfigError as e:
                raise ConfigError(f"{spec.source}: run {name}: {e}") from None
            if name in seen:
                if seen[name] == overrides:
                    raise ConfigError(f"{spec.source}: run {name} appears twice")
                name = next(f"{name}-{i}" for i in itertools.count(2) if f"{name}-{i}" not in seen)
            seen[name] = overrides
            runs.append(SweepRun(name=name, overrides=overrides, config=cfg))
    return runs
