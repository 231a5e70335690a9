"""`wildeye run --ray ADDRESS`: the run's decode, detect and classify stages on a Ray cluster's actors.

The same stages as inference.pipeline, spread by Ray Data over two actor pools, with the one journal writer left
where it is, on the driver:

- DetectStage actors read and decode each frame once, letterbox it and detect (FramePipeline.process_batch, the
  local code), then cut the crops the classifier will see from that decoded frame (SpeciesNet's rule,
  utils.select_detections_for_classification: boxes >= classify_threshold, most confident first, at most
  max_crops_per_image). Only the crops leave the actor: a 20 MP frame is never shipped between nodes.
- ClassifyStage actors classify those crops in chunks of the classifier's batch size, as FramePipeline does.
- The driver takes the results as they stream back (`iter_batches`) and records each batch with the same
  `record` callback as the local path: one journal transaction per batch.

Exactly once: the driver sends `journal.pending()`, and a frame is done only when its batch's transaction
commits, so a driver killed at any moment leaves each frame recorded or pending, and the next run sends only the
pending ones (record_batch replaces a path's rows, never adds to them). A dead actor is restarted by Ray
(max_restarts) and the batch it held retried (max_task_retries); a frame that cannot be decoded is a recorded
failure, as locally. Ray is imported only here, and only when this engine runs.
"""

from __future__ import annotations

import math
import os
import pickle
import socket
import time
from pathlib import Path
from typing import Callable

from wildeye.errors import ConfigError
from wildeye.inference.pipeline import BatchResult, Progress, StageTimes

ModelFactory = Callable[[str], object]  # "detector" | "classifier" -> the loaded, wrapped model, on this actor

TASK_RETRIES = 3  # a batch whose actor died is tried again this often (a frame that kills every actor: run fails)


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError("the Ray engine needs Ray, which is not installed",
                          "pip install 'wildeye[ray]' (or run without --ray)") from None
    return ray


class DetectStage:
    """A Ray Data actor: decode + detect a batch of frames, and cut the crops to classify."""

    def __init__(self, load: ModelFactory, source: str, decode: str, batch_size: int, cropper,
                 classify_threshold: float, max_crops_per_image: int | None):
        from wildeye.inference.pipeline import FramePipeline

        self.pipeline = FramePipeline(load("detector"), None, batch_size=batch_size, workers=0, decode=decode)
        self.source = Path(source)
        self.cropper = cropper
        self.classify_threshold = classify_threshold
        self.max_crops = max_crops_per_image
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict) -> dict:
        from wildeye.inference.frames import FrameDataset

        paths = [str(p) for p in batch["path"]]
        pipeline = self.pipeline
        dataset = FrameDataset(self.source, paths, pipeline.min_side, pipeline.detector.preparer())
        items = [dataset[i] for i in range(len(paths))]
        detect_before = pipeline.times.detect
        result = pipeline.process_batch(items)
        detect_share = (pipeline.times.detect - detect_before) / max(1, len(paths))
        rows = []
        for path, frame, _, seconds in items:
            row = {"decode": seconds, "detect": detect_share, "classify": 0.0, "worker": self.worker,
                   "detections": None, "failure": result.failed.get(path), "chosen": [], "crops": []}
            if path in result.done:
                dets = result.done[path]
                row["detections"] = dets
                if self.cropper is not None:
                    order = sorted((i for i, d in enumerate(dets) if d.conf >= self.classify_threshold),
                                   key=lambda i: -dets[i].conf)[:self.max_crops]
                    row["chosen"] = order
                    row["crops"] = [self.cropper.crop_detection(frame.image, dets[i].bbox) for i in order]
            rows.append(pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL))
        return {"path": batch["path"], "result": _objects(rows)}


class ClassifyStage:
    """A Ray Data actor: classify the crops DetectStage cut, in chunks of the classifier's batch size."""

    def __init__(self, load: ModelFactory, batch_size: int, top_k: int):
        self.classifier = load("classifier")
        self.batch_size = batch_size
        self.top_k = top_k

    def __call__(self, batch: dict) -> dict:
        rows = [pickle.loads(payload) for payload in batch["result"]]
        jobs = [(row, i, crop) for row in rows for i, crop in zip(row["chosen"], row["crops"])]
        for start in range(0, len(jobs), self.batch_size):
            chunk = jobs[start:start + self.batch_size]
            started = time.perf_counter()
            tops = self.classifier.classify([crop for _, _, crop in chunk], top_k=self.top_k)
            share = (time.perf_counter() - started) / len(chunk)
            for (row, i, _), top in zip(chunk, tops):
                row["detections"][i].classifications = [(label, float(score)) for label, score in top]
                row["classify"] += share
        for row in rows:
            row["crops"] = []  # nothing heavy travels back to the driver
        return {"path": batch["path"],
                "result": _objects([pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL) for row in rows])}


