"""Kill `wildeye run` at random moments while its decode workers are busy, and check the next run recovers.

    python scripts/fault_inject.py --trials 100 --detector ../shared/reference/megadetector/yolov5n-3class-640.pt

Each trial:
  1. starts `wildeye run CARD --workers 2` (fresh output folder, a generated card of large JPEGs);
  2. once its DataLoader workers are alive, waits a random moment and sends SIGKILL, SIGTERM or SIGHUP;
  3. at once starts the same command with `--wait`: it must get the journal within seconds (no orphan holds the
     lock) and finish; the killed run's workers must be gone;
  4. checks the journal: every frame done exactly once, no duplicate box rows, no run left `running`, and the
     MegaDetector JSON equal to a clean run's.
Prints the counts and exits 1 if any trial failed. A tool for people, not a timed test (tests/test_faults.py runs
three trials).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM, "HUP": signal.SIGHUP}


def make_card(folder: Path, frames: int, size: tuple[int, int], seed: int = 0) -> None:
    """Noise JPEGs with EXIF capture times two seconds apart (decoding them is real work)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    start = datetime(2024, 5, 1, 6, 0, 0)
    folder.mkdir(parents=True, exist_ok=True)
    base = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    for i in range(frames):
        small = np.clip(base.astype(int) + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)
        image = Image.fromarray(small).resize(size)
        exif = Image.Exif()
        exif[0x8769] = {0x9003: (start + timedelta(seconds=2 * i)).strftime("%Y:%m:%d %H:%M:%S")}
        image.save(folder / f"IMG_{i:04d}.JPG", quality=90, exif=exif)


def children(pid: int) -> list[int]:
    """Live child processes of pid (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def run_args(card: Path, out: Path, detector: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "wildeye", "run", str(card), "--out", str(out), "--detector", str(detector),
            "--classifier", "none", "--no-fiftyone", "--workers", "2", "--batch-size", "2", "-q", *extra]


def check_journal(out: Path, frames: int) -> list[str]:
    problems = []
    con = sqlite3.connect(out / "journal.sqlite")
    try:
        done = con.execute("SELECT COUNT(*) FROM media WHERE status='done'").fetchone()[0]
        if done != frames:
            problems.append(f"{done} of {frames} frames done")
        for path, count, top in con.execute("SELECT path, COUNT(*), MAX(idx) FROM detections GROUP BY path"):
            if count != top + 1:
                problems.append(f"{path}: {count} box rows for {top + 1} boxes")
        running = con.execute("SELECT COUNT(*) FROM runs WHERE status='running'").fetchone()[0]
        if running:
            problems.append(f"{running} run(s) still marked running")
    finally:
        con.close()
    return problems


def trial(number: int, rng: random.Random, card: Path, work: Path, detector: Path, frames: int,
          reference: list, wait_limit: float) -> dict:
    out = work / f"out-{number}"
    name = rng.choice(list(SIGNALS))
    proc = subprocess.Popen(run_args(card, out, detector), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None:
        workers = [pid for pid in children(proc.pid) if pid != proc.pid]
        if len(workers) >= 2:
            break
        time.sleep(0.05)
    result = {"trial": number, "signal": name, "workers_seen": len(workers), "problems": []}
    if proc.poll() is None:
        time.sleep(rng.uniform(0.0, 2.5))  # somewhere in the decoding/detecting
    killed_wall = time.time()
    killed = proc.poll() is None
    if killed:
        proc.send_signal(SIGNALS[name])
    result["killed"] = killed
    # The next run, at once, queued behind whatever might still hold the journal.
    started = time.monotonic()
    nxt = subprocess.run(run_args(card, out, detector, "--wait", "--json"), capture_output=True, text=True,
                         timeout=wait_limit)
    result["next_run_s"] = round(time.monotonic() - started, 2)
    proc.wait(timeout=60)
    result["killed_exit"] = proc.returncode
    if nxt.returncode not in (0, 1):
        result["problems"].append(f"next run exited {nxt.returncode}: {nxt.stderr.strip()[-300:]}")
    else:
        try:
            summary = json.loads(nxt.stdout)
            log = [json.loads(line) for line in Path(summary["log"]).read_text().splitlines()]
            first = datetime.fromisoformat(log[0]["time"]).timestamp()
            result["started_after_kill_s"] = round(first - killed_wall, 2)  # lock taken, card scanned, model loaded
        except (ValueError, KeyError, OSError, IndexError) as exc:
            result["problems"].append(f"next run's summary or log unreadable ({exc}): {nxt.stderr.strip()[-300:]}")
    time.sleep(0.5)
    orphans = [pid for pid in workers if alive(pid)]
    if killed and orphans:
        result["problems"].append(f"orphan workers still alive: {orphans}")
        for pid in orphans:
            os.kill(pid, signal.SIGKILL)
    try:
        result["problems"] += check_journal(out, frames)
        images = json.loads((out / "megadetector.json").read_text())["images"]
        if images != reference:
            result["problems"].append("megadetector.json differs from a clean run's")
    except (OSError, ValueError, sqlite3.Error) as exc:
        result["problems"].append(f"results unreadable: {exc}")
    shutil.rmtree(out, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--detector", type=Path, required=True, help="a MegaDetector-format checkpoint")
    parser.add_argument("--frames", type=int, default=24, help="frames on the generated card")
    parser.add_argument("--size", default="4000x3000", help="frame size, WxH")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--wait-limit", type=float, default=300.0, help="seconds the next run may take")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", action="store_true", help="print every trial as JSON")
    args = parser.parse_args(argv)
    if not args.detector.is_file():
        print(f"fault_inject: error: detector {args.detector} not found", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="wildeye-faults-"))
    card = work / "card"
    size = tuple(int(v) for v in args.size.lower().split("x"))
    make_card(card, args.frames, size, args.seed)
    clean = subprocess.run(run_args(card, work / "clean", args.detector), capture_output=True, text=True)
    if clean.returncode != 0:
        print(f"fault_inject: error: the clean run failed: {clean.stderr[-500:]}", file=sys.stderr)
        return 2
    reference = json.loads((work / "clean" / "megadetector.json").read_text())["images"]
    rng = random.Random(args.seed)
    results = []
    for number in range(1, args.trials + 1):
        result = trial(number, rng, card, work, args.detector, args.frames, reference, args.wait_limit)
        results.append(result)
        if args.json:
            print(json.dumps(result), flush=True)
        elif result["problems"]:
            print(f"trial {number} ({result['signal']}): " + "; ".join(result["problems"]), flush=True)
    failed = [r for r in results if r["problems"]]
    killed = [r for r in results if r["killed"]]
    by_signal = {name: sum(r["signal"] == name and r["killed"] for r in results) for name in SIGNALS}
    with_workers = sum(r["killed"] and r["workers_seen"] >= 2 for r in results)
    lock_delays = sorted(r["started_after_kill_s"] for r in results if "started_after_kill_s" in r)
    print(f"trials {len(results)}: killed {len(killed)} ({', '.join(f'{k} {v}' for k, v in by_signal.items())}), "
          f"{with_workers} with decode workers alive; failed {len(failed)}")
    if lock_delays:
        print(f"next run (--wait) started work {lock_delays[len(lock_delays) // 2]:.2f} s after the kill (median), "
              f"{lock_delays[-1]:.2f} s at most; every frame done exactly once: "
              f"{'yes' if not failed else 'NO'}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
