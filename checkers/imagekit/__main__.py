"""``python -m checkers.imagekit prepare|status [--force] [--json] [IMAGE ...]``

The same command as ``dockercourse images ...``; one implementation lives in :mod:`checkers.cli`.
"""
from __future__ import annotations

import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main(["images", *sys.argv[1:]]))
