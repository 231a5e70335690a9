"""Camera health checks on a generated survey with known faults: one deployment per fault, a healthy camera with
none. Journals are built through the Journal API (no models run)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from wildeye.ingest.manifest import DeploymentInfo, MediaFile
from wildeye.records import BoxDecision, Detection, Prediction
from wildeye.reports.health import HealthConfig, check_run
from wildeye.store.journal import HumanLabel, Journal

FOX = "a1;mammalia;carnivora;canidae;vulpes;vulpes;red fox"
CLI = "from wildeye.cli import main; main()"
TZ = "+05:45"
NOW = datetime(2025, 1, 1)
START = datetime(2024, 3, 1, 0, 0)
END = datetime(2024, 4, 30, 12, 0)  # 60.5 days out


def every(hours: float, first: datetime, last: datetime, start_hour: float = 2.0) -> list[datetime]:
    """A trigger every `hours`, the first at `start_hour` on `first`'s day: 8 h from 02:00 gives 02, 10, 18."""
    t, out = first.replace(hour=0) + timedelta(hours=start_hour), []
    while t <= last:
        out.append(t)
        t += timedelta(hours=hours)
    return out


def pattern(times, blank_every: int = 3):
    """(time, blank?) with every third frame blank: a steady 33 % blank fraction."""
    return [(t, i % blank_every == 0) for i, t in enumerate(times)]


def survey() -> dict[str, dict]:
    """deployment -> {info, frames: [(time, blank)], size}: one camera per fault, with known truth."""
    base = every(8, START, END - timedelta(days=1))  # 180 frames, day and night, up to a day before the end
    gap_from, gap_to = datetime(2024, 3, 20), datetime(2024, 4, 5)
    daytime = every(6, START, END - timedelta(days=1), start_hour=9)  # 09 and 15 h (+21h, 03h dropped below)
    turned_at = datetime(2024, 3, 31)
    burst_days = [datetime(2024, 4, 10), datetime(2024, 4, 11), datetime(2024, 4, 12)]
    burst = [(d + timedelta(hours=11, seconds=20 * i), i % 20 != 0) for d in burst_days for i in range(150)]
    clock = pattern(every(8, START, datetime(2024, 3, 25)))  # 72 frames, then the clock resets to 1970:
    clock += pattern(every(8, datetime(1970, 1, 1), datetime(1970, 1, 20)))
    return {
        "healthy": {"frames": pattern(base)},
        "battery": {"frames": pattern([t for t in base if t <= END - timedelta(days=20)])},
        "cardfull": {"frames": pattern([t for t in base if t <= END - timedelta(days=10)]), "size": 196_000_000},
        "knocked": {"frames": pattern([t for t in base if not gap_from <= t <= gap_to])},
        "noir": {"frames": pattern([t for t in daytime if 8 <= t.hour <= 16])},
        "turned": {"frames": [(t, t >= turned_at or i % 5 == 0) for i, t in enumerate(base)]},
        "vegetation": {"frames": sorted(pattern(base) + burst)},
        "clock": {"frames": clock},  # its 1970 frames come after 25 March: the camera did not stop early
        "dates": {"frames": pattern(base), "start": START + timedelta(days=5)},
        "future": {"frames": pattern(every(8, datetime(2031, 3, 1), datetime(2031, 3, 3))), "open": True},
    }


def make_survey(root: Path, only: tuple[str, ...] = ()) -> Path:
    out = root / "run"
    out.mkdir(parents=True)
    files, done, decisions, deployments = [], {}, {}, []
    for dep, spec in survey().items():
        if only and dep not in only:
            continue
        open_ = spec.get("open")
        deployments.append(DeploymentInfo(
            deployment_id=dep, source="deployments.csv", latitude=28.2, longitude=84.0, timezone=TZ,
            deployment_start=None if open_ else spec.get("start", START).isoformat(),
            deployment_end=None if open_ else END.isoformat()))
        for i, (when, blank) in enumerate(spec["frames"]):
            path = f"{dep}/DCIM/IMG_{i + 1:04d}.JPG"  # file order = the order the camera took them
            stamp = when.isoformat() + TZ
            files.append(MediaFile(path=path, kind="image", size=spec.get("size", 2_000_000), mtime=stamp,
                                   content_hash=path, width=400, height=300, timestamp=stamp, deployment_id=dep,
                                   sequence_id=f"{dep}-{i}", frame_num=0, seq_num_frames=1))
            if blank:
                done[path], decisions[path] = [], (Prediction("blank", 0.9, "detector"), [])
            else:
                done[path] = [Detection("animal", 0.9, (0.1, 0.2, 0.3, 0.4), [(FOX, 0.95)])]
                decisions[path] = (Prediction(FOX, 0.95, "classifier"), [BoxDecision(FOX, 0.95, "classifier")])
    with Journal.open(out) as journal:
        journal.set_meta("source", str(root / "card"))
        journal.add_media(files)
        journal.set_deployments(deployments)
        run_id = journal.start_run({"ensemble": {"detection_threshold": 0.2}}, {"detector": {"name": "md-test"}})
        journal.record_batch(run_id, done, {})
        journal.write_decisions(decisions)
        journal.finish_run(run_id, "finished", {})
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_survey(tmp_path_factory.mktemp("health"))


