"""Agreement of wildeye's detector path with MegaDetector's own batch output for the same checkpoint and frames.

    python scripts/megadetector_parity.py ../shared/reference/megadetector/megadetector-output-640.json \\
        ../shared/data/camera-traps/images --detector ../shared/reference/megadetector/yolov5n-3class-640.pt
    ... --decode fast      # the reduced-size decode, to see how far its answers move
    ... --precision fp16   # half precision (on a GPU with --device cuda), likewise
    ... --precision bf16   # bfloat16 autocast (fast on CPUs with AVX-512 BF16 / AMX, and on GPUs)
    ... --runtime onnxruntime   # the network exported to ONNX and run by ONNX Runtime (the CPU default)
    ... --precision auto   # whatever `wildeye run` picks on this device
    ... --decode device    # JPEG decode and letterbox on --device (nvJPEG on CUDA), as `decode: device` runs

Every frame MegaDetector processed goes through `wildeye.inference.decode` (the run's decoder, in the mode asked
for) and `Detector.detect_prepared`, as `wildeye run` does, and is compared with MegaDetector's entry: identical
(category, conf to 3 decimals, bbox to 4 decimals, order), recall of MegaDetector's boxes >= 0.2 (IoU >= 0.5, same
category, wildeye conf >= 0.2), and the largest confidence change of a matched box. A path may be a default only
with recall >= 99.5% and a confidence change <= 0.02 (issue 16's bar; "within tolerance" in the output). Exits 1
when a frame differs (use --tolerate to only report), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

CATEGORY_NAMES = {"1": "animal", "2": "person", "3": "vehicle"}


def iou(a, b) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    h = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def compare(reference: dict, images: Path, detector, decode_mode: str = "full", prepared: list | None = None) -> dict:
    """Per-frame comparison of `detector` (a wildeye Detector) with MegaDetector's output document.

    `prepared` (from `prepare_frames`, for the same image size) skips the decode, so several paths can be compared
    on frames decoded once; `seconds` is then the detector's time alone.
    """
    if prepared is None:
        prepared = prepare_frames(reference, images, detector, decode_mode)
    frames = identical = failed_both = ref_boxes = recalled = 0
    max_conf_change = 0.0
    differing: list[str] = []
    wildeye_only_failures: list[str] = []
    seconds = 0.0
    for entry, (item, error, decode_seconds) in zip(reference["images"], prepared):
        started = time.perf_counter()
        ours = None if item is None else detector.detect_prepared([item])[0]
        seconds += time.perf_counter() - started + decode_seconds
        if entry.get("detections") is None:  # MegaDetector failed this frame
            failed_both += ours is None
            continue
        frames += 1
        if ours is None:
            wildeye_only_failures.append(f"{entry['file']}: {error}")
            continue
        mine = [{"category": {"animal": "1", "person": "2", "vehicle": "3"}[d.category], "conf": d.conf,
                 "bbox": list(d.bbox)} for d in ours]
        theirs = [{"category": d["category"], "conf": d["conf"], "bbox": d["bbox"]} for d in entry["detections"]]
        if mine == theirs:
            identical += 1
        else:
            differing.append(entry["file"])
        for ref in theirs:
            if ref["conf"] < 0.2:
                continue
            ref_boxes += 1
            match = max((m for m in mine if m["category"] == ref["category"]),
                        key=lambda m: iou(m["bbox"], ref["bbox"]), default=None)
            if match is not None and iou(match["bbox"], ref["bbox"]) >= 0.5:
                recalled += match["conf"] >= 0.2
                max_conf_change = max(max_conf_change, abs(match["conf"] - ref["conf"]))
    return {"frames": frames, "identical": identical, "differing": differing, "reference_boxes": ref_boxes,
            "recalled": recalled, "max_conf_change": round(max_conf_change, 4), "failed_in_both": failed_both,
            "failed_only_in_wildeye": wildeye_only_failures, "seconds": round(seconds, 2)}


def prepare_frames(reference: dict, images: Path, detector, decode_mode: str = "full") -> list:
    """(letterboxed frame or None, decode error, decode seconds) per entry of the document, as `wildeye run`
    decodes and letterboxes them for `detector`'s image size."""
    from wildeye.inference.decode import DecodeError, decode

    min_side = detector.image_size if decode_mode == "fast" else None
    device_decode = _device_decoder(detector) if decode_mode == "device" else None
    out = []
    for entry in reference["images"]:
        started = time.perf_counter()
        try:
            if device_decode is not None:  # the run's device path: decode and letterbox on the detector's device
                boxed = device_decode(str(images / entry["file"])).boxed
            else:
                boxed = detector.prepare(decode(str(images / entry["file"]), min_side).image)
            out.append((boxed, None, time.perf_counter() - started))
        except DecodeError as exc:
            out.append((None, str(exc), time.perf_counter() - started))
    return out


