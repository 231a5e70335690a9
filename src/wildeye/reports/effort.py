"""Sampling effort and relative abundance: camera-days per deployment, RAI, species summaries.

Camera-days come from the deployment's start and end (deployments.csv); a side that is unknown falls back to
the first or last image of the deployment. A date-range filter clips the effort to the range, so RAI stays
events per 100 camera-days of the period the report covers.
"""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wildeye.ecology.ranks import ABOVE_RANK, NO_TAXONOMY
from wildeye.reports.events import Event
from wildeye.reports.frames import ANIMAL, BLANK, Frame

DAY_S = 86400.0


@dataclass
class Effort:
    deployment_id: str
    location_name: str | None
    latitude: float | None
    longitude: float | None
    start: datetime | None  # the effort window actually counted
    end: datetime | None
    effort_from: str  # "deployment", "images", "deployment+images" or "none"
    camera_days: float
    images: int = 0
    blank_images: int = 0
    animal_images: int = 0
    events: dict[str, int] = field(default_factory=dict)  # species key -> events (identified taxa only)
    unidentified_events: int = 0  # events of 'animal' or unknowns (no taxon): not a species, not in RAI
    apart_events: int = 0  # events of taxa above the report's rank (or unplaced names): not in RAI either
    coordinate_uncertainty: float | None = None  # metres (Camtrap DP coordinateUncertainty), widened when generalised

    def rai(self, species: str) -> float | None:
        """Relative abundance index: events per 100 camera-days (None without effort)."""
        if not self.camera_days:
            return None
        return 100.0 * self.events.get(species, 0) / self.camera_days

    @property
    def total_events(self) -> int:
        return sum(self.events.values())


def deployment_effort(data, frames: list[Frame], events: list[Event], window: tuple | None = None,
                      deployment_ids: set[str] | None = None) -> list[Effort]:
    """One Effort per deployment (blank-only ones included: effort without events is a result too).

    window: (first, last) local naive datetimes of a date-range filter, either may be None.
    """
    by_dep: dict[str, list[Frame]] = defaultdict(list)
    for frame in frames:
        by_dep[frame.deployment_id].append(frame)
    event_counts: dict[str, Counter] = defaultdict(Counter)
    unidentified: Counter = Counter()
    apart: Counter = Counter()
    for event in events:
        if event.identified:
            event_counts[event.deployment_id][event.species] += 1
        elif event.taxon is not None and event.taxon.status in (ABOVE_RANK, NO_TAXONOMY):
            apart[event.deployment_id] += 1
        else:
            unidentified[event.deployment_id] += 1
    out = []
    for dep_id in sorted(set(data.deployments) | set(by_dep)):
        if deployment_ids and dep_id not in deployment_ids:
            continue
        info = data.deployments.get(dep_id)
        tz = data.timezones.get(dep_id)
        dep_frames = by_dep.get(dep_id, [])
        start_s, end_s, source = _window(info, tz, dep_frames)
        if window is not None and start_s is not None:
            first, last = window
            if first is not None:
                start_s = max(start_s, _seconds(first, tz))
            if last is not None:
                end_s = min(end_s, _seconds(last, tz))
        days = max(0.0, (end_s - start_s) / DAY_S) if start_s is not None else 0.0
        effort = Effort(dep_id, info.location_name if info else None, info.latitude if info else None,
                        info.longitude if info else None, _as_time(start_s, tz), _as_time(end_s, tz), source,
                        round(days, 4), events=dict(sorted(event_counts.get(dep_id, {}).items())),
                        unidentified_events=unidentified.get(dep_id, 0), apart_events=apart.get(dep_id, 0),
                        coordinate_uncertainty=_uncertainty(info))
        for frame in dep_frames:
            if frame.status != "done":
                continue
            effort.images += 1
            kinds = {o.kind for o in frame.observations}
            effort.blank_images += kinds == {BLANK}
            effort.animal_images += ANIMAL in kinds
        out.append(effort)
    return out


