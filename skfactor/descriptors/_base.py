"""What the descriptors share: input columns by name, new output columns, the grid.

A descriptor reads a few named raw fields of a long (date, asset) panel
(``returns``, ``cap``, ``volume``, ``shares``, a risk-free rate) and writes new
columns (``beta``, ``rstr``, ...) on the same rows. :class:`Descriptor` adds
that to :class:`~skfactor.panel._transformer.PanelTransformer`: it selects the
columns its parameters name (other columns, e.g. an industry label, are not
read), refuses anything but a panel, and names its output columns. Its kernel
runs per asset across dates on a (dates, assets) grid, so that "t - k" counts
the panel's dates and a hole is a missing value: a block of assets at a time
over the whole history (:func:`by_asset`), or, for the half-life weighted
window sums, a chunk of dates at a time over all assets
(:func:`scan_by_date`); either way the memory stays a few blocks whatever
the panel's size.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from skfactor.descriptors._windows import WindowScan, check_decay, shift
from skfactor.panel._output import is_polars_frame, key_columns
from skfactor.panel._segments import Segments
from skfactor.panel._transformer import PanelTransformer
from skfactor.panel._validation import check_not_dask, duplicated_rows_error
from skfactor.utils._sklearn import Interval
from skfactor.utils._typing import ArrayLike, FrameOut, MatrixLike, TargetLike

__all__ = [
    "Descriptor",
    "asset_codes",
    "by_asset",
    "check_positive",
    "date_values",
    "half_window",
    "log_excess",
    "per_date",
    "present_terms",
    "previous_date",
    "scan_by_date",
    "window_scan",
]

# Grid cells per block of assets: the kernels' dozen temporaries of a block
# stay within a few tens of MiB.
_BLOCK_CELLS = 2**17
# Bytes of the terms of one chunk of dates of :func:`scan_by_date` (all
# assets): in the L3 cache; 2**20 to 2**23 time the same on 3,000 assets
# x 2,520 dates, 2**19 (7 dates a chunk) 1.3x slower.
_CHUNK_BYTES = 2**22
# Up to this many (asset, date) cells per row, :func:`by_asset` puts the
# fields on one whole grid; above it (a sparse panel), a block at a time.
_MAX_PADDING = 2

WINDOW = [Interval(numbers.Integral, 1, None, closed="left")]
HALFLIFE = [Interval(numbers.Real, 0, None, closed="neither"), None]
MIN_PERIODS = [Interval(numbers.Integral, 1, None, closed="left"), None]
RISK_FREE = [str, pd.Series, None]


def half_window(window, min_periods, name="window"):
    """``min_periods``, by default half the window rounded up; at most the window."""
    if min_periods is None:
        return -(-int(window) // 2)
    if min_periods > window:
        raise ValueError(
            f"`min_periods` must be at most `{name}` ({window}); got {min_periods}."
        )
    return int(min_periods)


class Descriptor(PanelTransformer):
    """Base of the descriptors: named input fields in, named descriptor columns out.

    A subclass sets ``_outputs`` (its column names; ``_output_names()`` when
    they depend on the parameters) and defines ``_describe(panel, fields)``,
    which returns the (n_rows, n_outputs) values in the caller's row order
    from the fields' row arrays (with a ``risk_free`` parameter,
    ``fields["risk_free"]``: per row, or the scalar 0.0 without one).
    ``_fields`` (field -> the column it names) defaults to the ``returns``
    column; ``_param_of(field)`` is the parameter that names it (the field
    itself by default). ``_check_params`` checks ``window``, ``halflife`` and
    ``min_periods`` together.

    Only the named columns are cut from ``X`` before it is validated, so the
    other columns of a wide panel cost nothing (and are not read). A
    time-series descriptor needs a (date, asset) panel; one with
    ``_panel_only = False`` (row by row, or per date) also takes one
    cross-section (a single-level DataFrame or an array, columns by position).

    What :class:`~skfactor.panel._transformer.PanelTransformer` could
    absorb: input columns named by parameters (other columns not read) and
    output columns other than the input's.
    """

    _verb = "compute a descriptor from"
    _segment_by = "asset"
    _outputs: tuple = ()
    _panel_only = True

    # ------------------------------------------------------------ the fields
    def _fields(self):
        return {"returns": self.returns}

    def _param_of(self, field):
        return field

    def _all_fields(self):
        fields = dict(self._fields())
        if isinstance(getattr(self, "risk_free", None), str):
            fields["risk_free"] = self.risk_free
        return fields

    def _output_names(self):
        return list(self._outputs)

    def _selected(self, X):
        """``X`` cut to the fields' columns (a polars frame keeps its keys)."""
        self._validate_params()  # the column parameters, before they are read
        check_not_dask(X)
        name = type(self).__name__
        if isinstance(X, pd.Series):
            X = X.to_frame()
        polars = is_polars_frame(X)
        keys = key_columns(list(X.columns)) if polars else None
        if keys is not None:
            have = [c for c in X.columns if c not in keys]
        elif isinstance(X, pd.DataFrame) and (
            isinstance(X.index, pd.MultiIndex) or not self._panel_only
        ):
            have = list(X.columns)
        elif not self._panel_only and (polars or np.ndim(X) == 2):
            have = list(X.columns) if polars else None
        else:
            raise TypeError(
                f"{name} needs a long (date, asset) panel: a DataFrame with a "
                "(date, asset) MultiIndex, or a polars frame with date and asset "
                f"columns; got {type(X).__name__}"
                + (" without them" if polars else "")
                + ". Its values at a date come from that asset's earlier dates, "
                "which one cross-section does not have. Index it first, e.g. "
                "`X.set_index(['date', 'asset'])`."
            )
        n_columns = len(have) if have is not None else np.shape(X)[1]
        positions = {}
        fields = self._all_fields()
        for field, column in fields.items():
            if have is not None and column in have:
                positions[field] = have.index(column)
            elif isinstance(column, numbers.Integral) and 0 <= column < n_columns:
                positions[field] = int(column)
            else:
                param = self._param_of(field)
                listed = have if have is not None else f"0..{n_columns - 1}"
                raise ValueError(
                    f"`{param}`={column!r} is not a column of X; name the "
                    f"{param} column with `{name}({param}=...)`. X has columns "
                    f"{listed}."
                )
        # One column per distinct parameter value, in the order of
        # :meth:`_cut_positions` (which ``_transform`` reads, so nothing of
        # this call is stored on the estimator).
        taken, seen = [], set()
        for field, column in fields.items():
            if column in seen:
                continue
            if positions[field] in taken:
                other = next(f for f in fields if positions[f] == positions[field])
                raise ValueError(
                    f"`{self._param_of(field)}`={column!r} and "
                    f"`{self._param_of(other)}`={fields[other]!r} name the same "
                    f"column of X; name it the same way in both."
                )
            seen.add(column)
            taken.append(positions[field])
        if keys is not None:
            return X.select([*keys, *(have[p] for p in taken)])
        if polars:
            return X.select([have[p] for p in taken])
        if isinstance(X, pd.DataFrame):
            return X.iloc[:, taken]
        return np.asarray(X)[:, taken]

    def _cut_positions(self):
        """Each field's column in the frame :meth:`_selected` cuts from ``X``."""
        fields = self._all_fields()
        distinct = list(dict.fromkeys(fields.values()))
        return {field: distinct.index(column) for field, column in fields.items()}

    def _check_params(self):
        """Checks across parameters (``_parameter_constraints`` checks each one)."""
        params = self.get_params(deep=False)
        if "window" in params:
            half_window(self.window, self.min_periods)
            check_decay(self.window, self.halflife)

    # ------------------------------------------------------------ the kernel
    def _describe(self, panel, fields):
        raise NotImplementedError

    def _fit(self, panel, roles, y):
        self._check_params()
        if self._kernel_checks_duplicates:  # no kernel runs in ``fit``
            check_one_row_per_cell(panel)

    def _fit_transform(self, panel, roles, y):
        if self._kernel_checks_duplicates:  # the kernel checks what _fit would
            return self._transform(panel, roles)
        return super()._fit_transform(panel, roles, y)

    def _transform(self, panel, roles):
        self._check_params()  # ``transform`` may come without ``fit``
        rows = {
            field: panel.values[:, position]
            for field, position in self._cut_positions().items()
        }
        if "risk_free" in self.get_params(deep=False):
            rows["risk_free"] = self._risk_free(panel, rows.get("risk_free"))
        return self._describe(panel, rows)

    def _risk_free(self, panel, column):
        """The risk-free rate on each row: its column, its Series by date, or 0."""
        risk_free = getattr(self, "risk_free", None)
        if column is not None:
            return column
        if risk_free is None:
            return 0.0  # a scalar: no row-length array of zeros
        return per_date(risk_free, panel, "risk_free")

    def _result(self, panel, roles, values):
        return self._output(panel, values, columns=pd.Index(self._output_names()))

    # ------------------------------------------------------- the public API
    def fit(self, X: MatrixLike, y: TargetLike | None = None) -> Descriptor:
        """Check ``X`` and the parameters (a descriptor learns nothing).

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_columns)
            A long (date, asset) panel holding the input columns (others
            are not read).
        y : None
            Ignored.

        Returns
        -------
        self : estimator instance
        """
        return super().fit(self._selected(X), y)

    def fit_transform(self, X: MatrixLike, y: TargetLike | None = None) -> FrameOut:
        """The descriptor columns of ``X``, as :meth:`transform`."""
        return super().fit_transform(self._selected(X), y)

    def transform(self, X: MatrixLike) -> FrameOut:
        """Compute the descriptor columns of ``X``.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_columns)
            A long (date, asset) panel holding the input columns, rows in any
            order (other columns are not read).

        Returns
        -------
        X_new : DataFrame of shape (n_rows, n_outputs)
            The descriptor columns on ``X``'s index, in ``X``'s row order (a
            polars frame for a polars ``X`` or ``set_output(transform="polars")``).
        """
        return super().transform(self._selected(X))

    def get_feature_names_out(
        self, input_features: ArrayLike | None = None
    ) -> np.ndarray:
        """The descriptor columns' names (``input_features`` is ignored)."""
        return np.asarray(self._output_names(), dtype=object)


