"""Pick the accelerator: CUDA, then Apple MPS, then CPU, unless the user names one."""

from __future__ import annotations

from wildeye.errors import ConfigError


def select_device(requested: str = "auto"):
    import torch

    name = (requested or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {requested!r}", "use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {requested!r} requested but no CUDA GPU is available", "use --device cpu or auto")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {requested!r} requested but MPS is not available", "use --device cpu or auto")
    return device
