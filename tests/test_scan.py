"""`wildeye scan` on generated card dumps: EXIF, layout, sequences, duplicates, deployments, bad files."""

from __future__ import annotations

import csv
import os
import shutil
import struct
import subprocess
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from clihelp import run_cli, run_json
from imagegen import write_frame
from terminal import check_one_display, final_screen, run_on_terminal

from wildeye.ingest.manifest import Manifest, ScanSettings
from wildeye.ingest.scan import scan, summarize
from wildeye.names import fs_name, media_path, record_name

T0 = datetime(2024, 5, 1, 10, 0, 0)


def by_name(manifest: Manifest) -> dict:
    return {r.path.rsplit("/", 1)[-1]: r for r in manifest.files}


def test_exif_fields_are_read_from_header(tmp_path):
    write_frame(tmp_path / "IMG_0001.JPG", T0, subsec="25", offset="+05:45", serial="SN-7", orientation=6,
                gps=(27.9875, 86.925, 4500), size=(120, 80))
    record = scan(tmp_path).files[0]
    assert record.camera_time == "2024-05-01T10:00:00.250000"
    assert record.timestamp == "2024-05-01T10:00:00.250000+05:45"
    assert record.time_source == "DateTimeOriginal"
    assert (record.make, record.model, record.serial, record.orientation) == ("RECONYX", "HC600", "SN-7", 6)
    assert (record.width, record.height, record.format, record.mode) == (120, 80, "JPEG", "RGB")
    assert record.gps == pytest.approx({"latitude": 27.9875, "longitude": 86.925, "altitude": 4500.0})
    assert record.content_hash and len(record.content_hash) == 32
    assert record.usable and record.flags == []


def test_card_layout_junk_videos_and_case(tmp_path):
    card = tmp_path / "CARD_A" / "DCIM" / "100MEDIA"
    write_frame(card / "IMG_0001.JPG", T0)
    write_frame(card / "img_0002.jpeg", T0 + timedelta(seconds=2), seed=1)
    write_frame(card / "IMG_0003.png", T0 + timedelta(seconds=4), seed=2, fmt="PNG")
    (card / "MOV_0004.MP4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    (card / ".DS_Store").write_bytes(b"junk")
    (card / "Thumbs.db").write_bytes(b"junk")
    (card / "._IMG_0001.JPG").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    (card / "notes.txt").write_text("battery low")
    manifest = scan(tmp_path)
    kinds = {r.path: r.kind for r in manifest.files}
    assert kinds == {
        "CARD_A/DCIM/100MEDIA/IMG_0001.JPG": "image",
        "CARD_A/DCIM/100MEDIA/IMG_0003.png": "image",
        "CARD_A/DCIM/100MEDIA/MOV_0004.MP4": "video",
        "CARD_A/DCIM/100MEDIA/img_0002.jpeg": "image",
    }
    assert manifest.ignored == 4
    assert {r.deployment_id for r in manifest.files} == {"CARD_A"}  # DCIM/100MEDIA levels are not deployments
    video = by_name(manifest)["MOV_0004.MP4"]
    assert video.time_source == "mtime" and video.content_hash


def test_bursts_split_into_sequences_at_the_gap(tmp_path):
    offsets = [0, 5, 10, 70, 131, 3000, 3001]  # 70-10=60 s stays in the burst, 131-70=61 s starts a new one
    for i, seconds in enumerate(offsets):
        write_frame(tmp_path / "cam" / f"IMG_{i:04d}.JPG", T0 + timedelta(seconds=seconds), seed=i)
    manifest = scan(tmp_path, ScanSettings(sequence_gap_s=60))
    frames = [(r.sequence_id, r.frame_num, r.seq_num_frames) for r in sorted(manifest.files, key=lambda r: r.path)]
    assert frames == [
        ("cam#00001", 0, 4), ("cam#00001", 1, 4), ("cam#00001", 2, 4), ("cam#00001", 3, 4),
        ("cam#00002", 0, 1),
        ("cam#00003", 0, 2), ("cam#00003", 1, 2),
    ]
    assert summarize(manifest)["sequences"] == 3


def test_card_copied_twice_is_flagged_duplicate(tmp_path):
    for i in range(3):
        write_frame(tmp_path / "site1" / "DCIM" / "100MEDIA" / f"IMG_{i:04d}.JPG", T0 + timedelta(seconds=i), seed=i)
    shutil.copytree(tmp_path / "site1", tmp_path / "site1 (copy)")
    manifest = scan(tmp_path)
    copies = [r for r in manifest.files if r.path.startswith("site1 (copy)")]
    assert len(copies) == 3 and all(not r.usable for r in copies)
    assert {r.duplicate_of for r in copies} == {f"site1/DCIM/100MEDIA/IMG_{i:04d}.JPG" for i in range(3)}
    summary = summarize(manifest)
    assert summary["duplicates"] == 3 and summary["usable"] == 3
    assert all(r.sequence_id is None for r in copies)  # duplicates are not sequenced twice


def test_same_quick_hash_different_content_is_not_a_duplicate(tmp_path):
    """Quick hashes cover the ends of a file; a byte compare guards against a middle that differs."""
    data = write_frame(tmp_path / "src.jpg", T0, size=(1200, 900)).read_bytes()
    assert len(data) > 3 * 64 * 1024
    middle = len(data) // 2
    altered = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]
    (tmp_path / "src.jpg").unlink()
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.jpg").write_bytes(data)
    (tmp_path / "x" / "b.jpg").write_bytes(altered)
    files = by_name(scan(tmp_path))
    assert files["a.jpg"].content_hash == files["b.jpg"].content_hash
    assert files["b.jpg"].duplicate_of is None


