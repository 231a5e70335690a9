"""Single-season occupancy (MacKenzie et al. 2002, Ecology 83:2248): psi, the probability a site is occupied,
and p, the probability of detecting the taxon in one occasion at an occupied site, by maximum likelihood.

Site i with history y_i (NA occasions left out) contributes
    psi_i * prod_j p_ij^y_ij (1 - p_ij)^(1 - y_ij) + (1 - psi_i) * [no detection at i]
(MacKenzie et al. 2002, eq. 3-4). psi is logit-linear in standardised site covariates (logit psi_i = x_i' beta,
intercept first); p is constant, p(.), or one per occasion, p(t) (`p_by_occasion`, the paper's general model); an
`effort` makes an occasion the camera ran e days of L detect with
1 - (1 - p)^(e/L), so partly covered occasions count for less (p stays "per full occasion"). Both are fitted on the
logit scale with scipy.optimize (BFGS); Wald intervals come from the inverse of the Hessian of the negative log
likelihood (central differences), on the logit scale and transformed back, as unmarked's `confint(type="state")`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special, stats

MIN_DETECTIONS = 5  # fewer detections (or detected sites) than this: estimates are not to be trusted
MIN_SITES_DETECTED = 3
BOUNDARY = 1e-3  # psi or p within this of 0 or 1: on the boundary, Wald intervals meaningless


@dataclass
class Estimate:
    name: str
    value: float  # on the probability scale (coefficients: the logit-scale coefficient)
    lower: float | None
    upper: float | None
    logit: float
    se_logit: float | None


@dataclass
class OccupancyFit:
    psi: Estimate  # at the mean of the covariates (standardised: their 0)
    p: Estimate  # per occasion (p(t): their mean, without an interval)
    coefficients: list[Estimate]  # logit psi: intercept, then one per covariate (per standard deviation)
    log_likelihood: float
    aic: float
    converged: bool
    n_sites: int
    n_occasions: int
    detections: int
    sites_detected: int
    naive: float | None
    cumulative_p: float  # 1 - (1 - p)^K: chance of detecting it at an occupied site over the whole survey
    warnings: list[str] = field(default_factory=list)
    site_psi: list[float] = field(default_factory=list)  # fitted psi per site (covariates)
    p_occasions: list[Estimate] = field(default_factory=list)  # p(t): one per occasion


def neg_log_likelihood(theta: np.ndarray, y: np.ndarray, x: np.ndarray, effort_fraction: np.ndarray | None = None
                       ) -> float:
    """-log L of MacKenzie et al. (2002). theta: psi coefficients (len x.shape[1]) then logit p, one value (p(.))
    or one per occasion (p(t)). y: sites x K with NaN where not surveyed; x: sites x q design (intercept column included); effort_fraction: sites x K of
    e/L for the effort-scaled detection (None: constant p)."""
    q = x.shape[1]
    eta = x @ theta[:q]
    log_psi, log_not_psi = -np.logaddexp(0.0, -eta), -np.logaddexp(0.0, eta)
    alpha = theta[q:]  # broadcasts over the occasions either way
    log_p, log_q = -np.logaddexp(0.0, -alpha), -np.logaddexp(0.0, alpha)
    seen = ~np.isnan(y)
    y0 = np.where(seen, y, 0.0)
    if effort_fraction is None:
        log_qij = np.broadcast_to(log_q, y.shape)
        log_pij = np.broadcast_to(log_p, y.shape)
    else:
        log_qij = np.where(seen, effort_fraction, 0.0) * log_q
        log_pij = np.log(-np.expm1(np.minimum(log_qij, -1e-300)))
    terms = np.where(seen, y0 * log_pij + (1.0 - y0) * log_qij, 0.0).sum(axis=1)
    detected = (y0 > 0).any(axis=1)
    site = np.where(detected, log_psi + terms, np.logaddexp(log_psi + terms, log_not_psi))
    return float(-site.sum())


def hessian(f, theta: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of f at theta."""
    n = len(theta)
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * step, np.eye(n)[j] * step
            value = f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej) + f(theta - ei - ej)
            h[i, j] = h[j, i] = value / (4 * step ** 2)
    return h


