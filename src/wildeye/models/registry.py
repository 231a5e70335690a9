"""Named models: what each one is, where it comes from, how to check it, and the defaults it runs with.

One table, like timm's: every model's defaults (input size, stride, thresholds) sit beside its url and checksum,
so `--detector mdv1000-spruce` gets 640 px and stride 32 without the caller knowing. MegaDetector entries copy
MegaDetector's own registry (`known_models` in agentmorris/MegaDetector megadetector/detection/run_detector.py)
exactly: same urls, same md5s, same thresholds, same short names.

The registry a command sees is: built-in entries, then entries from the JSON file named by $WILDEYE_REGISTRY
(a field-station mirror, a private model), then models imported into the cache (`wildeye models import`).
This module is the bottom of wildeye.models: specs only, no downloads, no cache, no torch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Protocol

from wildeye.config import FALLBACK_DETECTION_THRESHOLD
from wildeye.errors import ConfigError, WildeyeError


class ImportedModels(Protocol):
    """What the registry needs of the model cache (wildeye.models.cache.ModelCache): the models imported into it.

    A protocol, not an import: the cache is built on the registry, never the other way round.
    """

    def imported_specs(self) -> list["ModelSpec"]: ...

KINDS = ("megadetector", "speciesnet", "wildeye-package", "timm")
# What `resolve_model(..., kind=ROLE)` accepts for a role; a kind name accepts only itself.
ROLES = {"detector": ("megadetector",), "classifier": ("speciesnet", "wildeye-package", "timm")}
ARCHIVE_SUFFIXES = {".tar.gz": "tar.gz", ".tgz": "tar.gz", ".tar": "tar", ".zip": "zip"}

DEFAULT_DETECTOR = "mdv5a"
DEFAULT_CLASSIFIER = "speciesnet"

ENV_REGISTRY = "WILDEYE_REGISTRY"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")

_MD_RELEASES = "https://github.com/agentmorris/MegaDetector/releases/download/"


@dataclass(frozen=True)
class ModelSpec:
    """One named model. Thresholds are detector confidences for MegaDetector, classifier scores otherwise."""

    name: str
    kind: str  # one of KINDS
    url: str | None = None
    md5: str | None = None  # as MegaDetector publishes it
    sha256: str | None = None
    filename: str | None = None  # name in the cache; default: last part of the url
    archive: str | None = None  # "tar.gz" | "tar" | "zip": unpacked into a folder named after the file
    size: int | None = None  # expected bytes of the download, where published
    image_size: int | None = None  # long side the model looks at, px
    stride: int | None = None  # letterbox padding multiple
    typical_threshold: float | None = None
    conservative_threshold: float | None = None
    description: str = ""
    license: str | None = None
    aliases: tuple[str, ...] = ()
    version: str | None = None
    homepage: str | None = None
    source: str = "builtin"  # builtin | registry-file | imported
    path: str | None = None  # imported: where it lives, relative to the cache's models folder
    imported_from: str | None = None
    imported_at: str | None = None
    link: bool = False  # imported as a symlink to the user's file

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.archive is not None and self.archive not in set(ARCHIVE_SUFFIXES.values()):
            raise ValueError(f"archive must be tar.gz, tar or zip, not {self.archive!r}")
        if self.md5 is not None:
            object.__setattr__(self, "md5", self.md5.lower())
        if self.sha256 is not None:
            object.__setattr__(self, "sha256", self.sha256.lower())
        object.__setattr__(self, "aliases", tuple(self.aliases))

    @property
    def cache_name(self) -> str:
        """File (or, for archives, folder) name this model gets in the cache."""
        filename = self.filename or (self.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0] if self.url else self.name)
        if self.archive:
            return strip_archive_suffix(filename)
        return filename

    @property
    def download_name(self) -> str:
        """Name of the downloaded file itself (the archive, for archives)."""
        if self.filename:
            return self.filename
        if self.url:
            return self.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or self.name
        return self.name

    @property
    def verified_by(self) -> str:
        if self.sha256 and self.md5:
            return "sha256 and md5"
        if self.sha256:
            return "sha256"
        if self.md5:
            return "md5"
        return "size and format only (no checksum published)"

    @property
    def detection_threshold(self) -> float:
        """The threshold to use when the caller has none: the published one, else MegaDetector's fallback."""
        return self.typical_threshold if self.typical_threshold is not None else FALLBACK_DETECTION_THRESHOLD

    def matches(self, name: str) -> bool:
        key = name.strip().lower()
        return key == self.name.lower() or key in (a.lower() for a in self.aliases)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["aliases"] = list(self.aliases)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "registry entry") -> "ModelSpec":
        """Strict: an unknown or wrong key is a ConfigError naming the key and where it came from."""
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected an object with name, kind, url, ..., got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r}", f"known keys: {', '.join(sorted(known))}")
        for key in ("name", "kind"):
            if not data.get(key):
                raise ConfigError(f"{where}: missing {key!r}")
        try:
            return cls(**{**data, "aliases": tuple(data.get("aliases") or ())})
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where} {data.get('name')!r}: {exc}") from None


