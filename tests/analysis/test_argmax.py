"""`argmax.max_attention` on planted attention patterns: an argmax head scores 1, uniform attention its
chance level, a head on the first token the share of sequences whose first token is maximal."""

import torch

from grokinterp.analysis.argmax import max_attention, uniform_max_attention


def test_planted_heads():
    gen = torch.Generator().manual_seed(0)
    batch, n = 500, 10
    x = torch.randint(0, 32, (batch, n), generator=gen)
    tokens = torch.cat([x, torch.full((batch, 1), 32)], dim=1)
    q = n  # the '=' position
    pattern = torch.zeros(batch, 3, n + 1, n + 1)
    is_max = (x == x.max(1, keepdim=True).values).float()
    pattern[:, 0, q, :n] = is_max / is_max.sum(1, keepdim=True)  # argmax head
    pattern[:, 1, q, :] = 1.0 / (n + 1)  # uniform
    pattern[:, 2, q, 0] = 1.0  # first token only
    s = max_attention(pattern, tokens, q, n)
    assert torch.allclose(s[0], torch.tensor(1.0))
    assert abs(float(s[1]) - uniform_max_attention(tokens, q, n)) < 1e-6
    assert 0.08 < uniform_max_attention(tokens, q, n) < 0.12  # ~1.15 maximal positions of 11
    assert abs(float(s[2]) - float(is_max[:, 0].mean())) < 1e-6
