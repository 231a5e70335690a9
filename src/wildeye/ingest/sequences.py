"""Sequences (bursts): frames from one deployment less than a gap apart. Classify per frame, decide per sequence."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

from wildeye.ingest.manifest import MediaFile


def assign_sequences(files: list[MediaFile], gap_s: float) -> int:
    """Set sequence_id / frame_num / seq_num_frames on usable files; returns the number of sequences."""
    by_deployment: dict[str, list[tuple[float, str, MediaFile]]] = defaultdict(list)
    for record in files:
        if record.usable and record.timestamp:
            by_deployment[record.deployment_id or ""].append((_seconds(record.timestamp), record.path, record))
    count = 0
    for deployment_id, frames in sorted(by_deployment.items()):
        frames.sort(key=lambda item: (item[0], item[1]))
        sequence: list[MediaFile] = []
        previous = None
        number = 0
        for seconds, _, record in frames:
            if previous is not None and seconds - previous > gap_s:
                _close(sequence)
                sequence = []
            if not sequence:
                number += 1
                sequence_id = f"{deployment_id}#{number:05d}"
            record.sequence_id = sequence_id
            sequence.append(record)
            previous = seconds
        _close(sequence)
        count += number
    return count


def _close(sequence: list[MediaFile]) -> None:
    for frame_num, record in enumerate(sequence):
        record.frame_num, record.seq_num_frames = frame_num, len(sequence)


def _seconds(iso: str) -> float:
    value = datetime.fromisoformat(iso)
    if value.tzinfo is None:  # all times of one deployment share its zone, so naive ones compare as UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()
