"""A synthetic run folder (journal + manifest) without running models: for benchmarks and review tests.

Frames come in bursts of `burst` per sequence across deployments; labels cycle through a few SpeciesNet-style
7-field labels, blanks and humans, so every review queue has members. Images are written only when asked
(`images=True`), as small JPEGs the App can show.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

SNOW_LEOPARD = "a1b2c3d4-0000-4000-8000-000000000001;mammalia;carnivora;felidae;panthera;uncia;snow leopard"
BLUE_SHEEP = "a1b2c3d4-0000-4000-8000-000000000002;mammalia;artiodactyla;bovidae;pseudois;nayaur;blue sheep"
RED_FOX = "a1b2c3d4-0000-4000-8000-000000000003;mammalia;carnivora;canidae;vulpes;vulpes;red fox"
HUMAN = "990ae9dd-7a59-4344-afcb-1b7b21368000;mammalia;primates;hominidae;homo;sapiens;human"
SPECIES = (SNOW_LEOPARD, BLUE_SHEEP, RED_FOX)


def make_synthetic_run(out_dir: Path, source: Path, frames: int = 100, deployments: int = 2, burst: int = 5,
                       images: bool = False, seed: int = 0, detection_threshold: float | None = None) -> Path:
    """Write out_dir/journal.sqlite and out_dir/manifest.json describing `frames` frames under source;
    `detection_threshold` goes into the run's config (else readers use the fallback)."""
    from wildeye import __version__
    from wildeye.records import BoxDecision, Detection, Prediction
    from wildeye.ingest.manifest import DeploymentInfo, Manifest, MediaFile, ScanSettings
    from wildeye.store.journal import Journal

    rng = random.Random(seed)
    out_dir, source = Path(out_dir), Path(source)
    t0 = datetime(2024, 5, 1, 6, 0, 0).astimezone()
    files, done, decisions = [], {}, {}
    for i in range(frames):
        dep = f"cam{i % deployments + 1:02d}"
        seq_index, frame_num = divmod(i // deployments, burst)
        path = f"{dep}/DCIM/IMG_{i:06d}.JPG"
        when = t0 + timedelta(minutes=30 * seq_index, seconds=2 * frame_num)
        files.append(MediaFile(path=path, kind="image", size=1000, mtime=when.isoformat(), content_hash=f"h{i}",
                               width=64, height=48, timestamp=when.isoformat(), deployment_id=dep,
                               sequence_id=f"{dep}-{seq_index:06d}", frame_num=frame_num, seq_num_frames=burst))
        kind = seq_index % 5
        if kind == 4:  # blank burst, sometimes with a faint box
            dets = [Detection("animal", 0.1, (0.2, 0.2, 0.2, 0.2))] if frame_num % 2 else []
            pred = Prediction("blank", round(1 - (dets[0].conf if dets else 0.0), 3) if frame_num % 3 else 0.4,
                              "detector")
        elif kind == 3:
            dets = [Detection("person", 0.9, (0.5, 0.3, 0.2, 0.5), [(HUMAN, 0.95)])]
            pred = Prediction("human", 0.9, "detector")
        else:
            label = SPECIES[(seq_index + i % 3) % len(SPECIES)]
            score = round(rng.uniform(0.4, 0.99), 3)
            x = round(rng.uniform(0.05, 0.6), 3)
            dets = [Detection("animal", round(rng.uniform(0.3, 0.99), 3), (x, 0.3, 0.3, 0.3),
                              [(label, score), (SPECIES[0] if label != SPECIES[0] else SPECIES[1], 0.01)])]
            pred = Prediction(label, score, "classifier")
        reasons = []
        if pred.score < 0.65:
            reasons.append("low_confidence")
        if pred.label == SNOW_LEOPARD:
            reasons.append("flagship")
        pred.needs_review, pred.review_reasons = bool(reasons), reasons
        done[path] = dets
        boxes = [BoxDecision(pred.label, pred.score, pred.source, needs_review=pred.needs_review,
                             review_reasons=list(pred.review_reasons)) if d.classifications else None for d in dets]
        decisions[path] = (pred, boxes)
        if images:
            _write_jpeg(source / path, seed=i)
    deps = [DeploymentInfo(deployment_id=f"cam{d + 1:02d}", source="folder", latitude=28.0 + d / 10,
                           longitude=84.0 + d / 10) for d in range(deployments)]
    manifest = Manifest(wildeye_version=__version__, created=t0.isoformat(), source=str(source.resolve()),
                        settings=ScanSettings(), hash_method="synthetic", deployments=deps, files=files)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest.write(out_dir / "manifest.json")
    models = {"detector": {"name": "synthetic-md", "md5": "0" * 32, "filename": "synthetic.pt"},
              "classifier": {"name": "synthetic-speciesnet", "md5": "1" * 32}}
    with Journal.open(out_dir) as journal:
        journal.set_meta("source", str(source.resolve()))
        journal.add_media(files)
        ensemble = {"flagship_species": ["snow leopard"]}
        if detection_threshold is not None:
            ensemble["detection_threshold"] = detection_threshold
        run_id = journal.start_run({"ensemble": ensemble}, models)
        journal.record_batch(run_id, done, {})
        journal.write_decisions(decisions)
        journal.finish_run(run_id, "finished", {"frames": frames})
    return out_dir


def _write_jpeg(path: Path, seed: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    shade = 60 + (seed * 37) % 150
    Image.new("RGB", (64, 48), (shade, 120, 255 - shade)).save(path, "JPEG", quality=70)
