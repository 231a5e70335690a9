"""Benchmark `wildeye run`'s data path with real-size models (random weights) on the real frames in ../shared.

    python scripts/bench_run.py [--images 16] [--detector yolov5x6] [--device auto] [--batch-size 8] [--workers 2]
    python scripts/bench_run.py --images 8 --skip-stages --skip-paths bf16     # the path table only, without bf16

Models: YOLOv5x6 at 1280 px (MDv5a's architecture) and EfficientNetV2-M at 480 px (SpeciesNet's), random weights,
written to disk and loaded through wildeye's own loaders. An untrained detector finds no boxes, so every frame also
gets --boxes synthetic animal boxes (default 2, a typical camera-trap load) for the classifier to crop and classify;
the detector's network still runs in full on every frame.

Prints, for the same frames:
- each stage alone (decode through the DataLoader workers, detect, classify, journal), end to end, pipeline
  efficiency = slowest stage alone / end to end (wildeye's default path; --skip-stages leaves it out);
- one row per path (PATHS below), each end to end in its own process: (a) the naive MegaDetector-style path (full
  decode, eager PyTorch fp32, one frame at a time, no workers), (b) wildeye's default (`precision: auto`), (c) each
  faster option; images/s, speed-up over the naive path, the process's peak memory (and its largest decode
  worker's), and the detector's agreement with MegaDetector's own output on ../shared/reference (genuine YOLOv5n
  weights at 640 and 1280 px): identical frames, recall of MegaDetector's boxes >= 0.2, the largest confidence
  change, and whether that is within the bar for a default (recall >= 99.5%, change <= 0.02).
The machine these run on may be shared: wall-clock figures are noisy, so each row also gives the CPU seconds its
process spent per frame.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "camera-traps"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # megadetector_parity, when run as a subprocess too


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


# Each path: the detector's and the classifier's (runtime, precision) as `choose_path` takes them, the decode
# mode, and whether the pipeline batches and decodes in workers as `wildeye run` does ("naive": one frame at a
# time in the main process). Add a row here for a new path (e.g. a GPU decode mode); --skip-paths leaves rows out.
PATHS: dict[str, dict] = {
    "naive": {"detector": ("torch", "fp32"), "classifier": ("torch", "fp32"), "decode": "full", "naive": True,
              "what": "MegaDetector-style: full decode, eager fp32, one frame at a time"},
    "default": {"detector": ("auto", "auto"), "classifier": ("auto", "auto"), "decode": "full",
                "what": "wildeye run as shipped (precision: auto)"},
    "fp32": {"detector": ("torch", "fp32"), "classifier": ("torch", "fp32"), "decode": "full",
             "what": "precision: fp32 (exact), with decode workers"},
    "onnxruntime": {"detector": ("onnxruntime", "fp32"), "classifier": ("onnxruntime", "fp32"), "decode": "full",
                    "what": "runtime: onnxruntime"},
    "bf16": {"detector": ("torch", "bf16"), "classifier": ("torch", "bf16"), "decode": "full",
             "what": "precision: bf16 (fast with AVX-512 BF16 / AMX only)"},
    "decode fast": {"detector": ("auto", "auto"), "classifier": ("auto", "auto"), "decode": "fast",
                    "what": "default + decode: fast (JPEG DCT scaling)"},
}


def resolve(path: dict, device) -> tuple[tuple[str, str], tuple[str, str]]:
    """The (runtime, precision) each model runs with on `device` for a PATHS entry."""
    from wildeye.inference.detector import choose_path

    det = choose_path(device, path["detector"][1], path["detector"][0])
    cls = choose_path(device, path["classifier"][1], path["classifier"][0])
    return det, cls


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
    parser.add_argument("--threads", type=int, default=None, help="torch/ONNX Runtime threads (default: torch's)")
    parser.add_argument("--boxes", type=int, default=2, help="synthetic animal boxes per frame")
    parser.add_argument("--decode", default="full", choices=["full", "fast"], help="the stage table's decode mode")
    parser.add_argument("--skip-stages", action="store_true", help="no per-stage table")
    parser.add_argument("--skip-paths", default="", help="comma-separated PATHS rows to leave out, or 'all'")
    parser.add_argument("--skip-naive", action="store_true", help="same as --skip-paths naive")
    parser.add_argument("--skip-agreement", action="store_true")
    parser.add_argument("--work", type=Path, default=None, help=argparse.SUPPRESS)  # models already written
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: run one path, print JSON
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"needs the real frames at {SHARED}")
        return 2
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.one:
        return run_one(args)

    from wildeye.inference.device import select_device

    device = select_device(args.device)
    work = Path(tempfile.mkdtemp(prefix="wildeye-bench-run-"))
    args.work = work
    build_models(work, args.detector, None if args.classifier == "none" else args.classifier)
    paths = frames(args.images)
    skipped = {name.strip() for name in args.skip_paths.split(",") if name.strip()} | ({"naive"} if args.skip_naive else set())
    unknown = skipped - set(PATHS) - {"all"}
    if unknown:
        print(f"bench_run: error: unknown path(s) {', '.join(sorted(unknown))}; known: {', '.join(PATHS)}")
        return 2
    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else f'{torch.get_num_threads()} threads'}), "
          f"{len(paths)} frames, detector {args.detector}, classifier {args.classifier} @ 480, batch {args.batch_size}, "
          f"workers {args.workers}, {args.boxes} animal boxes/frame")
    if not args.skip_stages:
        print_stages(args, device, work, paths)
    if "all" not in skipped:
        print_paths(args, device, [name for name in PATHS if name not in skipped])
    return 0


def load_path(args, device, name: str):
    """Detector (with synthetic boxes) and classifier for one PATHS row, from the models in args.work."""
    from wildeye.inference.classifier import load_classifier
    from wildeye.inference.detector import Detector

    (det_runtime, det_precision), (cls_runtime, cls_precision) = resolve(PATHS[name], device)
    cache = args.work / "cache"
    detector = Detector.from_checkpoint(args.work / f"{args.detector}.pt", device=device, runtime=det_runtime,
                                        precision=det_precision, onnx_cache_dir=cache)
    detector = WithSyntheticBoxes(detector, args.boxes)
    classifier = None
    if (args.work / "classifier").is_dir():
        crop_batch = 1 if device.type == "cpu" else 32  # as `wildeye run` chooses (classifier.batch_size: null)
        classifier = load_classifier(args.work / "classifier", device=device, batch_size=crop_batch,
                                     runtime=cls_runtime, precision=cls_precision, onnx_cache_dir=cache)
    return detector, classifier


def end_to_end(args, detector, classifier, paths, folder: str, **options):
    from wildeye.ingest.manifest import MediaFile
    from wildeye.inference.pipeline import FramePipeline
    from wildeye.store.journal import Journal

    crop_batch = classifier.batch_size if classifier else 1
    settings = dict(batch_size=args.batch_size, workers=args.workers, classify_threshold=0.5,
                    classifier_batch_size=crop_batch, decode="full")
    settings.update(options)
    pipeline = FramePipeline(detector, classifier, **settings)
    with Journal.open(args.work / folder) as journal:
        journal.add_media([MediaFile(path=p, kind="image", size=1, mtime="", content_hash=p) for p in paths])
        run_id = journal.start_run({}, {})
        pipeline.process(SHARED, paths, lambda b: journal.record_batch(run_id, b.done, b.failed))
    return pipeline.times


def run_one(args) -> int:
    """One PATHS row end to end in this process (its own peak memory); prints one JSON line."""
    import json

    from wildeye.inference.decode import decode
    from wildeye.inference.device import select_device

    device = select_device(args.device)
    path = PATHS[args.one]
    detector, classifier = load_path(args, device, args.one)
    paths = frames(args.images)
    warm = decode(str(SHARED / paths[0]), None)  # first calls pay for kernel selection, exports, lazy imports
    detector.detect([warm.image])
    if classifier:
        classifier.classify([warm.image[:480, :480]])
    options = dict(decode=path["decode"])
    if path.get("naive"):
        options.update(batch_size=1, workers=0)
    cpu = time.process_time()
    times, seconds = timed(lambda: end_to_end(args, detector, classifier, paths, f"path-{args.one}", **options))
    cpu = time.process_time() - cpu + _children_cpu()
    det, cls = resolve(path, device)
    print(json.dumps({"name": args.one, "frames": len(paths), "seconds": seconds, "cpu_seconds": cpu,
                      "detector": "/".join(det), "classifier": "/".join(cls),
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "worker_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                      "times": times.as_dict()}))
    return 0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def print_paths(args, device, names: list[str]) -> None:
    """A row per path: each end to end in a fresh process, then its detector's agreement with MegaDetector."""
    import json
    import subprocess

    rows = {}
    for name in names:
        command = [sys.executable, __file__, "--one", name, "--work", str(args.work), "--images", str(args.images),
                   "--detector", args.detector, "--device", args.device, "--batch-size", str(args.batch_size),
                   "--workers", str(args.workers), "--boxes", str(args.boxes)]
        if args.threads:
            command += ["--threads", str(args.threads)]
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"path {name}: failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        rows[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        row = rows[name]
        print(f"  ran {name}: {row['frames'] / row['seconds']:.3f} images/s", flush=True)
    agreement = {} if args.skip_agreement else path_agreement(device, [n for n in names if n in rows])
    naive = rows.get("naive")
    print(f"{'path':<12} {'detector':<17} {'classifier':<17} {'img/s':>7} {'x naive':>7} {'CPU s/img':>9} "
          f"{'peak MiB':>9} {'worker':>7}  agreement with MegaDetector (640 | 1280 px)")
    for name, row in rows.items():
        speed = row["frames"] / row["seconds"]
        ratio = f"{row['seconds'] and naive['seconds'] / row['seconds']:.2f}" if naive else "-"
        print(f"{name:<12} {row['detector']:<17} {row['classifier']:<17} {speed:>7.3f} {ratio:>7} "
              f"{row['cpu_seconds'] / row['frames']:>9.1f} {row['peak_mib']:>9.0f} {row['worker_peak_mib']:>7.0f}  "
              f"{agreement.get(name, '-')}")
    for name in rows:
        print(f"  {name}: {PATHS[name]['what']}")


