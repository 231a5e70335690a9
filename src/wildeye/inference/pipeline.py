"""`wildeye run`: scan -> decode -> detect -> classify -> journal, then decide and export.

Per-stage wall times are measured so a run can say where its time went; the models see batches while
DataLoader workers decode the next frames.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from wildeye.records import Detection

Progress = Callable[[int, int], None]


@dataclass
class StageTimes:
    decode: float = 0.0  # summed over workers (CPU seconds spent decoding)
    detect: float = 0.0
    classify: float = 0.0
    journal: float = 0.0
    wait: float = 0.0  # main process waiting for decoded frames
    total: float = 0.0

    def as_dict(self) -> dict:
        return {k: round(v, 3) for k, v in vars(self).items()}


@dataclass
class BatchResult:
    done: dict[str, list[Detection]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


class FramePipeline:
    """Runs detector (+ classifier) over pending frames and records every batch in the journal.

    decode: "full" (MegaDetector's and SpeciesNet's pixels, the default) or "fast" (JPEG DCT scaling to the
    detector's input size; see inference.decode). Crops come from the same decoded frame as the detector input.
    Which boxes are classified is SpeciesNet's rule (utils.select_detections_for_classification): every box with
    conf >= classify_threshold (0.1), of any category, the most confident `max_crops_per_image` if capped.
    """

    def __init__(self, detector, classifier=None, *, batch_size: int = 8, workers: int = 2,
                 classify_threshold: float = 0.1, crop_padding: float | None = None, decode: str = "full",
                 classifier_batch_size: int | None = None, top_k: int = 5,
                 max_crops_per_image: int | None = None):
        self.detector = detector
        self.classifier = classifier
        self.batch_size = batch_size
        self.workers = workers
        self.classify_threshold = classify_threshold
        self.crop_padding = crop_padding
        self.min_side = detector.image_size if decode == "fast" else None
        self.classifier_batch_size = classifier_batch_size or batch_size
        self.top_k = top_k
        self.max_crops_per_image = max_crops_per_image
        self.times = StageTimes()

    def process(self, source: Path, paths: list[str], record: Callable[[BatchResult], None],
                on_progress: Progress | None = None) -> StageTimes:
        from wildeye.inference.frames import FrameDataset, frame_loader

        started = time.perf_counter()
        dataset = FrameDataset(source, paths, self.min_side, self.detector.preparer())
        loader = frame_loader(dataset, self.batch_size, self.workers)
        done = 0
        waited = time.perf_counter()
        for batch in loader:
            self.times.wait += time.perf_counter() - waited
            result = self.process_batch(batch)
            t = time.perf_counter()
            record(result)
            self.times.journal += time.perf_counter() - t
            done += len(batch)
            if on_progress:
                on_progress(done, len(paths))
            waited = time.perf_counter()
        self.times.total += time.perf_counter() - started
        return self.times

    def process_batch(self, batch) -> BatchResult:
        result = BatchResult()
        frames = []
        for path, decoded, error, seconds in batch:
            self.times.decode += seconds
            if error is not None:
                result.failed[path] = error
            else:
                frames.append((path, decoded))
        if not frames:
            return result
        for _, frame in frames:
            frame.image = frame.image.numpy() if hasattr(frame.image, "numpy") else frame.image
        t = time.perf_counter()
        detections = self.detector.detect_prepared([frame.boxed for _, frame in frames])
        self.times.detect += time.perf_counter() - t
        if self.classifier is not None:
            t = time.perf_counter()
            self._classify(frames, detections)
            self.times.classify += time.perf_counter() - t
        for (path, _), dets in zip(frames, detections):
            result.done[path] = dets
        return result

    def _classify(self, frames, detections) -> None:
        """Crop the boxes SpeciesNet would classify from the already-decoded frame and classify them in batches."""
        jobs = []
        for (_, frame), dets in zip(frames, detections):
            chosen = sorted((d for d in dets if d.conf >= self.classify_threshold), key=lambda d: -d.conf)
            for det in chosen[:self.max_crops_per_image]:
                jobs.append((det, self._crop(frame.image, det.bbox)))
        for start in range(0, len(jobs), self.classifier_batch_size):
            chunk = jobs[start:start + self.classifier_batch_size]
            for (det, _), top in zip(chunk, self.classifier.classify([crop for _, crop in chunk], top_k=self.top_k)):
                det.classifications = [(label, float(score)) for label, score in top]

    def _crop(self, image, bbox):
        if self.crop_padding is None:
            return self.classifier.crop_detection(image, bbox)
        return self.classifier.crop_detection(image, bbox, self.crop_padding)
