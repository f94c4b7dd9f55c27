r"""Formulas rendered to MathML when the pages are built: no script, no network.

Sphinx's default renderer leaves the LaTeX source in the page for MathJax to
typeset in the reader's browser, from a CDN: without the network the reader
sees raw LaTeX. This renderer converts each formula with ``latex2mathml``
(pure Python, from PyPI, in the ``docs`` extra) while the page is written, so
the HTML holds MathML, which every current browser draws natively. A formula
the converter cannot read is a build warning (an error under ``-W``) naming it.

Two repairs of the converter's output: an escaped character in text
(``\text{cov\_type}``) is shown as the character, not as ``\_``; and a wide
accent over several letters (``\widehat{\mathrm{Var}}``) is a warning, since a
browser without a math font draws it as one small hat over the middle letter
("Vâr"): write ``\hat V`` instead. A command the converter leaves as text
(``\arg`` is made a word) is a warning too.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)


# \widehat{...} / \widetilde{...} over more than one letter
WIDE_ACCENT = re.compile(r"\\wide(hat|tilde)\s*\{\s*(\\math\w+\s*\{)?\s*\w\w")
# an escaped character left in <mtext> by the converter: \_ \% \& \# \$ \{ \}
TEXT_ESCAPE = re.compile(r"\\([_%&#${}])")


def _unescape_text(match):
    return match.group(1) + TEXT_ESCAPE.sub(r"\1", match.group(2)) + match.group(3)


def to_mathml(latex, display):
    """The MathML of one formula; ``display`` for a block of its own."""
    from latex2mathml.converter import convert

    if WIDE_ACCENT.search(latex):
        raise ValueError(
            "a wide accent over several letters is drawn as one small hat over "
            "the middle letter without a math font; accent one letter (\\hat V)"
        )
    mathml = convert(latex.strip(), display="block" if display else "inline")
    mathml = re.sub(
        r"(<mtext[^>]*>)(.*?)(</mtext>)", _unescape_text, mathml, flags=re.S
    )
    # operator names the converter leaves as commands (\arg): upright words
    mathml = re.sub(r"<mi>\\(arg|deg|dim|hom|ker)</mi>", r"<mi>\1</mi>", mathml)
    left = re.search(r"\\[A-Za-z]+", mathml)
    if left:
        raise ValueError(f"the converter left {left.group()} as text")
    return mathml


def _render(self, node, display):
    try:
        return to_mathml(node.astext(), display)
    except Exception as exc:  # the converter raises many types; name the formula
        logger.warning(
            "formula not converted to MathML (%s): %r",
            exc,
            node.astext(),
            location=node,
        )
        return f"<code>{self.encode(node.astext())}</code>"


def visit_math(self, node):
    self.body.append(self.starttag(node, "span", "", CLASS="math"))
    self.body.append(_render(self, node, display=False) + "</span>")
    raise nodes.SkipNode


def visit_displaymath(self, node):
    self.body.append(self.starttag(node, "div", CLASS="math"))
    parts = [p for p in node.astext().split("\n\n") if p.strip()]
    for part in parts:
        self.body.append(_render(self, nodes.math_block(part, part), display=True))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_displaymath, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
