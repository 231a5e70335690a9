"""Training data from FiftyOne: human-verified labels only, read with the fiftyone API in a throwaway database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, sys
from PIL import Image
from wildeye.review.db import import_fiftyone
fo = import_fiftyone()  # this test's own database, never another session's
from wildeye.train import data as D
from wildeye.train.config import DataSection

root = sys.argv[1]
paths = []
for i in range(5):
    p = f"{root}/f{i}.jpg"
    Image.new("RGB", (32, 24), (10 * i, 0, 0)).save(p)
    paths.append(p)
ds = fo.Dataset("wildeye-train-test")
s = [fo.Sample(filepath=p) for p in paths]
s[0]["ground_truth"] = fo.Classification(label="snow leopard")                      # human label
s[0]["sequence_id"], s[0]["deployment_id"] = "seq-1", "cam-A"
s[1]["ground_truth"] = fo.Classification(label="blue sheep")
s[1]["boxes"] = fo.Detections(detections=[fo.Detection(label="blue sheep", bounding_box=[0.1, 0.2, 0.3, 0.4])])
s[2]["predictions"] = fo.Classification(label="grey wolf")                           # machine, accepted by a reviewer
s[2].tags.append("verified")
s[3]["predictions"] = fo.Classification(label="marmot")                              # machine, nobody looked
ds.add_samples(s)
ds.save_view("humans", ds.exists("ground_truth"))

def read(**kw):
    section = DataSection.model_validate({"sources": [{"type": "fiftyone", "dataset": "wildeye-train-test", **kw}]})
    got = D.collect(section)
    return [[i.label, list(i.bbox) if i.bbox else None, i.sequence, i.deployment] for i in got.items], len(got.skipped)

out = {"default": read(), "boxes": read(label_field="boxes", prediction_field=None), "view": read(view="humans"), "all": read(verified_only=False)}
out["spec"] = [i.label for i in D.collect(D.source_from_spec("fiftyone:wildeye-train-test:humans")).items]
try:
    read(dataset="no-such-dataset")
except Exception as exc:
    out["missing"] = str(exc)
print(json.dumps(out))
"""


@pytest.mark.timeout(240)
def test_fiftyone_source_reads_verified_labels(tmp_path):
    env = {**os.environ, "FIFTYONE_DATABASE_DIR": str(tmp_path / "db"), "FIFTYONE_DO_NOT_TRACK": "true",
           "FIFTYONE_DATABASE_VALIDATION": "false"}
    env.pop("FIFTYONE_DATABASE_URI", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=220)
    if proc.returncode != 0 and "mongod" in proc.stderr.lower():
        pytest.skip(f"no working MongoDB for FiftyOne here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    items, skipped = out["default"]
    assert items == [["snow leopard", None, "seq-1", "cam-A"], ["blue sheep", None, None, None],
                     ["grey wolf", None, None, None]]
    assert skipped == 2  # the unreviewed machine label and the unlabelled sample
    assert out["boxes"][0] == [["blue sheep", [0.1, 0.2, 0.3, 0.4], None, None]]
    assert [i[0] for i in out["view"][0]] == ["snow leopard", "blue sheep"]
    assert "marmot" in [i[0] for i in out["all"][0]]
    assert out["spec"] == ["snow leopard", "blue sheep"]
    assert "no FiftyOne dataset 'no-such-dataset'" in out["missing"]
