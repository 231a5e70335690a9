"""Deployments: which camera, where, when — from a Camtrap DP-style deployments.csv or from folder names.

deployments.csv uses Camtrap DP 1.0 column names (deploymentID, locationID, locationName, latitude, longitude,
deploymentStart, deploymentEnd, cameraID, cameraModel) plus five wildeye columns:
  folder       path prefix (relative to the scanned folder) whose files belong to this deployment
  timezone     "+05:45", "UTC+8" or an IANA name such as "Asia/Kathmandu": the camera clock's zone
  clockOffset  correction added to the camera clock, "+01:30:00", "-00:05" or seconds ("-300")
  timeSource   where capture times come from: auto (default), exif, or ocr (the date printed in the info strip)
  dateOrder    MDY or DMY: how the camera prints 04/05/2015, when no day over 12 in its frames says
Files are matched by folder first, then by cameraID == EXIF serial with the capture time inside the window.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wildeye.errors import ConfigError
from wildeye.ingest.manifest import DeploymentInfo

KNOWN_COLUMNS = {
    "deploymentID": "deployment_id",
    "locationID": "location_id",
    "locationName": "location_name",
    "latitude": "latitude",
    "longitude": "longitude",
    "deploymentStart": "deployment_start",
    "deploymentEnd": "deployment_end",
    "cameraID": "camera_id",
    "cameraModel": "camera_model",
    "timezone": "timezone",
}
WILDEYE_COLUMNS = {"folder", "clockOffset", "timeSource", "dateOrder"}
TIME_SOURCES = ("auto", "exif", "ocr")
DATE_ORDERS = ("MDY", "DMY")
# DCF camera folders ("DCIM", "100MEDIA", "100RECNX", "101_BTCF") say nothing about where a camera stood.
_DCF_DIR = re.compile(r"^(dcim|\d{3}[a-z0-9_]{5})$", re.IGNORECASE)
_OFFSET = re.compile(r"^([+-])?(\d{1,3}):(\d{2})(?::(\d{2}))?$")


class Deployment:
    """A deployment with its parsed times, ready for matching files."""

    def __init__(self, info: DeploymentInfo, folder: str | None = None, time_source: str | None = None,
                 date_order: str | None = None):
        self.info = info
        self.folder = folder.strip("/") if folder else None
        self.time_source = time_source  # auto | exif | ocr; None: the scan's setting
        self.date_order = date_order  # MDY | DMY; None: decided from the frames, else the scan's setting
        self.tz = parse_timezone(info.timezone) if info.timezone else None
        self.start = _parse_time(info.deployment_start, self.tz) if info.deployment_start else None
        self.end = _parse_time(info.deployment_end, self.tz) if info.deployment_end else None
        self.clock_offset = timedelta(seconds=info.clock_offset_s)

    @property
    def id(self) -> str:
        return self.info.deployment_id

    def local_time(self, camera_time: datetime, exif_offset: str | None = None) -> datetime:
        """Camera clock -> corrected capture time, aware when a timezone is known."""
        corrected = camera_time + self.clock_offset
        tz = self.tz or (parse_timezone(exif_offset) if exif_offset else None)
        return corrected.replace(tzinfo=tz) if tz else corrected

    def contains(self, when: datetime) -> bool:
        return (self.start is None or _cmp(when, self.start) >= 0) and (self.end is None or _cmp(when, self.end) <= 0)


def load_deployments(path: Path) -> list[Deployment]:
    """Read deployments.csv; any problem stops with the file, row and column named."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read deployments table: {exc.strerror or exc}")
    if not rows:
        raise ConfigError(f"{path}: no deployments in file", "add a header row and one row per deployment")
    if "deploymentID" not in rows[0]:
        raise ConfigError(f"{path}: missing column 'deploymentID'", "use Camtrap DP column names")
    deployments, seen = [], set()
    for line, row in enumerate(rows, start=2):
        where = f"{path}, row {line}"
        dep_id = (row.get("deploymentID") or "").strip()
        if not dep_id:
            raise ConfigError(f"{where}: empty deploymentID", "give every deployment an ID")
        if dep_id in seen:
            raise ConfigError(f"{where}: deploymentID {dep_id!r} appears twice", "make deployment IDs unique")
        seen.add(dep_id)
        values: dict = {"deployment_id": dep_id, "source": "deployments.csv"}
        extra = {}
        for column, raw in row.items():
            if column is None:
                raise ConfigError(f"{where}: more values than columns", "check for an unquoted comma")
            raw = (raw or "").strip()
            if column in KNOWN_COLUMNS and raw and column != "deploymentID":
                values[KNOWN_COLUMNS[column]] = raw
            elif column not in KNOWN_COLUMNS and column not in WILDEYE_COLUMNS and raw:
                extra[column] = raw
        values["extra"] = extra
        try:
            for key in ("latitude", "longitude"):
                if key in values:
                    values[key] = float(values[key])
            values["clock_offset_s"] = parse_clock_offset(row.get("clockOffset") or "")
            deployment = Deployment(DeploymentInfo(**values), folder=(row.get("folder") or "").strip() or None,
                                    time_source=_choice(row, "timeSource", TIME_SOURCES, str.lower),
                                    date_order=_choice(row, "dateOrder", DATE_ORDERS, str.upper))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc.problem}", exc.fix) from None
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}", "latitude/longitude are decimal degrees") from None
        deployments.append(deployment)
    return deployments


