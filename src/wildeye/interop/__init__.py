"""Other tools' files read into wildeye's records: one small module per foreign format, pure parsing (no journal).

A reader returns an `Imported`: the machine results the file holds (`ImportedResult`: one image's boxes, with the
file's own per-box answer where it gives one, the image's label, or a failure) and the human labels it holds
(`ImportedLabel`), each with the paths the file names the image by (tried in order when they are matched to
scanned files, `interop.paths`), plus the rows it could not read (`problems`: counted and named, never fatal)
and what it says about the models that made it. A file that is not in the format at all raises ConfigError.

Formats: MegaDetector batch output 1.x (also AddaxAI's, EcoAssist's), SpeciesNet predictions.json (4.x image-level
and 5.x per-detection), Timelapse CSV, Camtrap DP 1.0 packages, COCO Camera Traps JSON, Wildlife Insights images.csv.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from wildeye.errors import ConfigError
from wildeye.records import Detection, Prediction

FORMATS = ("megadetector", "speciesnet", "timelapse", "camtrap-dp", "coco", "wildlife-insights")
RESULTS, LABELS = "results", "labels"
MAX_EXAMPLES = 5  # bad rows named in a summary; the rest are counted


@dataclass
class ImportedResult:
    """One image's machine result. detections carry the file's own per-box answer in `decision` where it gives
    one; image is the file's image label (None: derived from the boxes, `interop.decide`); failure: the image
    could not be processed by the tool (then detections are empty and image is None)."""

    paths: tuple[str, ...]
    detections: list[Detection] = field(default_factory=list)
    image: Prediction | None = None
    failure: str | None = None
    final_boxes: bool = False  # the boxes' decisions are the file's observations: counted as the file says


@dataclass
class ImportedLabel:
    """One image's human label: what a person said the frame shows.

    boxes: [{"label", "bbox": [x, y, w, h]}], normalized with a top-left origin unless `pixel_boxes` (COCO without
    image sizes: the importer divides by the scanned frame's size). score: a machine score kept for `--as results`.
    """

    paths: tuple[str, ...]
    label: str
    count: int | None = None
    boxes: list[dict] | None = None
    pixel_boxes: bool = False
    reviewer: str | None = None
    reviewed_at: str | None = None
    score: float | None = None
    species: int = 1  # distinct labels the file gave this frame (a label without boxes keeps only one)


@dataclass
class Imported:
    format: str
    file: Path
    results: list[ImportedResult] = field(default_factory=list)
    labels: list[ImportedLabel] = field(default_factory=list)
    models: dict = field(default_factory=dict)  # {"detector": {...}, "classifier": {...}} as the file says
    tool: str = ""  # who made the file, as a person reads it ("MegaDetector v5a.0.0 + classifier X")
    detection_threshold: float | None = None  # the file's own (MegaDetector's typical threshold), if it says
    entries: int = 0  # images or rows read
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, why) per row that could not be read
    notes: list[str] = field(default_factory=list)

    def problem(self, where: str, why: str) -> None:
        self.problems.append((where, why))


def read(path: str | Path, fmt: str = "auto", **options) -> Imported:
    """Read `path` (a file, or a Camtrap DP folder) in format `fmt` ("auto": sniffed)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} does not exist", "pass the results or labels file to import")
    if fmt == "auto":
        fmt, document = _sniff(path)
        if document is not None:
            options["document"] = document  # parsed once
    if fmt == "megadetector":
        from wildeye.interop.megadetector import read_megadetector as reader
    elif fmt == "speciesnet":
        from wildeye.interop.speciesnet import read_speciesnet as reader
    elif fmt == "timelapse":
        from wildeye.interop.timelapse import read_timelapse as reader
    elif fmt == "camtrap-dp":
        from wildeye.interop.camtrapdp import read_camtrapdp as reader
    elif fmt == "coco":
        from wildeye.interop.coco import read_coco as reader
    elif fmt == "wildlife-insights":
        from wildeye.interop.wildlife_insights import read_wildlife_insights as reader
    else:
        raise ConfigError(f"unknown import format {fmt!r}", "choose one of auto, " + ", ".join(FORMATS))
    return reader(path, **options)


def sniff(path: Path) -> str:
    """The format of a file from its content: JSON keys, CSV header, or a Camtrap DP folder."""
    return _sniff(Path(path))[0]


def _sniff(path: Path) -> tuple[str, object]:
    """The format, and the parsed JSON document when the file is JSON (None otherwise)."""
    if path.is_dir():
        if (path / "datapackage.json").is_file() or (path / "observations.csv").is_file():
            return "camtrap-dp", None
        raise ConfigError(f"{path} is a folder without datapackage.json",
                          "pass a Camtrap DP package folder, or the results or labels file itself")
    if path.name == "datapackage.json":
        return "camtrap-dp", None
    head = _head(path)
    if head.lstrip().startswith(("{", "[")):
        document = load_json(path)
        if isinstance(document, dict):
            if "predictions" in document:
                return "speciesnet", document
            if {"images", "annotations", "categories"} <= set(document):
                return "coco", document
            if "images" in document and ("detection_categories" in document or "info" in document or _md_images(
                    document["images"])):
                return "megadetector", document
            if "resources" in document:
                return "camtrap-dp", None
        raise ConfigError(f"cannot tell which format {path.name} is in (a JSON file that is not MegaDetector "
                          "batch output, SpeciesNet predictions.json or COCO Camera Traps)",
                          "pass --format with the file's format")
    columns = {c.strip().lower() for c in csv_header(path)}
    if {"file", "relativepath"} <= columns:
        return "timelapse", None
    if "image_id" in columns and ({"location", "filename"} & columns) and ({"common_name", "genus", "is_blank"}
                                                                          & columns):
        return "wildlife-insights", None
    if "observationid" in columns and "observationtype" in columns:
        return "camtrap-dp", None
    raise ConfigError(f"cannot tell which format {path.name} is in (CSV columns: {', '.join(sorted(columns)[:12])})",
                      "pass --format (Timelapse needs File and RelativePath columns)")


