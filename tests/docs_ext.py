"""The docs' own Sphinx extensions (docs/_ext), importable from the tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))

import code_breaks  # noqa: E402
import example_gallery  # noqa: E402
import mathml  # noqa: E402

__all__ = ["code_breaks", "example_gallery", "mathml"]
