"""skfactor.risk forecasting: USE4 adjustments, specific risk, forecast evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator
from sklearn.covariance import OAS, LedoitWolf
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfactor import TimeSeriesFactorModel
from skfactor.risk import (
    FactorCovariance,
    FactorRiskModel,
    bias_statistic,
    evaluate_risk_forecast,
    evaluate_volatility_forecast,
    factor_covariance,
    return_attribution,
    specific_variance,
)
from skfactor.risk._adjustments import regime_multiplier, variance_path
from tests.conftest import shuffled


def regime_factors(seed=1, n=300, k=5):
    """Factor returns whose volatility rises by 80 % for the last third."""
    rng = np.random.default_rng(seed)
    scale = np.r_[np.ones(n - n // 3), 1.8 * np.ones(n // 3)][:, None]
    return rng.normal(0, 0.01, (n, k)) * scale


# --------------------------------------------------------------- covariance
@pytest.mark.parametrize("halflife", [None, 7.0])
@pytest.mark.parametrize("lags", [0, 2])
@pytest.mark.parametrize("centered", [False, True])
def test_variance_path_equals_factor_covariance_on_every_prefix(
    halflife, lags, centered
):
    rng = np.random.default_rng(0)
    F = rng.normal(0.01, 0.02, (40, 3))
    F[17] = np.nan  # an incomplete date still ages the older ones
    path = variance_path(F, halflife, lags, centered)
    for t in range(4, 40):
        expected = factor_covariance(
            pd.DataFrame(F[: t + 1]),
            halflife=halflife,
            lags=lags,
            assume_centered=centered,
        )
        assert_allclose(path[t], np.diag(expected), rtol=1e-12)


def test_factor_covariance_assume_centered_is_sklearn_empirical():
    from sklearn.covariance import EmpiricalCovariance

    F = pd.DataFrame(regime_factors(n=50, k=3))
    expected = EmpiricalCovariance(assume_centered=True).fit(F).covariance_
    assert_allclose(factor_covariance(F, assume_centered=True), expected, rtol=1e-12)


def test_factor_covariance_volatilities_and_correlations_apart():
    F = pd.DataFrame(regime_factors(n=200, k=4))
    vol_part = factor_covariance(F, halflife=20, lags=2).to_numpy()
    corr_part = factor_covariance(F, halflife=80, lags=1).to_numpy()
    split = factor_covariance(F, halflife=20, lags=2, corr_halflife=80, corr_lags=1)
    vol = np.sqrt(np.diag(vol_part))
    corr = corr_part / np.sqrt(np.outer(np.diag(corr_part), np.diag(corr_part)))
    assert_allclose(split, corr * np.outer(vol, vol), rtol=1e-12)
    # the same half-life and lags for both: the plain estimate, exactly
    same = factor_covariance(F, halflife=20, lags=2, corr_halflife=20, corr_lags=2)
    assert_array_equal(same, factor_covariance(F, halflife=20, lags=2))
    inf = factor_covariance(F, halflife=np.inf)
    assert_array_equal(inf, factor_covariance(F))


@pytest.mark.parametrize(
    "params",
    [{}, {"halflife": 30, "lags": 2}, {"halflife": 30, "corr_halflife": 90}],
)
def test_factor_covariance_estimator_adjustments_off_equal_plain_exactly(params):
    F = pd.DataFrame(regime_factors())
    plain = factor_covariance(F, **params).to_numpy()
    for off in (
        {},
        {"eigen_scale": None},
        {"eigen_scale": 0},
        {"regime_halflife": None},
    ):
        est = FactorCovariance(**params, **off).fit(F)
        assert_array_equal(est.covariance_, plain)
        assert est.regime_multiplier_ == 1.0 and est.eigen_bias_ is None


def test_factor_covariance_estimator_regime_equals_skfolio():
    import skfolio.moments as skfolio  # the test extra pins skfolio >= 1.12

    F = regime_factors()
    F[-15:] *= 2.0  # a fresh shock the volatility forecast has not caught up with

    def reference(half_life, corr_half_life):
        return skfolio.RegimeAdjustedEWCovariance(
            half_life=half_life,
            corr_half_life=corr_half_life,
            regime_half_life=10,
            regime_target=skfolio.RegimeAdjustmentTarget.DIAGONAL,
            regime_method=skfolio.RegimeAdjustmentMethod.RMS,
            regime_multiplier_clip=None,
            min_observations=half_life,
            regime_min_observations=1,
            assume_centered=True,
            nearest=False,
        ).fit(F)

    ours = FactorCovariance(halflife=20, assume_centered=True, regime_halflife=10)
    ours.fit(F)
    ref = reference(20, None)
    assert ours.regime_multiplier_ > 1.2  # the regime change is seen
    assert_allclose(ours.regime_multiplier_, ref.regime_multiplier_, rtol=1e-12)
    assert_allclose(ours.covariance_, ref.covariance_, rtol=1e-12)
    # Separate correlation half-life: skfolio's correlations are a DCC-style
    # recursion (not ours), but the regime multiplier is the same.
    ours.set_params(corr_halflife=60).fit(F)
    ref = reference(20, 60)
    assert_allclose(ours.regime_multiplier_, ref.regime_multiplier_, rtol=1e-12)


def test_regime_multiplier_equals_a_loop():
    F = regime_factors(n=120, k=3)
    F[50, 1] = np.nan
    path = variance_path(F, 15.0, 0, False)
    lam, b2 = regime_multiplier(F, path, 8.0, None, warmup=15)
    stats, dates = [], []
    for t in range(1, len(F)):
        ok = ~np.isnan(F[t]) & (np.sum(~np.isnan(F[:t]), axis=0) >= 15)
        if ok.any():
            stats.append(np.mean(F[t, ok] ** 2 / path[t - 1, ok]))
            dates.append(t)
    state, d = stats[0], 0.5 ** (1 / 8.0)
    for s, step in zip(stats[1:], np.diff(dates), strict=True):
        state = d**step * state + (1 - d**step) * s
    assert_allclose(b2[dates], stats, rtol=1e-12)
    assert_allclose(lam, np.sqrt(state), rtol=1e-12)


def _eigen_ratios(seed, scale):
    """Forecast over true volatility of the sample's eigen-portfolios."""
    rng = np.random.default_rng(seed)
    true = np.diag(np.geomspace(1e-4, 4e-3, 12))
    F = rng.multivariate_normal(np.zeros(12), true, size=48)
    est = FactorCovariance(eigen_scale=scale, n_simulations=200, random_state=seed)
    cov = est.fit(F).covariance_
    _, vec = np.linalg.eigh(np.cov(F.T))
    forecast = np.einsum("ki,kl,li->i", vec, cov, vec)
    actual = np.einsum("ki,kl,li->i", vec, true, vec)
    return np.sqrt(forecast / actual), est


