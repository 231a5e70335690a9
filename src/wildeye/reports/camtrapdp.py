"""Camtrap DP 1.0 (TDWG) data package: deployments.csv, media.csv, observations.csv and datapackage.json.

Written against Camtrap DP 1.0.2, the current patch release of 1.0 (1.0's own profile has a broken JSON
pointer, `#$defs/version`, that validators reject; 1.0.1 fixed it). The published profile and table schemas are
vendored in `camtrapdp_schema/` so `validate_package` checks a package offline with frictionless.

Observations are media-level (one per box, or one per frame for blank frames and reviewer counts) plus one
event-level observation per independent event (sighting); media-level rows of a sighting carry its eventID.
Times need an offset in Camtrap DP: a deployment whose time zone is unknown is written as UTC with
`timestampIssues` true.

The package's CSVs are written exactly, without the spreadsheet formula guard the report's own tables get
(`tables.spreadsheet_safe`): they are data that GBIF, camtraptor and `wildeye train` read, where a `'` before
an ID or a file path ("-cam2/IMG_0001.JPG", "@ridge") would change the value and break joins with other data.
Open them in a spreadsheet with import-as-text, or use sightings.csv and effort.csv, which are guarded.
"""

from __future__ import annotations

import csv
import hashlib
import json
import mimetypes
import uuid
from datetime import datetime, timezone
from pathlib import Path

from wildeye import __version__
from wildeye.atomic import write_json_atomic
from wildeye.labels import common_name
from wildeye.reports.frames import ANIMAL, BLANK, UNCLASSIFIED, Frame, scientific_name, taxon_rank
from wildeye.reports.tables import write_csv

VERSION = "1.0.2"
BASE_URL = f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/"
PROFILE_URL = BASE_URL + "camtrap-dp-profile.json"
SCHEMA_DIR = Path(__file__).with_name("camtrapdp_schema")
TABLES = ("deployments", "media", "observations")
LABEL_TAG = "wildeyeLabel:"  # observationTags entry keeping the exact classifier label (scientificName is lossy)


def table_columns(table: str) -> list[str]:
    schema = json.loads((SCHEMA_DIR / f"{table}-table-schema.json").read_text(encoding="utf-8"))
    return [f["name"] for f in schema["fields"]]


def media_id(path: str) -> str:
    return hashlib.sha1(path.encode("utf-8")).hexdigest()[:16]


