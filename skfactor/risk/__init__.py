"""Risk and hedging from a fitted factor model: Σ = B Σ_F Bᵀ + D, its split, hedges.

Why a module of its own, taking a fitted model, rather than methods on the
models: both fitted models end in the same three pieces — exposures ``B``,
factor returns (hence ``Σ_F``) and residuals (hence ``D``) — but read them
from different places (a time-series model's betas and its input factor
returns; a cross-sectional model's loadings on one date and its estimated
factor returns). Each model hands them over with its public
``risk_inputs(X, y, date=None)`` (the fitting protocol of
``skfactor/models/_protocol.py``), which :meth:`FactorRiskModel.from_model`
calls; everything after it (covariances, risk decomposition,
hedging) is written once, works as well on a vendor's ``B``, ``Σ_F`` and
``D``, and keeps risk choices (half-life, Newey-West lags, shrinkage of short
histories) out of the estimators' parameters, where they would have nothing to
do with fitting. :class:`FactorRiskModel` is therefore not an estimator but a
view of a fitted one, as scikit-learn's displays built ``from_estimator`` are.
"""

from skfactor.risk._attribution import ReturnAttribution, return_attribution
from skfactor.risk._covariance import factor_covariance
from skfactor.risk._decomposition import RiskDecomposition
from skfactor.risk._estimator import FactorCovariance
from skfactor.risk._evaluation import (
    RiskForecastEvaluation,
    bias_statistic,
    evaluate_risk_forecast,
    evaluate_volatility_forecast,
)
from skfactor.risk._hedge import HedgeResult
from skfactor.risk._model import FactorRiskModel
from skfactor.risk._model_evaluation import evaluate_factor_risk_forecast
from skfactor.risk._specific import specific_variance

__all__ = [
    "FactorCovariance",
    "FactorRiskModel",
    "HedgeResult",
    "ReturnAttribution",
    "RiskDecomposition",
    "RiskForecastEvaluation",
    "bias_statistic",
    "evaluate_factor_risk_forecast",
    "evaluate_risk_forecast",
    "evaluate_volatility_forecast",
    "factor_covariance",
    "return_attribution",
    "specific_variance",
]