def test_factor_covariance_eigen_adjustment_moves_the_smallest_towards_one():
    plain = np.mean([_eigen_ratios(seed, None)[0] for seed in range(4)], axis=0)
    adjusted = np.mean([_eigen_ratios(seed, 1.4)[0] for seed in range(4)], axis=0)
    # the smallest eigen-portfolio's risk is underestimated (bias stat > 1) ...
    assert plain[0] < 0.8
    # ... and the adjustment moves its forecast towards the truth
    assert abs(adjusted[0] - 1) < 0.5 * abs(plain[0] - 1)
    _, est = _eigen_ratios(0, 1.4)
    assert est.eigen_bias_[0] > 1.1 and est.eigen_bias_[0] > est.eigen_bias_[-1]


def test_factor_covariance_eigen_adjustment_is_seeded():
    F = regime_factors(n=100, k=6)
    one = FactorCovariance(halflife=40, eigen_scale=1.2, n_simulations=50)
    again = FactorCovariance(halflife=40, eigen_scale=1.2, n_simulations=50)
    other = FactorCovariance(
        halflife=40, eigen_scale=1.2, n_simulations=50, random_state=1
    )
    assert_array_equal(one.fit(F).covariance_, again.fit(F).covariance_)
    assert not np.array_equal(one.covariance_, other.fit(F).covariance_)


def test_factor_covariance_eigen_adjustment_needs_more_dates_than_factors():
    F = regime_factors(n=5, k=6)
    with pytest.raises(ValueError, match="eigen_scale=None"):
        FactorCovariance(eigen_scale=1.2, n_simulations=5).fit(F)


@parametrize_with_checks(
    [
        FactorCovariance(),
        FactorCovariance(
            halflife=10, regime_halflife=5, eigen_scale=1.2, n_simulations=5
        ),
    ]
)
def test_factor_covariance_sklearn_compatible(estimator, check):
    check(estimator)


