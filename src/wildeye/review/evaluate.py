"""How good were the machine's labels? Predictions (journal decisions) against human labels.

Species metrics (per-class precision/recall/F1, accuracy, confusion matrix) are computed here from the
journal, in the same shape `wildeye.train.evaluate.evaluate_model` returns, so one table prints both. The
same comparison is stored as FiftyOne evaluation runs (`wildeye_species`, and `wildeye_boxes` at IoU 0.5
where reviewers drew boxes), which the App's Model Evaluation panel shows.
"""

from __future__ import annotations

from pathlib import Path

SPECIES_KEY, BOXES_KEY = "wildeye_species", "wildeye_boxes"
EVAL_TRUTH, EVAL_BOXES = "eval_truth", "eval_boxes"
IOU = 0.5


def classification_metrics(pairs: list[tuple[str, str]]) -> dict:
    """(truth, prediction) pairs -> per_class {label: precision, recall, f1, support}, accuracy, confusion."""
    labels = sorted({t for t, _ in pairs} | {p for _, p in pairs})
    if not pairs:
        return {"per_class": {}, "accuracy": None, "confusion_matrix": {"labels": [], "matrix": []}, "samples": 0}
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    truth, predicted = [t for t, _ in pairs], [p for _, p in pairs]
    matrix = confusion_matrix(truth, predicted, labels=labels)  # rows: truth, columns: prediction
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=labels, average=None,
                                                                     zero_division=0)
    per_class = {label: {"precision": round(float(precision[i]), 4), "recall": round(float(recall[i]), 4),
                         "f1": round(float(f1[i]), 4), "support": int(support[i])}
                 for i, label in enumerate(labels)}
    return {"per_class": per_class, "accuracy": round(float(accuracy_score(truth, predicted)), 4),
            "confusion_matrix": {"labels": labels, "matrix": matrix.tolist()}, "samples": len(pairs)}


def evaluate_journal(out_dir: Path, dataset_name: str | None = None, *, fiftyone: bool = True) -> dict:
    """Compare out_dir's decisions with its human labels; also store FiftyOne evaluation runs."""
    from wildeye.errors import WildeyeError
    from wildeye.labels import display_name
    from wildeye.store.journal import Journal

    out_dir = Path(out_dir)
    with Journal.open(out_dir, write=False) as journal:
        decisions = journal.decisions()
        humans = journal.human_labels()
        threshold = journal.detection_threshold()
    if not humans:
        raise WildeyeError(f"no human labels in {out_dir}/journal.sqlite yet",
                           "review in the App (`wildeye review`), then `wildeye review pull`")
    compared = {path: h for path, h in humans.items() if path in decisions}
    pairs = [(display_name(h.label), display_name(decisions[path].label)) for path, h in sorted(compared.items())]
    result = classification_metrics(pairs)
    result.update({"source": "journal", "out": str(out_dir), "human_labels": len(humans),
                   "detection": None, "dataset": None, "eval_keys": []})
    if fiftyone:
        result.update(_fiftyone_evaluations(out_dir, dataset_name, compared, display_name, threshold))
    return result


