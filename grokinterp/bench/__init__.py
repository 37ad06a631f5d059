"""Benchmarks, `python -m grokinterp.bench train|progress|grok|sweep` (`cli`): ratios measured in one run on
one machine.

- `train`: ms/step of the hooked and fused engines against the machine's matmul floor, every preset.
- `progress`: `progress.measures` on stacked checkpoints against a loop over hooked models.
- `grok`: a fair race to grok: tuned baselines and every acceleration method over seeds.
- `batched`: many small runs one by one against model batches (`python -m grokinterp.bench sweep`).
"""
