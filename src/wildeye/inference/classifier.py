"""Species classifiers behind one interface: crop a detection, classify a batch of crops, get top-k labels.

Two kinds, told apart by `load_classifier`:

- SpeciesNet (Google's folder or .pt file): crops and pixels prepared exactly as speciesnet >= 5 prepares them, so
  its published thresholds (species > 0.8, blank > 0.99) keep their meaning. What we match, from
  speciesnet/classifier.py (`SpeciesNetClassifier.preprocess` and `.batch_predict`):
    1. crop: `F.crop(img, int(ymin*H), int(xmin*W), int(h*H), int(w*W))` on the float image: box edges truncated
       toward zero, parts of the box outside the frame filled with black (torchvision pads with 0), no padding;
       "full_image" models instead drop the top and bottom of the frame: height max(int(0.7*H), H-400), centred;
    2. `F.resize(crop, [480, 480], antialias=False)`: bilinear, aspect ratio not kept, no antialiasing;
    3. back to uint8 with `F.convert_image_dtype` (x * 255.999, truncated), then `arr / 255.0` as float32;
    4. NHWC batch into the module, `torch.softmax(logits, -1)`, `torch.topk` (k=5 by default).
  One deviation: a box under one pixel wide or high is widened to one pixel (SpeciesNet would fail on it).
- wildeye package (model.json + safetensors, a timm model): box padded by `crop_padding` and clipped to the
  frame, resized with antialiasing, normalized with the package's mean/std, NCHW: the transform `wildeye train`
  uses, via the same `preprocess`.

Crops come from frames already in memory (RGB uint8 HxWx3, possibly decoded at reduced size: boxes are
normalized, so they apply at any scale). Decoding at reduced size changes SpeciesNet's pixels slightly, since
its resize does not antialias; decode at least at the crop's final size where exact parity matters.
"""

from __future__ import annotations

import contextlib
import logging
import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from wildeye.errors import WildeyeError

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

BBox = Sequence[float]  # normalized [x_min, y_min, width, height], origin top-left (MegaDetector's bbox)
TopK = list[tuple[str, float]]

DEFAULT_TOP_K = 5  # SpeciesNet's NUM_CLASSIFICATIONS_FOR_ENSEMBLE
DEFAULT_BATCH_SIZE = 8  # SpeciesNet's max_crop_batch_size; raise it on a large GPU
PRECISIONS = ("fp32", "fp16", "bf16")


