"""`wildeye train` / `evaluate_model`: tiny timm models learn generated coloured-shape images in CI time.

Data is made here: frames of camera-trap-like noise with one coloured shape per class, written as a
folder-of-folders and as COCO Camera Traps JSON (boxes, sequences, locations) and Camtrap DP.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw

from wildeye.errors import ConfigError
from wildeye.train import calibrate as C
from wildeye.train import data as D
from wildeye.train.config import ClassesSection, SplitSection, load_train_config

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

REPO = Path(__file__).resolve().parents[1]
ARCH = "test_resnet"  # timm's ~0.4 M parameter test model: a training step on CPU takes milliseconds
COLOURS = {"snow leopard": (235, 60, 40), "blue sheep": (40, 200, 60), "marmot": (50, 80, 235)}
CLI = "from wildeye.cli import main; main()"


def run_train(*args, timeout=240) -> subprocess.CompletedProcess:
    env = {**os.environ, "FIFTYONE_DO_NOT_TRACK": "true", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", CLI, "train", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


# --- generated data -------------------------------------------------------------------------------------------


def shape_frame(label: str, rng: np.random.Generator, size=(64, 48), box=None) -> Image.Image:
    """Noisy background with the class's coloured blob inside box (normalized xywh; default: most of the frame)."""
    w, h = size
    noise = rng.integers(60, 140, size=(h, w, 1), dtype=np.uint8).repeat(3, axis=2)
    image = Image.fromarray(noise)
    x, y, bw, bh = box or (0.2, 0.2, 0.6, 0.6)
    colour = tuple(int(min(255, max(0, c + rng.integers(-25, 25)))) for c in COLOURS[label])
    ImageDraw.Draw(image).ellipse([x * w, y * h, (x + bw) * w, (y + bh) * h], fill=colour)
    return image


