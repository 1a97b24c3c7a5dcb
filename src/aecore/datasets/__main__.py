"""Run ``aecore-prepare`` as ``python -m aecore.datasets``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
