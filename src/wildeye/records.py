"""Plain result types at the bottom of the house: detections, their decisions, predictions."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Detection:
    """One MegaDetector box. bbox is normalized [x_min, y_min, width, height], origin top-left."""

    category: str  # "animal" | "person" | "vehicle"
    conf: float
    bbox: tuple[float, float, float, float]
    classifications: list[tuple[str, float]] = field(default_factory=list)  # (label, score), best first
    decision: "BoxDecision | None" = None  # what the ensemble decided for this box (from the journal)


@dataclass
class Prediction:
    """A decision at one level (detection, image or sequence)."""

    label: str  # species/taxon label, or "blank", "human", "vehicle", "animal"
    score: float
    source: str  # detector | classifier | sequence | rollup | geofence | human
    needs_review: bool = False
    review_reasons: list[str] = field(default_factory=list)


@dataclass
class BoxDecision:
    """The ensemble's decision for one box, as the journal keeps it beside the box and its classifications.

    label/score/source: wildeye's final per-box answer; speciesnet: SpeciesNet's own (label, score, source) for a
    classified box; counted: whether the box takes part in its image's decision; previous: the box's own answer
    when its burst relabelled it.
    """

    label: str
    score: float
    source: str
    rank: str | None = None
    counted: bool = True
    needs_review: bool = False
    review_reasons: list[str] = field(default_factory=list)
    speciesnet: Prediction | None = None
    previous: Prediction | None = None


# --- static (repeated) detections: a rock or stump boxed in many frames of one camera ----------------------

STATIC_CONFIRMED, STATIC_REAL_ANIMAL = "static", "animal"  # a reviewer's answers about a static cluster


@dataclass
class StaticCluster:
    """One place in a deployment's frames where the detector keeps boxing something, with the evidence.

    anchor: the first box seen there (the place other boxes are compared with, kept across runs so that new
    frames join the same cluster); members: (path, box index) of every box at the place; static: whether the
    evidence reaches the configured bar (clusters below it are kept only when a reviewer answered them)."""

    deployment_id: str
    cluster_id: str
    category: str
    anchor: tuple[float, float, float, float]
    members: list[tuple[str, int]] = field(default_factory=list)
    frames: int = 0
    sequences: int = 0
    days: int = 0
    first_seen: str | None = None
    last_seen: str | None = None
    mean_box: tuple[float, float, float, float] | None = None
    mean_conf: float = 0.0
    static: bool = False


@dataclass
class StaticReview:
    """A reviewer's answer for one static cluster: STATIC_CONFIRMED or STATIC_REAL_ANIMAL (never suppressed)."""

    deployment_id: str
    cluster_id: str
    category: str
    anchor: tuple[float, float, float, float]
    answer: str
    reviewer: str | None = None
    reviewed_at: str | None = None
    origin: str | None = None


@dataclass
class StaticMark:
    """A box's static mark as the journal keeps it: its cluster, and whether it is left out of decisions."""

    deployment_id: str
    cluster_id: str
    suppressed: bool
    answer: str | None = None
