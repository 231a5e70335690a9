"""Training data: read labelled images from the formats projects already have, map labels to classes, split.

Every source becomes a list of `Item`s: one image file, one source label, an optional normalized box
[x_min, y_min, width, height] (top-left origin, MegaDetector's and Camtrap DP's convention), and the
sequence (burst), location and deployment it came from. Splits keep whole groups together: with
`split.by: location` no camera contributes to both training and validation, so the validation score says
how the model does on a camera it has never seen, which is what a new project faces.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from wildeye.errors import ConfigError, WildeyeError
from wildeye.names import media_path
from wildeye.train.config import (
    CamtrapDPSource,
    ClassesSection,
    CocoSource,
    DataSection,
    FiftyOneSource,
    FoldersSource,
    SplitSection,
    normalize_label,
)

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Item:
    path: str  # absolute
    label: str  # as the source names it; `class_index` is set after mapping
    bbox: tuple[float, float, float, float] | None = None
    sequence: str | None = None
    location: str | None = None
    deployment: str | None = None
    source: str = ""
    class_index: int = -1
    split: str = ""


@dataclass
class Collected:
    items: list[Item]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path or id, reason)
    counts: dict[str, int] = field(default_factory=dict)  # per source


# --- sources ------------------------------------------------------------------------------------------------


def collect(data: DataSection) -> Collected:
    """Every item of every source; unreadable or unusable entries are skipped with a reason, not fatal."""
    out = Collected(items=[])
    for index, source in enumerate(data.sources):
        name = source.name or f"{source.type}:{index}"
        before = len(out.items)
        if isinstance(source, FoldersSource):
            read_folders(source, name, out)
        elif isinstance(source, CocoSource):
            read_coco(source, name, out)
        elif isinstance(source, CamtrapDPSource):
            read_camtrap_dp(source, name, out)
        elif isinstance(source, FiftyOneSource):
            read_fiftyone(source, name, out)
        out.counts[name] = len(out.items) - before
    out.items = _apply_crop_rules(out.items, data, out.skipped)
    return out


def source_from_spec(spec: str) -> DataSection:
    """A data source from one string: a data YAML, COCO-CT JSON, Camtrap DP folder, folder-of-folders, or
    `fiftyone:<dataset>[:<view>]` (what `wildeye evaluate MODEL DATA` accepts)."""
    if spec.startswith("fiftyone:"):
        parts = spec.split(":", 2)
        if len(parts) < 2 or not parts[1]:
            raise ConfigError(f"{spec!r}: no dataset name", "write fiftyone:<dataset> or fiftyone:<dataset>:<view>")
        return DataSection(sources=[FiftyOneSource(type="fiftyone", dataset=parts[1],
                                                   view=parts[2] if len(parts) > 2 and parts[2] else None)])
    path = Path(spec).expanduser()
    if not path.exists():
        raise ConfigError(f"data {spec!r} not found", "give a data YAML, a COCO Camera Traps .json, a Camtrap DP "
                                                      "folder, a folder of class folders, or fiftyone:<dataset>")
    path = path.resolve()
    if path.is_file() and path.suffix.lower() in (".yaml", ".yml"):
        return _data_yaml(path)
    if path.is_file() and path.suffix.lower() == ".json":
        return DataSection(sources=[CocoSource(type="coco", path=str(path))])
    if path.is_dir() and ((path / "observations.csv").is_file() or (path / "datapackage.json").is_file()):
        return DataSection(sources=[CamtrapDPSource(type="camtrap-dp", path=str(path))])
    if path.is_dir():
        return DataSection(sources=[FoldersSource(type="folders", path=str(path))])
    raise ConfigError(f"data {spec!r} is not a format wildeye reads",
                      "give a .yaml, a COCO Camera Traps .json, a Camtrap DP folder or a folder of class folders")


def _data_yaml(path: Path) -> DataSection:
    """A train config (its `data:`), a `data:`-style mapping, or a single source mapping."""
    from pydantic import ValidationError

    from wildeye.config import _read_yaml, validation_config_error
    from wildeye.train.config import TrainConfig, resolve_paths

    raw, root = _read_yaml(path)
    if "model" in raw and "output" in raw:
        from wildeye.train.config import load_train_config

        return load_train_config(path, check_architecture=False).data
    body = raw.get("data", raw)
    if "sources" not in body:
        body = {"sources": [body]}
    try:
        section = DataSection.model_validate(body)
    except ValidationError as exc:
        raise validation_config_error(exc, str(path), root, DataSection) from None
    stub = TrainConfig.model_validate({"model": {"architecture": "x"}, "data": section.model_dump(),
                                       "output": {"dir": "."}})
    return resolve_paths(stub, path.parent).data


def _need(path: Path, what: str, source: str, fix: str) -> Path:
    if not path.exists():
        raise ConfigError(f"data source {source}: {what} {path} not found", fix)
    return path


def read_folders(source: FoldersSource, name: str, out: Collected) -> None:
    root = _need(Path(source.path), "folder", name, "give a folder with one sub-folder per class")
    if not root.is_dir():
        raise ConfigError(f"data source {name}: {root} is not a folder", "give a folder with one sub-folder per class")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise ConfigError(f"data source {name}: {root} has no class folders", "put each class's images in root/<class>/")
    for class_dir in class_dirs:
        for file in sorted(class_dir.rglob("*")):
            if file.suffix.lower() not in IMAGE_SUFFIXES or not file.is_file():
                continue
            rel = file.relative_to(class_dir).parts
            deployment = rel[0] if len(rel) > 1 else None  # root/<class>/<deployment>/...: the camera
            out.items.append(Item(path=str(file), label=class_dir.name, deployment=deployment, location=deployment,
                                  source=name))


def read_coco(source: CocoSource, name: str, out: Collected) -> None:
    path = _need(Path(source.path), "file", name, "give the COCO Camera Traps .json")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"data source {name}: {path} is not readable JSON: {exc}", "fix or re-export it") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise ConfigError(f"data source {name}: {path} has no 'images' list", "is it a COCO Camera Traps file?")
    base = Path(source.images) if source.images else path.parent
    categories = {c["id"]: str(c["name"]) for c in doc.get("categories", [])}
    images = {img["id"]: img for img in doc["images"]}
    for ann in doc.get("annotations", []):
        image = images.get(ann.get("image_id"))
        if image is None:
            out.skipped.append((str(ann.get("id")), "annotation names an image that is not in 'images'"))
            continue
        label = categories.get(ann.get("category_id"))
        if label is None:
            out.skipped.append((str(ann.get("id")), f"unknown category_id {ann.get('category_id')}"))
            continue
        file = base / image["file_name"]
        bbox = None
        if ann.get("bbox"):
            width, height = image.get("width"), image.get("height")
            if not width or not height:
                width, height = _image_size(file)
            if not width:
                out.skipped.append((str(file), "box in pixels but the image size is unknown and unreadable"))
                continue
            x, y, w, h = (float(v) for v in ann["bbox"])
            bbox = (x / width, y / height, w / width, h / height)
        seq = image.get("seq_id")
        location = image.get("location")
        out.items.append(Item(path=str(file), label=label, bbox=bbox, sequence=str(seq) if seq is not None else None,
                              location=str(location) if location is not None else None,
                              deployment=str(location) if location is not None else None, source=name))


def read_camtrap_dp(source: CamtrapDPSource, name: str, out: Collected) -> None:
    root = _need(Path(source.path), "folder", name, "give the Camtrap DP package folder")
    media_rows = _read_csv(_need(root / "media.csv", "file", name, "a Camtrap DP package has media.csv"))
    obs_rows = _read_csv(_need(root / "observations.csv", "file", name, "a Camtrap DP package has observations.csv"))
    locations = {}
    if (root / "deployments.csv").is_file():
        locations = {r["deploymentID"]: r.get("locationID") or None for r in _read_csv(root / "deployments.csv")}
    media = {r["mediaID"]: r for r in media_rows if r.get("mediaID")}
    sequences = _camtrap_sequences(media_rows)
    by_deployment: dict[str, list[dict]] = defaultdict(list)
    for row in media_rows:
        by_deployment[row.get("deploymentID", "")].append(row)
    for row in obs_rows:
        oid = row.get("observationID", "?")
        if source.human_only and (row.get("classificationMethod") or "").strip().lower() != "human":
            out.skipped.append((oid, "not a human classification (camtrap-dp human_only)"))
            continue
        label = (row.get(source.label_column) or "").strip() or (row.get("observationType") or "").strip()
        if not label:
            out.skipped.append((oid, "no scientificName or observationType"))
            continue
        if row.get("mediaID"):
            targets = [media.get(row["mediaID"])]
            if targets[0] is None:
                out.skipped.append((oid, f"mediaID {row['mediaID']} not in media.csv"))
                continue
        else:  # an event-level observation labels every frame of its deployment inside [eventStart, eventEnd]
            start, end = _time(row.get("eventStart")), _time(row.get("eventEnd"))
            if start is None or end is None:
                out.skipped.append((oid, "event observation without eventStart/eventEnd"))
                continue
            targets = [m for m in by_deployment.get(row.get("deploymentID", ""), [])
                       if (t := _time(m.get("timestamp"))) is not None and start <= t <= end]
        bbox = None
        if all((row.get(k) or "").strip() for k in ("bboxX", "bboxY", "bboxWidth", "bboxHeight")):
            bbox = tuple(float(row[k]) for k in ("bboxX", "bboxY", "bboxWidth", "bboxHeight"))
        for m in targets:
            file_path = m.get("filePath", "")
            if "://" in file_path:
                out.skipped.append((file_path, "media is a URL; download the files and use relative paths"))
                continue
            deployment = m.get("deploymentID") or row.get("deploymentID") or None
            sequence = row.get("eventID") or sequences.get(m["mediaID"])
            out.items.append(Item(path=str(media_path(root, file_path).resolve()), label=label, bbox=bbox,
                                  sequence=sequence, location=locations.get(deployment) or deployment,
                                  deployment=deployment, source=name))


def _camtrap_sequences(media_rows: list[dict]) -> dict[str, str]:
    """mediaID -> burst id, by the rule and ids `wildeye scan` gives (`ingest.sequences.assign_sequences`):
    frames of one deployment at most the scan's default gap apart."""
    from wildeye.ingest.manifest import MediaFile, ScanSettings
    from wildeye.ingest.sequences import assign_sequences

    frames = [MediaFile(path=row["mediaID"], kind="image", size=0, mtime="", timestamp=t.isoformat(),
                        deployment_id=row.get("deploymentID", ""))
              for row in media_rows if row.get("mediaID") and (t := _time(row.get("timestamp"))) is not None]
    assign_sequences(frames, ScanSettings().sequence_gap_s)
    return {frame.path: frame.sequence_id for frame in frames if frame.sequence_id}


