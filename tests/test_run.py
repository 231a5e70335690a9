"""`wildeye run` end to end with real (tiny, random-weight) models: journal, resume after kill -9, MD JSON."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from clihelp import kill_9_when, run_cli, run_json
from imagegen import write_frame
from terminal import check_one_display, run_on_terminal

T0 = datetime(2024, 5, 1, 10, 0, 0)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from speciesnet_fixture import make_tiny_model, write_speciesnet_folder
    from yolo_fixtures import write_always_animal

    root = tmp_path_factory.mktemp("models")
    detector = write_always_animal(root / "tiny_md.pt", image_size=320)
    classifier = write_speciesnet_folder(root / "speciesnet", make_tiny_model())
    return detector, classifier


def make_card(root: Path, frames: int = 6) -> Path:
    for i in range(frames):
        write_frame(root / "cam1" / "DCIM" / "100MEDIA" / f"IMG_{i:04d}.JPG", T0 + timedelta(seconds=2 * i),
                    size=(400, 300), seed=i)
    (root / "cam1" / "DCIM" / "100MEDIA" / "IMG_9998.JPG").write_bytes(b"")
    good = (root / "cam1" / "DCIM" / "100MEDIA" / "IMG_0000.JPG").read_bytes()
    (root / "cam1" / "DCIM" / "100MEDIA" / "IMG_9999.JPG").write_bytes(good[: len(good) // 2])
    if frames > 1:  # a corrupt JPEG: its header passes the scan, it has no image data to decode
        (root / "cam1" / "DCIM" / "100MEDIA" / "IMG_9997.JPG").write_bytes(good[: good.index(b"\xff\xda")])
    return root


def check_megadetector_format(doc: dict) -> None:
    """The rules MegaDetector's validate_batch_results.py applies to format 1.6."""
    assert doc["info"]["format_version"] == "1.6" and isinstance(doc["info"]["format_version"], str)
    assert doc["detection_categories"] == {"1": "animal", "2": "person", "3": "vehicle"}
    for key in doc:
        assert key in ("info", "images", "detection_categories", "classification_categories",
                       "classification_category_descriptions")
    for im in doc["images"]:
        assert isinstance(im["file"], str)
        if im.get("failure") is not None:
            assert isinstance(im["failure"], str) and im["detections"] is None
            continue
        assert isinstance(im["detections"], list)
        confs = [d["conf"] for d in im["detections"]]
        assert confs == sorted(confs, reverse=True)
        for det in im["detections"]:
            assert det["category"] in doc["detection_categories"] and isinstance(det["conf"], float)
            x, y, w, h = det["bbox"]
            assert 0 <= x <= 1 and 0 <= y <= 1 and 0 <= w <= 1 and 0 <= h <= 1
            for cat, score in det.get("classifications", []):
                assert cat in doc["classification_categories"] and isinstance(score, float)
            assert len(det.get("classifications", [])) <= 1  # the decision, never the raw top-k
    # SpeciesNet's convention: every category has its full taxonomy string
    descriptions = doc.get("classification_category_descriptions", {})
    assert set(descriptions) == set(doc.get("classification_categories", {}))
    assert all(d.count(";") == 6 for d in descriptions.values())


