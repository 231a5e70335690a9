"""What every report reads: the journal's frames with their final observations (a reviewer's word wins).

One `Frame` per media row, each with `Observation`s: one per counted box, or one for the whole frame (blank,
a reviewer's count without boxes, a burst label given to a frame without boxes). Everything comes through the
journal's typed readers (media, boxes with their own decisions, image decisions, human labels): no SQL here.
"""

from __future__ import annotations

import calendar
import functools
import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from wildeye import labels
from wildeye.labels import common_name

if TYPE_CHECKING:
    from wildeye.inference.types import Detection, Prediction
    from wildeye.store.journal import HumanLabel

ANIMAL, HUMAN, VEHICLE, BLANK, UNKNOWN, UNCLASSIFIED = "animal", "human", "vehicle", "blank", "unknown", "unclassified"
OBSERVATION_TYPES = (ANIMAL, HUMAN, VEHICLE, BLANK, UNKNOWN, UNCLASSIFIED)  # Camtrap DP observationType


@functools.lru_cache(maxsize=4096)
def label_kind(label: str) -> str:
    """Camtrap DP observationType of a label: animal (any taxon, "animal" too), human, vehicle, blank, unknown."""
    if " ".join(label.split()).lower() == UNCLASSIFIED:
        return UNCLASSIFIED
    kind = labels.kind(label)
    return ANIMAL if kind == labels.TAXON else kind


@functools.lru_cache(maxsize=4096)
def species_key(label: str) -> str:
    """Events group by what a person calls the animal, so '…;snow leopard' and a reviewer's 'Snow leopard' agree."""
    return common_name(label).strip().lower()


def scientific_name(label: str) -> str:
    """Latin name for a 7-field label ("Panthera uncia", "Felidae"), "" when the label carries none."""
    return labels.scientific_name(label) or ""


def taxon_rank(label: str) -> str | None:
    return labels.parse(label).rank if len(label.split(";")) == 7 else None


@dataclass
class Observation:
    """One thing seen in one frame: a box (count 1) or the frame as a whole."""

    label: str
    kind: str  # one of OBSERVATION_TYPES
    count: int | None = None
    probability: float | None = None  # classification score; 1.0 for a reviewer
    bbox: tuple[float, float, float, float] | None = None  # normalized x, y, w, h, top-left origin
    det_conf: float | None = None  # the detector's box confidence
    category: str | None = None  # the detector's category of the box: animal, person, vehicle
    method: str = "machine"  # Camtrap DP classificationMethod: human | machine
    by: str | None = None  # model name or reviewer
    at: str | None = None  # when it was classified (ISO 8601)

    @property
    def key(self) -> str:
        return species_key(self.label)


@dataclass
class VideoClip:
    """What a video frame (a media row of kind video) adds: its sampled frames, each with its boxes, and the best
    frame, whose boxes are the video's (`Frame.boxes`, decided as a still's; inference.video)."""

    frame_rate: float | None
    frame_count: int | None
    every_n_frames: int
    best_frame: int | None
    frames: list = field(default_factory=list)  # store.journal.Journal.VideoFrame: number, time, detections

    @property
    def duration(self) -> float | None:
        return self.frame_count / self.frame_rate if self.frame_rate and self.frame_count else None

    @property
    def best_time(self) -> float | None:
        return self.best_frame / self.frame_rate if self.frame_rate and self.best_frame is not None else None


@dataclass
class Frame:
    path: str
    deployment_id: str
    sequence_id: str | None
    frame_num: int | None
    seq_num_frames: int | None
    timestamp: str | None  # as in the journal (corrected capture time)
    status: str
    failure: str | None
    width: int | None
    height: int | None
    processed_at: str | None = None
    when: datetime | None = None  # aware when the zone is known
    local: datetime | None = None  # naive wall-clock time at the deployment
    seconds: float | None = None  # sortable instant within the deployment
    observations: list[Observation] = field(default_factory=list)
    verified: bool = False  # a reviewer confirmed this frame's label
    reviewed_at: str | None = None
    boxes: list[Detection] = field(default_factory=list)  # every machine box, each with its own decision
    static_boxes: frozenset[int] = frozenset()  # indices into boxes the journal marks static and suppressed
    kind: str = "image"  # image | video
    video: VideoClip | None = None  # a processed video's frames and best frame

    def species(self, key_of=None) -> dict[str, tuple[int, float, Observation]]:
        """Animal observations by species key: (individuals in this frame, best probability, best observation).
        key_of: label -> key to group by instead (a taxon at a rank, ecology.ranks)."""
        found: dict[str, list] = {}
        for obs in self.observations:
            if obs.kind != ANIMAL:
                continue
            rank = (obs.probability or 0.0, obs.det_conf or 0.0, obs.bbox is not None)
            entry = found.setdefault(key_of(obs.label) if key_of else obs.key, [0, rank, obs])
            entry[0] += obs.count or 1
            if rank > entry[1]:
                entry[1], entry[2] = rank, obs
        return {key: (n, rank[0], obs) for key, (n, rank, obs) in found.items()}


