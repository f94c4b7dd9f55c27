"""The documentation: it builds with warnings as errors, lists every public name,
and every public class and function shows a runnable example."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import skfactor

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def guide_pages():
    """The user guide's pages after its index, in the order of its toctree."""
    text = (DOCS / "user_guide" / "index.md").read_text(encoding="utf-8")
    toctree = re.search(r"^```\{toctree\}\n(.*?)^```", text, re.M | re.S).group(1)
    return [
        line.strip()
        for line in toctree.splitlines()
        if line.strip() and not line.startswith(":")
    ]


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


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory, example_runs):
    """Build a copy of docs/ (and examples/) with ``-W``; nothing is fetched.

    The copy keeps the build from writing generated pages into the work tree.
    The build is handed the session's runs of the examples (``examples_runs``)
    instead of running them again; without it, it runs them itself.
    """
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    pytest.importorskip("myst_parser")
    pytest.importorskip("latex2mathml")
    pytest.importorskip("pydata_sphinx_theme")
    from sphinx.cmd.build import build_main

    tmp = tmp_path_factory.mktemp("docs")
    skip = shutil.ignore_patterns("_build", "generated", "output", "__pycache__")
    shutil.copytree(DOCS, tmp / "docs", ignore=skip)
    shutil.copytree(ROOT / "examples", tmp / "examples", ignore=skip)
    out, log = tmp / "html", tmp / "warnings.txt"
    args = ["-W", "--keep-going", "-q", "-b", "html", "-w", str(log)]
    args += ["-D", f"examples_runs={example_runs[1]}"]
    args += ["-d", str(tmp / "doctrees"), str(tmp / "docs"), str(out)]
    status = build_main(args)
    return status, out, log.read_text() if log.exists() else ""


def test_docs_build_without_warnings(built_docs):
    status, out, warnings = built_docs
    assert status == 0, f"sphinx -W failed (status {status}):\n{warnings}"
    assert warnings.strip() == "", warnings
    for page in ("index", "user_guide/index", "comparison", "examples", "api"):
        assert (out / f"{page}.html").is_file(), f"{page}.html was not written"
    assert len(guide_pages()) >= 8  # the guide is split by topic
    for page in guide_pages():
        assert (out / "user_guide" / f"{page}.html").is_file(), page


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
    top = (out / "api.html").read_text().replace("<wbr>", "")
    unlisted = [name for name in skfactor.__all__ if f"skfactor.{name}" not in top]
    assert not unlisted, f"top-level names not listed on api.html: {unlisted}"


class _Page(HTMLParser):
    """Sections (by id), their figures (img src, caption), and the visible text."""

    SKIP = {"pre", "code", "script", "style", "math", "kbd"}

    def __init__(self):
        super().__init__()
        self.sections, self.figures, self.text = [], [], []
        self.skipping, self.caption, self.maths = 0, None, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section" and attrs.get("id"):
            self.sections.append(attrs["id"])
        if tag == "img":
            self.figures.append([self.sections[-1] if self.sections else "", attrs, ""])
        if tag == "figcaption":
            self.caption = self.figures[-1]
        if tag == "math":
            self.maths += 1
        if tag in self.SKIP:
            self.skipping += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skipping -= 1
        if tag == "figcaption":
            self.caption = None

    def handle_data(self, data):
        if self.caption is not None:
            self.caption[2] += data
        if not self.skipping:
            self.text.append(data)


def _parse(path):
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_docs_examples_page_shows_every_figure_under_its_example(
    built_docs, example_runs
):
    _, out, _ = built_docs
    page = _parse(out / "examples.html")
    scripts = sorted(p.stem for p in (ROOT / "examples").glob("*.py"))
    assert scripts, "no example script found"
    html = (out / "examples.html").read_text(encoding="utf-8")
    missing = [name for name in scripts if f"{name}.py" not in html]
    assert not missing, f"examples not on examples.html: {missing}"
    shown = {}
    for section, attrs, caption in page.figures:
        src = attrs["src"]
        assert (out / src).is_file(), f"{src}: no such image in the build"
        assert len(caption.split()) >= 8, f"{src}: caption {caption!r}"
        shown[Path(src).name] = section
    _, runs = example_runs
    written = 0
    for stem in scripts:
        for png in (runs / stem).glob("*.png"):
            written += 1
            assert png.name in shown, f"{stem}: {png.name} is not on the page"
            section = shown[png.name].replace("-", "_")
            assert stem in section, f"{png.name} shown under {section}, not {stem}"
    assert written >= 14  # walkthrough 7, fama_french 3, hedging 1, signals 3
    # what each example printed is on the page too
    assert "before winsorization min" in (out / "examples.html").read_text()


