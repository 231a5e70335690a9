"""Pull reviewers' corrections from the FiftyOne dataset into the journal as HumanLabel records.

What counts as a correction, per sample:
  * `ground_truth` set: the frame shows that species (the reviewer's dropdown choice);
  * `ground_truth_boxes` drawn: those boxes (and, without `ground_truth`, their most common label);
  * tag `verified`: the machine's label is right;
  * tag `wrong` without a `ground_truth`: the machine's label is wrong, the truth unknown ("unknown", unverified).
Display names map back to the full taxonomy labels the journal uses, so human and machine labels compare.
Pulling again rewrites the same records (one per frame), never duplicates them.

The dataset speaks for the corrections that came from it (origin `fiftyone:<dataset>`): one it no longer holds
(a reviewer cleared the species, removed the boxes or the tag) is withdrawn from the journal into its audit
table, and the machine's label applies again. Corrections of other origins (imports) are never touched. A
dataset that is not the one those corrections came from (deleted and synced again, or another database with
the same name) withdraws nothing: the corrections it lacks are written back into it instead, so reviewers see
them and can clear them there.
"""

from __future__ import annotations

from collections import Counter
from datetime import timezone
from pathlib import Path

from wildeye.review.dataset import default_dataset_name
from wildeye.review.fields import (GROUND_TRUTH, GROUND_TRUTH_BOXES, REAL_ANIMAL_TAG, REVIEWED, STATIC_CLUSTERS,
                                   STATIC_TAG, VERIFIED_TAG, WRONG_TAG)

UNKNOWN = "unknown"
PULLED_FROM = "review_pulled_from"  # journal meta: {origin: identity of the dataset last pulled}


def pull_corrections(out_dir: Path, dataset_name: str | None = None) -> dict:
    """Read corrections from the dataset into out_dir's journal, withdrawing those it no longer holds; returns
    counts."""
    from wildeye.review.db import load_dataset
    from wildeye.store.journal import Journal

    out_dir = Path(out_dir)
    name = dataset_name or default_dataset_name(out_dir)
    dataset = load_dataset(name)
    origin = f"fiftyone:{dataset.name}"
    identity = dataset_identity(dataset)
    labels = read_corrections(dataset)
    static_answers = read_static_answers(dataset)
    with Journal.open(out_dir, write=False) as journal:
        known = {m.path for m in journal.media()}
        static_reviews = static_reviews_for(journal.static_clusters(), static_answers, origin)
        ours = [h for h in journal.human_labels().values() if h.origin == origin]
        pulled_before = (journal.get_meta(PULLED_FROM) or {}).get(origin)
    unknown_paths = [h.path for h in labels if h.path not in known]
    labels = [h for h in labels if h.path in known]
    same_dataset = pulled_before in (None, identity)
    restored: set[str] = set()
    if not same_dataset:  # never let a stranger dataset withdraw what another one gave
        held = {h.path for h in labels}
        missing = [h for h in ours if h.path not in held]
        restored = restore_corrections(dataset, missing)
        labels += [h for h in missing if h.path in restored]
    with Journal.open(out_dir) as journal:
        written, withdrawn = journal.replace_reviewed_labels(
            origin, labels, withdraw=same_dataset, reason=f"no longer set in {origin}: cleared by a reviewer")
        journal.set_meta(PULLED_FROM, {**(journal.get_meta(PULLED_FROM) or {}), origin: identity})
        journal.record_static_reviews(static_reviews)
        total = len(journal.human_labels())
    kinds = Counter("wrong" if not h.verified else "boxes" if h.boxes else "label" for h in labels)
    return {"dataset": name, "pulled": written, "verified_or_relabelled": kinds["label"], "with_boxes": kinds["boxes"],
            "wrong_unlabelled": kinds["wrong"], "withdrawn": len(withdrawn),
            "withdrawn_paths": [h.path for h in withdrawn][:20], "restored": len(restored),
            "not_in_journal": len(unknown_paths), "human_labels_in_journal": total,
            "static_answers": {r.cluster_id: r.answer for r in static_reviews}, "out": str(out_dir)}


