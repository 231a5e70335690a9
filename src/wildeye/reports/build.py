"""`build_report`: journal -> sightings, effort, Camtrap DP, MegaDetector and COCO-CT JSON, HTML. No models run."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Callable

from wildeye.atomic import write_bytes_atomic, write_json_atomic
from wildeye.errors import ConfigError
from wildeye.names import fs_name
from wildeye.reports.filters import ReportFilters

STATE_FILE = ".wildeye-report.json"  # remembers when this folder last got a report (for --since)
OUTPUTS = {
    "sightings": "sightings.csv",
    "effort": "effort.csv",
    "rai": "rai.csv",
    "species": "species.csv",
    "diel": "diel_activity.csv",
    "apart": "taxa_apart.csv",
    "camtrap_dp": "camtrap-dp",
    "megadetector": "megadetector_reviewed.json",
    "coco_ct": "coco_camera_traps.json",
    "html": "report.html",
}
STEPS = 9
FILE_NOTES = {  # what the HTML report's file list says of each output
    "sightings": "independent events, one per row",
    "effort": "camera-days and RAI per deployment",
    "rai": "events per 100 camera-days, per deployment and species",
    "species": "per species: events, images, occupancy, scientific name",
    "diel": "events by hour of day",
    "apart": "events not counted as a species at the report's rank: 'animal', unknown, higher taxa",
    "camtrap_dp": "Camtrap DP 1.0.2 package (datapackage.json, deployments, media, observations)",
    "megadetector": "MegaDetector 1.6 JSON: each box with its decision, reviewers' labels applied "
                    "(Timelapse, AddaxAI, CamTrapTools)",
    "coco_ct": "COCO Camera Traps JSON (boxes in pixels of the upright frame)",
}


def build_report(out_dir: str | Path, report_dir: str | Path | None = None, filters: ReportFilters | None = None,
                 *, event_gap_s: float = 1800.0, gallery: bool = True, run_in_progress: bool | None = None,
                 on_progress: Callable[[int, int], None] | None = None, project=None, copy_media: bool = False,
                 strict: bool = False, raw_classifications: bool = False, rank: str = "species",
                 ecology: dict | None = None, health_config=None) -> dict:
    """Write every report file into report_dir (default OUT_DIR/report); returns the summary.

    out_dir is the folder `wildeye run` wrote (journal.sqlite, manifest.json). run_in_progress: None finds out
    from the journal's lock; a run that reports on itself at its end passes False (it holds that lock).
    project: a reports.metadata.ProjectMetadata (datapackage.json metadata, media URL, privacy); None: defaults,
    which generalise the sites of snow leopards. Privacy (reports.privacy) is applied to the frames and
    deployments before any writer runs. copy_media: put the media files in the Camtrap DP package. strict: refuse
    (ConfigError, nothing written) when the Camtrap DP package would not be ready for GBIF. raw_classifications:
    the MegaDetector file also carries each box's classifier top-k (`raw_classifications`). rank: what RAI,
    species tables and the ecology sections count (ecology.ranks; 'animal', unknowns and higher taxa apart).
    ecology: options for the occupancy, activity and richness sections (reports.ecology.EcologyOptions fields);
    {"enabled": False} leaves them out. health_config: the thresholds of the "Camera health" section
    (reports.health.HealthConfig; None: its defaults).
    """
    from wildeye.reports import camtrapdp, coco_ct, effort as effort_mod, events as events_mod, frames as frames_mod
    from wildeye.reports import ecology_html, html as html_mod
    from wildeye.reports import health as health_mod
    from wildeye.reports import megadetector, tables
    from wildeye.reports.filters import apply_filters, known_species_error
    from wildeye.reports.metadata import ProjectMetadata
    from wildeye.reports.privacy import apply_privacy
    from wildeye.ecology.ranks import RankMapper, check_rank
    from wildeye.reports.taxa import Names, package_taxonomy

    started = time.perf_counter()
    begun = datetime.now().astimezone()  # frames processed from now on are new to the next --since report
    out_dir = Path(out_dir)
    report_dir = Path(report_dir) if report_dir else out_dir / "report"
    filters = filters or ReportFilters()
    if event_gap_s <= 0:
        raise ConfigError(f"event gap {event_gap_s:g} s is not positive", "pass --event-gap in minutes, e.g. 30")
    try:
        rank = check_rank(rank)
    except ValueError as exc:
        raise ConfigError(str(exc), "pass --rank species (the default), genus, family, order or class") from None
    step = 0

    def tick() -> None:
        nonlocal step
        step += 1
        if on_progress:
            on_progress(step, STEPS)

    from wildeye.store.journal import Journal

    with Journal.open(out_dir, write=False) as journal:
        data = frames_mod.load(out_dir, journal)
        sizes = journal.media_sizes()
    tick()
    known = set(data.deployments)
    unknown = [d for d in filters.deployments if d not in known]
    if unknown:
        raise ConfigError(f"unknown deployment {', '.join(unknown)}",
                          "choose from " + ", ".join(sorted(known)[:10]) + (" …" if len(known) > 10 else ""))
    if filters.species:
        missing = known_species_error(data.frames, filters.species)
        if missing:
            seen = sorted({o.key for f in data.frames for o in f.observations if o.kind == frames_mod.ANIMAL})
            raise ConfigError(f"no frame shows species {missing}",
                              "choose from " + (", ".join(seen[:10]) or "(no animals in this journal)"))
    notes = list(data.notes)
    state_path = report_dir / STATE_FILE
    if filters.since:
        previous = _read_state(state_path)
        if previous is None:
            notes.append("--since: no earlier report in this folder, so everything is included")
        filters.last_report = previous
    frames = apply_filters(data.frames, filters)
    project = project or ProjectMetadata()
    privacy = apply_privacy(data.frames, frames, data.deployments, project.privacy)
    root = Path(fs_name(data.source)) if data.source else None
    if copy_media and root is None:
        raise ConfigError("--copy-media: the journal does not say which folder the images are in",
                          "run `wildeye run` on the card again, or leave out --copy-media")
    if strict:
        _check_gbif_ready(project, privacy)
    published = replace(data, deployments=privacy.deployments)  # what every writer sees
    names = Names.from_frames(data.frames, project.scientific_names, package_taxonomy(data.models))
    tick()
    taxon_of = RankMapper(rank, names.taxonomy_string)
    events = events_mod.independent_events(privacy.frames, event_gap_s, taxon_of)
    identified = [e for e in events if e.identified]
    diel = events_mod.diel_activity(identified)
    tick()
    # effort counts every frame in range (people's too): leaving photos out must not shorten camera-days
    efforts = effort_mod.deployment_effort(published, frames, events, filters.window,
                                           set(filters.deployments) or None)
    species = effort_mod.species_summary(events, efforts, privacy.frames, names, taxon_of)
    tick()

    report_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: report_dir / file for name, file in OUTPUTS.items()}
    sightings = tables.sighting_rows(events, published.deployments, names)
    effort_rows = tables.effort_rows(efforts)
    tables.write_csv(paths["sightings"], tables.SIGHTINGS_COLUMNS, sightings)
    tables.write_csv(paths["effort"], tables.EFFORT_COLUMNS, effort_rows)
    tables.write_csv(paths["rai"], tables.RAI_COLUMNS, tables.rai_rows(efforts, species))
    tables.write_csv(paths["species"], tables.SPECIES_COLUMNS, species)
    species_names = {r["key"]: r["species"] for r in species}
    diel_columns, diel_rows = tables.diel_rows(diel, species_names)
    tables.write_csv(paths["diel"], diel_columns, diel_rows)
    apart = tables.apart_rows(events)
    tables.write_csv(paths["apart"], tables.APART_COLUMNS, apart)
    # camera health: every frame of the deployments in the report (a camera's faults do not depend on the filters)
    health = health_mod.check_health(data, health_config, sizes=sizes, deployments=filters.deployments)
    ecology_section = _ecology(published, frames, identified, efforts, species_names, ecology, report_dir, notes,
                               health.downtime())
    tick()
    # Camtrap DP's event observations are of what was identified, whatever rank the tables count at
    dp_events = events if rank == "species" else events_mod.independent_events(
        privacy.frames, event_gap_s, RankMapper("species", names.taxonomy_string))
    package = camtrapdp.write_package(paths["camtrap_dp"], published, privacy.frames, dp_events, efforts,
                                      metadata=project, names=names, private_media=privacy.private_media,
                                      coordinate_precision=privacy.coordinate_precision,
                                      copy_media=root if copy_media else None, blur=privacy.blur,
                                      strip_exif=set(privacy.generalised))
    notes.extend(f"Camtrap DP: {p}" for p in package["problems"])
    tick()
    _write_json(paths["megadetector"], megadetector.megadetector_document(
        privacy.frames, data.models, names, raw_classifications=raw_classifications))
    tick()
    _write_json(paths["coco_ct"], coco_ct.coco_camera_traps(privacy.frames, published.deployments, names))
    tick()

    if privacy.people is not None:  # --exclude-humans: no finding names a frame that shows a person
        people = {f.path for f in data.frames if any(o.kind == frames_mod.HUMAN for o in f.observations)}
        for finding in health.findings:
            finding.examples = [p for p in finding.examples if p not in people]
    processed = [f for f in frames if f.status == "done"]
    pending = sum(f.status == "pending" for f in frames)
    if run_in_progress is None:
        run_in_progress = journal_locked(out_dir)
    notes.extend(_incomplete_notes(pending, run_in_progress))
    notes.extend(privacy.notes())
    apart_events = sum(r["events"] for r in apart if r["reason"] in ("above the rank", "no taxonomy"))
    unidentified = len(events) - len(identified) - apart_events
    if unidentified:
        notes.append(f"{unidentified} event{'s' if unidentified != 1 else ''} of animals not identified to any taxon "
                     "('animal', unknown): in sightings.csv, taxa_apart.csv and Camtrap DP, not counted as a species "
                     "or in RAI")
    if apart_events:
        notes.append(f"{apart_events} event{'s' if apart_events != 1 else ''} of taxa not placed at {rank} rank "
                     "(a genus or family when counting species): in sightings.csv and taxa_apart.csv, not counted "
                     f"as a {rank} or in RAI")
    trusted = sorted({e.name for e in identified if e.taxon is not None and not e.taxon.taxonomy})
    if trusted:
        notes.append(f"counted as species without a taxonomy to check it: {', '.join(trusted[:8])}"
                     + (" …" if len(trusted) > 8 else "") + " (give them one with scientific_names in the project "
                     "YAML)")
    locals_ = [f.local for f in frames if f.local is not None]
    summary = {
        "title": Path(data.source).name if data.source else out_dir.name,
        "period": (f"{min(locals_):%Y-%m-%d} to {max(locals_):%Y-%m-%d}" if locals_ else "no dated frames"),
        "frames": len(frames),
        "processed": len(processed),
        "failed": sum(f.status == "failed" for f in frames),
        "pending": pending,
        "run_in_progress": run_in_progress,
        "blank_frames": sum({o.kind for o in f.observations} == {frames_mod.BLANK} for f in processed),
        "animal_frames": sum(any(o.kind == frames_mod.ANIMAL for o in f.observations) for f in processed),
        "events": len(events),
        "unidentified_events": unidentified,
        "apart_events": apart_events,
        "rank": rank,
        "verified_events": sum(e.verified for e in events),
        "species": len(species),
        "deployments": len(efforts),
        "camera_days": round(sum(e.camera_days for e in efforts), 3),
        "event_gap_min": event_gap_s / 60,
        "species_events": {r["species"]: r["events"] for r in species},
        "filters": filters.describe(),
        "filters_text": _filters_text(filters),
        "privacy": privacy.describe(),
        "health": {**health.counts(), "deployments": len(health.deployments),
                   "healthy": sum(not d.findings for d in health.deployments)},
        "camtrap_dp": {"taxa": package["taxa"], "gbif_gaps": package["gbif_gaps"],
                       "copied_media": package["copied_media"]},
        "notes": notes,
    }
    files = [(OUTPUTS[name] + ("/datapackage.json" if name == "camtrap_dp" else ""), note)
             for name, note in FILE_NOTES.items()] + list((ecology_section or {}).get("files", []))
    report = {"summary": summary, "species": species, "effort": effort_rows, "sightings": sightings, "files": files,
              "diel": diel, "names": species_names, "event_days": html_mod.event_days(events),
              "generalised": list(privacy.generalised), "ecology_view": ecology_html.view(ecology_section),
              "health": health.as_dict()}
    best = _gallery(identified, species_names, privacy.blur, taxon_of) if gallery else []
    write_bytes_atomic(paths["html"], html_mod.render(report, root, best).encode("utf-8"))
    tick()
    _write_state(state_path, begun)
    summary["outputs"] = {name: str(path) for name, path in paths.items()}
    summary["report_dir"] = str(report_dir)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


def journal_locked(out_dir: Path) -> bool:
    """Whether a live wildeye run holds the journal's lock (store.journal.is_locked: never waits, never takes it)."""
    from wildeye.store.journal import is_locked

    return is_locked(out_dir) is not None


