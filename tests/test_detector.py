"""MegaDetector (YOLOv5) loading and detection, on CPU with small random-weight checkpoints.

Random weights give arbitrary boxes, so these tests check structure, determinism and consistency; the
box geometry and NMS rules are checked on hand-made predictions and drawn images instead.
"""

from __future__ import annotations

import argparse
import copy
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

from wildeye.errors import WildeyeError
from wildeye.inference.detector import (CLASS_NAMES, Detector, letterbox, nms, prepare, to_detections)
from wildeye.records import Detection
from wildeye.models.megadetector import CheckpointError, UnsafeCheckpointError, load_checkpoint
from wildeye.models.safe_pickle import pickle_globals as _pickle_globals
from wildeye.models.yolov5_net import YOLOV5S, YOLOV5X6, YOLOv5, architecture, architecture_name, build_model
from yolo_fixtures import data_pickle, replace_pickle, tiny_model, write_checkpoint, write_tiny


@pytest.fixture(scope="module")
def p5_path(tmp_path_factory):
    return write_tiny(tmp_path_factory.mktemp("p5") / "tiny_v5s.pt", "yolov5s", image_size=320, seed=1)


@pytest.fixture(scope="module")
def p6_path(tmp_path_factory):
    return write_tiny(tmp_path_factory.mktemp("p6") / "tiny_v5x6.pt", "yolov5x6", seed=2)  # no metadata: 1280


@pytest.fixture(scope="module")
def p5(p5_path):
    return Detector.from_checkpoint(p5_path)


@pytest.fixture(scope="module")
def p6(p6_path):
    return Detector.from_checkpoint(p6_path)


def _frames(seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(300, 400), (300, 400), (400, 300), (45, 60), (250, 500)]  # landscape x2, portrait, tiny, wide
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]


# ---------------------------------------------------------------------------------------------- architecture

def test_architectures_build_with_the_published_strides():
    assert architecture_name(YOLOV5X6) == "yolov5x6" and architecture_name(YOLOV5S) == "yolov5s"
    p6 = tiny_model("yolov5x6")
    assert p6.stride.tolist() == [8, 16, 32, 64] and p6.detect.nl == 4 and p6.detect.na == 3
    p5 = tiny_model("yolov5s")
    assert p5.stride.tolist() == [8, 16, 32] and p5.detect.nc == 3
    with torch.no_grad():
        out = p5(torch.zeros(1, 3, 64, 96))
    assert out.shape == (1, 3 * (8 * 12 + 4 * 6 + 2 * 3), 8)


def test_yolov5s_has_the_published_parameter_count():
    # yolov5s.yaml (nc=80) has 7,235,389 parameters in YOLOv5's own model summary.
    model = YOLOv5(architecture("yolov5s", nc=80))
    assert sum(p.numel() for p in model.parameters()) == 7_235_389


def test_fuse_keeps_outputs():
    model = tiny_model("yolov5s", seed=5)
    x = torch.rand(1, 3, 96, 128)
    with torch.no_grad():
        before = model(x)
        after = copy.deepcopy(model).fuse()(x)
    assert torch.allclose(before, after, atol=1e-4)


# ---------------------------------------------------------------------------------------------- checkpoints

def test_checkpoint_uses_yolov5_module_paths(p5_path):
    names = set(_pickle_globals(data_pickle(p5_path)))
    assert {"models.yolo.Model", "models.yolo.Detect", "models.common.Conv", "models.common.C3",
            "models.common.Bottleneck", "models.common.SPPF", "models.common.Concat",
            "torch.nn.modules.upsampling.Upsample"} <= names
    assert not any("wildeye" in n for n in names)
    ckpt = load_checkpoint(p5_path)
    assert ckpt.names == list(CLASS_NAMES) and ckpt.metadata["image_size"] == 320
    assert ckpt.info["epoch"] == -1 and "date" in ckpt.info
    assert type(ckpt.model) is YOLOv5
    assert all(p.dtype == torch.float32 for p in ckpt.model.parameters())


