"""Run the real `wildeye` CLI in a subprocess, as a user or a scheduler would."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def run_cli(*args, prefix=(), env=None, timeout=300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "FIFTYONE_DO_NOT_TRACK": "true", **(env or {})}
    return subprocess.run([*prefix, sys.executable, "-m", "wildeye", *map(str, args)], capture_output=True,
                          text=True, env=full_env, timeout=timeout)


def run_json(*args, **kw) -> tuple[int, dict]:
    proc = run_cli(*args, "--json", **kw)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)
