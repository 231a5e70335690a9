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

# Written by sync only, read-only in the App.
MACHINE_FIELDS = ("media_path", "metadata", "detections", "prediction", "deployment", "sequence_id", "frame_num",
                  "captured_at", "location", "needs_review", "review_reasons", "flagship", "models")
