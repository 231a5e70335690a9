"""The `wildeye` command: thin click shells over library functions.

Exit codes: 0 ok, 1 finished but some inputs failed, 2 usage or config error (one line, no traceback).
Heavy imports happen inside commands so `wildeye --help` stays fast.
"""

from __future__ import annotations

import errno
import json
import logging
import sqlite3
import sys
from pathlib import Path

import click

from wildeye import __version__
from wildeye.errors import (
    EXIT_INPUT_FAILURES,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_WRITE_FAILED,
    NothingToDo,
    Terminated,
    WildeyeError,
    WriteFailed,
)

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 110}


def _set_verbosity(ctx: click.Context, param: click.Parameter, value) -> None:
    """-v/-q work before or after the command name (`wildeye -q scan X` and `wildeye scan X -q`)."""
    if not value:
        return
    state = ctx.ensure_object(dict)
    if param.name == "quiet":
        state["quiet"], state["verbose"] = True, 0
    else:
        state["verbose"] = state.get("verbose", 0) + value
    _configure_logging(state)


def _configure_logging(state: dict) -> None:
    verbose = state.get("verbose", 0)
    level = logging.ERROR if state.get("quiet") else logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


def verbosity_options(f):
    f = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_verbosity,
                     help="Only errors: no progress bars or summaries.")(f)
    return click.option("-v", "--verbose", count=True, expose_value=False, callback=_set_verbosity, show_default=False,
                        help="More detail (repeat for debug logs).")(f)


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="wildeye")
@verbosity_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """wildeye: camera-trap SD-card dumps to reviewed species sightings."""
    ctx.ensure_object(dict).setdefault("verbose", 0)
    ctx.obj.setdefault("quiet", False)
    _configure_logging(ctx.obj)