def write_package(folder: Path, data, frames: list[Frame], events, efforts, *, title: str | None = None) -> dict:
    """Write the four files into `folder`; returns counts and the problems that keep the package from validating."""
    folder.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    unzoned = {dep for dep, tz in data.timezones.items() if tz is None}
    effort_by_dep = {e.deployment_id: e for e in efforts}
    in_event = {(path, e.species): e.event_id for e in events for path in e.frames}
    favourites = {e.best.path for e in events if e.best}

    # deployments
    dep_columns = table_columns("deployments")
    dep_rows, used_deps = [], sorted({f.deployment_id for f in frames} | set(effort_by_dep))
    for dep_id in used_deps:
        info = data.deployments.get(dep_id)
        effort = effort_by_dep.get(dep_id)
        row = {k: v for k, v in (info.extra if info else {}).items() if k in dep_columns}
        tz = data.timezones.get(dep_id)
        start = _dep_time(info.deployment_start if info else None, tz) or _stamp(effort.start if effort else None)
        end = _dep_time(info.deployment_end if info else None, tz) or _stamp(effort.end if effort else None)
        row.update({"deploymentID": dep_id, "locationID": info.location_id if info else None,
                    "locationName": info.location_name if info else None,
                    "latitude": info.latitude if info else None, "longitude": info.longitude if info else None,
                    "deploymentStart": start, "deploymentEnd": end,
                    "cameraID": info.camera_id if info else None, "cameraModel": info.camera_model if info else None,
                    "timestampIssues": dep_id in unzoned})
        if row["latitude"] is None or row["longitude"] is None:
            problems.append(f"deployment {dep_id} has no coordinates (Camtrap DP requires latitude/longitude)")
        if not start or not end:
            problems.append(f"deployment {dep_id} has no start/end and no dated images")
        dep_rows.append(row)
    write_csv(folder / "deployments.csv", dep_columns, dep_rows, spreadsheet=False)

    # media and observations
    media_rows, obs_rows, undated = [], [], 0
    taxa: dict[str, str] = {}
    for frame in frames:
        if frame.when is None:
            undated += 1
            continue
        mid = media_id(frame.path)
        stamp = _stamp(frame.when)
        media_rows.append({
            "mediaID": mid, "deploymentID": frame.deployment_id, "captureMethod": "activityDetection",
            "timestamp": stamp, "filePath": frame.path.lstrip("./~"), "filePublic": False,
            "fileName": frame.path.rsplit("/", 1)[-1],
            "fileMediatype": mimetypes.guess_type(frame.path)[0] or "image/jpeg",
            "favorite": True if frame.path in favourites else None,
            "mediaComments": frame.failure})
        for i, obs in enumerate(frame.observations):
            sci = ""
            if obs.kind == ANIMAL:
                sci = scientific_name(obs.label) or (common_name(obs.label) if obs.label.lower() != "animal" else "")
                if sci:
                    taxa.setdefault(sci, obs.label)
            bbox = obs.bbox or (None,) * 4
            obs_rows.append({
                "observationID": f"{mid}_{i + 1}", "deploymentID": frame.deployment_id, "mediaID": mid,
                "eventID": in_event.get((frame.path, obs.key)) if obs.kind == ANIMAL else None,
                "eventStart": stamp, "eventEnd": stamp, "observationLevel": "media",
                "observationType": obs.kind, "scientificName": sci or None,
                "count": obs.count if obs.kind not in (BLANK, UNCLASSIFIED) and obs.count else None,
                "bboxX": _coord(bbox[0]), "bboxY": _coord(bbox[1]),
                "bboxWidth": _coord(bbox[2]), "bboxHeight": _coord(bbox[3]),
                "classificationMethod": obs.method if obs.kind != UNCLASSIFIED else None,
                "classifiedBy": obs.by if obs.kind != UNCLASSIFIED else None,
                "classificationTimestamp": _any_stamp(obs.at) if obs.kind != UNCLASSIFIED else None,
                "classificationProbability": round(obs.probability, 4) if obs.probability is not None
                and obs.kind != UNCLASSIFIED else None,
                "observationTags": LABEL_TAG + obs.label})
    for e in events:
        sci = scientific_name(e.label) or common_name(e.label)
        obs_rows.append({
            "observationID": e.event_id, "deploymentID": e.deployment_id, "eventID": e.event_id,
            "eventStart": _stamp(e.start.when), "eventEnd": _stamp(e.end.when), "observationLevel": "event",
            "observationType": ANIMAL, "scientificName": sci, "count": e.count,
            "classificationMethod": "human" if e.verified else "machine",
            "classificationProbability": round(e.confidence, 4),
            "observationTags": LABEL_TAG + e.label,
            "observationComments": f"independent event: {e.n_frames} frames; best frame {e.best.path}"})
    media_columns, obs_columns = table_columns("media"), table_columns("observations")
    write_csv(folder / "media.csv", media_columns, media_rows, spreadsheet=False)
    write_csv(folder / "observations.csv", obs_columns, obs_rows, spreadsheet=False)

    descriptor = _descriptor(data, dep_rows, media_rows, taxa, title, frames)
    if "spatial" not in descriptor:
        problems.append("no deployment has coordinates, so the package has no 'spatial' extent")
    write_json_atomic(folder / "datapackage.json", descriptor)
    if undated:
        problems.append(f"{undated} media without a capture time left out (Camtrap DP requires one)")
    return {"deployments": len(dep_rows), "media": len(media_rows), "observations": len(obs_rows),
            "problems": problems}


