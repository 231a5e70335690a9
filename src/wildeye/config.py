"""Run configuration: pydantic models loaded from YAML.

Every model forbids unknown keys (zamba's rule), so a typo fails at load time, before any model runs,
as one line that names the file, the line and the key: ``configs/run.yaml:14: ensemble: unknown key
'flagship_specis' (did you mean 'flagship_species'?)``. The ensemble defaults are SpeciesNet's
(speciesnet/ensemble_prediction_combiner.py); configs/run.yaml lists every setting with its default.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wildeye.errors import ConfigError

# Why an item lands in the review queue. The ensemble uses these codes; `review_on` picks which ones flag.
REVIEW_CODES = ("low_confidence", "flagship", "sequence_disagreement", "geofence_changed", "rollup", "unconfirmed")
ReviewCode = Literal["low_confidence", "flagship", "sequence_disagreement", "geofence_changed", "rollup", "unconfirmed"]
RollupLevel = Literal["genus", "family", "order", "class", "kingdom"]
_LEVEL_ORDER = ("species", "genus", "family", "order", "class", "kingdom")
FALLBACK_DETECTION_THRESHOLD = 0.2  # MegaDetector's typical threshold: used when a run recorded none
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
# MegaDetector's `fallback_detection_threshold`: the detection threshold when a model publishes none. The one place
# this number lives; a run records the threshold it used, and readers take it from there.
FALLBACK_DETECTION_THRESHOLD = 0.2


def _device_name(value: str) -> str:
    value = value.strip().lower()
    if not _DEVICE.match(value):
        raise ValueError("use auto, cpu, cuda, cuda:N or mps")
    return value


DeviceName = Annotated[str, AfterValidator(_device_name)]  # shared by run and train configs


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _check_levels(levels: list[str]) -> list[str]:
    if not levels:
        raise ValueError("give at least one level, e.g. [genus, family, order, class, kingdom]")
    depths = [_LEVEL_ORDER.index(level) for level in levels]
    if depths != sorted(set(depths)):
        raise ValueError("list each level once, from the lowest rank up (genus, family, order, class, kingdom)")
    return levels


class EnsembleConfig(_Strict):
    """How detector boxes and classifier scores become a label per detection, image and sequence."""

    # --- detections ---------------------------------------------------------------------------------
    detection_threshold: Optional[float] = Field(None, ge=0.0, le=1.0, description=(
        "boxes below this take no part in image decisions, events or review unless the classifier named what "
        "they hold; null: the detector's published typical threshold (0.2 for MDv5, 0.3 for MDv1000-redwood)"))
    classification_threshold: float = Field(0.1, ge=0.0, le=1.0, description=(
        "boxes at or above this, of any category, are classified (SpeciesNet's "
        "DEFAULT_DETECTION_THRESHOLD_FOR_CLASSIFICATION)"))
    human_threshold: float = Field(0.7, ge=0.0, le=1.0, description=(
        "a person box with conf above this is 'human', whatever the classifier says (SpeciesNet #1a)"))
    vehicle_threshold: float = Field(0.7, ge=0.0, le=1.0, description=(
        "a vehicle box with conf above this is 'vehicle' (SpeciesNet #2b)"))
    human_classifier_threshold: float = Field(0.5, ge=0.0, le=1.0, description=(
        "a weaker person/vehicle box is 'human' when the classifier's top label is human above this (#1b, #2a)"))
    vehicle_classifier_threshold: float = Field(0.4, ge=0.0, le=1.0, description=(
        "a weaker vehicle box is 'vehicle' when the classifier's top label is vehicle above this (#2c)"))
    blank_threshold: float = Field(0.99, ge=0.0, le=1.0, description=(
        "a box whose top classification is blank above this is a false box (SpeciesNet #3b)"))
    blank_threshold_weak_box: float = Field(0.5, ge=0.0, le=1.0, description=(
        "... or above this when the box's conf is below animal_box_threshold (SpeciesNet #3a)"))
    # --- species and rollup ---------------------------------------------------------------------------
    species_threshold: float = Field(0.8, ge=0.0, le=1.0, description=(
        "top classification score that names a species on its own (SpeciesNet #4a)"))
    species_threshold_animal_box: Optional[float] = Field(0.65, ge=0.0, le=1.0, description=(
        "lower bar when the detector also calls the box an animal above animal_box_threshold (#4b); null: off"))
    animal_box_threshold: float = Field(0.2, ge=0.0, le=1.0, description=(
        "SpeciesNet's 'mid-confidence' box: above it species_threshold_animal_box applies (#4b) and weaker "
        "person/vehicle boxes can be confirmed by the classifier (#1b, #2a, #2c); below it #3a applies"))
    animal_detector_threshold: float = Field(0.5, ge=0.0, le=1.0, description=(
        "an animal box the classifier could not name is 'animal' when its conf is above this, else 'unknown' (#5b)"))
    class_thresholds: dict[str, float] = Field(default_factory=dict, description=(
        "per-label classifier score needed to accept that label, replacing species_threshold for it; a calibrated "
        "wildeye model package brings its own (these override them). Below it the box rolls up and needs review"))
    rollup_threshold: float = Field(0.65, ge=0.0, le=1.0, description=(
        "summed top-k score a higher taxon needs to be the label (SpeciesNet #5a)"))
    rollup_levels: list[RollupLevel] = Field(
        default_factory=lambda: ["genus", "family", "order", "class", "kingdom"],
        description="ranks tried, lowest first; the first whose summed score passes wins")
    # --- geofence -------------------------------------------------------------------------------------
    geofence: bool = Field(True, description="apply the geofence map (SpeciesNet's default; --no-geofence: off)")
    geofence_file: Optional[str] = Field(None, description=(
        "SpeciesNet geofence map (.json: taxon -> allow/block -> country -> admin1 regions, "
        "or .csv: species,rule,country_code,admin1_region_code); relative to this config file; "
        "null: the one the classifier ships (SpeciesNet's info.json 'geofence'), if any"))
    taxonomy_file: Optional[str] = Field(None, description=(
        "SpeciesNet taxonomy_release.txt the rollup climbs (parents that are not classifier labels too); "
        "null: the one the classifier ships, else its labels"))
    geofence_rollup_levels: list[RollupLevel] = Field(
        default_factory=lambda: ["family", "order", "class", "kingdom"],
        description="where a geofenced species rolls up to; SpeciesNet starts at family")
    allowed_taxa: list[str] = Field(default_factory=list, description=(
        "project allow-list, e.g. species plausible at the study site; empty: no restriction"))
    # --- sequences ------------------------------------------------------------------------------------
    sequence_smoothing: bool = Field(True, description=(
        "let a clear species in one frame label the weak animal boxes of the other frames of its burst"))
    sequence_threshold: float = Field(0.8, ge=0.0, le=1.0, description=(
        "classifier score (>=) that makes a frame's species clear enough to label its burst"))
    sequence_fill_blanks: bool = Field(False, description=(
        "also give blank frames of such a burst the burst's species"))
    # --- review ---------------------------------------------------------------------------------------
    review_threshold: float = Field(0.65, ge=0.0, le=1.0, description=(
        "a final score below this needs review (low_confidence)"))
    flagship_species: list[str] = Field(default_factory=lambda: ["snow leopard"], description=(
        "always reviewed; matched on common name, latin 'genus species', or the full label"))
    flagship_min_score: float = Field(0.1, ge=0.0, le=1.0, description=(
        "a flagship species anywhere in a box's top-k at or above this score also flags it"))
    review_on: list[ReviewCode] = Field(default_factory=lambda: list(REVIEW_CODES), description=(
        "which reasons put an item in the review queue"))

    @field_validator("rollup_levels", "geofence_rollup_levels")
    @classmethod
    def _levels(cls, value: list[str]) -> list[str]:
        return _check_levels(value)

    @field_validator("flagship_species", "allowed_taxa")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        cleaned = [" ".join(name.split()).lower() for name in value]
        if any(not name for name in cleaned):
            raise ValueError("empty name in list")
        return cleaned


Precision = Literal["auto", "fp32", "fp16", "bf16"]  # a model's arithmetic (detector and classifier alike)
Runtime = Literal["auto", "torch", "onnxruntime"]
RUNTIME_HELP = "auto: onnxruntime for precision auto on a CPU, else torch; onnxruntime runs fp32 on the CPU only"


def _fp32_for_onnxruntime(config):
    if config.runtime == "onnxruntime" and config.precision in ("fp16", "bf16"):
        raise ValueError(f"runtime onnxruntime runs fp32 only, not precision {config.precision}: set precision "
                         "auto or fp32, or runtime torch")
    return config


class DetectorConfig(_Strict):
    name: str = Field("mdv5a", description="registry name or alias (mdv5a, mdv5b, mdv1000-redwood, ...) or a path")
    threshold: float = Field(0.005, ge=0.0, le=1.0, description=(
        "boxes below this are not kept at all (MegaDetector's output floor, 0.005, so the MegaDetector JSON "
        "matches MegaDetector's own); decisions use ensemble.detection_threshold"))
    batch_size: int = Field(8, ge=1, le=1024)
    image_size: Optional[int] = Field(None, ge=32, le=8192, description="detector input size; null: the model's own")
    precision: Precision = Field("auto", description=(
        "auto: the fastest path within MegaDetector parity tolerance (recall of its boxes >= 99.5%, confidence "
        "change <= 0.02): fp32 through ONNX Runtime on a CPU, PyTorch fp32 elsewhere; fp32: MegaDetector's own "
        "arithmetic, its boxes exactly; fp16 (GPU) and bf16 (AVX-512 BF16/AMX CPUs, GPUs) are faster and move "
        "boxes more (scripts/bench_run.py prints how far)"))
    runtime: Runtime = Field("auto", description=RUNTIME_HELP)

    _runtime_precision = model_validator(mode="after")(_fp32_for_onnxruntime)


class ClassifierConfig(_Strict):
    name: Optional[str] = Field("speciesnet", description="registry name, model package or path; null: detector only")
    batch_size: Optional[int] = Field(None, ge=1, le=4096, description=(
        "crops per classifier batch; null: 1 on CPU (EfficientNetV2-M at 480 px runs 1.5x faster per crop "
        "one at a time there, measured), 32 on a GPU"))
    top_k: int = Field(5, ge=1, le=100, description="classifications kept per crop (SpeciesNet keeps 5)")
    max_crops_per_image: Optional[int] = Field(None, ge=1, description=(
        "classify at most this many boxes per image, most confident first (caps the cost of a herd; SpeciesNet's "
        "max_classifications_per_image); null: every box at or above ensemble.classification_threshold"))
    precision: Precision = Field("auto", description=(
        "auto: the fastest path whose scores stay within 1e-5 of SpeciesNet's (fp32 through ONNX Runtime on a "
        "CPU, PyTorch fp32 elsewhere); fp32: SpeciesNet's own arithmetic; fp16 (GPU) and bf16 (AVX-512 "
        "BF16/AMX CPUs, GPUs) are faster and move scores (bf16: 0.04 on EfficientNet-Lite0, measured)"))
    runtime: Runtime = Field("auto", description=RUNTIME_HELP)

    _runtime_precision = model_validator(mode="after")(_fp32_for_onnxruntime)


class ScanConfig(_Strict):
    """How the card is read: the same settings as `wildeye scan`'s flags."""

    sequence_gap: float = Field(60.0, gt=0, description="seconds between frames that start a new sequence")
    deployments: Optional[str] = Field(None, description=(
        "Camtrap DP-style deployments.csv, relative to this config file; null: SOURCE/deployments.csv if present"))
    time_source: Literal["auto", "exif", "ocr"] = Field("auto", description=(
        "capture time: EXIF checked against the info strip (auto), EXIF only, or the strip (ocr); "
        "deployments.csv's timeSource overrides it per deployment"))


