"""Camtrap DP 1.0 packages (TDWG; camtrap-dp.tdwg.org): media.csv + observations.csv (+ datapackage.json).

Rows are split by `classificationMethod`: human rows become human labels, machine rows machine results (a row
without a method is taken as a person's). Per the standard: `observationType` is animal, human, vehicle, blank,
unknown or unclassified (unclassified rows say nothing and are skipped); `scientificName` names the animal,
`datapackage.json`'s `taxonomic` list gives its vernacular name and ranks; bbox columns (bboxX, bboxY,
bboxWidth, bboxHeight) are normalized with a top-left origin; `classificationProbability` scores a machine row.
Media-level rows (with a mediaID) label their file; event-level rows (observationLevel "event", no mediaID)
label every file of their deployment between eventStart and eventEnd that has no media-level row of its own.
A wildeye export's `observationTags` entry "wildeyeLabel:<label>" gives back the exact label.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

from wildeye.errors import ConfigError
from wildeye.interop import (Imported, ImportedResult, Observation, column, group_labels, load_json, number,
                             read_csv_rows)
from wildeye.interop.decide import box_decision
from wildeye.interop.taxa import taxon_label
from wildeye.labels import BLANK, parse
from wildeye.records import Detection, Prediction

LABEL_TAG = "wildeyeLabel:"  # reports.camtrapdp.LABEL_TAG: wildeye's own exports keep the exact label here
_TYPES = {"animal", "human", "vehicle", "blank", "unknown"}
_BOX_CATEGORY = {"human": "person", "vehicle": "vehicle"}


def read_camtrapdp(path: Path, **_) -> Imported:
    folder = path if path.is_dir() else path.parent
    descriptor = load_json(folder / "datapackage.json") if (folder / "datapackage.json").is_file() else {}
    if not isinstance(descriptor, dict):
        raise ConfigError(f"{folder / 'datapackage.json'} is not a JSON object", "pass a Camtrap DP package")
    files = _resource_paths(descriptor)
    media_path, obs_path = folder / files["media"], folder / files["observations"]
    for table in (media_path, obs_path):
        if not table.is_file():
            raise ConfigError(f"Camtrap DP package {folder} has no {table.name}",
                              "pass the package folder holding datapackage.json, media.csv and observations.csv")
    taxa = _taxonomic(descriptor)
    media = read_csv_rows(media_path)
    mcol = {k: column(media.header, k) for k in ("mediaID", "deploymentID", "timestamp", "filePath", "fileName")}
    if mcol["mediaID"] is None or (mcol["filePath"] is None and mcol["fileName"] is None):
        raise ConfigError(f"{media_path} has no mediaID or filePath column", "pass a Camtrap DP 1.0 package")
    obs = read_csv_rows(obs_path)
    ocol = {k: column(obs.header, k) for k in (
        "observationID", "deploymentID", "mediaID", "eventStart", "eventEnd", "observationLevel", "observationType",
        "scientificName", "count", "bboxX", "bboxY", "bboxWidth", "bboxHeight", "classificationMethod",
        "classifiedBy", "classificationTimestamp", "classificationProbability", "observationTags")}
    if ocol["observationType"] is None:
        raise ConfigError(f"{obs_path} has no observationType column", "pass a Camtrap DP 1.0 package")

    def cell(row, cols, key) -> str:
        name = cols[key]
        return (row.get(name) or "").strip() if name else ""

    out = Imported("camtrap-dp", folder, tool=str(descriptor.get("title") or descriptor.get("name") or folder.name))
    by_id: dict[str, dict] = {}
    for row in media.rows:
        mid = cell(row, mcol, "mediaID")
        if mid:
            paths = tuple(dict.fromkeys(p for p in (cell(row, mcol, "filePath"), cell(row, mcol, "fileName")) if p))
            by_id[mid] = {"paths": paths, "deployment": cell(row, mcol, "deploymentID"),
                          "when": _time(cell(row, mcol, "timestamp"))}
    rows: dict[tuple[str, str], list[tuple[Observation, str]]] = {}  # (mediaID, method) -> (observation, type)
    events = []
    unclassified = 0
    machine_by: Counter = Counter()
    for i, row in enumerate(obs.rows):
        out.entries += 1
        where = cell(row, ocol, "observationID") or f"observations.csv row {i + 2}"
        kind = cell(row, ocol, "observationType").lower()
        if kind == "unclassified" or not kind:
            unclassified += 1
            continue
        if kind not in _TYPES:
            out.problem(where, f"observationType {kind!r} is not one of {', '.join(sorted(_TYPES))}")
            continue
        method = "machine" if cell(row, ocol, "classificationMethod").lower() == "machine" else "human"
        try:
            box = _bbox(row, ocol)
            count = number(cell(row, ocol, "count"), int)
            score = number(cell(row, ocol, "classificationProbability"))
        except ValueError as exc:
            out.problem(where, str(exc))
            continue
        label = _label(kind, cell(row, ocol, "scientificName"), cell(row, ocol, "observationTags"), taxa)
        by = cell(row, ocol, "classifiedBy") or None
        if method == "machine" and by:
            machine_by[by] += 1
        obs_row = Observation((), label, count, box, by, cell(row, ocol, "classificationTimestamp") or None, score)
        mid = cell(row, ocol, "mediaID")
        level = cell(row, ocol, "observationLevel").lower()
        if mid and level != "event":
            if mid not in by_id:
                out.problem(where, f"mediaID {mid!r} is not in media.csv")
                continue
            rows.setdefault((mid, method), []).append((obs_row, kind))
        else:
            start, end = _time(cell(row, ocol, "eventStart")), _time(cell(row, ocol, "eventEnd"))
            if start is None or end is None:
                out.problem(where, "event-level observation without a readable eventStart/eventEnd")
                continue
            events.append((cell(row, ocol, "deploymentID"), start, end, method, obs_row, kind))
    own = set(rows)
    for deployment, start, end, method, obs_row, kind in events:
        for mid, m in by_id.items():
            if (m["deployment"] == deployment and m["when"] is not None and (mid, method) not in own
                    and _between(m["when"], start, end)):
                rows.setdefault((mid, method), []).append((obs_row, kind))
    human, results = [], []
    for (mid, method), items in rows.items():
        paths = by_id[mid]["paths"]
        if not paths:
            out.problem(mid, "media row without filePath or fileName")
            continue
        if method == "human":
            human.extend(Observation(paths, o.label, o.count, o.bbox, o.reviewer, o.at, o.score) for o, _ in items)
        else:
            results.append(_result(paths, items))
    out.labels = group_labels(human)
    out.results = results
    if results:
        name = machine_by.most_common(1)[0][0] if machine_by else f"machine observations in {folder.name}"
        out.models = {"detector": {"name": name}, "classifier": {"name": name}}
        out.tool = name
    if unclassified:
        out.notes.append(f"{unclassified} unclassified observation(s) skipped (they say nothing about the frame)")
    return out


def _result(paths: tuple[str, ...], items: list[tuple[Observation, str]]) -> ImportedResult:
    """Machine rows of one file: each row with a box is a box (its row's label, counted), a row without one
    labels the frame."""
    boxes, frame = [], []
    for o, kind in items:
        score = o.score if o.score is not None else 1.0
        if o.bbox is not None and kind in ("animal", "human", "vehicle"):
            det = Detection(_BOX_CATEGORY.get(kind, "animal"), score, o.bbox, [(o.label, score)] if o.score else [])
            det.decision = box_decision(o.label, score, "classifier")
            det.decision.counted = parse(o.label).kind != BLANK
            boxes.append(det)
        else:
            frame.append((o, score))
    image = None
    if frame:
        o, score = max(frame, key=lambda f: (f[0].label != BLANK, f[1]))
        image = Prediction(o.label, score, "classifier")
    boxes.sort(key=lambda d: -d.conf)
    return ImportedResult(paths, boxes, image, final_boxes=True)


def _label(kind: str, scientific: str, tags: str, taxa: dict) -> str:
    for tag in tags.split("|"):
        tag = tag.strip()
        if tag.startswith(LABEL_TAG) and tag[len(LABEL_TAG):].strip():
            return tag[len(LABEL_TAG):].strip()
    if kind != "animal":
        return kind
    if not scientific:
        return "animal"
    taxon = taxa.get(scientific.lower(), {})
    return taxon_label(scientific=scientific, common=taxon.get("common", ""), ranks=taxon.get("ranks"))


def _bbox(row: dict, cols: dict):
    values = [(row.get(cols[k]) or "").strip() if cols[k] else ""
              for k in ("bboxX", "bboxY", "bboxWidth", "bboxHeight")]
    if not any(values):
        return None
    if not all(values):
        raise ValueError("bbox columns partly empty")
    x, y, w, h = (float(v) for v in values)
    if min(x, y, w, h) < 0 or max(x, y) > 1 or w > 1 or h > 1:
        raise ValueError(f"bbox {x, y, w, h} is not normalized to [0, 1]")
    return x, y, w, h


def _resource_paths(descriptor: dict) -> dict[str, str]:
    paths = {"media": "media.csv", "observations": "observations.csv"}
    for resource in descriptor.get("resources") or []:
        if isinstance(resource, dict) and resource.get("name") in paths and isinstance(resource.get("path"), str):
            paths[resource["name"]] = resource["path"]
    return paths


def _taxonomic(descriptor: dict) -> dict[str, dict]:
    """scientificName (lowercased) -> its English vernacular name and ranks, from datapackage.json."""
    out = {}
    for taxon in descriptor.get("taxonomic") or []:
        if not isinstance(taxon, dict) or not isinstance(taxon.get("scientificName"), str):
            continue
        names = taxon.get("vernacularNames") if isinstance(taxon.get("vernacularNames"), dict) else {}
        common = names.get("eng") or names.get("en") or ""
        ranks = {k: taxon[k] for k in ("class", "order", "family", "genus") if isinstance(taxon.get(k), str)}
        out[taxon["scientificName"].strip().lower()] = {"common": common, "ranks": ranks}
    return out


def _time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _between(when: datetime, start: datetime, end: datetime) -> bool:
    aware = {t.tzinfo is not None for t in (when, start, end)}
    if len(aware) > 1:  # mixed: compare wall clocks
        when, start, end = (t.replace(tzinfo=None) for t in (when, start, end))
    return start <= when <= end