def read_fiftyone(source: FiftyOneSource, name: str, out: Collected) -> None:
    """Human labels from a FiftyOne dataset or saved view, read with the fiftyone API (no other wildeye module)."""
    try:
        import fiftyone as fo
    except Exception as exc:  # noqa: BLE001 - an install problem, shown as one line
        raise WildeyeError(f"data source {name}: cannot import fiftyone: {exc}", "pip install fiftyone") from None
    try:
        if source.dataset not in fo.list_datasets():
            known = ", ".join(fo.list_datasets()[:10]) or "none"
            raise ConfigError(f"data source {name}: no FiftyOne dataset {source.dataset!r}",
                              f"datasets here: {known}")
        dataset = fo.load_dataset(source.dataset)
        view = dataset
        if source.view:
            if source.view not in dataset.list_saved_views():
                raise ConfigError(f"data source {name}: dataset {source.dataset!r} has no saved view {source.view!r}",
                                  f"saved views: {', '.join(dataset.list_saved_views()) or 'none'}")
            view = dataset.load_saved_view(source.view)
        schema = view.get_field_schema()
    except WildeyeError:
        raise
    except Exception as exc:  # noqa: BLE001 - database not running, etc.
        raise WildeyeError(f"data source {name}: FiftyOne failed: {' '.join(str(exc).split())[:200]}",
                           "check FIFTYONE_DATABASE_URI / FIFTYONE_DATABASE_DIR") from None
    if source.label_field not in schema and not (source.prediction_field and source.prediction_field in schema):
        raise ConfigError(f"data source {name}: dataset {source.dataset!r} has no field {source.label_field!r}",
                          f"set label_field to one of: {', '.join(sorted(schema))}")
    fields = [f for f in (source.label_field, source.prediction_field, source.sequence_field,
                          source.location_field, source.deployment_field) if f and f in schema]
    for sample in view.select_fields(fields):
        labels = _fo_labels(sample[source.label_field]) if source.label_field in schema else []
        if not labels and source.prediction_field in fields:
            verified = bool(source.verified_tag) and source.verified_tag in (sample.tags or [])
            if verified or not source.verified_only:
                labels = _fo_labels(sample[source.prediction_field])
        if not labels:
            out.skipped.append((sample.filepath, "no human-verified label"))
            continue

        def value(f: str | None) -> str | None:
            v = sample[f] if f and f in fields else None
            return None if v is None or v == "" else str(v)

        deployment = value(source.deployment_field)
        for label, bbox in labels:
            out.items.append(Item(path=sample.filepath, label=label, bbox=bbox, sequence=value(source.sequence_field),
                                  location=value(source.location_field) or deployment, deployment=deployment,
                                  source=name))


