"""``python -m textspotter``: the command line (so that ``torchrun -m textspotter train ...`` works)."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
