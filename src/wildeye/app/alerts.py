"""New sightings from one run, flagship species first, and the `--on-sighting` hook that tells someone at once."""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from dataclasses import asdict, dataclass

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


def new_sightings(journal, run_id: int, flagship_names: list[str]) -> list[Sighting]:
    """Animal sightings among the frames this run processed, flagship species first, then by time."""
    processed = set(journal.processed_in(run_id))
    labels = journal.final_labels()
    media = {m.path: m for m in journal.media()}
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
            flagship=matches(label, flagship)))
    sightings.sort(key=lambda s: (not s.flagship, s.start or "", s.sequence_id or ""))
    return sightings


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


