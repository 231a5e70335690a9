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
from Kaggle has no published checksum, so we unpickle with an allow-list instead (`_RestrictedUnpickler`):
torch.nn and onnx2torch module classes, tensor rebuild functions, plain containers, numpy arrays, and torch's
C math functions by name. Two globals such a file needs can still run code, and get guarded stand-ins:

- `builtins.getattr` (how `torch.add` is pickled): only public, pure torch math functions can be fetched.
- `torch.fx.graph_module.reduce_graph_module` (how a GraphModule is pickled) `exec`s the forward source stored in
  the pickle; we parse it first and accept only the code FX generates for onnx2torch graphs: submodule calls,
  attribute reads of `self`, tuple indexing, returns.

Anything else is refused with an `UnsafeModelError` naming the global, before anything in the file has run.

A refusal is not a dead end: `wildeye models import FILE --trust` records the file's sha256 in the model cache's
index, and a file whose bytes hash to a trusted sha256 is then loaded as SpeciesNet loads it (`torch.load(...,
weights_only=False)`), from the very bytes that were hashed. A changed file has another hash and is refused again.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import io
import json
import pickle
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from wildeye.errors import WildeyeError

INFO_FILE = "info.json"
LABELS_SUFFIX = ".labels.txt"
INPUT_SIZE = 480  # SpeciesNetClassifier.IMG_SIZE
MODEL_TYPES = ("always_crop", "full_image")  # ModelInfo.type_


class UnsafeModelError(WildeyeError):
    """The pickle asks for something a SpeciesNet classifier does not contain; nothing in it has run."""

    def __init__(self, problem: str, fix: str | None = None, reason: str | None = None):
        super().__init__(problem, fix)
        self.reason = reason or problem  # what was refused, without the file name


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


def is_speciesnet_path(path: str | Path) -> bool:
    """True for a SpeciesNet folder (info.json, or a .pt + labels file) or a .pt file."""
    path = Path(path)
    if path.is_file():
        return path.suffix == ".pt"
    return path.is_dir() and (_info_folder(path) is not None or bool(list(path.glob("*.pt"))))


def _info_folder(folder: Path) -> Path | None:
    """The folder holding info.json: this one, or its only subfolder (archives often wrap their files in one)."""
    if (folder / INFO_FILE).is_file():
        return folder
    subs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if len(subs) == 1 and (subs[0] / INFO_FILE).is_file():
        return subs[0]
    return None


def locate(path: str | Path) -> tuple[Path, Path, str, str | None]:
    """(model .pt, labels file, model type, version) for a SpeciesNet folder or .pt file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise WildeyeError(f"SpeciesNet model {path} not found", "check the path, or download it with wildeye models")
    folder = path.parent if path.is_file() else path
    info_folder = _info_folder(folder)
    info: dict[str, Any] = {}
    if info_folder is not None:
        info_path = info_folder / INFO_FILE
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WildeyeError(f"{info_path} is not readable JSON: {exc}", "re-download the model") from None
        if not isinstance(info, dict):
            raise WildeyeError(f"{info_path} is not a JSON object", "re-download the model")
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
    by default the model cache's index is asked (the same cache `wildeye run` resolves models from).
    """
    import torch

    model_path, labels_path, model_type, version = locate(path)
    labels = read_labels(labels_path)
    module = safe_load_module(model_path, trusted=trusted if trusted is not None else _cache_trusts)
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


# --- the restricted unpickler --------------------------------------------------------------------------------


def _cache_trusts(sha256: str) -> bool:
    from wildeye.models.cache import ModelCache

    return ModelCache().is_trusted(sha256)


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_load_module(path: Path, *, trusted: Callable[[str], bool] | None = None) -> Any:
    """torch.load the file with `_RestrictedUnpickler`; return the nn.Module it holds.

    A refused file whose sha256 `trusted` accepts is loaded with a plain `torch.load(weights_only=False)`, as
    speciesnet/classifier.py does, from the bytes that were hashed (so it cannot change in between).
    """
    import torch

    namespace = types.SimpleNamespace(
        __name__="wildeye_restricted_pickle",
        Unpickler=_RestrictedUnpickler,
        load=lambda file, **kwargs: _RestrictedUnpickler(file, **kwargs).load(),
    )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False, pickle_module=namespace)
    except UnsafeModelError as exc:
        data = path.read_bytes() if trusted is not None else b""
        if not data or not trusted(file_sha256(data)):
            raise UnsafeModelError(f"refusing to load {path.name}: {exc.reason}", trust_hint(path),
                                   reason=exc.reason) from None
        try:
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
        except Exception as load_exc:
            raise WildeyeError(f"cannot load trusted SpeciesNet classifier {path}: {type(load_exc).__name__}: "
                               f"{load_exc}", "check that its Python packages (torch, onnx2torch) are installed") \
                from None
    except WildeyeError:
        raise
    except Exception as exc:  # torch raises many kinds for a truncated or foreign file
        raise WildeyeError(f"cannot load SpeciesNet classifier {path}: {type(exc).__name__}: {exc}",
                           "re-download the model; it may be truncated or not a SpeciesNet .pt file") from None
    if not isinstance(obj, torch.nn.Module):
        raise WildeyeError(f"{path} holds a {type(obj).__name__}, not a PyTorch module",
                           "SpeciesNet >= 5 ships the whole module; pass that .pt file")
    return obj