def test_factor_covariance_score_equals_sklearn_empirical_covariance():
    from sklearn.covariance import EmpiricalCovariance

    F = pd.DataFrame(regime_factors(n=120, k=4), columns=list("abcd"))
    train, test = F.iloc[:80], F.iloc[80:]
    # assume_centered=True is the plain (maximum-likelihood) sample covariance
    est = FactorCovariance(assume_centered=True).fit(train)
    ref = EmpiricalCovariance(assume_centered=True).fit(train)
    assert_allclose(est.score(train), ref.score(train), rtol=1e-12)
    assert_allclose(est.score(test), ref.score(test), rtol=1e-12)
    assert_allclose(est.get_precision(), ref.get_precision(), rtol=1e-9)
    assert_allclose(est.mahalanobis(test), ref.mahalanobis(test), rtol=1e-9)


@pytest.mark.parametrize(
    "params", [{}, {"halflife": 20, "lags": 2}, {"halflife": 30, "regime_halflife": 10}]
)
def test_factor_covariance_score_is_the_gaussian_log_likelihood(params):
    from sklearn.covariance import EmpiricalCovariance

    F = regime_factors(n=150, k=3)
    est = FactorCovariance(**params).fit(F[:100])
    ref = EmpiricalCovariance(store_precision=False).fit(F[:100])
    ref.covariance_, ref.location_ = est.covariance_, est.location_  # the same model
    assert_allclose(est.score(F[100:]), ref.score(F[100:]), rtol=1e-12)
    # the formula, one date at a time: the mean of the N(mu, Sigma) log-densities
    from scipy.stats import multivariate_normal

    dens = multivariate_normal(est.location_, est.covariance_).logpdf(F[100:])
    assert_allclose(est.score(F[100:]), dens.mean(), rtol=1e-10)


def test_factor_covariance_score_drops_dates_with_a_missing_factor():
    F = regime_factors(n=100, k=3)
    est = FactorCovariance(halflife=30).fit(F[:70])
    test = F[70:].copy()
    test[[3, 11], 1] = np.nan
    before = test.copy()
    complete = np.delete(test, [3, 11], axis=0)
    assert_allclose(est.score(test), est.score(complete), rtol=1e-12)
    assert_array_equal(test, before)  # the input is not mutated
    assert np.isnan(est.mahalanobis(test)[[3, 11]]).all()
    test[:, 0] = np.nan
    with pytest.raises(ValueError, match="`X_test` has no date on which every"):
        est.score(test)


def test_factor_covariance_score_of_a_singular_covariance_is_minus_inf():
    F = regime_factors(n=60, k=2)
    F = np.c_[F, F[:, 0]]  # a factor repeated: no density, as in scikit-learn
    assert FactorCovariance().fit(F).score(F) == -np.inf


def test_factor_covariance_score_refuses_other_factor_names():
    F = pd.DataFrame(regime_factors(n=60, k=3), columns=["MKT", "SMB", "HML"])
    est = FactorCovariance().fit(F)
    with pytest.raises(ValueError, match="feature names"):
        est.score(F.rename(columns={"HML": "UMD"}))
    with pytest.raises(ValueError, match="3 features"):
        FactorCovariance().fit(F.to_numpy()).score(F.iloc[:, :2].to_numpy())


def test_factor_covariance_grid_search_picks_a_halflife_by_date(french):
    from sklearn.model_selection import GridSearchCV

    from skfactor.model_selection import PanelTimeSeriesSplit

    F, _ = french
    search = GridSearchCV(
        FactorCovariance(),
        {"halflife": [6.0, 24.0, 96.0, None]},
        cv=PanelTimeSeriesSplit(n_splits=5, gap=0),
    ).fit(F)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    assert search.best_params_["halflife"] in (6.0, 24.0, 96.0, None)
    assert search.best_estimator_.covariance_.shape == (F.shape[1],) * 2
    # each split's score is the held-out log-likelihood of a fit on the past
    split = PanelTimeSeriesSplit(n_splits=5, gap=0)
    train, test = list(split.split(F))[0]
    est = FactorCovariance(halflife=24.0).fit(F.iloc[train])
    assert_allclose(search.cv_results_["split0_test_score"][1], est.score(F.iloc[test]))


