"""Model registry, cache, downloads and `wildeye models`: a real HTTP server on 127.0.0.1, real files, no mocks."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from httpserver import FileServer, free_port

from wildeye.errors import WildeyeError
from wildeye.models.cache import ModelCache, cache_dir, default_cache_dir, import_model
from wildeye.models.download import ChecksumError, DownloadError, download, pull
from wildeye.models.hub import resolve_model
from wildeye.models.registry import BUILTIN_MODELS, ModelSpec, Registry

# Registers the group on the real CLI (a no-op once cli.py does it) and exits the way `wildeye` does.
CLI = "from wildeye.cli import main; main()"


def run_models(*args, env=None, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLI, "models", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def checkpoint_bytes(size: int = 300_000, seed: bytes = b"md") -> bytes:
    """A file that looks like torch.save output (a zip) and is big enough to be cut mid-transfer."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", (hashlib.sha256(seed).digest() * (size // 32 + 1))[:size])
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def speciesnet_archive() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in (("info.json", b'{"version": "test", "type": "always_crop"}'),
                           ("classifier.pt", checkpoint_bytes(2000)), ("labels.txt", b"blank\nsnow leopard\n")):
            info = tarfile.TarInfo(f"speciesnet-test/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def server():
    with FileServer() as s:
        yield s


@pytest.fixture
def cache(tmp_path, monkeypatch) -> ModelCache:
    monkeypatch.setenv("WILDEYE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("WILDEYE_REGISTRY", raising=False)
    return ModelCache()


def use_registry(monkeypatch, tmp_path, entries: list[dict]) -> Path:
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"models": entries}))
    monkeypatch.setenv("WILDEYE_REGISTRY", str(path))
    return path


# --- registry ---------------------------------------------------------------------------------------------------------

def test_megadetector_entries_are_megadetectors_own():
    # From agentmorris/MegaDetector megadetector/detection/run_detector.py (known_models).
    expected = {
        "mdv5a": ("https://github.com/agentmorris/MegaDetector/releases/download/v5.0/md_v5a.0.1.pt",
                  "60f8e7ec1308554df258ed1f4040bc4f", 1280, 64, 0.2, 0.05),
        "mdv5b": ("https://github.com/agentmorris/MegaDetector/releases/download/v5.0/md_v5b.0.1.pt",
                  "f17ed6fedfac2e403606a08c89984905", 1280, 64, 0.2, 0.05),
        "mdv1000-redwood": ("https://github.com/agentmorris/MegaDetector/releases/download/v1000.0/md_v1000.0.0-redwood.pt",
                            "74474b3aec9cf1a990da38b37ddf9197", 1280, 64, 0.3, None),
        "mdv1000-spruce": ("https://github.com/agentmorris/MegaDetector/releases/download/v1000.0/md_v1000.0.0-spruce.pt",
                           "1c9d1d2b3ba54931881471fdd508e6f2", 640, 32, None, None),
    }
    registry = Registry(use_env=False)
    for name, (url, digest, size, stride, typical, conservative) in expected.items():
        spec = registry.get(name)
        assert (spec.kind, spec.url, spec.md5, spec.image_size, spec.stride) == ("megadetector", url, digest, size, stride)
        assert (spec.typical_threshold, spec.conservative_threshold) == (typical, conservative)
    for alias, name in (("megadetector", "mdv5a"), ("default", "mdv5a"), ("MDV5A", "mdv5a"), ("mdv5", "mdv5a"),
                        ("v5b.0.1", "mdv5b"), ("md1000-redwood", "mdv1000-redwood"), ("redwood", "mdv1000-redwood"),
                        ("MD1000-Spruce", "mdv1000-spruce")):
        assert registry.get(alias).name == name
    assert registry.get("mdv1000-spruce").detection_threshold == 0.2  # MD's fallback when none is published
    speciesnet = registry.get("speciesnet")
    assert (speciesnet.kind, speciesnet.md5, speciesnet.sha256, speciesnet.archive) == ("speciesnet", None, None, "tar.gz")
    assert speciesnet.url.startswith("https://") and "no checksum" in speciesnet.verified_by
    assert {s.kind for s in BUILTIN_MODELS} == {"megadetector", "speciesnet"}
    with pytest.raises(WildeyeError, match="unknown model 'mdv9'"):
        registry.get("mdv9")


def test_registry_file_errors_name_the_key(tmp_path, monkeypatch, cache):
    use_registry(monkeypatch, tmp_path, [{"name": "x", "kind": "megadetector", "md55": "abc"}])
    with pytest.raises(WildeyeError, match="unknown key 'md55'"):
        Registry(cache)


# --- downloads ----------------------------------------------------------------------------------------------------------

def test_download_verifies_md5_and_places_atomically(server, tmp_path):
    data = checkpoint_bytes()
    server.files["m.pt"] = data
    dest = download(server.url("m.pt"), tmp_path / "m.pt", md5=md5(data),
                    sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    assert dest.read_bytes() == data
    assert not (tmp_path / "m.pt.part").exists()
    assert [r["range"] for r in server.requests] == [None]


def test_interrupted_download_resumes_from_the_part(server, tmp_path):
    data = checkpoint_bytes()
    server.files["m.pt"] = data
    server.cut_after["m.pt"] = 100_000
    dest, part = tmp_path / "m.pt", tmp_path / "m.pt.part"
    with pytest.raises(DownloadError, match="interrupted after 100,000 of") as err:
        download(server.url("m.pt"), dest, md5=md5(data), retries=0)
    assert "run the same command again" in str(err.value)
    assert part.stat().st_size == 100_000 and not dest.exists()

    download(server.url("m.pt"), dest, md5=md5(data), retries=0)
    assert [r["range"] for r in server.requests] == [None, "bytes=100000-"]
    assert dest.read_bytes() == data and not part.exists()


def test_dropped_connection_is_resumed_within_one_call(server, tmp_path):
    data = checkpoint_bytes()
    server.files["m.pt"] = data
    server.cut_after["m.pt"] = 12_345
    download(server.url("m.pt"), tmp_path / "m.pt", md5=md5(data), retries=2, retry_delay=0)
    assert [r["range"] for r in server.requests] == [None, "bytes=12345-"]
    assert (tmp_path / "m.pt").read_bytes() == data


def test_server_ignoring_range_gets_a_fresh_start(server, tmp_path):
    data = checkpoint_bytes()
    server.files["m.pt"] = data
    server.ignore_range = True
    (tmp_path / "m.pt.part").write_bytes(b"stale bytes from another file" * 100)
    download(server.url("m.pt"), tmp_path / "m.pt", md5=md5(data))
    assert server.requests[0]["range"] == "bytes=2900-"
    assert (tmp_path / "m.pt").read_bytes() == data


def test_complete_part_is_finished_without_refetching(server, tmp_path):
    data = checkpoint_bytes()
    server.files["m.pt"] = data
    (tmp_path / "m.pt.part").write_bytes(data)  # the last run died between the last byte and the rename
    download(server.url("m.pt"), tmp_path / "m.pt", md5=md5(data))
    assert (tmp_path / "m.pt").read_bytes() == data


def test_bad_checksum_leaves_nothing_in_place(server, tmp_path):
    server.files["m.pt"] = checkpoint_bytes()
    with pytest.raises(ChecksumError, match="not the published one .*md5 .* expected 0{32}"):
        download(server.url("m.pt"), tmp_path / "m.pt", md5="0" * 32)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []


def test_offline_pull_fails_fast_with_the_import_command(tmp_path, monkeypatch):
    mdv5a = next(s for s in BUILTIN_MODELS if s.name == "mdv5a").to_dict()
    mdv5a["url"] = f"http://127.0.0.1:{free_port()}/md_v5a.0.1.pt"  # nothing listening: what offline looks like
    registry = use_registry(monkeypatch, tmp_path, [mdv5a])
    started = time.monotonic()
    proc = run_models("pull", "mdv5a", env={"WILDEYE_REGISTRY": str(registry), "WILDEYE_CACHE_DIR": str(tmp_path / "c")})
    assert time.monotonic() - started < 10
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith("wildeye: error: could not download model mdv5a: connection refused")
    assert lines[0].endswith("then run: wildeye models import /path/to/md_v5a.0.1.pt)")
    assert not [p for p in (tmp_path / "c").rglob("*") if p.is_file() and ".locks" not in p.parts]

    monkeypatch.setenv("WILDEYE_CACHE_DIR", str(tmp_path / "c"))
    with pytest.raises(WildeyeError, match="wildeye models import /path/to/md_v5a.0.1.pt"):
        resolve_model("megadetector", "detector", timeout=2)


# --- pull / list / info -------------------------------------------------------------------------------------------

def test_pull_list_info_through_the_cli(server, tmp_path, monkeypatch):
    data = checkpoint_bytes()
    server.files["det.pt"] = data
    registry = use_registry(monkeypatch, tmp_path, [
        {"name": "testdet", "kind": "megadetector", "url": server.url("det.pt"), "md5": md5(data), "image_size": 640,
         "stride": 32, "typical_threshold": 0.25}])
    env = {"WILDEYE_REGISTRY": str(registry), "WILDEYE_CACHE_DIR": str(tmp_path / "env-cache")}
    flag_cache = tmp_path / "flag-cache"
    proc = run_models("--cache-dir", flag_cache, "pull", "testdet", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    pulled = json.loads(proc.stdout)["models"][0]
    assert pulled["downloaded"] and pulled["verified_by"] == "md5"
    assert Path(pulled["path"]) == flag_cache / "models" / "det.pt"  # --cache-dir beats $WILDEYE_CACHE_DIR
    assert Path(pulled["path"]).read_bytes() == data

    listed = json.loads(run_models("--cache-dir", flag_cache, "list", "--json", env=env).stdout)
    rows = {row["name"]: row for row in listed["models"]}
    assert rows["testdet"]["cached"] and rows["testdet"]["size"] == len(data)
    assert not rows["mdv5a"]["cached"] and rows["mdv5a"]["default"] == "detector"

    proc = run_models("--cache-dir", flag_cache, "info", "testdet", "--json", env=env)
    info = json.loads(proc.stdout)
    assert (info["path"], info["md5"], info["image_size"], info["stride"]) == (pulled["path"], md5(data), 640, 32)
    text = run_models("--cache-dir", flag_cache, "info", "mdv5a", env=env).stdout
    assert "60f8e7ec1308554df258ed1f4040bc4f" in text and "wildeye models import /path/to/md_v5a.0.1.pt" in text

    again = run_models("--cache-dir", flag_cache, "pull", "testdet", env=env)
    assert again.returncode == 0 and "already in the cache" in again.stdout
    assert len(server.requests) == 1


def test_pull_unpacks_an_archive_and_warns_without_checksum(server, tmp_path, monkeypatch, cache, caplog):
    server.files["sn.tar.gz"] = speciesnet_archive()
    server.files["login.html"] = b"<html>please sign in</html>"
    use_registry(monkeypatch, tmp_path, [
        {"name": "sn", "kind": "speciesnet", "url": server.url("sn.tar.gz"), "archive": "tar.gz", "image_size": 480},
        {"name": "sn-bad", "kind": "speciesnet", "url": server.url("login.html"), "filename": "bad.tar.gz",
         "archive": "tar.gz"}])
    result = pull("sn", cache=cache)
    assert result.path == cache.models_dir / "sn" and (result.path / "info.json").is_file()
    assert (result.path / "classifier.pt").is_file()  # the archive's single top folder was unwrapped
    assert not (cache.models_dir / "sn.tar.gz").exists()
    assert result.warnings and "no checksum" in caplog.text

    with pytest.raises(WildeyeError, match="is not an archive"):
        pull("sn-bad", cache=cache)
    assert not (cache.models_dir / "bad").exists() and not list(cache.models_dir.glob("bad*"))


def test_resolve_model_downloads_once_then_uses_the_cache(server, tmp_path, monkeypatch, cache):
    data = checkpoint_bytes()
    server.files["det.pt"] = data
    use_registry(monkeypatch, tmp_path, [{"name": "testdet", "kind": "megadetector", "url": server.url("det.pt"),
                                          "md5": md5(data), "aliases": ["td"]}])
    first = resolve_model("td", "detector")
    assert (first.source, first.name, first.path) == ("downloaded", "testdet", cache.models_dir / "det.pt")
    assert resolve_model("testdet", "detector").source == "cache" and len(server.requests) == 1


# --- import -------------------------------------------------------------------------------------------------------

def test_import_by_md5_becomes_the_registry_model(tmp_path, monkeypatch):
    data = checkpoint_bytes(seed=b"usb")
    usb = tmp_path / "usb" / "copy of detector.pt"
    usb.parent.mkdir()
    usb.write_bytes(data)
    registry = use_registry(monkeypatch, tmp_path, [
        {"name": "testdet", "kind": "megadetector", "url": f"http://127.0.0.1:{free_port()}/det.pt", "md5": md5(data),
         "image_size": 1280, "stride": 64}])
    env = {"WILDEYE_REGISTRY": str(registry), "WILDEYE_CACHE_DIR": str(tmp_path / "cache")}
    proc = run_models("import", usb, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "testdet (megadetector, md5 matches the published file)" in proc.stdout

    monkeypatch.setenv("WILDEYE_CACHE_DIR", str(tmp_path / "cache"))
    resolved = resolve_model("testdet", "detector", download=False)
    assert resolved.source == "cache" and resolved.path == tmp_path / "cache" / "models" / "det.pt"
    assert resolved.path.read_bytes() == data and (resolved.image_size, resolved.stride) == (1280, 64)


def test_import_by_name_refuses_a_registry_name_with_another_checksum(tmp_path, cache):
    user_file = tmp_path / "snowleopard_detector.pt"
    user_file.write_bytes(checkpoint_bytes(seed=b"mine"))
    proc = run_models("import", user_file, env={"WILDEYE_CACHE_DIR": str(cache.root)})
    assert proc.returncode == 2 and "matches no model in the registry" in proc.stderr and "--name NAME" in proc.stderr

    with pytest.raises(WildeyeError, match="refusing to import snowleopard_detector.pt as mdv5a: its md5 .* is not "
                                           "the published 60f8e7ec1308554df258ed1f4040bc4f"):
        import_model(user_file, "megadetector", cache=cache)  # an alias of mdv5a counts too
    assert not cache.models_dir.joinpath("md_v5a.0.1.pt").exists()

    result = import_model(user_file, "leo-det", cache=cache)
    assert (result.spec.kind, result.spec.source, result.matched) == ("megadetector", "imported", "name")
    assert result.path.read_bytes() == user_file.read_bytes() and not result.path.is_symlink()
    index = json.loads(cache.index_path.read_text())
    assert index["models"]["leo-det"]["imported_from"] == str(user_file)
    assert resolve_model("leo-det", "detector", download=False).path == result.path

    with pytest.raises(WildeyeError, match="already imported"):
        import_model(user_file, "leo-det", cache=cache)
    linked = import_model(user_file, "leo-det", link=True, force=True, cache=cache)
    assert linked.path.is_symlink() and linked.path.resolve() == user_file.resolve()
    assert sorted(p.name for p in linked.path.parent.iterdir()) == [user_file.name]

    junk = tmp_path / "page.pt"
    junk.write_bytes(b"<!DOCTYPE html><html>Not found</html>")
    with pytest.raises(WildeyeError, match="does not look like a model checkpoint"):
        import_model(junk, "junk", cache=cache)


def test_import_package_folder_and_speciesnet_archive(tmp_path, cache):
    package = tmp_path / "snowleopard-v3"
    package.mkdir()
    (package / "model.json").write_text(json.dumps({"architecture": "convnext_tiny", "input_size": 384,
                                                    "labels": ["other", "snow leopard"]}))
    (package / "weights.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(WildeyeError, match="--name snowleopard-v3"):
        import_model(package, cache=cache)
    result = import_model(package, "snowleopard", cache=cache)
    assert (result.spec.name, result.spec.kind) == ("snowleopard", "wildeye-package")
    resolved = resolve_model("snowleopard", "classifier", download=False)
    assert resolved.path.is_dir() and (resolved.path / "model.json").is_file()
    assert resolved.image_size == 384 and "convnext_tiny, 2 labels" in resolved.spec.description
    with pytest.raises(WildeyeError, match="is a wildeye-package model, not a megadetector model"):
        resolve_model("snowleopard", "detector", download=False)

    archive = tmp_path / "speciesnet-v4.0.3a.tar.gz"  # as saved from Kaggle on another machine
    archive.write_bytes(folder_archive(KERAS_FIXTURE, "speciesnet-test"))  # a real classifier: import loads it
    result = import_model(archive, "speciesnet", cache=cache)
    assert result.path == cache.models_dir / "speciesnet-v4.0.3a" and result.spec.source == "builtin"
    assert any("no published checksum" in note for note in result.notes)
    resolved = resolve_model("speciesnet", "classifier", download=False)
    assert (resolved.path / "info.json").is_file() and resolved.image_size == 480


KERAS_FIXTURE = Path(__file__).parent / "fixtures" / "speciesnet_keras"  # scripts/make_speciesnet_keras_fixture.py


def folder_archive(folder: Path, root: str, fmt: str = "w:gz", extra: dict | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=fmt) as tf:
        for f in sorted(folder.iterdir()):
            tf.add(f, f"{root}/{f.name}")
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_import_keras_speciesnet_fixture_then_info(tmp_path, cache):
    proc = run_models("import", KERAS_FIXTURE, "--name", "speciesnet-keras", env={"WILDEYE_CACHE_DIR": str(cache.root)})
    assert proc.returncode == 0, proc.stderr
    assert "speciesnet-keras (speciesnet, by name)" in proc.stdout and proc.stderr == ""
    info = run_models("info", "speciesnet-keras", "--json", env={"WILDEYE_CACHE_DIR": str(cache.root)})
    assert info.returncode == 0, info.stderr
    entry = json.loads(info.stdout)
    assert entry["kind"] == "speciesnet" and entry["cached"] and entry["imported_from"] == str(KERAS_FIXTURE)
    text = run_models("info", "speciesnet-keras", env={"WILDEYE_CACHE_DIR": str(cache.root)}).stdout
    assert "kind:                   speciesnet" in text and "cached:" in text

    from wildeye.inference.classifier import load_classifier

    resolved = resolve_model("speciesnet-keras", "classifier", download=False)
    sn = load_classifier(resolved.path, device="cpu")
    assert sn.version == "4.0.3a-keras-test" and len(sn.labels) == 6

    # the bare .pt is recognised as SpeciesNet's kind (an onnx2torch GraphModule), not guessed a detector
    pt = KERAS_FIXTURE / "always_crop_keras_tiny_epoch_00001.pt"
    assert import_model(pt, "sn-pt", cache=cache).spec.kind == "speciesnet"


class _System:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_import_refuses_a_malicious_pickle_without_running_it(tmp_path, cache):
    import torch

    marker = tmp_path / "pwned"
    evil = tmp_path / "usb" / "classifier.pt"
    evil.parent.mkdir()
    torch.save({"model": _System(f"touch {marker}")}, evil)
    folder = tmp_path / "sn-evil"
    folder.mkdir()
    (folder / "classifier.pt").write_bytes(evil.read_bytes())
    (folder / "classifier.labels.txt").write_text("blank\n")
    env = {"WILDEYE_CACHE_DIR": str(cache.root)}
    for args in (["--name", "evil"], ["--name", "evil", "--kind", "speciesnet"]):
        proc = run_models("import", evil, *args, env=env)
        assert proc.returncode == 2 and proc.stdout == "", proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
        assert "refusing to import classifier.pt" in proc.stderr and "posix.system" in proc.stderr
        assert "--trust" in proc.stderr
    proc = run_models("import", folder, "--name", "evil", env=env)
    assert proc.returncode == 2 and "posix.system" in proc.stderr and "--trust" in proc.stderr
    proc = run_models("import", evil, "--name", "evil", "--trust", env=env)  # a detector: --trust does not apply
    assert proc.returncode == 2 and "--trust is for SpeciesNet classifiers" in proc.stderr
    assert not marker.exists(), "the pickle ran"
    assert "evil" not in (json.loads(cache.index_path.read_text())["models"] if cache.index_path.exists() else {})
    assert not (cache.models_dir / "imported" / "evil").exists()


def test_trusted_import_opens_a_refused_classifier_until_it_changes(tmp_path, cache):
    import torch
    from fractions import Fraction

    from wildeye.inference.classifier import load_classifier

    def variant(note) -> Path:
        folder = tmp_path / "variant"
        folder.mkdir(exist_ok=True)
        for f in KERAS_FIXTURE.iterdir():
            (folder / f.name).write_bytes(f.read_bytes())
        module = torch.load(KERAS_FIXTURE / "always_crop_keras_tiny_epoch_00001.pt", weights_only=False)
        module.release_note = note  # a harmless global (fractions.Fraction) outside the allow-list
        torch.save(module, folder / "always_crop_keras_tiny_epoch_00001.pt")
        return folder

    folder = variant(Fraction(2, 3))
    env = {"WILDEYE_CACHE_DIR": str(cache.root)}
    proc = run_models("import", folder, "--name", "sn-variant", env=env)
    assert proc.returncode == 2 and "fractions.Fraction" in proc.stderr and "--trust" in proc.stderr
    assert not (cache.models_dir / "imported" / "sn-variant").exists()

    proc = run_models("import", folder, "--name", "sn-variant", "--trust", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "is trusted" in proc.stderr
    trusted = json.loads(cache.index_path.read_text())["trusted"]
    assert [t["model"] for t in trusted.values()] == ["sn-variant"]
    cached = resolve_model("sn-variant", "classifier", download=False).path
    sn = load_classifier(cached, device="cpu")
    assert sn.module.release_note == Fraction(2, 3)

    variant(Fraction(3, 4))  # the file changes: its sha256 is not the trusted one
    (cached / "always_crop_keras_tiny_epoch_00001.pt").write_bytes(
        (folder / "always_crop_keras_tiny_epoch_00001.pt").read_bytes())
    with pytest.raises(WildeyeError, match="fractions.Fraction.*--trust"):
        load_classifier(cached, device="cpu")


def test_import_refuses_an_archive_with_a_path_outside_its_folder(tmp_path, cache):
    for fmt, suffix in (("w:gz", "tar.gz"), ("zip", "zip")):
        archive = tmp_path / f"speciesnet-v4.0.3a.{suffix}"
        if fmt == "zip":
            with zipfile.ZipFile(archive, "w") as zf:
                for f in KERAS_FIXTURE.iterdir():
                    zf.write(f, f"sn/{f.name}")
                zf.writestr("../evil", b"#!/bin/sh\n")
        else:
            archive.write_bytes(folder_archive(KERAS_FIXTURE, "sn", extra={"../evil": b"#!/bin/sh\n"}))
        proc = run_models("import", archive, "--name", "sn-archive", env={"WILDEYE_CACHE_DIR": str(cache.root)})
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "unsafe path '../evil'" in proc.stderr and "malicious" in proc.stderr
        assert "download it again" not in proc.stderr
        assert not (tmp_path / "evil").exists() and not (cache.models_dir / "evil").exists()
        assert not (cache.models_dir / "imported" / "sn-archive").exists()


# --- resolve_model and the cache folder ------------------------------------------------------------------------------

def test_resolve_model_accepts_paths(tmp_path, cache, monkeypatch):
    spruce = tmp_path / "md_v1000.0.0-spruce.pt"  # known by its published file name
    spruce.write_bytes(checkpoint_bytes(1000))
    resolved = resolve_model(str(spruce), "detector")
    assert (resolved.source, resolved.name, resolved.image_size, resolved.stride) == ("path", "mdv1000-spruce", 640, 32)

    mine = tmp_path / "mine.pt"
    mine.write_bytes(checkpoint_bytes(1000, seed=b"other"))
    resolved = resolve_model(mine, "detector")
    assert (resolved.path, resolved.kind, resolved.spec.image_size) == (mine, "megadetector", None)

    folder = tmp_path / "sn"
    folder.mkdir()
    (folder / "info.json").write_text("{}")
    assert resolve_model(folder, "classifier").kind == "speciesnet"

    monkeypatch.chdir(tmp_path)
    (tmp_path / "speciesnet").mkdir()  # e.g. a clone of google/cameratrapai: the bare name still means the model
    with pytest.raises(WildeyeError, match="model speciesnet is not in the cache"):
        resolve_model("speciesnet", download=False)
    assert resolve_model("./sn", "classifier").kind == "speciesnet"
    with pytest.raises(WildeyeError, match="model file ./nope.pt not found"):
        resolve_model("./nope.pt")
    with pytest.raises(WildeyeError, match=r"not in the cache .*wildeye models pull mdv5a.*wildeye models import "
                                           r"/path/to/md_v5a.0.1.pt"):
        resolve_model("mdv5a", "detector", download=False)
    with pytest.raises(WildeyeError, match="speciesnet is a speciesnet model, not a megadetector model"):
        resolve_model("speciesnet", "detector", download=False)


def test_cache_dir_flag_env_and_platform_default(tmp_path, monkeypatch):
    monkeypatch.setenv("WILDEYE_CACHE_DIR", str(tmp_path / "from-env"))
    assert cache_dir() == tmp_path / "from-env"
    assert cache_dir(tmp_path / "from-flag") == tmp_path / "from-flag"
    assert ModelCache().models_dir == tmp_path / "from-env" / "models"
    monkeypatch.delenv("WILDEYE_CACHE_DIR")
    default = cache_dir()
    assert default == default_cache_dir() and "wildeye" in default.parts
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache_dir() == tmp_path / "xdg" / "wildeye"


def test_specs_round_trip_through_json():
    for spec in BUILTIN_MODELS:
        assert ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
