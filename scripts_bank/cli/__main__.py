"""``python -m scripts_bank.cli``: the same as the ``huashu`` command."""

import sys

from scripts_bank.cli.main import main

sys.exit(main())
