"""The megadetector loader: a YOLOv5 training checkpoint in, our own network out, and nothing from the file run.

MegaDetector v5 (and MDv1000-redwood/-spruce) ship as a pickled `models.yolo.Model` (MegaDetector loads it with
`torch.load(..., weights_only=False)` plus YOLOv5's code on sys.path). We instead read the pickle's opcodes and
refuse any global outside `ALLOW_LIST` (``posix.system``, ``builtins.eval``, anything from ``ultralytics``),
then unpickle through wildeye.models.safe_pickle with every allowed class served as an inert stub. From the stubs
we take two things: the architecture dict (``model.yaml``) and the weights. The network that runs is always
wildeye.models.yolov5_net's, rebuilt from the dict and checked layer by layer against the pickled tree.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wildeye.models.safe_pickle import AllowList, MalformedPickleError, Stub, load_stubbed, pickle_globals, \
    torch_safe_globals
from wildeye.models.yolov5_net import (C3, SPP, SPPF, Bottleneck, CheckpointError, Concat, Conv, Detect, Focus,
                                       YOLOv5)

METADATA_NAME = "megadetector_info.json"  # where MegaDetector stores image size etc. inside the .pt zip


class UnsafeCheckpointError(CheckpointError):
    """The checkpoint's pickle names code a YOLOv5 checkpoint never contains; it was not loaded."""

# Every class or function a YOLOv5 training checkpoint's pickle may name, beyond the tensor/storage plumbing
# torch's weights_only unpickler allows by itself. Each is mapped to an inert stand-in: nothing runs.
_YOLO_GLOBALS = {
    "models.yolo.Model", "models.yolo.DetectionModel", "models.yolo.Detect",
    *(f"models.common.{n}" for n in ("Conv", "Bottleneck", "C3", "SPP", "SPPF", "Focus", "Concat")),
}
_TORCH_NN_GLOBALS = {
    "torch.nn.modules.conv.Conv2d", "torch.nn.modules.batchnorm.BatchNorm2d",
    "torch.nn.modules.activation.SiLU", "torch.nn.modules.linear.Identity",
    "torch.nn.modules.container.Sequential", "torch.nn.modules.container.ModuleList",
    "torch.nn.modules.upsampling.Upsample", "torch.nn.modules.pooling.MaxPool2d",
}
# Training bookkeeping that may sit beside the model (best_fitness as a numpy value, opt as a Namespace, paths).
_DATA_GLOBALS = {
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.ndarray", "numpy.dtype",
    "argparse.Namespace", "pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath",
}
_NUMPY_DTYPE = re.compile(r"numpy\.dtypes\.[A-Za-z0-9]+DType")
_STUBBED_GLOBALS = _YOLO_GLOBALS | _TORCH_NN_GLOBALS | _DATA_GLOBALS

ALLOW_LIST = AllowList(kind="megadetector", what="a YOLOv5 checkpoint", names=frozenset(_STUBBED_GLOBALS),
                       patterns=(_NUMPY_DTYPE,), extra=torch_safe_globals)


def forbidden_globals(data: bytes) -> list[str]:
    """The globals a checkpoint's pickle names outside `ALLOW_LIST` (and torch's own tensor plumbing), sorted."""
    try:
        return ALLOW_LIST.forbidden(pickle_globals(data))
    except MalformedPickleError as exc:
        raise CheckpointError(exc.problem, exc.fix) from None

