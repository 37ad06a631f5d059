"""Low-level run directory store: crash-safe, verified, pickle-free.

A *run directory* holds everything one training run produces::

    RUN/
      config.json                        run config (JSON), written via ``write_config``
      split.safetensors                  train/test index tensors, written via ``write_split``
      metrics.jsonl                      append-only, one JSON object per line, each with an int "step"
      ckpt/step_00012300.safetensors     model tensors at that step (one per checkpoint, all kept)
      ckpt/resume_00012300.safetensors   optimizer/filter state tensors, for the latest two checkpoints only
      manifest.json                      the commit marker (see below), written LAST on every save
      .lock                              advisory ``fcntl.flock`` lock held by the one writing process

Manifest (``manifest.json``)::

    {
      "format": "grokinterp-run/1",
      "files": {
        "config.json":                    {"sha256": "<hex>", "bytes": 123},
        "split.safetensors":              {"sha256": "<hex>", "bytes": 456},
        "ckpt/step_00000100.safetensors": {"sha256": "<hex>", "bytes": 789, "step": 100},
        "ckpt/resume_00000100.safetensors": {"sha256": "<hex>", "bytes": 999}
      },
      "resume": "ckpt/resume_00000100.safetensors",      # or null
      "resume_prev": "ckpt/resume_00000050.safetensors"  # the resume point before it, or null
    }

Paths are relative to the run directory. Only files listed in the manifest exist as far as
readers are concerned: stray ``.*.tmp-*`` files and unlisted checkpoint files (left by a crash)
are ignored.

Commit protocol. Every file is written atomically: bytes go to a temp file in the same
directory (``.NAME.tmp-<uuid>``), which is flushed, fsynced, ``os.replace``d into place, and
the directory is fsynced. ``save_checkpoint`` writes the step file, then the resume file, then
the new manifest, and only then deletes the resume files of steps before the previous one and
stale temp files. A SIGKILL at any moment therefore leaves the previous manifest and the resume
files it points to intact; the interrupted checkpoint simply does not exist. Two resume points
are kept so that a latest checkpoint that fails verification (a flipped byte, a truncated file)
costs only the steps since the one before it: ``latest_resume`` falls back to it with a warning.
(One caveat: re-saving a step that is *already committed* replaces its file, so a crash between
that write and the new manifest leaves that one step failing verification; all other steps stay
loadable, and resuming falls back past it.)

Why sha256. safetensors validates the header but not the tensor bytes: a flipped bit in the
data region loads silently as a slightly different weight. Every load therefore hashes the
file and compares it against the manifest; a mismatch, wrong size, or missing file raises
``CheckpointError`` naming the file, and other checkpoints remain loadable.

Why no pickle. Unpickling executes arbitrary code and ties files to Python class layouts.
Tensors are stored with ``safetensors`` (header metadata is ``dict[str, str]``); everything
else is JSON.

Locking. One process writes a run at a time: ``RunStore.acquire()`` takes
``flock(LOCK_EX | LOCK_NB)`` on ``RUN/.lock`` and records its pid there. The kernel drops the
lock when the process dies, so a rerun after a kill succeeds. Writing methods require the lock
held by the same ``RunStore`` object; reading never needs it.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import fcntl
import hashlib
import json
import math
import os
import struct
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

__all__ = [
    "FORMAT",
    "CheckpointError",
    "RunLockedError",
    "RunStore",
    "atomic_write_bytes",
    "atomic_write_json",
    "sha256_file",
]

FORMAT = "grokinterp-run/1"

MANIFEST = "manifest.json"
CONFIG = "config.json"
SPLIT = "split.safetensors"
METRICS = "metrics.jsonl"
LOCK = ".lock"
CKPT_DIR = "ckpt"


class CheckpointError(RuntimeError):
    """A file listed in the manifest is missing, truncated or corrupt."""


@dataclass(frozen=True)
class RebuildReport:
    """What `RunStore.rebuild_manifest` found: the checkpoint steps it listed, the resume point, the files it
    left out (with why)."""

    path: Path
    steps: list[int]
    resume: str | None
    skipped: list[str]

    def line(self) -> str:
        """One line for the user."""
        have = f"steps {self.steps[0]}..{self.steps[-1]}" if self.steps else "no checkpoint"
        out = (f"rebuilt {self.path / MANIFEST} from the files on disk: {len(self.steps)} checkpoint(s), {have}, "
               f"resume point {self.resume or 'none'}")
        return out + (f"; left out (unreadable): {', '.join(self.skipped)}" if self.skipped else "")


class RunLockedError(RuntimeError):
    """Another process (or another RunStore object) holds the run's lock."""