class AfterRunConfig(_Strict):
    fiftyone: bool = Field(True, description="sync results into a FiftyOne dataset for review")
    dataset: Optional[str] = Field(None, description="FiftyOne dataset name; null: wildeye-<source folder name>")
    report: bool = Field(False, description="write the sightings report (OUT/report) after each run")
    raw_classifications: bool = Field(False, description=(
        "megadetector.json: also write each box's classifier top-k as raw_classifications (classifications "
        "always hold the decision)"))
    on_sighting: Optional[str] = Field(None, description=(
        "shell command run for each new flagship sighting (WILDEYE_* variables, JSON on stdin)"))


class StaticConfig(_Strict):
    """Static (repeated) false detections: a rock or stump boxed in hundreds of frames of one fixed camera.
    Defaults follow MegaDetector's repeat detection elimination (IoU 0.9, 20 occurrences, boxes up to 20% of
    the frame, confidence 0.1-1.0); wildeye also asks for several sequences, as a resting animal fills one burst."""

    enabled: bool = Field(True, description=(
        "mark static boxes after each run and leave them out of decisions, events and the review queue"))
    iou: float = Field(0.9, gt=0.0, le=1.0, description="IoU at which two boxes are the same place")
    min_frames: int = Field(20, ge=2, description="frames a place must be boxed in before it is static")
    min_sequences: int = Field(3, ge=1, description="distinct sequences (bursts) those frames must span")
    max_box_fraction: float = Field(0.2, gt=0.0, le=1.0, description=(
        "larger boxes (fraction of the frame's area) are never static: mostly animals close to the camera"))
    min_conf: float = Field(0.1, ge=0.0, le=1.0, description="boxes below this confidence are not considered")
    max_conf: float = Field(1.0, ge=0.0, le=1.0, description="boxes above this confidence are not considered")
    categories: list[Literal["animal", "person", "vehicle"]] = Field(
        default_factory=lambda: ["animal", "person", "vehicle"], description="detector categories considered")


