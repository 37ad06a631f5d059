"""Reading a sweep directory (`load_sweep`): its spec, its runs and their status records.

    SWEEP_DIR/sweep.json            the spec and its expansion: name, overrides and config of every run
    SWEEP_DIR/runs/NAME/            a run directory (grokinterp.runs.store), loadable with grokinterp.load_run
    SWEEP_DIR/status/NAME.json      written when a run ends (grokinterp.sweep.jobs)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grokinterp.config import ConfigError, RunConfig
from grokinterp.sweep.jobs import read_status, status_file
from grokinterp.sweep.spec import SweepRun, SweepSpec

FORMAT = "grokinterp-sweep/1"  # of sweep.json


@dataclass
class Sweep:
    """A sweep directory: its spec, its runs (with configs) and the status record of each ended run."""

    path: Path
    spec: SweepSpec
    runs: list[SweepRun]
    statuses: dict[str, dict[str, Any] | None]

    def run_dir(self, name: str) -> Path:
        if name not in self.statuses:
            raise KeyError(f"no run {name!r} in the sweep at {self.path}")
        return self.path / "runs" / name

    def run(self, name: str):
        """`grokinterp.load_run` of the run `name`."""
        from grokinterp.runs.run import load_run

        return load_run(self.run_dir(name))

    def state(self, name: str) -> str:
        """done | failed | interrupted (from the status file), else unfinished (started) or pending."""
        status = self.statuses.get(name)
        if status is not None:
            return status["state"]
        return "unfinished" if (self.run_dir(name) / "config.json").exists() else "pending"


def read_sweep_json(sweep_dir: Path) -> dict[str, Any]:
    """The record of `SWEEP_DIR/sweep.json`; FileNotFoundError if there is none, ConfigError if it is not one."""
    path = sweep_dir / "sweep.json"
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no sweep at {sweep_dir}: sweep.json missing") from None
    except ValueError as e:
        raise ConfigError(f"{path} is corrupt: {e}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a {FORMAT} file")
    return record


def load_sweep(sweep_dir: str | Path) -> Sweep:
    """Open a sweep directory written by `run_sweep` (or `grokinterp sweep`)."""
    sweep_dir = Path(sweep_dir)
    record = read_sweep_json(sweep_dir)
    spec = SweepSpec.from_dict(record["spec"], source=str(sweep_dir / "sweep.json"))
    runs = [SweepRun(name=r["name"], overrides=r["overrides"], config=RunConfig.from_dict(r["config"]))
            for r in record["runs"]]
    statuses = {r.name: read_status(status_file(sweep_dir, r.name)) for r in runs}
    return Sweep(path=sweep_dir, spec=spec, runs=runs, statuses=statuses)
