"""What a finished training leaves in its package folder, besides model.json and the weights.

    model.md             the model card: data, metrics per class, thresholds and the recall they leave
    metrics.json         everything measured (per split, per class, calibration, history)
    train_config.yaml    the resolved config (absolute paths), enough to train the same model again
    data.csv             the training data list, whose hash is model.json's training_data_hash
    skipped.csv          what was left out, and why
    confusion_matrix.png, pr_curves.png

model.json is written last (by `save_package`), so a folder with model.json is always a complete package.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from wildeye.atomic import write_bytes_atomic, write_json_atomic


def package_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """The compact metrics stored in model.json (the full set is in metrics.json)."""
    out: dict[str, Any] = {}
    for split, m in summary["evaluation"].items():
        out[split] = {k: m[k] for k in ("n", "accuracy", "macro_f1", "top3_accuracy", "top5_accuracy", "per_class",
                                        "with_thresholds") if k in m}
    if summary["calibration"]:
        out["calibration"] = summary["calibration"]
    out["training"] = {k: summary[k] for k in ("epochs_run", "best_epoch", "stopped_early", "device")}
    out["data"] = {k: summary["data"][k] for k in ("items", "split_by") if k in summary["data"]}
    return out


def write_outputs(folder: Path, model: Any, config: Any, prepared: Any, summary: dict[str, Any],
                  scores: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    import yaml

    from wildeye.models.package import save_package
    from wildeye.train import metrics as M
    from wildeye.train.data import write_data_list

    folder.mkdir(parents=True, exist_ok=True)
    labels = summary["labels"]
    write_data_list(folder / "data.csv", prepared.items, labels)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["path_or_id", "reason"])
    writer.writerows(prepared.skipped)
    write_bytes_atomic(folder / "skipped.csv", buf.getvalue().encode("utf-8"))
    write_bytes_atomic(folder / "train_config.yaml",
                       yaml.safe_dump(config.model_dump(mode="json", by_alias=True), sort_keys=False, allow_unicode=True).encode())
    plots = {}
    split = "test" if "test" in scores else "val" if "val" in scores else None
    if split:
        y, p = scores[split]
        matrix = summary["evaluation"][split]["confusion_matrix"]["matrix"]
        plots["confusion_matrix"] = M.plot_confusion(matrix, labels, folder / "confusion_matrix.png",
                                                     title=f"confusion matrix, {split} split (rows: true class)")
        plots["pr_curves"] = M.plot_pr_curves(y, p, labels, folder / "pr_curves.png", summary["thresholds"],
                                              title=f"precision-recall, {split} split (dots: thresholds)")
    summary["plots"] = {k: str(v) for k, v in plots.items()}
    write_json_atomic(folder / "metrics.json", summary)
    write_bytes_atomic(folder / "model.md", model_card(summary, config).encode("utf-8"))
    prep = summary["preprocessing"]
    save_package(folder, model, labels, architecture=config.model.architecture, input_size=prep["input_size"],
                 mean=prep["mean"], std=prep["std"], interpolation=prep["interpolation"],
                 crop_padding=config.data.padding if config.data.crop == "boxes" else 0.0,
                 thresholds=summary["thresholds"], taxonomy=summary.get("taxonomy"), metrics=package_metrics(summary),
                 timm_kwargs=config.model.timm_kwargs, training_data_hash=summary["data_hash"], overwrite=True)


def model_card(summary: dict[str, Any], config: Any) -> str:
    import wildeye

    labels = summary["labels"]
    data = summary["data"]
    lines = [f"# {Path(summary['package']).name}: {config.model.architecture} camera-trap classifier", "",
             f"{len(labels)} classes: {', '.join(labels)}.", "",
             f"Trained with wildeye {wildeye.__version__} on {summary['device']}; {summary['epochs_run']} epochs "
             f"(best: {summary['best_epoch']}{', stopped early' if summary['stopped_early'] else ''}); "
             f"starting weights: {summary['init'].get('init')}.", "",
             "Use it: `wildeye run SDCARD --classifier " + summary["package"] + "`", "",
             "## Data", "",
             f"Splits by **{data['split_by']}**: no {data['split_by']} contributes to two splits. "
             f"Training data hash `{summary['data_hash']}` (data.csv); {data['skipped']} entries skipped "
             "(skipped.csv).", "",
             "| class | train | val | test |", "|---|---:|---:|---:|"]
    for label in labels:
        c = data["per_class"][label]
        lines.append(f"| {label} | {c['train']} | {c['val']} | {c['test']} |")
    lines.append(f"| **all** | {data['items']['train']} | {data['items']['val']} | {data['items']['test']} |")
    lines += ["", "Sources: " + ", ".join(f"{k} ({v} items)" for k, v in data["sources"].items()), ""]
    lines += _taxonomy_lines(labels, summary.get("taxonomy") or {}, summary.get("taxonomy_missing") or [])
    for split, m in summary["evaluation"].items():
        extra = "".join(f", top-{k} {m[f'top{k}_accuracy']:.3f}" for k in (3, 5) if f"top{k}_accuracy" in m)
        lines += [f"## Metrics, {split} split ({m['n']} crops)", "",
                  f"Accuracy {m['accuracy']:.3f}, macro F1 {m['macro_f1']:.3f}{extra}.", "",
                  "| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        for label, r in m["per_class"].items():
            lines.append(f"| {label} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['support']} |")
        lines.append("")
    lines += ["## Thresholds", ""]
    if summary["calibration"]:
        fallback = summary["fallback"] or "no label (review)"
        lines += [f"Calibrated on the validation split. Below its threshold a prediction becomes **{fallback}** "
                  "and needs review (wildeye's ensemble reads these from model.json).", "",
                  "| class | target precision | threshold | val precision | val recall | test precision | "
                  "test recall |", "|---|---:|---:|---:|---:|---:|---:|"]
        test = summary["evaluation"].get("test", {}).get("with_thresholds", {})
        for label, r in summary["calibration"].items():
            t = test.get(label, {})
            reached = "" if r["achieved"] else " (not reached: never accepted unreviewed)"
            lines.append(f"| {label} | {r['target_precision']:.2f} | {r['threshold']:.4f}{reached} | "
                         f"{_num(r['precision'])} | {_num(r['recall'])} | {_num(t.get('precision'))} | "
                         f"{_num(t.get('recall'))} |")
        lines += ["", "Small validation sets make these estimates noisy: check the support column."]
    else:
        lines.append("None calibrated (set calibration.target_precision).")
    lines += ["", "## Preprocessing", "",
              "```json", json.dumps(summary["preprocessing"], indent=1), "```", "",
              "Plots: confusion_matrix.png, pr_curves.png. Everything measured: metrics.json. "
              "Config: train_config.yaml.", ""]
    return "\n".join(lines)


def _taxonomy_lines(labels: list[str], taxonomy: dict[str, str], missing: list[str]) -> list[str]:
    """What each class is, as exports will name it (model.json `taxonomy`)."""
    from wildeye.labels import parse

    lines = ["## Taxonomy", "", "| class | scientific name | rank | taxonomy string |", "|---|---|---|---|"]
    for label in labels:
        taxon = taxonomy.get(label)
        parsed = parse(taxon) if taxon else None
        lines.append(f"| {label} | {(parsed.scientific_name or '–') if parsed else '–'} | "
                     f"{(parsed.rank or '–') if parsed else '–'} | {f'`{taxon}`' if taxon else '–'} |")
    if missing:
        lines += ["", "No taxonomy for " + ", ".join(missing) + ": give it in the train config's classes.taxonomy."]
    return lines + [""]


def _num(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}"
