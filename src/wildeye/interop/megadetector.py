"""MegaDetector batch output (format 1.0-1.6), as MegaDetector, AddaxAI and EcoAssist write it.

The format (lila.science/megadetector-output-format; MegaDetector's postprocessing/validate_batch_results.py):
`images: [{file, detections: [{category, conf, bbox: [x_min, y_min, width, height] normalized, classifications:
[[class_id, conf], ...]}], failure}]`, `detection_categories` (id -> animal / person / vehicle),
`classification_categories` (id -> name) and, since 1.4, `classification_category_descriptions` (id -> a
taxonomy string; SpeciesNet's 7-field label when the classifier was SpeciesNet). A failed image has
`detections: null` and a `failure` string. Older files (1.0-1.2) carry `max_detection_conf` per image (ignored:
it is the max of the boxes' confidences), may lack `info` and `detection_categories` (MegaDetector's own
defaults 1/2/3 apply) and write `format_version` as a number. A negative confidence is MegaDetector's repeat
detection elimination's mark (`repeat_detections_core._update_detection_table` negates boxes it found at the same
place in many frames): such boxes are not imported, and the note says how many. Video entries (`frame_rate`, boxes
with `frame_number`) are not imported: imports cover stills; `wildeye run` processes videos itself.
"""

from __future__ import annotations

from pathlib import Path

from wildeye.errors import ConfigError
from wildeye.interop import Imported, ImportedResult, bbox, load_json
from wildeye.labels import DETECTION_CATEGORIES, detection_category
from wildeye.records import Detection

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".wmv", ".m4v", ".mpg", ".mpeg")


def read_megadetector(path: Path, document=None, **_) -> Imported:
    document = load_json(path) if document is None else document
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        raise ConfigError(f"{path.name} is not MegaDetector batch output (no 'images' list)",
                          "pass the .json file MegaDetector, AddaxAI or EcoAssist wrote, or --format")
    info = document.get("info") if isinstance(document.get("info"), dict) else {}
    categories = document.get("detection_categories") or dict(DETECTION_CATEGORIES)
    if not isinstance(categories, dict):
        raise ConfigError(f"{path.name}: detection_categories is not an object", "pass the file MegaDetector wrote")
    kinds = {}
    for key, name in categories.items():
        try:
            kinds[str(key)] = detection_category(str(name))
        except ValueError:
            kinds[str(key)] = None  # a category wildeye has no use for (another detector's "group", "unknown")
    names = _class_names(document)
    out = Imported("megadetector", path)
    out.models, out.tool = _models(info, path)
    out.detection_threshold = _threshold(info)
    skipped_categories: dict[str, int] = {}
    videos = repeats = 0
    for i, image in enumerate(document["images"]):
        out.entries += 1
        where = f"images[{i}]"
        if not isinstance(image, dict) or not isinstance(image.get("file"), str) or not image["file"].strip():
            out.problem(where, "no 'file' name")
            continue
        file = image["file"]
        where = file
        if file.lower().endswith(VIDEO_SUFFIXES) or "frame_rate" in image:
            videos += 1
            continue
        failure = image.get("failure")
        detections = image.get("detections")
        if failure:
            out.results.append(ImportedResult((file,), failure=f"{failure} (reported by {_tool_word(out)})"))
            continue
        if not isinstance(detections, list):
            out.problem(where, "'detections' is neither a list nor null with a 'failure'")
            continue
        try:
            boxes = []
            for j, det in enumerate(detections):
                if not isinstance(det, dict):
                    raise ValueError(f"detection {j} is not an object")
                category = str(det.get("category"))
                if category not in kinds:
                    raise ValueError(f"detection {j} has category {category!r}, not in detection_categories")
                kind = kinds[category]
                if kind is None:
                    name = str(categories[category])
                    skipped_categories[name] = skipped_categories.get(name, 0) + 1
                    continue
                conf = det.get("conf", det.get("confidence"))
                if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not -1 <= conf <= 1:
                    raise ValueError(f"detection {j} has confidence {conf!r}, not a number in [0, 1]")
                if conf < 0:  # repeat detection elimination's mark: a rock or stump, not a detection
                    repeats += 1
                    continue
                box = bbox(det.get("bbox"), f"detection {j}'s bbox")
                boxes.append(Detection(kind, float(conf), box, _classifications(det.get("classifications"), names, j)))
        except ValueError as exc:
            out.problem(where, str(exc))
            continue
        boxes.sort(key=lambda d: -d.conf)  # the format lists boxes by confidence; some tools do not
        out.results.append(ImportedResult((file,), boxes))
    if "classifier" not in out.models and any(d.classifications for r in out.results for d in r.detections):
        out.models["classifier"] = {"name": f"classifier named in {path.name}"}
        out.tool += " + a classifier"
    if repeats:
        out.notes.append(f"{repeats} box(es) with negative confidence (marked by repeat detection elimination) not "
                         "imported")
    if videos:
        out.notes.append(f"{videos} video entr{'y' if videos == 1 else 'ies'} not imported (imports cover "
                         "stills; `wildeye run` processes videos)")
    for name, n in sorted(skipped_categories.items()):
        out.notes.append(f"{n} box(es) of detection category {name!r} not imported (wildeye knows animal, person, "
                         "vehicle)")
    return out


