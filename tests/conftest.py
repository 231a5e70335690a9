import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

SHARED_IMAGES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "camera-traps"


@pytest.fixture
def shared_images() -> Path:
    if not (SHARED_IMAGES / "manifest.csv").is_file():
        pytest.skip(f"real camera-trap frames not found at {SHARED_IMAGES} (../shared is absent)")
    return SHARED_IMAGES


@pytest.fixture(scope="session")
def _fiftyone_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fiftyone-db")


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch, _fiftyone_dir):
    monkeypatch.setenv("FIFTYONE_DO_NOT_TRACK", "true")
    monkeypatch.setenv("COLUMNS", "140")
    if "FIFTYONE_DATABASE_URI" not in os.environ:  # never a user's own database
        monkeypatch.setenv("FIFTYONE_DATABASE_DIR", str(_fiftyone_dir))
    if "WILDEYE_CACHE_DIR" not in os.environ:  # never the user's model cache (runs write ONNX exports there)
        monkeypatch.setenv("WILDEYE_CACHE_DIR", str(_fiftyone_dir.parent / "wildeye-cache"))
    yield
