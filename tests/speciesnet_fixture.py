"""Build a tiny SpeciesNet-format classifier the way Google builds theirs: PyTorch -> ONNX -> onnx2torch -> torch.save.

The real one is EfficientNetV2-M over ~2,500 labels; this one is a few convolutions over five labels, with the same
interface (NHWC float input in [0, 1], logits out) and the same folder layout (info.json, <name>.pt,
<name>.labels.txt), so the loader, the restricted unpickler and the preprocessing run on the real code path.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import torch
from torch import nn

MODEL_STEM = "always_crop_tiny_test_epoch_00001"


def _label(common: str, ranks: str) -> str:
    return f"{uuid.uuid5(uuid.NAMESPACE_URL, common)};{ranks};{common}"


# Same strings as SpeciesNet's constants for blank/human/animal; two Himalayan species with real taxonomy.
LABELS = [
    _label("snow leopard", "mammalia;carnivora;felidae;panthera;uncia"),
    _label("blue sheep", "mammalia;artiodactyla;bovidae;pseudois;nayaur"),
    "f1856211-cfb7-4a5b-9158-c0f72fd09ee6;;;;;;blank",
    "990ae9dd-7a59-4344-afcb-1b7b21368000;mammalia;primates;hominidae;homo;sapiens;human",
    "1f689929-883d-4dae-958c-3d57ab5b6c16;;;;;;animal",
]


class TinyNHWC(nn.Module):
    """Keras-style input (N, H, W, C); uses Div, Add and Split so the graph holds the globals real models do."""

    def __init__(self, num_classes: int = len(LABELS)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=4, padding=1), nn.BatchNorm2d(8), nn.SiLU())
        self.body = nn.Sequential(nn.Conv2d(8, 16, 3, stride=4, padding=1), nn.ReLU())
        self.head = nn.Linear(16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem((x.permute(0, 3, 1, 2) - 0.5) / 0.25)
        x = self.body(x)
        a, b = torch.split(x, 8, dim=1)
        x = torch.cat([a + b, a, b], dim=1)[:, :16]
        return self.head(x.mean(dim=(2, 3)))


def make_tiny_model(seed: int = 0) -> TinyNHWC:
    torch.manual_seed(seed)
    model = TinyNHWC().eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so folding them into the conv matters
        model.stem[1].running_mean.uniform_(-0.2, 0.2)
        model.stem[1].running_var.uniform_(0.5, 1.5)
    return model


def convert_with_onnx2torch(model: nn.Module, onnx_path: Path, size: int = 480) -> nn.Module:
    """Export to ONNX (batch dimension dynamic) and convert back with onnx2torch, as Google did for SpeciesNet 5."""
    import onnx
    from onnx2torch import convert

    example = torch.rand(1, size, size, 3)
    torch.onnx.export(model, (example,), str(onnx_path), dynamo=False, opset_version=17, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return convert(onnx.load(str(onnx_path))).eval()


def write_speciesnet_folder(folder: Path, model: nn.Module, labels: list[str] = LABELS) -> Path:
    """A model folder laid out like Google's Kaggle release (speciesnet/utils.py `ModelInfo` reads info.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    converted = convert_with_onnx2torch(model, folder / "model.onnx")
    (folder / "model.onnx").unlink()
    torch.save(converted, folder / f"{MODEL_STEM}.pt")
    (folder / f"{MODEL_STEM}.labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    info = {
        "version": "4.0.3a-test",
        "type": "always_crop",
        "classifier": f"{MODEL_STEM}.pt",
        "classifier_labels": f"{MODEL_STEM}.labels.txt",
        "detector": "md_v5a.0.0.pt",
        "taxonomy": "taxonomy_release.txt",
        "geofence": "geofence_release.json",
    }
    (folder / "info.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return folder
