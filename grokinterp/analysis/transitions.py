"""Phase-change detection on training curves: a loss per answer digit, a total loss, an induction score
(Nanda 2022, "A Mechanistic Interpretability Analysis of Grokking", whose phase changes were read off the
curves by eye; Olsson et al. 2022, whose induction-head phase change shows as a bump on the loss).

`detect_transition(steps, values)` finds one sharp change of level:
- the curve is smoothed by a centred running median over `window` points (of log10 of the values for
  losses, `log=True`), then the levels before and after are the medians of its first and last `edge`
  fraction (at most one window);
- `midpoint` is the first point past the arithmetic middle of the two levels; `start` the last point up to
  it still within 10% (of the total change, in log units for losses) of the level before, `end` the first
  point from it within 10% of the level after;
- `step` is the steepest change between `start` and `end`, of the smoothed values themselves (not of their
  log): the largest |d value / d step| in the direction of the change. Looking only there keeps the fall
  from the initial loss to chance, which is steep per step but not the transition, out of it.
A curve whose levels differ by less than `min_change` (in log10 units for losses: 0.3 = a factor of 2)
has no transition (None).

`detect_bumps(steps, values)` finds loss bumps: stretches where the smoothed curve rises above its running
minimum by more than `min_height` (log10 units for losses) and comes back down, each reported with its
start, peak and end step and its height.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from jaxtyping import Float


@dataclass(frozen=True)
class Transition:
    step: int  # steepest change
    start: int  # last point still near the level before
    end: int  # first point near the level after
    midpoint: int  # first crossing of the middle level
    before: float  # level before (in the curve's units)
    after: float  # level after

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Bump:
    start: int
    peak: int
    end: int
    height: float  # above the running minimum, log10 units for losses

    def as_dict(self) -> dict:
        return asdict(self)


def _prepare(steps, values, log: bool) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(steps, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"steps and values must be 1-D of the same length, got {x.shape} and {y.shape}")
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    if log:
        y = np.log10(np.maximum(y, 1e-12))
    return x, y


def running_median(y: Float[np.ndarray, " n"], window: int) -> Float[np.ndarray, " n"]:
    """Centred running median (the window shrinks at the ends)."""
    if window <= 1 or len(y) < 3:
        return y.copy()
    h = window // 2
    padded = np.pad(y, h, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * h + 1), axis=1)


def _default_window(n: int) -> int:
    return max(1, min(15, n // 40) | 1)


def detect_transition(steps, values, *, log: bool = True, window: int | None = None, edge: float = 0.05,
                      min_change: float = 0.3) -> Transition | None:
    """The sharpest change of level of a curve (module docstring), or None if it has none."""
    x, y = _prepare(steps, values, log)
    if len(x) < 4:
        return None
    w = _default_window(len(x)) if window is None else window
    s = running_median(y, w)
    k = max(1, min(int(round(edge * len(s))), w))
    before, after = float(np.median(s[:k])), float(np.median(s[-k:]))
    change = after - before
    if abs(change) < min_change:
        return None
    sign = 1.0 if change > 0 else -1.0
    unlog = (lambda v: 10**v) if log else (lambda v: v)
    lin = unlog(s)
    mid = 0.5 * (unlog(before) + unlog(after))
    crossed = np.flatnonzero(sign * (lin - mid) >= 0)
    if len(crossed) == 0:
        return None
    m = int(crossed[0])
    near_before = np.flatnonzero(np.abs(s[: m + 1] - before) <= 0.1 * abs(change))
    near_after = np.flatnonzero(np.abs(s[m:] - after) <= 0.1 * abs(change))
    a = int(near_before[-1]) if len(near_before) else 0
    b = m + int(near_after[0]) if len(near_after) else len(s) - 1
    # the steepest segment of the transition itself (not, e.g., the fall from the initial loss to chance)
    seg = slice(a, max(b, a + 1) + 1)
    slope = sign * np.diff(lin[seg]) / np.maximum(np.diff(x[seg]), 1e-12)
    i = a + int(np.argmax(slope))
    return Transition(
        step=int(x[i + 1]),
        start=int(x[a]),
        end=int(x[b]),
        midpoint=int(x[m]),
        before=float(unlog(before)),
        after=float(unlog(after)),
    )


def detect_bumps(steps, values, *, log: bool = True, window: int | None = None,
                 min_height: float = 0.05) -> list[Bump]:
    """Stretches where the (smoothed) curve rises above its running minimum by more than `min_height`."""
    x, y = _prepare(steps, values, log)
    if len(x) < 3:
        return []
    s = running_median(y, _default_window(len(x)) if window is None else window)
    excess = s - np.minimum.accumulate(s)
    bumps = []
    above = excess > min_height * 0.25  # a bump's extent: where it is clearly above the envelope
    i = 0
    while i < len(s):
        if not above[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(s) and above[j + 1]:
            j += 1
        peak = i + int(np.argmax(excess[i:j + 1]))
        if excess[peak] > min_height and j + 1 < len(s):  # it must come back down before the end
            bumps.append(Bump(start=int(x[i - 1] if i else x[i]), peak=int(x[peak]), end=int(x[j + 1]),
                              height=float(excess[peak])))
        i = j + 1
    return bumps
