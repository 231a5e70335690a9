"""After each run: find static (repeated) detections over each deployment's whole journal and store the marks.

The clustering is inference.static's (MegaDetector's repeat detection elimination rule); this use case feeds it
every processed box of the journal, seeds it with the clusters earlier runs found and reviewers answered (so new
frames join them under the same id), and stores the result. Readers (decisions, reports, review sync) use the
stored marks (`Journal.static_marks`) and never recompute them.
"""

from __future__ import annotations

from wildeye.config import StaticConfig
from wildeye.inference.static import BoxSighting, find_static


def mark_static(journal, cfg: StaticConfig) -> dict:
    """Cluster every done frame's boxes per deployment, store the static clusters (and reviewed ones); returns a
    summary: clusters, boxes marked, boxes suppressed. With cfg.enabled false the marks are cleared."""
    if not cfg.enabled:
        journal.replace_static([])
        return {"static_clusters": 0, "static_boxes": 0, "suppressed_boxes": 0}
    media = {m.path: m for m in journal.media() if m.status == "done"}
    boxes = []
    for path, detections in journal.detections().items():
        m = media.get(path)
        if m is None:
            continue
        for idx, d in enumerate(detections):
            boxes.append(BoxSighting(m.deployment_id or "", path, idx, d.category, d.conf, tuple(d.bbox),
                                     m.sequence_id, m.timestamp))
    reviews = journal.static_reviews()
    reviewed = {(r.deployment_id, r.cluster_id) for r in reviews}
    known = [(c.deployment_id, c.category, c.anchor) for c in journal.static_clusters()]
    known += [(r.deployment_id, r.category, r.anchor) for r in reviews]
    clusters = [c for c in find_static(boxes, cfg, known)
                if c.static or (c.deployment_id, c.cluster_id) in reviewed]
    journal.replace_static(clusters)
    marks = journal.static_marks()
    return {"static_clusters": sum(c.static for c in clusters), "static_boxes": len(marks),
            "suppressed_boxes": sum(m.suppressed for m in marks.values())}
