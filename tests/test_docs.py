"""The documentation: it builds with warnings as errors, lists every public name,
and every public class and function shows a runnable example."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re
import shutil
import struct
import zlib
from pathlib import Path

import pytest

import skfactor

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def public_modules():
    """``skfactor`` and each of its subpackages that declares ``__all__``."""
    modules = [skfactor]
    for info in pkgutil.iter_modules(skfactor.__path__):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"skfactor.{info.name}")
        except ImportError:  # an optional extra (skfactor.dask) not installed
            continue
        if hasattr(module, "__all__"):
            modules.append(module)
    return modules


def public_objects():
    """``(qualified name, object)`` for every name in a public ``__all__``."""
    return [
        (f"{module.__name__}.{name}", getattr(module, name))
        for module in public_modules()
        for name in module.__all__
    ]


def _png(path):
    """Write a valid 1x1 grey PNG (no plotting library needed)."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """Build a copy of docs/ (and examples/) with ``-W``; nothing is run or fetched.

    The copy keeps the build from writing generated pages into the work tree.
    Run figures (``examples/output/``, not committed) are replaced by one
    stand-in PNG, so that the examples page is built the same way everywhere
    and its figure path is exercised.
    """
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    pytest.importorskip("myst_parser")
    from sphinx.cmd.build import build_main

    tmp = tmp_path_factory.mktemp("docs")
    skip = shutil.ignore_patterns("_build", "generated", "output", "__pycache__")
    shutil.copytree(DOCS, tmp / "docs", ignore=skip)
    shutil.copytree(ROOT / "examples", tmp / "examples", ignore=skip)
    (tmp / "examples" / "output").mkdir()
    _png(tmp / "examples" / "output" / "lecture_walkthrough_stand_in.png")
    out, log = tmp / "html", tmp / "warnings.txt"
    args = ["-W", "--keep-going", "-q", "-b", "html", "-w", str(log)]
    args += ["-d", str(tmp / "doctrees"), str(tmp / "docs"), str(out)]
    status = build_main(args)
    return status, out, log.read_text() if log.exists() else ""


def test_docs_build_without_warnings(built_docs):
    status, out, warnings = built_docs
    assert status == 0, f"sphinx -W failed (status {status}):\n{warnings}"
    assert warnings.strip() == "", warnings
    for page in ("index", "user_guide", "comparison", "examples", "api"):
        assert (out / f"{page}.html").is_file(), f"{page}.html was not written"


def test_docs_api_reference_lists_every_public_name(built_docs):
    _, out, _ = built_docs
    documented = set()
    for page in out.rglob("*.html"):
        documented.update(re.findall(r'id="(skfactor\.[\w.]+)"', page.read_text()))
    by_object = {}
    for name in documented:
        module, _, attr = name.rpartition(".")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue  # a method or attribute id, not a module-level name
        by_object.setdefault(id(obj), name)
    missing = [
        name
        for name, obj in public_objects()
        if name not in documented and id(obj) not in by_object
    ]
    assert not missing, (
        "public names missing from the API reference (add them to an "
        f"autosummary list in docs/api.rst): {missing}"
    )
    top = (out / "api.html").read_text()
    unlisted = [name for name in skfactor.__all__ if f"skfactor.{name}" not in top]
    assert not unlisted, f"top-level names not listed on api.html: {unlisted}"


def test_docs_examples_page_shows_every_script_and_its_figures(built_docs):
    _, out, _ = built_docs
    page = (out / "examples.html").read_text()
    scripts = sorted(p.name for p in (ROOT / "examples").glob("*.py"))
    assert scripts, "no example script found"
    missing = [name for name in scripts if name not in page]
    assert not missing, f"examples not on examples.html: {missing}"
    assert "lecture_walkthrough_stand_in.png" in page
    assert (out / "_images" / "lecture_walkthrough_stand_in.png").is_file()


def test_docs_every_public_docstring_has_an_examples_section():
    offenders = [
        name
        for name, obj in public_objects()
        if not re.search(r"^\s*Examples\n\s*-{8}\s*$", inspect.getdoc(obj) or "", re.M)
    ]
    assert not offenders, (
        f"public names whose docstring has no numpydoc `Examples` section: {offenders}"
    )


def _doctests():
    finder = doctest.DocTestFinder(exclude_empty=True)
    seen, tests = set(), []
    for name, obj in public_objects():
        if id(obj) in seen:  # a top-level name is its subpackage's object
            continue
        seen.add(id(obj))
        module = inspect.getmodule(obj) or importlib.import_module(
            name.rpartition(".")[0]
        )
        for test in finder.find(obj, name, module=module):
            if test.examples:
                tests.append(test)
    return tests


def test_docs_public_examples_run():
    """The docstring examples pass, as ``pytest --doctest-modules`` runs them."""
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report, failed = [], []
    tests = _doctests()
    assert tests
    for test in tests:
        if runner.run(test, out=report.append).failed:
            failed.append(test.name)
    assert not failed, f"docstring examples that fail: {failed}\n" + "".join(report)


def test_docs_user_guide_code_runs():
    """The ```python blocks of the user guide run top to bottom, as the page says,
    then those of the comparison page (which reuse the guide's data)."""
    namespace = {}
    for page in ("user_guide.md", "comparison.md"):
        text = (DOCS / page).read_text(encoding="utf-8")
        blocks = re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)
        assert blocks, f"no python block in {page}"
        for i, block in enumerate(blocks):
            exec(compile(block, f"{page} python block {i}", "exec"), namespace)
    error = namespace["error"]
    assert (error < 0.005).all(), error  # the recovery the guide states
    assert namespace["hedged"].exposures.loc["MKT", "after"] == 0.0