@pytest.fixture(scope="module")
def report(run_dir):
    return check_run(run_dir, now=NOW)


def found(report) -> dict[str, set[str]]:
    return {d.deployment_id: {f.check for f in d.findings} for d in report.deployments}


def finding(report, dep, check):
    return next(f for f in report.findings if f.deployment_id == dep and f.check == check)


def test_each_fault_is_found_where_it_is_and_nowhere_else(report):
    assert found(report) == {
        "healthy": set(),
        "battery": {"stopped_early"},
        "cardfull": {"stopped_early"},
        "knocked": {"gap"},
        "noir": {"no_night_frames"},
        "turned": {"view_changed"},
        "vegetation": {"false_triggers"},
        "clock": {"clock_default_date", "clock_backwards"},
        "dates": {"outside_deployment"},
        "future": {"clock_future"},
    }


def test_evidence_has_the_numbers_dates_and_files(report):
    battery = finding(report, "battery", "stopped_early")
    assert battery.severity == "warning" and battery.evidence["days_silent"] == pytest.approx(20.08, abs=0.01)
    assert battery.evidence["card_gb"] is None and "battery" in battery.summary and "batteries" in battery.fix
    assert battery.examples == ["battery/DCIM/IMG_0122.JPG"]  # the last frame: 10 April 10:00, 40 days x 3 + 2
    card = finding(report, "cardfull", "stopped_early")
    assert card.evidence["card_gb"] == 32 and "full card" in card.summary  # 152 frames x 196 MB = 29.8 GB
    gap = finding(report, "knocked", "gap")
    assert gap.evidence["days"] == pytest.approx(16.33, abs=0.01)  # 19 March 18:00 to 5 April 02:00
    assert gap.evidence["from"].startswith("2024-03-19") and gap.evidence["to"].startswith("2024-04-05")
    ir = finding(report, "noir", "no_night_frames")
    assert ir.evidence["night_by"] == "sun" and ir.evidence["frames"] >= 100 and ir.evidence["days"] > 50
    turned = finding(report, "turned", "view_changed")
    assert turned.evidence["date"] == "2024-03-31" and turned.evidence["blank_before"] == pytest.approx(0.2, abs=0.02)
    assert turned.evidence["blank_after"] == 1.0
    veg = finding(report, "vegetation", "false_triggers")
    assert veg.evidence["days"] == 3 and veg.evidence["dates"] == ["2024-04-10", "2024-04-11", "2024-04-12"]
    assert veg.evidence["worst_day_frames"] == 153 and len(veg.examples) == 3  # 150 burst + 3 regular triggers
    reset = finding(report, "clock", "clock_default_date")
    assert reset.severity == "error" and reset.evidence["years"] == [1970] and reset.evidence["frames"] == 57
    back = finding(report, "clock", "clock_backwards")
    assert back.evidence["times"] == 1 and back.evidence["at"] == "clock/DCIM/IMG_0073.JPG"
    dates = finding(report, "dates", "outside_deployment")
    assert dates.evidence["before_start"] == 12 and dates.evidence["after_end"] == 0  # 1-4 March: the start is 6 March, 1 day slack
    future = finding(report, "future", "clock_future")
    assert future.evidence["frames"] == 6 and future.evidence["first"].startswith("2031-03-01")
    clock = next(d for d in report.deployments if d.deployment_id == "clock")
    assert clock.skipped["stopped_early"] == "57 frames after the last well-dated one have a wrong clock"
    healthy = next(d for d in report.deployments if d.deployment_id == "healthy")
    assert healthy.skipped == {} and healthy.frames == 179  # 59 days x 3 + 2


def test_thresholds_come_from_the_config(run_dir):
    loose = check_run(run_dir, HealthConfig(end_silence_days=30, gap_days=20, false_trigger_frames_per_day=200),
                      now=NOW)
    got = found(loose)
    assert "stopped_early" not in got["battery"] and "gap" not in got["knocked"]
    assert "false_triggers" not in got["vegetation"]
    from wildeye.reports.health_defaults import DEFAULTS

    assert HealthConfig().model_dump() == DEFAULTS  # the CLI's defaults (shown in --help) are the config's
    with pytest.raises(ValueError):
        HealthConfig(gap_days=0)
    with pytest.raises(ValueError):
        HealthConfig(unknown=1)