RECALL_TOLERANCE = 0.995  # a faster path may be a default only at or above this recall of MegaDetector's boxes ...
CONF_TOLERANCE = 0.02  # ... and at or below this confidence change (issue 16)


def within_tolerance(result: dict) -> bool:
    recall = result["recalled"] / result["reference_boxes"] if result["reference_boxes"] else 1.0
    return recall >= RECALL_TOLERANCE and result["max_conf_change"] <= CONF_TOLERANCE


def _device_decoder(detector):
    """`decode: device` for one frame: read (worker), decode on the detector's device, letterbox there."""
    from types import SimpleNamespace

    import torch

    from wildeye.inference.decode import DecodeError
    from wildeye.inference.device_decode import Encoded, decode_batch, read_for_device, to_device

    def decode(path: str, min_side=None):
        item = read_for_device(path)
        image = decode_batch([item], detector.device)[0] if isinstance(item, Encoded) else \
            to_device(item.image, detector.device)
        if isinstance(image, DecodeError):
            raise image
        boxed = detector.prepare_tensor([image])[0]
        if detector.device.type == "cuda":
            torch.cuda.synchronize(detector.device)
        return SimpleNamespace(boxed=boxed)

    return decode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path, help="MegaDetector batch output JSON")
    parser.add_argument("images", type=Path, help="the folder its file paths are relative to")
    parser.add_argument("--detector", type=Path, required=True, help="the checkpoint MegaDetector ran")
    parser.add_argument("--decode", choices=("full", "fast", "device"), default="full")
    parser.add_argument("--precision", choices=("auto", "fp32", "fp16", "bf16"), default="fp32")
    parser.add_argument("--runtime", choices=("auto", "torch", "onnxruntime"), default="auto",
                        help="auto: onnxruntime for --precision auto on a CPU, else torch")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tolerate", action="store_true", help="report differences without failing")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    for path in (args.reference, args.images, args.detector):
        if not path.exists():
            print(f"megadetector_parity: error: {path} not found", file=sys.stderr)
            return 2
    from wildeye.errors import WildeyeError
    from wildeye.inference.detector import Detector, choose_path
    from wildeye.inference.device import select_device

    try:
        device = select_device(args.device)
        runtime, precision = choose_path(device, args.precision, args.runtime)
        detector = Detector.from_checkpoint(args.detector, device=device, precision=precision, runtime=runtime)
    except WildeyeError as exc:
        print(f"megadetector_parity: error: {exc}", file=sys.stderr)
        return 2
    result = compare(json.loads(args.reference.read_text()), args.images, detector, args.decode)
    result.update(runtime=runtime, precision=precision, within_tolerance=within_tolerance(result))
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        n = result["frames"]
        print(f"decode {args.decode}, {runtime} {precision} on {device}: identical frames {result['identical']}/{n} "
              f"({100.0 * result['identical'] / max(n, 1):.1f}%), recall of MegaDetector boxes >= 0.2 "
              f"{result['recalled']}/{result['reference_boxes']}, max conf change {result['max_conf_change']}, "
              f"{'within' if result['within_tolerance'] else 'OUTSIDE'} tolerance, {result['seconds']} s")
        for name in result["differing"][:10]:
            print(f"  differs: {name}")
        for line in result["failed_only_in_wildeye"]:
            print(f"  failed only in wildeye: {line}")
    same = result["identical"] == result["frames"] and not result["failed_only_in_wildeye"]
    return 0 if same or args.tolerate else 1


if __name__ == "__main__":
    sys.exit(main())
