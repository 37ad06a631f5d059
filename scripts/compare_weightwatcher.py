"""Our HTSR layer alpha (grokinterp.analysis.spectral.power_law_fit) against WeightWatcher's own fit (its
`WW_powerlaw.WWFit`, which `WeightWatcher.analyze` calls for every layer) on the ESD of every weight matrix at
some checkpoints of a run.

    pip install 'grokinterp[weightwatcher]'
    python scripts/compare_weightwatcher.py RUN [--checkpoints 8]

Prints one line per matrix and checkpoint, and the largest difference. WeightWatcher fits ESDs of fewer than 20
eigenvalues with a bias-corrected small-sample method; those lines are marked "small-N" and left out of the
summary of the standard fit.
"""

from __future__ import annotations

import argparse
import warnings

from grokinterp import load_run
from grokinterp.analysis.spectral import esd, power_law_fit
from grokinterp.progress import spectral_matrices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run")
    parser.add_argument("--checkpoints", type=int, default=8, help="about this many, evenly spaced (default 8)")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from weightwatcher.WW_powerlaw import SMALL_N_CUTOFF, WWFit

    run = load_run(args.run)
    steps = run.steps[:: max(1, len(run.steps) // args.checkpoints)]
    names = spectral_matrices(run)
    diffs = []
    for step in steps:
        params = run.state_dict(step)
        for name in names:
            evals = esd(params[name])
            ours = power_law_fit(evals)
            theirs = WWFit(evals[evals > 1e-12 * evals[-1]])
            small = len(evals) < SMALL_N_CUTOFF
            print(f"step {step:>6} {name:<28} ours {ours.alpha:8.4f}  weightwatcher {theirs.alpha:8.4f}"
                  f"  xmin {ours.xmin:.4g} / {theirs.xmin:.4g}{'  small-N' if small else ''}")
            if not small:
                diffs.append(abs(ours.alpha - theirs.alpha))
    print(f"{len(diffs)} standard fits, largest |alpha difference| {max(diffs):.3g}" if diffs else "no standard fit")


if __name__ == "__main__":
    main()
