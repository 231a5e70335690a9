"""MegaDetector batch output 1.6, with wildeye's decisions as its classifications: the one builder behind the run's
`OUT/megadetector.json` and the report's `megadetector_reviewed.json`.

Field names, types and rounding follow MegaDetector's `run_detector_batch.write_results_to_file` and
`postprocessing/validate_batch_results.py`: string category ids, float confidences (3 digits), normalized
[x_min, y_min, width, height] boxes (4 digits), detections sorted by confidence, `detections: null` plus a
`failure` string for failed images.

Classifications follow the convention SpeciesNet results take in this format (MegaDetector's
`wi_taxonomy_utils.generate_md_results_from_predictions_json`, behind `speciesnet_to_md`): a classified box's
`classifications` holds one entry, the final decision for that box ([category id, score]); categories are
keyed by SpeciesNet's 7-field taxonomy string, which `classification_category_descriptions` carries for every
category, with a common name in `classification_categories`; the classifier's own top-k is `raw_classifications`,
written only when asked for. Tools that read the format (Timelapse, AddaxAI, CamTrapTools' `import`) take the
first classification as the species, so that must be the decision, never a raw guess the ensemble rejected.

The decision is, per box: a reviewer's label (score 1.0) where the journal has one, the ensemble's otherwise.
Boxes a reviewer drew replace the model's; a frame a reviewer called blank has no detections; on a frame a
reviewer labelled, machine boxes the label does not cover are listed without classifications. Boxes the
ensemble did not count (below the detection threshold) keep their own decision, as SpeciesNet classifies every
box >= 0.1. A frame-level label without a box (a count typed in by a reviewer) cannot be expressed here.

Static boxes (a rock boxed in every frame of a camera, app.static) are written as MegaDetector's repeat detection
elimination writes them (`repeat_detections_core._update_detection_table`): listed, with their confidence made
negative and no classification, so every tool's confidence threshold drops them while the evidence stays in the
file. A box a reviewer called a real animal is not suppressed and keeps its confidence.

Videos are written as MegaDetector 10's `process_video` writes them (`_video_results_to_md_format`): one entry per
video with `frame_rate`, `frames_processed` (the sampled frame numbers) and `detections` holding the boxes of every
sampled frame in frame order, each with its `frame_number`; a failed video has `frame_rate` -1 when unknown,
`frames_processed: []`, `detections: null` and `failure`. The best frame's boxes (the video's decision,
inference.video) carry the classifications; other frames' boxes carry none (their raw top-k with
`raw_classifications`). A video a reviewer labelled is its best frame's boxes only, the reviewer's word. The
frame-level document (`video_frames_document`) holds the same boxes as one entry per sampled frame.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from wildeye.config import FALLBACK_DETECTION_THRESHOLD
from wildeye.labels import CATEGORY_IDS, DETECTION_CATEGORIES, common_name, taxonomy_string
from wildeye.reports.frames import BLANK, UNCLASSIFIED, Frame, label_kind
from wildeye.reports.taxa import Names

FORMAT_VERSION = "1.6"
CONF_DIGITS = 3
COORD_DIGITS = 4


class Categories:
    """Classification category ids ("0", "1", ...) in order of first use, one per taxonomy string, so a reviewer's
    "Snow leopard" and SpeciesNet's "…;snow leopard" are one category. Shared with the COCO writer."""

    def __init__(self, names: Names, first: int = 0):
        self._names = names
        self._first = first
        self.ids: dict[str, int] = {}  # taxonomy string -> id
        self.names: dict[int, str] = {}
        self.descriptions: dict[int, str] = {}
        self.labels: dict[int, str] = {}  # the first label that named each category

    def description(self, label: str) -> str:
        """The label's full taxonomy string; a label with none is named in the common-name field alone."""
        return self._names.taxonomy_string(label) or taxonomy_string(common=common_name(label))

    def id_for(self, label: str) -> int:
        description = self.description(label)
        if description not in self.ids:
            key = self._first + len(self.ids)
            self.ids[description] = key
            self.descriptions[key] = description
            self.names[key] = common_name(label)
            self.labels[key] = label
        return self.ids[description]


