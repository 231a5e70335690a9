#!/usr/bin/env bash
# The GPU check for `decode: device` (issue 16, item 3); the figures come from scripts/gpu_check.py.
#
#   bash scripts/gpu_check.sh prepare [IMAGE_MIB]  # here, beside ../shared, with PyPI reachable: writes .gpucheck/
#                                                  # (frames up to IMAGE_MIB, default 45; weights; MegaDetector's
#                                                  # output; wheels the GPU machine lacks)
#   bash scripts/gpu_check.sh run [ARGS]           # on the GPU machine, .gpucheck carried: installs the wheels into
#                                                  # /tmp/site, runs scripts/gpu_check.py ARGS (e.g. --out "$OUT")
#
# The device tool's call:  run(command="bash scripts/gpu_check.sh run --out $OUT", carry=[".gpucheck"],
#                              timeout_s=540)
# .gpucheck/ is git-ignored; with the repository it stays under the tool's 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.gpucheck
PY=${PYTHON:-python3}

case "${1:-}" in
prepare)
    budget=${2:-45}
    SHARED=${SHARED:-../shared}
    [ -d "$SHARED/data/camera-traps/images" ] || { echo "gpu_check.sh: $SHARED/data/camera-traps/images not found" >&2; exit 2; }
    rm -rf "$DEST"
    mkdir -p "$DEST/images" "$DEST/reference" "$DEST/whl"
    "$PY" - "$SHARED" "$DEST" "$budget" <<'PYEOF'
import json, os, shutil, sys
from pathlib import Path
shared, dest, budget = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]) * 2**20
ref = shared / "reference" / "megadetector"
for name in ("megadetector-output-640.json", "megadetector-output-1280.json", "yolov5n-3class-640.pt",
             "yolov5n-3class.pt"):
    shutil.copy(ref / name, dest / "reference" / name)
images = shared / "data" / "camera-traps" / "images"
names = [e["file"] for e in json.loads((ref / "megadetector-output-1280.json").read_text())["images"]]
awkward = [n for n in names if any(k in n for k in ("truncated", "cmyk", "_bw", "exif_orientation"))]
chosen, total = [], 0
for name in awkward + sorted(set(names) - set(awkward), key=lambda n: (images / n).stat().st_size):
    size = (images / name).stat().st_size
    if total + size > budget:
        continue
    total += size
    chosen.append(name)
    (dest / "images" / name).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(images / name, dest / "images" / name)
print(f"{len(chosen)}/{len(names)} frames, {total / 2**20:.1f} MiB")
PYEOF
    # What the GPU machine's Python 3.12 lacks (its image has torch, torchvision, cv2, PIL, click, yaml, timm, onnx).
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$DEST/whl" \
        pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
        typing-extensions==4.16.0 tzdata platformdirs onnx2torch==1.5.15
    du -sh "$DEST"
    ;;
run)
    shift
    [ -d "$DEST/images" ] || { echo "gpu_check.sh: $DEST not found: run 'prepare' here and carry $DEST" >&2; exit 2; }
    if ls "$DEST"/whl/*.whl >/dev/null 2>&1; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
            "$DEST"/whl/*.whl
        export PYTHONPATH=/tmp/site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}
    else
        export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
    fi
    export PYTHONUNBUFFERED=1
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
    exec "$PY" scripts/gpu_check.py --data "$DEST" "$@"
    ;;
*)
    echo "usage: bash scripts/gpu_check.sh prepare [IMAGE_MIB] | run [gpu_check.py arguments]" >&2
    exit 2
    ;;
esac
