"""`decode: device`: JPEGs decoded where the models run (nvJPEG on a CUDA GPU), so the host only reads files.

On a GPU the host's JPEG decode is the wall (a 12 MP frame is ~100 ms of one core; the network needs a few ms), so
DataLoader workers only read each file and its header (format, mode, EXIF orientation: no pixels), and the main
process decodes a batch in one `torchvision.io.decode_jpeg(..., device=...)` call (nvJPEG on CUDA, libjpeg-turbo on
CPU). The result is a CHW uint8 tensor on the device, upright: EXIF orientation is applied with tensor flips and
transposes, as PIL's `ImageOps.exif_transpose` does (mirrored orientations 2, 4, 5, 7 included, as `decode: full`).

What goes through PIL instead (`inference.decode`, the `full` decoder, in the worker), so every file is still read
the way `decode: full` reads it: anything that is not a baseline/progressive JPEG in RGB or greyscale (PNG, CMYK,
16-bit, ...), and files whose header PIL cannot read (their failure is the one `full` records). A JPEG the device
decoder rejects (truncated files: libjpeg-turbo and nvJPEG refuse what PIL's LOAD_TRUNCATED_IMAGES pads) is decoded
by PIL in the main process; only when PIL fails too is the frame a recorded failure.

Measured on the 120 shared frames: libjpeg-turbo through torchvision on CPU gives PIL's pixels exactly for every
JPEG it accepts; nvJPEG's IDCT may differ by a level here and there (scripts/gpu_check.py measures the agreement).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from wildeye.inference.decode import Decoded, DecodeError, decode

__all__ = ["Encoded", "read_for_device", "decode_batch", "upright", "to_device", "DEVICE_MODES"]

DEVICE_MODES = ("RGB", "L")  # PIL modes of the JPEGs decoded on the device; others go through PIL
_ORIENTATION = 0x0112


@dataclass
class Encoded:
    """One JPEG as read from disk, for the device decoder: its bytes and what its header says."""

    data: Any  # torch.Tensor, 1-D uint8 on the CPU: the file's bytes
    orientation: int  # EXIF orientation, 1 (upright) .. 8
    size: tuple[int, int]  # (width, height) as stored, before orientation
    path: str  # where it was read: PIL decodes it from there if the device decoder rejects it

    @property
    def upright_shape(self) -> tuple[int, int]:
        """(height, width) once the EXIF orientation is applied."""
        width, height = self.size
        return (width, height) if self.orientation in (5, 6, 7, 8) else (height, width)


def read_for_device(path: str | Path) -> Encoded | Decoded:
    """What a worker does for `decode: device`: read the file and its header; the pixels only when PIL must decode.

    Raises DecodeError (the reason `decode: full` would record) or OSError, as `inference.decode.decode` does.
    """
    import torch
    from PIL import Image

    try:
        data = Path(path).read_bytes()
    except OSError:
        return decode(str(path))  # its reason for an unreadable file, as `decode: full` records it
    try:
        with warnings.catch_warnings(), Image.open(io.BytesIO(data)) as image:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # scan flags these frames already
            fmt, mode, size = image.format, image.mode, image.size
            orientation = image.getexif().get(_ORIENTATION, 1)
    except Exception:  # noqa: BLE001  (PIL raises many types; the full decoder says why, in its words)
        return decode(str(path))
    if fmt not in ("JPEG", "MPO") or mode not in DEVICE_MODES:
        return decode(str(path))
    if orientation not in range(1, 9):
        orientation = 1  # as decode(): an out-of-range tag leaves the frame as stored
    return Encoded(torch.frombuffer(bytearray(data), dtype=torch.uint8), int(orientation), size, str(path))


def decode_batch(frames: Sequence[Encoded], device) -> list:
    """Upright CHW uint8 RGB tensors on `device`, one per frame, or a DecodeError for a frame nothing could decode.

    One batched device call; if it fails (one bad file fails a whole nvJPEG batch), frames are retried one by one,
    and a frame the device decoder rejects is decoded by PIL from its path (truncated JPEGs: PIL pads them).
    Devices without a JPEG decoder (MPS) decode on the CPU and move the result.
    """
    import torch

    if not frames:
        return []
    device = torch.device(device)
    where = device if device.type == "cuda" else torch.device("cpu")
    try:
        images = _decode_jpeg([f.data for f in frames], where)
    except RuntimeError:
        images = []
        for frame in frames:
            try:
                images.append(_decode_jpeg([frame.data], where)[0])
            except RuntimeError:
                images.append(None)
    out: list = []
    for frame, image in zip(frames, images):
        if image is None or tuple(image.shape[1:]) != (frame.size[1], frame.size[0]):
            try:
                out.append(to_device(decode(frame.path).image, device))  # already upright
            except DecodeError as exc:
                out.append(exc)
            except OSError as exc:
                out.append(DecodeError(f"image access failure: {exc.strerror or exc}"))
            continue
        out.append(upright(image, frame.orientation).contiguous().to(device))
    return out


def _decode_jpeg(data: list, device) -> list:
    from torchvision.io import ImageReadMode, decode_jpeg

    with warnings.catch_warnings():
        # torchvision 0.29 deprecates its image codecs in favour of TorchCodec; the call still works.
        warnings.simplefilter("ignore", DeprecationWarning)
        return decode_jpeg(data, mode=ImageReadMode.RGB, device=device)


def upright(image, orientation: int):
    """A CHW tensor turned upright for its EXIF orientation, as PIL's `ImageOps.exif_transpose` turns an image.

    EXIF 2.32 (CIPA DC-008) Orientation: the stored image's 0th row/column are at 1 top/left, 2 top/right,
    3 bottom/right, 4 bottom/left, 5 left/top, 6 right/top, 7 right/bottom, 8 left/bottom.
    """
    import torch

    if orientation == 2:
        return image.flip(-1)
    if orientation == 3:
        return image.flip(-2, -1)
    if orientation == 4:
        return image.flip(-2)
    if orientation == 5:
        return image.transpose(-2, -1)
    if orientation == 6:
        return torch.rot90(image, -1, (-2, -1))
    if orientation == 7:
        return image.transpose(-2, -1).flip(-2, -1)
    if orientation == 8:
        return torch.rot90(image, 1, (-2, -1))
    return image


def to_device(image, device):
    """An HxWx3 uint8 host array (or a CHW tensor) as a CHW tensor on `device`, through pinned memory on CUDA."""
    import numpy as np
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1) if isinstance(image, np.ndarray) \
        else image
    device = torch.device(device)
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.contiguous().pin_memory().to(device, non_blocking=True)
    return tensor.to(device)
