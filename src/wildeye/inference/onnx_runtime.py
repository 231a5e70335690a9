"""ONNX Runtime on the CPU: the same fp32 arithmetic as PyTorch, in fewer CPU seconds per frame and per crop.

A loaded network (the fused fp32 YOLOv5, or a classifier's module, SpeciesNet's onnx2torch graph included) is
exported once with `torch.onnx.export` (TorchScript exporter, opset 17; batch, and for the detector height and
width, dynamic) and cached under the model cache as `compiled/<kind>-<digest>.onnx`, written atomically and keyed
by a digest of the module's structure and weights, so a model is exported on its first run only, whatever its
file is called. The detector's graph takes the letterboxed uint8 NCHW batch as it is and divides by 255 itself, as
`Detector.predict` does, and returns the network's (batch, boxes, 5 + nc) float32 output, so NMS and box rounding
stay wildeye's own; a classifier's graph takes the float32 batch its `preprocess` makes.

ONNX Runtime's CPU kernels (MLAS, NCHWc convolutions) do the same float32 sums in another order: answers equal
PyTorch's within float rounding, not bit for bit (scripts/megadetector_parity.py --runtime onnxruntime and
scripts/bench_classifier.py print the agreement). Threads: `intra_op_num_threads` is torch's thread count, and idle
threads sleep instead of spinning (`session.intra_op.allow_spinning` 0), leaving the cores to the decode workers
between frames: on a loaded 2-core machine spinning cost up to 2x in wall time (measured).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from wildeye.errors import WildeyeError

logger = logging.getLogger(__name__)

EXPORT_FORMAT = 1  # bump when the exported graph changes meaning (inputs, outputs, opset): old files are ignored
OPSET = 17
COMPILED_DIR = "compiled"


def available() -> bool:
    """Whether the onnxruntime package can be imported (it is a dependency; a broken install falls back)."""
    try:
        import onnxruntime  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def network_digest(model, tag: str = "") -> str:
    """sha256 of the module's structure and every weight and buffer: the cache key.

    Hashing the tensors rather than the model file keys the cache on what runs: the same weights under another
    file name share one export, and a module changed in memory (fused, rescaled) never reuses a stale one.
    """
    import torch  # noqa: PLC0415

    digest = hashlib.sha256()
    digest.update(f"wildeye-onnx-{EXPORT_FORMAT}-opset{OPSET}-{tag}".encode())
    digest.update(json.dumps(getattr(model, "yaml", None), sort_keys=True, default=str).encode())
    digest.update(repr(model).encode())
    for name, tensor in sorted(model.state_dict().items()):
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{name}{tuple(data.shape)}{data.dtype}".encode())
        digest.update(data.view(-1).view(dtype=torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def compiled_path(model, cache_dir: str | Path | None = None, tag: str = "yolov5") -> Path:
    """Where the export of `model` lives: `<cache>/compiled/<tag>-<digest>.onnx`."""
    from wildeye.models.cache import cache_dir as default_cache  # noqa: PLC0415

    folder = Path(cache_dir) if cache_dir is not None else default_cache() / COMPILED_DIR
    return folder / f"{tag}-{network_digest(model, tag)[:32]}.onnx"


def _uint8_input(model):
    """The network behind the same input step as `Detector.predict`: uint8 NCHW -> float32 / 255."""
    import torch  # noqa: PLC0415

    class Uint8Input(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x.float() / 255.0)

    return Uint8Input(model).eval()


def export(module, dest: Path, sample, dynamic_axes: dict[int, str]) -> Path:
    """Write `module` (eval mode) as an ONNX graph with input "input" and output "output" at `dest`,
    atomically; `dynamic_axes` names the input's axes that may change. Returns `dest`."""
    import warnings  # noqa: PLC0415

    import torch  # noqa: PLC0415

    from wildeye.atomic import atomic_path  # noqa: PLC0415

    with atomic_path(dest) as tmp, warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # TracerWarnings about shape arithmetic: tests check other shapes
        torch.onnx.export(module, (sample,), str(tmp), dynamo=False, opset_version=OPSET,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": dynamic_axes, "output": {0: "batch"}})
    return dest


def export_detector(model, dest: Path, sample_shape: tuple[int, int] = (640, 640)) -> Path:
    """A YOLOv5 (fp32, fused, eval) as ONNX: uint8 NCHW letterboxed frames in, (batch, boxes, 5 + nc) out."""
    import torch  # noqa: PLC0415

    detect = model.detect
    detect.grid = [torch.empty(0) for _ in range(detect.nl)]  # a cached grid would be baked in as a constant
    sample = torch.full((1, 3, *sample_shape), 114, dtype=torch.uint8)
    try:
        return export(_uint8_input(model), dest, sample, {0: "batch", 2: "height", 3: "width"})
    finally:
        detect.grid = [torch.empty(0) for _ in range(detect.nl)]


def session(path: Path, threads: int | None = None):
    """An InferenceSession on the CPU: all graph optimisations, `threads` intra-op threads that sleep when idle."""
    import onnxruntime as ort  # noqa: PLC0415

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxNetwork:
    """A network as an ONNX Runtime session on the CPU: numpy batch in, float32 torch tensor out.

    `export_to(path)` writes the export when the cache has none (or an unreadable one); the session then loads
    it. The detector's graph takes uint8 frames (`for_detector`), a classifier's its float32 batch.
    """

    def __init__(self, path: Path, export_to, *, threads: int | None = None, input_dtype=np.float32):
        import torch  # noqa: PLC0415

        if not available():
            raise WildeyeError("runtime onnxruntime needs the onnxruntime package",
                               "pip install onnxruntime, or set runtime: torch")
        self.path = Path(path)
        self.input_dtype = input_dtype
        self.threads = int(threads or torch.get_num_threads())
        self.exported = False
        if not self.path.is_file():
            logger.info("exporting the network to ONNX (once per model): %s", self.path)
            export_to(self.path)
            self.exported = True
        try:
            self.session = session(self.path, self.threads)
        except Exception as exc:  # a damaged cache file (a disk error): export again, once
            if self.exported:
                raise
            logger.warning("cached ONNX export %s unreadable (%s): exporting again", self.path, exc)
            export_to(self.path)
            self.exported = True
            self.session = session(self.path, self.threads)

    @classmethod
    def for_detector(cls, model, *, cache_dir: str | Path | None = None, threads: int | None = None) -> OnnxNetwork:
        return cls(compiled_path(model, cache_dir, "yolov5"), lambda dest: export_detector(model, dest),
                   threads=threads, input_dtype=np.uint8)

    @classmethod
    def for_classifier(cls, module, sample, *, dynamic_axes: dict[int, str] | None = None,
                       cache_dir: str | Path | None = None, threads: int | None = None) -> OnnxNetwork:
        """`sample`: one float32 batch as the classifier's preprocess makes it (its shape fixes the crop size)."""
        return cls(compiled_path(module, cache_dir, "classifier"),
                   lambda dest: export(module, dest, sample, dynamic_axes or {0: "batch"}), threads=threads)

    def __call__(self, batch) -> Any:
        import torch  # noqa: PLC0415

        array = batch.numpy() if hasattr(batch, "numpy") else batch
        out = self.session.run(None, {"input": np.ascontiguousarray(array, dtype=self.input_dtype)})[0]
        return torch.from_numpy(out)