def test_bad_inputs_are_recorded_and_the_scan_goes_on(tmp_path):
    d = tmp_path / "cam"
    good = write_frame(d / "good.jpg", T0, size=(800, 600))
    data = good.read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 2])
    write_frame(d / "cmyk.jpg", T0 + timedelta(seconds=1), mode="CMYK")
    write_frame(d / "grey.jpg", T0 + timedelta(seconds=2), mode="L")
    write_frame(d / "rotated.jpg", T0 + timedelta(seconds=3), orientation=6, seed=3)
    (d / "zero.jpg").write_bytes(b"")
    (d / "text.jpg").write_text("this is not a picture\n")
    (d / "broken_exif.jpg").write_bytes(_with_broken_exif(data))
    write_frame(d / "epoch.jpg", datetime(1970, 1, 1, 0, 0, 5), seed=4)
    write_frame(d / "future.jpg", datetime(2099, 1, 1), seed=5)
    write_frame(d / "zeros_time.jpg", raw_time="0000:00:00 00:00:00", seed=6)
    os.symlink(d / "missing-target.jpg", d / "dangling.jpg")

    files = by_name(scan(tmp_path))
    failures = {name: r.failure.code for name, r in files.items() if r.failure}
    assert failures == {"zero.jpg": "zero_bytes", "text.jpg": "not_an_image", "dangling.jpg": "unreadable"}
    # a truncated JPEG is processed, as MegaDetector and SpeciesNet process it, and flagged
    assert files["truncated.jpg"].usable and "truncated" in {f.code for f in files["truncated.jpg"].flags}
    assert "text" in files["text.jpg"].failure.reason
    assert {r.deployment_id for r in files.values()} == {"cam"}  # failed files still belong to their deployment
    assert files["cmyk.jpg"].mode == "CMYK" and files["cmyk.jpg"].usable
    assert files["grey.jpg"].mode == "L" and files["grey.jpg"].usable
    assert files["rotated.jpg"].orientation == 6 and files["rotated.jpg"].usable
    broken = files["broken_exif.jpg"]
    assert broken.usable and broken.time_source == "mtime"
    assert {"exif_unreadable", "no_capture_time"} & {f.code for f in broken.flags}
    for name in ("epoch.jpg", "future.jpg"):
        assert "implausible_capture_time" in {f.code for f in files[name].flags}, name
        assert files[name].usable
    assert files["epoch.jpg"].camera_time == "1970-01-01T00:00:05"
    zeros = {f.code for f in files["zeros_time.jpg"].flags}
    assert {"bad_capture_time", "no_capture_time"} <= zeros and files["zeros_time.jpg"].time_source == "mtime"


