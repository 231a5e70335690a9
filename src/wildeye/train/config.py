"""Training config: pydantic models loaded from YAML, strict like the run config.

A typo fails at load time as one line naming the file, the line and the key (`validation_config_error`).
Paths in the file are relative to the file. Data paths are checked when the data is read, not here, so an
example config validates on a machine that does not have its images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wildeye.config import DeviceName, _line_of, _read_yaml, _set_dotted, _where, validation_config_error
from wildeye.errors import ConfigError



class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def normalize_label(label: Any) -> str:
    """Labels compare case- and space-insensitively: 'Snow  Leopard' is 'snow leopard'."""
    return " ".join(str(label).split()).lower()


class ModelSection(_Strict):
    architecture: str = Field(min_length=1, description="any timm model name, e.g. resnet50, tf_efficientnetv2_s")
    pretrained: bool = Field(False, description=(
        "start from timm's ImageNet weights: needs internet (Hugging Face hub) or a warm timm cache"))
    weights: Optional[str] = Field(None, description=(
        "start from local weights: a wildeye package folder, a registry name of one, a .safetensors or .pth "
        "state dict; tensors whose shape does not fit (the classifier head) are skipped"))
    input_size: Optional[int] = Field(None, ge=16, le=2048, description="square side in px; null: the model's own")
    drop_rate: float = Field(0.0, ge=0.0, lt=1.0, description="dropout before the classifier head")
    timm_kwargs: dict[str, Any] = Field(default_factory=dict, description="extra timm.create_model arguments")

    @model_validator(mode="after")
    def _one_start(self) -> ModelSection:
        if self.pretrained and self.weights:
            raise ValueError("give model.pretrained or model.weights, not both")
        return self


class FoldersSource(_Strict):
    """root/<class>/[<deployment>/]image.jpg: the folder name is the label, whole images (no boxes)."""

    type: Literal["folders"]
    path: str
    name: Optional[str] = None


class CocoSource(_Strict):
    """COCO Camera Traps JSON: images (seq_id, location, datetime), annotations (bbox in px), categories."""

    type: Literal["coco"]
    path: str
    images: Optional[str] = Field(None, description="folder file_name is relative to; null: the JSON's folder")
    name: Optional[str] = None


class CamtrapDPSource(_Strict):
    """Camtrap DP 1.0 package folder: deployments.csv, media.csv, observations.csv (bbox normalized)."""

    type: Literal["camtrap-dp"]
    path: str
    human_only: bool = Field(True, description="use observations with classificationMethod 'human' only")
    label_column: Literal["scientificName", "observationType"] = Field(
        "scientificName", description="observationType is used where scientificName is empty")
    name: Optional[str] = None


class FiftyOneSource(_Strict):
    """A FiftyOne dataset or saved view. Human labels only by default."""

    type: Literal["fiftyone"]
    dataset: str = Field(min_length=1)
    view: Optional[str] = Field(None, description="a saved view of the dataset")
    label_field: str = Field("ground_truth", description="human labels: Classification(s) or Detections")
    verified_tag: Optional[str] = Field("verified", description=(
        "samples with this tag count as verified: their prediction_field labels are used too"))
    prediction_field: Optional[str] = Field("predictions", description="machine labels a reviewer may have accepted")
    verified_only: bool = Field(True, description="false: also machine labels of samples nobody reviewed")
    sequence_field: Optional[str] = "sequence_id"
    location_field: Optional[str] = "location_id"
    deployment_field: Optional[str] = "deployment_id"
    name: Optional[str] = None


Source = Annotated[Union[FoldersSource, CocoSource, CamtrapDPSource, FiftyOneSource], Field(discriminator="type")]


class DataSection(_Strict):
    sources: list[Source] = Field(min_length=1)
    crop: Literal["boxes", "image"] = Field("boxes", description=(
        "boxes: one crop per labelled box; image: whole frames"))
    unboxed: Literal["image", "skip"] = Field("image", description=(
        "with crop: boxes, labels that have no box (blank frames, folders): the whole image, or left out"))
    padding: float = Field(0.1, ge=0.0, le=1.0, description="fraction of the box added on each side")
    min_box_size: float = Field(0.0, ge=0.0, le=1.0, description="skip boxes narrower or lower than this (normalized)")
    workers: int = Field(2, ge=0, le=64, description="DataLoader worker processes decoding images")

    @field_validator("sources", mode="before")
    @classmethod
    def _typed(cls, value: Any) -> Any:
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict) and "type" not in item:
                    raise ValueError(f"source {index} has no 'type' (folders, coco, camtrap-dp or fiftyone)")
        return value


class TaxonFields(_Strict):
    """One class's taxonomy, field by field (any may be left out): the ranks of SpeciesNet's taxonomy string, or a
    scientific name with its rank. Ranks missing here are looked up in the taxonomy file by the scientific name."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    scientific_name: Optional[str] = Field(None, description="latin name, e.g. Panthera uncia or Felidae")
    rank: Optional[Literal["class", "order", "family", "genus", "species"]] = Field(
        None, description="rank of scientific_name; null: species for two words")
    common_name: Optional[str] = Field(None, description="English name; null: the class label itself")
    id: Optional[str] = Field(None, description="taxon ID, e.g. SpeciesNet's uuid or a GBIF key")
    class_: Optional[str] = Field(None, alias="class")
    order: Optional[str] = None
    family: Optional[str] = None
    genus: Optional[str] = None
    species: Optional[str] = Field(None, description="the species epithet (uncia), not the binomial")

    @model_validator(mode="after")
    def _some_taxon(self) -> TaxonFields:
        if not (self.scientific_name or self.class_ or self.order or self.family or self.genus):
            raise ValueError("give scientific_name or at least one of class, order, family, genus")
        for value in (self.scientific_name, self.common_name, self.id, self.class_, self.order, self.family,
                      self.genus, self.species):
            if value is not None and ";" in value:
                raise ValueError(f"{value!r}: taxonomy fields cannot hold ';'")
        return self


