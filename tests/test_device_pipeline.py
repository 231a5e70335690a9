"""`decode: device` through the pipeline and `wildeye run`, on the CPU (the device here): device crops equal host crops,
the pipeline's answers equal `decode: full`'s, failures are recorded and the run goes on, the journal has the same
shape; `auto` resolves to device only on CUDA."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
from clihelp import run_json
from imagegen import write_frame
from PIL import Image
from test_run import T0, make_card
from torch import nn

from wildeye.config import resolve_decode
from wildeye.inference.classifier import PackageClassifier, SpeciesNetClassifier
from wildeye.inference.device_crops import LazyHost, crops_on_device, device_crop
from wildeye.inference.frames import Frame
from wildeye.inference.pipeline import FramePipeline
from wildeye.models.package import PackageInfo
from wildeye.records import Detection

BOXES = [(0.1, 0.2, 0.3, 0.4), (0.0, 0.0, 1.0, 1.0), (-0.1, 0.7, 0.5, 0.6),  # partly outside: SpeciesNet pads black
         (0.5, 0.5, 0.0001, 0.0001), (0.95, 0.9, 0.2, 0.3)]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from speciesnet_fixture import make_tiny_model, write_speciesnet_folder
    from yolo_fixtures import write_always_animal

    root = tmp_path_factory.mktemp("models")
    return write_always_animal(root / "tiny_md.pt", image_size=320), \
        write_speciesnet_folder(root / "speciesnet", make_tiny_model())


def _frame(seed=0, shape=(150, 220, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize("model_type", ["always_crop", "full_image"])
def test_speciesnet_device_crops_equal_host_crops(model_type):
    classifier = SpeciesNetClassifier(nn.Identity(), ["a", "b"], model_type, input_size=96, device="cpu")
    image = _frame()
    chw = torch.from_numpy(image).permute(2, 0, 1).contiguous()
    assert crops_on_device(classifier)
    for bbox in BOXES:
        for padding in (None, 0.15):
            host = classifier.preprocess([classifier.crop_detection(image, bbox, padding)])[0]
            assert torch.equal(device_crop(classifier, chw, bbox, padding), host), (bbox, padding)


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_package_device_crops_equal_host_crops(interpolation):
    info = PackageInfo(architecture="tiny", labels=["a", "b"], input_size=64, crop_padding=0.1,
                       interpolation=interpolation, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    classifier = PackageClassifier(nn.Identity(), info, device="cpu")
    image = _frame(1)
    chw = torch.from_numpy(image).permute(2, 0, 1).contiguous()
    for bbox in BOXES:
        host = classifier.preprocess([classifier.crop_detection(image, bbox)])[0]
        assert torch.equal(device_crop(classifier, chw, bbox), host), bbox


def test_other_classifiers_get_host_crops_copied_only_for_frames_with_boxes(monkeypatch):
    classifier = SpeciesNetClassifier(nn.Identity(), ["a", "b"], input_size=32, device="cpu")
    monkeypatch.setattr(type(classifier), "kind", "some-other-kind")  # no device crops for it
    assert not crops_on_device(classifier)
    copies = []
    original = LazyHost.array

    def counting(self):
        copies.append(id(self))
        return original(self)

    monkeypatch.setattr(LazyHost, "array", counting)
    pipeline = FramePipeline.__new__(FramePipeline)
    pipeline.__dict__.update(classifier=classifier, on_device=True, classify_threshold=0.1, max_crops_per_image=None,
                             crop_padding=None, classifier_batch_size=4, top_k=2)
    monkeypatch.setattr(classifier, "forward_batch", lambda batch: torch.zeros((len(batch), 2)))
    frames = [("a", Frame(torch.from_numpy(_frame(s)).permute(2, 0, 1), None)) for s in range(3)]
    dets = [[Detection("animal", 0.9, (0.1, 0.1, 0.5, 0.5)), Detection("animal", 0.5, (0.2, 0.2, 0.3, 0.3))],
            [Detection("animal", 0.05, (0.1, 0.1, 0.5, 0.5))], []]  # below the classification threshold; none
    pipeline._classify(frames, dets)
    assert len(set(copies)) == 1 and len(copies) == 2  # one copy of the one frame with boxes to classify
    assert dets[0][0].classifications and not dets[1][0].classifications


def _card(root: Path, shared: Path | None) -> Path:
    """Generated frames (EXIF-rotated, greyscale, PNG, truncated, not an image) and, when present, real ones."""
    cam = root / "cam1"
    for i in range(3):
        write_frame(cam / f"IMG_{i:04d}.JPG", size=(400, 300), seed=i)
    write_frame(cam / "rotated.jpg", size=(320, 240), seed=5, orientation=6)
    write_frame(cam / "grey.jpg", size=(320, 240), seed=6, mode="L")
    write_frame(cam / "frame.png", size=(200, 150), seed=7, fmt="PNG")
    whole = (cam / "IMG_0000.JPG").read_bytes()
    (cam / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (cam / "garbage.jpg").write_bytes(b"not a jpeg at all" * 20)
    if shared is not None:
        for name in ("cameratrapai-test_data/african_elephants_cmyk.jpg",
                     "cameratrapai-test_data/african_elephants_with_exif_orientation.jpg",
                     "cameratraps-demo_data/10050028_0.JPG"):  # CMYK, EXIF 6, a PNG named .JPG
            shutil.copy(shared / "images" / name, cam / Path(name).name)
    return root


def _process(detector, classifier, source: Path, decode: str, batch_size: int = 4):
    paths = sorted(str(p.relative_to(source)) for p in source.rglob("*") if p.is_file())
    done, failed = {}, {}

    def record(batch):
        done.update(batch.done)
        failed.update(batch.failed)

    pipeline = FramePipeline(detector, classifier, batch_size=batch_size, workers=0, decode=decode,
                             max_crops_per_image=3)  # the tiny detector boxes 68 per frame: 3 keep the test short
    times = pipeline.process(source, paths, record)
    return done, failed, times


def test_pipeline_device_decode_gives_the_full_decoders_answers(models, tmp_path, request):
    from wildeye.inference.classifier import load_classifier
    from wildeye.inference.detector import Detector

    shared = None
    if (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "camera-traps").is_dir():
        shared = request.getfixturevalue("shared_images")
    source = _card(tmp_path / "card", shared)
    detector = Detector.from_checkpoint(models[0])
    classifier = load_classifier(models[1], device="cpu", batch_size=3)
    full = _process(detector, classifier, source, "full")
    device = _process(detector, classifier, source, "device")
    assert set(device[1]) == set(full[1]) == {"cam1/garbage.jpg"}  # recorded, and the run went on
    assert device[1] == full[1]  # the same reason
    assert device[0] == full[0]  # boxes and classifications, equal (bit-exact on the CPU)
    assert all(sum(bool(d.classifications) for d in ds) == 3 for ds in full[0].values())
    assert device[2].device_decode > 0 and full[2].device_decode == 0


def test_resolve_decode():
    assert resolve_decode("auto", "cuda") == "device"
    assert resolve_decode("auto", "cpu") == "full" and resolve_decode("auto", "mps") == "full"
    for mode in ("full", "fast", "device"):
        assert resolve_decode(mode, "cuda") == resolve_decode(mode, "cpu") == mode
    with pytest.raises(ValueError, match="decode must be"):
        FramePipeline(object.__new__(type("D", (), {"image_size": 320})), decode="auto")


def test_wildeye_run_decode_device_on_cpu_writes_the_same_journal(models, tmp_path):
    detector, classifier = models
    source = make_card(tmp_path / "card", frames=4)
    write_frame(source / "cam1" / "DCIM" / "100MEDIA" / "IMG_0100.JPG", T0, size=(300, 400), seed=9, orientation=8)
    config = tmp_path / "run.yaml"
    config.write_text("classifier:\n  max_crops_per_image: 2\n")  # the tiny detector boxes 68 per frame
    results = {}
    for mode in ("auto", "device"):
        out = tmp_path / f"out-{mode}"
        code, summary = run_json("run", source, "--out", out, "--config", config, "--detector", detector,
                                 "--classifier", classifier, "--workers", "1", "--decode", mode, "--device", "cpu",
                                 "--no-fiftyone")
        # make_card's empty file (scan) and header-only JPEG (detect) fail; the truncated one is processed
        assert code == 1 and summary["failed"] == 2, summary
        doc = json.loads((out / "megadetector.json").read_text())
        db = sqlite3.connect(out / "journal.sqlite")
        tables = {name: db.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]  # noqa: S608
                  for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        fingerprint = json.loads(db.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()[0])
        runs = db.execute("SELECT config, stats FROM runs").fetchall()
        results[mode] = (doc, tables, fingerprint, runs)
    auto, device = results["auto"], results["device"]
    assert auto[2]["decode"] == "full" and device[2]["decode"] == "device"  # auto on a CPU: full, as recorded
    assert json.loads(auto[3][0][0])["decode"] == "full"
    assert device[1] == auto[1]  # the same tables, the same row counts
    assert device[0]["images"] == auto[0]["images"]  # the same boxes, classifications and failures
    assert json.loads(device[3][0][1])["times"]["device_decode"] > 0
    rotated = next(im for im in device[0]["images"] if im["file"].endswith("IMG_0100.JPG"))
    assert rotated["detections"]
    with Image.open(source / "cam1" / "DCIM" / "100MEDIA" / "IMG_0100.JPG") as image:
        assert image.size == (300, 400)  # stored portrait, shown landscape: the box is normalised to the upright frame


def test_prefetch_stages_the_next_batch_before_this_one_is_finished(models, tmp_path):
    from wildeye.inference.detector import Detector

    detector = Detector.from_checkpoint(models[0])
    pipeline = FramePipeline(detector, None, batch_size=2, workers=0, decode="device", prefetch=True)
    assert pipeline.prefetch and not FramePipeline(detector, decode="device").prefetch  # on the CPU: off by default
    pulled = []

    def loader():
        for i in range(3):
            pulled.append(i)
            yield [(f"b{i}", None, "unreadable", 0.0)]

    seen = [(len(pulled), batch[0][0]) for batch, _ in pipeline._staged(loader())]
    assert seen == [(2, "b0"), (3, "b1"), (3, "b2")]  # batch 1 was read and staged before batch 0 was handed over

    source = _card(tmp_path / "card", None)
    with_prefetch = _process_with(detector, source, prefetch=True)
    assert with_prefetch == _process_with(detector, source, prefetch=False)
    assert with_prefetch[1] == {"cam1/garbage.jpg": with_prefetch[1]["cam1/garbage.jpg"]} and with_prefetch[0]


def _process_with(detector, source: Path, prefetch: bool):
    paths = sorted(str(p.relative_to(source)) for p in source.rglob("*") if p.is_file())
    done, failed = {}, {}

    def record(batch):
        done.update(batch.done)
        failed.update(batch.failed)

    FramePipeline(detector, None, batch_size=3, workers=1, decode="device", prefetch=prefetch).process(
        source, paths, record)
    return done, failed