def _with_broken_exif(jpeg: bytes) -> bytes:
    """Replace the frame's metadata with an APP1 Exif segment whose IFD offset points past its end."""
    payload = b"Exif\x00\x00MM\x00\x2a\x00\x00\xff\xf0" + b"\x13" * 20
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + segment + jpeg[2:]


def test_name_that_is_not_utf8_is_recorded_as_text_and_opens(tmp_path):
    """Cards hold names in legacy encodings; Python gives them lone surrogates, which JSON and SQLite refuse."""
    write_frame(tmp_path / "cam" / "good.jpg", T0, serial="SN-1")
    bad = Path(os.fsdecode(os.fsencode(tmp_path / "cam") + b"/bad\xffname.jpg"))
    write_frame(bad, T0 + timedelta(seconds=1), serial="SN-2", size=(120, 80), seed=1)
    proc = run_cli("scan", tmp_path, "--json")
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    manifest = Manifest.read(tmp_path / "wildeye" / "manifest.json")
    record = by_name(manifest)["bad\\xffname.jpg"]  # the four characters \xff, as text
    assert record.path == "cam/bad\\xffname.jpg" and record.usable
    assert (record.serial, record.width, record.height, record.size) == ("SN-2", 120, 80, bad.stat().st_size)
    assert by_name(manifest)["good.jpg"].usable
    assert fs_name(record.path) == os.fsdecode(b"cam/bad\xffname.jpg")
    with open(tmp_path / fs_name(record.path), "rb") as f:
        assert f.read() == bad.read_bytes()


def test_record_names_round_trip_and_a_literal_twin_wins(tmp_path):
    for raw in (b"bad\xffname.jpg", b"trunc\xe2\x82.jpg", b"\xed\xa0\x80x.jpg", "caf\u00e9.jpg".encode()):
        name = os.fsdecode(raw)
        assert record_name(name).encode("utf-8") and fs_name(record_name(name)) == name
    assert record_name("café.jpg") == "café.jpg" and fs_name("café.jpg") == "café.jpg"
    assert fs_name("plain\\x41.jpg") == "plain\\x41.jpg"  # only escapes of bytes >= 0x80 mean a byte
    # the one ambiguity: a file literally named "twin\\xff.jpg" beside the byte-named one
    write_frame(tmp_path / "cam" / "twin\\xff.jpg", T0)
    write_frame(Path(os.fsdecode(os.fsencode(tmp_path / "cam") + b"/twin\xff.jpg")), T0, seed=1)
    manifest = scan(tmp_path)
    assert [r.path for r in manifest.files] == ["cam/twin\\xff.jpg"]
    assert media_path(tmp_path, "cam/twin\\xff.jpg") == tmp_path / "cam" / "twin\\xff.jpg"
    assert [s.code for s in manifest.skipped] == ["cam/twin\\xff.jpg"] and "rename" in manifest.skipped[0].reason


def test_fifo_and_device_with_a_media_name_are_never_opened(tmp_path):
    write_frame(tmp_path / "cam" / "ok.jpg", T0)
    os.mkfifo(tmp_path / "cam" / "pipe.jpg")  # opening it would block until a writer came
    os.symlink("/dev/null", tmp_path / "cam" / "null.jpg")
    files = by_name(scan(tmp_path))
    assert files["ok.jpg"].usable
    assert files["pipe.jpg"].failure.code == "not_a_regular_file"
    assert files["pipe.jpg"].failure.reason.startswith("a FIFO (named pipe), not a file")
    assert files["null.jpg"].failure.code == "not_a_regular_file"
    assert "character device" in files["null.jpg"].failure.reason


