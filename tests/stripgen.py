"""Generated camera-trap frames with an info strip rendered on them (PIL ImageDraw, matplotlib's DejaVu fonts)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from imagegen import exif_for

# (name, strftime format): what trap models print
FORMATS = {
    "bushnell": "%m-%d-%Y  %H:%M:%S",  # 04-12-2015  16:51:54
    "reconyx": "%Y-%m-%d %I:%M:%S %p",  # 2015-04-12 04:51:54 PM
    "ymd_ampm_nosec": "%Y-%m-%d %I:%M %p",  # 2015-04-12 04:51 PM
    "slash_dmy": "%d/%m/%Y %H:%M:%S",  # 12/04/2015 16:51:54
    "slash_mdy": "%m/%d/%Y %H:%M:%S",
    "dash_mdy_ampm": "%m-%d-%Y %I:%M:%S %p",  # 04-12-2015 04:51:54 PM
    "dots_mdy": "%m.%d.%Y %H:%M:%S",  # ScoutGuard
    "moultrie": "%d %b %Y %I:%M %p",  # 12 APR 2015 04:51 PM
}
FONTS = ("DejaVuSans.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf")


def font_path(name: str) -> str:
    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name)


def strip_text(when: datetime, fmt: str, prefix: str = "", suffix: str = "") -> str:
    stamp = when.strftime(FORMATS.get(fmt, fmt))
    if "%b" in FORMATS.get(fmt, ""):
        stamp = stamp.upper()
    return "  ".join(part for part in (prefix, stamp, suffix) if part)


def render_frame(text: str, *, size=(1280, 960), side="bottom", font="DejaVuSans.ttf", night=False,
                 light_strip=False, seed=0, strip_frac=0.05) -> Image.Image:
    """A textured scene (grey IR-like at night) with `text` in a strip at the top or bottom edge."""
    w, h = size
    scene = _scene(size, seed, night)
    draw = ImageDraw.Draw(scene)
    strip_h = max(14, int(h * strip_frac))
    y0 = h - strip_h if side == "bottom" else 0
    background, ink = ((235, 235, 235), (10, 10, 10)) if light_strip else ((0, 0, 0), (245, 245, 245))
    draw.rectangle((0, y0, w, y0 + strip_h), fill=background)
    typeface = ImageFont.truetype(font_path(font), int(strip_h * 0.7))
    box = draw.textbbox((0, 0), text, font=typeface)
    x = w - (box[2] - box[0]) - int(0.02 * w) if side == "bottom" else int(0.01 * w)
    draw.text((x, y0 + (strip_h - (box[3] - box[1])) // 2 - box[1]), text, fill=ink, font=typeface)
    return scene


def write_strip_frame(path: Path, text: str, exif_time: datetime | None = None, quality: int = 90,
                      **render_kw) -> Path:
    """`render_frame` saved as JPEG, with EXIF DateTimeOriginal = `exif_time` when given (else no EXIF time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = render_frame(text, **render_kw)
    image.save(path, "JPEG", quality=quality, exif=exif_for(exif_time))
    return path


def _scene(size, seed: int, night: bool) -> Image.Image:
    """Noise and soft shapes standing in for vegetation: colour by day, grey and dim at night."""
    import numpy as np

    rng = np.random.default_rng(seed)
    w, h = size
    small = rng.integers(0, 255, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    scene = Image.fromarray(small).resize(size, Image.BICUBIC)
    noise = rng.normal(0, 18, (h, w, 3))
    pixels = np.clip(np.asarray(scene, dtype=np.float32) * 0.6 + 50 + noise, 0, 255)
    if night:
        grey = pixels.mean(axis=2, keepdims=True) * 0.6 + 20
        pixels = np.repeat(grey, 3, axis=2)
    else:
        pixels[..., 1] *= 1.15  # greener
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
