"""Make tests/fixtures/speciesnet_keras/: a small classifier converted the way Google converted SpeciesNet v4.0.x.

SpeciesNet's published classifier (e.g. `always_crop_99710272_22x8_v12_epoch_00148.pt`) is a Keras EfficientNetV2-M
taken through tf2onnx and onnx2torch, then `torch.save`d as the whole onnx2torch GraphModule; speciesnet 5.x loads it
with `torch.load(path, weights_only=False)`, feeds NHWC float32 in [0, 1] at 480x480 and applies softmax itself (the
model returns logits). This script repeats that chain for real on a small model built from the same Keras blocks
(`keras.applications.efficientnet_v2.EfficientNetV2` with its own preprocessing layer, stem, Fused-MBConv blocks,
MBConv blocks with squeeze-excitation, top conv, global average pooling, dense head; random weights), so wildeye's
restricted unpickler is tested on the globals and FX code such a file really contains.

    python3.11 scripts/make_speciesnet_keras_fixture.py                  # venv in ~/.cache/wildeye-fixture-venv
    python3.11 scripts/make_speciesnet_keras_fixture.py --venv /tmp/fx --out /tmp/speciesnet_keras

It creates (or reuses) a virtual environment with the pinned versions below, then runs two stages in it, each in
its own process: `keras` (build the model, compute the expected outputs with TensorFlow itself, export with tf2onnx)
and `torch` (onnx2torch.convert, torch.save of the whole module, a check that the saved file reproduces
TensorFlow's outputs under a plain `torch.load`). Outputs (all committed):

    always_crop_keras_tiny_epoch_00001.pt          the onnx2torch GraphModule, torch.save'd whole
    always_crop_keras_tiny_epoch_00001.labels.txt  SpeciesNet's `uuid;class;order;family;genus;species;common name`
    info.json                                      SpeciesNet's ModelInfo keys
    frame.png                                      a small camera-like frame for the preprocessing-path test
    expected.npz                                   TensorFlow's logits/softmax: `grid` (uint8 60x60 cells, each
                                                   repeated 8x8 and divided by 255 = the 480x480 input), `grid_logits`,
                                                   `grid_softmax`; `bboxes`, `crop_sha256` (SpeciesNet 5.0.6's
                                                   always_crop preprocessing of frame.png, as bytes), `crop_logits`,
                                                   `crop_softmax`

Versions (Python 3.11, all from PyPI; tensorflow-cpu 2.15 is the last with Keras 2 built in, which tf2onnx 1.16.1
was tested with): see PINS. On our 2-core machine the venv's first install took 77 s (about 4.5 GB, mostly CUDA
torch and its libraries, which onnx2torch's torchvision dependency needs), and generation itself 15-30 s; the .pt is
0.98 MB, the whole folder 1.05 MB. The onnx graph holds Transpose, Conv, Sigmoid, Mul, Add, GlobalAveragePool,
Squeeze, Reshape, MatMul (tf2onnx folds BatchNorm into the convs); onnx2torch turns them into torch.nn and onnx2torch
modules, and the GraphModule's forward calls them by `getattr(self, "efficientnetv2-m/...")`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "fixtures" / "speciesnet_keras"
DEFAULT_VENV = Path.home() / ".cache" / "wildeye-fixture-venv"
PINS = [
    "tensorflow-cpu==2.15.1",
    "tf2onnx==1.16.1",
    "onnx==1.16.2",
    "protobuf==3.20.3",
    "numpy==1.26.4",
    "onnx2torch==1.5.15",
    "torch==2.14.1",
    "torchvision==0.29.1",
    "pillow==11.3.0",
]
STEM = "always_crop_keras_tiny_epoch_00001"
SIZE = 480  # SpeciesNetClassifier.IMG_SIZE
OPSET = 15  # tf2onnx 1.16's default
SEED = 148


def _label(common: str, ranks: str) -> str:
    return f"{uuid.uuid5(uuid.NAMESPACE_URL, 'wildeye-fixture/' + common)};{ranks};{common}"


# SpeciesNet's own blank/human/animal rows; the others with real taxonomy.
LABELS = [
    _label("snow leopard", "mammalia;carnivora;felidae;panthera;uncia"),
    _label("blue sheep", "mammalia;artiodactyla;bovidae;pseudois;nayaur"),
    _label("red fox", "mammalia;carnivora;canidae;vulpes;vulpes"),
    "f1856211-cfb7-4a5b-9158-c0f72fd09ee6;;;;;;blank",
    "990ae9dd-7a59-4344-afcb-1b7b21368000;mammalia;primates;hominidae;homo;sapiens;human",
    "1f689929-883d-4dae-958c-3d57ab5b6c16;;;;;;animal",
]

# EfficientNetV2-M's block table (keras efficientnet_v2.DEFAULT_BLOCKS_ARGS["efficientnetv2-m"]) cut to one or two
# repeats and narrow filters: Fused-MBConv without and with expansion, then MBConv with squeeze-excitation, strided
# and not, so every block type and the residual paths of both are present.
BLOCKS_ARGS = [
    {"kernel_size": 3, "num_repeat": 1, "input_filters": 16, "output_filters": 16, "expand_ratio": 1,
     "se_ratio": 0.0, "strides": 1, "conv_type": 1},
    {"kernel_size": 3, "num_repeat": 2, "input_filters": 16, "output_filters": 24, "expand_ratio": 4,
     "se_ratio": 0.0, "strides": 2, "conv_type": 1},
    {"kernel_size": 3, "num_repeat": 2, "input_filters": 24, "output_filters": 40, "expand_ratio": 4,
     "se_ratio": 0.25, "strides": 2, "conv_type": 0},
    {"kernel_size": 3, "num_repeat": 2, "input_filters": 40, "output_filters": 56, "expand_ratio": 6,
     "se_ratio": 0.25, "strides": 1, "conv_type": 0},
]
# The frame for the preprocessing-path test, and boxes (x_min, y_min, width, height; normalized) on it.
FRAME_SIZE = (160, 120)
BBOXES = [(0.1, 0.2, 0.5, 0.5), (0.333, 0.05, 0.21, 0.77), (0.0, 0.0, 1.0, 1.0)]


# --- outside the venv ------------------------------------------------------------------------------------------


def ensure_venv(venv: Path) -> Path:
    """Create the venv and install PINS unless a previous run left the same pins there."""
    python = venv / "bin" / "python"
    marker = venv / "wildeye-fixture-pins.txt"
    wanted = "\n".join(PINS) + "\n"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
    marker.write_text(wanted)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="virtual environment to create or reuse")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="fixture folder to write")
    parser.add_argument("--stage", choices=("keras", "torch"), help=argparse.SUPPRESS)  # inside the venv
    args = parser.parse_args()
    if args.stage == "keras":
        return stage_keras(args.out)
    if args.stage == "torch":
        return stage_torch(args.out)

    start = time.monotonic()
    python = ensure_venv(args.venv.expanduser())
    print(f"venv ready ({time.monotonic() - start:.0f} s)", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    for stage in ("keras", "torch"):
        subprocess.run([str(python), __file__, "--stage", stage, "--out", str(args.out)], check=True, env=env)
    (args.out / "model.onnx").unlink(missing_ok=True)
    sizes = {p.name: p.stat().st_size for p in sorted(args.out.iterdir())}
    print(json.dumps(sizes, indent=1))
    print(f"done in {time.monotonic() - start:.0f} s; {sum(sizes.values()) / 1e6:.2f} MB in {args.out}")


# --- stage 1, inside the venv: Keras -> expected outputs -> tf2onnx ---------------------------------------------


def build_keras_model():
    """EfficientNetV2 from Keras's own code, taking SpeciesNet's [0, 1] NHWC input, returning logits."""
    import numpy as np
    import tensorflow as tf
    from keras.src.applications import efficientnet_v2

    tf.keras.utils.set_random_seed(SEED)
    inputs = tf.keras.Input((SIZE, SIZE, 3), name="input", dtype="float32")
    # Keras's include_preprocessing expects [0, 255] (Rescaling(1/128, offset=-1)); SpeciesNet feeds [0, 1].
    scaled = tf.keras.layers.Rescaling(255.0, name="to_0_255")(inputs)
    model = efficientnet_v2.EfficientNetV2(
        width_coefficient=1.0, depth_coefficient=1.0, default_size=SIZE, blocks_args=BLOCKS_ARGS,
        model_name="efficientnetv2-m", include_top=True, weights=None, input_tensor=scaled,
        classes=len(LABELS), classifier_activation=None, include_preprocessing=True)
    rng = np.random.default_rng(SEED)
    for layer in model.layers:  # non-trivial BatchNorm statistics, so folding them into the convs is exercised
        if isinstance(layer, tf.keras.layers.Dense):  # a trained head has a bias (its Add stays in the graph) and
            kernel, bias = layer.get_weights()  # a wide kernel (so different inputs give clearly different scores)
            layer.set_weights([kernel * 4, rng.uniform(-0.5, 0.5, bias.shape).astype("float32")])
        elif isinstance(layer, tf.keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                               rng.uniform(-0.2, 0.2, beta.shape).astype("float32"),
                               rng.uniform(-0.2, 0.2, mean.shape).astype("float32"),
                               rng.uniform(0.5, 1.5, var.shape).astype("float32")])
    return model


def make_frame():
    """A deterministic RGB frame with structure (gradients + noise)."""
    import numpy as np

    width, height = FRAME_SIZE
    rng = np.random.default_rng(SEED)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 // (width - 1), yy * 255 // (height - 1), (3 * xx + 2 * yy) % 256], axis=-1)
    return np.clip(base + rng.integers(-40, 40, base.shape), 0, 255).astype(np.uint8)


def speciesnet_preprocess(path: Path, bbox) -> "np.ndarray":  # noqa: F821
    """speciesnet 5.0.6 `SpeciesNetClassifier.preprocess` (always_crop) then `batch_predict`'s `/ 255.0`."""
    import numpy as np
    import PIL.Image
    import torch
    import torchvision.transforms.functional as F

    img = PIL.Image.open(path).convert("RGB")
    img_tensor = F.convert_image_dtype(F.pil_to_tensor(img), torch.float32)
    xmin, ymin, width, height = bbox
    crop = F.crop(img_tensor, int(ymin * img.height), int(xmin * img.width), int(height * img.height),
                  int(width * img.width))
    crop = F.resize(crop, [SIZE, SIZE], antialias=False)
    crop = F.convert_image_dtype(crop, torch.uint8).permute([1, 2, 0])
    return np.stack([crop.numpy() / 255.0], axis=0, dtype=np.float32)


