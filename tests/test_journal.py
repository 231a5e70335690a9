"""The run journal: batches are all-or-nothing, re-recording never duplicates, one writer at a time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from wildeye.errors import WildeyeError
from wildeye.records import Detection, Prediction
from wildeye.ingest.manifest import Flag, MediaFile
from wildeye.store.journal import EXIT_LOCKED, HumanLabel, Journal, JournalLocked, is_locked


def media(path, **kw):
    base = dict(path=path, kind="image", size=10, mtime="2024-01-01T00:00:00", content_hash="h-" + path,
                deployment_id="d", sequence_id="d#00001", frame_num=0, seq_num_frames=1,
                timestamp="2024-05-01T10:00:00")
    return MediaFile(**{**base, **kw})


def test_batches_replace_never_duplicate_and_resume_state(tmp_path):
    with Journal.open(tmp_path) as j:
        j.add_media([media("a.jpg"), media("b.jpg"), media("c.jpg", failure=Flag(code="truncated", reason="cut")),
                     media("d.jpg", duplicate_of="a.jpg"), media("e.mp4", kind="video")], videos=False)
        assert j.pending() == ["a.jpg", "b.jpg"]
        run = j.start_run({"x": 1}, {"detector": "mdv5a"})
        box = Detection("animal", 0.9, (0.1, 0.2, 0.3, 0.4), [("snow leopard", 0.97)])
        j.record_batch(run, {"a.jpg": [box, box]}, {})
        j.record_batch(run, {"a.jpg": [box]}, {"b.jpg": "image could not be decoded"})  # a.jpg recorded again
        assert j.pending() == []
        assert j.detections() == {"a.jpg": [Detection("animal", 0.9, (0.1, 0.2, 0.3, 0.4), [("snow leopard", 0.97)])]}
        assert j.counts() == {"done": 1, "failed": 2, "duplicate": 1, "skipped": 1}
        # scanning again keeps finished results for unchanged content, re-queues changed content
        j.add_media([media("a.jpg"), media("b.jpg", content_hash="new")])
        assert j.pending() == ["b.jpg"]
        # the same content under a new path (renamed or re-copied card) is not redone
        j.add_media([media("renamed/a.jpg", content_hash="h-a.jpg")])
        assert j.pending() == ["b.jpg"]
        row = j.conn.execute("SELECT status, duplicate_of FROM media WHERE path='renamed/a.jpg'").fetchone()
        assert row == ("duplicate", "a.jpg")
        j.write_decisions({"a.jpg": (Prediction("snow leopard", 0.97, "classifier", True, ["flagship"]), [])})
        assert j.decisions()["a.jpg"].review_reasons == ["flagship"]


def test_failed_batch_is_rolled_back(tmp_path):
    with Journal.open(tmp_path) as j:
        j.add_media([media("a.jpg")])
        run = j.start_run({}, {})
        bad = Detection("unicorn-with-no-bbox", 0.5, (0.1, 0.1))  # wrong bbox arity: the insert fails midway
        with pytest.raises(Exception):
            j.record_batch(run, {"a.jpg": [Detection("animal", 0.5, (0, 0, 1, 1)), bad]}, {})
        assert j.pending() == ["a.jpg"] and j.detections() == {}


def test_second_writer_is_refused_clearly_and_lock_dies_with_its_process(tmp_path):
    with Journal.open(tmp_path):
        with pytest.raises(JournalLocked, match="already open for writing in this process"):
            Journal.open(tmp_path)
        other = subprocess.run([sys.executable, "-c", f"from wildeye.store.journal import Journal; "
                                f"Journal.open({str(tmp_path)!r})"], capture_output=True, text=True)
        assert "JournalLocked" in other.stderr and "another wildeye run" in other.stderr
        assert f"pid {os.getpid()}" in other.stderr and "--wait" in other.stderr
        assert is_locked(tmp_path)
    assert JournalLocked("x").exit_code == EXIT_LOCKED and not is_locked(tmp_path)
    # a process killed while holding the lock leaves no stale lock behind
    script = textwrap.dedent(f"""
        import os, signal
        from wildeye.store.journal import Journal
        Journal.open({str(tmp_path)!r})
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script])
    assert proc.returncode == -9
    with Journal.open(tmp_path) as j:
        assert j.counts() == {}


