"""Liu et al.'s toy model (grokinterp.models.toy): the hooked forward equals the fused one and has hooks."""

from __future__ import annotations

import torch

from grokinterp import models
from grokinterp.models import build_model, named_tensors
from grokinterp.presets import get_preset
from grokinterp.tasks import make_task


def test_toy_model_hooked_forward_equals_fused_and_has_hooks():
    cfg = get_preset("toy-add").with_overrides({"model.d_model": 3, "model.d_mlp": 16})
    task = make_task(cfg.task)
    model = build_model(cfg.model, task.d_vocab, task.d_vocab_out, task.n_ctx)
    params = named_tensors(model)
    assert set(params) == {"embed.weight", "decoder.0.weight", "decoder.0.bias", "decoder.1.weight",
                           "decoder.1.bias", "decoder.2.weight", "decoder.2.bias"}
    assert float(params["embed.weight"].detach().abs().max()) <= 0.5  # Liu et al.'s U[-1/2, 1/2]
    fused = models.fused_logits(params, cfg.model, task.tokens, task.answer_pos)
    hooked = models.hooked_logits(model, task.tokens, task.answer_pos)
    torch.testing.assert_close(fused, hooked)
    _, cache = model.run_with_cache(task.tokens[:4])
    E = params["embed.weight"]
    torch.testing.assert_close(cache["hook_sum"], E[task.tokens[:4, 0]] + E[task.tokens[:4, 1]])
    assert cache["hook_post.1"].shape == (4, 16)
    # an ablation through a hook changes the output
    zeroed = model.run_with_hooks(task.tokens[:4], fwd_hooks=[("hook_sum", lambda t, hook: t * 0)])
    assert not torch.allclose(zeroed, hooked[:4])
