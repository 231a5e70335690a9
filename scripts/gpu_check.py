"""The GPU check for `decode: device` (issue 16, item 3): one prepared program, run once where a GPU is lent.

    bash scripts/gpu_check.sh prepare               # here, beside ../shared: frames, weights, wheels -> .gpucheck/
    bash scripts/gpu_check.sh run --out "$OUT"      # on the GPU machine (carry .gpucheck): installs, runs this
    PYTHONPATH=src python scripts/gpu_check.py --device cpu --frames 4 --batch-size 2 --workers 1 \
        --naive-frames 1 --pieces-frames 3 --parity-frames 3 --run-frames 3     # the dry check on a CPU (slow)

It prints, and writes as JSON (--out DIR/gpu_check.json):

1. pieces: nvJPEG's pixels against PIL's (frames identical, largest difference), the device letterbox against cv2's
   on the same frames (identical: it is integer arithmetic), device crops against host crops (SpeciesNet's and a
   wildeye package's preprocessing).
2. bench, MDv5a's network (YOLOv5x6, random weights) at 1280 on the shared frames repeated to --frames: each stage
   alone (workers reading files; decode + letterbox on the device; the detector fp32 and fp16; the classifier,
   EfficientNetV2-M at 480 on --boxes synthetic boxes per frame, crops cut on the device), then end to end with
   `decode: device` (fp32 and fp16 detector), with `decode: full` (host decode in the workers) and the naive way
   (full decode, one frame at a time, no workers) on a few frames; pipeline efficiency = end to end / slowest stage
   alone; peak GPU memory.
3. agreement with MegaDetector 10.0.28's own output (../shared/reference, genuine YOLOv5n weights, 640 and 1280):
   identical frames, recall of its boxes >= 0.2 at IoU 0.5, largest confidence change, for decode full/device,
   fp32/fp16 (scripts/megadetector_parity.py's comparison). The issue's bar for a default: recall >= 99.5%,
   confidence change <= 0.02.
4. a short `wildeye run` (real YOLOv5n weights, a SpeciesNet-format classifier) with `--decode auto` and with
   `--decode full` on the same card: images/s, stage times, the decode mode the journal recorded, and how far the
   two runs' MegaDetector JSON differ (boxes and classifications).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REFERENCES = ((640, "megadetector-output-640.json", "yolov5n-3class-640.pt"),
              (1280, "megadetector-output-1280.json", "yolov5n-3class.pt"))


def say(message: str = "") -> None:
    print(message, flush=True)


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 2) if seconds > 0 else float("inf")


# --- 0. where we are ------------------------------------------------------------------------------------------

def environment(device) -> dict:
    import cv2
    import PIL
    import torch
    import torchvision

    info = {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "cv2": cv2.__version__, "pillow": PIL.__version__, "device": str(device), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    multiprocessors=props.multi_processor_count, cuda=torch.version.cuda,
                    cudnn=torch.backends.cudnn.version(), tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
                    tf32_cudnn=torch.backends.cudnn.allow_tf32)
    return info


def frame_files(images: Path) -> list[str]:
    return sorted(str(p.relative_to(images)) for p in images.rglob("*") if p.is_file())


def jpeg_files(images: Path, files: list[str]) -> list[str]:
    from wildeye.inference.device_decode import Encoded, read_for_device

    return [f for f in files if isinstance(read_for_device(images / f), Encoded)]


# --- 1. the pieces --------------------------------------------------------------------------------------------

def pieces(images: Path, jpegs: list[str], device, limit: int) -> dict:
    """nvJPEG vs PIL pixels, device letterbox vs cv2, device crops vs host crops."""
    import numpy as np
    import torch
    from torch import nn

    from wildeye.inference.classifier import PackageClassifier, SpeciesNetClassifier
    from wildeye.inference.decode import decode
    from wildeye.inference.detector import letterbox, letterbox_tensor
    from wildeye.inference.device_crops import device_crop
    from wildeye.inference.device_decode import decode_batch, read_for_device
    from wildeye.models.package import PackageInfo

    same_pixels = same_letterbox = frames = 0
    worst, differing_share = 0, []
    for name in jpegs[:limit]:
        path = images / name
        on_device = decode_batch([read_for_device(path)], device)[0]
        if isinstance(on_device, Exception):
            continue
        frames += 1
        host = decode(str(path)).image
        got = on_device.permute(1, 2, 0).cpu().numpy()
        diff = np.abs(got.astype(np.int16) - host.astype(np.int16)) if got.shape == host.shape else None
        if diff is not None:
            same_pixels += int(diff.max() == 0)
            worst = max(worst, int(diff.max()))
            differing_share.append(float((diff > 0).mean()))
        # the letterbox alone, on the very same input pixels: integer arithmetic, so identical on any device
        boxed = letterbox_tensor(torch.from_numpy(host).permute(2, 0, 1)[None].to(device), 1280, stride=64)[0]
        same_letterbox += int(np.array_equal(boxed.permute(1, 2, 0).cpu().numpy(), letterbox(host, 1280, stride=64)))
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (1536, 2048, 3), dtype=np.uint8)
    chw = torch.from_numpy(frame).permute(2, 0, 1).contiguous().to(device)
    boxes = [(0.1, 0.2, 0.3, 0.4), (-0.05, 0.6, 0.4, 0.5), (0.5, 0.5, 0.01, 0.02), (0.0, 0.0, 1.0, 1.0)]
    crops = {}
    speciesnet = SpeciesNetClassifier(nn.Identity(), ["a"], input_size=480, device="cpu")
    package = PackageClassifier(nn.Identity(), PackageInfo(architecture="x", labels=["a"], input_size=480,
                                                           crop_padding=0.1), device="cpu")
    for name, classifier in (("speciesnet", speciesnet), ("package", package)):
        biggest = 0.0
        for bbox in boxes:
            host = classifier.preprocess([classifier.crop_detection(frame, bbox)])[0]
            got = device_crop(classifier, chw, bbox).cpu()
            biggest = max(biggest, float((got - host).abs().max()))
        crops[name] = {"max_abs_diff": biggest, "crops": len(boxes)}
    return {"frames": frames, "decode_identical_frames": same_pixels, "decode_max_abs_diff": worst,
            "decode_mean_share_of_differing_values": round(sum(differing_share) / max(len(differing_share), 1), 6),
            "letterbox_identical_frames": same_letterbox, "crops_device_vs_host": crops}


# --- 2. the bench ---------------------------------------------------------------------------------------------

class WithBoxes:
    """A Detector that also reports `k` animal boxes per frame (random weights find none), so the classifier works."""

    def __init__(self, detector, k: int):
        self.detector, self.k = detector, k

    def __getattr__(self, name):
        return getattr(self.detector, name)

    def detect_prepared(self, items):
        from wildeye.records import Detection

        results = self.detector.detect_prepared(items)
        for dets in results:
            dets.extend(Detection("animal", 0.9 - 0.1 * i, (0.08 + 0.3 * i, 0.3, 0.25, 0.3)) for i in range(self.k))
        return results


def bench(images: Path, jpegs: list[str], device, args, work: Path) -> dict:
    import torch

    from wildeye.inference.classifier import load_classifier
    from wildeye.inference.detector import Detector
    from wildeye.inference.device_crops import device_batch
    from wildeye.inference.device_decode import decode_batch, read_for_device
    from wildeye.inference.frames import FrameDataset, frame_loader
    from wildeye.inference.pipeline import FramePipeline
    from wildeye.models.package import save_package
    from wildeye.models.yolov5_net import architecture, build_model

    n = args.frames
    paths = (jpegs * math.ceil(n / len(jpegs)))[:n]
    batch, workers, k = args.batch_size, args.workers, args.boxes
    out: dict = {"frames": n, "distinct_frames": len(set(paths)), "batch_size": batch, "workers": workers,
                 "boxes_per_frame": k, "detector": f"yolov5x6 (MDv5a's network, random weights) @ {args.image_size}",
                 "classifier": f"{args.classifier} @ 480 (random weights), crops cut on the device"}
    pixels = []
    for name in sorted(set(paths)):
        item = read_for_device(images / name)
        pixels.append(item.size[0] * item.size[1])
    out["megapixels_per_frame"] = round(sum(pixels) / len(pixels) / 1e6, 2)

    t = time.perf_counter()
    net = build_model(architecture("yolov5x6"), seed=0)
    detectors = {}
    for precision in ("fp32", "fp16") if device.type == "cuda" else ("fp32",):
        detectors[precision] = Detector(copy.deepcopy(net), image_size=args.image_size, device=device, batched=True,
                                        batch_size=batch, half=precision == "fp16", letterbox_stride=64)
    del net
    classifier = None
    if args.classifier != "none":
        import timm

        model = timm.create_model(args.classifier, pretrained=False, num_classes=20)
        package = save_package(work / "classifier", model, [f"species {i}" for i in range(20)], input_size=480)
        classifier = load_classifier(package, device=device, batch_size=32 if device.type == "cuda" else 1, half=False)
    out["model_build_s"] = round(time.perf_counter() - t, 1)
    say(f"  models built in {out['model_build_s']} s; {len(set(paths))} distinct frames, "
        f"{out['megapixels_per_frame']} MP each on average, repeated to {n}")

    stages: dict = {}
    # stage alone: workers reading files (decode: device's host side)
    t = time.perf_counter()
    for _ in frame_loader(FrameDataset(images, paths, None, None, raw=True), batch, workers):
        pass
    stages["read"] = rate(n, time.perf_counter() - t)
    # stage alone: the device's decode + letterbox, bytes already in memory
    encoded = {name: read_for_device(images / name) for name in set(paths)}
    det32 = detectors["fp32"]
    decode_batch([encoded[paths[0]]], device)  # warm-up: nvJPEG handles, kernels
    sync(device)
    t = time.perf_counter()
    for start in range(0, n, batch):
        frames = decode_batch([encoded[p] for p in paths[start:start + batch]], device)
        det32.prepare_tensor([f for f in frames if not isinstance(f, Exception)])
    sync(device)
    stages["device_decode"] = rate(n, time.perf_counter() - t)
    # stage alone: the detectors on letterboxed frames already on the device (the real mix of shapes)
    distinct = sorted(set(paths))
    upright = dict(zip(distinct, decode_batch([encoded[p] for p in distinct], device)))
    boxed = {p: det32.prepare_tensor([upright[p]])[0] for p in distinct}
    for precision, detector in detectors.items():
        detector.detect_prepared([boxed[p] for p in paths[:batch]])  # warm-up
        sync(device)
        t = time.perf_counter()
        for start in range(0, n, batch):
            detector.detect_prepared([boxed[p] for p in paths[start:start + batch]])
        sync(device)
        stages[f"detect_{precision}"] = rate(n, time.perf_counter() - t)
    if device.type == "cuda":  # what cuDNN's autotuner would add (wildeye leaves it off: results stay repeatable)
        torch.backends.cudnn.benchmark = True
        for precision, detector in detectors.items():
            for _ in range(2):
                detector.detect_prepared([boxed[p] for p in paths[:batch]])
            sync(device)
            t = time.perf_counter()
            for start in range(0, n, batch):
                detector.detect_prepared([boxed[p] for p in paths[start:start + batch]])
            sync(device)
            stages[f"detect_{precision}_cudnn_benchmark"] = rate(n, time.perf_counter() - t)
        torch.backends.cudnn.benchmark = False
    # stage alone: crops cut on the device and classified in batches
    if classifier is not None:
        jobs = [(upright[p], (0.08 + 0.3 * i, 0.3, 0.25, 0.3)) for p in paths for i in range(k)]
        step = 32 if device.type == "cuda" else 8
        t = time.perf_counter()
        for start in range(0, len(jobs), step):
            torch.softmax(classifier.forward_batch(device_batch(classifier, jobs[start:start + step])), -1)
        sync(device)
        stages["classify_crops"] = rate(len(jobs), time.perf_counter() - t)
        stages["classify"] = round(stages["classify_crops"] / max(k, 1), 2)  # frames' worth
    del upright, boxed
    out["stages_alone_images_per_s"] = stages
    say("  stages alone (images/s): " + ", ".join(f"{key} {value}" for key, value in stages.items()))

    # end to end
    def end_to_end(detector, decode_mode: str, count: int, batch_size: int = batch, n_workers: int = workers,
                   prefetch: bool | None = None):
        pipeline = FramePipeline(WithBoxes(detector, k), classifier, batch_size=batch_size, workers=n_workers,
                                 decode=decode_mode, classifier_batch_size=32 if device.type == "cuda" else 1,
                                 prefetch=prefetch)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t = time.perf_counter()
        done = [0]
        pipeline.process(images, paths[:count], lambda result: done.__setitem__(0, done[0] + len(result.done)))
        sync(device)
        seconds = time.perf_counter() - t
        result = {"images_per_s": rate(count, seconds), "frames_done": done[0],
                  "stage_seconds": pipeline.times.as_dict()}
        if device.type == "cuda":
            result["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
        return result

    e2e = {}
    for precision, detector in detectors.items():
        e2e[f"device_{precision}"] = end_to_end(detector, "device", n)
        slowest = min(stages["read"], stages["device_decode"], stages[f"detect_{precision}"],
                      stages.get("classify", float("inf")))
        e2e[f"device_{precision}"]["pipeline_efficiency"] = round(e2e[f"device_{precision}"]["images_per_s"] / slowest,
                                                                  3)
        say(f"  end to end, decode device, detector {precision}: {e2e[f'device_{precision}']['images_per_s']} "
            f"images/s, efficiency {e2e[f'device_{precision}']['pipeline_efficiency']} (slowest stage alone "
            f"{slowest} images/s)")
    full_count = min(n, max(batch * 4, n // 4))
    if device.type == "cuda":  # what the prefetching thread (on by default there) buys
        e2e["device_fp32_no_prefetch"] = end_to_end(det32, "device", full_count, prefetch=False)
        say(f"  end to end, decode device, fp32, no prefetch, {full_count} frames: "
            f"{e2e['device_fp32_no_prefetch']['images_per_s']} images/s")
    e2e["full_fp32"] = end_to_end(det32, "full", full_count)
    say(f"  end to end, decode full (host decode in {workers} workers), fp32, {full_count} frames: "
        f"{e2e['full_fp32']['images_per_s']} images/s")
    naive_count = min(n, args.naive_frames)
    detector1 = Detector(build_model(architecture("yolov5x6"), seed=0), image_size=args.image_size, device=device,
                         batched=False, letterbox_stride=64)
    e2e["naive_fp32"] = end_to_end(detector1, "full", naive_count, batch_size=1, n_workers=0)
    say(f"  naive (full decode, one frame at a time, no workers), {naive_count} frames: "
        f"{e2e['naive_fp32']['images_per_s']} images/s")
    out["end_to_end"] = e2e
    return out


# --- 3. agreement with MegaDetector ---------------------------------------------------------------------------

def agreement(data: Path, device, limit: int | None) -> list[dict]:
    sys.path.insert(0, str(REPO / "scripts"))
    from megadetector_parity import compare

    from wildeye.inference.detector import Detector

    rows = []
    images = data / "images"
    combos = [("full", "fp32"), ("device", "fp32")] + ([("device", "fp16")] if device.type == "cuda" else [])
    for size, reference_name, weights in REFERENCES:
        reference = json.loads((data / "reference" / reference_name).read_text())
        entries = [e for e in reference["images"] if (images / e["file"]).is_file()]
        reference = {**reference, "images": entries[:limit] if limit else entries}
        for decode_mode, precision in combos:
            detector = Detector.from_checkpoint(data / "reference" / weights, device=device,
                                                half=precision == "fp16")
            result = compare(reference, images, detector, decode_mode)
            row = {"image_size": size, "decode": decode_mode, "precision": precision,
                   **{key: result[key] for key in ("frames", "identical", "reference_boxes", "recalled",
                                                   "max_conf_change", "seconds")},
                   "failed_only_in_wildeye": len(result["failed_only_in_wildeye"])}
            boxes = result["reference_boxes"]
            row["recall"] = round(result["recalled"] / boxes, 4) if boxes else None  # None: no boxes to find
            row["within_bounds"] = (row["recall"] is None or row["recall"] >= 0.995) \
                and row["max_conf_change"] <= 0.02 and not row["failed_only_in_wildeye"]
            rows.append(row)
            say(f"  {size} px, decode {decode_mode}, {precision}: identical {row['identical']}/{row['frames']}, "
                f"recall {row['recalled']}/{row['reference_boxes']}, max conf change {row['max_conf_change']}, "
                f"within the issue's bounds: {row['within_bounds']} ({row['seconds']} s)")
    return rows


# --- 4. a short wildeye run -----------------------------------------------------------------------------------

def short_run(data: Path, jpegs: list[str], device, args, work: Path) -> dict:
    import sqlite3

    card = work / "card"
    for i, name in enumerate(jpegs[:args.run_frames]):
        target = card / "cam1" / f"{i:04d}_{Path(name).name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data / "images" / name, target)
    (card / "cam1" / "not_an_image.jpg").write_bytes(b"garbage" * 10)
    classifier = "none"
    try:
        sys.path.insert(0, str(REPO / "tests"))
        from speciesnet_fixture import make_tiny_model, write_speciesnet_folder

        classifier = str(write_speciesnet_folder(work / "speciesnet", make_tiny_model()))
    except Exception as exc:  # noqa: BLE001  (no onnx/onnx2torch there: run the detector alone)
        say(f"  (no SpeciesNet-format classifier: {type(exc).__name__}: {exc}; running the detector alone)")
    env = {**os.environ, "FIFTYONE_DO_NOT_TRACK": "true", "PYTHONUNBUFFERED": "1"}
    runs = {}
    for mode in ("auto", "full"):
        out = work / f"run-{mode}"
        command = [sys.executable, "-m", "wildeye", "run", str(card), "--out", str(out), "--detector",
                   str(data / "reference" / "yolov5n-3class.pt"), "--classifier", classifier, "--device", str(device),
                   "--decode", mode, "--no-fiftyone", "--json", "--workers", str(args.workers),
                   "--batch-size", str(args.batch_size)]
        t = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=args.run_timeout)
        seconds = time.perf_counter() - t
        if not proc.stdout.strip():
            say(f"  wildeye run --decode {mode} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
            runs[mode] = {"exit": proc.returncode, "stderr": proc.stderr[-4000:]}
            continue
        summary = json.loads(proc.stdout)
        db = sqlite3.connect(out / "journal.sqlite")
        fingerprint = json.loads(db.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()[0])
        stats = json.loads(db.execute("SELECT stats FROM runs ORDER BY rowid DESC LIMIT 1").fetchone()[0])
        db.close()
        runs[mode] = {"exit": proc.returncode, "seconds_with_startup": round(seconds, 1),
                      "decode_recorded": fingerprint["decode"], "processed": summary["processed"],
                      "failed": summary["failed"], "pipeline_seconds": stats["times"],
                      "images_per_s_pipeline": rate(summary["processed"] + summary["failed"],
                                                    stats["times"]["total"]),
                      "megadetector_json": str(out / "megadetector.json")}
        say(f"  wildeye run --decode {mode}: exit {proc.returncode}, decode recorded {fingerprint['decode']}, "
            f"{summary['processed']} processed, {summary['failed']} failed, "
            f"{runs[mode]['images_per_s_pipeline']} images/s in the pipeline, stages {stats['times']}")
    if all("megadetector_json" in runs.get(m, {}) for m in ("auto", "full")):
        runs["auto_vs_full"] = compare_outputs(Path(runs["auto"]["megadetector_json"]),
                                               Path(runs["full"]["megadetector_json"]))
        say(f"  auto vs full, same card: {runs['auto_vs_full']}")
    return runs


def compare_outputs(a: Path, b: Path) -> dict:
    """How far two MegaDetector JSON files of the same frames differ: boxes and classifications."""
    first = {im["file"]: im for im in json.loads(a.read_text())["images"]}
    second = {im["file"]: im for im in json.loads(b.read_text())["images"]}
    same_boxes = same_all = top1_same = top1_total = 0
    max_class_score_change = 0.0
    for name, im in first.items():
        other = second.get(name, {})
        mine, theirs = im.get("detections") or [], other.get("detections") or []
        boxes = [(d["category"], d["conf"], d["bbox"]) for d in mine] == \
            [(d["category"], d["conf"], d["bbox"]) for d in theirs]
        same_boxes += boxes
        same_all += mine == theirs
        if boxes:
            for d, e in zip(mine, theirs):
                if d.get("classifications") and e.get("classifications"):
                    top1_total += 1
                    top1_same += d["classifications"][0][0] == e["classifications"][0][0]
                    max_class_score_change = max(max_class_score_change,
                                                 abs(d["classifications"][0][1] - e["classifications"][0][1]))
    return {"frames": len(first), "identical_boxes": same_boxes, "identical_with_classifications": same_all,
            "top1_same": f"{top1_same}/{top1_total}", "max_top1_score_change": round(max_class_score_change, 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / ".gpucheck",
                        help="what `gpu_check.sh prepare` wrote (images/, reference/)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--frames", type=int, default=1500, help="frames end to end (the shared ones, repeated)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--boxes", type=int, default=2, help="synthetic animal boxes per frame for the classifier")
    parser.add_argument("--image-size", type=int, default=1280)
    parser.add_argument("--classifier", default="tf_efficientnetv2_m", help="timm architecture, or none")
    parser.add_argument("--naive-frames", type=int, default=48)
    parser.add_argument("--pieces-frames", type=int, default=40)
    parser.add_argument("--parity-frames", type=int, default=None, help="cap per reference (default: all there)")
    parser.add_argument("--run-frames", type=int, default=24)
    parser.add_argument("--run-timeout", type=int, default=300)
    parser.add_argument("--skip", default="", help="comma-separated: pieces,bench,agreement,run")
    parser.add_argument("--out", type=Path, default=None, help="folder for gpu_check.json")
    args = parser.parse_args(argv)
    images = args.data / "images"
    if not images.is_dir() or not (args.data / "reference").is_dir():
        fallback = REPO.parent / "shared"
        if (fallback / "data/camera-traps/images").is_dir():  # a dry check beside ../shared needs no prepare
            args.data = Path(tempfile.mkdtemp(prefix="wildeye-gpucheck-data-"))
            (args.data / "images").symlink_to(fallback / "data/camera-traps/images")
            (args.data / "reference").symlink_to(fallback / "reference/megadetector")
            images = args.data / "images"
        else:
            print(f"gpu_check: error: {args.data} has no images/ and reference/; run `bash scripts/gpu_check.sh "
                  "prepare` beside ../shared first", file=sys.stderr)
            return 2
    skip = set(filter(None, args.skip.split(",")))

    from wildeye.inference.device import select_device

    device = select_device(args.device)
    report: dict = {"environment": environment(device)}
    say(f"gpu_check on {report['environment']}")
    files = frame_files(images)
    jpegs = jpeg_files(images, files)
    work = Path(tempfile.mkdtemp(prefix="wildeye-gpucheck-"))
    started = time.perf_counter()
    steps = (("pieces", lambda: pieces(images, jpegs, device, args.pieces_frames)),
             ("bench", lambda: bench(images, jpegs, device, args, work)),
             ("agreement", lambda: agreement(args.data, device, args.parity_frames)),
             ("run", lambda: short_run(args.data, jpegs, device, args, work)))
    status = 0
    for name, step in steps:
        if name in skip:
            continue
        say(f"\n== {name}")
        t = time.perf_counter()
        try:
            report[name] = step()
        except Exception as exc:  # noqa: BLE001  (one failed step must not cost the others' figures)
            import traceback

            traceback.print_exc()
            report[name] = {"error": f"{type(exc).__name__}: {exc}"}
            status = 1
        say(f"   ({time.perf_counter() - t:.1f} s)")
        if name == "pieces":
            say(f"  {json.dumps(report[name])}")
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["peak_host_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    say(f"\ndone in {report['seconds']} s; peak host memory {report['peak_host_rss_gib']} GiB")
    shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