def _descriptor(data, dep_rows, media_rows, taxa: dict[str, str], title, frames) -> dict:
    source = data.source or "camera-trap dump"
    name = Path(source).name or "wildeye"
    reviewers = sorted({o.by for f in frames for o in f.observations if o.method == "human" and o.by})
    contributors = [{"title": r, "role": "contributor"} for r in reviewers] or [
        {"title": "wildeye", "role": "contributor"}]
    descriptor: dict = {
        "resources": [{"name": t, "path": f"{t}.csv", "profile": "tabular-data-resource", "format": "csv",
                       "mediatype": "text/csv", "encoding": "utf-8", "schema": f"{BASE_URL}{t}-table-schema.json"}
                      for t in TABLES],
        "profile": PROFILE_URL,
        "name": "".join(c if c.isalnum() or c in "-_." else "-" for c in f"wildeye-{name}".lower()),
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"wildeye:{source}")),
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "title": title or f"Camera-trap sightings from {name}",
        "contributors": contributors,
        "sources": [{"title": "wildeye", "version": __version__}],
        "project": {"title": title or name, "samplingDesign": "opportunistic",
                    "captureMethod": ["activityDetection"], "individualAnimals": False,
                    "observationLevel": ["media", "event"]},
        "taxonomic": [_taxon(sci, label) for sci, label in sorted(taxa.items())],
    }
    points = [(r["longitude"], r["latitude"]) for r in dep_rows
              if r.get("latitude") is not None and r.get("longitude") is not None]
    if points:
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        if len(set(points)) == 1:
            descriptor["spatial"] = {"type": "Point", "coordinates": [lons[0], lats[0]]}
        else:
            w, e, s, n = min(lons), max(lons), min(lats), max(lats)
            descriptor["spatial"] = {"type": "Polygon",
                                     "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    days = sorted(r["timestamp"][:10] for r in media_rows)
    if days:
        descriptor["temporal"] = {"start": days[0], "end": days[-1]}
    return descriptor


def _taxon(sci: str, label: str) -> dict:
    out: dict = {"scientificName": sci}
    rank = taxon_rank(label)
    if rank:
        out["taxonRank"] = rank
    name = common_name(label)
    if name and name != sci:
        out["vernacularNames"] = {"eng": name}
    return out


def _stamp(when: datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)  # unknown zone: written as UTC, flagged in timestampIssues
    return when.isoformat(timespec="seconds")


def _any_stamp(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return _stamp(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def _dep_time(text: str | None, tz) -> str | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        return None
    if when.tzinfo is None and tz is not None:
        when = when.replace(tzinfo=tz)
    return _stamp(when)


def _coord(value):
    return None if value is None else round(min(max(float(value), 0.0), 1.0), 6)


# --- reading back and validating ------------------------------------------------------------------------------


def read_observations(folder: Path) -> list[dict]:
    """Media-level observations as {file, label, kind, count, bbox, method, probability}: for round trips."""
    with open(folder / "media.csv", newline="", encoding="utf-8") as f:
        paths = {r["mediaID"]: r["filePath"] for r in csv.DictReader(f)}
    out = []
    with open(folder / "observations.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["observationLevel"] != "media":
                continue
            tags = [t.strip() for t in r["observationTags"].split("|")]
            label = next((t[len(LABEL_TAG):] for t in tags if t.startswith(LABEL_TAG)), r["scientificName"])
            bbox = tuple(float(r[k]) for k in ("bboxX", "bboxY", "bboxWidth", "bboxHeight")) if r["bboxX"] else None
            out.append({"file": paths[r["mediaID"]], "label": label, "kind": r["observationType"],
                        "count": int(r["count"]) if r["count"] else None, "bbox": bbox,
                        "method": r["classificationMethod"] or None,
                        "probability": float(r["classificationProbability"]) if r["classificationProbability"]
                        else None, "event_id": r["eventID"] or None})
    return out


def validate_package(folder: Path) -> list[str]:
    """Validate with frictionless against the published Camtrap DP profile and table schemas, offline.

    The URLs in datapackage.json are served from the vendored copies; the generic Data Package schema the
    profile builds on is frictionless's own, and GeoJSON is the schema frictionless ships. Needs `frictionless`.
    Returns one line per problem; [] means valid.
    """
    import io

    import frictionless
    import requests
    from requests.adapters import BaseAdapter

    local = {BASE_URL + p.name: p.read_bytes() for p in SCHEMA_DIR.glob("*.json")}
    local["https://specs.frictionlessdata.io/schemas/data-package.json"] = json.dumps(
        frictionless.Package.metadata_profile).encode()
    local["http://json.schemastore.org/geojson.json"] = (
        Path(frictionless.__file__).parent / "assets" / "profiles" / "geojson.json").read_bytes()

    class Offline(BaseAdapter):
        def send(self, request, **kwargs):
            if request.url not in local:
                raise requests.ConnectionError(f"offline: {request.url} is not a vendored Camtrap DP schema")
            response = requests.Response()
            response.status_code, response.url, response.request = 200, request.url, request
            response.raw = io.BytesIO(local[request.url])
            return response

        def close(self):
            pass

    session = requests.Session()
    session.mount("http://", Offline())
    session.mount("https://", Offline())
    try:
        with frictionless.system.use_context(http_session=session):
            report = frictionless.Package(str(Path(folder) / "datapackage.json")).validate()
    except frictionless.FrictionlessException as exc:
        return [str(exc)]
    return [f"{task.name}: {error.message}" for task in report.tasks for error in task.errors] + \
        [error.message for error in report.errors]
