"""CombinatorialPurgedSplit: combinatorial purged cross-validation, by date."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np

from skfactor.model_selection._split import _check_int, _row_dates
from skfactor.utils._sklearn import BaseCrossValidator, GroupsConsumerMixin
from skfactor.utils._typing import ArrayLike, MatrixLike

__all__ = ["CombinatorialPurgedSplit"]


class CombinatorialPurgedSplit(GroupsConsumerMixin, BaseCrossValidator):
    r"""Combinatorial purged cross-validation (López de Prado), split by date.

    The sorted unique dates are cut into ``n_folds`` consecutive groups; each
    split tests ``n_test_folds`` of them and trains on the others, less
    ``purge`` dates on each side of each test block (labels that overlap the
    test period) and ``embargo`` more dates after it (serial correlation). Every
    row follows its date, so no date is ever cut. On the dates, the splits are
    skfolio's ``CombinatorialPurgedCV(n_folds, n_test_folds,
    purged_size=purge, embargo_size=embargo)``, with each split's test blocks
    joined into one test set.

    The dates of the rows come from, in this order: ``groups``; the date
    column of a polars DataFrame (named ``date`` or a usual synonym; a polars
    frame without one is refused); the first level of a (date, asset)
    MultiIndex (a long panel, any row order, unbalanced allowed); a
    DatetimeIndex or PeriodIndex (a wide frame); otherwise each row is one
    date, in row order (as :class:`PanelTimeSeriesSplit`).

    Parameters
    ----------
    n_folds : int, default=10
        Number of groups of consecutive dates, at least 2. With ``n_dates``
        dates the first ``n_folds - 1`` groups hold ``n_dates // n_folds``
        dates and the last one the rest.
    n_test_folds : int, default=2
        Groups tested in each split, in ``[1, n_folds)``.
    purge : int, default=0
        Training dates removed just before and just after each test block. Set
        it to the label horizon: with ``forward_returns(..., periods=h)`` the
        label of a date spans the next ``h`` dates (skfolio's
        ``purged_size``).
    embargo : int, default=0
        Further training dates removed after each test block (after the purge).

    See Also
    --------
    PanelTimeSeriesSplit : Walk-forward splits, one backtest path.

    Notes
    -----
    Split ``s`` (from 0) tests the ``s``-th combination of ``n_test_folds``
    groups among ``n_folds``, in lexicographic order (:meth:`get_test_folds`):
    there are :math:`\binom{N}{k}` splits (:meth:`get_n_splits`) and each date
    is tested in :math:`\binom{N-1}{k-1}` of them. Those test sets recombine
    into :math:`\binom{N-1}{k-1}` backtest paths (:meth:`get_n_paths`), each
    covering every date once: path ``p`` takes group ``f`` from the test set of
    split ``get_paths()[p, f]``, the ``p``-th split (in order) that tests
    group ``f``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfactor.model_selection import CombinatorialPurgedSplit
    >>> cv = CombinatorialPurgedSplit(n_folds=3, n_test_folds=2, purge=1)
    >>> for train, test in cv.split(np.zeros((12, 1))):
    ...     print(train, test)
    [ 9 10 11] [0 1 2 3 4 5 6 7]
    [5 6] [ 0  1  2  3  8  9 10 11]
    [0 1 2] [ 4  5  6  7  8  9 10 11]
    >>> cv.get_n_paths(), cv.get_paths().tolist()
    (2, [[0, 0, 1], [1, 2, 2]])
    """

    def __init__(
        self,
        n_folds: int = 10,
        n_test_folds: int = 2,
        *,
        purge: int = 0,
        embargo: int = 0,
    ) -> None:
        self.n_folds = n_folds
        self.n_test_folds = n_test_folds
        self.purge = purge
        self.embargo = embargo

    def _check_params(self):
        _check_int(self.n_folds, "n_folds", 2)
        _check_int(self.n_test_folds, "n_test_folds", 1)
        if self.n_test_folds >= self.n_folds:
            raise ValueError(
                f"`n_test_folds` must be below `n_folds`={self.n_folds} (some "
                f"groups must remain to train on); got {self.n_test_folds}."
            )
        _check_int(self.purge, "purge", 0)
        _check_int(self.embargo, "embargo", 0)

    def get_n_splits(
        self, X: object = None, y: object = None, groups: object = None
    ) -> int:
        """Number of splits, ``comb(n_folds, n_test_folds)``.

        Parameters
        ----------
        X, y, groups : object
            Ignored, exist for API compatibility.

        Returns
        -------
        n_splits : int
        """
        self._check_params()
        return math.comb(self.n_folds, self.n_test_folds)

    def get_n_paths(self) -> int:
        """Number of backtest paths, ``comb(n_folds - 1, n_test_folds - 1)``.

        Returns
        -------
        n_paths : int
        """
        self._check_params()
        return math.comb(self.n_folds - 1, self.n_test_folds - 1)

    def get_test_folds(self) -> np.ndarray:
        """Groups tested by each split, lexicographic combinations.

        Returns
        -------
        ndarray of int, shape (n_splits, n_test_folds)
        """
        self._check_params()
        combos = itertools.combinations(range(self.n_folds), self.n_test_folds)
        return np.array(list(combos), dtype=np.intp)

    def get_paths(self) -> np.ndarray:
        """Which split's test set supplies each group of each backtest path.

        Returns
        -------
        ndarray of int, shape (n_paths, n_folds)
            Entry ``[p, f]`` is the split whose predictions on group ``f``
            make up path ``p``; a path read along ``f`` covers every date once.
        """
        folds = self.get_test_folds()
        tested = np.zeros((len(folds), self.n_folds), dtype=bool)
        tested[np.arange(len(folds))[:, None], folds] = True
        # Column f lists the splits testing group f, in order: one per path.
        return np.nonzero(tested.T)[1].reshape(self.n_folds, -1).T

    def _test_dates(self, n_dates):
        """Bool (n_splits, n_dates): the test dates of each split."""
        size = n_dates // self.n_folds
        if size < 1:
            raise ValueError(
                f"`n_folds`={self.n_folds} needs at least {self.n_folds} dates; the "
                f"data has {n_dates}. Lower `n_folds` or give more dates."
            )
        group = np.minimum(np.arange(n_dates) // size, self.n_folds - 1)
        folds = self.get_test_folds()
        return (group[None, :, None] == folds[:, None, :]).any(axis=2)

    def _train_dates(self, test):
        """Bool (n_splits, n_dates): not tested, purged or embargoed."""
        train = ~test
        for lag in range(1, self.purge + 1):  # dates just before a test block
            train[:, :-lag] &= ~test[:, lag:]
        for lag in range(1, self.purge + self.embargo + 1):  # just after
            train[:, lag:] &= ~test[:, :-lag]
        empty = np.flatnonzero(~train.any(axis=1))
        if len(empty):
            raise ValueError(
                f"Split {empty[0]} has no training date left after `purge`="
                f"{self.purge} and `embargo`={self.embargo} (groups of "
                f"{test.shape[1] // self.n_folds} dates). Lower them, or "
                "`n_test_folds`, or give more dates."
            )
        return train

    def split(
        self, X: MatrixLike, y: object = None, groups: ArrayLike | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Generate positional indices of the training and test rows.

        Parameters
        ----------
        X : DataFrame, Series or array-like of shape (n_rows, ...)
            A long panel with a (date, asset) MultiIndex, a polars frame with
            a date column, a wide frame with a DatetimeIndex, or an array
            whose rows are dates (see ``groups``).
        y : object
            Ignored, exists for API compatibility.
        groups : array-like of shape (n_rows,), default=None
            The date of each row, for an ``X`` that does not carry its dates.

        Yields
        ------
        train : ndarray of int
            Sorted positions of the training rows of that split.
        test : ndarray of int
            Sorted positions of the test rows (all its test blocks).
        """
        self._check_params()
        codes, n_dates = _row_dates(X, groups)
        test = self._test_dates(n_dates)
        train = self._train_dates(test)
        for train_dates, test_dates in zip(train, test, strict=True):
            yield np.flatnonzero(train_dates[codes]), np.flatnonzero(test_dates[codes])
