"""Videos in `wildeye run`: sample each clip, put its frames through the run's own FramePipeline (the same detector,
classifier and crops as stills), commit them to the journal batch by batch, then roll the clip up to its best frame.

Resuming after a kill: the journal knows which sampled frames of a video are committed (`Journal.start_video`), and
they are skipped, so at most one batch of frames is redone and none is recorded twice. A clip that cannot be opened,
or yields no frame, is a recorded failure of that video; the run goes on. Frames the decoder cannot give end the
clip there (a truncated file keeps what it holds), as in MegaDetector's `run_callback_on_frames`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

from wildeye.config import VideoConfig
from wildeye.inference.video import best_frame
from wildeye.ingest.video import SampledFrame, VideoError, probe, sample_frames, sampling_step
from wildeye.names import media_path

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Event = Callable[..., None]


def process_videos(source: Path, paths: list[str], journal, pipeline, run_id: int, settings: VideoConfig, *,
                   event: Event | None = None, on_video: Callable[[str], None] | None = None) -> dict[str, int]:
    """Every video in `paths` (pending, relative to `source`) processed or recorded as failed; returns counts
    (videos done, failed, frames detected this run)."""
    counts = {"videos_done": 0, "videos_failed": 0, "video_frames": 0}
    started = time.perf_counter()
    for path in paths:
        frames, reason = process_video(source, path, journal, pipeline, run_id, settings, event=event)
        counts["video_frames"] += frames
        if reason is None:
            counts["videos_done"] += 1
        else:
            counts["videos_failed"] += 1
            if event:
                event("frame_failed", path=path, reason=reason)
        if on_video:
            on_video(path)
    pipeline.times.total += time.perf_counter() - started  # the stage times include the videos' frames too
    return counts


def process_video(source: Path, path: str, journal, pipeline, run_id: int, settings: VideoConfig, *,
                  event: Event | None = None) -> tuple[int, str | None]:
    """One clip: (frames detected now, failure reason or None)."""
    file = media_path(source, path)
    try:
        info = probe(file)
    except VideoError as exc:
        journal.record_batch(run_id, {}, {path: str(exc)})
        return 0, str(exc)
    step = sampling_step(info.frame_rate, settings.every_n_seconds, settings.every_n_frames)
    done = journal.start_video(path, info.frame_rate or None, info.frame_count or None, info.width or None,
                               info.height or None, step)
    detected = 0
    batch: list[SampledFrame] = []
    seconds: list[float] = []
    try:
        frames = sample_frames(file, step, skip=done, max_frames=settings.max_frames, frame_rate=info.frame_rate)
        while True:
            started = time.perf_counter()
            frame = next(frames, None)
            if frame is None:
                break
            batch.append(frame)
            seconds.append(time.perf_counter() - started)
            if len(batch) >= settings.batch_frames:
                detected += _detect_and_record(path, batch, seconds, journal, pipeline, run_id, event)
                batch, seconds = [], []
        detected += _detect_and_record(path, batch, seconds, journal, pipeline, run_id, event)
    except VideoError as exc:  # its message is the reason
        journal.record_batch(run_id, {}, {path: str(exc)})
        return detected, str(exc)
    except Exception as exc:  # noqa: BLE001  (cv2.error and the like from a damaged stream: that video's failure)
        if type(exc).__module__.split(".")[0] != "cv2":
            raise
        reason = f"video could not be decoded: {exc}".strip()
        journal.record_batch(run_id, {}, {path: reason})
        return detected, reason
    committed = journal.video_frames(path).get(path, [])
    if not committed:
        reason = "video could not be decoded: no frame could be read"
        journal.record_batch(run_id, {}, {path: reason})
        return detected, reason
    best = best_frame({f.number: f.detections for f in committed})
    journal.finish_video(run_id, path, best)
    expected = -(-info.frame_count // step) if info.frame_count else None  # what the container promises
    if settings.max_frames and expected:
        expected = min(expected, settings.max_frames)
    if expected and len(committed) < expected:
        logger.warning("%s: %d of %d sampled frames could be read (a truncated or damaged clip?)", path,
                       len(committed), expected)
    if event:
        event("video_done", path=path, frames=len(committed), expected_frames=expected, every_n_frames=step,
              best_frame=best, frame_rate=info.frame_rate)
    return detected, None


def _detect_and_record(path: str, batch: list[SampledFrame], seconds: list[float], journal, pipeline, run_id: int,
                       event: Event | None) -> int:
    """Detect + classify one batch of sampled frames exactly as the pipeline does stills, then commit it."""
    if not batch:
        return 0
    from wildeye.inference.frames import Frame

    items = []
    prepare = None if pipeline.on_device else pipeline.detector.preparer()
    for frame, took in zip(batch, seconds):
        if prepare is None:  # decode: device: the pipeline uploads the frame and letterboxes it there
            import torch

            items.append((frame.number, Frame(torch.from_numpy(frame.image), None), None, took))
        else:
            started = time.perf_counter()
            boxed = prepare(frame.image)
            items.append((frame.number, Frame(frame.image, boxed), None, took + time.perf_counter() - started))
    result = pipeline.process_batch(items)
    for number, reason in result.failed.items():  # MegaDetector's format has no failed frame: left unsampled
        logger.warning("%s: frame %s not processed: %s", path, number, reason)
        if event:
            event("video_frame_failed", path=path, frame=number, reason=reason)
    times = {frame.number: frame.time for frame in batch}
    started = time.perf_counter()
    journal.record_video_frames(run_id, path, {number: (times[number], dets) for number, dets in result.done.items()})
    pipeline.times.journal += time.perf_counter() - started
    return len(result.done)
