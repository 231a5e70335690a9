"""The cron and systemd examples in scripts/nightly/ are valid: schedule, unit files, and wildeye's own options."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NIGHTLY = Path(__file__).resolve().parents[1] / "scripts" / "nightly"


def _wildeye_args(command: str) -> list[str]:
    """The wildeye arguments of a command line, without redirections."""
    words = shlex.split(command.split(">>")[0])
    return words[words.index(next(w for w in words if w.endswith("/wildeye"))) + 1:]


def _parses(args: list[str]) -> None:
    """Click parses the options as the job would pass them (paths replaced by ones that exist)."""
    from wildeye.cli import cli

    args = [str(Path.cwd()) if a.startswith("/data/") else a for a in args]
    ctx = cli.make_context("wildeye", list(args), resilient_parsing=False)
    sub = cli.get_command(ctx, args[0])
    sub.make_context(args[0], args[1:], parent=ctx)


def test_cron_line_schedule_and_options():
    from croniter import croniter

    lines = [line for line in (NIGHTLY / "wildeye.cron").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    assert croniter.is_valid(" ".join(fields[:5]))
    assert croniter(" ".join(fields[:5])).get_next(float) > 0
    _parses(_wildeye_args(fields[5]))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (.ci/run installs it)")
def test_systemd_units_verify(tmp_path):
    wildeye = Path(sys.executable).with_name("wildeye")
    service = (NIGHTLY / "wildeye-nightly.service").read_text()
    service = service.replace("/opt/wildeye/.venv/bin/wildeye", str(wildeye))
    service = service.replace("/opt/wildeye/notify-flagship.sh", str(NIGHTLY / "notify-flagship.sh"))
    service = service.replace("User=wildeye", "User=root").replace("Group=wildeye", "Group=root")
    (tmp_path / "wildeye-nightly.service").write_text(service)
    shutil.copy(NIGHTLY / "wildeye-nightly.timer", tmp_path)
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "wildeye-nightly.service"),
                           str(tmp_path / "wildeye-nightly.timer")], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    exec_line = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    _parses(_wildeye_args(exec_line.removeprefix("ExecStart=")))


def test_notify_hook_example_runs(tmp_path):
    script = NIGHTLY / "notify-flagship.sh"
    assert subprocess.run(["sh", "-n", str(script)]).returncode == 0
    env = {**os.environ, "WILDEYE_SPECIES": "snow leopard", "WILDEYE_DEPLOYMENT": "ridge-03",
           "WILDEYE_START": "2024-05-01T10:00:00+05:45", "WILDEYE_FRAMES": "3", "WILDEYE_SCORE": "0.97",
           "WILDEYE_ALERT_LOG": str(tmp_path / "alerts.log")}
    assert subprocess.run([str(script)], env=env, input="{}", text=True).returncode == 0
    line = (tmp_path / "alerts.log").read_text()
    assert "snow leopard at ridge-03 2024-05-01T10:00:00+05:45 (3 frames, score 0.97)" in line
