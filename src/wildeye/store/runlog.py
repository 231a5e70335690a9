"""A structured JSON-lines log per run, for schedulers and whoever reads last night's job in the morning."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path


class RunLog:
    """Appends one JSON object per line to OUT/logs/run-<id>.jsonl; each line is flushed as it is written."""

    def __init__(self, folder: Path, run_id: int):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"run-{run_id:05d}.jsonl"
        self._file = open(self.path, "a", encoding="utf-8")

    def event(self, event: str, /, **fields) -> None:
        record = {"time": datetime.now().astimezone().isoformat(timespec="milliseconds"), "event": event, **fields}
        self._file.write(json.dumps(record, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
