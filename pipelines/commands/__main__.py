"""`python -m pipelines.commands <run|generate|benchmark|whatif|review>`: the `alms` command (see cli.py)."""

import sys

from pipelines.commands.cli import main

sys.exit(main())
