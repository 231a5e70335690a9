"""The wildeye model package: what `wildeye train` writes and `wildeye run --classifier PATH` reads.

A folder with two files:

    model.json           what the model is and how to feed it (`PackageInfo`): timm architecture, labels in output
                         order, input size, mean/std, crop padding, per-class thresholds, metrics, provenance
    weights.safetensors  the state dict; safetensors holds tensors only, so loading a package never runs code

The architecture is rebuilt with `timm.create_model(architecture, pretrained=False, num_classes=len(labels))`,
so a package stays readable across wildeye versions as long as timm keeps the name. `format_version` says which
model.json layout wrote it; a newer one is refused with a clear message instead of being half-understood.

Format 2 adds `taxonomy`: label -> SpeciesNet's 7-field taxonomy string (``uuid;class;order;family;genus;species;
common name``, speciesnet/constants.py), so every export can name a package's "snow leopard" as *Panthera uncia*
(species) the way it names SpeciesNet's own labels. Scientific name and rank are derived from that string
(`wildeye.labels`). Format-1 packages (no taxonomy) still load; their labels then have none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wildeye.atomic import atomic_path, write_json_atomic
from wildeye.errors import WildeyeError
from wildeye.labels import is_taxonomy_string, parse
from wildeye.models.kinds import PACKAGE_INFO, is_package  # noqa: F401  (is_package: the one sniff, re-exported)
from wildeye.models.registry import ModelSpec

FORMAT = "wildeye-classifier"
FORMAT_VERSION = 2  # 2: per-label taxonomy
INFO_FILE = PACKAGE_INFO
WEIGHTS_FILE = "weights.safetensors"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PackageInfo(BaseModel):
    """model.json. Only architecture and labels are required; the rest has the defaults timm models train with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["wildeye-classifier"] = FORMAT
    format_version: int = FORMAT_VERSION
    architecture: str = Field(min_length=1)  # a timm model name, e.g. "tf_efficientnetv2_m"
    labels: list[str] = Field(min_length=1)  # output i is labels[i]
    input_size: int = Field(default=224, ge=8, le=4096)  # square side, px
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: Literal["bilinear", "bicubic", "nearest"] = "bilinear"
    crop_padding: float = Field(default=0.0, ge=0.0, le=1.0)  # fraction of the box added on each side
    thresholds: dict[str, float] = Field(default_factory=dict)  # label -> min score to accept it
    taxonomy: dict[str, str] = Field(default_factory=dict)  # label -> 7-field taxonomy string (format 2)
    metrics: dict[str, Any] | None = None  # e.g. per-class precision/recall on the validation split
    timm_kwargs: dict[str, Any] = Field(default_factory=dict)  # extra create_model arguments (img_size for ViTs)
    wildeye_version: str | None = None
    training_data_hash: str | None = None
    created: str | None = None  # ISO 8601

    @field_validator("format_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value < 1 or value > FORMAT_VERSION:
            raise ValueError(f"format_version {value} is not one this wildeye reads (1..{FORMAT_VERSION}); "
                             "it was written by a newer wildeye")
        return value

    @field_validator("labels")
    @classmethod
    def _distinct_labels(cls, labels: list[str]) -> list[str]:
        if any(not label.strip() for label in labels):
            raise ValueError("labels must not be empty strings")
        seen: set[str] = set()
        for label in labels:
            if label in seen:
                raise ValueError(f"label {label!r} appears twice")
            seen.add(label)
        return labels

    @field_validator("std")
    @classmethod
    def _positive_std(cls, std: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(std) <= 0:
            raise ValueError("std values must be > 0")
        return std

    @model_validator(mode="after")
    def _thresholds_name_labels(self) -> PackageInfo:
        for label, value in self.thresholds.items():
            if label not in self.labels:
                raise ValueError(f"thresholds names {label!r}, which is not one of the labels")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"threshold for {label!r} is {value}, not between 0 and 1")
        for label, value in self.taxonomy.items():
            if label not in self.labels:
                raise ValueError(f"taxonomy names {label!r}, which is not one of the labels")
            if not is_taxonomy_string(value):
                raise ValueError(f"taxonomy of {label!r} is {value!r}, not a 'uuid;class;order;family;genus;"
                                 "species;common name' string")
        return self

    def taxon(self, label: str) -> str | None:
        """The label's 7-field taxonomy string, None when the package has none for it."""
        return self.taxonomy.get(label)

    def scientific_name(self, label: str) -> str | None:
        """'Panthera uncia' for a species, the latin name at its rank above that ('Felidae'); None if unknown."""
        taxon = self.taxon(label)
        return parse(taxon).scientific_name if taxon else None

    def rank(self, label: str) -> str | None:
        taxon = self.taxon(label)
        return parse(taxon).rank if taxon else None


@dataclass
class ModelPackage:
    """A loaded package: the timm model (eval mode, CPU) and its model.json."""

    model: Any  # torch.nn.Module
    info: PackageInfo
    folder: Path


def read_info(folder: str | Path) -> PackageInfo:
    """Parse and check model.json without touching the weights (cheap: `wildeye models list` can call it)."""
    path = Path(folder) / INFO_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WildeyeError(f"{path} not found", "a wildeye model package is a folder with model.json and "
                                                f"{WEIGHTS_FILE}; pass that folder") from None
    except (OSError, ValueError) as exc:
        raise WildeyeError(f"{path} is not readable JSON: {exc}", "fix or re-create the package") from None
    if not isinstance(data, dict):
        raise WildeyeError(f"{path} is not a JSON object", "fix or re-create the package")
    try:
        return PackageInfo.model_validate(data)
    except ValidationError as exc:
        raise _one_line(exc, path) from None


def _one_line(exc: ValidationError, path: Path) -> WildeyeError:
    """The first problem, naming the file and the key; pydantic's multi-line report is for developers."""
    errors = exc.errors()
    first = errors[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(PackageInfo.model_fields)
        return WildeyeError(f"{path}: unknown key '{key}'{more}", f"remove it; model.json keys are: {allowed}")
    if first["type"] == "missing":
        return WildeyeError(f"{path}: missing key '{key}'{more}", "add it, or re-create the package with wildeye train")
    message = first["msg"].removeprefix("Value error, ")
    return WildeyeError(f"{path}: key '{key}': {message}{more}", "fix the value, or re-create the package")


def load_package(folder: str | Path) -> ModelPackage:
    """Read model.json, build the timm architecture, load weights.safetensors into it (strict: every tensor)."""
    import timm
    from safetensors.torch import load_model

    folder = Path(folder).expanduser()
    info = read_info(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise WildeyeError(f"{weights} not found", "the package is incomplete; re-create it with wildeye train")
    try:
        model = timm.create_model(info.architecture, pretrained=False, num_classes=len(info.labels),
                                  **info.timm_kwargs)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise WildeyeError(f"{folder / INFO_FILE}: key 'architecture': timm cannot build {info.architecture!r} "
                           f"({exc})", "use a timm model name (timm.list_models()), or upgrade timm") from None
    try:
        load_model(model, str(weights), strict=True, device="cpu")
    except Exception as exc:  # safetensors raises RuntimeError for key mismatch, SafetensorError for bad files
        detail = " ".join(str(exc).split())[:300]
        raise WildeyeError(f"{weights} does not fit {info.architecture} with {len(info.labels)} labels: {detail}",
                           "the weights and model.json come from different trainings; re-create the package") from None
    model.eval()
    return ModelPackage(model, info, folder)


def save_package(
    folder: str | Path,
    model: Any,
    labels: list[str],
    *,
    architecture: str | None = None,
    input_size: int | None = None,
    mean: tuple[float, float, float] | None = None,
    std: tuple[float, float, float] | None = None,
    interpolation: str | None = None,
    crop_padding: float = 0.0,
    thresholds: dict[str, float] | None = None,
    taxonomy: dict[str, str] | None = None,
    metrics: dict[str, Any] | None = None,
    timm_kwargs: dict[str, Any] | None = None,
    training_data_hash: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a package. Defaults not given are taken from the timm model's own config (`pretrained_cfg`).

    taxonomy: label -> 7-field taxonomy string (`wildeye.labels.taxonomy_string`); labels left out have none.
    Weights are written first and model.json last, each atomically: a folder with model.json is a complete
    package, even if training was killed halfway through saving.
    """
    from datetime import datetime, timezone

    from safetensors.torch import save_model

    import wildeye

    folder = Path(folder).expanduser()
    if (folder / INFO_FILE).exists() and not overwrite:
        raise WildeyeError(f"{folder} already holds a model package", "choose another folder, or pass overwrite")
    cfg = _timm_defaults(model)
    architecture = architecture or cfg.get("architecture")
    if not architecture:
        raise WildeyeError("cannot tell the model's timm architecture", "pass architecture='<timm model name>'")
    fields = dict(
        architecture=architecture,
        labels=list(labels),
        input_size=input_size or cfg.get("input_size") or 224,
        mean=tuple(mean or cfg.get("mean") or IMAGENET_MEAN),
        std=tuple(std or cfg.get("std") or IMAGENET_STD),
        interpolation=interpolation or cfg.get("interpolation") or "bilinear",
        crop_padding=crop_padding,
        thresholds=dict(thresholds or {}),
        taxonomy=dict(taxonomy or {}),
        metrics=metrics,
        timm_kwargs=dict(timm_kwargs or {}),
        wildeye_version=wildeye.__version__,
        training_data_hash=training_data_hash,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    try:
        info = PackageInfo(**fields)
    except ValidationError as exc:
        raise _one_line(exc, folder / INFO_FILE) from None
    n_out = getattr(model, "num_classes", None)
    if n_out is not None and n_out != len(info.labels):
        raise WildeyeError(f"the model has {n_out} outputs but {len(info.labels)} labels were given",
                           "pass one label per output, in output order")
    with atomic_path(folder / WEIGHTS_FILE) as tmp:
        save_model(model, str(tmp), metadata={"format": "pt", "wildeye_format": FORMAT})
    write_json_atomic(folder / INFO_FILE, info.model_dump(mode="json", exclude_none=True))
    return folder


def _timm_defaults(model: Any) -> dict[str, Any]:
    """architecture, input_size (square side), mean, std, interpolation from a timm model's pretrained_cfg."""
    cfg = dict(getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None) or {})
    out: dict[str, Any] = {}
    if cfg.get("architecture"):
        out["architecture"] = cfg["architecture"]
    size = cfg.get("input_size")  # the size it trains at; test_input_size is a pretrained-weights detail
    if size and len(size) == 3 and size[1] == size[2]:
        out["input_size"] = int(size[1])
    for key in ("mean", "std"):
        if cfg.get(key) and len(cfg[key]) == 3:
            out[key] = tuple(float(v) for v in cfg[key])
    if cfg.get("interpolation") in ("bilinear", "bicubic", "nearest"):
        out["interpolation"] = cfg["interpolation"]
    return out


def package_spec(folder: Path, name: str | None = None) -> ModelSpec:
    """A registry entry for a package folder: its defaults from model.json (a broken one is a WildeyeError)."""
    info = read_info(folder)
    return ModelSpec(
        name=name or folder.name, kind="wildeye-package", image_size=info.input_size,
        description=f"wildeye package: {info.architecture}, {len(info.labels)} labels", source="path",
        version=info.created,
    )