class _RestrictedUnpickler(pickle.Unpickler):
    """A pickle.Unpickler whose `find_class` only hands out what an onnx2torch-converted model is made of."""

    def find_class(self, module: str, name: str) -> Any:
        module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)
        found = _allowed_global(module, name)
        if found is None:
            raise UnsafeModelError(
                f"the model file asks for {module}.{name}, which a SpeciesNet classifier does not contain "
                "(a pickle can run code when loaded; nothing in it was run)")
        return found


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


def _allowed_global(module: str, name: str) -> Any | None:
    """The object for an allowed global, or None. Modules are only imported once the name is known to be safe."""
    if (module, name) == ("builtins", "getattr"):
        return _guarded_getattr
    if (module, name) == ("torch.fx.graph_module", "reduce_graph_module"):
        return _guarded_reduce_graph_module
    if (module, name) in _PLAIN or (module == "torch._utils" and name in _TENSOR_REBUILDERS):
        return _import(module, name)
    if module == "numpy.dtypes" and name.endswith("DType"):
        return _import(module, name)
    if module == "torch" and not name.startswith("_"):
        import torch

        value = getattr(torch, name, None)
        return value if isinstance(value, torch.dtype) else None  # torch.float32 and friends
    if module.startswith("torch.nn.modules.") or module.startswith("onnx2torch."):
        value = _import(module, name)
        return value if _is_data_class(value) or _is_converter_function(module, value) else None
    return None


def _import(module: str, name: str) -> Any | None:
    try:
        value = importlib.import_module(module)
    except ImportError:
        if module.startswith("onnx2torch"):
            raise WildeyeError("loading a SpeciesNet classifier needs the onnx2torch package",
                               "pip install onnx2torch") from None
        return None
    for part in name.split("."):
        value = getattr(value, part, None)
    return value


def _is_data_class(value: Any) -> bool:
    """nn.Module subclasses (building one runs no code from the file), named tuples and enums (plain values)."""
    import enum

    import torch

    return isinstance(value, type) and (issubclass(value, (torch.nn.Module, tuple, enum.Enum)))


def _is_converter_function(module: str, value: Any) -> bool:
    """Plain functions onnx2torch stores as an op (e.g. `_onnx_div`); only its node_converters, never its I/O."""
    return module.startswith("onnx2torch.node_converters.") and isinstance(value, types.FunctionType)


_DENIED_FUNCTION_WORDS = ("file", "save", "load", "set_", "seed", "thread", "storage", "compile", "hook")


def _guarded_getattr(obj: Any, name: str) -> Any:
    """`getattr` for pickles: fetch a public torch math function (how `torch.add` is pickled), nothing else."""
    import torch

    owners = (torch._C._VariableFunctionsClass, torch.Tensor, torch._C.TensorBase)
    lowered = str(name).lower()
    if (
        any(obj is owner for owner in owners)
        and isinstance(name, str)
        and name.isidentifier()
        and not name.startswith("_")
        and not any(word in lowered for word in _DENIED_FUNCTION_WORDS)
    ):
        value = getattr(obj, name, None)
        if isinstance(value, (types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType)):
            return value
    owner = getattr(obj, "__name__", type(obj).__name__)
    raise UnsafeModelError(f"the model file asks for getattr({owner}, {name!r}), which a SpeciesNet classifier "
                           "does not contain (nothing in it was run)")


def _guarded_reduce_graph_module(body: dict, import_block: str) -> Any:
    """torch.fx's `reduce_graph_module`, after checking the source it is about to exec is plain FX codegen."""
    from torch.fx.graph_module import reduce_graph_module

    if not isinstance(body, dict) or not isinstance(import_block, str):
        raise UnsafeModelError("the model file holds a malformed GraphModule")
    source = body.get("_code") or body.get("code")
    if not isinstance(source, str):
        raise UnsafeModelError("the model file holds a GraphModule without forward source")
    _check_import_block(import_block)
    _check_forward_source(source, body)
    module = reduce_graph_module(body, import_block)
    _check_graph(module)
    return module


_IMPORTABLE_ROOTS = ("math", "torch", "operator")


def _refuse_code(what: str) -> UnsafeModelError:
    what = " ".join(what.split())  # one line, whatever the source looked like
    return UnsafeModelError(f"the model's stored forward code contains {what}, which FX does not generate for "
                            "an onnx2torch model (nothing in it was run)")


def _check_import_block(block: str) -> None:
    """FX's import block: imports of math/torch/operator names, and `NoneType = type(None)`; nothing else."""
    try:
        tree = ast.parse(block)
    except SyntaxError:
        raise _refuse_code("unparsable imports") from None
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            bad = [a.name for a in stmt.names if a.name.split(".")[0] not in _IMPORTABLE_ROOTS]
        elif isinstance(stmt, ast.ImportFrom):
            bad = [] if (stmt.module or "").split(".")[0] in _IMPORTABLE_ROOTS and stmt.level == 0 else [stmt.module]
        elif ast.unparse(stmt) == "NoneType = type(None)":
            bad = []
        else:
            raise _refuse_code(f"the statement {ast.unparse(stmt)[:80]!r}")
        if bad:
            raise _refuse_code(f"an import of {bad[0]!r}")


