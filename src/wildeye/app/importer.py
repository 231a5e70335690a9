"""`wildeye import SOURCE FILE`: other tools' results and existing labels into the run journal.

The file is read first (`wildeye.interop`; a file that is not in its format stops here, before anything is
written). SOURCE is scanned as `wildeye scan`/`run` scan it when its journal holds no media yet; then each path
the file names is matched to a scanned file (`interop.paths`). Machine results become one run, marked with the
file and the tool that made them, each box with its decision and each image with its label (`interop.decide`:
the file's own answers). Human labels become human labels (method human, the file's reviewer), which win in
reports, review and evaluation exactly as a reviewer's corrections do. Importing the same file again replaces
what it imported before (its run, its labels): nothing is duplicated. A row that cannot be read or matched is
counted and named in the summary; the import goes on.

Imported results and wildeye's own are never mixed in one journal: importing results into a folder that holds
a `wildeye run`'s results is refused (import into another --out), and a later `wildeye run` on imported results
asks for --rerun, as it does for results of other models.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from wildeye.config import FALLBACK_DETECTION_THRESHOLD
from wildeye.errors import ConfigError, NothingToDo
from wildeye.ingest.manifest import MANIFEST_NAME, ScanSettings
from wildeye.ingest.scan import scan
from wildeye.interop import LABELS, MAX_EXAMPLES, RESULTS, Imported, ImportedLabel, ImportedResult, read
from wildeye.interop.decide import box_decision, decide
from wildeye.interop.paths import EXACT, Match, PathMatcher, parse_root
from wildeye.interop.taxa import Vocabulary
from wildeye.labels import BLANK, HUMAN, VEHICLE, parse
from wildeye.names import record_name
from wildeye.records import Detection, Prediction
from wildeye.store.journal import HumanLabel, Journal

logger = logging.getLogger(__name__)

FINGERPRINT = {"imported": "results imported from other tools (wildeye import)"}
Progress = Callable[[int, int], None]


def import_file(source: Path, file: Path, out_dir: Path, *, fmt: str = "auto", as_: str | None = None,
                path_root: str | None = None, detection_threshold: float | None = None,
                species_column: str | None = None, reviewer: str | None = None,
                scan_settings: ScanSettings | None = None, wait: bool = False,
                on_scan: Progress | None = None, prepare_out: Callable[[Path], None] | None = None) -> dict:
    """Import `file` into out_dir's journal (scanning `source` first if the journal has no media); returns the
    summary. Raises ConfigError for a file that is not in its format or that matches nothing. prepare_out checks
    (and makes) the output folder once the file has been read: a bad file leaves nothing behind."""
    started = time.perf_counter()
    if as_ not in (None, RESULTS, LABELS):
        raise ConfigError(f"--as {as_!r} is neither results nor labels", "pass --as results or --as labels")
    imported = read(file, fmt, species_column=species_column)
    root = parse_root(path_root)
    file = Path(file).resolve()
    key = f"{Journal.IMPORT_ORIGIN}{imported.format}:{file}"
    threshold = detection_threshold if detection_threshold is not None else (
        imported.detection_threshold or FALLBACK_DETECTION_THRESHOLD)
    results, labels = list(imported.results), list(imported.labels)
    notes = list(imported.notes)
    if as_ == LABELS and results:
        failed = sum(r.failure is not None for r in results)
        labels += [_as_label(r, threshold) for r in results if r.failure is None]
        results = []
        if failed:
            notes.append(f"{failed} failed image(s) of the file are not labels: not imported")
    if not results and not labels:
        first = "; ".join(f"{w}: {why}" for w, why in imported.problems[:2])
        raise ConfigError(f"{file.name} holds nothing to import ({imported.entries} entries"
                          + (f"; {first}" if first else "") + ")",
                          "check the file, or pass --format / --species-column")

    if prepare_out is not None:
        prepare_out(Path(out_dir))
    with Journal.open(out_dir, wait=wait) as journal:
        stale = journal.close_stale_runs()
        if stale:
            logger.warning("%d earlier run(s) of %s had died without finishing: marked interrupted", stale, out_dir)
        targets = journal.import_targets()
        scanned = not targets
        if scanned:
            targets = _scan(journal, source, out_dir, scan_settings, on_scan)
        by_path = {t.path: t for t in targets}
        matcher = PathMatcher(by_path, root)
        result_matches = matcher.match_all([r.paths for r in results])
        label_matches = matcher.match_all([lab.paths for lab in labels])
        how: Counter = Counter()
        unmatched: list[Match] = []
        skipped: Counter = Counter()
        problems = list(imported.problems)

        def usable(m: Match, *, results: bool) -> bool:
            if m.path is None:
                unmatched.append(m)
                return False
            t = by_path[m.path]
            if t.kind != "image":
                skipped["video (imports cover stills only; `wildeye run` processes videos)"] += 1
                return False
            if t.status == "duplicate":
                skipped["duplicate of another scanned file"] += 1
                return False
            if results and t.status == "failed" and t.run_id is None:
                skipped["unreadable on the card (the scan failed it)"] += 1
                return False
            how[m.how] += 1
            return True

        # human labels, pixel boxes scaled by the scanned frame
        matched_labels: list[tuple[str, ImportedLabel]] = []
        for lab, m in zip(labels, label_matches):
            if not usable(m, results=as_ == RESULTS):
                continue
            if lab.pixel_boxes and lab.boxes:
                t = by_path[m.path]
                if not t.width or not t.height:
                    problems.append((m.foreign, "boxes in pixels and neither the file nor the scan knows the "
                                                "image size"))
                    continue
                lab.boxes = [{**b, "bbox": [b["bbox"][0] / t.width, b["bbox"][1] / t.height,
                                            b["bbox"][2] / t.width, b["bbox"][3] / t.height]} for b in lab.boxes]
                lab.pixel_boxes = False
            matched_labels.append((m.path, lab))
        matched_results = [(m.path, r) for r, m in zip(results, result_matches) if usable(m, results=True)]
        if as_ == RESULTS and matched_labels:
            matched_results += [(path, _as_result(lab)) for path, lab in matched_labels]
            matched_labels = []

        if not matched_results and not matched_labels and not unmatched and skipped:
            raise ConfigError(f"nothing in {file.name} can be imported: " + ", ".join(
                f"{n} {why}" for why, n in skipped.items()), "import a file with results or labels for images")
        if not matched_results and not matched_labels:
            examples = ", ".join(repr(m.foreign) for m in unmatched[:3])
            raise ConfigError(f"none of the {len(results) + len(labels)} images in {file.name} match a scanned "
                              f"file of {source}" + (f" (e.g. {examples}: {unmatched[0].how})" if unmatched else ""),
                              "pass the SOURCE folder the file was made for, or --path-root OLD=NEW to rewrite its "
                              "paths")

        known = journal_labels(journal)  # the machine's vocabulary: imported names are resolved to it
        run = _record_results(journal, key, imported, file, matched_results, threshold, as_, path_root,
                              started, known) if matched_results or journal.import_runs(key) else {}
        # always: a file imported again with fewer labels (or none, --as results) drops the ones it no longer has
        label_counts = _record_labels(journal, key, matched_labels, reviewer, known)
        pending = sum(1 for t in journal.import_targets() if t.status == "pending" and t.kind == "image")

    multi = sum(1 for _, lab in matched_labels if lab.species > 1 and not lab.boxes)
    if multi:
        notes.append(f"{multi} frame(s) labelled with several species and no boxes: wildeye keeps one label per "
                     "frame without boxes (the most numerous)")
    if pending:
        notes.append(f"{pending} scanned image(s) have no results (not in the file, or not matched): left pending")
    if matcher.rebase_rule is not None and how.get("root rewrite"):
        old, new = matcher.rebase_rule
        notes.append(f"{how['root rewrite']} path(s) matched by rewriting {old or '(no folder)'!r} to "
                     f"{new or '(no folder)'!r}, as most other paths needed")
    return {
        "file": str(file), "format": imported.format, "tool": imported.tool, "out": str(out_dir),
        "scanned": scanned, "entries": imported.entries,
        "results": run, "labels": label_counts,
        "matched": dict(how), "matched_total": sum(how.values()),
        "unmatched": len(unmatched),
        "unmatched_examples": [f"{m.foreign}: {m.how}" for m in unmatched[:MAX_EXAMPLES]],
        "skipped": dict(skipped),
        "problems": len(problems),
        "problem_examples": [f"{where}: {why}" for where, why in problems[:MAX_EXAMPLES]],
        "detection_threshold": threshold if run else None,
        "notes": notes, "seconds": round(time.perf_counter() - started, 3),
    }


def _scan(journal: Journal, source: Path, out_dir: Path, settings: ScanSettings | None, on_scan) -> list:
    """Scan SOURCE into the journal, as `wildeye run` does before its first frame."""
    manifest = scan(source, settings, out_dir=out_dir, on_progress=on_scan)
    if not manifest.files:
        raise NothingToDo(f"no images or videos found in {source}", "check that the card is mounted and the path "
                          "is right")
    manifest.write(out_dir / MANIFEST_NAME)
    journal.set_meta("source", record_name(str(Path(source).resolve())))
    journal.add_media(manifest.files)
    journal.set_deployments(manifest.deployments)
    return journal.import_targets()


def _record_results(journal: Journal, key: str, imported: Imported, file: Path,
                    matched: list[tuple[str, ImportedResult]], threshold: float, as_: str | None,
                    path_root: str | None, started: float, known: set[str]) -> dict:
    previous = journal.get_meta("fingerprint")
    if matched and previous is not None and previous != FINGERPRINT:
        raise ConfigError(f"{journal.path} holds results of a `wildeye run`; imported results are never mixed "
                          "with them", "import into another folder with --out, or import the file as --as labels")
    done: dict[str, tuple[list[Detection], Prediction]] = {}
    failed: dict[str, str] = {}
    vocabulary = Vocabulary(known)
    for path, result in matched:
        image = decide(result, threshold)
        if image is None:
            failed[path] = result.failure or "failed in the imported file"
            continue
        for det in result.detections:
            if det.decision is not None:
                det.decision.label = vocabulary.resolve(det.decision.label)
                det.decision.rank = parse(det.decision.label).rank
                known.add(det.decision.label)
        image.label = vocabulary.resolve(image.label)
        known.add(image.label)
        done[path] = (result.detections, image)
    description = f"imported from {file.name}: {imported.tool}" if imported.tool else f"imported from {file.name}"
    models = {**imported.models, "imported": {"file": str(file), "format": imported.format,
                                              "tool": imported.tool, "description": description}}
    config = {"import": {"file": str(file), "format": imported.format, "as": as_ or "auto",
                         "path_root": path_root}, "ensemble": {"detection_threshold": threshold}}
    boxes = sum(len(d) for d, _ in done.values())
    stats = {"frames": len(done) + len(failed), "boxes": boxes, "seconds": round(time.perf_counter() - started, 3)}
    # With nothing matched (the file now holds no results, or is imported --as labels) its earlier run just goes.
    run_id, replaced = journal.replace_imported_results(key, config, models, done, failed, stats, FINGERPRINT)
    counted = sum(1 for dets, _ in done.values() for d in dets if d.decision is not None and d.decision.counted)
    return {"run_id": run_id, "replaced_runs": replaced, "images": len(done), "failed": len(failed),
            "boxes": boxes, "counted_boxes": counted, "description": description}


def _record_labels(journal: Journal, key: str, matched: list[tuple[str, ImportedLabel]], reviewer: str | None,
                   known: set[str]) -> dict:
    vocabulary = Vocabulary(known)
    rows = []
    for path, lab in matched:
        boxes = [{**b, "label": vocabulary.resolve(b["label"]),
                  "bbox": [round(min(max(float(v), 0.0), 1.0), 6) for v in b["bbox"]]}
                 for b in lab.boxes] if lab.boxes else None
        rows.append(HumanLabel(path=path, label=vocabulary.resolve(lab.label), count=lab.count, boxes=boxes,
                               verified=True, reviewer=lab.reviewer or reviewer, reviewed_at=lab.reviewed_at,
                               origin=key))
    counts = journal.replace_imported_labels(key, rows)
    if counts["kept"]:
        logger.warning("%d frame(s) already hold a reviewer's label: kept (a reviewer's word wins over an import)",
                       counts["kept"])
    return counts


def journal_labels(journal: Journal) -> set[str]:
    """Every label the journal's machine results use: what an imported name is resolved to."""
    known: set[str] = set()
    for dets in journal.detections().values():
        for d in dets:
            known.update(label for label, _ in d.classifications)
            if d.decision is not None:
                known.add(d.decision.label)
                if d.decision.speciesnet is not None:
                    known.add(d.decision.speciesnet.label)
    known.update(p.label for p in journal.decisions().values())
    return known