def megadetector_document(frames: list[Frame], models: dict, names: Names, *, raw_classifications: bool = False,
                          detection_completion_time: str | None = None) -> dict:
    """The format-1.6 document for `frames` (processed and failed ones; pending, duplicates and videos are not
    results). models: what the run recorded ({"detector": {...}, "classifier": {...}})."""
    detector = models.get("detector") or {}
    classifier = models.get("classifier") or {}
    categories = Categories(names)
    reviewed = False
    images = []
    for frame in frames:
        if frame.status == "failed" and frame.kind == "video":
            rate = frame.video.frame_rate if frame.video is not None else None
            images.append({"file": frame.path, "frame_rate": float(rate or -1.0), "frames_processed": [],
                           "failure": frame.failure or "video access failure", "detections": None})
        elif frame.status == "failed":
            images.append({"file": frame.path, "failure": frame.failure or "image access failure", "detections": None})
        elif frame.status == "done" and frame.video is not None:
            images.append(_video_entry(frame, categories, raw_classifications))
        elif frame.status == "done":
            images.append({"file": frame.path, "detections": _detections(frame, categories, raw_classifications)})
            reviewed = reviewed or any(o.method == "human" for o in frame.observations)
    now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    info = {"format_version": FORMAT_VERSION, "detector": detector.get("filename", "unknown"),
            "detection_completion_time": detection_completion_time or now,
            "detector_metadata": {
                "megadetector_version": detector.get("megadetector_version", "unknown"),
                "typical_detection_threshold": float(detector.get("typical_detection_threshold",
                                                                     FALLBACK_DETECTION_THRESHOLD)),
                "conservative_detection_threshold": float(detector.get("conservative_detection_threshold", 0.05))}}
    document: dict = {"info": info, "detection_categories": dict(DETECTION_CATEGORIES)}
    if categories.ids or classifier:
        name = classifier.get("name")
        info["classifier"] = " + ".join(part for part in (name, "human review" if reviewed else None) if part)
        info["classification_completion_time"] = now
        info["classifier_metadata"] = {
            "classifications": "wildeye's decision per box (SpeciesNet's ensemble rules, a reviewer's label where "
                               "there is one)",
            "raw_classifications": "the classifier's top-k per box" if raw_classifications else "not written"}
        document["classification_categories"] = {str(k): v for k, v in categories.names.items()}
        document["classification_category_descriptions"] = {str(k): v for k, v in categories.descriptions.items()}
    document["images"] = images
    return document


def journal_document(out_dir: Path, journal=None, models: dict | None = None, *,
                     raw_classifications: bool = False) -> dict:
    """The document for every frame of a run folder's journal (what `wildeye run` writes as megadetector.json):
    no report filters or privacy rules. models: the run's (default: the journal's last run's)."""
    return journal_documents(out_dir, journal, models, raw_classifications=raw_classifications)[0]


def journal_documents(out_dir: Path, journal=None, models: dict | None = None, *,
                      raw_classifications: bool = False) -> tuple[dict, dict | None]:
    """journal_document's document and, when the journal holds processed videos, their frame-level document
    (video_frames_document), from one read of the journal."""
    from wildeye.reports import frames as frames_mod
    from wildeye.reports.taxa import package_taxonomy

    data = frames_mod.load(out_dir, journal)
    models = models if models is not None else data.models
    names = Names.from_frames(data.frames, taxonomy=package_taxonomy(models))
    document = megadetector_document(data.frames, models, names, raw_classifications=raw_classifications)
    videos = any(f.video is not None and f.status == "done" for f in data.frames)
    return document, (video_frames_document(data.frames, models, names, raw_classifications=raw_classifications)
                      if videos else None)


def _detections(frame: Frame, categories: Categories, raw: bool) -> list[dict]:
    """The frame's boxes. A machine decision is written for boxes a classifier (or an imported file) decided:
    a detector-only run's boxes carry only reviewers' labels, as MegaDetector's own output carries none."""
    human = [o for o in frame.observations if o.method == "human"]
    if any(o.kind == BLANK for o in human):
        return []  # a reviewer called the frame blank
    drawn = [o for o in human if o.bbox is not None and o.det_conf == 1.0]
    if drawn:  # boxes a reviewer drew replace the model's
        return [_entry(o.category or "animal", 1.0, o.bbox, [(o.label, 1.0)], categories) for o in drawn]
    by_box = {tuple(o.bbox): o for o in frame.observations if o.bbox is not None and o.kind != UNCLASSIFIED}
    dets = []
    for index, box in enumerate(frame.boxes):  # the journal's order: MegaDetector's
        if index in frame.static_boxes:
            dets.append(_entry(box.category, box.conf, box.bbox, [], categories, None))
            dets[-1]["conf"] = -dets[-1]["conf"]  # RDE's mark: below every threshold, evidence kept
            continue
        obs = by_box.get(tuple(box.bbox))
        classified = bool(box.classifications) or (box.decision is not None and box.decision.source != "detector")
        decision = None
        if obs is not None and (classified or obs.method == "human"):
            decision = (obs.label, obs.probability if obs.probability is not None else 1.0)
        elif classified and not human and box.decision is not None and (not box.decision.counted
                                                         or label_kind(box.decision.label) == BLANK):
            decision = (box.decision.label, box.decision.score)  # not an observation, still the box's answer
        dets.append(_entry(box.category, box.conf, box.bbox, [decision] if decision else [], categories,
                           box.classifications if raw else None))
    dets.sort(key=lambda d: -abs(d["conf"]))  # stable: ties keep MegaDetector's order; RDE negates after sorting
    return dets


