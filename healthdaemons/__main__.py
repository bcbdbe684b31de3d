"""`python -m healthdaemons`: the `healthdaemons` command."""

import sys

from ._cli import main

sys.exit(main())
