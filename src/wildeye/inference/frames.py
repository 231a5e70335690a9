"""The data path: DataLoader workers decode frames (reduced size, once each) while the main process runs models."""

from __future__ import annotations

import time
from pathlib import Path

from wildeye.inference.decode import DecodeError, decode


class FrameDataset:
    """Map-style dataset of frames; a file that fails to decode yields its reason instead of raising."""

    def __init__(self, source: Path, paths: list[str], min_side: int | None):
        self.source = Path(source)
        self.paths = paths
        self.min_side = min_side

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        path = self.paths[index]
        started = time.perf_counter()
        try:
            decoded, error = decode(str(self.source / path), self.min_side), None
        except DecodeError as exc:
            decoded, error = None, str(exc)
        except OSError as exc:
            decoded, error = None, f"image access failure: {exc.strerror or exc}"
        return path, decoded, error, time.perf_counter() - started


def _keep_list(batch):
    return batch


def frame_loader(dataset: FrameDataset, batch_size: int, workers: int):
    """Batches of (path, Decoded | None, error | None, decode seconds); order preserved."""
    from torch.utils.data import DataLoader

    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=_keep_list,
                      prefetch_factor=4 if workers else None)
