"""The dataset's field names and review tags: what sync writes, what reviewers edit, what pull reads back.

Its own module so that sync (`dataset`), the saved views (`views`) and pull (`corrections`) share the names
without importing one another.
"""

from __future__ import annotations

GROUND_TRUTH = "ground_truth"  # human: species of the frame (Classification)
GROUND_TRUTH_BOXES = "ground_truth_boxes"  # human: boxes drawn or fixed by a reviewer (Detections)
REVIEWED = "reviewed"  # human: the reviewer has looked at this frame
HUMAN_FIELDS = (GROUND_TRUTH, GROUND_TRUTH_BOXES, REVIEWED)
VERIFIED_TAG, WRONG_TAG = "verified", "wrong"

# Machine boxes: `detections` holds the boxes the frame's label rests on (at or above the run's detection
# threshold), LOW_CONFIDENCE_DETECTIONS the rest, off in the App until a reviewer switches it on.
LOW_CONFIDENCE_DETECTIONS = "low_confidence_detections"

# Static boxes (a rock boxed in every frame, app.static): left out of `detections`, shown in STATIC_DETECTIONS
# (each with its `static_cluster`); STATIC_CLUSTERS lists a sample's cluster ids, one saved view per cluster. A
# reviewer tags the view's samples STATIC_TAG (confirmed) or REAL_ANIMAL_TAG (never suppressed again); pull keeps it.
STATIC_DETECTIONS, STATIC_CLUSTERS = "static_detections", "static_clusters"
STATIC_TAG, REAL_ANIMAL_TAG = "static", "real_animal"

# Written by sync only, read-only in the App.
MACHINE_FIELDS = ("media_path", "metadata", "detections", LOW_CONFIDENCE_DETECTIONS, "prediction", "deployment",
                  "sequence_id", "frame_num", "captured_at", "location", "needs_review", "review_reasons", "flagship",
                  "models", STATIC_DETECTIONS, STATIC_CLUSTERS)
