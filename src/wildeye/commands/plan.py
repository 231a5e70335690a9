"""`wildeye plan RUN_FOLDER`: what to review first, the click shell over `review.plan`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wildeye.commands.options import CONTEXT, verbosity_options
from wildeye.errors import EXIT_OK


@click.command("plan", context_settings=CONTEXT)
@click.argument("run_dir", metavar="RUN_FOLDER",
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--limit", type=click.IntRange(min=1), default=200, help="Frames in the plan (and its saved view).")
@click.option("--dataset", default=None, help="FiftyOne dataset for the saved view.  [default: wildeye-<source "
                                              "folder name>]")
@click.option("--view/--no-view", "save_view", default=True,
              help="Save the plan as the dataset's 'review-plan' view (syncing the dataset first if needed).")
@click.option("--prior-strength", type=click.FloatRange(min=0, min_open=True), default=4.0,
              help="Reviews the confidence-based prior counts for, before reviewers' corrections outweigh it.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON on stdout.")
@verbosity_options
@click.pass_obj
def plan(obj: dict | None, run_dir: Path, limit: int, dataset: str | None, save_view: bool, prior_strength: float,
         as_json: bool) -> int:
    """Order what to review by how much each decision can still change the results.

    Least confident first until reviews exist; then per-label error rates learnt from them (`wildeye review pull`
    brings them into the journal) move the labels reviewers keep correcting up. Rare and flagship species weigh
    more. Writes the FiftyOne saved view 'review-plan' in that order.
    """
    from wildeye.errors import WildeyeError
    from wildeye.review.plan import PlanConfig, plan_run, save_plan_view

    if not (run_dir / "journal.sqlite").is_file() and (run_dir / "wildeye" / "journal.sqlite").is_file():
        run_dir = run_dir / "wildeye"
    if not (run_dir / "journal.sqlite").is_file():
        raise WildeyeError(f"no run journal in {run_dir}", "pass the folder `wildeye run` wrote (its --out)")
    result = plan_run(run_dir, PlanConfig(prior_strength=prior_strength))
    saved = None
    if save_view and result.items:
        try:
            saved = save_plan_view(run_dir, result, dataset, limit)
        except WildeyeError as exc:  # no FiftyOne database here: the plan itself still stands
            click.echo(f"wildeye: note: the plan was not saved as a FiftyOne view: {exc}; --no-view skips it",
                       err=True)
    if as_json:
        click.echo(json.dumps({**result.as_dict(limit), "saved_view": saved}, indent=1))
    elif not (obj or {}).get("quiet"):
        from wildeye.ui import print_plan

        print_plan(result, limit, saved)
    return EXIT_OK
