"""`wildeye check RUN_FOLDER`: camera health per deployment, the click shell over `reports.health.check_run`.

Findings are not errors: the command exits 0 whatever it finds; a bad argument exits 2 with one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from wildeye.commands.options import CONTEXT, verbosity_options
from wildeye.errors import EXIT_OK

# flag -> HealthConfig field; the defaults shown in --help are the model's own
_FLAGS = (
    ("--min-year", "min_year", int, "Frames dated before this year: a clock never set or reset."),
    ("--backwards-tolerance", "backwards_tolerance_s", float,
     "Seconds a file may be stamped before the one before it (in file order) before time 'runs backwards'."),
    ("--end-silence-days", "end_silence_days", float,
     "Days without a frame before the deployment end that mean the camera stopped (battery, card)."),
    ("--gap-days", "gap_days", float, "Days without a frame mid-deployment that make a gap (knocked over, covered)."),
    ("--burst-per-day", "false_trigger_frames_per_day", int,
     "Frames in a day that, mostly blank, are false triggers (vegetation, glare)."),
    ("--blank-fraction", "false_trigger_blank_fraction", float, "Blank fraction of such a day."),
    ("--ir-min-frames", "ir_min_frames", int, "Frames a deployment needs before 'no night frames' counts."),
    ("--ir-min-days", "ir_min_days", float, "Days those frames must span."),
    ("--date-tolerance", "date_tolerance_h", float, "Hours a frame may fall outside the deployment's dates."),
)


def _threshold_options(f):
    from wildeye.reports.health_defaults import DEFAULTS  # no pydantic at CLI start

    for flag, name, kind, text in reversed(_FLAGS):
        f = click.option(flag, name, type=kind, default=DEFAULTS[name], help=text)(f)
    return f


@click.command("check", context_settings=CONTEXT)
@click.argument("run_dir", metavar="RUN_FOLDER",
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--deployment", "deployments", multiple=True, metavar="ID", help="Only this deployment (repeat).")
@_threshold_options
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON on stdout.")
@verbosity_options
@click.pass_obj
def check(obj: dict | None, run_dir: Path, deployments: tuple[str, ...], as_json: bool, **thresholds) -> int:
    """Camera health per deployment: clock, battery/card, knocked over, false triggers, infrared, dates.

    RUN_FOLDER is the folder `wildeye run` wrote. Reads its journal (reviewers' labels win); runs no model. Each
    finding comes with its evidence and a suggested fix; findings are not errors (exit 0).
    """
    from pydantic import ValidationError

    from wildeye.errors import ConfigError, WildeyeError
    from wildeye.reports.health import HealthConfig, check_run

    run_dir = _journal_folder(run_dir)
    try:
        config = HealthConfig(**thresholds)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = error["loc"][0]
        flag = next(f for f, n, _, _ in _FLAGS if n == name)
        raise click.BadParameter(f"{error['input']!r}: {error['msg']}", param_hint=f"'{flag}'") from None
    if not (run_dir / "journal.sqlite").is_file():
        raise WildeyeError(f"no run journal in {run_dir}", "pass the folder `wildeye run` wrote (its --out)")
    report = check_run(run_dir, config)
    known = sorted(d.deployment_id for d in report.deployments)
    unknown = [d for d in deployments if d not in known]
    if unknown:
        raise ConfigError(f"unknown deployment {', '.join(unknown)}",
                          "choose from " + ", ".join(known[:10]) + (" …" if len(known) > 10 else ""))
    if deployments:
        report.deployments = [d for d in report.deployments if d.deployment_id in deployments]
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=1, default=str))
    elif not (obj or {}).get("quiet"):
        from wildeye.ui import print_health

        print_health(report, verbose=bool((obj or {}).get("verbose")))
    return EXIT_OK


def _journal_folder(run_dir: Path) -> Path:
    """The run folder, or the card folder `wildeye run` wrote into (CARD/wildeye), as `wildeye report` takes it."""
    if not (run_dir / "journal.sqlite").exists() and (run_dir / "wildeye" / "journal.sqlite").exists():
        return run_dir / "wildeye"
    return run_dir
