"""Each frame's capture time: from EXIF, or from the date the camera printed in the frame's info strip.

Per deployment (its deployments.csv `timeSource`, else the scan's setting):
  exif  EXIF only (the file's modification time where it has none); no OCR.
  ocr   the strip of every frame is read and its time used wherever legible.
  auto  the strip is read where EXIF is missing or implausible, and on a few frames per deployment (the first, the
        last and between) to check EXIF against it. If most of the frames read disagree with EXIF beyond the
        tolerance, EXIF is taken to be wrong: every frame of the deployment is read and the strip's time used
        where they disagree. A frame that disagrees alone among agreeing ones keeps EXIF (an OCR misread is likelier
        than one bad EXIF time); it is flagged either way.
Both times are kept (`camera_time` from EXIF, `strip_time` from the strip) and `time_source` says which one the
corrected `timestamp` comes from. Both are the camera's own clock, so the deployment's clockOffset corrects the one
used and plays no part in comparing them. A strip printed without seconds is compared with EXIF at the minute.
What OCR read is cached per file (path + content hash) in the manifest: a rescan reads no strip twice.
"""

from __future__ import annotations

import logging
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from wildeye.ingest.deployments import Deployment
from wildeye.ingest.manifest import MediaFile, ScanSettings
from wildeye.ingest.stripdate import StripStamp, decide_order, parse_strip
from wildeye.names import media_path

logger = logging.getLogger(__name__)
INFO_STRIP = "info_strip"
EARLIEST_PLAUSIBLE = datetime(2000, 1, 1)  # before this a trap's clock was reset, not set


@dataclass
class Frame:
    """One file being placed in time."""

    record: MediaFile
    deployment: Deployment
    exif: datetime | None  # EXIF's camera time when present and plausible
    stamp: StripStamp | None = None
    strip: datetime | None = None  # the strip's camera time, in the deployment's date order, when plausible

    @property
    def readable(self) -> bool:
        """A frame whose strip OCR may read (a video's first frame: its start): not a failure, a second copy, or a
        frame too large to decode cheaply."""
        record = self.record
        return (record.kind in ("image", "video") and record.usable
                and not any(f.code == "very_large" for f in record.flags))


class StripCache:
    """Strip texts read before, by (path, content hash), from the previous manifest in the output folder."""

    def __init__(self, previous: list[MediaFile] = ()):
        self._texts = {(r.path, r.content_hash): r.strip_text for r in previous if r.strip_text is not None}

    def get(self, record: MediaFile) -> str | None:
        return self._texts.get((record.path, record.content_hash))


class StripOCR:
    """Reads strips on demand, in threads; when no engine is there, says so once and reads nothing."""

    def __init__(self, source: Path, settings: ScanSettings, cache: StripCache):
        self.source, self.settings, self.cache = source, settings, cache
        self._reader = None
        self._missing: str | None = None

    def read(self, frames: list[Frame]) -> None:
        todo = []
        for frame in frames:
            if frame.record.strip_text is None:
                cached = self.cache.get(frame.record)
                if cached is not None:
                    frame.record.strip_text = cached
                else:
                    todo.append(frame)
        if not todo or not self._engine():
            return
        now = datetime.now() + timedelta(days=1)
        years = (EARLIEST_PLAUSIBLE.year, now.year)
        workers = max(1, min(self.settings.workers, os.cpu_count() or 1))
        with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=workers) as pool:
            warnings.filterwarnings("ignore", module="PIL")  # the scan has flagged what PIL warns about
            paths = [media_path(self.source, f.record.path) for f in todo]
            for frame, found in zip(todo, pool.map(lambda p: self._reader.read(p, years), paths)):
                frame.record.strip_text = found.text

    def _engine(self) -> bool:
        if self._reader is None and self._missing is None:
            from wildeye.ingest.infostrip import EngineMissing, StripReader

            try:
                self._reader = StripReader(self.settings.tessdata)
            except EngineMissing as exc:
                self._missing = str(exc)
                logger.warning("info-strip OCR is off, capture times come from EXIF: %s", exc)
        return self._reader is not None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def settle(frames: list[Frame], settings: ScanSettings, ocr: StripOCR) -> None:
    """Read the strips each deployment needs, then give every frame its camera time and time_source."""
    by_deployment: dict[str, list[Frame]] = {}
    for frame in frames:
        by_deployment.setdefault(frame.deployment.id, []).append(frame)
    plans = {key: _mode(group[0].deployment, settings) for key, group in by_deployment.items()}
    first = [f for key, group in by_deployment.items() for f in _first_reads(group, plans[key], settings)]
    ocr.read(first)
    more = []
    for key, group in by_deployment.items():
        _read_stamps(group, settings)
        if plans[key] == "auto" and _exif_suspect(group, settings):
            more += [f for f in group if f.readable]
    if more:
        ocr.read(more)
    for key, group in by_deployment.items():
        _read_stamps(group, settings)
        suspect = _exif_suspect(group, settings)
        for frame in group:
            _choose(frame, plans[key], suspect, settings)


