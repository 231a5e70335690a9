"""Sync a run's journal into a persistent FiftyOne dataset, without ever touching what reviewers did.

The journal is the source of truth; the dataset is a view of it that reviewers work in. Sync writes only the
machine fields (MACHINE_FIELDS), keyed by file path, so running it again replaces them in place (no duplicate
samples, no duplicate boxes) and leaves human fields (ground_truth, ground_truth_boxes, reviewed, tags, and
any field a reviewer added) exactly as they were. Machine fields are read-only in the App, so a reviewer's
edits go into the human fields, where `wildeye review pull` finds them.

Boxes are split at the run's detection threshold (read from the journal): `detections` holds the boxes the
frame's label rests on, `low_confidence_detections` the rest (MegaDetector keeps boxes down to 0.005), which
the App leaves off until a reviewer ticks it; a frame called blank shows no box by default.

Writes are bulk: new samples are added with their file path only, then every machine field of a sample is
set in one update, all updates in one bulk write through the dataset's own writer (one database operation per
sample; per-field `set_values(key_field="filepath")` costs one per sample and field, ~6x slower at 50,000).
Values are built here in database form from typed journal rows, so per-object validation is skipped.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from wildeye.errors import WildeyeError
from wildeye.review.fields import (GROUND_TRUTH, GROUND_TRUTH_BOXES, HUMAN_FIELDS,  # noqa: F401
                                   LOW_CONFIDENCE_DETECTIONS, MACHINE_FIELDS, REVIEWED, STATIC_CLUSTERS,
                                   STATIC_DETECTIONS, VERIFIED_TAG, WRONG_TAG)


def default_dataset_name(out_dir: Path) -> str:
    """`wildeye-<source folder name>`, from the journal (or manifest) of a run folder."""
    return f"wildeye-{_source_root(Path(out_dir)).name or 'run'}"


def sync_run(out_dir: Path, dataset_name: str | None = None, *, prepare: bool = True) -> dict:
    """Journal + manifest of out_dir -> the FiftyOne dataset (created on first use); returns a summary."""
    from wildeye.review.db import import_fiftyone
    from wildeye.store.journal import Journal

    out_dir = Path(out_dir)
    started = time.perf_counter()
    with Journal.open(out_dir, write=False) as journal:
        source = _source_root(out_dir, journal)
        media = [m for m in journal.media() if m.status == "done"]
        detections = journal.detections()
        decisions = journal.decisions()
        runs = journal.runs()
        detection_threshold = journal.detection_threshold()
        deployments = journal.deployments() or _manifest_deployments(out_dir)
        static_marks = journal.static_marks()  # computed after each run (app.static): used, never recomputed
        static_clusters = static_evidence(journal)
        videos = journal.videos()  # a dataset holds one media type: videos go to their own (review.videos)
        video_media = [m for m in media if m.path in videos]
        media = [m for m in media if m.path not in videos]
        video_frames = journal.video_frames() if video_media else {}
    name = dataset_name or f"wildeye-{source.name or 'run'}"
    run_config = _last(runs, "config") or {}
    models = _models_info(_last(runs, "models") or {})
    ensemble = _ensemble(run_config)
    read_s = time.perf_counter() - started

    fo = import_fiftyone()
    created = not fo.dataset_exists(name)
    dataset = fo.Dataset(name, persistent=True) if created else fo.load_dataset(name)
    _declare_fields(fo, dataset)

    values = _machine_values(media, detections, decisions, deployments, models, source, ensemble,
                             detection_threshold, static_marks)
    paths = list(values["media_path"])
    existing = set(dataset.values("filepath"))
    new = [p for p in paths if p not in existing]
    if new:
        dataset.add_samples([fo.Sample(filepath=p) for p in new], progress=False)
    _write_machine_fields(dataset, values)
    stale = len(existing - set(paths))
    if prepare:
        from wildeye.review.views import prepare_review

        labels = {v["label"] for v in values["prediction"].values() if v}
        labels |= {d["species"] for v in values["detections"].values() if v for d in v["detections"]
                   if d.get("species")}
        prepare_review(dataset, labels=sorted(labels), flagship=ensemble.cfg.flagship_species,
                       review_threshold=ensemble.cfg.review_threshold, detection_threshold=detection_threshold,
                       static_clusters=static_clusters)
    dataset.info.update({"detection_threshold": detection_threshold,
                         "review_threshold": ensemble.cfg.review_threshold, "wildeye_out_dir": str(out_dir.resolve()),
                         "wildeye_source": str(source),
                         "wildeye_synced_at": datetime.now().astimezone().isoformat(timespec="seconds")})
    dataset.save()
    video_summary = {}
    if video_media:
        from wildeye.review.videos import sync_videos

        video_summary = sync_videos(fo, name, _machine_values(
            video_media, detections, decisions, deployments, models, source, ensemble, detection_threshold,
            static_marks), videos, video_frames, declare_fields=_declare_fields, write_fields=_write_machine_fields)
    seconds = time.perf_counter() - started
    shown = sum(len(v["detections"]) for v in values["detections"].values())
    return {"dataset": name, "created": created, "samples": len(dataset), "added": len(new),
            "updated": len(paths) - len(new), "stale": stale, "detections": sum(len(v) for v in detections.values()),
            "shown_detections": shown, "static_detections": sum(m.suppressed for m in static_marks.values()),
            "static_clusters": len(static_clusters), "detection_threshold": detection_threshold,
            "needs_review": sum(1 for p in decisions.values() if p.needs_review), "read_s": round(read_s, 3),
            "seconds": round(seconds, 3), "samples_per_s": round(len(paths) / seconds, 1) if seconds else None,
            "out": str(out_dir), **video_summary}


# --- reading the run ------------------------------------------------------------------------------------


def _source_root(out_dir: Path, journal=None) -> Path:
    """Where the media live: the journal records it, the manifest too; paths in both are relative to it."""
    source = None
    if journal is not None:
        source = journal.get_meta("source")
    elif (out_dir / "journal.sqlite").exists():
        from wildeye.store.journal import Journal

        with Journal.open(out_dir, write=False) as j:
            source = j.get_meta("source")
    if not source and (out_dir / "manifest.json").exists():
        from wildeye.ingest.manifest import Manifest

        source = Manifest.read(out_dir / "manifest.json").source
    if not source:
        raise WildeyeError(f"{out_dir} does not say where its media are (no source in journal or manifest)",
                           "run `wildeye run SOURCE --out` into this folder first")
    return Path(source)


def _manifest_deployments(out_dir: Path) -> dict:
    """Journals from before deployments were kept in the journal: the folder's manifest.json."""
    path = out_dir / "manifest.json"
    if not path.exists():
        return {}
    from wildeye.ingest.manifest import Manifest

    return {d.deployment_id: d for d in Manifest.read(path).deployments}


