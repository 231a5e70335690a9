"""COCO Camera Traps JSON (the LILA BC datasets' format; MegaDetector's data_management/cct_json_utils.py reads it):
human labels.

`images: [{id, file_name, width, height, location, datetime, seq_id, seq_num_frames, frame_num}]`,
`annotations: [{id, image_id, category_id, bbox: [x, y, width, height] in pixels, count?}]`,
`categories: [{id, name}]` where category 0 / "empty" means the frame is empty. Boxes are divided by the image's
width and height (when the file leaves those out, by the scanned frame's size). An annotation without a box
labels the whole frame. Images without any annotation are not labelled and are not imported.
"""

from __future__ import annotations

from pathlib import Path

from wildeye.errors import ConfigError
from wildeye.interop import Imported, Observation, bbox, group_labels, load_json, number
from wildeye.interop.taxa import label_from_name


def read_coco(path: Path, document=None, **_) -> Imported:
    document = load_json(path) if document is None else document
    if not isinstance(document, dict) or not all(isinstance(document.get(k), list)
                                                 for k in ("images", "annotations", "categories")):
        raise ConfigError(f"{path.name} is not COCO Camera Traps JSON (needs images, annotations and categories "
                          "lists)", "pass the COCO-CT .json file, or --format")
    info = document.get("info") if isinstance(document.get("info"), dict) else {}
    out = Imported("coco", path, tool=str(info.get("description") or info.get("contributor") or "COCO Camera Traps"))
    names = {}
    for c in document["categories"]:
        if isinstance(c, dict) and "id" in c and isinstance(c.get("name"), str):
            names[c["id"]] = label_from_name(c["name"].replace("_", " "))
    images = {}
    for i, image in enumerate(document["images"]):
        if not isinstance(image, dict) or "id" not in image or not isinstance(image.get("file_name"), str):
            out.problem(f"images[{i}]", "no id or file_name")
            continue
        try:
            size = (number(image.get("width")), number(image.get("height")))
        except (ValueError, TypeError):
            size = (None, None)
        images[image["id"]] = (image["file_name"], size if all(size) and size[0] > 0 and size[1] > 0 else None)
    out.entries = len(document["annotations"])
    observations = []
    pixel = False
    contributor = info.get("contributor") if isinstance(info.get("contributor"), str) else None
    for i, ann in enumerate(document["annotations"]):
        where = f"annotations[{i}]"
        if not isinstance(ann, dict):
            out.problem(where, "not an object")
            continue
        image = images.get(ann.get("image_id"))
        if image is None:
            out.problem(where, f"image_id {ann.get('image_id')!r} is not in images")
            continue
        file, size = image
        where = file
        label = names.get(ann.get("category_id"))
        if label is None:
            if ann.get("category_id") in (0, "0"):
                label = "blank"
            else:
                out.problem(where, f"category_id {ann.get('category_id')!r} is not in categories")
                continue
        box = None
        try:
            if ann.get("bbox") is not None and label != "blank":
                x, y, w, h = bbox(ann["bbox"])
                if size is not None:
                    box = (x / size[0], y / size[1], w / size[0], h / size[1])
                else:
                    box, pixel = (x, y, w, h), True
            count = number(ann.get("count"), int)
            score = number(ann.get("score", ann.get("conf")))
        except (ValueError, TypeError) as exc:
            out.problem(where, str(exc))
            continue
        observations.append(Observation((file,), label, count, box, reviewer=contributor, score=score))
    if pixel:
        out.notes.append("images without width/height: their boxes are scaled by the scanned frame's size")
    # Images with sizes and images without are grouped apart, so each group knows how its boxes are written.
    size_of = {file: size for file, size in images.values()}
    out.labels = (group_labels([o for o in observations if size_of.get(o.paths[0]) is not None])
                  + group_labels([o for o in observations if size_of.get(o.paths[0]) is None], pixel_boxes=True))
    unlabelled = len(images) - len({o.paths for o in observations})
    if unlabelled > 0:
        out.notes.append(f"{unlabelled} image(s) without annotations (not labelled) not imported")
    return out