def _fo_labels(value: Any) -> list[tuple[str, tuple | None]]:
    """(label, box) pairs from a FiftyOne Classification, Classifications, Detection, Detections or string."""
    if value is None:
        return []
    if isinstance(value, str):
        return [(value, None)] if value.strip() else []
    for attr in ("detections", "classifications"):
        inner = getattr(value, attr, None)
        if isinstance(inner, list):
            return [pair for item in inner for pair in _fo_labels(item)]
    label = getattr(value, "label", None)
    if not label:
        return []
    box = getattr(value, "bounding_box", None)
    return [(str(label), tuple(float(v) for v in box) if box else None)]


def _apply_crop_rules(items: list[Item], data: DataSection, skipped: list) -> list[Item]:
    kept = []
    images_seen: dict[str, set[str]] = defaultdict(set)
    for item in items:
        if data.crop == "image":
            if item.path in images_seen and item.label in images_seen[item.path]:
                continue  # several boxes of one species: one whole-image item
            images_seen[item.path].add(item.label)
            kept.append(replace(item, bbox=None))
            continue
        if item.bbox is None:
            if data.unboxed == "skip":
                skipped.append((item.path, f"{item.label!r} has no box (data.unboxed: skip)"))
                continue
            kept.append(item)
            continue
        x, y, w, h = item.bbox
        if not all(math.isfinite(v) for v in item.bbox) or w <= 0 or h <= 0:
            skipped.append((item.path, f"bad box {list(item.bbox)}"))
            continue
        if w < data.min_box_size or h < data.min_box_size:
            skipped.append((item.path, f"box {w:.3f}x{h:.3f} below data.min_box_size"))
            continue
        kept.append(item)
    if data.crop == "image":  # an image that shows two species is not one label
        mixed = {path for path, labels in images_seen.items() if len(labels) > 1}
        for path in sorted(mixed):
            skipped.append((path, "several labels in one image (data.crop: image)"))
        kept = [item for item in kept if item.path not in mixed]
    return kept


