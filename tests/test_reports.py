"""Sightings reports on journals built through the Journal API: hand-computed events, effort, exports, HTML."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from imagegen import write_frame

from wildeye.records import BoxDecision, Detection, Prediction
from wildeye.ingest.manifest import DeploymentInfo, Manifest, MediaFile, ScanSettings
from wildeye.reports.build import build_report
from wildeye.reports.filters import ReportFilters
from wildeye.store.journal import HumanLabel, Journal

FOX = "a1;mammalia;carnivora;canidae;vulpes;vulpes;red fox"
LEOPARD = "b2;mammalia;carnivora;felidae;panthera;uncia;snow leopard"
CLI = "from wildeye.cli import main; main()"


def box(label, conf=0.9, bbox=(0.1, 0.2, 0.3, 0.4), score=0.95, category=None):
    return (category or ("person" if label == "human" else "animal"), conf, bbox, label, score)


def make_run(root: Path, deployments: list[dict], frames: list[tuple], humans=(), images=False,
             config: dict | None = None, models: dict | None = None) -> Path:
    """frames: (path, deployment, timestamp, [box(...)]); decisions follow the ensemble's shape. models: what the
    run records about its models (default: a detector named md-test)."""
    out, source = root / "run", root / "card"
    out.mkdir(parents=True)
    files, done, decisions = [], {}, {}
    for i, (path, dep, stamp, boxes) in enumerate(frames):
        files.append(MediaFile(path=path, kind="image", size=1, mtime=stamp, content_hash=str(i), width=400,
                               height=300, timestamp=stamp, deployment_id=dep, sequence_id=f"s{i}", frame_num=0,
                               seq_num_frames=1))
        done[path] = [Detection(c, conf, bbox, [(label, score)]) for c, conf, bbox, label, score in boxes]
        preds = [BoxDecision(label, score, "classifier") if conf >= 0.2 else None
                 for c, conf, bbox, label, score in boxes]
        top = max((b for b in boxes if b[1] >= 0.2), key=lambda b: b[1], default=None)
        image = Prediction(top[3], top[4], "classifier") if top else Prediction("blank", 0.9, "detector")
        decisions[path] = (image, preds)
        if images:
            write_frame(source / path, size=(400, 300), seed=i)
    Manifest(wildeye_version="test", created="2024-01-01T00:00:00", source=str(source), settings=ScanSettings(),
             hash_method="test", deployments=[DeploymentInfo(source="deployments.csv", **d) for d in deployments],
             files=files).write(out / "manifest.json")
    with Journal.open(out) as journal:
        journal.set_meta("source", str(source))
        journal.add_media(files)
        run_id = journal.start_run({"ensemble": {"detection_threshold": 0.2}} if config is None else config,
                                   models or {"detector": {"name": "md-test"}})
        journal.record_batch(run_id, done, {})
        journal.write_decisions(decisions)
        journal.record_human_labels(humans)
        journal.finish_run(run_id, "finished", {})
    return out


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


DEP_A = {"deployment_id": "A", "latitude": 28.1, "longitude": 84.2, "timezone": "+05:45",
         "deployment_start": "2024-05-01T00:00:00", "deployment_end": "2024-05-03T00:00:00"}
DEP_B = {"deployment_id": "B", "latitude": 28.3, "longitude": 84.5, "timezone": "+05:45"}
DEP_BLANK = {"deployment_id": "C", "latitude": 28.0, "longitude": 84.0, "timezone": "Asia/Kathmandu",
             "deployment_start": "2024-05-01T00:00:00", "deployment_end": "2024-05-11T00:00:00"}


def events_of(report_dir: Path) -> list[tuple]:
    return [(r["deployment_id"], r["species"], r["start_local"], r["end"], int(r["frames"]), int(r["count"]),
             r["verified"]) for r in read_csv(report_dir / "sightings.csv")]


def test_events_gap_boundary_midnight_timezones_and_multi_species(tmp_path):
    frames = [
        # A: fox at 10:00 and 10:29:59 (one event), 10:59:59 is exactly 30 min later: a new event
        ("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(FOX)]),
        ("A/002.JPG", "A", "2024-05-01T10:29:59+05:45", [box(FOX)]),
        ("A/003.JPG", "A", "2024-05-01T10:59:59+05:45", [box(FOX), box(FOX, 0.8, (0.5, 0.5, 0.2, 0.2)),
                                                         box(LEOPARD, 0.7, (0.6, 0.1, 0.1, 0.1))]),
        # the same moment in UTC at another deployment: its own events
        ("B/001.JPG", "B", "2024-05-01T05:14:59Z", [box(FOX)]),
        # across midnight (local), stored in UTC: 23:50 and 00:15 local are one event that starts at hour 23
        ("A/004.JPG", "A", "2024-05-01T18:05:00+00:00", [box(LEOPARD)]),
        ("A/005.JPG", "A", "2024-05-01T18:30:00+00:00", [box(LEOPARD)]),
        # a box below the detection threshold counts for nothing
        ("A/006.JPG", "A", "2024-05-02T12:00:00+05:45", [box(FOX, conf=0.1)]),
        ("C/001.JPG", "C", "2024-05-02T12:00:00", []),
    ]
    out = make_run(tmp_path, [DEP_A, DEP_B, DEP_BLANK], frames)
    summary = build_report(out, tmp_path / "rep")
    assert events_of(tmp_path / "rep") == [
        ("A", "red fox", "2024-05-01T10:00:00", "2024-05-01T10:29:59+05:45", 2, 1, "false"),
        ("A", "red fox", "2024-05-01T10:59:59", "2024-05-01T10:59:59+05:45", 1, 2, "false"),
        ("A", "snow leopard", "2024-05-01T10:59:59", "2024-05-01T10:59:59+05:45", 1, 1, "false"),
        ("A", "snow leopard", "2024-05-01T23:50:00", "2024-05-01T18:30:00+00:00", 2, 1, "false"),
        ("B", "red fox", "2024-05-01T10:59:59", "2024-05-01T05:14:59+00:00", 1, 1, "false"),
    ]
    assert summary["events"] == 5 and summary["species"] == 2
    diel = {r["species"]: r for r in read_csv(tmp_path / "rep" / "diel_activity.csv")}
    assert diel["snow leopard"]["h23"] == "1" and diel["snow leopard"]["h10"] == "1"
    assert diel["red fox"]["h10"] == "3"
    effort = {r["deployment_id"]: r for r in read_csv(tmp_path / "rep" / "effort.csv")}
    assert float(effort["A"]["camera_days"]) == 2.0 and effort["A"]["effort_from"] == "deployment"
    assert float(effort["A"]["rai_all"]) == 200.0  # 4 events in 2 camera-days
    # blank-only deployment: effort counts (10 days), no events
    assert float(effort["C"]["camera_days"]) == 10.0 and effort["C"]["events"] == "0"
    assert effort["C"]["blank_images"] == "1"
    # B has no start/end: a single image gives no camera-days, so no RAI (not a division by zero)
    assert effort["B"]["effort_from"] == "images" and float(effort["B"]["camera_days"]) == 0.0
    assert effort["B"]["rai_all"] == ""
    rai = {(r["deployment_id"], r["species"]): r for r in read_csv(tmp_path / "rep" / "rai.csv")}
    assert float(rai[("A", "red fox")]["rai"]) == 100.0 and float(rai[("C", "red fox")]["rai"]) == 0.0
    species = {r["species"]: r for r in read_csv(tmp_path / "rep" / "species.csv")}
    assert species["snow leopard"]["scientific_name"] == "Panthera uncia" and species["red fox"]["events"] == "3"


def test_human_correction_changes_species_and_count(tmp_path):
    frames = [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(FOX)]),
              ("A/002.JPG", "A", "2024-05-01T10:05:00+05:45", [box(FOX, score=0.97)]),
              ("A/003.JPG", "A", "2024-05-01T10:10:00+05:45", [box(FOX)])]
    humans = [HumanLabel("A/002.JPG", "Snow leopard", count=3, reviewer="asha", reviewed_at="2024-06-01T09:00:00")]
    out = make_run(tmp_path, [DEP_A], frames, humans)
    build_report(out, tmp_path / "rep")
    rows = read_csv(tmp_path / "rep" / "sightings.csv")
    assert [(r["species"], r["frames"], r["count"], r["verified"], r["best_frame"]) for r in rows] == [
        ("red fox", "2", "1", "false", "A/001.JPG"),
        ("Snow leopard", "1", "3", "true", "A/002.JPG"),
    ]
    # the fox event continues across the corrected frame: 10:00 and 10:10 are 10 minutes apart
    assert rows[0]["end"] == "2024-05-01T10:10:00+05:45"
    # --verified-only: only the reviewer's frame makes a sighting
    summary = build_report(out, tmp_path / "v", ReportFilters(verified_only=True))
    assert summary["species_events"] == {"Snow leopard": 1}
    # --min-confidence drops machine foxes (0.95) but never the reviewer's word
    summary = build_report(out, tmp_path / "m", ReportFilters(min_confidence=0.99))
    assert summary["species_events"] == {"Snow leopard": 1}
    summary = build_report(out, tmp_path / "s", ReportFilters(species=("Vulpes vulpes",)))
    assert summary["species_events"] == {"red fox": 1}


def test_camtrap_dp_validates_and_round_trips_with_megadetector_json(tmp_path):
    pytest.importorskip("frictionless")
    from wildeye.reports.camtrapdp import read_observations as read_camtrap
    from wildeye.reports.camtrapdp import validate_package
    from wildeye.reports.frames import load
    from wildeye.reports.megadetector import read_observations as read_md

    frames = [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(FOX), box(LEOPARD, 0.6, (0.5, 0.5, 0.25, 0.25))]),
              ("A/002.JPG", "A", "2024-05-01T10:05:00+05:45", [box("human", 0.95)]),
              ("A/003.JPG", "A", "2024-05-01T11:00:00+05:45", []),
              ("A/004.JPG", "A", "2024-05-01T12:00:00+05:45", [box(FOX)]),
              ("B/001.JPG", "B", "2024-05-02T01:00:00", [box(FOX, bbox=(0.0, 0.0, 1.0, 1.0))])]
    humans = [HumanLabel("A/004.JPG", LEOPARD, reviewer="asha", reviewed_at="2024-06-01T09:00:00+05:45")]
    out = make_run(tmp_path, [DEP_A, DEP_B], frames, humans)
    build_report(out, tmp_path / "rep")
    package = tmp_path / "rep" / "camtrap-dp"
    assert validate_package(package) == []
    obs = read_csv(package / "observations.csv")
    types = {r["observationType"] for r in obs}
    assert types == {"animal", "human", "blank"}
    human_row = next(r for r in obs if r["classificationMethod"] == "human")
    assert human_row["scientificName"] == "Panthera uncia" and human_row["classifiedBy"] == "asha"
    assert {r["observationLevel"] for r in obs} == {"media", "event"}
    descriptor = json.loads((package / "datapackage.json").read_text())
    assert {t["scientificName"] for t in descriptor["taxonomic"]} == {"Vulpes vulpes", "Panthera uncia"}

    # the validation is real: a wrong observationType and a missing coordinate are caught
    broken = tmp_path / "broken"
    shutil.copytree(package, broken)
    text = (broken / "observations.csv").read_text().replace(",blank,", ",bird,")
    (broken / "observations.csv").write_text(text)
    errors = validate_package(broken)
    assert errors and any("bird" in e for e in errors)

    # round trip: journal -> Camtrap DP -> observations == journal -> MegaDetector JSON -> observations
    data = load(out)
    expected = sorted((f.path, o.label, tuple(round(v, 4) for v in o.bbox)) for f in data.frames
                      for o in f.observations if o.kind == "animal" and o.bbox)
    from_camtrap = sorted((o["file"], o["label"], tuple(round(v, 4) for v in o["bbox"]))
                          for o in read_camtrap(package) if o["kind"] == "animal" and o["bbox"])
    from_md = sorted((o["file"], o["label"], tuple(round(v, 4) for v in o["bbox"]))
                     for o in read_md(tmp_path / "rep" / "megadetector_reviewed.json") if o["kind"] == "animal")
    assert expected == from_camtrap == from_md
    assert ("A/004.JPG", LEOPARD, (0.1, 0.2, 0.3, 0.4)) in from_md  # the reviewer's label won
    assert len(expected) == 4

    coco = json.loads((tmp_path / "rep" / "coco_camera_traps.json").read_text())
    assert coco["categories"][0] == {"id": 0, "name": "empty"}
    ids = {i["file_name"]: i["id"] for i in coco["images"]}
    image = next(i for i in coco["images"] if i["file_name"] == "A/001.JPG")
    assert {"seq_id", "seq_num_frames", "frame_num", "location", "datetime"} <= set(image)
    assert image["datetime"] == "2024-05-01 10:00:00" and isinstance(image["id"], int)
    blank = [a for a in coco["annotations"] if a["image_id"] == ids["A/003.JPG"]]
    assert [a["category_id"] for a in blank] == [0] and "bbox" not in blank[0] and blank[0]["iscrowd"] == 0
    fox_box = next(a for a in coco["annotations"] if a["image_id"] == ids["A/001.JPG"] and "bbox" in a)
    assert fox_box["bbox"] == [40.0, 60.0, 120.0, 120.0] and fox_box["area"] == 14400.0  # pixels of a 400x300 frame
    assert fox_box["iscrowd"] == 0 and isinstance(fox_box["id"], int)
    names = {c["name"]: c for c in coco["categories"]}
    assert names["red fox"]["scientific_name"] == "Vulpes vulpes"  # the name every other output gives it


def chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.skip("chromium not installed")
    return path


def test_html_report_renders_in_headless_chromium(tmp_path):
    frames = [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(FOX)]),
              ("A/002.JPG", "A", "2024-05-01T21:00:00+05:45", [box(LEOPARD, bbox=(0.3, 0.3, 0.4, 0.5))]),
              ("B/001.JPG", "B", "2024-05-02T06:00:00+05:45", [box(FOX)]),
              ("B/002.JPG", "B", "2024-05-02T07:00:00+05:45", [])]
    out = make_run(tmp_path, [DEP_A, DEP_B], frames, images=True)
    build_report(out, tmp_path / "rep")
    page = tmp_path / "rep" / "report.html"
    text = page.read_text()
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text
    browser = chromium()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=90).stdout
    assert 'data-broken-images="0"' in dom, dom[-2000:]
    assert dom.count("class=\"plot\"") == 5  # species, hour, time, effort, map
    # ecology sections (issue 15): the taxon accumulation plot; too few events for activity curves
    assert dom.count("class=\"plot ecology\"") == 1
    assert all(f"<h2>{h}</h2>" in dom for h in ("Occupancy", "Activity", "Richness"))
    assert dom.count('data-loaded="yes"') == 8  # 6 plots + 2 gallery thumbnails
    assert "image not found" not in dom
    assert "Camera health</h2>" in dom and "2 deployments checked" in dom  # reports.health's section
    shot = tmp_path / "rep" / "report.png"
    subprocess.run([browser, *flags, "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=90)
    assert shot.exists() and shot.stat().st_size > 10_000
    keep = os.environ.get("WILDEYE_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def run_report(*args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLI, "report", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def test_cli_json_since_and_bad_arguments(tmp_path):
    frames = [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(FOX)]),
              ("A/002.JPG", "A", "2024-05-03T10:00:00+05:45", [box(FOX)])]
    out = make_run(tmp_path, [DEP_A], frames)
    proc = run_report(out, "--to", tmp_path / "rep", "--json", "--no-gallery")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["events"] == 2 and Path(summary["outputs"]["html"]).exists()
    # nothing processed since: a --since report into the same folder has no new sightings
    again = json.loads(run_report(out, "--to", tmp_path / "rep", "--since", "--json", "--no-gallery").stdout)
    assert again["events"] == 0 and again["filters"]["since_time"]
    # a date range clips events and effort (one local day of two)
    ranged = json.loads(run_report(out, "--to", tmp_path / "r2", "--from", "2024-05-01", "--until", "2024-05-01",
                                   "--json", "--no-gallery").stdout)
    assert ranged["events"] == 1 and ranged["camera_days"] == pytest.approx(1.0, abs=1e-3)
    plain = run_report(out, "--to", tmp_path / "r3", "--no-gallery")
    assert plain.returncode == 0 and "2 independent events" in plain.stdout
    for bad, word in ((("--from", "May 1st"), "date"), (("--deployment", "Z9"), "Z9"),
                      (("--event-gap", "0"), "event-gap"), (("--species", "unicorn"), "unicorn"),
                      (("--min-confidence", "2"), "min-confidence")):
        proc = run_report(out, *bad)
        assert proc.returncode == 2, (bad, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and word in proc.stderr and "Traceback" not in proc.stderr
    missing = run_report(tmp_path / "rep")
    assert missing.returncode == 2 and "wildeye run" in missing.stderr


def test_importing_the_cli_loads_no_report_dependencies():
    code = ("import sys, wildeye.cli, wildeye.commands.report; "
            "print([m for m in ('matplotlib', 'pandas', 'frictionless', 'PIL') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_dollar_signs_in_ids_and_labels_are_plain_text_in_plots(tmp_path, monkeypatch):
    """matplotlib reads `$...$` as maths: `$^$` stopped the report, `$x^2$` was drawn as x squared."""
    from matplotlib.text import Text

    from wildeye.reports import html as html_mod

    odd = {"deployment_id": "$^$", "latitude": 28.1, "longitude": 84.2, "timezone": "+05:45"}
    frames = [("d/001.JPG", "$^$", "2024-05-01T10:00:00+05:45", [box("$x^2$")]),
              ("d/002.JPG", "$^$", "2024-05-01T22:00:00+05:45", [box(FOX)])]
    out = make_run(tmp_path, [odd], frames)
    proc = run_report(out, "--to", tmp_path / "rep", "--json", "--no-gallery")
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "$^$" in page and "$x^2$" in page

    drawn: list[Text] = []
    original = html_mod._png

    def keep_texts(fig):
        result = original(fig)  # draws the figure, so tick labels hold their final text
        drawn.extend(t for t in fig.findobj(Text) if "$" in t.get_text())
        return result

    monkeypatch.setattr(html_mod, "_png", keep_texts)
    build_report(out, tmp_path / "rep2", gallery=False)
    assert {"$^$", "$x^2$"} <= {t.get_text() for t in drawn}
    assert all(not t.get_parse_math() for t in drawn)
    import matplotlib

    assert matplotlib.rcParams["text.parse_math"]  # only the report's plots are plain, not the process


def test_csv_cells_that_spreadsheets_would_run_are_neutralised(tmp_path):
    pytest.importorskip("frictionless")
    from wildeye.reports.camtrapdp import validate_package
    from wildeye.reports.tables import spreadsheet_safe

    evil = '=HYPERLINK("http://x","y")'
    deps = [{"deployment_id": evil, "location_name": "@ridge", "latitude": -12.5, "longitude": 84.2,
             "timezone": "+05:45", "deployment_start": "2024-05-01T00:00:00", "deployment_end": "2024-05-03T00:00:00"},
            {"deployment_id": "-12.5", "latitude": 28.3, "longitude": 84.5, "timezone": "+05:45",
             "deployment_start": "2024-05-01T00:00:00", "deployment_end": "2024-05-03T00:00:00"}]
    frames = [("a/001.JPG", evil, "2024-05-01T10:00:00+05:45", [box(FOX)]),
              ("b/001.JPG", "-12.5", "2024-05-01T11:00:00+05:45", [box("+cmd|' /C calc'!A0")])]
    out = make_run(tmp_path, deps, frames)
    build_report(out, tmp_path / "rep", gallery=False)
    rep = tmp_path / "rep"
    for name in ("sightings.csv", "effort.csv", "rai.csv", "species.csv", "diel_activity.csv"):
        with open(rep / name, newline="", encoding="utf-8") as f:
            cells = [c for row in csv.reader(f) for c in row]
        risky = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r") and c != "-12.5"]
        assert risky == [], (name, risky)
    sightings = {r["deployment_id"]: r for r in read_csv(rep / "sightings.csv")}
    assert set(sightings) == {"'" + evil, "-12.5"}  # a genuine number stays a number
    assert sightings["-12.5"]["species"] == "'+cmd|' /C calc'!A0"
    effort = {r["deployment_id"]: r for r in read_csv(rep / "effort.csv")}
    assert effort["'" + evil]["location_name"] == "'@ridge" and effort["'" + evil]["latitude"] == "-12.5"
    assert [spreadsheet_safe(v) for v in ("-3", "+4.5e2", "\tx", "\rx", "a=b", 7, None)] == \
        ["-3", "+4.5e2", "'\tx", "'\rx", "a=b", 7, None]

    # the Camtrap DP package is data, kept exact: IDs join across its tables and it still validates
    package = rep / "camtrap-dp"
    assert validate_package(package) == []
    ids = {t: {r["deploymentID"] for r in read_csv(package / f"{t}.csv")} for t in ("deployments", "media",
                                                                                    "observations")}
    assert ids["deployments"] == ids["media"] == ids["observations"] == {evil, "-12.5"}


def add_pending(out: Path, paths: list[str]) -> None:
    """Frames a run has scanned but not yet processed."""
    with Journal.open(out) as journal:
        journal.add_media([MediaFile(path=p, kind="image", size=1, mtime="2024-05-01T12:00:00", content_hash=p,
                                     timestamp="2024-05-01T12:00:00+05:45", deployment_id="A") for p in paths])


def test_report_says_frames_are_pending_and_a_run_is_in_progress(tmp_path):
    out = make_run(tmp_path, [DEP_A], [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(FOX)])])
    add_pending(out, ["A/002.JPG", "A/003.JPG"])
    proc = run_report(out, "--to", tmp_path / "rep", "--json", "--no-gallery")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["pending"] == 2 and summary["run_in_progress"] is False
    assert any("2 frames still pending" in n for n in summary["notes"])
    assert not any("in progress" in n for n in summary["notes"])
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "2 frames still pending" in page and "in progress" not in page

    with Journal.open(out):  # a live run holds the journal's lock
        locked = run_report(out, "--to", tmp_path / "rep2", "--no-gallery")
    assert locked.returncode == 0, locked.stderr
    assert "2 frames still pending" in locked.stderr and "a run is in progress" in locked.stderr
    assert "a run is in progress" in (tmp_path / "rep2" / "report.html").read_text()
    assert (out / "journal.lock").exists()
    after = json.loads(run_report(out, "--to", tmp_path / "rep3", "--json", "--no-gallery").stdout)
    assert after["run_in_progress"] is False  # the lock went with its holder


def test_sighting_hook_gets_paths_that_open_for_names_that_are_not_utf8(tmp_path):
    from wildeye.names import record_name
    from wildeye.app.alerts import Sighting, notify

    real = os.fsdecode(os.fsencode(tmp_path) + b"/cam/bad\xffname.jpg")
    write_frame(Path(real), size=(32, 32))
    record = "cam/" + record_name(os.path.basename(real))
    sighting = Sighting(label=LEOPARD, name="snow leopard", deployment_id="cam", sequence_id="s1", start=None,
                        end=None, frames=1, score=0.9, files=[record], flagship=True)
    check = f"{sys.executable} -c \"import os; open(os.environ['WILDEYE_FILES'], 'rb').close()\""
    outcomes = notify(check, [sighting], str(tmp_path))
    assert outcomes[0]["returncode"] == 0, outcomes


def test_gallery_finds_a_frame_whose_name_is_not_utf8(tmp_path):
    from wildeye.names import fs_name

    out = make_run(tmp_path, [DEP_A], [("A/bad\\xffname.JPG", "A", "2024-05-01T10:00:00+05:45", [box(FOX)])])
    write_frame(tmp_path / "card" / fs_name("A/bad\\xffname.JPG"), size=(400, 300))
    assert not (tmp_path / "card" / "A" / "bad\\xffname.JPG").exists()
    build_report(out, tmp_path / "rep")
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "image not found" not in page and "data:image/jpeg;base64," in page


def test_labels_and_deployment_ids_are_escaped_in_the_html(tmp_path):
    """The page is a template with autoescape: user text never becomes markup."""
    evil = "<script>alert('x')</script>"
    dep = {"deployment_id": evil, "location_name": "<b>ridge</b>", "latitude": 28.1, "longitude": 84.2,
           "timezone": "+05:45"}
    frames = [("d/001.JPG", evil, "2024-05-01T10:00:00+05:45", [box("<img src=x onerror=alert(1)>")]),
              ("d/002.JPG", evil, "2024-05-01T22:00:00+05:45", [box(FOX)])]
    out = make_run(tmp_path, [dep], frames)
    build_report(out, tmp_path / "rep")  # with the gallery: its captions and "image not found" paths too
    page = (tmp_path / "rep" / "report.html").read_text()
    assert evil not in page and "<img src=x" not in page and "<b>ridge</b>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;b&gt;ridge&lt;/b&gt;" in page
    assert page.count("<script>") == 1  # only the report's own image check


def test_reports_and_review_read_the_journal_only_through_its_readers():
    """No SQL outside store/: reports and review call the Journal's typed readers."""
    src = Path(__file__).resolve().parents[1] / "src" / "wildeye"
    offenders = [f"{p.relative_to(src)}:{n}" for folder in ("reports", "review") for p in (src / folder).rglob("*.py")
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if "execute(" in line or ".conn" in line]
    assert offenders == []


