"""Hessian measures on planted losses whose Hessian is known."""

import math

import torch

from grokinterp.analysis.hessian import hvp, top_eigenvalue, trace


def _quadratic(eigs: torch.Tensor, rot: torch.Tensor):
    h = rot @ torch.diag(eigs) @ rot.T  # a planted Hessian with these eigenvalues, split over two tensors

    def loss(p):
        x = torch.cat([p["a"].reshape(-1), p["b"].reshape(-1)])
        return 0.5 * x @ h @ x

    return loss, h


def test_hvp_top_eigenvalue_and_trace_recover_a_planted_hessian():
    g = torch.Generator().manual_seed(0)
    eigs = torch.tensor([9.0, -3.0, 2.0, 1.0, 0.5, 0.25, 0.0, 0.1], dtype=torch.float64)
    rot, _ = torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=torch.float64))
    loss, h = _quadratic(eigs, rot)
    f64 = torch.float64
    params = {"a": torch.randn(2, 3, generator=g, dtype=f64), "b": torch.randn(2, generator=g, dtype=f64)}
    v = {"a": torch.randn(2, 3, generator=g, dtype=f64), "b": torch.randn(2, generator=g, dtype=f64)}
    hv = hvp(loss, params, v)
    want = h @ torch.cat([v["a"].reshape(-1), v["b"]])
    assert torch.allclose(torch.cat([hv["a"].reshape(-1), hv["b"]]), want)
    top = top_eigenvalue(loss, params, max_iter=500, tol=1e-10)
    assert top.converged and math.isclose(top.value, 9.0, rel_tol=1e-6)
    est = trace(loss, params, n_samples=4000, seed=1)
    assert abs(est - float(eigs.sum())) < 0.05 * float(eigs.abs().sum())  # Hutchinson's error ~ |H|_F sqrt(2/n)


def test_a_saddle_gives_its_largest_eigenvalue_and_trace():
    # x y + x^2 / 2 at 0: Hessian [[1, 1], [1, 0]], eigenvalues (1 +- sqrt 5) / 2, trace 1
    loss = lambda p: (p["x"] * p["y"] + 0.5 * p["x"] ** 2).sum()  # noqa: E731
    params = {"x": torch.zeros(1, dtype=torch.float64), "y": torch.zeros(1, dtype=torch.float64)}
    top = top_eigenvalue(loss, params, max_iter=200, tol=1e-12)
    assert top.converged and math.isclose(top.value, (1 + math.sqrt(5)) / 2, rel_tol=1e-8)
    assert abs(trace(loss, params, n_samples=4000) - 1.0) < 0.1


def test_the_first_hessian_vector_product_of_a_process_warns_nothing():
    """torch registers its forward-mode decompositions with the deprecated `torch.jit.script` on a process's
    first `jvp`; the warning that raises is torch's own, and hvp keeps it out of the user's output. Run in a
    fresh process: that registration happens once per process."""
    import subprocess
    import sys

    code = ("import torch\n"
            "from grokinterp.analysis.hessian import hvp\n"
            "p = {'w': torch.ones(3, dtype=torch.float64)}\n"
            "print(hvp(lambda q: (q['w'] ** 3).sum(), p, {'w': torch.ones(3, dtype=torch.float64)})['w'].tolist())\n")
    out = subprocess.run([sys.executable, "-W", "error:`torch.jit.script`:DeprecationWarning", "-c", code],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["[6.0,", "6.0,", "6.0]"]  # d^2/dw^2 w^3 = 6 w at w = 1


def test_hvp_through_a_transformer_with_long_attention_matches_finite_differences():
    """A 2-layer transformer on 12-token sequences takes the fused forward's `scaled_dot_product_attention`
    path (no forward-mode derivative in torch's CPU kernel): H v still comes out, and equals the central
    difference of the gradient along v."""
    from grokinterp.config import ModelConfig
    from grokinterp.models import build_model, fused_scored, named_tensors

    cfg = ModelConfig(n_layers=2, d_model=16, n_heads=2, d_head=8, d_mlp=1, attn_only=True,
                      normalization_type=None, init="paper", biases="none", seed=0)
    params = {k: t.detach().double() for k, t in named_tensors(build_model(cfg, 11, 11, 12)).items()}
    g = torch.Generator().manual_seed(0)
    tokens, labels = torch.randint(0, 11, (9, 12), generator=g), torch.randint(0, 11, (9, 11), generator=g)
    labels[torch.rand(9, 11, generator=g) < 0.5] = -1
    names = ["blocks.0.attn.q.weight", "blocks.1.attn.k.weight", "embed.weight"]

    def loss(p):
        return fused_scored({**params, **p}, cfg, tokens, tuple(range(11)), labels).loss()

    point = {k: params[k] for k in names}
    v = {k: torch.randn(params[k].shape, generator=g, dtype=torch.float64) for k in names}
    hv = hvp(loss, point, v)
    eps = 1e-5
    plus = torch.func.grad(loss)({k: point[k] + eps * v[k] for k in names})
    minus = torch.func.grad(loss)({k: point[k] - eps * v[k] for k in names})
    for k in names:
        torch.testing.assert_close(hv[k], (plus[k] - minus[k]) / (2 * eps), rtol=1e-5, atol=1e-7)
    assert max(hv[k].abs().max().item() for k in names) > 1e-3