# --- classes ------------------------------------------------------------------------------------------------


def class_list(items: Iterable[Item], classes: ClassesSection) -> list[str]:
    """The model's labels: classes.names (+ other), or every mapped label found, sorted (other last)."""
    if classes.names is not None:
        names = list(classes.names)
        if classes.other and normalize_label(classes.other) not in {normalize_label(n) for n in names}:
            names.append(classes.other)
        return names
    found: dict[str, str] = {}  # one class per normalized spelling, the first spelling seen
    for item in items:
        target = map_label(item.label, classes, None)
        if target is not None:
            found.setdefault(normalize_label(target), target)
    other = normalize_label(classes.other) if classes.other else None
    names = sorted(v for k, v in found.items() if k != other)
    if other and other in found:
        names.append(found[other])
    return names


def map_label(label: str, classes: ClassesSection, names: Sequence[str] | None) -> str | None:
    """The class a source label becomes, or None when it is dropped. names=None: the mapped label itself."""
    key = normalize_label(label)
    if key in {normalize_label(d) for d in classes.drop}:
        return None
    mapping = {normalize_label(k): v for k, v in classes.map.items()}
    if key in mapping:
        if mapping[key] is None:
            return None
        label, key = mapping[key], normalize_label(mapping[key])
    if names is None:
        return label
    by_key = {normalize_label(n): n for n in names}
    if key in by_key:
        return by_key[key]
    if classes.other and normalize_label(classes.other) in by_key:
        return by_key[normalize_label(classes.other)]
    return None


def assign_classes(items: list[Item], classes: ClassesSection, names: list[str],
                   skipped: list | None = None) -> list[Item]:
    index = {name: i for i, name in enumerate(names)}
    out = []
    for item in items:
        target = map_label(item.label, classes, names)
        if target is None:
            if skipped is not None:
                skipped.append((item.path, f"label {item.label!r} dropped by the class mapping"))
            continue
        out.append(replace(item, class_index=index[target]))
    return out


