"""Helpers for the review tests: a real FiftyOne database in a temp dir, kept up for the module, and runners.

FiftyOne reads FIFTYONE_DATABASE_DIR when it is first imported, and other test modules import it with the
default settings, so everything FiftyOne runs in subprocesses with the temp database in their environment.
A keeper process holds the database open between them (FiftyOne stops its managed mongod when the last
client leaves), so each subprocess connects instead of starting mongod again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Registers the commands on the real CLI (a no-op once cli.py does it) and exits the way `wildeye` does.
CLI = "from wildeye.cli import main; main()"
# through wildeye's import: the keeper's database service is this fixture's own, never another test session's
KEEPER = ("import sys; from wildeye.review.db import import_fiftyone; import_fiftyone(); print('ready', flush=True);"
          " sys.stdin.read()")


@pytest.fixture(scope="module")
def fo_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("fiftyone")
    env = {**os.environ, "FIFTYONE_DATABASE_DIR": str(root / "db"), "FIFTYONE_DO_NOT_TRACK": "true",
           "FIFTYONE_DATABASE_VALIDATION": "false", "COLUMNS": "140"}
    env.pop("FIFTYONE_DATABASE_URI", None)
    keeper = subprocess.Popen([sys.executable, "-c", KEEPER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    line = keeper.stdout.readline()
    assert line.strip() == "ready", keeper.stderr.read()[-2000:]
    yield env
    keeper.stdin.close()
    keeper.wait(timeout=60)
    shutil.rmtree(root, ignore_errors=True)


def wildeye(env: dict, *args, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLI, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=timeout)


def wildeye_json(env: dict, *args) -> dict:
    proc = wildeye(env, *args, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def fo_script(env: dict, code: str, timeout: int = 180):
    """Run code with fiftyone imported as `fo`; it sets `result`, which comes back as JSON."""
    script = ("import json\nfrom wildeye.review.db import import_fiftyone\nfo = import_fiftyone()\n"
              "from fiftyone import ViewField as F\nresult = None\n" + code
              + "\nprint('RESULT ' + json.dumps(result, default=str))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in reversed(proc.stdout.splitlines()) if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def synthetic_run(root: Path, card: str, frames: int = 40, images: bool = False, **kwargs) -> Path:
    """A run folder for SD card `card` (its dataset: wildeye-<card>) without running models."""
    from wildeye.review.synthetic import make_synthetic_run

    return make_synthetic_run(root / f"{card}-out", root / card, frames=frames, images=images, **kwargs)