# ------------------------------------------------------------- specific risk
@pytest.fixture(scope="module")
def residuals():
    rng = np.random.default_rng(5)
    vol = np.geomspace(0.02, 0.1, 30)
    E = pd.DataFrame(
        rng.normal(0, 1, (120, 30)) * vol, columns=[f"a{i}" for i in range(30)]
    )
    E.iloc[:110, :3] = np.nan  # three short histories
    cap = pd.Series(np.geomspace(1e8, 1e11, 30)[::-1], index=E.columns)
    return E, cap


def test_specific_variance_refinements_off_equal_plain_exactly(residuals):
    E, cap = residuals
    plain, n = specific_variance(E, halflife=40)
    for off in (
        {"shrinkage": 0.0},
        {"shrinkage": 0.0, "market_cap": cap},
        {"regime_halflife": None},
    ):
        var, n2 = specific_variance(E, halflife=40, **off)
        assert_array_equal(var, plain)
        assert_array_equal(n2, n)


def test_specific_variance_bayesian_shrinkage_equals_a_loop(residuals):
    E, cap = residuals
    raw = np.sqrt(specific_variance(E, halflife=40)[0])
    shrunk = np.sqrt(
        specific_variance(E, halflife=40, shrinkage=0.1, market_cap=cap)[0]
    )
    decile = (cap.rank(method="first").astype(int) - 1) * 10 // len(cap)
    for _, members in raw.groupby(decile):
        c = cap[members.index]
        mean = (c * members).sum() / c.sum()
        spread = np.sqrt(((members - mean) ** 2).mean())
        v = 0.1 * (members - mean).abs() / (spread + 0.1 * (members - mean).abs())
        assert_allclose(shrunk[members.index], v * mean + (1 - v) * members)
    assert (shrunk - raw).abs().max() > 0
    with pytest.raises(ValueError, match="market_cap"):
        specific_variance(E, shrinkage=0.1)


def test_specific_variance_structural_estimate_for_short_histories():
    rng = np.random.default_rng(2)
    n_assets = 40
    X = pd.DataFrame(
        {"beta": rng.uniform(0.5, 1.5, n_assets), "size": rng.normal(0, 1, n_assets)},
        index=[f"a{i}" for i in range(n_assets)],
    )
    log_vol = -3.0 + 0.5 * X["beta"] - 0.3 * X["size"]
    # specific returns whose sample volatility is exactly exp(log_vol)
    z = rng.normal(0, 1, (200, n_assets))
    z = (z - z.mean(0)) / z.std(0, ddof=1)
    E = pd.DataFrame(z * np.exp(log_vol.to_numpy()), columns=X.index)
    E.iloc[:, :4] = np.nan  # four assets with no history at all
    var, _ = specific_variance(E, exposures=X)
    assert_allclose(np.sqrt(var[:4]), np.exp(log_vol[:4]), rtol=1e-10)
    median, _ = specific_variance(E)
    assert_allclose(median[4:], var[4:])  # full histories untouched


def test_specific_variance_regime_adjustment_scales_up_after_a_shock(residuals):
    E, cap = residuals
    shocked = E.copy()
    shocked.iloc[-20:] *= 2.0
    base, _ = specific_variance(shocked, halflife=60)
    var, _ = specific_variance(shocked, halflife=60, regime_halflife=10, market_cap=cap)
    ratio = var / base
    assert_allclose(ratio, ratio.iloc[0])  # one multiplier for every asset
    assert ratio.iloc[0] > 1.5


# ----------------------------------------------------------------- evaluation
def test_bias_statistic_is_std_of_standardized_returns_where_both_exist():
    rng = np.random.default_rng(0)
    r = pd.DataFrame(rng.normal(0, 1, (50, 2)), columns=["a", "b"])
    s = pd.DataFrame(rng.uniform(0.5, 2, (50, 2)), columns=["b", "a"])
    r.iloc[3, 0] = np.nan
    s.iloc[7, 1] = np.nan  # "a"'s forecast on date 7
    out = bias_statistic(r, s)
    z = (r["a"] / s["a"]).drop([3, 7])
    assert_allclose(out["a"], np.std(z, ddof=1), rtol=1e-14)
    assert_allclose(out["b"], np.std(r["b"] / s["b"], ddof=1), rtol=1e-14)
    assert isinstance(bias_statistic(r["a"], s["a"]), float)