# --- splits -------------------------------------------------------------------------------------------------


def group_key(item: Item, by: str) -> str:
    """What must stay in one split. Larger units contain smaller ones: a camera holds its bursts, a burst its
    frames, a frame its boxes, so grouping by the first known of these never splits a smaller unit."""
    if by in ("location", "deployment"):
        first = (item.location, item.deployment) if by == "location" else (item.deployment, item.location)
        for value, kind in zip(first, (by, "deployment" if by == "location" else "location")):
            if value:
                return f"{kind}:{item.source}:{value}" if kind != "location" else f"location:{value}"
    if item.sequence:
        return f"sequence:{item.source}:{item.sequence}"
    return f"image:{item.path}"


def split_items(items: list[Item], split: SplitSection) -> list[Item]:
    """Give every item a split; whole groups move together, class balance kept roughly per split.

    Groups are visited largest first (ties in seeded random order) and each goes to the split furthest below
    its target share of the classes that group holds: a greedy stratified group split.
    """
    targets = {"train": 1.0 - split.val - split.test, "val": split.val, "test": split.test}
    active = [s for s in SPLITS if targets[s] > 0]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        groups[group_key(item, split.by)].append(i)
    keys = sorted(groups)
    random.Random(split.seed).shuffle(keys)
    keys.sort(key=lambda k: -len(groups[k]))
    totals = Counter(item.class_index for item in items)
    have = {s: Counter() for s in SPLITS}
    chosen: dict[str, str] = {}
    # Each split with a share gets one group first, so a small dataset still has val and test data.
    firsts = [s for s in ("val", "test") if s in active]
    if len(keys) > len(active):
        for s, key in zip(firsts, reversed(keys)):
            chosen[key] = s
            have[s].update(items[i].class_index for i in groups[key])
    for key in keys:
        if key in chosen:
            continue
        classes = Counter(items[i].class_index for i in groups[key])

        def deficit(s: str) -> float:
            return sum((targets[s] * totals[c] - have[s][c]) * n for c, n in classes.items()) / sum(classes.values())

        best = max(active, key=lambda s: (deficit(s), s == "train"))
        chosen[key] = best
        have[best].update(classes)
    return [replace(item, split=chosen[group_key(item, split.by)]) for item in items]


def leaks(items: list[Item]) -> dict[str, list[str]]:
    """Sequences, locations and deployments (and images) found in more than one split; empty when clean."""
    out: dict[str, list[str]] = {}
    for unit in ("sequence", "location", "deployment", "path"):
        where: dict[str, set[str]] = defaultdict(set)
        for item in items:
            value = getattr(item, unit)
            if value:
                key = value if unit in ("location", "path") else f"{item.source}:{value}"
                where[key].add(item.split)
        shared = sorted(k for k, s in where.items() if len(s) > 1)
        if shared:
            out[unit] = shared
    return out


def data_hash(items: Iterable[Item], labels: Sequence[str]) -> str:
    """sha256 of the sorted training data list (path, box, class, split): same list, same hash."""
    lines = sorted(f"{item.path}\t{list(item.bbox) if item.bbox else ''}\t{labels[item.class_index]}\t{item.split}"
                   for item in items)
    digest = hashlib.sha256()
    digest.update("\n".join(labels).encode())
    for line in lines:
        digest.update(b"\n" + line.encode())
    return "sha256:" + digest.hexdigest()


def write_data_list(path: Path, items: list[Item], labels: Sequence[str]) -> None:
    from wildeye.atomic import write_bytes_atomic
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["path", "bbox", "source_label", "class", "split", "sequence", "location", "deployment", "source"])
    for item in items:
        writer.writerow([item.path, json.dumps(list(item.bbox)) if item.bbox else "", item.label,
                         labels[item.class_index], item.split, item.sequence or "", item.location or "",
                         item.deployment or "", item.source])
    write_bytes_atomic(path, buf.getvalue().encode("utf-8"))