def _last(runs: list[dict], key: str):
    return next((r[key] for r in reversed(runs) if r.get(key)), None)


def _models_info(info: dict) -> dict:
    return {role: {k: v for k, v in (info.get(role) or {}).items() if k in ("name", "md5", "filename")}
            for role in ("detector", "classifier") if info.get(role)}


def _ensemble(run_config: dict):
    """The run's ensemble settings (flagship list, review threshold), or the defaults."""
    from wildeye.config import EnsembleConfig
    from wildeye.inference.ensemble import Ensemble

    settings = dict((run_config or {}).get("ensemble") or {})
    settings["geofence"], settings["geofence_file"] = False, None  # only naming and flagship matching needed
    try:
        cfg = EnsembleConfig.model_validate(settings)
    except ValueError:
        cfg = EnsembleConfig(geofence=False)
    return Ensemble(cfg)


# --- building values in database form --------------------------------------------------------------------


def shown_box(detection, threshold: float) -> bool:
    """Whether a box belongs in `detections` (the default field) rather than LOW_CONFIDENCE_DETECTIONS: a box at
    or above the run's detection threshold that the classifier did not call blank, or a weaker box the ensemble
    counted for the frame's label (the classifier named it, as SpeciesNet's ensemble allows). A frame called blank
    shows none (see _machine_values)."""
    decision = detection.decision
    if decision is not None and decision.counted:
        return True
    return detection.conf >= threshold and (decision is None or decision.label != "blank")


