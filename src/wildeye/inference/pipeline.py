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
    decode: float = 0.0  # summed over workers (CPU seconds spent decoding; decode: device, reading files)
    device_decode: float = 0.0  # decode: device, the main process's JPEG decode and letterbox on the device
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
    detector's input size; see inference.decode), or "device" (workers read files; JPEG decode, letterbox and
    classifier crops on the detector's device, see inference.device_decode). Crops come from the same decoded frame
    as the detector input.
    Which boxes are classified is SpeciesNet's rule (utils.select_detections_for_classification): every box with
    conf >= classify_threshold (0.1), of any category, the most confident `max_crops_per_image` if capped.
    """

    def __init__(self, detector, classifier=None, *, batch_size: int = 8, workers: int = 2,
                 classify_threshold: float = 0.1, crop_padding: float | None = None, decode: str = "full",
                 classifier_batch_size: int | None = None, top_k: int = 5,
                 max_crops_per_image: int | None = None, prefetch: bool | None = None):
        self.detector = detector
        self.classifier = classifier
        self.batch_size = batch_size
        self.workers = workers
        self.classify_threshold = classify_threshold
        self.crop_padding = crop_padding
        if decode not in ("full", "fast", "device"):
            raise ValueError(f"decode must be full, fast or device, not {decode!r}")
        self.min_side = detector.image_size if decode == "fast" else None
        self.on_device = decode == "device"
        # decode: device on an accelerator: a thread decodes the next batch while this one is detected (default)
        accelerator = getattr(getattr(detector, "device", None), "type", "cpu") != "cpu"
        self.prefetch = self.on_device and (accelerator if prefetch is None else bool(prefetch))
        self.classifier_batch_size = classifier_batch_size or batch_size
        self.top_k = top_k
        self.max_crops_per_image = max_crops_per_image
        self.times = StageTimes()

    def process(self, source: Path, paths: list[str], record: Callable[[BatchResult], None],
                on_progress: Progress | None = None) -> StageTimes:
        from wildeye.inference.frames import FrameDataset, frame_loader

        started = time.perf_counter()
        dataset = FrameDataset(source, paths, self.min_side, None if self.on_device else self.detector.preparer(),
                               raw=self.on_device)
        loader = frame_loader(dataset, self.batch_size, self.workers)
        staged_batches = self._staged(loader) if self.prefetch else ((batch, None) for batch in loader)
        done = 0
        waited = time.perf_counter()
        try:
            for batch, staged in staged_batches:
                self.times.wait += time.perf_counter() - waited
                result = self._finish(*(staged if staged is not None else self._stage(batch)))
                t = time.perf_counter()
                record(result)
                self.times.journal += time.perf_counter() - t
                done += len(batch)
                if on_progress:
                    on_progress(done, len(paths))
                waited = time.perf_counter()
        finally:
            staged_batches.close()  # a prefetching thread finishes its batch and stops
        self.times.total += time.perf_counter() - started
        return self.times

    def process_batch(self, batch) -> BatchResult:
        return self._finish(*self._stage(batch))

    def _staged(self, loader):
        """(batch, staged batch) pairs, the next batch staged in a thread while the caller finishes this one: the
        host work of one (nvJPEG's, NMS, the journal) overlaps the device work of the other. One CUDA stream for
        both, so the device runs them in the order they were queued, and the data each needs is always ready."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="wildeye-device-decode") as pool:
            pending = None
            for batch in loader:
                staged = pool.submit(self._stage, batch)
                if pending is not None:
                    yield pending[0], pending[1].result()
                pending = (batch, staged)
            if pending is not None:
                yield pending[0], pending[1].result()

    def _stage(self, batch) -> tuple[BatchResult, list]:
        """Workers' failures noted; frames ready for the detector (decode: device: decoded and letterboxed there)."""
        result = BatchResult()
        frames = []
        for path, decoded, error, seconds in batch:
            self.times.decode += seconds
            if error is not None:
                result.failed[path] = error
            else:
                frames.append((path, decoded))
        if frames and self.on_device:
            frames = self._decode_on_device(frames, result)
        return result, frames

    def _finish(self, result: BatchResult, frames: list) -> BatchResult:
        """Detect, classify, and the batch's result."""
        if not frames:
            return result
        if not self.on_device:
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

    def _decode_on_device(self, frames, result: BatchResult) -> list:
        """decode: device: the batch's JPEGs decoded and letterboxed on the detector's device (PIL's frames uploaded);
        a frame nothing could decode moves to `result.failed`."""
        import torch

        from wildeye.inference.device_decode import Encoded, decode_batch, to_device

        t = time.perf_counter()
        device = self.detector.device
        decoded = iter(decode_batch([frame.image for _, frame in frames if isinstance(frame.image, Encoded)], device))
        kept = []
        for path, frame in frames:
            if isinstance(frame.image, Encoded):
                frame.image = next(decoded)
            else:  # decoded by PIL in the worker (PNG, CMYK, ...): H x W x 3 on the host
                frame.image = to_device(frame.image.numpy(), device)
            if isinstance(frame.image, Exception):
                result.failed[path] = str(frame.image)
                continue
            kept.append((path, frame))
        for (_, frame), boxed in zip(kept, self.detector.prepare_tensor([frame.image for _, frame in kept])):
            frame.boxed = boxed
        if device.type == "cuda":  # the stage's time is the device's, not the launches': wait for this work only
            done = torch.cuda.Event()
            done.record(torch.cuda.current_stream(device))  # this thread may sit on another current device
            done.synchronize()
        self.times.device_decode += time.perf_counter() - t
        return kept

    def _classify(self, frames, detections) -> None:
        """Crop the boxes SpeciesNet would classify from the already-decoded frame and classify them in batches.

        decode: device: crops are cut on the device and go through the classifier as one batch per chunk; a
        classifier that cannot crop there gets host crops from a copy of the frame, made only when it has boxes.
        """
        from wildeye.inference.device_crops import LazyHost, crops_on_device, device_batch

        on_device = self.on_device and crops_on_device(self.classifier)
        jobs = []
        for (_, frame), dets in zip(frames, detections):
            chosen = sorted((d for d in dets if d.conf >= self.classify_threshold), key=lambda d: -d.conf)
            host = LazyHost(frame.image) if self.on_device and not on_device else None
            for det in chosen[:self.max_crops_per_image]:
                if on_device:
                    jobs.append((det, (frame.image, det.bbox)))
                else:
                    jobs.append((det, self._crop(host.array() if host else frame.image, det.bbox)))
        for start in range(0, len(jobs), self.classifier_batch_size):
            chunk = jobs[start:start + self.classifier_batch_size]
            if on_device:
                import torch

                batch = device_batch(self.classifier, [job for _, job in chunk], self.crop_padding)
                step = self.classifier.batch_size  # the forward batches `classify` would run
                logits = torch.cat([self.classifier.forward_batch(batch[i:i + step])
                                    for i in range(0, len(batch), step)])
                tops = self.classifier.top_labels(torch.softmax(logits, dim=-1), self.top_k)
            else:
                tops = self.classifier.classify([crop for _, crop in chunk], top_k=self.top_k)
            for (det, _), top in zip(chunk, tops):
                det.classifications = [(label, float(score)) for label, score in top]

    def _crop(self, image, bbox):
        if self.crop_padding is None:
            return self.classifier.crop_detection(image, bbox)
        return self.classifier.crop_detection(image, bbox, self.crop_padding)
