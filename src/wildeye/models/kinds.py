"""What a model file or folder is, decided in one place (`sniff_kind`), plus the cheap format checks around it.

Every path that reaches wildeye without a registry entry (`--detector ./x.pt`, `wildeye models import`,
`wildeye train`'s `model.weights`) is classified here and nowhere else, by the layout each publisher documents:

- a folder with `model.json`: a wildeye package (wildeye.models.package);
- a folder with `info.json` (SpeciesNet's `ModelInfo`, speciesnet/utils.py), directly or in its only subfolder as
  archives often wrap it, or with a `.pt` file: SpeciesNet;
- `.safetensors`: timm weights (tensors only);
- a pickle naming onnx2torch / torch.fx classes (read from its opcodes, never unpickled): SpeciesNet's classifier;
- any other checkpoint: a YOLOv5-format MegaDetector.

A role ("detector" / "classifier") narrows the answer where the bytes cannot tell.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from wildeye.errors import WildeyeError
from wildeye.models.registry import KINDS, ROLES, archive_format

PACKAGE_INFO = "model.json"  # wildeye.models.package.INFO_FILE
SPECIESNET_INFO = "info.json"  # speciesnet/utils.py ModelInfo
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".bin")


def sniff_kind(path: str | Path, accepted: tuple[str, ...] | None = None) -> str | None:
    """The kind (from registry.KINDS) of a file or folder, or None for a folder that is no model.

    `accepted`: the kinds the caller can use (a role's kinds); a single one is taken at its word for a file.
    """
    path = Path(path)
    if path.is_dir():
        if (path / PACKAGE_INFO).is_file():
            return "wildeye-package"
        if speciesnet_info_folder(path) is not None or any(path.glob("*.pt")):
            return "speciesnet"
        return None
    if archive_format(path.name) or (path.suffix.lower() not in CHECKPOINT_SUFFIXES and _is_tar(path)):
        return "speciesnet"  # the only kind shipped as an archive (Kaggle's has no suffix); checked once unpacked
    if accepted and len(accepted) == 1:
        return accepted[0]
    if path.suffix.lower() == ".safetensors":
        return "timm"
    if accepted and "megadetector" not in accepted:
        return "speciesnet"  # a classifier .pt: SpeciesNet's loader finds the labels file beside it
    if any(g.startswith(("onnx2torch.", "torch.fx.")) for g in pickled_globals(path) or ()):
        return "speciesnet"  # a pickled onnx2torch GraphModule, as SpeciesNet ships its classifier
    return "megadetector"


def accepted_kinds(kind) -> tuple[str, ...] | None:
    """A kind, a role ("detector", "classifier") or several -> the kinds they accept; None accepts any."""
    if kind is None:
        return None
    names = [kind] if isinstance(kind, str) else list(kind)
    out: list[str] = []
    for k in names:
        if k in ROLES:
            out.extend(ROLES[k])
        elif k in KINDS:
            out.append(k)
        else:
            raise ValueError(f"kind must be one of {', '.join((*KINDS, *ROLES))}, not {k!r}")
    return tuple(dict.fromkeys(out))


def is_package(path: str | Path) -> bool:
    return Path(path).is_dir() and sniff_kind(path) == "wildeye-package"


def is_speciesnet_path(path: str | Path) -> bool:
    """True for a SpeciesNet folder (info.json, or a .pt + labels file) or a .pt file."""
    path = Path(path)
    if path.is_file():
        return path.suffix == ".pt"
    return path.is_dir() and sniff_kind(path) == "speciesnet"


def speciesnet_info_folder(folder: Path) -> Path | None:
    """The folder holding info.json: this one, or its only subfolder (archives often wrap their files in one)."""
    if (folder / SPECIESNET_INFO).is_file():
        return folder
    subs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if len(subs) == 1 and (subs[0] / SPECIESNET_INFO).is_file():
        return subs[0]
    return None


def check_model_folder(folder: Path, kind: str) -> None:
    """A folder about to enter the cache as `kind` has that kind's layout."""
    if kind == "speciesnet" and not (folder / SPECIESNET_INFO).is_file() and not any(folder.glob("*.pt")):
        raise WildeyeError(f"{folder.name} has no info.json and no .pt file: not a SpeciesNet model folder",
                           "use the archive from the SpeciesNet Kaggle page, unchanged")
    if kind == "wildeye-package" and not (folder / PACKAGE_INFO).is_file():
        raise WildeyeError(f"{folder.name} has no model.json: not a wildeye package", "export it with 'wildeye train'")


def check_checkpoint_format(path: Path) -> str:
    """A model file is a torch.save zip, a pickle, or safetensors; a login page or a truncated file is not."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"PK\x03\x04"):
        return "torch zip"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{" and 0 < int.from_bytes(head[:8], "little") < (100 << 20):
        return "safetensors"
    shown = head[:12].decode("latin-1").encode("unicode_escape").decode()
    what = "is empty" if not head else f"does not look like a model checkpoint (it starts with '{shown}')"
    raise WildeyeError(f"{path.name} {what}", "get the file again from its source")


def sniff_archive(path: Path) -> str:
    """tar.gz, zip or tar, from the bytes (a server's file name or content type may say otherwise)."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"\x1f\x8b"):
        return "tar.gz"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head[257:262] == b"ustar":
        return "tar"
    raise WildeyeError(f"{path.name} is not an archive (tar.gz, tar or zip)", "download it again")


def _is_tar(path: Path) -> bool:
    """A tar or tar.gz whatever its name (a zip without .zip is a torch checkpoint, not an archive)."""
    try:
        return sniff_archive(path) != "zip"
    except (WildeyeError, OSError):
        return False


def pickle_bytes(path: Path) -> bytes | None:
    """The pickle inside a torch.save zip (its one data.pkl), or a legacy pickle file's bytes; None otherwise."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                pickles = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/data.pkl")]
                return archive.read(pickles[0]) if len(pickles) == 1 else None
        with open(path, "rb") as f:
            head = f.read(2)
        return path.read_bytes() if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5 else None
    except (OSError, zipfile.BadZipFile):
        return None


def pickled_globals(path: Path) -> list[str] | None:
    """The globals a pickled model names, read from its opcodes without unpickling; None if it is unreadable."""
    from wildeye.models.safe_pickle import MalformedPickleError, pickle_globals

    data = pickle_bytes(path)
    if data is None:
        return None
    try:
        return pickle_globals(data)
    except MalformedPickleError:
        return None
