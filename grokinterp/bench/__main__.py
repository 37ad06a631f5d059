"""`python -m grokinterp.bench`: see `grokinterp.bench.cli`."""

import sys

from grokinterp.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
