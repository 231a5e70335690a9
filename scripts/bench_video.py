"""Video throughput: decode frames/s (OpenCV, every frame and sampled) and pipeline frames/s (sample + detect +
journal) on a generated clip, with a tiny random-weight YOLOv5 detector unless --detector names a checkpoint.

    python scripts/bench_video.py                     # 20 s 640x480 clip at 30 fps, sampled every 1 s and 0.2 s
    python scripts/bench_video.py --detector ../shared/reference/megadetector/yolov5n-3class-640.pt --seconds 10

Timings on a shared machine swing: run it twice. Numbers are never asserted in tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="clip length")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT")
    parser.add_argument("--detector", default=None, help="checkpoint (default: a tiny random YOLOv5s at 320 px)")
    parser.add_argument("--every", type=float, nargs="+", default=[1.0, 0.2],
                        help="sampling intervals in seconds to run the pipeline at (0: every frame)")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))  # the clip writer and the checkpoint writer are test fixtures
    from videogen import write_clip

    from wildeye.ingest.video import probe, sample_frames

    width, height = map(int, args.size.lower().split("x"))
    frames = int(args.seconds * args.fps)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = write_clip(tmp / "card" / "CLIP0001.MP4", frames=frames, fps=args.fps, size=(width, height))
        info = probe(clip)
        print(f"clip: {info.frame_count} frames, {info.width}x{info.height}, {info.frame_rate:g} fps, "
              f"{clip.stat().st_size / 1e6:.1f} MB (mp4v)")
        for step in (1, max(1, int(args.fps))):
            started = time.perf_counter()
            n = sum(1 for _ in sample_frames(clip, step))
            took = time.perf_counter() - started
            print(f"decode every {step:>2} frame(s): {n} frames kept in {took:.2f} s = {info.frame_count / took:.0f} "
                  f"clip frames/s, {n / took:.1f} kept frames/s")
        detector = _detector(args.detector, tmp)
        for every in args.every:
            _pipeline(tmp / "card", detector, every, args.batch, tmp / f"out-{every}")


def _detector(path: str | None, tmp: Path):
    from wildeye.inference.detector import Detector

    if path is None:
        from yolo_fixtures import write_tiny

        path = write_tiny(tmp / "tiny.pt", image_size=320)
    return Detector.from_checkpoint(path)


def _pipeline(card: Path, detector, every: float, batch: int, out: Path) -> None:
    from wildeye.app.video import process_videos
    from wildeye.config import VideoConfig
    from wildeye.inference.pipeline import FramePipeline
    from wildeye.ingest.scan import scan
    from wildeye.store.journal import Journal

    settings = VideoConfig(every_n_seconds=every or None, every_n_frames=1 if not every else None,
                           batch_frames=batch)
    with Journal.open(out) as journal:
        journal.add_media(scan(card, out_dir=out).files)
        run_id = journal.start_run({}, {})
        pipeline = FramePipeline(detector, None, batch_size=batch, workers=0)
        started = time.perf_counter()
        counts = process_videos(card, journal.pending_videos(), journal, pipeline, run_id, settings)
        took = time.perf_counter() - started
    t = pipeline.times
    n = counts["video_frames"]
    print(f"pipeline every {every or 'frame'}{' s' if every else ''}: {n} frames in {took:.2f} s = {n / took:.1f} "
          f"sampled frames/s (decode+letterbox {t.decode:.2f} s, detect {t.detect:.2f} s, journal {t.journal:.2f} s; "
          f"bottleneck: {max(('decode', t.decode), ('detect', t.detect), ('journal', t.journal), key=lambda x: x[1])[0]})")


if __name__ == "__main__":
    main()
