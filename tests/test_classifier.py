"""Species classifiers: SpeciesNet-format loading (safely), SpeciesNet's exact preprocessing, crops, packages."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from speciesnet_fixture import LABELS, MODEL_STEM, make_tiny_model, write_speciesnet_folder
from wildeye.errors import WildeyeError
from wildeye.inference.classifier import (
    PackageClassifier,
    SpeciesNetClassifier,
    load_classifier,
    package_transform,
    padded_crop,
    speciesnet_crop,
    speciesnet_full_image_crop,
)
from wildeye.models import package as pkg
from wildeye.models.speciesnet import load_speciesnet, safe_load_module

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

SNOW_LEOPARD, BLUE_SHEEP = LABELS[0], LABELS[1]


@pytest.fixture(scope="module")
def tiny():
    return make_tiny_model()


@pytest.fixture(scope="module")
def sn_folder(tmp_path_factory, tiny):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return write_speciesnet_folder(tmp_path_factory.mktemp("speciesnet") / "model", tiny)


@pytest.fixture(scope="module")
def sn(sn_folder):
    return load_classifier(sn_folder, device="cpu", batch_size=2)


@pytest.fixture(scope="module")
def frame():
    """A 300x400 'camera frame' with structure (gradients + noise), RGB uint8."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:300, 0:400]
    base = np.stack([xx * 255 // 399, yy * 255 // 299, (xx + yy) % 256], axis=-1)
    return np.clip(base + rng.integers(-30, 30, base.shape), 0, 255).astype(np.uint8)


def speciesnet_reference(model, image: np.ndarray, bbox, k: int = 5):
    """speciesnet 5.x `SpeciesNetClassifier.preprocess` (always_crop) + `batch_predict`, line for line."""
    import PIL.Image
    import torchvision.transforms.functional as F

    img = PIL.Image.fromarray(image)
    img_tensor = F.convert_image_dtype(F.pil_to_tensor(img), torch.float32)
    xmin, ymin, width, height = bbox
    crop = F.crop(img_tensor, int(ymin * img.height), int(xmin * img.width), int(height * img.height),
                  int(width * img.width))
    crop = F.resize(crop, [480, 480], antialias=False)
    crop = F.convert_image_dtype(crop, torch.uint8).permute([1, 2, 0])
    batch_arr = np.stack([crop.numpy() / 255.0], axis=0, dtype=np.float32)
    with torch.no_grad():
        logits = model(torch.from_numpy(batch_arr))
    scores, indices = torch.topk(torch.softmax(logits, dim=-1), k=k, dim=-1)
    return batch_arr, [(LABELS[i], s) for s, i in zip(scores[0].tolist(), indices[0].tolist())]


# --- SpeciesNet format ---------------------------------------------------------------------------------------


def test_speciesnet_matches_original_model_with_speciesnet_preprocessing(sn, tiny, frame):
    assert isinstance(sn, SpeciesNetClassifier) and sn.labels == LABELS and sn.input_size == 480
    assert sn.version == "4.0.3a-test" and sn.model_type == "always_crop"
    for bbox in [(0.1, 0.2, 0.5, 0.5), (0.333, 0.05, 0.21, 0.77), (0.8, 0.7, 0.4, 0.5), (0.0, 0.0, 1.0, 1.0)]:
        ref_input, ref_top = speciesnet_reference(tiny, frame, bbox)
        ours = sn.preprocess([sn.crop_detection(frame, bbox)])
        assert torch.equal(ours, torch.from_numpy(ref_input))  # bit-identical input tensor
        top = sn.classify([sn.crop_detection(frame, bbox)])[0]
        assert [label for label, _ in top] == [label for label, _ in ref_top]
        np.testing.assert_allclose([s for _, s in top], [s for _, s in ref_top], rtol=0, atol=1e-6)


def test_topk_order_and_batch_equals_single(sn, frame):
    boxes = [(0.0, 0.0, 0.5, 0.5), (0.5, 0.5, 0.5, 0.5), (0.2, 0.1, 0.3, 0.8), (0.9, 0.9, 0.3, 0.3), (0.4, 0, 0.1, 1)]
    crops = [sn.crop_detection(frame, b) for b in boxes]
    batched = sn.classify(crops)  # batch_size=2: three chunks
    assert len(batched) == len(crops)
    for crop, result in zip(crops, batched):
        scores = [s for _, s in result]
        assert len(result) == 5 and scores == sorted(scores, reverse=True)
        assert {label for label, _ in result} == set(LABELS)
        single = sn.classify([crop])[0]
        assert [label for label, _ in single] == [label for label, _ in result]
        np.testing.assert_allclose([s for _, s in single], scores, rtol=0, atol=1e-6)
    assert abs(sum(s for _, s in sn.classify(crops[:1], top_k=None)[0]) - 1.0) < 1e-5
    assert [len(r) for r in sn.classify(crops[:2], top_k=2)] == [2, 2]
    assert sn.classify([]) == []


def test_speciesnet_crop_rule_matches_torchvision_crop():
    """SpeciesNet crops with F.crop(int(ymin*H), int(xmin*W), int(h*H), int(w*W)): truncation, black outside."""
    import torchvision.transforms.functional as F

    image = np.arange(10 * 20 * 3, dtype=np.uint8).reshape(10, 20, 3)
    chw = torch.from_numpy(image).permute(2, 0, 1)
    for x, y, w, h in [(0.25, 0.1, 0.5, 0.5), (0.33, 0.33, 0.33, 0.33), (0.9, 0.8, 0.3, 0.5), (-0.1, 0.0, 0.5, 1.0),
                       (0.0, -0.25, 1.0, 0.5), (0.0, 0.0, 1.0, 1.0)]:
        expected = F.crop(chw, int(y * 10), int(x * 20), int(h * 10), int(w * 20)).permute(1, 2, 0).numpy()
        assert np.array_equal(speciesnet_crop(image, (x, y, w, h)), expected), (x, y, w, h)
    assert np.array_equal(speciesnet_crop(image, (0.25, 0.1, 0.5, 0.5)), image[1:6, 5:15])  # by hand
    edge = speciesnet_crop(image, (0.9, 0.8, 0.3, 0.5))  # 6 wide, 5 high; only 2x2 inside the frame
    assert edge.shape == (5, 6, 3) and np.array_equal(edge[:2, :2], image[8:, 18:]) and not edge[2:].any()
    assert speciesnet_crop(image, (0.5, 0.5, 0.0, 0.01)).shape == (1, 1, 3)  # degenerate box: one pixel
    # padding (a wildeye extension; SpeciesNet uses none) grows the box before the same rule
    assert np.array_equal(speciesnet_crop(image, (0.25, 0.2, 0.5, 0.4), padding=0.25),
                          speciesnet_crop(image, (0.125, 0.1, 0.75, 0.6)))
    tall = np.zeros((1000, 100, 3), np.uint8)
    tall[150:850] = 255
    assert speciesnet_full_image_crop(tall).shape == (700, 100, 3)  # SpeciesNet's own full_image test case
    assert speciesnet_full_image_crop(tall).min() == 255


def test_padded_crop_pads_clips_and_rounds_outward():
    image = np.arange(16 * 32 * 3, dtype=np.uint8).reshape(16, 32, 3)
    assert np.array_equal(padded_crop(image, (0.25, 0.25, 0.5, 0.5)), image[4:12, 8:24])
    # 25 % of the box on each side: x 0.125..0.875, y 0.125..0.875
    assert np.array_equal(padded_crop(image, (0.25, 0.25, 0.5, 0.5), padding=0.25), image[2:14, 4:28])
    # near the corner: padding clipped at the frame, never filled with black
    assert np.array_equal(padded_crop(image, (0.75, 0.75, 0.5, 0.5), padding=0.25), image[10:16, 20:32])
    assert np.array_equal(padded_crop(image, (-0.5, -0.5, 0.75, 0.75)), image[0:4, 0:8])
    # fractional edges round outward
    assert np.array_equal(padded_crop(image, (0.26, 0.26, 0.2, 0.2)), image[4:8, 8:15])
    assert padded_crop(image, (0.5, 0.5, 0.0, 0.0)).shape == (1, 1, 3)
    assert padded_crop(image, (1.2, 1.2, 0.1, 0.1)).shape == (1, 1, 3)  # box fully outside: corner pixel
    with pytest.raises(ValueError):
        padded_crop(image, (0.1, 0.1, -0.2, 0.2))
    with pytest.raises(ValueError):
        padded_crop(image.astype(np.float32), (0.1, 0.1, 0.2, 0.2))


def test_speciesnet_layouts(sn_folder, tmp_path, frame):
    """info.json folder, a wrapping folder, a bare .pt with its labels file, a folder with one .pt."""
    expected = load_classifier(sn_folder, device="cpu").classify([frame])
    wrapped = tmp_path / "download"
    (wrapped / "speciesnet-v4").mkdir(parents=True)
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in sn_folder.iterdir():
        (wrapped / "speciesnet-v4" / f.name).write_bytes(f.read_bytes())
        if f.suffix != ".json":
            (bare / f.name).write_bytes(f.read_bytes())
    for path in [wrapped, bare, bare / f"{MODEL_STEM}.pt"]:
        clf = load_classifier(path, device="cpu")
        assert isinstance(clf, SpeciesNetClassifier) and clf.labels == LABELS
        assert clf.classify([frame]) == expected
    (bare / f"{MODEL_STEM}.labels.txt").write_text("\n".join(LABELS[:3]) + "\n")
    with pytest.raises(WildeyeError, match="5 outputs but .* 3 labels"):
        load_speciesnet(bare)
    (bare / f"{MODEL_STEM}.labels.txt").unlink()
    with pytest.raises(WildeyeError, match="labels file .* not found"):
        load_speciesnet(bare / f"{MODEL_STEM}.pt")
    info = json.loads((wrapped / "speciesnet-v4" / "info.json").read_text())
    (wrapped / "speciesnet-v4" / "info.json").write_text(json.dumps({**info, "type": "full_image"}))
    whole = load_classifier(wrapped, device="cpu")  # SpeciesNet's whole-image model: boxes are ignored
    assert whole.model_type == "full_image"
    assert np.array_equal(whole.crop_detection(frame, (0.1, 0.1, 0.2, 0.2)), speciesnet_full_image_crop(frame))
    (wrapped / "speciesnet-v4" / "info.json").write_text(json.dumps({**info, "type": "sideways"}))
    with pytest.raises(WildeyeError, match="key 'type'"):
        load_classifier(wrapped, device="cpu")
    with pytest.raises(WildeyeError, match="neither a wildeye model package"):
        load_classifier(tmp_path / "download" / "speciesnet-v4" / "info.json")
    with pytest.raises(WildeyeError, match="not found"):
        load_classifier(tmp_path / "nowhere")


def test_fp16_path_agrees_with_fp32(sn_folder, frame):
    """CUDA runs under fp16 autocast; CPU autocast exercises the same code path here."""
    crops = [frame, frame[::2, ::3].copy()]
    full = load_classifier(sn_folder, device="cpu").classify(crops, top_k=None)
    half = load_classifier(sn_folder, device="cpu", half=True).classify(crops, top_k=None)
    for a, b in zip(full, half):
        assert dict(a).keys() == dict(b).keys()
        np.testing.assert_allclose([dict(b)[k] for k, _ in a], [s for _, s in a], atol=5e-3)


class _System:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _Exec:
    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


class _GraphModuleWithCode:
    """Pickles like a GraphModule, via torch.fx's own reduce function, but carries code of its choosing."""

    def __init__(self, module: torch.fx.GraphModule, import_block: str = "", forward: str | None = None):
        self.body = dict(module.__dict__)
        self.body.pop("_graph", None)
        self.body["_code"] = forward or module.code
        self.imports = import_block or "import torch\n"

    def __reduce__(self):
        from torch.fx.graph_module import reduce_graph_module

        return (reduce_graph_module, (self.body, self.imports))


class _Getattr:
    def __reduce__(self):
        return (getattr, (torch._C._VariableFunctionsClass, "from_file"))


def test_malicious_pickles_are_refused_without_running(sn_folder, tmp_path):
    proof = tmp_path / "pwned"
    good = safe_load_module(sn_folder / f"{MODEL_STEM}.pt")
    payloads = {
        "posix.system": _System(f"touch {proof}"),
        "builtins.exec": _Exec(f"open({str(proof)!r}, 'w').write('x')"),
        "import of 'os'": _GraphModuleWithCode(good, import_block=f"import os\nos.system('touch {proof}')\n"),
        "the call 'open'": _GraphModuleWithCode(
            good, forward=f"def forward(self, input_1):\n    open({str(proof)!r}, 'w')\n    return input_1\n"),
        "getattr(_VariableFunctionsClass, 'from_file')": _Getattr(),
    }
    for needle, payload in payloads.items():
        path = tmp_path / "evil.pt"
        torch.save({"model": payload}, path)
        with pytest.raises(WildeyeError) as caught:
            safe_load_module(path)
        assert needle in str(caught.value) and "refusing" in str(caught.value)
        assert "\n" not in str(caught.value)
        assert not proof.exists(), f"{needle}: payload ran"
    # sanity: the code-carrying payload really would run under a plain torch.load
    torch.save(_GraphModuleWithCode(good, import_block=f"import os\nos.system('touch {proof}')\n"), path)
    torch.load(path, weights_only=False)
    assert proof.exists()


def test_non_module_and_garbage_files_are_refused(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "dict.pt")
    with pytest.raises(WildeyeError, match="not a PyTorch module"):
        safe_load_module(tmp_path / "dict.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip" * 10)
    with pytest.raises(WildeyeError, match="cannot load SpeciesNet classifier"):
        safe_load_module(tmp_path / "junk.pt")
    (tmp_path / "plain.pt").write_bytes(pickle.dumps(_System("true")))
    with pytest.raises(WildeyeError):
        safe_load_module(tmp_path / "plain.pt")


# --- a classifier converted the way SpeciesNet's was: Keras -> tf2onnx -> onnx2torch -> torch.save ----------------

KERAS_FIXTURE = Path(__file__).parent / "fixtures" / "speciesnet_keras"  # scripts/make_speciesnet_keras_fixture.py
KERAS_PT = KERAS_FIXTURE / "always_crop_keras_tiny_epoch_00001.pt"


@pytest.fixture(scope="module")
def keras_expected():
    return np.load(KERAS_FIXTURE / "expected.npz")


def test_keras_converted_speciesnet_matches_tensorflow(keras_expected, monkeypatch, tmp_path):
    """The fixture loads through the restricted unpickler (no trust anywhere) and gives TensorFlow's answers."""
    import PIL.Image

    monkeypatch.setenv("WILDEYE_CACHE_DIR", str(tmp_path / "empty-cache"))  # nothing is trusted
    sn = load_classifier(KERAS_FIXTURE, device="cpu", batch_size=2)
    assert isinstance(sn, SpeciesNetClassifier) and sn.version == "4.0.3a-keras-test" and len(sn.labels) == 6
    assert "panthera;uncia;snow leopard" in sn.labels[0]
    assert isinstance(safe_load_module(KERAS_PT, trusted=None), torch.fx.GraphModule)

    # 1. the same input tensor TensorFlow saw (60x60 cells of 8x8 pixels, NHWC in [0, 1])
    grid = keras_expected["grid"]
    x = (np.repeat(np.repeat(grid, 8, axis=1), 8, axis=2) / 255.0).astype(np.float32)
    with torch.no_grad():
        logits = sn.module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(logits, keras_expected["grid_logits"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(torch.softmax(torch.from_numpy(logits), -1).numpy(), keras_expected["grid_softmax"],
                               rtol=0, atol=1e-4)

    # 2. SpeciesNet 5.0.6's always_crop preprocessing of a frame: same bytes in, TensorFlow's scores out
    frame = np.asarray(PIL.Image.open(KERAS_FIXTURE / "frame.png").convert("RGB"))
    for i, bbox in enumerate(keras_expected["bboxes"]):
        crop = sn.crop_detection(frame, tuple(bbox))
        assert hashlib.sha256(sn.preprocess([crop]).numpy().tobytes()).hexdigest() == keras_expected["crop_sha256"][i]
        scores = dict(sn.classify([crop], top_k=None)[0])
        ours = [scores[label] for label in sn.labels]
        np.testing.assert_allclose(ours, keras_expected["crop_softmax"][i], rtol=0, atol=1e-4)
        assert max(scores, key=scores.get) == sn.labels[int(np.argmax(keras_expected["crop_logits"][i]))]


def _variant_folder(folder: Path, note) -> Path:
    """The fixture with one extra attribute whose pickle names a harmless global outside the allow-list."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in KERAS_FIXTURE.iterdir():
        if f.suffix != ".pt":
            (folder / f.name).write_bytes(f.read_bytes())
    module = torch.load(KERAS_PT, weights_only=False)
    module.release_note = note  # e.g. fractions.Fraction: pure arithmetic, but not something we allow by default
    torch.save(module, folder / KERAS_PT.name)
    return folder


def test_refused_global_is_named_and_a_trusted_sha256_opens_it(tmp_path, monkeypatch, keras_expected):
    from fractions import Fraction

    monkeypatch.setenv("WILDEYE_CACHE_DIR", str(tmp_path / "cache"))
    folder = _variant_folder(tmp_path / "variant", Fraction(1, 3))
    pt = folder / KERAS_PT.name
    with pytest.raises(WildeyeError) as caught:
        load_classifier(folder, device="cpu")
    message = str(caught.value)
    assert "fractions.Fraction" in message and "--trust" in message and "refusing" in message and "\n" not in message

    sha256 = hashlib.sha256(pt.read_bytes()).hexdigest()
    model = load_speciesnet(folder, trusted=lambda digest: digest == sha256)
    assert model.module.release_note == Fraction(1, 3)
    x = torch.from_numpy((np.repeat(np.repeat(keras_expected["grid"], 8, 1), 8, 2) / 255.0).astype(np.float32))
    with torch.no_grad():
        np.testing.assert_allclose(model.module(x).numpy(), keras_expected["grid_logits"], rtol=0, atol=1e-4)

    _variant_folder(folder, Fraction(1, 4))  # same name, other bytes: no longer the file that was trusted
    with pytest.raises(WildeyeError, match="fractions.Fraction"):
        load_speciesnet(folder, trusted=lambda digest: digest == sha256)


# --- wildeye packages ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def timm_model():
    import timm

    torch.manual_seed(1)
    return timm.create_model("mobilenetv3_small_050", pretrained=False, num_classes=3).eval()


def test_package_round_trip_gives_identical_outputs(timm_model, tmp_path, frame):
    labels = ["snow leopard", "blue sheep", "other"]
    folder = pkg.save_package(tmp_path / "pkg", timm_model, labels, input_size=64, crop_padding=0.1,
                              thresholds={"snow leopard": 0.93}, metrics={"snow leopard": {"precision": 0.95}},
                              training_data_hash="sha256:abc")
    info = json.loads((folder / "model.json").read_text())
    assert info["architecture"] == "mobilenetv3_small_050" and info["labels"] == labels
    assert info["input_size"] == 64 and info["format_version"] == 2 and "wildeye_version" in info
    assert info["interpolation"] == "bicubic"  # from the timm model's own pretrained_cfg
    assert (folder / "weights.safetensors").is_file()

    clf = load_classifier(folder, device="cpu", batch_size=2)
    assert isinstance(clf, PackageClassifier) and clf.labels == labels and clf.thresholds == {"snow leopard": 0.93}
    boxes = [(0.1, 0.1, 0.3, 0.3), (0.5, 0.2, 0.5, 0.7), (0.0, 0.0, 1.0, 1.0)]
    crops = [clf.crop_detection(frame, b) for b in boxes]
    assert np.array_equal(crops[0], padded_crop(frame, boxes[0], padding=0.1))  # the package's padding
    with torch.inference_mode():
        batch = package_transform(crops, 64, info["mean"], info["std"], info["interpolation"])
        expected = torch.softmax(timm_model(batch), dim=-1)
    got = clf.scores(crops)
    assert torch.equal(got, expected)
    top = clf.classify(crops, top_k=None)
    assert [t[0] for t in top] == [(labels[int(row.argmax())], float(row.max())) for row in expected]

    loaded = pkg.load_package(folder)
    for key, value in timm_model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key
    with pytest.raises(WildeyeError, match="already holds"):
        pkg.save_package(folder, timm_model, labels)
    pkg.save_package(folder, timm_model, labels, overwrite=True)


@pytest.mark.parametrize("change, key", [
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"labels": None}, "missing key 'labels'"),
    ({"thresholds": {"yeti": 0.5}}, "'yeti', which is not one of the labels"),
    ({"input_size": 2}, "key 'input_size'"),
    ({"format_version": 9}, "written by a newer wildeye"),
    ({"taxonomy": {"yeti": ";mammalia;;;;;yeti"}}, "taxonomy names 'yeti', which is not one of the labels"),
    ({"taxonomy": {"a": "Panthera uncia"}}, "not a 'uuid;class;order;family;genus;species;common name' string"),
    ({"architecture": "no_such_net_v9"}, "key 'architecture': timm cannot build"),
    ({"labels": ["a", "b", "c", "d"]}, "does not fit mobilenetv3_small_050 with 4 labels"),
])
def test_bad_model_json_is_refused_in_one_line(timm_model, tmp_path, change, key):
    folder = pkg.save_package(tmp_path / "pkg", timm_model, ["a", "b", "c"], input_size=64)
    info = json.loads((folder / "model.json").read_text())
    info.update(change)
    info = {k: v for k, v in info.items() if v is not None}
    (folder / "model.json").write_text(json.dumps(info))
    with pytest.raises(WildeyeError) as caught:
        load_classifier(folder, device="cpu")
    message = str(caught.value)
    assert key in message and "\n" not in message
    if "weights" not in message:
        assert str(folder / "model.json") in message


LEOPARD_TAXON = "ef9e2cd9-d5f7-4d13-82ca-3a4bd9b0c8d4;mammalia;carnivora;felidae;panthera;uncia;snow leopard"


def test_package_format_2_keeps_a_taxonomy_per_label_and_format_1_still_loads(timm_model, tmp_path):
    labels = ["Snow leopard", "blue sheep", "other"]
    folder = pkg.save_package(tmp_path / "pkg", timm_model, labels, input_size=64,
                              taxonomy={"Snow leopard": LEOPARD_TAXON,
                                        "blue sheep": ";mammalia;cetartiodactyla;bovidae;pseudois;nayaur;blue sheep"})
    info = json.loads((folder / "model.json").read_text())
    assert info["format_version"] == 2 and info["taxonomy"]["Snow leopard"] == LEOPARD_TAXON
    read = pkg.read_info(folder)
    assert read.scientific_name("Snow leopard") == "Panthera uncia" and read.rank("Snow leopard") == "species"
    assert read.scientific_name("blue sheep") == "Pseudois nayaur"
    assert read.taxon("other") is None and read.scientific_name("other") is None and read.rank("other") is None
    clf = load_classifier(folder, device="cpu")
    assert clf.taxonomy == info["taxonomy"]  # what `wildeye run` records for the reports

    # a package written before format 2 (no taxonomy key, format_version 1) loads as before, with no taxonomy
    old = {k: v for k, v in info.items() if k != "taxonomy"} | {"format_version": 1}
    (folder / "model.json").write_text(json.dumps(old))
    assert pkg.read_info(folder).taxonomy == {} and load_classifier(folder, device="cpu").taxonomy == {}


# --- imports -------------------------------------------------------------------------------------------------


def test_importing_wildeye_modules_does_not_import_torch():
    code = ("import sys, wildeye.inference.classifier, wildeye.models.speciesnet, wildeye.models.package, "
            "wildeye.labels, wildeye.inference.ensemble; print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"


# --- one way to make a model -----------------------------------------------------------------------------------


def test_create_model_loads_speciesnet_and_packages_by_path(sn_folder, timm_model, tmp_path, monkeypatch):
    from wildeye.models.factory import create_model, load_model
    from wildeye.models.kinds import sniff_kind

    monkeypatch.setenv("WILDEYE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("WILDEYE_REGISTRY", raising=False)
    assert sniff_kind(sn_folder) == "speciesnet" and sniff_kind(sn_folder / f"{MODEL_STEM}.pt") == "speciesnet"
    sn = create_model(sn_folder, "classifier")
    assert (sn.kind, sn.labels, sn.image_size, sn.source) == ("speciesnet", LABELS, 480, "path")
    assert sn.files["classifier"] == sn_folder / f"{MODEL_STEM}.pt" and sn.metadata["model_type"] == "always_crop"
    assert sn.typical_threshold == 0.8  # the registry's SpeciesNet defaults, for a SpeciesNet folder given by path

    folder = pkg.save_package(tmp_path / "pkg", timm_model, ["a", "b", "c"], input_size=64)
    assert sniff_kind(folder) == "wildeye-package"
    loaded = load_model(folder, role="classifier")
    assert (loaded.kind, loaded.labels, loaded.image_size) == ("wildeye-package", ["a", "b", "c"], 64)
    with pytest.raises(WildeyeError, match="is a wildeye-package model, not a megadetector model"):
        create_model(folder, "detector")
    with pytest.raises(ValueError, match="role must be one of"):
        create_model(folder, "segmenter")
