"""The examples page: every ``examples/*.py`` is run when the pages are built.

Each script is run as a reader runs it, ``python examples/NAME.py --output
DIR`` (every example takes ``--output``), two at a time, into a folder of the
build; its page section then shows the script's docstring, the figures it
wrote (in the order it wrote them, each with the caption the script saved in
the PNG's ``Description`` metadata), what it printed, and its source. So the
figures cannot go stale: they are made from the scripts at every build. A
script that fails, or a figure saved without a caption, is a build warning
(an error under ``-W``).

``examples_runs`` (a folder, default None) uses runs made before, one
subfolder per script holding its figures and ``stdout.txt``: the test suite
runs each example once and hands the runs to the build it makes.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)
STDOUT = "stdout.txt"


def example_scripts(folder):
    """The example scripts of ``folder``: ``*.py`` not starting with ``_``."""
    folder = Path(folder)
    return sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))


def run_example(script, output, timeout=600):
    """Run one script with ``--output output``; its stdout goes to stdout.txt.

    Returns ``(return code, stderr, seconds)``.
    """
    output = Path(output).resolve()
    output.mkdir(parents=True, exist_ok=True)
    for old in output.glob("*.png"):
        old.unlink()
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    start = time.perf_counter()
    done = subprocess.run(  # run beside its output: it prints short paths
        [sys.executable, str(Path(script).resolve()), "--output", output.name],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=output.parent,
    )
    (output / STDOUT).write_text(done.stdout, encoding="utf-8")
    return done.returncode, done.stderr, time.perf_counter() - start


def run_examples(scripts, folder, jobs=2):
    """Run every script into ``folder/<script stem>``, ``jobs`` at a time.

    Returns ``{stem: (return code, stderr, seconds)}``.
    """
    folder = Path(folder)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            s.stem: pool.submit(run_example, s, folder / s.stem) for s in scripts
        }
        return {stem: f.result() for stem, f in futures.items()}


def figure_caption(png):
    """The caption a script saved in a PNG's ``Description`` text chunk."""
    from PIL import Image

    with Image.open(png) as image:
        return image.text.get("Description", "").strip()


def _intro(path):
    """The script's module docstring and the first source line after it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    if doc is None:
        return "", 1
    return doc, tree.body[0].end_lineno + 1


def _on_builder_inited(app):
    examples = Path(app.config.examples_dir)
    given = app.config.examples_runs
    # by default in the doctrees folder: the build's own, not published
    folder = Path(given) if given else Path(app.doctreedir) / "examples"
    app.env.skfactor_examples = folder
    if given:
        return
    scripts = example_scripts(examples)
    logger.info("running %d examples into %s", len(scripts), folder)
    for stem, (code, stderr, seconds) in run_examples(scripts, folder).items():
        logger.info("  %s: %.1f s", stem, seconds)
        if code:
            logger.warning(
                "example %s.py failed (exit %d):\n%s", stem, code, stderr[-3000:]
            )


def _figures(self, pngs, script):
    srcdir = Path(self.env.srcdir)
    lines = []
    for png in pngs:
        caption = figure_caption(png)
        if not caption:
            logger.warning(
                "%s: figure %s has no caption; save it with "
                "savefig(..., metadata={'Description': 'what to see'})",
                script.name,
                png.name,
                location=(self.env.docname, self.lineno),
            )
            caption = png.name
        rel = os.path.relpath(png, srcdir).replace(os.sep, "/")
        lines += [f".. figure:: /{rel}", "   :width: 100%", f"   :alt: {png.stem}", ""]
        lines += ["   " + line for line in caption.splitlines()] + [""]
    return lines


class ExampleScripts(SphinxDirective):
    """Every example: its docstring, figures, printed output and source."""

    has_content = False

    def run(self):
        srcdir = Path(self.env.srcdir)
        runs = Path(self.env.skfactor_examples)
        lines = []
        for script in example_scripts(self.config.examples_dir):
            self.env.note_dependency(str(script))
            title = f"``{script.name}``"
            lines += [title, "-" * len(title), ""]
            intro, first_line = _intro(script)
            lines += [*intro.splitlines(), ""]
            run = runs / script.stem
            pngs = sorted(run.glob("*.png"), key=lambda p: p.stat().st_mtime_ns)
            if pngs:
                lines += [".. rubric:: Figures", ""] + _figures(self, pngs, script)
            printed = run / STDOUT
            if printed.is_file() and printed.read_text(encoding="utf-8").strip():
                rel = os.path.relpath(printed, srcdir).replace(os.sep, "/")
                lines += [".. rubric:: What it prints", ""]
                lines += [f".. literalinclude:: /{rel}", "   :language: text"]
                lines += ["   :class: example-output", ""]  # wraps long lines
            rel = os.path.relpath(script, srcdir).replace(os.sep, "/")
            lines += [".. rubric:: Source", ""]
            lines += [f".. literalinclude:: /{rel}", "   :language: python"]
            lines += [f"   :lines: {first_line}-", ""]
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(
            self.state, StringList(lines, source="examples"), container
        )
        return container.children


def setup(app):
    app.add_config_value("examples_dir", "", "env")
    app.add_config_value("examples_runs", None, "env")
    app.add_directive("example-scripts", ExampleScripts)
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
