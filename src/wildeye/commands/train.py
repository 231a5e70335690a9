"""`wildeye train CONFIG`: a thin shell over `wildeye.train.loop.train`.

Registered on the main CLI by `wildeye.cli`. Nothing heavy (torch, timm) is imported until the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from wildeye.commands.options import CONTEXT, verbosity_options


@click.command("train", context_settings=CONTEXT)
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--resume", is_flag=True, help="Continue the unfinished training in output.dir from its last checkpoint.")
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:N or mps.  [default: train.device]")
@click.option("--epochs", type=click.IntRange(1, 10000), default=None, help="Override train.epochs.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@verbosity_options
@click.pass_context
def train(ctx: click.Context, config: Path, resume: bool, device: str | None, epochs: int | None,
          as_json: bool) -> int:
    """Fine-tune a classifier from a YAML config (see configs/train/); writes a model package for
    `wildeye run --classifier`, with per-class metrics, calibrated thresholds and a model card."""
    from wildeye import ui
    from wildeye.train.config import load_train_config
    from wildeye.train.loop import train as run_training

    obj = ctx.ensure_object(dict)
    quiet = obj.get("quiet", False)
    overrides = {k: v for k, v in (("train.device", device), ("train.epochs", epochs)) if v is not None}
    cfg = load_train_config(config, overrides)

    def on_epoch(record: dict) -> None:
        if quiet or as_json:
            return
        val = (f", val loss {record['val_loss']:.4f}, acc {record['val_accuracy']:.3f}, "
               f"macro F1 {record['val_macro_f1']:.3f}") if "val_loss" in record else ""
        click.echo(f"epoch {record['epoch']}/{cfg.train.epochs}: train loss {record['train_loss']:.4f}{val}, "
                   f"{record['images_per_s']:.0f} images/s{' *' if record['best'] else ''}", err=True)

    with ui.progress_bar("training", enabled=not quiet and not as_json, unit="batches") as advance:
        summary = run_training(cfg, resume=resume, on_batch=advance, on_epoch=on_epoch)
    if as_json:
        click.echo(json.dumps(summary, indent=1, default=str))
    elif not quiet:
        _print_summary(summary)
    return 0


def _print_summary(summary: dict) -> None:
    for split, m in summary["evaluation"].items():
        click.echo(f"{split}: {m['n']} crops, accuracy {m['accuracy']:.3f}, macro F1 {m['macro_f1']:.3f}")
        for label, r in m["per_class"].items():
            click.echo(f"  {label:24} P {r['precision']:.3f}  R {r['recall']:.3f}  F1 {r['f1']:.3f}  "
                       f"n {r['support']}")
    for label, r in summary["calibration"].items():
        state = "" if r["achieved"] else "  (target not reached: always reviewed)"
        recall = "-" if r["recall"] is None else f"{r['recall']:.3f}"
        click.echo(f"threshold {label}: {r['threshold']:.4f} for precision >= {r['target_precision']:.2f}, "
                   f"val recall {recall}{state}")
    click.echo(f"package: {summary['package']} ({summary['epochs_run']} epochs, best {summary['best_epoch']}, "
               f"{summary['elapsed_s']:.0f} s); use: wildeye run SOURCE --classifier {summary['package']}")
