"""`create_model`: the one way to get a model, timm-style: a registry name or a path in, a loaded network out.

    create_model("mdv5a", "detector")            registry name: cached, else downloaded (verified)
    create_model("./my-package", "classifier")   a path: identified by md5/file name, else sniffed (kinds.py)

The kind of the file picks its loader from `LOADERS` (filled by `register_loader`, one per kind, beside this
function): megadetector (wildeye.models.megadetector), speciesnet (wildeye.models.speciesnet), wildeye-package
(wildeye.models.package). What comes back is a `LoadedModel`: the torch module plus everything the layer above
needs to run it (labels, image size, thresholds, the files it came with). Wrapping it into a Detector or a
Classifier is wildeye.inference's job: models/ never imports the layer above it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from wildeye.errors import WildeyeError
from wildeye.models.cache import ModelCache
from wildeye.models.hub import resolve_model
from wildeye.models.kinds import accepted_kinds, sniff_kind
from wildeye.models.registry import ROLES, ModelSpec

ROLE_NAMES = tuple(ROLES)  # "detector", "classifier"


@dataclass
class LoadedModel:
    """A loaded network and what it needs to run; `spec` holds the registry's defaults (or a path's guesses)."""

    name: str
    kind: str
    module: Any  # torch.nn.Module, eval mode, on CPU
    labels: list[str]  # output i is labels[i]
    path: Path  # the file or folder it was loaded from
    image_size: int | None = None  # what the model looks at: long side (detector) or square crop side (classifier)
    stride: int | None = None
    typical_threshold: float | None = None
    conservative_threshold: float | None = None
    version: str | None = None
    md5: str | None = None  # the published md5, where there is one
    source: str = "path"  # cache | downloaded | path
    files: dict[str, Path] = field(default_factory=dict)  # e.g. SpeciesNet's taxonomy and geofence from info.json
    metadata: dict[str, Any] = field(default_factory=dict)  # kind-specific: model_type, megadetector_info, ...
    spec: ModelSpec | None = None


Loader = Callable[..., LoadedModel]
LOADERS: dict[str, Loader] = {}


def register_loader(kind: str) -> Callable[[Loader], Loader]:
    """Declare the loader of a kind (`loader(path, spec, trusted=..., **options) -> LoadedModel`)."""
    def add(fn: Loader) -> Loader:
        LOADERS[kind] = fn
        return fn
    return add


def create_model(name_or_path: str | os.PathLike, role: str, *, download: bool = True,
                 cache_dir: str | os.PathLike | None = None, trusted: Callable[[str], bool] | None = None,
                 timeout: float | None = None, progress=None, **options) -> LoadedModel:
    """Resolve `name_or_path` for `role` ("detector" | "classifier"), then load it with its kind's loader.

    `trusted(sha256)`: files the user vouched for (`wildeye models import --trust`); default: the cache's record.
    `options` go to the loader (megadetector: `image_size`).
    """
    if role not in ROLE_NAMES:
        raise ValueError(f"role must be one of {', '.join(ROLE_NAMES)}, not {role!r}")
    resolved = resolve_model(name_or_path, role, download=download, cache_dir=cache_dir, timeout=timeout,
                             progress=progress)
    if trusted is None:
        trusted = ModelCache(cache_dir).is_trusted
    loaded = load_model(resolved.path, resolved.kind, spec=resolved.spec, trusted=trusted, **options)
    loaded.source = resolved.source
    return loaded


def load_model(path: str | os.PathLike, kind: str | None = None, *, role: str | None = None,
               spec: ModelSpec | None = None, trusted: Callable[[str], bool] | None = None,
               **options) -> LoadedModel:
    """Load a file or folder already on disk with the loader of `kind` (sniffed when not given)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise WildeyeError(f"model {path} not found", "check the path, or give a model name from 'wildeye models list'")
    kind = kind or sniff_kind(path, accepted_kinds(role))
    loader = LOADERS.get(kind or "")
    if loader is None:
        raise WildeyeError(f"{path} is not a model wildeye can load ({kind or 'unknown kind'})",
                           "pass a MegaDetector .pt, a SpeciesNet folder or .pt, or a wildeye package folder")
    return loader(path, spec, trusted=trusted, **options)


def _defaults(spec: ModelSpec | None) -> dict[str, Any]:
    if spec is None:
        return {}
    return {"name": spec.name, "typical_threshold": spec.typical_threshold,
            "conservative_threshold": spec.conservative_threshold, "version": spec.version, "md5": spec.md5,
            "stride": spec.stride}


@register_loader("megadetector")
def _load_megadetector(path: Path, spec: ModelSpec | None, *, trusted=None, image_size: int | None = None,
                       **_) -> LoadedModel:
    """A YOLOv5 checkpoint. Image size: the argument, else the file's own (MDv1000), else the registry's, else
    1280, as MegaDetector's run_detector does."""
    from wildeye.models.megadetector import load_checkpoint
    from wildeye.models.yolov5_net import architecture_name

    ckpt = load_checkpoint(path)
    stored = ckpt.metadata.get("image_size")
    stored = stored if isinstance(stored, int) and not isinstance(stored, bool) and 32 <= stored <= 8192 else None
    values = {"name": path.stem, **_defaults(spec)}
    values["stride"] = values.get("stride") or int(max(ckpt.model.stride.tolist()))
    return LoadedModel(kind="megadetector", module=ckpt.model, labels=list(ckpt.names), path=path,
                       image_size=image_size or stored or (spec.image_size if spec else None) or 1280,
                       metadata={"megadetector_info": ckpt.metadata, "checkpoint": ckpt.info,
                                 "architecture": architecture_name(ckpt.arch)},
                       spec=spec, **values)


@register_loader("speciesnet")
def _load_speciesnet(path: Path, spec: ModelSpec | None, *, trusted=None, **_) -> LoadedModel:
    """A SpeciesNet folder or .pt, through the sandbox; taxonomy/geofence files named by its info.json."""
    from wildeye.models import speciesnet

    model = speciesnet.load_speciesnet(path, trusted=trusted)
    files = {"classifier": model.path}
    info = speciesnet.read_info(model.folder)
    for key in ("classifier_labels", "taxonomy", "geofence", "detector"):
        if isinstance(info.get(key), str) and (model.folder / info[key]).exists():
            files[key] = model.folder / info[key]
    values = {"name": path.name, **_defaults(spec)}
    values["version"] = model.version or values.get("version")
    return LoadedModel(kind="speciesnet", module=model.module, labels=model.labels, path=path,
                       image_size=speciesnet.INPUT_SIZE, files=files, metadata={"model_type": model.model_type},
                       spec=spec, **values)


@register_loader("wildeye-package")
def _load_package(path: Path, spec: ModelSpec | None, *, trusted=None, **_) -> LoadedModel:
    """A `wildeye train` package: safetensors only, so trust never comes into it."""
    from wildeye.models import package

    loaded = package.load_package(path)
    info = loaded.info
    values = {"name": path.name, **_defaults(spec)}
    values["version"] = values.get("version") or info.created
    return LoadedModel(kind="wildeye-package", module=loaded.model, labels=list(info.labels), path=path,
                       image_size=info.input_size,
                       files={"info": path / package.INFO_FILE, "weights": path / package.WEIGHTS_FILE},
                       metadata={"package": info.model_dump(mode="json")}, spec=spec, **values)
