"""Review planning on journals built through the Journal API: least confident first without reviews, labels that
reviewers keep correcting move up, rare and flagship species weigh more, and a FiftyOne saved view in plan order."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest_review import fo_env, fo_script, wildeye  # noqa: F401

from wildeye.ingest.manifest import MediaFile
from wildeye.records import BoxDecision, Detection, Prediction
from wildeye.review.plan import PlanConfig, plan_run
from wildeye.store.journal import HumanLabel, Journal

FOX = "a1;mammalia;carnivora;canidae;vulpes;vulpes;red fox"
SHEEP = "a2;mammalia;artiodactyla;bovidae;pseudois;nayaur;blue sheep"
ENV = {**os.environ, "FIFTYONE_DO_NOT_TRACK": "true", "COLUMNS": "140"}
LEOPARD = "b2;mammalia;carnivora;felidae;panthera;uncia;snow leopard"


def make_run(root: Path, frames: list[tuple[str, str, float]], flagship=()) -> Path:
    """frames: (path, label, confidence), each its own sequence."""
    out = root / "run"
    out.mkdir(parents=True)
    files, done, decisions = [], {}, {}
    for i, (path, label, score) in enumerate(frames):
        stamp = f"2024-05-01T{i // 60:02d}:{i % 60:02d}:00+05:45"
        files.append(MediaFile(path=path, kind="image", size=1, mtime=stamp, content_hash=path, width=64, height=48,
                               timestamp=stamp, deployment_id="A", sequence_id=f"A-{i}", frame_num=0,
                               seq_num_frames=1))
        if label == "blank":
            done[path], decisions[path] = [], (Prediction("blank", score, "detector"), [])
        else:
            done[path] = [Detection("animal", 0.9, (0.1, 0.2, 0.3, 0.4), [(label, score)])]
            decisions[path] = (Prediction(label, score, "classifier"), [BoxDecision(label, score, "classifier")])
    with Journal.open(out) as journal:
        journal.set_meta("source", str(root / "card"))
        journal.add_media(files)
        run_id = journal.start_run({"ensemble": {"flagship_species": list(flagship)}}, {"detector": {"name": "md"}})
        journal.record_batch(run_id, done, {})
        journal.write_decisions(decisions)
        journal.finish_run(run_id, "finished", {})
    return out


def survey() -> list[tuple[str, str, float]]:
    """20 foxes and 20 sheep, confidences spread 0.55-0.97 and interleaved; a few blanks."""
    frames = []
    for i in range(20):
        frames.append((f"A/fox_{i:02d}.JPG", FOX, round(0.55 + 0.021 * i, 3)))
        frames.append((f"A/sheep_{i:02d}.JPG", SHEEP, round(0.56 + 0.021 * i, 3)))
    frames += [(f"A/blank_{i}.JPG", "blank", 0.6 + 0.1 * i) for i in range(4)]
    return frames


def test_without_reviews_least_confident_comes_first(tmp_path):
    out = make_run(tmp_path, survey())
    plan = plan_run(out)
    assert plan.reviewed == 0 and plan.candidates == 44 and plan.error_rates == []
    confidences = [i.confidence for i in plan.items]
    assert confidences == sorted(confidences)
    assert [i.rank for i in plan.items] == list(range(1, 45))
    first = plan.items[0]
    assert first.path == "A/fox_00.JPG" and first.label == "red fox" and first.p_wrong == pytest.approx(0.45)
    assert all(i.p_wrong == pytest.approx(1 - i.confidence, abs=1e-4) for i in plan.items)


def test_labels_reviewers_keep_correcting_move_up(tmp_path):
    out = make_run(tmp_path, survey())
    with Journal.open(out) as journal:
        # reviewers looked at the 6 most confident foxes and sheep: every fox was a dog, every sheep was right
        journal.record_human_labels([HumanLabel(f"A/fox_{i:02d}.JPG", "domestic dog") for i in range(14, 20)]
                                    + [HumanLabel(f"A/sheep_{i:02d}.JPG", "Blue sheep") for i in range(14, 20)])
    plan = plan_run(out)
    assert plan.reviewed == 12 and plan.candidates == 32
    by_path = {i.path: i for i in plan.items}
    assert all(not p.startswith(("A/fox_1", "A/sheep_1")) or int(p[-6:-4]) < 14 for p in by_path)  # reviewed: done
    # every unreviewed fox now comes before every sheep, the most confident fox included
    labels = [i.label for i in plan.items if i.label != "blank"]
    assert labels == ["red fox"] * 14 + ["blue sheep"] * 14
    # hand-computed, prior strength 4: fox_13 (0.823) shares bin 0.80-0.90 with fox_14-16 (0.844-0.886, 3 of 3
    # wrong); the label's rate is (6 + 4 x 0.177) / (6 + 4) = 0.6708, the bin's (3 + 4 x 0.6708) / (3 + 4) = 0.8119
    assert by_path["A/fox_13.JPG"].p_wrong == pytest.approx((3 + 4 * (6 + 4 * (1 - 0.823)) / 10) / 7, abs=1e-4)
    # sheep_13 (0.833): 6 of 6 right, 3 in its bin -> (0 + 4 x (0 + 4 x 0.167) / 10) / 7 = 0.0382 (baseline 0.167)
    assert by_path["A/sheep_13.JPG"].p_wrong == pytest.approx(4 * (4 * (1 - 0.833) / 10) / 7, abs=1e-4)
    assert "reviewers changed 6 of 6 'red fox' decisions" in by_path["A/fox_13.JPG"].why[1]
    rates = {(r.label, r.bin): (r.reviewed, r.wrong) for r in plan.error_rates}
    assert rates[("red fox", "confidence 0.90-0.95")][1] == rates[("red fox", "confidence 0.90-0.95")][0] > 0
    assert all(wrong == 0 for (label, _), (_, wrong) in rates.items() if label == "blue sheep")


def test_rare_and_flagship_species_weigh_more(tmp_path):
    frames = survey() + [("A/leopard.JPG", LEOPARD, 0.9)]
    out = make_run(tmp_path, frames, flagship=["snow leopard"])
    plan = plan_run(out)
    leopard = next(i for i in plan.items if i.label == "snow leopard")
    assert leopard.weight == 4.0 and leopard.priority == pytest.approx(0.4)  # 0.1 x rare 2 x flagship 2
    assert leopard.why == ["confidence 0.90", "rare: 'snow leopard' in 1 sequence", "flagship species"]
    assert all(i.rank > leopard.rank for i in plan.items if i.confidence > 0.6 and i is not leopard)  # p < 0.4
    assert leopard.rank < 10  # without its weight it would be 43rd of 45
    plain = plan_run(out, PlanConfig(rare_weight=1, flagship_weight=1, flagship_species=["nothing"]))
    assert next(i for i in plain.items if i.label == "snow leopard").priority == pytest.approx(0.1)
    with pytest.raises(ValueError):
        PlanConfig(bins=[0.9, 0.5])


def test_cli_json_and_bad_arguments(tmp_path):
    out = make_run(tmp_path, survey())
    proc = wildeye(ENV, "plan", out, "--no-view", "--json", "--limit", "3")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [i["path"] for i in doc["items"]] == ["A/fox_00.JPG", "A/sheep_00.JPG", "A/fox_01.JPG"]
    assert doc["planned"] == 3 and doc["candidates"] == 44 and doc["saved_view"] is None
    table = wildeye(ENV, "plan", out, "--no-view", "--limit", "2")
    assert table.returncode == 0 and "A/sheep_00.JPG" in table.stdout and "least confident first" in table.stdout
    for bad, word in ((("--limit", "0"), "--limit"), (("--prior-strength", "-1"), "--prior-strength")):
        proc = wildeye(ENV, "plan", out, *bad)
        assert proc.returncode == 2, (bad, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and word in proc.stderr and "Traceback" not in proc.stderr
    empty = wildeye(ENV, "plan", tmp_path / "card-missing")
    assert empty.returncode == 2 and "Traceback" not in empty.stderr


def test_saved_view_follows_the_plan(tmp_path, fo_env):
    out = make_run(tmp_path, survey())
    with Journal.open(out) as journal:
        journal.record_human_labels([HumanLabel(f"A/fox_{i:02d}.JPG", "domestic dog") for i in range(14, 20)])
    proc = wildeye(fo_env, "plan", out, "--json", "--limit", "10")
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert doc["saved_view"] == {"dataset": "wildeye-card", "view": "review-plan", "samples": 10}
    planned = [str(tmp_path / "card" / i["path"]) for i in doc["items"]]
    assert all("fox" in p for p in planned)  # the label reviewers corrected comes first
    got = fo_script(fo_env, "ds = fo.load_dataset('wildeye-card')\n"
                            "view = ds.load_saved_view('review-plan')\n"
                            "result = {'paths': view.values('filepath'), 'views': ds.list_saved_views()}")
    assert got["paths"] == planned and "review-plan" in got["views"]
