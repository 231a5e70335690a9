"""Crash-proof for real: kills while decode workers are alive, signals, odd file names, read-only and empty folders."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from clihelp import run_cli, run_json
from imagegen import write_frame

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
T0 = datetime(2024, 5, 1, 10, 0, 0)


@pytest.fixture(scope="module")
def tiny_detector(tmp_path_factory):
    from yolo_fixtures import write_tiny

    return write_tiny(tmp_path_factory.mktemp("tiny") / "tiny_md.pt", image_size=320)


def _children(pid: int) -> list[int]:
    sys.path.insert(0, str(REPO / "scripts"))
    from fault_inject import children  # the script's /proc reader

    return children(pid)


def test_fault_injection_with_decode_workers_alive(tiny_detector, tmp_path):
    """A few trials of scripts/fault_inject.py: kill -9 / SIGTERM / SIGHUP while workers decode, then `--wait`."""
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "fault_inject.py"), "--trials", "3",
                           "--detector", str(tiny_detector), "--frames", "12", "--size", "2400x1800",
                           "--seed", "3", "--work", str(tmp_path / "work"), "--json"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    trials = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(trials) == 3 and all(not t["problems"] for t in trials)
    assert sum(t["killed"] and t["workers_seen"] >= 2 for t in trials) >= 2
    assert all(t["next_run_s"] < 120 for t in trials)
    assert "failed 0" in proc.stdout


def test_sigterm_with_workers_alive_marks_the_run_interrupted_and_frees_everything(tiny_detector, tmp_path):
    card = tmp_path / "card"
    for i in range(16):
        write_frame(card / "cam" / f"IMG_{i:04d}.JPG", T0 + timedelta(seconds=2 * i), size=(2400, 1800), seed=i)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "wildeye", "run", str(card), "--out", str(out), "--detector", str(tiny_detector),
            "--classifier", "none", "--no-fiftyone", "--workers", "2", "--batch-size", "1", "-q"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
        workers = _children(proc.pid)
        time.sleep(0.05)
    assert len(workers) >= 2, "the run never started its decode workers"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "stopped by signal 15" in stderr and "Traceback" not in stderr
    time.sleep(1.0)
    from fault_inject import alive

    assert not [pid for pid in workers if alive(pid)]  # the workers died with their run
    con = sqlite3.connect(out / "journal.sqlite")
    assert [r[0] for r in con.execute("SELECT status FROM runs")] == ["interrupted"]
    con.close()
    code, result = run_json(*args[3:-1])
    assert code == 0 and result["processed"] == 16, result


def test_non_utf8_file_name_is_processed_and_recorded(tiny_detector, tmp_path):
    card = tmp_path / "card"
    write_frame(card / "cam" / "good.jpg", T0, size=(320, 240), seed=1)
    bad = os.fsencode(card / "cam") + b"/bad\xffname.jpg"
    write_frame(Path(os.fsdecode(bad)), T0 + timedelta(seconds=5), size=(320, 240), seed=2)
    code, result = run_json("run", card, "--out", tmp_path / "out", "--detector", tiny_detector,
                            "--classifier", "none", "--no-fiftyone", "--workers", "0")
    assert code == 0 and result["processed"] == 2, result
    files = {im["file"] for im in json.loads((tmp_path / "out" / "megadetector.json").read_text())["images"]}
    assert files == {"cam/good.jpg", "cam/bad\\xffname.jpg"}
    con = sqlite3.connect(tmp_path / "out" / "journal.sqlite")
    assert con.execute("SELECT status FROM media WHERE path=?", ("cam/bad\\xffname.jpg",)).fetchone() == ("done",)


def test_missing_or_empty_source_is_nothing_to_do(tmp_path):
    missing = run_cli("run", tmp_path / "not-mounted", "--out", tmp_path / "out", "--no-fiftyone")
    assert missing.returncode == 5 and "does not exist" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    for command in ("scan", "run"):
        empty = run_cli(command, tmp_path / "empty", "--out", tmp_path / "out2",
                        *(["--no-fiftyone"] if command == "run" else []))
        assert empty.returncode == 5, empty.stderr
        assert "no images or videos found" in empty.stderr and "mounted" in empty.stderr


def test_read_only_output_folder_exits_4(tiny_detector, tmp_path):
    """As the README says: results that cannot be written exit 4. Root writes anywhere, so as root the command runs
    in a user namespace as an unprivileged user (util-linux `unshare`), where the folder's permissions hold."""
    import shutil

    card = tmp_path / "card"
    write_frame(card / "IMG_0001.JPG", T0, size=(320, 240), seed=1)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    prefix: list[str] = []
    if os.geteuid() == 0:
        if not shutil.which("unshare") or subprocess.run(
                ["unshare", "--user", "--map-user=65534", "--map-group=65534", "true"]).returncode != 0:
            pytest.skip("running as root without user namespaces: a read-only folder cannot be made here")
        prefix = ["unshare", "--user", "--map-user=65534", "--map-group=65534"]
    try:
        proc = subprocess.run([*prefix, sys.executable, "-m", "wildeye", "run", str(card), "--out", str(out),
                               "--detector", str(tiny_detector), "--classifier", "none", "--no-fiftyone"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 4, proc.stderr
        assert "cannot write to" in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    finally:
        out.chmod(0o755)
