"""`train.precision=bfloat16`: the training forward's matrix products in bfloat16 (torch.autocast), everything
else (parameters, gradients, AdamW, the float64 loss, every metrics row) as in float32."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from grokinterp.config import ConfigError
from grokinterp.presets import get_preset
from grokinterp.runs.run import load_run
from grokinterp.tasks import make_task
from grokinterp.train import train
from grokinterp.train.batched import why_not_batchable
from grokinterp.train.single import SingleStepper
from tests.helpers import assert_bitwise_equal, final_tensors, metrics_wo_time, tiny

MATMULS = {"mm", "addmm", "bmm", "baddbmm"}


class MatmulDtypes(TorchDispatchMode):
    """Records the dtype of every matrix product's first input."""

    def __init__(self) -> None:
        super().__init__()
        self.dtypes: list[torch.dtype] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ in MATMULS:
            self.dtypes.append(next(a for a in args if isinstance(a, torch.Tensor) and a.dim() >= 2).dtype)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("engine", ["fused", "hooked"])
def test_bfloat16_runs_the_forward_and_backward_matmuls_in_bfloat16_and_keeps_the_rest_float32(engine):
    out = {}
    for precision in ("float32", "bfloat16"):
        cfg = tiny(**{"train.precision": precision, "train.engine": engine})
        stepper = SingleStepper(cfg, make_task(cfg.task), torch.device("cpu"))
        with MatmulDtypes() as rec:
            loss = stepper.forward(1)
            loss.backward()
        out[precision] = (rec.dtypes, loss, stepper)
    f32, bf16 = out["float32"][0], out["bfloat16"][0]
    assert f32 and set(f32) == {torch.float32}
    assert len(bf16) == len(f32) and set(bf16) == {torch.bfloat16}
    loss32, loss16 = out["float32"][1], out["bfloat16"][1]
    assert loss16.dtype == torch.float64
    # the same parameters (same seed): the losses differ by bfloat16's rounding, not more
    assert 0 < abs(loss16.item() - loss32.item()) < 2e-2 * loss32.item()
    stepper = out["bfloat16"][2]
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in stepper.trainable.values()
               if p.grad is not None)


def test_bfloat16_metrics_are_float32_evaluations(tmp_path):
    cfg = tiny(**{"train.precision": "bfloat16", "train.steps": 40})
    train(cfg, tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    task, row = run.task(), next(r for r in run.metrics if r["step"] == 20)  # a step that trained on
    model = run.model(20)
    with torch.no_grad():
        logits = model(task.tokens[task.train_idx])[:, -1].to(torch.float64)
    loss = torch.nn.functional.cross_entropy(logits, task.labels[task.train_idx, 0]).item()
    assert row["step"] == 20 and row["train_loss"] == pytest.approx(loss, rel=1e-5)
    assert "bfloat16" in cfg.train.describe_optimizer()


def test_a_bfloat16_run_resumes_bitwise(tmp_path, threads):
    long = tiny(**{"train.precision": "bfloat16"})
    train(long, tmp_path / "long", progress=False)
    train(tiny(**{"train.precision": "bfloat16", "train.steps": 33}), tmp_path / "split", progress=False)
    train(long, tmp_path / "split", progress=False)
    assert_bitwise_equal(final_tensors(tmp_path / "long"), final_tensors(tmp_path / "split"))
    assert metrics_wo_time(tmp_path / "long") == metrics_wo_time(tmp_path / "split")


def test_precision_is_float32_by_default_checked_and_trains_one_by_one():
    assert get_preset("mod113").train.precision == "float32"
    with pytest.raises(ConfigError, match="train.precision must be float32 or bfloat16"):
        tiny(**{"train.precision": "float16"})
    assert why_not_batchable(tiny(**{"train.precision": "bfloat16"})) == "bfloat16 training trains one by one"
