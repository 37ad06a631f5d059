"""Analysis tools for trained checkpoints. `grokinterp.analysis.fourier`: Fourier-basis analysis of
modular-arithmetic models (Nanda et al. 2023)."""

from grokinterp.analysis.fourier import *  # noqa: F403
from grokinterp.analysis.fourier import __all__ as _fourier_all

__all__ = list(_fourier_all)