def _map_batches(dataset, stage, **kwargs):
    """map_batches with bounded retries: a dead actor is restarted (max_restarts -1, Ray Data's default) and its
    batch tried TASK_RETRIES more times (Ray Data's default is forever: a frame that kills every actor would
    never end the run). Ray deprecates passing these (to be removed in 2.64); without them, Ray Data's defaults."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
            return dataset.map_batches(stage, max_restarts=-1, max_task_retries=TASK_RETRIES, **kwargs)
    except TypeError:
        return dataset.map_batches(stage, **kwargs)


def _objects(items: list):
    import numpy as np

    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def crop_rule(classifier):
    """The classifier without its network: what DetectStage needs to cut the crops this classifier looks at
    (its own `crop_detection`: SpeciesNet's crop, or a package's padding), small enough to ship to every actor."""
    if classifier is None:
        return None
    shell = object.__new__(type(classifier))
    shell.__dict__.update({k: v for k, v in vars(classifier).items() if k not in ("module", "_network")})
    shell.module = shell._network = None
    return shell


def actor_plan(resources: dict, detect_actors: int | None, classify: bool) -> dict:
    """Actor pool sizes and each actor's share of the cluster: one detector actor per GPU (sharing it with a
    classifier actor), else one per CPU less the classifier's (a classifier actor per 8 CPUs: on a CPU the
    detector is > 95% of the time). Shares are fractional so every actor fits on a small cluster."""
    cpus = max(1, int(resources.get("CPU", 1)))
    gpus = int(resources.get("GPU", 0))
    if gpus:
        classify_n = gpus if classify else 0
        detect_n = detect_actors or gpus
    else:
        classify_n = max(1, cpus // 8) if classify else 0
        detect_n = detect_actors or max(1, cpus - classify_n)
    actors = detect_n + classify_n
    return {"cpus": cpus, "gpus": gpus, "detect_actors": detect_n, "classify_actors": classify_n,
            "num_cpus": min(1.0, cpus / actors), "num_gpus": min(1.0, gpus / actors) if gpus else 0}


class RayPipeline:
    """FramePipeline's `process` on a Ray cluster (same arguments, same `record` callback, same StageTimes).

    load(part) builds "detector" or "classifier" on an actor with the local run's model-loading code; `cropper`
    is crop_rule(classifier) (None: detection only). Ray is connected in `process`; when it was not already
    connected, it is disconnected again at the end.
    """

    def __init__(self, load: ModelFactory, source_decode: str = "full", *, address: str | None = None,
                 batch_size: int = 8, classify_threshold: float = 0.1, cropper=None,
                 classifier_batch_size: int = 1, top_k: int = 5, max_crops_per_image: int | None = None,
                 detect_actors: int | None = None, on_connect: Callable[[dict], None] | None = None):
        if source_decode not in ("full", "fast"):
            raise ValueError(f"the Ray engine decodes full or fast, not {source_decode!r}")
        self.load = load
        self.decode = source_decode
        self.address = address
        self.batch_size = batch_size
        self.classify_threshold = classify_threshold
        self.cropper = cropper
        self.classifier_batch_size = classifier_batch_size
        self.top_k = top_k
        self.max_crops_per_image = max_crops_per_image
        self.detect_actors = detect_actors
        self.on_connect = on_connect
        self.times = StageTimes()
        self.cluster: dict = {}
        self.workers: dict[str, int] = {}  # frames per actor (host:pid)
        self.driver_seconds = 0.0  # unpacking results and writing the journal, on the driver

    @classmethod
    def for_run(cls, config, classifier, worker_model: Callable, classifier_batch_size: int,
                on_connect: Callable[[dict], None] | None = None) -> "RayPipeline":
        """The engine for a run config (wildeye.config.RunConfig); worker_model(config, part) loads on actors."""
        import functools

        return cls(functools.partial(worker_model, config), config.decode, address=config.ray_address,
                   batch_size=config.detector.batch_size,
                   classify_threshold=config.ensemble.classification_threshold, cropper=crop_rule(classifier),
                   classifier_batch_size=classifier_batch_size, top_k=config.classifier.top_k,
                   max_crops_per_image=config.classifier.max_crops_per_image, detect_actors=config.ray_workers,
                   on_connect=on_connect)

    def process(self, source: Path, paths: list[str], record: Callable[[BatchResult], None],
                on_progress: Progress | None = None) -> StageTimes:
        ray = _ray()
        started = time.perf_counter()
        connected_here = not ray.is_initialized()
        context = connect(self.address) if connected_here else None
        try:
            plan = actor_plan(ray.cluster_resources(), self.detect_actors, self.cropper is not None)
            dashboard = getattr(context, "dashboard_url", None) or _dashboard_url()
            self.cluster = {"address": self.address or "default", "nodes": sum(n["Alive"] for n in ray.nodes()),
                            "dashboard": f"http://{dashboard}" if dashboard and "://" not in dashboard else dashboard,
                            **plan}
            if self.on_connect:
                self.on_connect(dict(self.cluster))
            if paths:
                self._stream(ray, plan, Path(source), paths, record, on_progress)
        finally:
            if connected_here:
                ray.shutdown()
        self.times.total += time.perf_counter() - started
        return self.times

    def _stream(self, ray, plan: dict, source: Path, paths: list[str], record, on_progress) -> None:
        from ray.data import ActorPoolStrategy, DataContext

        context = DataContext.get_current()
        context.enable_progress_bars = False  # wildeye's own display: a row per stage
        context.max_errored_blocks = 0  # a batch that fails after its retries stops the run (its frames stay pending)
        # one input block per detector batch: results stream back batch by batch, a lost actor costs one batch
        blocks = max(1, min(math.ceil(len(paths) / self.batch_size), 100_000))
        dataset = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=blocks)
        dataset = _map_batches(
            dataset, DetectStage, batch_size=self.batch_size, batch_format="numpy",
            fn_constructor_args=(self.load, str(source), self.decode, self.batch_size, self.cropper,
                                 self.classify_threshold, self.max_crops_per_image),
            compute=ActorPoolStrategy(size=plan["detect_actors"]), num_cpus=plan["num_cpus"],
            num_gpus=plan["num_gpus"] or None)
        if self.cropper is not None:
            dataset = _map_batches(
                dataset, ClassifyStage, batch_size=self.batch_size, batch_format="numpy",
                fn_constructor_args=(self.load, self.classifier_batch_size, self.top_k),
                compute=ActorPoolStrategy(size=plan["classify_actors"]), num_cpus=plan["num_cpus"],
                num_gpus=plan["num_gpus"] or None)
        done = 0
        waited = time.perf_counter()
        for batch in dataset.iter_batches(batch_size=self.batch_size, batch_format="numpy"):
            self.times.wait += time.perf_counter() - waited
            unpack = time.perf_counter()
            result = self._result(batch)
            t = time.perf_counter()
            record(result)
            self.times.journal += time.perf_counter() - t
            self.driver_seconds += time.perf_counter() - unpack  # the driver's own cost: unpack + journal
            done += len(result.done) + len(result.failed)
            if on_progress:
                on_progress(done, len(paths))
            waited = time.perf_counter()

    def _result(self, batch: dict) -> BatchResult:
        result = BatchResult()
        for path, payload in zip(batch["path"], batch["result"]):
            row = pickle.loads(payload)
            self.times.decode += row["decode"]
            self.times.detect += row["detect"]
            self.times.classify += row["classify"]
            self.workers[row["worker"]] = self.workers.get(row["worker"], 0) + 1
            if row["detections"] is None:
                result.failed[str(path)] = row["failure"] or "unknown"
            else:
                result.done[str(path)] = row["detections"]
        return result


def connect(address: str | None):
    """ray.init for an address as the run config takes it (auto, local, ray://HEAD:10001, HEAD:6379, None);
    a cluster that cannot be reached is one line naming it, exit 2."""
    import logging

    ray = _ray()
    _check_reachable(address)
    try:
        return ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"could not connect to the Ray cluster at {address or 'the default address'}: "
                          f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                          "start it (ray start --head) or check --ray (auto, local, ray://HEAD:10001, "
                          "HEAD:6379)") from None


def _check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """HEAD:PORT and ray://HEAD:PORT: a TCP connection first, because Ray itself retries an unreachable head for
    minutes before it says so."""
    if not address or address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"could not connect to the Ray cluster at {address}: {exc}",
                          "start it (ray start --head), check the host and port, or use --ray auto / local") from None


def _dashboard_url() -> str | None:
    try:
        from ray._private.worker import get_dashboard_url  # the connected cluster's, where ray.init was earlier

        return get_dashboard_url() or None
    except Exception:  # noqa: BLE001  (a private helper: a missing link costs nothing)
        return None


__all__ = ["ClassifyStage", "DetectStage", "RayPipeline", "actor_plan", "connect", "crop_rule"]
