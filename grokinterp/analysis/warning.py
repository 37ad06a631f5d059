"""Scoring a measure as an early warning of grokking: one alarm rule for every measure, calibrated leave-one-run-out,
scored by lead time, false alarms and AUROC (the benchmark of `python -m grokinterp.bench warning`).

The claims it tests: ILDR leads test accuracy by 9-73% of the steps (arXiv 2604.20923, an alarm at 2.5x its
value at a baseline step), a Hankel-DMD residual predicts grokking with run-level AUROC ~0.93 (arXiv
2605.08237, a sustained-threshold alarm scored with lead time and false alarms), HTSR alpha and correlation traps
herald late changes (Prakash & Martin), the LLC and Nanda's excluded loss move before test loss. Each paper
tuned its own rule on its own runs; here one rule is applied to all of them the same way.

**A run** is its checkpoint steps t_k, the measure's values m_k there, t_fit (the first logged step with train
accuracy >= 0.99: memorisation) and t_grok (the first with test accuracy >= 0.99; None: not within the budget).

**The rule** (direction d in {+1, -1}, threshold theta, `sustain` checkpoints): with the relative change from
the memorisation checkpoint (the last checkpoint at or before t_fit),

    r_k = (m_k - m_fit) / (|m_fit| + 1e-12),

the alarm is raised at the first checkpoint t_k > t_fit that completes `sustain` consecutive checkpoints with
d r >= theta. Only values up to t_k are read: the rule is causal.

**Calibration, never on the run it scores** (`calibrate`, `leave_one_out`): for run i, d and theta come from
the other runs. d is the sign of the median of r, over the other runs that grok, at their last checkpoint before
t_grok (the way the measure moves before generalisation); theta is, among the values d r takes on the
other runs after their t_fit (201 quantiles of them), the midpoint of the range of those that maximise (grokking
runs alarmed before t_grok) - (non-grokking runs alarmed): the middle of the best plateau, so that a run a
little below or above the others still falls inside it ("never" when no threshold beats raising no alarm).

**Scores** (`score`):
- lead: t_grok - t_alarm for a grokking run alarmed before t_grok (a hit); `lead_median` over the hits, in steps;
- `false_alarms`: runs that never grok within the budget yet raise the alarm;
- `auroc`: of "will this run grok within the budget" from the measure's raw value at the first checkpoint at or
  after `early` x the budget, oriented per run by the sign of the difference between the mean value of the other
  grokking and non-grokking runs (so no run's own label sets its orientation); ties count one half.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EPS = 1e-12
N_CANDIDATES = 201  # thresholds tried in a calibration


@dataclass(frozen=True)
class RunSeries:
    """One run's measure at its checkpoints and its two landmarks (None: not reached within the budget)."""

    name: str
    steps: np.ndarray
    values: np.ndarray
    t_fit: int | None
    t_grok: int | None
    budget: int

    @property
    def groks(self) -> bool:
        return self.t_grok is not None


def relative_change(run: RunSeries) -> np.ndarray | None:
    """r_k for every checkpoint (None when the run never memorised, or has no checkpoint at or before t_fit)."""
    if run.t_fit is None:
        return None
    before = np.nonzero(run.steps <= run.t_fit)[0]
    if len(before) == 0:
        return None
    ref = run.values[before[-1]]
    return (run.values - ref) / (abs(ref) + EPS)


def alarm_step(run: RunSeries, direction: int, theta: float, sustain: int = 2) -> int | None:
    """The step of the alarm of rule (direction, theta) on `run`, or None."""
    r = relative_change(run)
    if r is None or not math.isfinite(theta):
        return None
    streak = 0
    for k in range(len(run.steps)):
        if run.steps[k] <= run.t_fit:
            continue
        ok = np.isfinite(r[k]) and direction * r[k] >= theta
        streak = streak + 1 if ok else 0
        if streak >= sustain:
            return int(run.steps[k])
    return None


def hit(run: RunSeries, alarm: int | None) -> bool:
    return run.groks and alarm is not None and alarm < run.t_grok