def _fiftyone_evaluations(out_dir: Path, dataset_name: str | None, humans: dict, display_name,
                          threshold: float) -> dict:
    """threshold: the run's detection threshold; boxes below it took no part in decisions, so they don't count."""
    from fiftyone import ViewField as F

    from wildeye.review.dataset import default_dataset_name, sync_run, writable
    from wildeye.review.db import import_fiftyone, load_dataset

    fo = import_fiftyone()
    name = dataset_name or default_dataset_name(out_dir)
    if dataset_name is None and not fo.dataset_exists(name):
        sync_run(out_dir, name)
    dataset = load_dataset(name)
    for key, ftype in ((EVAL_TRUTH, fo.Classification), (EVAL_BOXES, fo.Detections)):
        if dataset.get_field(key) is None:
            dataset.add_sample_field(key, fo.EmbeddedDocumentField, embedded_doc_type=ftype)
    paths = dict(zip(*dataset.values(["media_path", "filepath"])))
    truth, boxes = {}, {}
    for path, human in humans.items():
        filepath = paths.get(path)
        if filepath is None:
            continue
        truth[filepath] = fo.Classification(label=display_name(human.label))
        if human.boxes is not None:
            boxes[filepath] = fo.Detections(detections=[
                fo.Detection(label=_category(b["label"]), bounding_box=list(b["bbox"])) for b in human.boxes])
    dataset.set_values(EVAL_TRUTH, [None] * len(dataset))  # drop labels of a previous evaluation
    dataset.set_values(EVAL_BOXES, [None] * len(dataset))
    if truth:
        dataset.set_values(EVAL_TRUTH, truth, key_field="filepath")
    if boxes:
        dataset.set_values(EVAL_BOXES, boxes, key_field="filepath")
    keys = []
    for key in (SPECIES_KEY, BOXES_KEY):
        if dataset.has_evaluation(key):
            with writable(dataset, ["detections"]):
                dataset.delete_evaluation(key)
    labelled = dataset.exists(EVAL_TRUTH)
    if len(labelled):
        with _quiet():
            labelled.evaluate_classifications("prediction", gt_field=EVAL_TRUTH, eval_key=SPECIES_KEY,
                                              progress=False)
        keys.append(SPECIES_KEY)
    detection = None
    boxed = dataset.exists(EVAL_BOXES)
    if len(boxed):
        view = boxed.filter_labels("detections", F("confidence") >= threshold, only_matches=False)
        with writable(dataset, ["detections"]), _quiet():  # the evaluation marks each machine box tp/fp
            results = view.evaluate_detections("detections", gt_field=EVAL_BOXES, eval_key=BOXES_KEY, iou=IOU,
                                               compute_mAP=True, iou_threshs=[IOU], progress=False)
        keys.append(BOXES_KEY)
        metrics = results.metrics()
        detection = {"iou": IOU, "mAP": round(float(results.mAP()), 4), "precision": round(float(metrics["precision"]), 4),
                     "recall": round(float(metrics["recall"]), 4), "images": len(boxed),
                     "true_positives": int(view.sum(f"{BOXES_KEY}_tp")),
                     "false_positives": int(view.sum(f"{BOXES_KEY}_fp")),
                     "false_negatives": int(view.sum(f"{BOXES_KEY}_fn")), "confidence_threshold": threshold}
    return {"dataset": name, "eval_keys": keys, "detection": detection}


class _quiet:
    """FiftyOne logs "Evaluating ..." to stdout; keep stdout for wildeye's table or JSON."""

    def __enter__(self):
        import logging

        self.logger = logging.getLogger("fiftyone")
        self.level = self.logger.level
        self.logger.setLevel(logging.WARNING)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)


def _category(label: str) -> str:
    """A reviewer's box label as a MegaDetector category, which is what the machine boxes say."""
    low = label.lower()
    if low.endswith(";human") or low in ("human", "person"):
        return "person"
    return "vehicle" if low.endswith("vehicle") else "animal"


# --- terminal output ----------------------------------------------------------------------------------------


def print_metrics(result: dict, title: str = "Species") -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 140)
    per_class = result.get("per_class") or {}
    table = Table(title=f"{title}: precision / recall per class", title_justify="left")
    table.add_column("label", overflow="fold")
    for column in ("precision", "recall", "F1", "support"):
        table.add_column(column, justify="right")
    for label, m in sorted(per_class.items(), key=lambda kv: (-kv[1].get("support", 0), kv[0])):
        table.add_row(label, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"]))
    console.print(table)
    accuracy = result.get("accuracy")
    n = result.get("samples") or sum(m.get("support", 0) for m in per_class.values())
    console.print(f"accuracy {accuracy:.3f} over {n} samples" if accuracy is not None else "no samples to compare")
    matrix = result.get("confusion_matrix") or {}
    labels = matrix.get("labels") or []
    if labels and len(labels) <= 20:
        cm = Table(title="Confusion matrix (rows: truth, columns: prediction)", title_justify="left")
        cm.add_column("truth \\ pred", overflow="fold")
        for label in labels:
            cm.add_column(label, justify="right", overflow="fold")
        for label, row in zip(labels, matrix["matrix"]):
            cm.add_row(label, *(str(v) if v else "." for v in row))
        console.print(cm)
    det = result.get("detection")
    if det:
        console.print(f"boxes at IoU {det['iou']}: mAP {det['mAP']:.3f}, precision {det['precision']:.3f}, "
                      f"recall {det['recall']:.3f} over {det['images']} images "
                      f"(TP {det['true_positives']}, FP {det['false_positives']}, FN {det['false_negatives']})")
    if result.get("eval_keys"):
        console.print(f"FiftyOne evaluations in dataset {result['dataset']}: {', '.join(result['eval_keys'])} "
                      "(Model Evaluation panel in the App)")

