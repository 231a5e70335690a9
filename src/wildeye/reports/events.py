"""Independent events (sightings): one species at one deployment, split by a gap without that species.

The field's convention: detections of a species at a camera separated by at least 30 minutes are independent.
The gap runs from the last frame showing the species, so a fox that stays for two hours is one event. An
event's count is the most individuals seen in any one frame (boxes of that species, or a reviewer's count).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from wildeye.ecology.ranks import RankedTaxon
from wildeye.labels import common_name
from wildeye.reports.frames import Frame, Observation, scientific_name
from wildeye.reports.taxa import is_identified

DEFAULT_GAP_S = 30 * 60


@dataclass
class Event:
    event_id: str
    deployment_id: str
    species: str  # the species key (lower-case common name)
    label: str  # the most informative label seen (a 7-field SpeciesNet label when there is one)
    start: Frame
    end: Frame
    frames: list[str] = field(default_factory=list)
    count: int = 0  # max individuals in one frame
    confidence: float = 0.0  # best classification probability in the event (1.0 once a reviewer said so)
    verified_frames: int = 0  # frames a reviewer confirmed
    best: Frame | None = None
    best_observation: Observation | None = None
    reviewed: Observation | None = None  # the reviewer's latest observation of this species in the event, if any
    taxon: RankedTaxon | None = None  # what the event counts as at the report's rank (ecology.ranks)

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    @property
    def verified(self) -> bool:
        return self.verified_frames > 0

    @property
    def name(self) -> str:
        if self.taxon is not None and self.taxon.counted:
            return self.taxon.name  # at genus rank and above: the taxon, not the species the label names
        return common_name(self.label)

    @property
    def scientific_name(self) -> str:
        return scientific_name(self.label)

    @property
    def identified(self) -> bool:
        """Counted as a taxon at the report's rank (ecology.ranks): 'animal' (the kingdom), unknowns and taxa above
        the rank are events, but no species. Without a rank: named to any taxon (taxa.is_identified)."""
        if self.taxon is not None:
            return self.taxon.counted
        return is_identified(self.label)

    @property
    def classification(self) -> Observation | None:
        """Who decided the event's label: the reviewer when one confirmed a frame, else the best machine answer."""
        return self.reviewed or self.best_observation

    @property
    def duration_s(self) -> float:
        return (self.end.seconds or 0.0) - (self.start.seconds or 0.0)


def independent_events(frames: list[Frame], gap_s: float = DEFAULT_GAP_S, taxon_of=None) -> list[Event]:
    """Events of every species at every deployment, ordered by deployment, start and species.

    A frame at exactly `gap_s` after the species was last seen starts a new event. Frames without a capture
    time cannot be placed and take part in no event. taxon_of: label -> ecology.ranks.RankedTaxon (a RankMapper):
    events are then of taxa at its rank (two species of one genus are one genus event), and each knows whether
    it counts.
    """
    key_of = (lambda label: taxon_of(label).key) if taxon_of is not None else None
    seen: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for frame in frames:
        if frame.seconds is None:
            continue
        for key, (count, confidence, obs) in frame.species(key_of).items():
            seen[(frame.deployment_id, key)].append((frame.seconds, frame.path, frame, count, confidence, obs))
    events: list[Event] = []
    for (deployment_id, key), items in seen.items():
        items.sort(key=lambda item: (item[0], item[1]))
        current: Event | None = None
        last = 0.0
        labels: Counter = Counter()
        for seconds, path, frame, count, confidence, obs in items:
            if current is None or seconds - last >= gap_s:
                if current is not None:
                    _finish(current, labels)
                current = Event("", deployment_id, key, obs.label, frame, frame)
                labels = Counter()
                events.append(current)
            last = seconds
            current.end = frame
            current.frames.append(path)
            labels[obs.label] += 1
            current.count = max(current.count, count)
            current.verified_frames += frame.verified
            if obs.method == "human":
                current.reviewed = obs
            rank = (confidence, count, obs.det_conf or 0.0)
            if current.best is None or rank > _rank(current):
                current.best, current.best_observation, current.confidence = frame, obs, confidence
        if current is not None:
            _finish(current, labels)
    if taxon_of is not None:
        for event in events:
            event.taxon = taxon_of(event.label)
    events.sort(key=lambda e: (e.deployment_id, e.start.seconds, e.species))
    return events


def _rank(event: Event) -> tuple:
    obs = event.best_observation
    count = sum(o.count or 1 for o in event.best.observations if o.label == obs.label or o.key == event.species)
    return (event.confidence, count, obs.det_conf or 0.0)


def _finish(event: Event, labels: Counter) -> None:
    # prefer a label that carries taxonomy (7 fields), then the most frequent one
    event.label = max(labels, key=lambda label: (len(label.split(";")) == 7, labels[label]))
    stamp = event.start.local.strftime("%Y%m%dT%H%M%S") if event.start.local else "undated"
    event.event_id = f"{_slug(event.deployment_id)}-{_slug(event.species)}-{stamp}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "x"


def diel_activity(events: list[Event]) -> dict[str, list[int]]:
    """Events by hour of day (deployment local time of the event's first frame), per species."""
    out: dict[str, list[int]] = {}
    for event in events:
        if event.start.local is None:
            continue
        out.setdefault(event.species, [0] * 24)[event.start.local.hour] += 1
    return dict(sorted(out.items()))
