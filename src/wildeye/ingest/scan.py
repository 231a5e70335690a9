"""`wildeye scan`: walk a card dump, probe every file, assign deployments and sequences, write the manifest."""

from __future__ import annotations

import filecmp
import time
import warnings
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from wildeye import __version__
from wildeye.errors import ConfigError
from wildeye.ingest import capturetime
from wildeye.ingest import deployments as dep
from wildeye.ingest.capturetime import EARLIEST_PLAUSIBLE
from wildeye.ingest.manifest import MANIFEST_NAME, DeploymentInfo, Flag, Manifest, MediaFile, ScanSettings
from wildeye.ingest.media import FULL_HASH, QUICK_HASH, probe
from wildeye.ingest.sequences import assign_sequences
from wildeye.ingest.walk import walk_media
from wildeye.names import media_path, record_name

Progress = Callable[[int, int], None]  # (done, total)


def scan(source: Path, settings: ScanSettings | None = None, out_dir: Path | None = None,
         on_progress: Progress | None = None) -> Manifest:
    """Scan `source` and return its manifest (not written; see `Manifest.write`)."""
    settings = settings or ScanSettings()
    started = time.perf_counter()
    source = Path(source).resolve()
    if not source.is_dir():
        raise ConfigError(f"source folder {str(source)!r} does not exist", "pass the folder the card was copied to")
    table = _deployments_table(source, settings)

    walked = walk_media(source, exclude=out_dir)
    total = len(walked.media)
    files: list[MediaFile] = []
    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=settings.workers) as pool:
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL")  # bad EXIF is flagged per file
        warnings.filterwarnings("ignore", category=_bomb_warning())  # very large frames are flagged per file
        for record in pool.map(lambda found: probe(source, found, settings.full_hash), walked.media):
            files.append(record)
            if on_progress:
                on_progress(len(files), total)

    _mark_duplicates(source, files, settings.full_hash)
    deployments = _place_in_time(files, table, source, settings, _previous_files(out_dir))
    assign_sequences(files, settings.sequence_gap_s)
    return Manifest(
        wildeye_version=__version__,
        created=datetime.now().astimezone().isoformat(timespec="seconds"),
        source=record_name(str(source)),
        settings=settings,
        hash_method=FULL_HASH if settings.full_hash else QUICK_HASH,
        deployments=deployments,
        files=files,
        skipped=[Flag(code=path, reason=reason) for path, reason in walked.problems],
        ignored=walked.ignored,
        elapsed_s=round(time.perf_counter() - started, 3),
    )


def _bomb_warning() -> type[Warning]:
    from PIL import Image

    return Image.DecompressionBombWarning


def _deployments_table(source: Path, settings: ScanSettings) -> list[dep.Deployment]:
    if settings.deployments_csv:
        return dep.load_deployments(Path(settings.deployments_csv))
    default = source / "deployments.csv"
    return dep.load_deployments(default) if default.is_file() else []


def _mark_duplicates(source: Path, files: list[MediaFile], full_hash: bool) -> None:
    """Later copies (in path order) of the same content point at the first; quick-hash matches are byte-checked."""
    groups: dict[tuple[int, str], list[MediaFile]] = defaultdict(list)
    for record in files:
        if record.content_hash and record.failure is None:
            groups[(record.size, record.content_hash)].append(record)
    for members in groups.values():
        first = members[0]
        for other in members[1:]:
            if full_hash or filecmp.cmp(media_path(source, first.path), media_path(source, other.path),
                                        shallow=False):
                other.duplicate_of = first.path
                other.flag("duplicate", f"same content as {first.path}")


