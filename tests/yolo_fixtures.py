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
