"""The scan manifest: what `wildeye scan` found, the input `wildeye run` builds on.

One JSON document, written atomically. Paths are relative to the scanned source so a dump can move.
"""

from __future__ import annotations

import json
from pathlib import Path

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wildeye.atomic import write_bytes_atomic

MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"


class Flag(BaseModel):
    """A named problem with a file, and why."""

    code: str
    reason: str


class MediaFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    kind: str  # image | video
    size: int
    mtime: str
    content_hash: str | None = None
    format: str | None = None  # JPEG, PNG, TIFF, MPO …
    width: int | None = None  # stored pixels, before EXIF orientation
    height: int | None = None
    mode: str | None = None  # RGB, L, CMYK …
    orientation: int | None = None
    camera_time: str | None = None  # the camera clock per EXIF, uncorrected, ISO 8601 without offset
    time_source: str | None = None  # what `timestamp` comes from: DateTimeOriginal | DateTime | info_strip | mtime
    strip_text: str | None = None  # the info strip's text the date was read from ("" nothing legible; None not read)
    strip_time: str | None = None  # the camera clock per the info strip, uncorrected, ISO 8601 without offset
    utc_offset: str | None = None  # from EXIF OffsetTimeOriginal
    timestamp: str | None = None  # corrected capture time, ISO 8601 (with offset when known)
    make: str | None = None
    model: str | None = None
    serial: str | None = None
    gps: dict | None = None
    deployment_id: str | None = None
    sequence_id: str | None = None
    frame_num: int | None = None  # 0-based position in the sequence (as MegaDetector's sequence tools)
    seq_num_frames: int | None = None
    duplicate_of: str | None = None
    failure: Flag | None = None
    flags: list[Flag] = Field(default_factory=list)

    @property
    def upright_size(self) -> tuple[int | None, int | None]:
        """(width, height) once EXIF orientation is applied, the frame every box is in: orientations 5-8 turn the
        image a quarter, so width and height swap (EXIF 2.32, tag 0x0112)."""
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height

    @property
    def usable(self) -> bool:
        """Worth running models on: readable and not a second copy of another file."""
        return self.failure is None and self.duplicate_of is None

    def flag(self, code: str, reason: str) -> None:
        self.flags.append(Flag(code=code, reason=reason))


class DeploymentInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deployment_id: str
    source: str  # "deployments.csv" or "folder"
    location_id: str | None = None
    location_name: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    deployment_start: str | None = None
    deployment_end: str | None = None
    camera_id: str | None = None
    camera_model: str | None = None
    timezone: str | None = None
    clock_offset_s: float = 0.0
    extra: dict[str, str] = Field(default_factory=dict)  # other Camtrap DP columns, passed through


class ScanSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sequence_gap_s: float = Field(60.0, gt=0, description="a new sequence starts after a gap longer than this")
    full_hash: bool = Field(False, description="hash whole files instead of size + first/last 64 KiB")
    workers: int = Field(8, ge=1, le=64, description="I/O threads reading file headers")
    deployments_csv: str | None = None
    time_source: Literal["auto", "exif", "ocr"] = Field(
        "auto", description="capture time for deployments whose deployments.csv row does not say (timeSource): "
        "auto = EXIF, the info strip where EXIF is missing, implausible or disagrees; exif = EXIF only; "
        "ocr = the info strip wherever it is legible")
    strip_date_order: Literal["MDY", "DMY"] = Field(
        "MDY", description="order of an info strip's 04/05/2015 when nothing in a deployment's frames decides it")
    strip_tolerance_s: float = Field(300.0, ge=0, description="EXIF and info strip disagree beyond this")
    strip_sample: int = Field(3, ge=0, description="frames with good EXIF per deployment whose strip is read "
                              "to check EXIF against it (auto)")
    tessdata: str | None = Field(None, description="folder with Tesseract's eng.traineddata [default: "
                                 "$TESSDATA_PREFIX or the OS's]")


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    manifest_version: int = MANIFEST_VERSION
    wildeye_version: str
    created: str
    source: str  # absolute path of the scanned folder
    settings: ScanSettings
    hash_method: str
    deployments: list[DeploymentInfo]
    files: list[MediaFile]
    # folders not entered (loops, unreadable) and files whose record name another file has; code = path
    skipped: list[Flag] = Field(default_factory=list)
    ignored: int = 0  # OS junk and non-media files
    elapsed_s: float = 0.0

    def write(self, path: str | Path) -> None:
        write_bytes_atomic(path, self.model_dump_json(indent=1, exclude_none=True).encode("utf-8"))

    @classmethod
    def read(cls, path: str | Path) -> "Manifest":
        return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