def _read_archive(path: Path) -> tuple[bytes, dict]:
    """The pickle (data.pkl) and MegaDetector's optional metadata from a torch.save zip archive."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist", "check the path or download the model again")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (expected the zip format torch.save writes)",
                              "the download may be incomplete; delete it and download the model again")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pickles = [n for n in names if n.count("/") == 1 and n.endswith("/data.pkl")]
            if any(n.endswith("/constants.pkl") for n in names):
                raise CheckpointError(f"{path} is a TorchScript export, not a YOLOv5 training checkpoint",
                                      "use the original .pt file MegaDetector publishes")
            if len(pickles) != 1:
                raise CheckpointError(f"{path} has no single data.pkl; it is not a torch.save checkpoint")
            data = archive.read(pickles[0])
            meta_name = pickles[0].rsplit("/", 1)[0] + "/" + METADATA_NAME
            metadata = {}
            if meta_name in names:
                try:
                    metadata = json.loads(archive.read(meta_name).decode("utf-8"))
                except ValueError:
                    metadata = {}
            return data, metadata if isinstance(metadata, dict) else {}
    except (zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}", "download the model again") from None


@dataclass
class Checkpoint:
    """A loaded YOLOv5 checkpoint: our own rebuilt network plus what the file said about itself."""

    model: YOLOv5  # float32, eval mode, on CPU, not fused
    arch: dict  # the architecture dict stored in the checkpoint
    names: list[str]  # class names stored in the checkpoint
    metadata: dict = field(default_factory=dict)  # MegaDetector's megadetector_info.json, if present
    info: dict = field(default_factory=dict)  # scalar training fields: epoch, date, ...
    path: Path | None = None

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load a YOLOv5-format checkpoint without running any of its code.

    1. read the pickle's opcodes and refuse any global outside the allow-list (named in the error);
    2. unpickle with torch's weights_only unpickler, every allowed class mapped to an inert stand-in;
    3. rebuild the network from the stored architecture dict, check its layer tree against the pickled one,
       and load the stored weights into it (strictly: every tensor must fit).
    """
    path = Path(path)
    data, metadata = _read_archive(path)
    try:
        named = set(pickle_globals(data))
    except MalformedPickleError as exc:
        raise CheckpointError(exc.problem, exc.fix) from None
    forbidden = ALLOW_LIST.forbidden(named)
    if forbidden:
        hint = ("; it looks like an Ultralytics (YOLOv8 and later) checkpoint, which wildeye does not load"
                if any(g.startswith("ultralytics.") for g in forbidden) else "")
        raise UnsafeCheckpointError(
            f"refusing to load {path.name}: its pickle refers to {', '.join(forbidden)}, outside what a YOLOv5 "
            f"(v5.0-v7.0) checkpoint contains{hint}",
            "only use model files from a source you trust (e.g. MegaDetector's release page); nothing was executed")
    try:
        ckpt = load_stubbed(path, ALLOW_LIST, named)
    except Exception as exc:
        message = str(exc).strip().splitlines()
        raise UnsafeCheckpointError(
            f"refusing to load {path.name}: torch's restricted unpickler rejected it "
            f"({message[0] if message else type(exc).__name__})",
            "only use model files from a source you trust; nothing was executed") from None
    return _from_unpickled(ckpt, path, metadata)


