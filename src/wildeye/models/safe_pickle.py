"""The one pickle sandbox: every model file wildeye unpickles goes through here, with the allow-list of its kind.

Python's pickle docs say it plainly: "The pickle module is not secure. Only unpickle data you trust", because
unpickling looks up any global the stream names and calls it. MegaDetector and SpeciesNet both ship pickles
(`torch.save` of a whole module) and publish, at best, an md5. So a model file is never given a free hand:

- `pickle_globals` reads the opcodes and lists every global the stream would look up, without running anything;
  a loader (or `wildeye models import`) can refuse a file before torch even opens it.
- An `AllowList` is what one kind of model may name: exact names and patterns (checked from the opcodes, then
  served as inert `Stub`s through torch's own `weights_only` unpickler: YOLOv5 checkpoints, whose classes we
  never import), or a `find` function handing out real objects (SpeciesNet's onnx2torch modules, through
  `RestrictedUnpickler`). A name the list does not know raises `UnsafePickleError` before anything in the
  file has run.
- Two globals a converted model needs can run code, so they get guarded stand-ins: `guarded_getattr` (only
  public, pure torch math functions) and `guarded_reduce_graph_module` (the FX forward source is parsed and
  checked to be plain FX codegen before torch.fx `exec`s it).
- `load_module(..., trusted=...)`: a file refused by its allow-list whose sha256 the user vouched for
  (`wildeye models import --trust`) is loaded with plain `torch.load(weights_only=False)` from the very bytes
  that were hashed, as its publisher loads it.

Nothing here imports torch at module level; torch is imported when a file is opened.
"""

from __future__ import annotations

import _compat_pickle
import ast
import hashlib
import importlib
import io
import pickle
import pickletools
import re
import types
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

from wildeye.errors import WildeyeError


class UnsafePickleError(WildeyeError):
    """The pickle asks for something its kind of model does not contain; nothing in it has run."""

    def __init__(self, problem: str, fix: str | None = None, reason: str | None = None):
        super().__init__(problem, fix)
        self.reason = reason or problem  # what was refused, without the file name


class MalformedPickleError(WildeyeError):
    """The opcodes cannot even be read: a damaged file, not an attack."""


@dataclass(frozen=True)
class AllowList:
    """What one kind of model file may name. `names`/`patterns` are served as stubs; `find` hands out objects."""

    kind: str
    what: str  # "a SpeciesNet classifier": how refusals name the kind
    names: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern, ...] = ()
    find: Callable[[str, str], Any | None] | None = None  # (module, name) -> object, or None to refuse
    extra: Callable[[], Iterable[str]] | None = field(default=None, compare=False)  # e.g. torch's own safe names

    def allows(self, dotted: str, extra: set[str] | None = None) -> bool:
        return dotted in self.names or any(p.fullmatch(dotted) for p in self.patterns) or \
            (extra is not None and dotted in extra)

    def stubbed(self, dotted: str) -> bool:
        """Names of this list (not torch's tensor plumbing) that unpickle as inert stubs."""
        return dotted in self.names or any(p.fullmatch(dotted) for p in self.patterns)

    def forbidden(self, named: Iterable[str]) -> list[str]:
        """The names a pickle asks for that this list does not allow, sorted."""
        extra = set(self.extra()) if self.extra else None
        return sorted({g for g in named if not self.allows(g, extra)})


# --- reading a pickle without running it ----------------------------------------------------------------------------

def pickle_globals(data: bytes) -> list[str]:
    """Every global the pickle would look up, found by reading its opcodes (nothing is executed).

    Protocol-2 pickles (what torch.save writes) name globals with GLOBAL, using Python 2 module names that
    unpickling maps back (``__builtin__`` -> ``builtins``); newer protocols push two strings and use
    STACK_GLOBAL, which we resolve by shadowing string pushes and the memo.
    """
    found: list[str] = []
    recent: list[Any] = []
    memo: dict[int, Any] = {}
    try:
        for opcode, arg, _ in pickletools.genops(data):
            name = opcode.name
            if name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                found.append(py3_name(module, attr))
                recent.append(None)
            elif name == "STACK_GLOBAL":
                module, attr = (recent[-2], recent[-1]) if len(recent) >= 2 else (None, None)
                found.append(py3_name(module, attr) if isinstance(module, str) and isinstance(attr, str)
                             else "<a global whose name is computed while unpickling>")
                recent.append(None)
            elif name in ("EXT1", "EXT2", "EXT4"):
                found.append(f"<copyreg extension code {arg}>")
                recent.append(None)
            elif name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE",
                          "STRING", "BINSTRING", "SHORT_BINSTRING"):
                recent.append(arg)
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = recent[-1] if recent else None
            elif name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                recent.append(memo.get(int(arg)))
            elif name not in ("PROTO", "FRAME", "STOP"):
                recent.append(None)
            del recent[:-4]
    except Exception as exc:
        raise MalformedPickleError(f"the checkpoint's pickle is malformed ({exc})",
                                   "the file is damaged or not a PyTorch checkpoint; download it again") from None
    return found


