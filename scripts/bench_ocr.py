"""Benchmark info-strip OCR: ms/frame and what it reads, on generated frames and on the real frames in ../shared.

    python scripts/bench_ocr.py [--generated 32] [--shared DIR] [--tessdata DIR] [-v]

Generated frames cycle through the strip formats and fonts of tests/stripgen.py (top and bottom, dark and light
strips, grey night frames) and count exact reads. On the real frames each line shows the EXIF time, the time read
from the strip (both orders when the date is ambiguous), and the verdict against EXIF and against the time a person
read off the frame (HAND_READ). Times are per frame: decode + strip search + OCR; the machine's load moves them.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the strip renderer is a test helper

from wildeye.ingest.exif import read_exif  # noqa: E402
from wildeye.ingest.infostrip import StripReader  # noqa: E402
from wildeye.ingest.stripdate import DATE_ORDERS, MDY  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "camera-traps"
TOLERANCE_S = 300
# The strip's date and time as a person reads them off the shared frames (camera clock, seconds 0 where the
# strip prints minutes only), for frames whose strip is legible to the eye.
HAND_READ = {
    "african_elephants.jpg": "2010-08-04T08:43:15", "african_elephants_bw.jpg": "2010-08-04T08:43:15",
    "african_elephants_cmyk.jpg": "2010-08-04T08:43:15",
    "african_elephants_with_exif_orientation.jpg": "2010-08-04T08:43:15",
    "american_black_bear.jpg": "2010-11-06T04:04:00", "blank.jpg": "2016-09-25T18:35:10",
    "blank2.jpg": "2016-07-31T15:16:34", "blank3.jpg": "2016-05-03T19:14:10",
    "domestic_cattle.jpg": "2014-09-26T14:21:04", "domestic_dog.jpg": "2017-07-13T12:09:23",
    "human.jpg": "2024-01-21T15:19:15", "sample_image_oct.jpg": "2020-04-21T03:40:38",
    "vehicle.jpg": "2015-11-30T15:55:56", "10050028_0.JPG": "2020-10-05T21:18:01",
    "leopard___S1___H06___H06_R4___S1_H06_R4_PICT1296_0.JPG": "2010-10-20T04:31:37",
    "ostrich___S6___P05___P05_R1___S6_P05_R1_IMAG0118.JPG": "2013-01-05T07:02:29",
    "topi___S5___T10___T10_R3___S5_T10_R3_IMAG0176_1.JPG": "2012-09-25T14:18:58",
    "cct_missed_people.jpg": "2012-12-30T11:27:46", "channel-islands-thumb.jpg": "2014-11-23T20:26:22",
    "goanna-image.png": "2023-02-15T15:57:00", "orinoquia-thumb-web.jpg": "2020-03-28T21:47:42",
    "tegu-image.jpg": "2016-04-28T15:29:00", "nacti.jpg": "2016-02-20T08:13:15", "sage-grouse-raw.jpg": "2023-06-20T13:09:04",
    "sample-arc-01.jpg": "2021-06-11T19:53:17", "sample-arc-04.jpg": "2021-06-20T14:32:56",
    "sample-sdsucheeseman-01.jpg": "2022-06-08T09:22:00", "sample-sdsucheeseman-02.jpg": "2022-06-08T07:22:00",
    "sample-sdsucheeseman-03.jpg": "2022-08-02T07:13:00", "sample-skyisland-behindfence.png": "2023-01-23T17:04:10",
    "sample-skyisland-frontfence-0.png": "2023-02-11T04:08:23",
    "sample-skyisland-frontfence-1.png": "2023-02-06T08:39:13",
    "sample-snapshotsafari-01.jpg": "2015-09-24T12:46:58", "sample-snapshotsafari-02.jpg": "2015-09-24T12:46:58",
    "sample-snapshotsafari-03.jpg": "2015-09-23T15:32:51", "sample-snapshotsafari-04.jpg": "2015-09-23T15:32:51",
    "sample-ufldwec-01.jpg": "2022-06-30T17:31:00", "sample-ufldwec-02.jpg": "2022-06-29T09:24:00",
    "sample-ufldwec-03.jpg": "2022-06-30T08:34:00", "sample-usgsfcsc-03_detections.jpg": "2020-04-06T15:03:00",
    "sample-usgsfcsc-04_detections.jpg": "2020-03-10T11:32:00",
    "sample-usgsfcsc-05_detections.jpg": "2020-03-10T11:33:00",
    "S1_D04_R6_PICT0020.JPG": "2010-08-19T18:24:57", "S1_D04_R6_PICT0022.JPG": "2010-08-19T18:24:58",
    "S1_D04_R6_PICT0128.JPG": "2010-08-23T11:20:43", "S1_D04_R6_PICT0222.JPG": "2010-08-26T11:30:16",
    "caltech_camera_traps_58a022a4-23d2-11e8-a6a3-ec086b02610b.jpg": "2014-05-12T11:13:52",
    "caltech_camera_traps_5a0e37cc-23d2-11e8-a6a3-ec086b02610b.jpg": "2011-07-11T21:41:45",
    "channel_islands_camera_traps_loc-h500ee05127658_007_194.jpg": "2012-05-06T00:45:33",
    "channel_islands_camera_traps_loc-h500ee07133550_010_643.jpg": "2016-02-08T22:36:50",
    "ena24_7904.jpg": "2015-06-08T18:37:03",
    "idaho_camera_traps_loc_0044_loc_0044_im_005629.jpg": "2016-02-04T09:23:24",
    "idaho_camera_traps_loc_0062_loc_0062_im_004678.jpg": "2016-02-03T10:45:00",
    "island_conservation_camera_traps_dominicanrepublic_camara04_cam0425abril2015_dominicanrepublic_"
    "cam0425abril2015_20130824_043601_sunp5152.jpg": "2013-08-24T04:36:00",
    "island_conservation_camera_traps_palau_cam10a_cam10a12122018_palau_cam10a12122018_20181108_174532_"
    "rcnx1035.jpg": "2018-11-08T17:45:32",
    "missouri_camera_traps_Set1_1.02-Agouti_SEQ89823_SEQ89823_IMG_0002.JPG": "2011-01-24T07:56:05",
    "missouri_camera_traps_Set1_1.63-European_Hare_SEQ76872_SEQ76872_IMG_0007.JPG": "2011-05-06T06:27:12",
    "nacti_part1_sub198_FL-16_09_03_2015_FL-16_0089498.jpg": "2015-07-30T20:19:09",
    "nacti_part3_sub308_CA-11_0001325.jpg": "2015-04-11T23:02:16",
    "snapshot_camdeboo_CDB_S1_A05_A05_R2_CDB_S1_A05_R2_IMAG0084.JPG": "2018-10-22T05:50:00",
    "snapshot_camdeboo_CDB_S1_C07_C07_R2_CDB_S1_C07_R2_IMAG5656.JPG": "2018-11-22T11:14:00",
    "snapshot_enonkishu_ENO_S1_B05_B05_R2_ENO_S1_B05_R2_IMAG0624.JPG": "2018-11-21T12:27:00",
    "snapshot_enonkishu_ENO_S1_D05_D05_R1_ENO_S1_D05_R1_IMAG1321.JPG": "2018-11-08T16:18:00",
    "snapshot_karoo_KAR_S1_C04_C04_R1_KAR_S1_C04_R1_IMAG5873.JPG": "2017-10-09T15:28:00",
    "snapshot_karoo_KAR_S1_E03_E03_R1_KAR_S1_E03_R1_IMAG0440.JPG": "2018-02-04T17:41:00",
    "snapshot_kgalagadi_KGA_S1_B06_B06_R1_KGA_S1_B06_R1_IMAG2032.JPG": "2018-12-12T11:31:00",
    "snapshot_kgalagadi_KGA_S1_B09_B09_R1_KGA_S1_B09_R1_IMAG0634.JPG": "2019-01-12T12:36:00",
    "snapshot_kruger_KRU_S1_25_25_R1_KRU_S1_25_R1_IMAG0012.JPG": "2018-06-18T16:21:00",
    "snapshot_kruger_KRU_S1_3_3_R1_KRU_S1_3_R1_IMAG0713.JPG": "2018-06-01T12:48:00",
    "snapshot_mountain_zebra_MTZ_S1_E05_E05_R3_MTZ_S1_E05_R3_IMAG1169.JPG": "2018-04-01T22:51:29",
    "snapshot_mountain_zebra_MTZ_S1_F04_F04_R1_MTZ_S1_F04_R1_IMAG1143.JPG": "2017-08-29T12:25:51",
    "snapshot_serengeti_S10_D12_D12_R2_S10_D12_R2_IMAG4854.JPG": "2015-06-01T15:15:45",
    "snapshot_serengeti_S5_U10_U10_R4_S5_U10_R4_IMAG3595.JPG": "2012-12-17T12:18:38",
    "wcs_camera_traps_animals_0090_1439.jpg": "2012-10-20T07:36:53",
    "wellington_camera_traps_121016192402044a1132.JPG": "2016-10-12T19:24:03",
    "wellington_camera_traps_261215104310005bs372.JPG": "2015-12-26T10:43:11",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=int, default=32, help="generated frames to read (0: none)")
    parser.add_argument("--shared", type=Path, default=SHARED, help="folder of real frames with manifest.csv")
    parser.add_argument("--tessdata", default=None, help="folder with eng.traineddata")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every frame")
    args = parser.parse_args()
    started = time.perf_counter()
    reader = StripReader(args.tessdata)
    print(f"Tesseract {reader.version} (tesserocr), data {reader.tessdata}; engine start "
          f"{(time.perf_counter() - started) * 1000:.0f} ms")
    if args.generated:
        bench_generated(reader, args.generated, args.verbose)
    if (args.shared / "manifest.csv").is_file():
        bench_shared(reader, args.shared, args.verbose)
    else:
        print(f"real frames: skipped, {args.shared}/manifest.csv not found")
    reader.close()
    return 0


def bench_generated(reader: StripReader, count: int, verbose: bool) -> None:
    from stripgen import FONTS, FORMATS, strip_text, write_strip_frame

    formats = list(FORMATS)
    right, times = 0, []
    t0 = datetime(2015, 4, 12, 16, 51, 54)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(count):
            when = t0 + timedelta(days=37 * i, minutes=71 * i, seconds=13 * i)
            fmt = formats[i % len(formats)]
            kw = dict(side=("bottom", "top")[i // len(formats) % 2], font=FONTS[i % len(FONTS)], night=i % 3 == 0,
                      light_strip=i % 5 == 1, seed=i)
            text = strip_text(when, fmt, prefix="CAM07", suffix="21C")
            path = write_strip_frame(Path(tmp) / f"f{i:03d}.jpg", text, **kw)
            t = time.perf_counter()
            read = reader.read(path)
            times.append(time.perf_counter() - t)
            expected = when.replace(second=0) if "%S" not in FORMATS[fmt] else when
            order = "DMY" if FORMATS[fmt].startswith("%d/") else MDY
            ok = read.stamp is not None and read.stamp.time(order) == expected
            right += ok
            if verbose or not ok:
                print(f"  {'ok ' if ok else 'BAD'} {fmt:15s} {kw['font']:22s} {kw['side']:6s} "
                      f"{'night' if kw['night'] else 'day':5s} {text!r} -> {read.text!r}")
    print(f"generated: {right}/{count} read exactly; {_ms(times)}")


def bench_shared(reader: StripReader, folder: Path, verbose: bool) -> None:
    from PIL import Image

    rows = list(csv.DictReader(open(folder / "manifest.csv", encoding="utf-8")))
    times, counts = [], {"frames": 0, "read": 0, "exif": 0, "agree": 0, "disagree": 0, "hand": 0, "hand_right": 0,
                         "hand_wrong": 0}
    print(f"real frames in {folder}:")
    for row in rows:
        path = folder / row["file"]
        name = path.name
        try:
            with Image.open(path) as image:
                exif = read_exif(image).camera_time
        except Exception:
            exif = None
        t = time.perf_counter()
        read = reader.read(path)
        times.append(time.perf_counter() - t)
        counts["frames"] += 1
        counts["exif"] += exif is not None
        readings = _readings(read.stamp)
        counts["read"] += bool(readings)
        verdict = []
        if exif is not None and readings:
            agrees = any(abs((r - exif).total_seconds()) <= TOLERANCE_S for r in readings)
            counts["agree" if agrees else "disagree"] += 1
            verdict.append("= EXIF" if agrees else "!= EXIF")
        hand = HAND_READ.get(name)
        if hand:
            counts["hand"] += 1
            if readings:
                right = any(r.isoformat() == hand for r in readings)
                counts["hand_right" if right else "hand_wrong"] += 1
                verdict.append("= eye" if right else f"!= eye {hand}")
            else:
                verdict.append(f"unread (eye: {hand})")
        if verbose or readings or hand:
            shown = " or ".join(r.isoformat(sep=" ") for r in readings) or "-"
            print(f"  {name[:48]:48s} EXIF {exif.isoformat(sep=' ') if exif else '-':19s} strip {shown:41s} "
                  f"{' '.join(verdict)}  [{read.text[:40]}]")
    print(f"real: {counts['frames']} frames, {counts['read']} with a date read from the strip; "
          f"{counts['hand']} have a strip a person can read: {counts['hand_right']} read right, "
          f"{counts['hand_wrong']} read wrong, {counts['hand'] - counts['hand_right'] - counts['hand_wrong']} unread; "
          f"of {counts['exif']} with EXIF time, strip and EXIF agree (<= {TOLERANCE_S} s) on {counts['agree']}, "
          f"differ on {counts['disagree']}")
    print(f"real: {_ms(times)}")


def _readings(stamp) -> list[datetime]:
    if stamp is None:
        return []
    return sorted({t for order in DATE_ORDERS if (t := stamp.time(order)) is not None})


def _ms(times: list[float]) -> str:
    if not times:
        return "no frames"
    return (f"{statistics.mean(times) * 1000:.0f} ms/frame mean, {statistics.median(times) * 1000:.0f} median, "
            f"{max(times) * 1000:.0f} max over {len(times)} frames")


if __name__ == "__main__":
    raise SystemExit(main())
