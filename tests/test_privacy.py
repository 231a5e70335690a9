"""Privacy on export: people left out (or blurred where a frame is exported), and the sites of sensitive species
generalised in every export: Camtrap DP, CSVs, the HTML report's map and the alert hook's payload."""

from __future__ import annotations

import base64
import io
import json
import math
import re
import sys
from pathlib import Path

import pytest
from imagegen import write_frame
from test_reports import DEP_B, FOX, LEOPARD, box, read_csv

from wildeye.config import PrivacyConfig
from wildeye.ingest.manifest import DeploymentInfo, Manifest, MediaFile, ScanSettings
from wildeye.labels import SN_HUMAN
from wildeye.records import BoxDecision, Detection, Prediction
from wildeye.reports.build import build_report
from wildeye.reports.metadata import ProjectMetadata
from wildeye.reports.privacy import generalise, half_diagonal_m, without_exif
from wildeye.store.journal import Journal

EXACT = {"deployment_id": "A", "latitude": 28.812345, "longitude": 83.871234, "timezone": "+05:45",
         "deployment_start": "2024-05-01T00:00:00", "deployment_end": "2024-05-03T00:00:00",
         "extra": {"coordinateUncertainty": "30"}}
FOXES = {"deployment_id": "B", "latitude": 28.712345, "longitude": 83.971234, "timezone": "+05:45",
         "deployment_start": "2024-05-01T00:00:00", "deployment_end": "2024-05-03T00:00:00"}


def make_run(root: Path, deployments: list[dict], frames: list[tuple], images: bool = False, gps=None) -> Path:
    """frames: (path, deployment, timestamp, [box(...)], sequence id); like test_reports.make_run, with bursts."""
    out, source = root / "run", root / "card"
    out.mkdir(parents=True)
    files, done, decisions = [], {}, {}
    for i, (path, dep, stamp, boxes, seq) in enumerate(frames):
        files.append(MediaFile(path=path, kind="image", size=1, mtime=stamp, content_hash=str(i), width=400,
                               height=300, timestamp=stamp, deployment_id=dep, sequence_id=seq, frame_num=i,
                               seq_num_frames=1))
        done[path] = [Detection(c, conf, bbox, [(label, score)]) for c, conf, bbox, label, score in boxes]
        preds = [BoxDecision(label, score, "classifier") if conf >= 0.2 else None
                 for c, conf, bbox, label, score in boxes]
        top = max((b for b in boxes if b[1] >= 0.2 and b[0] == "animal"), key=lambda b: b[4], default=None) or \
            max((b for b in boxes if b[1] >= 0.2), key=lambda b: b[1], default=None)
        image = Prediction(top[3], top[4], "classifier") if top else Prediction("blank", 0.9, "detector")
        decisions[path] = (image, preds)
        if images:
            write_frame(source / path, size=(400, 300), seed=i, **({"gps": gps} if gps else {}))
    Manifest(wildeye_version="test", created="2024-01-01T00:00:00", source=str(source), settings=ScanSettings(),
             hash_method="test", deployments=[DeploymentInfo(source="deployments.csv", **d) for d in deployments],
             files=files).write(out / "manifest.json")
    with Journal.open(out) as journal:
        journal.set_meta("source", str(source))
        journal.add_media(files)
        journal.set_deployments([DeploymentInfo(source="deployments.csv", **d) for d in deployments])
        run_id = journal.start_run({"ensemble": {"detection_threshold": 0.2}}, {"detector": {"name": "md-test"}})
        journal.record_batch(run_id, done, {})
        journal.write_decisions(decisions)
        journal.finish_run(run_id, "finished", {})
    return out


def all_text(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()
                     and p.suffix in (".csv", ".json", ".html"))


# --- generalisation ------------------------------------------------------------------------------------------


def haversine_m(lat1, lon1, lat2, lon2) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


@pytest.mark.parametrize("lat, lon, decimals", [(28.812345, 83.871234, 1), (-0.04, 179.97, 1), (61.5, 10.25, 2),
                                                (28.8, 83.9, 0)])
def test_rounded_sites_get_an_uncertainty_that_covers_the_whole_cell(lat, lon, decimals):
    new_lat, new_lon, metres = generalise(lat, lon, None, decimals)
    step = 10.0 ** -decimals
    assert new_lat == round(lat, decimals) and abs(new_lon) <= 180
    assert abs(new_lat - lat) <= step / 2 + 1e-9
    # every point that rounds to this one lies inside the circle (corners of the cell, on the sphere)
    for dlat in (-step / 2, step / 2):
        for dlon in (-step / 2, step / 2):
            corner = haversine_m(new_lat, new_lon, max(-90.0, min(90.0, new_lat + dlat)), new_lon + dlon)
            assert corner <= metres * 1.001, (corner, metres)
    assert metres <= 1.2 * half_diagonal_m(0.0, decimals)  # and not absurdly wide
    assert generalise(lat, lon, 30, decimals)[2] == metres + 30  # the old uncertainty adds on