def test_bias_statistic_of_two_series_ignores_their_names():
    rng = np.random.default_rng(1)
    r = pd.Series(rng.normal(0, 0.02, 60), name="portfolio_return")
    s = pd.Series(rng.uniform(0.01, 0.03, 60), name="forecast_vol")
    expected = np.std(r / s, ddof=1)
    assert_allclose(bias_statistic(r, s), expected, rtol=1e-14)
    assert_allclose(bias_statistic(r.rename(None), s), expected, rtol=1e-14)
    table = evaluate_volatility_forecast(r, s).table
    assert table.index.tolist() == ["portfolio_return"]
    assert_allclose(table["bias"].iloc[0], expected, rtol=1e-14)


def test_bias_statistic_of_a_correct_forecast_lies_in_its_band_for_95_percent():
    n_dates, hits = 250, 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        vol = 0.01 * np.exp(np.cumsum(rng.normal(0, 0.05, n_dates)))  # known, moving
        r = pd.Series(rng.normal(0, 1, n_dates) * vol)
        b = bias_statistic(r, pd.Series(vol))
        hits += abs(b - 1) <= 2 * np.sqrt(2 / n_dates)
    assert hits >= 0.95 * 200


class KnownCovariance(BaseEstimator):
    """A forecast that knows the truth: the covariance of the simulation."""

    def __init__(self, covariance=None):
        self.covariance = covariance

    def fit(self, X, y=None):
        self.covariance_ = np.asarray(self.covariance)
        return self


def test_evaluate_risk_forecast_correct_forecast_within_band():
    rng = np.random.default_rng(0)
    A = rng.normal(0, 0.01, (4, 4))
    true = A @ A.T + 1e-4 * np.eye(4)
    n_dates, hits, n_seeds = 260, 0, 40
    for seed in range(n_seeds):
        F = pd.DataFrame(
            np.random.default_rng(seed).multivariate_normal(np.zeros(4), true, n_dates)
        )
        ev = evaluate_risk_forecast(
            F, KnownCovariance(true), min_dates=10, n_random=6, random_state=seed
        )
        table = ev.table
        band = 2 * np.sqrt(2 / table["n_dates"])
        hits += ((table["bias"] - 1).abs() <= band).mean()
    assert hits / n_seeds >= 0.95


def test_evaluate_risk_forecast_is_out_of_sample():
    F = pd.DataFrame(regime_factors(n=120, k=3), columns=["a", "b", "c"])
    est = FactorCovariance(halflife=20)
    ev = evaluate_risk_forecast(F, est, min_dates=30, step=5)
    changed = F.copy()
    changed.iloc[80:] *= 3.0  # the future changes; forecasts up to date 80 do not
    ev2 = evaluate_risk_forecast(changed, est, min_dates=30, step=5)
    assert_array_equal(
        ev.forecast_volatility.iloc[:81], ev2.forecast_volatility.iloc[:81]
    )
    assert ev.forecast_volatility.iloc[:30].isna().all().all()
    # the forecast for date t is the estimator fitted on the dates before t ...
    for t in (30, 33, 35, 119):
        fit_end = 30 + (t - 30) // 5 * 5
        cov = FactorCovariance(halflife=20).fit(F.iloc[:fit_end]).covariance_
        assert_allclose(ev.forecast_volatility.iloc[t], np.sqrt(np.diag(cov)))
    assert_allclose(ev.returns, F)


def test_evaluation_table_matches_its_definitions():
    rng = np.random.default_rng(3)
    r = pd.DataFrame(rng.standard_t(4, (300, 2)) * 0.01, columns=["a", "b"])
    s = pd.DataFrame(0.012, index=r.index, columns=r.columns)
    s.iloc[:10] = np.nan
    ev = evaluate_volatility_forecast(r, s, window=24, clip=2.5)
    t = ev.table.loc["a"]
    z = (r["a"] / s["a"]).dropna()
    assert t["n_dates"] == 290
    assert_allclose(t["bias"], z.std(ddof=1))
    assert_allclose(t["upper"] - 1, np.sqrt(2 / 290))
    assert_allclose(t["robust_bias"], z.clip(-2.5, 2.5).std(ddof=1))
    rolling = [z.iloc[i - 24 : i].std(ddof=1) for i in range(24, len(z) + 1)]
    assert_allclose(t["mrad"], np.mean(np.abs(np.array(rolling) - 1)))
    qlike = np.log(0.012**2) + r["a"].iloc[10:] ** 2 / 0.012**2
    assert_allclose(t["qlike"], qlike.mean())
    assert ev.summary["n_portfolios"] == 2