def per_date(series, panel, name):
    """A Series indexed by date as one value per row of ``panel``.

    Every date of the panel must be in the Series' index (NaN is allowed: a
    missing value); a missing date is an error, not a silent NaN.
    """
    return date_values(series, panel, name)[panel.date_codes]


def date_values(series, panel, name):
    """:func:`per_date`'s values, one per date of ``panel`` (its ``dates``)."""
    if not isinstance(series, pd.Series) or isinstance(series.index, pd.MultiIndex):
        raise ValueError(
            f"`{name}` must be a Series indexed by date (or a column name); got "
            f"{type(series).__name__}"
            + (" with a MultiIndex" if isinstance(series, pd.Series) else "")
            + "."
        )
    if not series.index.is_unique:
        raise ValueError(
            f"`{name}` has duplicated dates in its index; give one value per date."
        )
    position = series.index.get_indexer(panel.dates)
    if (position < 0).any():
        missing = panel.dates[position < 0][:3].tolist()
        raise ValueError(
            f"`{name}` has no value for {int((position < 0).sum())} of the panel's "
            f"dates, e.g. {missing}; give one value per date of X (NaN where it "
            f"is missing), e.g. `{name}.reindex(dates)`."
        )
    by_date = series.to_numpy(dtype=np.float64, na_value=np.nan)[position]
    if np.isinf(by_date).any():
        raise ValueError(f"`{name}` contains inf or -inf; use NaN for a missing value.")
    return by_date


