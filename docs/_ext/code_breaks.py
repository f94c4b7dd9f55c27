"""Line breaks in long code at its punctuation, never inside a name.

A long inline literal (``CombinatorialPurgedCV(n_folds, purged_size=purge)``)
in a narrow table cell either pushes the table past the page or, with CSS
that breaks anywhere, splits a name ("PanelTimeSer / iesSplit"). This
extension puts a ``<wbr>`` (an optional break, invisible and not copied)
after each ``(``, ``,``, ``=`` and ``.`` inside the long calls of inline
code (a word with no ``(``, such as ``skfactor.models`` or ``signals.py``,
is left whole), and the stylesheet keeps every word of code whole otherwise
(``span.pre { white-space: nowrap }``).
"""

from __future__ import annotations

import re

LONG = 16  # words of code shorter than this are left alone
WORD = re.compile(rf'(<span class="pre">)([^<]{{{LONG},}})(</span>)')
CALL = re.compile(r"([(,=])(?=[^)\s])")  # after ( , = inside a call
DOT = re.compile(r"(\.)(?=[A-Za-z_])")  # after . of a call chain: a.b(c).d(e)


def _breaks(word):
    if "(" not in word:  # a name or path (skfactor.models, signals.py): whole
        return word
    return DOT.sub(r"\1<wbr>", CALL.sub(r"\1<wbr>", word))


def add_breaks(html):
    """``html`` with ``<wbr>`` after the punctuation of long code words."""
    return WORD.sub(lambda m: m.group(1) + _breaks(m.group(2)) + m.group(3), html)


def _on_page_context(app, pagename, templatename, context, doctree):
    if "body" in context:
        context["body"] = add_breaks(context["body"])


def setup(app):
    app.connect("html-page-context", _on_page_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
