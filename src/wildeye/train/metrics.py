"""Per-class evaluation: precision, recall, F1, confusion matrix, top-k accuracy, PR curves.

Inputs are class indices and softmax scores (numpy). A prediction of -1 means "no label": a threshold sent
the item to review and there is no fallback class; it counts as a miss for recall and against no class's
precision.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    """matrix[true, predicted]; predictions of -1 are not counted (they are misses)."""
    from sklearn.metrics import confusion_matrix

    if len(y_true) == 0:
        return np.zeros((n, n), dtype=np.int64)
    return confusion_matrix(y_true, y_pred, labels=range(n)).astype(np.int64)


def per_class(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, dict[str, float]]:
    """sklearn's per-class precision, recall, F1 (0 where undefined); `predicted` excludes -1 (no label)."""
    from sklearn.metrics import precision_recall_fscore_support

    n = len(labels)
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if len(y_true):
        precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=range(n),
                                                                         average=None, zero_division=0)
    else:
        precision = recall = f1 = support = np.zeros(n)
    predicted = confusion(y_true, y_pred, n).sum(axis=0)
    return {label: {"precision": round(float(precision[c]), 4), "recall": round(float(recall[c]), 4),
                    "f1": round(float(f1[c]), 4), "support": int(support[c]), "predicted": int(predicted[c])}
            for c, label in enumerate(labels)}


def top_k_accuracy(y_true: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Not sklearn's top_k_accuracy_score: that one breaks score ties toward the higher class index and refuses
    two-class scores and k >= the number of classes; here ties keep class order, as argmax does."""
    if len(y_true) == 0:
        return 0.0
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1)[:, :k]
    return float((top == y_true[:, None]).any(axis=1).mean())


def evaluate_scores(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str],
                    y_pred: np.ndarray | None = None) -> dict[str, Any]:
    """The metrics dict stored in packages and returned by `evaluate_model`."""
    from sklearn.metrics import accuracy_score

    y_true = np.asarray(y_true, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if y_pred is None:
        y_pred = scores.argmax(axis=1) if len(scores) else np.zeros(0, dtype=np.int64)
    classes = per_class(y_true, y_pred, labels)
    present = [m for m in classes.values() if m["support"] > 0]
    result: dict[str, Any] = {
        "n": int(len(y_true)),
        "accuracy": round(float(accuracy_score(y_true, y_pred)) if len(y_true) else 0.0, 4),
        "macro_f1": round(float(np.mean([m["f1"] for m in present])) if present else 0.0, 4),
        "per_class": classes,
        "confusion_matrix": {"labels": list(labels), "matrix": confusion(y_true, y_pred, len(labels)).tolist()},
    }
    if len(labels) >= 5:
        result["top5_accuracy"] = round(top_k_accuracy(y_true, scores, 5), 4)
    if len(labels) >= 3:
        result["top3_accuracy"] = round(top_k_accuracy(y_true, scores, 3), 4)
    result["average_precision"] = average_precision(y_true, scores, labels)
    return result


def average_precision(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str]) -> dict[str, float | None]:
    from sklearn.metrics import average_precision_score

    out: dict[str, float | None] = {}
    for c, label in enumerate(labels):
        positives = y_true == c
        out[label] = round(float(average_precision_score(positives, scores[:, c])), 4) \
            if positives.any() and len(y_true) else None
    return out


# --- plots --------------------------------------------------------------------------------------------------


def plot_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str], path: Path, title: str = "") -> Path:
    """Row-normalized colours, raw counts written in the cells (rare classes stay readable)."""
    import matplotlib

    matrix = np.asarray(matrix, dtype=np.float64)
    n = len(labels)
    plt = _pyplot(matplotlib)
    size = max(4.0, 0.45 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size, size))
    rows = matrix.sum(axis=1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 30:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title or "confusion matrix (rows: true class)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_pr_curves(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str], path: Path,
                   thresholds: dict[str, float] | None = None, title: str = "") -> Path:
    """One-vs-rest precision/recall per class; a dot marks each calibrated threshold."""
    import matplotlib
    from sklearn.metrics import precision_recall_curve

    plt = _pyplot(matplotlib)
    fig, ax = plt.subplots(figsize=(7, 5.5))
    for c, label in enumerate(labels):
        positives = y_true == c
        if not positives.any():
            continue
        precision, recall, cut = precision_recall_curve(positives, scores[:, c])
        line, = ax.plot(recall, precision, label=label, linewidth=1.2)
        if thresholds and label in thresholds and len(cut):
            i = min(int(np.searchsorted(cut, thresholds[label])), len(cut) - 1)
            ax.plot(recall[i], precision[i], "o", color=line.get_color())
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left", ncol=2 if len(labels) > 10 else 1)
    ax.set_title(title or "precision-recall per class (dots: calibrated thresholds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _pyplot(matplotlib):
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt
