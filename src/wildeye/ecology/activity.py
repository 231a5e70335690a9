"""Diel activity: circular kernel densities and the coefficient of overlapping, as the R package `overlap` defines
them (Ridout & Linkie 2009, J. Agric. Biol. Environ. Stat. 14:322; Meredith & Ridout, overlap vignette).

Times are radians on the 24-hour circle (0 = 2 pi = midnight). The kernel is von Mises with concentration `bw`;
`bandwidth` is overlap's getBandWidth: the von Mises concentration fitted to the first `kmax` (3) trigonometric
moments, the largest kept, plugged into Taylor's (2008) rule. Delta-1 integrates min(f, g) over a 128-point grid
(smoothing adjust 0.8), Delta-4 averages min(1, g/f) and min(1, f/g) over the observations (adjust 1); the
vignette's advice: Delta-4 when the smaller sample has more than 75 observations, else Delta-1. Intervals: a
smoothed bootstrap (resamples from each fitted density on a 512-point grid) and overlap's recommended `basic0`
interval (percentile interval shifted by the bootstrap bias). No maintained Python package implements these
(PyPI has no port of `overlap`; scipy has the von Mises distribution and Bessel functions, used here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

TWO_PI = 2 * np.pi
LARGE_SAMPLE = 75  # smaller sample above this: Delta-4, else Delta-1 (overlap vignette, "Choice of estimator")
ADJUST = {"dhat1": 0.8, "dhat4": 1.0}  # Ridout & Linkie's smoothing per estimator (adjust = 1/c)
N_GRID = 128


def to_radians(hours) -> np.ndarray:
    """Hours of the day (0-24) to radians in [0, 2 pi)."""
    return np.mod(np.asarray(hours, dtype=float) / 24.0 * TWO_PI, TWO_PI)


def density(x, at, bw: float) -> np.ndarray:
    """Von Mises kernel density of the sample x (radians) at the points `at`: mean of vM(at; x_i, bw). Repeated
    values (times to the minute, bootstrap resamples drawn from a grid) are summed once, weighted by their count."""
    x, at = np.asarray(x, dtype=float), np.asarray(at, dtype=float)
    values, counts = np.unique(x, return_counts=True)
    weights = counts / len(x)
    out = np.empty(at.shape)
    scale = TWO_PI * special.i0e(bw)  # exp(bw (cos d - 1)) / (2 pi I0(bw) e^-bw): overflow-free
    flat = out.reshape(-1)
    points = at.reshape(-1)
    for lo in range(0, points.size, 2048):
        d = points[lo:lo + 2048, None] - values[None, :]
        flat[lo:lo + 2048] = np.exp(bw * (np.cos(d) - 1.0)) @ weights / scale
    return out


def _moment(x: np.ndarray, k: int) -> float:
    """Length of the k-th trigonometric moment about the circular mean."""
    centre = np.arctan2(np.sin(x).sum(), np.cos(x).sum())
    return float(np.abs(np.exp(1j * k * (x - centre)).mean()))


def bandwidth(x, kmax: int = 3) -> float | None:
    """overlap::getBandWidth: for k = 1..kmax solve I_k(kappa)/I_0(kappa) = (k-th moment length) on
    [1e-4, 345], take the largest kappa, and return (3 n kappa^2 I_2(2 kappa) / (4 sqrt(pi) I_0(kappa)^2))^(2/5).
    None when no k has a root (e.g. every time equal)."""
    x = np.asarray(x, dtype=float)
    kappas = []
    for k in range(1, kmax + 1):
        target = _moment(x, k)
        g = lambda kappa: special.ive(k, kappa) / special.ive(0, kappa) - target  # noqa: E731
        if g(1e-4) * g(345.0) <= 0:
            kappas.append(optimize.brentq(g, 1e-4, 345.0, xtol=1e-10))
    if not kappas or max(kappas) <= 0:
        return None
    kappa = max(kappas)
    # I_2(2k) / I_0(k)^2 with exponentially scaled Bessels: the e^(2k) factors cancel
    ratio = special.ive(2, 2 * kappa) / special.ive(0, kappa) ** 2
    return float((3 * len(x) * kappa ** 2 * ratio / (4 * np.sqrt(np.pi))) ** 0.4)


def estimator_for(n_a: int, n_b: int) -> str:
    return "dhat4" if min(n_a, n_b) > LARGE_SAMPLE else "dhat1"


def overlap(a, b, estimator: str = "auto", n_grid: int = N_GRID) -> float | None:
    """Coefficient of overlapping of two samples (radians): overlapEst's Dhat1 or Dhat4; None when a bandwidth
    cannot be found."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    estimator = estimator_for(len(a), len(b)) if estimator == "auto" else estimator
    bw_a, bw_b = bandwidth(a), bandwidth(b)
    if bw_a is None or bw_b is None:
        return None
    grid = np.linspace(0.0, TWO_PI, n_grid)
    if estimator == "dhat1":
        fa = density(a, grid, bw_a / ADJUST["dhat1"])[1:]
        fb = density(b, grid, bw_b / ADJUST["dhat1"])[1:]
        return float(np.minimum(fa / fa.sum(), fb / fb.sum()).sum())
    if estimator != "dhat4":
        raise ValueError(f"unknown overlap estimator {estimator!r}: dhat1, dhat4 or auto")
    both = np.concatenate([a, b])
    if len(both) > 1.1 * n_grid:  # as overlapEst: densities on the grid, interpolated at the observations
        fa = np.interp(both, grid, density(a, grid, bw_a))
        fb = np.interp(both, grid, density(b, grid, bw_b))
    else:
        fa, fb = density(a, both, bw_a), density(b, both, bw_b)
    n = len(a)
    return float((np.minimum(1.0, fb[:n] / fa[:n]).mean() + np.minimum(1.0, fa[n:] / fb[n:]).mean()) / 2)