def _choice(row: dict, column: str, allowed: tuple[str, ...], case) -> str | None:
    raw = (row.get(column) or "").strip()
    if not raw:
        return None
    if case(raw) not in allowed:
        raise ConfigError(f"{column} {raw!r} is not one of {', '.join(allowed)}", f"write {column} as one of them")
    return case(raw)


def folder_deployment_id(rel_path: str, source_name: str) -> str:
    """The deployment a file belongs to when no table says: its folder, minus DCIM/100MEDIA-style levels."""
    parts = rel_path.split("/")[:-1]
    while parts and _DCF_DIR.match(parts[-1]):
        parts.pop()
    return "/".join(parts) or source_name


def match_by_folder(deployments: list[Deployment], rel_path: str) -> Deployment | None:
    best = None
    for dep in deployments:
        if dep.folder and (rel_path.startswith(dep.folder + "/")):
            if best is None or len(dep.folder) > len(best.folder):
                best = dep
    return best


def match_by_camera(deployments: list[Deployment], serial: str | None, camera_time: datetime | None) -> Deployment | None:
    if not serial or camera_time is None:
        return None
    for dep in deployments:
        if dep.info.camera_id and dep.info.camera_id == serial and dep.contains(dep.local_time(camera_time)):
            return dep
    return None


def parse_timezone(text: str) -> tzinfo:
    value = text.strip()
    if value.upper() in ("Z", "UTC", "GMT"):
        return timezone.utc
    offset = re.match(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", value, re.IGNORECASE)
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown timezone {text!r}", "use an offset like +05:45 or a name like Asia/Kathmandu")


def parse_clock_offset(text: str) -> float:
    """'+01:30:00' / '-00:05' / '-300' -> seconds to add to the camera clock."""
    value = text.strip()
    if not value:
        return 0.0
    try:
        return float(value)
    except ValueError:
        pass
    match = _OFFSET.match(value)
    if not match:
        raise ConfigError(f"clockOffset {text!r} is not a time offset", "write it as +HH:MM[:SS] or as seconds")
    sign, hours, minutes, seconds = match.groups()
    total = int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)
    return float(-total if sign == "-" else total)


def _parse_time(text: str, tz: tzinfo | None) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        raise ConfigError(f"time {text!r} is not ISO 8601", "write it as 2024-05-01T10:00:00+05:45") from None
    return value.replace(tzinfo=tz) if value.tzinfo is None and tz else value


def _cmp(a: datetime, b: datetime) -> int:
    """Compare times that may mix naive and aware; naive ones are taken in the other's zone."""
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return (a > b) - (a < b)
