"""The estimators on Dask: panels past one machine, with bounded memory per worker.

Install the extra (``pip install "skfactor[dask]"``: ``dask[dataframe]`` and
``distributed``). A Dask panel is a Dask DataFrame indexed by date, with known
divisions and an ``asset`` column: every date's rows lie in one partition, and
each partition is an ordinary (date, asset) pandas panel. The functions return
ordinary fitted skfactor estimators; row-sized outputs stay on the cluster
(transformed panels and predictions lazy, rolling coefficients persisted on
the workers). See the "Scaling out" guide.
"""

try:
    import dask  # noqa: F401
    import dask.dataframe  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "skfactor.dask needs Dask: install the extra, `pip install "
        '"skfactor[dask]"` (dask[dataframe] and distributed).'
    ) from exc

from skfactor.dask._by_asset import fit_by_asset, wide_returns
from skfactor.dask._by_date import fit_by_date, predict_by_date, transform_by_date
from skfactor.dask._layout import check_panel, from_pandas, gather, read_panel
from skfactor.dask._returns import forward_returns, information_coefficient

__all__ = [
    "check_panel",
    "fit_by_asset",
    "fit_by_date",
    "forward_returns",
    "from_pandas",
    "gather",
    "information_coefficient",
    "predict_by_date",
    "read_panel",
    "transform_by_date",
    "wide_returns",
]
