"""Run directories: what training writes and every analysis reads.

- `store`: the files of a run directory (atomic writes, the sha256 manifest, the lock, checkpoints).
- `record`: config.json as a record (the config, package versions) and back.
- `run`: `load_run(path) -> Run`, the read side (config, metrics, verified checkpoints, the hooked model).
- `importing`: other projects' checkpoints (TransformerLens state dicts, the TL grokking demo, Nanda et al.'s
  files) as run directories (`grokinterp import`).
"""

from grokinterp.runs.run import Run, load_run

__all__ = ["Run", "load_run"]
