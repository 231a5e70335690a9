"""`decode: device` on whatever device there is (the CPU here): torchvision's JPEG decode gives `decode: full`'s pixels,
EXIF orientations are applied as PIL applies them, and files the device cannot decode go through PIL or fail the
way `full` fails them."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from imagegen import write_frame
from PIL import Image

from wildeye.inference.decode import Decoded, DecodeError, decode
from wildeye.inference.device_decode import Encoded, decode_batch, read_for_device, upright

AWKWARD = ("african_elephants_truncated_file.jpg", "african_elephants_cmyk.jpg", "african_elephants_bw.jpg",
           "african_elephants_with_exif_orientation.jpg")


def _device_decode(paths: list[Path], device="cpu") -> list:
    """What the run does: workers read, the main process decodes the JPEGs in one batch, PIL's frames pass through."""
    items = [read_for_device(p) for p in paths]
    encoded = [(i, item) for i, item in enumerate(items) if isinstance(item, Encoded)]
    decoded = decode_batch([item for _, item in encoded], device)
    out: list = [torch.from_numpy(item.image).permute(2, 0, 1) if isinstance(item, Decoded) else None
                 for item in items]
    for (i, _), image in zip(encoded, decoded):
        out[i] = image
    return out


def _hwc(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).cpu().numpy()


def test_real_frames_decode_to_the_full_decoders_pixels(shared_images):
    paths = sorted(p for p in (shared_images / "images").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    chosen = [p for i, p in enumerate(paths) if i % 5 == 0 or p.name in AWKWARD]
    assert {p.name for p in chosen} >= set(AWKWARD)
    for path in chosen:  # RGB and greyscale JPEGs go to the device; CMYK, or a PNG named .JPG, through PIL
        with Image.open(path) as image:
            expected_device = image.format in ("JPEG", "MPO") and image.mode in ("RGB", "L")
        assert isinstance(read_for_device(path), Encoded) == expected_device, path.name
    for path, image in zip(chosen, _device_decode(chosen)):
        assert isinstance(image, torch.Tensor) and image.dtype == torch.uint8, path
        expected = decode(str(path)).image
        assert np.array_equal(_hwc(image), expected), path.name  # exactly PIL's pixels (truncated: PIL's padding)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientations_as_pil_applies_them(tmp_path, orientation):
    # a frame with no symmetry: a gradient and a mark in one corner, so every flip/rotation is told apart
    array = np.zeros((48, 80, 3), dtype=np.uint8)
    array[..., 0] = np.linspace(0, 255, 80, dtype=np.uint8)[None, :]
    array[..., 1] = np.linspace(0, 255, 48, dtype=np.uint8)[:, None]
    array[:8, :8, 2] = 255
    path = tmp_path / f"o{orientation}.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(array).save(path, "JPEG", exif=exif, quality=95)
    item = read_for_device(path)
    assert isinstance(item, Encoded) and item.orientation == orientation
    image = decode_batch([item], "cpu")[0]
    expected = decode(str(path)).image  # PIL's exif_transpose
    assert image.shape[1:] == expected.shape[:2] == item.upright_shape
    assert np.array_equal(_hwc(image), expected)


def test_upright_matches_pil_transpose_on_exact_pixels():
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    from PIL import ImageOps

    for orientation in range(1, 9):
        image = Image.fromarray(array)
        exif = image.getexif()
        exif[0x0112] = orientation
        image.info["exif"] = exif.tobytes()
        expected = np.asarray(ImageOps.exif_transpose(image))
        got = _hwc(upright(torch.from_numpy(array).permute(2, 0, 1), orientation))
        assert np.array_equal(got, expected), orientation


def test_png_corrupt_and_truncated_files(tmp_path):
    png = write_frame(tmp_path / "frame.png", size=(64, 48), fmt="PNG")
    good = write_frame(tmp_path / "good.jpg", size=(64, 48), seed=1)
    truncated = tmp_path / "truncated.jpg"
    whole = write_frame(tmp_path / "whole.jpg", size=(320, 240), seed=2).read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"this is not a jpeg" * 10)
    broken = tmp_path / "broken.jpg"  # a JPEG header PIL reads, then nothing decodable
    broken.write_bytes(good.read_bytes()[:200] + b"\x00" * 50)

    png_item = read_for_device(png)
    assert isinstance(png_item, Decoded)  # PIL in the worker, as `full`
    assert np.array_equal(png_item.image, decode(str(png)).image)
    with pytest.raises(DecodeError) as device_error:
        read_for_device(garbage)
    with pytest.raises(DecodeError) as full_error:
        decode(str(garbage))
    assert str(device_error.value) == str(full_error.value)  # the same recorded reason in either mode

    # one batch: a file the device rejects costs only itself; PIL pads the truncated one as `full` does
    paths = [good, truncated, broken]
    items = [read_for_device(p) for p in paths]
    assert all(isinstance(item, Encoded) for item in items)
    out = decode_batch(items, "cpu")
    assert np.array_equal(_hwc(out[0]), decode(str(good)).image)
    assert np.array_equal(_hwc(out[1]), decode(str(truncated)).image)
    try:
        expected = decode(str(broken)).image
    except DecodeError as exc:
        assert isinstance(out[2], DecodeError) and str(out[2]) == str(exc)
    else:
        assert np.array_equal(_hwc(out[2]), expected)


def test_torchvision_deprecation_warning_is_silenced_only_inside(tmp_path):
    path = write_frame(tmp_path / "a.jpg", size=(32, 24))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning escaping decode_batch fails the test
        decode_batch([read_for_device(path)], "cpu")
        assert warnings.filters[0][0] == "error"  # the caller's filters are left as they were
