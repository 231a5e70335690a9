"""The files a scan or run could not use, by name: `OUT/failed.csv` (path, stage, reason) holds them all, and a
summary names the first few and points to it. A count alone ("3 failed") sends a ranger hunting through 40,000
frames for the three.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from wildeye.atomic import write_text_atomic

logger = logging.getLogger(__name__)

FAILED_LIST = "failed.csv"
SHOWN = 5  # failed files named in a summary; the rest are in the list


@dataclass
class FailedFile:
    path: str  # as the journal and manifest record it, relative to the source folder
    stage: str  # "scan" (unusable when scanned: empty, not an image, unreadable) or "detect" (could not be decoded)
    reason: str


def failure_summary(out_dir: Path, failed: list[FailedFile]) -> dict:
    """Write the list and return what a summary carries: `failed_files` (the first SHOWN, in path order) and
    `failed_list` (the CSV's path; None when nothing failed)."""
    failed = sorted(failed, key=lambda f: f.path)
    try:
        listed = write_failed_list(out_dir, failed)
    except OSError as exc:  # a full disk costs the list, not the finished scan or run
        logger.warning("the list of failed files was not written to %s: %s", Path(out_dir) / FAILED_LIST, exc)
        listed = None
    return {"failed_files": [asdict(f) for f in failed[:SHOWN]], "failed_list": str(listed) if listed else None}


def write_failed_list(out_dir: Path, failed: list[FailedFile]) -> Path | None:
    """OUT/failed.csv with every failed file (atomically); with none, an earlier list is removed so that the file
    exists exactly when something failed. Returns its path, or None."""
    path = Path(out_dir) / FAILED_LIST
    if not failed:
        path.unlink(missing_ok=True)
        return None
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", "stage", "reason"])
    writer.writerows([f.path, f.stage, f.reason] for f in failed)
    write_text_atomic(path, text.getvalue())
    return path
