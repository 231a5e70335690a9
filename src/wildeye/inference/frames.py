"""The data path: DataLoader workers decode each frame once and letterbox it while the main process runs models.

A worker hands back the decoded frame as a torch tensor (moved through shared memory, not a pipe: a 20 MP frame
is 60 MB) and the letterboxed detector input; with `raw` (decode: device) it only reads the file and its header, and
the main process decodes on the device (inference.device_decode). Workers die with the run: each asks the kernel for SIGKILL when its
parent dies (Linux `PR_SET_PDEATHSIG`), so a run killed by kill -9, SIGTERM or a dropped ssh session leaves no
orphan decoding forever (the journal lock is the run's own and is never inherited; see store.journal).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from wildeye.inference.decode import DecodeError, decode
from wildeye.names import media_path

_PR_SET_PDEATHSIG = 1


@dataclass
class Frame:
    """One decoded frame: the image crops come from, and the letterboxed detector input (or None)."""

    image: Any  # torch.Tensor (uint8 H x W x 3) in transit, np.ndarray once in the main process;
    # raw: a device_decode.Encoded (the file's bytes), then a 3 x H x W tensor on the device
    boxed: Any  # detector.Letterboxed | None


class FrameDataset:
    """Map-style dataset of frames; a file that fails to decode yields its reason instead of raising."""

    def __init__(self, source: Path, paths: list[str], min_side: int | None, prepare: Callable | None = None,
                 raw: bool = False):
        self.source = Path(source)
        self.paths = paths
        self.min_side = min_side
        self.prepare = prepare
        self.raw = raw  # JPEG bytes for the device decoder; PIL decodes only what the device cannot

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        import torch

        path = self.paths[index]
        started = time.perf_counter()
        try:
            if self.raw:
                return path, self._read_raw(path), None, time.perf_counter() - started
            decoded = decode(str(media_path(self.source, path)), self.min_side)
            boxed = self.prepare(decoded.image) if self.prepare is not None else None
            frame, error = Frame(torch.from_numpy(decoded.image), boxed), None
        except DecodeError as exc:
            frame, error = None, str(exc)
        except OSError as exc:
            frame, error = None, f"image access failure: {exc.strerror or exc}"
        return path, frame, error, time.perf_counter() - started

    def _read_raw(self, path: str) -> Frame:
        import torch

        from wildeye.inference.device_decode import Encoded, read_for_device

        item = read_for_device(media_path(self.source, path))
        return Frame(item if isinstance(item, Encoded) else torch.from_numpy(item.image), None)


def _keep_list(batch):
    return batch


def die_with_parent(parent_pid: int, worker_id: int = 0) -> None:
    """DataLoader worker_init_fn: SIGKILL this worker when the run that started it dies (Linux only)."""
    del worker_id
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)


def frame_loader(dataset: FrameDataset, batch_size: int, workers: int):
    """Batches of (path, Frame | None, error | None, decode seconds); order preserved."""
    from torch.utils.data import DataLoader

    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=_keep_list,
                      prefetch_factor=2 if workers else None,
                      worker_init_fn=functools.partial(die_with_parent, os.getpid()) if workers else None)
