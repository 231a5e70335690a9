"""Read the date and time a camera prints in the info strip along the top or bottom of each frame.

Tesseract (the LSTM engine, through the `tesserocr` binding, whose wheel carries the library) reads the strip;
its English language data comes from the OS (Debian/Ubuntu: `apt-get install tesseract-ocr-eng`). The strip is
found as the band of rows at the frame's edge that is mostly one flat dark or light level (Reconyx, Bushnell,
Browning, Cuddeback, Moultrie ... print light text on black or dark text on white there); cameras that print text
boxes over the scene (ScoutGuard) or a translucent band (night IR frames included) fall back to the whole edge band.
Each candidate is cropped, scaled, binarised (Otsu) and read until two readings agree on a date and time
(`stripdate.parse_strip`).

Why tesserocr (measured here, one strip, Tesseract 5): in-process 0.13 s a reading; pytesseract, which starts the
`tesseract` program for every image, 1.4 s; and Debian 12's tesseract 5.3.0 program died (SIGFPE) on one of the
shared frames' strips with a character whitelist, which tesserocr's bundled 5.5.4 reads. RapidOCR (its models ship in
its wheel) requires `opencv-python`, a second copy of cv2 beside FiftyOne's headless one.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from wildeye.ingest.stripdate import StripStamp, parse_strip

LANGUAGE = "eng"
# Where Debian/Ubuntu (tesseract-ocr-eng), Fedora, Homebrew and source builds put the language data.
TESSDATA_DIRS = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                 "/usr/share/tessdata", "/usr/local/share/tessdata", "/opt/homebrew/share/tessdata")
INSTALL_HINT = "install Tesseract's English data (Debian/Ubuntu: apt-get install tesseract-ocr-eng)"
BAND = 0.12  # the strip is looked for in this fraction of the frame's height at each edge
FALLBACK_BAND = 0.08  # read whole when no flat strip is found
# Each region is read up to three ways (height px, interpolation, binarise, Tesseract page segmentation mode) and
# a date counts when two readings agree. Measured on the 75 shared frames whose strip a person can read (strip
# crops only): the best single reading (56 px, cubic) gets 57 right, 0 wrong; 40/48 px get 57-58 right and 1-2 wrong
# each; two of (56, 40, 36 px) agreeing get 60 right, 0 wrong. Blurring or thickening strokes gave more wrong reads.
# A whole band (text boxes over the scene) is read twice, binarised and grey, as a block of text.
READINGS = {
    "strip": ((56, "cubic", True, 7), (40, "linear", True, 7), (36, "cubic", True, 7)),  # one line of text
    "band": ((None, "cubic", True, 6), (None, "cubic", False, 6)),
}
_SIDES = ("bottom", "top")


class EngineMissing(Exception):
    """No OCR engine: the reason, in one line, with the fix."""


@dataclass
class StripRead:
    text: str  # the OCR text the date was read from; "" when nothing legible held a date
    stamp: StripStamp | None


def find_tessdata(configured: str | os.PathLike | None = None) -> Path:
    """The folder with Tesseract's English data: `configured`, else $TESSDATA_PREFIX, else the usual places."""
    env = os.environ.get("TESSDATA_PREFIX")
    if configured is not None or env:  # as Tesseract itself: a folder named is the only place looked at
        named = Path(configured if configured is not None else env)
        candidates, where = [named, named / "tessdata"], str(named)
    else:
        candidates, where = [Path(d) for d in TESSDATA_DIRS], " or ".join(TESSDATA_DIRS[:2])
    for folder in candidates:
        if (folder / f"{LANGUAGE}.traineddata").is_file():
            return folder
    raise EngineMissing(f"no Tesseract language data ({LANGUAGE}.traineddata) in {where}: {INSTALL_HINT}")


class StripReader:
    """Tesseract, one engine per thread (an engine is not thread-safe; recognition releases the GIL)."""

    def __init__(self, tessdata: str | os.PathLike | None = None):
        try:
            import tesserocr
        except ImportError as exc:
            raise EngineMissing(f"the tesserocr package cannot be loaded ({exc}): pip install tesserocr") from None
        self._tesserocr = tesserocr
        self.tessdata = find_tessdata(tessdata)
        self.version = tesserocr.tesseract_version().split()[1]
        self._local = threading.local()
        self._apis: list = []
        self._lock = threading.Lock()
        self._api()  # a broken data file fails here, once, not on every frame

    def _api(self):
        api = getattr(self._local, "api", None)
        if api is None:
            tesserocr = self._tesserocr
            try:
                api = tesserocr.PyTessBaseAPI(path=str(self.tessdata) + os.sep, lang=LANGUAGE,
                                              oem=tesserocr.OEM.LSTM_ONLY)
            except RuntimeError as exc:
                raise EngineMissing(f"Tesseract cannot load {self.tessdata / (LANGUAGE + '.traineddata')} "
                                    f"({exc}): {INSTALL_HINT}") from None
            self._local.api = api
            with self._lock:
                self._apis.append(api)
        return api

    def ocr(self, image, psm: int) -> str:
        """Tesseract's text for one prepared (PIL) image, `psm` its page segmentation mode."""
        api = self._api()
        api.SetPageSegMode(psm)
        api.SetImage(image)
        return api.GetUTF8Text()

    def read(self, path: str | os.PathLike, years: tuple[int, int] = (1990, 2099)) -> StripRead:
        """The date and time in the frame's strips (bottom first, then top), read alike twice; see `READINGS`."""
        try:
            grey = load_grey(path)
        except Exception:  # unreadable pixels: no strip to read (the scan records the file's own problems)
            return StripRead("", None)
        for kind, crop in regions(grey):
            found = self._vote(crop, READINGS[kind], years)
            if found is not None:
                return found
        return StripRead("", None)

    def _vote(self, crop, readings, years) -> StripRead | None:
        """The stamp two of the readings agree on; stops as soon as two agree or none can any more."""
        seen: list[StripRead] = []
        for index, (height_px, interpolation, binarise, psm) in enumerate(readings):
            text = " ".join(self.ocr(prepare(crop, height_px, interpolation, binarise), psm).split())
            stamp = parse_strip(text, years)
            if stamp is not None:
                for earlier in seen:
                    if earlier.stamp is not None and _same(earlier.stamp, stamp):
                        return earlier
            seen.append(StripRead(text, stamp))
            readable = sum(r.stamp is not None for r in seen)
            if readable + (len(readings) - index - 1) < 2:
                return None
        return None

    def close(self) -> None:
        with self._lock:
            for api in self._apis:
                api.End()
            self._apis.clear()


