"""`wildeye review` (App, sync, pull) and `wildeye evaluate`: thin shells over wildeye.review.

Registered on the main CLI with `cli.add_command(review)` and `cli.add_command(evaluate)`. FiftyOne loads
inside the commands, so `wildeye --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from wildeye.commands.options import CONTEXT, verbosity_options
from wildeye.errors import WildeyeError

OUT_HELP = "Run folder holding journal.sqlite (what `wildeye run --out` wrote).  [default: current folder]"


class _ReviewGroup(click.Group):
    """A group whose default action takes an optional DATASET: `wildeye review NAME` opens the App on NAME,
    while `wildeye review sync` runs the subcommand. click alone would read 'sync' as the DATASET."""

    _VALUE_OPTIONS = {"-o", "--out", "--port", "--address"}

    def parse_args(self, ctx, args):
        args = list(args)
        i = 0
        while i < len(args):
            token = args[i]
            if token == "--":
                break
            if token.startswith("-"):
                i += 2 if token in self._VALUE_OPTIONS else 1
                continue
            if token not in self.commands:
                args[i:i + 1] = ["--dataset", token]
            break
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx):
        return ["[OPTIONS]", "[DATASET]", "[COMMAND [ARGS]...]"]


@click.group("review", cls=_ReviewGroup, invoke_without_command=True, context_settings=CONTEXT)
@click.option("--dataset", "dataset", default=None, hidden=True)
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=None, show_default=False,
              help="Run folder: open its dataset (syncing it first if there is none yet).")
@click.option("--port", type=click.IntRange(1, 65535), default=5151, help="Port the App listens on.")
@click.option("--address", default="127.0.0.1", help="Address the App listens on (0.0.0.0: every interface).")
@click.option("--remote", is_flag=True, help="Server without a browser: print the SSH tunnel command to use.")
@verbosity_options
@click.pass_context
def review(ctx: click.Context, dataset: str | None, out: Path | None, port: int, address: str, remote: bool) -> None:
    """Review in the FiftyOne App: `wildeye review [DATASET]` opens it; `sync` and `pull` move labels.

    DATASET defaults to the dataset of --out (or of the current folder when it holds a run), or the only
    wildeye dataset there is.
    """
    if ctx.invoked_subcommand is not None:
        if dataset is not None:
            raise click.UsageError(f"give DATASET to the subcommand as --dataset, not before {ctx.invoked_subcommand!r}")
        return
    from wildeye.review.app import launch_review

    name = _resolve_dataset(dataset, out)
    launch_review(name, port=port, address=address, remote=remote, say=click.echo)


def _run_folder_options(f):
    """--out / --dataset / --json / -v / -q, shared by the commands that move labels between journal and dataset."""
    for option in reversed([
        click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
                     show_default=False, help=OUT_HELP),
        click.option("--dataset", default=None, help="Dataset name.  [default: wildeye-<source folder name>]"),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout."),
        verbosity_options,
        click.pass_obj,
    ]):
        f = option(f)
    return f


@review.command("sync")
@_run_folder_options
def sync(obj: dict, out: Path, dataset: str | None, as_json: bool) -> None:
    """Journal -> FiftyOne dataset: predictions, boxes, review queues. Never touches reviewers' fields."""
    from wildeye.review.dataset import sync_run

    _need_journal(out)
    summary = sync_run(out, dataset)
    if as_json:
        click.echo(json.dumps(summary, indent=1))
    elif not (obj or {}).get("quiet"):
        click.echo(f"{summary['dataset']}: {summary['samples']} samples ({summary['added']} new, "
                   f"{summary['updated']} updated), {summary['needs_review']} need review; "
                   f"{summary['shown_detections']} boxes shown, {summary['detections'] - summary['shown_detections']}"
                   f" below the detection threshold {summary['detection_threshold']:.2f} in low_confidence_detections;"
                   f" {summary['seconds']:.1f} s. Open it with `wildeye review {summary['dataset']}`")
        if summary.get("static_clusters"):
            click.echo(f"{summary['static_detections']} static boxes (a place boxed again and again) in "
                       f"static_detections, one 'static-*' view per cluster ({summary['static_clusters']}): tag "
                       "'static' or 'real_animal', then `wildeye review pull`")
        if summary.get("video_dataset"):
            click.echo(f"{summary['videos']} videos in {summary['video_dataset']} (a dataset holds one media type), "
                       f"each sampled frame's boxes as frame labels: `wildeye review {summary['video_dataset']}`, "
                       f"then `wildeye review pull --dataset {summary['video_dataset']}`")


