"""What a reviewer opens first: saved views (queues), sequences as dynamic groups, and the annotation schema.

Saved views are stored in the dataset, so they appear in the App's view bar for everyone on a shared
database. The label schema makes `ground_truth` (species) and `ground_truth_boxes` (boxes) editable in the
App with the project's class list; machine fields are shown read-only.
"""

from __future__ import annotations

import re

from wildeye.review.fields import (GROUND_TRUTH, GROUND_TRUTH_BOXES, LOW_CONFIDENCE_DETECTIONS, REAL_ANIMAL_TAG,
                                   REVIEWED, STATIC_CLUSTERS, STATIC_DETECTIONS, STATIC_TAG, VERIFIED_TAG, WRONG_TAG)

NEEDS_REVIEW, FLAGSHIP, LOW_CONFIDENCE_BLANKS, SEQUENCES = "needs-review", "flagship", "low-confidence-blanks", "sequences"
BASE_CLASSES = ("blank", "human", "vehicle", "animal", "unknown")


def deployment_view_name(deployment_id: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", deployment_id.lower()).strip("-") or "unnamed"
    return f"deployment-{slug}"


STATIC_VIEW_PREFIX = "static-"


def static_view_name(deployment_id: str, cluster_id: str) -> str:
    """`static-<deployment>-<cluster id>`: one saved view per static cluster."""
    slug = re.sub(r"[^a-z0-9]+", "-", (deployment_id or "").lower()).strip("-") or "unnamed"
    return f"{STATIC_VIEW_PREFIX}{slug}-{cluster_id}"


def static_views(dataset, clusters: list[dict]) -> dict:
    """name -> (view, description) per static cluster (app.static's evidence, read from the journal): its frames
    in time order, with what a reviewer does there."""
    from fiftyone import ViewField as F

    views = {}
    for c in clusters:
        answer = {STATIC_TAG: "confirmed static", "animal": "a real animal"}.get(c.get("answer"), "not reviewed")
        box = ", ".join(f"{v:.3f}" for v in c["mean_box"]) if c.get("mean_box") else "?"
        description = (f"{c['category']} boxed at the same place in {c['frames']} frames, {c['sequences']} "
                       f"sequences, {c['days']} days ({c['first_seen']} to {c['last_seen']}), mean box [{box}]; "
                       f"{answer}. Select all and tag '{STATIC_TAG}' (a rock, a stump) or '{REAL_ANIMAL_TAG}', "
                       "then `wildeye review pull`")
        views[static_view_name(c["deployment_id"], c["cluster_id"])] = (
            dataset.match(((F("deployment") == c["deployment_id"]) if c["deployment_id"]  # "": no deployment
                           else ~F("deployment").exists())
                          & F(STATIC_CLUSTERS).contains(c["cluster_id"])).sort_by([("captured_at", 1),
                                                                                    ("frame_num", 1)]),
            description)
    return views


def review_views(dataset, flagship: list[str] | None = None, review_threshold: float = 0.65) -> dict:
    """name -> (view, description) for every saved view wildeye keeps."""
    from fiftyone import ViewField as F

    by_time = [("captured_at", 1), ("frame_num", 1)]
    views = {
        NEEDS_REVIEW: (dataset.match(F("needs_review") == True).sort_by(by_time),  # noqa: E712
                       "frames the ensemble flagged: low confidence, flagship, disagreement, rollup, geofence"),
        FLAGSHIP: (dataset.match(F("flagship") == True).sort_by(by_time),  # noqa: E712
                   "frames showing a flagship species (" + ", ".join(flagship or []) + ")"),
        LOW_CONFIDENCE_BLANKS: (dataset.match((F("prediction.label") == "blank")
                                              & (F("prediction.confidence") < review_threshold))
                                .sort_by("prediction.confidence"),
                                f"frames called blank with confidence below {review_threshold:.2f}"),
        SEQUENCES: (dataset.exists("sequence_id").group_by("sequence_id", order_by="frame_num"),
                    "bursts: one group per sequence, frames in order"),
    }
    for deployment in sorted(d for d in dataset.distinct("deployment") if d):
        views[deployment_view_name(deployment)] = (
            dataset.match(F("deployment") == deployment).sort_by(by_time), f"frames of deployment {deployment}")
    return views


def prepare_review(dataset, labels: list[str], flagship: list[str], review_threshold: float,
                   detection_threshold: float | None = None, static_clusters: list[dict] | None = None) -> list[str]:
    """Saved views, the annotation schema, the App's default fields and review instructions; safe to call on
    every sync. Views of static clusters the journal no longer holds are removed."""
    saved = []
    views = {**review_views(dataset, flagship, review_threshold), **static_views(dataset, static_clusters or [])}
    for name, (view, description) in views.items():
        dataset.save_view(name, view, description=description, overwrite=True)
        saved.append(name)
    for name in dataset.list_saved_views():
        if name.startswith(STATIC_VIEW_PREFIX) and name not in views:
            dataset.delete_saved_view(name)
    classes = class_list(labels, flagship)
    dataset.classes = {**dataset.classes, GROUND_TRUTH: classes, GROUND_TRUTH_BOXES: classes}
    dataset.set_label_schemas(label_schemas(dataset, classes))
    dataset.activate_label_schemas([GROUND_TRUTH, GROUND_TRUTH_BOXES, REVIEWED])
    below = f" below {detection_threshold:.2f}" if detection_threshold is not None else ""
    dataset.info["review_instructions"] = (
        f"Open the '{NEEDS_REVIEW}' view. Set '{GROUND_TRUTH}' to the species you see (and draw boxes in "
        f"'{GROUND_TRUTH_BOXES}' when the machine boxes are wrong); tag a sample '{VERIFIED_TAG}' when the "
        f"prediction is right, '{WRONG_TAG}' when it is wrong. Then run `wildeye review pull`. Boxes{below} are in "
        f"'{LOW_CONFIDENCE_DETECTIONS}', a field of its own: untick it in the sidebar to hide them.")
    if static_clusters:
        dataset.info["review_instructions"] += (
            f" Boxes at a place boxed again and again (a rock, a stump) are in '{STATIC_DETECTIONS}', left out of "
            f"decisions: open each '{STATIC_VIEW_PREFIX}*' view, select all and tag '{STATIC_TAG}' or "
            f"'{REAL_ANIMAL_TAG}' (never suppressed again), then pull and run again.")
    dataset.info["review_tags"] = [VERIFIED_TAG, WRONG_TAG, STATIC_TAG, REAL_ANIMAL_TAG]
    dataset.save()
    return saved


def class_list(labels, flagship) -> list[str]:
    """The project's classes: every label seen, the flagship species, and the special outcomes."""
    seen = {label for label in labels if label} | set(flagship or ()) | set(BASE_CLASSES)
    return sorted(seen)


def label_schemas(dataset, classes: list[str]) -> dict:
    schemas = dict(dataset.label_schemas)
    schemas[GROUND_TRUTH] = {"type": "classification", "component": "dropdown", "classes": classes,
                             "attributes": [{"name": "reviewer", "type": "str", "component": "text"}]}
    schemas[GROUND_TRUTH_BOXES] = {"type": "detections", "component": "dropdown", "classes": classes}
    schemas[REVIEWED] = {"type": "bool", "component": "toggle"}
    schemas["prediction"] = {"type": "classification", "read_only": True}
    schemas["detections"] = {"type": "detections", "read_only": True}
    schemas[LOW_CONFIDENCE_DETECTIONS] = {"type": "detections", "read_only": True}
    schemas[STATIC_DETECTIONS] = {"type": "detections", "read_only": True}
    return schemas
