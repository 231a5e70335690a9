"""The detector's letterbox on the model's device (`decode: device`): OpenCV's bilinear resize reproduced with integer
torch ops, so the network sees exactly what `letterbox` (cv2, as MegaDetector) gives it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from yolo_fixtures import write_tiny

from wildeye.inference.decode import decode
from wildeye.inference.detector import (Detector, Letterboxed, letterbox, letterbox_tensor, prepare, prepare_tensor,
                                        resize_linear)


def _chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).contiguous()


@pytest.mark.parametrize("seed", range(6))
def test_resize_linear_is_cv2_inter_linear_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    shapes = [(int(rng.integers(1, 700)), int(rng.integers(1, 700))) for _ in range(5)]
    shapes += [((1920, 2560), (960, 1280)), ((300, 400), (100, 133)), ((640, 640), (1280, 1280)), ((7, 1), (3, 5))][
        seed % 4: seed % 4 + 1]
    for item in shapes:
        (h, w), (nh, nw) = item if isinstance(item[0], tuple) else (item, tuple(int(v) for v in rng.integers(1, 900, 2)))
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        expected = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        got = resize_linear(_chw(image)[None], nh, nw)[0].permute(1, 2, 0).numpy()
        assert np.array_equal(got, expected), ((h, w), (nh, nw), int(np.abs(got.astype(int) - expected).max()))


def test_resize_linear_batches_and_refuses_other_types():
    rng = np.random.default_rng(9)
    frames = rng.integers(0, 256, (3, 3, 50, 80), dtype=np.uint8)
    batch = resize_linear(torch.from_numpy(frames), 33, 41)
    for frame, out in zip(frames, batch):
        assert torch.equal(out, resize_linear(torch.from_numpy(frame)[None], 33, 41)[0])
    with pytest.raises(ValueError, match="uint8"):
        resize_linear(torch.zeros((1, 3, 4, 4)), 2, 2)


def test_letterbox_tensor_equals_letterbox_on_real_frames(shared_images):
    paths = sorted(p for p in (shared_images / "images").rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    for path in paths[::9]:
        image = decode(str(path)).image
        for size, stride, square in ((640, 32, False), (1280, 64, False), (1280, 64, True)):
            expected = letterbox(image, size, stride=stride, auto=not square)
            got = letterbox_tensor(_chw(image)[None], size, stride=stride, auto=not square)[0]
            assert np.array_equal(got.permute(1, 2, 0).numpy(), expected), (path.name, size, square)


def test_prepare_tensor_groups_sizes_and_keeps_order():
    rng = np.random.default_rng(4)
    frames = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in
              ((300, 400, 3), (400, 300, 3), (300, 400, 3), (45, 60, 3))]
    boxed = prepare_tensor([_chw(f) for f in frames], 320, 32)
    for frame, item in zip(frames, boxed):
        ref = prepare(frame, 320, 32)
        assert isinstance(item, Letterboxed) and item.source_shape == ref.source_shape
        assert item.input_shape == ref.input_shape
        assert np.array_equal(item.image.permute(1, 2, 0).numpy(), ref.image)
    with pytest.raises(ValueError, match="image 1: expected a uint8 3 x H x W"):
        prepare_tensor([_chw(frames[0]), torch.zeros((3, 4, 4))], 320, 32)


def test_detector_gives_the_same_boxes_from_device_letterboxed_frames(tmp_path):
    detector = Detector.from_checkpoint(write_tiny(tmp_path / "tiny.pt", "yolov5s", image_size=320, seed=1))
    rng = np.random.default_rng(5)
    frames = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((300, 400, 3), (400, 300, 3), (45, 60, 3))]
    on_host = detector.detect_prepared([detector.prepare(f) for f in frames])
    on_device = detector.detect_prepared(detector.prepare_tensor([_chw(f) for f in frames]))
    assert on_device == on_host and any(on_host)