def path_agreement(device, names: list[str]) -> dict[str, str]:
    """Each path's detector (and decode mode) against MegaDetector's own output for the genuine reference
    checkpoints; frames are decoded and letterboxed once per size and decode mode, then shared by the paths."""
    import json

    from megadetector_parity import compare, prepare_frames, within_tolerance

    from wildeye.inference.detector import Detector

    reference = SHARED.parent.parent / "reference" / "megadetector"
    if not (reference / "megadetector-output-640.json").is_file():
        return {name: f"skipped (no MegaDetector reference at {reference})" for name in names}
    cells: dict[str, list[str]] = {name: [] for name in names}
    verdict = {name: True for name in names}
    done: dict[tuple, str] = {}
    for checkpoint, output in (("yolov5n-3class-640.pt", "megadetector-output-640.json"),
                               ("yolov5n-3class.pt", "megadetector-output-1280.json")):
        document = json.loads((reference / output).read_text())
        prepared: dict[str, list] = {}
        for name in names:
            (runtime, precision), _ = resolve(PATHS[name], device)
            mode = PATHS[name]["decode"]
            key = (checkpoint, runtime, precision, mode)
            if key not in done:
                detector = Detector.from_checkpoint(reference / checkpoint, device=device, runtime=runtime,
                                                    precision=precision)
                if mode not in prepared:
                    prepared[mode] = prepare_frames(document, SHARED / "images", detector, mode)
                r = compare(document, SHARED / "images", detector, mode, prepared=prepared[mode])
                ok = within_tolerance(r)
                done[key] = (f"{r['identical']}/{r['frames']} identical, recall {r['recalled']}/{r['reference_boxes']}, "
                             f"dconf {r['max_conf_change']:.3f}", ok)
            cells[name].append(done[key][0])
            verdict[name] = verdict[name] and done[key][1]
    return {name: " | ".join(cells[name]) + ("  within tolerance" if verdict[name] else "  OUTSIDE tolerance")
            for name in names}


