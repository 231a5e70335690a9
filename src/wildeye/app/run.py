"""`wildeye run SOURCE`: scan + detect + classify + journal + decisions + MegaDetector JSON, resumable.

Stills go through the FramePipeline's decode workers; videos are sampled by app.video and their frames go through
the same pipeline, detector and classifier.

Running the same command again after a crash (or kill -9) resumes: the journal knows which frames are done.
Running it with different models or settings on a journal that already holds results stops with a clear
message instead of mixing results, unless `rerun` is asked for.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from wildeye.app.alerts import new_sightings, notify
from wildeye.app.failures import FailedFile, failure_summary
from wildeye.app.static import mark_static
from wildeye.app.video import process_videos
from wildeye.atomic import write_json_atomic
from wildeye.config import FALLBACK_DETECTION_THRESHOLD, RunConfig, resolve_decode
from wildeye.errors import ConfigError, NothingToDo, WildeyeError
from wildeye.inference.classifier import classifier_from_loaded
from wildeye.inference.detector import Detector, choose_path
from wildeye.inference.device import select_device
from wildeye.inference.ensemble import Ensemble, ImageResult
from wildeye.inference.pipeline import FramePipeline
from wildeye.ingest.manifest import MANIFEST_NAME, ScanSettings
from wildeye.ingest.scan import scan
from wildeye.labels import Taxonomy
from wildeye.models.factory import create_model
from wildeye.names import record_name
from wildeye.records import BoxDecision
from wildeye.reports.build import build_report
from wildeye.reports.megadetector import journal_documents
from wildeye.review import sync_run
from wildeye.store.journal import Journal
from wildeye.store.runlog import RunLog

logger = logging.getLogger(__name__)

MEGADETECTOR_JSON = "megadetector.json"
MEGADETECTOR_VIDEO_FRAMES_JSON = "megadetector_video_frames.json"
Progress = Callable[[int, int], None]


@dataclass
class RunOutcome:
    out_dir: Path
    summary: dict
    times: dict
    models: dict
    outputs: dict = field(default_factory=dict)


@dataclass
class LoadedModels:
    detector: object
    classifier: object | None
    info: dict  # what the journal and the MegaDetector JSON record about them


def load_models(config: RunConfig, device) -> LoadedModels:
    """Both models through `models.create_model` (registry name or path: cached, downloaded, or sniffed), wrapped
    for inference; what the journal and the MegaDetector JSON record about them."""
    detector, info = load_detector(config, device)
    classifier = None
    if config.classifier.name:
        classifier, info["classifier"] = load_classifier(config, device)
    return LoadedModels(detector, classifier, info)


def load_detector(config: RunConfig, device) -> tuple[Detector, dict]:
    det_model = create_model(config.detector.name, "detector")
    det_runtime, det_precision = choose_path(device, config.detector.precision, config.detector.runtime)
    detector = Detector.from_loaded(det_model, device=device, image_size=config.detector.image_size,
                                    conf_floor=config.detector.threshold, precision=det_precision,
                                    runtime=det_runtime)
    spec = det_model.spec
    info = {"detector": {"name": det_model.name, "path": str(det_model.path), "filename": det_model.path.name,
                         "md5": _model_md5(det_model), "megadetector_version": det_model.version or "unknown",
                         "typical_detection_threshold": (spec.detection_threshold if spec else None)
                         or det_model.typical_threshold or FALLBACK_DETECTION_THRESHOLD,
                         "conservative_detection_threshold": det_model.conservative_threshold or 0.05,
                         "image_size": detector.image_size, "letterbox_stride": detector.letterbox_stride,
                         "precision": det_precision, "runtime": det_runtime}}
    return detector, info


def load_classifier(config: RunConfig, device) -> tuple[object, dict]:
    cls_model = create_model(config.classifier.name, "classifier")
    cls_runtime, cls_precision = choose_path(device, config.classifier.precision, config.classifier.runtime)
    classifier = classifier_from_loaded(cls_model, device=device,
                                        batch_size=classifier_batch_size(config, device),
                                        precision=cls_precision, runtime=cls_runtime)
    info = {"name": cls_model.name, "path": str(cls_model.path), "md5": _model_md5(cls_model),
            "labels": len(classifier.labels), "input_size": classifier.input_size,
            "precision": cls_precision, "runtime": classifier.runtime}
    if classifier.taxonomy:  # a package's labels -> 7-field taxonomy strings: what reports name them by
        info["taxonomy"] = dict(classifier.taxonomy)
    return classifier, info


def _local_pipeline(models: LoadedModels, config: RunConfig, device) -> FramePipeline:
    return FramePipeline(models.detector, models.classifier, batch_size=config.detector.batch_size,
                         workers=config.workers, classify_threshold=config.ensemble.classification_threshold,
                         decode=config.decode, classifier_batch_size=classifier_batch_size(config, device),
                         top_k=config.classifier.top_k, max_crops_per_image=config.classifier.max_crops_per_image)


def worker_model(config: RunConfig, part: str):
    """What one Ray actor loads (inference.ray_engine), with the code above, on the actor's own device."""
    device = select_device(config.device)
    return load_detector(config, device)[0] if part == "detector" else load_classifier(config, device)[0]