def _md_images(images) -> bool:
    return isinstance(images, list) and any(isinstance(im, dict) and "file" in im for im in images[:10])


def _head(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            raw = f.read(4096)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", "check the file's path and permissions") \
            from None
    if b"\x00" in raw:
        raise ConfigError(f"{path.name} is not a text file (binary content)",
                          "pass a MegaDetector/SpeciesNet/COCO JSON file, a Timelapse/Wildlife Insights CSV or "
                          "a Camtrap DP package")
    return raw.decode("utf-8-sig", "replace")


def load_json(path: Path):
    """The document, or a one-line ConfigError naming where the JSON breaks."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                          "pass the file the tool wrote, complete and unedited") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path.name} is not UTF-8 text", "pass the JSON file the tool wrote") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", "check the file's path and permissions") \
            from None


def csv_header(path: Path) -> list[str]:
    rows = read_csv_rows(path, limit=0)
    return rows.header


@dataclass
class CsvRows:
    header: list[str]
    rows: list[dict[str, str]]


def read_csv_rows(path: Path, limit: int | None = None) -> CsvRows:
    """A CSV as dicts (UTF-8 with or without BOM, else Latin-1 as Excel writes it; comma, semicolon or tab)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", "check the file's path and permissions") \
            from None
    if b"\x00" in raw[:4096]:
        raise ConfigError(f"{path.name} is not a text file (binary content)", "pass the CSV file the tool exported")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ConfigError(f"{path.name} is empty or has no header row", "pass the CSV file the tool exported")
    first = lines[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.DictReader(lines, delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    rows = []
    if limit != 0:
        try:
            for row in reader:
                rows.append({k: (v if isinstance(v, str) else "") for k, v in row.items() if k is not None})
                if limit and len(rows) >= limit:
                    break
        except csv.Error as exc:
            raise ConfigError(f"{path.name} is not a readable CSV ({exc})", "pass the CSV file the tool exported") \
                from None
    return CsvRows(header, rows)


def column(header: list[str], *names: str) -> str | None:
    """The header's own spelling of the first of `names` it has (case and spacing ignored)."""
    folded = {_fold(h): h for h in header}
    for name in names:
        found = folded.get(_fold(name))
        if found is not None:
            return found
    return None


def _fold(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def number(value, kind=float):
    """A CSV or JSON cell as a number, None when empty; ValueError when it is not one."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    result = kind(float(value)) if kind is int else kind(value)
    if kind is float and result != result:  # NaN
        raise ValueError("NaN")
    return result


def bbox(values, where: str = "bbox") -> tuple[float, float, float, float]:
    """[x, y, w, h] as four finite floats; ValueError naming what is wrong."""
    if not isinstance(values, (list, tuple)) or len(values) != 4:
        raise ValueError(f"{where} is not [x, y, width, height]")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
            raise ValueError(f"{where} holds {v!r}, not a number")
        out.append(float(v))
    if out[2] < 0 or out[3] < 0:
        raise ValueError(f"{where} has a negative width or height")
    return out[0], out[1], out[2], out[3]


@dataclass
class Observation:
    """One row of a labels file: something a person (or a model) said about one image."""

    paths: tuple[str, ...]
    label: str
    count: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    reviewer: str | None = None
    at: str | None = None
    score: float | None = None


def group_labels(observations: list[Observation], pixel_boxes: bool = False) -> list[ImportedLabel]:
    """One ImportedLabel per image from its rows: the most numerous label names the frame (an animal wins over a
    'blank' row of the same frame), every box is kept with its own label, and the count is that label's."""
    from wildeye.labels import BLANK

    by_image: dict[tuple[str, ...], list[Observation]] = {}
    for obs in observations:
        by_image.setdefault(obs.paths, []).append(obs)
    out = []
    for paths, rows in by_image.items():
        seen = [o for o in rows if o.label != BLANK] or rows[:1]
        totals: dict[str, int | None] = {}
        for o in seen:
            n = o.count if o.count is not None else (1 if o.bbox is not None else None)
            if o.label not in totals:
                totals[o.label] = n
            elif n is not None:
                totals[o.label] = (totals[o.label] or 0) + n
        label = max(totals, key=lambda k: totals[k] or 0)  # first of the most numerous (dicts keep row order)
        boxes = [{"label": o.label, "bbox": list(o.bbox)} for o in seen if o.bbox is not None]
        count = totals[label] if label != BLANK else None
        scores = [o.score for o in seen if o.label == label and o.score is not None]
        out.append(ImportedLabel(paths, label, count, boxes or None, pixel_boxes and bool(boxes),
                                 next((o.reviewer for o in seen if o.reviewer), None),
                                 max((o.at for o in seen if o.at), default=None),
                                 max(scores) if scores else None,
                                 len({o.label for o in seen if o.label != BLANK})))
    return out