def read_static_answers(dataset) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(deployment, cluster id) -> (answer, when) from the tags on the samples of each static cluster: any sample
    tagged `real_animal` makes the cluster a real animal (the safe answer wins), else any tagged `static` confirms
    it. A sample in several clusters answers for each of them."""
    from fiftyone import ViewField as F

    from wildeye.records import STATIC_CONFIRMED, STATIC_REAL_ANIMAL

    tagged = dataset.match(F("tags").contains([STATIC_TAG, REAL_ANIMAL_TAG]) & (F(STATIC_CLUSTERS).length() > 0))
    answers: dict[tuple[str, str], tuple[str, str | None]] = {}
    for deployment, clusters, tags, modified in zip(*tagged.values(
            ["deployment", STATIC_CLUSTERS, "tags", "last_modified_at"], _allow_missing=True)):
        answer = STATIC_REAL_ANIMAL if REAL_ANIMAL_TAG in (tags or ()) else STATIC_CONFIRMED
        when = modified.replace(tzinfo=timezone.utc).isoformat(timespec="seconds") if modified else None
        for cluster in clusters or ():
            key = (deployment or "", cluster)
            if answers.get(key, (None,))[0] != STATIC_REAL_ANIMAL:
                answers[key] = (answer, when)
    return answers


def static_reviews_for(clusters, answers: dict, origin: str) -> list:
    """StaticReview records for the journal's clusters a reviewer answered (with the anchor that keeps the cluster's
    id across runs)."""
    from wildeye.records import StaticReview

    return [StaticReview(c.deployment_id, c.cluster_id, c.category, c.anchor, answers[key][0],
                         reviewed_at=answers[key][1], origin=origin)
            for c in clusters if (key := (c.deployment_id, c.cluster_id)) in answers]


def dataset_identity(dataset) -> str:
    """Which dataset this is, beyond its name: a dataset deleted and made again, or one of the same name in
    another database, has another creation time."""
    created = getattr(dataset, "created_at", None)
    return created.isoformat() if created else str(dataset._doc.id)


def restore_corrections(dataset, labels) -> set[str]:
    """Write journal corrections into the human fields of their samples (the reverse of read_corrections):
    the species in `ground_truth`, boxes in `ground_truth_boxes`, a rejection as the `wrong` tag."""
    if not labels:
        return set()
    import fiftyone as fo
    from fiftyone import ViewField as F

    from wildeye.labels import display_name

    by_path = {h.path: h for h in labels}
    restored = set()
    for sample in dataset.match(F("media_path").is_in(sorted(by_path))):
        h = by_path[sample.media_path]
        if not h.verified and h.label == UNKNOWN:
            if WRONG_TAG not in sample.tags:
                sample.tags.append(WRONG_TAG)
        else:
            sample[GROUND_TRUTH] = fo.Classification(label=display_name(h.label), reviewer=h.reviewer)
        if h.boxes:
            sample[GROUND_TRUTH_BOXES] = fo.Detections(detections=[
                fo.Detection(label=display_name(b["label"]), bounding_box=list(b["bbox"])) for b in h.boxes])
        sample.save()
        restored.add(h.path)
    return restored


def read_corrections(dataset) -> list:
    """HumanLabel records for every sample a reviewer corrected, verified or rejected."""
    from fiftyone import ViewField as F

    from wildeye.store.journal import HumanLabel

    full = _taxonomy_names(dataset)
    reviewed = dataset.match(F(GROUND_TRUTH).exists() | (F(f"{GROUND_TRUTH_BOXES}.detections").length() > 0)
                             | F("tags").contains([VERIFIED_TAG, WRONG_TAG]))
    fields = ["media_path", f"{GROUND_TRUTH}.label", f"{GROUND_TRUTH}.reviewer", GROUND_TRUTH_BOXES, "tags",
              "prediction.taxonomy", "prediction.label", "last_modified_at", REVIEWED]
    columns = reviewed.values(fields, _allow_missing=True)
    origin = f"fiftyone:{dataset.name}"
    result = []
    for path, gt_label, gt_reviewer, boxes, tags, taxonomy, pred_label, modified, _ in zip(*columns):
        if not path:
            continue
        tags = set(tags or ())
        box_list = [{"label": full.get(d.label, d.label) if d.label else UNKNOWN,
                     "bbox": [round(float(v), 6) for v in d.bounding_box]}
                    for d in (boxes.detections if boxes else []) if d.bounding_box]
        box_reviewers = [getattr(d, "reviewer", None) for d in (boxes.detections if boxes else [])]
        verified = True
        if gt_label:
            label = full.get(gt_label, gt_label)
        elif box_list:
            label = Counter(b["label"] for b in box_list).most_common(1)[0][0]
        elif WRONG_TAG in tags:
            label, verified = UNKNOWN, False
        elif VERIFIED_TAG in tags and (taxonomy or pred_label):
            label = taxonomy or pred_label
        else:
            continue
        reviewer = gt_reviewer or next((r for r in box_reviewers if r), None)
        when = modified.replace(tzinfo=timezone.utc).isoformat(timespec="seconds") if modified else None
        result.append(HumanLabel(path=path, label=label, count=len(box_list) if box_list else None,
                                 boxes=box_list or None, verified=verified, reviewer=reviewer, reviewed_at=when,
                                 origin=origin))
    return result


def _taxonomy_names(dataset) -> dict[str, str]:
    """display name -> full label, from what the machine fields hold (e.g. 'snow leopard' -> 7-field label)."""
    names: dict[str, str] = {}
    for display, full in zip(*dataset.values(["prediction.label", "prediction.taxonomy"])):
        if display and full:
            names.setdefault(display, full)
    for display, full in zip(*dataset.values(["detections.detections.species", "detections.detections.taxonomy"],
                                              unwind=True)):
        if display and full:
            names.setdefault(display, full)
    for plain in ("blank", "human", "vehicle", "animal", UNKNOWN):
        names[plain] = plain  # the ensemble writes these plain
    return names
