"""Load a SpeciesNet classifier as google/cameratrapai (speciesnet >= 5) distributes it, without trusting the pickle.

Layout (speciesnet/utils.py, `ModelInfo`): a folder with `info.json` naming its files, e.g.

    info.json                                      {"version": "4.0.3a", "type": "always_crop",
                                                    "classifier": "always_crop_..._epoch_00148.pt",
                                                    "classifier_labels": "always_crop_..._epoch_00148.labels.txt",
                                                    "detector": ..., "taxonomy": ..., "geofence": ...}
    always_crop_99710272_22x8_v12_epoch_00148.pt          torch.save of the whole onnx2torch GraphModule
    always_crop_99710272_22x8_v12_epoch_00148.labels.txt  one `uuid;class;order;family;genus;species;common name`
                                                          per line, line i = output i

SpeciesNet itself calls `torch.load(path, weights_only=False)`: a full pickle, which can run any code. A download
from Kaggle has no published checksum, so we unpickle it in wildeye.models.safe_pickle's sandbox with
`ALLOW_LIST`: torch.nn and onnx2torch module classes, tensor rebuild functions, plain containers, numpy arrays,
and torch's C math functions by name. Two globals such a file needs can still run code, and get the sandbox's
guarded stand-ins:

- `builtins.getattr` (how `torch.add` is pickled): only public, pure torch math functions can be fetched.
- `torch.fx.graph_module.reduce_graph_module` (how a GraphModule is pickled) `exec`s the forward source stored in
  the pickle; we parse it first and accept only the code FX generates for onnx2torch graphs: submodule calls,
  attribute reads of `self`, tuple indexing, returns.

Anything else is refused with an `UnsafeModelError` naming the global, before anything in the file has run.

A refusal is not a dead end: `wildeye models import FILE --trust` records the file's sha256 in the model cache's
index, and a file whose bytes hash to a trusted sha256 is then loaded as SpeciesNet loads it (`torch.load(...,
weights_only=False)`), from the very bytes that were hashed. A changed file has another hash and is refused again.
This loader does not read the cache itself: the caller passes `trusted` (wildeye.models.factory passes the cache's
`trusted_by_cache`), so loading stays below the cache in the layers of wildeye.models.
"""

from __future__ import annotations

import json
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from wildeye.errors import WildeyeError
from wildeye.models.kinds import SPECIESNET_INFO, is_speciesnet_path, speciesnet_info_folder
from wildeye.models.safe_pickle import (AllowList, UnsafePickleError, file_sha256, guarded_getattr,
                                        guarded_reduce_graph_module, import_global, load_restricted)

__all__ = ["INFO_FILE", "INPUT_SIZE", "ALLOW_LIST", "SpeciesNetModel", "UnsafeModelError", "file_sha256",
           "is_speciesnet_path", "load_speciesnet", "locate", "read_labels", "safe_load_module", "trust_hint"]

INFO_FILE = SPECIESNET_INFO
LABELS_SUFFIX = ".labels.txt"
INPUT_SIZE = 480  # SpeciesNetClassifier.IMG_SIZE
MODEL_TYPES = ("always_crop", "full_image")  # ModelInfo.type_


# The pickle asks for something a SpeciesNet classifier does not contain; nothing in it has run.
UnsafeModelError = UnsafePickleError


def trust_hint(path: str | Path, name: str = "NAME", kind_flag: bool = False) -> str:
    """The opt-in for a file the allow-list refuses: record its sha256 as trusted (see the module docstring)."""
    kind = " --kind speciesnet" if kind_flag else ""
    return (f"if you trust where the file came from: wildeye models import {path} --name {name}{kind} --trust, "
            "and later loads of this exact file use plain torch.load")


@dataclass
class SpeciesNetModel:
    """What `load_speciesnet` found: the module (inputs NHWC float in [0, 1]) and what it needs to run."""

    module: Any  # torch.nn.Module
    labels: list[str]
    model_type: str  # "always_crop": one crop per detection; "full_image": whole frame minus top/bottom strips
    version: str | None
    path: Path  # the .pt file
    folder: Path


