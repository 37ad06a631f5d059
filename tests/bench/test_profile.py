"""`python -m grokinterp.bench profile` (grokinterp.bench.profile): operator names fall in their groups, the groups
add up to the profiled step, and matrix products are a real share of a transformer step."""

from __future__ import annotations

import pytest

from grokinterp.bench.cli import main
from grokinterp.bench.profile import group_of, profile_step


@pytest.mark.parametrize("op, group", [("aten::mm", "matmul"), ("aten::addmm", "matmul"),
                                       ("aten::_softmax_backward_data", "softmax"),
                                       ("aten::native_layer_norm", "layernorm"), ("aten::_fused_adamw_", "optimizer"),
                                       ("aten::nll_loss_forward", "loss"), ("aten::index_select", "indexing/copy"),
                                       ("aten::mul", "elementwise"), ("aten::frobnicate", "other")])
def test_operators_fall_in_their_groups(op, group):
    assert group_of(op) == group


def test_the_groups_add_up_to_the_step(capsys):
    r = profile_step("mod113-small", steps=3, warmup=1)
    parts = sum(v for k, v in r.items() if k != "total")
    assert parts == pytest.approx(r["total"]) and r["matmul"] > 0.1 * r["total"]
    assert main(["profile", "--preset", "nope"]) == 2 and "unknown preset" in capsys.readouterr().err