def png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that claims width x height but holds one row of pixels: enough for a header probe, a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_very_large_images_are_flagged_and_huge_ones_fail_without_warnings(tmp_path):
    write_frame(tmp_path / "cam" / "ok.jpg", T0)
    png_header(tmp_path / "cam" / "pano.png", 10_000, 10_000)  # 100 MP: PIL warns
    png_header(tmp_path / "cam" / "huge.png", 16_000, 12_000)  # 192 MP: PIL refuses
    proc = run_cli("scan", tmp_path)
    assert proc.returncode == 1
    assert "Warning" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    files = by_name(Manifest.read(tmp_path / "wildeye" / "manifest.json"))
    pano, huge = files["pano.png"], files["huge.png"]
    assert pano.usable and (pano.width, pano.height) == (10_000, 10_000)
    very_large = [f.reason for f in pano.flags if f.code == "very_large"]
    assert len(very_large) == 1 and "100 MP" in very_large[0]
    assert huge.failure.code == "too_large" and (huge.width, huge.height) == (16_000, 12_000)
    assert "192 MP" in huge.failure.reason and "179 MP safety limit" in huge.failure.reason


def test_symlink_loop_is_skipped_not_followed_forever(tmp_path):
    write_frame(tmp_path / "cam" / "IMG_0001.JPG", T0)
    os.symlink(tmp_path, tmp_path / "cam" / "loop")
    manifest = scan(tmp_path)
    assert [r.path for r in manifest.files] == ["cam/IMG_0001.JPG"]
    assert [s.code for s in manifest.skipped] == ["cam/loop"]
    assert "loop" in manifest.skipped[0].reason


def test_unreadable_file_is_recorded(tmp_path):
    write_frame(tmp_path / "cam" / "ok.jpg", T0)
    locked = write_frame(tmp_path / "cam" / "locked.jpg", T0 + timedelta(seconds=1), seed=1)
    locked.chmod(0)
    prefix = ()
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that let it, as an ordinary user lacks them
        prefix = ("setpriv", "--inh-caps=-all", "--ambient-caps=-all",
                  "--bounding-set=-dac_override,-dac_read_search")
    try:
        code, summary = run_json("scan", tmp_path, prefix=prefix)
    finally:
        locked.chmod(0o644)
    assert code == 1
    assert summary["failures"] == {"unreadable": 1} and summary["usable"] == 1
    manifest = Manifest.read(summary["manifest"])
    assert "Permission denied" in by_name(manifest)["locked.jpg"].failure.reason


def test_deployments_csv_maps_folders_and_cameras_and_fixes_clocks(tmp_path):
    write_frame(tmp_path / "cardA" / "DCIM" / "100MEDIA" / "IMG_0001.JPG", T0)
    write_frame(tmp_path / "cardA" / "DCIM" / "100MEDIA" / "IMG_0002.JPG", datetime(1970, 1, 1), seed=1)
    write_frame(tmp_path / "mixed" / "IMG_0100.JPG", datetime(2024, 6, 2, 8), serial="SN-B", seed=2)
    write_frame(tmp_path / "mixed" / "IMG_0101.JPG", datetime(2024, 9, 2, 8), serial="SN-B", seed=3)
    (tmp_path / "deployments.csv").write_text(
        "deploymentID,locationName,latitude,longitude,deploymentStart,deploymentEnd,cameraID,folder,timezone,"
        "clockOffset,habitat\n"
        "dep-A,Ridge,29.1,83.9,2024-04-01T00:00:00+05:45,2024-06-01T00:00:00+05:45,,cardA,Asia/Kathmandu,"
        "+01:00:00,scree\n"
        "dep-B,Valley,29.2,84.0,2024-06-01T00:00:00,2024-07-01T00:00:00,SN-B,,+05:45,-300,\n"
        "dep-C,Unused,,,,,,,,,\n"
    )
    manifest = scan(tmp_path)
    files = by_name(manifest)
    assert files["IMG_0001.JPG"].deployment_id == "dep-A"
    assert files["IMG_0001.JPG"].timestamp == "2024-05-01T11:00:00+05:45"  # +1 h clock correction
    assert "outside_deployment" in {f.code for f in files["IMG_0002.JPG"].flags}
    assert files["IMG_0100.JPG"].deployment_id == "dep-B"
    assert files["IMG_0100.JPG"].timestamp == "2024-06-02T07:55:00+05:45"
    assert files["IMG_0101.JPG"].deployment_id == "mixed"  # serial matches but outside dep-B's window
    deployments = {d.deployment_id: d for d in manifest.deployments}
    assert set(deployments) == {"dep-A", "dep-B", "dep-C", "mixed"}  # declared ones stay, even without files
    assert deployments["dep-A"].extra == {"habitat": "scree"} and deployments["dep-A"].latitude == 29.1
    assert deployments["mixed"].source == "folder"


