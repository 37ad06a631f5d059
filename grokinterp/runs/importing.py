"""Importing checkpoints written by other grokking code: `grokinterp import FILE [FILE ...] --preset P --out DIR`.

Three formats, told apart by their keys and shapes (`detect`):

- **"tl"**, a bare HookedTransformer state dict (TransformerLens < 4): `embed.W_E` (d_vocab, d_model),
  `pos_embed.W_pos` (n_ctx, d_model), `blocks.{l}.attn.W_Q/W_K/W_V` (n_heads, d_model, d_head), `W_O`
  (n_heads, d_head, d_model), `b_Q/b_K/b_V` (n_heads, d_head), `b_O`, `blocks.{l}.mlp.W_in` (d_model, d_mlp),
  `b_in`, `W_out` (d_mlp, d_model), `b_out`, `unembed.W_U` (d_model, d_vocab_out), `unembed.b_U`, LayerNorm
  `w`/`b`, and the `mask`/`IGNORE` buffers. TransformerLens's own `convert_tl_checkpoint` maps it onto the
  bridge's names. One checkpoint, at `--step` (default 0).
- **"tl-demo"**, the dict TransformerLens's grokking demo saved: `model` (a "tl" state dict), `checkpoints` (a
  list of them) saved at `checkpoint_epochs`, `train_losses`/`test_losses` (one per epoch), `train_indices`/
  `test_indices` (its split, into the pairs in `a * p + b` order) and `config` (a HookedTransformerConfig,
  read as an inert record of its fields).
- **"nanda"**, the progress-measures paper's `Transformer` (Nanda et al. 2023, `transformers.py`):
  `embed.W_E` (d_model, d_vocab), `pos_embed.W_pos` (n_ctx, d_model), `blocks.{l}.attn.W_Q/W_K/W_V`
  (n_heads, d_head, d_model), `W_O` (d_model, n_heads*d_head, heads major), `blocks.{l}.attn.mask`,
  `blocks.{l}.mlp.W_in` (d_mlp, d_model), `b_in`, `W_out` (d_model, d_mlp), `b_out`, `unembed.W_U`
  (d_model, d_vocab); no attention or unembedding bias, no LayerNorm. Its files: a bare state dict, the
  Trainer's `{epoch}.pth` ({model, epoch, train_loss, test_loss}), `init.pth` ({model, train_data, test_data},
  which holds its split), `final.pth` ({model, train_losses, test_losses, epoch, optimizer, scheduler}), and the
  released `full_run_data.pth` ({state_dicts, epochs, train_losses, test_losses, config, model}). It is
  rewritten into "tl" names and shapes (W_E.T; W_Q/W_K/W_V (h, dh, dm) -> (h, dm, dh); W_O -> (h, dh, dm);
  W_in.T; W_out.T), then converted like "tl".

Steps: a checkpoint becomes the run's checkpoint at the epoch its file names it by. Both codes save after that
epoch's update, so the weights at "epoch" e have had e + 1 updates (`final.pth`, which says `epoch: num_epochs`,
is put at len(train_losses) - 1). The file's own losses of those weights (`test_losses[e]` in the demo, which
evaluates after the update; `train_losses[e + 1]` and `test_losses[e + 1]` in Nanda's code, which evaluates
before it) are kept beside ours as `source_train_loss`/`source_test_loss` in the metrics rows; every other column
(losses, accuracies, weight norm) is recomputed from the imported weights on the run's split, so that the two
agree is a check of the conversion and the split.

Split: the file's (`train_indices`, `init.pth`'s `train_data`), else Nanda's own (`random.seed(seed);
random.shuffle(pairs)` with the file's config, or seed 0 and the preset's `frac_train`), else the preset's, with a
warning. Output logits: the demo's model has p logits, ours p + 1 ('=' included); the '=' row of the unembedding
is 0 and its bias -1e4, so the softmax over p + 1 logits equals the demo's over p.

Safety: files are read with `torch.load(weights_only=True)` only. A file that needs anything else to load (a
pickled class or function other than the two known config records, which become `InertRecord`s) is refused with
`LegacyFormatError`, and nothing in it runs.
"""