# --- finding the files ---------------------------------------------------------------------------------------


def locate(path: str | Path) -> tuple[Path, Path, str, str | None]:
    """(model .pt, labels file, model type, version) for a SpeciesNet folder or .pt file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise WildeyeError(f"SpeciesNet model {path} not found", "check the path, or download it with wildeye models")
    folder = path.parent if path.is_file() else path
    info_folder = speciesnet_info_folder(folder)
    info = read_info(folder)
    if info_folder is not None:
        folder = info_folder
    model_type = info.get("type", "always_crop")
    if model_type not in MODEL_TYPES:
        raise WildeyeError(f"{folder / INFO_FILE}: key 'type' is {model_type!r}",
                           f"SpeciesNet models are of type {' or '.join(MODEL_TYPES)}")

    if path.is_file():
        model_path = path
    elif "classifier" in info:
        model_path = folder / str(info["classifier"])
    else:
        candidates = sorted(folder.glob("*.pt"))
        if len(candidates) != 1:
            what = "no" if not candidates else f"{len(candidates)}"
            raise WildeyeError(f"{folder} has {what} .pt files and no {INFO_FILE} saying which is the classifier",
                               "pass the .pt file itself, or add SpeciesNet's info.json")
        model_path = candidates[0]
    if not model_path.is_file():
        raise WildeyeError(f"SpeciesNet classifier file {model_path} not found",
                           f"check 'classifier' in {folder / INFO_FILE}, or re-download the model")

    if "classifier_labels" in info and (not path.is_file() or model_path.name == info.get("classifier")):
        labels_path = folder / str(info["classifier_labels"])
    else:
        guesses = [model_path.with_name(model_path.stem + LABELS_SUFFIX), model_path.with_name("labels.txt")]
        labels_path = next((p for p in guesses if p.is_file()), guesses[0])
    if not labels_path.is_file():
        raise WildeyeError(f"SpeciesNet labels file {labels_path} not found",
                           f"put the labels file ({model_path.stem}{LABELS_SUFFIX}) beside the model")
    return model_path, labels_path, model_type, info.get("version")


def read_info(folder: Path) -> dict[str, Any]:
    """The folder's info.json (SpeciesNet's `ModelInfo`: classifier, labels, taxonomy, geofence files), or {}."""
    info_folder = speciesnet_info_folder(folder)
    if info_folder is None:
        return {}
    info_path = info_folder / INFO_FILE
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WildeyeError(f"{info_path} is not readable JSON: {exc}", "re-download the model") from None
    if not isinstance(info, dict):
        raise WildeyeError(f"{info_path} is not a JSON object", "re-download the model")
    return info


def read_labels(path: Path) -> list[str]:
    """One label per line, line i naming output i (SpeciesNetClassifier: `line.strip()` of every line)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise WildeyeError(f"cannot read labels file {path}: {exc}", "re-download the model") from None
    while lines and not lines[-1].strip():
        lines.pop()  # a trailing newline is not a class
    labels = [line.strip() for line in lines]
    if not labels:
        raise WildeyeError(f"labels file {path} is empty", "re-download the model")
    return labels


def load_speciesnet(path: str | Path, device: Any = "cpu", *,
                    trusted: Callable[[str], bool] | None = None) -> SpeciesNetModel:
    """Find, safely unpickle and check a SpeciesNet classifier; the module comes back in eval mode on `device`.

    `trusted(sha256)` says whether a file the allow-list refuses was trusted with `wildeye models import --trust`;
    None trusts nothing (wildeye.models.cache.trusted_by_cache asks the cache `wildeye run` resolves models from).
    """
    import torch

    model_path, labels_path, model_type, version = locate(path)
    labels = read_labels(labels_path)
    module = safe_load_module(model_path, trusted=trusted)
    module.eval()
    for param in module.parameters():
        param.requires_grad_(False)
    n_out = _output_width(module)
    if n_out is not None and n_out != len(labels):
        raise WildeyeError(f"{model_path.name} has {n_out} outputs but {labels_path.name} lists {len(labels)} labels",
                           "use the labels file that came with this model")
    module.to(torch.device(device) if isinstance(device, str) else device)
    return SpeciesNetModel(module, labels, model_type, None if version is None else str(version), model_path,
                           model_path.parent)


