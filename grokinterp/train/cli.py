"""`python -m grokinterp.train PRESET [--out DIR] [--set key=value ...] [--stop-when-grokked]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grokinterp.errors import ConfigError
from grokinterp.limits import check_bounded_overrides


class _Parser(argparse.ArgumentParser):
    def format_help(self) -> str:  # the preset list loads the package (torch): only when help is asked for
        from grokinterp.presets import PRESETS

        self.epilog = f"presets: {', '.join(PRESETS)}"
        return super().format_help()


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m grokinterp.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("preset", help="preset name (listed below)")
    parser.add_argument("--out", default=None, help="run directory (default: checkpoints/PRESET)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.weight_decay=0.3 (repeatable)")
    parser.add_argument("--stop-when-grokked", action="store_true",
                        help="stop at the first logged step with test accuracy >= train.grok_threshold")
    parser.add_argument("--steps-after-grokked", type=int, default=0, metavar="N",
                        help="with --stop-when-grokked (implied): train N steps past that step before stopping, "
                             "to see the clean-up (the grokked step is checkpointed too); a run that has "
                             "collapsed below the threshold again by then trains on until it is back")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:  # sizes out of bounds are one line before torch is imported (a second, not two)
        check_bounded_overrides(args.overrides)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from grokinterp.presets import get_preset
    from grokinterp.train.run import train, user_error

    try:
        cfg = get_preset(args.preset).with_overrides(args.overrides)
        out = Path(args.out) if args.out else Path("checkpoints") / args.preset
        result = train(cfg, out, stop_when_grokked=args.stop_when_grokked or args.steps_after_grokked > 0,
                       steps_after_grokked=args.steps_after_grokked,
                       progress=False if args.no_progress else None)
    except Exception as e:  # a user's mistake is one line; anything else is a bug and keeps its traceback
        msg = user_error(e)
        if msg is None:
            raise
        print(f"error: {msg}", file=sys.stderr)
        return 2
    m = result.metrics
    if result.interrupted:
        print(f"interrupted at step {result.step}; checkpoint written to {result.out}. "
              "Run the same command to resume.", file=sys.stderr)
        return 130
    summary = (f"step {result.step}: train_acc {m.get('train_acc', float('nan')):.4f} "
               f"test_acc {m.get('test_acc', float('nan')):.4f} test_loss {m.get('test_loss', float('nan')):.3g}")
    if result.grokked_step is not None:
        summary += f"; grokked (test_acc >= {cfg.train.grok_threshold}) at step {result.grokked_step}"
    print(f"{summary}\nrun written to {result.out}")
    return 0