def test_evaluation_refuses_bad_inputs():
    r = pd.DataFrame(np.ones((20, 2)), columns=["a", "b"])
    with pytest.raises(ValueError, match="`window` must be an integer >= 2"):
        evaluate_volatility_forecast(r, r, window=1)
    with pytest.raises(ValueError, match="forecast_volatility` must be > 0"):
        bias_statistic(r, -r)
    with pytest.raises(ValueError, match="`min_dates`"):
        evaluate_risk_forecast(r, LedoitWolf(), min_dates=20)
    with pytest.raises(ValueError, match="not in `returns`"):
        evaluate_risk_forecast(r, LedoitWolf(), pd.DataFrame({"z": [1.0]}))


# ------------------------------------------------- plugging into the risk model
@pytest.fixture(scope="module")
def ts_model(french):
    F, R = french
    return TimeSeriesFactorModel().fit(F, R), F, R


@pytest.mark.parametrize(
    "estimator",
    [
        LedoitWolf(),
        OAS(),
        FactorCovariance(halflife=36, corr_halflife=120, lags=2),
        FactorCovariance(halflife=36, regime_halflife=12, eigen_scale=1.2),
    ],
    ids=["LedoitWolf", "OAS", "USE4", "USE4-adjusted"],
)
def test_from_model_covariance_estimator_plugs_in_and_everything_works(
    ts_model, estimator
):
    model, F, R = ts_model
    risk = FactorRiskModel.from_model(
        model, F, R, factor_covariance_estimator=estimator
    )
    expected = type(estimator)(**estimator.get_params()).fit(F).covariance_
    assert_allclose(risk.factor_covariance, expected, rtol=1e-12)
    assert risk.factor_covariance_estimator is not estimator  # a fitted clone
    # the decomposition, the hedge and the attribution on the new covariance
    w = pd.Series(1 / 4, index=R.columns[:4])
    dec = risk.risk_decomposition(w)
    B = risk.exposures.to_numpy()
    x = w.reindex(risk.assets, fill_value=0.0).to_numpy()
    total = x @ (B @ expected @ B.T + np.diag(risk.specific_variance)) @ x
    assert_allclose(dec.total_variance, total, rtol=1e-12)
    assert_allclose(dec.factors["variance"].sum(), dec.total_variance, rtol=1e-12)
    hedge = risk.hedge(w, targets=["MktRF"])
    assert_allclose(hedge.exposures.loc["MktRF", "after"], 0.0, atol=1e-15)
    idx = pd.MultiIndex.from_product([F.index, R.columns])
    exposures = pd.DataFrame(
        np.tile(risk.exposures.to_numpy(), (len(F), 1)), idx, risk.factors
    )
    weights = pd.Series(np.tile(x, len(F)), idx)
    attribution = return_attribution(weights, exposures, F, R)
    parts = attribution.contributions
    assert_allclose(
        parts[list(F.columns)].sum(axis=1) + parts["specific"], parts["total"]
    )


def test_from_model_skfolio_estimator_plugs_in(ts_model):
    import skfolio.moments as skfolio

    model, F, R = ts_model
    est = skfolio.LedoitWolf()
    risk = FactorRiskModel.from_model(model, F, R, factor_covariance_estimator=est)
    assert_allclose(risk.factor_covariance, skfolio.LedoitWolf().fit(F).covariance_)


def test_from_model_covariance_estimator_errors(ts_model):
    model, F, R = ts_model
    with pytest.raises(ValueError, match="leave `lags` unset or 0"):
        FactorRiskModel.from_model(
            model, F, R, lags=2, factor_covariance_estimator=LedoitWolf()
        )
    with pytest.raises(TypeError, match="covariance estimator"):
        FactorRiskModel.from_model(model, F, R, factor_covariance_estimator="lw")


def test_from_model_specific_risk_options(ts_model):
    model, F, R = ts_model
    cap = pd.Series(np.arange(1.0, 10.0), index=R.columns)
    plain = FactorRiskModel.from_model(model, F, R, halflife=60)
    same = FactorRiskModel.from_model(model, F, R, halflife=60, market_cap=cap)
    assert_array_equal(same.specific_variance, plain.specific_variance)
    risk = FactorRiskModel.from_model(
        model,
        F,
        R,
        halflife=60,
        shrinkage=0.1,
        market_cap=cap,
        structural=True,
        specific_regime_halflife=12,
    )
    expected, _ = specific_variance(
        R - model.predict(F),
        halflife=60,
        shrinkage=0.1,
        market_cap=cap,
        exposures=risk.exposures,
        regime_halflife=12,
    )
    assert_allclose(risk.specific_variance, expected, rtol=1e-12)
    assert not np.allclose(risk.specific_variance, plain.specific_variance)


