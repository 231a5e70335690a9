"""Benchmark `wildeye review sync`: journal -> FiftyOne dataset, samples/s at N frames (default 50,000).

Builds a synthetic run folder (journal + manifest, no models, no images) in a temporary folder, syncs it
into a throwaway dataset twice (first sync: create; second: update in place) and prints samples/s and where
the time went. Uses the configured FiftyOne database unless --database-dir gives a fresh one.

    python scripts/bench_fiftyone.py --frames 50000 --database-dir /tmp/wildeye-bench-db
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--database-dir", default=None, help="FIFTYONE_DATABASE_DIR for this benchmark")
    parser.add_argument("--keep", action="store_true", help="keep the dataset afterwards")
    args = parser.parse_args()
    if args.database_dir:
        os.environ["FIFTYONE_DATABASE_DIR"] = args.database_dir
    os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")

    from wildeye.review.dataset import sync_run
    from wildeye.review.db import import_fiftyone
    from wildeye.review.synthetic import make_synthetic_run

    fo = import_fiftyone()
    name = f"wildeye-bench-{args.frames}"
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        out = make_synthetic_run(Path(tmp) / "out", Path(tmp) / "card", frames=args.frames, deployments=4)
        print(f"synthetic journal: {args.frames:,} frames in {time.perf_counter() - started:.1f} s")
        try:
            for label in ("first sync (create)", "second sync (update)"):
                summary = sync_run(out, name)
                print(f"{label}: {summary['samples']:,} samples in {summary['seconds']:.1f} s "
                      f"= {summary['samples_per_s']:,.0f} samples/s (journal read {summary['read_s']:.1f} s, "
                      f"{summary['detections']:,} boxes)")
        finally:
            if not args.keep and fo.dataset_exists(name):
                fo.delete_dataset(name)


if __name__ == "__main__":
    main()
