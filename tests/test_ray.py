"""`wildeye run --ray`: the Ray engine on a real local Ray cluster (2 CPUs, started once for the module) with real
(tiny, random-weight) models: results equal the local engine's, kill -9 of the driver then rerun loses and
duplicates nothing, an actor killed mid-run is replaced and the run completes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from clihelp import kill_9_when
from imagegen import write_frame

ray = pytest.importorskip("ray", reason="the Ray engine needs the ray extra: pip install -e '.[ray]'")

T0 = datetime(2024, 5, 1, 10, 0, 0)
DETECTIONS = "SELECT path, idx, category, conf, x, y, w, h, classifications FROM detections ORDER BY path, idx"
DECISIONS = "SELECT path, label, score, source, needs_review FROM decisions ORDER BY path"
MEDIA = "SELECT path, status, failure FROM media ORDER BY path"


@pytest.fixture(scope="module")
def cluster(_fiftyone_dir):
    """One local Ray cluster for the module (Ray's start-up is the slow part): 2 CPUs on 127.0.0.1, its files in a
    short temp dir (Ray's socket paths must stay under 107 bytes); this process is connected as a driver, and a
    `wildeye run --ray ADDRESS` subprocess joins it as another. Its actors get the tests' model cache (conftest)."""
    temp = tempfile.mkdtemp(prefix="wray", dir="/tmp")
    saved = os.environ.get("WILDEYE_CACHE_DIR")
    os.environ.setdefault("WILDEYE_CACHE_DIR", str(_fiftyone_dir.parent / "wildeye-cache"))  # as conftest's
    context = ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, _temp_dir=temp,
                       _node_ip_address="127.0.0.1", logging_level="WARNING", log_to_driver=False)
    try:
        yield context.address_info["gcs_address"]
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
        if saved is None:
            os.environ.pop("WILDEYE_CACHE_DIR", None)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from speciesnet_fixture import make_tiny_model, write_speciesnet_folder
    from yolo_fixtures import write_always_animal

    root = tmp_path_factory.mktemp("models")
    return (write_always_animal(root / "tiny_md.pt", image_size=320),
            write_speciesnet_folder(root / "speciesnet", make_tiny_model()))


def make_card(root: Path, frames: int) -> Path:
    """Small noisy frames 40 s apart (sequences of two) and one header-only JPEG (a recorded failure)."""
    for i in range(frames):
        write_frame(root / "cam1" / f"IMG_{i:04d}.JPG", T0 + timedelta(seconds=40 * i), size=(320, 240), seed=i)
    good = (root / "cam1" / "IMG_0000.JPG").read_bytes()
    (root / "cam1" / "IMG_9997.JPG").write_bytes(good[: good.index(b"\xff\xda")])  # header only: fails to decode
    return root


def run_config(models, engine: str = "local", classifier: bool = True, **overrides):
    from wildeye.config import load_run_config

    detector, speciesnet = models
    return load_run_config(None, {"detector.name": str(detector), "classifier.name": str(speciesnet) if classifier
                                  else None, "workers": 0, "after_run.fiftyone": False, "engine": engine,
                                  "detector.batch_size": 2, "classifier.max_crops_per_image": 1,
                                  # eager PyTorch: no ONNX Runtime session to build in every new actor (~3 s)
                                  "detector.precision": "fp32", "classifier.precision": "fp32", **overrides})


def run_here(source: Path, out: Path, config, **kw):
    from wildeye.app.run import run

    return run(source, out, config, **kw)


def journal_rows(out: Path, query: str) -> list:
    with sqlite3.connect(out / "journal.sqlite") as con:
        return con.execute(query).fetchall()


@pytest.fixture(scope="module")
def one_thread():
    """Each actor runs its models with one intra-op thread (Ray's OMP_NUM_THREADS for a 1-CPU actor); ONNX
    Runtime's sums, and so the last bits of a score, depend on the thread count: the local reference uses one too."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


FRAMES = 10  # and one that cannot be decoded


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    return make_card(tmp_path_factory.mktemp("card"), FRAMES)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, card, models, one_thread):
    """The local engine's journal for the card: what every Ray run must equal, frame by frame."""
    out = tmp_path_factory.mktemp("local")
    outcome = run_here(card, out, run_config(models))
    assert outcome.summary["processed"] == FRAMES and outcome.summary["failed"] == 1
    return out


def same_results(out: Path, reference: Path) -> None:
    for query in (MEDIA, DETECTIONS, DECISIONS):  # frame by frame: status, failure reason, boxes, scores, labels
        assert journal_rows(out, query) == journal_rows(reference, query), query
    assert [row for row in journal_rows(out, DETECTIONS) if row[-1]]  # the classifier stage ran
    assert (json.loads((out / "megadetector.json").read_text())["images"]
            == json.loads((reference / "megadetector.json").read_text())["images"])


def test_kill_9_of_the_driver_then_rerun_equals_the_local_run(tmp_path, models, cluster, card, reference):
    """The driver (`wildeye run --ray`, the one journal writer) killed mid-run; the rerun sends only what is
    pending; the journal ends equal to the local engine's: nothing lost, nothing twice."""
    out = tmp_path / "out"
    (tmp_path / "run.yaml").write_text("classifier:\n  max_crops_per_image: 1\n")  # as run_config: fewer crops
    args = ["run", str(card), "--out", str(out), "--detector", str(models[0]),
            "--classifier", str(models[1]), "--config", str(tmp_path / "run.yaml"), "--no-fiftyone",
            "--batch-size", "1", "--precision", "fp32", "--ray", cluster, "-q"]
    done_at_kill = kill_9_when(args, out / "journal.sqlite", "SELECT COUNT(*) FROM media WHERE status='done'", 2)
    assert 2 <= done_at_kill < FRAMES

    # rerun on the cluster (the dead driver's actors are gone: the rerun gets the CPUs)
    seen = []
    resumed = run_here(card, out, run_config(models, "ray", ray_address=cluster), on_cluster=seen.append)
    done_first = len(journal_rows(out, "SELECT path FROM media WHERE run_id=1"))
    assert done_first >= done_at_kill  # nothing recorded before the kill was redone …
    assert resumed.summary["frames_this_run"] == FRAMES + 1 - done_first  # … only the rest was sent
    assert journal_rows(out, "SELECT run_id, status FROM runs ORDER BY run_id") == [(1, "interrupted"),
                                                                                    (2, "finished")]
    rows = journal_rows(out, "SELECT path, COUNT(*), MAX(idx) FROM detections GROUP BY path")
    assert rows and all(count == top + 1 for _, count, top in rows)  # no duplicated boxes
    same_results(out, reference)
    assert seen and seen[0]["cpus"] == 2 and (seen[0]["detect_actors"], seen[0]["classify_actors"]) == (1, 1)
    assert sum(resumed.summary["ray"]["frames_per_worker"].values()) == FRAMES + 1 - done_first
    times = resumed.times  # per-stage figures as locally: the actors' decode/detect/classify, the driver's journal
    assert times["detect"] > 0 and times["classify"] > 0 and times["decode"] > 0 and times["journal"] > 0


def _actor_pids(stage: str) -> list[int]:
    """Processes of this machine's Ray actors for a stage (Ray titles them `ray::MapWorker(MapBatches(Stage))`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"MapBatches({stage})" in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_an_actor_killed_mid_run_is_replaced_and_the_run_completes(tmp_path, models, cluster, card, reference):
    killed = []

    def kill_an_actor(done: int, total: int) -> None:  # at the first batch recorded: the actors hold the rest
        if not killed:
            pids = _actor_pids("DetectStage")
            assert pids, "no detector actor process found"
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    config = run_config(models, "ray", ray_address=cluster, **{"detector.batch_size": 1})
    result = run_here(card, tmp_path / "ray", config, on_progress=kill_an_actor)
    assert killed and not Path(f"/proc/{killed[0]}").exists()
    assert result.summary["processed"] == FRAMES and result.summary["failed"] == 1 and result.summary["pending"] == 0
    assert sum(result.summary["ray"]["frames_per_worker"].values()) == FRAMES + 1
    same_results(tmp_path / "ray", reference)


def test_ray_settings_and_missing_ray_fail_in_one_line(monkeypatch):
    from wildeye.config import load_run_config
    from wildeye.errors import ConfigError
    from wildeye.inference import ray_engine

    assert load_run_config(None, {"engine": "ray", "ray_address": "ray://head:10001"}).ray_address == "ray://head:10001"
    for bad in ({"ray_address": "head"}, {"engine": "ray", "decode": "device"}):
        with pytest.raises(ConfigError):
            load_run_config(None, bad)
    with pytest.raises(ConfigError, match="could not connect to the Ray cluster at 127.0.0.1:1"):
        ray_engine.connect("127.0.0.1:1")  # at once, not after Ray's minutes of retrying
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"wildeye\[ray\]"):
        ray_engine._ray()
    assert ray_engine.actor_plan({"CPU": 16.0}, None, True) == {
        "cpus": 16, "gpus": 0, "detect_actors": 14, "classify_actors": 2, "num_cpus": 1.0, "num_gpus": 0}
    plan = ray_engine.actor_plan({"CPU": 8.0, "GPU": 2.0}, None, True)
    assert (plan["detect_actors"], plan["classify_actors"], plan["num_gpus"]) == (2, 2, 0.5)
