"""Unattended runs: incremental by content, flagship alerts, JSON-lines log, and faults (kill -9, disk full)."""

from __future__ import annotations

import json
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import torch
from clihelp import run_cli, run_json
from imagegen import write_frame

T0 = datetime(2024, 5, 1, 10, 0, 0)


@pytest.fixture(scope="module")
def confident_models(tmp_path_factory):
    """A detector that always sees animals and a classifier that always says snow leopard: a flagship every time."""
    from speciesnet_fixture import LABELS, make_tiny_model, write_speciesnet_folder
    from yolo_fixtures import write_always_animal

    root = tmp_path_factory.mktemp("confident")
    detector_path = write_always_animal(root / "always_animal.pt", image_size=320)
    classifier = make_tiny_model()
    with torch.no_grad():
        classifier.head.weight.zero_()
        classifier.head.bias.fill_(-5.0)
        classifier.head.bias[0] = 10.0
    assert "snow leopard" in LABELS[0]
    classifier_path = write_speciesnet_folder(root / "always_leopard", classifier)
    config = root / "run.yaml"
    config.write_text("classifier:\n  max_crops_per_image: 2\nafter_run:\n  fiftyone: false\n")
    return detector_path, classifier_path, config


@pytest.fixture(scope="module")
def tiny_detector(tmp_path_factory):
    from yolo_fixtures import write_tiny

    return write_tiny(tmp_path_factory.mktemp("tiny") / "tiny_md.pt", image_size=320)


def burst(folder: Path, n: int, start: datetime, seed: int = 0) -> None:
    for i in range(n):
        write_frame(folder / f"IMG_{seed + i:04d}.JPG", start + timedelta(seconds=2 * i), size=(320, 240), seed=seed + i)


def test_flagship_sighting_runs_hook_and_logs_json_lines(tmp_path, confident_models):
    detector, classifier, config = confident_models
    inbox = tmp_path / "inbox"
    burst(inbox / "ridge" / "DCIM" / "100MEDIA", 3, T0)
    burst(inbox / "ridge" / "DCIM" / "100MEDIA", 2, T0 + timedelta(hours=2), seed=10)
    hook_out = tmp_path / "hooks.jsonl"
    hook = (f"{sys.executable} -c \"import json,os,sys; d=json.load(sys.stdin); "
            f"open({str(hook_out)!r},'a').write(json.dumps({{'species': os.environ['WILDEYE_SPECIES'], "
            f"'sequence': os.environ['WILDEYE_SEQUENCE'], 'frames': d['frames'], "
            f"'files': os.environ['WILDEYE_FILES'].splitlines()}})+chr(10))\"")
    code, result = run_json("run", inbox, "--config", config, "--detector", detector, "--classifier", classifier,
                            "--workers", "0", "--on-sighting", hook)
    assert code == 0, result
    flagship = [s for s in result["new_sightings"] if s["flagship"]]
    assert [(s["name"], s["frames"]) for s in flagship] == [("snow leopard", 3), ("snow leopard", 2)]
    calls = [json.loads(line) for line in hook_out.read_text().splitlines()]
    assert [(c["species"], c["sequence"], c["frames"]) for c in calls] == [
        ("snow leopard", "ridge#00001", 3), ("snow leopard", "ridge#00002", 2)]
    assert all(Path(f).is_file() for c in calls for f in c["files"])
    assert all(h["returncode"] == 0 for h in result["on_sighting"])

    events = [json.loads(line) for line in Path(result["log"]).read_text().splitlines()]
    names = [e["event"] for e in events]
    assert names[0] == "run_started" and names[-1] == "run_finished"
    assert names.count("sighting") == 2 and names.count("on_sighting") == 2
    assert sum(e["done"] for e in events if e["event"] == "batch_recorded") == 5

    # the human summary puts the flagship first
    proc = run_cli("run", inbox, "--config", config, "--detector", detector, "--classifier", classifier)
    assert proc.returncode == 0 and "0 this run" in proc.stdout  # nothing new: no work, no alerts
    assert len(hook_out.read_text().splitlines()) == 2