def _place_in_time(files: list[MediaFile], table: list[dep.Deployment], source: Path, settings: ScanSettings,
                   previous: list[MediaFile]) -> list[DeploymentInfo]:
    """Give each file its deployment and corrected capture time (EXIF or info strip: see `capturetime`);
    returns every deployment seen or declared."""
    by_id = {d.id: d for d in table}
    source_name = record_name(source.name)
    now = datetime.now() + timedelta(days=1)

    def deployment_for(record: MediaFile, camera_time: datetime | None) -> dep.Deployment:
        found = dep.match_by_folder(table, record.path) or dep.match_by_camera(table, record.serial, camera_time)
        if found is None:
            folder_id = dep.folder_deployment_id(record.path, source_name)
            found = by_id.get(folder_id)
            if found is None:
                found = by_id[folder_id] = dep.Deployment(DeploymentInfo(deployment_id=folder_id, source="folder"))
        return found

    frames = []
    for record in files:
        if record.failure is not None:  # unreadable, but where it came from is still known
            record.deployment_id = deployment_for(record, None).id
            continue
        exif = datetime.fromisoformat(record.camera_time) if record.camera_time else None
        deployment = deployment_for(record, exif or datetime.fromisoformat(record.mtime))
        record.deployment_id = deployment.id
        plausible = exif if exif is not None and EARLIEST_PLAUSIBLE <= exif <= now else None
        frames.append(capturetime.Frame(record, deployment, plausible))
    ocr = capturetime.StripOCR(source, settings, capturetime.StripCache(previous))
    try:
        capturetime.settle(frames, settings, ocr)
    finally:
        ocr.close()
    for frame in frames:
        record, deployment = frame.record, frame.deployment
        when = deployment.local_time(capturetime.camera_time(record),
                                     record.utc_offset if record.time_source != capturetime.INFO_STRIP else None)
        record.timestamp = when.isoformat()
        if deployment.info.source == "deployments.csv" and not deployment.contains(when):
            record.flag("outside_deployment", f"captured outside deployment {deployment.id}'s start/end")
    used = {r.deployment_id for r in files}
    return [d.info for d in by_id.values() if d.info.source == "deployments.csv" or d.id in used]


def _previous_files(out_dir: Path | None) -> list[MediaFile]:
    """The files of the manifest a previous scan wrote to `out_dir` (for its cached info-strip reads), if any."""
    path = Path(out_dir) / MANIFEST_NAME if out_dir else None
    if path is None or not path.is_file():
        return []
    try:
        return Manifest.read(path).files
    except Exception:  # an older or damaged manifest: read the strips again
        return []


def summarize(manifest: Manifest) -> dict:
    """The numbers a ranger wants after a scan, as plain data (printed as a table or as --json)."""
    files = manifest.files
    per_deployment: dict[str, dict] = {}
    for info in manifest.deployments:
        per_deployment[info.deployment_id] = {"files": 0, "first": None, "last": None, "sequences": set()}
    for record in files:
        if not record.usable:
            continue
        entry = per_deployment[record.deployment_id]
        entry["files"] += 1
        entry["sequences"].add(record.sequence_id)
        stamp = record.timestamp
        entry["first"] = min(entry["first"] or stamp, stamp)
        entry["last"] = max(entry["last"] or stamp, stamp)
    deployments = [
        {"deployment_id": key, "files": v["files"], "first": v["first"], "last": v["last"], "sequences": len(v["sequences"])}
        for key, v in per_deployment.items()
    ]
    failures = Counter(r.failure.code for r in files if r.failure)
    flags = Counter(flag.code for r in files for flag in r.flags)
    return {
        "source": manifest.source,
        "files": len(files),
        "images": sum(r.kind == "image" for r in files),
        "videos": sum(r.kind == "video" for r in files),
        "usable": sum(r.usable for r in files),
        "ignored": manifest.ignored,
        "deployments": deployments,
        "sequences": sum(d["sequences"] for d in deployments),
        "duplicates": flags.get("duplicate", 0),
        "failed": sum(failures.values()),
        "failures": dict(sorted(failures.items())),
        "flags": dict(sorted(flags.items())),
        "skipped_folders": [{"path": s.code, "reason": s.reason} for s in manifest.skipped],
        "elapsed_s": manifest.elapsed_s,
        "files_per_s": round(len(files) / manifest.elapsed_s, 1) if manifest.elapsed_s else None,
    }
