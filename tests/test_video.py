"""Video through `wildeye run`: sampling (MegaDetector's rule), frames detected like stills and committed per batch,
the best frame's roll-up, failures, resume after kill -9, and the exports."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
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
        assert ("video_done", {"path": "cam1/CLIP0001.AVI", "frames": 11, "expected_frames": 11, "every_n_frames": 2,
                               "best_frame": 10, "frame_rate": 10.0}) in events
        # the same file with new content (a card copied again after the clip was replaced): every frame redone
        journal.conn.execute("UPDATE media SET status='pending', content_hash='other' WHERE path='cam1/CLIP0001.AVI'")
        process_videos(card, ["cam1/CLIP0001.AVI"], journal, pipeline, run_id, settings)
        assert detector.seen == 22
        assert [f.number for f in journal.video_frames()["cam1/CLIP0001.AVI"]] == list(range(0, 21, 2))
        # --rerun with other models: every video back to pending, its frames forgotten
        journal.requeue_processed()
        assert journal.pending_videos() == ["cam1/CLIP0001.AVI", "cam1/CLIP0002.MP4"] and journal.video_frames() == {}


def test_a_truncated_clip_keeps_the_frames_before_the_cut(tmp_path):
    """As MegaDetector's run_callback_on_frames: reading stops at the first frame the decoder cannot give."""
    from wildeye.app.video import process_videos
    from wildeye.config import VideoConfig
    from wildeye.inference.pipeline import FramePipeline

    card = tmp_path / "card"
    data = write_clip(tmp_path / "full.AVI", frames=20).read_bytes()
    (card / "cam").mkdir(parents=True)
    (card / "cam" / "CUT.AVI").write_bytes(data[:len(data) // 2])
    events = []
    with _open_journal(card, tmp_path / "out") as journal:
        counts = process_videos(card, ["cam/CUT.AVI"], journal, FramePipeline(BrightnessDetector(), None, workers=0),
                                journal.start_run({}, {}), VideoConfig(every_n_frames=2),
                                event=lambda name, **kw: events.append(kw))
        frames = [f.number for f in journal.video_frames()["cam/CUT.AVI"]]
        assert counts["videos_done"] == 1 and 0 < len(frames) < 10 and frames == list(range(0, 2 * len(frames), 2))
        assert events[-1]["expected_frames"] == 10 and events[-1]["frames"] == len(frames)


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


# --- end to end: the real CLI, tiny real models ----------------------------------------------------------------

CLIP, BROKEN = "cam1/CLIP0001.MP4", "cam1/CLIP0002.AVI"
SAMPLED = list(range(0, 40, 2))  # 40 frames, every 2nd sampled


@pytest.fixture(scope="module")
def video_card(tmp_path_factory):
    from datetime import datetime

    from imagegen import write_frame
    from speciesnet_fixture import make_tiny_model, write_speciesnet_folder
    from yolo_fixtures import write_always_animal

    root = tmp_path_factory.mktemp("video-e2e")
    detector = write_always_animal(root / "models" / "tiny_md.pt", image_size=320)
    classifier = write_speciesnet_folder(root / "models" / "speciesnet", make_tiny_model())
    card = root / "card"
    write_frame(card / "cam1" / "IMG_0001.JPG", datetime(2024, 5, 1, 10), size=(320, 240))
    write_clip(card / CLIP, frames=40, fps=10.0)
    (card / BROKEN).write_bytes(b"RIFF\x00\x01\x00\x00AVI LIST" + bytes(500))  # named like a clip, holds none
    config = root / "run.yaml"  # one crop a frame and a commit per frame: short, and a kill lands mid-video
    config.write_text("video:\n  every_n_frames: 2\n  batch_frames: 1\nclassifier:\n  max_crops_per_image: 1\n")
    return card, config, ("--detector", str(detector), "--classifier", str(classifier), "--workers", "0",
                          "--no-fiftyone")


def _args(card, out, config, models):
    return ("run", card, "--out", out, "--config", config, *models)


def _run_here(*args) -> tuple[int, dict]:
    """`wildeye run ... --json` through the real command line, in this process (no second interpreter start)."""
    from click.testing import CliRunner

    from wildeye.cli import cli

    result = CliRunner().invoke(cli, [*map(str, args), "--json"], standalone_mode=False, catch_exceptions=False)
    return result.return_value, json.loads(result.stdout)


@pytest.fixture(scope="module")
def clean_run(video_card, tmp_path_factory):
    """An uninterrupted run of the card, with the report: (out folder, JSON summary, megadetector.json)."""
    card, config, models = video_card
    out = tmp_path_factory.mktemp("video-clean") / "out"
    code, result = _run_here(*_args(card, out, config, models), "--report")
    assert code == 1, result  # the broken clip failed; the rest is done
    return out, result, json.loads((out / "megadetector.json").read_text())


def test_kill_9_mid_video_then_resume_equals_an_uninterrupted_run(tmp_path, video_card, clean_run):
    import sqlite3

    from clihelp import kill_9_when

    card, config, models = video_card
    out = tmp_path / "killed"
    committed = kill_9_when([*_args(card, out, config, models), "-q"], out / "journal.sqlite",
                            f"SELECT COUNT(*) FROM video_frames WHERE path='{CLIP}'", 3, timeout=240)
    assert 3 <= committed < len(SAMPLED)
    con = sqlite3.connect(out / "journal.sqlite")
    assert con.execute("SELECT status FROM media WHERE path=?", (CLIP,)).fetchone() == ("pending",)  # mid-video

    code, resumed = _run_here(*_args(card, out, config, models))
    assert code == 1 and resumed["videos_done"] == 1 and resumed["videos_failed"] == 1  # the broken clip
    assert resumed["video_frames"] <= len(SAMPLED) - committed  # committed frames were not detected again
    frames = con.execute("SELECT frame, run_id FROM video_frames WHERE path=? ORDER BY frame", (CLIP,)).fetchall()
    assert [f for f, _ in frames] == SAMPLED and {r for _, r in frames} == {1, 2}  # each once, over both runs
    rows = con.execute("SELECT frame, COUNT(*), MAX(idx) FROM frame_detections GROUP BY path, frame").fetchall()
    assert len(rows) == len(SAMPLED) and all(n == top + 1 for _, n, top in rows)  # no box twice
    killed_doc = json.loads((out / "megadetector.json").read_text())
    assert killed_doc["images"] == clean_run[2]["images"]  # the same results as the uninterrupted run


def test_exports_follow_megadetector_and_camtrap_dp_video_conventions(clean_run):
    """The exports of a run with a video: MegaDetector 10's video entries, Camtrap DP media types, the gallery."""
    import csv

    from wildeye.reports.camtrapdp import validate_package

    out, result, doc = clean_run
    assert result["video_frames"] == len(SAMPLED)
    assert [(f["path"], f["stage"]) for f in result["failed_files"]] == [(BROKEN, "detect")]
    assert result["failed_files"][0]["reason"].startswith("video could not be decoded")
    entries = {im["file"]: im for im in doc["images"]}
    video = entries[CLIP]
    assert list(video) == ["file", "frame_rate", "frames_processed", "detections"]  # process_video's fields
    assert video["frame_rate"] == 10.0 and video["frames_processed"] == SAMPLED
    assert sorted({d["frame_number"] for d in video["detections"]}) == SAMPLED
    numbers = [d["frame_number"] for d in video["detections"]]
    assert numbers == sorted(numbers)  # frame order, as process_video extends them
    decided = [d for d in video["detections"] if d.get("classifications")]
    assert decided and {d["frame_number"] for d in decided} == {0}  # the best frame's boxes carry the decision
    assert entries[BROKEN] == {"file": BROKEN, "frame_rate": -1.0, "frames_processed": [],
                               "failure": entries[BROKEN]["failure"], "detections": None}
    assert "frame_number" not in json.dumps(entries["cam1/IMG_0001.JPG"])
    # frame level, as MegaDetector names frames it extracts (`<video>/frame000123.jpg`): what its
    # frame_results_to_video_results reads back (dirname: the video, frame(\d+).jpg: the frame number)
    frame_doc = json.loads((out / "megadetector_video_frames.json").read_text())
    assert [im["file"] for im in frame_doc["images"]] == [f"{CLIP}/frame{n:06d}.jpg" for n in SAMPLED]
    per_frame = {int(im["file"][-10:-4]): im["detections"] for im in frame_doc["images"]}
    assert sum(map(len, per_frame.values())) == len(video["detections"])
    assert per_frame[0] == [{k: v for k, v in d.items() if k != "frame_number"} for d in video["detections"]
                            if d["frame_number"] == 0]
    assert frame_doc["classification_categories"] == doc["classification_categories"]
    package = out / "report" / "camtrap-dp"
    # valid against the published Camtrap DP schemas (bar GBIF's coordinates, which this card's deployment lacks)
    assert [p for p in validate_package(package) if "'spatial' is a required property" not in p] == []
    with open(package / "media.csv", newline="") as f:
        media = {r["fileName"]: r for r in csv.DictReader(f)}
    assert media["CLIP0001.MP4"]["fileMediatype"] == "video/mp4"
    assert media["CLIP0002.AVI"]["fileMediatype"] == "video/x-msvideo"
    assert media["IMG_0001.JPG"]["fileMediatype"] == "image/jpeg"
    assert "frame 0" in media["CLIP0001.MP4"]["mediaComments"]
    with open(package / "observations.csv", newline="") as f:
        obs = [r for r in csv.DictReader(f) if r["mediaID"] == media["CLIP0001.MP4"]["mediaID"]]
    assert obs and all(r["eventEnd"] > r["eventStart"] for r in obs)  # a video's observation spans its 4 s
    # the tiny classifier's labels are a class (Mammalia): counted, and in the gallery, at class rank
    code, summary = _run_here("report", out, "--rank", "class")
    assert code == 0 and summary["species"] == 1  # Mammalia; "animal" stays apart
    html = (out / "report" / "report.html").read_text()
    assert "video frame 0" in html and "image not found" not in html  # the gallery's still is taken from the clip


def test_fiftyone_video_samples_with_frame_labels(clean_run):
    import uuid

    from wildeye.review import sync_run
    from wildeye.review.db import import_fiftyone

    out, _, doc = clean_run
    name = f"video-e2e-{uuid.uuid4().hex[:8]}"  # a database another test session left running may hold others
    summary = sync_run(out, name)
    assert summary["samples"] == 1 and summary["video_dataset"] == name + "-video" and summary["videos"] == 1
    fo = import_fiftyone()
    videos = fo.load_dataset(name + "-video")
    assert videos.media_type == "video" and len(videos) == 1
    sample = videos.first()
    assert sample.media_path == CLIP and sample.metadata.frame_rate == 10.0
    assert sample.metadata.total_frame_count == 40 and sample.metadata.frame_width == 320
    assert sample.prediction is not None and len(sample.detections.detections) > 0  # the video's decision, as a still's
    assert sorted(sample.frames.keys()) == [n + 1 for n in SAMPLED]  # FiftyOne counts frames from 1
    assert [n for n, f in sample.frames.items() if f["best_frame"]] == [1]
    video = next(im for im in doc["images"] if im["file"] == CLIP)
    assert videos.count("frames.detections.detections") == len(video["detections"])
    again = sync_run(out, name)  # a second sync replaces, never duplicates
    assert again["videos"] == 1 and len(videos) == 1 and videos.count("frames") == len(SAMPLED)
    # a reviewer labels the video in the App; pull brings it into the journal, where it wins
    from wildeye.review import pull_corrections
    from wildeye.store.journal import Journal

    sample = videos.first()
    sample["ground_truth"] = fo.Classification(label="snow leopard")
    sample.save()
    pulled = pull_corrections(out, name + "-video")
    assert pulled["pulled"] == 1 and pulled["not_in_journal"] == 0
    with Journal.open(out, write=False) as journal:
        assert journal.final_labels()[CLIP].label == "snow leopard"


def test_video_frames_take_the_device_decode_path_with_the_same_boxes(tmp_path):
    """decode: device (the default on CUDA): sampled frames are uploaded and letterboxed on the model's device; on
    the CPU that letterbox reproduces OpenCV's, so the boxes equal the host path's."""
    from yolo_fixtures import write_always_animal

    from wildeye.app.video import process_videos
    from wildeye.config import VideoConfig
    from wildeye.inference.detector import Detector
    from wildeye.inference.pipeline import FramePipeline

    card = tmp_path / "card"
    write_clip(card / "CLIP.MP4", frames=6, fps=10.0)
    detector = Detector.from_checkpoint(write_always_animal(tmp_path / "tiny.pt", image_size=320))
    found = {}
    for decode in ("full", "device"):
        with _open_journal(card, tmp_path / decode) as journal:
            run_id = journal.start_run({}, {})
            pipeline = FramePipeline(detector, None, workers=0, decode=decode)
            assert process_videos(card, ["CLIP.MP4"], journal, pipeline, run_id,
                                  VideoConfig(every_n_frames=2))["video_frames"] == 3
            found[decode] = {f.number: f.detections for f in journal.video_frames()["CLIP.MP4"]}
    assert pipeline.times.device_decode > 0  # the device path ran
    assert found["device"] == found["full"] and any(found["full"].values())


def test_a_videos_capture_time_is_read_from_its_first_frames_info_strip(tmp_path):
    import cv2
    from stripgen import render_frame, strip_text

    from wildeye.ingest import infostrip
    from wildeye.ingest.scan import scan

    try:
        infostrip.StripReader().close()
    except infostrip.EngineMissing as exc:
        pytest.skip(f"Tesseract not usable here: {exc}")
    start = datetime(2021, 3, 14, 5, 9, 26)  # no EXIF in a clip: the strip is the only record of the time
    (tmp_path / "card").mkdir()
    writer = cv2.VideoWriter(str(tmp_path / "card" / "CLIP.MP4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (640, 480))
    for i in range(3):  # 0.3 s of clip: the strip's time stays the start
        scene = render_frame(strip_text(start + timedelta(seconds=i // 10), "%m/%d/%Y %H:%M:%S"), size=(640, 480))
        writer.write(cv2.cvtColor(np.asarray(scene.convert("RGB")), cv2.COLOR_RGB2BGR))
    writer.release()
    (video,) = scan(tmp_path / "card", out_dir=tmp_path / "out").files
    assert (video.kind, video.time_source, video.timestamp) == ("video", "info_strip", start.isoformat())
