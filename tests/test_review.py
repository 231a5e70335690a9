"""The FiftyOne review loop on a real database: sync out, human edits survive re-sync, corrections back in,
evaluation, CLI errors, and the App page rendered in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest_review import CLI, fo_env, fo_script, synthetic_run, wildeye, wildeye_json  # noqa: F401

from wildeye.store.journal import Journal

CHROMIUM = "/usr/bin/chromium"


def test_sync_writes_fields_views_and_annotation_schema(tmp_path, fo_env):
    out = synthetic_run(tmp_path, "sdcard-a", frames=60)
    summary = wildeye_json(fo_env, "review", "sync", "--out", out)
    assert summary["dataset"] == "wildeye-sdcard-a" and summary["created"] and summary["samples"] == 60
    with Journal.open(out, write=False) as journal:
        n_boxes = sum(len(v) for v in journal.detections().values())
        needs_review = sum(p.needs_review for p in journal.decisions().values())
    got = fo_script(fo_env, """
ds = fo.load_dataset("wildeye-sdcard-a")
s = ds.match(F("media_path") == "cam01/DCIM/IMG_000000.JPG").first()
det = s.detections.detections[0]
result = {
    "boxes": ds.count("detections.detections"), "needs_review": ds.count_values("needs_review").get(True, 0),
    "low": ds.count("low_confidence_detections.detections"),
    "label": s.prediction.label, "taxonomy": s.prediction.taxonomy, "source": s.prediction.source,
    "det": [det.label, det.species, det.taxonomy, det.bounding_box],
    "captured_at": type(s.captured_at).__name__, "captured": s.captured_at.isoformat(),
    "point": s.location.point, "models": s.models, "seq": [s.sequence_id, s.frame_num, s.deployment],
    "views": {name: len(ds.load_saved_view(name)) for name in ds.list_saved_views()},
    "group_by": ds.load_saved_view("sequences")._stages[-1].field_or_expr,
    "groups_ordered": [x.frame_num for x in ds.load_saved_view("sequences").get_dynamic_group("cam01-000000")],
    "classes": ds.label_schemas["ground_truth"]["classes"],
    "active": ds.active_label_schemas,
    "read_only": [ds.get_field(f).read_only for f in ("prediction", "detections", "needs_review")],
    "human_empty": ds.count("ground_truth") + ds.count("ground_truth_boxes"),
    "flagship_labels": sorted(set(ds.load_saved_view("flagship").values("prediction.label"))),
    "blank_scores": ds.load_saved_view("low-confidence-blanks").values("prediction.confidence"),
}
""")
    assert got["boxes"] + got["low"] == n_boxes and got["low"] > 0 and got["needs_review"] == needs_review
    assert got["label"] == "snow leopard" and got["taxonomy"].endswith(";panthera;uncia;snow leopard")
    assert got["source"] == "classifier"
    assert got["det"][0] == "animal" and got["det"][1] == "snow leopard" and got["det"][2] == got["taxonomy"]
    assert got["captured_at"] == "datetime" and got["captured"].startswith("2024-05-01T")
    assert got["point"] == [84.0, 28.0]  # GeoJSON order: longitude, latitude
    assert got["models"]["detector"]["name"] == "synthetic-md" and got["models"]["classifier"]["md5"] == "1" * 32
    assert got["seq"] == ["cam01-000000", 0, "cam01"]
    views = got["views"]
    assert set(views) == {"needs-review", "flagship", "low-confidence-blanks", "sequences", "deployment-cam01",
                          "deployment-cam02"}
    assert views["needs-review"] == needs_review and views["deployment-cam01"] == 30
    assert views["sequences"] == 12 and got["group_by"] == "sequence_id" and got["groups_ordered"] == [0, 1, 2, 3, 4]
    assert views["flagship"] > 0 and "snow leopard" in got["flagship_labels"]
    assert views["low-confidence-blanks"] > 0 and all(c < 0.65 for c in got["blank_scores"])
    assert {"snow leopard", "blue sheep", "red fox", "blank", "human"} <= set(got["classes"])
    assert got["active"] == ["ground_truth", "ground_truth_boxes", "reviewed"]
    assert got["read_only"] == [True, True, True] and got["human_empty"] == 0


def test_resync_keeps_human_work_then_pull_and_evaluate(tmp_path, fo_env):
    out = synthetic_run(tmp_path, "sdcard-b", frames=30)
    wildeye_json(fo_env, "review", "sync", "--out", out)
    # A reviewer at work: species, boxes, tags, the reviewed flag, a field of their own.
    fo_script(fo_env, """