class VideoConfig(_Strict):
    """Clips (MP4, AVI, MOV, MTS) go through the same detector and classifier as stills, frame by frame. Sampling
    as MegaDetector's video tools do it (`--time_sample` / `--frame_sample`): frames 0, n, 2n, ...; the video's
    decision is its best frame's (inference.video)."""

    enabled: bool = Field(True, description="process videos (false: list them and skip them; --no-video)")
    every_n_seconds: Optional[float] = Field(1.0, gt=0, description=(
        "sample a frame every this many seconds (n = int(seconds x frame rate), at least 1; --video-every)"))
    every_n_frames: Optional[int] = Field(None, ge=1, description=(
        "sample every n-th frame instead (wins over every_n_seconds; 1: every frame)"))
    max_frames: Optional[int] = Field(None, ge=1, description=(
        "sample at most this many frames per video, from the start (null: the whole clip)"))
    batch_frames: int = Field(8, ge=1, le=1024, description=(
        "sampled frames detected and committed to the journal together (a killed run redoes at most one batch)"))


class PrivacyConfig(_Strict):
    """What exports leave out or blur: people, and the exact sites of sensitive species (`wildeye report`, the
    `--on-sighting` hook's payload). Also the `privacy:` section of a report's project YAML."""

    exclude_humans: bool = Field(False, description=(
        "leave media and observations of people out of every export; frames that also show animals keep the "
        "animals, with the people removed (and blurred in exported images)"))
    sensitive_species: list[str] = Field(default_factory=lambda: ["snow leopard"], description=(
        "deployments with a sighting of one of these get generalised coordinates; common name, latin "
        "'genus species' or name at any rank, or a full label"))
    generalise_locations: bool = Field(True, description=(
        "round those deployments' coordinates (false: exact coordinates everywhere, --exact-locations)"))
    coordinate_decimals: int = Field(1, ge=0, le=4, description=(
        "decimals the coordinates are rounded to: 1 = 0.1 degree (about 11 km), 2 = 0.01 degree (about 1.1 km)"))

    @field_validator("sensitive_species")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        cleaned = [" ".join(name.split()).lower() for name in value]
        if any(not name for name in cleaned):
            raise ValueError("empty name in list")
        return cleaned


