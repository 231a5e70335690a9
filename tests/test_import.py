"""`wildeye import`: other tools' results and labels into the journal, then report and evaluate on them.

Real data where there is some (MegaDetector's own batch output over the shared camera-trap frames, and those
frames' labels as a Timelapse CSV); small files made here for every other format and for the awkward cases.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from clihelp import run_cli
from conftest_review import fo_env, wildeye_json  # noqa: F401
from imagegen import write_frame

from wildeye.app.importer import import_file
from wildeye.errors import ConfigError
from wildeye.interop import read, sniff
from wildeye.interop.paths import PathMatcher, parse_root
from wildeye.labels import SN_BLANK
from wildeye.reports.build import build_report
from wildeye.reports.frames import ANIMAL
from wildeye.reports.frames import load as load_frames
from wildeye.review.evaluate import evaluate_journal
from wildeye.store.journal import HumanLabel, Journal

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MD_640 = SHARED / "reference" / "megadetector" / "megadetector-output-640.json"
FOX = "a1b2;mammalia;carnivora;canidae;vulpes;vulpes;red fox"
LEOPARD = "c3d4;mammalia;carnivora;felidae;panthera;uncia;snow leopard"
START = datetime(2024, 5, 1, 10, 0, 0)


@pytest.fixture
def real_card():
    images = SHARED / "data" / "camera-traps" / "images"
    if not MD_640.is_file() or not images.is_dir():
        pytest.skip(f"MegaDetector reference output or frames not found under {SHARED} (../shared is absent)")
    return images


def make_card(root: Path, cams=("cam1", "cam2"), n=3) -> Path:
    """cam1/IMG_0001.JPG ...: the same names in every camera folder, frames 40 minutes apart (own events)."""
    for c, cam in enumerate(cams):
        for i in range(n):
            write_frame(root / cam / f"IMG_{i + 1:04d}.JPG", when=START + timedelta(minutes=40 * i), size=(400, 300),
                        seed=10 * c + i)
    return root


def md_file(path: Path, images: list[dict], **extra) -> Path:
    document = {"info": {"format_version": "1.6", "detector": "md_v5a.0.0.pt",
                         "detector_metadata": {"megadetector_version": "v5a.0.0", "typical_detection_threshold": 0.2}},
                "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"}, "images": images}
    document.update(extra)
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def box(conf, bbox=(0.1, 0.2, 0.3, 0.4), category="1", classifications=None):
    d = {"category": category, "conf": conf, "bbox": list(bbox)}
    if classifications is not None:
        d["classifications"] = classifications
    return d


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


# --- real MegaDetector output ---------------------------------------------------------------------------------


def test_real_megadetector_output_becomes_a_run_with_the_files_boxes_and_the_report_counts_them(real_card, tmp_path):
    out = tmp_path / "out"
    summary = import_file(real_card, MD_640, out)
    document = json.loads(MD_640.read_text())
    assert summary["scanned"] and summary["matched"] == {"exact": len(document["images"])}
    assert summary["unmatched"] == 0 and summary["problems"] == 0
    with Journal.open(out, write=False) as journal:
        boxes = journal.detections()
        media = {m.path: m for m in journal.media()}
        runs = journal.runs()
        threshold = journal.detection_threshold()
    assert len(runs) == 1 and runs[0]["status"] == "finished"
    assert runs[0]["models"]["imported"]["description"].startswith("imported from megadetector-output-640.json")
    assert threshold == document["info"]["detector_metadata"]["typical_detection_threshold"]
    names = {"1": "animal", "2": "person", "3": "vehicle"}
    for image in document["images"]:
        if image.get("failure"):
            assert media[image["file"]].status == "failed" and image["failure"] in media[image["file"]].failure
            assert image["file"] not in boxes
            continue
        want = sorted((names[d["category"]], d["conf"], tuple(d["bbox"])) for d in image["detections"])
        got = sorted((d.category, d.conf, tuple(d.bbox)) for d in boxes.get(image["file"], []))
        assert got == want, image["file"]
    assert sum(len(v) for v in boxes.values()) == sum(len(i["detections"] or []) for i in document["images"])

    # the report counts the animals the file found: one observation per animal box at or above the threshold
    data = load_frames(out)
    expected = {i["file"]: sum(1 for d in i["detections"] or [] if d["category"] == "1" and d["conf"] >= threshold)
                for i in document["images"]}
    observed = {f.path: sum(o.count or 1 for o in f.observations if o.kind == ANIMAL and o.bbox is not None)
                for f in data.frames}
    assert observed == expected
    report = build_report(out, tmp_path / "rep")
    assert report["animal_frames"] == sum(1 for n in expected.values() if n) > 0
    assert report["failed"] == 1 and report["pending"] == 0

    # importing it again replaces the run: nothing duplicated
    again = import_file(real_card, MD_640, out)
    assert not again["scanned"] and again["results"]["replaced_runs"] == 1
    with Journal.open(out, write=False) as journal:
        assert len(journal.runs()) == 1
        assert sum(len(v) for v in journal.detections().values()) == sum(len(v) for v in boxes.values())
        assert len(journal.decisions()) == len(document["images"]) - 1


def test_real_labels_as_timelapse_csv_win_in_the_report_and_evaluate_against_the_machine(real_card, tmp_path):
    out = tmp_path / "out"
    import_file(real_card, MD_640, out)
    with open(real_card.parent / "manifest.csv", newline="", encoding="utf-8") as f:
        labelled = [r for r in csv.DictReader(f) if r["label"]]
    rows = []
    for r in labelled:
        rel = Path(r["file"]).relative_to("images")
        rows.append([rel.name, "\\".join(rel.parent.parts), "2024-01-01 00:00:00", "false", r["label"], 1])
    timelapse = write_csv(tmp_path / "timelapse.csv", ["File", "RelativePath", "DateTime", "DeleteFlag", "Species",
                                                        "Count"], rows)
    summary = import_file(real_card, timelapse, out, reviewer="Ana")
    assert summary["format"] == "timelapse" and summary["labels"]["written"] == len(labelled)
    assert summary["unmatched"] == 0
    with Journal.open(out, write=False) as journal:
        humans = journal.human_labels()
    assert len(humans) == len(labelled) and {h.reviewer for h in humans.values()} == {"Ana"}
    elephants = [p for p, h in humans.items() if h.label == "African elephant"]
    assert len(elephants) == 5
    report = build_report(out, tmp_path / "rep")
    assert "African elephant" in report["species_events"]
    data = load_frames(out)
    for frame in data.frames:
        if frame.path in elephants:
            assert [(o.label, o.method, o.by) for o in frame.observations] == [("African elephant", "human", "Ana")]
    result = evaluate_journal(out, fiftyone=False)
    assert result["samples"] == len(labelled) - 1  # the failed frame has no machine decision to compare
    assert "african elephant" in result["per_class"]
    # and again: the same labels, not twice
    again = import_file(real_card, timelapse, out, reviewer="Ana")
    assert again["labels"] == {"written": len(labelled), "replaced": len(labelled), "kept": 0}


# --- paths relative to another root ---------------------------------------------------------------------------


def test_path_matcher_drops_foreign_and_scanned_roots_and_refuses_ambiguous_names():
    scanned = ["site1/cam1/IMG_0001.JPG", "site1/cam2/IMG_0001.JPG", "site1/cam2/IMG_0002.JPG", "site1/cam2/Ünï.jpg"]
    m = PathMatcher(scanned)
    assert m.match("site1/cam1/IMG_0001.JPG").how == "exact"
    assert m.match("D:\\traps\\site1\\cam1\\IMG_0001.JPG").path == "site1/cam1/IMG_0001.JPG"
    assert m.match("/mnt/card/site1/cam2/IMG_0002.JPG").path == "site1/cam2/IMG_0002.JPG"
    assert m.match("cam2/img_0001.jpg").path == "site1/cam2/IMG_0001.JPG"  # another letter case
    assert m.match("IMG_0002.JPG").how == "file name"  # unique on the card
    ambiguous = m.match("IMG_0001.JPG")
    assert ambiguous.path is None and ambiguous.how.startswith("ambiguous")
    assert m.match("gs://bucket/deployment/x/IMG_0002.JPG").path == "site1/cam2/IMG_0002.JPG"
    assert m.match(unicodedata.normalize("NFD", "site1/cam2/Ünï.jpg")).path == "site1/cam2/Ünï.jpg"  # macOS names
    assert m.match("C:\\other\\nothing.jpg").path is None
    rooted = PathMatcher(scanned, parse_root("E:\\backup=site1/cam1"))
    assert rooted.match("E:\\backup\\IMG_0001.JPG").path == "site1/cam1/IMG_0001.JPG"
    prefixed = PathMatcher(scanned, parse_root("=site1/cam2"))
    assert prefixed.match("IMG_0001.JPG").path == "site1/cam2/IMG_0001.JPG"


def test_path_matcher_learns_the_root_rewrite_most_paths_need_and_resolves_conflicts():
    scanned = [f"cam{c}/IMG_{i:04d}.JPG" for c in (1, 2) for i in range(1, 4)] + ["cam1/extra_1.JPG",
                                                                                  "cam1/extra_2.JPG"]
    m = PathMatcher(scanned)
    # results made on cam1 alone: its unique names vote for the rewrite '' -> 'cam1'; the shared names follow
    found = m.match_all([("IMG_0001.JPG",), ("IMG_0002.JPG",), ("extra_1.JPG",), ("extra_2.JPG",)])
    assert [f.path for f in found] == ["cam1/IMG_0001.JPG", "cam1/IMG_0002.JPG", "cam1/extra_1.JPG",
                                       "cam1/extra_2.JPG"]
    assert [f.how for f in found][:2] == ["root rewrite", "root rewrite"]
    # two entries reaching one file: the closer one keeps it
    found = PathMatcher(["cam1/IMG_0009.JPG"]).match_all([("cam2/IMG_0009.JPG",), ("cam1/IMG_0009.JPG",)])
    assert found[1].path == "cam1/IMG_0009.JPG" and found[0].path is None and "conflict" in found[0].how


def test_windows_absolute_paths_from_another_machine_are_matched_end_to_end(tmp_path):
    card = make_card(tmp_path / "card")
    md = md_file(tmp_path / "md.json", [
        {"file": "D:\\Traps\\card\\cam1\\IMG_0001.JPG", "detections": [box(0.9)]},
        {"file": "D:\\Traps\\card\\cam2\\IMG_0002.JPG", "detections": [box(0.8), box(0.1)]},
        {"file": "D:\\Traps\\card\\cam3\\IMG_0001.JPG", "detections": []},  # no such camera here
    ])
    summary = import_file(card, md, tmp_path / "out")
    assert summary["matched"] == {"tail": 2} and summary["unmatched"] == 1
    assert "cam3" in summary["unmatched_examples"][0]
    with Journal.open(tmp_path / "out", write=False) as journal:
        boxes = journal.detections()
    assert set(boxes) == {"cam1/IMG_0001.JPG", "cam2/IMG_0002.JPG"}
    assert [d.decision is not None for d in boxes["cam2/IMG_0002.JPG"]] == [True, False]  # 0.1 < threshold


# --- MegaDetector variants ----------------------------------------------------------------------------------


def test_old_megadetector_files_and_classifications_with_taxonomy_descriptions(tmp_path):
    card = make_card(tmp_path / "card", cams=("cam1",))
    old = tmp_path / "old.json"  # format 1.0: no info, no detection_categories, max_detection_conf, numbers
    old.write_text(json.dumps({"images": [
        {"file": "cam1/IMG_0001.JPG", "max_detection_conf": 0.95, "detections": [box(0.95), box(0.5, category="2")]},
        {"file": "cam1/IMG_0002.JPG", "max_detection_conf": 0.0, "detections": []},
        {"file": "cam1/IMG_0003.JPG", "detections": None, "failure": "Failure image access"}]}))
    assert sniff(old) == "megadetector"
    summary = import_file(card, old, tmp_path / "out")
    assert summary["results"]["images"] == 2 and summary["results"]["failed"] == 1
    with Journal.open(tmp_path / "out", write=False) as journal:
        decisions = journal.decisions()
        boxes = journal.detections()
    assert decisions["cam1/IMG_0001.JPG"].label == "animal"
    assert [d.decision.label for d in boxes["cam1/IMG_0001.JPG"]] == ["animal", "human"]
    assert decisions["cam1/IMG_0002.JPG"].label == "blank"

    # AddaxAI / MegaDetector+SpeciesNet: classifications, with 7-field descriptions -> the taxonomy label
    classified = md_file(tmp_path / "cls.json", [
        {"file": "cam1/IMG_0001.JPG", "detections": [box(0.9, classifications=[["2", 0.3], ["1", 0.65]]),
                                                     box(0.7, (0.5, 0.5, 0.1, 0.1), classifications=[["1", 0.9]])]},
        {"file": "cam1/IMG_0002.JPG", "detections": [box(0.6, classifications=[["3", 0.99]])]},
    ], classification_categories={"1": "red fox", "2": "snow leopard", "3": "blank"},
        classification_category_descriptions={"1": FOX, "2": LEOPARD, "3": SN_BLANK})
    summary = import_file(card, classified, tmp_path / "out2")
    with Journal.open(tmp_path / "out2", write=False) as journal:
        decisions = journal.decisions()
        boxes = journal.detections()
        runs = journal.runs()
    assert [d.decision.label for d in boxes["cam1/IMG_0001.JPG"]] == [FOX, FOX]
    assert boxes["cam1/IMG_0001.JPG"][0].classifications == [(FOX, 0.65), (LEOPARD, 0.3)]
    assert decisions["cam1/IMG_0001.JPG"].label == FOX
    assert decisions["cam1/IMG_0002.JPG"].label == "blank"  # the classifier called its only box blank
    assert not boxes["cam1/IMG_0002.JPG"][0].decision.counted
    assert "classifier" in runs[0]["models"]
    report = build_report(tmp_path / "out2", tmp_path / "rep")
    assert report["species_events"] == {"red fox": 1}


def test_bad_rows_are_counted_and_the_import_goes_on(tmp_path):
    card = make_card(tmp_path / "card", cams=("cam1",))
    md = md_file(tmp_path / "md.json", [
        {"file": "cam1/IMG_0001.JPG", "detections": [box(0.9)]},
        {"file": "cam1/IMG_0002.JPG", "detections": [{"category": "1", "conf": "high", "bbox": [0, 0, 1, 1]}]},
        {"file": "cam1/IMG_0003.JPG", "detections": [box(0.9, bbox=(0.1, 0.2, 0.3))]},
        {"detections": []},
    ])
    proc = run_cli("import", card, md, "-o", tmp_path / "out", "--json")
    assert proc.returncode == 1, proc.stderr  # finished, but some inputs could not be read
    summary = json.loads(proc.stdout)
    assert summary["problems"] == 3 and summary["results"]["images"] == 1
    assert any("IMG_0002.JPG" in p and "confidence" in p for p in summary["problem_examples"])


@pytest.mark.parametrize("content, words", [
    (b"\x89PNG\r\n\x1a\n\x00\x00garbage", "not a text file"),
    (b'{"images": [ {"file": ', "not valid JSON"),
    (b'{"hello": "world"}', "cannot tell which format"),
    (b"a,b,c\n1,2,3\n", "cannot tell which format"),
])
def test_a_garbage_file_is_one_line_and_exit_2(tmp_path, content, words):
    card = make_card(tmp_path / "card", cams=("cam1",), n=1)
    bad = tmp_path / "results.json"
    bad.write_bytes(content)
    proc = run_cli("import", card, bad, "-o", tmp_path / "out")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_a_file_matching_nothing_says_how_to_fix_it(tmp_path):
    card = make_card(tmp_path / "card", cams=("cam1",), n=1)
    md = md_file(tmp_path / "md.json", [{"file": "elsewhere/other.jpg", "detections": []}])
    proc = run_cli("import", card, md, "-o", tmp_path / "out")
    assert proc.returncode == 2 and "--path-root" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_results_are_never_mixed_with_a_wildeye_run(tmp_path):
    card = make_card(tmp_path / "card", cams=("cam1",), n=1)
    md = md_file(tmp_path / "md.json", [{"file": "cam1/IMG_0001.JPG", "detections": [box(0.9)]}])
    import_file(card, md, tmp_path / "out")
    with Journal.open(tmp_path / "out") as journal:
        journal.set_meta("fingerprint", {"detector_md5": "abc"})  # what `wildeye run` records
    with pytest.raises(ConfigError, match="never mixed"):
        import_file(card, md, tmp_path / "out")
    # labels are always welcome
    assert import_file(card, md, tmp_path / "out", as_="labels")["labels"]["written"] == 1


# --- SpeciesNet ---------------------------------------------------------------------------------------------


def test_speciesnet_predictions_both_generations(tmp_path):
    card = make_card(tmp_path / "card", cams=("cam1",))
    root = "/home/me/card"
    v4 = {"predictions": [
        {"filepath": f"{root}/cam1/IMG_0001.JPG", "classifications": {"classes": [FOX, LEOPARD], "scores": [0.9, 0.05]},
         "detections": [{"category": "1", "label": "animal", "conf": 0.8, "bbox": [0.1, 0.1, 0.2, 0.2]},
                        {"category": "1", "label": "animal", "conf": 0.6, "bbox": [0.5, 0.5, 0.2, 0.2]},
                        {"category": "2", "label": "human", "conf": 0.3, "bbox": [0.7, 0.1, 0.1, 0.3]}],
         "prediction": FOX, "prediction_score": 0.9, "prediction_source": "classifier", "model_version": "4.0.1a"},
        {"filepath": f"{root}/cam1/IMG_0002.JPG", "failures": ["CLASSIFIER", "DETECTOR"], "model_version": "4.0.1a"},
        {"filepath": f"{root}/cam1/IMG_0003.JPG", "detections": [], "prediction": SN_BLANK, "prediction_score": 0.99,
         "prediction_source": "classifier", "failures": ["GEOLOCATION"], "model_version": "4.0.1a"},
    ]}
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(v4))
    summary = import_file(card, path, tmp_path / "out")
    assert summary["format"] == "speciesnet" and summary["tool"] == "SpeciesNet 4.0.1a"
    assert summary["results"]["images"] == 2 and summary["results"]["failed"] == 1
    with Journal.open(tmp_path / "out", write=False) as journal:
        decisions, boxes = journal.decisions(), journal.detections()
    assert decisions["cam1/IMG_0001.JPG"].label == FOX and decisions["cam1/IMG_0003.JPG"].label == "blank"
    assert [d.decision.label for d in boxes["cam1/IMG_0001.JPG"]] == [FOX, FOX, "human"]  # two foxes, one person
    assert boxes["cam1/IMG_0001.JPG"][0].classifications == [(FOX, 0.9), (LEOPARD, 0.05)]

    v5 = {"info": {"format_version": "20250101"}, "predictions": [
        {"filepath": "cam1/IMG_0001.JPG", "model_version": "4.0.2a", "detections": [
            {"category": "1", "label": "animal", "conf": 0.15, "bbox": [0.1, 0.1, 0.2, 0.2],
             "raw_classifications": {"classes": [LEOPARD, FOX], "scores": [0.92, 0.02]},
             "processed_classification": {"class": LEOPARD, "score": 0.92, "source": "classifier"}},
            {"category": "1", "label": "animal", "conf": 0.05, "bbox": [0.6, 0.1, 0.2, 0.2]}]},
        {"filepath": "cam1/IMG_0002.JPG", "model_version": "4.0.2b", "detections": [
            {"category": "0", "label": "whole_image_classification", "conf": 1.0, "bbox": [0, 0, 1, 1],
             "raw_classifications": {"classes": [FOX], "scores": [0.85]},
             "processed_classification": {"class": FOX, "score": 0.85, "source": "classifier"}},
            {"category": "1", "label": "animal", "conf": 0.7, "bbox": [0.3, 0.3, 0.2, 0.2]}]},
    ]}
    path.write_text(json.dumps(v5))
    import_file(card, path, tmp_path / "out")  # the same file, rewritten: replaces the earlier import
    with Journal.open(tmp_path / "out", write=False) as journal:
        decisions, boxes, runs = journal.decisions(), journal.detections(), journal.runs()
        media = {m.path: m.status for m in journal.media()}
    assert len(runs) == 1 and media["cam1/IMG_0003.JPG"] == "pending"  # no longer in the file
    leopard = boxes["cam1/IMG_0001.JPG"]
    assert leopard[0].decision.label == LEOPARD and leopard[0].decision.counted  # a weak box the classifier named
    assert leopard[0].decision.speciesnet.label == LEOPARD and leopard[1].decision is None
    assert decisions["cam1/IMG_0001.JPG"].label == LEOPARD
    assert decisions["cam1/IMG_0002.JPG"].label == FOX and boxes["cam1/IMG_0002.JPG"][0].decision.label == FOX
    assert len(boxes["cam1/IMG_0002.JPG"]) == 1  # the whole-image pseudo-detection is no box


# --- label formats ------------------------------------------------------------------------------------------


def test_coco_camera_traps_labels_with_pixel_boxes_and_empty_frames(tmp_path):
    card = make_card(tmp_path / "card", cams=("cam1",))
    coco = {"info": {"contributor": "LILA"},
            "images": [{"id": "a", "file_name": "cam1/IMG_0001.JPG", "width": 400, "height": 300},
                       {"id": "b", "file_name": "cam1/IMG_0002.JPG"},  # no size: the scanned frame's is used
                       {"id": "c", "file_name": "cam1/IMG_0003.JPG", "width": 400, "height": 300},
                       {"id": "d", "file_name": "cam1/IMG_0004.JPG", "width": 400, "height": 300}],
            "annotations": [{"id": 1, "image_id": "a", "category_id": 1, "bbox": [40, 30, 100, 60]},
                            {"id": 2, "image_id": "a", "category_id": 1, "bbox": [200, 150, 100, 60]},
                            {"id": 3, "image_id": "b", "category_id": 2, "bbox": [0, 0, 200, 150]},
                            {"id": 4, "image_id": "c", "category_id": 0},
                            {"id": 5, "image_id": "zzz", "category_id": 1},
                            {"id": 6, "image_id": "d", "category_id": 1}],
            "categories": [{"id": 0, "name": "empty"}, {"id": 1, "name": "red_fox"}, {"id": 2, "name": "human"}]}
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(coco))
    summary = import_file(card, path, tmp_path / "out")
    assert summary["format"] == "coco" and summary["labels"]["written"] == 3
    assert summary["problems"] == 1 and summary["unmatched"] == 1  # bad image_id; IMG_0004 is not on the card
    with Journal.open(tmp_path / "out", write=False) as journal:
        humans = journal.human_labels()
    fox = humans["cam1/IMG_0001.JPG"]
    assert fox.label == "red fox" and fox.count == 2 and fox.reviewer == "LILA"
    assert fox.boxes == [{"label": "red fox", "bbox": [0.1, 0.1, 0.25, 0.2]},
                         {"label": "red fox", "bbox": [0.5, 0.5, 0.25, 0.2]}]
    assert humans["cam1/IMG_0002.JPG"].label == "human"
    assert humans["cam1/IMG_0002.JPG"].boxes[0]["bbox"] == [0.0, 0.0, 0.5, 0.5]
    assert humans["cam1/IMG_0003.JPG"].label == "blank"
    report = build_report(tmp_path / "out", tmp_path / "rep")
    assert report["species_events"] == {"red fox": 1}
    rows = list(csv.DictReader(open(tmp_path / "rep" / "sightings.csv", encoding="utf-8")))
    assert [(r["species"], r["count"], r["verified"]) for r in rows] == [("red fox", "2", "true")]


def test_camtrap_dp_human_rows_are_labels_machine_rows_a_run_and_names_meet_the_machines(tmp_path):
    card = make_card(tmp_path / "card", cams=("cam1",))
    out = tmp_path / "out"
    md = md_file(tmp_path / "md.json", [{"file": f"cam1/IMG_000{i}.JPG", "detections": [
        box(0.9, classifications=[["1", 0.9]])]} for i in (1, 2, 3)], classification_categories={"1": "red fox"},
        classification_category_descriptions={"1": FOX})
    import_file(card, md, out)
    package = tmp_path / "package"
    package.mkdir()
    (package / "datapackage.json").write_text(json.dumps({
        "name": "agouti-export", "resources": [{"name": "media", "path": "media.csv"},
                                               {"name": "observations", "path": "observations.csv"}],
        "taxonomic": [{"scientificName": "Vulpes vulpes", "taxonRank": "species",
                       "vernacularNames": {"eng": "red fox"}},
                      {"scientificName": "Meles meles", "taxonRank": "species", "vernacularNames": {"eng": "badger"},
                       "family": "Mustelidae"}]}))
    write_csv(package / "media.csv", ["mediaID", "deploymentID", "timestamp", "filePath", "fileName"], [
        ["m1", "d1", "2024-05-01T10:00:00+02:00", "cam1/IMG_0001.JPG", "IMG_0001.JPG"],
        ["m2", "d1", "2024-05-01T10:40:00+02:00", "cam1/IMG_0002.JPG", "IMG_0002.JPG"],
        ["m3", "d1", "2024-05-01T11:20:00+02:00", "cam1/IMG_0003.JPG", "IMG_0003.JPG"]])
    obs_cols = ["observationID", "deploymentID", "mediaID", "eventStart", "eventEnd", "observationLevel",
                "observationType", "scientificName", "count", "bboxX", "bboxY", "bboxWidth", "bboxHeight",
                "classificationMethod", "classifiedBy", "classificationTimestamp", "classificationProbability"]
    write_csv(package / "observations.csv", obs_cols, [
        ["o1", "d1", "m1", "", "", "media", "animal", "Vulpes vulpes", "1", "", "", "", "", "human", "Bea",
         "2024-06-01T09:00:00Z", ""],
        ["o2", "d1", "m2", "", "", "media", "animal", "Meles meles", "2", "0.1", "0.1", "0.2", "0.2", "human", "Bea",
         "", ""],
        ["o3", "d1", "", "2024-05-01T11:00:00+02:00", "2024-05-01T11:30:00+02:00", "event", "blank", "", "", "",
         "", "", "", "human", "Cai", "", ""],
        ["o4", "d1", "m1", "", "", "media", "animal", "Vulpes vulpes", "1", "0.1", "0.1", "0.3", "0.3", "machine",
         "MegaDetector+SpeciesNet", "", "0.93"],
        ["o5", "d1", "m9", "", "", "media", "animal", "Vulpes vulpes", "", "", "", "", "", "human", "Bea", "", ""],
        ["o6", "d1", "m2", "", "", "media", "rabbit", "", "", "", "", "", "", "human", "Bea", "", ""],
    ])
    summary = import_file(card, package, out)
    assert summary["format"] == "camtrap-dp" and summary["problems"] == 2  # unknown mediaID, bad observationType
    assert summary["labels"]["written"] == 3 and summary["results"]["images"] == 1
    with Journal.open(out, write=False) as journal:
        humans, decisions = journal.human_labels(), journal.decisions()
        runs = journal.runs()
    assert humans["cam1/IMG_0001.JPG"].label == FOX  # 'Vulpes vulpes' is the machine's red fox label
    assert humans["cam1/IMG_0001.JPG"].reviewer == "Bea"
    assert humans["cam1/IMG_0001.JPG"].reviewed_at == "2024-06-01T09:00:00Z"
    badger = humans["cam1/IMG_0002.JPG"]
    assert badger.label == ";;;mustelidae;meles;meles;badger" and badger.count == 2
    assert humans["cam1/IMG_0003.JPG"].label == "blank" and humans["cam1/IMG_0003.JPG"].reviewer == "Cai"
    assert len(runs) == 2 and runs[1]["models"]["imported"]["tool"] == "MegaDetector+SpeciesNet"
    assert decisions["cam1/IMG_0001.JPG"].label == FOX  # the package's machine row, now its own run
    report = build_report(out, tmp_path / "rep")
    assert report["species_events"] == {"red fox": 1, "badger": 1}
    result = evaluate_journal(out, fiftyone=False)
    assert result["samples"] == 3 and result["per_class"]["red fox"]["recall"] == 1.0


def test_a_wildeye_camtrap_dp_export_comes_back_with_its_exact_labels(tmp_path):
    card = make_card(tmp_path / "card", cams=("cam1",))
    md = md_file(tmp_path / "md.json", [
        {"file": "cam1/IMG_0001.JPG", "detections": [box(0.9, classifications=[["1", 0.9]]),
                                                     box(0.8, (0.5, 0.5, 0.2, 0.2), classifications=[["1", 0.85]])]},
        {"file": "cam1/IMG_0002.JPG", "detections": [box(0.7, classifications=[["2", 0.95]])]},
        {"file": "cam1/IMG_0003.JPG", "detections": []}],
        classification_categories={"1": "red fox", "2": "snow leopard"},
        classification_category_descriptions={"1": FOX, "2": LEOPARD})
    import_file(card, md, tmp_path / "a")
    first = build_report(tmp_path / "a", tmp_path / "rep-a")
    summary = import_file(card, tmp_path / "rep-a" / "camtrap-dp", tmp_path / "b")
    assert summary["results"]["images"] == 3 and summary["unmatched"] == 0
    with Journal.open(tmp_path / "b", write=False) as journal:
        boxes, decisions = journal.detections(), journal.decisions()
    assert [d.decision.label for d in boxes["cam1/IMG_0001.JPG"]] == [FOX, FOX]
    assert decisions["cam1/IMG_0002.JPG"].label == LEOPARD and decisions["cam1/IMG_0003.JPG"].label == "blank"
    second = build_report(tmp_path / "b", tmp_path / "rep-b")
    assert second["species_events"] == first["species_events"] == {"red fox": 1, "snow leopard": 1}
    assert second["animal_frames"] == first["animal_frames"] == 2


def test_wildlife_insights_rows_people_as_labels_computer_vision_as_results(tmp_path):
    card = make_card(tmp_path / "card", cams=("cam1",))
    header = ["project_id", "deployment_id", "image_id", "filename", "location", "is_blank", "identified_by",
              "wi_taxon_id", "class", "order", "family", "genus", "species", "common_name", "uncertainty",
              "timestamp", "number_of_objects", "cv_confidence"]
    gs = "gs://cameratraps/deployment/cam1/"
    path = write_csv(tmp_path / "images.csv", header, [
        [1, "cam1", "g1", "IMG_0001.JPG", gs + "g1.jpg", 0, "Dee Jones", "a1b2", "Mammalia", "Carnivora", "Canidae",
         "Vulpes", "vulpes", "Red Fox", "", "2024-05-01 10:00:00", 3, ""],
        [1, "cam1", "g2", "IMG_0002.JPG", gs + "g2.jpg", 1, "Dee Jones", "f1856211", "", "", "", "", "", "Blank", "",
         "2024-05-01 10:40:00", "", ""],
        [1, "cam1", "g3", "IMG_0003.JPG", gs + "g3.jpg", 0, "Computer vision", "c3d4", "Mammalia", "Carnivora",
         "Felidae", "Panthera", "uncia", "Snow Leopard", "", "2024-05-01 11:20:00", 1, 0.87],
        [1, "cam1", "g4", "IMG_0004.JPG", gs + "g4.jpg", 0, "Dee Jones", "x", "", "", "", "", "", "", "", "", "", ""],
    ])
    assert sniff(path) == "wildlife-insights"
    summary = import_file(card, path, tmp_path / "out")
    assert summary["labels"]["written"] == 2 and summary["results"]["images"] == 1 and summary["problems"] == 1
    with Journal.open(tmp_path / "out", write=False) as journal:
        humans, decisions = journal.human_labels(), journal.decisions()
    fox = humans["cam1/IMG_0001.JPG"]
    assert fox.label == FOX and fox.count == 3 and fox.reviewer == "Dee Jones"
    assert humans["cam1/IMG_0002.JPG"].label == "blank"
    assert decisions["cam1/IMG_0003.JPG"].label == LEOPARD and decisions["cam1/IMG_0003.JPG"].score == 0.87
    report = build_report(tmp_path / "out", tmp_path / "rep")
    assert report["species_events"] == {"red fox": 1, "snow leopard": 1}


def test_imported_labels_never_overwrite_a_reviewers_and_sniffing_names_each_format(tmp_path):
    card = make_card(tmp_path / "card", cams=("cam1",))
    out = tmp_path / "out"
    path = write_csv(tmp_path / "tl.csv", ["File", "RelativePath", "DeleteFlag", "Species", "Count"], [
        ["IMG_0001.JPG", "cam1", "false", "Red fox", "2"],
        ["IMG_0002.JPG", "cam1", "true", "Red fox", "1"],  # marked for deletion
        ["IMG_0003.JPG", "cam1", "false", "", "0"],  # nobody labelled it
    ])
    assert sniff(path) == "timelapse"
    import_file(card, path, out)
    with Journal.open(out) as journal:
        journal.record_human_labels([HumanLabel("cam1/IMG_0001.JPG", LEOPARD, 1, reviewer="Ed",
                                                origin="fiftyone:wildeye-card")])
    summary = import_file(card, path, out)
    assert summary["labels"] == {"written": 0, "replaced": 0, "kept": 1}  # the reviewer replaced the row
    with Journal.open(out, write=False) as journal:
        assert journal.human_labels()["cam1/IMG_0001.JPG"].label == LEOPARD
    assert any("DeleteFlag" in n for n in summary["notes"]) and any("without a label" in n for n in summary["notes"])
    assert read(path).labels[0].count == 2


def test_cli_import_then_report(tmp_path):
    card = make_card(tmp_path / "card", cams=("cam1",))
    md = md_file(tmp_path / "md.json", [{"file": f"cam1/IMG_000{i}.JPG", "detections": [box(0.9)]} for i in (1, 2)])
    proc = run_cli("import", card, md)
    assert proc.returncode == 0, proc.stderr
    assert "2 images of results" in proc.stdout and (card / "wildeye" / "journal.sqlite").is_file()
    assert "1 scanned image(s) have no results" in proc.stderr
    proc = run_cli("report", card, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["animal_frames"] == 2
    summary = json.loads(proc.stdout)
    assert summary["species_events"] == {} and summary["unidentified_events"] == 2  # "animal" is no species


@pytest.mark.slow
def test_review_and_evaluate_in_fiftyone_work_on_an_import(tmp_path, fo_env):
    card = make_card(tmp_path / "card", cams=("cam1",))
    md = md_file(tmp_path / "md.json", [
        {"file": "cam1/IMG_0001.JPG", "detections": [box(0.9, (0.1, 0.1, 0.25, 0.2), classifications=[["1", 0.9]])]},
        {"file": "cam1/IMG_0002.JPG", "detections": [box(0.8, classifications=[["1", 0.85]])]},
        {"file": "cam1/IMG_0003.JPG", "detections": []}],
        classification_categories={"1": "red fox"}, classification_category_descriptions={"1": FOX})
    out = tmp_path / "out"
    import_file(card, md, out)
    coco = {"images": [{"id": i, "file_name": f"cam1/IMG_000{i}.JPG", "width": 400, "height": 300}
                       for i in (1, 2, 3)],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [40, 30, 100, 60]},
                            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [40, 30, 100, 60]},
                            {"id": 3, "image_id": 3, "category_id": 0}],
            "categories": [{"id": 0, "name": "empty"}, {"id": 1, "name": "Vulpes vulpes"},
                           {"id": 2, "name": "badger"}]}
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    import_file(card, tmp_path / "coco.json", out)
    synced = wildeye_json(fo_env, "review", "sync", "--out", out)
    assert synced["samples"] == 3 and synced["detections"] == 2
    metrics = wildeye_json(fo_env, "evaluate", "--out", out)
    assert metrics["samples"] == 3 and metrics["eval_keys"] == ["wildeye_species", "wildeye_boxes"]
    assert metrics["per_class"]["red fox"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert metrics["detection"]["true_positives"] == 1  # the fox box drawn where MegaDetector put it
