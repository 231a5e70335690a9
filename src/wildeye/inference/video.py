"""A video's result from its sampled frames: which frame speaks for the clip.

The rule is MegaDetector's roll-up of frame results to a video (`detection/video_utils.py`,
`frame_results_to_video_results` with its default `nth_highest_confidence = 1`): a video's confidence for a
category is that of its highest-confidence detection over all sampled frames. wildeye takes the whole frame that
holds that detection, the *best frame*: its boxes are the video's boxes, decided (classified, ensembled, counted)
exactly as a still's, so a video's label is its best frame's decision and its count the individuals seen together
in that frame (a count over frames would count one animal many times). Ties go to the earliest frame; a video
with no box in any frame is decided on its first sampled frame (blank).
"""

from __future__ import annotations

from typing import Mapping, Sequence

from wildeye.records import Detection


def best_frame(frames: Mapping[int, Sequence[Detection]]) -> int | None:
    """The sampled frame holding the video's highest-confidence detection (earliest on ties); with no detection
    anywhere, the first sampled frame; None when no frame was sampled."""
    best, best_conf = None, -1.0
    for number in sorted(frames):
        top = max((d.conf for d in frames[number]), default=-1.0)
        if best is None or top > best_conf:
            best, best_conf = number, top
    return best


def frames_processed(frames: Mapping[int, Sequence[Detection]]) -> list[int]:
    """MegaDetector's `frames_processed`: the sampled frame numbers, in order."""
    return sorted(frames)
