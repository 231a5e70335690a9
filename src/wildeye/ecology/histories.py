"""Detection histories: sites x sampling occasions, the input of every occupancy model (MacKenzie et al. 2002).

Occasions are windows of `occasion_days` days from one survey start (midnight of the first day any site ran), the
layout of camtrapR's `detectionHistory(day1 = "survey")`. Per site and occasion: the days the camera ran (effort),
1 if the taxon was detected, 0 if the camera ran without detecting it, NA (NaN) when it did not run at all. A site
whose camera ran part of an occasion keeps the occasion (with its shorter effort); `min_effort_days` can drop
occasions the camera barely covered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DAY_S = 86400.0


@dataclass(frozen=True)
class SiteWindow:
    """When one site's camera ran, in seconds on one clock for all sites (the report uses local wall-clock
    seconds); gaps: (start, end) spans inside it when it did not (a camera knocked over, a full card)."""

    site_id: str
    start: float
    end: float
    gaps: tuple[tuple[float, float], ...] = ()


@dataclass
class Occasions:
    site_ids: list[str]
    starts: np.ndarray  # occasion start (seconds), length K
    occasion_days: float
    effort: np.ndarray  # sites x K: days the camera ran in each occasion (0 where it did not)
    min_effort_days: float = 0.0

    @property
    def active(self) -> np.ndarray:
        return self.effort > max(self.min_effort_days, 0.0)

    def history(self, detections: dict[str, list[float]]) -> np.ndarray:
        """sites x K: 1 detected, 0 not detected while running, NaN not running. detections: site -> times."""
        y = np.where(self.active, 0.0, np.nan)
        length = self.occasion_days * DAY_S
        for i, site in enumerate(self.site_ids):
            for t in detections.get(site, ()):
                j = int(math.floor((t - self.starts[0]) / length))
                if 0 <= j < len(self.starts) and self.active[i, j]:
                    y[i, j] = 1.0
        return y


def survey_start(windows: list[SiteWindow]) -> float:
    """Midnight before the earliest start (times are seconds on a wall clock, so midnight is a multiple of a day)."""
    return math.floor(min(w.start for w in windows) / DAY_S) * DAY_S


def occasions(windows: list[SiteWindow], occasion_days: float = 7.0, start: float | None = None,
              min_effort_days: float = 0.0) -> Occasions:
    """Occasions covering every site's window; effort per site and occasion in days (gaps subtracted)."""
    if occasion_days <= 0:
        raise ValueError(f"occasion length {occasion_days:g} days is not positive")
    windows = [w for w in windows if w.end > w.start]
    if not windows:
        return Occasions([], np.zeros(0), occasion_days, np.zeros((0, 0)), min_effort_days)
    first = survey_start(windows) if start is None else start
    length = occasion_days * DAY_S
    k = max(1, int(math.ceil((max(w.end for w in windows) - first) / length)))
    starts = first + length * np.arange(k)
    effort = np.zeros((len(windows), k))
    for i, w in enumerate(windows):
        for a, b in _running(w):
            effort[i] += np.clip(np.minimum(b, starts + length) - np.maximum(a, starts), 0.0, None) / DAY_S
    return Occasions([w.site_id for w in windows], starts, occasion_days, np.round(effort, 6), min_effort_days)


def _running(w: SiteWindow) -> list[tuple[float, float]]:
    spans, at = [], w.start
    for a, b in sorted(w.gaps):
        a, b = max(a, w.start), min(b, w.end)
        if b <= a:
            continue
        if a > at:
            spans.append((at, a))
        at = max(at, b)
    if w.end > at:
        spans.append((at, w.end))
    return spans


def naive_occupancy(y: np.ndarray) -> float | None:
    """Share of surveyed sites (any occasion not NA) with at least one detection."""
    surveyed = ~np.all(np.isnan(y), axis=1)
    if not surveyed.any():
        return None
    return float(np.nanmax(np.where(np.isnan(y), 0.0, y), axis=1)[surveyed].mean())
