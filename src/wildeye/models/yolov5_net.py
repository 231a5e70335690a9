"""YOLOv5 networks built from the architecture dict a checkpoint carries: the network MegaDetector runs, our own code.

MegaDetector v5 (and MDv1000-redwood/-spruce) are YOLOv5 training checkpoints whose classes live in the GPL/AGPL
`yolov5` code base, which we do not install. This module re-implements the parts those checkpoints use (YOLOv5
v6.0+ `models/common.py` and `models/yolo.py`: Conv, C3, SPPF, Detect, parse_model), under YOLOv5's own module and
attribute names (``model.24.m.0.weight``, ``Conv.conv/bn/act``, ``C3.cv1/cv2/cv3/m``, ``Detect.anchors``) so state
dicts line up one to one. Loading a file into it is wildeye.models.megadetector's job; writing one is a test
fixture's (tests/yolo_fixtures.py).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from wildeye.errors import WildeyeError

__all__ = [
    "YOLOV5S", "YOLOV5X6", "ARCHITECTURES", "MEGADETECTOR_NAMES", "PICKLED_AS",
    "Conv", "Bottleneck", "C3", "SPP", "SPPF", "Focus", "Concat", "Detect", "YOLOv5",
    "architecture", "architecture_name", "build_model", "CheckpointError",
]

MEGADETECTOR_NAMES = ("animal", "person", "vehicle")


class CheckpointError(WildeyeError):
    """The file (or the architecture dict it carries) is not a YOLOv5 checkpoint wildeye can use."""

# --------------------------------------------------------------------------------------------------
# Architecture dicts: the content of YOLOv5's published model yamls (v6.0+ layout), as data, exactly as
# yaml.safe_load returns them and checkpoints store them (YAML reads `None` as the string "None").
# --------------------------------------------------------------------------------------------------

def _v6_backbone(p6: bool) -> list:
    layers = [
        [-1, 1, "Conv", [64, 6, 2, 2]],  # 0-P1/2
        [-1, 1, "Conv", [128, 3, 2]],  # 1-P2/4
        [-1, 3, "C3", [128]],
        [-1, 1, "Conv", [256, 3, 2]],  # 3-P3/8
        [-1, 6, "C3", [256]],
        [-1, 1, "Conv", [512, 3, 2]],  # 5-P4/16
        [-1, 9, "C3", [512]],
    ]
    if p6:
        layers += [
            [-1, 1, "Conv", [768, 3, 2]],  # 7-P5/32
            [-1, 3, "C3", [768]],
            [-1, 1, "Conv", [1024, 3, 2]],  # 9-P6/64
            [-1, 3, "C3", [1024]],
            [-1, 1, "SPPF", [1024, 5]],  # 11
        ]
    else:
        layers += [
            [-1, 1, "Conv", [1024, 3, 2]],  # 7-P5/32
            [-1, 3, "C3", [1024]],
            [-1, 1, "SPPF", [1024, 5]],  # 9
        ]
    return layers


YOLOV5S: dict = {
    "nc": 80,
    "depth_multiple": 0.33,
    "width_multiple": 0.50,
    "anchors": [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]],
    "backbone": _v6_backbone(p6=False),
    "head": [
        [-1, 1, "Conv", [512, 1, 1]],
        [-1, 1, "nn.Upsample", ["None", 2, "nearest"]],
        [[-1, 6], 1, "Concat", [1]],  # cat backbone P4
        [-1, 3, "C3", [512, False]],  # 13
        [-1, 1, "Conv", [256, 1, 1]],
        [-1, 1, "nn.Upsample", ["None", 2, "nearest"]],
        [[-1, 4], 1, "Concat", [1]],  # cat backbone P3
        [-1, 3, "C3", [256, False]],  # 17 (P3/8-small)
        [-1, 1, "Conv", [256, 3, 2]],
        [[-1, 14], 1, "Concat", [1]],  # cat head P4
        [-1, 3, "C3", [512, False]],  # 20 (P4/16-medium)
        [-1, 1, "Conv", [512, 3, 2]],
        [[-1, 10], 1, "Concat", [1]],  # cat head P5
        [-1, 3, "C3", [1024, False]],  # 23 (P5/32-large)
        [[17, 20, 23], 1, "Detect", ["nc", "anchors"]],  # Detect(P3, P4, P5)
    ],
}

YOLOV5X6: dict = {
    "nc": 80,
    "depth_multiple": 1.33,
    "width_multiple": 1.25,
    "anchors": [[19, 27, 44, 40, 38, 94], [96, 68, 86, 152, 180, 137], [140, 301, 303, 264, 238, 542],
                [436, 615, 739, 380, 925, 792]],
    "backbone": _v6_backbone(p6=True),
    "head": [
        [-1, 1, "Conv", [768, 1, 1]],
        [-1, 1, "nn.Upsample", ["None", 2, "nearest"]],
        [[-1, 8], 1, "Concat", [1]],  # cat backbone P5
        [-1, 3, "C3", [768, False]],  # 15
        [-1, 1, "Conv", [512, 1, 1]],
        [-1, 1, "nn.Upsample", ["None", 2, "nearest"]],
        [[-1, 6], 1, "Concat", [1]],  # cat backbone P4
        [-1, 3, "C3", [512, False]],  # 19
        [-1, 1, "Conv", [256, 1, 1]],
        [-1, 1, "nn.Upsample", ["None", 2, "nearest"]],
        [[-1, 4], 1, "Concat", [1]],  # cat backbone P3
        [-1, 3, "C3", [256, False]],  # 23 (P3/8-small)
        [-1, 1, "Conv", [256, 3, 2]],
        [[-1, 20], 1, "Concat", [1]],  # cat head P4
        [-1, 3, "C3", [512, False]],  # 26 (P4/16-medium)
        [-1, 1, "Conv", [512, 3, 2]],
        [[-1, 16], 1, "Concat", [1]],  # cat head P5
        [-1, 3, "C3", [768, False]],  # 29 (P5/32-large)
        [-1, 1, "Conv", [768, 3, 2]],
        [[-1, 12], 1, "Concat", [1]],  # cat head P6
        [-1, 3, "C3", [1024, False]],  # 32 (P6/64-xlarge)
        [[23, 26, 29, 32], 1, "Detect", ["nc", "anchors"]],  # Detect(P3, P4, P5, P6)
    ],
}

ARCHITECTURES = {"yolov5s": YOLOV5S, "yolov5x6": YOLOV5X6}

# YOLOv5's size ladder: (depth_multiple, width_multiple) -> letter.
_SIZES = {(0.33, 0.25): "n", (0.33, 0.50): "s", (0.67, 0.75): "m", (1.0, 1.0): "l", (1.33, 1.25): "x"}


def architecture(name: str, *, nc: int = len(MEGADETECTOR_NAMES), depth_multiple: float | None = None,
                 width_multiple: float | None = None) -> dict:
    """A fresh copy of a named architecture dict: MegaDetector's 3 classes by default, multiples overridable."""
    if name not in ARCHITECTURES:
        raise WildeyeError(f"unknown YOLOv5 architecture {name!r}", f"use one of {', '.join(ARCHITECTURES)}")
    arch = copy.deepcopy(ARCHITECTURES[name])
    arch["nc"] = nc
    if depth_multiple is not None:
        arch["depth_multiple"] = depth_multiple
    if width_multiple is not None:
        arch["width_multiple"] = width_multiple
    return arch


