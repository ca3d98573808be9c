"""``python -m ferrograd <command>``: command-line tools. ``python -m ferrograd --help`` lists them.

The commands live in :mod:`ferrograd.cli`.
"""

from __future__ import annotations

import sys

from ferrograd.cli.main import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