def smoothed_resamples(x, size: int, n_boot: int, rng: np.random.Generator) -> np.ndarray | None:
    """n_boot x size draws from the fitted density of x on a 512-point grid (overlap's smoothed bootstrap)."""
    bw = bandwidth(x)
    if bw is None:
        return None
    grid = np.linspace(0.0, TWO_PI, 512)[1:]  # the grid's first and last points are both midnight
    weights = density(x, grid, bw)
    return rng.choice(grid, size=(n_boot, size), p=weights / weights.sum())


def interpolated_quantiles(values, conf: float = 0.95) -> tuple[float, float] | None:
    """Percentile limits interpolated on the normal scale between order statistics (boot's norm.inter, which
    overlap's bootCI uses); None when there are too few values for the tails."""
    values = np.sort(np.asarray(values, dtype=float))
    r = len(values)
    alpha = np.array([(1 - conf) / 2, (1 + conf) / 2])
    rank = (r + 1) * alpha
    if not np.all((rank > 1) & (rank < r)):
        return None
    k = np.floor(rank).astype(int)
    out = []
    for a, rk, kk in zip(alpha, rank, k):
        lo, hi = values[kk - 1], values[kk]
        if rk == kk:
            out.append(float(lo))
            continue
        z, z_lo, z_hi = stats.norm.ppf(a), stats.norm.ppf(kk / (r + 1)), stats.norm.ppf((kk + 1) / (r + 1))
        out.append(float(lo + (z - z_lo) / (z_hi - z_lo) * (hi - lo)))
    return out[0], out[1]


@dataclass
class Overlap:
    a: str
    b: str
    n_a: int
    n_b: int
    estimator: str  # dhat1 | dhat4
    value: float | None
    lower: float | None  # basic0 interval
    upper: float | None
    boot_mean: float | None
    n_boot: int


def overlap_with_ci(a, b, n_boot: int = 999, conf: float = 0.95, seed: int | None = 0, estimator: str = "auto",
                    names: tuple[str, str] = ("a", "b")) -> Overlap:
    """The estimate and its basic0 bootstrap interval: perc - (mean(bootstrap) - estimate), clipped to [0, 1]."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    estimator = estimator_for(len(a), len(b)) if estimator == "auto" else estimator
    value = overlap(a, b, estimator)
    out = Overlap(names[0], names[1], len(a), len(b), estimator, value, None, None, None, 0)
    if value is None or n_boot <= 0:
        return out
    rng = np.random.default_rng(seed)
    ra, rb = smoothed_resamples(a, len(a), n_boot, rng), smoothed_resamples(b, len(b), n_boot, rng)
    if ra is None or rb is None:
        return out
    boots = np.array([v for v in (overlap(x, y, estimator) for x, y in zip(ra, rb)) if v is not None])
    out.n_boot = len(boots)
    if not len(boots):
        return out
    out.boot_mean = float(boots.mean())
    limits = interpolated_quantiles(boots, conf)
    if limits is not None:
        bias = out.boot_mean - value
        out.lower, out.upper = max(0.0, limits[0] - bias), min(1.0, limits[1] - bias)
    return out


def density_curve(x, n_points: int = 257) -> tuple[np.ndarray, np.ndarray] | None:
    """(hours 0-24, density per hour) of the sample for plotting; None without a bandwidth."""
    bw = bandwidth(x)
    if bw is None:
        return None
    grid = np.linspace(0.0, TWO_PI, n_points)
    return grid / TWO_PI * 24.0, density(x, grid, bw) * TWO_PI / 24.0
