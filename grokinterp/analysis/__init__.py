"""Analyses of trained checkpoints: pure functions over tensors.

- `grokinterp.analysis.fourier`: Fourier-basis analysis of modular-arithmetic models (Nanda et al. 2023).
"""

from grokinterp.analysis import fourier

__all__ = ["fourier"]
