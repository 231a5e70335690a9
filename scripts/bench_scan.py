"""Benchmark `wildeye scan`: files/s on the real frames in ../shared and on a generated 20,000-file card tree.

    python scripts/bench_scan.py [--files 20000] [--workers 8]

Prints one line per measurement. The generated tree mimics card dumps: 10 cards, DCIM/100MEDIA folders, 3-frame bursts.
Real frames are 12-20 MP, so their line shows what a card of full-size JPEGs costs (header + 128 KiB per file).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image

from wildeye.ingest.manifest import ScanSettings
from wildeye.ingest.scan import scan, summarize

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "camera-traps"


def generate_tree(root: Path, n_files: int, cards: int = 10) -> None:
    base = Image.effect_noise((160, 120), 50).convert("RGB")
    t0 = datetime(2024, 5, 1)
    for i in range(n_files):
        card, index = i % cards, i // cards
        when = t0 + timedelta(minutes=10 * (index // 3), seconds=index % 3)
        exif = Image.Exif()
        exif[0x010F], exif[0x0110] = "RECONYX", "HC600"
        exif.get_ifd(0x8769)[0xA431] = f"SN{card:04d}"  # one camera per card: no accidental duplicates
        exif.get_ifd(0x8769)[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
        buf = io.BytesIO()
        base.save(buf, "JPEG", exif=exif, quality=80 + (i % 7))
        folder = root / f"card{card:02d}" / "DCIM" / f"{100 + index // 9999}MEDIA"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"IMG_{index % 9999 + 1:04d}.JPG").write_bytes(buf.getvalue())


def measure(label: str, source: Path, settings: ScanSettings, repeat: int = 3) -> None:
    best = None
    for _ in range(repeat):
        started = time.perf_counter()
        manifest = scan(source, settings)
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    s = summarize(manifest)
    rate = s["files"] / best
    print(f"{label}: {s['files']} files, {s['sequences']} sequences, {s['duplicates']} duplicates, {s['failed']} failed in {best:.2f} s "
          f"= {rate:,.0f} files/s (best of {repeat}); 8,000-frame card ≈ {8000 / rate:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    settings = ScanSettings(workers=args.workers)
    print(f"cpu cores: {os.cpu_count()}, workers: {args.workers}")
    if SHARED.is_dir():
        measure("shared real frames (12-20 MP)", SHARED, settings)
        measure("shared real frames, --full-hash", SHARED, ScanSettings(workers=args.workers, full_hash=True))
    else:
        print(f"skipping real frames: {SHARED} not found")
    root = Path(tempfile.mkdtemp(prefix="wildeye-bench-"))
    try:
        started = time.perf_counter()
        generate_tree(root, args.files)
        print(f"generated {args.files} files in {time.perf_counter() - started:.1f} s")
        measure(f"generated tree ({args.files} files)", root, settings, repeat=2)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