def test_threshold_and_models_come_from_the_last_finished_run(tmp_path):
    from wildeye.config import FALLBACK_DETECTION_THRESHOLD
    from wildeye.reports.frames import load

    frames = [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(FOX)])]
    out = make_run(tmp_path / "a", [DEP_A], frames, config={"ensemble": {"detection_threshold": 0.0}})
    assert load(out).detection_threshold == 0.0  # a number, even a falsy one, is the run's
    with Journal.open(out) as journal:  # a later run that did not finish does not speak for the results
        journal.start_run({"ensemble": {"detection_threshold": 0.6}}, {"detector": {"name": "other"}})
    data = load(out)
    assert data.detection_threshold == 0.0 and data.models["detector"]["name"] == "md-test"
    bare = make_run(tmp_path / "b", [DEP_A], frames, config={})
    assert load(bare).detection_threshold == FALLBACK_DETECTION_THRESHOLD
    with Journal.open(bare, write=False) as journal:
        records = journal.media_records()
        assert [(m.path, m.seq_num_frames, m.status) for m in records] == [("A/001.JPG", 1, "done")]
        assert records[0].processed_at is not None
        run = journal.last_run()
        assert run.status == "finished" and run.config == {} and run.models["detector"]["name"] == "md-test"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_get_the_mode_a_plain_write_would(tmp_path, umask, mode):
    from wildeye.atomic import write_bytes_atomic, write_json_atomic

    previous = os.umask(umask)
    try:
        write_bytes_atomic(tmp_path / "a.csv", b"x\n")
        write_json_atomic(tmp_path / "sub" / "b.json", {"k": 1})
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(previous)
    for path in (tmp_path / "a.csv", tmp_path / "sub" / "b.json", plain):
        assert path.stat().st_mode & 0o777 == mode, path
    assert json.loads((tmp_path / "sub" / "b.json").read_text()) == {"k": 1}


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temp_files(tmp_path):
    from wildeye.atomic import atomic_path, write_bytes_atomic

    target = tmp_path / "report.html"
    write_bytes_atomic(target, b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half of the new")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    with atomic_path(target) as tmp:  # a library that wants a file name writes the temp path
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