def test_lock_is_never_inherited_by_forked_children(tmp_path):
    """The bug of killed nightly runs: DataLoader workers forked while the run held the lock outlived it and kept
    every later run out. The lock belongs to the run alone: its children never hold it."""
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        from wildeye.store.journal import Journal
        journal = Journal.open({str(tmp_path)!r})
        child = os.fork()
        if child == 0:  # a worker that outlives its parent, holding every inherited descriptor but the pipes
            os.close(1)
            os.close(2)
            time.sleep(30)
            os._exit(0)
        print(child, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    orphan = int(proc.stdout.split()[0])
    try:
        assert os.path.exists(f"/proc/{orphan}")  # the orphan is alive and holds the descriptor...
        with Journal.open(tmp_path) as j:  # ...yet the journal is free at once
            assert j.counts() == {}
    finally:
        os.kill(orphan, signal.SIGKILL)


def test_stale_running_runs_are_closed_by_the_next_writer(tmp_path):
    with Journal.open(tmp_path) as j:
        j.start_run({}, {})  # never finished: the process "died"
    with Journal.open(tmp_path) as j:
        assert [r["status"] for r in j.runs()] == ["running"]
        assert j.close_stale_runs() == 1
        assert [r["status"] for r in j.runs()] == ["interrupted"] and j.runs()[0]["finished"]


def test_reading_a_missing_journal_says_what_to_do(tmp_path):
    with pytest.raises(WildeyeError) as info:
        Journal.open(tmp_path / "nowhere", write=False)
    assert "wildeye run" in str(info.value)


def test_damaged_journal_is_set_aside_and_human_labels_salvaged(tmp_path):
    with Journal.open(tmp_path) as j:
        j.add_media([media(f"f{i:04d}.jpg") for i in range(3000)])  # enough pages that a cut loses some
        j.record_human_labels([HumanLabel("f0001.jpg", "snow leopard", reviewer="tashi")])
    data = (tmp_path / "journal.sqlite").read_bytes()
    (tmp_path / "journal.sqlite").write_bytes(data[: len(data) // 2])  # truncated: a full disk, a bad copy
    with pytest.raises(WildeyeError) as info:
        Journal.open(tmp_path, write=False)  # readers never touch it …
    assert "damaged" in str(info.value) or "malformed" in str(info.value)
    with Journal.open(tmp_path) as j:  # … a writer sets it aside and starts afresh
        assert j.counts() == {}
        assert j.get_meta("recovered_from").startswith("journal.damaged-")
        assert list(j.human_labels()) == ["f0001.jpg"]
    assert len(list(tmp_path.glob("journal.damaged-*.sqlite"))) == 1

    (tmp_path / "journal.sqlite").write_bytes(b"this is not a database" * 100)
    with Journal.open(tmp_path) as j:
        assert j.counts() == {}


def test_human_labels_win_and_survive_model_decisions(tmp_path):
    with Journal.open(tmp_path) as j:
        j.add_media([media("a.jpg"), media("b.jpg")])
        j.write_decisions({"a.jpg": (Prediction("blue sheep", 0.7, "classifier"), []),
                           "b.jpg": (Prediction("blank", 0.99, "detector"), [])})
        j.record_human_labels([HumanLabel("a.jpg", "snow leopard", count=2, reviewer="tashi", origin="fiftyone:x")])
        j.write_decisions({"a.jpg": (Prediction("blue sheep", 0.8, "classifier"), []),
                           "b.jpg": (Prediction("blank", 0.99, "detector"), [])})  # a later run's decisions
        final = j.final_labels()
        assert (final["a.jpg"].label, final["a.jpg"].source) == ("snow leopard", "human")
        assert final["b.jpg"].label == "blank"
        assert j.human_labels()["a.jpg"].count == 2


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (run_id INTEGER PRIMARY KEY AUTOINCREMENT, started TEXT NOT NULL, finished TEXT, status TEXT NOT NULL,
    wildeye_version TEXT, host TEXT, pid INTEGER, config TEXT, models TEXT, stats TEXT);
CREATE TABLE media (path TEXT PRIMARY KEY, content_hash TEXT, kind TEXT, size INTEGER, deployment_id TEXT,
    sequence_id TEXT, frame_num INTEGER, seq_num_frames INTEGER, timestamp TEXT, width INTEGER, height INTEGER,
    status TEXT NOT NULL, failure TEXT, duplicate_of TEXT, run_id INTEGER, processed_at TEXT);
CREATE TABLE detections (path TEXT NOT NULL, idx INTEGER NOT NULL, category TEXT NOT NULL, conf REAL NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL, classifications TEXT, PRIMARY KEY (path, idx));
CREATE TABLE decisions (path TEXT PRIMARY KEY, label TEXT NOT NULL, score REAL NOT NULL, source TEXT NOT NULL,
    needs_review INTEGER NOT NULL, review_reasons TEXT, detections TEXT);
CREATE TABLE human_labels (path TEXT PRIMARY KEY, label TEXT NOT NULL, count INTEGER, boxes TEXT,
    verified INTEGER NOT NULL DEFAULT 1, reviewer TEXT, reviewed_at TEXT, origin TEXT);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO runs(started, status, config) VALUES ('2024-05-01T10:00:00', 'finished',
    '{"ensemble": {"detection_threshold": 0.3}}');
INSERT INTO media(path, status) VALUES ('a.jpg', 'done');
INSERT INTO detections VALUES ('a.jpg', 0, 'animal', 0.9, 0, 0, 0.1, 0.1, '[["snow leopard", 0.95]]');
INSERT INTO detections VALUES ('a.jpg', 1, 'animal', 0.1, 0, 0, 0.1, 0.1, NULL);
INSERT INTO detections VALUES ('a.jpg', 2, 'person', 0.8, 0, 0, 0.1, 0.1, '[["human", 0.9]]');
INSERT INTO decisions VALUES ('a.jpg', 'snow leopard', 0.95, 'classifier', 1, '["flagship"]',
    '[{"label": "snow leopard", "score": 0.95, "source": "classifier", "needs_review": true,
       "review_reasons": ["flagship"]}, {"label": "human", "score": 0.8, "source": "detector",
       "needs_review": false, "review_reasons": []}]');
"""


def test_schema_1_journal_is_migrated_with_each_box_its_own_decision(tmp_path):
    import sqlite3

    con = sqlite3.connect(tmp_path / "journal.sqlite")
    con.executescript(V1_SCHEMA)
    con.close()
    with pytest.raises(WildeyeError, match="older layout.*run `wildeye run` on it once"):
        Journal.open(tmp_path, write=False)
    with Journal.open(tmp_path) as j:  # a writer upgrades it
        assert j.get_meta("schema_version") == 3  # schema 1 -> 2 -> 3
        boxes = j.detections()["a.jpg"]
        # the old per-image list held one prediction per box at or above the run's threshold (0.3), in box order
        assert [(b.decision.label, b.decision.score) if b.decision else None for b in boxes] == [
            ("snow leopard", 0.95), None, ("human", 0.8)]
        assert boxes[0].decision.review_reasons == ["flagship"] and boxes[0].classifications == [("snow leopard", 0.95)]
        assert j.decisions()["a.jpg"].label == "snow leopard"
    with Journal.open(tmp_path, write=False) as j:
        assert j.detections()["a.jpg"][2].decision.label == "human"
