"""Which frames and observations a report covers: dates, deployments, species, confidence, review, recency."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time

from wildeye.errors import ConfigError
from wildeye.reports.frames import ANIMAL, Frame, scientific_name


@dataclass
class ReportFilters:
    date_from: datetime | None = None  # local time at the deployment, inclusive
    date_until: datetime | None = None  # local time at the deployment, inclusive
    deployments: tuple[str, ...] = ()
    species: tuple[str, ...] = ()  # common names, scientific names or labels, any case
    since: bool = False  # only frames processed or reviewed since the last report into the same folder
    min_confidence: float = 0.0  # machine observations below this are dropped (a reviewer's never are)
    verified_only: bool = False  # only frames a reviewer confirmed count as sightings
    last_report: datetime | None = field(default=None, repr=False)  # filled in by build_report for `since`

    def describe(self) -> dict:
        return {"from": self.date_from.isoformat() if self.date_from else None,
                "until": self.date_until.isoformat() if self.date_until else None,
                "deployments": list(self.deployments), "species": list(self.species), "since": self.since,
                "since_time": self.last_report.isoformat() if self.last_report else None,
                "min_confidence": self.min_confidence, "verified_only": self.verified_only}

    @property
    def window(self) -> tuple[datetime | None, datetime | None] | None:
        if self.date_from is None and self.date_until is None:
            return None
        return self.date_from, self.date_until


def parse_date(text: str, *, end: bool = False) -> datetime:
    """'2024-05-01' (a whole day: its start, or with end=True its last second) or an ISO date-time."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time.max.replace(microsecond=0)) if end else datetime.combine(day, time())
        parsed = datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        raise ConfigError(f"{text!r} is not a date", "write it as YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    return parsed.replace(tzinfo=None) if parsed.tzinfo else parsed


def apply_filters(frames: list[Frame], filters: ReportFilters) -> list[Frame]:
    """Frames in range (effort counts them all), with the observations the filters keep."""
    out = []
    deployments = set(filters.deployments)
    wanted = {s.strip().lower() for s in filters.species}
    for frame in frames:
        if deployments and frame.deployment_id not in deployments:
            continue
        if filters.window is not None:
            if frame.local is None:
                continue
            if filters.date_from is not None and frame.local < filters.date_from:
                continue
            if filters.date_until is not None and frame.local > filters.date_until:
                continue
        if filters.since and filters.last_report is not None and not _new_since(frame, filters.last_report):
            continue
        observations = frame.observations
        if filters.verified_only and not frame.verified:
            observations = [o for o in observations if o.kind != ANIMAL]
        if filters.min_confidence > 0:
            observations = [o for o in observations if o.method == "human" or o.kind != ANIMAL
                            or (o.probability or 0.0) >= filters.min_confidence]
        if wanted:
            observations = [o for o in observations if o.kind != ANIMAL or _matches(o.label, o.key, wanted)]
        if observations is not frame.observations:
            frame = replace(frame, observations=observations)
        out.append(frame)
    return out


def known_species_error(frames: list[Frame], species: tuple[str, ...]) -> str | None:
    """A wanted species no frame mentions: probably a typo, worth one clear line."""
    names = set()
    for frame in frames:
        for obs in frame.observations:
            if obs.kind == ANIMAL:
                names.update({obs.key, obs.label.lower(), scientific_name(obs.label).lower()})
    missing = [s for s in species if s.strip().lower() not in names]
    return ", ".join(missing) if missing else None


def _matches(label: str, key: str, wanted: set[str]) -> bool:
    return key in wanted or label.lower() in wanted or (scientific_name(label).lower() in wanted - {""})


def _new_since(frame: Frame, last: datetime) -> bool:
    for stamp in (frame.processed_at, frame.reviewed_at):
        if stamp:
            try:
                when = datetime.fromisoformat(stamp)
            except ValueError:
                continue
            if when.tzinfo is None:
                when = when.astimezone()
            if when > last:
                return True
    return False