def _video_entry(frame: Frame, categories: Categories, raw: bool) -> dict:
    """A video as MegaDetector's process_video writes it: every sampled frame's boxes, each with its frame_number;
    the best frame's carry the video's decisions."""
    clip = frame.video
    dets = [{**d, "frame_number": number} for number, entries in _sampled(frame, categories, raw) for d in entries]
    return {"file": frame.path, "frame_rate": float(clip.frame_rate or -1.0),
            "frames_processed": [sampled.number for sampled in clip.frames], "detections": dets}


def _sampled(frame: Frame, categories: Categories, raw: bool) -> list[tuple[int, list[dict]]]:
    """(frame number, its box entries by confidence) per sampled frame of a video: the best frame's boxes with the
    video's decisions, the others' bare. A video a reviewer labelled keeps its best frame only: the word is theirs."""
    clip = frame.video
    decided = _detections(frame, categories, raw)
    reviewed = any(o.method == "human" for o in frame.observations)
    out = []
    for sampled in clip.frames:
        if sampled.number == clip.best_frame:
            out.append((sampled.number, decided))
        elif not reviewed:
            out.append((sampled.number, sorted(
                (_entry(b.category, b.conf, b.bbox, [], categories, b.classifications if raw else None)
                 for b in sampled.detections), key=lambda d: -d["conf"])))
    return out


def frame_name(video: str, number: int) -> str:
    """A sampled frame as MegaDetector's video tools name it: `<video>/frame000123.jpg` (video_utils
    `_frame_number_to_filename`), the name `frame_results_to_video_results` maps back to the video."""
    return f"{video}/frame{number:06d}.jpg"


def video_frames_document(frames: list[Frame], models: dict, names: Names, *,
                          raw_classifications: bool = False) -> dict:
    """The frame-level format-1.6 document of the videos among `frames`: one entry per sampled frame, named as
    MegaDetector names frames it extracted from a video, so its `frame_results_to_video_results` (and other
    frame-level tools) read it. Stills and failed videos are left out."""
    document = megadetector_document([], models, names, raw_classifications=raw_classifications)
    categories = Categories(names)
    images = []
    for frame in frames:
        if frame.status == "done" and frame.video is not None:
            images += [{"file": frame_name(frame.path, number), "detections": entries}
                       for number, entries in _sampled(frame, categories, raw_classifications)]
    if categories.ids:
        document["classification_categories"] = {str(k): v for k, v in categories.names.items()}
        document["classification_category_descriptions"] = {str(k): v for k, v in categories.descriptions.items()}
    document["images"] = images
    return document


def _entry(category: str, conf: float, bbox, classifications: list, categories: Categories,
           raw: list | None = None) -> dict:
    det = {"category": CATEGORY_IDS.get(category, "1"), "conf": round(float(conf), CONF_DIGITS),
           "bbox": [round(float(v), COORD_DIGITS) for v in bbox]}
    if classifications:
        det["classifications"] = [[str(categories.id_for(label)), round(float(score), CONF_DIGITS)]
                                  for label, score in classifications]
    if raw:
        det["raw_classifications"] = [[str(categories.id_for(label)), round(float(score), CONF_DIGITS)]
                                      for label, score in raw]
    return det


def read_observations(path: Path) -> list[dict]:
    """Classified boxes of a 1.6 file as {file, label, kind, bbox, conf}: for round trips and other tools' files."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    names = doc.get("classification_categories", {})
    descriptions = doc.get("classification_category_descriptions", {})
    out = []
    for image in doc["images"]:
        for det in image.get("detections") or []:
            if det["conf"] < 0:
                continue  # repeat detection elimination's mark (a static box)
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
