"""`python -m gancore` runs the command line."""

import sys

from gancore.cli import main

sys.exit(main())
