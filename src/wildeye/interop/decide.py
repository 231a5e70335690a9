"""The decisions an imported result needs in the journal, taken from what the file says, never re-derived by
wildeye's ensemble (the file's tool already decided; its answer is what is imported).

Per box, where the file gives no answer of its own, a box at or above the detection threshold is labelled with
the file's image label when the file gives one of the box's kind (SpeciesNet 4 decides the image, not its boxes:
three elephant boxes are three elephants), else with its top classification (MegaDetector's format lists a box's
classifications best first), else with its detector category (animal / human / vehicle). Which boxes count and
the image label follow wildeye's ensemble (`inference.ensemble.Ensemble._counts` and `_summarize`), so imported
and wildeye's own runs read the same way: a box counts unless it was called blank, when it is at or above the
threshold or a classifier named it; the image label is the most confident counted box's, else blank (score 1 -
the top box's confidence).
"""

from __future__ import annotations

from wildeye.interop import ImportedResult
from wildeye.labels import ANIMAL, BLANK, HUMAN, TAXON, UNKNOWN, VEHICLE, detection_category, parse
from wildeye.records import BoxDecision, Detection, Prediction

CATEGORY_LABELS = {"animal": "animal", "person": HUMAN, "vehicle": VEHICLE}


def decide(result: ImportedResult, threshold: float) -> Prediction | None:
    """Fill in every box's decision and return the image label (the file's own when it gives one); None for a
    failed image."""
    if result.failure is not None:
        return None
    for det in result.detections:
        if det.decision is None and det.conf >= threshold:
            if result.image is not None and _fits(det.category, result.image.label):
                det.decision = box_decision(result.image.label, result.image.score, result.image.source)
            elif det.classifications:
                label, score = det.classifications[0]
                det.decision = box_decision(label, score, "classifier")
            else:
                det.decision = box_decision(CATEGORY_LABELS[detection_category(det.category)], det.conf, "detector")
        if det.decision is not None and not result.final_boxes:
            det.decision.counted = counts(det, threshold)
    return result.image or summarize(result.detections)


def _fits(category: str, label: str) -> bool:
    """Whether a label can name what a box of this detector category holds."""
    kind = parse(label).kind
    return {"animal": kind in (TAXON, ANIMAL), "person": kind == HUMAN,
            "vehicle": kind == VEHICLE}[detection_category(category)]


def box_decision(label: str, score: float, source: str) -> BoxDecision:
    parsed = parse(label)
    return BoxDecision(parsed.plain, float(score), source, parsed.rank)


def counts(det: Detection, threshold: float) -> bool:
    d = det.decision
    if d is None or parse(d.label).kind == BLANK:
        return False
    if det.conf >= threshold:
        return True
    return d.source.startswith("classifier") and parse(d.label).kind in (TAXON, HUMAN, VEHICLE)


def summarize(detections: list[Detection]) -> Prediction:
    counted = [d for d in detections if d.decision is not None and d.decision.counted]
    if counted:
        best = max(counted, key=lambda d: (d.decision.label != UNKNOWN, d.conf, d.decision.score))
        return Prediction(best.decision.label, best.decision.score, best.decision.source)
    called_blank = [d for d in detections if d.decision is not None]
    if called_blank:
        return Prediction(BLANK, min(d.decision.score for d in called_blank), "classifier")
    top = max((d.conf for d in detections), default=0.0)
    return Prediction(BLANK, round(1.0 - top, 6), "detector")