def log_excess(returns, risk_free, name):
    """``ln(1 + r) - ln(1 + r_f)``; an error for a return at or below -1."""
    for values, what in ((returns, f"`{name}`"), (risk_free, "`risk_free`")):
        if np.nanmin(values, initial=0.0) <= -1.0:
            raise ValueError(
                f"{what} has values <= -1, whose log return ln(1 + r) is undefined; "
                "give simple returns as fractions (0.01 for 1%), above -1."
            )
    x = np.log1p(returns)
    if not (np.isscalar(risk_free) and risk_free == 0.0):
        x -= np.log1p(risk_free)  # in place: no second row-length temporary
    return x


def check_positive(values, param, column, strict=True):
    """Raise unless the non-NaN ``values`` are > 0 (>= 0 if not ``strict``)."""
    low = np.nanmin(values, initial=1.0)
    if low < 0 or (strict and low == 0):
        rule = "> 0" if strict else ">= 0"
        raise ValueError(
            f"`{param}` column {column!r} has values below {rule[2:]}"
            f"{' or equal to it' if strict else ''}; it must be {rule} "
            "(use NaN for a missing value)."
        )


def asset_codes(panel):
    """Each row's asset number (0 .. n_assets - 1, the assets that have rows)."""
    codes = np.asarray(panel.index.codes[1], dtype=np.intp)
    used = np.bincount(codes, minlength=len(panel.index.levels[1])) > 0
    if used.all():  # the usual case: no renumbering pass over the rows
        return codes, len(used)
    return (np.cumsum(used) - 1)[codes], int(used.sum())