def species_summary(events: list[Event], efforts: list[Effort], frames: list[Frame], names=None,
                    taxon_of=None) -> list[dict]:
    """Per species (taxon at the report's rank): events, frames, individuals, where and when seen, overall RAI and
    naive occupancy.

    Only taxa at the rank count: events of 'animal', unknowns and taxa above the rank are left out, as in RAI
    (ecology.ranks). names: a taxa.Names giving plain labels their scientific name. taxon_of: the RankMapper the
    events were built with."""
    total_days = sum(e.camera_days for e in efforts)
    surveyed = sum(1 for e in efforts if e.camera_days > 0) or len(efforts)
    key_of = (lambda label: taxon_of(label).key) if taxon_of is not None else None
    images: Counter = Counter()
    for frame in frames:
        for key in frame.species(key_of):
            images[key] += 1
    rows = []
    by_species: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.identified:
            by_species[event.species].append(event)
    for key, evs in by_species.items():
        label = max((e.label for e in evs), key=lambda label: len(label.split(";")) == 7)
        deployments = sorted({e.deployment_id for e in evs})
        starts = [e.start.local for e in evs if e.start.local]
        rolled = evs[0].taxon is not None and evs[0].taxon.rank not in (None, "species")
        rows.append({
            "species": evs[0].name if len(label.split(";")) != 7 else next(e.name for e in evs if e.label == label),
            "scientific_name": evs[0].taxon.scientific_name if rolled else next(
                (sci for sci in (names.scientific_name(e.label) if names else e.scientific_name for e in evs) if sci),
                ""),
            "taxon_rank": evs[0].taxon.rank if rolled else _rank(names, label),
            "label": label,
            "events": len(evs),
            "verified_events": sum(e.verified for e in evs),
            "images": images[key],
            "max_count": max(e.count for e in evs),
            "individuals": sum(e.count for e in evs),
            "deployments": len(deployments),
            "naive_occupancy": round(len(deployments) / surveyed, 4) if surveyed else None,
            "rai": round(100.0 * len(evs) / total_days, 4) if total_days else None,
            "first_seen": min(starts).isoformat() if starts else None,
            "last_seen": max(starts).isoformat() if starts else None,
            "key": key,
        })
    rows.sort(key=lambda r: (-r["events"], r["species"]))
    return rows


def _uncertainty(info) -> float | None:
    try:
        value = float((info.extra if info else {}).get("coordinateUncertainty") or "nan")
    except ValueError:
        return None
    return None if value != value else value


def _rank(names, label: str) -> str:
    from wildeye.labels import parse

    taxon = names.taxon(label) if names else None
    return (taxon.rank if taxon else parse(label).rank) or ""


def _window(info, tz, frames: list[Frame]) -> tuple[float | None, float | None, str]:
    from wildeye.ingest.deployments import Deployment

    start = end = None
    if info is not None and (info.deployment_start or info.deployment_end):
        dep = Deployment(info)
        start = _instant(dep.start) if dep.start else None
        end = _instant(dep.end) if dep.end else None
    times = [f.seconds for f in frames if f.seconds is not None]
    used = []
    if start is not None or end is not None:
        used.append("deployment")
    if (start is None or end is None) and times:
        used.append("images")
        start = start if start is not None else min(times)
        end = end if end is not None else max(times)
    if start is None or end is None:
        return None, None, "none"
    return start, end, "+".join(used)


def _instant(when: datetime) -> float:
    if when.tzinfo is None:
        return calendar.timegm(when.timetuple()) + when.microsecond / 1e6
    return when.timestamp()


def _seconds(local: datetime, tz) -> float:
    return _instant(local.replace(tzinfo=tz) if tz is not None else local)


def _as_time(seconds: float | None, tz) -> datetime | None:
    if seconds is None:
        return None
    utc = datetime(1970, 1, 1) + timedelta(seconds=seconds)
    if tz is None:
        return utc
    from datetime import timezone

    return utc.replace(tzinfo=timezone.utc).astimezone(tz)