ds = fo.load_dataset("wildeye-sdcard-b")
by_path = {s.media_path: s for s in ds}
s = by_path["cam01/DCIM/IMG_000000.JPG"]            # predicted snow leopard: really a blue sheep
s.ground_truth = fo.Classification(label="blue sheep", reviewer="tashi")
s.reviewed = True
s["notes"] = "two animals behind the rock"
s.save()
s = by_path["cam02/DCIM/IMG_000001.JPG"]            # prediction right
s.tags.append("verified"); s.save()
s = by_path["cam01/DCIM/IMG_000002.JPG"]            # wrong, truth unknown
s.tags.append("wrong"); s.save()
s = by_path["cam02/DCIM/IMG_000003.JPG"]            # boxes redrawn
s.ground_truth_boxes = fo.Detections(detections=[
    fo.Detection(label="snow leopard", bounding_box=[0.1, 0.2, 0.3, 0.3], reviewer="pema"),
    fo.Detection(label="snow leopard", bounding_box=[0.6, 0.2, 0.2, 0.3])])
s.save()
""")
    again = wildeye_json(fo_env, "review", "sync", "--out", out)
    assert again["added"] == 0 and again["updated"] == 30 and again["samples"] == 30
    got = fo_script(fo_env, """
ds = fo.load_dataset("wildeye-sdcard-b")
by_path = {s.media_path: s for s in ds}
result = {"n": len(ds), "boxes": ds.count("detections.detections"),
          "gt": [by_path["cam01/DCIM/IMG_000000.JPG"].ground_truth.label,
                 by_path["cam01/DCIM/IMG_000000.JPG"].ground_truth.reviewer],
          "reviewed": by_path["cam01/DCIM/IMG_000000.JPG"].reviewed,
          "notes": by_path["cam01/DCIM/IMG_000000.JPG"].notes,
          "tags": ds.count_sample_tags(), "gt_boxes": ds.count("ground_truth_boxes.detections"),
          "distinct_paths": len(set(ds.values("filepath")))}
""")
    with Journal.open(out, write=False) as journal:
        n_boxes = sum(len(v) for v in journal.detections().values() for d in v if d.conf >= 0.2)
    assert got["n"] == 30 and got["distinct_paths"] == 30 and got["boxes"] == n_boxes  # nothing duplicated
    assert got["gt"] == ["blue sheep", "tashi"] and got["reviewed"] is True
    assert got["notes"] == "two animals behind the rock"
    assert got["tags"] == {"verified": 1, "wrong": 1} and got["gt_boxes"] == 2

    pulled = wildeye_json(fo_env, "review", "pull", "--out", out)
    assert pulled["pulled"] == 4 and pulled["with_boxes"] == 1 and pulled["wrong_unlabelled"] == 1
    with Journal.open(out, write=False) as journal:
        humans = journal.human_labels()
        final = journal.final_labels()
        decisions = journal.decisions()
    sheep = humans["cam01/DCIM/IMG_000000.JPG"]
    assert sheep.label.endswith(";pseudois;nayaur;blue sheep") and sheep.reviewer == "tashi"
    assert sheep.origin == "fiftyone:wildeye-sdcard-b" and sheep.reviewed_at and sheep.verified
    assert humans["cam02/DCIM/IMG_000001.JPG"].label == decisions["cam02/DCIM/IMG_000001.JPG"].label
    assert humans["cam01/DCIM/IMG_000002.JPG"].label == "unknown" and not humans["cam01/DCIM/IMG_000002.JPG"].verified
    boxed = humans["cam02/DCIM/IMG_000003.JPG"]
    assert boxed.count == 2 and boxed.boxes[0]["bbox"] == [0.1, 0.2, 0.3, 0.3] and boxed.reviewer == "pema"
    assert boxed.label.endswith(";snow leopard")
    assert final["cam01/DCIM/IMG_000000.JPG"].source == "human"  # human labels win downstream
    assert wildeye_json(fo_env, "review", "pull", "--out", out)["human_labels_in_journal"] == 4  # no duplicates

    metrics = wildeye_json(fo_env, "evaluate", "--out", out)
    assert metrics["samples"] == 4 and metrics["eval_keys"] == ["wildeye_species", "wildeye_boxes"]
    cm = metrics["confusion_matrix"]
    truth_row = cm["matrix"][cm["labels"].index("blue sheep")]
    assert truth_row[cm["labels"].index("snow leopard")] == 1  # the sheep called a snow leopard
    correct = sum(cm["matrix"][i][i] for i in range(len(cm["labels"])))
    assert metrics["accuracy"] == round(correct / 4, 4)
    sheep_row = metrics["per_class"]["blue sheep"]
    assert sheep_row["support"] == sum(truth_row) and sheep_row["recall"] == round(
        truth_row[cm["labels"].index("blue sheep")] / sum(truth_row), 4) and sheep_row["recall"] < 1.0
    det = metrics["detection"]
    assert det["iou"] == 0.5 and det["images"] == 1
    assert det["true_positives"] + det["false_negatives"] == 2
    stored = fo_script(fo_env, """
