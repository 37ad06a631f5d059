"""The LLC estimator on planted losses whose learning coefficient is known: a regular model with d parameters
has LLC d/2; the product a*b at 0 (a singular model, RLCT 1/2) has less than a regular model with two
parameters."""

import math

import numpy as np
import pytest
import torch

from grokinterp.analysis import llc

N = 5000


def _data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, generator=g, dtype=torch.float64)
    y = torch.randn(N, generator=g, dtype=torch.float64)
    feats = torch.stack([x, x**2], 1)
    y = y - feats @ torch.linalg.lstsq(feats, y[:, None]).solution[:, 0]  # 0 is the exact minimum of both losses
    return x, y


def test_a_regular_model_has_llc_d_over_2():
    g = torch.Generator().manual_seed(1)
    d = 4
    xs = torch.randn(N, d, generator=g, dtype=torch.float64)
    y = xs @ torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64) + torch.randn(N, generator=g, dtype=torch.float64)
    w_star = torch.linalg.lstsq(xs, y[:, None]).solution[:, 0]

    def loss(p):
        return 0.5 * ((y - xs @ p["w"]) ** 2).mean()

    est = llc.estimate(loss, {"w": w_star}, N, num_chains=4, num_draws=1500, num_burnin=300, epsilon=1e-4, gamma=1.0)
    assert abs(est.mean - d / 2) < 0.2, est.per_chain
    assert est.loss_trace.shape == (4, 1500) and est.nbeta == pytest.approx(N / math.log(N))
    assert not est.diverged and est.init_loss == pytest.approx(float(loss({"w": w_star})))

    def batch_loss(p, idx):  # devinterp's minibatch SGLD: the same limit, with the minibatch losses traced
        return 0.5 * ((y[idx] - xs[idx] @ p["w"]) ** 2).mean()

    mb = llc.estimate(batch_loss, {"w": w_star}, N, num_chains=4, num_draws=1500, num_burnin=300, epsilon=1e-4,
                      gamma=1.0, batch_size=500)
    assert abs(mb.mean - d / 2) < 0.3, mb.per_chain
    assert mb.init_loss == pytest.approx(est.init_loss)


def test_a_product_at_zero_has_a_smaller_llc_than_a_regular_model_with_as_many_parameters():
    x, y = _data()
    zero = torch.zeros((), dtype=torch.float64)

    def singular(p):  # y ~ a b x: the minimum a b = 0 is the union of two lines
        return 0.5 * ((y - p["a"] * p["b"] * x) ** 2).mean()

    def regular(p):  # y ~ a x + b x^2 / sqrt 3: Fisher information the identity
        return 0.5 * ((y - p["a"] * x - p["b"] * x**2 / math.sqrt(3)) ** 2).mean()

    kw = dict(num_chains=4, num_draws=2000, num_burnin=500, epsilon=3e-4, gamma=1.0)
    reg = llc.estimate(regular, {"a": zero, "b": zero}, N, **kw)
    sing = llc.estimate(singular, {"a": zero, "b": zero}, N, **kw)
    assert abs(reg.mean - 1.0) < 0.12, reg.per_chain  # d/2 = 1
    assert sing.mean < 0.6 and sing.mean < reg.mean - 0.4, (sing.per_chain, reg.per_chain)


def test_chains_together_and_one_by_one_agree_and_the_seed_decides():
    x, y = _data(2)

    def loss(p):
        return 0.5 * ((y - p["w"][0] * x - p["w"][1] * p["v"] * x**2) ** 2).mean()

    params = {"w": torch.tensor([0.0, 0.1], dtype=torch.float64), "v": torch.tensor(0.2, dtype=torch.float64)}
    kw = dict(num_chains=3, num_draws=50, num_burnin=10, steps_between_draws=2)
    a = llc.estimate(loss, params, N, seed=4, **kw)
    b = llc.estimate(loss, params, N, seed=4, vectorise=False, **kw)
    c = llc.estimate(loss, params, N, seed=5, **kw)
    assert np.allclose(a.loss_trace, b.loss_trace, rtol=1e-10, atol=1e-14)

    def batch_loss(p, idx):
        return 0.5 * ((y[idx] - p["w"][0] * x[idx] - p["w"][1] * p["v"] * x[idx] ** 2) ** 2).mean()

    am = llc.estimate(batch_loss, params, N, seed=4, batch_size=64, **kw)
    bm = llc.estimate(batch_loss, params, N, seed=4, batch_size=64, vectorise=False, **kw)
    assert np.allclose(am.loss_trace, bm.loss_trace, rtol=1e-10, atol=1e-14)
    assert not np.allclose(am.loss_trace, a.loss_trace)  # minibatch losses, not the full one
    assert a.loss_trace.shape == (3, 50)
    assert not np.allclose(a.per_chain, c.per_chain)
    assert np.isclose(a.std, a.per_chain.std(ddof=1)) and np.isclose(a.mean, a.per_chain.mean())


def test_the_chains_std_is_the_sample_std_as_devinterps():
    """devinterp's `llc/std` is torch's `std()` over the chains' LLCs: unbiased (ddof 1), not ddof 0."""
    trace = np.zeros((3, 2))

    def planted(per_chain):
        return llc.LLCEstimate(np.array(per_chain), trace[: len(per_chain)], 0.0, 1.0, 1e-3, 1.0)

    est = planted([1.0, 2.0, 6.0])  # mean 3; squared deviations 4 + 1 + 9 = 14
    assert est.mean == 3.0
    assert est.std == pytest.approx(math.sqrt(14 / 2))  # ddof 0 would give sqrt(14 / 3)
    assert est.std == pytest.approx(float(torch.tensor([1.0, 2.0, 6.0], dtype=torch.float64).std()))
    assert planted([1.0, 3.0]).std == pytest.approx(math.sqrt(2))  # ddof 0: 1
    assert math.isnan(planted([5.0]).std)  # one chain has no spread to estimate


def test_a_too_large_step_is_reported_as_diverged_and_bad_arguments_fail():
    def loss(p):
        return 0.5 * 1e4 * (p["w"] ** 2).sum()

    params = {"w": torch.zeros(3, dtype=torch.float64)}
    est = llc.estimate(loss, params, N, epsilon=1.0, num_draws=200)
    assert est.diverged
    with pytest.raises(ValueError):
        llc.estimate(loss, params, N, num_chains=0)
    with pytest.raises(ValueError):
        llc.estimate(loss, params, 1)
