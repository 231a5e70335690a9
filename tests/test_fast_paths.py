"""The faster CPU paths (issue 16): ONNX Runtime and bf16 for the detector, ONNX Runtime for the classifier.

Each path is checked for what makes it usable: agreement with the exact PyTorch fp32 path on real weights and real
frames (the genuine YOLOv5n 3-class checkpoint and EfficientNet-Lite0), the export cached once per network and
reused, bad settings refused with one line. Small image sizes keep it quick; speed itself is measured by
scripts/bench_run.py and scripts/bench_classifier.py, never asserted here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from clihelp import run_cli
from lite0_fixture import lite0_package  # noqa: F401  (session fixture)
from yolo_fixtures import tiny_model, write_tiny

from wildeye.inference.detector import Detector, choose_path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
IMAGES = SHARED / "data" / "camera-traps" / "images"
MEGADETECTOR = SHARED / "reference" / "megadetector"
DETECTOR_640 = MEGADETECTOR / "yolov5n-3class-640.pt"
REFERENCE_640 = MEGADETECTOR / "megadetector-output-640.json"
SIZE = 640  # the reference checkpoint's own size; yolov5n keeps it quick


@pytest.fixture(scope="module")
def frames() -> dict[str, np.ndarray]:
    """The ten real frames where MegaDetector finds most boxes (its own output, 640 px), decoded at full size."""
    if not (REFERENCE_640.is_file() and IMAGES.is_dir()):
        pytest.skip(f"real frames and reference detector output not found under {SHARED} (../shared is absent)")
    from wildeye.inference.decode import decode

    entries = json.loads(REFERENCE_640.read_text())["images"]
    boxes = {e["file"]: sum(d["conf"] >= 0.1 for d in e.get("detections") or []) for e in entries}
    busy = sorted(boxes, key=lambda name: (-boxes[name], name))[:10]
    return {name: decode(str(IMAGES / name), None).image for name in busy}


def detections(detector: Detector, frames: dict) -> dict[str, list]:
    return {name: detector.detect([image])[0] for name, image in frames.items()}


def agreement(reference: dict, other: dict, floor: float = 0.2) -> tuple[int, int, float]:
    """(recalled, reference boxes >= floor, largest confidence change of a matched box), MegaDetector parity's way:
    same category, IoU >= 0.5, the other path's box also >= floor."""
    from megadetector_parity import iou

    boxes = recalled = 0
    change = 0.0
    for name, dets in reference.items():
        for ref in (d for d in dets if d.conf >= floor):
            boxes += 1
            match = max((d for d in other[name] if d.category == ref.category),
                        key=lambda d: iou(d.bbox, ref.bbox), default=None)
            if match is not None and iou(match.bbox, ref.bbox) >= 0.5:
                recalled += match.conf >= floor
                change = max(change, abs(match.conf - ref.conf))
    return recalled, boxes, change


@pytest.fixture(scope="module")
def fp32(frames) -> dict:
    return detections(Detector.from_checkpoint(DETECTOR_640, image_size=SIZE, precision="fp32"), frames)


@pytest.fixture(autouse=True)
def _scripts_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "scripts"))


# --- ONNX Runtime: the detector ---------------------------------------------------------------------------------


def test_onnxruntime_detector_agrees_with_fp32_on_real_weights(frames, fp32, tmp_path):
    detector = Detector.from_checkpoint(DETECTOR_640, image_size=SIZE, runtime="onnxruntime",
                                        onnx_cache_dir=tmp_path)
    assert detector.network is not None and detector.describe()["runtime"] == "onnxruntime"
    ours = detections(detector, frames)
    recalled, boxes, change = agreement(fp32, ours, floor=0.1)
    assert boxes >= 8  # the frames are busy: the comparison means something
    assert recalled == boxes and change <= 0.002  # float rounding, far inside the 0.02 bar
    identical = sum(ours[name] == fp32[name] for name in frames)  # 3-decimal confidences, 4-decimal boxes
    assert identical >= len(frames) - 1


def test_onnxruntime_graph_takes_any_frame_shape_and_batch(tmp_path):
    """Height, width and batch are dynamic in the export: frames of other shapes than the traced one agree too."""
    torch_path = Detector(tiny_model(seed=3), image_size=320)
    onnx_path = Detector(tiny_model(seed=3), image_size=320, runtime="onnxruntime", onnx_cache_dir=tmp_path)
    rng = np.random.default_rng(0)
    for shape, batch in (((320, 256), 1), ((192, 320), 2), ((320, 320), 3)):
        images = [rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for _ in range(batch)]
        expected, got = torch_path.predict(images), onnx_path.predict(images)
        assert got.shape == expected.shape and got.dtype == torch.float32
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=2e-3)