def test_plot_bias_statistics_draws_the_median_rolling_bias():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skfactor.plotting import plot_bias_statistics

    rng = np.random.default_rng(0)
    r = pd.DataFrame(rng.normal(0, 0.02, (120, 3)))
    ev = evaluate_volatility_forecast(r, pd.DataFrame(0.01, r.index, r.columns))
    ax = plot_bias_statistics({"half the risk": ev}, window=24)
    line = ax.get_lines()[0]
    assert line.get_label() == "half the risk"
    assert_allclose(line.get_ydata(), ev.rolling_bias(24).median(axis=1))
    assert np.nanmedian(line.get_ydata()) > 1.5  # underestimated risk
    with pytest.raises(TypeError, match="RiskForecastEvaluation"):
        plot_bias_statistics(r)
    plt.close("all")


def test_plot_bias_statistics_tells_coinciding_lines_apart_legend_off_the_data():
    """Two forecasts that nearly agree (plain and eigen-adjusted) stay visible:
    different styles, widths and marker dates; the legend is below the axes."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skfactor.plotting import plot_bias_statistics

    rng = np.random.default_rng(0)
    r = pd.DataFrame(rng.normal(0, 0.02, (120, 3)))
    forecast = pd.DataFrame(0.02, r.index, r.columns)
    evs = {
        name: evaluate_volatility_forecast(r, forecast * k)
        for name, k in [("plain", 1.0), ("regime", 1.2), ("eigen", 1.0001)]
    }
    ax = plot_bias_statistics(evs, window=24)
    lines = ax.get_lines()[:3]
    assert len({line.get_linestyle() for line in lines}) == 3
    assert len({line.get_marker() for line in lines}) == 3
    assert lines[0].get_linewidth() > lines[2].get_linewidth()
    assert lines[0].get_markevery() != lines[2].get_markevery()
    ax.figure.canvas.draw()
    box = ax.get_legend().get_window_extent().transformed(ax.transAxes.inverted())
    assert box.y1 <= 0.0  # below the axes, not over the lines
    plt.close("all")


def test_evaluate_risk_forecast_one_blas_thread_path_equals_plain(monkeypatch):
    import skfactor.risk._evaluation as evaluation

    F = pd.DataFrame(regime_factors(n=80, k=4))
    est = FactorCovariance(halflife=20, eigen_scale=1.2, n_simulations=10)
    limited = evaluate_risk_forecast(F, est, min_dates=60)
    monkeypatch.setattr(evaluation, "SMALL", 0)  # BLAS threads left alone
    plain = evaluate_risk_forecast(F, est, min_dates=60)
    assert_allclose(limited.forecast_volatility, plain.forecast_volatility, rtol=1e-12)


def test_evaluate_factor_risk_forecast_equals_the_risk_model_of_each_date(ts_model):
    from skfactor.risk import evaluate_factor_risk_forecast

    model, F, R = ts_model
    B = pd.DataFrame(model.coef_, index=R.columns, columns=F.columns)
    E = R - model.predict(F)
    w = pd.DataFrame(
        [np.full(9, 1 / 9), np.r_[1.0, -1.0, np.zeros(7)]], columns=R.columns
    )
    est = FactorCovariance(halflife=36, regime_halflife=6)
    ev = evaluate_factor_risk_forecast(
        R, B, F, E, est, w, halflife=36, min_dates=120, max_dates=240, step=12
    )
    for t in (120, 131, 500, len(F) - 1):
        end = 120 + (t - 120) // 12 * 12
        start = max(0, end - 240)
        cov = est.fit(F.iloc[start:end]).covariance_
        d, _ = specific_variance(E.iloc[start:end], halflife=36)
        risk = FactorRiskModel(B, pd.DataFrame(cov, F.columns, F.columns), d)
        for p in (0, 1):
            sigma = risk.risk_decomposition(w.iloc[p]).total_risk
            assert_allclose(ev.forecast_volatility.iloc[t, p], sigma, rtol=1e-12)
    assert_allclose(ev.returns, R @ w.T.to_numpy(), rtol=1e-12)
    assert ev.forecast_volatility.iloc[:120].isna().all().all()


def _per_date_case(seed=0, n_dates=140, n_assets=7, k=2):
    """Returns from exposures that move every date, with holes in the exposures."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_dates, name="date")
    assets = pd.Index([f"A{i}" for i in range(n_assets)], name="asset")
    names = [f"f{j}" for j in range(k)]
    B = rng.normal(1, 0.4, (n_dates, n_assets, k)).cumsum(axis=0) / 5
    F = pd.DataFrame(rng.normal(0, 0.03, (n_dates, k)), dates, names)
    E = pd.DataFrame(rng.normal(0, 0.04, (n_dates, n_assets)), dates, assets)
    R = pd.DataFrame(np.einsum("tak,tk->ta", B, F), dates, assets) + E
    index = pd.MultiIndex.from_product([dates, assets])
    loadings = pd.DataFrame(B.reshape(-1, k), index, names)
    holes = rng.random(len(loadings)) < 0.03
    loadings.iloc[np.flatnonzero(holes)[::2], 0] = np.nan  # NaN cells
    loadings = shuffled(loadings[~(holes & (np.arange(len(holes)) % 2 == 1))])
    return R, loadings, F, E


