"""grokinterp: train small transformers that grok, keep every step of their history, and take them apart.

Public API::

    import grokinterp
    run = grokinterp.load_run("checkpoints/mod113")
    model = run.model(step=10_000)          # a TransformerLens hooked model
    table = grokinterp.progress.measures(run)  # progress measures, one row per checkpoint
    phases = grokinterp.progress.phases(table)
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grokinterp import analysis, progress
    from grokinterp.config import ConfigError, ModelConfig, RunConfig, TaskConfig, TrainConfig
    from grokinterp.presets import PRESETS, get_preset
    from grokinterp.runs.run import Run, load_run

# The public names, each loaded on first use (PEP 562): `python -m grokinterp.train` then checks a bad `--set`
# value before torch is imported (grokinterp.limits), and `import grokinterp` stays as it was for everything else.
_WHERE = {"analysis": "grokinterp.analysis", "progress": "grokinterp.progress",
          **dict.fromkeys(("ConfigError", "ModelConfig", "RunConfig", "TaskConfig", "TrainConfig"),
                          "grokinterp.config"),
          **dict.fromkeys(("PRESETS", "get_preset"), "grokinterp.presets"),
          **dict.fromkeys(("Run", "load_run"), "grokinterp.runs.run")}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'grokinterp' has no attribute {name!r}")
    module = importlib.import_module(_WHERE[name])
    value = module if module.__name__ == f"grokinterp.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})

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
