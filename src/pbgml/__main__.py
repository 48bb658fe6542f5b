"""``python -m pbgml <command>``: the same program as the ``pbgml`` console script."""

from __future__ import annotations

import sys

from pbgml.cli import main

if __name__ == "__main__":
    sys.exit(main())
