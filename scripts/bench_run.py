"""Benchmark `wildeye run`'s data path with real-size models (random weights) on the real frames in ../shared.

    python scripts/bench_run.py [--images 16] [--detector yolov5x6] [--device auto] [--batch-size 8] [--workers 2]

Models: YOLOv5x6 at 1280 px (MDv5a's architecture) and EfficientNetV2-M at 480 px (SpeciesNet's), random weights,
written to disk and loaded through wildeye's own loaders. An untrained detector finds no boxes, so every frame also
gets --boxes synthetic animal boxes (default 2, a typical camera-trap load) for the classifier to crop and classify;
the detector's network still runs in full on every frame.

Prints, for the same frames: each stage alone (decode through the DataLoader workers, detect, classify, journal),
end to end, pipeline efficiency = slowest stage alone / end to end, the naive way (full-size decode, one frame at
a time, no workers) and its ratio, peak memory, and for each decode mode (`decode: full`, the default, and `fast`)
its speed next to its agreement with MegaDetector's own output on ../shared/reference (genuine YOLOv5n weights):
identical frames, recall of MegaDetector's boxes >= 0.2, the largest confidence change.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "camera-traps"


def build_models(folder: Path, detector_arch: str, classifier_arch: str | None):
    import timm

    from wildeye.models.package import save_package
    from wildeye.models.yolov5_net import architecture, build_model

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the checkpoint writer is a test fixture
    from yolo_fixtures import write_checkpoint

    size = 1280 if detector_arch.endswith("6") else 640
    detector_path = write_checkpoint(build_model(architecture(detector_arch), seed=0), folder / f"{detector_arch}.pt",
                                     image_size=size, random_seed=0)
    classifier_path = None
    if classifier_arch:
        model = timm.create_model(classifier_arch, pretrained=False, num_classes=20)
        labels = [f"species {i}" for i in range(20)]
        classifier_path = save_package(folder / "classifier", model, labels, input_size=480)
    return detector_path, classifier_path


def frames(limit: int) -> list[str]:
    from wildeye.ingest.scan import scan

    manifest = scan(SHARED)
    usable = [r for r in manifest.files if r.usable and r.kind == "image"]
    usable.sort(key=lambda r: -(r.width or 0) * (r.height or 0))  # the largest frames first: the hard case
    return [r.path for r in usable[:limit]]


class WithSyntheticBoxes:
    """The real detector's forward pass and output, plus k animal boxes per frame so the classifier has work."""

    def __init__(self, detector, k: int):
        self.detector, self.k = detector, k
        self.image_size = detector.image_size
        self.prepare, self.preparer = detector.prepare, detector.preparer

    def detect_prepared(self, items):
        from wildeye.records import Detection

        results = self.detector.detect_prepared(items)
        for dets in results:
            dets.extend(Detection("animal", 0.9 - 0.1 * i, (0.1 + 0.3 * i, 0.3, 0.25, 0.3)) for i in range(self.k))
        return results

    def detect(self, images):
        return self.detect_prepared([self.prepare(image) for image in images])


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--detector", default="yolov5x6", choices=["yolov5x6", "yolov5s"])
    parser.add_argument("--classifier", default="tf_efficientnetv2_m", help="timm architecture, or 'none'")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--boxes", type=int, default=2, help="synthetic animal boxes per frame")
    parser.add_argument("--decode", default="full", choices=["full", "fast"], help="the pipeline's decode mode")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-agreement", action="store_true")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"needs the real frames at {SHARED}")
        return 2

    import torch

    from wildeye.inference.classifier import load_classifier
    from wildeye.inference.decode import decode
    from wildeye.inference.detector import Detector
    from wildeye.inference.device import select_device
    from wildeye.inference.frames import FrameDataset, frame_loader
    from wildeye.inference.pipeline import FramePipeline
    from wildeye.store.journal import Journal

    device = select_device(args.device)
    work = Path(tempfile.mkdtemp(prefix="wildeye-bench-run-"))
    detector_path, classifier_path = build_models(work, args.detector,
                                                  None if args.classifier == "none" else args.classifier)
    detector = WithSyntheticBoxes(Detector.from_checkpoint(detector_path, device=device), args.boxes)
    crop_batch = 1 if device.type == "cpu" else 32  # as `wildeye run` chooses (classifier.batch_size: null)
    classifier = load_classifier(classifier_path, device=device, batch_size=crop_batch) if classifier_path else None
    paths = frames(args.images)
    n = len(paths)
    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else f'{torch.get_num_threads()} threads'}), "
          f"{n} frames, detector {args.detector} @ {detector.image_size}, classifier {args.classifier} @ 480, "
          f"batch {args.batch_size}, workers {args.workers}, {args.boxes} animal boxes/frame")

    def make_pipeline(**overrides):
        options = dict(batch_size=args.batch_size, workers=args.workers, classify_threshold=0.5,
                       classifier_batch_size=crop_batch, decode=args.decode)
        options.update(overrides)
        return FramePipeline(detector, classifier, **options)

    # warm-up: first calls pay for kernel selection and lazy imports
    min_side = detector.image_size if args.decode == "fast" else None
    warm = decode(str(SHARED / paths[0]), min_side)
    detector.detect([warm.image])
    if classifier:
        classifier.classify([warm.image[:480, :480]])

    # stage alone: decode through the same DataLoader, no models
    def decode_all():
        out = []
        dataset = FrameDataset(SHARED, paths, min_side, detector.preparer())
        for batch in frame_loader(dataset, args.batch_size, args.workers):
            out.extend(batch)
        return out
    decoded, t_decode = timed(decode_all)
    images = [d.image.numpy() for _, d, err, _ in decoded if err is None]

    def detect_all():
        out = []
        for start in range(0, len(images), args.batch_size):
            out.extend(detector.detect(images[start:start + args.batch_size]))
        return out
    detections, t_detect = timed(detect_all)

    crops = []
    if classifier:
        for image, dets in zip(images, detections):
            for det in dets:
                if det.category == "animal" and det.conf >= 0.5:
                    crops.append(classifier.crop_detection(image, det.bbox))

    def classify_all():
        for start in range(0, len(crops), crop_batch):
            classifier.classify(crops[start:start + crop_batch])
    _, t_classify = timed(classify_all) if crops else (None, 0.0)

    def journal_all():
        with Journal.open(work / "journal-alone") as journal:
            from wildeye.ingest.manifest import MediaFile
            journal.add_media([MediaFile(path=p, kind="image", size=1, mtime="", content_hash=p) for p in paths])
            run_id = journal.start_run({}, {})
            for start in range(0, n, args.batch_size):
                chunk = paths[start:start + args.batch_size]
                journal.record_batch(run_id, {p: d for p, d in zip(chunk, detections[start:start + args.batch_size])}, {})
    _, t_journal = timed(journal_all)

    def end_to_end(pipeline, folder):
        with Journal.open(work / folder) as journal:
            from wildeye.ingest.manifest import MediaFile
            journal.add_media([MediaFile(path=p, kind="image", size=1, mtime="", content_hash=p) for p in paths])
            run_id = journal.start_run({}, {})
            pipeline.process(SHARED, paths, lambda b: journal.record_batch(run_id, b.done, b.failed))
        return pipeline.times

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times, t_e2e = timed(lambda: end_to_end(make_pipeline(), "e2e"))
    stages = {"decode": t_decode, "detect": t_detect, "classify": t_classify, "journal": t_journal}
    slowest = max(stages, key=stages.get)
    print("stage alone (s):  " + "  ".join(f"{k} {v:.2f} ({n / v if v else float('inf'):.2f} img/s)"
                                           for k, v in stages.items()))
    print(f"end to end:       {t_e2e:.2f} s = {n / t_e2e:.2f} images/s; in-pipeline: "
          + ", ".join(f"{k} {v:.2f}" for k, v in times.as_dict().items()))
    print(f"efficiency:       slowest stage alone ({slowest}) {stages[slowest]:.2f} s / end to end {t_e2e:.2f} s "
          f"= {stages[slowest] / t_e2e:.2f}")

    if not args.skip_naive:
        naive = make_pipeline(batch_size=1, workers=0, decode="full", classifier_batch_size=1)
        _, t_naive = timed(lambda: end_to_end(naive, "naive"))
        print(f"naive:            {t_naive:.2f} s = {n / t_naive:.2f} images/s (full decode, batch 1, no workers); "
              f"wildeye is {t_naive / t_e2e:.2f}x faster")

    large = [p for p in paths if _megapixels(SHARED / p) >= 12]
    if large:
        _, t_full = timed(lambda: [decode(str(SHARED / p), None) for p in large])
        _, t_reduced = timed(lambda: [decode(str(SHARED / p), detector.image_size) for p in large])
        print(f"decode ≥12 MP:    {len(large)} frames full {t_full / len(large) * 1000:.0f} ms, fast (reduced) "
              f"{t_reduced / len(large) * 1000:.0f} ms per frame = {t_full / t_reduced:.1f}x faster")
    if not args.skip_agreement:
        print_agreement()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    gpu = f", GPU peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if device.type == "cuda" else ""
    print(f"peak memory:      main process {peak:.0f} MiB, largest worker {children:.0f} MiB{gpu}")
    return 0


