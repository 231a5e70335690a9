"""Camtrap DP 1.0 (TDWG) data package: deployments.csv, media.csv, observations.csv and datapackage.json.

Written against Camtrap DP 1.0.2, the current patch release of 1.0 (1.0's own profile has a broken JSON
pointer, `#$defs/version`, that validators reject; 1.0.1 fixed it). The published profile and table schemas are
vendored in `camtrapdp_schema/` so `validate_package` checks a package offline with frictionless.

Observations are media-level (one per box, or one per frame for blank frames and reviewer counts) plus one
event-level observation per independent event (sighting); media-level rows of a sighting carry its eventID.
Times need an offset in Camtrap DP: a deployment whose time zone is unknown is written as UTC with
`timestampIssues` true.

What GBIF reads, field by field (Camtrap DP 1.0.2 observations table):
- observationType: animal | human | vehicle | blank | unknown | unclassified; "unknown" is a classification
  nobody can name (wildeye's 'unknown', SpeciesNet's 'no cv result'), "unclassified" a frame not classified yet.
- scientificName: "scientific name of the observed individual(s)", the latin name only (reports.taxa): empty for
  'animal' (kingdom only) and for labels whose latin name is unknown; never a common name.
- classificationMethod / classifiedBy / classificationTimestamp / classificationProbability: the reviewer when a
  reviewer labelled it (probability 1), else the model that decided (frames.classified_by); event rows too.
- package.taxonomic: one entry per scientificName with taxonID (the SpeciesNet / Wildlife Insights taxon UUID),
  taxonRank, kingdom Animalia, class..genus and vernacularNames {"eng": common name}.
- media.filePath: "URL or relative path to the media file, respectively for externally hosted files or files that
  are part of the package"; its pattern forbids a leading `.`, `/` or `~` and any `..`, so a path cannot climb
  out of the package to the card. Hence three ways: `media_base_url` (URL + URL-quoted path, filePublic true),
  `copy_media` (the files copied into the package's media/ folder, filePath `media/<path>`), or, by default, the
  path relative to the card, with a note saying so.

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
import os
import shutil
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

from wildeye import __version__
from wildeye.atomic import write_json_atomic
from wildeye.ingest.video import media_type
from wildeye.labels import ANIMAL as KINGDOM
from wildeye.labels import parse
from wildeye.names import fs_name, media_path
from wildeye.reports.frames import ANIMAL, BLANK, UNCLASSIFIED, Frame
from wildeye.reports.tables import write_csv
from wildeye.reports.taxa import Names, coverage

VERSION = "1.0.2"
BASE_URL = f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/"
PROFILE_URL = BASE_URL + "camtrap-dp-profile.json"
SCHEMA_DIR = Path(__file__).with_name("camtrapdp_schema")
TABLES = ("deployments", "media", "observations")
LABEL_TAG = "wildeyeLabel:"  # observationTags entry keeping the exact classifier label (scientificName is lossy)
MEDIA_FOLDER = "media"  # inside the package, with copy_media


def table_columns(table: str) -> list[str]:
    schema = json.loads((SCHEMA_DIR / f"{table}-table-schema.json").read_text(encoding="utf-8"))
    return [f["name"] for f in schema["fields"]]


def media_id(path: str) -> str:
    return hashlib.sha1(path.encode("utf-8")).hexdigest()[:16]


def file_path(path: str, base_url: str | None = None, copied: bool = False) -> str:
    """media.filePath for a frame recorded as `path` (relative to the card); see the module docstring."""
    if base_url:
        return f"{base_url.rstrip('/')}/{quote(os.fsencode(fs_name(path)), safe='/')}"
    if copied:
        return f"{MEDIA_FOLDER}/{path}"
    return path.lstrip("./~")


def write_package(folder: Path, data, frames: list[Frame], events, efforts, *, metadata=None,
                  names: Names | None = None, private_media: set[str] | frozenset = frozenset(),
                  coordinate_precision: float | None = None, copy_media: Path | None = None,
                  blur: dict | None = None, strip_exif: set[str] | frozenset = frozenset()) -> dict:
    """Write the four files into `folder`; returns counts and the problems that keep the package from validating
    or from going to GBIF as it is.

    metadata: a reports.metadata.ProjectMetadata (title, contributors, licences ...); names: label -> taxon;
    private_media: frames never marked public (they show people); coordinate_precision: set when coordinates were
    rounded; copy_media: the card folder to copy the media from into `folder`/media (blur: person boxes to blur per
    frame; strip_exif: deployments whose copied JPEGs lose their EXIF, GPS included).
    """
    from wildeye.reports.metadata import ProjectMetadata

    meta = metadata or ProjectMetadata()
    names = names or Names.from_frames(frames, meta.scientific_names)
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
    base_url = meta.media_base_url
    media_rows, obs_rows, undated = [], [], 0
    taxa, nameless = [], {}
    exported: list[Frame] = []
    for frame in frames:
        if frame.when is None:
            undated += 1
            continue
        exported.append(frame)
        mid = media_id(frame.path)
        stamp = _stamp(frame.when)
        end = _stamp(_end_of(frame))
        media_rows.append({
            "mediaID": mid, "deploymentID": frame.deployment_id, "captureMethod": "activityDetection",
            "timestamp": stamp, "filePath": file_path(frame.path, base_url, copy_media is not None),
            "filePublic": bool(base_url) and frame.path not in private_media,
            "fileName": frame.path.rsplit("/", 1)[-1],
            "fileMediatype": media_type(frame.path) or mimetypes.guess_type(frame.path)[0] or "image/jpeg",
            "favorite": True if frame.path in favourites else None,
            "mediaComments": frame.failure or _video_comment(frame)})
        for i, obs in enumerate(frame.observations):
            sci = ""
            if obs.kind == ANIMAL:
                taxon = names.taxon(obs.label)
                if taxon is not None:
                    sci = taxon.scientific_name
                    taxa.append(taxon)
                elif parse(obs.label).kind != KINGDOM:
                    nameless[obs.label] = nameless.get(obs.label, 0) + 1
            classified = obs.kind != UNCLASSIFIED
            bbox = obs.bbox or (None,) * 4
            obs_rows.append({
                "observationID": f"{mid}_{i + 1}", "deploymentID": frame.deployment_id, "mediaID": mid,
                "eventID": in_event.get((frame.path, obs.key)) if obs.kind == ANIMAL else None,
                "eventStart": stamp, "eventEnd": end, "observationLevel": "media",
                "observationType": obs.kind, "scientificName": sci or None,
                "count": obs.count if obs.kind not in (BLANK, UNCLASSIFIED) and obs.count else None,
                "bboxX": _coord(bbox[0]), "bboxY": _coord(bbox[1]),
                "bboxWidth": _coord(bbox[2]), "bboxHeight": _coord(bbox[3]),
                "classificationMethod": obs.method if classified else None,
                "classifiedBy": obs.by if classified else None,
                "classificationTimestamp": _any_stamp(obs.at) if classified else None,
                "classificationProbability": round(obs.probability, 4) if obs.probability is not None
                and classified else None,
                "observationTags": LABEL_TAG + obs.label})
    for e in events:
        taxon = names.taxon(e.label)
        if taxon is not None:
            taxa.append(taxon)
        decided = e.classification
        probability = decided.probability if decided and decided.probability is not None else e.confidence
        obs_rows.append({
            "observationID": e.event_id, "deploymentID": e.deployment_id, "eventID": e.event_id,
            "eventStart": _stamp(e.start.when), "eventEnd": _stamp(_end_of(e.end)), "observationLevel": "event",
            "observationType": ANIMAL, "scientificName": taxon.scientific_name if taxon else None, "count": e.count,
            "classificationMethod": decided.method if decided else ("human" if e.verified else "machine"),
            "classifiedBy": decided.by if decided else None,
            "classificationTimestamp": _any_stamp(decided.at) if decided else None,
            "classificationProbability": round(probability, 4),
            "observationTags": LABEL_TAG + e.label,
            "observationComments": f"independent event: {e.n_frames} frames; best frame {e.best.path}"
                                   + (f" (video frame {e.best.video.best_frame})" if e.best.video else "")})
    media_columns, obs_columns = table_columns("media"), table_columns("observations")
    write_csv(folder / "media.csv", media_columns, media_rows, spreadsheet=False)
    write_csv(folder / "observations.csv", obs_columns, obs_rows, spreadsheet=False)

    copied = None
    if copy_media is not None:
        copied = _copy_media(copy_media, folder / MEDIA_FOLDER, exported, blur or {}, strip_exif)
        if copied["missing"]:
            problems.append(f"{copied['missing']} media files not found under {copy_media}, so not copied")
        if copied.get("withheld"):
            problems.append(f"{copied['withheld']} videos showing people not copied (wildeye blurs people in "
                            "stills only)")

    levels = sorted({r["observationLevel"] for r in obs_rows}) or ["media"]
    descriptor = _descriptor(data, meta, dep_rows, media_rows, coverage(taxa), frames, levels, coordinate_precision)
    if "spatial" not in descriptor:
        problems.append("no deployment has coordinates, so the package has no 'spatial' extent")
    write_json_atomic(folder / "datapackage.json", descriptor)
    if undated:
        problems.append(f"{undated} media without a capture time left out (Camtrap DP requires one)")
    if nameless:
        listed = ", ".join(f"{parse(label).name!r} ({n})" for label, n in sorted(nameless.items())[:10])
        more = f" and {len(nameless) - 10} more" if len(nameless) > 10 else ""
        problems.append(f"no scientific name for {listed}{more}: scientificName left empty; add them under "
                        "scientific_names in the project YAML")
    gaps = meta.gbif_gaps()
    if gaps:
        problems.append("not ready for GBIF, add " + "; ".join(gaps) + " (project YAML or flags, see "
                        "configs/project.yaml)")
    if not base_url and copy_media is None:
        problems.append("media filePath is relative to the card, not the package: pass --media-base-url URL "
                        "where the images are published, or --copy-media to put them in the package")
    return {"deployments": len(dep_rows), "media": len(media_rows), "observations": len(obs_rows),
            "taxa": len(descriptor["taxonomic"]), "gbif_gaps": gaps, "copied_media": copied, "problems": problems}


def _copy_media(root: Path, dest: Path, frames: list[Frame], blur: dict, strip_exif) -> dict:
    """Copy (hard-link where the file system allows) each exported frame into the package; frames with people to
    blur are re-encoded blurred, and JPEGs of `strip_exif` deployments lose their EXIF (GPS) segments losslessly."""
    from wildeye.atomic import write_bytes_atomic
    from wildeye.reports.privacy import blurred_jpeg, without_exif

    counts = {"copied": 0, "blurred": 0, "stripped": 0, "missing": 0}
    for frame in frames:
        src = media_path(root, frame.path)
        target = dest / frame.path
        if not src.is_file():
            counts["missing"] += 1
            continue
        if frame.path in blur and frame.kind == "video":  # people in a clip are not blurred: it is not copied
            counts["withheld"] = counts.get("withheld", 0) + 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if frame.path in blur:
            write_bytes_atomic(target, blurred_jpeg(src, blur[frame.path]))
            counts["blurred"] += 1
        elif frame.deployment_id in strip_exif and src.suffix.lower() in (".jpg", ".jpeg"):
            write_bytes_atomic(target, without_exif(src.read_bytes()))
            counts["stripped"] += 1
        else:
            if target.exists():
                target.unlink()
            try:
                os.link(src, target)
            except OSError:
                shutil.copy2(src, target)
        counts["copied"] += 1
    return counts


def _descriptor(data, meta, dep_rows, media_rows, taxonomic: list[dict], frames, levels: list[str],
                coordinate_precision: float | None) -> dict:
    """datapackage.json (Camtrap DP 1.0.2 profile): the project's metadata, coverage computed from the tables."""
    source = data.source or "camera-trap dump"
    name = Path(source).name or "wildeye"
    title = meta.title or f"Camera-trap sightings from {name}"
    contributors = [c.descriptor() for c in meta.contributors]
    named = {c["title"] for c in contributors}
    reviewers = sorted({o.by for f in frames for o in f.observations if o.method == "human" and o.by} - named)
    contributors += [{"title": r, "role": "contributor"} for r in reviewers]
    if not contributors:
        contributors = [{"title": "wildeye", "role": "contributor"}]
    project = meta.project
    descriptor: dict = {
        "resources": [{"name": t, "path": f"{t}.csv", "profile": "tabular-data-resource", "format": "csv",
                       "mediatype": "text/csv", "encoding": "utf-8", "schema": f"{BASE_URL}{t}-table-schema.json"}
                      for t in TABLES],
        "profile": PROFILE_URL,
        "name": "".join(c if c.isalnum() or c in "-_." else "-" for c in f"wildeye-{name}".lower()),
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"wildeye:{source}")),
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "title": title,
    }
    if meta.description:
        descriptor["description"] = meta.description
    if meta.keywords:
        descriptor["keywords"] = list(meta.keywords)
    descriptor["contributors"] = contributors
    if meta.licenses.data is not None and meta.licenses.media is not None:  # Camtrap DP: both, or none
        descriptor["licenses"] = [meta.licenses.data.descriptor("data"), meta.licenses.media.descriptor("media")]
    if meta.bibliographic_citation:
        descriptor["bibliographicCitation"] = meta.bibliographic_citation
    descriptor["sources"] = [{"title": "wildeye", "version": __version__}]
    descriptor["project"] = {k: v for k, v in {
        "id": project.id, "title": project.title or title, "acronym": project.acronym,
        "description": project.description, "path": project.path, "samplingDesign": project.sampling_design,
        "captureMethod": list(project.capture_method), "individualAnimals": project.individual_animals,
        "observationLevel": levels}.items() if v is not None}
    precisions = [p for p in (meta.coordinate_precision, coordinate_precision) if p]
    if precisions:
        descriptor["coordinatePrecision"] = max(precisions)  # the least precise one
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
    starts = [r["deploymentStart"][:10] for r in dep_rows if r.get("deploymentStart")]
    ends = [r["deploymentEnd"][:10] for r in dep_rows if r.get("deploymentEnd")]
    days = sorted(r["timestamp"][:10] for r in media_rows)
    if starts and ends:  # Camtrap DP temporal: start of the first deployment, end of the last
        descriptor["temporal"] = {"start": min(starts), "end": max(ends)}
    elif days:
        descriptor["temporal"] = {"start": days[0], "end": days[-1]}
    descriptor["taxonomic"] = taxonomic
    return descriptor


def _end_of(frame: Frame) -> datetime | None:
    """When a media file's recording ends: a still's timestamp, a video's plus its duration (Camtrap DP: a
    media-based observation of a video spans the video; an event ending with a video ends with it)."""
    duration = frame.video.duration if frame.video is not None else None
    return frame.when + timedelta(seconds=duration) if frame.when is not None and duration else frame.when


def _video_comment(frame: Frame) -> str | None:
    """Where a video's boxes come from: they are its best frame's (inference.video)."""
    clip = frame.video
    if clip is None or clip.best_frame is None:
        return None
    at = f" ({clip.best_time:.1f} s)" if clip.best_time is not None else ""
    return (f"video: {len(clip.frames)} frames sampled, every {clip.every_n_frames}; observations and boxes from "
            f"frame {clip.best_frame}{at}, the frame of the most confident detection")


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