def architecture_name(arch: dict) -> str | None:
    """'yolov5x6', 'yolov5s', ... for a standard layout; 'yolov5 P6 layout (depth 0.33, width 0.125)' for a
    standard layout at non-standard multiples; None for anything else."""
    def plain(layers):
        return [[f, n, m, [None if a == "None" else a for a in args]] for f, n, m, args in layers or []]

    try:
        layers = [plain(arch.get(key)) for key in ("backbone", "head")]
    except (TypeError, ValueError):
        return None
    for p6, reference in ((False, YOLOV5S), (True, YOLOV5X6)):
        if layers == [plain(reference[key]) for key in ("backbone", "head")]:
            gd, gw = arch.get("depth_multiple"), arch.get("width_multiple")
            size = _SIZES.get((gd, gw))
            if size:
                return f"yolov5{size}{'6' if p6 else ''}"
            return f"yolov5 {'P6' if p6 else 'P5'} layout (depth {gd}, width {gw})"
    return None


# --------------------------------------------------------------------------------------------------
# Building blocks (YOLOv5's names and attribute layout, so state dict keys match the checkpoints).
# --------------------------------------------------------------------------------------------------

def _autopad(k, p=None):
    """'same' padding for odd kernels, as YOLOv5 computes it."""
    if p is None:
        p = k // 2 if isinstance(k, int) else [x // 2 for x in k]
    return p


