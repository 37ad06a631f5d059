"""Optional experiment logging: `--set train.log=tensorboard` or `--set train.log=wandb` mirrors a run's
`metrics.jsonl` rows to TensorBoard or Weights & Biases as they are written (`pip install 'grokinterp[log]'`).

Neither is ever required, and neither is imported unless asked for. `metrics.jsonl` stays the record; the
logger gets the same rows (its scalar columns; per-position lists as `NAME/0`, `NAME/1`, ...), at their steps.

- tensorboard: event files in RUN/tensorboard (`torch.utils.tensorboard.SummaryWriter`); a resumed run purges
  the events from its resume step on, so the curves hold each step once.
- wandb: a run in RUN/wandb, project `grokinterp` (or WANDB_PROJECT), named after the run directory, with an id
  fixed by the run directory's path, so a resumed run continues the same wandb run. wandb's own WANDB_MODE
  decides where it goes: `WANDB_MODE=offline` writes only to disk (`wandb sync` uploads it later). When training
  ends the run is finished and, unless another wandb run is active in the process, wandb is torn down, so that
  everything is on disk (or uploaded) when `train` returns, even in a worker process that skips atexit hooks.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from grokinterp.errors import ConfigError

LOGGERS = ("none", "tensorboard", "wandb")
PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb"}


@runtime_checkable
class MetricsLogger(Protocol):
    def log(self, rows: list[dict]) -> None: ...

    def close(self) -> None: ...


def require(kind: str) -> None:
    """ConfigError unless the logger `kind` can be used here (its package is installed)."""
    if kind not in LOGGERS:
        raise ConfigError(f"train.log must be one of {', '.join(LOGGERS)}, got {kind!r}")
    if kind != "none" and importlib.util.find_spec(PACKAGES[kind]) is None:
        raise ConfigError(f"train.log={kind} needs {PACKAGES[kind]}: pip install 'grokinterp[log]'")


def scalars(row: dict) -> dict[str, float]:
    """The row's numeric columns (lists spread over NAME/i), without `step`; non-finite values left out."""
    out: dict[str, float] = {}
    for key, value in row.items():
        if key == "step":
            continue
        items = enumerate(value) if isinstance(value, (list, tuple)) else [(None, value)]
        for i, v in items:
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                out[key if i is None else f"{key}/{i}"] = float(v)
    return out


class TensorBoardLogger:
    def __init__(self, run_dir: Path, first_step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"), purge_step=first_step)

    def log(self, rows: list[dict]) -> None:
        for row in rows:
            for key, value in scalars(row).items():
                self.writer.add_scalar(key, value, global_step=row["step"])
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbLogger:
    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        import wandb

        run_id = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:16]
        (run_dir / "wandb").mkdir(exist_ok=True)
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "grokinterp"), name=run_dir.name, id=run_id,
                              dir=str(run_dir), config=config, resume="allow", reinit="create_new")

    def log(self, rows: list[dict]) -> None:
        for row in rows:
            if self.run.step is None or row["step"] >= self.run.step:  # a resumed step already sent is skipped
                self.run.log(scalars(row), step=row["step"])

    def close(self) -> None:
        import wandb

        self.run.finish()
        # finish() returns before wandb's service process has written the run's last records to disk (a run's
        # .wandb file held only its 7-byte header when the first run of a process returned); teardown waits for
        # the service to exit. It is left alone while another wandb run of the user's is still active here.
        if wandb.run is None:
            wandb.teardown()


def make_logger(kind: str, run_dir: str | Path, first_step: int, config: dict[str, Any]) -> MetricsLogger | None:
    """The logger `kind` for the run in `run_dir`, whose first row to log is at `first_step`; None for "none"."""
    require(kind)
    if kind == "tensorboard":
        return TensorBoardLogger(Path(run_dir), first_step)
    if kind == "wandb":
        return WandbLogger(Path(run_dir), config)
    return None