def print_agreement() -> None:
    """Each decode mode against MegaDetector's own output for the genuine reference checkpoints."""
    import json

    from megadetector_parity import compare

    from wildeye.inference.detector import Detector

    reference = SHARED.parent.parent / "reference" / "megadetector"
    if not (reference / "megadetector-output-640.json").is_file():
        print(f"agreement:        skipped (no MegaDetector reference at {reference})")
        return
    for checkpoint, output in (("yolov5n-3class-640.pt", "megadetector-output-640.json"),
                               ("yolov5n-3class.pt", "megadetector-output-1280.json")):
        detector = Detector.from_checkpoint(reference / checkpoint, device="cpu")
        document = json.loads((reference / output).read_text())
        for mode in ("full", "fast"):
            r = compare(document, SHARED / "images", detector, mode)
            print(f"agreement {detector.image_size:>4} {mode}: identical frames {r['identical']}/{r['frames']} "
                  f"({100 * r['identical'] / r['frames']:.1f}%), MegaDetector boxes >= 0.2 recalled "
                  f"{r['recalled']}/{r['reference_boxes']}, max conf change {r['max_conf_change']}, "
                  f"{r['frames'] / r['seconds']:.2f} images/s decode+detect")


def _megapixels(path: Path) -> float:
    from PIL import Image

    with Image.open(path) as image:
        return image.size[0] * image.size[1] / 1e6


if __name__ == "__main__":
    sys.exit(main())