def test_reviewers_labels_win_for_blank_fractions(tmp_path):
    """A reviewer saying the vegetation days' blanks show a fox turns the false-trigger finding off."""
    out = make_survey(tmp_path)
    with Journal.open(out) as journal:
        decisions = journal.decisions()
        burst = sorted(m.path for m in journal.media_records() if m.deployment_id == "vegetation"
                       and m.timestamp[:10] in ("2024-04-10", "2024-04-11", "2024-04-12")
                       and decisions[m.path].label == "blank")
        journal.record_human_labels(HumanLabel(p, "red fox") for p in burst[::2])  # half of them were a fox
    assert "false_triggers" not in found(check_run(out, now=NOW))["vegetation"]


def wildeye(*args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLI, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def test_cli_table_json_and_bad_arguments(run_dir, tmp_path):
    proc = wildeye("check", run_dir, "--json", "--deployment", "battery", "--deployment", "healthy")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [d["deployment_id"] for d in doc["deployments"]] == ["battery", "healthy"]
    assert [(f["deployment_id"], f["check"]) for f in doc["findings"]] == [("battery", "stopped_early")]
    assert doc["deployments"][1]["healthy"] and doc["config"]["end_silence_days"] == 7.0
    table = wildeye("check", run_dir, "--gap-days", "30")
    assert table.returncode == 0, table.stderr  # findings are not errors
    assert "Camera health" in table.stdout and "stopped_early" in table.stdout
    assert "3 errors, 5 warnings, 1 notes; healthy: healthy, knocked" in table.stdout  # a 16-day gap < 30
    for bad, word in ((("--gap-days", "-1"), "--gap-days"), (("--deployment", "Z9"), "Z9"),
                      (("--blank-fraction", "2"), "--blank-fraction")):
        proc = wildeye("check", run_dir, *bad)
        assert proc.returncode == 2, (bad, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and word in proc.stderr and "Traceback" not in proc.stderr
    empty = wildeye("check", tmp_path)
    assert empty.returncode == 2 and "wildeye run" in empty.stderr


def test_html_report_has_a_camera_health_section(tmp_path):
    from html.parser import HTMLParser

    from wildeye.reports.build import build_report

    out = make_survey(tmp_path, only=("healthy", "battery", "clock"))
    summary = build_report(out, tmp_path / "rep", gallery=False)
    assert summary["health"] == {"error": 2, "warning": 1, "info": 0, "deployments": 3, "healthy": 1}

    class Rows(HTMLParser):
        """The cells of the table under the 'Camera health' heading."""

        def __init__(self):
            super().__init__()
            self.section, self.rows, self.cell = None, [], None

        def handle_starttag(self, tag, attrs):
            if tag == "h2":
                self.section = dict(attrs).get("id")
            elif tag == "tr" and self.section == "camera-health":
                self.rows.append([])
            elif tag == "td" and self.section == "camera-health":
                self.cell = ""

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

        def handle_endtag(self, tag):
            if tag == "td" and self.cell is not None:
                self.rows[-1].append(self.cell)
                self.cell = None

    parser = Rows()
    page = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    parser.feed(page)
    rows = [r for r in parser.rows if r]
    assert [(r[0], r[1], r[2]) for r in rows] == [("clock", "clock_backwards", "error"),
                                                  ("clock", "clock_default_date", "error"),
                                                  ("battery", "stopped_early", "warning")]
    assert "20.1 days before the deployment ended" in rows[2][3] and rows[2][4] == "battery/DCIM/IMG_0122.JPG"
    assert "batteries" in rows[2][5] and "no problem found at healthy" in page


def test_occupancy_counts_no_effort_while_a_camera_was_down(tmp_path):
    """The knocked-over camera's weeks on the ground and the flat battery's silent end are NA in the detection
    history (not "looked, saw nothing"), and their effort is only the days it ran."""
    import csv

    from wildeye.reports.ecology import ecology_report

    out = make_survey(tmp_path, only=("healthy", "knocked", "battery"))
    ecology_report(out, tmp_path / "eco")

    def table(name: str) -> dict[str, list[str]]:
        with open(tmp_path / "eco" / "occupancy" / name, newline="") as f:
            return {row.pop("site"): list(row.values()) for row in csv.DictReader(f)}

    history, effort = table("red_fox_detection_history.csv"), table("effort.csv")
    # weekly occasions from 1 March: o4 (22-28 Mar) and o5 (29 Mar-4 Apr) lie inside the 20 Mar-5 Apr gap
    assert history["knocked"][3:5] == ["NA", "NA"] and history["healthy"][3:5] == ["1", "1"]
    assert float(effort["knocked"][2]) == pytest.approx(4.75)  # 15-21 Mar: down after its frame of 19 Mar 18:00
    assert history["battery"][6:] == ["NA", "NA", "NA"] and "NA" not in history["healthy"]
