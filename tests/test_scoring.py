"""The scored-rows path (`grokinterp.scored`) gives the full-logit loss and accuracies of `grokinterp.engine`,
and the fused engine's scored rows equal the hooked model's logits at those rows."""

import pytest
import torch

from grokinterp import models, scoring
from grokinterp.config import ModelConfig
from grokinterp.models import build_model, fused_scored, named_tensors
from grokinterp.scoring import Scored


def _planted(batch=6, n=5, vocab=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, n, vocab, generator=g)
    labels = torch.randint(0, vocab, (batch, n), generator=g)
    labels[torch.rand(batch, n, generator=g) < 0.5] = -1
    labels[0] = -1  # an example with nothing scored counts as right
    labels[1] = logits[1].argmax(-1)  # an example predicted exactly
    return logits, labels


@pytest.mark.parametrize("kind", ["ce", "mse"])
def test_scored_loss_is_the_full_logit_loss(kind):
    logits, labels = _planted()
    want = scoring.task_loss(logits, labels, kind).item()
    assert Scored.from_logits(logits, labels).loss(kind).item() == pytest.approx(want, rel=1e-12)


def test_scored_accuracies_are_the_full_logit_ones():
    logits, labels = _planted()
    pred = Scored.from_logits(logits, labels)
    assert pred.rows is not None and len(pred.rows) == int((labels >= 0).sum())
    assert pred.accuracy() == pytest.approx(scoring.accuracy(logits, labels))
    assert pred.token_accuracy() == pytest.approx(scoring.token_accuracy(logits, labels))
    losses, accs = scoring.position_losses(logits, labels)
    got_l, got_a = pred.position_losses()
    assert got_l == pytest.approx(losses) and got_a == pytest.approx(accs)


def test_fully_scored_labels_need_no_selection():
    logits = torch.randn(4, 2, 3)
    labels = torch.tensor([[0, 1], [2, 0], [1, 1], [0, 2]])
    pred = Scored.from_logits(logits, labels)
    assert pred.rows is None
    assert pred.accuracy() == pytest.approx(scoring.accuracy(logits, labels))


def test_fused_scored_rows_match_the_hooked_model():
    cfg = ModelConfig(n_layers=2, d_model=16, n_heads=2, d_head=8, d_mlp=1, attn_only=True,
                      normalization_type=None, init="paper", biases="none", seed=0)
    model = build_model(cfg, 11, 11, 12)
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 11, (9, 12), generator=g)
    labels = torch.randint(0, 11, (9, 11), generator=g)
    labels[torch.rand(9, 11, generator=g) < 0.6] = -1
    pos = tuple(range(11))
    pred = fused_scored(named_tensors(model), cfg, tokens, pos, labels)
    want = Scored.from_logits(models.hooked_logits(model, tokens, pos), labels)
    assert torch.equal(pred.rows, want.rows)
    torch.testing.assert_close(pred.logits, want.logits, rtol=1e-5, atol=1e-5)
    assert pred.loss().item() == pytest.approx(want.loss().item(), rel=1e-6)
