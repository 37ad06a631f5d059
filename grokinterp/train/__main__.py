"""`python -m grokinterp.train`: see `grokinterp.train.cli`."""

import sys

from grokinterp.train.cli import main

if __name__ == "__main__":
    sys.exit(main())