class Conv(nn.Module):
    """Conv2d -> BatchNorm2d -> SiLU; after `fuse` the batch norm is folded into the convolution."""

    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, _autopad(k, p), groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)  # YOLOv5 trains with these
        self.act = nn.SiLU(inplace=True) if act is True else (act if isinstance(act, nn.Module) else nn.Identity())

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))

    @torch.no_grad()
    def fuse(self) -> None:
        """Fold the batch norm into the convolution (same arithmetic order as YOLOv5's fuse_conv_and_bn)."""
        if isinstance(self.bn, nn.Identity):
            return
        conv, bn = self.conv, self.bn
        fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                          conv.dilation, conv.groups, bias=True, device=conv.weight.device, dtype=conv.weight.dtype)
        fused.requires_grad_(False)
        std = torch.sqrt(bn.eps + bn.running_var)
        fused.weight.copy_(conv.weight * (bn.weight / std).view(-1, 1, 1, 1))
        bias = bn.bias - bn.weight.mul(bn.running_mean).div(torch.sqrt(bn.running_var + bn.eps))
        if conv.bias is not None:
            bias = bias + conv.bias * bn.weight / std
        fused.bias.copy_(bias)
        self.conv, self.bn = fused, nn.Identity()


class Bottleneck(nn.Module):
    """1x1 then 3x3 conv, with a residual connection when shapes allow."""

    def __init__(self, c1, c2, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_, c2, 3, 1, g=g)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    """CSP bottleneck with three convolutions: half the channels go through n bottlenecks, half skip them."""

    def __init__(self, c1, c2, n=1, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, g, e=1.0) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPP(nn.Module):
    """Spatial pyramid pooling with parallel max pools (YOLOv5 before v6.0)."""

    def __init__(self, c1, c2, k=(5, 9, 13)):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * (len(k) + 1), c2, 1, 1)
        self.m = nn.ModuleList(nn.MaxPool2d(kernel_size=x, stride=1, padding=x // 2) for x in k)

    def forward(self, x):
        x = self.cv1(x)
        return self.cv2(torch.cat([x] + [m(x) for m in self.m], 1))


class SPPF(nn.Module):
    """SPP with one max pool applied three times in a row: same result as SPP(5, 9, 13), cheaper."""

    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class Focus(nn.Module):
    """Space-to-depth then conv: the first layer of YOLOv5 before v6.0 replaced it with a 6x6 stride-2 conv."""

    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):
        super().__init__()
        self.conv = Conv(c1 * 4, c2, k, s, p, g, act=act)

    def forward(self, x):
        return self.conv(torch.cat((x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]), 1))


class Concat(nn.Module):
    """Concatenate the outputs of several earlier layers."""

    def __init__(self, dimension=1):
        super().__init__()
        self.d = dimension

    def forward(self, x):
        return torch.cat(x, self.d)


