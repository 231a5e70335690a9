"""MegaDetector: boxes for animals, people and vehicles, the way MegaDetector's own PyTorch detector makes them.

Pre- and post-processing follow `megadetector/detection/pytorch_detector.py` in its default ("classic")
compatibility mode, so someone switching from MegaDetector gets the same boxes:

- letterbox to `image_size` on the long side (1280 for MDv5), scaling up small images too, padding with grey
  114 to the smallest multiple of MegaDetector's letterbox stride, centred. MegaDetector picks that stride from
  the model's own image size, not from the network: 64 when it is 1280 (MDv5a/b, and any checkpoint without
  image-size metadata), else 32 (PTDetector.__init__, `letterbox_stride`);
- RGB, /255, float32 (other precisions and ONNX Runtime only when asked for: see `Detector`);
- objectness > floor, then objectness x class score > floor (floor 0.005, MegaDetector's output default),
  best class per box, class-aware NMS at IoU 0.45 (torchvision), 300 boxes at most;
- boxes mapped back to the input image (gain and padding recomputed from the shapes, clipped, rounded to
  whole pixels), normalised [x_min, y_min, w, h] truncated to 4 decimals, confidence truncated to 3;
- class 0/1/2 -> animal/person/vehicle (MegaDetector categories "1"/"2"/"3"), most confident first.

The input shape depends only on each image's own size, so frames of one camera share a shape and a batch
is one tensor (mixed sizes: one tensor per size). On accelerators that tensor goes through the network in one
call. On CPU the frames of a batch go through one at a time: batching gains nothing there (YOLOv5x6 at
1280x960 on 2 cores: 2.5 s/frame alone, 3.0 s/frame in fours), and oneDNN picks different convolution kernels
for different batch sizes, so only this way is a frame's result independent of its batch (a resumed run gives
the same boxes) and bit-for-bit what MegaDetector computes for it.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from wildeye.errors import WildeyeError
from wildeye.records import Detection

__all__ = [
    "DEFAULT_IMAGE_SIZE", "DEFAULT_CONF_FLOOR", "NMS_IOU", "MAX_DETECTIONS", "PAD_COLOR", "CLASS_NAMES",
    "Letterboxed", "letterbox", "prepare", "letterbox_tensor", "resize_linear", "prepare_tensor", "stack_inputs",
    "nms", "scale_boxes", "to_detections", "Detector", "choose_path", "PRECISIONS", "RUNTIMES",
]

DEFAULT_IMAGE_SIZE = 1280  # MegaDetector's default when a model file carries no image size (MDv5a/b)
DEFAULT_CONF_FLOOR = 0.005  # MegaDetector's DEFAULT_OUTPUT_CONFIDENCE_THRESHOLD
NMS_IOU = 0.45  # MegaDetector's "classic" NMS IoU
MAX_DETECTIONS = 300
PAD_COLOR = 114
CONF_DIGITS = 3
COORD_DIGITS = 4
CLASS_NAMES = ("animal", "person", "vehicle")  # model class index -> MegaDetector category name


# --------------------------------------------------------------------------------------------------
# Preprocessing
# --------------------------------------------------------------------------------------------------

@dataclass
class Letterboxed:
    """One frame ready for the network: uint8 RGB at model input size, and the size it came from.

    `image` is HxWx3 (numpy, from `prepare`) or 3xHxW (a torch tensor on the model's device, from `prepare_tensor`).
    """

    image: np.ndarray | torch.Tensor
    source_shape: tuple[int, int]  # (height, width) of the frame the boxes are normalised to

    @property
    def input_shape(self) -> tuple[int, int]:
        if isinstance(self.image, np.ndarray):
            return self.image.shape[0], self.image.shape[1]
        return int(self.image.shape[-2]), int(self.image.shape[-1])


def letterbox(image: np.ndarray, new_shape: int | tuple[int, int], *, stride: int = 32, auto: bool = True,
              scaleup: bool = True, color: int = PAD_COLOR) -> np.ndarray:
    """Resize keeping aspect ratio and pad, exactly as YOLOv5's letterbox (which MegaDetector calls).

    auto=True pads only up to the next multiple of `stride` (MegaDetector's default); auto=False pads to
    `new_shape` itself.
    """
    shape = image.shape[:2]
    new_unpad, (top, bottom, left, right) = _letterbox_geometry(shape, new_shape, stride, auto, scaleup)
    if shape[::-1] != new_unpad:
        image = cv2.resize(image, new_unpad, interpolation=cv2.INTER_LINEAR)
    return cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(color, color, color))


def _letterbox_geometry(shape: tuple[int, int], new_shape: int | tuple[int, int], stride: int, auto: bool,
                        scaleup: bool) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """YOLOv5's letterbox arithmetic: the resized (width, height) and the (top, bottom, left, right) padding."""
    if isinstance(new_shape, int):
        new_shape = (new_shape, new_shape)
    r = min(new_shape[0] / shape[0], new_shape[1] / shape[1])
    if not scaleup:
        r = min(r, 1.0)
    new_unpad = round(shape[1] * r), round(shape[0] * r)
    dw, dh = new_shape[1] - new_unpad[0], new_shape[0] - new_unpad[1]
    if auto:
        dw, dh = dw % stride, dh % stride
    dw, dh = dw / 2, dh / 2
    return new_unpad, (round(dh - 0.1), round(dh + 0.1), round(dw - 0.1), round(dw + 0.1))


def _as_rgb(image) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"expected an RGB image array (H x W x 3), got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {array.dtype}")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.shape[2] == 4:
        array = array[:, :, :3]
    return np.ascontiguousarray(array)


def prepare(image: np.ndarray, image_size: int, stride: int, *, square: bool = False) -> Letterboxed:
    """Letterbox one RGB frame for a detector; needs no model, so DataLoader workers can do it.

    square=True pads every frame to image_size x image_size (any mix of orientations shares one tensor),
    at the cost of boxes that differ slightly from MegaDetector's.
    """
    rgb = _as_rgb(image)
    boxed = letterbox(rgb, image_size, stride=stride, auto=not square, scaleup=True)
    return Letterboxed(boxed, (rgb.shape[0], rgb.shape[1]))


# --- the same on the model's device (decode: device) -----------------------------------------------------

_COEF_BITS = 11  # OpenCV's INTER_RESIZE_COEF_BITS: bilinear weights are 11-bit fixed point for 8-bit images


@functools.lru_cache(maxsize=64)
def _linear_taps(src: int, dst: int, edge: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and fixed-point weights of OpenCV's bilinear resize along one axis.

    OpenCV (imgproc/src/resize.cpp, resizeGeneric's coefficient loop): the source position is computed in float32,
    `(d + 0.5) * scale - 0.5`, floored; weights `1 - f` and `f` are rounded to 11 bits. Horizontally (`edge`) a
    position left of the first pixel or at/after the last takes that pixel alone; vertically the row indices are
    clamped and the weights kept.
    """
    scale = src / dst  # a double, as OpenCV's scale_x/scale_y
    f = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    f = (f - s.astype(np.float32)).astype(np.float32)
    if edge:
        low, high = s < 0, s >= src - 1
        f[low], s[low] = 0, 0
        f[high], s[high] = 0, src - 1
    one = np.float32(1 << _COEF_BITS)
    w0 = np.rint((np.float32(1) - f) * one).astype(np.int32)  # saturate_cast<short>: round half to even
    w1 = np.rint(f * one).astype(np.int32)
    return np.clip(s, 0, src - 1), np.clip(s + 1, 0, src - 1), w0, w1


def resize_linear(images: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """OpenCV's `cv2.resize(..., interpolation=INTER_LINEAR)` for uint8 N x C x H x W tensors, bit for bit, with
    integer torch ops on any device.

    The fixed-point path OpenCV takes for 8-bit images (imgproc/src/resize.cpp): a horizontal pass
    `S[x0] * a0 + S[x1] * a1` with 11-bit weights (HResizeLinear), then a vertical pass rounded as its SIMD kernel
    does (VResizeLinearVec_32s8u: `((r0 >> 4) * b0 >> 16) + ((r1 >> 4) * b1 >> 16)`, then `+ 2 >> 2`, saturated).
    tests/test_device_letterbox.py checks it against the installed cv2 on real frames and random shapes.
    """
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(f"expected uint8 N x C x H x W images, got {images.dtype} {tuple(images.shape)}")
    src_h, src_w = int(images.shape[-2]), int(images.shape[-1])
    device = images.device
    y0, y1, b0, b1 = (torch.from_numpy(v).to(device) for v in _linear_taps(src_h, height, False))
    x0, x1, a0, a1 = (torch.from_numpy(v).to(device) for v in _linear_taps(src_w, width, True))

    def pass_(rows: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """One source row per output row: horizontal pass, then `(. >> 4) * b >> 16` (int32, in place)."""
        left = rows.index_select(3, x0).to(torch.int32).mul_(a0)
        left.add_(rows.index_select(3, x1).to(torch.int32).mul_(a1))
        return left.bitwise_right_shift_(4).mul_(weight.view(-1, 1)).bitwise_right_shift_(16)

    out = pass_(images.index_select(2, y0), b0).add_(pass_(images.index_select(2, y1), b1))
    return out.add_(2).bitwise_right_shift_(2).clamp_(0, 255).to(torch.uint8)


def letterbox_tensor(images: torch.Tensor, new_shape: int | tuple[int, int], *, stride: int = 32, auto: bool = True,
                     scaleup: bool = True, color: int = PAD_COLOR) -> torch.Tensor:
    """`letterbox` for a batch of same-size uint8 N x 3 x H x W frames on their device: the same arithmetic, OpenCV's
    resize (`resize_linear`) and YOLOv5's grey 114 padding, so the pixels equal `letterbox`'s."""
    shape = (int(images.shape[-2]), int(images.shape[-1]))
    (new_w, new_h), (top, bottom, left, right) = _letterbox_geometry(shape, new_shape, stride, auto, scaleup)
    resized = images if (new_h, new_w) == shape else resize_linear(images, new_h, new_w)
    out = torch.full((images.shape[0], images.shape[1], new_h + top + bottom, new_w + left + right), color,
                     dtype=torch.uint8, device=images.device)
    out[..., top:top + new_h, left:left + new_w] = resized
    return out


def prepare_tensor(images: Sequence[torch.Tensor], image_size: int, stride: int, *,
                   square: bool = False) -> list[Letterboxed]:
    """`prepare` for upright 3 x H x W uint8 RGB tensors (on the model's device): frames of one size are letterboxed
    in one batched call; the results stay on the device."""
    out: list[Letterboxed | None] = [None] * len(images)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3 or min(image.shape[1:]) < 1:
            raise ValueError(f"image {index}: expected a uint8 3 x H x W tensor, got {image.dtype} "
                             f"{tuple(image.shape)}")
        by_shape.setdefault(tuple(image.shape), []).append(index)
    for shape, indices in by_shape.items():
        boxed = letterbox_tensor(torch.stack([images[i] for i in indices]), image_size, stride=stride,
                                 auto=not square, scaleup=True)
        for i, one in zip(indices, boxed):
            out[i] = Letterboxed(one, (int(shape[1]), int(shape[2])))
    return out  # type: ignore[return-value]


def stack_inputs(images: Sequence[np.ndarray | torch.Tensor], device) -> torch.Tensor:
    """Letterboxed frames of one shape as one uint8 N x 3 x H x W tensor on `device`: HxWx3 host arrays through
    pinned memory on CUDA (an asynchronous copy), 3xHxW tensors already there stacked where they are."""
    if images and isinstance(images[0], torch.Tensor):
        return torch.stack(list(images)).to(device)
    batch = torch.from_numpy(np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2)))
    if torch.device(device).type == "cuda":
        batch = batch.pin_memory()
    return batch.to(device, non_blocking=True)


# --------------------------------------------------------------------------------------------------
# Postprocessing
# --------------------------------------------------------------------------------------------------

def nms(prediction: torch.Tensor, conf_thres: float = DEFAULT_CONF_FLOOR, iou_thres: float = NMS_IOU,
        max_det: int = MAX_DETECTIONS) -> list[torch.Tensor]:
    """MegaDetector's NMS: per image, [x1, y1, x2, y2, conf, class] rows, most confident first.

    prediction: (batch, boxes, 5 + nc) as the network returns it, [xc, yc, w, h, obj, class scores...].
    Keeps obj > conf_thres, scores each box by its best obj x class score (> conf_thres), runs torchvision's
    NMS per class, then sorts by score and keeps max_det.
    """
    from torchvision.ops import nms as box_nms  # noqa: PLC0415  (torchvision is slow to import)

    output = []
    for x in prediction:
        x = x[x[:, 4] > conf_thres]
        if x.shape[0] == 0:
            output.append(torch.zeros((0, 6), device=prediction.device))
            continue
        box = torch.empty_like(x[:, :4])
        box[:, 0] = x[:, 0] - x[:, 2] / 2.0
        box[:, 1] = x[:, 1] - x[:, 3] / 2.0
        box[:, 2] = x[:, 0] + x[:, 2] / 2.0
        box[:, 3] = x[:, 1] + x[:, 3] / 2.0
        best_conf, best_class = (x[:, 5:] * x[:, 4:5]).max(1, keepdim=True)
        keep = best_conf.view(-1) > conf_thres
        if not keep.any():
            output.append(torch.zeros((0, 6), device=prediction.device))
            continue
        box, best_conf, best_class = box[keep], best_conf[keep], best_class[keep]
        kept = []
        for class_id in best_class.unique():
            mask = (best_class == class_id).view(-1)
            class_boxes, class_scores = box[mask], best_conf[mask].view(-1)
            idx = box_nms(class_boxes, class_scores, iou_thres)
            if len(idx):
                cls_col = torch.full((len(idx), 1), class_id.item(), device=prediction.device, dtype=torch.float)
                kept.append(torch.cat([class_boxes[idx], class_scores[idx].unsqueeze(1), cls_col], 1))
        if kept:
            dets = torch.cat(kept, 0)
            dets = dets[dets[:, 4].argsort(descending=True)][:max_det]
            output.append(dets)
        else:
            output.append(torch.zeros((0, 6), device=prediction.device))
    return output


def scale_boxes(input_shape: tuple[int, int], boxes: torch.Tensor, source_shape: tuple[int, int]) -> torch.Tensor:
    """xyxy boxes from network-input pixels to source-image pixels, clipped (YOLOv5's scale_coords, in place).

    Gain and padding are recomputed from the two shapes, as MegaDetector's classic mode does.
    """
    gain = min(input_shape[0] / source_shape[0], input_shape[1] / source_shape[1])
    pad_x = (input_shape[1] - source_shape[1] * gain) / 2
    pad_y = (input_shape[0] - source_shape[0] * gain) / 2
    boxes[:, [0, 2]] -= pad_x
    boxes[:, [1, 3]] -= pad_y
    boxes[:, :4] /= gain
    boxes[:, 0].clamp_(0, source_shape[1])
    boxes[:, 1].clamp_(0, source_shape[0])
    boxes[:, 2].clamp_(0, source_shape[1])
    boxes[:, 3].clamp_(0, source_shape[0])
    return boxes


def _truncate(x: float, digits: int) -> float:
    return math.floor(x * 10 ** digits) / 10 ** digits


def to_detections(det: torch.Tensor, input_shape: tuple[int, int], source_shape: tuple[int, int],
                  conf_floor: float = DEFAULT_CONF_FLOOR) -> list[Detection]:
    """NMS rows for one image -> Detections with MegaDetector's box format, rounding and order.

    Same float32 arithmetic as MegaDetector (xyxy -> centre/size, divided by the image size), vectorised.
    """
    if det.shape[0] == 0:
        return []
    det = det.detach().float().cpu().clone()
    det[:, :4] = scale_boxes(input_shape, det[:, :4], source_shape).round()
    det = det.flip(0)  # MegaDetector walks the rows in reverse, then sorts (stably) by truncated confidence
    det = det[~(det[:, 4] < conf_floor)]  # compared as float32, like MegaDetector
    h, w = source_shape
    x1, y1, x2, y2 = det[:, 0], det[:, 1], det[:, 2], det[:, 3]
    xywh = torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), 1) / torch.tensor((w, h, w, h))
    out = []
    for (xc, yc, bw, bh), conf, cls in zip(xywh.tolist(), det[:, 4].tolist(), det[:, 5].tolist()):
        cls = int(cls)
        if not 0 <= cls < len(CLASS_NAMES):
            raise ValueError(f"class index {cls} is not a MegaDetector class")
        bbox = tuple(_truncate(v, COORD_DIGITS) for v in (xc - bw / 2.0, yc - bh / 2.0, bw, bh))
        out.append(Detection(category=CLASS_NAMES[cls], conf=_truncate(conf, CONF_DIGITS), bbox=bbox))
    out.sort(key=lambda d: d.conf, reverse=True)
    return out


# --------------------------------------------------------------------------------------------------
# The detector
# --------------------------------------------------------------------------------------------------

PRECISIONS = ("fp32", "fp16", "bf16")
RUNTIMES = ("torch", "onnxruntime")


def choose_path(device: torch.device, precision: str = "auto", runtime: str = "auto") -> tuple[str, str]:
    """(runtime, precision) for the settings: "auto" picks the fastest path whose agreement with MegaDetector is
    within the stated tolerance (recall of its boxes >= 99.5%, confidence change <= 0.02; measured by
    scripts/megadetector_parity.py and scripts/bench_run.py).

    On the CPU that is ONNX Runtime in fp32 when onnxruntime is installed: measured on YOLOv5x6 at 1280 px,
    2 threads, ~1.5x fewer CPU seconds for the network than eager PyTorch, and MegaDetector's own output on every
    reference frame at 640 and 1280 px. bf16 stays opt-in (at 1280 px it missed 1 of 18 reference boxes and moved
    a confidence by 0.022; on CPUs without AVX-512 BF16 / AMX it is also ~10x slower); int8 quantization was
    measured far outside the bar and is not offered. Elsewhere, and whenever `precision: fp32` is asked for
    without a runtime, eager PyTorch fp32: MegaDetector's own arithmetic, bit for bit.
    """
    if precision == "auto":
        precision = "fp32"
        if runtime == "auto" and device.type == "cpu":
            from wildeye.inference.onnx_runtime import available  # noqa: PLC0415

            runtime = "onnxruntime" if available() else "torch"
    if runtime == "auto":
        runtime = "torch"
    return runtime, precision


def _take_input_scale(model, scale: float) -> None:
    """Fold the input scaling into the first convolution's weights (conv(x * s) == conv_{w * s}(x), bias kept)."""
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        first.weight.mul_(scale)


def _device(device) -> torch.device:
    if isinstance(device, torch.device):
        device = str(device)
    from wildeye.inference.device import select_device  # noqa: PLC0415
    return select_device(device)


class Detector:
    """A YOLOv5-format MegaDetector ready to run: `detect(images) -> boxes per image`.

    The model passed in is taken over: it is fused (batch norms folded into convolutions) and moved in place.
    `batched`: send up to `batch_size` same-shape frames through the network as one tensor; default on
    accelerators only (see the module docstring).

    `runtime` and `precision` (see `choose_path` for what "auto" picks):
    - torch fp32: MegaDetector's own arithmetic, its boxes bit for bit (the reference every other path is
      measured against);
    - onnxruntime fp32 (CPU): the network exported to ONNX and run by ONNX Runtime (inference/onnx_runtime.py):
      fewer CPU seconds per frame, answers equal within float rounding;
    - torch fp16 (`half=True` is the same): fp16 weights and inputs, for GPUs;
    - torch bf16: autocast to bfloat16 with channels-last tensors, for CPUs with AVX-512 BF16 / AMX (and GPUs);
      the stem convolution's weights are divided by 255 instead of the input, so the 0-255 pixels enter the
      network exactly (bf16 holds every integer up to 256), and the Detect head's 1x1 convolutions stay in fp32
      because the box decode (`(2 * sigmoid)^2 * anchor`) magnifies their rounding.
    """

    def __init__(self, model, *, image_size: int | None = None, device="cpu",
                 conf_floor: float = DEFAULT_CONF_FLOOR, iou_threshold: float = NMS_IOU,
                 max_detections: int = MAX_DETECTIONS, batch_size: int = 8, half: bool = False,
                 square: bool = False, batched: bool | None = None,
                 checkpoint_names: Sequence[str] | None = None, source: str | None = None,
                 letterbox_stride: int | None = None, precision: str | None = None, runtime: str = "torch",
                 onnx_cache_dir: str | os.PathLike | None = None):
        from wildeye.models.yolov5_net import YOLOv5  # noqa: PLC0415

        if not isinstance(model, YOLOv5):
            raise TypeError("model must be a wildeye.models.yolov5_net.YOLOv5")
        nc = model.detect.nc
        if nc != len(CLASS_NAMES):
            raise WildeyeError(f"the detector has {nc} classes; a MegaDetector has 3 (animal, person, vehicle)",
                               "use a MegaDetector checkpoint (MDv5a, MDv5b, MDv1000-redwood/-spruce)")
        self.stride = int(max(model.stride.tolist()))
        self.image_size = int(image_size or DEFAULT_IMAGE_SIZE)
        if self.image_size <= 0 or self.image_size % self.stride:
            lower = max(self.stride, self.image_size // self.stride * self.stride)
            raise WildeyeError(f"image size {self.image_size} is not a multiple of the model stride {self.stride}",
                               f"use {lower} or {lower + self.stride}")
        if not 0.0 <= conf_floor < 1.0:
            raise WildeyeError(f"confidence floor {conf_floor} is outside [0, 1)", "use e.g. 0.005 or 0.05")
        self.device = _device(device)
        self.precision = precision or ("fp16" if half else "fp32")
        if self.precision not in PRECISIONS:
            raise WildeyeError(f"detector precision {self.precision!r} is not one of {', '.join(PRECISIONS)}",
                               "use fp32 (MegaDetector's own boxes), fp16 or bf16")
        if runtime not in RUNTIMES:
            raise WildeyeError(f"detector runtime {runtime!r} is not one of {', '.join(RUNTIMES)}",
                               "use torch or onnxruntime")
        if runtime == "onnxruntime" and (self.device.type != "cpu" or self.precision != "fp32"):
            raise WildeyeError(f"the onnxruntime detector runs fp32 on the CPU, not {self.precision} on "
                               f"{self.device.type}", "use detector.runtime: torch for other devices and precisions")
        self.half = self.precision == "fp16"
        self.runtime = runtime
        # MegaDetector's letterbox stride (see the module docstring); a P6 network needs at least its own.
        self.letterbox_stride = int(letterbox_stride or self.stride)
        self.conf_floor = float(conf_floor)
        self.iou_threshold = float(iou_threshold)
        self.max_detections = int(max_detections)
        self.batch_size = max(1, int(batch_size))
        self.square = bool(square)
        self.batched = (self.device.type != "cpu") if batched is None else bool(batched)
        self.checkpoint_names = list(checkpoint_names or model.names)
        self.source = source
        self.parameters = sum(p.numel() for p in model.parameters())  # before fusing, as the checkpoint has them
        self.arch = model.yaml
        self.strides = [int(s) for s in model.stride.tolist()]
        model = model.float().eval().fuse()  # MegaDetector fuses conv + batch norm before inference
        self.network = None  # an ONNX Runtime session standing in for self.model
        if runtime == "onnxruntime":
            from wildeye.inference.onnx_runtime import OnnxNetwork  # noqa: PLC0415

            self.network = OnnxNetwork.for_detector(model, cache_dir=onnx_cache_dir)
        elif self.precision == "bf16":
            _take_input_scale(model, 1 / 255.0)
            model = model.to(memory_format=torch.channels_last)
        # With ONNX Runtime the session holds its own copy of the weights: the PyTorch module is let go (MDv5a's
        # fp32 weights are ~0.5 GB).
        self.model = None if self.network is not None else (model.half() if self.half else model).to(self.device)

    @classmethod
    def from_loaded(cls, loaded, device="cpu", image_size: int | None = None,
                    conf_floor: float = DEFAULT_CONF_FLOOR, **options) -> Detector:
        """A Detector for a `wildeye.models.create_model(..., "detector")` result (`LoadedModel`).

        Its image size is the model's own (file metadata, else the registry's, else 1280); `image_size` overrides
        it, but MegaDetector's letterbox stride follows the model's own: 64 when that is 1280, else 32.
        """
        native = int(loaded.image_size or DEFAULT_IMAGE_SIZE)
        options.setdefault("letterbox_stride", 64 if native == 1280 else 32)
        return cls(loaded.module, image_size=int(image_size or native), device=device, conf_floor=conf_floor,
                   checkpoint_names=loaded.labels, source=str(loaded.path), **options)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, device="cpu", image_size: int | None = None,
                        conf_floor: float = DEFAULT_CONF_FLOOR, **options) -> Detector:
        """Load a YOLOv5-format MegaDetector checkpoint safely (see wildeye.models.megadetector.load_checkpoint).

        Image size: the argument, else the size stored in the file (MDv1000), else 1280 as MegaDetector does.
        Letterbox stride: 64 when the file's own size (stored, else 1280) is 1280, else 32, as MegaDetector does.
        """
        from wildeye.models.megadetector import load_checkpoint  # noqa: PLC0415

        ckpt = load_checkpoint(path)
        stored = ckpt.metadata.get("image_size")
        stored = stored if isinstance(stored, int) and not isinstance(stored, bool) and 32 <= stored <= 8192 else None
        native = stored or DEFAULT_IMAGE_SIZE
        size = image_size or native
        options.setdefault("letterbox_stride", 64 if native == 1280 else 32)
        return cls(ckpt.model, image_size=int(size), device=device, conf_floor=conf_floor,
                   checkpoint_names=ckpt.names, source=str(Path(path)), **options)

    @property
    def class_names(self) -> tuple[str, ...]:
        """Category for class index 0, 1, 2 (MegaDetector ids "1", "2", "3")."""
        return CLASS_NAMES

    def prepare(self, image: np.ndarray) -> Letterboxed:
        return prepare(image, self.image_size, self.letterbox_stride, square=self.square)

    def prepare_tensor(self, images: Sequence[torch.Tensor]) -> list[Letterboxed]:
        """`prepare` for 3 x H x W uint8 tensors on the model's device (decode: device)."""
        return prepare_tensor(images, self.image_size, self.letterbox_stride, square=self.square)

    def preparer(self):
        """A picklable `prepare` for DataLoader workers (they letterbox while the network runs)."""
        import functools

        return functools.partial(prepare, image_size=self.image_size, stride=self.letterbox_stride,
                                 square=self.square)

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Boxes for each RGB uint8 HxWx3 frame, normalised to that frame (so reduced decodes are fine)."""
        prepared = []
        for index, image in enumerate(images):
            try:
                prepared.append(self.prepare(image))
            except ValueError as exc:
                raise ValueError(f"image {index}: {exc}") from None
        return self.detect_prepared(prepared)

    def detect_prepared(self, items: Sequence[Letterboxed]) -> list[list[Detection]]:
        """Like `detect`, for frames already letterboxed (e.g. by DataLoader workers via `prepare`)."""
        results: list[list[Detection] | None] = [None] * len(items)
        by_shape: dict[tuple[int, int], list[int]] = {}
        for index, item in enumerate(items):
            by_shape.setdefault(item.input_shape, []).append(index)
        step = self.batch_size if self.batched else 1
        for shape, indices in by_shape.items():
            for start in range(0, len(indices), step):
                chunk = indices[start:start + step]
                predictions = self.predict([items[i].image for i in chunk])
                for i, det in zip(chunk, nms(predictions, self.conf_floor, self.iou_threshold, self.max_detections)):
                    results[i] = to_detections(det, shape, items[i].source_shape, self.conf_floor)
        return results  # type: ignore[return-value]

    def predict(self, images: Sequence[np.ndarray | torch.Tensor]) -> torch.Tensor:
        """Raw network output (batch, boxes, 8) in float32 for letterboxed frames of one shape."""
        if self.network is not None:  # ONNX Runtime on the host: uint8 N x 3 x H x W
            return self.network(stack_inputs(images, "cpu"))
        batch = stack_inputs(images, self.device)
        with torch.inference_mode():
            x = batch.to(self.device, non_blocking=True).float()
            if self.precision == "bf16":  # the stem divides by 255 (see the class docstring)
                with torch.autocast(self.device.type, dtype=torch.bfloat16):
                    return self.model(x.contiguous(memory_format=torch.channels_last)).float()
            x = x / 255.0
            if self.half:
                x = x.half()
            return self.model(x).float()

    def describe(self) -> dict:
        """What is running, for logs, `--json` output and batch-output metadata."""
        from wildeye.models.yolov5_net import architecture_name  # noqa: PLC0415

        return {
            "architecture": architecture_name(self.arch) or "custom YOLOv5",
            "nc": len(CLASS_NAMES),
            "class_names": list(CLASS_NAMES),
            "checkpoint_names": self.checkpoint_names,
            "stride": self.stride,
            "strides": self.strides,
            "image_size": self.image_size,
            "parameters": self.parameters,
            "device": str(self.device),
            "dtype": {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}[self.precision],
            "precision": self.precision,
            "runtime": self.runtime,
            "conf_floor": self.conf_floor,
            "nms_iou": self.iou_threshold,
            "letterbox": "square" if self.square else "auto (MegaDetector classic)",
            "letterbox_stride": self.letterbox_stride,
            "batched": self.batched,
            "batch_size": self.batch_size,
            "source": self.source,
        }
