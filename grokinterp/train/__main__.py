"""`python -m grokinterp.train`: see `grokinterp.train.cli`."""

import sys

from grokinterp.train.cli import main

sys.exit(main())