def _as_label(result: ImportedResult, threshold: float) -> ImportedLabel:
    """A machine result taken as a person's word (`--as labels`: output someone has checked)."""
    image = decide(result, threshold)
    counted = [d for d in result.detections if d.decision is not None and d.decision.counted]
    boxes = [{"label": d.decision.label, "bbox": list(d.bbox)} for d in counted]
    same = sum(1 for d in counted if d.decision.label == image.label)
    return ImportedLabel(result.paths, image.label, same or None if image.label != BLANK else None, boxes or None,
                         score=image.score, species=len({d.decision.label for d in counted}) or 1)


def _as_result(label: ImportedLabel) -> ImportedResult:
    """A label taken as a machine result (`--as results`): its boxes counted as given, its label the image's."""
    score = label.score if label.score is not None else 1.0
    boxes = []
    for b in label.boxes or []:
        kind = parse(b["label"]).kind
        if kind == BLANK:
            continue
        category = {HUMAN: "person", VEHICLE: "vehicle"}.get(kind, "animal")
        det = Detection(category, score, tuple(b["bbox"]), [(b["label"], score)])
        det.decision = box_decision(b["label"], score, "classifier")
        boxes.append(det)
    return ImportedResult(label.paths, boxes, Prediction(parse(label.label).plain, score, "classifier"),
                          final_boxes=True)


__all__ = ["import_file", "EXACT"]
