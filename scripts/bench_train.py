"""Training throughput: images/s for the data path alone, the model step alone, and both together.

    python scripts/bench_train.py                       # CPU (and CUDA too when a GPU is present)
    python scripts/bench_train.py --arch resnet50 --size 224 --images 512 --batch 64 --device cuda

Frames are generated (1920x1080 JPEGs with one box each, like a camera trap's), crops go through the same
`CropDataset` (decode at reduced size, padded crop, light augmentation, `package_transform`) and
`train_one_epoch` that `wildeye train` uses. A pipeline is healthy when "end to end" is close to the slower
of the two stages alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def make_frames(folder: Path, n: int, seed: int = 0) -> list:
    from PIL import Image, ImageDraw

    from wildeye.train.data import Item

    rng = np.random.default_rng(seed)
    base = rng.integers(40, 160, size=(1080, 1920, 3), dtype=np.uint8)
    items = []
    for i in range(n):
        image = Image.fromarray(np.roll(base, i * 37, axis=1))
        x, y, w, h = rng.uniform(0.05, 0.5), rng.uniform(0.05, 0.5), rng.uniform(0.1, 0.4), rng.uniform(0.1, 0.4)
        ImageDraw.Draw(image).ellipse([x * 1920, y * 1080, (x + w) * 1920, (y + h) * 1080],
                                      fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        path = folder / f"{i:05d}.jpg"
        image.save(path, quality=90)
        items.append(Item(path=str(path), label=str(i % 4), bbox=(x, y, w, h), class_index=i % 4, split="train"))
    return items


def bench(device_name: str, items: list, args) -> dict:
    import timm
    import torch

    from wildeye.inference.device import select_device
    from wildeye.train.data import CropDataset
    from wildeye.train.loop import autocast_for, train_one_epoch

    device = select_device(device_name)
    model = timm.create_model(args.arch, pretrained=False, num_classes=4).to(device)
    cfg = model.pretrained_cfg
    ds = CropDataset(items, args.size, cfg["mean"], cfg["std"], "bilinear", 0.1, augment=True)
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                                         pin_memory=device.type == "cuda", persistent_workers=args.workers > 0)
    autocast, scaler = autocast_for(device, "auto")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=-1)

    start = time.perf_counter()
    for _ in loader:
        pass
    data_rate = len(ds) / (time.perf_counter() - start)

    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    y = torch.randint(0, 4, (args.batch,), device=device)
    fake = [(x, y)] * max(2, len(ds) // args.batch)
    train_one_epoch(model, fake[:2], optimizer, loss_fn, device, autocast, scaler)  # warm-up
    model_rate = train_one_epoch(model, fake, optimizer, loss_fn, device, autocast, scaler)["images_per_s"]

    train_one_epoch(model, loader, optimizer, loss_fn, device, autocast, scaler)  # warm-up (workers, cudnn)
    stats = train_one_epoch(model, loader, optimizer, loss_fn, device, autocast, scaler)
    return {"device": str(device), "amp": device.type == "cuda", "data_only": data_rate, "model_only": model_rate,
            "end_to_end": stats["images_per_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="mobilenetv3_small_100", help="timm architecture")
    parser.add_argument("--size", type=int, default=224, help="input size, px")
    parser.add_argument("--images", type=int, default=128, help="generated 1920x1080 frames")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default=None, help="cpu, cuda, ...; default: cpu, and cuda when present")
    args = parser.parse_args()
    import torch

    devices = [args.device] if args.device else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    with tempfile.TemporaryDirectory() as tmp:
        items = make_frames(Path(tmp), args.images)
        print(f"{args.arch} @ {args.size}px, batch {args.batch}, {args.workers} workers, {len(items)} 1920x1080 "
              f"frames, torch {torch.__version__}, {torch.get_num_threads()} threads")
        for name in devices:
            r = bench(name, items, args)
            print(f"{r['device']:>6}{' (amp)' if r['amp'] else ''}: data only {r['data_only']:7.1f} images/s | "
                  f"model step only {r['model_only']:7.1f} images/s | end to end {r['end_to_end']:7.1f} "
                  f"train images/s")


if __name__ == "__main__":
    main()