@pytest.mark.parametrize("names, generalised", [
    (["snow leopard"], True), (["Panthera uncia"], True), ([LEOPARD], True), (["felidae"], True),
    (["  Snow   Leopard "], True), (["pallas cat"], False), ([], False)])
def test_sensitive_species_match_any_name_and_generalise_every_export(tmp_path, names, generalised, monkeypatch):
    pytest.importorskip("frictionless")
    from wildeye.reports import html as html_mod
    from wildeye.reports.camtrapdp import validate_package

    frames = [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(LEOPARD)], "a1"),
              ("A/002.JPG", "A", "2024-05-01T12:00:00+05:45", [box(FOX)], "a2"),
              ("B/001.JPG", "B", "2024-05-01T11:00:00+05:45", [box(FOX)], "b1")]
    out = make_run(tmp_path, [EXACT, FOXES], frames)
    mapped = []
    original = html_mod._map_plot
    monkeypatch.setattr(html_mod, "_map_plot", lambda effort, rounded=frozenset(): mapped.append(
        ([dict(r) for r in effort], set(rounded))) or original(effort, rounded))
    project = ProjectMetadata(privacy=PrivacyConfig(sensitive_species=names))
    summary = build_report(out, tmp_path / "rep", gallery=False, project=project)
    rep = tmp_path / "rep"
    assert validate_package(rep / "camtrap-dp") == []
    deps = {r["deploymentID"]: r for r in read_csv(rep / "camtrap-dp" / "deployments.csv")}
    effort = {r["deployment_id"]: r for r in read_csv(rep / "effort.csv")}
    descriptor = json.loads((rep / "camtrap-dp" / "datapackage.json").read_text())
    map_rows = {r["deployment_id"]: r for r in mapped[0][0]}
    text = all_text(rep)
    assert "83.971234" in text and deps["B"]["coordinateUncertainty"] == ""  # the fox-only site stays exact
    if generalised:
        cell = half_diagonal_m(28.8, 1)
        assert (deps["A"]["latitude"], deps["A"]["longitude"]) == ("28.8", "83.9")
        assert int(deps["A"]["coordinateUncertainty"]) == cell + 30  # the site's own 30 m, plus the cell
        assert (effort["A"]["latitude"], effort["A"]["longitude"]) == ("28.8", "83.9")
        assert int(effort["A"]["coordinate_uncertainty_m"]) == cell + 30
        assert (map_rows["A"]["latitude"], map_rows["A"]["longitude"]) == (28.8, 83.9) and mapped[0][1] == {"A"}
        assert descriptor["coordinatePrecision"] == 0.1
        assert "28.812345" not in text and "83.871234" not in text  # nowhere, in no file
        assert summary["privacy"]["generalised_deployments"] == {"A": ["snow leopard"]}
        assert any("locations generalised to 1 decimal" in n and "A (snow leopard)" in n for n in summary["notes"])
    else:
        assert (deps["A"]["latitude"], deps["A"]["longitude"]) == ("28.812345", "83.871234")
        assert deps["A"]["coordinateUncertainty"] == "30" and "coordinatePrecision" not in descriptor
        assert map_rows["A"]["latitude"] == 28.812345 and mapped[0][1] == set()
        assert summary["privacy"]["generalised_deployments"] == {}


def test_a_filtered_report_still_hides_a_sensitive_site_and_exact_locations_is_explicit(tmp_path):
    frames = [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(LEOPARD)], "a1"),
              ("A/002.JPG", "A", "2024-05-01T12:00:00+05:45", [box(FOX)], "a2")]
    out = make_run(tmp_path, [EXACT], frames)
    # a fox-only report from the same cameras: the site still had a snow leopard, so it stays generalised
    from test_reports import run_report

    proc = run_report(out, "--to", tmp_path / "fox", "--species", "red fox", "--json", "--no-gallery")
    assert proc.returncode == 0, proc.stderr
    assert "28.812345" not in all_text(tmp_path / "fox")
    # the default needs no configuration; --exact-locations turns it off, and says so
    exact = run_report(out, "--to", tmp_path / "exact", "--exact-locations", "--json", "--no-gallery")
    summary = json.loads(exact.stdout)
    assert "28.812345" in all_text(tmp_path / "exact")
    assert summary["privacy"]["exact_sensitive_deployments"] == {"A": ["snow leopard"]}
    assert any("exact locations kept" in n for n in summary["notes"])
    (tmp_path / "p.yaml").write_text("privacy:\n  sensitive_species: [panthera uncia]\n  coordinate_decimals: 2\n")
    two = json.loads(run_report(out, "--to", tmp_path / "two", "--project", tmp_path / "p.yaml", "--json",
                                "--no-gallery").stdout)
    deps = {r["deploymentID"]: r for r in read_csv(tmp_path / "two" / "camtrap-dp" / "deployments.csv")}
    assert (deps["A"]["latitude"], deps["A"]["longitude"]) == ("28.81", "83.87")
    assert two["privacy"]["coordinate_decimals"] == 2


