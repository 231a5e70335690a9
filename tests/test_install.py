"""The installed environment has what wildeye needs: a FiftyOne database that really starts, torch, timm, cv2."""

from __future__ import annotations

import os
import subprocess
import sys

FIFTYONE_SMOKE = """
import fiftyone as fo
ds = fo.Dataset("wildeye-install-check")
ds.add_samples([fo.Sample(filepath=f"/tmp/frame{i}.jpg", species=fo.Classification(label="snow leopard"))
                for i in range(3)])
print(ds.count(), ds.count_values("species.label")["snow leopard"], fo.config.database_dir)
"""


def test_fiftyone_database_starts_in_a_temp_dir(tmp_path):
    env = {**os.environ, "FIFTYONE_DATABASE_DIR": str(tmp_path / "db"), "FIFTYONE_DO_NOT_TRACK": "true",
           "FIFTYONE_DATABASE_VALIDATION": "false"}
    env.pop("FIFTYONE_DATABASE_URI", None)
    proc = subprocess.run([sys.executable, "-c", FIFTYONE_SMOKE], capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    count, leopards, db_dir = proc.stdout.strip().splitlines()[-1].split()
    assert (int(count), int(leopards), db_dir) == (3, 3, str(tmp_path / "db"))
    assert any((tmp_path / "db").iterdir())  # mongod wrote its files where we told it


def test_model_libraries_import():
    code = "import torch, torchvision, timm, cv2; m = timm.create_model('resnet18', pretrained=False, num_classes=3);" \
           "print(tuple(m(torch.zeros(1, 3, 64, 64)).shape))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "(1, 3)"