def static_evidence(journal) -> list[dict]:
    """The journal's static clusters as the saved views describe them: id, deployment, evidence, answer."""
    answers = {(r.deployment_id, r.cluster_id): r.answer for r in journal.static_reviews()}
    return [{"cluster_id": c.cluster_id, "deployment_id": c.deployment_id, "category": c.category,
             "frames": c.frames, "sequences": c.sequences, "days": c.days, "first_seen": c.first_seen,
             "last_seen": c.last_seen, "mean_box": c.mean_box, "static": c.static,
             "answer": answers.get((c.deployment_id, c.cluster_id))} for c in journal.static_clusters()]


def _machine_values(media, detections, decisions, deployments, models, source: Path, ensemble,
                    detection_threshold: float, static_marks: dict | None = None) -> dict:
    from bson import ObjectId

    from wildeye.labels import display_name

    names: dict[str, str] = {}

    def name_of(label: str) -> str:
        if label not in names:
            names[label] = display_name(label)
        return names[label]

    flagship_cache: dict[str, bool] = {}

    def is_flagship(label: str) -> bool:
        if label not in flagship_cache:
            flagship_cache[label] = ensemble.is_flagship(label)
        return flagship_cache[label]

    columns: dict[str, dict] = {field: {} for field in MACHINE_FIELDS}
    models_doc = models or None
    for m in media:
        key = str(source / m.path)
        columns["media_path"][key] = m.path
        columns["metadata"][key] = ({"_cls": "ImageMetadata", "width": m.width, "height": m.height}
                                    if m.width and m.height else None)
        flagship = False
        pred = decisions.get(m.path)
        blank = pred is not None and pred.label == "blank"
        boxes, faint, static, clusters = [], [], [], []
        for idx, d in enumerate(detections.get(m.path, [])):
            box = {"_id": ObjectId(), "_cls": "Detection", "tags": [], "label": d.category,
                   "bounding_box": list(d.bbox), "confidence": d.conf}
            mark = (static_marks or {}).get((m.path, idx))
            if mark is not None:
                box["static_cluster"] = mark.cluster_id
                clusters.append(mark.cluster_id)
                if mark.suppressed:  # left out of decisions: shown apart, never in the frame's boxes
                    static.append(box)
                    continue
            if d.decision is not None:  # the ensemble's answer for this very box, as the journal keeps it
                box.update(species=name_of(d.decision.label), species_score=float(d.decision.score),
                           taxonomy=d.decision.label)
                flagship = flagship or (d.decision.counted and is_flagship(d.decision.label))
            (boxes if not blank and shown_box(d, detection_threshold) else faint).append(box)
        columns["detections"][key] = {"_cls": "Detections", "detections": boxes}
        columns[LOW_CONFIDENCE_DETECTIONS][key] = {"_cls": "Detections", "detections": faint}
        columns[STATIC_DETECTIONS][key] = {"_cls": "Detections", "detections": static}
        columns[STATIC_CLUSTERS][key] = sorted(set(clusters))
        if pred is not None:
            columns["prediction"][key] = {"_id": ObjectId(), "_cls": "Classification", "tags": [],
                                          "label": name_of(pred.label), "confidence": float(pred.score),
                                          "source": pred.source, "taxonomy": pred.label}
            flagship = flagship or is_flagship(pred.label) or "flagship" in pred.review_reasons
            columns["needs_review"][key] = bool(pred.needs_review)
            columns["review_reasons"][key] = list(pred.review_reasons)
        else:
            columns["prediction"][key] = None
            columns["needs_review"][key] = False
            columns["review_reasons"][key] = []
        columns["flagship"][key] = flagship
        columns["deployment"][key] = m.deployment_id
        columns["sequence_id"][key] = m.sequence_id
        columns["frame_num"][key] = m.frame_num
        columns["captured_at"][key] = _datetime(m.timestamp)
        deployment = deployments.get(m.deployment_id)
        if deployment is not None and deployment.latitude is not None and deployment.longitude is not None:
            columns["location"][key] = {"_id": ObjectId(), "_cls": "GeoLocation", "tags": [],
                                        "point": {"type": "Point",
                                                  "coordinates": [deployment.longitude, deployment.latitude]}}
        else:
            columns["location"][key] = None
        columns["models"][key] = models_doc
    return columns


