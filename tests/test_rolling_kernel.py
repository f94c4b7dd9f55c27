"""The rolling kernel's summary flag, against the estimates it summarises."""

from __future__ import annotations

import numpy as np
import pytest

from skfactor.models._rolling_ols import rolling_ols


@pytest.mark.parametrize(
    "window, min_obs, expanding, n_dates",
    [(20, 3, False, 60), (20, 3, False, 19), (20, 15, True, 14), (20, 15, True, 15)],
    ids=["estimated", "no-full-window", "expanding-short", "expanding-enough"],
)
def test_rolling_ols_estimated_says_whether_any_window_has_an_estimate(
    window, min_obs, expanding, n_dates
):
    rng = np.random.default_rng(0)
    F = rng.normal(0, 0.01, (n_dates, 2))
    R = F @ [[1.0, 0.5], [0.2, -0.3]] + rng.normal(0, 0.01, (n_dates, 2))
    R[: n_dates // 3, 1] = np.nan  # one asset lists late
    res = rolling_ols(
        F, R, window=window, min_obs=min_obs, expanding=expanding, block_cells=1
    )
    assert res.estimated == (not np.isnan(res.params).all())
    later = rolling_ols(F, R, window=window, min_obs=min_obs, first=n_dates - 1)
    assert later.estimated == (not np.isnan(later.params).all())
