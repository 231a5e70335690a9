"""Benchmark static-detection clustering (wildeye.inference.static): one rock boxed in every frame plus one box
at a random place per frame, over N frames of one deployment; prints boxes/s and what was found.

    PYTHONPATH=src python scripts/bench_static.py [N]
"""

from __future__ import annotations

import random
import sys
import time

from wildeye.inference.static import BoxSighting, find_static


def main(frames: int = 40_000) -> None:
    rng = random.Random(0)
    boxes = []
    for i in range(frames):
        stamp = f"2024-05-{1 + i // 2000:02d}T{(i // 100) % 24:02d}:{i % 60:02d}:00"
        boxes.append(BoxSighting("d", f"f{i}.jpg", 0, "animal", 0.5, (0.4, 0.6, 0.08, 0.06), f"s{i // 4}", stamp))
        w, h = rng.uniform(0.05, 0.4), rng.uniform(0.05, 0.4)
        boxes.append(BoxSighting("d", f"f{i}.jpg", 1, "animal", 0.5, (rng.uniform(0, 1 - w), rng.uniform(0, 1 - h),
                                                                       w, h), f"s{i // 4}", stamp))
    started = time.perf_counter()
    found = find_static(boxes)
    seconds = time.perf_counter() - started
    print(f"{len(boxes)} boxes in {seconds:.1f} s ({len(boxes) / seconds:,.0f} boxes/s): "
          f"{sum(c.static for c in found)} static cluster(s), {len(found)} places boxed more than once")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40_000)