def test_alert_payload_location_is_generalised_for_sensitive_species(tmp_path):
    from wildeye.app.alerts import new_sightings, notify

    frames = [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(LEOPARD)], "a1"),
              ("B/001.JPG", "B", "2024-05-01T11:00:00+05:45", [box(FOX)], "b1")]
    out = make_run(tmp_path, [EXACT, FOXES], frames)
    with Journal.open(out) as journal:
        run_id = journal.last_run().run_id
        default = {s.deployment_id: s for s in new_sightings(journal, run_id, ["snow leopard"])}
        exact = {s.deployment_id: s for s in new_sightings(journal, run_id, ["snow leopard"],
                                                             PrivacyConfig(generalise_locations=False))}
    leopard = default["A"]
    assert (leopard.latitude, leopard.longitude, leopard.location_generalised) == (28.8, 83.9, True)
    assert leopard.coordinate_uncertainty_m == half_diagonal_m(28.8, 1) + 30
    assert (default["B"].latitude, default["B"].location_generalised) == (28.712345, False)
    assert (exact["A"].latitude, exact["A"].longitude, exact["A"].location_generalised) == (28.812345, 83.871234,
                                                                                            False)
    dump = tmp_path / "payload.json"
    hook = (f"{sys.executable} -c \"import json, os, sys; d = json.load(sys.stdin); "
            f"d['env'] = {{k: v for k, v in os.environ.items() if k.startswith('WILDEYE_')}}; "
            f"open({str(dump)!r}, 'w').write(json.dumps(d))\"")
    outcomes = notify(hook, [leopard], str(tmp_path / "card"))
    assert outcomes[0]["returncode"] == 0, outcomes
    payload = json.loads(dump.read_text())
    assert (payload["latitude"], payload["longitude"], payload["location_generalised"]) == (28.8, 83.9, True)
    assert payload["env"]["WILDEYE_LATITUDE"] == "28.8" and payload["env"]["WILDEYE_LOCATION_GENERALISED"] == "1"
    assert "28.812345" not in dump.read_text()


# --- people ------------------------------------------------------------------------------------------------------


def thumbnails(page: str) -> list:
    from PIL import Image

    return [Image.open(io.BytesIO(base64.b64decode(m))).convert("L")
            for m in re.findall(r"data:image/jpeg;base64,([A-Za-z0-9+/=]+)", page)]


def spread(image, box) -> float:
    """Standard deviation of the pixels inside a normalised box (noise: high; blurred: low)."""
    from PIL import ImageStat

    x, y, w, h = box
    crop = image.crop((int((x + 0.02) * image.width), int((y + 0.02) * image.height),
                       int((x + w - 0.02) * image.width), int((y + h - 0.02) * image.height)))
    return ImageStat.Stat(crop).stddev[0]


PERSON = (0.05, 0.1, 0.3, 0.6)
FOX_BOX = (0.6, 0.5, 0.3, 0.3)


def people_frames():
    return [
        # a person walks past: two frames of one burst, the second with no detection
        ("B/001.JPG", "B", "2024-05-01T10:00:00+05:45", [box("human", 0.95, PERSON)], "walk"),
        ("B/002.JPG", "B", "2024-05-01T10:00:02+05:45", [], "walk"),
        # a fox and a person in one frame (SpeciesNet's human label): the fox stays, the person goes
        ("B/003.JPG", "B", "2024-05-01T12:00:00+05:45", [box(FOX, 0.9, FOX_BOX, 0.99),
                                                         box(SN_HUMAN, 0.9, PERSON, 0.95, "person")], "mix"),
        # a blank frame with a faint person box (below the threshold): kept, box gone
        ("B/004.JPG", "B", "2024-05-01T14:00:00+05:45", [box("human", 0.1, PERSON)], "faint"),
        ("B/005.JPG", "B", "2024-05-02T09:00:00+05:45", [box(FOX, 0.9, FOX_BOX, 0.5)], "fox"),
    ]


