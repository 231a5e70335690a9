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


def kill_9_when(args: list, journal, sql: str, at_least: int, timeout: float = 120) -> int:
    """Start `wildeye ARGS`, watch its journal, and SIGKILL it as soon as `sql` (a COUNT query) reaches
    `at_least`: a crash at an arbitrary point of a real run. Returns the count seen at the kill."""
    import signal
    import sqlite3
    import time

    proc = subprocess.Popen([sys.executable, "-m", "wildeye", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    seen, deadline = 0, time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            con = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1)
            try:
                seen = con.execute(sql).fetchone()[0]
            finally:
                con.close()
        except sqlite3.OperationalError:
            pass  # not created yet
        if seen >= at_least:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-3000:]
    return seen
