"""From what the user typed (`--detector mdv5a`, `--classifier ./my-package`) to a file on disk and its defaults.

A registry name or alias is looked up in the cache and downloaded when missing (wildeye.models.download); a path
is identified (a registry model by file name or md5, so `./md_v5a.0.1.pt` gets MDv5a's thresholds) or classified
by wildeye.models.kinds.sniff_kind. Loading the file is wildeye.models.factory's job.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from wildeye.errors import WildeyeError
from wildeye.models.cache import ModelCache, file_digests
from wildeye.models.download import pull
from wildeye.models.kinds import accepted_kinds, sniff_kind
from wildeye.models.package import package_spec
from wildeye.models.registry import ModelSpec, Registry, archive_format, pull_or_import_hint

_PATH_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".onnx", ".tar.gz", ".tgz", ".zip")


def load_registry(cache_dir: str | os.PathLike | None = None) -> Registry:
    """The registry a command sees: built-ins, $WILDEYE_REGISTRY, and the models imported into the cache."""
    return Registry(ModelCache(cache_dir))


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: where it is on disk and the defaults it runs with."""

    path: Path
    spec: ModelSpec
    source: str  # cache | downloaded | path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def image_size(self) -> int | None:
        return self.spec.image_size

    @property
    def stride(self) -> int | None:
        return self.spec.stride

    @property
    def typical_threshold(self) -> float | None:
        return self.spec.typical_threshold

    @property
    def conservative_threshold(self) -> float | None:
        return self.spec.conservative_threshold

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "source": self.source, **self.spec.to_dict()}


def resolve_model(name_or_path: str | os.PathLike, kind: str | Iterable[str] | None = None, *, download: bool = True,
                  cache_dir: str | os.PathLike | None = None, timeout: float | None = None,
                  progress: Callable[[int, int | None], None] | bool | None = None) -> ResolvedModel:
    """Turn what the user typed for --detector / --classifier into a file or folder plus its defaults.

    `name_or_path` is a registry name or alias (cached: its path; not cached: downloaded unless download=False,
    else a WildeyeError saying how to import it) or an existing file / model folder. `kind` is a kind from KINDS,
    a role ("detector", "classifier") or several kinds; a model of another kind is a WildeyeError.
    `progress`: a callback(done, total), or True for a bar on a terminal.
    """
    accepted = accepted_kinds(kind)
    text = os.fspath(name_or_path)
    cache = ModelCache(cache_dir)
    registry = Registry(cache)
    candidate = Path(text).expanduser()
    # A bare name is the registry's even if a folder of that name is in the current directory (./speciesnet is not).
    named = None if _looks_like_path(text) else registry.find(text)
    if named is None and candidate.exists():
        resolved = ResolvedModel(candidate.resolve(), spec_for_path(candidate, registry, accepted), "path")
    else:  # a name, an alias, or a bare published file name ("md_v5a.0.1.pt")
        spec = named or registry.find(text) or registry.find_by_filename(text)
        if spec is None and _looks_like_path(text):
            raise WildeyeError(f"model file {text} not found",
                               "check the path, or give a model name from 'wildeye models list'")
        spec = spec or registry.get(text)
        _check_kind(spec, accepted, text)
        path = cache.cached_path(spec)
        if path is not None:
            return ResolvedModel(path, spec, "cache")
        if not download:
            raise WildeyeError(f"model {spec.name} is not in the cache ({cache.root})", pull_or_import_hint(spec))
        result = pull(spec, cache=cache, timeout=timeout, progress=progress)
        return ResolvedModel(result.path, spec, "downloaded")
    _check_kind(resolved.spec, accepted, text)
    return resolved


def spec_for_path(path: Path, registry: Registry | None = None,
                  accepted: tuple[str, ...] | None = None) -> ModelSpec:
    """What a file or folder on disk is: a registry model (by file name or md5), a package, or a plain checkpoint."""
    registry = registry if registry is not None else Registry()
    if path.is_dir():
        kind = sniff_kind(path)
        if kind == "wildeye-package":
            return package_spec(path)
        if kind == "speciesnet":
            base = next((s for s in registry if s.kind == "speciesnet" and s.source == "builtin"), None)
            return dataclasses.replace(base, source="path", url=None, aliases=()) if base else \
                ModelSpec(name=path.name, kind="speciesnet", image_size=480, source="path")
        raise WildeyeError(f"{path} is a folder without model.json (wildeye package), info.json or a .pt file "
                           "(SpeciesNet)", "pass the model file itself, or the package folder")
    if archive_format(path.name):
        raise WildeyeError(f"{path} is an archive", f"unpack it into the cache first: wildeye models import {path} --name NAME")
    known = registry.find_by_filename(path.name)
    if known is None and path.stat().st_size < (4 << 30):
        known = registry.find_by_md5(file_digests(path)["md5"])
    if known is not None and known.kind != "wildeye-package":
        return known
    return ModelSpec(name=path.stem, kind=sniff_kind(path, accepted) or "megadetector", filename=path.name,
                     source="path", description=f"user file {path.name} (defaults read from the checkpoint)")


def _check_kind(spec: ModelSpec, accepted: tuple[str, ...] | None, asked: str) -> None:
    if accepted and spec.kind not in accepted:
        wanted = " or ".join(accepted)
        raise WildeyeError(f"{asked} is a {spec.kind} model, not a {wanted} model",
                           "pick a model of the right kind from 'wildeye models list'")


def _looks_like_path(text: str) -> bool:
    return (text.startswith((".", "~", "/")) or "/" in text or "\\" in text
            or text.lower().endswith(_PATH_SUFFIXES))