def test_exclude_humans_leaves_people_out_of_every_export(tmp_path):
    pytest.importorskip("frictionless")
    from wildeye.reports.camtrapdp import validate_package

    out = make_run(tmp_path, [DEP_B | {"deployment_start": "2024-05-01T00:00:00",
                                       "deployment_end": "2024-05-03T00:00:00"}], people_frames(), images=True)
    base = build_report(out, tmp_path / "all")
    project = ProjectMetadata(media_base_url="https://data.example.org/c",
                              privacy=PrivacyConfig(exclude_humans=True))
    summary = build_report(out, tmp_path / "rep", project=project, copy_media=True)
    rep = tmp_path / "rep"
    package = rep / "camtrap-dp"
    assert validate_package(package) == []
    media = {r["fileName"]: r for r in read_csv(package / "media.csv")}
    assert set(media) == {"003.JPG", "004.JPG", "005.JPG"}  # the walk burst is gone
    assert media["003.JPG"]["filePublic"] == "false" and media["004.JPG"]["filePublic"] == "false"
    assert media["005.JPG"]["filePublic"] == "true"
    obs = read_csv(package / "observations.csv")
    assert "human" not in {r["observationType"] for r in obs}
    assert {r["observationType"] for r in obs if r["mediaID"] == media["003.JPG"]["mediaID"]} == {"animal"}
    md = json.loads((rep / "megadetector_reviewed.json").read_text())
    assert {i["file"] for i in md["images"]} == {"B/003.JPG", "B/004.JPG", "B/005.JPG"}
    assert all(d["category"] != "2" for i in md["images"] for d in i["detections"] or [])  # no person boxes
    coco = json.loads((rep / "coco_camera_traps.json").read_text())
    assert {i["file_name"] for i in coco["images"]} == {"B/003.JPG", "B/004.JPG", "B/005.JPG"}
    assert not {"human", "person"} & {c["name"] for c in coco["categories"]}
    text = all_text(rep)
    assert "B/001.JPG" not in text and "B/002.JPG" not in text
    # effort is not cut by leaving photos out; the sightings are the same
    effort, effort_all = read_csv(rep / "effort.csv")[0], read_csv(tmp_path / "all" / "effort.csv")[0]
    assert (effort["camera_days"], effort["images"]) == (effort_all["camera_days"], effort_all["images"])
    assert summary["events"] == base["events"] == 2
    assert summary["privacy"]["people_frames_dropped"] == 2 and summary["privacy"]["people_frames_kept"] == 1
    assert any("people left out (--exclude-humans): 2 frames dropped, 1 kept" in n for n in summary["notes"])

    # the fox's best frame shows the person too: blurred in the gallery, not without --exclude-humans
    blurred, = thumbnails((rep / "report.html").read_text())
    plain, = thumbnails((tmp_path / "all" / "report.html").read_text())
    assert spread(blurred, PERSON) < 0.25 * spread(plain, PERSON)
    assert spread(blurred, FOX_BOX) > 0.8 * spread(plain, FOX_BOX)  # the fox is untouched
    # and in the copied media: blurred, the others copied as they were
    from PIL import Image

    with Image.open(package / "media" / "B" / "003.JPG") as im:
        copied = im.convert("L")
    with Image.open(tmp_path / "card" / "B" / "003.JPG") as im:
        original = im.convert("L")
    assert spread(copied, PERSON) < 0.25 * spread(original, PERSON)
    assert (package / "media" / "B" / "005.JPG").read_bytes() == (tmp_path / "card" / "B" / "005.JPG").read_bytes()
    assert not (package / "media" / "B" / "001.JPG").exists()


def test_copied_media_of_a_sensitive_site_lose_their_gps(tmp_path):
    from PIL import Image

    frames = [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(LEOPARD)], "a1")]
    out = make_run(tmp_path, [EXACT], frames, images=True, gps=(28.812345, 83.871234, 4200))
    with Image.open(tmp_path / "card" / "A" / "001.JPG") as im:
        assert im.getexif().get_ifd(0x8825)  # the camera wrote its position
    summary = build_report(out, tmp_path / "rep", gallery=False, copy_media=True)
    copied = tmp_path / "rep" / "camtrap-dp" / "media" / "A" / "001.JPG"
    with Image.open(copied) as im, Image.open(tmp_path / "card" / "A" / "001.JPG") as orig:
        assert not im.getexif().get_ifd(0x8825)
        assert im.tobytes() == orig.tobytes()  # the same pixels: the EXIF segment was cut out, nothing re-encoded
    assert summary["camtrap_dp"]["copied_media"]["stripped"] == 1
    assert without_exif(b"not a jpeg") == b"not a jpeg"