def _incomplete_notes(pending: int, run_in_progress: bool) -> list[str]:
    """Say so when the numbers are not final: frames not processed yet, or a run still writing the journal."""
    notes = []
    if pending:
        notes.append(f"{pending} frame{'s' if pending != 1 else ''} still pending (not processed yet): their "
                     "sightings are missing from this report; run `wildeye run` on the same folder to finish them")
    if run_in_progress:
        notes.append("a run is in progress (another wildeye process holds the journal): these numbers will change; "
                     "make the report again when it has finished")
    return notes


def _ecology(data, frames, events, efforts, names, options, report_dir, notes, downtime=None) -> dict | None:
    """The occupancy, activity and richness sections (reports.ecology), their CSVs in report_dir/ecology/."""
    from wildeye.reports.ecology import EcologyOptions, analyse

    options = dict(options or {})
    if not options.pop("enabled", True):
        return None
    result = analyse(data, frames, events, efforts, names, EcologyOptions(**options), report_dir / "ecology",
                     downtime)
    notes.extend(result["notes"])
    return result


def _write_json(path: Path, document: dict) -> None:
    """Indented while a person might read it; compact (C encoder, ~5x faster) for big runs."""
    if len(document["images"]) <= 5000:
        write_json_atomic(path, document)
    else:
        write_bytes_atomic(path, json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _check_gbif_ready(project, privacy) -> None:
    """--strict: one ConfigError naming every gap, before anything is written."""
    gaps = list(project.gbif_gaps())
    used = sorted({f.deployment_id for f in privacy.frames})
    nowhere = [d for d in used if d not in privacy.deployments or privacy.deployments[d].latitude is None
               or privacy.deployments[d].longitude is None]
    if nowhere:
        gaps.append("coordinates for deployment" + ("s " if len(nowhere) > 1 else " ") + ", ".join(nowhere[:5])
                    + (" …" if len(nowhere) > 5 else ""))
    if gaps:
        raise ConfigError("Camtrap DP not ready for GBIF: missing " + "; ".join(gaps),
                          "add them to the project YAML (see configs/project.yaml) or a deployments.csv, or drop "
                          "--strict")


def _gallery(events, names: dict[str, str], blur: dict | None = None, taxon_of=None) -> list[dict]:
    """The best frame of each species: most confident, then most individuals, verified first on ties. People in a
    frame kept for its animals (--exclude-humans) are blurred."""
    best: dict[str, object] = {}
    for e in events:
        current = best.get(e.species)
        rank = (e.confidence, e.count, e.verified)
        if current is None or rank > (current.confidence, current.count, current.verified):
            best[e.species] = e
    items = []
    for key, e in sorted(best.items(), key=lambda kv: names.get(kv[0], kv[0])):
        boxes = [o.bbox for o in e.best.observations if o.bbox is not None
                 and (taxon_of(o.label).key if taxon_of is not None else o.key) == key]
        items.append({"species": names.get(key, e.name), "path": e.best.path, "deployment_id": e.deployment_id,
                      "time": e.best.local.strftime("%Y-%m-%d %H:%M") if e.best.local else "",
                      "confidence": e.confidence, "verified": e.best.verified, "boxes": boxes,
                      "blur": (blur or {}).get(e.best.path, []),
                      # a video's still: its best frame, whose boxes these are (inference.video)
                      "video_frame": e.best.video.best_frame if e.best.video is not None else None})
    return items


def _filters_text(f: ReportFilters) -> str:
    parts = []
    if f.date_from or f.date_until:
        parts.append(f"dates {f.date_from or '…'} to {f.date_until or '…'}")
    if f.deployments:
        parts.append("deployments " + ", ".join(f.deployments))
    if f.species:
        parts.append("species " + ", ".join(f.species))
    if f.since:
        parts.append(f"new since {f.last_report.isoformat(timespec='seconds') if f.last_report else 'ever'}")
    if f.min_confidence:
        parts.append(f"machine confidence ≥ {f.min_confidence:g}")
    if f.verified_only:
        parts.append("verified frames only")
    return "; ".join(parts)


def _read_state(path: Path) -> datetime | None:
    try:
        return datetime.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["last_report"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(path: Path, when: datetime) -> None:
    write_json_atomic(path, {"last_report": when.isoformat()})
