"""Decode each frame once, at reduced size: JPEG DCT scaling gives the detector what it needs at a fraction of the cost.

A 12-20 MP camera-trap JPEG decoded in full costs ~100-250 ms; asking libjpeg for 1/2, 1/4 or 1/8 scale while
it decodes (PIL `Image.draft`) skips most of that work. The same array serves the detector (letterboxed to
1280 or 640) and the classifier (crops), so the long side is kept at least `min_side` pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Decoded:
    image: np.ndarray  # RGB uint8, H x W x 3, upright (EXIF orientation applied)
    full_size: tuple[int, int]  # (width, height) of the upright full-resolution frame
    draft_scale: int  # 1, 2, 4 or 8: how much libjpeg reduced it


class DecodeError(Exception):
    """The file could not be decoded; the message is the reason recorded for it."""


def decode(path: str, min_side: int | None = 1280) -> Decoded:
    """Open, reduce while decoding (JPEG), apply EXIF orientation, convert any mode (CMYK, L, RGBA, I;16) to RGB."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            full = image.size
            scale = 1
            if min_side and image.format in ("JPEG", "MPO"):
                long_side = max(full)
                target = max(1, min_side)
                # draft() picks the largest reduction that keeps the image at least as big as requested.
                requested = (max(1, full[0] * target // long_side), max(1, full[1] * target // long_side))
                if long_side > target:
                    image.draft("RGB", requested)
                    scale = max(1, round(full[0] / image.size[0]))
            orientation = image.getexif().get(0x0112, 1)
            image.load()
            upright = ImageOps.exif_transpose(image) if orientation in range(2, 9) else image
            rgb = _to_rgb(upright)
            array = np.asarray(rgb)
    except DecodeError:
        raise
    except Exception as exc:  # PIL raises many types for damaged files
        raise DecodeError(f"image could not be decoded: {exc}") from None
    if orientation in (5, 6, 7, 8):
        full = (full[1], full[0])
    return Decoded(image=array, full_size=full, draft_scale=scale)


def _to_rgb(image):
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I"):  # 16-bit greyscale (some thermal/IR exports)
        array = np.asarray(image, dtype=np.float32)
        peak = float(array.max()) or 1.0
        from PIL import Image

        image = Image.fromarray((array * (255.0 / peak)).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "P", "PA"):
        from PIL import Image

        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (0, 0, 0))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