def py3_name(module: str, attr: str) -> str:
    if (module, attr) in _compat_pickle.NAME_MAPPING:
        module, attr = _compat_pickle.NAME_MAPPING[(module, attr)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return f"{module}.{attr}"


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- stubs: unpickling a checkpoint whose classes are never imported ------------------------------------------------

class Stub:
    """Stand-in for a class or function named in a checkpoint: keeps what the pickle passes it and does nothing.

    Unpickling calls it as a constructor (NEWOBJ/REDUCE) and hands it its state (BUILD); the loader reads
    `state` afterwards. No method of the real class ever runs.
    """

    pickled_name = "?"

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        self.args, self.state = args, None
        return self

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return f"<pickled {self.pickled_name}>"


@lru_cache(maxsize=None)
def stub(name: str) -> type:
    return type(name.rsplit(".", 1)[-1], (Stub,), {"pickled_name": name})


def torch_safe_globals() -> set[str]:
    """What torch's `weights_only` unpickler allows by itself (tensors, storages, plain containers)."""
    try:
        from torch._weights_only_unpickler import _get_allowed_globals
        return set(_get_allowed_globals())
    except Exception:  # private API moved: fall back to the tensor/storage names checkpoints use
        return {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
                "torch.HalfStorage", "torch.FloatStorage", "torch.Size", "torch.device", "builtins.set",
                "_codecs.encode"}


def load_stubbed(path: Path, allow: AllowList, named: Iterable[str]) -> Any:
    """torch.load with `weights_only=True`, every name of `allow` that the pickle names served as a `Stub`.

    The caller has already refused anything `allow.forbidden(named)` lists; torch's restricted unpickler is the
    second wall (it refuses any other global and any call of one it does not know).
    """
    import torch

    stubs = [(stub(name), name) for name in sorted(set(named)) if allow.stubbed(name)]
    with torch.serialization.safe_globals(stubs):
        return torch.load(path, map_location="cpu", weights_only=True)


# --- real objects: the restricted unpickler -------------------------------------------------------------------------

class RestrictedUnpickler(pickle.Unpickler):
    """A pickle.Unpickler whose `find_class` only hands out what the allow-list's `find` accepts."""

    allow: AllowList

    def find_class(self, module: str, name: str) -> Any:
        module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)
        found = self.allow.find(module, name) if self.allow.find else None
        if found is None:
            raise UnsafePickleError(
                f"the model file asks for {module}.{name}, which {self.allow.what} does not contain "
                "(a pickle can run code when loaded; nothing in it was run)")
        return found


def pickle_module(allow: AllowList) -> types.SimpleNamespace:
    """A pickle 'module' for `torch.load(pickle_module=...)` whose Unpickler is restricted to `allow`."""
    unpickler = type(f"RestrictedUnpickler_{allow.kind.replace('-', '_')}", (RestrictedUnpickler,), {"allow": allow})
    return types.SimpleNamespace(__name__="wildeye_restricted_pickle", Unpickler=unpickler,
                                 load=lambda file, **kwargs: unpickler(file, **kwargs).load())


def load_restricted(path: Path, allow: AllowList, *, trusted: Callable[[str], bool] | None = None,
                    trust_hint: Callable[[Path], str] | None = None) -> Any:
    """torch.load `path` through `RestrictedUnpickler`; on a refusal, the trusted-sha256 opt-in (module docstring).

    Raises `UnsafePickleError` ("refusing to load NAME: ...", with `trust_hint(path)` as the fix) when refused
    and not trusted; other errors of torch propagate to the loader, which knows how to word them.
    """
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=pickle_module(allow))
    except UnsafePickleError as exc:
        data = path.read_bytes() if trusted is not None else b""
        if not data or not trusted(file_sha256(data)):
            raise UnsafePickleError(f"refusing to load {path.name}: {exc.reason}",
                                    trust_hint(path) if trust_hint else None, reason=exc.reason) from None
    return _load_trusted(path, data)


def _load_trusted(path: Path, data: bytes) -> Any:
    import torch

    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    except Exception as load_exc:
        raise WildeyeError(f"cannot load trusted SpeciesNet classifier {path}: {type(load_exc).__name__}: "
                           f"{load_exc}", "check that its Python packages (torch, onnx2torch) are installed") \
            from None


def import_global(module: str, name: str, *, needs: dict[str, str] | None = None) -> Any | None:
    """Import `module` and fetch `name`, only after the allow-list has accepted the pair.

    `needs`: module prefix -> pip package, for a missing optional dependency (a clear message, not None).
    """
    try:
        value = importlib.import_module(module)
    except ImportError:
        for prefix, package in (needs or {}).items():
            if module.startswith(prefix):
                raise WildeyeError(f"loading a SpeciesNet classifier needs the {package} package",
                                   f"pip install {package}") from None
        return None
    for part in name.split("."):
        value = getattr(value, part, None)
    return value


# --- guarded stand-ins for the two globals that can run code --------------------------------------------------------

_DENIED_FUNCTION_WORDS = ("file", "save", "load", "set_", "seed", "thread", "storage", "compile", "hook")


def guarded_getattr(obj: Any, name: str) -> Any:
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
    raise UnsafePickleError(f"the model file asks for getattr({owner}, {name!r}), which a SpeciesNet classifier "
                            "does not contain (nothing in it was run)")


def guarded_reduce_graph_module(body: dict, import_block: str) -> Any:
    """torch.fx's `reduce_graph_module`, after checking the source it is about to exec is plain FX codegen."""
    from torch.fx.graph_module import reduce_graph_module

    if not isinstance(body, dict) or not isinstance(import_block, str):
        raise UnsafePickleError("the model file holds a malformed GraphModule")
    source = body.get("_code") or body.get("code")
    if not isinstance(source, str):
        raise UnsafePickleError("the model file holds a GraphModule without forward source")
    _check_import_block(import_block)
    _check_forward_source(source, body)
    module = reduce_graph_module(body, import_block)
    _check_graph(module)
    return module


_IMPORTABLE_ROOTS = ("math", "torch", "operator")


def _refuse_code(what: str) -> UnsafePickleError:
    what = " ".join(what.split())  # one line, whatever the source looked like
    return UnsafePickleError(f"the model's stored forward code contains {what}, which FX does not generate for "
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
