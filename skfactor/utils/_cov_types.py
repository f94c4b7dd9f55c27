"""One covariance vocabulary for every model and the risk module.

Each covariance has one canonical name; every spelling the estimators accepted
before stays accepted as an alias of it (the user guide's "Conventions" page
lists them in one table):

============  =================================  =================================
canonical     aliases                            meaning
============  =================================  =================================
nonrobust     ``"unadjusted"``,                  the estimator's plain covariance:
              ``"fama-macbeth"``                 OLS :math:`s^2 (X'X)^{-1}` per
                                                 regression; the variance of the
                                                 mean of per-date estimates
HC0 … HC3     (none)                             White's heteroskedasticity-
                                                 robust covariances
kernel        ``"HAC"``, ``"newey-west"``        a long-run (HAC) covariance,
                                                 weighted by ``kernel`` up to
                                                 ``bandwidth`` lags
shanken       (none)                             Shanken's correction for
                                                 estimated betas (two-pass)
============  =================================  =================================

The lag count is ``bandwidth`` (linearmodels' name, a real number for the
quadratic spectral kernel, whose integer part Bartlett and Parzen use as the
number of lags); ``maxlags`` (statsmodels) and ``lags`` (USE4, the risk
module) are its aliases. ``"newey-west"`` is the Bartlett kernel.
"""

from __future__ import annotations

__all__ = ["COV_TYPE_ALIASES", "canonical_cov_type", "resolve_bandwidth"]

COV_TYPE_ALIASES = {
    "unadjusted": "nonrobust",
    "fama-macbeth": "nonrobust",
    "HAC": "kernel",
    "newey-west": "kernel",
}


def canonical_cov_type(cov_type: object, accepted: tuple[str, ...]) -> str:
    """The canonical name of ``cov_type``, one of ``accepted``, or raise.

    Parameters
    ----------
    cov_type : object
        A canonical name or an alias of one.
    accepted : tuple of str
        The canonical names the estimator supports.

    Returns
    -------
    str
        The canonical name.
    """
    name = (
        COV_TYPE_ALIASES.get(cov_type, cov_type) if isinstance(cov_type, str) else None
    )
    if name in accepted:
        return name
    spellings = []
    for c in accepted:
        aliases = ", ".join(
            f'"{a}"' for a, canon in COV_TYPE_ALIASES.items() if canon == c
        )
        spellings.append(f'"{c}"' + (f" (or {aliases})" if aliases else ""))
    raise ValueError(
        f"`cov_type` must be one of {', '.join(spellings)}; got {cov_type!r}."
    )


def resolve_bandwidth(
    bandwidth: float | None = None, /, **aliases: float | None
) -> float | None:
    """The lag count given as ``bandwidth`` or under one of its aliases.

    ``resolve_bandwidth(self.bandwidth, maxlags=self.maxlags)``: at most one
    spelling may be set (not None), unless they agree; None when none is.
    """
    given = {"bandwidth": bandwidth, **aliases}
    values = {name: value for name, value in given.items() if value is not None}
    if len(set(values.values())) > 1:
        listed = " and ".join(f"`{name}`={value!r}" for name, value in values.items())
        raise ValueError(
            f"{listed} name the same lag count and differ; give one of them."
        )
    return next(iter(values.values()), None)