def check_readable(items: list[Item], skipped: list) -> list[Item]:
    """Drop files that are missing or not images (header only: cheap); each gets a reason."""
    from PIL import Image

    ok: dict[str, str | None] = {}
    out = []
    for item in items:
        if item.path not in ok:
            try:
                with Image.open(item.path) as im:
                    im.size  # noqa: B018 - the header parsed
                ok[item.path] = None
            except FileNotFoundError:
                ok[item.path] = "file not found"
            except Exception as exc:  # noqa: BLE001 - any unreadable file is a recorded skip
                ok[item.path] = f"not a readable image ({type(exc).__name__})"
        if ok[item.path] is None:
            out.append(item)
        else:
            skipped.append((item.path, ok[item.path]))
    return out


# --- pixels -------------------------------------------------------------------------------------------------


def load_crop(path: str, bbox: Sequence[float] | None, padding: float) -> np.ndarray:
    """What `wildeye run` gives the classifier: the frame decoded by `inference.decode` (full resolution,
    EXIF-upright, RGB), then the padded, clipped box (`padded_crop`), or the whole frame."""
    from wildeye.inference.classifier import padded_crop
    from wildeye.inference.decode import decode

    frame = decode(path).image
    return frame if bbox is None else padded_crop(frame, bbox, padding)


class CropDataset:
    """(tensor, class index) pairs: decoded, cropped and preprocessed (`package_transform`) as inference does;
    augmentation, when on, works on that crop.

    A plain class (DataLoader needs only __len__/__getitem__), so importing this module needs no torch.
    A file that fails to decode gives a black crop with label -1, which the loss ignores: one bad JPEG never
    stops a training run.
    """

    def __init__(self, items: list[Item], input_size: int, mean, std, interpolation: str, padding: float,
                 augment: bool = False):
        self.items = items
        self.input_size = input_size
        self.mean, self.std, self.interpolation = tuple(mean), tuple(std), interpolation
        self.padding = padding
        self.augment = augment

    def __len__(self) -> int:
        return len(self.items)

    def crop(self, index: int) -> tuple[np.ndarray, int]:
        item = self.items[index]
        try:
            return load_crop(item.path, item.bbox, self.padding), item.class_index
        except Exception as exc:  # noqa: BLE001 - a corrupt file must not end the run
            log.warning("skipping %s: %s", item.path, exc)
            return np.zeros((self.input_size, self.input_size, 3), np.uint8), -1

    def __getitem__(self, index: int):
        from wildeye.inference.classifier import package_transform

        crop, label = self.crop(index)
        if self.augment and label >= 0:
            crop = self._augment(crop)
        tensor = package_transform([crop], self.input_size, self.mean, self.std, self.interpolation)[0]
        return tensor, label

    def _augment(self, crop: np.ndarray) -> np.ndarray:
        """Light, label-preserving: a 75-100 % area sub-crop of the same shape, resized to the input size as
        `package_transform` would, a mirror, lighting (day, night and IR differ most). torchvision v2 draws from
        torch's generator, which the loop seeds per epoch."""
        import torch
        from torchvision.transforms import InterpolationMode, v2

        height, width = crop.shape[:2]
        ratio = width / height
        transform = v2.Compose([
            v2.RandomResizedCrop(self.input_size, scale=(0.75, 1.0), ratio=(ratio, ratio),
                                 interpolation=InterpolationMode(self.interpolation), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.25, contrast=0.25, saturation=0.15),
        ])
        chw = torch.from_numpy(crop).permute(2, 0, 1)
        return transform(chw).permute(1, 2, 0).contiguous().numpy()


def summarize(items: list[Item], labels: Sequence[str]) -> dict[str, Any]:
    """Counts per class and split, for the model card and --json."""
    table = {label: {s: 0 for s in SPLITS} for label in labels}
    for item in items:
        table[labels[item.class_index]][item.split or "train"] += 1
    groups = {s: len({group_key(i, "sequence") for i in items if i.split == s}) for s in SPLITS}
    locations = {s: len({i.location or i.deployment for i in items if i.split == s and (i.location or i.deployment)})
                 for s in SPLITS}
    return {"per_class": table, "items": {s: sum(1 for i in items if i.split == s) for s in SPLITS},
            "sequences": groups, "locations": locations}


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.replace(tzinfo=None) if t.tzinfo is None else t


def _image_size(path: Path) -> tuple[int | None, int | None]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            width, height = im.size
            return (height, width) if im.getexif().get(0x0112, 1) in (5, 6, 7, 8) else (width, height)
    except Exception:  # noqa: BLE001 - the caller records the skip
        return None, None