def _mode(deployment: Deployment, settings: ScanSettings) -> str:
    return deployment.time_source or settings.time_source


def _first_reads(group: list[Frame], mode: str, settings: ScanSettings) -> list[Frame]:
    readable = [f for f in group if f.readable]
    if mode == "exif":
        return []
    if mode == "ocr":
        return readable
    without = [f for f in readable if f.exif is None]
    with_exif = sorted((f for f in readable if f.exif is not None), key=lambda f: (f.exif, f.record.path))
    return without + _spread(with_exif, settings.strip_sample)


def _spread(items: list, count: int) -> list:
    """`count` items evenly from first to last."""
    if count <= 0:
        return []
    if len(items) <= count:
        return items
    if count == 1:
        return items[:1]
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


def _read_stamps(group: list[Frame], settings: ScanSettings) -> None:
    """Parse what was read and settle the deployment's day/month order (decide_order) from all of it."""
    for frame in group:
        frame.stamp = parse_strip(frame.record.strip_text) if frame.record.strip_text else None
    stamps = [f.stamp for f in group if f.stamp]
    if not stamps:
        return
    pairs = [(f.stamp, f.exif) for f in group if f.stamp and f.exif]
    order, why = decide_order(stamps, group[0].deployment.date_order, settings.strip_date_order, pairs,
                              settings.strip_tolerance_s)
    logger.debug("deployment %s: info strip dates read as %s (%s)", group[0].deployment.id, order, why)
    for frame in group:
        when = frame.stamp.time(order) if frame.stamp else None
        frame.strip = when if when is not None and _plausible(when) else None
        frame.record.strip_time = when.isoformat() if when else None


def _gap_s(frame: Frame) -> float:
    """Seconds between the strip's and EXIF's time; at the minute when the strip prints no seconds."""
    exif = frame.exif if frame.stamp.second is not None else frame.exif.replace(second=0, microsecond=0)
    return abs((frame.strip - exif).total_seconds())


def _disagrees(frame: Frame, settings: ScanSettings) -> bool:
    return frame.strip is not None and frame.exif is not None and _gap_s(frame) > settings.strip_tolerance_s


def _exif_suspect(group: list[Frame], settings: ScanSettings) -> bool:
    """Most of the frames with both times disagree: the camera's EXIF time is wrong, not the OCR."""
    compared = [f for f in group if f.strip is not None and f.exif is not None]
    return 2 * sum(_disagrees(f, settings) for f in compared) > len(compared)


def _choose(frame: Frame, mode: str, suspect: bool, settings: ScanSettings) -> None:
    record = frame.record
    raw = datetime.fromisoformat(record.camera_time) if record.camera_time else None
    strip = frame.strip
    if strip is not None and mode != "exif":
        if frame.exif is None:
            if raw is None:
                record.flag("no_capture_time", "no EXIF capture time: using the time printed in the info strip")
            else:
                record.flag("implausible_capture_time", f"EXIF capture time {raw:%Y-%m-%d %H:%M} is implausible: "
                            f"using the info strip's {strip:%Y-%m-%d %H:%M:%S}")
            return _use_strip(frame)
        if _disagrees(frame, settings):
            use_strip = mode == "ocr" or suspect
            record.flag("time_disagreement",
                        f"EXIF says {frame.exif:%Y-%m-%d %H:%M:%S}, the info strip {strip:%Y-%m-%d %H:%M:%S} "
                        f"({_span(_gap_s(frame))} apart): " + ("using the strip" if use_strip else
                        "keeping EXIF (most of the deployment's frames do not disagree: an OCR misread?)"))
            if use_strip:
                return _use_strip(frame)
        elif mode == "ocr":
            return _use_strip(frame)
    elif mode == "ocr" and frame.readable and record.strip_text is not None:
        record.flag("strip_unreadable", "no date legible in the info strip: using "
                    + ("the EXIF time" if raw else "the file's modification time"))
    if raw is None:
        record.time_source = "mtime"
        record.flag("no_capture_time", "no EXIF capture time: using the file's modification time"
                    + (" (no date legible in the info strip)" if record.strip_text == "" else ""))
        raw = datetime.fromisoformat(record.mtime)
        if _plausible(raw):
            return
    elif frame.exif is not None:
        return
    record.flag("implausible_capture_time", f"capture time {raw:%Y-%m-%d %H:%M} is implausible: camera clock not "
                "set? correct it with clockOffset in deployments.csv")


def _plausible(when: datetime) -> bool:
    return EARLIEST_PLAUSIBLE <= when <= datetime.now() + timedelta(days=1)


def _use_strip(frame: Frame) -> None:
    frame.record.time_source = INFO_STRIP


def camera_time(record: MediaFile) -> datetime:
    """The camera-clock time `time_source` names: the strip's, EXIF's, or the file's modification time."""
    if record.time_source == INFO_STRIP and record.strip_time:
        return datetime.fromisoformat(record.strip_time)
    if record.camera_time:
        return datetime.fromisoformat(record.camera_time)
    return datetime.fromisoformat(record.mtime)


def _span(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"