@dataclass
class ReportData:
    frames: list[Frame]
    deployments: dict  # deployment_id -> DeploymentInfo (from the manifest, or bare ones from the journal)
    timezones: dict  # deployment_id -> tzinfo | None
    source: str | None
    models: dict  # what the last run recorded about its models
    detection_threshold: float  # the last run's (Journal.detection_threshold)
    notes: list[str] = field(default_factory=list)


def load(out_dir: str | Path, journal=None) -> ReportData:
    """Read the run folder's journal (read-only): frames, decisions, deployments. Never runs a model.

    Journals written before deployments were kept in the journal fall back to the folder's manifest.json."""
    from wildeye.ingest.deployments import parse_timezone
    from wildeye.ingest.manifest import MANIFEST_NAME, DeploymentInfo, Manifest
    from wildeye.store.journal import Journal

    out_dir = Path(out_dir)
    own = journal is None
    journal = journal or Journal.open(out_dir, write=False)
    try:
        notes: list[str] = []
        deployments: dict[str, DeploymentInfo] = journal.deployments()
        manifest_path = out_dir / MANIFEST_NAME
        if not deployments and manifest_path.exists():
            deployments = {info.deployment_id: info for info in Manifest.read(manifest_path).deployments}
        elif not deployments:
            notes.append("the journal and the folder hold no deployments: no coordinates, times or time zones")
        run = journal.last_run()
        models = run.models if run else {}
        threshold = journal.detection_threshold()
        with _cyclic_gc_paused():
            frames = _read_frames(journal, models)
        for frame in frames:
            if frame.deployment_id not in deployments:
                deployments[frame.deployment_id] = DeploymentInfo(deployment_id=frame.deployment_id, source="journal")
        timezones = {}
        for dep_id, info in deployments.items():
            timezones[dep_id] = parse_timezone(info.timezone) if info.timezone else None
        _place_in_time(frames, timezones)
        return ReportData(frames, deployments, timezones, journal.get_meta("source"), models, threshold, notes)
    finally:
        if own:
            journal.close()


@contextmanager
def _cyclic_gc_paused():
    """Reading builds a few hundred thousand small records (frames, boxes, decisions, observations) that hold no
    reference cycles; left on, the cyclic collector rescans them again and again (about a third of the load
    time at 100,000 frames). Reference counting still frees them; the collector is back on afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_frames(journal, models: dict) -> list[Frame]:
    """Frames with their final observations, from the journal's typed readers (media, boxes with their own
    decisions, image decisions, human labels)."""
    frames: dict[str, Frame] = {}
    for m in journal.media_records():
        frames[m.path] = Frame(m.path, m.deployment_id or "unknown", m.sequence_id, m.frame_num, m.seq_num_frames,
                               m.timestamp, m.status, m.failure, m.width, m.height, m.processed_at)
    boxes = journal.detections()
    decisions = journal.decisions()
    humans = journal.human_labels()
    static: dict[str, set[int]] = {}
    for (path, index), mark in journal.static_marks().items():
        if mark.suppressed:
            static.setdefault(path, set()).add(index)
    model = classified_by(models)
    kinds = journal.media_kinds()
    videos = journal.videos()
    sampled = journal.video_frames() if videos else {}
    for path, frame in frames.items():
        frame.boxes = boxes.get(path, [])
        frame.static_boxes = frozenset(static.get(path, ()))
        frame.kind = kinds.get(path) or "image"
        clip = videos.get(path)
        if clip is not None:
            frame.video = VideoClip(clip.frame_rate, clip.frame_count, clip.every_n_frames, clip.best_frame,
                                    sampled.get(path, []))
        decision = decisions.get(path)
        machine = _machine_observations(frame.boxes, decision, model, frame.processed_at) if decision else []
        human = humans.get(path)
        if human is not None:
            frame.observations = _human_observations(human, machine)
            frame.verified = human.verified
            frame.reviewed_at = human.reviewed_at
        elif frame.status == "done" and decision is not None:
            frame.observations = machine
        else:
            frame.observations = [Observation("unclassified", UNCLASSIFIED)]
    return list(frames.values())


def classified_by(models: dict) -> dict[str, str]:
    """Camtrap DP classifiedBy ("name or identifier of the person or AI algorithm that (most recently) classified
    the observation") per decision source: 'detector' for what MegaDetector alone decided (blank frames, people,
    vehicles above its threshold), 'classifier' for the rest. A model's name, with its version when the run recorded
    one the name does not already hold; 'wildeye <version>' when the journal names no model."""
    from wildeye import __version__

    def named(info: dict | None) -> str | None:
        if not info or not info.get("name"):
            return None
        name = str(info["name"])
        version = info.get("version") or info.get("megadetector_version")
        if version and str(version) != "unknown" and str(version).lower() not in name.lower():
            name = f"{name} {version}"
        return name

    detector, classifier = named(models.get("detector")), named(models.get("classifier"))
    fallback = f"wildeye {__version__}"
    return {"detector": detector or classifier or fallback, "classifier": classifier or detector or fallback}


def _machine_observations(boxes: list[Detection], decision: Prediction, models: dict[str, str], at
                          ) -> list[Observation]:
    """One observation per box the ensemble counted, with that box's own decision (the journal keeps it per box)."""
    out = []
    for box in boxes:
        d = box.decision
        if d is None or not d.counted:
            continue
        kind = label_kind(d.label)
        if kind == BLANK:
            continue  # the classifier says the box holds nothing: not counted
        out.append(Observation(d.label, kind, 1, float(d.score), tuple(box.bbox), float(box.conf), box.category,
                               "machine", _by(models, d.source), at))
    label, score = decision.label, float(decision.score)
    model = _by(models, decision.source)
    kind = label_kind(label)
    if kind != BLANK and (not out or species_key(label) not in {species_key(o.label) for o in out}):
        # a burst label given to a frame whose boxes did not say it (or that has none)
        out.append(Observation(label, kind, 1, score, None, None, None, "machine", model, at))
    if not out:
        out.append(Observation(label, BLANK, None, score, None, None, None, "machine", model, at))
    return out


