"""Short generated clips (OpenCV VideoWriter): a bright square moving over a dark background, for tests and
scripts/bench_video.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".mts": "mp4v", ".avi": "MJPG"}


def square_at(index: int, frames: int, size=(320, 240)) -> tuple[int, int, int]:
    """(x, y, brightness) of the square in frame `index`: it moves left to right; brightest in the middle frame."""
    width, height = size
    x = 8 + (width - 64) * index // max(1, frames - 1)
    peak = frames // 2
    brightness = 255 - min(200, 12 * abs(index - peak))
    return x, height // 2 - 24, brightness


def write_clip(path: Path, *, frames: int = 30, fps: float = 10.0, size=(320, 240)) -> Path:
    """A clip whose square is brightest at frame frames // 2 (the frame a brightness-driven detector likes best)."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*FOURCC[path.suffix.lower()]), fps, size)
    assert writer.isOpened(), f"OpenCV cannot write {path.suffix}"
    try:
        for i in range(frames):
            image = np.full((size[1], size[0], 3), 20, np.uint8)
            x, y, level = square_at(i, frames, size)
            image[y:y + 48, x:x + 48] = level
            writer.write(image)
    finally:
        writer.release()
    return path
