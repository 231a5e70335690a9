"""COCO Camera Traps JSON (as on LILA BC): COCO plus seq_id, seq_num_frames, frame_num, location, datetime.

Category 0 is "empty"; a blank frame gets one annotation of it. Image and annotation ids are integers, as COCO
has them (pycocotools' COCOeval indexes by them). `width`/`height` are the upright frame's (EXIF orientation
applied: a 4000x3000 frame stored with orientation 6 is 3000 wide, 4000 high), the frame wildeye's boxes are in.
Box annotations carry COCO's absolute-pixel `bbox` [x, y, width, height], its `area` (width x height) and
`iscrowd` 0; a frame-level annotation (blank, a count without boxes) has no `bbox` or `area`, as in LILA's files,
so COCOeval evaluates the images whose annotations have boxes. Category names are written as every other
wildeye output writes them (`labels.common_name`); categories share the MegaDetector file's taxonomy (one per
taxonomy string, with its scientific name). Only processed frames are listed.
"""

from __future__ import annotations

from datetime import datetime

from wildeye import __version__
from wildeye.reports.frames import BLANK, UNCLASSIFIED, Frame
from wildeye.reports.megadetector import Categories
from wildeye.reports.taxa import Names

EMPTY = "empty"


def coco_camera_traps(frames: list[Frame], deployments: dict, names: Names | None = None) -> dict:
    names = names or Names.from_frames(frames)
    categories = Categories(names, first=1)
    images, annotations = [], []
    for frame in frames:
        if frame.status != "done":
            continue
        info = deployments.get(frame.deployment_id)
        image_id = len(images) + 1
        image = {"id": image_id, "file_name": frame.path,
                 "location": (info.location_id if info and info.location_id else frame.deployment_id),
                 "seq_id": frame.sequence_id or frame.path,
                 "seq_num_frames": frame.seq_num_frames or 1, "frame_num": frame.frame_num or 0}
        if frame.width and frame.height:
            image["width"], image["height"] = frame.width, frame.height
        if frame.local is not None:
            image["datetime"] = frame.local.strftime("%Y-%m-%d %H:%M:%S")
        images.append(image)
        for obs in frame.observations:
            if obs.kind == UNCLASSIFIED:
                continue
            category = 0 if obs.kind == BLANK else categories.id_for(obs.label)
            ann = {"id": len(annotations) + 1, "image_id": image_id, "category_id": category,
                   "sequence_level_annotation": False, "iscrowd": 0}
            if obs.bbox is not None and frame.width and frame.height:
                x, y, w, h = obs.bbox
                box = [round(x * frame.width, 2), round(y * frame.height, 2),
                       round(w * frame.width, 2), round(h * frame.height, 2)]
                ann["bbox"], ann["area"] = box, round(box[2] * box[3], 2)
            if obs.count and obs.kind != BLANK and obs.bbox is None:
                ann["count"] = obs.count
            if obs.method == "human":
                ann["verified"] = True
            annotations.append(ann)
    described = [{"id": 0, "name": EMPTY}]
    for key, name in categories.names.items():
        entry = {"id": key, "name": name}
        scientific = names.scientific_name(categories.labels[key])
        if scientific:
            entry["scientific_name"] = scientific
        described.append(entry)
    return {"info": {"version": __version__, "description": "wildeye sightings (human corrections applied)",
                     "date_created": datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "contributor": "wildeye"},
            "images": images, "categories": described, "annotations": annotations}