@pytest.mark.parametrize("layout", ["yolov5s", "yolov5x6"])
def test_state_round_trips(tmp_path, layout):
    model = tiny_model(layout, seed=7)
    path = write_checkpoint(model, tmp_path / "model.pt")
    with zipfile.ZipFile(path) as archive:  # stored in fp16, as real releases are
        assert any(n.endswith("/data/0") for n in archive.namelist())
    loaded = load_checkpoint(path).model
    reference = copy.deepcopy(model).half().float()  # what fp16 storage leaves of the weights
    bn = [m for m in loaded.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bn and all(m.eps == 1e-3 for m in bn)  # YOLOv5's eps comes from the pickle, not the state dict
    x = torch.rand(2, 3, 128, 192)
    with torch.no_grad():
        assert torch.equal(loaded(x), reference(x))
    assert torch.equal(loaded.detect.anchors, model.detect.anchors)


def test_detection_model_class_name_and_numpy_bookkeeping_load(tmp_path):
    path = write_checkpoint(tiny_model(), tmp_path / "v7.pt", model_class="DetectionModel",
                            extra={"best_fitness": np.array([0.71]), "opt": argparse.Namespace(imgsz=640),
                                   "updates": np.float64(3.0)})
    assert "models.yolo.DetectionModel" in _pickle_globals(data_pickle(path))
    assert load_checkpoint(path).names == list(CLASS_NAMES)


def test_weights_that_do_not_fit_the_architecture_are_refused(tmp_path):
    model = tiny_model()
    model.yaml["width_multiple"] = 0.25  # the stored dict now disagrees with the stored weights
    path = write_checkpoint(model, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(path)


def test_truncated_or_missing_files_are_clear_errors(tmp_path, p5_path):
    cut = tmp_path / "cut.pt"
    cut.write_bytes(p5_path.read_bytes()[: 4096])
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_checkpoint(cut)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


# ---------------------------------------------------------------------------------------------- hostile pickles

class _System:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _Eval:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return eval, (f"open({str(self.marker)!r}, 'w').close()",)


def test_os_system_payload_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"epoch": -1, "model": _System(f"touch {marker}")}, path)
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint(path)
    assert f"{os.system.__module__}.system" in str(err.value)  # posix.system
    assert isinstance(err.value, WildeyeError) and err.value.fix
    with pytest.raises(UnsafeCheckpointError):
        Detector.from_checkpoint(path)
    assert not marker.exists()
    # Control: the payload is live. An ordinary unpickler runs it.
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_eval_payload_hidden_in_a_valid_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = write_checkpoint(tiny_model(), tmp_path / "evil.pt", extra={"opt": _Eval(marker)})
    with pytest.raises(UnsafeCheckpointError, match=r"builtins\.eval"):
        load_checkpoint(path)
    assert not marker.exists()


def test_protocol_4_stack_global_payload_is_named(tmp_path, p5_path):
    marker = tmp_path / "pwned"
    path = replace_pickle(p5_path, tmp_path / "evil.pt", pickle.dumps(_System(f"touch {marker}"), protocol=4))
    with pytest.raises(UnsafeCheckpointError, match=r"(posix|nt)\.system"):
        load_checkpoint(path)
    assert not marker.exists()


def test_ultralytics_checkpoint_gets_a_hint(tmp_path, p5_path):
    data = b"\x80\x02}q\x00X\x05\x00\x00\x00modelq\x01cultralytics.nn.tasks\nDetectionModel\nq\x02)\x81q\x03}bs."
    path = replace_pickle(p5_path, tmp_path / "v8.pt", data)
    with pytest.raises(UnsafeCheckpointError, match="Ultralytics"):
        load_checkpoint(path)


# ---------------------------------------------------------------------------------------------- detector