def test_run_writes_journal_decisions_and_megadetector_json(tmp_path, models):
    detector, classifier = models
    source = make_card(tmp_path / "card")
    code, result = run_json("run", source, "--detector", detector, "--classifier", classifier, "--workers", "0")
    assert code == 1  # finished, but inputs failed
    assert result["images"] == 9 and result["processed"] == 7 and result["failed"] == 2
    assert result["frames_this_run"] == 8
    corrupt, empty = "cam1/DCIM/100MEDIA/IMG_9997.JPG", "cam1/DCIM/100MEDIA/IMG_9998.JPG"
    # the summary names the failed files, with the stage and reason, and points to the full list
    assert [(f["path"], f["stage"]) for f in result["failed_files"]] == [(corrupt, "detect"), (empty, "scan")]
    assert result["failed_files"][0]["reason"].startswith("image could not be decoded")
    assert result["failed_list"] == str(Path(result["out"]) / "failed.csv")
    with open(result["failed_list"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["path"], r["stage"]) for r in rows] == [(corrupt, "detect"), (empty, "scan")]
    assert rows[1]["reason"].startswith("file is empty")
    doc = json.loads(Path(result["outputs"]["megadetector_json"]).read_text())
    check_megadetector_format(doc)
    files = {im["file"]: im for im in doc["images"]}
    assert files["cam1/DCIM/100MEDIA/IMG_9998.JPG"]["failure"].startswith("file is empty")
    assert files[corrupt]["failure"] and files[corrupt]["detections"] is None
    assert files["cam1/DCIM/100MEDIA/IMG_9999.JPG"]["detections"] is not None  # truncated: processed, as MD does
    assert doc["info"]["detector"] == "tiny_md.pt" and doc["info"]["classifier"]
    # synced for review (FiftyOne's own database, in the test's temp dir): one sample per processed frame
    assert result["outputs"]["fiftyone"] == "wildeye-card"
    count = subprocess.run([sys.executable, "-c", "from wildeye.review.db import import_fiftyone; fo = import_fiftyone();"
                            " ds = fo.load_dataset('wildeye-card');"
                            "print(len(ds), ds.count('detections.detections'),"
                            " ds.count('low_confidence_detections.detections'))"], capture_output=True, text=True,
                           env={**os.environ, "FIFTYONE_DATABASE_VALIDATION": "false"}, timeout=240)
    samples, shown, low = map(int, count.stdout.split()[-3:])
    assert samples == 7 and shown + low == sum(len(im["detections"] or []) for im in doc["images"])
    journal = sqlite3.connect(Path(result["out"]) / "journal.sqlite")
    n_dets = journal.execute("SELECT COUNT(*) FROM detections").fetchone()[0]
    assert n_dets == sum(len(im["detections"] or []) for im in doc["images"])
    n_decisions = journal.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    assert n_decisions == 7
    # SpeciesNet's rule: every box >= 0.1, of any category, is classified, and carries its own decision
    classified = journal.execute("SELECT COUNT(*) FROM detections WHERE classifications IS NOT NULL").fetchone()[0]
    eligible = journal.execute("SELECT COUNT(*) FROM detections WHERE conf >= 0.1").fetchone()[0]
    assert classified == eligible and eligible > 0  # the e2e run classifies real boxes
    decided = journal.execute("SELECT COUNT(*) FROM detections WHERE conf >= 0.1 AND sn_source IS NOT NULL"
                              " AND label IS NOT NULL").fetchone()[0]
    assert decided == eligible

    # the same command again: nothing left to do, nothing duplicated
    code, again = run_json("run", source, "--detector", detector, "--classifier", classifier, "--workers", "0",
                           "--no-fiftyone")
    assert again["frames_this_run"] == 0 and again["processed"] == 7
    assert again["failed_files"] == result["failed_files"]  # failed in an earlier run: still named
    assert journal.execute("SELECT COUNT(*) FROM detections").fetchone()[0] == n_dets

    # other models on a journal with results: refuse, say how to proceed
    other = run_cli("run", source, "--detector", detector, "--classifier", "none", "--no-fiftyone")
    assert other.returncode == 2 and "--rerun" in other.stderr and len(other.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_kill_9_then_resume_processes_each_frame_exactly_once(tmp_path, models):
    detector, _ = models
    source = tmp_path / "card"
    frames = 80
    for i in range(frames):
        write_frame(source / "cam" / f"IMG_{i:04d}.JPG", T0 + timedelta(seconds=30 * i), size=(320, 240), seed=i)
    out = tmp_path / "out"
    args = ["run", str(source), "--out", str(out), "--detector", str(detector),
            "--classifier", "none", "--no-fiftyone", "--batch-size", "1", "--workers", "0", "-q"]
    journal_path = out / "journal.sqlite"
    done_at_kill = kill_9_when(args, journal_path, "SELECT COUNT(*) FROM media WHERE status='done'", 5)
    assert 5 <= done_at_kill < frames

    code, result = run_json("run", source, "--out", out, "--detector", detector, "--classifier", "none",
                            "--no-fiftyone", "--workers", "0")
    assert code == 0, result
    con = sqlite3.connect(journal_path)
    done_first = con.execute("SELECT COUNT(*) FROM media WHERE run_id=1").fetchone()[0]
    assert done_first >= done_at_kill  # nothing finished before the kill was redone …
    assert result["frames_this_run"] == frames - done_first  # … and only the rest was done now
    assert con.execute("SELECT COUNT(*) FROM media WHERE status='done'").fetchone()[0] == frames
    runs = con.execute("SELECT run_id, status FROM runs ORDER BY run_id").fetchall()
    assert runs == [(1, "interrupted"), (2, "finished")]  # the killed run is closed by the next one
    # no duplicated detections: every frame's boxes have indexes 0..n-1
    rows = con.execute("SELECT path, COUNT(*), MAX(idx) FROM detections GROUP BY path").fetchall()
    assert all(count == top + 1 for _, count, top in rows)
    # and the results equal a clean uninterrupted run's
    clean_out = tmp_path / "clean"
    run_json("run", source, "--out", clean_out, "--detector", detector, "--classifier", "none", "--no-fiftyone",
             "--workers", "0")
    clean = json.loads((clean_out / "megadetector.json").read_text())["images"]
    resumed = json.loads((out / "megadetector.json").read_text())["images"]
    assert clean == resumed


def test_progress_is_one_display_with_a_row_per_stage(tmp_path, models):
    """Scan and detect bars used to be two live displays redrawing one terminal line in turn."""
    detector, _ = models
    source = make_card(tmp_path / "card")
    args = ("run", source, "--detector", detector, "--classifier", "none", "--workers", "0", "--no-fiftyone")
    code, stdout, drawn = run_on_terminal(*args)
    assert code == 1, drawn[-3000:]
    assert drawn.count("\x1b[?25l") == 1  # one live display (each hides the cursor while it draws) …
    assert check_one_display(drawn, ("scanning", "detecting")) > 0  # … a row per stage, in order
    assert "7 of 9 media processed" in stdout
    assert "failed cam1/DCIM/100MEDIA/IMG_9997.JPG: image could not be decoded" in stdout  # named, with reason
    assert f"failed files (2): {source / 'wildeye' / 'failed.csv'}" in stdout
    code, stdout, drawn = run_on_terminal(*args, "--json")  # machine output: no bars, even on a terminal
    assert json.loads(stdout)["processed"] == 7 and "scanning" not in drawn and "\x1b[" not in drawn
    code, _, drawn = run_on_terminal(*args, "-q")
    assert code == 1 and "detecting" not in drawn and "\x1b[" not in drawn


def test_offline_without_models_says_how_to_import(tmp_path):
    make_card(tmp_path / "card", frames=1)
    env = {"WILDEYE_CACHE_DIR": str(tmp_path / "cache")}
    proc = run_cli("run", tmp_path / "card", env=env)
    assert proc.returncode == 2
    assert "wildeye models import" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