def _by(models: dict[str, str], source: str | None) -> str:
    return models["detector"] if source == "detector" else models["classifier"]


def _human_observations(human: HumanLabel, machine: list[Observation]) -> list[Observation]:
    label, count, reviewer, reviewed_at = human.label, human.count, human.reviewer, human.reviewed_at
    kind = label_kind(label)
    drawn = human.boxes

    def obs(lab, n=1, bbox=None, det_conf=None, category=None):
        return Observation(lab, label_kind(lab), n, 1.0, bbox, det_conf, category, "human", reviewer, reviewed_at)

    if kind == BLANK:
        return [obs(label, None)]
    if drawn:
        out = [obs(b.get("label") or label, 1, tuple(b["bbox"]), 1.0, _category(b.get("label") or label))
               for b in drawn]
        if count is not None:  # the reviewer's count wins over the boxes they drew for their label
            same = [o for o in out if o.key == species_key(label)]
            if len(same) != count:
                out = [o for o in out if o.key != species_key(label)] + [obs(label, count)]
        return out
    # No boxes drawn: the machine boxes of the same kind of thing now carry the reviewer's label.
    carried = [o for o in machine if o.bbox is not None and (o.kind == kind or o.category == _category(label))]
    if count is not None and count != len(carried) or not carried:
        return [obs(label, count if count is not None else 1)]
    return [obs(label, 1, o.bbox, o.det_conf, o.category) for o in carried]


def _category(label: str) -> str:
    return {HUMAN: "person", VEHICLE: "vehicle"}.get(label_kind(label), "animal")


def wall_clock(when: datetime, tz: tzinfo | None) -> datetime:
    """Naive wall-clock time at a deployment (its zone `tz`, when known) of an aware or naive instant."""
    if when.tzinfo is None:
        return when
    return (when.astimezone(tz) if tz is not None else when).replace(tzinfo=None)


def _place_in_time(frames: list[Frame], timezones: dict[str, tzinfo | None]) -> None:
    """Parse timestamps once. Aware times are shown in the deployment's zone; naive ones are its wall clock."""
    for frame in frames:
        if not frame.timestamp:
            continue
        try:
            when = datetime.fromisoformat(frame.timestamp)
        except ValueError:
            frame.timestamp = None
            continue
        tz = timezones.get(frame.deployment_id)
        if when.tzinfo is None and tz is not None:
            when = when.replace(tzinfo=tz)
        frame.when = when
        frame.local = wall_clock(when, tz)
        if when.tzinfo is None:
            frame.seconds = calendar.timegm(when.timetuple()) + when.microsecond / 1e6
        else:
            frame.seconds = when.timestamp()