def strip_archive_suffix(filename: str) -> str:
    lower = filename.lower()
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return filename[: -len(suffix)]
    return filename


def archive_format(filename: str | os.PathLike) -> str | None:
    lower = str(filename).lower()
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return ARCHIVE_SUFFIXES[suffix]
    return None


# --- built-in models -----------------------------------------------------------------------------------------------

_MD_LICENSE = "MIT (weights); YOLOv5 inference code is GPL"

BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="mdv5a", kind="megadetector", version="v5a.0.1",
        url=_MD_RELEASES + "v5.0/md_v5a.0.1.pt", md5="60f8e7ec1308554df258ed1f4040bc4f",
        image_size=1280, stride=64, typical_threshold=0.2, conservative_threshold=0.05,
        description="MegaDetector v5a (YOLOv5x6, 1280 px): the field's default animal/person/vehicle detector",
        license=_MD_LICENSE, homepage="https://github.com/agentmorris/MegaDetector",
        aliases=("megadetector", "default", "mdv5", "md5", "v5a.0.1", "v5a.0.0", "md_v5a.0.1"),
    ),
    ModelSpec(
        name="mdv5b", kind="megadetector", version="v5b.0.1",
        url=_MD_RELEASES + "v5.0/md_v5b.0.1.pt", md5="f17ed6fedfac2e403606a08c89984905",
        image_size=1280, stride=64, typical_threshold=0.2, conservative_threshold=0.05,
        description="MegaDetector v5b (YOLOv5x6, 1280 px): v5a's sibling trained with different extra data",
        license=_MD_LICENSE, homepage="https://github.com/agentmorris/MegaDetector",
        aliases=("v5b.0.1", "v5b.0.0", "md_v5b.0.1"),
    ),
    ModelSpec(
        name="mdv1000-redwood", kind="megadetector", version="v1000.0.0-redwood",
        url=_MD_RELEASES + "v1000.0/md_v1000.0.0-redwood.pt", md5="74474b3aec9cf1a990da38b37ddf9197",
        image_size=1280, stride=64, typical_threshold=0.3,
        description="MegaDetector v1000-redwood (YOLOv5x6, 1280 px): the most accurate MegaDetector; "
                    "its threshold is higher than MDv5's",
        license=_MD_LICENSE, homepage="https://github.com/agentmorris/MegaDetector",
        aliases=("md1000-redwood", "v1000-redwood", "v1000.0.0-redwood", "redwood", "mdv1000", "md1000",
                 "md_v1000.0.0-redwood"),
    ),
    ModelSpec(
        name="mdv1000-spruce", kind="megadetector", version="v1000.0.0-spruce",
        url=_MD_RELEASES + "v1000.0/md_v1000.0.0-spruce.pt", md5="1c9d1d2b3ba54931881471fdd508e6f2",
        image_size=640, stride=32,
        description="MegaDetector v1000-spruce (YOLOv5s, 640 px): ~12x faster than MDv5, less accurate; "
                    "no published threshold (MegaDetector falls back to 0.2)",
        license=_MD_LICENSE, homepage="https://github.com/agentmorris/MegaDetector",
        aliases=("md1000-spruce", "v1000-spruce", "v1000.0.0-spruce", "spruce", "md_v1000.0.0-spruce"),
    ),
    # Google distributes SpeciesNet on Kaggle (kagglehub id kaggle:google/speciesnet/pyTorch/v4.0.3a/1, the
    # speciesnet package's DEFAULT_MODEL); its README links this url as the "direct link" to the weights. The
    # download is a tar.gz of the model folder (info.json, classifier .pt, labels, taxonomy, geofence). Google
    # publishes no checksum for it, so it is verified by format only, with a warning.
    ModelSpec(
        name="speciesnet", kind="speciesnet", version="v4.0.3a",
        url="https://www.kaggle.com/api/v1/models/google/speciesnet/pyTorch/v4.0.3a/1/download",
        filename="speciesnet-v4.0.3a.tar.gz", archive="tar.gz",
        image_size=480, typical_threshold=0.8,
        description="SpeciesNet v4.0.3a always-crop classifier (EfficientNetV2-M, 480 px crops, ~2,500 labels, "
                    "PyTorch); species accepted above 0.8 as in SpeciesNet's ensemble; no checksum published",
        license="Apache-2.0", homepage="https://github.com/google/cameratrapai",
        aliases=("speciesnet-v4.0.3a", "speciesnet-crop", "v4.0.3a"),
    ),
)


