"""COCO Camera Traps JSON (as on LILA BC): COCO plus seq_id, seq_num_frames, frame_num, location, datetime.

Category 0 is "empty"; a blank frame gets one annotation of it. Boxes are COCO's absolute pixels
[x, y, width, height], written when the frame's size is known. Only processed frames are listed.
"""

from __future__ import annotations

from datetime import datetime

from wildeye import __version__
from wildeye.labels import common_name
from wildeye.reports.frames import BLANK, UNCLASSIFIED, Frame


def coco_camera_traps(frames: list[Frame], deployments: dict) -> dict:
    categories: dict[str, int] = {"empty": 0}
    images, annotations = [], []
    for frame in frames:
        if frame.status != "done":
            continue
        info = deployments.get(frame.deployment_id)
        image = {"id": frame.path, "file_name": frame.path,
                 "location": (info.location_id if info and info.location_id else frame.deployment_id),
                 "seq_id": frame.sequence_id or frame.path,
                 "seq_num_frames": frame.seq_num_frames or 1, "frame_num": frame.frame_num or 0}
        if frame.width and frame.height:
            image["width"], image["height"] = frame.width, frame.height
        if frame.local is not None:
            image["datetime"] = frame.local.strftime("%Y-%m-%d %H:%M:%S")
        images.append(image)
        for i, obs in enumerate(frame.observations):
            if obs.kind == UNCLASSIFIED:
                continue
            name = "empty" if obs.kind == BLANK else common_name(obs.label).lower()
            category = categories.setdefault(name, len(categories))
            ann = {"id": f"{frame.path}#{i}", "image_id": frame.path, "category_id": category,
                   "sequence_level_annotation": False}
            if obs.bbox is not None and frame.width and frame.height:
                x, y, w, h = obs.bbox
                ann["bbox"] = [round(x * frame.width, 2), round(y * frame.height, 2),
                               round(w * frame.width, 2), round(h * frame.height, 2)]
            if obs.count and obs.kind != BLANK and obs.bbox is None:
                ann["count"] = obs.count
            if obs.method == "human":
                ann["verified"] = True
            annotations.append(ann)
    return {"info": {"version": __version__, "description": "wildeye sightings (human corrections applied)",
                     "date_created": datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "contributor": "wildeye"},
            "images": images,
            "categories": [{"id": i, "name": n} for n, i in sorted(categories.items(), key=lambda kv: kv[1])],
            "annotations": annotations}
