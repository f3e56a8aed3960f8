"""``python -m skhash`` / the ``skhash`` command."""

import sys

from ._benchmark import main

if __name__ == "__main__":
    sys.exit(main())