def _class_names(document: dict) -> dict[str, str]:
    """Classification id -> label: the description when it is a 7-field SpeciesNet label, else the name."""
    names = document.get("classification_categories") or {}
    descriptions = document.get("classification_category_descriptions") or {}
    if not isinstance(names, dict) or not isinstance(descriptions, dict):
        raise ConfigError("classification_categories is not an object", "pass the file the tool wrote")
    out = {}
    for key, name in names.items():
        description = descriptions.get(key)
        label = description if isinstance(description, str) and description.count(";") == 6 else name
        out[str(key)] = " ".join(str(label).split())
    return out


def _classifications(value, names: dict[str, str], j: int) -> list[tuple[str, float]]:
    if not value:
        return []
    if not isinstance(value, list):
        raise ValueError(f"detection {j}'s classifications is not a list")
    out = []
    for pair in value:
        if not isinstance(pair, (list, tuple)) or len(pair) < 2:
            raise ValueError(f"detection {j} has a classification that is not [class_id, conf]")
        key, score = str(pair[0]), pair[1]
        if key not in names:
            raise ValueError(f"detection {j} has classification {key!r}, not in classification_categories")
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise ValueError(f"detection {j} has a classification score {score!r}, not a number")
        out.append((names[key], float(score)))
    out.sort(key=lambda c: -c[1])
    return out


def _threshold(info: dict) -> float | None:
    meta = info.get("detector_metadata") if isinstance(info.get("detector_metadata"), dict) else {}
    value = meta.get("typical_detection_threshold")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1 else None


def _models(info: dict, path: Path) -> tuple[dict, str]:
    meta = info.get("detector_metadata") if isinstance(info.get("detector_metadata"), dict) else {}
    detector_file = str(info.get("detector") or "").strip()
    version = str(meta.get("megadetector_version") or "").strip()
    if version and version != "unknown":
        detector = f"MegaDetector {version}" if not version.lower().startswith("megadetector") else version
    else:
        detector = detector_file or "MegaDetector (unnamed detector)"
    models = {"detector": {"name": detector, "filename": detector_file or None,
                           "megadetector_version": version or "unknown",
                           "format_version": str(info.get("format_version") or "")}}
    for key in ("typical_detection_threshold", "conservative_detection_threshold"):
        if isinstance(meta.get(key), (int, float)):
            models["detector"][key] = meta[key]
    tool = detector
    classifier = info.get("classifier")
    if isinstance(classifier, dict):
        classifier = classifier.get("name") or classifier.get("model")
    if classifier:
        models["classifier"] = {"name": str(classifier)}
        tool += f" + classifier {classifier}"
    return models, tool


def _tool_word(out: Imported) -> str:
    return out.models.get("detector", {}).get("name", "MegaDetector")
