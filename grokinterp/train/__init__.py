"""Training: `python -m grokinterp.train PRESET [--out DIR] [--set key=value ...] [--stop-when-grokked]`.

`train(cfg, out)` runs the run's optimiser (AdamW, or Muon on the hidden matrices) on its loss over the scored
answer positions and writes a run directory (see `grokinterp.runs.store`):
a dense checkpoint schedule, a metrics row every `log_every` steps, and the optimizer state of the latest two
checkpoints. The package:

- `loop`: the loop shared by both steppers (`run_loop`), the checkpoint schedule and the lr schedule.
- `single`: the single-run `Stepper`, with the set-ups of `accel` resolved before the loop starts.
- `batched`: the model-batched `Stepper` (`torch.func` over stacked models of one shape).
- `accel`: Grokfast, orthogonal gradients, GrokTransfer's embedding, the init scale and the fixed norm.
- `optim`: AdamW and Muon, their parameter groups (the architecture decides which matrices Muon takes).
- `rundir`: the run directory as both steppers write it; `run`: `train()`; `cli`: the command line.
- `explog`: optional mirrors of the metrics (TensorBoard, wandb). (CPU allocator settings: `grokinterp.allocator`.)

Running the same command again resumes from the latest checkpoint (or, if that one fails verification, from the one
before it) and gives bitwise the same parameters as an uninterrupted run at the same thread count: nothing in a
step is random and minibatch order is a pure function of (seed, epoch). The TransformerLens transformer's step does
not even depend on the thread count's summation order (see `grokinterp.models.transformer`); Power et al.'s
architecture's does (1 and 2 threads agree to float rounding, not bitwise), so resume those runs at the thread
count they started with. A larger `train.steps` extends a finished run (config.json then records the new budget).
Ctrl-C or SIGTERM finishes the current step, writes a checkpoint and exits with code 130.

Step convention: "step s" is the state after s optimizer updates; step 0 is the initialisation.
The learning rate of update s (0-based) is `lr * min(s / warmup_steps, 1)`, Nanda et al.'s
`LambdaLR(lambda s: min(s / 10, 1))`, so the very first update has lr 0.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grokinterp.train.cli import main
    from grokinterp.train.loop import checkpoint_schedule, lr_at, warmup_factor
    from grokinterp.train.run import train
    from grokinterp.train.rundir import TrainResult
    from grokinterp.train.single import DivergedError

# loaded on first use (PEP 562), so that `python -m grokinterp.train` reaches its argument checks before torch
_WHERE = {"main": "cli", "checkpoint_schedule": "loop", "lr_at": "loop", "warmup_factor": "loop", "train": "run",
          "TrainResult": "rundir", "DivergedError": "single"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'grokinterp.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"grokinterp.train.{_WHERE[name]}"), name)
    globals()[name] = value
    return value

__all__ = ["DivergedError", "TrainResult", "checkpoint_schedule", "lr_at", "main", "train", "warmup_factor"]
