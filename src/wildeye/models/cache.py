"""The model cache: the folder that holds downloaded and imported models, and what is in it.

Layout under the cache root (platform default, $WILDEYE_CACHE_DIR, or `wildeye models --cache-dir`):

    models/md_v5a.0.1.pt                  a registry model, under its published file name
    models/speciesnet-v4.0.3a/            a registry model shipped as an archive, unpacked
    models/imported/NAME/...              models added with `wildeye models import --name NAME`
    models/index.json                     the imported models, and the sha256 of files trusted with
                                          `import --trust` (written atomically)
    models/NAME.part                      a download in progress (resumed by the next pull)

Everything is placed by rename from a temporary name in the same folder, so a model in the cache is always whole
and already verified: nothing here is re-hashed on use.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from wildeye.atomic import atomic_path, write_json_atomic
from wildeye.errors import ConfigError, WildeyeError
from wildeye.models.kinds import (CHECKPOINT_SUFFIXES, check_checkpoint_format, check_model_folder, pickle_bytes,
                                  sniff_archive, sniff_kind)
from wildeye.models.registry import NAME_PATTERN, ModelSpec, Registry, archive_format, strip_archive_suffix

ENV_CACHE_DIR = "WILDEYE_CACHE_DIR"
INDEX_NAME = "index.json"
INDEX_FORMAT = 1
LOCKS_DIR = ".locks"  # lock files stay (removing one races with a process waiting on it); kept out of sight here


def default_cache_dir() -> Path:
    """The per-user cache folder as platformdirs picks it ($XDG_CACHE_HOME/wildeye, ~/Library/Caches/wildeye,
    %LOCALAPPDATA%\\wildeye\\Cache); imported here, not at the top, so `import wildeye` stays fast."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("wildeye", appauthor=False))


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """--cache-dir, else $WILDEYE_CACHE_DIR, else the platform default."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get(ENV_CACHE_DIR)
    return Path(env).expanduser() if env else default_cache_dir()


@contextmanager
def file_lock(path: Path):
    """An exclusive lock between processes (two pulls of one model wait for each other, not corrupt a .part)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; the rename-into-place is still atomic
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class ModelCache:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = cache_dir(root).absolute()
        self.models_dir = self.root / "models"
        self.index_path = self.models_dir / INDEX_NAME

    def __repr__(self) -> str:
        return f"ModelCache({str(self.root)!r})"

    def path_for(self, spec: ModelSpec) -> Path:
        """Where this model lives (or would live) in the cache."""
        if spec.source == "imported" and spec.path:
            return self.models_dir / spec.path
        return self.models_dir / spec.cache_name

    def download_path(self, spec: ModelSpec) -> Path:
        """Where the download itself goes (for archives: the archive, unpacked afterwards)."""
        return self.models_dir / spec.download_name

    def cached_path(self, spec: ModelSpec) -> Path | None:
        path = self.path_for(spec)
        return path if path.exists() else None  # exists() follows links: a dangling --link is not cached

    def status(self, spec: ModelSpec) -> dict:
        path = self.path_for(spec)
        cached = path.exists()
        return {"cached": cached, "path": str(path) if cached else None, "size": disk_size(path) if cached else None,
                "broken_link": path.is_symlink() and not cached, "link": path.is_symlink()}

    def ensure_writable(self) -> None:
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
            probe = self.models_dir / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise WildeyeError(f"cannot write to the model cache {self.root}: {exc.strerror or exc}",
                               "pass --cache-dir or set WILDEYE_CACHE_DIR to a writable folder") from None

    def lock(self, name: str):
        return file_lock(self.models_dir / LOCKS_DIR / f"{name}.lock")

    # --- the index of imported models ---

    def _read_index(self) -> dict:
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"format": INDEX_FORMAT, "models": {}}
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"model cache index {self.index_path} is unreadable: {exc}",
                              "fix it or delete it and import the models again") from None
        if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
            raise ConfigError(f"model cache index {self.index_path} has no 'models' object",
                              "fix it or delete it and import the models again")
        return data

    def imported_specs(self) -> list[ModelSpec]:
        data = self._read_index()
        return [ModelSpec.from_dict({**entry, "name": name, "source": "imported"}, where=f"{self.index_path} {name}")
                for name, entry in data["models"].items()]

    def record_import(self, spec: ModelSpec) -> None:
        with self.lock("index"):
            data = self._read_index()
            entry = spec.to_dict()
            entry.pop("name")
            data["models"][spec.name] = entry
            write_json_atomic(self.index_path, data)

    def trust(self, sha256: str, file: str, model: str) -> None:
        """Record that the user vouched for the file with this sha256 (`wildeye models import --trust`)."""
        with self.lock("index"):
            data = self._read_index()
            trusted = data.get("trusted") if isinstance(data.get("trusted"), dict) else {}
            trusted[sha256] = {"file": file, "model": model,
                               "trusted_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            data["trusted"] = trusted
            write_json_atomic(self.index_path, data)

    def is_trusted(self, sha256: str) -> bool:
        trusted = self._read_index().get("trusted")
        return isinstance(trusted, dict) and sha256 in trusted

    def forget_import(self, name: str) -> None:
        with self.lock("index"):
            data = self._read_index()
            if data["models"].pop(name, None) is not None:
                write_json_atomic(self.index_path, data)


def trusted_by_cache(sha256: str) -> bool:
    """Whether `wildeye models import --trust` vouched for a file with this sha256, in the cache `wildeye run` uses.

    The loaders take this as their `trusted` argument (they never read the cache themselves).
    """
    return ModelCache().is_trusted(sha256)


def file_digests(path: str | os.PathLike, chunk: int = 1 << 20) -> dict[str, str]:
    """md5 (what MegaDetector publishes) and sha256 of a file, in one pass."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            md5.update(block)
            sha.update(block)
    return {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def disk_size(path: Path) -> int:
    """Bytes of a file, or of everything in a folder (following the top-level link of a --link import)."""
    try:
        if path.is_file():
            return path.stat().st_size
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    except OSError:
        return 0


# --- placing things atomically ---------------------------------------------------------------------------------------

def swap_into_place(new: Path, dest: Path) -> None:
    """Rename `new` (file, folder or link, same filesystem) to `dest`, replacing what is there."""
    if new.is_dir() and not new.is_symlink() and (dest.exists() or dest.is_symlink()):
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
        os.replace(new, dest)
        _remove(old)
    else:
        if dest.is_dir() and not dest.is_symlink():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.replace(dest, old)
            os.replace(new, dest)
            _remove(old)
        else:
            os.replace(new, dest)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def copy_file_atomic(src: Path, dest: Path) -> None:
    """A copy that appears whole or not at all (wildeye.atomic: the umask's mode, fsynced file and folder); a
    folder where the file goes (an earlier import of another kind) is swapped out first."""
    if dest.is_dir() and not dest.is_symlink():
        _remove(dest)
    with atomic_path(dest) as tmp, open(tmp, "wb") as out, open(src, "rb") as inp:
        shutil.copyfileobj(inp, out, 1 << 20)


def copy_tree_atomic(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        shutil.copytree(src, tmp / "tree", symlinks=False)
        swap_into_place(tmp / "tree", dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def link_atomic(target: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.link-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp, target_is_directory=target.is_dir())
    try:
        swap_into_place(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def unpack_archive_atomic(archive: Path, dest: Path, fmt: str | None = None, kind: str | None = None,
                          validate=None) -> Path:
    """Unpack into a temporary folder beside `dest`, check it, then rename it to `dest`.

    An archive whose only entry is one folder (model/...) is unpacked to that folder's contents.
    """
    fmt = fmt or archive_format(archive.name) or sniff_archive(archive)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        out = tmp / "unpacked"
        out.mkdir()
        try:
            if fmt == "zip":
                with zipfile.ZipFile(archive) as zf:
                    for member in zf.namelist():
                        _check_member(archive, out, member)
                    zf.extractall(out)
            else:
                with tarfile.open(archive, "r:*") as tf:
                    for member in tf.getmembers():
                        _check_member(archive, out, member.name)
                        if member.issym() or member.islnk():
                            _check_member(archive, out, member.linkname, link_from=member.name,
                                          relative_to=(out / member.name).parent if member.issym() else out)
                    if hasattr(tarfile, "data_filter"):
                        try:
                            tf.extractall(out, filter="data")
                        except tarfile.FilterError as exc:  # anything else the data filter refuses
                            name = getattr(getattr(exc, "tarinfo", None), "name", "?")
                            raise _unsafe_archive(archive, name, str(exc)) from None
                    else:
                        tf.extractall(out)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
            raise WildeyeError(f"{archive.name} is not a readable {fmt} archive: {exc}",
                               "download it again (it may be truncated or an error page)") from None
        entries = list(out.iterdir())
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else out
        if not any(root.iterdir()):
            raise WildeyeError(f"{archive.name} is empty", "download it again")
        if kind:
            check_model_folder(root, kind)
        if validate:
            validate(root)
        swap_into_place(root, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _check_member(archive: Path, out: Path, name: str, *, link_from: str | None = None,
                  relative_to: Path | None = None) -> None:
    """Refuse a member (or link target) that would land outside the unpack folder: absolute, drive or `..` paths.

    Python's tarfile docs ("Extraction filters") and zipfile's warning on extractall: never extract archives from
    untrusted sources without checking member paths; such a path is an attack, not a damaged download.
    """
    text = name.replace("\\", "/")
    base = (relative_to or out).resolve()
    outside = not (base / text).resolve().is_relative_to(out.resolve())
    if text.startswith("/") or (len(text) > 1 and text[1] == ":") or ".." in text.split("/") or outside:
        raise _unsafe_archive(archive, link_from or name,
                              f"a link to {name!r}" if link_from else None)


def _unsafe_archive(archive: Path, member: str, detail: str | None = None) -> WildeyeError:
    what = f" ({detail})" if detail else ""
    return WildeyeError(f"refusing to unpack {archive.name}: it contains an unsafe path {member!r}{what} that would "
                        "be written outside the model folder; the archive may be malicious",
                        "nothing was unpacked; delete it and get the model from its official source")


# --- wildeye models import -------------------------------------------------------------------------------------------

@dataclass
class ImportResult:
    spec: ModelSpec
    path: Path
    matched: str  # "md5": the file is a registry model | "name": added under --name
    replaced: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.spec.name, "kind": self.spec.kind, "path": str(self.path), "matched": self.matched,
                "replaced": self.replaced, "link": self.path.is_symlink(), "md5": self.spec.md5, "notes": self.notes}


def import_model(source: str | os.PathLike, name: str | None = None, *, kind: str | None = None, link: bool = False,
                 force: bool = False, trust: bool = False, cache: ModelCache | None = None) -> ImportResult:
    """Add a checkpoint, archive or model folder obtained elsewhere (USB stick, another laptop) to the cache.

    A file whose md5 is a registry model's becomes that model. Anything else needs a name; a registry name is
    refused when its published checksum differs. --link leaves the data where it is and links to it.
    A pickled model is checked the way `wildeye run` will load it before anything is placed (see `_validate`);
    `trust` records a SpeciesNet classifier's sha256 as trusted instead of refusing it.
    """
    cache = cache or ModelCache()
    src = Path(source).expanduser()
    if not src.exists():
        raise WildeyeError(f"{src} not found", "give the path of the model file or folder to import")
    src = src.resolve()
    cache.ensure_writable()
    registry = Registry(cache)
    notes: list[str] = []
    fmt = None if src.is_dir() else archive_format(src.name)
    if fmt is None and src.is_file() and src.suffix.lower() not in CHECKPOINT_SUFFIXES:
        try:  # e.g. Kaggle's download saved without a suffix; a zip without .zip is a torch checkpoint, not an archive
            fmt = sniff_archive(src)
        except WildeyeError:
            fmt = None
        fmt = None if fmt == "zip" else fmt
    if fmt and link:
        raise WildeyeError("--link works for model files and folders, not archives", "import the archive without --link")

    digests = file_digests(src) if src.is_file() else {}
    md5 = digests.get("md5")
    match = registry.find_by_md5(md5) if md5 else None
    if match is not None and kind and match.kind != kind:
        raise WildeyeError(f"{src.name} is {match.name} (md5 matches), a {match.kind} model, not {kind}",
                           "drop --kind")

    if match is not None and match.source != "imported":
        target = match
        how = "md5"
        if name and not match.matches(name):
            notes.append(f"--name {name} ignored: the file is {match.name} (its md5 matches the published one)")
    else:
        if name is None:
            if match is not None:  # the same file was imported before under a name
                name = match.name
            else:
                what = f"{src.name} (md5 {md5}) matches no model in the registry" if md5 else \
                    f"{src.name} is a folder: it has no checksum to match a registry model"
                known = registry.find_by_filename(src.name)
                suggest = known.name if known is not None else \
                    src.name if src.is_dir() and NAME_PATTERN.match(src.name) else "NAME"
                raise WildeyeError(what, f"give it a name: wildeye models import {src} --name {suggest}")
        if not NAME_PATTERN.match(name):
            raise WildeyeError(f"invalid model name {name!r}",
                               "use letters, digits, '.', '_', '-' and '+', starting with a letter or digit")
        existing = registry.find(name)
        if existing is not None and existing.source != "imported":
            published = existing.sha256 if existing.sha256 and not existing.md5 else existing.md5
            if published:
                label = "sha256" if published == existing.sha256 and not existing.md5 else "md5"
                got = digests.get(label, "(a folder)")
                raise WildeyeError(
                    f"refusing to import {src.name} as {existing.name}: its {label} {got} is not the published "
                    f"{published}", f"this is a different or damaged file; get {existing.download_name} again, "
                    "or import it under another --name")
            if kind and existing.kind != kind:
                raise WildeyeError(f"{existing.name} is a {existing.kind} model, not {kind}", "drop --kind")
            if existing.archive and src.is_file() and not fmt:
                raise WildeyeError(f"{existing.name} is a model folder, not a single file",
                                   f"import its archive ({existing.download_name}) or the unpacked folder")
            target, how = existing, "name"
            notes.append(f"{existing.name} has no published checksum: verified by format only")
        else:
            if existing is not None and not force and existing.path is not None:
                raise WildeyeError(f"a model named {existing.name} is already imported ({cache.path_for(existing)})",
                                   "pass --force to replace it, or choose another --name")
            new_kind = kind or ("speciesnet" if fmt else sniff_kind(src))
            if new_kind is None:
                raise WildeyeError(f"{src} has no model.json (wildeye package) or info.json (SpeciesNet)",
                                   "import the model file itself, or pass --kind")
            from wildeye.models.package import package_spec

            base = package_spec(src, name=name) if src.is_dir() and new_kind == "wildeye-package" else \
                ModelSpec(name=name, kind=new_kind)
            stored = strip_archive_suffix(src.name) if fmt else src.name
            target = dataclasses.replace(
                base, kind=new_kind, source="imported", md5=md5, sha256=digests.get("sha256"),
                path=f"imported/{name}/{stored}", filename=None, link=link, imported_from=str(src),
                imported_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                description=base.description or f"imported from {src.name}")
            how = "name"

    if trust and target.kind != "speciesnet":
        raise WildeyeError(f"--trust is for SpeciesNet classifiers (a pickled PyTorch module); {target.name} is a "
                           f"{target.kind} model", "drop --trust, or pass --kind speciesnet if it is one")
    to_trust: list[tuple[str, str]] = []  # (sha256, file name) of a classifier the user vouched for

    def validate(path: Path) -> None:
        if how == "md5":  # the published file itself
            return
        trusted = _validate(path, src, target.name, target.kind, trust, cache, fmt)
        if trusted is not None:
            to_trust.append(trusted)

    dest = cache.path_for(target)
    with cache.lock(target.name):
        replaced = dest.exists() or dest.is_symlink()
        if replaced and not force and target.source != "imported":
            notes.append(f"{target.name} was already in the cache; replaced with this file")
        existed = dest.parent.exists()
        try:
            _place(src, dest, target, fmt, link, check_format=how == "name", validate=validate)
        except BaseException:
            if not existed and dest.parent.is_dir() and not any(dest.parent.iterdir()):
                dest.parent.rmdir()  # a refused import leaves nothing behind, not even its empty folder
            raise
        for sha256, file in to_trust:
            cache.trust(sha256, file, target.name)
            notes.append(f"{file} (sha256 {sha256[:12]}...) is trusted: wildeye will load it with a plain "
                         "torch.load, which runs whatever code the file holds")
        if target.source == "imported":
            if replaced or force:
                _cleanup_other_imports(cache, target, dest)
            cache.record_import(target)
    return ImportResult(target, dest, how, replaced, notes)


def _validate(path: Path, src: Path, name: str, kind: str, trust: bool, cache: ModelCache,
              fmt: str | None = None) -> tuple[str, str] | None:
    """Refuse a pickle `wildeye run` would refuse, before it is placed; nothing in it runs.

    SpeciesNet (a file, a folder or an unpacked archive): the sandbox with SpeciesNet's allow-list, plus
    the labels/outputs check for a folder. A refused classifier is accepted when `trust` is set (its (sha256, file
    name) is returned to be recorded) or when its sha256 is already trusted. MegaDetector: the global names in its
    pickle against the YOLOv5 loader's allow-list, read from the opcodes (a damaged file is left to the loader).
    The loaders are imported here, when a file is checked: they bring torch.
    """
    if kind == "speciesnet":
        from wildeye.models import speciesnet

        model_path = speciesnet.locate(path)[0] if path.is_dir() else path
        try:
            if path.is_dir():
                speciesnet.load_speciesnet(path, trusted=lambda sha256: False)
            else:
                speciesnet.safe_load_module(path)
        except speciesnet.UnsafeModelError as exc:
            sha256 = file_digests(model_path)["sha256"]
            if trust:
                return sha256, model_path.name
            if cache.is_trusted(sha256):
                return None
            raise WildeyeError(f"refusing to import {src.name}: {exc.reason}",
                               "nothing was copied; " + speciesnet.trust_hint(src, name, src.is_file() and not fmt)) \
                from None
    elif kind == "megadetector" and path.is_file():
        forbidden = _forbidden_detector_globals(path)
        if forbidden:
            raise WildeyeError(
                f"refusing to import {src.name}: its pickle asks for {', '.join(forbidden[:3])}, which a YOLOv5 "
                "checkpoint does not contain (a pickle can run code when loaded; nothing in it was run)",
                "nothing was copied; use MegaDetector's published file, or for a SpeciesNet classifier you trust: "
                f"wildeye models import {src} --name {name} --kind speciesnet --trust")
    return None


def _forbidden_detector_globals(path: Path) -> list[str]:
    """Globals a would-be MegaDetector file names outside the YOLOv5 allow-list; [] when unreadable (the loader
    then says what is wrong with it)."""
    from wildeye.models.megadetector import forbidden_globals
    from wildeye.models.yolov5_net import CheckpointError

    data = pickle_bytes(path)
    if data is None:
        return []
    try:
        return forbidden_globals(data)
    except CheckpointError:
        return []


def _place(src: Path, dest: Path, spec: ModelSpec, fmt: str | None, link: bool, check_format: bool,
           validate=None) -> None:
    """Check, then place; `validate(path)` sees the folder or file exactly as it will be used, before it is placed."""
    if src.is_dir():
        check_model_folder(src, spec.kind)
        if validate:
            validate(src)
        (link_atomic if link else copy_tree_atomic)(src, dest)
    elif fmt:
        checked_kind = spec.kind if spec.kind in ("speciesnet", "wildeye-package") else None
        unpack_archive_atomic(src, dest, fmt, kind=checked_kind, validate=validate)
    else:
        if check_format:  # a file matched by md5 is already known to be the published one
            check_checkpoint_format(src)
        if validate:
            validate(src)
        (link_atomic if link else copy_file_atomic)(src, dest)


def _cleanup_other_imports(cache: ModelCache, spec: ModelSpec, keep: Path) -> None:
    folder = keep.parent
    if folder.parent == cache.models_dir / "imported":
        for other in folder.iterdir():
            if other != keep and not other.name.startswith("."):
                _remove(other)