def make_folders(root: Path, per_class=24, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    for label in COLOURS:
        for i in range(per_class):
            camera = f"cam{i % 4}"
            path = root / label / camera / f"{i:03d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            shape_frame(label, rng).save(path, quality=92)
    return root


def make_coco(root: Path, sequences_per_class=8, frames=3, locations=6, seed=1) -> Path:
    """COCO-CT: boxes in px, seq_id bursts, locations; plus some empty frames (category 0)."""
    rng = np.random.default_rng(seed)
    images, annotations = [], []
    categories = [{"id": 0, "name": "empty"}] + [{"id": i + 1, "name": n} for i, n in enumerate(COLOURS)]
    w, h = 96, 64
    n = 0
    for c, label in enumerate(COLOURS, 1):
        for s in range(sequences_per_class):
            seq = f"{label[:3]}-{s}"
            location = f"L{(s + c) % locations}"
            for f in range(frames):
                box = (float(rng.uniform(0.05, 0.45)), float(rng.uniform(0.05, 0.4)), 0.4, 0.5)
                name = f"{location}/{seq}-{f}.jpg"
                (root / location).mkdir(parents=True, exist_ok=True)
                shape_frame(label, rng, (w, h), box).save(root / name, quality=92)
                images.append({"id": n, "file_name": name, "width": w, "height": h, "seq_id": seq,
                               "seq_num_frames": frames, "frame_num": f, "location": location,
                               "datetime": f"2024-05-0{1 + f} 10:00:00"})
                annotations.append({"id": n, "image_id": n, "category_id": c,
                                    "bbox": [box[0] * w, box[1] * h, box[2] * w, box[3] * h]})
                n += 1
    images.append({"id": n, "file_name": "L0/empty.jpg", "width": w, "height": h, "seq_id": "e", "location": "L0"})
    Image.fromarray(rng.integers(60, 140, size=(h, w, 3), dtype=np.uint8)).save(root / "L0/empty.jpg")
    annotations.append({"id": n, "image_id": n, "category_id": 0})
    path = root / "cct.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def write_config(path: Path, sources: list[dict], out: Path, **sections) -> Path:
    config = {
        "model": {"architecture": ARCH, "input_size": 32},
        "data": {"sources": sources, "padding": 0.05, "workers": 0},
        "split": {"by": "location", "val": 0.25, "test": 0.0, "seed": 0},
        "train": {"epochs": 4, "batch_size": 16, "lr": 0.01, "device": "cpu", "early_stopping": None},
        "output": {"dir": str(out)},
    }
    for key, value in sections.items():
        config[key] = {**config.get(key, {}), **value}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> Path:
    return make_folders(tmp_path_factory.mktemp("folders"))


@pytest.fixture(scope="module")
def coco(tmp_path_factory) -> Path:
    return make_coco(tmp_path_factory.mktemp("coco"))


def write_camtrap_dp(root: Path) -> Path:
    """Camtrap DP: two deployments at two locations; a media-level human box, a machine label, an event label."""
    rng = np.random.default_rng(3)
    root.mkdir(parents=True, exist_ok=True)
    media = [("m1", "d1", "2024-05-01T10:00:00Z", "media/a.jpg"), ("m2", "d1", "2024-05-01T10:00:20Z", "media/b.jpg"),
             ("m3", "d1", "2024-05-01T12:00:00Z", "media/c.jpg"), ("m4", "d2", "2024-05-02T08:00:00Z", "media/d.jpg")]
    for _, _, _, path in media:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        shape_frame("snow leopard", rng).save(root / path)
    with open(root / "deployments.csv", "w", newline="") as f:
        csv.writer(f).writerows([("deploymentID", "locationID"), ("d1", "loc-A"), ("d2", "loc-B")])
    with open(root / "media.csv", "w", newline="") as f:
        csv.writer(f).writerows([("mediaID", "deploymentID", "timestamp", "filePath"), *media])
    header = ("observationID", "deploymentID", "mediaID", "eventID", "eventStart", "eventEnd", "observationType",
              "scientificName", "bboxX", "bboxY", "bboxWidth", "bboxHeight", "classificationMethod")
    rows = [("o1", "d1", "m1", "", "", "", "animal", "Panthera uncia", "0.1", "0.2", "0.5", "0.4", "human"),
            ("o2", "d1", "m3", "", "", "", "animal", "Canis lupus", "0.1", "0.1", "0.3", "0.3", "machine"),
            ("o3", "d2", "", "ev9", "2024-05-02T07:59:00Z", "2024-05-02T08:01:00Z", "blank", "", "", "", "", "",
             "human")]
    with open(root / "observations.csv", "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return root


# --- config -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "train").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    config = load_train_config(path)
    assert config.output.dir and Path(config.output.dir).is_absolute()
    assert config.calibration.target_precision["snow leopard"] == 0.95
    labels = D.class_list([], config.classes)
    assert labels[0] == "snow leopard" and labels[-1] == "other"


def test_regional_config_lists_the_plateau_species():
    config = load_train_config(REPO / "configs" / "train" / "plateau-regional.yaml")
    names = D.class_list([], config.classes)
    for species in ("snow leopard", "common leopard", "eurasian lynx", "pallas's cat", "tibetan fox", "red fox",
                    "grey wolf", "brown bear", "blue sheep", "siberian ibex", "argali", "marmot", "woolly hare",
                    "domestic yak", "sheep/goat", "dog", "human", "bird", "other"):
        assert species in names
    assert D.map_label("Panthera uncia", config.classes, names) == "snow leopard"
    assert D.map_label("Capra hircus", config.classes, names) == "sheep/goat"
    assert D.map_label("Vulpes corsac", config.classes, names) == "other"  # not listed: other
    assert D.map_label("blank", config.classes, names) is None  # dropped


@pytest.mark.parametrize("body, expected", [
    ({"train": {"epoch": 3}}, "train: unknown key 'epoch' (did you mean 'epochs'?)"),
    ({"model": {"architecture": "resnet5O"}}, "model.architecture: timm has no model 'resnet5O'"),
    ({"data": {"sources": [{"type": "coco", "path": "x.json", "imags": "i"}]}}, "unknown key 'imags'"),
    ({"calibration": {"target_precision": {"snow leopardd": 0.95}}, "classes": {"names": ["snow leopard"]}},
     "names 'snow leopardd', which is not in classes.names"),
])
def test_bad_config_is_one_line_naming_file_and_key(tmp_path, body, expected):
    base = {"model": {"architecture": ARCH}, "data": {"sources": [{"type": "folders", "path": "x"}]},
            "output": {"dir": "out"}}
    for key, value in body.items():
        base[key] = {**base.get(key, {}), **value}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(base))
    with pytest.raises(ConfigError) as info:
        load_train_config(path)
    assert str(path) in str(info.value) and expected in str(info.value)
    assert "\n" not in str(info.value)


def test_cli_bad_configs_exit_2_one_line_no_traceback(tmp_path, folders):
    typo = tmp_path / "typo.yaml"
    typo.write_text("model: {architecture: test_resnet}\ndata: {sources: [{type: folders, path: x}]}\n"
                    "output: {dir: out}\ntrain:\n  epochs: 2\n  learning_rate: 0.1\n")
    missing = write_config(tmp_path / "missing.yaml", [{"type": "folders", "path": "no-such-folder"}], tmp_path / "o")
    offline = write_config(tmp_path / "offline.yaml", [{"type": "folders", "path": str(folders)}], tmp_path / "o2",
                           model={"pretrained": True})
    cases = [
        ((typo,), f"{typo}:6: train: unknown key 'learning_rate'"),
        ((missing,), "data source folders:0: folder"),
        ((offline,), "model.pretrained: could not get timm's pretrained weights"),
        ((missing, "--resume"), "--resume: no checkpoint at"),
    ]
    for args, expected in cases:
        proc = run_train(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and expected in lines[0], proc.stderr


# --- data ---------------------------------------------------------------------------------------------------------


def test_class_mapping_merges_drops_and_collects_other():
    classes = ClassesSection(names=["snow leopard", "wolf"], map={"Panthera uncia": "snow leopard",
                                                                   "Canis lupus": "wolf", "dog": None},
                             drop=["blank"], other="other")
    names = D.class_list([], classes)
    assert names == ["snow leopard", "wolf", "other"]
    assert D.map_label("panthera  UNCIA", classes, names) == "snow leopard"
    assert D.map_label("Snow Leopard", classes, names) == "snow leopard"
    assert D.map_label("Canis lupus", classes, names) == "wolf"
    assert D.map_label("blue sheep", classes, names) == "other"
    assert D.map_label("dog", classes, names) is None and D.map_label("blank", classes, names) is None
    no_other = ClassesSection(names=["snow leopard", "wolf"], other=None)
    assert D.map_label("blue sheep", no_other, D.class_list([], no_other)) is None


def _items(n_locations=6, seqs=4, frames=3, classes=3):
    items = []
    for loc in range(n_locations):
        for s in range(seqs):
            for f in range(frames):
                items.append(D.Item(path=f"/x/{loc}-{s}-{f}.jpg", label="a", sequence=f"{loc}-{s}",
                                    location=f"L{loc}", deployment=f"L{loc}", class_index=(loc + s) % classes,
                                    source="s"))
                if f == 0:  # a second box in the same frame
                    items.append(D.replace(items[-1], bbox=(0.1, 0.1, 0.2, 0.2)))
    return items


@pytest.mark.parametrize("by", ["sequence", "location"])
def test_split_keeps_bursts_and_cameras_together(by):
    items = D.split_items(_items(), SplitSection(by=by, val=0.2, test=0.2, seed=3))
    leaked = D.leaks(items)
    assert "sequence" not in leaked and "path" not in leaked
    if by == "location":
        assert "location" not in leaked and "deployment" not in leaked
    else:
        assert "location" in leaked  # splitting by burst puts one camera's bursts in several splits
    sizes = {s: sum(1 for i in items if i.split == s) for s in D.SPLITS}
    assert all(sizes[s] > 0 for s in D.SPLITS), sizes
    assert sizes["train"] > sizes["val"] and sizes["train"] > sizes["test"]
    again = D.split_items(_items(), SplitSection(by=by, val=0.2, test=0.2, seed=3))
    assert [i.split for i in again] == [i.split for i in items]  # seeded: reproducible


def test_coco_and_camtrap_dp_sources(coco, tmp_path):
    from wildeye.train.config import DataSection

    collected = D.collect(DataSection.model_validate({"sources": [{"type": "coco", "path": str(coco)}]}))
    boxes = [i for i in collected.items if i.bbox]
    assert len(boxes) == 3 * 8 * 3 and all(0 < i.bbox[2] <= 1 and 0 < i.bbox[3] <= 1 for i in boxes)
    assert {i.label for i in collected.items} == {*COLOURS, "empty"}
    assert all(i.sequence and i.location for i in collected.items)

    root = write_camtrap_dp(tmp_path / "dp")
    section = DataSection.model_validate({"sources": [{"type": "camtrap-dp", "path": str(root)}]})
    got = D.collect(section)
    by_label = {i.label: i for i in got.items}
    assert set(by_label) == {"Panthera uncia", "blank"}  # the machine-labelled wolf is not used
    leopard = by_label["Panthera uncia"]
    assert leopard.bbox == (0.1, 0.2, 0.5, 0.4) and leopard.location == "loc-A" and leopard.deployment == "d1"
    assert leopard.path.endswith("media/a.jpg") and leopard.sequence == "d1#00001"  # scan's sequence ids
    assert by_label["blank"].path.endswith("media/d.jpg") and by_label["blank"].sequence == "ev9"
    assert any("not a human classification" in reason for _, reason in got.skipped)
    with_machine = DataSection.model_validate({"sources": [{"type": "camtrap-dp", "path": str(root),
                                                            "human_only": False}]})
    assert "Canis lupus" in {i.label for i in D.collect(with_machine).items}


def test_unreadable_files_are_skipped_with_a_reason(tmp_path):
    root = make_folders(tmp_path / "f", per_class=2)
    (root / "marmot" / "broken.jpg").write_bytes(b"not a jpeg")
    from wildeye.train.config import DataSection

    collected = D.collect(DataSection.model_validate({"sources": [{"type": "folders", "path": str(root)}]}))
    skipped: list = []
    items = D.check_readable(collected.items, skipped)
    assert len(items) == 6 and skipped == [(str(root / "marmot" / "broken.jpg"), "not a readable image "
                                            "(UnidentifiedImageError)")]
    crop = D.load_crop(items[0].path, (0.2, 0.2, 0.6, 0.6), 0.0)
    assert crop.dtype == np.uint8 and crop.shape == (30, 40, 3)  # rows 9..38, columns 12..51: edges rounded outward


def test_camtrap_bursts_follow_the_scan_rule():
    """A gap of exactly the scan's sequence gap keeps one burst (`>`, as `wildeye scan`); one second more splits."""
    from wildeye.ingest.manifest import ScanSettings

    gap = ScanSettings().sequence_gap_s
    rows = [{"mediaID": m, "deploymentID": "d1", "timestamp": f"2024-05-01T10:{t}Z"}
            for m, t in (("a", "00:00"), ("b", f"{int(gap) // 60:02d}:00"), ("c", f"{2 * int(gap) // 60:02d}:01"))]
    rows.append({"mediaID": "z", "deploymentID": "d2", "timestamp": "2024-05-01T10:00:30"})  # naive: as UTC
    assert D._camtrap_sequences(rows) == {"a": "d1#00001", "b": "d1#00001", "c": "d1#00002", "z": "d2#00001"}


def test_training_crops_are_the_runs_crops(tmp_path):
    """Full-resolution, EXIF-upright decode (inference.decode) and padded_crop + package_transform, as the run."""
    from PIL import Image

    from wildeye.inference.classifier import package_transform, padded_crop
    from wildeye.inference.decode import decode

    rng = np.random.default_rng(5)
    stored = Image.fromarray(rng.integers(0, 255, size=(480, 640, 3), dtype=np.uint8))
    exif = stored.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    path = tmp_path / "rotated.jpg"
    stored.save(path, quality=90, exif=exif)
    box, padding = (0.1, 0.2, 0.3, 0.25), 0.1
    crop = D.load_crop(str(path), box, padding)
    frame = decode(str(path)).image
    assert frame.shape == (640, 480, 3)  # upright, full resolution
    np.testing.assert_array_equal(crop, padded_crop(frame, box, padding))
    assert crop.shape == (192, 174, 3)  # from the full frame (the old draft decode halved it)
    item = D.Item(path=str(path), label="x", bbox=box, class_index=0)
    ds = D.CropDataset([item], 32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "bilinear", padding)
    tensor, label = ds[0]
    assert label == 0
    np.testing.assert_array_equal(tensor.numpy(), package_transform([crop], 32, (0.5,) * 3, (0.25,) * 3)[0].numpy())
    augmented = D.CropDataset([item], 32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "bilinear", padding, augment=True)
    import torch

    torch.manual_seed(1)
    a, _ = augmented[0]
    torch.manual_seed(1)
    b, _ = augmented[0]
    assert a.shape == tensor.shape and torch.equal(a, b) and not torch.equal(a, tensor)  # seeded, and it moves


# --- calibration ---------------------------------------------------------------------------------------------------


def test_calibration_reaches_target_precision_with_most_recall():
    rng = np.random.default_rng(0)
    n = 4000
    y = rng.integers(0, 2, n)  # 0 = snow leopard, 1 = other
    # Snow leopards score high, others spread: precision rises with the threshold.
    s0 = np.where(y == 0, rng.beta(5, 2, n), rng.beta(2, 4, n))
    scores = np.stack([s0, 1 - s0], axis=1)
    report = C.calibrate(y, scores, ["snow leopard", "other"], {"snow leopard": 0.95})["snow leopard"]
    t = report["threshold"]
    accepted = (scores.argmax(1) == 0) & (scores[:, 0] >= t)
    precision = (y[accepted] == 0).mean()
    assert report["achieved"] and precision >= 0.95 and abs(precision - report["precision"]) < 1e-3
    assert report["recall"] == pytest.approx((accepted & (y == 0)).sum() / (y == 0).sum(), abs=1e-3)
    # The lowest such cut: the next lower score would break the target.
    lower = np.sort(scores[(scores.argmax(1) == 0) & (scores[:, 0] < t), 0])[-1]
    below = (scores.argmax(1) == 0) & (scores[:, 0] >= lower)
    assert (y[below] == 0).mean() < 0.95
    # Applying it: below the threshold a snow leopard becomes "other".
    pred = C.apply_thresholds(scores, ["snow leopard", "other"], {"snow leopard": t}, "other")
    assert (pred[accepted] == 0).all() and (pred[~accepted] == 1).all()
    # A target nothing reaches: never accepted unreviewed.
    impossible = C.calibrate_class(y, np.stack([np.full(n, 0.9), np.full(n, 0.1)], 1), 0, 0.99)
    assert impossible == {"target_precision": 0.99, "support": int((y == 0).sum()), "threshold": 1.0,
                          "precision": None, "recall": 0.0, "achieved": False}
    assert C.targets_for(0.9, ["a", "b", "Other"], "other") == {"a": 0.9, "b": 0.9}


def test_metrics_per_class_and_top_k():
    from wildeye.train.metrics import evaluate_scores

    labels = ["a", "b", "c", "d", "e"]
    y = np.array([0, 0, 1, 2, 3, 4])
    scores = np.eye(5)[[0, 1, 1, 2, 4, 4]] * 0.6 + 0.08
    scores[4, 3] = 0.5  # the true class second
    m = evaluate_scores(y, scores, labels)
    assert m["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2, "predicted": 1}
    assert m["per_class"]["b"]["precision"] == 0.5 and m["per_class"]["d"]["recall"] == 0.0
    assert m["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert m["top5_accuracy"] == 1.0 and m["top3_accuracy"] == 1.0
    assert m["confusion_matrix"]["matrix"][0] == [1, 1, 0, 0, 0]


def _hand_per_class(y_true, y_pred, n):
    """The hand-written metrics sklearn replaced, kept as the reference they must match."""
    matrix = np.zeros((n, n), dtype=np.int64)
    keep = (y_pred >= 0) & (y_true >= 0)
    np.add.at(matrix, (y_true[keep], y_pred[keep]), 1)
    out = []
    for c in range(n):
        tp, predicted, support = int(matrix[c, c]), int(matrix[:, c].sum()), int((y_true == c).sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append({"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                    "support": support, "predicted": predicted})
    return matrix, out


def _hand_calibrate(y_true, scores, c, target, min_predictions=1):
    top = scores.argmax(axis=1)
    support = int((y_true == c).sum())
    mask = top == c
    s, correct = scores[mask, c], y_true[mask] == c
    order = np.argsort(-s, kind="stable")
    s, correct = s[order], correct[order]
    tp, count = np.cumsum(correct), np.arange(1, len(s) + 1)
    precision = tp / count
    valid = np.ones(len(s), dtype=bool)
    if len(s) > 1:
        valid[:-1] = s[:-1] != s[1:]
    ok = np.flatnonzero(valid & (precision >= target) & (count >= min_predictions))
    result = {"target_precision": float(target), "support": support}
    if len(ok) == 0:
        return {**result, "threshold": 1.0, "precision": None, "recall": 0.0, "achieved": False}
    i = int(ok[-1])
    return {**result, "threshold": float(s[i]), "precision": round(float(precision[i]), 4),
            "recall": round(float(tp[i]) / support, 4) if support else 0.0, "achieved": True,
            "accepted": int(count[i])}


@pytest.mark.parametrize("seed", range(6))
def test_sklearn_metrics_match_the_hand_computed_ones(seed):
    from wildeye.train import metrics as M

    rng = np.random.default_rng(seed)
    n, size = 2 + seed % 4, [0, 1, 7, 60, 400, 1000][seed]
    labels = [f"c{i}" for i in range(n)]
    y = rng.integers(0, n, size)
    scores = rng.dirichlet(np.ones(n), size) if size else np.zeros((0, n))
    scores = np.round(scores, 2)  # many ties
    pred = scores.argmax(axis=1) if size else np.zeros(0, dtype=np.int64)
    pred = np.where(rng.random(size) < 0.15, -1, pred)  # some sent to review with no fallback
    matrix, expected = _hand_per_class(y, pred, n)
    assert M.confusion(y, pred, n).tolist() == matrix.tolist()
    assert list(M.per_class(y, pred, labels).values()) == expected
    for c in range(n):
        for target in (0.3, 0.5, 0.8, 0.95, 1.0):
            for minimum in (1, 5):
                assert C.calibrate_class(y, scores, c, target, minimum) == _hand_calibrate(y, scores, c, target,
                                                                                          minimum)


# --- training ------------------------------------------------------------------------------------------------------


def test_import_has_no_heavy_side_effects():
    code = ("import sys, wildeye.cli, wildeye.commands.train, wildeye.train.config, wildeye.train.data, "
            "wildeye.train.evaluate, wildeye.train.loop;"
            "print(sorted(m for m in ('torch', 'timm', 'fiftyone', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _hand_lr_factor(kind, epochs, warmup, step_size, gamma, epoch):
    """The LambdaLR factor timm's schedulers replaced, kept as the reference."""
    if epoch < warmup:
        return (epoch + 1) / (warmup + 1)
    e = epoch - warmup
    if kind == "cosine":
        span = max(1, epochs - warmup)
        return 0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * min(e, span) / span))
    return gamma ** (e // step_size) if kind == "step" else 1.0


@pytest.mark.parametrize("kind, epochs, warmup", [("cosine", 10, 0), ("cosine", 10, 3), ("step", 12, 2),
                                                  ("none", 6, 2), ("cosine", 2, 4)])
def test_lr_schedule_is_timms_and_survives_a_checkpoint(kind, epochs, warmup):
    import io

    import torch

    from wildeye.train.config import TrainConfig
    from wildeye.train.loop import _optimizer, lr_scheduler

    config = TrainConfig.model_validate({
        "model": {"architecture": ARCH}, "data": {"sources": [{"type": "folders", "path": "x"}]},
        "output": {"dir": "out"}, "train": {"epochs": epochs, "lr": 0.02, "scheduler": kind,
                                            "warmup_epochs": warmup, "step_size": 3, "gamma": 0.5}})

    def fresh():
        model = torch.nn.Linear(4, 3)
        optimizer = _optimizer(model, config)
        return optimizer, lr_scheduler(optimizer, config)

    def lrs(optimizer, scheduler, start, stop):
        out = []
        for epoch in range(start, stop):
            out.append([g["lr"] for g in optimizer.param_groups])
            scheduler.step(epoch + 1)
        return out

    optimizer, scheduler = fresh()
    straight = lrs(optimizer, scheduler, 0, epochs)
    expected = [0.02 * _hand_lr_factor(kind, epochs, warmup, 3, 0.5, e) for e in range(epochs)]
    assert [row[0] for row in straight] == pytest.approx(expected, rel=1e-9)
    assert all(row[0] == row[1] for row in straight)  # both parameter groups

    cut = epochs // 2
    optimizer, scheduler = fresh()
    first = lrs(optimizer, scheduler, 0, cut)
    buffer = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)  # as load_checkpoint_file reads it
    optimizer, scheduler = fresh()
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    assert first + lrs(optimizer, scheduler, cut, epochs) == straight


def test_cli_train_writes_a_package_that_classifies(tmp_path, folders):
    from wildeye.inference.classifier import load_classifier
    from wildeye.models.package import read_info

    out = tmp_path / "pkg"
    config = write_config(tmp_path / "sl.yaml", [{"type": "folders", "path": str(folders)}], out,
                          classes={"names": ["snow leopard"], "other": "other"},
                          calibration={"target_precision": {"snow leopard": 0.9}},
                          train={"epochs": 4, "balance": "sampler"})
    proc = run_train(config, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    history = summary["history"]
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    assert history[-1]["train_loss"] < history[0]["train_loss"]  # it learns
    val = summary["evaluation"]["val"]
    assert val["accuracy"] >= 0.85 and val["per_class"]["snow leopard"]["support"] > 0  # chance: 0.67 for "other"
    assert summary["data"]["per_class"]["other"]["train"] == 2 * summary["data"]["per_class"]["snow leopard"]["train"]

    info = read_info(out)
    assert info.labels == ["snow leopard", "other"] and info.architecture == ARCH and info.input_size == 32
    assert set(info.thresholds) == {"snow leopard"} and 0 < info.thresholds["snow leopard"] <= 1
    assert info.crop_padding == 0.05 and info.wildeye_version and info.training_data_hash.startswith("sha256:")
    assert info.metrics["val"]["per_class"]["snow leopard"]["recall"] >= 0.5
    rows = list(csv.DictReader(open(out / "data.csv")))
    assert len(rows) == sum(summary["data"]["items"].values())
    assert D.data_hash([D.Item(path=r["path"], label=r["source_label"], class_index=info.labels.index(r["class"]),
                               split=r["split"]) for r in rows], info.labels) == info.training_data_hash
    card = (out / "model.md").read_text()
    assert "| snow leopard |" in card and "## Thresholds" in card and f"{info.thresholds['snow leopard']:.4f}" in card
    assert (out / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG" and (out / "pr_curves.png").stat().st_size
    assert yaml.safe_load((out / "train_config.yaml").read_text())["model"]["architecture"] == ARCH
    assert not (out / "checkpoints").exists()  # finished: the package is all that is left

    classifier = load_classifier(out, device="cpu")
    rng = np.random.default_rng(99)
    frames = {label: np.asarray(shape_frame(label, rng, (96, 64), (0.3, 0.2, 0.4, 0.6))) for label in COLOURS}
    crops = [classifier.crop_detection(frame, (0.3, 0.2, 0.4, 0.6)) for frame in frames.values()]
    top = [result[0][0] for result in classifier.classify(crops, top_k=1)]
    assert top == ["snow leopard", "other", "other"]

    again = run_train(config)  # the package is there: refuse rather than overwrite
    assert again.returncode == 2 and "already holds a model package" in again.stderr


def test_resume_continues_epochs_and_optimizer_then_evaluate(tmp_path, coco):
    from wildeye.train.evaluate import evaluate_model
    from wildeye.train.loop import CHECKPOINT, load_checkpoint_file, train

    out = tmp_path / "pkg"
    path = write_config(tmp_path / "c.yaml", [{"type": "coco", "path": str(coco)}], out,
                        classes={"drop": ["empty"], "other": None},
                        split={"by": "sequence", "val": 0.25, "test": 0.2},
                        train={"epochs": 3, "batch_size": 12},
                        calibration={"target_precision": 0.9},
                        output={"keep_checkpoints": True})
    config = load_train_config(path)

    class Killed(Exception):
        pass

    def kill_after_first(record):
        if record["epoch"] == 1:
            raise Killed

    with pytest.raises(Killed):
        train(config, on_epoch=kill_after_first)
    checkpoint = out / "checkpoints" / CHECKPOINT
    first = load_checkpoint_file(checkpoint)
    assert first["state"]["epoch"] == 1 and not (out / "model.json").exists()
    steps_per_epoch = int(first["optimizer"]["state"][0]["step"])

    with pytest.raises(ConfigError, match="unfinished training"):
        train(config)  # without --resume, an unfinished run is not silently restarted
    seen = []
    summary = train(config, resume=True, on_epoch=seen.append)
    assert [r["epoch"] for r in seen] == [2, 3]  # continues after epoch 1
    assert [r["epoch"] for r in summary["history"]] == [1, 2, 3]
    assert summary["history"][0] == {k: v for k, v in first["state"]["history"][0].items()}
    last = load_checkpoint_file(checkpoint)
    # Adam's step count continues from the checkpoint: restored, not restarted (which would give 2 epochs' worth).
    assert int(last["optimizer"]["state"][0]["step"]) == 3 * steps_per_epoch
    assert seen[0]["lr"] == pytest.approx(0.01 * (0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi / 3))))

    data = summary["data"]
    assert data["items"]["test"] > 0 and data["split_by"] == "sequence"
    assert steps_per_epoch == -(-data["items"]["train"] // 12)  # batches in one epoch
    rows = list(csv.DictReader(open(out / "data.csv")))
    splits_of = {}
    for row in rows:
        splits_of.setdefault(row["sequence"], set()).add(row["split"])
    assert all(len(s) == 1 for s in splits_of.values())  # no burst in two splits
    assert summary["evaluation"]["test"]["accuracy"] >= 0.8
    assert set(summary["thresholds"]) == set(COLOURS)  # a number targets every class (no other class here)

    result = evaluate_model(str(out), str(coco), out_dir=tmp_path / "eval", device="cpu")
    assert set(result["per_class"]) == set(COLOURS)
    assert {"precision", "recall", "f1", "support"} <= set(result["per_class"]["marmot"])
    assert result["per_class"]["marmot"]["support"] == 24 and result["accuracy"] >= 0.8
    assert result["unmatched"] == {"empty": 1}  # the model has no such class and no "other"
    assert result["confusion_matrix"]["labels"] == list(summary["labels"])
    assert sum(map(sum, result["confusion_matrix"]["matrix"])) == 72
    assert "top5_accuracy" not in result  # 3 classes
    for name in ("confusion_matrix.png", "pr_curves.png", "metrics.json", "predictions.csv"):
        assert (tmp_path / "eval" / name).stat().st_size > 0


# --- taxonomy in the package -------------------------------------------------------------------------------------

LEOPARD_SN = "ef9e2cd9-d5f7-4d13-82ca-3a4bd9b0c8d4;mammalia;carnivora;felidae;panthera;uncia;snow leopard"
FELIDAE_SN = "df8514b0-10a5-411f-8ed6-0f415e8153a3;mammalia;carnivora;felidae;;;cat family"
SHEEP_SN = "b0a5c2b1-0000-4000-8000-000000000002;mammalia;cetartiodactyla;bovidae;pseudois;nayaur;bharal"


def write_taxonomy(path: Path) -> Path:
    """A SpeciesNet-format taxonomy_release.txt (the special rows first, as SpeciesNet's file has them)."""
    from wildeye.labels import SN_BLANK, SN_HUMAN, SN_VEHICLE

    path.write_text("\n".join([SN_BLANK, SN_HUMAN, SN_VEHICLE, LEOPARD_SN, FELIDAE_SN, SHEEP_SN]) + "\n")
    return path


def test_label_taxonomy_from_config_label_specials_and_the_reference_file(tmp_path, caplog, monkeypatch):
    from wildeye.labels import SN_BLANK, SN_HUMAN, parse
    from wildeye.train.taxonomy import label_taxonomy

    monkeypatch.setenv("WILDEYE_CACHE_DIR", str(tmp_path / "empty-cache"))  # no cached SpeciesNet to fall back on
    reference = write_taxonomy(tmp_path / "taxonomy_release.txt")
    classes = ClassesSection(
        names=["Snow leopard", "bharal", "Marmot", "cat", "pika", "lynx", "empty", "person", LEOPARD_SN],
        other="other",
        taxonomy={"bharal": "Pseudois nayaur",  # a latin name the reference knows: its ranks and uuid come along
                  "Marmot": "Marmota himalayana",  # one it does not: genus + species only
                  "cat": {"scientific_name": "Felidae", "rank": "family", "common_name": "cats"},
                  "lynx": {"class": "mammalia", "order": "carnivora", "family": "felidae", "genus": "lynx"}},
        taxonomy_file=str(reference))
    with caplog.at_level("WARNING"):
        result = label_taxonomy(classes.names + ["other"], classes)
    t = result.taxonomy
    assert t["Snow leopard"] == LEOPARD_SN and result.sources["Snow leopard"] == "taxonomy_release.txt"  # by name
    assert t["bharal"] == SHEEP_SN
    assert t["Marmot"] == ";;;;marmota;himalayana;Marmot" and parse(t["Marmot"]).scientific_name == "Marmota himalayana"
    assert t["cat"] == FELIDAE_SN.rsplit(";", 1)[0] + ";cats"  # the reference's family, the config's common name
    assert t["lynx"] == ";mammalia;carnivora;felidae;lynx;;lynx" and parse(t["lynx"]).rank == "genus"
    assert t["empty"] == SN_BLANK and t["person"] == SN_HUMAN and t[LEOPARD_SN] == LEOPARD_SN
    assert result.missing == ["pika"] and "other" not in t  # the catch-all is not a taxon: no warning for it
    warned = [r.getMessage() for r in caplog.records if "no taxonomy" in r.getMessage()]
    assert len(warned) == 1 and "class 'pika' (looked up in taxonomy_release.txt)" in warned[0]
    assert "classes.taxonomy" in warned[0]

    # a SpeciesNet model folder works as the reference too (its info.json names the taxonomy file)
    folder = tmp_path / "speciesnet"
    folder.mkdir()
    write_taxonomy(folder / "taxonomy_release.txt")
    (folder / "info.json").write_text(json.dumps({"taxonomy": "taxonomy_release.txt"}))
    by_folder = label_taxonomy(["snow leopard"], ClassesSection(names=["snow leopard", "x"],
                                                                 taxonomy_file=str(folder)))
    assert by_folder.taxonomy == {"snow leopard": LEOPARD_SN}
    # without a reference, names stay untaxed (warned), and a one-word latin name needs its rank
    assert label_taxonomy(["snow leopard"], ClassesSection(names=["snow leopard", "x"])).missing == ["snow leopard"]
    with pytest.raises(ConfigError, match="cannot tell its rank"):
        label_taxonomy(["cat"], ClassesSection(names=["cat", "x"], taxonomy={"cat": "Felidae"}))


@pytest.mark.parametrize("taxonomy, expected", [
    ({"a": {"rank": "species"}}, "give scientific_name or at least one of"),
    ({"a": "x;y"}, "neither a scientific name nor a taxonomy string"),
    ({"a": {"scientific_name": "Panthera uncia", "colour": "grey"}}, "colour"),
])
def test_bad_taxonomy_in_the_train_config_is_one_line(tmp_path, folders, taxonomy, expected):
    config = write_config(tmp_path / "t.yaml", [{"type": "folders", "path": str(folders)}], tmp_path / "pkg",
                          classes={"taxonomy": taxonomy})
    with pytest.raises(ConfigError) as caught:
        load_train_config(config, check_architecture=False)
    message = str(caught.value)
    assert expected in message and "\n" not in message and "classes" in message and "taxonomy" in message


def test_cli_train_writes_each_labels_taxonomy_into_the_package(tmp_path, folders, monkeypatch):
    from wildeye.models.package import read_info

    monkeypatch.setenv("WILDEYE_CACHE_DIR", str(tmp_path / "empty-cache"))
    reference = write_taxonomy(tmp_path / "taxonomy_release.txt")
    out = tmp_path / "pkg"
    config = write_config(tmp_path / "t.yaml", [{"type": "folders", "path": str(folders)}], out,
                          classes={"taxonomy": {"blue sheep": "Pseudois nayaur"},
                                   "taxonomy_file": os.path.relpath(reference, tmp_path)},  # relative to the file
                          train={"epochs": 1})
    proc = run_train(config, "--json")
    assert proc.returncode == 0, proc.stderr
    assert "no taxonomy for class 'marmot'" in proc.stderr  # said, not fatal
    info = read_info(out)
    assert info.format_version == 2 and sorted(info.labels) == ["blue sheep", "marmot", "snow leopard"]
    assert info.taxonomy == {"snow leopard": LEOPARD_SN, "blue sheep": SHEEP_SN}
    assert info.scientific_name("snow leopard") == "Panthera uncia" and info.rank("blue sheep") == "species"
    card = (out / "model.md").read_text()
    assert "| snow leopard | Panthera uncia | species |" in card and "No taxonomy for marmot" in card
    saved = yaml.safe_load((out / "train_config.yaml").read_text())["classes"]
    assert saved["taxonomy_file"] == str(reference) and saved["taxonomy"] == {"blue sheep": "Pseudois nayaur"}
