"""YOLOv5-format checkpoints with random weights, small enough for CPU tests, and hostile pickles.

`write_checkpoint` writes files in the pickle format real YOLOv5 checkpoints have (classes named
``models.yolo.Model``/``models.common.Conv``, fp16 weights, protocol 2), so the loader is tested on the format it
meets in the field. Only tests and scripts/bench_run.py write checkpoints, so the writer lives here, not in src/.
"""

from __future__ import annotations

import copy
import io
import json
import os
import pickle
import types
import zipfile
from datetime import datetime
from pathlib import Path

import torch
from torch import nn

from wildeye.atomic import write_bytes_atomic
from wildeye.models.megadetector import METADATA_NAME
from wildeye.models.yolov5_net import (MEGADETECTOR_NAMES, PICKLED_AS, Conv, YOLOv5, architecture,
                                       architecture_name, build_model)

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


# --- writing YOLOv5-format checkpoints ---------------------------------------------------------------------------


def _yolo_pickle_module(model_class: str) -> types.SimpleNamespace:
    """A pickle 'module' for torch.save whose Pickler names our classes the way YOLOv5's code base does."""
    aliases = {**PICKLED_AS, YOLOv5: f"models.yolo.{model_class}"}

    class YoloPickler(pickle._Pickler):  # the pure-Python pickler lets us override how classes are named
        def save_global(self, obj, name=None):
            alias = aliases.get(obj)
            if alias is None:
                return super().save_global(obj, name)
            module, qualname = alias.rsplit(".", 1)
            self.write(pickle.GLOBAL + f"{module}\n{qualname}\n".encode("utf-8"))
            self.memoize(obj)

    return types.SimpleNamespace(__name__="wildeye_yolov5_pickle", Pickler=YoloPickler)


def write_checkpoint(model_or_arch: YOLOv5 | dict | str, path: str | os.PathLike, *, random_seed: int = 0,
                     names: tuple[str, ...] | list[str] = MEGADETECTOR_NAMES, image_size: int | None = None,
                     model_class: str = "Model", extra: dict | None = None) -> Path:
    """Write a checkpoint in YOLOv5's own format: ``{'model': <models.yolo.Model, fp16>, 'epoch': -1, ...}``.

    Given an architecture dict (or a name from ARCHITECTURES) the weights are random, seeded by `random_seed`.
    The dict mirrors a stripped YOLOv5 release file (optimizer/EMA dropped, fp16 weights). With `image_size`,
    MegaDetector's ``megadetector_info.json`` is added inside the zip, as MDv1000 files carry it.
    `model_class` is "Model" (YOLOv5 <= 6.1, MDv5) or "DetectionModel" (YOLOv5 >= 6.2). `extra` adds or
    replaces top-level entries (e.g. a numpy ``best_fitness``, as unstripped training files have).
    """
    if model_class not in ("Model", "DetectionModel"):
        raise ValueError("model_class must be 'Model' or 'DetectionModel'")
    model = model_or_arch if isinstance(model_or_arch, YOLOv5) else build_model(model_or_arch, seed=random_seed)
    if any(isinstance(m, Conv) and isinstance(m.bn, nn.Identity) for m in model.modules()):
        raise ValueError("cannot write a fused model: YOLOv5 checkpoints keep conv and batch norm separate")
    model = copy.deepcopy(model).cpu().float()
    if len(names) != model.detect.nc:
        raise ValueError(f"{len(names)} names for a model with {model.detect.nc} classes")
    model.names = [str(n) for n in names]
    model.half().eval().requires_grad_(False)
    ckpt = {
        "epoch": -1, "best_fitness": None, "model": model, "ema": None, "updates": None, "optimizer": None,
        "opt": {"imgsz": image_size or 640, "cfg": f"{architecture_name(model.yaml) or 'custom'}.yaml",
                "seed": random_seed},
        "git": None, "date": datetime.now().isoformat(),
        **(extra or {}),
    }
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(ckpt, buffer, pickle_module=_yolo_pickle_module(model_class), pickle_protocol=2)
    if image_size is not None:
        with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
            root = archive.namelist()[0].split("/")[0]
            archive.writestr(f"{root}/{METADATA_NAME}", json.dumps({"image_size": int(image_size),
                                                                    "model_type": "yolov5"}))
    write_bytes_atomic(path, buffer.getvalue())
    return path


def write_always_animal(path: Path, *, image_size: int = 320, seed: int = 1) -> Path:
    """A tiny detector whose coarsest level boxes an animal everywhere with high confidence: end-to-end runs then
    classify real boxes (a random network finds nothing above the 0.005 floor)."""
    import torch

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