def by_asset(panel, fields, kernel, n_outputs, assets=None):
    """Run ``kernel`` on (assets, dates) grids of the fields; its outputs per row.

    ``fields`` maps names to row arrays (caller's order); ``kernel(grids)``
    gets them as a dict of (n_dates, n_assets_block) grids, NaN where an
    asset has no row or a missing value, and returns ``n_outputs`` grids of
    that shape. The result, (n_rows, n_outputs), is in the caller's row order.
    ``assets`` is :func:`asset_codes` if the caller has it.

    The kernel runs on blocks of assets, so its temporaries stay a few MiB
    (a loop over blocks, not over assets). A sparse panel (many more
    (asset, date) cells than rows) puts its rows in block order and builds
    one block's grid at a time, so its memory stays a few blocks too.
    """
    codes, n_assets = asset_codes(panel) if assets is None else assets
    n_dates = len(panel.dates)
    blocks = _asset_blocks(n_assets, n_dates)
    if n_assets * n_dates <= _MAX_PADDING * len(codes):
        return _on_whole_grid(panel, fields, kernel, n_outputs, codes, blocks)
    step = blocks[0].stop
    # Put the rows in block order by a counting sort of their block number;
    # asset a on date d is cell d * size + a % step of block a // step.
    order = Segments(codes // step, len(blocks))
    codes, dates = order.sort(codes), order.sort(panel.date_codes)
    sorted_fields = {k: order.sort(v) for k, v in fields.items()}
    caller = np.arange(len(codes)) if order.order is None else order.order
    # (n_rows, n_outputs) in Fortran order: the output frame's columns.
    out = np.empty((len(codes), n_outputs), order="F")
    for b, span in enumerate(blocks):
        rows = slice(order.bounds[b], order.bounds[b + 1])
        size = span.stop - span.start
        cells = dates[rows] * size + (codes[rows] - span.start)
        shape = (n_dates, size)
        grids = {}
        for k, v in sorted_fields.items():
            grids[k] = np.full(shape, np.nan)
            grids[k].reshape(-1)[cells] = v[rows]
        for j, result in enumerate(kernel(grids)):
            flat = np.ascontiguousarray(result).reshape(-1)
            out[caller[rows], j] = flat[cells]  # straight to the caller's rows
    return out


def previous_date(panel, values, assets):
    """Each row's asset's value at the panel's previous date (NaN without a row).

    On a panel with few holes, straight from one (dates, assets) grid: each
    row reads the cell one date up, with no kernel pass and no output grid
    (2x faster than :func:`by_asset` with a shift, 3,000 assets x 2,520 dates).
    """
    codes, n_assets = assets
    n_dates = len(panel.dates)
    if n_assets * n_dates > _MAX_PADDING * len(codes):
        return by_asset(
            panel, {"v": values}, lambda g: [shift(g["v"], 1, np.nan)], 1, assets
        )[:, 0]
    # Row (d, a) reads cell (d - 1, a) of a grid with one NaN date on top.
    grid = np.full((n_dates + 1) * n_assets, np.nan)
    cells = panel.date_codes * n_assets + codes
    grid[cells + n_assets] = values
    return np.take(grid, cells, mode="clip")


def _on_whole_grid(panel, fields, kernel, n_outputs, codes, blocks):
    """:func:`by_asset` on a panel with few holes: one (dates, assets) grid.

    Each row goes to its cell, ``date * n_assets + asset``, and back with no
    sort of the rows: in a date-sorted panel the cells rise with the rows, so
    the scatter and the gather stream through memory. The kernel reads each
    block of assets as a column view of the grid and its outputs overwrite
    the inputs' cells of that block once they are read.
    """
    n_assets, n_dates = blocks[-1].stop, len(panel.dates)
    cells = panel.date_codes * n_assets
    cells += codes
    shape = (n_dates, n_assets)
    grids = {}
    for k, v in fields.items():
        grids[k] = np.full(shape, np.nan)
        grids[k].reshape(-1)[cells] = v
    # The outputs overwrite the inputs' grids, a block once it is read.
    results = list(grids.values())[:n_outputs]
    results += [np.empty(shape) for _ in range(n_outputs - len(results))]
    for span in blocks:
        outputs = kernel({k: g[:, span] for k, g in grids.items()})
        for grid, values in zip(results, outputs, strict=True):
            grid[:, span] = values
    del grids
    out = np.empty((len(cells), n_outputs), order="F")
    for j, grid in enumerate(results):
        # mode="clip": the cells are in range, and "raise" buffers ``out`` (40x)
        np.take(grid.reshape(-1), cells, out=out[:, j], mode="clip")
    return out


def _asset_blocks(n_assets, n_dates):
    step = max(1, _BLOCK_CELLS // max(n_dates, 1))
    return [slice(a, min(a + step, n_assets)) for a in range(0, n_assets, step)]


def scan_by_date(panel, rows, scan, fill, finish, n_outputs, lag=0, dates_only=None):
    """Window sums of terms over all assets, a chunk of dates at a time, per row.

    The path of the half-life weighted descriptors (:class:`WindowScan`). For
    each chunk of dates, ``fill(X, put)`` writes the terms into ``X`` of shape
    (n_chunk, n_terms, n_assets), ``put(j, name)`` placing the rows of field
    ``name`` (``rows``: field -> row array, caller's order) in term ``j``
    (NaN where an asset has no row), or a field of ``dates_only`` (field ->
    one value per date, the same for every asset: no rows to place);
    ``scan`` turns them into window sums
    and ``finish(X)`` writes the outputs into terms ``0 .. n_outputs - 1``.
    The output of date t goes to the rows of date ``t + lag``. Returns
    (n_rows, n_outputs) in the caller's row order.

    The rows go to the chunk and come back with no (dates, assets) grid of
    the whole panel: a date-sorted panel streams through memory once each
    way, and the chunk stays in the cache. A (date, asset) pair given twice
    (two rows on one cell) is the validator's error, found here at no cost.
    """
    dates_only = {} if dates_only is None else dates_only
    codes, n_assets = np.asarray(panel.index.codes[1]), len(panel.index.levels[1])
    if n_assets * len(panel.dates) > _MAX_PADDING * len(codes):
        # Many asset labels without rows (a subset of a panel): renumber the
        # assets that have rows, or the chunks would be mostly empty columns.
        codes, n_assets = asset_codes(panel)
    segments = panel.segments  # by date
    order, bounds = segments.order, segments.bounds
    if order is not None:
        codes = codes[order]
        rows = {k: v[order] for k, v in rows.items()}
    dates = segments.codes if order is None else segments.codes[order]
    n_dates, n_terms = len(bounds) - 1, len(scan.decays)
    width = n_terms * n_assets
    out = np.empty((len(codes), n_outputs), order="F")
    early = slice(0, bounds[min(lag, n_dates)])  # no date ``lag`` dates back
    out[early if order is None else order[early]] = np.nan
    buffer = np.empty((scan.chunk, n_terms, n_assets))
    taken = np.empty(scan.chunk * n_assets, dtype=bool)
    for first, stop in scan.chunks():
        X = buffer[: stop - first]
        flat = X.reshape(-1)
        span = slice(bounds[first], bounds[stop])
        date = dates[span] - first
        cell = date * n_assets
        cell += codes[span]
        _check_one_row_per_cell(taken[: X.shape[0] * n_assets], cell, panel)
        cells = date * width  # the row's cell in term 0 of ``X``
        cells += codes[span]

        def put(j, name, span=span, cells=cells, X=X, first=first):
            if name in dates_only:
                X[:, j] = dates_only[name][first : first + len(X), None]
                return
            X[:, j].fill(np.nan)
            X.reshape(-1)[j * n_assets :][cells] = rows[name][span]

        fill(X, put)
        finish(scan.step(X, first))
        # The outputs of dates first..stop - 1 go to the rows lag dates later.
        end = min(stop + lag, n_dates)
        if first + lag >= end:
            continue
        if lag:
            span = slice(bounds[first + lag], bounds[end])
            cells = (dates[span] - (first + lag)) * width + codes[span]
        for j in range(n_outputs):
            term = flat[j * n_assets :]
            if order is None:  # mode="clip": in range, and no buffered ``out``
                np.take(term, cells, out=out[span, j], mode="clip")
            else:
                out[order[span], j] = term[cells]
    return out


def _check_one_row_per_cell(taken, cells, panel):
    """Raise the validator's error if two rows land on one (date, asset) cell.

    O(rows) on a chunk in the cache, where ``MultiIndex.is_unique`` hashes
    every row of the panel (0.05 s on 3,000 assets x 2,520 dates).
    """
    taken.fill(False)
    taken[cells] = True
    if np.count_nonzero(taken) != len(cells):
        raise duplicated_rows_error(panel.index)


def check_one_row_per_cell(panel):
    """:func:`_check_one_row_per_cell` on the whole panel (``fit`` runs no kernel)."""
    codes, n_assets = asset_codes(panel)
    taken = np.empty(len(panel.dates) * n_assets, dtype=bool)
    _check_one_row_per_cell(taken, panel.date_codes * n_assets + codes, panel)


def window_scan(panel, window, decays):
    """A :class:`WindowScan` over ``panel``'s dates, chunks of ``_CHUNK_BYTES``."""
    n_assets = len(panel.index.levels[1])
    chunk = max(1, _CHUNK_BYTES // (8 * len(decays) * max(n_assets, 1)))
    return WindowScan(window, decays, len(panel.dates), chunk)


def present_terms(X, values, weights):
    """Mark the cells where every term of ``values`` holds a value (not NaN).

    Terms ``weights`` of ``X`` become 1 there and 0 elsewhere, and the
    ``values`` terms 0 elsewhere (a missing value weighs nothing).
    """
    present = X[:, values[0]] == X[:, values[0]]
    for j in values[1:]:
        present &= X[:, j] == X[:, j]
    for j in weights:
        np.copyto(X[:, j], present)
    missing = ~present
    for j in values:
        np.copyto(X[:, j], 0.0, where=missing)
