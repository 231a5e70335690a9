"""Read camera-trap clips (MP4, AVI, MOV, MTS) frame by frame and sample them, with OpenCV (its FFmpeg backend).

Sampling follows MegaDetector 10's video tools (`detection/video_utils.py`, `run_callback_on_frames`): frames
0, n, 2n, ... are kept, where n is `frame_sample` (every n-th frame) or, for a sampling interval in seconds,
int(seconds x frame rate), at least 1 (`_seconds_to_frame_interval`); frames in between are only `grab`bed (decoded
for the codec's sake, never converted); reading stops at the first frame the decoder cannot give (a truncated
clip keeps the frames before it). Frames come back RGB, as MegaDetector converts them for its detector.

Why OpenCV, not PyAV: it is already a dependency (FiftyOne's `opencv-python-headless` wheel bundles FFmpeg), and
decoding is not where a video's time goes: `scripts/bench_video.py` measured ~2,000 frames/s decoding a generated
640x480 MPEG-4 clip on this project's 2-core machine, against 2-3 frames/s for even a tiny YOLOv5s at 320 px
(decode and letterbox were 1-2% of the pipeline's time). A second FFmpeg binding would buy nothing measurable.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np


class VideoError(Exception):
    """The clip could not be opened or holds no decodable frame; the message is the reason recorded for it."""


@dataclass(frozen=True)
class VideoInfo:
    frame_rate: float  # frames per second, as the container says (0 when it does not)
    frame_count: int  # as the container says (may be approximate; reading stops where the data ends)
    width: int
    height: int

    @property
    def duration(self) -> float | None:
        return self.frame_count / self.frame_rate if self.frame_rate > 0 else None


@dataclass
class SampledFrame:
    number: int  # 0-based frame index in the clip (MegaDetector's frame_number)
    time: float | None  # seconds from the start: number / frame rate
    image: np.ndarray  # RGB uint8, H x W x 3


def _open(path: str | os.PathLike):
    import cv2

    if not Path(path).is_file():
        raise VideoError(f"video access failure: {path} is not a readable file")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoError("video could not be decoded: no decoder opens it (corrupt or unsupported file)")
    return capture


def probe(path: str | os.PathLike) -> VideoInfo:
    """Frame rate, frame count and size from the container; VideoError when it cannot be opened."""
    import cv2

    capture = _open(path)
    try:
        return VideoInfo(float(capture.get(cv2.CAP_PROP_FPS) or 0.0), int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
                         int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
                         int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0))
    finally:
        capture.release()


def sampling_step(frame_rate: float, every_n_seconds: float | None = None, every_n_frames: int | None = None) -> int:
    """Keep every n-th frame: `every_n_frames` if given, else int(every_n_seconds x frame rate), at least 1 (every
    frame when neither is set, or the rate is unknown): MegaDetector's `_seconds_to_frame_interval`."""
    if every_n_frames is not None:
        return max(1, int(every_n_frames))
    if every_n_seconds is None or not frame_rate or not math.isfinite(frame_rate):
        return 1
    return max(1, int(every_n_seconds * frame_rate))


def sample_frames(path: str | os.PathLike, step: int, *, skip: Iterable[int] = (), max_frames: int | None = None,
                  frame_rate: float | None = None) -> Iterator[SampledFrame]:
    """Frames 0, step, 2*step, ... of the clip, RGB, leaving out those in `skip` (already done: grabbed, never
    converted); at most `max_frames` kept frames counted from the start (skipped ones included). Stops at the first
    frame the decoder cannot give; VideoError when the clip does not open."""
    import cv2

    skip = set(skip)
    capture = _open(path)
    try:
        rate = frame_rate if frame_rate is not None else float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        number, kept = 0, 0
        while max_frames is None or kept < max_frames:
            wanted = number % step == 0
            if wanted and number not in skip:
                ok, bgr = capture.read()
                if not ok or bgr is None:
                    return
                yield SampledFrame(number, number / rate if rate > 0 else None, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            elif not capture.grab():
                return
            kept += wanted
            number += 1
    finally:
        capture.release()


def read_frame(path: str | os.PathLike, number: int) -> np.ndarray:
    """One frame, RGB, by its index (for a still of the best frame): read in order from the start, as a seek in
    long-GOP codecs may land on another frame; VideoError when the clip does not reach it."""
    for frame in sample_frames(path, 1, skip=range(number), max_frames=number + 1):
        if frame.number == number:
            return frame.image
    raise VideoError(f"video has no frame {number}")


def time_of(number: int, frame_rate: float | None) -> float | None:
    """Seconds from the start of frame `number` (None when the rate is unknown)."""
    return number / frame_rate if frame_rate else None


# IANA media types (Camtrap DP media.fileMediatype): Python's mimetypes calls .mts "model/vnd.mts" (a 3-D model
# format); camera clips with that extension are MPEG transport streams (AVCHD), video/mp2t.
MEDIA_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".avi": "video/x-msvideo",
               ".mts": "video/mp2t", ".m2ts": "video/mp2t"}


def media_type(path: str) -> str | None:
    """The IANA media type of a video file name, None for other names."""
    return MEDIA_TYPES.get(os.path.splitext(path)[1].lower())
