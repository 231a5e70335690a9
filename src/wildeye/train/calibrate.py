"""Per-class thresholds that hold a target precision, and what they cost in recall.

A threshold t for class c means: a crop whose top class is c is labelled c only when its score is >= t;
below it the crop falls back to the `other` class (or to the taxonomic rollup) and needs review. So the
precision that matters is the precision of "top class is c and score >= t", measured on validation data the
model did not train on. The lowest t that reaches the target is chosen: it keeps the most recall.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from wildeye.train.config import normalize_label


def calibrate_class(y_true: np.ndarray, scores: np.ndarray, c: int, target: float,
                    min_predictions: int = 1) -> dict[str, Any]:
    """Threshold for class c: the lowest score cut whose precision (top-1 == c, score >= cut) is >= target.

    When no cut reaches the target, the threshold is 1.0 (the class is never accepted unreviewed) and
    `achieved` is false.
    """
    from sklearn.metrics import precision_recall_curve

    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    support = int((y_true == c).sum())
    mask = scores.argmax(axis=1) == c
    s, correct = scores[mask, c], y_true[mask] == c
    result = {"target_precision": float(target), "support": support}
    if not correct.any():  # nothing predicted as c is c: no cut has any precision
        return {**result, "threshold": 1.0, "precision": None, "recall": 0.0, "achieved": False}
    # One point per distinct score (a cut between equal scores is impossible), ascending; the last point is
    # sklearn's (precision 1, recall 0) end, which has no cut.
    precision, recall, cuts = precision_recall_curve(correct, s)
    precision, recall = precision[:-1], recall[:-1]
    accepted = len(s) - np.searchsorted(np.sort(s), cuts, side="left")  # predictions at or above each cut
    ok = np.flatnonzero((precision >= target) & (accepted >= min_predictions))
    if len(ok) == 0:
        return {**result, "threshold": 1.0, "precision": None, "recall": 0.0, "achieved": False}
    i = int(ok[0])  # the lowest cut (most recall) that still holds the target
    tp = int(round(recall[i] * correct.sum()))
    return {**result, "threshold": float(cuts[i]),  # exact: rounding up would drop the boundary crop
            "precision": round(float(precision[i]), 4),
            "recall": round(tp / support, 4) if support else 0.0, "achieved": True,
            "accepted": int(accepted[i])}


def targets_for(target_precision: float | dict[str, float] | None, labels: Sequence[str],
                fallback: str | None) -> dict[str, float]:
    """{label: target}: a number applies to every class but the fallback; names match case-insensitively."""
    if target_precision is None:
        return {}
    if isinstance(target_precision, dict):
        wanted = {normalize_label(k): float(v) for k, v in target_precision.items()}
        return {label: wanted[normalize_label(label)] for label in labels if normalize_label(label) in wanted}
    skip = normalize_label(fallback) if fallback else None
    return {label: float(target_precision) for label in labels if normalize_label(label) != skip}


def calibrate(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str],
              targets: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Calibration report per targeted class; the thresholds are `{l: r["threshold"] for l, r in report.items()}`."""
    index = {label: i for i, label in enumerate(labels)}
    return {label: calibrate_class(y_true, scores, index[label], target) for label, target in targets.items()}


def apply_thresholds(scores: np.ndarray, labels: Sequence[str], thresholds: dict[str, float],
                     fallback: str | None) -> np.ndarray:
    """Top-1 predictions after thresholds: below its class's threshold a crop becomes the fallback class, or -1
    (no label, review) when there is none."""
    scores = np.asarray(scores)
    pred = scores.argmax(axis=1) if len(scores) else np.zeros(0, dtype=np.int64)
    if not thresholds:
        return pred
    fallback_index = list(labels).index(fallback) if fallback in labels else -1
    cut = np.array([thresholds.get(label, 0.0) for label in labels])
    below = scores[np.arange(len(pred)), pred] < cut[pred]
    pred = pred.copy()
    pred[below] = fallback_index
    return pred
