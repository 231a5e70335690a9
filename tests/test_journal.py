"""The run journal: batches are all-or-nothing, re-recording never duplicates, one writer at a time."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from wildeye.errors import WildeyeError
from wildeye.inference.types import Detection, Prediction
from wildeye.ingest.manifest import Flag, MediaFile
from wildeye.store.journal import EXIT_LOCKED, HumanLabel, Journal, JournalLocked


def media(path, **kw):
    base = dict(path=path, kind="image", size=10, mtime="2024-01-01T00:00:00", content_hash="h-" + path,
                deployment_id="d", sequence_id="d#00001", frame_num=0, seq_num_frames=1,
                timestamp="2024-05-01T10:00:00")
    return MediaFile(**{**base, **kw})


def test_batches_replace_never_duplicate_and_resume_state(tmp_path):
    with Journal.open(tmp_path) as j:
        j.add_media([media("a.jpg"), media("b.jpg"), media("c.jpg", failure=Flag(code="truncated", reason="cut")),
                     media("d.jpg", duplicate_of="a.jpg"), media("e.mp4", kind="video")])
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
        with pytest.raises(JournalLocked) as info:
            Journal.open(tmp_path)
        assert "another wildeye run" in str(info.value) and "--wait" in str(info.value)
        assert info.value.exit_code == EXIT_LOCKED
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
