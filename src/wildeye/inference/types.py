"""Plain result types shared by the detector, classifier, ensemble and journal."""

from __future__ import annotations

from dataclasses import dataclass, field

# MegaDetector's category ids, as its batch output format writes them.
DETECTION_CATEGORIES = {"1": "animal", "2": "person", "3": "vehicle"}
CATEGORY_IDS = {name: key for key, name in DETECTION_CATEGORIES.items()}


@dataclass
class Detection:
    """One MegaDetector box. bbox is normalized [x_min, y_min, width, height], origin top-left."""

    category: str  # "animal" | "person" | "vehicle"
    conf: float
    bbox: tuple[float, float, float, float]
    classifications: list[tuple[str, float]] = field(default_factory=list)  # (label, score), best first


@dataclass
class Prediction:
    """A decision at one level (detection, image or sequence)."""

    label: str  # species/taxon label, or "blank", "human", "vehicle", "animal"
    score: float
    source: str  # detector | classifier | sequence | rollup | geofence | human
    needs_review: bool = False
    review_reasons: list[str] = field(default_factory=list)