# --------------------------------------------------------------------------- atomic I/O helpers


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same dir, fsync, replace, fsync dir)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8")


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as JSON (indent=2, sorted keys, trailing newline) atomically."""
    atomic_write_bytes(path, _json_bytes(obj))


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's contents."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- safetensors helpers


def _check_metadata(metadata: dict[str, str] | None) -> dict[str, str] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise TypeError("safetensors metadata must be dict[str, str]")
    return dict(metadata)


def _tensors_to_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None) -> bytes:
    prepared: dict[str, torch.Tensor] = {}
    for name, t in tensors.items():
        if not isinstance(name, str) or not isinstance(t, torch.Tensor):
            raise TypeError(f"expected dict[str, Tensor], got entry {name!r}: {type(t).__name__}")
        # A fresh contiguous CPU copy: safetensors refuses tensors that share storage.
        prepared[name] = t.detach().to("cpu").clone(memory_format=torch.contiguous_format)
    return _st_save(prepared, metadata=_check_metadata(metadata))


def _header_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` dict of a safetensors blob (empty if none)."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.get("__metadata__") or {}
    return {str(k): str(v) for k, v in meta.items()}


def _step_name(step: int) -> str:
    return f"{CKPT_DIR}/step_{step:08d}.safetensors"


def _resume_name(step: int) -> str:
    return f"{CKPT_DIR}/resume_{step:08d}.safetensors"


def _resume_step(rel: str) -> int:
    return int(Path(rel).stem.split("_", 1)[1])


def _empty_manifest() -> dict[str, Any]:
    return {"format": FORMAT, "files": {}, "resume": None, "resume_prev": None}


def _finite_or_none(value: Any) -> Any:
    """Metrics are strict JSON: a non-finite float (a diverged loss) is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


# --------------------------------------------------------------------------- the store