@review.command("pull")
@_run_folder_options
def pull(obj: dict, out: Path, dataset: str | None, as_json: bool) -> None:
    """FiftyOne -> journal: reviewers' labels, boxes and verified/wrong tags become human labels, which win."""
    from wildeye.review.corrections import pull_corrections

    _need_journal(out)
    summary = pull_corrections(out, dataset)
    if as_json:
        click.echo(json.dumps(summary, indent=1))
    elif not (obj or {}).get("quiet"):
        click.echo(f"{summary['pulled']} corrections from {summary['dataset']} into {out}/journal.sqlite "
                   f"({summary['with_boxes']} with boxes, {summary['wrong_unlabelled']} marked wrong without a "
                   f"label); {summary['human_labels_in_journal']} human labels in the journal")
        if summary["withdrawn"]:
            click.echo(f"{summary['withdrawn']} corrections withdrawn (cleared in the dataset; the machine's label "
                       f"applies again, the old rows are kept in the journal's human_label_withdrawals): "
                       + ", ".join(summary["withdrawn_paths"][:5]) + (" …" if summary["withdrawn"] > 5 else ""))
        if summary.get("static_answers"):
            answers = list(summary["static_answers"].values())
            click.echo(f"static clusters answered: {answers.count('static')} static, {answers.count('animal')} real "
                       "animal (kept for this deployment's future runs; `wildeye run` again applies them)")
        if summary["restored"]:
            click.echo(f"{summary['restored']} corrections written back into {summary['dataset']}: it is not the "
                       "dataset they were pulled from (made again, or another database), so nothing was withdrawn")


@click.command("evaluate", context_settings=CONTEXT)
@click.argument("model", required=False)
@click.argument("data", required=False)
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=None, show_default=False,
              help=OUT_HELP)
@click.option("--dataset", default=None, help="FiftyOne dataset to store evaluation runs in.  "
              "[default: wildeye-<source folder name>]")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (MODEL DATA only).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON on stdout.")
@verbosity_options
@click.pass_obj
def evaluate(obj: dict, model: str | None, data: str | None, out: Path | None, dataset: str | None, device: str,
             as_json: bool) -> None:
    """Precision/recall per class: the journal's predictions against human labels, or MODEL on DATA."""
    from wildeye.review.evaluate import print_metrics

    if (model is None) != (data is None):
        raise click.UsageError("give both MODEL and DATA, or neither (to evaluate the journal against human labels)")
    if model is not None:
        try:
            from wildeye.train.evaluate import evaluate_model
        except ImportError as exc:
            raise WildeyeError(f"model evaluation is not available in this install ({exc})",
                               "update wildeye, or run without MODEL DATA to evaluate a run") from None
        result = evaluate_model(model, data, out_dir=out, device=device)
        title = f"{model} on {data}"
    else:
        from wildeye.review.evaluate import evaluate_journal

        out = out or Path(".")
        _need_journal(out)
        result = evaluate_journal(out, dataset)
        title = "Journal predictions vs human labels"
    if as_json:
        click.echo(json.dumps(result, indent=1, default=str))
    elif not (obj or {}).get("quiet"):
        print_metrics(result, title=title)


def _need_journal(out: Path) -> None:
    if not (out / "journal.sqlite").is_file():
        raise WildeyeError(f"no run journal in {out}", "pass --out with the folder `wildeye run` wrote")


def _resolve_dataset(dataset: str | None, out: Path | None) -> str:
    """DATASET, else the run folder's dataset (synced on first use), else the one wildeye dataset there is."""
    from wildeye.review.dataset import default_dataset_name, sync_run
    from wildeye.review.db import import_fiftyone

    if dataset:
        return dataset
    if out is None and (Path(".") / "journal.sqlite").is_file():
        out = Path(".")
    fo = import_fiftyone()
    if out is not None:
        _need_journal(out)
        name = default_dataset_name(out)
        if not fo.dataset_exists(name):
            sync_run(out, name)
        return name
    ours = [name for name in fo.list_datasets() if name.startswith("wildeye-")]
    if len(ours) == 1:
        return ours[0]
    listed = ", ".join(ours) if ours else "none yet"
    raise WildeyeError(f"which dataset? wildeye datasets: {listed}",
                       "pass DATASET, or --out RUN_FOLDER (run `wildeye review sync --out RUN_FOLDER` first)")


__all__ = ["review", "evaluate"]