ds = fo.load_dataset("wildeye-sdcard-b")
res = ds.load_evaluation_results("wildeye_species")
result = {"keys": ds.list_evaluations(), "fo_accuracy": res.metrics()["accuracy"]}
""")
    assert stored["keys"] == ["wildeye_boxes", "wildeye_species"]
    assert abs(stored["fo_accuracy"] - metrics["accuracy"]) < 1e-3  # FiftyOne agrees with the table

    table = wildeye(fo_env, "evaluate", "--out", out)
    assert table.returncode == 0, table.stderr
    assert "precision" in table.stdout and "blue sheep" in table.stdout and "Confusion matrix" in table.stdout


def test_shown_boxes_rest_on_the_label_and_the_threshold():
    from wildeye.records import BoxDecision, Detection
    from wildeye.review.dataset import shown_box

    named = BoxDecision("a;mammalia;carnivora;felidae;panthera;uncia;snow leopard", 0.9, "classifier")
    blank = BoxDecision("blank", 0.995, "classifier", counted=False)
    animal = BoxDecision("animal", 0.3, "classifier+rollup_to_kingdom", counted=False)
    box = lambda conf, decision=None: Detection("animal", conf, (0.1, 0.1, 0.2, 0.2), [], decision)  # noqa: E731
    assert shown_box(box(0.6), 0.5) and not shown_box(box(0.4), 0.5) and shown_box(box(0.4), 0.3)
    assert shown_box(box(0.5), 0.5)  # at the threshold counts, as in the ensemble
    assert not shown_box(box(0.9, blank), 0.2)  # the classifier called it blank
    assert shown_box(box(0.15, named), 0.2)  # a weak box the label rests on (the ensemble counted it)
    assert not shown_box(box(0.15, animal), 0.2) and shown_box(box(0.25, animal), 0.2)


def test_boxes_split_at_the_runs_detection_threshold(tmp_path, fo_env):
    from wildeye.records import Detection

    out = synthetic_run(tmp_path, "sdcard-t", frames=50, detection_threshold=0.5)
    leopard, empty = "cam01/DCIM/IMG_000000.JPG", "cam01/DCIM/IMG_000040.JPG"
    with Journal.open(out) as journal:  # boxes without decisions, on either side of the run's 0.5
        assert journal.decisions()[empty].label == "blank"
        journal.record_batch(1, {leopard: [Detection("animal", 0.6, (0.1, 0.1, 0.2, 0.2)),
                                           Detection("animal", 0.4, (0.5, 0.5, 0.2, 0.2))],
                                 empty: [Detection("animal", 0.7, (0.1, 0.1, 0.2, 0.2))]}, {})
        faint = sum(1 for v in journal.detections().values() for d in v if d.conf < 0.5 and d.decision is None)
    summary = wildeye_json(fo_env, "review", "sync", "--out", out)
    assert summary["detection_threshold"] == 0.5
    got = fo_script(fo_env, f"""
