"""New sightings from one run, flagship species first, and the `--on-sighting` hook that tells someone at once.

The hook's payload says where: the deployment's latitude and longitude, generalised like every export
(reports.privacy) when the deployment has a sighting of a sensitive species (privacy.sensitive_species, snow
leopard by default), unless privacy.generalise_locations is false. A message forwarded to a phone or a group chat
is an export too.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from dataclasses import asdict, dataclass

from wildeye.config import PrivacyConfig
from wildeye.labels import TAXON, common_name, kind, matches
from wildeye.names import fs_name, media_path


@dataclass
class Sighting:
    """One species in one sequence (burst) of one deployment, from the frames processed in this run."""

    label: str
    name: str  # common name for people
    deployment_id: str | None
    sequence_id: str | None
    start: str | None
    end: str | None
    frames: int
    score: float
    files: list[str]
    flagship: bool
    latitude: float | None = None
    longitude: float | None = None
    coordinate_uncertainty_m: float | None = None  # Camtrap DP coordinateUncertainty; widened when generalised
    location_generalised: bool = False


def new_sightings(journal, run_id: int, flagship_names: list[str],
                  privacy: PrivacyConfig | None = None) -> list[Sighting]:
    """Animal sightings among the frames this run processed, flagship species first, then by time, each with its
    deployment's location (generalised for sensitive species, see the module docstring)."""
    processed = set(journal.processed_in(run_id))
    labels = journal.final_labels()
    media = {m.path: m for m in journal.media()}
    places = _locations(journal.deployments(), labels, media, privacy or PrivacyConfig())
    flagship = list(flagship_names)
    groups: dict[tuple, list[str]] = defaultdict(list)
    for path in sorted(processed):
        prediction = labels.get(path)
        if prediction is None or kind(prediction.label) != TAXON:
            continue
        row = media[path]
        groups[(prediction.label, row.deployment_id, row.sequence_id or path)].append(path)
    sightings = []
    for (label, deployment, sequence), paths in groups.items():
        times = sorted(media[p].timestamp for p in paths if media[p].timestamp)
        name = common_name(label)
        sightings.append(Sighting(
            label=label, name=name, deployment_id=deployment, sequence_id=sequence,
            start=times[0] if times else None, end=times[-1] if times else None, frames=len(paths),
            score=round(max(labels[p].score for p in paths), 3), files=paths,
            flagship=matches(label, flagship), **places.get(deployment, {})))
    sightings.sort(key=lambda s: (not s.flagship, s.start or "", s.sequence_id or ""))
    return sightings


def _locations(deployments: dict, labels: dict, media: dict, privacy: PrivacyConfig) -> dict[str, dict]:
    """Deployment -> the location fields of its sightings; sites with a sensitive species in any frame of the
    journal (final labels, a reviewer's where there is one) are generalised."""
    from wildeye.reports.privacy import generalise

    sensitive = set()
    if privacy.generalise_locations and privacy.sensitive_species:
        for path, prediction in labels.items():
            row = media.get(path)
            if row is not None and matches(prediction.label, privacy.sensitive_species):
                sensitive.add(row.deployment_id)
    places = {}
    for dep_id, info in deployments.items():
        if info.latitude is None or info.longitude is None:
            continue
        try:
            known = float(info.extra.get("coordinateUncertainty") or 0) or None
        except ValueError:
            known = None
        if dep_id in sensitive:
            lat, lon, metres = generalise(info.latitude, info.longitude, known, privacy.coordinate_decimals)
            places[dep_id] = {"latitude": lat, "longitude": lon, "coordinate_uncertainty_m": metres,
                              "location_generalised": True}
        else:
            places[dep_id] = {"latitude": info.latitude, "longitude": info.longitude,
                              "coordinate_uncertainty_m": known}
    return places


def notify(command: str, sightings: list[Sighting], source: str, timeout_s: float = 60) -> list[dict]:
    """Run `command` once per flagship sighting: details in WILDEYE_* variables and as JSON on stdin.

    A failing hook is reported, never fatal: the run's results are already safe in the journal.
    """
    outcomes = []
    for sighting in (s for s in sightings if s.flagship):
        details = {**asdict(sighting), "source": source}
        env = {**os.environ, "WILDEYE_SPECIES": sighting.name, "WILDEYE_LABEL": sighting.label,
               "WILDEYE_DEPLOYMENT": sighting.deployment_id or "", "WILDEYE_SEQUENCE": sighting.sequence_id or "",
               "WILDEYE_START": sighting.start or "", "WILDEYE_END": sighting.end or "",
               "WILDEYE_FRAMES": str(sighting.frames), "WILDEYE_SCORE": str(sighting.score),
               "WILDEYE_LATITUDE": _text(sighting.latitude), "WILDEYE_LONGITUDE": _text(sighting.longitude),
               "WILDEYE_COORDINATE_UNCERTAINTY": _text(sighting.coordinate_uncertainty_m),
               "WILDEYE_LOCATION_GENERALISED": "1" if sighting.location_generalised else "0",
               "WILDEYE_FILES": "\n".join(str(media_path(fs_name(source), f)) for f in sighting.files)}
        try:
            proc = subprocess.run(command, shell=True, input=json.dumps(details), text=True, env=env,
                                  capture_output=True, timeout=timeout_s)
            outcomes.append({"sequence_id": sighting.sequence_id, "returncode": proc.returncode,
                             "stderr": proc.stderr[-500:]})
        except subprocess.TimeoutExpired:
            outcomes.append({"sequence_id": sighting.sequence_id, "returncode": None,
                             "stderr": f"timed out after {timeout_s:.0f} s"})
    return outcomes




def _text(value) -> str:
    return "" if value is None else str(value)
