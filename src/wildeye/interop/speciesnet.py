"""SpeciesNet's predictions.json (speciesnet.scripts.run_model), both generations of the format.

`{"predictions": [{filepath, failures, detections: [{category, label, conf, bbox}], model_version, ...}]}` with
either (SpeciesNet 4.x and 5.0) an image-level answer: `classifications: {classes, scores}` (the classifier's
top 5 on the top box's crop, or on the whole image), `prediction`, `prediction_score`, `prediction_source`;
or (SpeciesNet 5.x, its README "Output format from run_model") one answer per classified detection:
`raw_classifications: {classes, scores}` and `processed_classification: {class, score, source}`, where the
whole-image classifier adds a pseudo-detection of category "0" first. Labels are 7-field strings
'uuid;class;order;family;genus;species;common name'. `failures` lists the components that failed
(CLASSIFIER, DETECTOR, GEOLOCATION): an image is failed when nothing usable came out of it.
"""

from __future__ import annotations

from pathlib import Path

from wildeye.errors import ConfigError
from wildeye.interop import Imported, ImportedResult, bbox, load_json
from wildeye.interop.decide import box_decision
from wildeye.labels import parse
from wildeye.records import Detection, Prediction

_CATEGORIES = {"1": "animal", "animal": "animal", "2": "person", "human": "person", "person": "person",
               "3": "vehicle", "vehicle": "vehicle"}
WHOLE_IMAGE = ("0", "whole_image_classification")


def read_speciesnet(path: Path, document=None, **_) -> Imported:
    document = load_json(path) if document is None else document
    if not isinstance(document, dict) or not isinstance(document.get("predictions"), list):
        raise ConfigError(f"{path.name} is not a SpeciesNet predictions.json (no 'predictions' list)",
                          "pass the file `python -m speciesnet.scripts.run_model` wrote, or --format")
    out = Imported("speciesnet", path)
    versions: dict[str, int] = {}
    partial = 0
    for i, pred in enumerate(document["predictions"]):
        out.entries += 1
        if not isinstance(pred, dict) or not isinstance(pred.get("filepath"), str) or not pred["filepath"].strip():
            out.problem(f"predictions[{i}]", "no 'filepath'")
            continue
        file = pred["filepath"]
        if pred.get("model_version"):
            versions[str(pred["model_version"])] = versions.get(str(pred["model_version"]), 0) + 1
        failures = [str(f) for f in (pred.get("failures") or [])]
        try:
            result = _result(file, pred)
        except ValueError as exc:
            out.problem(file, str(exc))
            continue
        if result is None:
            what = ", ".join(failures) if failures else "no detections and no prediction"
            out.results.append(ImportedResult((file,), failure=f"SpeciesNet failure: {what}"))
            continue
        if failures:
            partial += 1
        out.results.append(result)
    version = max(versions, key=versions.get) if versions else None
    name = f"SpeciesNet {version}" if version else "SpeciesNet"
    out.models = {"detector": {"name": f"MegaDetector (run by {name})", "megadetector_version": "unknown"},
                  "classifier": {"name": name, "format_version": str((document.get("info") or {}).get(
                      "format_version", "")) if isinstance(document.get("info"), dict) else ""}}
    out.tool = name
    if partial:
        out.notes.append(f"{partial} image(s) with a component SpeciesNet reports as failed (e.g. GEOLOCATION): "
                         "imported with what did work")
    if len(versions) > 1:
        out.notes.append("several model versions in one file: " + ", ".join(sorted(versions)))
    return out


def _result(file: str, pred: dict) -> ImportedResult | None:
    detections = pred.get("detections")
    if detections is not None and not isinstance(detections, list):
        raise ValueError("'detections' is not a list")
    boxes: list[Detection] = []
    image = None
    for j, det in enumerate(detections or []):
        if not isinstance(det, dict):
            raise ValueError(f"detection {j} is not an object")
        category = str(det.get("category", det.get("label", "")))
        processed = det.get("processed_classification")
        raw = _classes(det.get("raw_classifications"), f"detection {j}'s raw_classifications")
        if category in WHOLE_IMAGE or det.get("label") == WHOLE_IMAGE[1]:
            if isinstance(processed, dict):
                image = _prediction(processed.get("class"), processed.get("score"), processed.get("source"), j)
            elif raw:
                image = Prediction(parse(raw[0][0]).plain, raw[0][1], "classifier")
            continue
        kind = _CATEGORIES.get(category) or _CATEGORIES.get(str(det.get("label", "")))
        if kind is None:
            raise ValueError(f"detection {j} has category {category!r}, not animal, human or vehicle")
        conf = det.get("conf")
        if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0 <= conf <= 1:
            raise ValueError(f"detection {j} has confidence {conf!r}, not a number in [0, 1]")
        box = Detection(kind, float(conf), bbox(det.get("bbox"), f"detection {j}'s bbox"), raw)
        if isinstance(processed, dict):
            p = _prediction(processed.get("class"), processed.get("score"), processed.get("source"), j)
            box.decision = box_decision(processed["class"], p.score, p.source)
            box.decision.speciesnet = Prediction(processed["class"], p.score, p.source)
        boxes.append(box)
    boxes.sort(key=lambda d: -d.conf)
    if pred.get("prediction") is not None:  # SpeciesNet 4.x: the image-level answer
        image = _prediction(pred.get("prediction"), pred.get("prediction_score"), pred.get("prediction_source"))
        top5 = _classes(pred.get("classifications"), "classifications")
        if top5 and boxes and not boxes[0].classifications:
            boxes[0].classifications = top5  # the classifier's crop was the top box's
    if image is None and not boxes and (pred.get("failures") or detections is None):
        return None
    return ImportedResult((file,), boxes, image)


def _prediction(label, score, source, j: int | None = None) -> Prediction:
    where = f"detection {j}'s processed_classification" if j is not None else "prediction"
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"{where} has no class")
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise ValueError(f"{where} has score {score!r}, not a number")
    return Prediction(parse(label).plain, float(score), str(source or "speciesnet"))


def _classes(value, where: str) -> list[tuple[str, float]]:
    if not value:
        return []
    if not isinstance(value, dict):
        raise ValueError(f"{where} is not {{classes, scores}}")
    classes, scores = value.get("classes") or [], value.get("scores") or []
    if not isinstance(classes, list) or not isinstance(scores, list) or len(classes) != len(scores):
        raise ValueError(f"{where}: classes and scores differ in length")
    out = []
    for label, score in zip(classes, scores):
        if not isinstance(label, str) or isinstance(score, bool) or not isinstance(score, (int, float)):
            raise ValueError(f"{where} holds {label!r}: {score!r}")
        out.append((label, float(score)))
    return sorted(out, key=lambda c: -c[1])
