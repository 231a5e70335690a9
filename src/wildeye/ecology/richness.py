"""Species richness from incidence: sample-based rarefaction (the accumulation curve) and Chao2.

Sampling units are camera-days or sites; Y_j is the number of units where species j was detected, m the number of
units. The curve is the exact expectation of sample-based rarefaction (Colwell, Mao & Chang 2004; Colwell et al.
2012, J. Plant Ecol. 5:3, eq. 4): S(t) = sum_j [1 - C(m - Y_j, t) / C(m, t)], what random-order accumulation
curves average to. Chao2 (Chao 1987, Biometrics 43:783) with the small-sample factor (m-1)/m as in Colwell's
EstimateS user guide (appendix B): S_obs + ((m-1)/m) Q1^2 / (2 Q2), and the bias-corrected form
S_obs + ((m-1)/m) Q1 (Q1 - 1) / (2 (Q2 + 1)) when Q2 = 0; Q1, Q2 species in exactly one and two units. Its 95%
interval is Chao's (1987) log-linear one: S_obs + T/K .. S_obs + T K, T = Chao2 - S_obs,
K = exp(z sqrt(ln(1 + var / T^2))).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats


def _log_choose(n, k):
    n, k = np.asarray(n, dtype=float), np.asarray(k, dtype=float)
    return special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)


def rarefaction(incidence, m: int, units=None) -> tuple[np.ndarray, np.ndarray]:
    """(t, expected species in t units) for t in `units` (default 1..m). incidence: Y_j per species."""
    y = np.asarray([v for v in incidence if v > 0], dtype=float)
    t = np.arange(1, m + 1) if units is None else np.asarray(units, dtype=int)
    out = np.zeros(len(t))
    for i, ti in enumerate(t):
        absent = np.where(m - y >= ti, np.exp(_log_choose(m - y, ti) - _log_choose(m, ti)), 0.0)
        out[i] = float((1.0 - absent).sum())
    return t, out


@dataclass
class Chao2:
    s_obs: int
    m: int
    q1: int
    q2: int
    estimate: float
    form: str  # "classic" (Q2 > 0) or "bias-corrected" (Q2 = 0)
    variance: float | None
    lower: float | None
    upper: float | None


def chao2(incidence, m: int, conf: float = 0.95) -> Chao2:
    """Chao2 with its variance (EstimateS appendix B) and log-linear interval (module docstring)."""
    y = np.asarray([v for v in incidence if v > 0], dtype=int)
    s_obs, q1, q2 = len(y), int((y == 1).sum()), int((y == 2).sum())
    a = (m - 1) / m if m > 0 else 0.0
    if q2 > 0:
        form = "classic"
        estimate = s_obs + a * q1 ** 2 / (2 * q2)
        r = q1 / q2
        variance = q2 * (a / 2 * r ** 2 + a ** 2 * r ** 3 + a ** 2 / 4 * r ** 4)
    else:
        form = "bias-corrected"
        estimate = s_obs + a * q1 * (q1 - 1) / 2
        variance = (a * q1 * (q1 - 1) / 2 + a ** 2 * q1 * (2 * q1 - 1) ** 2 / 4
                    - a ** 2 * q1 ** 4 / (4 * estimate)) if q1 > 0 else 0.0
    lower = upper = None
    t = estimate - s_obs
    if t > 0 and variance is not None and variance > 0:
        z = stats.norm.ppf((1 + conf) / 2)
        k = np.exp(z * np.sqrt(np.log(1 + variance / t ** 2)))
        lower, upper = s_obs + t / k, s_obs + t * k
    elif t == 0:
        lower = upper = float(s_obs)
    return Chao2(s_obs, m, q1, q2, float(estimate), form, float(variance) if variance is not None else None,
                 lower, upper)