def test_detector_settings_and_describe(p5, p6):
    assert (p5.image_size, p5.stride) == (320, 32)  # size from megadetector_info.json inside the file
    assert (p6.image_size, p6.stride) == (1280, 64)  # no metadata: MegaDetector's default 1280
    assert p6.class_names == ("animal", "person", "vehicle")
    info = p6.describe()
    assert info["architecture"].startswith("yolov5 P6 layout") and info["nc"] == 3
    assert info["stride"] == 64 and info["image_size"] == 1280 and info["parameters"] > 0
    assert info["dtype"] == "float32" and info["device"] == "cpu"


def test_detections_are_well_formed_and_deterministic(p6, p6_path):
    frames = _frames()
    first = p6.detect(frames)
    again = Detector.from_checkpoint(p6_path).detect(frames)
    assert first == again
    assert len(first) == len(frames) and any(first)
    for dets in first:
        assert [d.conf for d in dets] == sorted((d.conf for d in dets), reverse=True)
        assert len(dets) <= 300
        for d in dets:
            assert isinstance(d, Detection) and d.category in CLASS_NAMES
            assert 0.005 <= d.conf <= 1 and round(d.conf, 3) == d.conf
            x, y, w, h = d.bbox
            assert 0 <= x <= 1 and 0 <= y <= 1 and 0 <= w <= 1 and 0 <= h <= 1
            assert x + w <= 1.0001 and y + h <= 1.0001
            assert all(round(v, 4) == v for v in d.bbox)


@pytest.mark.parametrize("which", ["p5", "p6"])
def test_batch_equals_single(request, which):
    detector = request.getfixturevalue(which)
    frames = _frames(seed=3)
    batch = detector.detect(frames)
    assert batch == [detector.detect([frame])[0] for frame in frames]
    assert detector.detect([]) == []


def test_batched_forward_matches_single_within_float_noise(p6_path):
    detector = Detector.from_checkpoint(p6_path, batched=True, batch_size=4)
    assert detector.describe()["batched"] is True
    frames = [f for f in _frames(seed=6) if f.shape[:2] == (300, 400)] * 2
    prepared = [detector.prepare(f).image for f in frames]
    together = detector.predict(prepared)
    alone = torch.cat([detector.predict([p]) for p in prepared])
    assert together.shape == (len(frames), alone.shape[1], 8)
    assert torch.allclose(together, alone, rtol=1e-4, atol=1e-3)  # oneDNN may pick other kernels per batch size
    boxes = detector.detect(frames)
    assert len(boxes) == len(frames) and all(isinstance(d, Detection) for dets in boxes for d in dets)


def test_square_mode_runs_mixed_orientations_as_one_tensor(p5_path):
    detector = Detector.from_checkpoint(p5_path, square=True, batched=True)
    frames = _frames(seed=4)
    prepared = [detector.prepare(f) for f in frames]
    assert {p.input_shape for p in prepared} == {(320, 320)}
    batch = detector.predict([p.image for p in prepared])
    assert batch.shape[0] == len(frames)
    assert len(detector.detect_prepared(prepared)) == len(frames)


def test_conf_floor_and_input_checks(p5_path, p5):
    frames = _frames(seed=5)
    high = Detector.from_checkpoint(p5_path, conf_floor=0.3).detect(frames)
    low = p5.detect(frames)
    for h, lo in zip(high, low):
        assert [d for d in lo if d.conf >= 0.3] == h
    gray = frames[0][:, :, 0]
    assert p5.detect([gray]) == p5.detect([np.repeat(gray[:, :, None], 3, axis=2)])
    with pytest.raises(ValueError, match="image 1: expected a uint8"):
        p5.detect([frames[0], frames[0].astype(np.float32)])