def print_stages(args, device, work: Path, paths: list[str]) -> None:
    """wildeye's default path: each stage alone, end to end, efficiency, and the cost of a full-size decode."""
    from wildeye.inference.decode import decode
    from wildeye.inference.frames import FrameDataset, frame_loader
    from wildeye.store.journal import Journal

    detector, classifier = load_path(args, device, "default")
    n = len(paths)
    crop_batch = classifier.batch_size if classifier else 1
    min_side = detector.image_size if args.decode == "fast" else None
    warm = decode(str(SHARED / paths[0]), min_side)
    detector.detect([warm.image])
    if classifier:
        classifier.classify([warm.image[:480, :480]])

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
        from wildeye.ingest.manifest import MediaFile

        with Journal.open(work / "journal-alone") as journal:
            journal.add_media([MediaFile(path=p, kind="image", size=1, mtime="", content_hash=p) for p in paths])
            run_id = journal.start_run({}, {})
            for start in range(0, n, args.batch_size):
                chunk = paths[start:start + args.batch_size]
                journal.record_batch(run_id, {p: d for p, d in zip(chunk, detections[start:start + args.batch_size])}, {})
    _, t_journal = timed(journal_all)

    times, t_e2e = timed(lambda: end_to_end(args, detector, classifier, paths, "e2e", decode=args.decode))
    stages = {"decode": t_decode, "detect": t_detect, "classify": t_classify, "journal": t_journal}
    slowest = max(stages, key=stages.get)
    det, cls = resolve(PATHS["default"], device)
    print(f"default path: detector {'/'.join(det)}, classifier {'/'.join(cls)}, decode {args.decode}")
    print("stage alone (s):  " + "  ".join(f"{k} {v:.2f} ({n / v if v else float('inf'):.2f} img/s)"
                                           for k, v in stages.items()))
    print(f"end to end:       {t_e2e:.2f} s = {n / t_e2e:.2f} images/s; in-pipeline: "
          + ", ".join(f"{k} {v:.2f}" for k, v in times.as_dict().items()))
    print(f"efficiency:       slowest stage alone ({slowest}) {stages[slowest]:.2f} s / end to end {t_e2e:.2f} s "
          f"= {stages[slowest] / t_e2e:.2f}")
    large = [p for p in paths if _megapixels(SHARED / p) >= 12]
    if large:
        _, t_full = timed(lambda: [decode(str(SHARED / p), None) for p in large])
        _, t_reduced = timed(lambda: [decode(str(SHARED / p), detector.image_size) for p in large])
        print(f"decode ≥12 MP:    {len(large)} frames full {t_full / len(large) * 1000:.0f} ms, fast (reduced) "
              f"{t_reduced / len(large) * 1000:.0f} ms per frame = {t_full / t_reduced:.1f}x faster")


def _megapixels(path: Path) -> float:
    from PIL import Image

    with Image.open(path) as image:
        return image.size[0] * image.size[1] / 1e6


if __name__ == "__main__":
    sys.exit(main())
