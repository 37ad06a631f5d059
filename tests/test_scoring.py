"""Scoring (grokinterp.scoring): the scored-rows path (`Scored`) gives the full-logit loss and accuracies; the
answer loss against a float64 oracle; accuracies over answer positions and masked labels; MSE, StableMax and
regression scoring; the softmax collapse a training row logs."""

import math

import pytest
import torch

from grokinterp import scoring
from grokinterp.scoring import Scored, accuracy, answer_loss
from tests.helpers import tiny


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


def oracle_loss(logits: list, labels: list) -> float:
    total, count = 0.0, 0
    for row_logits, row_labels in zip(logits, labels):
        for z, y in zip(row_logits, row_labels):
            m = max(z)
            lse = m + math.log(sum(math.exp(v - m) for v in z))
            total += lse - z[y]
            count += 1
    return total / count


def test_answer_loss_matches_float64_oracle():
    logits = torch.randn(5, 2, 9) * 3
    labels = torch.randint(0, 9, (5, 2))
    loss = answer_loss(logits, labels)
    assert loss.dtype == torch.float64 and loss.shape == ()
    assert math.isclose(loss.item(), oracle_loss(logits.double().tolist(), labels.tolist()), rel_tol=1e-12)


def test_answer_loss_resolves_tiny_losses():
    # log(1 + 2 e^-20) ~ 4e-9: below float32 resolution of log-probabilities near 0 (float32 gives 0)
    logits = torch.tensor([[[20.0, 0.0, 0.0]], [[0.0, 0.0, 20.0]]])
    labels = torch.tensor([[0], [2]])
    expected = math.log1p(2 * math.exp(-20))
    assert -logits.log_softmax(-1)[0, 0, 0].item() < 0.5 * expected  # float32 cannot resolve it
    assert math.isclose(answer_loss(logits, labels).item(), expected, rel_tol=1e-5)


def test_answer_loss_backprops_to_float32_logits():
    logits = torch.randn(3, 1, 5, requires_grad=True)
    labels = torch.tensor([[0], [4], [2]])
    answer_loss(logits, labels).backward()
    expected = (logits.detach().double().softmax(-1) - torch.nn.functional.one_hot(labels, 5).double()) / 3
    assert logits.grad.dtype == torch.float32
    torch.testing.assert_close(logits.grad.double(), expected, rtol=1e-6, atol=1e-7)


def one_hot_logits(preds: list[list[int]], d: int = 5) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(preds), d).float() * 4.0 - 1.0


def test_accuracy_needs_every_answer_position():
    labels = torch.tensor([[1, 2], [1, 2], [1, 2], [1, 2]])
    preds = [[1, 2], [1, 3], [0, 2], [4, 4]]  # both right, second wrong, first wrong, both wrong
    assert accuracy(one_hot_logits(preds), labels) == 0.25
    assert accuracy(one_hot_logits([[1, 2]] * 4), labels) == 1.0
    assert accuracy(one_hot_logits([[0, 0]] * 4), labels) == 0.0


def test_accuracy_single_position():
    labels = torch.tensor([[0], [1], [2], [3], [4]])
    preds = [[0], [1], [2], [0], [0]]
    assert accuracy(one_hot_logits(preds), labels) == pytest.approx(3 / 5)


def test_mse_loss_is_torch_mse_on_one_hot():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 1, 10, generator=g)
    labels = torch.randint(0, 10, (7, 1), generator=g)
    want = torch.nn.functional.mse_loss(logits[:, 0], torch.nn.functional.one_hot(labels[:, 0], 10).float())
    assert scoring.task_loss(logits, labels, "mse").item() == pytest.approx(want.item(), rel=1e-6)
    assert scoring.task_loss(logits, labels, "ce").item() == pytest.approx(scoring.answer_loss(logits, labels).item())


def test_stablemax_is_their_formula_and_a_distribution():
    x = torch.tensor([[-3.0, -0.5, 0.0, 2.0]], dtype=torch.float64)
    s = torch.tensor([[1 / 4, 1 / 1.5, 1.0, 3.0]], dtype=torch.float64)
    assert torch.allclose(scoring.stablemax(x), s / s.sum())
    assert torch.allclose(scoring.log_stablemax(x), (s / s.sum()).log())
    # large logits do not collapse: the runner-up keeps a probability float32 can hold
    big = torch.tensor([[1000.0, 999.0, 0.0]])
    assert scoring.stablemax(big)[0, 1] > 0.4 and torch.softmax(big, -1)[0, 2] == 0
    # the gradient is finite at x = 1, where the unused branch 1 / (1 - x) would divide by zero
    z = torch.tensor([[1.0, -1.0]], dtype=torch.float64, requires_grad=True)
    scoring.stablemax_loss(z[:, None], torch.tensor([[0]])).backward()
    assert torch.isfinite(z.grad).all()
    assert math.isclose(scoring.task_loss(z[:, None].detach(), torch.tensor([[0]]), "stablemax").item(),
                        -math.log(2 / 2.5))


def test_training_rows_log_the_collapse_of_the_training_predictions():
    from grokinterp.scoring import Scored, record_metrics
    from grokinterp.tasks import make_task

    cfg = tiny()
    task = make_task(cfg.task)
    logits = torch.zeros(8, 1, 17, dtype=torch.float64)
    logits[:3, 0, 0] = 30.0  # three of eight rows collapse in float32 (4 exp(-30) is far below 6e-8)
    labels = torch.zeros(8, 1, dtype=torch.long)
    row: dict = {}
    record_metrics(cfg, task, Scored.from_logits(logits, labels), row, "train")
    record_metrics(cfg, task, Scored.from_logits(logits, labels), row, "test")
    assert row["train_softmax_collapse"] == 3 / 8 and "test_softmax_collapse" not in row


def test_masked_loss_and_accuracy():
    logits = torch.log(torch.tensor([[[0.5, 0.5], [0.9, 0.1]], [[0.2, 0.8], [0.5, 0.5]]]))
    labels = torch.tensor([[-1, 0], [1, -1]])
    assert answer_loss(logits, labels).item() == pytest.approx(-(torch.log(torch.tensor(0.9 * 0.8)) / 2).item())
    assert accuracy(logits, labels) == 1.0


def test_token_accuracy_counts_scored_positions():
    from grokinterp.scoring import token_accuracy

    logits = torch.log(torch.tensor([[[0.9, 0.1], [0.9, 0.1], [0.2, 0.8]]]))
    assert token_accuracy(logits, torch.tensor([[0, 1, -1]])) == 0.5
    assert token_accuracy(logits, torch.tensor([[-1, -1, 1]])) == 1.0


def test_regression_scoring_is_the_mean_squared_error_and_a_tolerance():
    targets = torch.zeros(4, 5)
    logits = torch.tensor([[0.0] * 5, [0.01] * 5, [0.05] * 5, [1.0] * 5])
    pred = Scored.from_logits(logits[:, None], torch.arange(4)[:, None]).with_targets(targets, 1e-3)
    assert pred.loss("mse").item() == pytest.approx((0 + 1e-4 + 2.5e-3 + 1.0) / 4)
    assert pred.accuracy() == 0.5  # squared errors 0 and 1e-4 are below 1e-3; 2.5e-3 and 1 are not
    assert pred.detach().targets is targets