class RunStore:
    """A run directory. Constructing one creates nothing on disk."""

    def __init__(self, path: str | Path) -> None:
        self.path: Path = Path(path)
        self.ckpt_dir: Path = self.path / CKPT_DIR
        self._lock_fd: int | None = None
        self._lock_depth: int = 0
        self._manifest: dict[str, Any] | None = None  # writer-side cache, valid while locked

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    def exists(self) -> bool:
        return (self.path / MANIFEST).exists() or (self.path / CONFIG).exists()

    # ----------------------------------------------------------------------- locking

    @property
    def is_locked(self) -> bool:
        return self._lock_fd is not None

    def acquire(self) -> None:
        """Take the run's exclusive lock (re-entrant for this object); raise RunLockedError if held."""
        if self._lock_fd is not None:
            self._lock_depth += 1
            return
        self.path.mkdir(parents=True, exist_ok=True)
        lock_path = self.path / LOCK
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            try:
                pid = lock_path.read_text().strip() or "unknown"
            except OSError:
                pid = "unknown"
            raise RunLockedError(
                f"run directory {self.path} is locked by another writer (pid {pid})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd
        self._lock_depth = 1
        self._manifest = None  # re-read under the lock

    def release(self) -> None:
        """Release the lock (no-op if not held)."""
        if self._lock_fd is None:
            return
        self._lock_depth -= 1
        if self._lock_depth > 0:
            return
        fd, self._lock_fd = self._lock_fd, None
        self._manifest = None
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def locked(self) -> Iterator[RunStore]:
        self.acquire()
        try:
            yield self
        finally:
            self.release()

    def _require_lock(self, what: str) -> None:
        if self._lock_fd is None:
            raise RuntimeError(
                f"{what}: run {self.path} is not locked by this RunStore; "
                "call acquire() or use 'with store.locked():' first"
            )

    # ----------------------------------------------------------------------- manifest

    def _read_manifest(self) -> dict[str, Any]:
        mpath = self.path / MANIFEST
        try:
            raw = mpath.read_bytes()
        except FileNotFoundError:
            return _empty_manifest()
        try:
            m = json.loads(raw)
        except ValueError as e:
            raise CheckpointError(f"manifest {mpath} is corrupt: {e}") from None
        if not isinstance(m, dict) or m.get("format") != FORMAT or not isinstance(m.get("files"), dict):
            fmt = m.get("format") if isinstance(m, dict) else None
            raise CheckpointError(f"manifest {mpath} is not a {FORMAT} manifest (format {fmt!r})")
        m.setdefault("resume", None)
        m.setdefault("resume_prev", None)
        return m

    def _writer_manifest(self) -> dict[str, Any]:
        """A copy of the committed manifest (cached on the lock-holding writer)."""
        if self._manifest is None:
            self._manifest = self._read_manifest()
        return copy.deepcopy(self._manifest)

    def _commit(self, manifest: dict[str, Any]) -> None:
        atomic_write_json(self.path / MANIFEST, manifest)
        self._manifest = manifest

    def _write_file(self, rel: str, data: bytes) -> dict[str, Any]:
        atomic_write_bytes(self.path / rel, data)
        return {"sha256": _sha256_bytes(data), "bytes": len(data)}

    def _check_entry(self, rel: str, entry: dict[str, Any]) -> bytes:
        """Read a manifest-listed file and verify it; CheckpointError naming the file otherwise."""
        fpath = self.path / rel
        kind = {CONFIG: "run config", SPLIT: "train/test split"}.get(rel) or (
            "resume file" if Path(rel).name.startswith("resume_") else "checkpoint")
        try:
            data = fpath.read_bytes()
        except FileNotFoundError:
            raise CheckpointError(
                f"{kind} {fpath} is missing (listed in {self.path / MANIFEST})"
            ) from None
        if len(data) != entry.get("bytes"):
            raise CheckpointError(
                f"{kind} {fpath} is corrupt: size mismatch (expected {entry.get('bytes')} bytes, "
                f"got {len(data)}; truncated?)"
            )
        got = _sha256_bytes(data)
        if got != entry.get("sha256"):
            raise CheckpointError(
                f"{kind} {fpath} is corrupt: sha256 mismatch "
                f"(expected {str(entry.get('sha256'))[:12]}…, got {got[:12]}…)"
            )
        return data

    def _load_tensors(
        self, rel: str, entry: dict[str, Any]
    ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        data = self._check_entry(rel, entry)
        try:
            # sorted by name: safetensors loads in an order that changes from process to process
            # (`runs.Run.state_dict` puts a checkpoint in its model's order)
            return dict(sorted(_st_load(data).items())), _header_metadata(data)
        except Exception as e:  # verified bytes that still fail to parse: written corrupt
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise CheckpointError(f"checkpoint {self.path / rel} is corrupt: {msg}") from None

    # ----------------------------------------------------------------------- config / split

    def write_config(self, config: dict) -> None:
        self._require_lock("write_config")
        self.path.mkdir(parents=True, exist_ok=True)
        manifest = self._writer_manifest()
        manifest["files"][CONFIG] = self._write_file(CONFIG, _json_bytes(config))
        self._commit(manifest)

    def read_config(self) -> dict:
        cpath = self.path / CONFIG
        entry = self._read_manifest()["files"].get(CONFIG)
        if entry is None:
            # Not (yet) committed; the atomic write still guarantees a complete file.
            try:
                data = cpath.read_bytes()
            except FileNotFoundError:
                raise FileNotFoundError(f"no run at {self.path}: {CONFIG} missing") from None
        else:
            if not cpath.exists():
                raise FileNotFoundError(f"no run at {self.path}: {CONFIG} missing")
            data = self._check_entry(CONFIG, entry)
        return json.loads(data)

    def write_split(self, tensors: dict[str, torch.Tensor]) -> None:
        self._require_lock("write_split")
        self.path.mkdir(parents=True, exist_ok=True)
        manifest = self._writer_manifest()
        manifest["files"][SPLIT] = self._write_file(SPLIT, _tensors_to_bytes(tensors, None))
        self._commit(manifest)

    def read_split(self) -> dict[str, torch.Tensor]:
        entry = self._read_manifest()["files"].get(SPLIT)
        if entry is None:
            raise FileNotFoundError(f"no committed {SPLIT} in {self.path}")
        return self._load_tensors(SPLIT, entry)[0]

    # ----------------------------------------------------------------------- checkpoints

    def save_checkpoint(
        self,
        step: int,
        model: dict[str, torch.Tensor],
        resume: dict[str, torch.Tensor] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Write step file, resume file (if any), then the manifest; then drop stale resume/tmp files."""
        self._require_lock("save_checkpoint")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be a non-negative int, got {step!r}")
        metadata = _check_metadata(metadata)
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        manifest = self._writer_manifest()
        step_rel = _step_name(step)
        entry = self._write_file(step_rel, _tensors_to_bytes(model, metadata))
        entry["step"] = step
        new_resume: str | None = None
        resume_entry: dict[str, Any] | None = None
        if resume is not None:
            new_resume = _resume_name(step)
            resume_entry = self._write_file(new_resume, _tensors_to_bytes(resume, metadata))
        manifest["files"][step_rel] = entry
        if new_resume is not None:
            old, prev = manifest.get("resume"), manifest.get("resume_prev")
            if old == new_resume:  # the same step saved again: its predecessor stays the fallback
                old = prev
            elif prev and prev != new_resume:
                manifest["files"].pop(prev, None)
            if old and _resume_step(old) > step:  # resumed from an earlier point: later ones are superseded
                manifest["files"].pop(old, None)
                old = None
            manifest["files"][new_resume] = resume_entry
            manifest["resume"], manifest["resume_prev"] = new_resume, old
        self._commit(manifest)
        self._cleanup()

    def _cleanup(self) -> None:
        """Delete resume files other than the current one and stale temp files (lock held)."""
        m = self._manifest or {}
        current = {m.get("resume"), m.get("resume_prev")}
        if self.ckpt_dir.is_dir():
            for p in self.ckpt_dir.iterdir():
                rel = f"{CKPT_DIR}/{p.name}"
                is_resume = p.name.startswith("resume_") and p.name.endswith(".safetensors")
                stale_resume = is_resume and rel not in current
                if stale_resume or ".tmp-" in p.name:
                    with contextlib.suppress(OSError):
                        p.unlink()
        for p in self.path.glob(".*.tmp-*"):
            with contextlib.suppress(OSError):
                p.unlink()

    def steps(self) -> list[int]:
        files = self._read_manifest()["files"]
        return sorted(int(e["step"]) for e in files.values() if "step" in e)

    def _step_entry(self, step: int) -> tuple[str, dict[str, Any]]:
        manifest = self._read_manifest()
        rel = _step_name(step) if isinstance(step, int) and step >= 0 else ""
        entry = manifest["files"].get(rel)
        if entry is None or "step" not in entry:
            steps = sorted(int(e["step"]) for e in manifest["files"].values() if "step" in e)
            have = f"{steps[0]}..{steps[-1]} ({len(steps)} checkpoints)" if steps else "none (0 checkpoints)"
            raise ValueError(f"no checkpoint at step {step} in {self.path}; steps: {have}")
        return rel, entry

    def load_checkpoint(self, step: int) -> dict[str, torch.Tensor]:
        rel, entry = self._step_entry(step)
        return self._load_tensors(rel, entry)[0]

    def checkpoint_metadata(self, step: int) -> dict[str, str]:
        rel, entry = self._step_entry(step)
        return _header_metadata(self._check_entry(rel, entry))

    def latest_resume(
        self,
    ) -> tuple[int, dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, str]] | None:
        """(step, model tensors, resume tensors, step-file metadata) of the latest resume point that verifies,
        or None when there is none. A latest point that fails verification is skipped with a warning naming
        it, for the one before it; when every point fails, one CheckpointError names each."""
        manifest = self._read_manifest()
        points = [rel for rel in (manifest.get("resume"), manifest.get("resume_prev")) if rel]
        errors: list[CheckpointError] = []
        for rel in points:
            try:
                return self._load_resume(manifest, rel)
            except CheckpointError as e:
                errors.append(e)
                if rel != points[-1]:
                    warnings.warn(f"{e}; resuming from the resume point before it", stacklevel=2)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise CheckpointError(f"both resume points of {self.path} fail verification: "
                                  + "; ".join(str(e) for e in errors))
        return None

    def _load_resume(self, manifest: dict[str, Any], rel: str):
        entry = manifest["files"].get(rel)
        if entry is None:
            raise CheckpointError(
                f"manifest {self.path / MANIFEST} names resume file {rel} but does not list it"
            )
        step = _resume_step(rel)
        step_rel = _step_name(step)
        step_entry = manifest["files"].get(step_rel)
        if step_entry is None:
            raise CheckpointError(
                f"checkpoint {self.path / step_rel} is missing (resume file {rel} has no step file)"
            )
        model, meta = self._load_tensors(step_rel, step_entry)
        resume, _ = self._load_tensors(rel, entry)
        return step, model, resume, meta

    # ----------------------------------------------------------------------- repair

    def on_disk(self) -> list[str]:
        """The run's files on disk (config, split, metrics, checkpoint and resume files), whether or not a
        manifest lists them."""
        names = [n for n in (CONFIG, SPLIT, METRICS) if (self.path / n).is_file()]
        if self.ckpt_dir.is_dir():
            names += sorted(f"{CKPT_DIR}/{p.name}" for p in self.ckpt_dir.iterdir()
                            if p.suffix == ".safetensors" and p.name.startswith(("step_", "resume_")))
        return names

    def manifest_problem(self) -> str | None:
        """Why the manifest cannot stand for the files on disk (missing or unreadable while the directory holds a
        run's files), or None. A run in that state must be repaired, never taken for a new one."""
        if not self.on_disk():
            return None
        if not (self.path / MANIFEST).exists():
            return f"{self.path / MANIFEST} is missing"
        try:
            self._read_manifest()
        except CheckpointError as e:
            return str(e)
        return None

    def rebuild_manifest(self) -> RebuildReport:
        """Write a new manifest from the files on disk (lock held): config.json if it parses, the split and every
        checkpoint and resume file that loads; the latest two resume points whose step files loaded become the
        resume points. A file that fails to load is left out (and named). Loading catches truncation and a
        broken header, not a flipped bit in tensor data: only the old manifest's hashes could."""
        self._require_lock("rebuild_manifest")
        manifest, skipped = _empty_manifest(), []
        for rel in self.on_disk():
            if rel == METRICS:
                continue
            data = (self.path / rel).read_bytes()
            try:
                if rel == CONFIG:
                    json.loads(data)
                else:
                    _st_load(data)
            except Exception as e:  # noqa: BLE001  (any parse failure: the file is left out)
                skipped.append(f"{rel} ({str(e).splitlines()[0] if str(e) else type(e).__name__})")
                continue
            entry: dict[str, Any] = {"sha256": _sha256_bytes(data), "bytes": len(data)}
            if Path(rel).name.startswith("step_"):
                entry["step"] = int(Path(rel).stem.split("_", 1)[1])
            manifest["files"][rel] = entry
        points = sorted((rel for rel in manifest["files"] if Path(rel).name.startswith("resume_")
                         and _step_name(_resume_step(rel)) in manifest["files"]), key=_resume_step)
        for rel in [r for r in manifest["files"] if Path(r).name.startswith("resume_") and r not in points[-2:]]:
            del manifest["files"][rel]
        manifest["resume"] = points[-1] if points else None
        manifest["resume_prev"] = points[-2] if len(points) > 1 else None
        self._commit(manifest)
        steps = sorted(e["step"] for e in manifest["files"].values() if "step" in e)
        return RebuildReport(self.path, steps, manifest["resume"], skipped)

    def verify(self) -> dict[str, str | None]:
        """Every manifest-listed file -> None if intact, else an error message. Never raises."""
        try:
            manifest = self._read_manifest()
        except CheckpointError as e:
            return {MANIFEST: str(e)}
        out: dict[str, str | None] = {}
        for rel, entry in sorted(manifest["files"].items()):
            try:
                self._check_entry(rel, entry)
                out[rel] = None
            except (CheckpointError, OSError) as e:
                out[rel] = str(e)
        return out

    # ----------------------------------------------------------------------- metrics

    def append_metrics(self, rows: list[dict]) -> None:
        """Append rows (each with an int "step") as JSON lines; flush + fsync."""
        self._require_lock("append_metrics")
        lines = []
        for row in rows:
            s = row.get("step") if isinstance(row, dict) else None
            if isinstance(s, bool) or not isinstance(s, int):
                raise ValueError(f"metrics row needs an int 'step': {row!r}")
            clean = {k: _finite_or_none(v) for k, v in row.items()}
            lines.append(json.dumps(clean, sort_keys=True, allow_nan=False) + "\n")
        if not lines:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        mpath = self.path / METRICS
        with open(mpath, "a+b") as f:
            self._drop_partial_tail(f)
            f.write("".join(lines).encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())

    @staticmethod
    def _drop_partial_tail(f: Any) -> None:
        """If a kill left a partial last line (no trailing newline), cut it off before appending."""
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        pos = size
        while pos > 0:
            start = max(0, pos - 65536)
            f.seek(start)
            chunk = f.read(pos - start)
            i = chunk.rfind(b"\n")
            if i >= 0:
                f.truncate(start + i + 1)
                return
            pos = start
        f.truncate(0)

    def read_metrics(self, *, skip_bad: bool = False) -> list[dict]:
        """The metrics rows. A garbled last line (a kill mid-write) is dropped; a garbled line before it
        raises ValueError naming it, or with `skip_bad` is dropped with a warning."""
        mpath = self.path / METRICS
        try:
            raw = mpath.read_bytes()
        except FileNotFoundError:
            return []
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        rows: list[dict] = []
        for i, line in enumerate(lines):
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not a JSON object")
            except ValueError as e:
                if i == len(lines) - 1:
                    break  # truncated/garbled last line from a kill mid-write
                if skip_bad:
                    warnings.warn(f"{mpath}: line {i + 1} is not valid JSON ({e}); skipped", stacklevel=2)
                    continue
                raise ValueError(f"{mpath}: line {i + 1} is not valid JSON: {e}") from None
            rows.append(row)
        return rows

    def truncate_metrics(self, max_step: int) -> None:
        """Atomically rewrite metrics.jsonl keeping rows with row["step"] <= max_step."""
        self._require_lock("truncate_metrics")
        mpath = self.path / METRICS
        if not mpath.exists():
            return
        kept = [r for r in self.read_metrics(skip_bad=True) if isinstance(r.get("step"), int) and r["step"] <= max_step]
        atomic_write_bytes(mpath, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept).encode("utf-8"))
