"""``python -m skfactor report ...``: the ``skfactor`` command line."""

import sys

from skfactor.report._cli import main

if __name__ == "__main__":
    sys.exit(main())