class ClassesSection(_Strict):
    names: Optional[list[str]] = Field(None, description="the model's labels, in output order; null: every label found")
    map: dict[str, Optional[str]] = Field(default_factory=dict, description=(
        "source label -> class (merge species, rename); null drops it"))
    drop: list[str] = Field(default_factory=list, description="source labels left out entirely")
    other: Optional[str] = Field("other", description=(
        "class that every label not in names becomes; null: such labels are dropped"))
    taxonomy: dict[str, Union[str, TaxonFields]] = Field(default_factory=dict, description=(
        "class -> its taxonomy, written into the package: a SpeciesNet taxonomy string "
        "(uuid;class;order;family;genus;species;common name), a scientific name (Panthera uncia), or fields "
        "(scientific_name, rank, common_name, id, class, order, family, genus, species)"))
    taxonomy_file: Optional[str] = Field(None, description=(
        "SpeciesNet taxonomy_release.txt (or a SpeciesNet model folder) where classes not in `taxonomy` are "
        "looked up by common or scientific name; null: the SpeciesNet model in wildeye's model cache, if any"))

    @model_validator(mode="after")
    def _consistent(self) -> ClassesSection:
        if self.names is not None:
            normalized = [normalize_label(n) for n in self.names]
            if any(not n for n in normalized):
                raise ValueError("names: empty class name")
            if len(set(normalized)) != len(normalized):
                raise ValueError("names: a class is listed twice")
            if len(self.names) < 2 and not (self.other and normalize_label(self.other) not in normalized):
                raise ValueError("names: a classifier needs at least two classes")
            known = set(normalized) | ({normalize_label(self.other)} if self.other else set())
            for source, target in self.map.items():
                if target is not None and normalize_label(target) not in known:
                    raise ValueError(f"map: {source!r} -> {target!r}, which is not in names")
        for label, value in self.taxonomy.items():
            if isinstance(value, str) and (not value.strip() or (";" in value and value.count(";") != 6)):
                raise ValueError(f"taxonomy: {label!r} -> {value!r} is neither a scientific name nor a taxonomy "
                                 "string of 7 ';'-separated fields")
        return self


class SplitSection(_Strict):
    by: Literal["sequence", "location", "deployment"] = Field("location", description=(
        "keep every burst (sequence) or every camera (location / deployment) inside one split"))
    val: float = Field(0.2, ge=0.0, lt=1.0)
    test: float = Field(0.1, ge=0.0, lt=1.0)
    seed: int = 0

    @model_validator(mode="after")
    def _fractions(self) -> SplitSection:
        if self.val + self.test >= 1.0:
            raise ValueError("val + test must leave something to train on (sum below 1)")
        return self


class TrainSection(_Strict):
    epochs: int = Field(20, ge=1, le=10000)
    batch_size: int = Field(32, ge=1, le=4096)
    lr: float = Field(1e-3, gt=0.0, le=10.0)
    weight_decay: float = Field(1e-4, ge=0.0)
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="sgd only")
    scheduler: Literal["cosine", "step", "none"] = "cosine"
    warmup_epochs: int = Field(0, ge=0)
    step_size: int = Field(10, ge=1, description="scheduler: step only (epochs)")
    gamma: float = Field(0.1, gt=0.0, le=1.0, description="scheduler: step only")
    augment: Literal["light", "none"] = "light"
    balance: Literal["sampler", "loss", "none"] = Field("loss", description=(
        "rare classes: weighted sampler, loss weights, or nothing"))
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    early_stopping: Optional[int] = Field(5, ge=1, description="stop after N epochs without a better val score")
    monitor: Literal["macro_f1", "accuracy", "loss"] = "macro_f1"
    device: DeviceName = Field("auto", description="auto | cpu | cuda | cuda:N | mps")
    amp: Literal["auto", "on", "off"] = Field("auto", description="mixed precision; auto: on for CUDA")
    seed: int = 0


