"""Probe one media file from its header and its ends: size, content hash, dimensions, EXIF, integrity.

Never decodes pixels, so a 20 MP frame costs a few hundred KiB of reading, not a full decode.
"""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import datetime
from pathlib import Path

from wildeye.ingest.exif import read_exif
from wildeye.ingest.manifest import Flag, MediaFile
from wildeye.ingest.walk import Found
from wildeye.names import media_path

EDGE = 64 * 1024  # bytes hashed at each end of a file in quick mode
QUICK_HASH = "blake2b-128 of size + first and last 64 KiB"
FULL_HASH = "blake2b-128 of the whole file"
_EXT_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF"}
# What a media-named entry is when it is not a file. Opening a FIFO blocks until a writer comes; a device
# may have side effects: such entries are never opened.
_NOT_FILES = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
              (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def probe(source: Path, found: Found, full_hash: bool = False) -> MediaFile:
    path = media_path(source, found.path)
    try:
        st = os.stat(path)
    except OSError as exc:
        return _failed(found, 0, "", "unreadable", f"cannot stat file: {exc.strerror or exc}")
    mtime = datetime.fromtimestamp(st.st_mtime).isoformat(timespec="seconds")
    if not stat.S_ISREG(st.st_mode):
        return _failed(found, 0, mtime, "not_a_regular_file", f"{_file_type(st.st_mode)}, not a file: never opened")
    if st.st_size == 0:
        return _failed(found, 0, mtime, "zero_bytes", "file is empty (0 bytes): the copy from the card failed")
    try:
        with open(path, "rb") as f:
            if st.st_size <= 2 * EDGE:
                head = tail = f.read()
            else:
                head = f.read(EDGE)
                f.seek(st.st_size - EDGE)
                tail = f.read(EDGE)
            digest = _content_hash(f, st.st_size, head, tail, full_hash)
            record = MediaFile(path=found.path, kind=found.kind, size=st.st_size, mtime=mtime, content_hash=digest)
            if found.kind == "image":
                f.seek(0)
                _probe_image(f, record, tail)
    except OSError as exc:
        return _failed(found, st.st_size, mtime, "unreadable", f"cannot read file: {exc.strerror or exc}")
    return record


def _probe_image(f, record: MediaFile, tail: bytes) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(f)
    except Image.DecompressionBombError:
        image = _open_over_limit(f)
        if image is None:
            record.failure = Flag(code="too_large", reason="too large: over PIL's pixel safety limit")
            return
    except UnidentifiedImageError:
        record.failure = Flag(code="not_an_image", reason=f"not an image: {_sniff(f)}")
        return
    except Exception as exc:  # PIL raises many types on mangled headers
        record.failure = Flag(code="not_an_image", reason=f"image header unreadable: {exc}")
        return
    record.format, record.mode = image.format, image.mode
    record.width, record.height = image.size
    if _judge_size(record, image.size, Image.MAX_IMAGE_PIXELS):
        return
    expected = _EXT_FORMATS.get(os.path.splitext(record.path)[1].lower())
    actual = "JPEG" if image.format == "MPO" else image.format
    if expected and actual != expected:
        record.flag("extension_mismatch", f"named {expected} but contains {image.format}")
    if _looks_truncated(actual, tail) and not _decodes(image):
        # Flagged, not failed: MegaDetector and SpeciesNet process such frames (PIL's LOAD_TRUNCATED_IMAGES, the
        # missing rows grey), and so does `wildeye run`.
        record.flag("truncated", f"{actual} data ends early (incomplete copy or damaged card): the missing part "
                                 "is decoded grey, as MegaDetector does")
    try:
        info = read_exif(image)
    except Exception as exc:
        record.flag("exif_unreadable", f"EXIF could not be parsed ({type(exc).__name__}): capture time from file date")
        return
    record.make, record.model, record.serial = info.make, info.model, info.serial
    record.orientation, record.gps = info.orientation, info.gps
    if info.camera_time is not None:
        record.camera_time = info.camera_time.isoformat()
        record.time_source, record.utc_offset = info.time_tag, info.utc_offset
    if info.bad_time:
        record.flag("bad_capture_time", f"EXIF time {info.bad_time!r} is not a valid date")


def _open_over_limit(f):
    """Read the header of an image PIL's `open` refuses for its pixel count, so its size can be reported."""
    from PIL import JpegImagePlugin, PngImagePlugin, TiffImagePlugin

    f.seek(0)
    magic = f.read(8)
    f.seek(0)
    for prefix, plugin in ((b"\xff\xd8\xff", JpegImagePlugin.JpegImageFile), (b"\x89PNG", PngImagePlugin.PngImageFile),
                           (b"II*\x00", TiffImagePlugin.TiffImageFile), (b"MM\x00*", TiffImagePlugin.TiffImageFile)):
        if magic.startswith(prefix):
            try:
                return plugin(f)  # the plugin class reads the header only; the limit lives in Image.open
            except Exception:
                return None
    return None


def _judge_size(record: MediaFile, size: tuple[int, int], limit: int | None) -> bool:
    """Flag frames over PIL's pixel limit (it warns there) and fail those over twice it (it refuses to decode).

    Returns True when the file failed. A camera trap's frame is 3-40 MP; these are panoramas, scans or damage.
    """
    if not limit:
        return False
    pixels = size[0] * size[1]
    if pixels > 2 * limit:
        record.failure = Flag(code="too_large", reason=f"too large: {pixels / 1e6:.0f} MP, above the "
                              f"{2 * limit / 1e6:.0f} MP safety limit (decoding could exhaust memory)")
        return True
    if pixels > limit:
        record.flag("very_large", f"very large: {pixels / 1e6:.0f} MP, above {limit / 1e6:.0f} MP; decoding it "
                    f"needs about {pixels * 3 / 1e9:.1f} GB of memory")
    return False


def _file_type(mode: int) -> str:
    return next((name for test, name in _NOT_FILES if test(mode)), "not a regular file")


def _looks_truncated(fmt: str | None, tail: bytes) -> bool:
    """Judged from the last bytes: a JPEG's end-of-image marker (FFD9) must follow its last scan (FFDA).

    Entropy-coded data never holds FFD9 or FFDA (0xFF is byte-stuffed), so this needs no decode; vendor
    trailers after the EOI are fine. PNG must end with its IEND chunk.
    """
    if fmt == "JPEG":
        return tail.rfind(b"\xff\xd9") <= tail.rfind(b"\xff\xda")
    if fmt == "PNG":
        return b"IEND" not in tail[-64:]
    return False


def _decodes(image) -> bool:
    """Confirm a suspect file by decoding it (reduced size where the format allows), as a model would."""
    try:
        image.draft("RGB", (image.size[0] // 8, image.size[1] // 8))
        image.load()
        return True
    except Exception:
        return False


def _content_hash(f, size: int, head: bytes, tail: bytes, full: bool) -> str:
    h = hashlib.blake2b(digest_size=16)
    if size <= 2 * EDGE:
        h.update(head)  # the whole file
    elif full:
        f.seek(0)
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    else:
        h.update(size.to_bytes(8, "little"))
        h.update(head)
        h.update(tail)
    return h.hexdigest()


def _sniff(f) -> str:
    f.seek(0)
    start = f.read(512)
    if not start.strip(b"\x00"):
        return "content is all zero bytes"
    try:
        start.decode("utf-8")
        return "content is text"
    except UnicodeDecodeError:
        return "content is not JPEG, PNG or TIFF"


def _failed(found: Found, size: int, mtime: str, code: str, reason: str) -> MediaFile:
    return MediaFile(path=found.path, kind=found.kind, size=size, mtime=mtime, failure=Flag(code=code, reason=reason))
