"""Classifier crops cut from frames that stay on the model's device (`decode: device`), batched for one forward.

The crop rules are the classifiers' own (`speciesnet_window`, `speciesnet_full_image_rows`, `padded_window`) and the
pixels go through the same functions their `preprocess` uses (`speciesnet_pixels`, `package_pixels`), here on 3 x H x
W tensors, so on the CPU a device crop is bit for bit the host crop; on a GPU the resize runs in CUDA's arithmetic.
A classifier of another kind gets host crops from `LazyHost`: the frame is copied off the device only when one of
its boxes is classified.
"""

from __future__ import annotations

from typing import Any, Sequence

from wildeye.inference.classifier import (BBox, Classifier, package_pixels, padded_window, speciesnet_full_image_rows,
                                          speciesnet_pixels, speciesnet_window)

__all__ = ["crops_on_device", "device_crop", "device_batch", "LazyHost"]


def crops_on_device(classifier: Classifier) -> bool:
    """Whether this classifier's crops can be made on the device (SpeciesNet and wildeye packages)."""
    return getattr(classifier, "kind", None) in ("speciesnet", "wildeye-package")


def device_crop(classifier: Classifier, image, bbox: BBox, padding: float | None = None):
    """The model input for one detection, cut from an upright uint8 3 x H x W frame on its device: what
    `classifier.preprocess([classifier.crop_detection(host_frame, bbox, padding)])[0]` gives."""
    import torch

    height, width = int(image.shape[1]), int(image.shape[2])
    padding = classifier.default_padding if padding is None else padding
    if classifier.kind == "speciesnet":
        if getattr(classifier, "model_type", "always_crop") == "full_image":
            top, rows = speciesnet_full_image_rows(height)
            crop = image[:, top:top + rows]
        else:
            top, left, crop_h, crop_w = speciesnet_window(bbox, padding, height, width)
            crop = torch.zeros((3, crop_h, crop_w), dtype=torch.uint8, device=image.device)  # outside: black
            src_top, src_left = max(top, 0), max(left, 0)
            src_bottom, src_right = min(top + crop_h, height), min(left + crop_w, width)
            if src_bottom > src_top and src_right > src_left:
                crop[:, src_top - top:src_bottom - top, src_left - left:src_right - left] = \
                    image[:, src_top:src_bottom, src_left:src_right]
        return speciesnet_pixels(crop.contiguous(), classifier.input_size)
    if classifier.kind == "wildeye-package":
        top, bottom, left, right = padded_window(bbox, padding, height, width)
        info = classifier.info  # type: ignore[attr-defined]
        return package_pixels(image[:, top:bottom, left:right].contiguous(), info.input_size, info.mean, info.std,
                              info.interpolation)
    raise TypeError(f"no device crops for a {classifier.kind} classifier")


def device_batch(classifier: Classifier, jobs: Sequence[tuple[Any, BBox]], padding: float | None = None):
    """Crops for (frame tensor, bbox) pairs stacked as one batch on the device."""
    import torch

    return torch.stack([device_crop(classifier, image, bbox, padding) for image, bbox in jobs])


class LazyHost:
    """An upright 3 x H x W device frame as a host H x W x 3 uint8 array, copied the first time it is asked for."""

    def __init__(self, image):
        self.image = image
        self._array = None

    def array(self):
        if self._array is None:
            self._array = self.image.permute(1, 2, 0).contiguous().cpu().numpy()
        return self._array
