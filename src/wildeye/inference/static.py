"""Static (repeated) false detections: a rock, stump or grass tuft boxed at the same place in many frames.

The rule is MegaDetector's repeat detection elimination (megadetector/postprocessing/repeat_detection_elimination,
`RepeatDetectionOptions` and `_find_matches_in_directory`), applied per deployment instead of per folder:

- only boxes with confidence in [min_conf, max_conf] and area <= max_box_fraction of the frame take part
  (RDE: confidenceMin 0.1, confidenceMax 1.0, maxSuspiciousDetectionSize 0.2);
- boxes of one category are compared with the places seen so far; a box whose IoU with a place's first box is
  >= iou belongs there (RDE: iouThreshold 0.9), else it starts a new place;
- a place boxed in >= min_frames frames is suspicious (RDE: occurrenceThreshold 20).

Two differences, both on the cautious side: a box joins only its best-matching place (RDE adds it to every
match), and a place must also span >= min_sequences bursts, since an animal resting in front of the camera fills
one burst with near-identical boxes. Places are seeded with the anchors of earlier runs' clusters (`known`), so a
nightly run over the whole journal puts new frames into the clusters a reviewer has already seen, under the same id.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from wildeye.config import StaticConfig
from wildeye.records import StaticCluster


@dataclass(frozen=True)
class BoxSighting:
    """One machine box with where and when its frame was taken."""

    deployment_id: str
    path: str
    idx: int
    category: str
    conf: float
    bbox: tuple[float, float, float, float]
    sequence_id: str | None = None
    timestamp: str | None = None


def cluster_id(deployment_id: str, category: str, anchor: Iterable[float]) -> str:
    """A stable id for a place: the same deployment, category and anchor box give the same id in every run."""
    key = f"{deployment_id}|{category}|" + ",".join(f"{v:.4f}" for v in anchor)
    return hashlib.sha1(key.encode()).hexdigest()[:10]


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one [x, y, w, h] box with each row of others (normalized, top-left origin)."""
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[0] + box[2], others[:, 0] + others[:, 2])
    y2 = np.minimum(box[1] + box[3], others[:, 1] + others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = box[2] * box[3] + others[:, 2] * others[:, 3] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def eligible(box: BoxSighting, cfg: StaticConfig) -> bool:
    """Whether a box can be part of a static place (RDE's confidence range and suspicious-size bound)."""
    w, h = box.bbox[2], box.bbox[3]
    return (box.category in cfg.categories and cfg.min_conf <= box.conf <= cfg.max_conf
            and w > 0 and h > 0 and w * h <= cfg.max_box_fraction)


def find_static(boxes: Iterable[BoxSighting], cfg: StaticConfig | None = None,
                known: Iterable[tuple[str, str, tuple[float, float, float, float]]] = ()) -> list[StaticCluster]:
    """Every place boxed more than once, per deployment and category, with its evidence and `static` set where it
    reaches min_frames and min_sequences. known: (deployment_id, category, anchor) of earlier clusters, matched
    first so their ids carry over. Boxes are taken in time order (then path, box index): the result does not
    depend on the order they come in."""
    cfg = cfg or StaticConfig()
    groups: dict[tuple[str, str], list[BoxSighting]] = defaultdict(list)
    for box in boxes:
        if eligible(box, cfg):
            groups[(box.deployment_id, box.category)].append(box)
    seeds: dict[tuple[str, str], list[tuple[float, ...]]] = defaultdict(list)
    for deployment_id, category, anchor in known:
        if tuple(anchor) not in seeds[(deployment_id, category)]:
            seeds[(deployment_id, category)].append(tuple(anchor))
    clusters: list[StaticCluster] = []
    for (deployment_id, category), members in sorted(groups.items()):
        members.sort(key=lambda b: (b.timestamp or "", b.path, b.idx))
        clusters.extend(_cluster(deployment_id, category, members, seeds.get((deployment_id, category), []), cfg))
    return clusters


_CELL = 0.02  # grid cell of box centres (normalized): a box is compared only with anchors whose centre can match


def _cluster(deployment_id: str, category: str, boxes: list[BoxSighting], seeds: list[tuple[float, ...]],
             cfg: StaticConfig) -> list[StaticCluster]:
    """Greedy places in time order. IoU >= t bounds where a match can lie: the overlap in x is at least t times
    either width, so the other width is within [t*w, w/t] and the centres differ by at most (1-t)*w/t (likewise in
    y); only anchors on grid cells within that range are compared."""
    t = cfg.iou
    anchors: list[tuple[float, ...]] = []
    array = np.zeros((max(64, 2 * len(seeds)), 4))  # grows by doubling: appending stays cheap
    grid: dict[tuple[int, int], list[int]] = defaultdict(list)
    places: list[list[BoxSighting]] = []

    def add(bbox: tuple[float, ...], members: list[BoxSighting]) -> None:
        nonlocal array
        if len(anchors) == len(array):
            array = np.vstack([array, np.zeros_like(array)])
        array[len(anchors)] = bbox
        grid[_cell(bbox)].append(len(anchors))
        anchors.append(tuple(bbox))
        places.append(members)

    for seed in seeds:
        add(seed, [])
    for box in boxes:
        x, y, w, h = box.bbox
        rx, ry = (1 - t) * w / t + 1e-9, (1 - t) * h / t + 1e-9
        cx, cy = x + w / 2, y + h / 2
        near = [i for gx in range(int(np.floor((cx - rx) / _CELL)), int(np.floor((cx + rx) / _CELL)) + 1)
                for gy in range(int(np.floor((cy - ry) / _CELL)), int(np.floor((cy + ry) / _CELL)) + 1)
                for i in grid.get((gx, gy), ())]
        if near:
            near.sort()  # ties go to the oldest place, as without the grid
            if len(near) <= 16:  # a few anchors: plain floats beat numpy's per-call cost
                overlap = [_iou1(box.bbox, anchors[i]) for i in near]
                best = max(range(len(near)), key=overlap.__getitem__)
            else:
                overlap = iou(np.asarray(box.bbox, dtype=float), array[near])
                best = int(np.argmax(overlap))
            if overlap[best] >= t:
                places[near[best]].append(box)
                continue
        add(box.bbox, [box])
    result = []
    for anchor, members in zip(anchors, places):
        if len(members) < 2:
            continue
        frames = {b.path for b in members}
        sequences = {b.sequence_id or b.path for b in members}
        times = sorted(b.timestamp for b in members if b.timestamp)
        days = {t[:10] for t in times}
        mean = np.mean([b.bbox for b in members], axis=0)
        result.append(StaticCluster(
            deployment_id=deployment_id, cluster_id=cluster_id(deployment_id, category, anchor), category=category,
            anchor=tuple(float(v) for v in anchor), members=[(b.path, b.idx) for b in members],
            frames=len(frames), sequences=len(sequences), days=len(days),
            first_seen=times[0] if times else None, last_seen=times[-1] if times else None,
            mean_box=tuple(round(float(v), 6) for v in mean),
            mean_conf=round(float(np.mean([b.conf for b in members])), 4),
            static=len(frames) >= cfg.min_frames and len(sequences) >= cfg.min_sequences))
    return result


def _iou1(a, b) -> float:
    """IoU of two [x, y, w, h] boxes (the scalar form of `iou`)."""
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _cell(bbox) -> tuple[int, int]:
    x, y, w, h = bbox
    return int(np.floor((x + w / 2) / _CELL)), int(np.floor((y + h / 2) / _CELL))
