from __future__ import annotations

import pytest

from skfactor.datasets import make_factor_panel


@pytest.mark.parametrize(
    "params, name",
    [
        ({"n_dates": 0}, "n_dates"),
        ({"n_assets": 2.5}, "n_assets"),
        ({"missing_rows": 1.0}, "missing_rows"),
        ({"persistence": 1.0}, "persistence"),
        ({"specific_volatility": -0.1}, "specific_volatility"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_make_factor_panel_rejects_bad_parameters(params, name):
    with pytest.raises(ValueError, match=f"The '{name}' parameter of make_factor"):
        make_factor_panel(**params)
