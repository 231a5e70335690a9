"""Benchmark `wildeye run --ray` on a local Ray cluster: images/s with 1 and 2 detector actors, and the driver's
overhead per frame, beside the local engine on the same frames.

    python scripts/bench_ray.py [--images 48] [--detector yolov5s] [--classifier none] [--size 1280x960]

Frames: generated noise JPEGs with EXIF times (decoding them is real work). Models: random weights written to disk
and loaded through wildeye's loaders (scripts/bench_run.py's build_models): YOLOv5s at 640 px by default;
`--classifier tf_efficientnet_b0` (any timm architecture) adds the classify stage. A random detector finds few
boxes, so the classifier sees few crops.

Per row: end-to-end images/s of the run (`wildeye.app.run.run`, scan and model loading on the driver excluded:
the pipeline's own wall time), steady images/s (from the first batch recorded to the last: actor start-up left
out), the per-stage seconds (summed over actors), and the driver's cost per frame (unpacking results and writing
the journal; what one driver can sustain is 1 / that). Ray's start-up is paid once, before the rows. The machine
may be shared: figures are noisy; run it twice.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def make_card(folder: Path, count: int, size: tuple[int, int]) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    for i in range(count):
        small = np.clip(base.astype(int) + rng.integers(-30, 30, base.shape), 0, 255).astype(np.uint8)
        exif = Image.Exif()
        exif[0x8769] = {0x9003: (datetime(2024, 5, 1, 6) + timedelta(minutes=i)).strftime("%Y:%m:%d %H:%M:%S")}
        (folder / "cam1").mkdir(parents=True, exist_ok=True)
        Image.fromarray(small).resize(size).save(folder / "cam1" / f"IMG_{i:04d}.JPG", quality=90, exif=exif)
    return folder


def one_run(card: Path, out: Path, detector: Path, classifier: Path | None, engine: str, workers: int | None,
            batch_size: int) -> dict:
    from wildeye.app.run import run
    from wildeye.config import load_run_config

    shutil.rmtree(out, ignore_errors=True)
    config = load_run_config(None, {"detector.name": str(detector), "classifier.name": str(classifier) if classifier
                                    else None, "after_run.fiftyone": False, "static.enabled": False,
                                    "engine": engine, "ray_workers": workers if engine == "ray" else None,
                                    "workers": 2, "detector.batch_size": batch_size})
    marks: list[float] = []
    outcome = run(card, out, config, on_progress=lambda done, total: marks.append(time.perf_counter()))
    frames = outcome.summary["frames_this_run"]
    total = outcome.times["total"]
    steady = (frames - batch_size) / (marks[-1] - marks[0]) if len(marks) > 1 and marks[-1] > marks[0] else 0.0
    driver = (outcome.summary.get("ray", {}).get("driver_seconds") or outcome.times["journal"]) / max(frames, 1)
    return {"frames": frames, "images_s": frames / total if total else 0.0, "steady_s": steady,
            "driver_ms_per_frame": driver * 1000, "times": outcome.times}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--size", default="1280x960", help="frame size WxH")
    parser.add_argument("--detector", default="yolov5s", choices=["yolov5s", "yolov5x6"])
    parser.add_argument("--classifier", default="none", help="timm architecture, or 'none'")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    args = parser.parse_args()

    import ray

    from bench_run import build_models

    work = Path(tempfile.mkdtemp(prefix="wbr", dir="/tmp"))
    try:
        width, height = map(int, args.size.lower().split("x"))
        card = make_card(work / "card", args.images, (width, height))
        detector, classifier = build_models(work, args.detector, None if args.classifier == "none" else args.classifier)
        started = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, _temp_dir=str(work / "ray"), logging_level="WARNING",
                 log_to_driver=False)
        print(f"Ray local cluster: {args.cpus} CPUs, started in {time.perf_counter() - started:.1f} s; "
              f"{args.images} frames {width}x{height}, {args.detector}, classifier {args.classifier}")
        rows = [("local (2 decode workers)", one_run(card, work / "local", detector, classifier, "local", None,
                                                     args.batch_size))]
        for workers in (1, 2):
            rows.append((f"ray, {workers} detector actor(s)", one_run(card, work / f"ray{workers}", detector,
                                                                      classifier, "ray", workers, args.batch_size)))
        print(f"{'engine':<28} {'images/s':>9} {'steady':>8} {'driver ms/frame':>16}  stage seconds")
        for name, row in rows:
            stages = ", ".join(f"{k} {v:.2f}" for k, v in row["times"].items() if v and k != "device_decode")
            print(f"{name:<28} {row['images_s']:>9.2f} {row['steady_s']:>8.2f} {row['driver_ms_per_frame']:>16.2f}"
                  f"  {stages}")
        one, two = rows[1][1], rows[2][1]
        if one["steady_s"]:
            print(f"2 vs 1 actors (steady): {two['steady_s'] / one['steady_s']:.2f}x; one driver sustains about "
                  f"{1000 / max(two['driver_ms_per_frame'], 1e-6):.0f} frames/s")
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