def direction_of(runs: list[RunSeries]) -> int:
    """+1 when the measure tends to rise from memorisation to just before generalisation on these runs, else -1."""
    moves = []
    for run in runs:
        r = relative_change(run)
        if r is None or not run.groks:
            continue
        before = np.nonzero((run.steps < run.t_grok) & (run.steps > run.t_fit))[0]
        if len(before) and np.isfinite(r[before[-1]]):
            moves.append(r[before[-1]])
    return 1 if not moves or np.median(moves) >= 0 else -1


def calibrate(runs: list[RunSeries], sustain: int = 2) -> tuple[int, float]:
    """(direction, theta) chosen on `runs` (module docstring)."""
    d = direction_of(runs)
    seen = []
    for run in runs:
        r = relative_change(run)
        if r is not None:
            after = (run.steps > run.t_fit) & np.isfinite(r)
            seen.extend(d * r[after])
    # every value the rule could stop at, thinned to N_CANDIDATES quantiles, and "never"
    candidates = {math.inf, *(np.quantile(seen, np.linspace(0, 1, N_CANDIDATES)).tolist() if seen else [])}
    values = {}
    for theta in sorted(candidates):
        alarms = [alarm_step(run, d, theta, sustain) for run in runs]
        values[theta] = sum(hit(run, a) for run, a in zip(runs, alarms)) - sum(
            (not run.groks) and a is not None for run, a in zip(runs, alarms))
    best = max(values.values())
    plateau = [theta for theta, v in values.items() if v == best and math.isfinite(theta)]
    if not plateau:  # "never" is best: no threshold helps on these runs
        return d, math.inf
    return d, (min(plateau) + max(plateau)) / 2


def leave_one_out(runs: list[RunSeries], sustain: int = 2) -> list[int | None]:
    """Each run's alarm step under the rule calibrated on all the other runs."""
    out = []
    for i, run in enumerate(runs):
        d, theta = calibrate(runs[:i] + runs[i + 1:], sustain)
        out.append(alarm_step(run, d, theta, sustain))
    return out


def early_value(run: RunSeries, early: float) -> float:
    """The measure at the first checkpoint at or after `early` x the budget (the last one if none)."""
    k = np.nonzero(run.steps >= early * run.budget)[0]
    return float(run.values[k[0]] if len(k) else run.values[-1])


def auroc(scores: list[float], positive: list[bool]) -> float:
    """Mann-Whitney AUROC of `scores` for the positives (ties one half); NaN without both classes."""
    pos = [s for s, p in zip(scores, positive) if p]
    neg = [s for s, p in zip(scores, positive) if not p]
    if not pos or not neg:
        return math.nan
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def loo_auroc(runs: list[RunSeries], early: float) -> float:
    """AUROC of grokking from the early value, each run oriented by the other runs (module docstring)."""
    values = [early_value(r, early) for r in runs]
    scores = []
    for i, v in enumerate(values):
        others = [(values[j], runs[j].groks) for j in range(len(runs)) if j != i]
        g = [x for x, p in others if p and math.isfinite(x)]
        n = [x for x, p in others if not p and math.isfinite(x)]
        sign = 1.0 if not g or not n or np.mean(g) >= np.mean(n) else -1.0
        scores.append(sign * v if math.isfinite(v) else -math.inf)
    return auroc(scores, [r.groks for r in runs])


@dataclass(frozen=True)
class Score:
    """A measure's scores over the runs (module docstring)."""

    auroc: float
    lead_median: float
    lead_fraction_median: float  # lead / t_grok, median over the hits
    hits: int
    grokking_runs: int
    false_alarms: int
    runs: int


def score(runs: list[RunSeries], sustain: int = 2, early: float = 0.2) -> Score:
    alarms = leave_one_out(runs, sustain)
    leads = [run.t_grok - a for run, a in zip(runs, alarms) if hit(run, a)]
    fractions = [(run.t_grok - a) / run.t_grok for run, a in zip(runs, alarms) if hit(run, a)]
    return Score(auroc=loo_auroc(runs, early),
                 lead_median=float(np.median(leads)) if leads else math.nan,
                 lead_fraction_median=float(np.median(fractions)) if fractions else math.nan,
                 hits=len(leads), grokking_runs=sum(r.groks for r in runs),
                 false_alarms=sum((not r.groks) and a is not None for r, a in zip(runs, alarms)),
                 runs=len(runs))