# --- the registry a command sees -----------------------------------------------------------------------------------

class Registry:
    """Built-in entries, overridden or extended by $WILDEYE_REGISTRY and `extra`, then imported models."""

    def __init__(self, cache: ImportedModels | None = None, extra: Iterable[ModelSpec] = (),
                 registry_file: str | os.PathLike | None = None, use_env: bool = True):
        specs: dict[str, ModelSpec] = {s.name: s for s in BUILTIN_MODELS}
        path = registry_file or (os.environ.get(ENV_REGISTRY) if use_env else None)
        for spec in (load_registry_file(path) if path else []):
            specs[spec.name] = spec
        for spec in extra:
            specs[spec.name] = spec
        self.builtin_names = set(specs)
        if cache is not None:
            for spec in cache.imported_specs():
                specs.setdefault(spec.name, spec)  # an import never shadows a built-in name
        self._specs = specs
        self.cache = cache

    def __iter__(self):
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        return list(self._specs)

    def find(self, name: str) -> ModelSpec | None:
        if name in self._specs:
            return self._specs[name]
        key = name.strip().lower()
        for spec in self._specs.values():
            if spec.name.lower() == key:
                return spec
        for spec in self._specs.values():
            if spec.matches(key):
                return spec
        return None

    def get(self, name: str) -> ModelSpec:
        spec = self.find(name)
        if spec is None:
            raise WildeyeError(f"unknown model {name!r}",
                               f"known: {', '.join(self._specs)}; see 'wildeye models list', or pass a path to a model file")
        return spec

    def find_by_md5(self, md5: str) -> ModelSpec | None:
        md5 = md5.lower()
        return next((s for s in self._specs.values() if s.md5 == md5 and s.source != "imported"), None) or \
            next((s for s in self._specs.values() if s.md5 == md5), None)

    def find_by_filename(self, filename: str) -> ModelSpec | None:
        return next((s for s in self._specs.values() if s.source != "imported" and s.url
                     and filename in (s.download_name, s.cache_name)), None)


def load_registry_file(path: str | os.PathLike) -> list[ModelSpec]:
    """A JSON list of entries (or {"models": [...]}) with the fields of `wildeye models info --json`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read model registry {path} (${ENV_REGISTRY}): {exc.strerror or exc}",
                          f"fix or unset ${ENV_REGISTRY}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"model registry {path} is not valid JSON: {exc}", f"fix or unset ${ENV_REGISTRY}") from None
    entries = data.get("models") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ConfigError(f"model registry {path}: expected a list of models or {{\"models\": [...]}}")
    out = []
    for i, entry in enumerate(entries):
        spec = ModelSpec.from_dict(entry, where=f"{path} models[{i}]")
        out.append(dataclasses.replace(spec, source="registry-file") if spec.source == "builtin" else spec)
    return out


def import_hint(spec: ModelSpec) -> str:
    """The exact command to add a file obtained elsewhere as this model."""
    example = f"/path/to/{spec.download_name}"
    if spec.md5 or spec.sha256:
        return f"wildeye models import {example}"
    return f"wildeye models import {example} --name {spec.name}"


def pull_or_import_hint(spec: ModelSpec) -> str:
    if spec.url:
        return f"run 'wildeye models pull {spec.name}' where there is internet, or '{import_hint(spec)}'"
    return f"run '{import_hint(spec)}'"
