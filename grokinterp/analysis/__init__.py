"""Analyses of trained checkpoints: pure functions over tensors. The modules (only `fourier` is imported here):

- `grokinterp.analysis.argmax`: heads that find the largest token, for the max-element task.
- `grokinterp.analysis.collapse`: softmax collapse of the training predictions (Prieto et al. 2025).
- `grokinterp.analysis.fourier`: Fourier-basis analysis of modular-arithmetic models (Nanda et al. 2023).
- `grokinterp.analysis.groups`: the symmetric group S_n: subgroups, cosets, characters, irrep projectors.
- `grokinterp.analysis.hessian`: the training loss's top Hessian eigenvalue and trace from Hessian-vector products.
- `grokinterp.analysis.induction`: induction-head and copying scores of every head (Olsson et al. 2022).
- `grokinterp.analysis.irreps`: irreducible representations in the logits of S_n runs (Chughtai et al. 2023).
- `grokinterp.analysis.llc`: the local learning coefficient by localised SGLD (Lau et al. 2023).
- `grokinterp.analysis.normdecay`: weight-norm decay under weight decay (Liu et al. 2023, Omnigrok).
- `grokinterp.analysis.transitions`: phase changes and bumps on training curves.
- `grokinterp.analysis.regimes`: Liu et al. 2022's four learning regimes (comprehension, grokking, memorization,
  confusion).
- `grokinterp.analysis.representation`: representation quality of addition embeddings (Liu et al. 2022).
- `grokinterp.analysis.spectral`: HTSR layer alpha and correlation traps of weight matrices (Martin & Mahoney;
  Prakash & Martin 2025-26), ILDR of representations (Golwala 2026).
- `grokinterp.analysis.warning`: scoring a measure as an early warning of grokking (one alarm rule, calibrated
  leave-one-run-out; lead time, false alarms, AUROC).
"""

from grokinterp.analysis import fourier

__all__ = ["fourier"]
