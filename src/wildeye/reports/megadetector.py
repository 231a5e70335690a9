"""MegaDetector batch output format 1.6, so Timelapse, AddaxAI and MegaDetector's own tools open wildeye results.

Field names, types and rounding follow MegaDetector's `run_detector_batch.write_results_to_file` and
`postprocessing/validate_batch_results.py`: string category ids, float confidences (3 digits), normalized
[x_min, y_min, width, height] boxes (4 digits), `detections: null` plus a `failure` string for failed images,
classifications as [category_id, score] pairs with common names in `classification_categories` and full
taxonomy strings in `classification_category_descriptions`.
"""

from __future__ import annotations

from datetime import datetime

from wildeye.config import FALLBACK_DETECTION_THRESHOLD
from wildeye.labels import CATEGORY_IDS, DETECTION_CATEGORIES, common_name

FORMAT_VERSION = "1.6"
CONF_DIGITS = 3
COORD_DIGITS = 4
TOP_N_CLASSIFICATIONS = 5


class _Categories:
    """Assigns string-int ids to classifier labels in order of first use, keyed by common name."""

    def __init__(self):
        self.names: dict[str, str] = {}
        self.descriptions: dict[str, str] = {}
        self._by_name: dict[str, str] = {}

    def id_for(self, label: str) -> str:
        name = common_name(label)
        if name not in self._by_name:
            key = str(len(self._by_name))
            self._by_name[name] = key
            self.names[key] = name
            if ";" in label:
                self.descriptions[key] = label
        return self._by_name[name]




def megadetector_output(journal, detector_info: dict, classifier_name: str | None = None,
                        detection_completion_time: str | None = None) -> dict:
    """Build the format-1.6 document from the journal (images sorted by file, detections by confidence)."""
    detections = journal.detections()
    categories = _Categories()
    images = []
    for media in journal.media():
        if media.status == "done":
            dets = sorted(detections.get(media.path, []), key=lambda d: -d.conf)
            entry = {"file": media.path, "detections": [_detection(d, categories) for d in dets]}
        elif media.status == "failed":
            entry = {"file": media.path, "failure": media.failure or "image access failure", "detections": None}
        else:
            continue  # pending, duplicates, videos: not results
        images.append(entry)
    now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    info = {
        "format_version": FORMAT_VERSION,
        "detector": detector_info.get("filename", "unknown"),
        "detection_completion_time": detection_completion_time or now,
        "detector_metadata": {
            "megadetector_version": detector_info.get("megadetector_version", "unknown"),
            "typical_detection_threshold": float(detector_info.get("typical_detection_threshold",
                                                                          FALLBACK_DETECTION_THRESHOLD)),
            "conservative_detection_threshold": float(detector_info.get("conservative_detection_threshold", 0.05)),
        },
    }
    document = {"info": info, "detection_categories": dict(DETECTION_CATEGORIES)}
    if classifier_name:
        info["classifier"] = classifier_name
        info["classification_completion_time"] = now
        document["classification_categories"] = categories.names
        if categories.descriptions:
            document["classification_category_descriptions"] = categories.descriptions
    document["images"] = images
    return document


def _detection(det, categories: _Categories) -> dict:
    out = {
        "category": CATEGORY_IDS[det.category],
        "conf": round(float(det.conf), CONF_DIGITS),
        "bbox": [round(float(v), COORD_DIGITS) for v in det.bbox],
    }
    if det.classifications:
        out["classifications"] = [[categories.id_for(label), round(float(score), CONF_DIGITS)]
                                  for label, score in det.classifications[:TOP_N_CLASSIFICATIONS]]
    return out