@cli.command()
@click.argument("source", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the manifest.  [default: SOURCE/wildeye]")
@click.option("--deployments", "deployments_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Camtrap DP-style deployments.csv.  [default: SOURCE/deployments.csv if present]")
@click.option("--sequence-gap", type=click.FloatRange(min=0, min_open=True), default=60.0,
              help="Seconds between frames that start a new sequence.")
@click.option("--full-hash", is_flag=True, help="Hash whole files (slower) instead of size + first/last 64 KiB.")
@click.option("--workers", type=click.IntRange(1, 64), default=8, help="Threads reading file headers.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@verbosity_options
@click.pass_obj
def scan(obj: dict, source: Path, out: Path | None, deployments_csv: Path | None, sequence_gap: float,
         full_hash: bool, workers: int, as_json: bool) -> int:
    """Scan an SD-card dump: media, EXIF, hashes, deployments, sequences; writes OUT/manifest.json."""
    from wildeye.ingest.manifest import MANIFEST_NAME, ScanSettings
    from wildeye.ingest.scan import scan as run_scan
    from wildeye.ingest.scan import summarize
    from wildeye import ui

    _check_source(source)
    out = out or source / "wildeye"
    _ensure_writable(out)
    settings = ScanSettings(sequence_gap_s=sequence_gap, full_hash=full_hash, workers=workers,
                            deployments_csv=str(deployments_csv.resolve()) if deployments_csv else None)
    with ui.progress_bar("scanning", enabled=not obj["quiet"]) as advance:
        manifest = run_scan(source, settings, out_dir=out, on_progress=advance)
    if not manifest.files:
        raise NothingToDo(f"no images or videos found in {source}", "check that the card is mounted and the path is right")
    manifest_path = out / MANIFEST_NAME
    manifest.write(manifest_path)
    summary = summarize(manifest)
    summary["manifest"] = str(manifest_path)
    if as_json:
        click.echo(json.dumps(summary, indent=1))
    elif not obj["quiet"]:
        details = [("failed", r.path, r.failure.reason) for r in manifest.files if r.failure]
        details += [("flagged", r.path, f.reason) for r in manifest.files for f in r.flags]
        ui.print_scan_summary(summary, str(manifest_path), details, verbose=obj["verbose"] > 0)
    return EXIT_INPUT_FAILURES if summary["failed"] else EXIT_OK


@cli.command()
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
@click.option("--sequence-gap", type=click.FloatRange(min=0, min_open=True), default=60.0,
              help="Seconds between frames that start a new sequence.")
@click.option("--decode", type=click.Choice(["full", "fast"]), default=None,
              help="full: MegaDetector's and SpeciesNet's pixels (their answers); fast: reduced JPEG decode, "
                   "3-4x cheaper, answers move.  [default: full]")
@click.option("--geofence/--no-geofence", "geofence", default=None,
              help="Apply the classifier's geofence map by the deployments' countries.  [default: on]")
@click.option("--rerun", is_flag=True, help="Redo every frame when the journal holds results from other models.")
@click.option("--wait", is_flag=True, help="If another run holds this journal, wait for it instead of exiting (3).")
@click.option("--fiftyone/--no-fiftyone", "fiftyone", default=None,
              help="Sync results into a FiftyOne dataset for review.  [default: on]")
@click.option("--dataset", default=None, help="FiftyOne dataset name.  [default: wildeye-<source folder>]")
@click.option("--report", "report", is_flag=True, default=None, help="Write the sightings report (OUT/report) too.")
@click.option("--on-sighting", metavar="CMD", default=None,
              help="Shell command run for each new flagship sighting (WILDEYE_* variables, JSON on stdin).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@verbosity_options
@click.pass_obj
def run(obj: dict, source: Path, out: Path | None, config_path: Path | None, detector: str | None,
        classifier: str | None, device: str | None, batch_size: int | None, workers: int | None,
        deployments_csv: Path | None, sequence_gap: float, decode: str | None, geofence: bool | None,
        rerun: bool, wait: bool, fiftyone: bool | None,
        dataset: str | None, report: bool | None, on_sighting: str | None, as_json: bool) -> int:
    """Detect and classify every frame of SOURCE: resumable; writes a journal and MegaDetector JSON."""
    from wildeye import ui
    from wildeye.config import load_run_config
    from wildeye.inference.run import run as run_pipeline
    from wildeye.ingest.manifest import ScanSettings

    flags = {"detector.name": detector, "device": device, "detector.batch_size": batch_size, "workers": workers,
             "decode": decode, "ensemble.geofence": geofence,
             "after_run.fiftyone": fiftyone, "after_run.dataset": dataset, "after_run.report": report}
    overrides = {key: value for key, value in flags.items() if value is not None}
    if classifier is not None:
        overrides["classifier.name"] = None if classifier.lower() == "none" else classifier
    config = load_run_config(config_path, overrides)
    _check_source(source)
    out = out or source / "wildeye"
    _ensure_writable(out)
    settings = ScanSettings(sequence_gap_s=sequence_gap,
                            deployments_csv=str(deployments_csv.resolve()) if deployments_csv else None)
    quiet = obj["quiet"]
    with ui.progress_bar("scanning", enabled=not quiet) as on_scan, \
            ui.progress_bar("detecting", enabled=not quiet, unit="images") as on_progress:
        outcome = run_pipeline(source, out, config, settings, rerun=rerun, wait=wait, on_sighting=on_sighting,
                               report=config.after_run.report, on_scan=on_scan, on_progress=on_progress)
    result = {**outcome.summary, "times": outcome.times, "models": outcome.models, "outputs": outcome.outputs,
              "out": str(out)}
    if as_json:
        click.echo(json.dumps(result, indent=1))
    elif not quiet:
        ui.print_run_summary(result, verbose=obj["verbose"] > 0)
    return EXIT_INPUT_FAILURES if outcome.summary["failed"] else EXIT_OK


def _register_groups() -> None:
    from wildeye.models.commands import models
    from wildeye.reports.commands import report
    from wildeye.review.commands import evaluate, review
    from wildeye.train.commands import train

    for command in (models, review, report, evaluate, train):
        cli.add_command(command)


_register_groups()


def _check_source(source: Path) -> None:
    """A missing source is 'nothing to do' (exit 5), not a usage error: a nightly job's card is not mounted."""
    if not source.exists():
        raise NothingToDo(f"source folder {source} does not exist", "check that the card is mounted and the path is right")
    if not source.is_dir():
        raise WildeyeError(f"source {source} is not a folder", "pass the folder holding the card's files")


def _ensure_writable(folder: Path) -> None:
    """Results that cannot be written exit 4 (read-only card, full disk), as the README documents."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".wildeye-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        error = WriteFailed if exc.errno in _WRITE_ERRNOS else WildeyeError  # a read-only folder vs a bad path
        raise error(f"cannot write to {folder}: {exc.strerror or exc}", "pass --out with a writable folder") from None


_WRITE_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


def _is_write_failure(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return any(word in str(exc) for word in ("disk is full", "disk I/O error", "readonly", "unable to open"))
    return exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EDQUOT, errno.EIO)


def _raise_terminated(signum: int, frame) -> None:
    raise Terminated(signum)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: turns every user error into one line and an exit code.

    SIGTERM (systemd, `timeout`) and SIGHUP (a dropped ssh session) unwind like Ctrl-C: the run is recorded as
    interrupted, its workers stop, and the exit code is 128 + the signal number.
    """
    import signal

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_terminated)
    try:
        code = cli.main(args=argv, prog_name="wildeye", standalone_mode=False)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "wildeye"
        click.echo(f"{command}: error: {exc.format_message()} (see '{command} --help')", err=True)
        code = EXIT_USAGE
    except click.ClickException as exc:
        click.echo(f"wildeye: error: {exc.format_message()}", err=True)
        code = exc.exit_code
    except WildeyeError as exc:
        click.echo(f"wildeye: error: {exc}", err=True)
        code = exc.exit_code
    except (OSError, sqlite3.OperationalError) as exc:
        if not _is_write_failure(exc):
            raise
        click.echo(f"wildeye: error: could not write results: {exc} (free some disk space or fix the output folder, "
                   "then run the same command again: finished work is kept)", err=True)
        code = EXIT_WRITE_FAILED
    except (click.Abort, KeyboardInterrupt):
        click.echo("wildeye: interrupted (run the same command again to resume)", err=True)
        code = 130
    except Terminated as exc:
        click.echo(f"wildeye: stopped by signal {exc.signum} (run the same command again to resume)", err=True)
        code = 128 + exc.signum
    sys.exit(code if isinstance(code, int) else EXIT_OK)
