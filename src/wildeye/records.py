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