class RunConfig(_Strict):
    """Everything `wildeye run` needs besides the input folder."""

    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    device: DeviceName = Field("auto", description="auto | cpu | cuda | cuda:N | mps")
    workers: int = Field(2, ge=0, le=64, description="DataLoader worker processes decoding images")
    decode: Literal["auto", "full", "fast", "device"] = Field("auto", description=(
        "auto: device on a CUDA GPU, else full; "
        "full: decode at full resolution, MegaDetector's and SpeciesNet's pixels (their answers, exactly); "
        "fast: JPEG DCT scaling to the detector's input size, 3-4x cheaper decode, answers move "
        "(scripts/bench_run.py prints the agreement); "
        "device: JPEGs decoded on the model's device (nvJPEG on CUDA), letterbox and crops there too: boxes "
        "move slightly (scripts/megadetector_parity.py --decode device prints how far)"))
    wait: bool = Field(False, description="if another run holds the journal, wait for it instead of exiting (3)")
    engine: Literal["local", "ray"] = Field("local", description=(
        "local: this machine (decode workers + the models in this process); ray: decode, detect and classify on "
        "a Ray cluster's actors (pip install 'wildeye[ray]'; frames must be readable by every worker), the "
        "journal written here"))
    ray_address: Optional[str] = Field(None, description=(
        "engine ray: the cluster. auto: the running cluster (RAY_ADDRESS or this node's); local: a new "
        "in-process cluster on this machine; ray://HEAD:10001 (Ray Client) or HEAD:6379 (this node is part of the "
        "cluster); null: Ray's default (RAY_ADDRESS, a running local cluster, else a new one)"))
    ray_workers: Optional[int] = Field(None, ge=1, le=4096, description=(
        "engine ray: detector actors; null: one per GPU of the cluster, else one per CPU less the classifier's"))
    scan: ScanConfig = Field(default_factory=ScanConfig)
    ensemble: EnsembleConfig = Field(default_factory=EnsembleConfig)
    after_run: AfterRunConfig = Field(default_factory=AfterRunConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    static: StaticConfig = Field(default_factory=StaticConfig)
    video: VideoConfig = Field(default_factory=VideoConfig)

    @field_validator("ray_address")
    @classmethod
    def _ray_address(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        value = value.strip()
        if value in ("auto", "local") or _RAY_ADDRESS.match(value):
            return value
        raise ValueError("use auto, local, ray://HEAD:10001 or HEAD:6379")

    @model_validator(mode="after")
    def _ray_decode(self):
        if self.engine == "ray" and self.decode == "device":
            raise ValueError("decode: device does not run on the Ray engine yet: use decode full or fast (or auto)")
        return self


_RAY_ADDRESS = re.compile(r"^(ray://)?[A-Za-z0-9_.\-\[\]:]+:\d+$")


def resolve_decode(decode: str, device_type: str) -> str:
    """The decode mode a run uses: `auto` is `device` on a CUDA GPU (where decoding on the host is the wall and
    the device path's agreement with MegaDetector is within the stated bounds, README "Speed"), else `full`."""
    if decode != "auto":
        return decode
    return "device" if device_type == "cuda" else "full"


# --- loading ------------------------------------------------------------------------------------------


def load_run_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a run config (defaults when path is None); overrides are dotted keys, e.g. from CLI flags.

    Raises ConfigError with one line naming the file, the line and the key.
    """
    data: dict[str, Any] = {}
    root = None
    source = "defaults"
    if path is not None:
        path = Path(path)
        source = str(path)
        data, root = _read_yaml(path)
    if overrides:
        for key, value in overrides.items():
            _set_dotted(data, key, value)
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_config_error(exc, source, root, RunConfig, set(overrides or ())) from None
    for section, key in (("ensemble", "geofence_file"), ("ensemble", "taxonomy_file"), ("scan", "deployments")):
        value = getattr(getattr(config, section), key)
        if not value:
            continue
        from_flag = f"{section}.{key}" in (overrides or {})
        resolved = Path(value).expanduser()
        if not resolved.is_absolute() and path is not None and not from_flag:
            resolved = path.parent / resolved
        if not resolved.is_file():
            where = "command-line override" if from_flag or path is None else _where(
                source, _line_of(root, (section, key)))
            raise ConfigError(f"{where}: {section}.{key}: no such file {str(resolved)!r}",
                              "give a path relative to the config file, or null")
        setattr(getattr(config, section), key, str(resolved.resolve()))
    return config


def read_yaml(path: Path) -> tuple[dict[str, Any], Any]:
    """(data, composed root node for line numbers) of a YAML settings file; ConfigError when it cannot be read."""
    return _read_yaml(path)


def _read_yaml(path: Path) -> tuple[dict[str, Any], Any]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found",
                          "check the path, or leave it out for the defaults") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{_where(str(path), mark.line + 1 if mark else None)}: not valid YAML: {problem}",
                          "check indentation and quoting") from None
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings, not {type(data).__name__}",
                          "start with keys such as 'detector:' or 'ensemble:'")
    _check_duplicates(root, str(path), ())
    return data, root


def _check_duplicates(node, source: str, loc: tuple) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise ConfigError(f"{_where(source, key_node.start_mark.line + 1)}: {_dotted(loc + (key,))}: "
                                  "key appears twice", "keep one of them")
            seen.add(key)
            _check_duplicates(value_node, source, loc + (key,))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_duplicates(item, source, loc + (index,))


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


# --- one-line errors ----------------------------------------------------------------------------------


def validation_config_error(exc: ValidationError, source: str, yaml_root=None, model: type[BaseModel] | None = None,
                            overrides: set[str] | None = None) -> ConfigError:
    """A pydantic ValidationError as one ConfigError line: 'file:line: dotted.key: problem (fix)'."""
    problem, fix = describe_validation_error(exc, source, yaml_root, model, overrides)
    return ConfigError(problem, fix)


def describe_validation_error(exc: ValidationError, source: str, yaml_root=None,
                              model: type[BaseModel] | None = None,
                              overrides: set[str] | None = None) -> tuple[str, str | None]:
    """(problem, fix) for the first error, with a count of the others, all on one line."""
    errors, seen = [], set()
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if loc not in seen:  # a union reports one error per branch: the first says enough
            seen.add(loc)
            errors.append(error)
    # In file order, so the first one named is the first one the user meets.
    errors.sort(key=lambda error: _line_of(yaml_root, tuple(error["loc"])) or 0)
    parts, fix = [], None
    for index, error in enumerate(errors):
        loc = tuple(error["loc"])
        dotted = _dotted(loc)
        from_override = overrides and any(dotted == key or dotted.startswith(key + ".") for key in overrides)
        where = "command-line override" if from_override else _where(source, _line_of(yaml_root, loc))
        if error["type"] == "extra_forbidden":
            parent, key = loc[:-1], loc[-1]
            text = f"{_dotted(parent) or 'top level'}: unknown key {key!r}"
            hint = _unknown_key_hint(model, parent, str(key))
        elif error["type"] == "missing":
            text, hint = f"{dotted}: missing", "add it"
        else:
            message = _message(error)
            text = f"{dotted}: {message}"
            if "input" in error and not isinstance(error["input"], (dict, list)):
                text += f", got {error['input']!r}"
            hint = None
        parts.append(f"{where}: {text}" if index == 0 else f"{text}")
        if index == 0:
            fix = hint
    problem = parts[0]
    if len(parts) > 1:
        problem += f"; also {'; '.join(parts[1:])}"
    return problem, fix


def _message(error: dict) -> str:
    message = str(error.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    if message.startswith("Input should"):
        message = "should" + message[len("Input should"):]
    return message[:1].lower() + message[1:]


def _unknown_key_hint(model: type[BaseModel] | None, parent: tuple, key: str) -> str | None:
    fields = _fields_at(model, parent) if model is not None else None
    if not fields:
        return "remove it"
    close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "valid keys: " + ", ".join(fields)


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str] | None:
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return None
        current = _model_of(current.model_fields[part].annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _line_of(root, loc: tuple) -> int | None:
    """1-based line of the YAML node at loc (the key's line for a missing or unknown key)."""
    if root is None:
        return None
    import yaml

    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    node, line = value_node, key_node.start_mark.line + 1
                    break
            else:
                return line if line is not None else node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _dotted(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _where(source: str, line: int | None) -> str:
    return f"{source}:{line}" if line else source