ds = fo.load_dataset("wildeye-sdcard-t")
s = ds.match(F("media_path") == "{leopard}").first()
blank = ds.match(F("prediction.label") == "blank")
result = {{"shown": [d.confidence for d in s.detections.detections],
          "low": [d.confidence for d in s.low_confidence_detections.detections],
          "blank_frames": len(blank), "blank_shown": blank.count("detections.detections"),
          "blank_low": blank.count("low_confidence_detections.detections"),
          "low_total": ds.count("low_confidence_detections.detections"),
          "read_only": [ds.get_field("low_confidence_detections").read_only,
                        ds.label_schemas["low_confidence_detections"].get("read_only")],
          "instructions": ds.info["review_instructions"]}}
""")
    assert got["shown"] == [0.6] and got["low"] == [0.4]
    assert got["blank_frames"] > 0 and got["blank_shown"] == 0 and got["blank_low"] > 0  # blank: no box by default
    assert got["low_total"] == faint + 1  # the 0.7 box of the frame called blank is there too
    assert got["read_only"] == [True, True] and "below 0.50" in got["instructions"]


def test_pull_withdraws_corrections_cleared_in_the_app_and_audits_them(tmp_path, fo_env):
    from wildeye.store.journal import HumanLabel

    out = synthetic_run(tmp_path, "sdcard-w", frames=10)
    wildeye_json(fo_env, "review", "sync", "--out", out)
    a, b, c, d = (f"cam0{1 + i % 2}/DCIM/IMG_00000{i}.JPG" for i in range(4))
    fo_script(fo_env, f"""
ds = fo.load_dataset("wildeye-sdcard-w")
by_path = {{s.media_path: s for s in ds}}
s = by_path["{a}"]; s.ground_truth = fo.Classification(label="blue sheep", reviewer="tashi"); s.save()
s = by_path["{b}"]; s.tags.append("verified"); s.save()
s = by_path["{c}"]
s.ground_truth_boxes = fo.Detections(detections=[fo.Detection(label="red fox", bounding_box=[0.1, 0.1, 0.2, 0.2])])
s.save()
""")
    with Journal.open(out) as journal:  # a label from elsewhere (an import): a pull never touches it
        journal.record_human_labels([HumanLabel(d, "blank", origin="import:timelapse:labels.csv")])
        machine_a = journal.decisions()[a].label
    first = wildeye_json(fo_env, "review", "pull", "--out", out)
    assert first["pulled"] == 3 and first["withdrawn"] == 0 and first["human_labels_in_journal"] == 4

    fo_script(fo_env, f"""
ds = fo.load_dataset("wildeye-sdcard-w")
by_path = {{s.media_path: s for s in ds}}
s = by_path["{a}"]; s.ground_truth = None; s.save()          # the reviewer clears the species
s = by_path["{b}"]; s.tags.remove("verified"); s.save()      # and takes back a "verified"
""")
    text = wildeye(fo_env, "review", "pull", "--out", out)
    assert text.returncode == 0, text.stderr
    assert "2 corrections withdrawn" in text.stdout and a in text.stdout and b in text.stdout
    with Journal.open(out, write=False) as journal:
        humans, final, withdrawn = journal.human_labels(), journal.final_labels(), journal.withdrawn_labels()
    assert set(humans) == {c, d}  # the cleared ones are gone, the import's label stays
    assert humans[d].origin == "import:timelapse:labels.csv" and humans[d].label == "blank"
    assert final[a].label == machine_a and final[a].source != "human"  # the machine's label applies again
    assert [(w.label.path, w.label.origin) for w in withdrawn] == [(a, "fiftyone:wildeye-sdcard-w"),
                                                                    (b, "fiftyone:wildeye-sdcard-w")]
    assert withdrawn[0].label.label.endswith(";blue sheep") and withdrawn[0].label.reviewer == "tashi"
    assert withdrawn[0].withdrawn_at and "cleared" in withdrawn[0].reason
    again = wildeye_json(fo_env, "review", "pull", "--out", out)
    assert again["withdrawn"] == 0 and again["human_labels_in_journal"] == 2

    # The dataset deleted and synced again: it never held the boxes on c, so it must not withdraw them; they
    # are written back into it, where a reviewer sees them.
    fo_script(fo_env, 'fo.delete_dataset("wildeye-sdcard-w")')
    synced = wildeye(fo_env, "review", "sync", "--out", out)
    assert synced.returncode == 0 and "below the detection threshold 0.20 in low_confidence_detections" in synced.stdout
    remade = wildeye_json(fo_env, "review", "pull", "--out", out)
    assert remade["withdrawn"] == 0 and remade["restored"] == 1 and remade["human_labels_in_journal"] == 2
    got = fo_script(fo_env, f"""
