"""The installed environment has what wildeye needs: a FiftyOne database that really starts, torch, timm, cv2."""

from __future__ import annotations

import os
import subprocess
import sys

FIFTYONE_SMOKE = """
from wildeye.review.db import import_fiftyone
from fiftyone.core.odm.database import get_db_client
fo = import_fiftyone()
ds = fo.Dataset("wildeye-install-check")
ds.add_samples([fo.Sample(filepath=f"/tmp/frame{i}.jpg", species=fo.Classification(label="snow leopard"))
                for i in range(3)])
print(ds.count(), ds.count_values("species.label")["snow leopard"],
      get_db_client().admin.command("getCmdLineOpts")["parsed"]["storage"]["dbPath"])
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


def test_a_second_database_dir_gets_its_own_database_service(tmp_path):
    """FiftyOne alone attaches to any running database service of the user; wildeye's import keeps to the service
    on its own FIFTYONE_DATABASE_DIR (review.db), so two surveys (or test sessions) never share a database."""
    env = {**os.environ, "FIFTYONE_DO_NOT_TRACK": "true", "FIFTYONE_DATABASE_VALIDATION": "false"}
    env.pop("FIFTYONE_DATABASE_URI", None)
    keeper = ("import sys; from wildeye.review.db import import_fiftyone; import_fiftyone(); print('ready', flush=True);"
              " sys.stdin.read()")
    first = subprocess.Popen([sys.executable, "-c", keeper], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={**env, "FIFTYONE_DATABASE_DIR": str(tmp_path / "a")})
    try:
        assert first.stdout.readline().strip() == "ready", first.stderr.read()[-2000:]
        probe = ("from wildeye.review.db import import_fiftyone; fo = import_fiftyone()\n"
                 "from fiftyone.core.odm.database import get_db_client\n"
                 "print(get_db_client().admin.command('getCmdLineOpts')['parsed']['storage']['dbPath'])")
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=240,
                              env={**env, "FIFTYONE_DATABASE_DIR": str(tmp_path / "b")})
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.strip().splitlines()[-1] == str(tmp_path / "b")
    finally:
        first.stdin.close()
        first.wait(timeout=60)


def test_model_libraries_import():
    code = "import torch, torchvision, timm, cv2; m = timm.create_model('resnet18', pretrained=False, num_classes=3);" \
           "print(tuple(m(torch.zeros(1, 3, 64, 64)).shape))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "(1, 3)"
