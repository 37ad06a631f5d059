"""`python -m grokinterp.bench`: see `grokinterp.bench.cli`."""

import sys

from grokinterp.bench.cli import main

sys.exit(main())
