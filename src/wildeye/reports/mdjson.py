"""MegaDetector batch output 1.6 with the reviewers' word in it: the reviewed twin of `wildeye run`'s file.

Same format and rounding as `reports.megadetector` (which writes the raw model output), but every counted box
carries its final label as its first classification: a reviewer's label (score 1.0) where there is one, else the
ensemble's. Boxes a reviewer drew replace the model's; a frame a reviewer called blank has no detections.
Frame-level labels without a box (a count typed in by a reviewer) cannot be expressed in this format.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from wildeye.config import FALLBACK_DETECTION_THRESHOLD
from wildeye.labels import CATEGORY_IDS, DETECTION_CATEGORIES
from wildeye.labels import common_name
from wildeye.reports.frames import ANIMAL, BLANK, HUMAN, VEHICLE, Frame, label_kind
from wildeye.reports.megadetector import CONF_DIGITS, COORD_DIGITS, FORMAT_VERSION

_KIND_CATEGORY = {ANIMAL: "animal", HUMAN: "person", VEHICLE: "vehicle"}


def reviewed_output(frames: list[Frame], models: dict) -> dict:
    detector = models.get("detector") or {}
    labels: dict[str, str] = {}  # label -> category id

    def cid(label: str) -> str:
        return labels.setdefault(label, str(len(labels)))

    images = []
    for frame in frames:
        if frame.status == "failed":
            images.append({"file": frame.path, "failure": frame.failure or "image access failure", "detections": None})
            continue
        if frame.status != "done":
            continue
        dets, shown = [], set()
        human_blank = any(o.method == "human" and o.kind == BLANK for o in frame.observations)
        for obs in frame.observations:
            if obs.bbox is None or obs.kind not in _KIND_CATEGORY:
                continue
            det = {"category": CATEGORY_IDS[obs.category or _KIND_CATEGORY[obs.kind]],
                   "conf": round(float(obs.det_conf if obs.det_conf is not None else 1.0), CONF_DIGITS),
                   "bbox": [round(float(v), COORD_DIGITS) for v in obs.bbox]}
            if obs.kind == ANIMAL:
                det["classifications"] = [[cid(obs.label), round(float(obs.probability or 0.0), CONF_DIGITS)]]
            dets.append(det)
            shown.add(tuple(obs.bbox))
        drawn = any(o.method == "human" and o.bbox is not None and o.det_conf == 1.0 for o in frame.observations)
        if not human_blank and not drawn:
            for box in frame.boxes:  # boxes no decision counted (below threshold, blank crops)
                if tuple(box.bbox) not in shown:
                    dets.append({"category": CATEGORY_IDS.get(box.category, "1"),
                                 "conf": round(float(box.conf), CONF_DIGITS),
                                 "bbox": [round(float(v), COORD_DIGITS) for v in box.bbox]})
        dets.sort(key=lambda d: -d["conf"])
        images.append({"file": frame.path, "detections": dets})
    now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    info = {"format_version": FORMAT_VERSION, "detector": detector.get("filename", "unknown"),
            "detection_completion_time": now,
            "detector_metadata": {
                "megadetector_version": detector.get("megadetector_version", "unknown"),
                "typical_detection_threshold": float(detector.get("typical_detection_threshold",
                                                                     FALLBACK_DETECTION_THRESHOLD)),
                "conservative_detection_threshold": float(detector.get("conservative_detection_threshold", 0.05))},
            "classifier": ((models.get("classifier") or {}).get("name") or "wildeye") + " + human review",
            "classification_completion_time": now}
    document = {"info": info, "detection_categories": dict(DETECTION_CATEGORIES),
                "classification_categories": {key: common_name(label) for label, key in labels.items()}}
    descriptions = {key: label for label, key in labels.items() if len(label.split(";")) == 7}
    if descriptions:
        document["classification_category_descriptions"] = descriptions
    document["images"] = images
    return document


def read_observations(path: Path) -> list[dict]:
    """Classified boxes of a 1.6 file as {file, label, kind, bbox, conf}: for round trips and other tools' files."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    names = doc.get("classification_categories", {})
    descriptions = doc.get("classification_category_descriptions", {})
    out = []
    for image in doc["images"]:
        for det in image.get("detections") or []:
            category = doc["detection_categories"][det["category"]]
            if det.get("classifications"):
                key, score = det["classifications"][0]
                label = descriptions.get(key) or names[key]
            elif category in ("person", "vehicle"):
                label, score = ("human" if category == "person" else "vehicle"), None
            else:
                continue  # an unclassified animal box: not an observation
            out.append({"file": image["file"], "label": label, "kind": label_kind(label),
                        "bbox": tuple(det["bbox"]), "conf": det["conf"], "probability": score})
    return out
