"""Capture metadata from EXIF, read from the file header only (no pixel decode)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

# EXIF tag numbers (EXIF 2.32 / TIFF 6.0).
IFD_EXIF = 0x8769
IFD_GPS = 0x8825
TAG_MAKE = 0x010F
TAG_MODEL = 0x0110
TAG_ORIENTATION = 0x0112
TAG_DATETIME = 0x0132
TAG_DATETIME_ORIGINAL = 0x9003
TAG_OFFSET_TIME_ORIGINAL = 0x9011
TAG_SUBSEC_TIME_ORIGINAL = 0x9291
TAG_BODY_SERIAL = 0xA431
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_ALT_REF, GPS_ALT = 1, 2, 3, 4, 5, 6

_EXIF_DATETIME = re.compile(r"^\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


@dataclass
class ExifInfo:
    camera_time: datetime | None = None  # naive, as the camera's clock said
    utc_offset: str | None = None  # "+05:45" from OffsetTimeOriginal, when the camera wrote one
    time_tag: str | None = None  # which tag the time came from
    bad_time: str | None = None  # raw value of a time tag that could not be parsed
    make: str | None = None
    model: str | None = None
    serial: str | None = None
    orientation: int | None = None
    gps: dict | None = None  # {"latitude", "longitude", "altitude"}


def read_exif(image) -> ExifInfo:
    """Extract capture metadata from an opened PIL image. Raises on EXIF so broken that PIL cannot parse it."""
    info = ExifInfo()
    exif = image.getexif()
    if not exif:
        return info
    sub = exif.get_ifd(IFD_EXIF)
    info.make = _text(exif.get(TAG_MAKE))
    info.model = _text(exif.get(TAG_MODEL))
    info.serial = _text(sub.get(TAG_BODY_SERIAL))
    orientation = exif.get(TAG_ORIENTATION)
    info.orientation = int(orientation) if isinstance(orientation, int) and 1 <= orientation <= 8 else None

    for tag, name, source in (
        (TAG_DATETIME_ORIGINAL, "DateTimeOriginal", sub),
        (TAG_DATETIME, "DateTime", exif),
    ):
        raw = _text(source.get(tag))
        if raw is None:
            continue
        parsed = parse_exif_datetime(raw, _text(sub.get(TAG_SUBSEC_TIME_ORIGINAL)) if name == "DateTimeOriginal" else None)
        if parsed is None:
            info.bad_time = info.bad_time or raw
            continue
        info.camera_time, info.time_tag = parsed, name
        offset = _text(sub.get(TAG_OFFSET_TIME_ORIGINAL)) if name == "DateTimeOriginal" else None
        info.utc_offset = normalize_offset(offset) if offset else None
        break

    gps_ifd = exif.get_ifd(IFD_GPS)
    if gps_ifd:
        info.gps = _gps(gps_ifd)
    return info


def parse_exif_datetime(raw: str, subsec: str | None = None) -> datetime | None:
    """'2024:05:01 10:00:00' (+ SubSecTime '25') -> datetime; None for blanks and impossible dates."""
    match = _EXIF_DATETIME.match(raw)
    if not match:
        return None
    try:
        value = datetime(*(int(g) for g in match.groups()))
    except ValueError:  # "0000:00:00 00:00:00" and friends
        return None
    digits = "".join(ch for ch in (subsec or "") if ch.isdigit())
    if digits:
        value = value.replace(microsecond=int(digits[:6].ljust(6, "0")))
    return value


def normalize_offset(raw: str) -> str | None:
    match = _OFFSET.match(raw)
    if not match:
        return None
    sign, hours, minutes = match.groups()
    return f"{sign}{hours}:{minutes}"


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).replace("\x00", "").strip()
    return text or None


def _gps(ifd) -> dict | None:
    try:
        lat = _degrees(ifd[GPS_LAT]) * (-1 if _text(ifd.get(GPS_LAT_REF)) == "S" else 1)
        lon = _degrees(ifd[GPS_LON]) * (-1 if _text(ifd.get(GPS_LON_REF)) == "W" else 1)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    gps = {"latitude": round(lat, 7), "longitude": round(lon, 7)}
    alt = ifd.get(GPS_ALT)
    if alt is not None:
        try:
            below = ifd.get(GPS_ALT_REF) in (1, b"\x01")
            gps["altitude"] = round(float(alt) * (-1 if below else 1), 2)
        except (TypeError, ValueError, ZeroDivisionError):
            pass
    return gps


def _degrees(dms) -> float:
    d, m, s = (float(x) for x in dms)
    return d + m / 60 + s / 3600