def test_renamed_card_is_not_redone(tmp_path, tiny_detector):
    inbox = tmp_path / "inbox"
    burst(inbox / "card_A", 4, T0)
    out = tmp_path / "out"
    code, first = run_json("run", inbox, "--out", out, "--detector", tiny_detector, "--classifier", "none",
                           "--no-fiftyone", "--workers", "0")
    assert code == 0 and first["frames_this_run"] == 4
    (inbox / "card_A").rename(inbox / "card_A_2024-05")
    code, second = run_json("run", inbox, "--out", out, "--detector", tiny_detector, "--classifier", "none",
                            "--no-fiftyone", "--workers", "0")
    assert code == 0 and second["frames_this_run"] == 0 and second["duplicates"] == 4


def _output_images(out: Path) -> list:
    return json.loads((out / "megadetector.json").read_text())["images"]


def _clean_run(tmp_path: Path, inbox: Path, detector: Path) -> list:
    out = tmp_path / "clean"
    code, _ = run_json("run", inbox, "--out", out, "--detector", detector, "--classifier", "none", "--no-fiftyone",
                       "--workers", "0")
    assert code == 0
    return _output_images(out)


def _assert_each_frame_once(out: Path, frames: int) -> None:
    con = sqlite3.connect(out / "journal.sqlite")
    assert con.execute("SELECT COUNT(*) FROM media WHERE status='done'").fetchone()[0] == frames
    rows = con.execute("SELECT path, COUNT(*), MAX(idx) FROM detections GROUP BY path").fetchall()
    assert all(count == top + 1 for _, count, top in rows)  # no frame's boxes recorded twice


@pytest.mark.slow
def test_random_kill_9_trials_lose_and_duplicate_nothing(tmp_path, tiny_detector):
    inbox = tmp_path / "inbox"
    frames = 80
    burst(inbox / "cam", frames, T0)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "wildeye", "run", str(inbox), "--out", str(out), "--detector", str(tiny_detector),
            "--classifier", "none", "--no-fiftyone", "--batch-size", "2", "--workers", "0", "-q"]
    rng = random.Random(7)
    killed = 0
    for _ in range(6):
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 3.5))  # anywhere from start-up and scanning to mid-batch
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)
    assert killed >= 3
    code, result = run_json(*args[3:-1])
    assert code == 0, result
    _assert_each_frame_once(out, frames)
    assert _output_images(out) == _clean_run(tmp_path, inbox, tiny_detector)


@pytest.mark.slow
def test_disk_full_then_next_run_completes(tmp_path, tiny_detector):
    inbox = tmp_path / "inbox"
    frames = 40
    burst(inbox / "cam", frames, T0)
    out = tmp_path / "out"
    args = ["run", inbox, "--out", out, "--detector", tiny_detector, "--classifier", "none", "--no-fiftyone",
            "--batch-size", "1", "--workers", "0"]

    def small_disk():  # every file this process writes may grow to 320 KiB at most: writes past it fail (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (320 * 1024, 320 * 1024))

    proc = subprocess.run([sys.executable, "-m", "wildeye", *map(str, args)], capture_output=True, text=True,
                          preexec_fn=small_disk, timeout=300)
    assert proc.returncode == 4, proc.stderr[-3000:]
    assert "could not write results" in proc.stderr and "Traceback" not in proc.stderr
    con = sqlite3.connect(out / "journal.sqlite")
    done_before = con.execute("SELECT COUNT(*) FROM media WHERE status='done'").fetchone()[0]
    assert done_before < frames
    con.close()
    code, result = run_json(*args)
    assert code == 0, result
    assert result["frames_this_run"] == frames - done_before
    _assert_each_frame_once(out, frames)
    assert _output_images(out) == _clean_run(tmp_path, inbox, tiny_detector)


@pytest.mark.slow
def test_truncated_journal_recovers_on_next_run(tmp_path, tiny_detector):
    inbox = tmp_path / "inbox"
    frames = 12
    burst(inbox / "cam", frames, T0)
    out = tmp_path / "out"
    args = ["run", inbox, "--out", out, "--detector", tiny_detector, "--classifier", "none", "--no-fiftyone",
            "--workers", "0"]
    assert run_json(*args)[0] == 0
    journal = out / "journal.sqlite"
    data = journal.read_bytes()
    journal.write_bytes(data[: len(data) // 3])
    code, result = run_json(*args)
    assert code == 0, result
    assert list(out.glob("journal.damaged-*.sqlite"))
    _assert_each_frame_once(out, frames)
    assert _output_images(out) == _clean_run(tmp_path, inbox, tiny_detector)
    shutil.rmtree(tmp_path / "clean")
