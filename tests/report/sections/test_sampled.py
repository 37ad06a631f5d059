"""The sections of the sampled families (grokinterp.report.sections.sampled): heads over training, the top
induction head, per-digit losses, the heads that find the maximum."""

from __future__ import annotations

import re

from grokinterp import load_run
from grokinterp.presets import get_preset
from grokinterp.report import build_report
from grokinterp.report.sections import ReportContext
from grokinterp.report.sections.sampled import head_scores_over_training, max_heads_over_training, top_head_attention
from grokinterp.train import train
from tests.helpers import TINY_INF, tiny


def test_sequence_report_has_head_scores_and_attention(sequence_run, tmp_path):
    page = build_report(sequence_run.path, tmp_path / "r.html", progress=False).read_text()
    for heading in ("Training curves", "Heads over training", f"Top induction head at step {sequence_run.steps[-1]}",
                    "Induction score per head over training", "induction score jump"):
        assert heading in page


def test_digits_report_has_per_digit_losses(tmp_path):
    train(tiny(**{**TINY_INF, "train.steps": 20}), tmp_path / "d", progress=False)
    page = build_report(tmp_path / "d", progress=False).read_text()
    assert "Per-digit loss" in page and "Test loss per answer digit" in page


def test_max_element_task_trains_to_its_answer(tmp_path):
    cfg = get_preset("max").with_overrides({"train.steps": 300, "train.ckpt_every": 100})
    assert (cfg.task.op, cfg.task.seq_len, cfg.task.mode) == ("max", 10, "finite")
    train(cfg, tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    last = run.metrics[-1]
    assert last["train_acc"] == 1.0 and last["test_acc"] > 0.9  # majority answer (the top token) is ~25%
    # the report finds the head that attends to the largest token (uniform attention would give ~0.1)
    ctx = ReportContext(run, steps=[])
    assert head_scores_over_training(ctx) == [] and top_head_attention(ctx) == []  # no induction sections
    (section,) = max_heads_over_training(ctx)
    best = float(re.search(r"puts (\d\.\d+) of its attention", section.text).group(1))
    assert best > 0.5
