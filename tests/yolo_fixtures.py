"""YOLOv5-format checkpoints with random weights, small enough for CPU tests, and hostile pickles."""

from __future__ import annotations

import zipfile
from pathlib import Path

from wildeye.models.yolov5 import architecture, build_model, write_checkpoint

# Standard yolov5s / yolov5x6 layer structure, 8-128 channels and one bottleneck per C3: fast on CPU.
TINY = {"depth_multiple": 0.33, "width_multiple": 0.125}


def tiny_arch(name: str = "yolov5s") -> dict:
    return architecture(name, **TINY)


def tiny_model(name: str = "yolov5s", seed: int = 0):
    return build_model(tiny_arch(name), seed=seed)


def write_tiny(path: Path, name: str = "yolov5s", *, image_size: int | None = None, seed: int = 0,
               **kwargs) -> Path:
    """A P5 ('yolov5s') or P6 ('yolov5x6') layout checkpoint with random weights, in YOLOv5's pickle format."""
    return write_checkpoint(tiny_model(name, seed), path, image_size=image_size, random_seed=seed, **kwargs)


def replace_pickle(source: Path, target: Path, data: bytes) -> Path:
    """Copy a torch.save zip, swapping its data.pkl for `data` (to plant hand-written pickles)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            payload = data if info.filename.endswith("/data.pkl") else src.read(info.filename)
            dst.writestr(info, payload)
    return target


def data_pickle(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(next(n for n in archive.namelist() if n.endswith("/data.pkl")))


def write_always_animal(path: Path, *, image_size: int = 320, seed: int = 1) -> Path:
    """A tiny detector whose coarsest level boxes an animal everywhere with high confidence: end-to-end runs then
    classify real boxes (a random network finds nothing above the 0.005 floor)."""
    import torch

    from wildeye.models.yolov5 import write_checkpoint

    detector = tiny_model("yolov5s", seed=seed)
    with torch.no_grad():
        for level, conv in enumerate(detector.detect.m):
            conv.weight.zero_()
            bias = conv.bias.view(detector.detect.na, -1)
            bias.fill_(-10.0)
            bias[:, :4] = 0.0
            if level == len(detector.detect.m) - 1:  # big boxes on the coarsest level only
                bias[:, 4] = 10.0  # objectness
                bias[:, 5] = 10.0  # class 0: animal
    return write_checkpoint(detector, path, image_size=image_size)