def test_bad_sizes_and_non_megadetector_models_are_refused(p5_path, tmp_path):
    with pytest.raises(WildeyeError, match="multiple of the model stride"):
        Detector.from_checkpoint(p5_path, image_size=300)
    path = write_checkpoint(build_model(architecture("yolov5s", nc=2, width_multiple=0.125), seed=0),
                            tmp_path / "two.pt", names=("a", "b"))
    with pytest.raises(WildeyeError, match="3 \\(animal, person, vehicle\\)"):
        Detector.from_checkpoint(path)


# ---------------------------------------------------------------------------------------------- geometry

@pytest.mark.parametrize("shape, size, stride, expected", [
    ((3000, 4000), 1280, 64, (960, 1280)),  # 4:3 landscape: no padding needed
    ((4000, 3000), 1280, 64, (1280, 960)),  # portrait
    ((1500, 1000), 1280, 64, (1280, 896)),  # 853 px wide, padded to the next multiple of 64
    ((150, 200), 1280, 64, (960, 1280)),  # small frames are scaled up, as MegaDetector does
    ((1080, 1920), 640, 32, (384, 640)),  # 16:9 at 640 / stride 32 (MDv1000-spruce)
])
def test_letterbox_shapes(shape, size, stride, expected):
    image = np.zeros((*shape, 3), np.uint8)
    boxed = letterbox(image, size, stride=stride)
    assert boxed.shape[:2] == expected
    if expected[1] > round(shape[1] * size / max(shape)):  # padded columns are MegaDetector's grey
        assert (boxed[:, 0] == 114).all() and (boxed[:, -1] == 114).all()


def test_letterbox_box_maps_back_exactly():
    # 4000x3000 -> 1280x960 at gain 0.32, no padding: input box (320, 240)-(640, 480) is source (1000, 750)-(2000, 1500)
    det = torch.tensor([[320.0, 240.0, 640.0, 480.0, 0.5, 0.0]])
    [d] = to_detections(det, (960, 1280), (3000, 4000))
    assert d.bbox == (0.25, 0.25, 0.25, 0.25) and d.category == "animal" and d.conf == 0.5


@pytest.mark.parametrize("shape, size, stride", [
    ((300, 400), 1280, 64), ((400, 300), 1280, 64), ((60, 90), 1280, 64), ((1500, 1000), 1280, 64),
    ((720, 1280), 640, 32), ((333, 1000), 320, 32),
])
def test_drawn_box_survives_letterbox_and_rescaling(shape, size, stride):
    h, w = shape
    x1, y1, x2, y2 = int(w * 0.2), int(h * 0.3), int(w * 0.7), int(h * 0.9)
    image = np.full((h, w, 3), 40, np.uint8)
    image[y1:y2, x1:x2] = 250
    boxed = prepare(image, size, stride)
    ys, xs = np.nonzero(boxed.image[:, :, 0] > 145)
    det = torch.tensor([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, 0.75, 2.0]], dtype=torch.float32)
    [d] = to_detections(det, boxed.input_shape, boxed.source_shape)
    gain = min(size / h, size / w)
    tol_x, tol_y = (1.5 / gain + 1) / w, (1.5 / gain + 1) / h  # a pixel of resampling blur plus rounding
    expected = (x1 / w, y1 / h, (x2 - x1) / w, (y2 - y1) / h)
    assert d.category == "vehicle"
    for got, want, tol in zip(d.bbox, expected, (tol_x, tol_y, tol_x, tol_y)):
        assert abs(got - want) <= tol


# ---------------------------------------------------------------------------------------------- NMS

def _row(xc, yc, w, h, obj, c0, c1, c2):
    return [xc, yc, w, h, obj, c0, c1, c2]


