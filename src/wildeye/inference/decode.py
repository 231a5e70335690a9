"""Decode each frame once: the detector's input and the classifier's crops both come from this one array.

Two modes (`RunConfig.decode`):

- "full" (the default): full resolution, exactly what MegaDetector (visualization_utils.load_image) and SpeciesNet
  (utils.load_rgb_image) decode, so boxes and crops match theirs: PIL with `LOAD_TRUNCATED_IMAGES` (a truncated
  JPEG is processed, its missing rows grey), 'L'/'RGBA' converted to RGB (alpha dropped, as `convert('RGB')`
  does), EXIF orientation applied.
- "fast": JPEG DCT scaling (PIL `Image.draft`) decodes at 1/2, 1/4 or 1/8 while keeping the long side at least
  `min_side` (the detector's input size). 3-4x cheaper on 12-20 MP frames, but the detector sees other pixels and
  crops come from the reduced frame: `scripts/bench_run.py` prints how far its answers move.

Where wildeye deliberately differs from MegaDetector: it reads CMYK, palette and 16-bit frames (MegaDetector
reports "image access failure" for them), and applies mirrored EXIF orientations (2, 4, 5, 7), which
MegaDetector leaves as stored (SpeciesNet applies them).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import numpy as np

DECODE_MODES = ("full", "fast")
_TRUNCATED_LOCK = threading.Lock()


@dataclass
class Decoded:
    image: np.ndarray  # RGB uint8, H x W x 3, upright (EXIF orientation applied)
    full_size: tuple[int, int]  # (width, height) of the upright full-resolution frame
    draft_scale: int  # 1, 2, 4 or 8: how much libjpeg reduced it


class DecodeError(Exception):
    """The file could not be decoded; the message is the reason recorded for it."""


@contextlib.contextmanager
def _truncated_images_allowed():
    """PIL's LOAD_TRUNCATED_IMAGES for this decode only (MegaDetector and SpeciesNet set it process-wide)."""
    from PIL import ImageFile

    with _TRUNCATED_LOCK:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before


def decode(path: str, min_side: int | None = None) -> Decoded:
    """Open, (with min_side: reduce while decoding, JPEG only), apply EXIF orientation, convert to RGB."""
    import warnings

    from PIL import Image, ImageOps

    try:
        with _truncated_images_allowed(), warnings.catch_warnings(), Image.open(path) as image:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # scan flags these frames already
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
            array = np.array(rgb)  # writable (torch.from_numpy shares it without a warning)
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
    if image.mode in ("P", "PA"):  # palette: through RGBA so transparency is known, then as MegaDetector: drop it
        image = image.convert("RGBA")
    return image.convert("RGB")
