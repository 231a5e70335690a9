"""`wildeye report RUN_DIR`: the click shell over `reports.build.build_report`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wildeye.commands.options import rank_option, verbosity_options
from wildeye.errors import EXIT_OK


@click.command(context_settings={"show_default": True})
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--to", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the report files.  [default: RUN_DIR/report]")
@click.option("--event-gap", type=click.FloatRange(min=0, min_open=True), default=30.0,
              help="Minutes without a species that make its next detection a new independent event.")
@click.option("--from", "date_from", metavar="DATE", default=None,
              help="First day (YYYY-MM-DD, deployment local time) to include.")
@click.option("--until", "date_until", metavar="DATE", default=None, help="Last day (YYYY-MM-DD) to include.")
@click.option("--deployment", "deployments", multiple=True, metavar="ID",
              help="Only this deployment (repeat for more).")
@click.option("--species", multiple=True, metavar="NAME",
              help="Only this species: common or scientific name (repeat for more).")
@click.option("--since", is_flag=True, help="Only frames processed or reviewed since the last report into --to.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.0,
              help="Drop machine identifications below this probability (a reviewer's always count).")
@click.option("--verified-only", is_flag=True, help="Only frames a reviewer confirmed make sightings.")
@click.option("--no-gallery", is_flag=True, help="Leave the best-frame thumbnails out of the HTML report.")
@click.option("--project", "project_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Project YAML: Camtrap DP metadata (title, contributors, licences, project) and privacy "
                   "settings; example in configs/project.yaml. Flags below win over it.")
@click.option("--title", default=None, help="Title of the Camtrap DP package.")
@click.option("--description", default=None, help="Description of the Camtrap DP package.")
@click.option("--contact", metavar="'NAME <EMAIL>'", default=None, help="The package's contact person.")
@click.option("--license", "data_license", metavar="ID", default=None,
              help="Licence of the data, e.g. CC-BY-4.0 (GBIF takes CC0-1.0, CC-BY-4.0, CC-BY-NC-4.0).")
@click.option("--media-license", metavar="ID", default=None, help="Licence of the images, e.g. CC-BY-NC-4.0.")
@click.option("--media-base-url", metavar="URL", default=None,
              help="Where the card's images are published: Camtrap DP filePath = URL/path, filePublic true.")
@click.option("--copy-media", is_flag=True,
              help="Copy the images into the Camtrap DP package (camtrap-dp/media/), so filePath is relative to it.")
@click.option("--exclude-humans", is_flag=True, default=None,
              help="Leave media and observations of people out of every export (people in frames kept for their "
                   "animals are removed and blurred).")
@click.option("--exact-locations", is_flag=True, default=None,
              help="Keep exact coordinates for deployments with sensitive species (default: rounded, see "
                   "privacy.sensitive_species in the project YAML).")
@click.option("--raw-classifications", is_flag=True,
              help="megadetector_reviewed.json: also write each box's classifier top-k (raw_classifications); "
                   "classifications always hold the decision.")
@click.option("--strict", is_flag=True,
              help="Fail (exit 2, nothing written) if the Camtrap DP package would not be ready for GBIF.")
@rank_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@verbosity_options
@click.pass_obj
def report(obj: dict | None, run_dir: Path, report_dir: Path | None, event_gap: float, date_from: str | None,
           date_until: str | None, deployments: tuple[str, ...], species: tuple[str, ...], since: bool,
           min_confidence: float, verified_only: bool, no_gallery: bool, project_file: Path | None,
           title: str | None, description: str | None, contact: str | None, data_license: str | None,
           media_license: str | None, media_base_url: str | None, copy_media: bool, exclude_humans: bool | None,
           exact_locations: bool | None, raw_classifications: bool, strict: bool, rank: str, as_json: bool) -> int:
    """Sightings report from a run folder: events, effort, Camtrap DP, MegaDetector/COCO-CT JSON, HTML.

    RUN_DIR is the folder `wildeye run` wrote (or the SD-card folder it ran on). Reads the journal, where a
    reviewer's corrections win; never runs a model.
    """
    from wildeye import ui
    from wildeye.errors import ConfigError
    from wildeye.reports.build import build_report
    from wildeye.reports.filters import ReportFilters, parse_date
    from wildeye.reports.metadata import load_project, parse_contact

    obj = obj or {"quiet": False, "verbose": 0}
    if not (run_dir / "journal.sqlite").exists() and (run_dir / "wildeye" / "journal.sqlite").exists():
        run_dir = run_dir / "wildeye"
    try:
        first = parse_date(date_from) if date_from else None
        last = parse_date(date_until, end=True) if date_until else None
    except ConfigError as exc:
        raise click.BadParameter(exc.problem + f" ({exc.fix})", param_hint="'--from' / '--until'") from None
    if first and last and first > last:
        raise click.BadParameter(f"--from {date_from} is after --until {date_until}", param_hint="'--from'")
    filters = ReportFilters(date_from=first, date_until=last, deployments=deployments, species=species, since=since,
                            min_confidence=min_confidence, verified_only=verified_only)
    flags = {"title": title, "description": description, "licenses.data": data_license,
             "licenses.media": media_license, "media_base_url": media_base_url,
             "privacy.exclude_humans": True if exclude_humans else None,
             "privacy.generalise_locations": False if exact_locations else None}
    project = load_project(project_file, {key: value for key, value in flags.items() if value is not None})
    if contact:
        person = parse_contact(contact)
        project.contributors = [person] + [c for c in project.contributors if c.title != person.title]
    with ui.progress_bar("reporting", enabled=not obj.get("quiet"), unit="steps") as advance:
        summary = build_report(run_dir, report_dir, filters, event_gap_s=event_gap * 60, gallery=not no_gallery,
                               on_progress=advance, project=project, copy_media=copy_media, strict=strict,
                               raw_classifications=raw_classifications, rank=rank)
    if as_json:
        click.echo(json.dumps(summary, indent=1, default=str))
    elif not obj.get("quiet"):
        top = ", ".join(f"{name} {n}" for name, n in list(summary["species_events"].items())[:6])
        click.echo(f"{summary['events']} independent events ({summary['verified_events']} verified) of "
                   f"{summary['species']} {'species' if rank == 'species' else 'taxa at ' + rank + ' rank'} at {summary['deployments']} deployments, "
                   f"{summary['camera_days']:.1f} camera-days, from {summary['frames']} frames "
                   f"in {summary['seconds']:.1f} s" + (f": {top}" if top else ""))
        for note in summary["notes"]:
            click.echo(f"note: {note}", err=True)
        click.echo(f"report: {summary['outputs']['html']}")
        if obj.get("verbose"):
            for name, path in summary["outputs"].items():
                click.echo(f"{name}: {path}")
    return EXIT_OK