def test_nms_and_floor_follow_megadetector():
    pred = torch.tensor([[
        _row(100, 100, 50, 50, 0.875, 0.875, 0.0625, 0.0625),  # A animal 0.765625
        _row(105, 100, 50, 50, 0.75, 0.875, 0.0625, 0.0625),  # same class, IoU 0.82 with A: suppressed
        _row(105, 100, 50, 50, 0.75, 0.0625, 0.875, 0.0625),  # person on top of A: kept (class-aware NMS)
        _row(142, 100, 50, 50, 0.75, 0.75, 0.0625, 0.0625),  # animal, IoU 0.09 with A: kept
        _row(300, 300, 40, 40, 0.004, 1.0, 0.0, 0.0),  # objectness under the 0.005 floor
        _row(500, 300, 40, 40, 0.5, 0.009, 0.001, 0.0),  # obj x class = 0.0045 under the floor
        _row(200, 400, 40, 40, 0.5, 0.125, 0.125, 0.75),  # vehicle 0.375
        _row(400, 500, 40, 40, 0.5, 0.0625, 0.0625, 0.01171875),  # best class 0.03125 -> conf 0.015625
    ]])
    [det] = nms(pred)
    assert det[:, 4].tolist() == [0.765625, 0.65625, 0.5625, 0.375, 0.03125]
    assert det[:, 5].tolist() == [0, 1, 0, 2, 0]
    dets = to_detections(det, (640, 640), (640, 640))
    assert [(d.category, d.conf) for d in dets] == [
        ("animal", 0.765), ("person", 0.656), ("animal", 0.562), ("vehicle", 0.375), ("animal", 0.031)]
    assert dets[0].bbox == (0.1171, 0.1171, 0.0781, 0.0781)  # 75/640 = 0.1171875, 50/640 = 0.078125, truncated
    assert [d.conf for d in to_detections(det, (640, 640), (640, 640), conf_floor=0.4)] == [0.765, 0.656, 0.562]
    [strict] = nms(pred, conf_thres=0.4)
    assert strict[:, 4].tolist() == [0.765625, 0.65625, 0.5625]


def test_nms_keeps_at_most_max_det_most_confident():
    n = 400
    xs = torch.arange(n, dtype=torch.float32) * 20 + 10
    conf = torch.linspace(0.1, 0.9, n)
    pred = torch.zeros(1, n, 8)
    pred[0, :, 0], pred[0, :, 1], pred[0, :, 2], pred[0, :, 3] = xs, 10, 10, 10
    pred[0, :, 4], pred[0, :, 5] = 1.0, conf
    [det] = nms(pred)
    assert det.shape == (300, 6)
    assert torch.equal(det[:, 4], conf.flip(0)[:300])
    assert nms(torch.zeros(2, 5, 8))[1].shape == (0, 6)


def test_detector_module_is_not_imported_by_the_cli():
    code = "import sys, wildeye.cli; print('wildeye.inference.detector' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "False"


def test_create_model_loads_a_megadetector_by_path(p5_path, tmp_path, monkeypatch):
    from wildeye.models.factory import create_model
    from wildeye.models.kinds import sniff_kind

    monkeypatch.setenv("WILDEYE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("WILDEYE_REGISTRY", raising=False)
    assert sniff_kind(p5_path) == "megadetector"
    loaded = create_model(p5_path, "detector")
    assert (loaded.kind, loaded.labels, loaded.image_size, loaded.stride) == ("megadetector", list(CLASS_NAMES), 320, 32)
    assert isinstance(loaded.module, YOLOv5) and loaded.metadata["architecture"] == "yolov5 P5 layout (depth 0.33, width 0.125)"
    detector = Detector(loaded.module, image_size=loaded.image_size, checkpoint_names=loaded.labels)
    assert detector.describe()["image_size"] == 320


def test_one_sandbox_serves_both_allow_lists():
    from wildeye.models import megadetector, safe_pickle, speciesnet

    assert megadetector.ALLOW_LIST.kind == "megadetector" and speciesnet.ALLOW_LIST.kind == "speciesnet"
    assert speciesnet.UnsafeModelError is safe_pickle.UnsafePickleError
    assert megadetector.ALLOW_LIST.forbidden(["posix.system", "models.common.Conv"]) == ["posix.system"]
    assert speciesnet.ALLOW_LIST.find("posix", "system") is None