@pytest.mark.parametrize(
    "csv_text, needle",
    [
        ("locationName\nx\n", "missing column 'deploymentID'"),
        ("deploymentID,timezone\nd1,Mars/Olympus\n", "row 2: unknown timezone 'Mars/Olympus'"),
        ("deploymentID,clockOffset\nd1,soon\n", "row 2: clockOffset 'soon'"),
        ("deploymentID,latitude\nd1,north\n", "row 2:"),
        ("deploymentID\nd1\nd1\n", "row 3: deploymentID 'd1' appears twice"),
        ("deploymentID,deploymentStart\nd1,yesterday\n", "row 2: time 'yesterday' is not ISO 8601"),
    ],
)
def test_bad_deployments_csv_stops_with_one_line(tmp_path, csv_text, needle):
    write_frame(tmp_path / "cam" / "IMG_0001.JPG", T0)
    table = tmp_path / "deployments.csv"
    table.write_text(csv_text)
    proc = run_cli("scan", tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert str(table) in lines[0] and needle in lines[0]


def test_cli_summary_json_manifest_and_exit_codes(tmp_path):
    for i in range(3):
        write_frame(tmp_path / "cam1" / f"IMG_{i:04d}.JPG", T0 + timedelta(seconds=i), seed=i)
    out = tmp_path / "out"
    code, summary = run_json("scan", tmp_path, "--out", out)
    assert code == 0
    assert summary["files"] == 3 and summary["sequences"] == 1 and summary["failed"] == 0
    assert summary["deployments"] == [{"deployment_id": "cam1", "files": 3, "first": "2024-05-01T10:00:00",
                                       "last": "2024-05-01T10:00:02", "sequences": 1}]
    manifest = Manifest.read(out / "manifest.json")
    assert [r.frame_num for r in manifest.files] == [0, 1, 2]
    again = run_cli("scan", tmp_path, "--out", out)  # the output folder inside SOURCE is never scanned itself
    assert again.returncode == 0 and "3 media files" in again.stdout and "manifest:" in again.stdout

    (tmp_path / "cam1" / "bad.jpg").write_bytes(b"")
    assert run_cli("scan", tmp_path, "-q").returncode == 1  # finished, but an input failed
    assert (tmp_path / "wildeye" / "manifest.json").is_file()  # default output folder


def test_summary_names_the_first_failed_files_and_lists_all_in_failed_csv(tmp_path):
    write_frame(tmp_path / "cam1" / "IMG_0000.JPG", T0)
    for i in range(7):
        (tmp_path / "cam1" / f"BAD_{i}.JPG").write_bytes(b"" if i % 2 else b"not a picture at all\n")
    out = tmp_path / "out"
    proc = run_cli("scan", tmp_path, "--out", out)
    assert proc.returncode == 1
    with open(out / "failed.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["path"] for r in rows] == [f"cam1/BAD_{i}.JPG" for i in range(7)]
    assert {r["stage"] for r in rows} == {"scan"} and "text" in rows[0]["reason"] and "empty" in rows[1]["reason"]
    named = [line for line in proc.stdout.splitlines() if line.startswith("failed cam1/")]
    assert named == [f"failed {r['path']}: {r['reason']} (scan)" for r in rows[:5]]  # the first 5, with reasons
    assert "… and 2 more" in proc.stdout and f"failed files (7): {out / 'failed.csv'}" in proc.stdout
    code, summary = run_json("scan", tmp_path, "--out", out)
    assert code == 1 and summary["failed_list"] == str(out / "failed.csv")
    assert summary["failed_files"] == [{"path": r["path"], "stage": "scan", "reason": r["reason"]} for r in rows[:5]]
    for i in range(7):  # fixed: no failures, no stale list
        (tmp_path / "cam1" / f"BAD_{i}.JPG").unlink()
    code, summary = run_json("scan", tmp_path, "--out", out)
    assert code == 0 and summary["failed_files"] == [] and summary["failed_list"] is None
    assert not (out / "failed.csv").exists()


def test_progress_is_drawn_on_a_terminal_only(tmp_path):
    for i in range(3):
        write_frame(tmp_path / "cam1" / f"IMG_{i:04d}.JPG", T0 + timedelta(seconds=i), seed=i)
    code, stdout, drawn = run_on_terminal("scan", tmp_path, "--out", tmp_path / "out")
    assert code == 0 and "3 media files" in stdout
    assert drawn.count("\x1b[?25l") == 1 and check_one_display(drawn, ("scanning",)) > 0
    assert "3/3" in drawn
    for quiet in ("--json", "-q"):  # machine output and quiet runs: no bars, even on a terminal
        code, _, drawn = run_on_terminal("scan", tmp_path, "--out", tmp_path / "out", quiet)
        assert code == 0 and "scanning" not in drawn and "\x1b[" not in drawn
    piped = run_cli("scan", tmp_path, "--out", tmp_path / "out")  # stderr a pipe (a log): no bars
    assert piped.returncode == 0 and "\x1b[" not in piped.stderr and "scanning" not in piped.stderr


LOG_DURING_PROGRESS = """
import logging, time
from wildeye.commands.options import configure_logging
from wildeye.ui import StageProgress
configure_logging({"quiet": False, "verbose": 0})  # as the CLI does: a handler on the real stderr
with StageProgress() as stages:
    scan, detect = stages.callback("scanning"), stages.callback("detecting", unit="images")
    for i in range(1, 4):
        scan(i, 3); time.sleep(0.15)
    logging.getLogger("wildeye.test").warning("the frame IMG_0002.JPG is odd")
    for i in range(1, 4):
        detect(i, 3); time.sleep(0.15)
"""


def test_a_log_line_during_progress_prints_above_the_display():
    code, _, drawn = run_on_terminal(code=LOG_DURING_PROGRESS)
    assert code == 0, drawn
    assert check_one_display(drawn, ("scanning", "detecting")) > 0
    screen = [line for line in final_screen(drawn) if line.strip()]
    assert screen == ["WARNING wildeye.test: the frame IMG_0002.JPG is odd"], screen  # whole, on its own line


@pytest.mark.parametrize(
    "args, needle",
    [
        (["scan", ".", "--sequence-gap", "-5"], "--sequence-gap"),
        (["scan", ".", "--bogus"], "No such option"),
        (["fly"], "No such command"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args, needle):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_source_is_nothing_to_do_exit_5():
    """A nightly job whose card is not mounted: its own exit code, one line, no traceback."""
    proc = run_cli("scan", "/no/such/folder")
    assert proc.returncode == 5 and "does not exist" in proc.stderr and "mounted" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unwritable_output_is_a_usage_error(tmp_path):
    write_frame(tmp_path / "IMG_0001.JPG", T0)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_cli("scan", tmp_path, "--out", blocker / "sub")
    assert proc.returncode == 2 and "pass --out" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_version_help_and_fast_import():
    assert run_cli("--version").stdout.strip().startswith("wildeye, version ")
    assert "scan" in run_cli("--help").stdout
    code = ("import sys, wildeye.cli; heavy = {'torch', 'fiftyone', 'PIL', 'cv2', 'timm', 'rich', 'pydantic'} "
            "& set(sys.modules); print(sorted(heavy))")
    proc = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_real_frames_truncated_one_is_flagged_others_read(shared_images, tmp_path):
    manifest = scan(shared_images, ScanSettings())
    assert not [r.path for r in manifest.files if r.failure]
    flagged = {r.path for r in manifest.files if any(f.code == "truncated" for f in r.flags)}
    assert flagged == {"images/cameratrapai-test_data/african_elephants_truncated_file.jpg"}
    assert len(manifest.files) == 121
    images = {r.path.rsplit("/", 1)[-1]: r for r in manifest.files}
    assert images["african_elephants_cmyk.jpg"].mode == "CMYK"
    assert images["african_elephants_bw.jpg"].mode == "L"
    assert images["african_elephants_with_exif_orientation.jpg"].orientation not in (None, 1)
    assert all(r.width and r.height and r.timestamp for r in manifest.files if r.usable)
