"""Video through `wildeye run`: sampling (MegaDetector's rule), frames detected like stills and committed per batch,
the best frame's roll-up, failures, resume after kill -9, and the exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from videogen import square_at, write_clip

from wildeye.records import Detection


class BrightnessDetector:
    """A stand-in detector that boxes the bright square of a videogen clip with confidence = its brightness / 255:
    deterministic, so the best frame is known (the clip's middle frame)."""

    image_size = 320
    device = None

    def __init__(self):
        self.seen = 0

    def preparer(self):
        return lambda image: image

    def detect_prepared(self, images):
        self.seen += len(images)
        out = []
        for image in images:
            grey = np.asarray(image).mean(axis=2)
            ys, xs = np.nonzero(grey > 60)
            if len(xs) == 0:
                out.append([])
                continue
            h, w = grey.shape
            box = (xs.min() / w, ys.min() / h, (xs.max() + 1 - xs.min()) / w, (ys.max() + 1 - ys.min()) / h)
            out.append([Detection("animal", round(float(grey[ys, xs].mean()) / 255, 3), tuple(map(float, box)))])
        return out


def test_sampling_follows_megadetector_rule(tmp_path):
    from wildeye.ingest.video import probe, read_frame, sample_frames, sampling_step

    clip = write_clip(tmp_path / "a.mp4", frames=30, fps=10.0)
    info = probe(clip)
    assert (info.frame_rate, info.frame_count, info.width, info.height) == (10.0, 30, 320, 240)
    assert sampling_step(10.0, every_n_seconds=1.0) == 10 and sampling_step(29.97, every_n_seconds=0.01) == 1
    assert sampling_step(10.0, every_n_seconds=1.0, every_n_frames=4) == 4 and sampling_step(0.0, 2.0) == 1
    frames = list(sample_frames(clip, 10))
    assert [(f.number, f.time) for f in frames] == [(0, 0.0), (10, 1.0), (20, 2.0)]
    x, y, level = square_at(10, 30)
    assert abs(int(frames[1].image[y + 24, x + 24, 0]) - level) < 20 and frames[1].image[5, 5, 0] < 40  # RGB pixels
    assert [f.number for f in sample_frames(clip, 10, skip={0, 20})] == [10]  # committed frames are not redone
    assert [f.number for f in sample_frames(clip, 4, max_frames=2)] == [0, 4]
    assert np.array_equal(read_frame(clip, 20), frames[2].image)


def _open_journal(card: Path, out: Path):
    from wildeye.ingest.scan import scan
    from wildeye.store.journal import Journal

    journal = Journal.open(out)
    journal.add_media(scan(card, out_dir=out).files)
    return journal


def test_frames_detected_like_stills_best_frame_rollup_failure_and_resume(tmp_path):
    from wildeye.app.video import process_videos
    from wildeye.config import VideoConfig
    from wildeye.inference.pipeline import FramePipeline

    card = tmp_path / "card"
    write_clip(card / "cam1" / "CLIP0001.AVI", frames=21, fps=10.0)  # brightest at frame 10
    (card / "cam1" / "CLIP0002.MP4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)  # corrupt
    settings = VideoConfig(every_n_frames=2, batch_frames=3)
    detector = BrightnessDetector()
    with _open_journal(card, tmp_path / "out") as journal:
        assert journal.pending_videos() == ["cam1/CLIP0001.AVI", "cam1/CLIP0002.MP4"]
        run_id = journal.start_run({}, {})
        pipeline = FramePipeline(detector, None, workers=0)
        # a run killed after two batches: its frames are committed, the video is not done yet
        first = process_videos(card, ["cam1/CLIP0001.AVI"], journal, pipeline, run_id,
                               settings.model_copy(update={"max_frames": 6}))
        assert first == {"videos_done": 1, "videos_failed": 0, "video_frames": 6}
        journal.conn.execute("UPDATE media SET status='pending' WHERE path='cam1/CLIP0001.AVI'")  # not finished
        assert detector.seen == 6
        events = []
        counts = process_videos(card, journal.pending_videos(), journal, pipeline, run_id, settings,
                                event=lambda name, **kw: events.append((name, kw)))
        assert counts == {"videos_done": 1, "videos_failed": 1, "video_frames": 5}  # frames 12..20 only
        assert detector.seen == 11  # nothing committed was detected again
        frames = journal.video_frames()["cam1/CLIP0001.AVI"]
        assert [f.number for f in frames] == list(range(0, 21, 2))  # each sampled frame once
        assert [f.time for f in frames][:2] == [0.0, 0.2]
        video = journal.videos()["cam1/CLIP0001.AVI"]
        assert (video.best_frame, video.every_n_frames, video.frame_rate, video.width) == (10, 2, 10.0, 320)
        best = next(f for f in frames if f.number == 10)
        assert journal.detections()["cam1/CLIP0001.AVI"] == best.detections  # the video's boxes: its best frame's
        assert best.detections[0].conf == max(d.conf for f in frames for d in f.detections)
        rows = {m.path: m for m in journal.media()}
        assert rows["cam1/CLIP0001.AVI"].status == "done" and rows["cam1/CLIP0001.AVI"].width == 320
        assert rows["cam1/CLIP0002.MP4"].status == "failed"
        assert rows["cam1/CLIP0002.MP4"].failure.startswith("video could not be decoded")
        assert ("video_done", {"path": "cam1/CLIP0001.AVI", "frames": 11, "every_n_frames": 2, "best_frame": 10,
                               "frame_rate": 10.0}) in events


def test_best_frame_rule():
    from wildeye.inference.video import best_frame

    box = lambda conf: Detection("animal", conf, (0.1, 0.1, 0.2, 0.2))  # noqa: E731
    assert best_frame({0: [box(0.3)], 5: [box(0.2), box(0.9)], 10: [box(0.9)]}) == 5  # max confidence, earliest
    assert best_frame({4: [], 8: []}) == 4 and best_frame({}) is None


def test_schema_2_journal_migrates_its_skipped_videos_to_pending(tmp_path):
    import sqlite3

    from wildeye.store.journal import Journal

    card = tmp_path / "card"
    write_clip(card / "CLIP.MOV", frames=4)
    with _open_journal(card, tmp_path / "out") as journal:  # as schema 2 left it: the video listed and skipped
        journal.conn.execute("UPDATE media SET status='skipped', failure='video: not processed yet'")
        journal.set_meta("schema_version", 2)
        for table in ("videos", "video_frames", "frame_detections"):
            journal.conn.execute(f"DROP TABLE {table}")
    with Journal.open(tmp_path / "out") as journal:
        assert journal.get_meta("schema_version") == 3
        assert journal.pending_videos() == ["CLIP.MOV"] and journal.videos() == {}
    con = sqlite3.connect(tmp_path / "out" / "journal.sqlite")
    assert con.execute("SELECT failure FROM media").fetchone() == (None,)
