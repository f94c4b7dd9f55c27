"""One-call factor tear sheets: tables, figures, an HTML page, a command line.

:class:`FactorReport` computes the tables on creation (pandas only), of a
factor or, with ``FactorReport.from_model``, of a fitted model; its
figures and page need matplotlib (``pip install "skfactor[report]"``).
"""

from skfactor.report._report import FactorReport

__all__ = ["FactorReport"]