ds = fo.load_dataset("wildeye-sdcard-w")
s = ds.match(F("media_path") == "{c}").first()
result = [d.label for d in s.ground_truth_boxes.detections]
""")
    assert got == ["red fox"]
    with Journal.open(out, write=False) as journal:
        assert journal.human_labels()[c].boxes[0]["bbox"] == [0.1, 0.1, 0.2, 0.2]
        assert len(journal.withdrawn_labels()) == 2


# Stands in for the trainer's evaluate_model (wildeye.train.evaluate): this test checks the hand-off and the table.
STUB_TRAIN = """
import sys, types
import wildeye.cli
module = types.ModuleType("wildeye.train.evaluate")
def evaluate_model(model, data, *, out_dir=None, device="auto"):
    return {"per_class": {"snow leopard": {"precision": 0.96, "recall": 0.9, "f1": 0.929, "support": 50}},
            "accuracy": 0.91, "confusion_matrix": {"labels": ["snow leopard"], "matrix": [[45]]},
            "called_with": [model, data, device]}
module.evaluate_model = evaluate_model
sys.modules.setdefault("wildeye.train", types.ModuleType("wildeye.train"))
sys.modules["wildeye.train.evaluate"] = module
"""


def test_cli_errors_and_model_evaluation(tmp_path, fo_env):
    out = synthetic_run(tmp_path, "sdcard-c", frames=5)
    wildeye_json(fo_env, "review", "sync", "--out", out)
    unknown = wildeye(fo_env, "review", "no-such-dataset", "--remote")
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1
    assert "no-such-dataset" in unknown.stderr and "wildeye-sdcard-c" in unknown.stderr  # names what exists
    pull = wildeye(fo_env, "review", "pull", "--out", out, "--dataset", "nope")
    assert pull.returncode == 2 and "wildeye-sdcard-c" in pull.stderr
    no_labels = wildeye(fo_env, "evaluate", "--out", out)
    assert no_labels.returncode == 2 and "wildeye review pull" in no_labels.stderr
    half = wildeye(fo_env, "evaluate", "model.pt")
    assert half.returncode == 2 and "MODEL and DATA" in half.stderr
    no_run = wildeye(fo_env, "review", "sync", "--out", tmp_path / "empty")
    assert no_run.returncode == 2 and "no run journal" in no_run.stderr
    # MODEL DATA: handed to wildeye.train.evaluate.evaluate_model, printed with the same table code
    code = STUB_TRAIN + CLI.replace("main()", "main(['evaluate', 'my.pt', 'data.yaml', '--device', 'cpu', '--json'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=fo_env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["called_with"] == ["my.pt", "data.yaml", "cpu"]
    code = STUB_TRAIN + CLI.replace("main()", "main(['evaluate', 'my.pt', 'data.yaml'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=fo_env, timeout=60)
    assert proc.returncode == 0 and "snow leopard" in proc.stdout and "0.960" in proc.stdout, proc.stderr


def test_import_wildeye_cli_does_not_import_fiftyone():
    code = ("import sys, wildeye.cli, wildeye.review, wildeye.commands.review; "
            "print(sorted(m for m in ('fiftyone', 'pymongo') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium package")
def test_app_serves_the_dataset_and_chromium_renders_it(tmp_path, fo_env):
    out = synthetic_run(tmp_path, "sdcard-app", frames=12, images=True)
    wildeye_json(fo_env, "review", "sync", "--out", out)
    port = _free_port()
    app = subprocess.Popen([sys.executable, "-c", CLI, "review", "wildeye-sdcard-app", "--remote", "--port", str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=fo_env,
                           start_new_session=True)
    try:
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = app.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "press Ctrl+C" in line:
                break
        text = "".join(lines)
        assert f"http://127.0.0.1:{port}/datasets/wildeye-sdcard-app" in text, text[-3000:]
        assert f"ssh -N -L {port}:127.0.0.1:{port}" in text
        query = {"query": '{ dataset(name: "wildeye-sdcard-app") { name estimatedSampleCount savedViews { name } } }'}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps(query).encode(),
                                         headers={"Content-Type": "application/json"})
        for _ in range(60):
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    answer = json.loads(response.read())
                break
            except OSError:
                time.sleep(0.5)
        dataset = answer["data"]["dataset"]
        assert dataset["estimatedSampleCount"] == 12
        assert "needs-review" in {v["name"] for v in dataset["savedViews"]}

        shot = tmp_path / "app.png"
        flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1400,1000",
                 "--virtual-time-budget=20000"]
        url = f"http://127.0.0.1:{port}/datasets/wildeye-sdcard-app"
        dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
        assert "wildeye-sdcard-app" in dom
        # every sample is a tile ("looker") captioned with its prediction
        assert dom.count('data-cy="looker"') == 12, dom[-2000:]
        captions = set(re.findall(r'title="prediction: ([^"]+)"', dom))
        assert captions and captions <= {"snow leopard", "blue sheep", "red fox", "human", "blank"}
        # a screenshot for people to look at (WILDEYE_KEEP_SCREENSHOT=path keeps it); the DOM checks above are the
        # test: a screenshot's size depends on how far the page got within Chromium's time budget on a busy machine
        subprocess.run([*flags, f"--screenshot={shot}", url], capture_output=True, timeout=120)
        assert shot.exists()
        if os.environ.get("WILDEYE_KEEP_SCREENSHOT"):
            Path(os.environ["WILDEYE_KEEP_SCREENSHOT"]).write_bytes(shot.read_bytes())
    finally:
        app.send_signal(signal.SIGTERM)  # the command stops its App server on SIGTERM
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(app.pid, signal.SIGKILL)
            app.wait()
    assert app.returncode == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)  # the server went with it


def test_classification_metrics_match_a_hand_count():
    """sklearn computes them; the shape (rounded floats, int supports, nested lists) is wildeye's."""
    from wildeye.review.evaluate import classification_metrics

    pairs = [("fox", "fox"), ("fox", "leopard"), ("leopard", "leopard"), ("blank", "fox"), ("fox", "fox")]
    got = classification_metrics(pairs)
    assert got["confusion_matrix"] == {"labels": ["blank", "fox", "leopard"],
                                       "matrix": [[0, 1, 0], [0, 2, 1], [0, 0, 1]]}
    assert got["per_class"]["fox"] == {"precision": round(2 / 3, 4), "recall": round(2 / 3, 4),
                                       "f1": round(2 / 3, 4), "support": 3}
    assert got["per_class"]["blank"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert got["per_class"]["leopard"] == {"precision": 0.5, "recall": 1.0, "f1": round(2 / 3, 4), "support": 1}
    assert got["accuracy"] == 0.6 and got["samples"] == 5
    assert json.dumps(got)  # plain Python types, no numpy scalars
    assert classification_metrics([]) == {"per_class": {}, "accuracy": None,
                                          "confusion_matrix": {"labels": [], "matrix": []}, "samples": 0}


def test_views_and_dataset_do_not_import_each_other():
    import ast

    src = Path(__file__).resolve().parents[1] / "src" / "wildeye" / "review"

    def imported(name):
        tree = ast.parse((src / f"{name}.py").read_text(encoding="utf-8"))
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}

    assert "wildeye.review.dataset" not in imported("views")
    assert "wildeye.review.views" in imported("dataset")  # one way: sync prepares the views