class Detect(nn.Module):
    """Per-level 1x1 convs and YOLOv5's box decoding: xy = (2*sig - 0.5 + cell) * stride, wh = (2*sig)^2 * anchor.

    Returns (batch, anchors_total, 5 + nc): [x_center, y_center, w, h, objectness, class scores...] in input pixels.
    """

    def __init__(self, nc=80, anchors=(), ch=(), inplace=True):
        super().__init__()
        self.nc = nc
        self.no = nc + 5
        self.nl = len(anchors)
        self.na = len(anchors[0]) // 2
        self.grid = [torch.empty(0) for _ in range(self.nl)]
        self.anchor_grid = [torch.empty(0) for _ in range(self.nl)]
        # In units of each level's stride once the model knows its strides (YOLOv5 keeps them that way).
        self.register_buffer("anchors", torch.tensor(anchors).float().view(self.nl, -1, 2))
        self.m = nn.ModuleList(nn.Conv2d(x, self.no * self.na, 1) for x in ch)
        self.inplace = inplace
        self.stride = torch.ones(self.nl)

    def forward(self, x):
        z = []
        strides = self.stride.tolist()
        for i in range(self.nl):
            p = self._head(i, x[i])
            bs, _, ny, nx = p.shape
            p = p.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            grid = self.grid[i]  # cell offsets depend on the feature map size only: cached
            if grid.shape[2:4] != p.shape[2:4] or grid.device != p.device or grid.dtype != p.dtype:
                self.grid[i] = grid = self._make_grid(nx, ny, p.device, p.dtype)
            # Anchors in pixels; recomputed each time so loading new weights can never leave a stale copy.
            self.anchor_grid[i] = (self.anchors[i] * self.stride[i]).to(p.device, p.dtype).view(1, self.na, 1, 1, 2)
            xy, wh, conf = p.sigmoid().split((2, 2, self.nc + 1), 4)
            xy = (xy * 2 + grid) * strides[i]
            wh = (wh * 2) ** 2 * self.anchor_grid[i]
            z.append(torch.cat((xy, wh, conf), 4).view(bs, self.na * nx * ny, self.no))
        return torch.cat(z, 1)

    def _head(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Level i's 1x1 convolution; in the weights' own precision under autocast (bf16 runs), because the box
        decode squares and scales its output: bf16 rounding there moves boxes by pixels."""
        conv = self.m[i]
        if x.dtype != conv.weight.dtype and torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                return conv(x.to(conv.weight.dtype))
        return conv(x)

    def _make_grid(self, nx, ny, device, dtype):
        y = torch.arange(ny, device=device, dtype=dtype)
        x = torch.arange(nx, device=device, dtype=dtype)
        yv, xv = torch.meshgrid(y, x, indexing="ij")
        return torch.stack((xv, yv), 2).expand(1, self.na, ny, nx, 2) - 0.5  # so that xy = 2 * sig + grid


_BLOCKS: dict[str, type] = {
    "Conv": Conv, "Bottleneck": Bottleneck, "C3": C3, "SPP": SPP, "SPPF": SPPF, "Focus": Focus,
    "Concat": Concat, "Detect": Detect, "nn.Upsample": nn.Upsample, "Upsample": nn.Upsample,
}
_CHANNEL_BLOCKS = (Conv, Bottleneck, C3, SPP, SPPF, Focus)

# The module paths YOLOv5's code base gives these classes (how its checkpoints name them, and `layer.type`).
PICKLED_AS = {Conv: "models.common.Conv", Bottleneck: "models.common.Bottleneck", C3: "models.common.C3",
              SPP: "models.common.SPP", SPPF: "models.common.SPPF", Focus: "models.common.Focus",
              Concat: "models.common.Concat", Detect: "models.yolo.Detect"}


def _make_divisible(x: float, divisor: int) -> int:
    return math.ceil(x / divisor) * divisor


def _resolve_arg(value, nc, anchors):
    """YOLOv5 eval()s string arguments; we only ever need these names, so look them up instead."""
    if isinstance(value, str):
        return {"nc": nc, "anchors": anchors, "None": None, "True": True, "False": False}.get(value, value)
    return value


class YOLOv5(nn.Module):
    """A YOLOv5 detection model built from its architecture dict (``yaml`` attribute, as in YOLOv5's Model)."""

    def __init__(self, arch: dict):
        super().__init__()
        self.yaml = copy.deepcopy(arch)
        self.yaml["ch"] = ch = int(self.yaml.get("ch", 3))
        self.model, self.save, strides = _parse_model(self.yaml, ch)
        self.names = [str(i) for i in range(int(self.yaml["nc"]))]
        self.inplace = self.yaml.get("inplace", True)
        detect = self.model[-1]
        detect.stride = torch.tensor(strides, dtype=torch.float32)
        _check_anchor_order(detect)
        detect.anchors /= detect.stride.view(-1, 1, 1)
        self.stride = detect.stride

    @property
    def detect(self) -> Detect:
        return self.model[-1]

    def forward(self, x):
        outputs = []
        for m in self.model:
            if m.f != -1:
                x = outputs[m.f] if isinstance(m.f, int) else [x if j == -1 else outputs[j] for j in m.f]
            x = m(x)
            outputs.append(x if m.i in self.save else None)
        return x

    def fuse(self) -> YOLOv5:
        """Fold batch norms into convolutions for inference, as MegaDetector does before running the model."""
        for m in self.modules():
            if isinstance(m, Conv):
                m.fuse()
        return self

    def _apply(self, fn, *args, **kwargs):
        # Detect keeps stride as a plain tensor (like YOLOv5): move/cast it with the model. Grids are caches,
        # rebuilt on the next forward for the new device/dtype.
        self = super()._apply(fn, *args, **kwargs)
        detect = self.model[-1]
        detect.stride = fn(detect.stride)
        self.stride = detect.stride
        detect.grid = [torch.empty(0) for _ in range(detect.nl)]
        detect.anchor_grid = [torch.empty(0) for _ in range(detect.nl)]
        return self


def _check_anchor_order(m: Detect) -> None:
    """Anchors must grow with stride; YOLOv5 flips them when the yaml lists them the other way round."""
    a = m.anchors.prod(-1).mean(-1).view(-1)
    da, ds = a[-1] - a[0], m.stride[-1] - m.stride[0]
    if da and da.sign() != ds.sign():
        m.anchors[:] = m.anchors.flip(0)


def _parse_model(d: dict, ch_in: int):
    """Layers, save list and detection strides from an architecture dict (YOLOv5's parse_model, without eval).

    Strides are worked out from the layer arguments (conv strides, upsampling factors) rather than by running
    a dummy image through the network as YOLOv5 does: same numbers, no forward pass at load time.
    """
    try:
        anchors, nc, gd, gw = d["anchors"], int(d["nc"]), float(d["depth_multiple"]), float(d["width_multiple"])
        layer_specs = list(d["backbone"]) + list(d["head"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"architecture dict is missing or has a bad {exc}",
                              "the checkpoint is not a YOLOv5 model") from None
    act = d.get("activation")
    if act not in (None, "nn.SiLU()"):
        raise CheckpointError(f"architecture uses activation {act!r}; only YOLOv5's default SiLU is supported")
    ch_mul = d.get("channel_multiple") or 8
    na = (len(anchors[0]) // 2) if isinstance(anchors, (list, tuple)) else int(anchors)
    no = na * (nc + 5)

    layers, save, chs, strides = [], [], [], []
    for i, spec in enumerate(layer_specs):
        try:
            f, n, name, args = spec
        except (TypeError, ValueError):
            raise CheckpointError(f"layer {i} of the architecture dict is not [from, number, module, args]") from None
        block = _BLOCKS.get(name)
        if block is None:
            raise CheckpointError(f"layer {i} uses module {name!r}, which wildeye's YOLOv5 does not implement",
                                  f"supported: {', '.join(sorted(set(_BLOCKS)))}")
        try:
            module, c2, stride, sources = _build_layer(i, f, n, block, args, nc, anchors, gd, gw, ch_mul, no,
                                                       ch_in, chs, strides)
        except CheckpointError:
            raise
        except (IndexError, KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            raise CheckpointError(f"layer {i} {spec!r} of the architecture dict cannot be built ({exc})",
                                  "the checkpoint is damaged or not a YOLOv5 model") from None
        module.i, module.f = i, f
        module.type = PICKLED_AS.get(block, "torch.nn.modules.upsampling.Upsample")  # as YOLOv5 labels layers
        module.np = sum(p.numel() for p in module.parameters())
        save.extend(x % i for x in sources if x != -1)
        layers.append(module)
        chs.append(c2)
        strides.append(stride)
    if not layers or not isinstance(layers[-1], Detect):
        raise CheckpointError("the architecture's last layer is not Detect", "the checkpoint is not a YOLOv5 detector")
    return nn.Sequential(*layers), sorted(save), [float(s) for s in strides[-1]]


def _build_layer(i, f, n, block, args, nc, anchors, gd, gw, ch_mul, no, ch_in, chs, strides):
    """One layer of parse_model: its module, output channels, output stride(s) and input layer indices."""
    args = [_resolve_arg(a, nc, anchors) for a in args]
    n = max(round(n * gd), 1) if n > 1 else n
    sources = [f] if isinstance(f, int) else list(f)
    in_ch = [ch_in if (i == 0 and s == -1) else chs[s] for s in sources]
    in_stride = [1 if (i == 0 and s == -1) else strides[s] for s in sources]
    stride = in_stride[0]
    if block in _CHANNEL_BLOCKS:
        c1, c2 = in_ch[0], args[0]
        if c2 != no:
            c2 = _make_divisible(c2 * gw, ch_mul)
        args = [c1, c2, *args[1:]]
        if block is C3:
            args.insert(2, n)
            n = 1
        if block in (Conv, Focus):
            conv_stride = args[3] if len(args) > 3 else 1
            stride = stride * conv_stride * (2 if block is Focus else 1)
    elif block is Concat:
        c2 = sum(in_ch)
        if len(set(in_stride)) != 1:
            raise CheckpointError(f"layer {i} concatenates feature maps of different strides {in_stride}")
    elif block is Detect:
        args.append(in_ch)
        if isinstance(args[1], int):  # anchors given as a count: placeholders, real ones come with the weights
            args[1] = [list(range(args[1] * 2))] * len(sources)
        c2 = None
        stride = in_stride
    elif block is nn.Upsample:
        c2 = in_ch[0]
        stride = stride / float(args[1])
    else:
        c2 = in_ch[0]
    module = nn.Sequential(*(block(*args) for _ in range(n))) if n > 1 else block(*args)
    return module, c2, stride, sources


def build_model(arch: dict | str, *, seed: int | None = None) -> YOLOv5:
    """A randomly initialised YOLOv5 (PyTorch default init plus YOLOv5's Detect bias priors), in eval mode.

    `seed` makes the weights reproducible without touching the caller's global RNG state.
    """
    if isinstance(arch, str):
        arch = architecture(arch)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        model = YOLOv5(arch)
    detect = model.detect
    with torch.no_grad():  # YOLOv5's _initialize_biases: ~8 objects per 640 image, uniform class prior
        for conv, s in zip(detect.m, detect.stride):
            b = conv.bias.view(detect.na, -1)
            b[:, 4] += math.log(8 / (640 / float(s)) ** 2)
            b[:, 5:5 + detect.nc] += math.log(0.6 / (detect.nc - 0.99999))
    return model.eval()
