"""`wildeye ecology RUN`: the click shell over `reports.ecology.ecology_report`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wildeye.commands.options import rank_option, verbosity_options
from wildeye.errors import EXIT_OK


@click.command(context_settings={"show_default": True})
@click.argument("run", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the ecology files.  [default: RUN_DIR/ecology]")
@rank_option
@click.option("--event-gap", type=click.FloatRange(min=0, min_open=True), default=30.0,
              help="Minutes without a taxon that make its next detection a new independent event.")
@click.option("--occasion-days", type=click.FloatRange(min=0, min_open=True), default=7.0,
              help="Length of an occupancy sampling occasion in days.")
@click.option("--min-effort-days", type=click.FloatRange(min=0), default=0.0,
              help="Occasions a camera ran this many days or fewer count as not surveyed (NA).")
@click.option("--effort-scaled", is_flag=True,
              help="Detection in a partly covered occasion scales with the days the camera ran.")
@click.option("--p-by-occasion", is_flag=True,
              help="One detection probability per occasion, p(t), instead of one for all, p(.).")
@click.option("--covariate", "covariates", multiple=True, metavar="COLUMN",
              help="deployments.csv column to model occupancy (psi) with (repeat for more).")
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=0), default=999,
              help="Smoothed bootstrap resamples per activity overlap (0: no intervals).")
@click.option("--min-activity-events", type=click.IntRange(min=2), default=10,
              help="Taxa with fewer events get no activity curve.")
@click.option("--overlap-taxa", "max_overlap_taxa", type=click.IntRange(min=2), default=6,
              help="Activity overlap for every pair of this many most-seen taxa.")
@click.option("--richness-unit", type=click.Choice(["camera-day", "site"]), default="camera-day",
              help="Sampling unit of the accumulation curve and Chao2.")
@click.option("--seed", type=int, default=0, help="Random seed of the bootstrap.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@verbosity_options
@click.pass_obj
def ecology(obj: dict | None, run: Path, out_dir: Path | None, rank: str, event_gap: float, occasion_days: float,
            min_effort_days: float, effort_scaled: bool, p_by_occasion: bool, covariates: tuple[str, ...], n_boot: int,
            min_activity_events: int, max_overlap_taxa: int, richness_unit: str, seed: int, as_json: bool) -> int:
    """Occupancy, diel activity and species richness from a run's journal (reviewers' labels win).

    RUN is the folder `wildeye run` wrote, the SD-card folder it ran on, or its journal.sqlite. Writes detection
    histories (unmarked / camtrapR layout), occupancy estimates (MacKenzie et al. 2002), activity curves and
    overlaps (the R package overlap's definitions), a taxon accumulation curve and Chao2.
    """
    from wildeye.reports.ecology import EcologyOptions, ecology_report

    obj = obj or {"quiet": False, "verbose": 0}
    if run.is_file():
        if run.name != "journal.sqlite":
            raise click.BadParameter(f"{run} is not a journal (journal.sqlite) or a run folder", param_hint="RUN")
        run = run.parent
    elif not (run / "journal.sqlite").exists() and (run / "wildeye" / "journal.sqlite").exists():
        run = run / "wildeye"
    if not (run / "journal.sqlite").exists():
        raise click.BadParameter(f"no journal.sqlite in {run}: pass the folder `wildeye run` wrote", param_hint="RUN")
    options = EcologyOptions(occasion_days=occasion_days, min_effort_days=min_effort_days,
                             effort_scaled=effort_scaled, p_by_occasion=p_by_occasion, covariates=list(covariates), n_boot=n_boot,
                             min_activity_events=min_activity_events, max_overlap_taxa=max_overlap_taxa,
                             richness_unit=richness_unit, seed=seed)
    summary = ecology_report(run, out_dir or run / "ecology", rank=rank, event_gap_s=event_gap * 60,
                             options=options)
    if as_json:
        click.echo(json.dumps(summary, indent=1, default=str))
        return EXIT_OK
    if obj.get("quiet"):
        return EXIT_OK
    click.echo(f"{summary['events']} events of {summary['taxa']} taxa at {summary['rank']} rank "
               f"({summary['events_apart']} more not counted: animal, unknown or higher taxa); "
               f"{summary['sites']} sites x {summary['occasions']} occasions of {occasion_days:g} days")
    for row in summary["occupancy"]:
        ci = (f" ({row['psi_lower']:.2f}-{row['psi_upper']:.2f})" if row["psi_lower"] is not None else "")
        click.echo(f"  {row['taxon']}: naive {row['naive_occupancy']:.2f}, psi {row['psi']:.2f}{ci}, "
                   f"p {row['p']:.2f} per occasion" + (" [!]" if row["warnings"] else ""))
    if summary["richness"]:
        r = summary["richness"]
        ci = f" (95% CI {r['lower']:.1f}-{r['upper']:.1f})" if r["lower"] is not None else ""
        click.echo(f"  richness: {r['observed']} taxa seen, Chao2 {r['chao2']:.1f}{ci} over {r['units']} "
                   f"{r['unit']}s")
    for note in summary["notes"]:
        click.echo(f"note: {note}", err=True)
    click.echo(f"ecology: {summary['summary_file']}")
    return EXIT_OK