from __future__ import annotations

import math
import os
import pickle
import random
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import einops
import torch
from torch import Tensor

from grokinterp.config import ConfigError, RunConfig
from grokinterp.models import BUFFERS, architecture_of, build_model, is_bias, is_trainable, named_tensors, weight_sq
from grokinterp.models.transformer import bridge_config
from grokinterp.runs.record import config_record
from grokinterp.runs.store import RunStore
from grokinterp.tasks import Task, make_task

FORMATS = ("tl", "tl-demo", "nanda")
EQUALS_BIAS = -1e4  # the '=' logit of a model that had none: exp(-1e4) is 0 in float32 and float64


class LegacyFormatError(ConfigError):
    """A file that cannot be imported: refused as unsafe, unreadable, or of no known format."""


class InertRecord:
    """What a known config object (HookedTransformerConfig, Nanda's Config) becomes when a file is loaded: its
    fields as a dict, and nothing of its class (no method of it runs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.fields: dict[str, Any] = dict(kwargs)

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (__dict__, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        self.fields = dict(state) if isinstance(state, dict) else {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


# config classes whose pickles are read as InertRecords (their module paths as the pickles name them)
KNOWN_RECORDS = (
    "transformer_lens.HookedTransformerConfig.HookedTransformerConfig",
    "transformer_lens.config.HookedTransformerConfig.HookedTransformerConfig",
    "transformers.Config",
    "__main__.Config",
)


# what torch's weights-only unpickler says when a pickle asks for a global, a call or an object it does not allow
REFUSALS = ("GLOBAL", "global", "reduce", "allowlist", "Can only")


def read_file(path: str | Path) -> Any:
    """The object in a `torch.save` file, loaded weights-only (tensors and plain data; the known config records
    as `InertRecord`s). Raises LegacyFormatError for anything else, before any of it runs."""
    path = Path(path)
    if not path.is_file():
        raise LegacyFormatError(f"{path}: no such file")
    try:
        with torch.serialization.safe_globals([(InertRecord, name) for name in KNOWN_RECORDS]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if not any(m in str(e) for m in REFUSALS):  # garbage, not a pickle that asks for code
            raise LegacyFormatError(f"{path}: not a readable torch checkpoint (not a pickle of tensors and plain "
                                    "data)") from None
        what = next((line for line in str(e).splitlines() if "GLOBAL" in line or "global" in line), "")
        found = re.search(r"GLOBAL ([\w.]+)", what)
        needs = f" (it needs {found.group(1)})" if found else ""
        raise LegacyFormatError(f"{path}: refused: loading it needs more than tensors and plain data{needs}; "
                                "nothing in it was run") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise LegacyFormatError(f"{path}: not a readable torch checkpoint ({first})") from None


# ----------------------------------------------------------------------------------------------- formats


def is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(k, str) and isinstance(v, Tensor)
                                                       for k, v in obj.items())


def state_dict_format(sd: dict[str, Tensor]) -> str:
    """"tl" or "nanda" for a state dict (by W_O's rank and the unembedding bias), else LegacyFormatError."""
    if "embed.W_E" not in sd or "unembed.W_U" not in sd:
        some = ", ".join(list(sd)[:4])
        raise LegacyFormatError(f"a state dict with neither embed.W_E nor unembed.W_U (keys {some}, ...): not a "
                                "HookedTransformer or progress-measures Transformer")
    w_o = sd.get("blocks.0.attn.W_O")
    if w_o is not None:
        return "nanda" if w_o.dim() == 2 else "tl"
    return "tl" if "unembed.b_U" in sd else "nanda"


def nanda_to_tl(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """Nanda et al.'s Transformer tensors in HookedTransformer names and shapes."""
    out: dict[str, Tensor] = {}
    for key, t in sd.items():
        if key == "embed.W_E" or key.endswith((".mlp.W_in", ".mlp.W_out")):
            out[key] = t.T.contiguous()
        elif key.endswith((".attn.W_Q", ".attn.W_K", ".attn.W_V")):
            out[key] = t.transpose(1, 2).contiguous()
        elif key.endswith(".attn.W_O"):
            n_heads = sd[key.replace("W_O", "W_Q")].shape[0]
            out[key] = einops.rearrange(t, "m (i h) -> i h m", i=n_heads).contiguous()
        else:
            out[key] = t
    return out


@dataclass
class Source:
    """What one or more files hold: checkpoints (epoch -> "tl"-format tensors), the file's losses of those
    weights, its split (indices into the task's examples) and its config record."""

    format: str
    files: list[str]
    checkpoints: dict[int, dict[str, Tensor]] = field(default_factory=dict)
    source_losses: dict[int, dict[str, float]] = field(default_factory=dict)
    split: tuple[Tensor, Tensor] | None = None
    record: dict[str, Any] = field(default_factory=dict)


def _nth(values: Any, i: int) -> float | None:
    return float(values[i]) if isinstance(values, (list, tuple)) and 0 <= i < len(values) else None


def _own_losses(obj: dict, epoch: int, train_at: int, test_at: int) -> dict[str, float]:
    """The file's train and test losses of the weights saved at `epoch` (entries epoch + train_at/test_at)."""
    found = {"source_train_loss": _nth(obj.get("train_losses"), epoch + train_at),
             "source_test_loss": _nth(obj.get("test_losses"), epoch + test_at)}
    return {k: v for k, v in found.items() if v is not None}


Entry = tuple[int, dict[str, Tensor], dict[str, float]]  # (epoch, state dict, the file's losses of it)


def _parse(obj: Any, path: Path, step: int) -> tuple[str, list[Entry]]:
    """The format of a loaded file and its checkpoints."""
    if is_state_dict(obj):
        return state_dict_format(obj), [(step, obj, {})]
    if not isinstance(obj, dict):
        raise LegacyFormatError(f"{path}: holds a {type(obj).__name__}, not a state dict or a dict of them")
    if "checkpoints" in obj and "checkpoint_epochs" in obj:  # the TL grokking demo
        sds, epochs = obj["checkpoints"], obj["checkpoint_epochs"]
        if len(sds) != len(epochs) or not all(is_state_dict(s) for s in sds):
            raise LegacyFormatError(f"{path}: checkpoints and checkpoint_epochs do not pair up")
        if sds and state_dict_format(sds[0]) != "tl":
            raise LegacyFormatError(f"{path}: a demo file whose checkpoints are not HookedTransformer state dicts")
        # the demo takes an epoch's train loss before its update and its test loss after it
        return "tl-demo", [(int(e), sd, _own_losses(obj, int(e), 1, 0)) for e, sd in zip(epochs, sds)]
    if "state_dicts" in obj and "epochs" in obj:  # Nanda's full_run_data.pth
        sds = obj["state_dicts"]
        if len(sds) != len(obj["epochs"]) or not all(is_state_dict(s) for s in sds):
            raise LegacyFormatError(f"{path}: state_dicts and epochs do not pair up")
        # Nanda's Trainer takes both losses of an epoch before its update
        return "nanda", [(int(e), sd, _own_losses(obj, int(e), 1, 1)) for e, sd in zip(obj["epochs"], sds)]
    if "model" in obj and is_state_dict(obj["model"]):
        sd = obj["model"]
        if state_dict_format(sd) == "tl":
            return "tl", [(step, sd, {})]
        if "train_data" in obj and "epoch" not in obj:  # init.pth: the weights before any update
            return "nanda", [(-1, sd, {})]
        if "train_losses" in obj:  # final.pth: the weights after all len(train_losses) updates
            return "nanda", [(len(obj["train_losses"]) - 1, sd, {})]
        # {epoch}.pth: its losses are of the weights before this epoch's update, not of these
        return "nanda", [(int(obj.get("epoch", step)), sd, {})]
    keys = ", ".join(map(str, list(obj)[:6]))
    raise LegacyFormatError(f"{path}: a dict of no known format (keys {keys}); expected a state dict, the TL demo's "
                            "dict (checkpoints, checkpoint_epochs, ...) or a progress-measures file")


def read_sources(paths: list[str | Path], step: int = 0) -> Source:
    """The checkpoints, losses, split and config record of the files `paths` (all of one format family). Nanda's
    `init.pth` (the weights before any update) becomes step 0 unless an epoch-0 checkpoint is there (his first
    update has lr 0, so the two are the same weights)."""
    src: Source | None = None
    for path in map(Path, paths):
        obj = read_file(path)
        fmt, entries = _parse(obj, path, step)
        if src is None:
            src = Source(format=fmt, files=[])
        elif {src.format, fmt} - {"tl", "tl-demo"} and src.format != fmt:
            raise LegacyFormatError(f"{path} is a {fmt!r} file, the files before it {src.format!r}")
        src.files.append(str(path))
        for epoch, sd, losses in entries:
            if epoch in src.checkpoints:
                raise LegacyFormatError(f"{path}: a second checkpoint at epoch {epoch}")
            src.checkpoints[epoch] = nanda_to_tl(sd) if fmt == "nanda" else dict(sd)
            if losses:
                src.source_losses[epoch] = losses
        if isinstance(obj, dict):
            _take_split_and_record(src, obj, path)
    if src is None:
        raise LegacyFormatError("no file to import")
    if -1 in src.checkpoints:
        init = src.checkpoints.pop(-1)
        src.checkpoints.setdefault(0, init)
    return src


def _pairs_split(train: list, test: list, path: Path) -> tuple[Tensor, Tensor]:
    """Indices (a * p + b) of Nanda's `train_data`/`test_data` lists of (a, b, p) triples."""
    try:
        p = int(train[0][2])
        return (torch.tensor([int(a) * p + int(b) for a, b, _ in train], dtype=torch.long),
                torch.tensor([int(a) * p + int(b) for a, b, _ in test], dtype=torch.long))
    except (TypeError, ValueError, IndexError):
        raise LegacyFormatError(f"{path}: train_data/test_data are not lists of (a, b, p) triples") from None


def nanda_split(n: int, frac_train: float, seed: int) -> tuple[Tensor, Tensor]:
    """Nanda et al.'s split of n pairs: `random.seed(seed); random.shuffle(pairs)`, the first int(frac n) train
    (Python's shuffle depends only on the list's length, so shuffling indices shuffles the pairs alike)."""
    idx = list(range(n))
    rng = random.Random(seed)  # random.seed(seed) then random.shuffle: the same draws, without the global state
    rng.shuffle(idx)
    div = int(frac_train * n)
    return torch.tensor(idx[:div], dtype=torch.long), torch.tensor(idx[div:], dtype=torch.long)


def _take_split_and_record(src: Source, obj: dict, path: Path) -> None:
    if "train_indices" in obj and "test_indices" in obj:
        src.split = (torch.as_tensor(obj["train_indices"]).long().reshape(-1),
                     torch.as_tensor(obj["test_indices"]).long().reshape(-1))
    elif "train_data" in obj and "test_data" in obj:
        src.split = _pairs_split(obj["train_data"], obj["test_data"], path)
    if "config" in obj:
        config = obj["config"]
        src.record.update(config.fields if isinstance(config, InertRecord) else
                          config if isinstance(config, dict) else {})


# ----------------------------------------------------------------------------------------------- conversion


def tl_sizes(sd: dict[str, Tensor]) -> dict[str, int]:
    """The sizes a "tl"-format state dict implies, under their config names."""
    n_layers = len({k.split(".")[1] for k in sd if re.match(r"blocks\.\d+\.", k)})
    w_q = sd.get("blocks.0.attn.W_Q")
    sizes = {"model.d_model": sd["embed.W_E"].shape[1], "model.n_layers": n_layers,
             "d_vocab": sd["embed.W_E"].shape[0], "d_vocab_out": sd["unembed.W_U"].shape[1]}
    if "pos_embed.W_pos" in sd:
        sizes["n_ctx"] = sd["pos_embed.W_pos"].shape[0]
    if w_q is not None:
        sizes["model.n_heads"], sizes["model.d_head"] = w_q.shape[0], w_q.shape[2]
    if "blocks.0.mlp.W_in" in sd:
        sizes["model.d_mlp"] = sd["blocks.0.mlp.W_in"].shape[1]
    return sizes


def check_fits(sd: dict[str, Tensor], cfg: RunConfig, task: Task, record: dict[str, Any]) -> None:
    """LegacyFormatError naming each size (and the activation) where the file's model and the config differ."""
    have = tl_sizes(sd)
    want = {"model.d_model": cfg.model.d_model, "model.n_layers": cfg.model.n_layers,
            "model.n_heads": cfg.model.n_heads, "model.d_head": cfg.model.d_head, "model.d_mlp": cfg.model.d_mlp,
            "d_vocab": task.d_vocab, "n_ctx": task.n_ctx}
    fixes, other = [], []
    for key, value in have.items():
        if key == "d_vocab_out":
            if value not in (task.d_vocab_out, task.d_vocab_out - 1):
                other.append(f"{value} output logits (the task has {task.d_vocab_out})")
        elif key in want and want[key] != value:
            (fixes if key.startswith("model.") else other).append(
                f"{key}={value}" if key.startswith("model.") else f"{key} {value} (the task has {want[key]})")
    act = record.get("act_fn") or record.get("act_type")
    if isinstance(act, str) and act.lower() in ("relu", "gelu") and act.lower() != cfg.model.act_fn:
        fixes.append(f"model.act_fn={act.lower()}")
    if not architecture_of(cfg.model).tl_native:
        other.append(f"a transformer, not model.arch={cfg.model.arch}")
    if fixes or other:
        hint = f" (add {' '.join('--set ' + f for f in fixes)})" if fixes else ""
        what = ", ".join(other + [f.replace("=", " ") for f in fixes])
        raise LegacyFormatError(f"the file's model does not fit the config: it has {what}{hint}")


def model_tensors(cfg: RunConfig, task: Task) -> dict[str, Tensor]:
    """The checkpoint tensors of a freshly built model of `cfg` on `task` (names, shapes and dtypes to fill)."""
    model = build_model(cfg.model, task.d_vocab, task.d_vocab_out, task.n_ctx)
    return {n: t.detach() for n, t in named_tensors(model).items()}


def to_bridge(sd: dict[str, Tensor], cfg: RunConfig, task: Task,
              live: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
    """A "tl"-format state dict as checkpoint tensors of the config's model (the bridge's names): converted by
    TransformerLens, frozen biases the file lacks filled with 0, a missing '=' logit added (see the module doc).
    `live`: `model_tensors(cfg, task)`, when it is already at hand."""
    from transformer_lens.utilities.tl_checkpoint_conversion import convert_tl_checkpoint

    bcfg = bridge_config(cfg.model, task.d_vocab, task.d_vocab_out, task.n_ctx)
    try:
        converted = convert_tl_checkpoint(sd, bcfg)
    except ValueError as e:
        raise LegacyFormatError(str(e).replace("convert_tl_checkpoint: ", "")) from None
    live = model_tensors(cfg, task) if live is None else live
    out: dict[str, Tensor] = {}
    for name, ref in live.items():
        t = converted.pop(name, None)
        frozen = name in BUFFERS or (is_bias(name) and not is_trainable(name, cfg.model.biases))
        if t is None:
            if not frozen:
                raise LegacyFormatError(f"the file has no tensor for {name} (trained in this config)")
            t = torch.zeros_like(ref)
        elif name not in BUFFERS and frozen and bool(t.abs().max() > 0):
            raise LegacyFormatError(f"the file's {name} is not 0, but model.biases={cfg.model.biases!r} keeps it "
                                    "at 0 (add --set model.biases=all)")
        if name.startswith("unembed.") and t.shape[0] == ref.shape[0] - 1:  # no '=' logit: see the module doc
            t = torch.cat([t, torch.zeros((1, *t.shape[1:]), dtype=t.dtype)])
        if t.shape != ref.shape:
            raise LegacyFormatError(f"the file's {name} has shape {tuple(t.shape)}, the config's model "
                                    f"{tuple(ref.shape)}")
        out[name] = t.to(ref.dtype).contiguous()
    if converted:
        raise LegacyFormatError(f"the file has tensors this model has no place for: {', '.join(sorted(converted)[:4])}")
    if task.d_vocab_out - 1 == sd["unembed.W_U"].shape[1] and "unembed.bias" in out:
        out["unembed.bias"][-1] = EQUALS_BIAS
    return out


def check_split(split: tuple[Tensor, Tensor], task: Task) -> None:
    train, test = split
    n = len(task.tokens)
    both = torch.cat([train, test])
    if len(both) != n or not torch.equal(both.sort().values, torch.arange(n)):
        raise LegacyFormatError(f"the file's split ({len(train)} train, {len(test)} test) is not a split of the "
                                f"task's {n} examples")


def metrics_row(step: int, tensors: dict[str, Tensor], cfg: RunConfig, task: Task) -> dict:
    """A metrics row of the imported weights, computed as the trainer computes its own (grokinterp.train)."""
    from grokinterp.models import fused_scored
    from grokinterp.scoring import record_metrics

    row: dict[str, Any] = {"step": step}
    with torch.no_grad():
        for prefix, idx in (("train", task.train_idx), ("test", task.test_idx)):
            pred = fused_scored(tensors, cfg.model, task.tokens[idx], task.answer_pos, task.labels[idx])
            record_metrics(cfg, task, pred, row, prefix)
    wsq = weight_sq(tensors)
    row.update({"weight_sq": wsq, "weight_norm": math.sqrt(wsq), "lr": cfg.train.lr})
    return row


@dataclass(frozen=True)
class ImportResult:
    out: Path
    format: str
    steps: list[int]
    split_from: str
    max_loss_rel_diff: float | None  # ours against the file's own losses of the same weights; None: none logged


def import_checkpoints(paths: list[str | Path], cfg: RunConfig, out: str | Path, *, step: int = 0,
                       progress: bool | None = None) -> ImportResult:
    """Convert the checkpoint files `paths` into the run directory `out` (which must not hold a run yet), as a
    run of `cfg`. Written into a temporary directory beside `out` and renamed into place when complete, so an
    interrupted import leaves nothing."""
    from tqdm.auto import tqdm

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out} exists and is not an empty directory; choose another --out")
    src = read_sources(paths, step)
    task = make_task(cfg.task)
    first = src.checkpoints[min(src.checkpoints)]
    check_fits(first, cfg, task, src.record)
    split_from = "the file"
    if src.split is None and src.format == "nanda":
        seed, frac = int(src.record.get("seed", 0)), float(src.record.get("frac_train", cfg.task.frac_train))
        src.split, split_from = nanda_split(len(task.tokens), frac, seed), f"Nanda et al.'s (seed {seed}, {frac})"
    if src.split is None:
        split_from = "the config's own (the file has none: it is not the split the model was trained on)"
    else:
        check_split(src.split, task)
        task = task.with_split(*src.split)
    epochs = sorted(src.checkpoints)
    cfg = cfg.with_overrides({"train.steps": max(epochs[-1], 1)})
    tmp = out.parent / f".{out.name}.importing-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        store = RunStore(tmp)
        store.acquire()
        record = config_record(cfg)
        record["imported"] = {"format": src.format, "files": [os.path.abspath(f) for f in src.files],
                              "split": split_from, "steps": "the file's epochs; weights after epoch + 1 updates"}
        store.write_config(record)
        store.write_split({"train_idx": task.train_idx, "test_idx": task.test_idx})
        rows, worst, live = [], None, model_tensors(cfg, task)
        for epoch in tqdm(epochs, desc="import", unit="ckpt", disable=None if progress is None else not progress):
            tensors = to_bridge(src.checkpoints[epoch], cfg, task, live)
            store.save_checkpoint(epoch, tensors, metadata={"imported_format": src.format})
            row = metrics_row(epoch, tensors, cfg, task)
            for key, value in src.source_losses.get(epoch, {}).items():
                row[key] = value
                ours = row[key.removeprefix("source_")]
                rel = abs(ours - value) / max(abs(value), 1e-12)
                worst = rel if worst is None else max(worst, rel)
            rows.append(row)
        store.append_metrics(rows)
        store.release()
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ImportResult(out=out, format=src.format, steps=epochs, split_from=split_from, max_loss_rel_diff=worst)