class CalibrationSection(_Strict):
    target_precision: Union[float, dict[str, float], None] = Field(None, description=(
        "precision each class must reach on validation data, e.g. {snow leopard: 0.95}; a number applies to "
        "every class except `other`; below its threshold a prediction falls back to other / needs review"))

    @field_validator("target_precision")
    @classmethod
    def _range(cls, value: Any) -> Any:
        values = value.values() if isinstance(value, dict) else [] if value is None else [value]
        for v in values:
            if not 0.0 < float(v) <= 1.0:
                raise ValueError(f"target precision {v} is not in (0, 1]")
        return value


class OutputSection(_Strict):
    dir: str = Field(description="the package folder written: model.json, weights, model.md, metrics")
    checkpoints: Optional[str] = Field(None, description="folder for per-epoch checkpoints; null: DIR/checkpoints")
    keep_checkpoints: bool = Field(False, description="keep them after a finished run (the package is complete)")
    overwrite: bool = Field(False, description="replace a package already in dir")


class TrainConfig(_Strict):
    """Everything `wildeye train` needs: see configs/train/*.yaml."""

    model: ModelSection
    data: DataSection
    classes: ClassesSection = Field(default_factory=ClassesSection)
    split: SplitSection = Field(default_factory=SplitSection)
    train: TrainSection = Field(default_factory=TrainSection)
    calibration: CalibrationSection = Field(default_factory=CalibrationSection)
    output: OutputSection

    @model_validator(mode="after")
    def _calibration_needs_val(self) -> TrainConfig:
        if self.calibration.target_precision is not None and self.split.val <= 0:
            raise ValueError("calibration.target_precision needs validation data: set split.val above 0")
        targets = self.calibration.target_precision
        if isinstance(targets, dict) and self.classes.names is not None:
            known = {normalize_label(n) for n in self.classes.names} | (
                {normalize_label(self.classes.other)} if self.classes.other else set())
            for label in targets:
                if normalize_label(label) not in known:
                    raise ValueError(f"calibration.target_precision names {label!r}, which is not in classes.names")
        return self


# --- loading ------------------------------------------------------------------------------------------


def load_train_config(path: str | Path, overrides: dict[str, Any] | None = None,
                      check_architecture: bool = True) -> TrainConfig:
    """Read and check a train config; relative paths become absolute (relative to the file).

    Raises ConfigError with one line naming the file, the line and the key.
    """
    path = Path(path)
    data, root = _read_yaml(path)
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value)
    try:
        config = TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_config_error(exc, str(path), root, TrainConfig, set(overrides or ())) from None
    if check_architecture:
        _check_architecture(config.model.architecture, str(path), root)
    return resolve_paths(config, path.parent.resolve())


def resolve_paths(config: TrainConfig, base: Path) -> TrainConfig:
    """A copy whose file paths are absolute, so the resolved config stored in a package means the same anywhere."""

    def absolute(value: str | None) -> str | None:
        if value is None:
            return None
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (base / p).resolve())

    data = config.model_dump(by_alias=True)
    data["classes"]["taxonomy_file"] = absolute(data["classes"]["taxonomy_file"])
    for source in data["data"]["sources"]:
        for key in ("path", "images"):
            if source.get(key):
                source[key] = absolute(source[key])
    weights = data["model"]["weights"]
    if weights and (("/" in weights) or weights.startswith(".") or Path(weights).suffix):
        data["model"]["weights"] = absolute(weights)  # a bare word is a registry name
    data["output"]["dir"] = absolute(data["output"]["dir"])
    data["output"]["checkpoints"] = absolute(data["output"]["checkpoints"])
    return TrainConfig.model_validate(data)


def _check_architecture(name: str, source: str, root: Any) -> None:
    import timm

    if not timm.is_model(name):
        import difflib

        close = difflib.get_close_matches(name, timm.list_models(), n=1, cutoff=0.7)
        hint = f"did you mean {close[0]!r}?" if close else "use a name from timm.list_models(), e.g. resnet50"
        raise ConfigError(f"{_where(source, _line_of(root, ('model', 'architecture')))}: model.architecture: "
                          f"timm has no model {name!r}", hint)