def test_onnx_export_is_cached_once_per_network_and_reused(tmp_path, caplog):
    first = Detector(tiny_model(seed=1), image_size=320, runtime="onnxruntime", onnx_cache_dir=tmp_path)
    path = first.network.path
    assert first.network.exported and path.parent == tmp_path and path.suffix == ".onnx"
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary left behind
    stamp = path.stat().st_mtime_ns
    again = Detector(tiny_model(seed=1), image_size=320, runtime="onnxruntime", onnx_cache_dir=tmp_path)
    assert again.network.path == path and not again.network.exported and path.stat().st_mtime_ns == stamp
    other = Detector(tiny_model(seed=2), image_size=320, runtime="onnxruntime", onnx_cache_dir=tmp_path)
    assert other.network.path != path and other.network.exported  # other weights, other file
    assert len(list(tmp_path.glob("*.onnx"))) == 2
    path.write_bytes(b"not an onnx graph")  # a damaged cache file is exported again, with a warning
    repaired = Detector(tiny_model(seed=1), image_size=320, runtime="onnxruntime", onnx_cache_dir=tmp_path)
    assert repaired.network.exported and "exporting again" in caplog.text
    image = np.full((320, 320, 3), 90, dtype=np.uint8)
    torch.testing.assert_close(repaired.predict([image]), first.predict([image]))


def test_export_goes_to_the_model_cache_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("WILDEYE_CACHE_DIR", str(tmp_path / "cache"))
    detector = Detector(tiny_model(seed=4), image_size=320, runtime="onnxruntime")
    assert detector.network.path.parent == tmp_path / "cache" / "compiled"


# --- bf16 ------------------------------------------------------------------------------------------------------


def test_bf16_detector_stays_close_to_fp32_on_real_weights(frames, fp32):
    """bf16 is opt-in: it moves confidences by more than the default bar allows, but finds the same objects."""
    ours = detections(Detector.from_checkpoint(DETECTOR_640, image_size=SIZE, precision="bf16"), frames)
    recalled, boxes, change = agreement(fp32, ours, floor=0.1)
    assert boxes >= 8 and recalled >= 0.8 * boxes and change <= 0.15


def test_bf16_stem_takes_the_division_by_255():
    """Folding 1/255 into the first convolution gives the fp32 network's output for raw 0-255 input."""
    from wildeye.inference.detector import _take_input_scale

    model = tiny_model(seed=5).float().eval().fuse()
    x = torch.randint(0, 256, (1, 3, 128, 160)).float()
    with torch.inference_mode():
        expected = model(x / 255.0)
        _take_input_scale(model, 1 / 255.0)
        torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-3)


def test_detect_head_runs_in_fp32_under_autocast():
    model = tiny_model(seed=6).float().eval().fuse()
    features = torch.rand(1, model.detect.m[0].in_channels, 8, 8)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert model.detect._head(0, features.bfloat16()).dtype == torch.float32
        assert model.detect.m[0](features).dtype == torch.bfloat16  # what autocast alone would give


# --- the classifier --------------------------------------------------------------------------------------------


def test_onnxruntime_classifier_matches_pytorch_on_real_weights(lite0_package, frames, tmp_path):
    from wildeye.inference.classifier import load_classifier

    exact = load_classifier(lite0_package, device="cpu", precision="fp32")
    fast = load_classifier(lite0_package, device="cpu", runtime="onnxruntime", onnx_cache_dir=tmp_path)
    crops = [exact.crop_image(image) for image in frames.values()][:4]
    expected, got = exact.scores(crops), fast.scores(crops)
    assert fast.runtime == "onnxruntime" and len(list(tmp_path.glob("classifier-*.onnx"))) == 1
    assert (got - expected).abs().max().item() <= 1e-4
    assert [row.argmax().item() for row in got] == [row.argmax().item() for row in expected]
    assert fast.scores([]).shape == (0, 1000)


def test_onnxruntime_classifier_runs_speciesnets_converted_graph(tmp_path):
    """SpeciesNet's module is an onnx2torch graph (NHWC input): it exports back to ONNX and agrees."""
    import warnings

    from speciesnet_fixture import make_tiny_model, write_speciesnet_folder

    from wildeye.inference.classifier import load_classifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        folder = write_speciesnet_folder(tmp_path / "model", make_tiny_model(seed=2))
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 256, (90 + 20 * i, 140, 3), dtype=np.uint8) for i in range(3)]
    exact = load_classifier(folder, device="cpu", precision="fp32").scores(crops)
    fast = load_classifier(folder, device="cpu", runtime="onnxruntime", onnx_cache_dir=tmp_path / "c")
    torch.testing.assert_close(fast.scores(crops), exact, rtol=1e-5, atol=1e-6)
    assert fast.runtime == "onnxruntime"


