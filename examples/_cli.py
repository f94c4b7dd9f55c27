"""The ``--output`` option every example takes (the docs build passes it)."""

from __future__ import annotations

import argparse
from pathlib import Path


def output_folder(doc: str) -> Path:
    """The ``--output`` folder from the command line (default examples/output/)."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).resolve().parent / "output",
        help="folder for the page and the PNG figures (default: examples/output/)",
    )
    return parser.parse_args().output