class Classifier(ABC):
    """Common interface; subclasses say how to crop and how to turn crops into the model's input tensor."""

    kind: str
    labels: list[str]
    input_size: int
    default_padding: float = 0.0

    def __init__(self, module: Any, labels: list[str], input_size: int, device: Any = "auto",
                 batch_size: int = DEFAULT_BATCH_SIZE, half: bool | None = None, precision: str | None = None,
                 runtime: str = "torch", onnx_cache_dir: Any = None):
        import torch

        from wildeye.inference.device import select_device

        self.device = device if isinstance(device, torch.device) else select_device(str(device))
        if precision is None:
            precision = "fp16" if ((self.device.type == "cuda") if half is None else half) else "fp32"
        if precision not in PRECISIONS:
            raise WildeyeError(f"classifier precision {precision!r} is not one of {', '.join(PRECISIONS)}",
                               "use fp32 (SpeciesNet's own scores), fp16 or bf16")
        if runtime not in ("torch", "onnxruntime"):
            raise WildeyeError(f"classifier runtime {runtime!r} is not torch or onnxruntime", "use one of them")
        if runtime == "onnxruntime" and (self.device.type != "cpu" or precision != "fp32"):
            raise WildeyeError(f"the onnxruntime classifier runs fp32 on the CPU, not {precision} on "
                               f"{self.device.type}", "use classifier.runtime: torch for other devices and precisions")
        self.precision = precision
        self.half = precision == "fp16"
        self.runtime = runtime
        self.onnx_cache_dir = onnx_cache_dir
        self.labels = list(labels)
        self.input_size = int(input_size)
        if batch_size < 1:
            raise WildeyeError(f"batch size {batch_size} is not positive", "use a batch size of 1 or more")
        self.batch_size = int(batch_size)
        self.files: dict = {}  # files the model came with, e.g. SpeciesNet's taxonomy and geofence
        self.taxonomy: dict[str, str] = {}  # plain label -> 7-field taxonomy string (a package's model.json)
        # fp16/bf16 through autocast, not module.half(): converted graphs hold constants .half() would miss.
        self.module = module.to(self.device).eval()
        self._network = None  # the ONNX Runtime session, made on the first batch (export needs a sample)

    # --- crops ---------------------------------------------------------------------------------------------

    @abstractmethod
    def crop_detection(self, image: np.ndarray, bbox: BBox, padding: float | None = None) -> np.ndarray:
        """The uint8 HxWx3 crop this classifier looks at for one detection box."""

    def crop_image(self, image: np.ndarray) -> np.ndarray:
        """The crop for a whole frame (no detection): the full frame."""
        return self.crop_detection(image, (0.0, 0.0, 1.0, 1.0), padding=0.0)

    # --- classification -----------------------------------------------------------------------------------

    @abstractmethod
    def preprocess(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        """A float32 CPU batch in the layout and value range the module expects."""

    def forward_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits (float32, CPU) for a batch `preprocess` made: lets a DataLoader worker do the preprocessing.

        fp16 and bf16 run under autocast (bf16 with channels-last activations, which oneDNN's bf16 kernels
        want); onnxruntime runs the module exported to ONNX (inference/onnx_runtime.py), the same fp32 sums in
        another order: scores within ~1e-6 of PyTorch's (tests/test_fast_paths.py).
        """
        import torch

        if self.runtime == "onnxruntime" and len(batch):
            network = self._onnx(batch)
            if network is not None:
                return network(batch).float()
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.precision)
        cast = torch.autocast(self.device.type, dtype=dtype) if dtype else contextlib.nullcontext()
        with torch.inference_mode():
            if self.device.type == "cuda" and batch.device.type == "cpu":  # crops made on the device are there
                batch = batch.pin_memory()
            batch = batch.to(self.device, non_blocking=True)
            if self.precision == "bf16" and batch.dim() == 4:
                batch = batch.contiguous(memory_format=torch.channels_last)
            with cast:
                out = self.module(batch)
            if isinstance(out, (tuple, list)):
                out = out[0]
            return out.float().cpu()

    def _onnx(self, sample: torch.Tensor):
        """The ONNX Runtime session (exported on first use); None, and PyTorch from then on, for a module the
        exporter cannot trace (a converted graph with an operator it lacks): slower, never wrong."""
        if self._network is None:
            from wildeye.inference.onnx_runtime import OnnxNetwork

            try:
                self._network = OnnxNetwork.for_classifier(self.module, sample[:1].contiguous(),
                                                           cache_dir=self.onnx_cache_dir)
            except WildeyeError:
                raise
            except Exception as exc:  # noqa: BLE001  (the exporter raises many kinds)
                logger.warning("the classifier could not be exported to ONNX (%s: %s): running it in PyTorch",
                               type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
                self.runtime = "torch"
        return self._network

    def logits(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        """Raw float32 outputs, one row per crop, computed in batches of `batch_size` (CPU tensor)."""
        import torch

        rows = [self.forward_batch(self.preprocess(crops[start:start + self.batch_size]))
                for start in range(0, len(crops), self.batch_size)]
        if not rows:
            return torch.empty((0, len(self.labels)))
        return torch.cat(rows)

    def scores(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        """Softmax over all labels, one row per crop."""
        import torch

        return torch.softmax(self.logits(crops), dim=-1)

    def classify(self, crops: Sequence[np.ndarray], top_k: int | None = DEFAULT_TOP_K) -> list[TopK]:
        """Top-k (label, score) per crop, best first; `top_k=None` gives every label."""
        return self.top_labels(self.scores(crops), top_k)

    def top_labels(self, scores: torch.Tensor, top_k: int | None = DEFAULT_TOP_K) -> list[TopK]:
        """Top-k (label, score) per row of softmax scores, best first; `top_k=None` gives every label."""
        import torch

        if scores.shape[0] == 0:
            return []
        k = scores.shape[1] if top_k is None else max(1, min(int(top_k), scores.shape[1]))
        values, indices = torch.topk(scores, k=k, dim=-1)
        return [[(self.labels[i], float(v)) for v, i in zip(row_v.tolist(), row_i.tolist())]
                for row_v, row_i in zip(values, indices)]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self.labels)} labels, {self.input_size} px, {self.device}, "
                f"{self.precision}{', onnxruntime' if self.runtime == 'onnxruntime' else ''})")


# --- SpeciesNet ----------------------------------------------------------------------------------------------


def speciesnet_crop(image: np.ndarray, bbox: BBox, padding: float = 0.0) -> np.ndarray:
    """SpeciesNet's crop rule (`F.crop` with int() edges; outside the frame is black), on a uint8 array.

    `padding` (a fraction of the box added on each side) is a wildeye extension; SpeciesNet uses 0.
    """
    image = _check_image(image)
    height, width = image.shape[:2]
    top, left, crop_h, crop_w = speciesnet_window(bbox, padding, height, width)
    out = np.zeros((crop_h, crop_w, 3), dtype=np.uint8)
    src_top, src_left = max(top, 0), max(left, 0)
    src_bottom, src_right = min(top + crop_h, height), min(left + crop_w, width)
    if src_bottom > src_top and src_right > src_left:
        out[src_top - top:src_bottom - top, src_left - left:src_right - left] = \
            image[src_top:src_bottom, src_left:src_right]
    return out


def speciesnet_window(bbox: BBox, padding: float, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, height, width) of SpeciesNet's crop in a height x width frame: int() edges, at least 1 px."""
    x, y, w, h = _padded_box(bbox, padding)
    return int(y * height), int(x * width), max(1, int(h * height)), max(1, int(w * width))


def speciesnet_full_image_rows(height: int) -> tuple[int, int]:
    """(top, rows) SpeciesNet's "full_image" crop keeps: max(int(0.7*H), H-400) rows, centred (`F.center_crop`)."""
    target = max(int(height * (1.0 - 0.3)), height - 400)
    return int(round((height - target) / 2.0)), target


def speciesnet_full_image_crop(image: np.ndarray) -> np.ndarray:
    """SpeciesNet's "full_image" rule: keep the middle rows, height max(int(0.7*H), H-400) (`F.center_crop`)."""
    image = _check_image(image)
    top, target = speciesnet_full_image_rows(image.shape[0])
    return np.ascontiguousarray(image[top:top + target])


class SpeciesNetClassifier(Classifier):
    """Google's SpeciesNet classifier (onnx2torch module, NHWC input in [0, 1], 480 px)."""

    kind = "speciesnet"

    def __init__(self, module: Any, labels: list[str], model_type: str = "always_crop", *,
                 input_size: int = 480, version: str | None = None, path: Path | None = None, **kwargs: Any):
        super().__init__(module, labels, input_size, **kwargs)
        self.model_type = model_type
        self.version = version
        self.path = path

    def crop_detection(self, image: np.ndarray, bbox: BBox, padding: float | None = None) -> np.ndarray:
        """"always_crop": the box, SpeciesNet's way; "full_image": the frame minus its strips (box ignored)."""
        if self.model_type == "full_image":
            return speciesnet_full_image_crop(image)
        return speciesnet_crop(image, bbox, self.default_padding if padding is None else padding)

    def crop_image(self, image: np.ndarray) -> np.ndarray:
        if self.model_type == "full_image":
            return speciesnet_full_image_crop(image)
        return speciesnet_crop(image, (0.0, 0.0, 1.0, 1.0))

    def preprocess(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        import torch
        import torchvision.transforms.functional as F

        size = [self.input_size, self.input_size]
        out = [speciesnet_pixels(torch.from_numpy(_check_image(crop)).permute(2, 0, 1).contiguous(), self.input_size)
               for crop in crops]
        if not out:
            return torch.empty((0, *size, 3))
        return torch.stack(out)


def speciesnet_pixels(chw: torch.Tensor, input_size: int) -> torch.Tensor:
    """One uint8 3 x H x W crop (on any device) as SpeciesNet feeds it: HxWx3 float32 (steps 2-3 above)."""
    import torch
    import torchvision.transforms.functional as F

    chw = F.convert_image_dtype(chw, torch.float32)
    chw = F.resize(chw, [input_size, input_size], antialias=False)
    hwc = F.convert_image_dtype(chw, torch.uint8).permute(1, 2, 0)
    return (hwc.to(torch.float64) / 255.0).to(torch.float32)  # numpy's `arr / 255.0`, then float32


# --- wildeye packages ----------------------------------------------------------------------------------------


def padded_crop(image: np.ndarray, bbox: BBox, padding: float = 0.0) -> np.ndarray:
    """The box grown by `padding` of its size on each side, clipped to the frame, edges rounded outward."""
    image = _check_image(image)
    top, bottom, left, right = padded_window(bbox, padding, *image.shape[:2])
    return np.ascontiguousarray(image[top:bottom, left:right])


def padded_window(bbox: BBox, padding: float, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of `padded_crop`'s window in a height x width frame."""
    x, y, w, h = _padded_box(bbox, padding)
    left = min(max(math.floor(x * width), 0), width - 1)
    top = min(max(math.floor(y * height), 0), height - 1)
    right = max(min(math.ceil((x + w) * width), width), left + 1)
    bottom = max(min(math.ceil((y + h) * height), height), top + 1)
    return top, bottom, left, right


class PackageClassifier(Classifier):
    """A wildeye model package: a timm model, NCHW input normalized with the package's mean/std."""

    kind = "wildeye-package"

    def __init__(self, module: Any, info: Any, *, path: Path | None = None, **kwargs: Any):
        super().__init__(module, info.labels, info.input_size, **kwargs)
        self.info = info
        self.path = path
        self.default_padding = float(info.crop_padding)
        self.thresholds = dict(info.thresholds)
        self.taxonomy = dict(getattr(info, "taxonomy", None) or {})

    def crop_detection(self, image: np.ndarray, bbox: BBox, padding: float | None = None) -> np.ndarray:
        return padded_crop(image, bbox, self.default_padding if padding is None else padding)

    def preprocess(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        return package_transform(crops, self.info.input_size, self.info.mean, self.info.std, self.info.interpolation)


def package_transform(crops: Sequence[np.ndarray], input_size: int, mean: Sequence[float], std: Sequence[float],
                      interpolation: str = "bilinear") -> torch.Tensor:
    """uint8 HWC crops -> normalized float32 NCHW batch: shared by inference and `wildeye train` evaluation."""
    import torch

    out = [package_pixels(torch.from_numpy(_check_image(crop)).permute(2, 0, 1).contiguous(), input_size, mean, std,
                          interpolation) for crop in crops]
    if not out:
        return torch.empty((0, 3, input_size, input_size))
    return torch.stack(out)


def package_pixels(chw: torch.Tensor, input_size: int, mean: Sequence[float], std: Sequence[float],
                   interpolation: str = "bilinear") -> torch.Tensor:
    """One uint8 3 x H x W crop (on any device) as a wildeye package's model takes it: normalized float32 CHW."""
    import torchvision.transforms.functional as F
    from torchvision.transforms import InterpolationMode

    chw = F.resize(chw.float().div_(255.0), [input_size, input_size], interpolation=InterpolationMode(interpolation),
                   antialias=True)
    return F.normalize(chw, list(mean), list(std))


# --- loading -------------------------------------------------------------------------------------------------


def classifier_from_loaded(loaded: Any, device: Any = "auto", *, batch_size: int = DEFAULT_BATCH_SIZE,
                           half: bool | None = None, **options: Any) -> Classifier:
    """The Classifier for a `wildeye.models.create_model(..., "classifier")` result, by its kind; `files` keeps what
    the model shipped with (SpeciesNet's taxonomy and geofence)."""
    if loaded.kind == "wildeye-package":
        from wildeye.models.package import PackageInfo

        info = PackageInfo(**loaded.metadata["package"])
        classifier: Classifier = PackageClassifier(loaded.module, info, path=loaded.path, device=device,
                                                   batch_size=batch_size, half=half, **options)
    elif loaded.kind == "speciesnet":
        classifier = SpeciesNetClassifier(loaded.module, loaded.labels,
                                          loaded.metadata.get("model_type", "always_crop"),
                                          input_size=loaded.image_size, version=loaded.version,
                                          path=loaded.files.get("classifier", loaded.path), device=device,
                                          batch_size=batch_size, half=half, **options)
    else:
        raise WildeyeError(f"{loaded.path} is a {loaded.kind} model, not a classifier",
                           "pass a SpeciesNet model or a wildeye package as the classifier")
    classifier.files = dict(loaded.files)
    return classifier


def load_classifier(path: str | Path, device: Any = "auto", *, batch_size: int = DEFAULT_BATCH_SIZE,
                    half: bool | None = None, **options: Any) -> Classifier:
    """A folder with model.json is a wildeye package; a SpeciesNet folder (info.json) or .pt file is SpeciesNet."""
    from wildeye.models import package, speciesnet
    from wildeye.models.cache import trusted_by_cache

    path = Path(path).expanduser()
    if not path.exists():
        raise WildeyeError(f"classifier {path} not found", "pass a wildeye package folder, or a SpeciesNet folder/.pt")
    if package.is_package(path):
        loaded = package.load_package(path)
        return PackageClassifier(loaded.model, loaded.info, path=path, device=device, batch_size=batch_size,
                                 half=half, **options)
    if speciesnet.is_speciesnet_path(path):
        model = speciesnet.load_speciesnet(path, trusted=trusted_by_cache)
        return SpeciesNetClassifier(model.module, model.labels, model.model_type, input_size=speciesnet.INPUT_SIZE,
                                    version=model.version, path=model.path, device=device, batch_size=batch_size,
                                    half=half, **options)
    raise WildeyeError(f"{path} is neither a wildeye model package (model.json) nor a SpeciesNet model "
                       "(info.json or .pt)", "pass the package folder, the SpeciesNet folder, or its .pt file")


# --- helpers -------------------------------------------------------------------------------------------------


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise ValueError(f"expected an RGB uint8 HxWx3 array, got {type(image).__name__} {shape} "
                         f"{getattr(image, 'dtype', '')}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"empty image {image.shape}")
    return image


def _padded_box(bbox: BBox, padding: float) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w < 0 or h < 0:
        raise ValueError(f"bad bbox {list(bbox)}: want finite [x_min, y_min, width, height] with width, height >= 0")
    if padding < 0:
        raise ValueError(f"padding {padding} is negative")
    return x - padding * w, y - padding * h, w * (1 + 2 * padding), h * (1 + 2 * padding)
