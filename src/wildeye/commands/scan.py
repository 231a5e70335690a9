"""`wildeye scan SOURCE`: media, EXIF, hashes, deployments and sequences of a card dump, into OUT/manifest.json."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wildeye.commands.folders import check_source, ensure_writable
from wildeye.commands.options import CONTEXT, verbosity_options
from wildeye.errors import EXIT_INPUT_FAILURES, EXIT_OK, NothingToDo


@click.command("scan", context_settings=CONTEXT)
@click.argument("source", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the manifest.  [default: SOURCE/wildeye]")
@click.option("--deployments", "deployments_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Camtrap DP-style deployments.csv.  [default: SOURCE/deployments.csv if present]")
@click.option("--sequence-gap", type=click.FloatRange(min=0, min_open=True), default=60.0,
              help="Seconds between frames that start a new sequence.")
@click.option("--full-hash", is_flag=True, help="Hash whole files (slower) instead of size + first/last 64 KiB.")
@click.option("--threads", type=click.IntRange(1, 64), default=8, help="Threads reading file headers.")
@click.option("--time-source", type=click.Choice(["auto", "exif", "ocr"]), default="auto", show_default=True,
              help="Capture time from EXIF, the date printed in the info strip (ocr), or EXIF checked against the "
                   "strip (auto); deployments.csv's timeSource overrides it per deployment.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@verbosity_options
@click.pass_obj
def scan(obj: dict, source: Path, out: Path | None, deployments_csv: Path | None, sequence_gap: float,
         full_hash: bool, threads: int, time_source: str, as_json: bool) -> int:
    """Scan an SD-card dump: media, EXIF, hashes, deployments, sequences; writes OUT/manifest.json."""
    from wildeye import ui
    from wildeye.app.failures import FailedFile, failure_summary
    from wildeye.ingest.manifest import MANIFEST_NAME, ScanSettings
    from wildeye.ingest.scan import scan as run_scan
    from wildeye.ingest.scan import summarize

    check_source(source)
    out = out or source / "wildeye"
    ensure_writable(out)
    settings = ScanSettings(sequence_gap_s=sequence_gap, full_hash=full_hash, workers=threads, time_source=time_source,
                            deployments_csv=str(deployments_csv.resolve()) if deployments_csv else None)
    with ui.StageProgress(enabled=not obj["quiet"] and not as_json) as stages:
        manifest = run_scan(source, settings, out_dir=out, on_progress=stages.callback("scanning"))
    if not manifest.files:
        raise NothingToDo(f"no images or videos found in {source}", "check that the card is mounted and the path is right")
    manifest_path = out / MANIFEST_NAME
    manifest.write(manifest_path)
    summary = summarize(manifest)
    summary["manifest"] = str(manifest_path)
    summary.update(failure_summary(out, [FailedFile(r.path, "scan", r.failure.reason)
                                         for r in manifest.files if r.failure]))
    if as_json:
        click.echo(json.dumps(summary, indent=1))
    elif not obj["quiet"]:
        details = [("failed", r.path, r.failure.reason) for r in manifest.files if r.failure]
        details += [("flagged", r.path, f.reason) for r in manifest.files for f in r.flags]
        ui.print_scan_summary(summary, str(manifest_path), details, verbose=obj["verbose"] > 0)
    return EXIT_INPUT_FAILURES if summary["failed"] else EXIT_OK
