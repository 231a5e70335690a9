"""What every command shares: click context settings and the -v/-q options (before or after the command name)."""

from __future__ import annotations

import logging

import click

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
    configure_logging(state)


def configure_logging(state: dict) -> None:
    verbose = state.get("verbose", 0)
    level = logging.ERROR if state.get("quiet") else logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


def rank_option(f):
    """--rank: the taxonomic rank counts are made at (`report` and `ecology`; ecology.ranks)."""
    return click.option("--rank", type=click.Choice(["species", "genus", "family", "order", "class"]),
                        default="species", help="Rank taxa are counted at: 'animal', unknowns and higher taxa are "
                        "reported apart, never as taxa of this rank.")(f)


def verbosity_options(f):
    f = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_verbosity,
                     help="Only errors: no progress bars or summaries.")(f)
    return click.option("-v", "--verbose", count=True, expose_value=False, callback=_set_verbosity, show_default=False,
                        help="More detail (repeat for debug logs).")(f)
