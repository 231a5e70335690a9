"""wildeye's ensemble against SpeciesNet 5.0.6's own combiner: 5,000 cases it answered (../shared/reference)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CASES = REPO.parent / "shared" / "reference" / "speciesnet"


@pytest.fixture
def cases_dir() -> Path:
    if not (CASES / "cases.jsonl").is_file():
        pytest.skip(f"SpeciesNet's reference cases not found at {CASES} (../shared is absent)")
    return CASES


def test_every_case_agrees_with_speciesnet(cases_dir):
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "speciesnet_parity.py"), str(cases_dir)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all: 5000/5000 = 100.00%" in result.stdout
    assert "final: 5000/5000 = 100.00%" in result.stdout
    # every rule family SpeciesNet used in the cases was exercised
    for rule in ("detector", "classifier", "classifier+rollup_to_genus", "classifier+rollup_to_kingdom",
                 "classifier+geofence+rollup_to_order"):
        assert f"{rule} " in result.stdout


def test_the_script_exits_non_zero_below_100_percent(cases_dir, tmp_path):
    """A case whose recorded answer is not SpeciesNet's is reported and fails the run."""
    for name in ("taxonomy_release.txt", "geofence_release.json"):
        (tmp_path / name).write_text((cases_dir / name).read_text())
    lines = (cases_dir / "cases.jsonl").read_text().splitlines()[:20]
    lines[3] = lines[3].replace('"source": "', '"source": "tampered+', 1)
    (tmp_path / "cases.jsonl").write_text("\n".join(lines) + "\n")
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "speciesnet_parity.py"), str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "all: 19/20 = 95.00%" in result.stdout and "line 4:" in result.stdout
    missing = subprocess.run([sys.executable, str(REPO / "scripts" / "speciesnet_parity.py"), str(tmp_path / "no")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "lacks cases.jsonl" in missing.stderr