def load_grey(path: str | os.PathLike):
    """The frame as upright 8-bit grey (numpy), decoded at half size when it is large (strips stay legible); of a
    video, its first frame (the clip's start: trail cameras print the strip on every frame)."""
    import numpy as np
    from PIL import Image, ImageOps

    from wildeye.ingest.walk import media_kind

    if media_kind(str(path)) == "video":
        from wildeye.ingest.video import read_frame

        return np.asarray(Image.fromarray(read_frame(path, 0)).convert("L"))
    with Image.open(path) as image:
        if image.height >= 2000:
            image.draft("L", (image.width // 2, image.height // 2))
        upright = ImageOps.exif_transpose(image)
        return np.asarray(upright.convert("L"))


def regions(grey):
    """("strip" | "band", crop) to read, most likely first: each edge's flat strip, then each whole edge band."""
    height = grey.shape[0]
    band = max(16, int(height * BAND))
    for side in _SIDES:
        edge = _from_edge(grey, side, band)
        rows = strip_rows(edge, height)
        if rows is not None:
            yield "strip", _to_frame(edge[rows[0]:rows[1]], side)
    fallback = max(16, int(height * FALLBACK_BAND))
    for side in _SIDES:
        yield "band", _to_frame(_from_edge(grey, side, fallback), side)


def strip_rows(edge, frame_height: int) -> tuple[int, int] | None:
    """Rows [start, end) of `edge` (row 0 at the frame's edge) that form a flat dark or light strip, or None.

    A strip row is mostly (>= 55%) strip background even where text crosses it; it may start a little inside the
    edge (a border line), and one or two rows of a logo or a line do not end it.
    """
    import numpy as np

    dark = (edge <= 60).mean(axis=1)
    light = (edge >= 190).mean(axis=1)
    slack = max(2, int(frame_height * 0.02))
    for profile in (dark, light):
        starts = np.nonzero(profile[:slack] >= 0.7)[0]
        if not len(starts):
            continue
        start, end, misses = int(starts[0]), int(starts[0]), 0
        for row in range(start, len(profile)):
            if profile[row] >= 0.55:
                end, misses = row + 1, 0
            else:
                misses += 1
                if misses > 2:
                    break
        if end - start >= max(8, int(frame_height * 0.01)):
            return start, end
    return None


def prepare(crop, height_px: int | None = 56, interpolation: str = "cubic", binarise: bool = True):
    """Scale to `height_px` tall (None: as is; 4x up at most), binarise (Otsu) unless told not to, and turn light
    text on a dark strip into dark text on white, padded: what Tesseract reads best."""
    import cv2
    import numpy as np
    from PIL import Image

    crop = np.ascontiguousarray(crop)
    height = crop.shape[0]
    scale = min(4.0, max(0.5, height_px / height)) if height_px else 1.0
    if abs(scale - 1) > 0.05:
        method = (cv2.INTER_CUBIC if interpolation == "cubic" else cv2.INTER_LINEAR) if scale > 1 else cv2.INTER_AREA
        crop = cv2.resize(crop, (round(crop.shape[1] * scale), round(height * scale)), interpolation=method)
    _, binary = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark_background = (binary == 0).mean() > 0.5
    out = binary if binarise else crop
    if dark_background:
        out = 255 - out
    pad = max(8, out.shape[0] // 4)
    return Image.fromarray(cv2.copyMakeBorder(out, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255))


def _same(a: StripStamp, b: StripStamp) -> bool:
    return (a.year, a.a, a.b, a.hour, a.minute, a.second) == (b.year, b.a, b.b, b.hour, b.minute, b.second)


def _from_edge(grey, side: str, rows: int):
    return grey[::-1][:rows] if side == "bottom" else grey[:rows]


def _to_frame(rows, side: str):
    """Back to the frame's own row order (bottom bands were taken from the edge inward)."""
    return rows[::-1] if side == "bottom" else rows