def _check_forward_source(source: str, body: dict) -> None:
    """Accept `def forward(self, ...)` whose statements only call submodules and read attributes of self."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        raise _refuse_code("unparsable source") from None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef) or tree.body[0].name != "forward":
        raise _refuse_code("something other than one forward function")
    fn = tree.body[0]
    args = fn.args
    if fn.decorator_list or args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
        raise _refuse_code("an unusual forward signature")
    names = [a.arg for a in args.args]
    if not names or names[0] != "self":
        raise _refuse_code("a forward without self")
    for default in args.defaults:
        if not isinstance(default, ast.Constant):
            raise _refuse_code("a computed default argument")
    local = set(names[1:])
    for stmt in fn.body:
        if isinstance(stmt, ast.Assign):
            _check_expr(stmt.value, local, body)
            for target in stmt.targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        if node.id == "self":
                            raise _refuse_code("an assignment to self")
                        local.add(node.id)
                    elif not isinstance(node, (ast.Tuple, ast.List, ast.Store)):
                        raise _refuse_code(f"an assignment to {ast.unparse(target)[:60]!r}")
        elif isinstance(stmt, ast.Return):
            if stmt.value is not None:
                _check_expr(stmt.value, local, body)
        elif isinstance(stmt, ast.Expr):  # a call whose result is unused
            _check_expr(stmt.value, local, body)
        elif isinstance(stmt, ast.Pass):
            pass
        else:
            raise _refuse_code(f"the statement {ast.unparse(stmt)[:80]!r}")


def _self_path(node: ast.AST) -> list[str] | None:
    """`self.a.b` or `getattr(getattr(self, "a/b"), "c")` -> ["a", ...]; None for anything else."""
    if isinstance(node, ast.Name) and node.id == "self":
        return []
    if isinstance(node, ast.Attribute):
        base = _self_path(node.value)
        return None if base is None else base + [node.attr]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
            and len(node.args) == 2 and not node.keywords
            and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
        base = _self_path(node.args[0])
        return None if base is None else base + [node.args[1].value]
    return None


def _resolve(body: dict, path: list[str]) -> Any:
    """Follow a path through submodules, parameters and buffers only (never methods or other attributes)."""
    import torch

    if not path or any(part.startswith("__") for part in path):
        return None
    current: Any = None
    for i, part in enumerate(path):
        spaces = body if i == 0 else vars(current)
        if i > 0 and not isinstance(current, torch.nn.Module):
            return None
        found = None
        for space in ("_modules", "_parameters", "_buffers"):
            table = spaces.get(space) or {}
            if isinstance(table, dict) and part in table:
                found = table[part]
                break
        if found is None:
            return None
        current = found
    return current


def _check_expr(node: ast.AST, local: set[str], body: dict) -> None:
    import torch

    if isinstance(node, ast.Constant):
        return
    if isinstance(node, ast.Name):
        if node.id not in local:
            raise _refuse_code(f"the name {node.id!r}")
        return
    if isinstance(node, (ast.Tuple, ast.List)):
        for element in node.elts:
            _check_expr(element, local, body)
        return
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values):
            if not isinstance(key, ast.Constant):
                raise _refuse_code("a computed dict key")
            _check_expr(value, local, body)
        return
    if isinstance(node, ast.Subscript):  # getitem on a multi-output node: `split[0]`
        if not (isinstance(node.value, ast.Name) and node.value.id in local and isinstance(node.slice, ast.Constant)):
            raise _refuse_code(f"the subscript {ast.unparse(node)[:60]!r}")
        return
    path = _self_path(node)
    if path is not None:  # an attribute read: must be a submodule, parameter or buffer
        if _resolve(body, path) is None:
            raise _refuse_code(f"a read of {ast.unparse(node)[:60]!r}")
        return
    if isinstance(node, ast.Call):
        target = _self_path(node.func)
        if target is None or not isinstance(_resolve(body, target), torch.nn.Module):
            raise _refuse_code(f"the call {ast.unparse(node.func)[:60]!r}")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise _refuse_code("a starred argument")
            _check_expr(arg, local, body)
        for keyword in node.keywords:
            if keyword.arg is None:
                raise _refuse_code("a ** argument")
            _check_expr(keyword.value, local, body)
        return
    raise _refuse_code(f"the expression {ast.unparse(node)[:60]!r}")


def _check_graph(module: Any) -> None:
    """After rebuilding: every node is an input, output, submodule call, attribute read or tuple index."""
    import operator

    for node in module.graph.nodes:
        if node.op in ("placeholder", "output", "call_module", "get_attr"):
            continue
        if node.op == "call_function" and node.target is operator.getitem:
            continue
        raise _refuse_code(f"a {node.op} of {node.target!r}")
