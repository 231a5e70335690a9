"""Small generated camera-trap frames with real EXIF, for tests and benchmarks."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

from PIL import Image


def exif_for(when: datetime | None = None, *, make="RECONYX", model="HC600", serial=None, orientation=None,
             subsec=None, offset=None, gps=None, raw_time=None):
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    if orientation:
        exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    if when is not None or raw_time is not None:
        sub[0x9003] = raw_time if raw_time is not None else when.strftime("%Y:%m:%d %H:%M:%S")
    if subsec:
        sub[0x9291] = subsec
    if offset:
        sub[0x9011] = offset
    if serial:
        sub[0xA431] = serial
    if gps:
        lat, lon, alt = gps
        g = exif.get_ifd(0x8825)
        g[1], g[2] = ("N" if lat >= 0 else "S"), _dms(abs(lat))
        g[3], g[4] = ("E" if lon >= 0 else "W"), _dms(abs(lon))
        g[6] = float(alt)
    return exif


def write_frame(path: Path, when: datetime | None = None, size=(96, 64), mode="RGB", seed=0, fmt="JPEG", **exif_kw) -> Path:
    """A small noisy frame (so each file's content differs) with EXIF capture metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.effect_noise(size, 40 + seed % 50).convert(mode) if mode != "RGB" else _rgb_noise(size, seed)
    kwargs = {}
    if when is not None or exif_kw:
        kwargs["exif"] = exif_for(when, **exif_kw)
    image.save(path, fmt, **kwargs)
    return path


def jpeg_bytes(size=(96, 64), seed=0, **exif_kw) -> bytes:
    buf = io.BytesIO()
    _rgb_noise(size, seed).save(buf, "JPEG", **({"exif": exif_for(**exif_kw)} if exif_kw else {}))
    return buf.getvalue()


def _rgb_noise(size, seed):
    bands = [Image.effect_noise(size, 20 + (seed * 7 + i * 13) % 60) for i in range(3)]
    return Image.merge("RGB", bands)


def _dms(value: float):
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)