def classifier_batch_size(config: RunConfig, device) -> int:
    """The configured size, else 1 on CPU (EfficientNetV2-M at 480 px is 1.5x faster per crop unbatched there)."""
    return config.classifier.batch_size or (1 if device.type == "cpu" else 32)


def run(source: Path, out_dir: Path, config: RunConfig, scan_settings: ScanSettings | None = None, *,
        rerun: bool = False, wait: bool = False, on_sighting: str | None = None, report: bool = False,
        on_scan: Progress | None = None, on_progress: Progress | None = None,
        on_cluster: Callable[[dict], None] | None = None) -> RunOutcome:

    started = time.perf_counter()
    device = select_device(config.device)
    # the Ray engine decodes on its workers' CPUs (decode: device is local only)
    config = config.model_copy(update={"decode": resolve_decode(
        config.decode, device.type if config.engine == "local" else "cpu")})
    with Journal.open(out_dir, wait=wait) as journal:  # lock first: two runs never scan or write at once
        stale = journal.close_stale_runs()
        if stale:
            logger.warning("%d earlier run(s) of %s had died without finishing: marked interrupted", stale, out_dir)
        manifest = scan(source, scan_settings, out_dir=out_dir, on_progress=on_scan)
        if not manifest.files:
            raise NothingToDo(f"no images or videos found in {source}",
                              "check that the card is mounted and the path is right")
        manifest.write(out_dir / MANIFEST_NAME)
        models = load_models(config, device)
        if config.ensemble.detection_threshold is None:  # the detector's published threshold (redwood: 0.3)
            typical = models.info["detector"]["typical_detection_threshold"]
            config = config.model_copy(update={"ensemble": config.ensemble.model_copy(
                update={"detection_threshold": typical})})
        _check_fingerprint(journal, _fingerprint(config, models.info), rerun)
        journal.set_meta("source", record_name(str(Path(source).resolve())))
        journal.add_media(manifest.files, videos=config.video.enabled)
        journal.set_deployments(manifest.deployments)
        pending = journal.pending()
        videos = journal.pending_videos()  # app.video samples them (video.enabled: false: add_media skipped them)
        video_set = set(videos)
        stills = [path for path in pending if path not in video_set]
        run_id = journal.start_run(config.model_dump(mode="json"), models.info)
        log = RunLog(out_dir / "logs", run_id)
        log.event("run_started", source=str(source), frames_pending=len(pending), device=str(device),
                  models=models.info, media=len(manifest.files))
        if config.engine == "ray":
            from wildeye.inference.ray_engine import RayPipeline

            pipeline = RayPipeline.for_run(config, models.classifier, worker_model,
                                           classifier_batch_size(config, device),
                                           on_connect=lambda cluster: (log.event("ray_connected", **cluster),
                                                                       on_cluster and on_cluster(cluster)))
        else:
            pipeline = _local_pipeline(models, config, device)

        def record(batch) -> None:
            journal.record_batch(run_id, batch.done, batch.failed)
            for path, reason in batch.failed.items():
                log.event("frame_failed", path=path, reason=reason)
            log.event("batch_recorded", done=len(batch.done), failed=len(batch.failed))

        def progress(done: int, total: int) -> None:  # stills first, then each video counts as one
            if on_progress:
                on_progress(done, total + len(videos))

        videos_done = 0

        def video_finished(_path: str) -> None:
            nonlocal videos_done
            videos_done += 1
            progress(len(stills) + videos_done, len(stills))

        status = "interrupted"
        video_counts = {"videos_done": 0, "videos_failed": 0, "video_frames": 0}
        try:
            pipeline.process(Path(source), stills, record, progress)
            # videos are sampled and detected here, frame batch by frame batch (also under the Ray engine)
            if videos:
                video_pipeline = pipeline if config.engine == "local" else _local_pipeline(models, config, device)
                video_counts = process_videos(Path(source), videos, journal, video_pipeline, run_id, config.video,
                                              event=log.event, on_video=video_finished)
            if models.classifier is not None and models.info["classifier"]["runtime"] != models.classifier.runtime:
                # the ONNX export failed on the first crops and the classifier ran in PyTorch: record what ran
                models.info["classifier"]["runtime"] = models.classifier.runtime
                journal.set_run_models(run_id, models.info)
            static = mark_static(journal, config.static)
            log.event("static_marked", **static)
            decide(journal, config, models.classifier, models.info)
            outputs = {"megadetector_json": str(write_megadetector_json(
                journal, out_dir, models.info, raw_classifications=config.after_run.raw_classifications))}
            sightings = new_sightings(journal, run_id, config.ensemble.flagship_species, config.privacy)
            for sighting in sightings:
                log.event("sighting", **vars(sighting))
            hooks = notify(on_sighting, sightings, str(Path(source).resolve())) if on_sighting else []
            for hook in hooks:
                log.event("on_sighting", **hook)
            if config.after_run.fiftyone:
                outputs["fiftyone"] = _sync_fiftyone(out_dir, config.after_run.dataset, log)
            if report:
                outputs.update(_write_report(out_dir, log, config.privacy, config.after_run.raw_classifications))
            status = "finished"
        except BaseException as exc:
            log.event("run_failed", error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            stats = {"frames": len(pending), "seconds": round(time.perf_counter() - started, 3),
                     "times": pipeline.times.as_dict(), **video_counts}
            try:
                journal.finish_run(run_id, status, stats)
            finally:
                log.event("run_" + status if status == "finished" else "run_stopped", status=status, **stats)
                log.close()
        summary = summarize_results(journal)
        failures = journal.failure_counts()
        scan_failed = {f.path for f in manifest.files if f.failure}
        failed = [FailedFile(m.path, "scan" if m.path in scan_failed else "detect", m.failure or "unknown")
                  for m in journal.media() if m.status == "failed"]
    summary.update(frames_this_run=len(pending), seconds=round(time.perf_counter() - started, 2),
                   failures=failures, **failure_summary(out_dir, failed),
                   new_sightings=[vars(s) for s in sightings], on_sighting=hooks, log=str(log.path), **static,
                   **video_counts)
    if config.engine == "ray":
        summary["ray"] = {**pipeline.cluster, "frames_per_worker": pipeline.workers,
                          "driver_seconds": round(pipeline.driver_seconds, 3)}
    return RunOutcome(out_dir=out_dir, summary=summary, times=pipeline.times.as_dict(), models=models.info,
                      outputs=outputs)


def _write_report(out_dir: Path, log, privacy=None, raw_classifications: bool = False) -> dict:
    """The sightings report after a run; a report that fails costs the report, not the finished run."""
    from wildeye.reports.metadata import ProjectMetadata

    try:  # this run holds the lock and is done
        build_report(out_dir, run_in_progress=False,
                     project=ProjectMetadata(privacy=privacy) if privacy is not None else None,
                     raw_classifications=raw_classifications)
    except Exception as exc:  # noqa: BLE001  (any report bug: the run's results are safe in the journal)
        logger.warning("report not written: %s: %s (the run's results are in the journal; try `wildeye report %s`)",
                       type(exc).__name__, exc, out_dir)
        log.event("report_failed", error=f"{type(exc).__name__}: {exc}")
        return {"report_error": f"{type(exc).__name__}: {exc}"}
    return {"report": str(out_dir / "report" / "report.html"),
            "megadetector_reviewed": str(out_dir / "report" / "megadetector_reviewed.json")}


def _sync_fiftyone(out_dir: Path, dataset: str | None, log) -> str | None:
    """Results into the review dataset; a database that will not start costs the review, not the run."""
    try:
        result = sync_run(out_dir, dataset)
    except WildeyeError as exc:
        logger.warning("FiftyOne sync skipped: %s", exc)
        log.event("fiftyone_sync_failed", error=str(exc))
        return None
    log.event("fiftyone_synced", **{k: v for k, v in result.items() if k != "seconds"})
    return result.get("dataset")


def _check_fingerprint(journal, fingerprint: dict, rerun: bool) -> None:
    """Results from other models or settings are never mixed in one journal."""
    previous = journal.get_meta("fingerprint")
    if previous is not None and previous != fingerprint:
        if not rerun:
            raise ConfigError(f"{journal.path} holds results from other models or settings",
                              "pass --rerun to redo every frame with these, or --out to keep both")
        journal.requeue_processed()
    journal.set_meta("fingerprint", fingerprint)


def decide(journal, config: RunConfig, classifier=None, models_info: dict | None = None) -> None:
    """Ensemble decisions for every processed frame, sequence by sequence, written to the journal per box."""
    ensemble = build_ensemble(config, classifier, (models_info or {}).get("detector", {}))
    deployments = journal.deployments()
    detections = journal.detections()
    suppressed = {key for key, mark in journal.static_marks().items() if mark.suppressed}
    images, kept = [], {}
    for media in journal.media():
        if media.status != "done":
            continue
        deployment = deployments.get(media.deployment_id)
        extra = deployment.extra if deployment else {}
        boxes = detections.get(media.path, [])
        # static boxes (a rock boxed in every frame, app.static) take no part: the box keeps no decision
        kept[media.path] = [i for i in range(len(boxes)) if (media.path, i) not in suppressed]
        images.append(ImageResult(path=media.path, detections=[boxes[i] for i in kept[media.path]],
                                  sequence_id=media.sequence_id, frame_num=media.frame_num,
                                  country=extra.get("country"), admin1_region=extra.get("admin1Region")))
    written = {}
    for path, d in ensemble.decide_sequences(images).items():
        per_box: list = [None] * len(detections.get(path, []))
        for i, box in zip(kept[path], d.detections):
            per_box[i] = box_decision(box)
        written[path] = (d.prediction, per_box)
    journal.write_decisions(written)


def box_decision(d):
    """An ensemble DetectionDecision as the journal keeps it (a types.BoxDecision), None for a box with none."""
    p = d.prediction
    if p is None:
        return None
    return BoxDecision(p.label, p.score, p.source, d.rank, d.counted, p.needs_review, list(p.review_reasons),
                       d.speciesnet, d.previous)


def build_ensemble(config: RunConfig, classifier=None, detector_info: dict | None = None):
    """The run's Ensemble: the model's published detection threshold unless the config sets one, the classifier's
    calibrated thresholds (the config's own win), and SpeciesNet's taxonomy and geofence files from the model
    folder (its info.json) unless the config names others."""

    settings = config.ensemble
    update: dict = {}
    if settings.detection_threshold is None:
        update["detection_threshold"] = ((detector_info or {}).get("typical_detection_threshold")
                                         or FALLBACK_DETECTION_THRESHOLD)
    calibrated = getattr(classifier, "thresholds", None) or {}
    if calibrated:  # a trained package's per-class thresholds; the run config's own win
        update["class_thresholds"] = {**calibrated, **settings.class_thresholds}
    shipped = model_resources(classifier)
    if settings.geofence_file is None and settings.geofence and shipped.get("geofence"):
        update["geofence_file"] = str(shipped["geofence"])
    settings = settings.model_copy(update=update)
    taxonomy_file = settings.taxonomy_file or shipped.get("taxonomy")
    if taxonomy_file:
        taxonomy = Taxonomy.from_file(taxonomy_file)
    else:
        taxonomy = Taxonomy.implied_by(getattr(classifier, "labels", None) or ())
    return Ensemble(settings, taxonomy=taxonomy)


def model_resources(classifier) -> dict:
    """The taxonomy and geofence files a SpeciesNet model folder ships (its info.json's "taxonomy", "geofence")."""
    files = getattr(classifier, "files", None) or {}
    return {key: Path(files[key]) for key in ("taxonomy", "geofence") if key in files and Path(files[key]).is_file()}


def write_megadetector_json(journal, out_dir: Path, models_info: dict, *, raw_classifications: bool = False) -> Path:
    """OUT/megadetector.json: every frame, each box with its decision (reviewers' labels win), from the same
    builder as the report's megadetector_reviewed.json (reports.megadetector)."""
    document, video_frames = journal_documents(out_dir, journal, models_info, raw_classifications=raw_classifications)
    path = out_dir / MEGADETECTOR_JSON
    write_json_atomic(path, document)
    if video_frames is not None:  # videos' sampled frames, one entry each, named as MegaDetector names them
        write_json_atomic(out_dir / MEGADETECTOR_VIDEO_FRAMES_JSON, video_frames)
    return path


def _fingerprint(config: RunConfig, info: dict) -> dict:
    """What makes results comparable: the model files and the settings that change raw model output.

    Precision is the one chosen (auto resolves to fp32); the runtime is left out: ONNX Runtime's fp32 differs
    from PyTorch's by float rounding, as one machine's PyTorch differs from another's, so a journal moved between
    a laptop and a GPU machine resumes without --rerun."""
    return {"detector_md5": info["detector"]["md5"], "detector_image_size": info["detector"]["image_size"],
            "detector_floor": config.detector.threshold, "detector_precision": info["detector"]["precision"],
            "decode": config.decode, "classification_threshold": config.ensemble.classification_threshold,
            "classifier_md5": info.get("classifier", {}).get("md5"), "top_k": config.classifier.top_k,
            "classifier_precision": info.get("classifier", {}).get("precision")
            or choose_path(None, config.classifier.precision, "torch")[1],
            "max_crops_per_image": config.classifier.max_crops_per_image}


def _model_md5(model) -> str:
    """The published md5 for a registry model from the cache (verified when pulled or imported), else hashed now."""
    if model.source == "cache" and model.spec is not None and model.spec.md5:
        return model.spec.md5
    return _md5(model.path)


def _md5(path: Path) -> str:
    """md5 of a model file (as MegaDetector publishes them), or of every file in a model folder."""
    digest = hashlib.md5()
    files = sorted(p for p in Path(path).rglob("*") if p.is_file()) if Path(path).is_dir() else [Path(path)]
    for file in files:
        if Path(path).is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def summarize_results(journal) -> dict:
    """Counts a ranger wants at the end of a run, from the journal's decisions."""
    counts = journal.counts()
    decisions = journal.decisions()
    labels = Counter(p.label for p in decisions.values())
    species = {label: n for label, n in labels.items() if label not in ("blank", "human", "vehicle")}
    return {
        "images": sum(counts.values()),
        "processed": counts.get("done", 0),
        "failed": counts.get("failed", 0),
        "pending": counts.get("pending", 0),
        "duplicates": counts.get("duplicate", 0),
        "skipped": counts.get("skipped", 0),
        "blank": labels.get("blank", 0),
        "human": labels.get("human", 0),
        "vehicle": labels.get("vehicle", 0),
        "animals": dict(sorted(species.items(), key=lambda kv: (-kv[1], kv[0]))),
        "needs_review": sum(p.needs_review for p in decisions.values()),
    }