def standardise(covariates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns to mean 0, sd 1 (a constant column is left at 0): (z, means, sds)."""
    covariates = np.asarray(covariates, dtype=float).reshape(len(covariates), -1)
    means = covariates.mean(axis=0)
    sds = covariates.std(axis=0)
    sds = np.where(sds > 0, sds, 1.0)
    return (covariates - means) / sds, means, sds


def fit(y: np.ndarray, covariates: np.ndarray | None = None, covariate_names: list[str] | None = None,
        effort: np.ndarray | None = None, occasion_days: float | None = None, conf: float = 0.95,
        p_by_occasion: bool = False) -> OccupancyFit:
    """Fit psi(covariates) p(.) (or p(t) with p_by_occasion) to a detection history (sites x K, NaN = not
    surveyed). Sites never surveyed are dropped. effort + occasion_days: the effort-scaled detection."""
    y = np.asarray(y, dtype=float)
    keep = ~np.all(np.isnan(y), axis=1)
    y = y[keep]
    n, k = y.shape
    z = np.zeros((n, 0))
    if covariates is not None and np.size(covariates):
        z = standardise(np.asarray(covariates, dtype=float).reshape(len(keep), -1)[keep])[0]
    x = np.column_stack([np.ones(n), z])
    names = ["(intercept)"] + list(covariate_names or [f"x{i + 1}" for i in range(z.shape[1])])
    fraction = None
    if effort is not None and occasion_days:
        fraction = np.clip(np.asarray(effort, dtype=float)[keep] / occasion_days, 0.0, None)
    f = lambda theta: neg_log_likelihood(theta, y, x, fraction)  # noqa: E731
    detections = int(np.nansum(y))
    detected_sites = int(((np.nan_to_num(y) > 0).any(axis=1)).sum())
    naive = detected_sites / n if n else None
    q = x.shape[1]
    start = np.zeros(q + (k if p_by_occasion else 1))
    start[0] = special.logit(min(max(naive or 0.5, 0.05), 0.95))
    result = optimize.minimize(f, start, method="BFGS")
    theta = result.x
    converged = bool(result.success) or (np.linalg.norm(result.jac) < 1e-3 if result.jac is not None else False)
    cov = None
    try:
        h = hessian(f, theta)
        cov = np.linalg.inv(h)
        if np.any(np.diag(cov) <= 0) or not np.all(np.isfinite(cov)):
            cov = None
    except np.linalg.LinAlgError:
        cov = None
    zq = stats.norm.ppf((1 + conf) / 2)

    def estimate(name: str, index: int, probability: bool) -> Estimate:
        se = float(np.sqrt(cov[index, index])) if cov is not None else None
        value = float(theta[index])
        lo = hi = None
        if se is not None:
            lo, hi = value - zq * se, value + zq * se
            if probability:
                lo, hi = float(special.expit(lo)), float(special.expit(hi))
        return Estimate(name, float(special.expit(value)) if probability else value, lo, hi, value, se)

    psi = estimate("psi", 0, True)
    p_occasions = [estimate(f"p{j + 1}", q + j, True) for j in range(k)] if p_by_occasion else []
    if p_by_occasion:
        mean = float(np.mean([e.value for e in p_occasions]))
        p = Estimate("p", mean, None, None, float(special.logit(mean)), None)
        cumulative = 1 - float(np.prod([1 - e.value for e in p_occasions]))
    else:
        p = estimate("p", q, True)
        cumulative = 1 - (1 - p.value) ** k
    coefficients = [estimate(name, i, False) for i, name in enumerate(names)]
    log_lik = -float(result.fun)
    fitted = OccupancyFit(psi, p, coefficients, log_lik, 2 * len(theta) - 2 * log_lik, converged, n, k, detections,
                          detected_sites, naive, cumulative,
                          site_psi=[float(v) for v in special.expit(x @ theta[:q])], p_occasions=p_occasions)
    fitted.warnings = _warnings(fitted, cov is not None)
    return fitted


def _warnings(fit_: OccupancyFit, has_cov: bool) -> list[str]:
    out = []
    if fit_.detections < MIN_DETECTIONS or fit_.sites_detected < MIN_SITES_DETECTED:
        out.append(f"sparse data: {fit_.detections} detection(s) at {fit_.sites_detected} of {fit_.n_sites} sites "
                   f"(under {MIN_DETECTIONS} detections or {MIN_SITES_DETECTED} detected sites): "
                   "do not trust psi and p")
    if not fit_.converged:
        out.append("the likelihood maximisation did not converge")
    for e in [fit_.psi] + (fit_.p_occasions or [fit_.p]):
        if e.value < BOUNDARY or e.value > 1 - BOUNDARY:
            out.append(f"{e.name} = {e.value:.3g} is on the boundary: its interval is meaningless")
    if not has_cov:
        out.append("the Hessian is singular: no confidence intervals")
    elif any(e.se_logit is not None and e.se_logit > 10 for e in [fit_.psi] + (fit_.p_occasions or [fit_.p])):
        out.append("standard errors above 10 on the logit scale: the model is barely identifiable from these data")
    return out