def _datetime(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# --- schema ----------------------------------------------------------------------------------------------


def _declare_fields(fo, dataset) -> None:
    """Every field and label attribute sync writes, declared once, so bulk writes can skip schema inference."""
    schema = dataset.get_field_schema(flat=True)
    fields = [
        ("media_path", fo.StringField, {}),
        ("detections", fo.EmbeddedDocumentField, {"embedded_doc_type": fo.Detections}),
        ("detections.detections.species", fo.StringField, {}),
        ("detections.detections.species_score", fo.FloatField, {}),
        ("detections.detections.taxonomy", fo.StringField, {}),
        (LOW_CONFIDENCE_DETECTIONS, fo.EmbeddedDocumentField, {"embedded_doc_type": fo.Detections}),
        (f"{LOW_CONFIDENCE_DETECTIONS}.detections.species", fo.StringField, {}),
        (f"{LOW_CONFIDENCE_DETECTIONS}.detections.species_score", fo.FloatField, {}),
        (f"{LOW_CONFIDENCE_DETECTIONS}.detections.taxonomy", fo.StringField, {}),
        (STATIC_DETECTIONS, fo.EmbeddedDocumentField, {"embedded_doc_type": fo.Detections}),
        (f"{STATIC_DETECTIONS}.detections.static_cluster", fo.StringField, {}),
        (f"{LOW_CONFIDENCE_DETECTIONS}.detections.static_cluster", fo.StringField, {}),
        ("detections.detections.static_cluster", fo.StringField, {}),
        (STATIC_CLUSTERS, fo.ListField, {"subfield": fo.StringField}),
        ("prediction", fo.EmbeddedDocumentField, {"embedded_doc_type": fo.Classification}),
        ("prediction.source", fo.StringField, {}),
        ("prediction.taxonomy", fo.StringField, {}),
        ("deployment", fo.StringField, {}),
        ("sequence_id", fo.StringField, {}),
        ("frame_num", fo.IntField, {}),
        ("captured_at", fo.DateTimeField, {}),
        ("location", fo.EmbeddedDocumentField, {"embedded_doc_type": fo.GeoLocation}),
        ("needs_review", fo.BooleanField, {}),
        ("review_reasons", fo.ListField, {"subfield": fo.StringField}),
        ("flagship", fo.BooleanField, {}),
        ("models", fo.DictField, {}),
        # human fields: created empty once, never written by sync
        (GROUND_TRUTH, fo.EmbeddedDocumentField, {"embedded_doc_type": fo.Classification}),
        (GROUND_TRUTH + ".reviewer", fo.StringField, {}),
        (GROUND_TRUTH_BOXES, fo.EmbeddedDocumentField, {"embedded_doc_type": fo.Detections}),
        (REVIEWED, fo.BooleanField, {}),
    ]
    for path, ftype, kwargs in fields:
        if path not in schema:
            dataset.add_sample_field(path, ftype, **kwargs)
    for index in ("filepath", "sequence_id", "deployment"):
        dataset.create_index(index)


def _write_machine_fields(dataset, values: dict) -> None:
    from datetime import timezone

    from pymongo import UpdateOne

    now = datetime.now(timezone.utc)
    by_path = dict(zip(*dataset.values(["filepath", "_id"])))
    ops = []
    for path in values["media_path"]:
        update = {field: values[field].get(path) for field in MACHINE_FIELDS}
        update["last_modified_at"] = now
        ops.append(UpdateOne({"_id": by_path[path]}, {"$set": update}))
    for start in range(0, len(ops), 10_000):
        dataset._bulk_write(ops[start:start + 10_000])
    for name in MACHINE_FIELDS:  # reviewers edit the human fields; the App shows these read-only
        field = dataset.get_field(name)
        if name != "metadata" and field is not None and not field.read_only:
            field.read_only = True
            field.save()
    dataset.reload()


class writable:
    """Lift the read-only flag of some machine fields (e.g. for an evaluation that annotates boxes), then restore it."""

    def __init__(self, dataset, fields):
        self.dataset, self.fields = dataset, [f for f in fields if dataset.get_field(f) is not None]

    def _set(self, value: bool) -> None:
        for name in self.fields:
            field = self.dataset.get_field(name)
            if bool(field.read_only) != value:
                field.read_only = value
                field.save()

    def __enter__(self):
        self._set(False)
        return self

    def __exit__(self, *exc):
        self._set(True)
