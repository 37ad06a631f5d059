"""grokinterp: train small transformers that grok, keep every step of their history, and take them apart.

Public API::

    import grokinterp
    run = grokinterp.load_run("checkpoints/mod113")
    model = run.model(step=10_000)          # a TransformerLens hooked model
    table = grokinterp.progress.measures(run)  # progress measures, one row per checkpoint
    phases = grokinterp.progress.phases(table)
"""

from grokinterp import analysis, progress
from grokinterp.config import ConfigError, ModelConfig, RunConfig, TaskConfig, TrainConfig
from grokinterp.presets import PRESETS, get_preset
from grokinterp.runs.run import Run, load_run

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "analysis",
    "progress",
    "ConfigError",
    "ModelConfig",
    "Run",
    "RunConfig",
    "TaskConfig",
    "TrainConfig",
    "get_preset",
    "load_run",
]
