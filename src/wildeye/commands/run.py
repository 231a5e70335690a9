"""`wildeye run SOURCE`: a thin shell over `wildeye.app.run`; flags and the YAML config are the same settings."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wildeye.commands.folders import check_source, ensure_writable
from wildeye.commands.options import CONTEXT, verbosity_options
from wildeye.errors import EXIT_INPUT_FAILURES, EXIT_OK


@click.command("run", context_settings=CONTEXT)
@click.argument("source", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the journal, manifest and outputs.  [default: SOURCE/wildeye]")
@click.option("-c", "--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Run config YAML (see configs/run.yaml).")
@click.option("--detector", default=None, help="Detector: registry name (mdv5a, mdv1000-spruce, …) or checkpoint path."
              "  [default: mdv5a]")
@click.option("--classifier", default=None, help="Classifier: registry name, model package or path; 'none' for "
              "detection only.  [default: speciesnet]")
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:N or mps.  [default: auto]")
@click.option("--batch-size", type=click.IntRange(1, 1024), default=None, help="Frames per detector batch.  [default: 8]")
@click.option("--workers", type=click.IntRange(0, 64), default=None, help="Decoding processes.  [default: 2]")
@click.option("--deployments", "deployments_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Camtrap DP-style deployments.csv.  [default: SOURCE/deployments.csv if present]")
@click.option("--sequence-gap", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds between frames that start a new sequence.  [default: 60]")
@click.option("--time-source", type=click.Choice(["auto", "exif", "ocr"]), default=None,
              help="Capture time from EXIF, the info strip's printed date (ocr), or EXIF checked against the strip "
                   "(auto); deployments.csv's timeSource overrides it per deployment.  [default: auto]")
@click.option("--decode", type=click.Choice(["auto", "full", "fast", "device"]), default=None,
              help="full: MegaDetector's and SpeciesNet's pixels (their answers); fast: reduced JPEG decode, "
                   "3-4x cheaper, answers move; device: decode, letterbox and crop on the GPU (nvJPEG), boxes "
                   "move slightly; auto: device on CUDA, else full.  [default: auto]")
@click.option("--precision", type=click.Choice(["auto", "fp32", "fp16", "bf16"]), default=None,
              help="Both models' arithmetic. auto: the fastest within MegaDetector/SpeciesNet parity tolerance "
                   "(ONNX Runtime fp32 on a CPU); fp32: their own arithmetic, exactly.  [default: auto]")
@click.option("--geofence/--no-geofence", "geofence", default=None,
              help="Apply the classifier's geofence map by the deployments' countries.  [default: on]")
@click.option("--static/--no-static", "static", default=None,
              help="Mark boxes boxed at the same place in many frames of a camera (a rock, a stump) static and "
                   "leave them out of decisions, events and the review queue.  [default: on]")
@click.option("--video/--no-video", "video", default=None,
              help="Process videos (MP4, AVI, MOV, MTS): sampled frames detected and classified like stills.  "
                   "[default: on]")
@click.option("--video-every", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Sample a video frame every SECONDS (MegaDetector's --time_sample).  [default: 1]")
@click.option("--rerun", is_flag=True, help="Redo every frame when the journal holds results from other models.")
@click.option("--wait", is_flag=True, default=None,
              help="If another run holds this journal, wait for it instead of exiting (3).")
@click.option("--fiftyone/--no-fiftyone", "fiftyone", default=None,
              help="Sync results into a FiftyOne dataset for review.  [default: on]")
@click.option("--dataset", default=None, help="FiftyOne dataset name.  [default: wildeye-<source folder>]")
@click.option("--report", "report", is_flag=True, default=None, help="Write the sightings report (OUT/report) too.")
@click.option("--on-sighting", metavar="CMD", default=None,
              help="Shell command run for each new flagship sighting (WILDEYE_* variables, JSON on stdin).")
@click.option("--ray", "ray_address", metavar="ADDRESS", default=None,
              help="Decode, detect and classify on a Ray cluster (pip install 'wildeye[ray]'): auto (the running "
                   "cluster), local (a new one in this process), ray://HEAD:10001 or HEAD:6379. Frames must be at "
                   "the same path on every node.")
@click.option("--ray-workers", type=click.IntRange(1, 4096), default=None,
              help="Detector actors on the Ray cluster.  [default: one per GPU, else per CPU]")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@verbosity_options
@click.pass_obj
def run(obj: dict, source: Path, out: Path | None, config_path: Path | None, detector: str | None,
        classifier: str | None, device: str | None, batch_size: int | None, workers: int | None,
        deployments_csv: Path | None, sequence_gap: float | None, time_source: str | None, decode: str | None,
        precision: str | None, geofence: bool | None, static: bool | None, video: bool | None,
        video_every: float | None,
        rerun: bool, wait: bool | None, fiftyone: bool | None,
        dataset: str | None, report: bool | None, on_sighting: str | None, ray_address: str | None,
        ray_workers: int | None, as_json: bool) -> int:
    """Detect and classify every frame of SOURCE: resumable; writes a journal and MegaDetector JSON."""
    from wildeye import ui
    from wildeye.app.run import run as run_pipeline
    from wildeye.config import load_run_config
    from wildeye.ingest.manifest import ScanSettings

    # Flags and the YAML config are the same settings: a flag given overrides the file.
    flags = {"detector.name": detector, "device": device, "detector.batch_size": batch_size, "workers": workers,
             "decode": decode, "detector.precision": precision, "classifier.precision": precision,
             "ensemble.geofence": geofence, "static.enabled": static, "wait": wait,
             "video.enabled": video, "video.every_n_seconds": video_every,
             "scan.sequence_gap": sequence_gap, "scan.time_source": time_source,
             "scan.deployments": str(deployments_csv) if deployments_csv else None,
             "after_run.fiftyone": fiftyone, "after_run.dataset": dataset, "after_run.report": report,
             "after_run.on_sighting": on_sighting, "ray_address": ray_address, "ray_workers": ray_workers,
             "engine": "ray" if ray_address else None}
    overrides = {key: value for key, value in flags.items() if value is not None}
    if classifier is not None:
        overrides["classifier.name"] = None if classifier.lower() == "none" else classifier
    config = load_run_config(config_path, overrides)
    check_source(source)
    out = out or source / "wildeye"
    ensure_writable(out)
    settings = ScanSettings(sequence_gap_s=config.scan.sequence_gap, deployments_csv=config.scan.deployments,
                            time_source=config.scan.time_source)
    quiet = obj["quiet"]
    with ui.StageProgress(enabled=not quiet and not as_json) as stages:  # one display: a row per stage
        outcome = run_pipeline(source, out, config, settings, rerun=rerun, wait=config.wait,
                               on_sighting=config.after_run.on_sighting, report=config.after_run.report,
                               on_scan=stages.callback("scanning"),
                               on_progress=stages.callback("detecting", unit="images"),
                               on_cluster=None if quiet or as_json else ui.print_ray_cluster)
    result = {**outcome.summary, "times": outcome.times, "models": outcome.models, "outputs": outcome.outputs,
              "out": str(out)}
    if as_json:
        click.echo(json.dumps(result, indent=1))
    elif not quiet:
        ui.print_run_summary(result, verbose=obj["verbose"] > 0)
    return EXIT_INPUT_FAILURES if outcome.summary["failed"] else EXIT_OK