def _from_unpickled(ckpt: Any, path: Path, metadata: dict) -> Checkpoint:
    if not isinstance(ckpt, dict) or not ({"model", "ema"} & set(ckpt)):
        raise CheckpointError(f"{path.name} is not a YOLOv5 training checkpoint (no 'model' entry)",
                              "use the .pt file MegaDetector publishes")
    root = ckpt.get("model") if ckpt.get("model") is not None else ckpt.get("ema")  # MegaDetector reads 'model'
    if not isinstance(root, Stub) or root.pickled_name not in ("models.yolo.Model", "models.yolo.DetectionModel"):
        raise CheckpointError(f"{path.name}: 'model' is {getattr(root, 'pickled_name', type(root).__name__)}, "
                              "not a YOLOv5 detection model")
    state = root.state if isinstance(root.state, dict) else {}
    arch = state.get("yaml")
    if not isinstance(arch, dict):
        raise CheckpointError(f"{path.name}: the model carries no architecture dict ('yaml')")
    model = YOLOv5(arch)
    _check_tree(root, model, "")
    weights = _collect_state_dict(root)
    weights = {k: v for k, v in weights.items() if not k.endswith(".anchor_grid")}  # derived; old YOLOv5 stored it
    missing, unexpected = [], []
    try:
        result = model.load_state_dict(weights, strict=False)
        missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    except RuntimeError as exc:
        raise CheckpointError(f"{path.name}: weights do not fit the stored architecture ({str(exc).splitlines()[0]})",
                              "the checkpoint is damaged or was edited") from None
    if missing or unexpected:
        raise CheckpointError(f"{path.name}: weights do not fit the stored architecture "
                              f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    stored_stride = _as_floats(state.get("stride"))
    if stored_stride and [round(s) for s in stored_stride] != [round(s) for s in model.stride.tolist()]:
        raise CheckpointError(f"{path.name}: stored strides {stored_stride} differ from the architecture's "
                              f"{model.stride.tolist()}")
    names = state.get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    model.names = [str(n) for n in names] if isinstance(names, (list, tuple)) else model.names
    info = {k: v for k, v in ckpt.items() if isinstance(v, (str, int, float, bool)) or v is None}
    return Checkpoint(model=model.float().eval(), arch=arch, names=list(model.names), metadata=metadata,
                      info=info, path=path)


def _as_floats(value) -> list[float] | None:
    if isinstance(value, torch.Tensor):
        return [float(v) for v in value.flatten().tolist()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        return [float(v) for v in value]
    return None


# What each pickled class must be in the rebuilt network.
_EXPECTED_TYPES = {
    "models.yolo.Model": YOLOv5, "models.yolo.DetectionModel": YOLOv5, "models.yolo.Detect": Detect,
    "models.common.Conv": Conv, "models.common.Bottleneck": Bottleneck, "models.common.C3": C3,
    "models.common.SPP": SPP, "models.common.SPPF": SPPF, "models.common.Focus": Focus,
    "models.common.Concat": Concat,
    "torch.nn.modules.conv.Conv2d": nn.Conv2d, "torch.nn.modules.batchnorm.BatchNorm2d": nn.BatchNorm2d,
    "torch.nn.modules.activation.SiLU": nn.SiLU, "torch.nn.modules.linear.Identity": nn.Identity,
    "torch.nn.modules.container.Sequential": nn.Sequential, "torch.nn.modules.container.ModuleList": nn.ModuleList,
    "torch.nn.modules.upsampling.Upsample": nn.Upsample, "torch.nn.modules.pooling.MaxPool2d": nn.MaxPool2d,
}
# Hyper-parameters that live outside the state dict: must agree (or, for eps, are taken from the file).
_CHECKED_ATTRS = {
    nn.Conv2d: ("kernel_size", "stride", "padding", "dilation", "groups"),
    nn.MaxPool2d: ("kernel_size", "stride", "padding"),
    nn.Upsample: ("scale_factor", "mode"),
}


def _children(stub: Stub) -> dict:
    state = stub.state if isinstance(stub.state, dict) else {}
    modules = state.get("_modules") or {}
    return {k: v for k, v in modules.items() if v is not None}


def _check_tree(stub: Any, module: nn.Module, where: str) -> None:
    """The pickled module tree must have exactly the shape and layer settings the architecture dict implies."""
    label = where or "model"
    if not isinstance(stub, Stub):
        raise CheckpointError(f"checkpoint layer {label} is {type(stub).__name__}, not a module")
    expected = _EXPECTED_TYPES.get(stub.pickled_name)
    if expected is None or type(module) is not expected:
        raise CheckpointError(f"checkpoint layer {label} is {stub.pickled_name}, but its architecture dict "
                              f"builds {type(module).__name__} there")
    state = stub.state if isinstance(stub.state, dict) else {}
    for attr in _CHECKED_ATTRS.get(expected, ()):
        stored, built = state.get(attr), getattr(module, attr)
        if _normalise(stored) != _normalise(built):
            raise CheckpointError(f"checkpoint layer {label}: {attr} is {stored!r}, architecture gives {built!r}")
    if expected is nn.BatchNorm2d and isinstance(state.get("eps"), float):
        module.eps = state["eps"]  # YOLOv5 trains with eps=1e-3; it is not part of the state dict
    children, built_children = _children(stub), dict(module.named_children())
    if list(children) != list(built_children):
        raise CheckpointError(f"checkpoint layer {label} has parts {list(children)}, architecture gives "
                              f"{list(built_children)}")
    for name, child in children.items():
        _check_tree(child, built_children[name], f"{where}.{name}" if where else name)


def _normalise(value):
    if isinstance(value, (list, tuple)):
        return tuple(_normalise(v) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def _collect_state_dict(stub: Stub, prefix: str = "") -> dict[str, torch.Tensor]:
    state = stub.state if isinstance(stub.state, dict) else {}
    out: dict[str, torch.Tensor] = {}
    skip = state.get("_non_persistent_buffers_set") or set()
    for kind in ("_parameters", "_buffers"):
        for name, tensor in (state.get(kind) or {}).items():
            if tensor is None or (kind == "_buffers" and name in skip):
                continue
            if not isinstance(tensor, torch.Tensor):
                raise CheckpointError(f"checkpoint entry {prefix}{name} is not a tensor")
            out[prefix + name] = tensor
    for name, child in _children(stub).items():
        out.update(_collect_state_dict(child, f"{prefix}{name}."))
    return out

