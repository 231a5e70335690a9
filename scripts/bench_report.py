"""Time `wildeye report` on a synthetic journal (no models, no images): `python scripts/bench_report.py [N]`.

Builds N frames (default 100,000) over 20 deployments through the Journal API — bursts of 3 frames, a mix of
blank, two species, people and reviewer corrections — then times build_report and prints the breakdown.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from wildeye.records import BoxDecision, Detection, Prediction  # noqa: E402
from wildeye.ingest.manifest import DeploymentInfo, Manifest, MediaFile, ScanSettings  # noqa: E402
from wildeye.reports.build import build_report  # noqa: E402
from wildeye.store.journal import HumanLabel, Journal  # noqa: E402

FOX = "a1;mammalia;carnivora;canidae;vulpes;vulpes;red fox"
LEOPARD = "b2;mammalia;carnivora;felidae;panthera;uncia;snow leopard"


def make(out: Path, n: int, deployments: int = 20) -> None:
    rng = random.Random(1)
    deps = [DeploymentInfo(deployment_id=f"cam{d:02d}", source="deployments.csv", latitude=28 + d * 0.01,
                           longitude=84 + d * 0.02, deployment_start="2024-01-01T00:00:00",
                           deployment_end="2024-06-30T00:00:00", timezone="+05:45") for d in range(deployments)]
    files, done, decisions, humans = [], {}, {}, []
    t0 = datetime(2024, 1, 1, 6, 0, 0)
    for i in range(n):
        dep = i % deployments
        burst, frame_num = divmod(i // deployments, 3)
        when = t0 + timedelta(minutes=37 * burst, seconds=2 * frame_num)
        path = f"cam{dep:02d}/IMG_{i:07d}.JPG"
        files.append(MediaFile(path=path, kind="image", size=1, mtime=when.isoformat(), content_hash=str(i),
                               width=1920, height=1080, timestamp=when.isoformat() + "+05:45",
                               deployment_id=f"cam{dep:02d}", sequence_id=f"cam{dep:02d}-{burst}",
                               frame_num=frame_num, seq_num_frames=3))
        roll = rng.random()
        if roll < 0.6:
            done[path], decisions[path] = [], (Prediction("blank", 0.9, "detector"), [])
            continue
        label = FOX if roll < 0.85 else LEOPARD if roll < 0.97 else "human"
        category = "person" if label == "human" else "animal"
        dets = [Detection(category, 0.9, (0.1, 0.2, 0.3, 0.4), [(label, 0.95)])]
        boxes = [BoxDecision(label, 0.95, "classifier")]
        if rng.random() < 0.2:
            dets.append(Detection("animal", 0.5, (0.5, 0.5, 0.2, 0.2), [(FOX, 0.85)]))
            boxes.append(BoxDecision(FOX, 0.85, "classifier"))
        done[path], decisions[path] = dets, (Prediction(label, 0.95, "classifier"), boxes)
        if rng.random() < 0.05:
            humans.append(HumanLabel(path, LEOPARD, count=1, reviewer="bench"))
    Manifest(wildeye_version="bench", created=t0.isoformat(), source=str(out), settings=ScanSettings(),
             hash_method="bench", deployments=deps, files=[]).write(out / "manifest.json")
    with Journal.open(out) as journal:
        journal.set_meta("source", str(out / "images"))
        journal.set_deployments(deps)
        journal.add_media(files)
        run_id = journal.start_run({"ensemble": {"detection_threshold": 0.2}}, {"detector": {"name": "bench"}})
        items = list(done.items())
        for k in range(0, len(items), 5000):
            journal.record_batch(run_id, dict(items[k:k + 5000]), {})
        journal.write_decisions(decisions)
        journal.record_human_labels(humans)
        journal.finish_run(run_id, "finished", {})


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        out.mkdir()
        t = time.perf_counter()
        make(out, n)
        print(f"synthetic journal: {n:,} frames in {time.perf_counter() - t:.1f} s")
        stages = []
        t = time.perf_counter()
        summary = build_report(out, Path(tmp) / "report",
                               on_progress=lambda done, total: stages.append((done, time.perf_counter() - t)))
        total = time.perf_counter() - t
        names = ["load", "filter", "events", "effort", "csv", "camtrap-dp", "megadetector", "coco-ct", "html"]
        previous = 0.0
        parts = []
        for (step, at), name in zip(stages, names):
            parts.append(f"{name} {at - previous:.2f}")
            previous = at
        print(f"report: {n:,} frames, {summary['events']:,} events, {summary['species']} species in {total:.2f} s "
              f"({n / total:,.0f} frames/s)")
        print("stages (s): " + ", ".join(parts))


if __name__ == "__main__":
    main()