RAW_LATEX = re.compile(
    r"\\(frac|sum|prod|mathrm|sqrt|hat|beta|alpha|sigma|le|pm)\b|\$\$|\\\(|\\\["
)


def test_docs_formulas_are_mathml_not_raw_latex(built_docs):
    """Every formula is MathML in the page: nothing is left for a script to
    typeset, and no page loads anything from another site."""
    _, out, _ = built_docs
    pages = sorted(out.rglob("*.html"))
    with_math, raw = 0, []
    for path in pages:
        html = path.read_text(encoding="utf-8")
        assert not re.search(r"<script[^>]*mathjax", html, re.I), path.name
        assert not re.search(r'<script[^>]+src="(https?:)?//', html), path.name
        assert not re.search(r'<link[^>]+href="(https?:)?//', html), path.name
        for math in re.findall(r"<math.*?</math>", html, re.S):
            assert "\\" not in math, (path.name, math[:300])  # no \_ left
        page = _parse(path)
        with_math += page.maths > 0
        found = RAW_LATEX.findall("".join(page.text))
        if found:
            raw.append((path.relative_to(out).as_posix(), found[:3]))
    assert not raw, f"raw LaTeX in the pages: {raw}"
    assert with_math >= 10, with_math  # the guide, comparison and API pages
    guide = (out / "user_guide" / "approach2.html").read_text(encoding="utf-8")
    assert "<math" in guide and "<msub>" in guide


def test_docs_build_runs_the_examples_itself(tmp_path):
    """Without ``examples_runs`` the build runs each script into its own
    folder; a failing script and an uncaptioned figure are warnings."""
    from tests.docs_ext import example_gallery

    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "good.py").write_text(
        "import sys\nfrom pathlib import Path\nimport matplotlib.pyplot as plt\n"
        "out = Path(sys.argv[sys.argv.index('--output') + 1])\n"
        "fig, ax = plt.subplots(); ax.plot([0, 1])\n"
        "fig.savefig(out / 'a.png', metadata={'Description': 'a line going up'})\n"
        "fig.savefig(out / 'b.png')\nprint('made two')\n"
    )
    (examples / "bad.py").write_text("raise SystemExit('needs an extra')\n")
    (examples / "_helper.py").write_text("raise RuntimeError\n")  # not an example
    warnings = []

    class App:
        class config:  # noqa: N801
            examples_dir = str(examples)
            examples_runs = None

        class env:  # noqa: N801
            pass

        doctreedir = str(tmp_path / "build" / "doctrees")

    logger = example_gallery.logger
    original = logger.warning
    logger.warning = lambda *a, **k: warnings.append(a[0] % a[1:])
    try:
        example_gallery._on_builder_inited(App)
    finally:
        logger.warning = original
    runs = Path(App.env.skfactor_examples)
    assert runs == tmp_path / "build" / "doctrees" / "examples"
    assert sorted(p.name for p in runs.iterdir()) == ["bad", "good"]
    assert (runs / "good" / "stdout.txt").read_text() == "made two\n"
    assert example_gallery.figure_caption(runs / "good" / "a.png") == "a line going up"
    assert example_gallery.figure_caption(runs / "good" / "b.png") == ""
    assert len(warnings) == 1 and "bad.py failed" in warnings[0]
    assert "needs an extra" in warnings[0]


def test_docs_mathml_renderer():
    from tests.docs_ext import mathml

    block = mathml.to_mathml(r"\prod_{s=1}^{h}(1 + r_{t+s}) - 1", display=True)
    assert block.startswith("<math") and 'display="block"' in block
    assert "<munderover>" in block and "\\prod" not in block


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
    """The ```python blocks of the user guide run top to bottom, page after page
    as its index says, then those of the comparison page (which reuse the
    guide's data)."""
    namespace = {}
    pages = ["user_guide/index.md"]
    pages += [f"user_guide/{page}.md" for page in guide_pages()]
    ran = 0
    for page in [*pages, "comparison.md"]:
        text = (DOCS / page).read_text(encoding="utf-8")
        blocks = re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)
        ran += len(blocks)
        for i, block in enumerate(blocks):
            exec(compile(block, f"{page} python block {i}", "exec"), namespace)
    assert ran >= 20, ran
    error = namespace["error"]
    assert (error < 0.005).all(), error  # the recovery the guide states
    assert namespace["hedged"].exposures.loc["MKT", "after"] == 0.0


