"""CSV tables a spreadsheet opens: sightings, effort per deployment, RAI per deployment and species, diel activity.

These files are opened in Excel or LibreOffice, where a cell starting with `=`, `+`, `-`, `@`, tab or CR is run as
a formula: a deployment ID or label like `=HYPERLINK(...)` would be. `spreadsheet_safe` writes such cells with a
leading `'` (OWASP's CSV-injection rule); genuine numbers (`-12.5`) are left alone.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from wildeye.atomic import write_bytes_atomic
from wildeye.reports.effort import Effort
from wildeye.reports.events import Event

SIGHTINGS_COLUMNS = ["event_id", "deployment_id", "location_name", "species", "scientific_name", "label", "start",
                     "end", "start_local", "duration_s", "frames", "count", "confidence", "verified",
                     "verified_frames", "best_frame", "best_bbox_x", "best_bbox_y", "best_bbox_width",
                     "best_bbox_height"]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(value):
    """The cell as a spreadsheet will show it as text, never run it as a formula (see the module docstring)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def write_csv(path: Path, columns: list[str], rows, *, spreadsheet: bool = True) -> int:
    """Write one table; `spreadsheet=False` keeps every value exact, for data packages that programs read."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    n = 0
    for row in rows:
        if isinstance(row, dict):
            row = [_cell(row.get(c)) for c in columns]
        writer.writerow([spreadsheet_safe(v) for v in row] if spreadsheet else row)
        n += 1
    write_bytes_atomic(path, buf.getvalue().encode("utf-8"))
    return n


def sighting_rows(events: list[Event], deployments: dict, names=None) -> list[dict]:
    """One row per independent event; `names` (taxa.Names) gives plain labels their scientific name."""
    rows = []
    for e in events:
        info = deployments.get(e.deployment_id)
        bbox = e.best_observation.bbox if e.best_observation and e.best_observation.bbox else (None,) * 4
        rows.append({
            "event_id": e.event_id, "deployment_id": e.deployment_id,
            "location_name": info.location_name if info else None, "species": e.name,
            "scientific_name": names.scientific_name(e.label) if names else e.scientific_name, "label": e.label,
            "start": e.start.when.isoformat() if e.start.when else None,
            "end": e.end.when.isoformat() if e.end.when else None,
            "start_local": e.start.local.isoformat() if e.start.local else None,
            "duration_s": round(e.duration_s, 3), "frames": e.n_frames, "count": e.count,
            "confidence": round(e.confidence, 4), "verified": e.verified, "verified_frames": e.verified_frames,
            "best_frame": e.best.path if e.best else None,
            "best_bbox_x": bbox[0], "best_bbox_y": bbox[1], "best_bbox_width": bbox[2], "best_bbox_height": bbox[3],
        })
    return rows


EFFORT_COLUMNS = ["deployment_id", "location_name", "latitude", "longitude", "coordinate_uncertainty_m",
                  "effort_start", "effort_end", "effort_from", "camera_days", "images", "blank_images",
                  "animal_images", "events", "species", "rai_all", "unidentified_events", "apart_events"]


def effort_rows(efforts: list[Effort]) -> list[dict]:
    """events, species and rai_all count taxa at the report's rank; events of 'animal' or unknowns are
    unidentified_events, of taxa above the rank (a rollup to a family when counting species) apart_events.
    Coordinates are as the report may publish them (generalised for sensitive species, see reports.privacy)."""
    return [{"deployment_id": e.deployment_id, "location_name": e.location_name, "latitude": e.latitude,
             "longitude": e.longitude, "coordinate_uncertainty_m": _whole(e.coordinate_uncertainty),
             "unidentified_events": e.unidentified_events, "apart_events": e.apart_events,
             "effort_start": e.start.isoformat() if e.start else None,
             "effort_end": e.end.isoformat() if e.end else None, "effort_from": e.effort_from,
             "camera_days": e.camera_days, "images": e.images, "blank_images": e.blank_images,
             "animal_images": e.animal_images, "events": e.total_events, "species": len(e.events),
             "rai_all": round(100.0 * e.total_events / e.camera_days, 4) if e.camera_days else None}
            for e in efforts]


RAI_COLUMNS = ["deployment_id", "species", "events", "camera_days", "rai"]


def rai_rows(efforts: list[Effort], species: list[dict]) -> list[dict]:
    """Every deployment x every species seen anywhere: zeros are data (the species was looked for)."""
    rows = []
    for e in efforts:
        for s in species:
            rai = e.rai(s["key"])
            rows.append({"deployment_id": e.deployment_id, "species": s["species"],
                         "events": e.events.get(s["key"], 0), "camera_days": e.camera_days,
                         "rai": round(rai, 4) if rai is not None else None})
    return rows


SPECIES_COLUMNS = ["species", "scientific_name", "taxon_rank", "label", "events", "verified_events", "images",
                   "max_count", "individuals", "deployments", "naive_occupancy", "rai", "first_seen", "last_seen"]


APART_COLUMNS = ["name", "label", "scientific_name", "taxon_rank", "reason", "events", "deployments"]


def apart_rows(events: list[Event]) -> list[dict]:
    """Events that are no taxon at the report's rank ('animal', unknown, higher taxa): counted here, apart, never as
    species (ecology.ranks)."""
    from wildeye.ecology.ranks import APART_REASONS

    groups: dict[tuple, list[Event]] = {}
    for e in events:
        if e.taxon is not None and e.taxon.status in APART_REASONS:
            groups.setdefault((e.taxon.status, e.species), []).append(e)
    rows = [{"name": evs[0].name, "label": evs[0].label, "scientific_name": evs[0].taxon.scientific_name,
             "taxon_rank": evs[0].taxon.rank or "", "reason": APART_REASONS[status], "events": len(evs),
             "deployments": len({e.deployment_id for e in evs})} for (status, _), evs in groups.items()]
    return sorted(rows, key=lambda r: (-r["events"], r["name"]))


def diel_rows(diel: dict[str, list[int]], names: dict[str, str]) -> tuple[list[str], list[list]]:
    columns = ["species"] + [f"h{h:02d}" for h in range(24)]
    return columns, [[names.get(key, key), *hours] for key, hours in diel.items()]


def _whole(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _cell(value):
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 6))
    return value
