"""Info-strip OCR: dates printed on generated frames (several formats and fonts, top and bottom, night IR grey),
read with the real Tesseract engine, and `wildeye scan` choosing between them and EXIF."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from clihelp import run_cli
from stripgen import strip_text, write_strip_frame

from wildeye.errors import ConfigError
from wildeye.ingest import infostrip
from wildeye.ingest.manifest import Manifest, ScanSettings
from wildeye.ingest.scan import scan
from wildeye.ingest.stripdate import DMY, MDY, decide_order, parse_strip

T0 = datetime(2015, 4, 12, 16, 51, 54)


def _engine_or_skip():
    try:
        return infostrip.StripReader()
    except infostrip.EngineMissing as exc:
        pytest.skip(f"Tesseract not usable here: {exc}")


@pytest.fixture(scope="module")
def reader():
    engine = _engine_or_skip()
    yield engine
    engine.close()


@pytest.fixture
def engine():
    _engine_or_skip().close()


def by_name(manifest: Manifest) -> dict:
    return {r.path.rsplit("/", 1)[-1]: r for r in manifest.files}


def codes(record) -> list[str]:
    return [f.code for f in record.flags]


# --- parsing -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, mdy, dmy", [
    ("12/04/2015 04:51:54", datetime(2015, 12, 4, 4, 51, 54), datetime(2015, 4, 12, 4, 51, 54)),
    ("2015-04-12 04:51 AM", datetime(2015, 4, 12, 4, 51), datetime(2015, 4, 12, 4, 51)),
    ("04-12-2015 4:51:54 PM", datetime(2015, 4, 12, 16, 51, 54), datetime(2015, 12, 4, 16, 51, 54)),
    ("M 1/3 2010-11-06 12:04:00 AM 34°F", datetime(2010, 11, 6, 0, 4), datetime(2010, 11, 6, 0, 4)),
    ("MOULTRIE 33°C 29.99inHg 2020 001 06 APR 2020 03;03 pm", datetime(2020, 4, 6, 15, 3), None),
    ("Apr 12, 2015 4:51 PM", datetime(2015, 4, 12, 16, 51), None),
    ("ScoutGuard 09.24.2015 12:46:58", datetime(2015, 9, 24, 12, 46, 58), "invalid"),
    ("DLCcovert.com 2O1O-O8-04 O8:43:15", datetime(2010, 8, 4, 8, 43, 15), None),  # letter O for zero
    ("15:19:15 2024/01/21", datetime(2024, 1, 21, 15, 19, 15), None),  # time before the date
])
def test_strip_formats_parse(text, mdy, dmy):
    stamp = parse_strip(text)
    assert stamp is not None
    assert stamp.time(MDY) == mdy
    if dmy == "invalid":
        assert stamp.time(DMY) is None and stamp.says_order == MDY
    elif dmy is not None:
        assert stamp.time(DMY) == dmy


@pytest.mark.parametrize("text", ["", "HC500 HYPERFIRE", "2015-13-45 10:00", "12/04/2015", "04-12-2015 25:61",
                                  "M 1/3 34°F", "08/04/2020 03-10:57PM", "1/3/1850 10:00"])
def test_no_date_or_no_time_is_no_stamp(text):
    assert parse_strip(text) is None


def test_day_month_order_is_decided_per_deployment():
    ambiguous = parse_strip("04/05/2015 10:00:00")
    day_first = parse_strip("13/05/2015 10:00:00")
    month_first = parse_strip("05/13/2015 10:00:00")
    assert decide_order([ambiguous, day_first], configured=MDY)[0] == DMY  # a value over 12 decides
    assert decide_order([ambiguous, month_first], configured=DMY)[0] == MDY
    assert decide_order([ambiguous], configured=DMY)[0] == DMY  # else the deployment's configuration
    assert decide_order([ambiguous], configured=None, default=MDY)[0] == MDY  # else the scan's default
    exif = datetime(2015, 5, 4, 10, 0, 30)  # EXIF fits only day-first
    assert decide_order([ambiguous], configured=None, default=MDY, exif_pairs=[(ambiguous, exif)])[0] == DMY


# --- reading generated frames ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, font, side, night, light", [
    ("bushnell", "DejaVuSans.ttf", "bottom", False, True),
    ("reconyx", "DejaVuSansMono.ttf", "top", True, False),
    ("ymd_ampm_nosec", "DejaVuSans-Bold.ttf", "bottom", True, False),
    ("slash_dmy", "DejaVuSerif.ttf", "top", False, False),
    ("dash_mdy_ampm", "DejaVuSansMono.ttf", "bottom", False, False),
    ("moultrie", "DejaVuSans-Bold.ttf", "top", True, True),
])
def test_generated_strips_are_read(reader, tmp_path, fmt, font, side, night, light):
    when = T0 + timedelta(days=100, hours=3, minutes=7, seconds=5)
    text = strip_text(when, fmt, prefix="CAM07", suffix="21°C")
    path = write_strip_frame(tmp_path / "f.jpg", text, side=side, font=font, night=night, light_strip=light)
    read = reader.read(path)
    assert read.stamp is not None, f"nothing read from {text!r}"
    order = DMY if fmt == "slash_dmy" else MDY
    expected = when.replace(second=0) if fmt in ("ymd_ampm_nosec", "moultrie") else when
    assert read.stamp.time(order) == expected
    assert read.text  # what was read is kept


def test_frame_without_strip_reads_nothing(reader, tmp_path):
    from imagegen import write_frame

    path = write_frame(tmp_path / "plain.jpg", T0, size=(640, 480))
    read = reader.read(path)
    assert read.stamp is None and read.text == ""


# --- scan: which time is used ---------------------------------------------------------------------------------------

def card(root: Path, camera: str, frames: list[tuple[datetime, datetime | None]], fmt="bushnell", **kw) -> Path:
    """Frames (strip time, EXIF time or None) of one camera under root/camera/DCIM/100MEDIA."""
    folder = root / camera / "DCIM" / "100MEDIA"
    for i, (printed, exif) in enumerate(frames):
        write_strip_frame(folder / f"IMG_{i + 1:04d}.JPG", strip_text(printed, fmt, prefix=camera), exif, seed=i,
                          size=(960, 720), **kw)
    return folder


def test_missing_exif_time_comes_from_the_strip(engine, tmp_path):
    card(tmp_path, "CAM01", [(T0, None), (T0 + timedelta(seconds=3), None)], night=True)
    manifest = scan(tmp_path)
    first, second = sorted(manifest.files, key=lambda r: r.path)
    assert first.camera_time is None and first.strip_time == T0.isoformat()
    assert first.time_source == "info_strip" and first.timestamp == T0.isoformat()
    assert second.timestamp == (T0 + timedelta(seconds=3)).isoformat()
    assert first.sequence_id == second.sequence_id  # 3 s apart by the strip (their mtimes say nothing)
    reason = next(f.reason for f in first.flags if f.code == "no_capture_time")
    assert "info strip" in reason
    assert "04-12-2015" in first.strip_text


def test_wrong_exif_loses_to_the_strip_and_both_are_recorded(engine, tmp_path):
    reset = datetime(2000, 1, 1, 0, 0, 0)  # camera clock reset, EXIF counts on from 2000 ...
    card(tmp_path, "CAM02", [(T0 + timedelta(minutes=i), datetime(2019, 1, 1) + timedelta(minutes=i))
                             for i in range(2)], fmt="reconyx")
    card(tmp_path, "CAM03", [(T0, reset - timedelta(days=400))], fmt="slash_mdy", light_strip=True)
    files = scan(tmp_path, ScanSettings(strip_sample=5)).files
    wrong = [r for r in files if r.path.startswith("CAM02")]
    for i, record in enumerate(sorted(wrong, key=lambda r: r.path)):
        assert record.camera_time == (datetime(2019, 1, 1) + timedelta(minutes=i)).isoformat()  # EXIF kept on file
        assert record.strip_time == (T0 + timedelta(minutes=i)).isoformat()
        assert record.time_source == "info_strip"
        assert record.timestamp == (T0 + timedelta(minutes=i)).isoformat()
        flag = next(f.reason for f in record.flags if f.code == "time_disagreement")
        assert "using the strip" in flag and "2019-01-01" in flag
    implausible = next(r for r in files if r.path.startswith("CAM03"))  # EXIF in 1998
    assert implausible.time_source == "info_strip" and implausible.timestamp == T0.isoformat()
    assert "implausible_capture_time" in codes(implausible)


def test_agreeing_strip_keeps_exif_and_a_lone_disagreement_is_flagged(engine, tmp_path):
    frames = [(T0 + timedelta(hours=i), T0 + timedelta(hours=i, seconds=2)) for i in range(3)]
    frames.append((T0 + timedelta(hours=9), T0 + timedelta(hours=3)))  # the strip says 6 h later: only this one
    card(tmp_path, "CAM04", frames)
    files = sorted(scan(tmp_path, ScanSettings(strip_sample=4)).files, key=lambda r: r.path)
    for record in files[:3]:
        assert record.time_source == "DateTimeOriginal" and record.strip_time is not None
        assert record.flags == []
    lone = files[3]
    assert lone.time_source == "DateTimeOriginal" and lone.timestamp == (T0 + timedelta(hours=3)).isoformat()
    assert "keeping EXIF" in next(f.reason for f in lone.flags if f.code == "time_disagreement")


def test_tolerance_is_a_setting(engine, tmp_path):
    card(tmp_path, "CAM05", [(T0, T0 + timedelta(minutes=3))])
    assert by_name(scan(tmp_path)).popitem()[1].flags == []  # 3 min: within the default 5
    record = by_name(scan(tmp_path, ScanSettings(strip_tolerance_s=60))).popitem()[1]
    assert codes(record) == ["time_disagreement"] and record.time_source == "info_strip"


def test_deployments_csv_forces_the_time_source_and_date_order(engine, tmp_path):
    exif_wrong = [(T0 + timedelta(minutes=i), T0 + timedelta(days=30, minutes=i)) for i in range(2)]
    card(tmp_path, "FORCED_EXIF", exif_wrong)
    card(tmp_path, "FORCED_OCR", [(T0, T0 + timedelta(seconds=40))])
    day_first = datetime(2015, 5, 4, 6, 0, 0)  # printed 04/05/2015: ambiguous
    card(tmp_path, "DAY_FIRST", [(day_first, None)], fmt="slash_dmy")
    card(tmp_path, "AUTO_ORDER", [(day_first, None), (datetime(2015, 5, 13, 6, 0), None)], fmt="slash_dmy")
    (tmp_path / "deployments.csv").write_text(
        "deploymentID,folder,timeSource,dateOrder\n"
        "D1,FORCED_EXIF,exif,\nD2,FORCED_OCR,OCR,\nD3,DAY_FIRST,,DMY\nD4,AUTO_ORDER,,\n")
    files = {r.path: r for r in scan(tmp_path).files}
    for path, record in files.items():
        if path.startswith("FORCED_EXIF"):
            assert record.time_source == "DateTimeOriginal" and record.strip_text is None  # never read
            assert record.flags == []
        if path.startswith("FORCED_OCR"):  # agrees with EXIF within 5 min, but the strip was asked for
            assert record.time_source == "info_strip" and record.timestamp == T0.isoformat()
    assert files["DAY_FIRST/DCIM/100MEDIA/IMG_0001.JPG"].timestamp == day_first.isoformat()
    auto = files["AUTO_ORDER/DCIM/100MEDIA/IMG_0001.JPG"]  # its sibling's 13/05 made the deployment day-first
    assert auto.timestamp == day_first.isoformat()

    (tmp_path / "deployments.csv").write_text("deploymentID,folder,timeSource\nD1,FORCED_EXIF,sometimes\n")
    with pytest.raises(ConfigError, match="timeSource 'sometimes'"):
        scan(tmp_path)
    proc = run_cli("scan", tmp_path)
    assert proc.returncode == 2 and "timeSource" in proc.stderr and "Traceback" not in proc.stderr


def test_clock_offset_and_timezone_apply_to_the_strip_time(engine, tmp_path):
    card(tmp_path, "CAM06", [(T0, None)])
    (tmp_path / "deployments.csv").write_text("deploymentID,folder,timezone,clockOffset\nD,CAM06,+05:45,-00:10\n")
    record = scan(tmp_path).files[0]
    assert record.strip_time == T0.isoformat()
    assert record.timestamp == (T0 - timedelta(minutes=10)).isoformat() + "+05:45"


def test_strips_are_cached_in_the_manifest(engine, tmp_path, monkeypatch):
    src = tmp_path / "card"
    card(src, "CAM07", [(T0, None), (T0 + timedelta(seconds=5), None)])
    out = tmp_path / "out"
    first = scan(src, out_dir=out)
    out.mkdir()
    first.write(out / "manifest.json")

    def no_ocr(self, path, years=None):
        raise AssertionError(f"read {path} again")

    monkeypatch.setattr(infostrip.StripReader, "read", no_ocr)
    again = scan(src, out_dir=out)
    assert [r.strip_text for r in again.files] == [r.strip_text for r in first.files]
    assert all(r.time_source == "info_strip" for r in again.files)
    # a changed file is read again
    write_strip_frame(src / "CAM07" / "DCIM" / "100MEDIA" / "IMG_0001.JPG", "01-01-2016 00:00:00", None, seed=9)
    with pytest.raises(AssertionError, match="read .*IMG_0001"):
        scan(src, out_dir=out)


def test_missing_engine_says_so_once_and_uses_exif(tmp_path, caplog):
    card(tmp_path, "CAM08", [(T0, None), (T0, T0 + timedelta(days=3)), (T0, T0 + timedelta(days=3, seconds=9))])
    empty = tmp_path / "no-tessdata"
    empty.mkdir()
    with caplog.at_level("WARNING"):
        files = sorted(scan(tmp_path, ScanSettings(tessdata=str(empty))).files, key=lambda r: r.path)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "info-strip OCR is off" in warnings[0] and "tesseract-ocr-eng" in warnings[0]
    assert files[0].time_source == "mtime" and "no_capture_time" in codes(files[0])
    assert files[1].time_source == "DateTimeOriginal" and files[1].timestamp == (T0 + timedelta(days=3)).isoformat()
    assert all(r.strip_text is None for r in files)

    proc = run_cli("scan", tmp_path, env={"TESSDATA_PREFIX": str(empty)})
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "OCR" in line]
    assert len(lines) == 1 and "info-strip OCR is off" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_time_source_option(engine, tmp_path):
    card(tmp_path, "CAM09", [(T0, T0 + timedelta(seconds=30))])
    assert run_cli("scan", tmp_path, "--time-source", "ocr").returncode == 0
    record = Manifest.read(tmp_path / "wildeye" / "manifest.json").files[0]
    assert record.time_source == "info_strip" and record.timestamp == T0.isoformat()
    assert run_cli("scan", tmp_path, "--time-source", "exif").returncode == 0
    record = Manifest.read(tmp_path / "wildeye" / "manifest.json").files[0]
    assert record.time_source == "DateTimeOriginal" and record.strip_text is None


def test_run_takes_the_same_time_source_option(engine, tmp_path):
    from yolo_fixtures import write_always_animal

    detector = write_always_animal(tmp_path / "tiny_md.pt", image_size=320)
    card(tmp_path / "card", "CAM10", [(T0, T0 + timedelta(seconds=30))])
    common = ("--detector", detector, "--classifier", "none", "--workers", "0", "--no-fiftyone")
    assert run_cli("run", tmp_path / "card", "--time-source", "ocr", *common).returncode == 0
    record = Manifest.read(tmp_path / "card" / "wildeye" / "manifest.json").files[0]
    assert record.time_source == "info_strip" and record.timestamp == T0.isoformat()
    proc = run_cli("run", tmp_path / "card", "--time-source", "sometimes", *common)
    assert proc.returncode == 2 and "--time-source" in proc.stderr and "Traceback" not in proc.stderr


def test_real_frames_strip_time_when_exif_is_gone(engine, shared_images, tmp_path):
    """Real Bushnell-style and Reconyx strips, saved again without EXIF: the strip gives the time."""
    from PIL import Image

    frames = {"cameratrapai-test_data/african_elephants.jpg": datetime(2010, 8, 4, 8, 43, 15),
              "cameratrapai-test_data/blank.jpg": datetime(2016, 9, 25, 18, 35, 10),
              "megadetector-test_images/snapshot_karoo_KAR_S1_C04_C04_R1_KAR_S1_C04_R1_IMAG5873.JPG":
                  datetime(2017, 10, 9, 15, 28)}
    for i, (name, _) in enumerate(frames.items()):
        folder = tmp_path / f"cam{i}"
        folder.mkdir()
        with Image.open(shared_images / "images" / name) as image:
            image.convert("RGB").save(folder / "frame.jpg", quality=92)  # no EXIF
    files = {r.path.split("/")[0]: r for r in scan(tmp_path).files}
    for i, expected in enumerate(frames.values()):
        record = files[f"cam{i}"]
        assert record.camera_time is None and record.time_source == "info_strip", record
        assert record.timestamp == expected.isoformat()


def test_no_exif_no_strip_and_a_1970_file_date_is_flagged_implausible(engine, tmp_path):
    import os

    from imagegen import write_frame

    path = write_frame(tmp_path / "cam" / "IMG_0001.JPG", size=(320, 240))
    os.utime(path, (0, 0))  # a card's FAT default
    record = scan(tmp_path).files[0]
    assert record.time_source == "mtime" and record.strip_text == ""  # read, nothing legible
    assert codes(record) == ["no_capture_time", "implausible_capture_time"]