def test_evaluate_factor_risk_forecast_per_date_exposures_equal_slow_loop():
    from skfactor.risk import evaluate_factor_risk_forecast

    R, loadings, F, E = _per_date_case()
    w = pd.DataFrame(
        [np.full(7, 1 / 7), np.r_[1.0, -1.0, np.zeros(5)]], columns=R.columns
    )
    est = FactorCovariance(halflife=30)
    ev = evaluate_factor_risk_forecast(
        R, loadings, F, E, est, w, halflife=30, min_dates=60, max_dates=90, step=10
    )
    n_nan = 0
    for t in range(60, len(R)):
        end = 60 + (t - 60) // 10 * 10
        start = max(0, end - 90)
        cov = est.fit(F.iloc[start:end]).covariance_
        d, _ = specific_variance(E.iloc[start:end], halflife=30)
        B = loadings.xs(R.index[t], level="date").reindex(R.columns)
        for p in range(2):
            weights = w.iloc[p].to_numpy()
            held = weights != 0
            if B[held].isna().any().any():
                assert np.isnan(ev.forecast_volatility.iloc[t, p])
                n_nan += 1
                continue
            x = weights[held] @ B[held].to_numpy()
            sigma = np.sqrt(x @ cov @ x + (weights**2) @ np.asarray(d))
            assert_allclose(ev.forecast_volatility.iloc[t, p], sigma, rtol=1e-10)
    assert 0 < n_nan < 40
    assert ev.forecast_volatility.iloc[:60].isna().all().all()


def test_evaluate_factor_risk_forecast_constant_per_date_exposures_equal_fixed_ones():
    from skfactor.risk import evaluate_factor_risk_forecast

    R, _, F, E = _per_date_case(1)
    B = pd.DataFrame(
        np.random.default_rng(1).normal(1, 0.3, (7, 2)), R.columns, F.columns
    )
    long = pd.concat({d: B for d in R.index}, names=["date", "asset"])
    kwargs = dict(halflife=30, min_dates=60, step=5, n_random=5)
    fixed = evaluate_factor_risk_forecast(R, B, F, E, **kwargs)
    moving = evaluate_factor_risk_forecast(R, long, F, E, **kwargs)
    assert_allclose(moving.forecast_volatility, fixed.forecast_volatility, rtol=1e-12)
    pd.testing.assert_frame_equal(moving.table, fixed.table, rtol=1e-12)


def test_evaluate_factor_risk_forecast_per_date_exposures_errors():
    from skfactor.risk import evaluate_factor_risk_forecast

    R, loadings, F, E = _per_date_case(2)
    with pytest.raises(ValueError, match=r"no column for the factors \['f1'\]"):
        evaluate_factor_risk_forecast(R, loadings[["f0"]], F, E, min_dates=60)
    with pytest.raises(ValueError, match=r"duplicated \(date, asset\) rows"):
        evaluate_factor_risk_forecast(
            R, pd.concat([loadings, loadings.iloc[:1]]), F, E, min_dates=60
        )
    with pytest.raises(ValueError, match=r"shares no date with `returns`"):
        evaluate_factor_risk_forecast(R, loadings.swaplevel(), F, E, min_dates=60)
