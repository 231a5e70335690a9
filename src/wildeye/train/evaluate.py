"""Evaluate any classifier wildeye can load (a package or SpeciesNet) on any labelled data source.

Frames are decoded by the run's decoder (`inference.decode.decode`, full resolution), crops made by the
classifier's own `crop_detection` / `crop_image` and preprocessed by its own `preprocess`: the numbers describe
the model as `wildeye run` uses it. Data labels are matched to model labels
case-insensitively (for SpeciesNet labels also by common name and by "genus species"); labels the model does
not know count as its `other` class when it has one, and are otherwise left out and listed in `unmatched`.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from wildeye.errors import ConfigError
from wildeye.train import data as D
from wildeye.train.config import normalize_label

MAX_MATRIX_LABELS = 50  # above this, the confusion matrix keeps only labels that occur


def label_matcher(labels: Sequence[str]) -> dict[str, int]:
    """Normalized name -> output index; SpeciesNet's 'uuid;class;order;family;genus;species;common name' labels
    answer to their common name and 'genus species' as well."""
    names: dict[str, int] = {}
    for i, label in enumerate(labels):
        names.setdefault(normalize_label(label), i)
        parts = label.split(";")
        if len(parts) == 7:
            if parts[6].strip():
                names.setdefault(normalize_label(parts[6]), i)
            if parts[4].strip() and parts[5].strip():
                names.setdefault(normalize_label(f"{parts[4]} {parts[5]}"), i)
    return names


def evaluate_model(model: str, data: str, *, out_dir: Path | None = None, device: str = "auto",
                   batch_size: int = 32) -> dict[str, Any]:
    """Per-class precision/recall/F1, accuracy, top-5 accuracy (5+ classes) and the confusion matrix of `model`
    (package folder or SpeciesNet path) on `data` (data YAML, COCO-CT .json, Camtrap DP folder, folder of class
    folders, or fiftyone:<dataset>[:<view>]). With out_dir: metrics.json, predictions.csv and PNGs there."""
    from wildeye.inference.classifier import load_classifier
    from wildeye.inference.decode import DecodeError, decode
    from wildeye.train import calibrate as C
    from wildeye.train import metrics as M

    clf = load_classifier(model, device=device, batch_size=batch_size)
    section = D.source_from_spec(str(data))
    collected = D.collect(section)
    skipped = list(collected.skipped)
    items = D.check_readable(collected.items, skipped)
    labels = list(clf.labels)
    match = label_matcher(labels)
    other = match.get("other")
    unmatched: Counter[str] = Counter()
    kept: list[tuple[D.Item, int]] = []
    for item in items:
        index = match.get(normalize_label(item.label), other)
        if index is None:
            unmatched[item.label] += 1
        else:
            kept.append((item, index))
    if not kept:
        raise ConfigError(f"none of the labels in {data} is a label of {model}",
                          f"model labels include: {', '.join(labels[:8])}; data labels: "
                          f"{', '.join(sorted(unmatched)[:8])}")

    by_path: dict[str, list[int]] = defaultdict(list)
    for k, (item, _) in enumerate(kept):
        by_path[item.path].append(k)
    crops: list[np.ndarray | None] = [None] * len(kept)
    for path, ks in by_path.items():
        boxes = [kept[k][0].bbox for k in ks]
        try:
            frame = decode(path).image  # the run's decoder: full resolution, EXIF-upright RGB
        except DecodeError as exc:  # an undecodable file is a skip, not a crash
            skipped.extend((path, str(exc)) for _ in ks)
            continue
        for k, box in zip(ks, boxes):
            crops[k] = clf.crop_image(frame) if box is None else clf.crop_detection(frame, box)
    good = [k for k, crop in enumerate(crops) if crop is not None]
    y_true = np.array([kept[k][1] for k in good], dtype=np.int64)
    scores = clf.scores([crops[k] for k in good]).numpy().astype(np.float64)

    result = M.evaluate_scores(y_true, scores, labels)
    if len(labels) > MAX_MATRIX_LABELS:
        used = sorted(set(y_true.tolist()) | set(scores.argmax(axis=1).tolist()))
        pred = scores.argmax(axis=1)
        remap = {c: i for i, c in enumerate(used)}
        result["confusion_matrix"] = {
            "labels": [labels[c] for c in used],
            "matrix": M.confusion(np.array([remap[c] for c in y_true]), np.array([remap[c] for c in pred]),
                                  len(used)).tolist()}
        result["per_class"] = {labels[c]: result["per_class"][labels[c]] for c in used}
        result["average_precision"] = {labels[c]: result["average_precision"][labels[c]] for c in used}
    thresholds = dict(getattr(clf, "thresholds", {}) or {})
    if thresholds:
        fallback = labels[other] if other is not None else None
        pred = C.apply_thresholds(scores, labels, thresholds, fallback)
        result["thresholds"] = thresholds
        result["with_thresholds"] = {label: {k: m[k] for k in ("precision", "recall", "f1", "predicted")}
                                     for label, m in M.per_class(y_true, pred, labels).items() if label in thresholds}
    result.update(model=str(model), data=str(data), skipped=len(skipped), unmatched=dict(unmatched))
    if out_dir is not None:
        _write(Path(out_dir), result, [kept[k][0] for k in good], y_true, scores, labels, skipped)
    return result


def _write(out: Path, result: dict[str, Any], items: list[D.Item], y_true: np.ndarray, scores: np.ndarray,
           labels: Sequence[str], skipped: list) -> None:
    from wildeye.atomic import write_bytes_atomic, write_json_atomic
    from wildeye.train import metrics as M

    out.mkdir(parents=True, exist_ok=True)
    cm = result["confusion_matrix"]
    result["plots"] = {
        "confusion_matrix": str(M.plot_confusion(cm["matrix"], cm["labels"], out / "confusion_matrix.png")),
        "pr_curves": str(M.plot_pr_curves(y_true, scores, labels, out / "pr_curves.png",
                                          result.get("thresholds"))),
    }
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["path", "bbox", "true", "predicted", "score", "true_score"])
    for item, y, row in zip(items, y_true, scores):
        top = int(row.argmax())
        writer.writerow([item.path, list(item.bbox) if item.bbox else "", labels[y], labels[top],
                         f"{row[top]:.5f}", f"{row[y]:.5f}"])
    write_bytes_atomic(out / "predictions.csv", buf.getvalue().encode("utf-8"))
    if skipped:
        buf = io.StringIO()
        csv.writer(buf).writerows([("path_or_id", "reason"), *skipped])
        write_bytes_atomic(out / "skipped.csv", buf.getvalue().encode("utf-8"))
    write_json_atomic(out / "metrics.json", result)