def _output_width(module: Any) -> int | None:
    """Outputs of the last Linear layer, if the graph ends in one (EfficientNetV2's head does)."""
    import torch

    last = None
    for sub in module.modules():
        if isinstance(sub, torch.nn.Linear):
            last = sub
    return None if last is None else last.out_features


# --- the allow-list: what an onnx2torch-converted classifier is made of --------------------------------------


def safe_load_module(path: Path, *, trusted: Callable[[str], bool] | None = None) -> Any:
    """Unpickle the file in the sandbox with `ALLOW_LIST`; return the nn.Module it holds.

    A refused file whose sha256 `trusted` accepts is loaded with a plain `torch.load(weights_only=False)`, as
    speciesnet/classifier.py does, from the bytes that were hashed (so it cannot change in between).
    """
    import torch

    try:
        obj = load_restricted(path, ALLOW_LIST, trusted=trusted, trust_hint=trust_hint)
    except WildeyeError:
        raise
    except Exception as exc:  # torch raises many kinds for a truncated or foreign file
        raise WildeyeError(f"cannot load SpeciesNet classifier {path}: {type(exc).__name__}: {exc}",
                           "re-download the model; it may be truncated or not a SpeciesNet .pt file") from None
    if not isinstance(obj, torch.nn.Module):
        raise WildeyeError(f"{path} holds a {type(obj).__name__}, not a PyTorch module",
                           "SpeciesNet >= 5 ships the whole module; pass that .pt file")
    return obj


_PLAIN = {
    ("collections", "OrderedDict"), ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"),
    ("builtins", "complex"), ("torch", "Size"), ("torch", "device"),
    ("torch._C", "_VariableFunctionsClass"),  # only useful as the first argument of the guarded getattr
    ("torch.fx._symbolic_trace", "Tracer"),  # a GraphModule may name its tracer class
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}
_TENSOR_REBUILDERS = {
    "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
    "_rebuild_parameter_with_state", "_rebuild_device_tensor_from_numpy", "_rebuild_meta_tensor_no_storage",
    "_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_nested_tensor",
}
_NEEDS = {"onnx2torch": "onnx2torch"}  # a missing optional package is a clear message, not a refusal


def _allowed_global(module: str, name: str) -> Any | None:
    """The object for an allowed global, or None. Modules are only imported once the name is known to be safe."""
    if (module, name) == ("builtins", "getattr"):
        return guarded_getattr
    if (module, name) == ("torch.fx.graph_module", "reduce_graph_module"):
        return guarded_reduce_graph_module
    if (module, name) in _PLAIN or (module == "torch._utils" and name in _TENSOR_REBUILDERS):
        return import_global(module, name, needs=_NEEDS)
    if module == "numpy.dtypes" and name.endswith("DType"):
        return import_global(module, name, needs=_NEEDS)
    if module == "torch" and not name.startswith("_"):
        import torch

        value = getattr(torch, name, None)
        return value if isinstance(value, torch.dtype) else None  # torch.float32 and friends
    if module.startswith("torch.nn.modules.") or module.startswith("onnx2torch."):
        value = import_global(module, name, needs=_NEEDS)
        return value if _is_data_class(value) or _is_converter_function(module, value) else None
    return None


def _is_data_class(value: Any) -> bool:
    """nn.Module subclasses (building one runs no code from the file), named tuples and enums (plain values)."""
    import enum

    import torch

    return isinstance(value, type) and (issubclass(value, (torch.nn.Module, tuple, enum.Enum)))


def _is_converter_function(module: str, value: Any) -> bool:
    """Plain functions onnx2torch stores as an op (e.g. `_onnx_div`); only its node_converters, never its I/O."""
    return module.startswith("onnx2torch.node_converters.") and isinstance(value, types.FunctionType)


ALLOW_LIST = AllowList(kind="speciesnet", what="a SpeciesNet classifier", find=_allowed_global)