def grid_input(grid):
    import numpy as np

    return (np.repeat(np.repeat(grid, SIZE // grid.shape[1], axis=1), SIZE // grid.shape[2], axis=2) / 255.0
            ).astype(np.float32)


def stage_keras(out: Path) -> None:
    import numpy as np
    import PIL.Image
    import tensorflow as tf
    import tf2onnx

    model = build_keras_model()
    print(f"keras: {model.count_params():,} parameters, {len(model.layers)} layers", flush=True)

    def predict(x):
        logits = model(tf.constant(x), training=False).numpy()
        return logits, tf.nn.softmax(logits, axis=-1).numpy()

    grid = np.random.default_rng(SEED).integers(0, 256, (2, 60, 60, 3), dtype=np.uint8)
    grid_logits, grid_softmax = predict(grid_input(grid))
    PIL.Image.fromarray(make_frame()).save(out / "frame.png", optimize=True)
    crops = np.concatenate([speciesnet_preprocess(out / "frame.png", bbox) for bbox in BBOXES])
    crop_logits, crop_softmax = predict(crops)
    np.savez_compressed(
        out / "expected.npz", grid=grid, grid_logits=grid_logits, grid_softmax=grid_softmax,
        bboxes=np.array(BBOXES, dtype=np.float64), crop_sha256=np.array([hashlib.sha256(c.tobytes()).hexdigest()
                                                                          for c in crops]),
        crop_logits=crop_logits, crop_softmax=crop_softmax)

    spec = (tf.TensorSpec((None, SIZE, SIZE, 3), tf.float32, name="input"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET, output_path=str(out / "model.onnx"))
    (out / f"{STEM}.labels.txt").write_text("\n".join(LABELS) + "\n", encoding="utf-8")
    info = {"version": "4.0.3a-keras-test", "type": "always_crop", "classifier": f"{STEM}.pt",
            "classifier_labels": f"{STEM}.labels.txt", "detector": "md_v5a.0.0.pt",
            "taxonomy": "taxonomy_release.txt", "geofence": "geofence_release.json"}
    (out / "info.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    versions = {"tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__, "opset": OPSET}
    print(f"keras: wrote expected outputs and model.onnx ({versions})", flush=True)


# --- stage 2, inside the venv: onnx2torch -> torch.save(whole module) --------------------------------------------


def stage_torch(out: Path) -> None:
    import collections
    import importlib.metadata

    import numpy as np
    import onnx
    import onnx2torch
    import torch

    onnx_model = onnx.load(str(out / "model.onnx"))
    ops = collections.Counter(node.op_type for node in onnx_model.graph.node)
    print(f"onnx ops: {dict(sorted(ops.items()))}", flush=True)
    module = onnx2torch.convert(onnx_model)
    torch.save(module, out / f"{STEM}.pt")  # the whole GraphModule, as SpeciesNet's release is

    expected = np.load(out / "expected.npz")
    reloaded = torch.load(out / f"{STEM}.pt", weights_only=False).eval()  # what speciesnet 5.x does
    with torch.no_grad():
        got = reloaded(torch.from_numpy(grid_input(expected["grid"]))).numpy()
    worst = float(np.abs(got - expected["grid_logits"]).max())
    versions = f"torch {torch.__version__}, onnx2torch {importlib.metadata.version('onnx2torch')}"
    print(f"{versions}: max |torch - tensorflow| logit {worst:.2e}", flush=True)
    if worst > 1e-4:
        sys.exit(f"converted model disagrees with TensorFlow by {worst}")


if __name__ == "__main__":
    main()
