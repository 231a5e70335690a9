"""`wildeye import SOURCE FILE`: a thin shell over `wildeye.app.importer`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wildeye.commands.folders import ensure_writable
from wildeye.commands.options import CONTEXT, verbosity_options
from wildeye.errors import EXIT_INPUT_FAILURES, EXIT_OK, NothingToDo

FORMAT_CHOICES = ("auto", "megadetector", "speciesnet", "timelapse", "camtrap-dp", "coco", "wildlife-insights")


@click.command("import", context_settings=CONTEXT)
@click.argument("source", type=click.Path(file_okay=False, path_type=Path))
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run folder whose journal gets the import.  [default: SOURCE/wildeye]")
@click.option("-f", "--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="auto",
              help="FILE's format; auto tells from its content.")
@click.option("--as", "as_", type=click.Choice(["auto", "results", "labels"]), default="auto",
              help="What FILE holds: machine results (a run) or human labels (win in reports); auto: the format's "
                   "own (Camtrap DP and Wildlife Insights say per row).")
@click.option("--path-root", metavar="OLD[=NEW]", default=None,
              help="Rewrite FILE's paths that start with OLD to start with NEW (e.g. 'D:\\traps\\site1=' or "
                   "'=cam2') before matching them to SOURCE's files.")
@click.option("--detection-threshold", type=click.FloatRange(0, 1), default=None,
              help="Boxes at or above it count.  [default: the file's typical threshold, else 0.2]")
@click.option("--species-column", metavar="NAME", default=None,
              help="Timelapse: the column holding the species.  [default: Species, Label, ... if present]")
@click.option("--reviewer", metavar="NAME", default=None,
              help="Who made the labels, for files that do not say (Timelapse, COCO).")
@click.option("--wait", is_flag=True, help="If a run holds the journal, wait for it instead of exiting (3).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@verbosity_options
@click.pass_obj
def import_(obj: dict, source: Path, file: Path, out: Path | None, fmt: str, as_: str, path_root: str | None,
            detection_threshold: float | None, species_column: str | None, reviewer: str | None, wait: bool,
            as_json: bool) -> int:
    """Import other tools' results or labels: MegaDetector/AddaxAI/EcoAssist JSON, SpeciesNet predictions.json,
    Timelapse CSV, Camtrap DP, COCO Camera Traps, Wildlife Insights CSV.

    SOURCE is the card folder the file describes (scanned first when its journal is new); FILE's paths are
    matched to its files even when written relative to another root. Machine results become a run, human labels
    become human labels; `wildeye report`, `review` and `evaluate` then work on them. Importing the same file
    again replaces what it imported before.
    """
    from wildeye import ui
    from wildeye.app.importer import import_file

    obj = obj or {"quiet": False, "verbose": 0}
    if out is None and (source / "journal.sqlite").is_file():
        out = source  # SOURCE is a run folder already
    if not source.is_dir() and (out is None or not (out / "journal.sqlite").is_file()):
        raise NothingToDo(f"source folder {source} does not exist", "check that the card is mounted and the path "
                          "is right")
    out = out or source / "wildeye"
    with ui.progress_bar("scanning", enabled=not obj.get("quiet")) as advance:
        summary = import_file(source, file, out, fmt=fmt, as_=None if as_ == "auto" else as_, path_root=path_root,
                              detection_threshold=detection_threshold, species_column=species_column,
                              reviewer=reviewer, wait=wait, on_scan=advance,
                              prepare_out=ensure_writable)
    if as_json:
        click.echo(json.dumps(summary, indent=1))
    elif not obj.get("quiet"):
        _print(summary, verbose=obj.get("verbose", 0) > 0)
    return EXIT_INPUT_FAILURES if summary["problems"] or summary["unmatched"] else EXIT_OK


def _print(s: dict, verbose: bool) -> None:
    name = Path(s["file"]).name
    parts = []
    run = s.get("results") or {}
    if run.get("run_id") is not None:
        parts.append(f"{run['images']} images of results ({run['boxes']} boxes, {run['failed']} failed) as run "
                     f"{run['run_id']}" + (" (replacing the earlier import)" if run.get("replaced_runs") else ""))
    labels = s.get("labels") or {}
    if labels.get("written") or labels.get("kept"):
        parts.append(f"{labels['written']} human labels" + (f" ({labels['kept']} frames kept a reviewer's label)"
                                                            if labels.get("kept") else ""))
    click.echo(f"{name} ({s['format']}{', ' + s['tool'] if s['tool'] else ''}): "
               + ("; ".join(parts) or "nothing imported") + f" into {s['out']}")
    matched = ", ".join(f"{n} {how}" for how, n in sorted(s["matched"].items(), key=lambda kv: -kv[1]))
    click.echo(f"matched {s['matched_total']} of {s['entries']} entries ({matched or 'none'}); "
               f"{s['unmatched']} unmatched, {s['problems']} unreadable")
    for line in s["unmatched_examples"][: None if verbose else 3]:
        click.echo(f"  unmatched: {line}", err=True)
    for line in s["problem_examples"][: None if verbose else 3]:
        click.echo(f"  unreadable: {line}", err=True)
    for what, n in s["skipped"].items():
        click.echo(f"  skipped {n}: {what}", err=True)
    for note in s["notes"]:
        click.echo(f"note: {note}", err=True)
    click.echo(f"next: wildeye report {s['out']}")