# --- choosing the path, and bad settings ------------------------------------------------------------------------


def test_auto_picks_onnxruntime_on_cpu_and_fp32_stays_one_option_away():
    cpu = torch.device("cpu")
    assert choose_path(cpu) == ("onnxruntime", "fp32")
    assert choose_path(cpu, "fp32") == ("torch", "fp32")  # MegaDetector's own arithmetic
    assert choose_path(cpu, "bf16") == ("torch", "bf16")
    assert choose_path(cpu, "fp32", "onnxruntime") == ("onnxruntime", "fp32")
    assert choose_path(torch.device("cuda"), "auto") == ("torch", "fp32")


def test_wildeye_run_records_the_path_it_chose(tmp_path):
    source = tmp_path / "card"
    source.mkdir()
    from PIL import Image

    for i in range(2):
        Image.fromarray(np.full((240, 320, 3), 60 + 40 * i, dtype=np.uint8)).save(source / f"f{i}.jpg")
    detector = write_tiny(tmp_path / "det.pt", image_size=320)
    env = {**os.environ, "WILDEYE_CACHE_DIR": str(tmp_path / "cache")}
    for flags, runtime in (((), "onnxruntime"), (("--precision", "fp32"), "torch")):
        out = tmp_path / f"out-{runtime}"
        proc = run_cli("run", source, "--out", out, "--detector", detector, "--classifier", "none", "--device", "cpu",
                       "--no-fiftyone", "--workers", "0", "--json", *flags, env=env)
        assert proc.returncode == 0, proc.stderr
        models = json.loads(proc.stdout)["models"]["detector"]
        assert (models["runtime"], models["precision"]) == (runtime, "fp32")
    assert len(list((tmp_path / "cache" / "compiled").glob("yolov5-*.onnx"))) == 1


def test_a_classifier_that_cannot_be_exported_runs_in_pytorch_and_the_run_says_so(tmp_path, monkeypatch):
    """The exporter fails on the first crops (an operator it lacks): the run carries on in PyTorch, and the journal
    and the summary record the runtime that ran, not the one asked for."""
    from PIL import Image
    from speciesnet_fixture import make_tiny_model, write_speciesnet_folder
    from yolo_fixtures import write_always_animal

    from wildeye.app.run import run
    from wildeye.config import load_run_config
    from wildeye.inference.onnx_runtime import OnnxNetwork
    from wildeye.store.journal import Journal

    def no_export(*args, **kwargs):
        raise RuntimeError("Exporting the operator 'aten::made_up' to ONNX opset version 17 is not supported")

    monkeypatch.setattr(OnnxNetwork, "for_classifier", no_export)
    monkeypatch.setenv("WILDEYE_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "card"
    source.mkdir()
    Image.fromarray(np.full((240, 320, 3), 90, dtype=np.uint8)).save(source / "f0.jpg")
    config = load_run_config(None, {
        "detector.name": str(write_always_animal(tmp_path / "det.pt", image_size=320)), "device": "cpu",
        "classifier.name": str(write_speciesnet_folder(tmp_path / "speciesnet", make_tiny_model())),
        "workers": 0, "after_run.fiftyone": False})
    outcome = run(source, tmp_path / "out", config)
    assert outcome.summary["processed"] == 1 and outcome.models["classifier"]["runtime"] == "torch"
    with Journal.open(tmp_path / "out", write=False) as journal:
        assert journal.last_run().models["classifier"]["runtime"] == "torch"


@pytest.mark.parametrize("yaml_text, message", [
    ("detector:\n  precision: fp8\n", "detector.precision: should be 'auto', 'fp32', 'fp16' or 'bf16', got 'fp8'"),
    ("classifier:\n  runtime: tensorrt\n", "classifier.runtime: should be"),
    ("detector:\n  precision: bf16\n  runtime: onnxruntime\n", "runtime onnxruntime runs fp32 only"),
])
def test_bad_precision_or_runtime_is_one_line_and_exit_2(tmp_path, yaml_text, message):
    (tmp_path / "card").mkdir()
    config = tmp_path / "run.yaml"
    config.write_text(yaml_text)
    proc = run_cli("run", tmp_path / "card", "--config", config, "--no-fiftyone")
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_detector_refuses_onnxruntime_off_the_cpu_or_in_half_precision():
    from wildeye.errors import WildeyeError

    with pytest.raises(WildeyeError, match="runs fp32 on the CPU"):
        Detector(tiny_model(), image_size=320, runtime="onnxruntime", precision="bf16")
    with pytest.raises(WildeyeError, match="precision 'int4'"):
        Detector(tiny_model(), image_size=320, precision="int4")