def test_readme_quickstart_run_as_a_script_prints_what_it_computed(tmp_path):
    """The README's Quickstart, saved as a script and run, shows its results."""
    import subprocess
    import sys

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)[0]
    script = tmp_path / "quickstart.py"
    script.write_text(block, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "Approach 1, betas of the first asset" in out
    assert "std_err" in out and "market" in out
    assert "rolling 100-date betas" in out
    assert "Approach 2, the Fama-MacBeth table" in out
    assert re.search(r"mean ± s.d. over the 4 folds: \{0\.0: '-?0\.\d+ ± 0\.\d+'", out)
    assert "np.float64" not in out


def test_readme_lists_every_example_and_says_what_is_in_sample():
    """Every examples/*.py has a row; the Quickstart says its sorts use
    same-date data; no warning is promised that forward_returns does not give."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [
        p.name
        for p in sorted((ROOT / "examples").glob("*.py"))
        if not p.name.startswith("_") and f"| `{p.name}` |" not in text
    ]
    assert not missing, f"examples without a row in the README's table: {missing}"
    quickstart = re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)[0]
    assert "same date's" in quickstart and "look-ahead" in quickstart
    assert "one warning says so" not in quickstart


def test_docs_guide_keeps_the_contract_headings():
    """Other pages and docstrings link to these two sections by name."""
    headings = []
    for page in (DOCS / "user_guide").glob("*.md"):
        text = re.sub(
            r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S
        )
        headings += re.findall(r"^#+ (.+)$", text, re.M)
    assert "Column roles" in headings and "Fitted attributes" in headings


def test_docs_stylesheet_gives_formulas_no_scrollbar():
    css = (DOCS / "_static" / "skfactor.css").read_text(encoding="utf-8")
    for rule in re.findall(r"div\.math[^{]*\{([^}]*)\}", css):
        assert not re.search(r"overflow(-x|-y)?\s*:\s*(auto|scroll)", rule), rule


def test_docs_mathml_text_escapes_and_wide_accents():
    from tests.docs_ext import mathml

    text = mathml.to_mathml(r"\text{with } \texttt{cov\_type}", display=False)
    assert "cov_type" in text and "\\_" not in text
    with pytest.raises(ValueError, match="wide accent"):
        mathml.to_mathml(r"\widehat{\mathrm{Var}}(x)", display=True)
    argmin = mathml.to_mathml(r"\arg\min_b f(b)", display=True)
    assert "<mi>arg</mi>" in argmin and "\\" not in argmin
    assert "<mover" in mathml.to_mathml(r"\hat V(x)", display=True)


def test_docs_code_breaks_only_between_names():
    from tests.docs_ext import code_breaks

    html = code_breaks.add_breaks(
        '<span class="pre">QuantilePortfolioFactor(breakpoints=(0.3,</span>'
        '<span class="pre">PanelTimeSeriesSplit</span>'
        '<span class="pre">skfactor.model_selection</span>'
    )
    assert "QuantilePortfolioFactor(<wbr>breakpoints=<wbr>(<wbr>0.3," in html
    assert ">PanelTimeSeriesSplit<" in html and ">skfactor.model_selection<" in html


def test_docs_pages_show_no_scrollbar_at_1280px(built_docs):
    """In headless Chromium (skipped where none is installed, as on CI): no
    element of the site's pages scrolls, nothing is wider than its column and
    no code name breaks inside itself. One page of each kind, to stay fast;
    ``python docs/check_scrollbars.py docs/_build/html`` checks them all."""
    sys.path.insert(0, str(DOCS))
    try:
        import check_scrollbars
    finally:
        sys.path.remove(str(DOCS))
    browser = check_scrollbars.find_browser()
    if browser is None:
        pytest.skip("no chromium installed")
    _, out, _ = built_docs
    pages = ["index", "comparison", "scaling_out", "examples", "api"]
    pages += ["user_guide/index"] + [f"user_guide/{p}" for p in guide_pages()]
    pages += [
        "generated/skfactor.model_selection.CombinatorialPurgedSplit",
        "generated/skfactor.preprocessing.CrossSectionalNeutralizer",
        "generated/skfactor.risk.return_attribution",
    ]
    found = {}
    for page in pages:
        items = check_scrollbars.scrollbars(out / f"{page}.html", browser)
        if items:
            found[page] = items
    assert not found, found
