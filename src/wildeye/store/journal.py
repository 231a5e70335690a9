"""The run journal: one SQLite file per output folder, the source of truth for review and reports.

Crash safety comes from SQLite itself: every batch of results is one transaction in WAL mode with
synchronous=FULL, so `kill -9` at any moment leaves either the whole batch or none of it. A resumed run
processes exactly the media still `pending`. One writer at a time: an exclusive POSIX record lock on
`journal.lock` (fcntl F_SETLK). Such a lock belongs to the process that took it: the kernel drops it when that
process dies, however it dies, and a forked child (a DataLoader worker) never holds it, so a killed run can
never block the next one. A run that died while `running` is closed as `interrupted` by the next writer.

Schema 2 keeps each box's decision in its own row (`detections`: the box, its classifications, wildeye's
decision and SpeciesNet's), so readers never re-derive which prediction belongs to which box.

Schema 3 processes videos: a video is one media row; its sampled frames and their boxes are kept per frame
(`video_frames`, `frame_detections`, committed batch by batch, so a killed run resumes mid-video), and when the
last frame is in, the best frame's boxes (inference.video) become the video's rows in `detections`, decided as a
still's are.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import sqlite3
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator

from wildeye import __version__
from wildeye.config import FALLBACK_DETECTION_THRESHOLD
from wildeye.errors import EXIT_LOCKED, WildeyeError
from wildeye.ingest.manifest import DeploymentInfo
from wildeye.records import (STATIC_REAL_ANIMAL, BoxDecision, Detection, Prediction, StaticCluster, StaticMark,
                             StaticReview)
from wildeye.store.salvage import salvage_rows

logger = logging.getLogger(__name__)

JOURNAL_NAME = "journal.sqlite"
LOCK_NAME = "journal.lock"
_HELD: dict[int, str] = {}  # lock descriptors this process holds -> run folder
SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started TEXT NOT NULL, finished TEXT, status TEXT NOT NULL,
    wildeye_version TEXT, host TEXT, pid INTEGER,
    config TEXT, models TEXT, stats TEXT
);
CREATE TABLE IF NOT EXISTS media (
    path TEXT PRIMARY KEY,
    content_hash TEXT, kind TEXT, size INTEGER,
    deployment_id TEXT, sequence_id TEXT, frame_num INTEGER, seq_num_frames INTEGER,
    timestamp TEXT, width INTEGER, height INTEGER,  -- upright: EXIF orientation applied, as boxes are
    status TEXT NOT NULL,            -- pending | done | failed | duplicate | skipped
    failure TEXT, duplicate_of TEXT,
    run_id INTEGER, processed_at TEXT
);
CREATE INDEX IF NOT EXISTS media_status ON media(status);
CREATE INDEX IF NOT EXISTS media_sequence ON media(sequence_id);
CREATE INDEX IF NOT EXISTS media_hash ON media(content_hash);
CREATE TABLE IF NOT EXISTS detections (
    path TEXT NOT NULL, idx INTEGER NOT NULL,
    category TEXT NOT NULL, conf REAL NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
    classifications TEXT,            -- JSON [[label, score], ...], best first: the classifier on this box's crop
    label TEXT, score REAL, source TEXT, rank TEXT,  -- the ensemble's decision for this box (NULL: none)
    counted INTEGER,                 -- the box takes part in its image's decision
    needs_review INTEGER, review_reasons TEXT,
    sn_label TEXT, sn_score REAL, sn_source TEXT,    -- SpeciesNet's own answer for a classified box
    previous TEXT,                   -- JSON {label, score, source}: the box's answer before its burst relabelled it
    PRIMARY KEY (path, idx)
);
CREATE TABLE IF NOT EXISTS decisions (
    path TEXT PRIMARY KEY,
    label TEXT NOT NULL, score REAL NOT NULL, source TEXT NOT NULL,
    needs_review INTEGER NOT NULL, review_reasons TEXT,
    detections TEXT                  -- schema 1 only: per-box predictions (now in the detections table)
);
CREATE TABLE IF NOT EXISTS deployments (
    deployment_id TEXT PRIMARY KEY,
    info TEXT NOT NULL               -- JSON of ingest.manifest.DeploymentInfo (coordinates, times, time zone, ...)
);
CREATE TABLE IF NOT EXISTS human_labels (
    path TEXT PRIMARY KEY,
    label TEXT NOT NULL,             -- what the reviewer says the frame shows: species label, blank, human, vehicle
    count INTEGER,                   -- individuals in the frame, when the reviewer counted
    boxes TEXT,                      -- JSON [{"label", "bbox": [x, y, w, h]}] when the reviewer drew or fixed boxes
    verified INTEGER NOT NULL DEFAULT 1,
    reviewer TEXT, reviewed_at TEXT,
    origin TEXT                      -- where the correction came from, e.g. "fiftyone:snowleopard-2024"
);
CREATE TABLE IF NOT EXISTS human_label_withdrawals (  -- audit: corrections withdrawn (cleared by a reviewer)
    path TEXT NOT NULL, label TEXT NOT NULL, count INTEGER, boxes TEXT, verified INTEGER NOT NULL DEFAULT 1,
    reviewer TEXT, reviewed_at TEXT, origin TEXT,
    withdrawn_at TEXT NOT NULL, reason TEXT
);
CREATE TABLE IF NOT EXISTS static_clusters (   -- places boxed again and again (inference.static), per deployment
    deployment_id TEXT NOT NULL, cluster_id TEXT NOT NULL, category TEXT NOT NULL,
    anchor TEXT NOT NULL, mean_box TEXT,   -- JSON [x, y, w, h]: the place's first box, the members' mean
    frames INTEGER, sequences INTEGER, days INTEGER, first_seen TEXT, last_seen TEXT, mean_conf REAL,
    static INTEGER NOT NULL,               -- the evidence reaches the configured bar
    PRIMARY KEY (deployment_id, cluster_id)
);
CREATE TABLE IF NOT EXISTS static_boxes (      -- each box of a static cluster
    path TEXT NOT NULL, idx INTEGER NOT NULL, deployment_id TEXT NOT NULL, cluster_id TEXT NOT NULL,
    PRIMARY KEY (path, idx)
);
CREATE TABLE IF NOT EXISTS static_reviews (    -- a reviewer's answer per cluster: kept across runs, never recomputed
    deployment_id TEXT NOT NULL, cluster_id TEXT NOT NULL, category TEXT NOT NULL, anchor TEXT NOT NULL,
    answer TEXT NOT NULL,                  -- static | animal (a real animal: never suppressed again)
    reviewer TEXT, reviewed_at TEXT, origin TEXT,
    PRIMARY KEY (deployment_id, cluster_id)
);
CREATE TABLE IF NOT EXISTS videos (            -- a video's decode facts and sampling (schema 3)
    path TEXT PRIMARY KEY,
    frame_rate REAL, frame_count INTEGER, width INTEGER, height INTEGER,
    every_n_frames INTEGER NOT NULL,       -- sampling step: frames 0, n, 2n, ... (MegaDetector's frame_sample)
    best_frame INTEGER,                    -- the frame whose boxes are the video's detections (NULL: not done)
    content_hash TEXT                      -- the file the frames were read from (new content: frames redone)
);
CREATE TABLE IF NOT EXISTS video_frames (      -- each sampled frame whose results are committed
    path TEXT NOT NULL, frame INTEGER NOT NULL, time REAL, run_id INTEGER,
    PRIMARY KEY (path, frame)
);
CREATE TABLE IF NOT EXISTS frame_detections (  -- the boxes of each sampled video frame, as `detections` holds a still's
    path TEXT NOT NULL, frame INTEGER NOT NULL, idx INTEGER NOT NULL,
    category TEXT NOT NULL, conf REAL NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
    classifications TEXT,
    PRIMARY KEY (path, frame, idx)
);
"""


@dataclass
class MediaRow:
    path: str
    sequence_id: str | None
    frame_num: int | None
    deployment_id: str | None
    timestamp: str | None
    status: str
    failure: str | None
    width: int | None
    height: int | None


@dataclass
class HumanLabel:
    path: str
    label: str
    count: int | None = None
    boxes: list[dict] | None = None
    verified: bool = True
    reviewer: str | None = None
    reviewed_at: str | None = None
    origin: str | None = None


class JournalLocked(WildeyeError):
    exit_code = EXIT_LOCKED


class Journal:
    """Open with `Journal.open(folder)`; use as a context manager so the lock is always released."""

    def __init__(self, folder: Path, conn: sqlite3.Connection, lock_fd: int | None):
        self.folder = folder
        self.path = folder / JOURNAL_NAME
        self.conn = conn
        self._lock_fd = lock_fd

    # -- opening, locking ------------------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: str | Path, *, write: bool = True, wait: bool = False) -> "Journal":
        folder = Path(folder)
        path = folder / JOURNAL_NAME
        if not write and not path.exists():
            raise WildeyeError(f"no run journal in {folder}", "run `wildeye run SOURCE` first")
        lock_fd = _acquire_lock(folder, wait) if write else None
        try:
            try:
                conn = _connect(path, check=write)
            except sqlite3.DatabaseError as exc:
                if not write or not _is_corruption(exc):
                    raise
                conn = _recover(path, exc)
            journal = cls(folder, conn, lock_fd)
            journal._check_version()
        except sqlite3.DatabaseError as exc:
            _release_lock(lock_fd)
            if not _is_corruption(exc):
                raise  # I/O errors, a full disk: not the file's fault
            raise WildeyeError(f"run journal {path} is damaged: {exc}",
                               "run `wildeye run` on it to recover, or move it aside") from None
        except BaseException:
            _release_lock(lock_fd)
            raise
        return journal

    def close(self) -> None:
        self.conn.close()
        _release_lock(self._lock_fd)
        self._lock_fd = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_version(self) -> None:
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self.set_meta("schema_version", SCHEMA_VERSION)
        elif int(row[0]) > SCHEMA_VERSION:
            raise WildeyeError(f"run journal {self.path} was written by a newer wildeye", "upgrade wildeye")
        elif int(row[0]) < SCHEMA_VERSION:
            if self._lock_fd is None:
                raise WildeyeError(f"run journal {self.path} has an older layout (schema {row[0]})",
                                   "run `wildeye run` on it once to upgrade it")
            self._migrate(int(row[0]))

    def _migrate(self, version: int) -> None:
        """Schema 1 -> 2: per-box decisions move from decisions.detections (a JSON list, one prediction per box at
        or above the run's detection threshold, in box order) into their boxes' rows. 2 -> 3: videos (listed and
        skipped until then) become pending; their tables come with the schema."""
        with self.transaction():
            if version < 2:
                have = {r[1] for r in self.conn.execute("PRAGMA table_info(detections)")}
                for column, kind in (("label", "TEXT"), ("score", "REAL"), ("source", "TEXT"), ("rank", "TEXT"),
                                     ("counted", "INTEGER"), ("needs_review", "INTEGER"),
                                     ("review_reasons", "TEXT"), ("sn_label", "TEXT"), ("sn_score", "REAL"),
                                     ("sn_source", "TEXT"), ("previous", "TEXT")):
                    if column not in have:
                        self.conn.execute(f"ALTER TABLE detections ADD COLUMN {column} {kind}")
                threshold = self._last_detection_threshold()
                rows = []
                for path, per_box in self.conn.execute("SELECT path, detections FROM decisions"):
                    predictions = json.loads(per_box or "[]")
                    boxes = [r[0] for r in self.conn.execute(
                        "SELECT idx FROM detections WHERE path=? AND conf>=? ORDER BY idx", (path, threshold))]
                    for idx, pred in zip(boxes, predictions):
                        rows.append((pred.get("label"), pred.get("score"), pred.get("source"),
                                     int(pred.get("label") != "blank"), int(bool(pred.get("needs_review"))),
                                     json.dumps(pred.get("review_reasons") or []), path, idx))
                self.conn.executemany("UPDATE detections SET label=?, score=?, source=?, counted=?, needs_review=?,"
                                      " review_reasons=? WHERE path=? AND idx=?", rows)
                self.conn.execute("UPDATE decisions SET detections=NULL")
            if version < 3:
                self.conn.execute("UPDATE media SET status='pending', failure=NULL WHERE kind='video'"
                                  " AND status='skipped'")
            self.set_meta("schema_version", SCHEMA_VERSION)
        logger.info("run journal %s upgraded from schema %d to %d", self.path, version, SCHEMA_VERSION)

    def _last_detection_threshold(self) -> float:
        row = self.conn.execute("SELECT config FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()
        try:
            value = json.loads(row[0])["ensemble"]["detection_threshold"] if row else None
        except (TypeError, KeyError, ValueError):
            value = None
        return float(value) if isinstance(value, (int, float)) else FALLBACK_DETECTION_THRESHOLD

    # -- meta and runs ---------------------------------------------------------------------------------------

    def get_meta(self, key: str, default=None):
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key: str, value) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def close_stale_runs(self) -> int:
        """Runs left `running` by a process that died (kill -9, power cut) become `interrupted`. Only called by
        the lock holder, so no run can still be live; returns how many were closed."""
        with self.transaction():
            cursor = self.conn.execute(
                "UPDATE runs SET status='interrupted', finished=COALESCE((SELECT MAX(processed_at) FROM media"
                " WHERE media.run_id=runs.run_id), started) WHERE status='running'")
            return cursor.rowcount

    def start_run(self, config: dict, models: dict) -> int:
        cursor = self.conn.execute(
            "INSERT INTO runs(started, status, wildeye_version, host, pid, config, models) VALUES (?,?,?,?,?,?,?)",
            (_now(), "running", __version__, socket.gethostname(), os.getpid(), json.dumps(config), json.dumps(models)),
        )
        return int(cursor.lastrowid)

    def set_run_models(self, run_id: int, models: dict) -> None:
        """What the run's models turned out to be (a runtime that fell back while running), replacing start_run's."""
        self.conn.execute("UPDATE runs SET models=? WHERE run_id=?", (json.dumps(models), run_id))

    def finish_run(self, run_id: int, status: str, stats: dict) -> None:
        self.conn.execute("UPDATE runs SET finished=?, status=?, stats=? WHERE run_id=?",
                          (_now(), status, json.dumps(stats), run_id))

    def runs(self) -> list[dict]:
        rows = self.conn.execute("SELECT run_id, started, finished, status, config, models, stats FROM runs").fetchall()
        return [{"run_id": r[0], "started": r[1], "finished": r[2], "status": r[3], "config": json.loads(r[4] or "null"),
                 "models": json.loads(r[5] or "null"), "stats": json.loads(r[6] or "null")} for r in rows]

    # -- media -----------------------------------------------------------------------------------------------

    def add_media(self, files: Iterable, *, videos: bool = True) -> int:
        """Register scanned files (ingest.manifest.MediaFile); already-known paths keep their results. Videos are
        pending like stills, or `skipped` with `videos=False` (`video.enabled: false`)."""
        rows = []
        processed = ("image", "video") if videos else ("image",)
        for f in files:
            status = ("failed" if f.failure else "duplicate" if f.duplicate_of
                      else "skipped" if f.kind not in processed else "pending")
            width, height = f.upright_size
            rows.append((f.path, f.content_hash, f.kind, f.size, f.deployment_id, f.sequence_id, f.frame_num,
                         f.seq_num_frames, f.timestamp, width, height, status,
                         f.failure.reason if f.failure else ("video: not processed (video.enabled: false)"
                                                             if status == "skipped" else None),
                         f.duplicate_of))
        with self.transaction():
            before = self.conn.total_changes
            self.conn.executemany(
                "INSERT INTO media(path, content_hash, kind, size, deployment_id, sequence_id, frame_num, seq_num_frames,"
                " timestamp, width, height, status, failure, duplicate_of) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(path) DO UPDATE SET deployment_id=excluded.deployment_id,"
                " sequence_id=excluded.sequence_id, frame_num=excluded.frame_num,"
                " seq_num_frames=excluded.seq_num_frames, timestamp=excluded.timestamp,"
                # journals that kept the stored size get upright; a video keeps the size its decoder gave
                " width=COALESCE(excluded.width, media.width), height=COALESCE(excluded.height, media.height),"
                # a changed file (new content) is processed again; an unchanged one keeps its results
                " status=CASE WHEN media.content_hash IS excluded.content_hash AND media.status IN ('done','failed')"
                "             THEN media.status ELSE excluded.status END,"
                " failure=CASE WHEN media.content_hash IS excluded.content_hash AND media.status IN ('done','failed')"
                "             THEN media.failure ELSE excluded.failure END,"
                " content_hash=excluded.content_hash, duplicate_of=excluded.duplicate_of",
                rows,
            )
            # Content already processed under another path (a renamed or re-copied card) is not redone.
            self.conn.execute(
                "UPDATE media SET status='duplicate', duplicate_of=(SELECT d.path FROM media d"
                "  WHERE d.content_hash=media.content_hash AND d.path<>media.path AND d.status IN ('done','failed')"
                "  ORDER BY d.path LIMIT 1)"
                " WHERE status='pending' AND content_hash IS NOT NULL AND EXISTS (SELECT 1 FROM media d"
                "  WHERE d.content_hash=media.content_hash AND d.path<>media.path AND d.status IN ('done','failed'))")
            return self.conn.total_changes - before

    def set_deployments(self, deployments: Iterable[DeploymentInfo]) -> None:
        """The deployments of the last scan (replacing the earlier ones): readers need no manifest.json."""
        with self.transaction():
            self.conn.execute("DELETE FROM deployments")
            self.conn.executemany("INSERT INTO deployments(deployment_id, info) VALUES (?, ?)",
                                  [(d.deployment_id, d.model_dump_json()) for d in deployments])

    def deployments(self) -> dict[str, DeploymentInfo]:
        return {r[0]: DeploymentInfo.model_validate_json(r[1])
                for r in self.conn.execute("SELECT deployment_id, info FROM deployments ORDER BY deployment_id")}

    def requeue_processed(self) -> int:
        """Every processed image and video back to pending (`--rerun` with other models), videos' frames
        forgotten; returns how many."""
        with self.transaction():
            for table in ("videos", "video_frames", "frame_detections"):
                self.conn.execute(f"DELETE FROM {table}")
            return self.conn.execute("UPDATE media SET status='pending' WHERE run_id IS NOT NULL"
                                     " AND kind IN ('image', 'video')").rowcount

    def pending(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT path FROM media WHERE status='pending' ORDER BY path")]

    def pending_videos(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT path FROM media WHERE status='pending' AND kind='video'"
                                                " ORDER BY path")]

    def processed_in(self, run_id: int) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT path FROM media WHERE run_id=? ORDER BY path", (run_id,))]

    def media(self) -> list[MediaRow]:
        rows = self.conn.execute("SELECT path, sequence_id, frame_num, deployment_id, timestamp, status, failure,"
                                 " width, height FROM media ORDER BY path").fetchall()
        return [MediaRow(*r) for r in rows]

    def failure_counts(self) -> dict[str, int]:
        """Failed media by reason, the reason cut at its first ':' (e.g. 'truncated', 'image could not be decoded')."""
        counts: dict[str, int] = {}
        for (reason,) in self.conn.execute("SELECT failure FROM media WHERE status='failed'"):
            key = (reason or "unknown").split(":")[0]
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))

    def counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT status, COUNT(*) FROM media GROUP BY status").fetchall())

    # -- results ---------------------------------------------------------------------------------------------

    def record_batch(self, run_id: int, done: dict[str, list[Detection]], failed: dict[str, str]) -> None:
        """Results of one batch, all or nothing; re-recording a path replaces its detections (never duplicates)."""
        now = _now()
        with self.transaction():
            paths = [(p,) for p in list(done) + list(failed)]
            self.conn.executemany("DELETE FROM detections WHERE path=?", paths)
            self.conn.executemany(
                "INSERT INTO detections(path, idx, category, conf, x, y, w, h, classifications) VALUES (?,?,?,?,?,?,?,?,?)",
                [(path, i, d.category, d.conf, *d.bbox, json.dumps(d.classifications) if d.classifications else None)
                 for path, dets in done.items() for i, d in enumerate(dets)],
            )
            self.conn.executemany("UPDATE media SET status='done', failure=NULL, run_id=?, processed_at=? WHERE path=?",
                                  [(run_id, now, p) for p in done])
            self.conn.executemany("UPDATE media SET status='failed', failure=?, run_id=?, processed_at=? WHERE path=?",
                                  [(reason, run_id, now, p) for p, reason in failed.items()])

    def detections(self) -> dict[str, list[Detection]]:
        """Every box by path, in box order, each with its classifications and its decision (`Detection.decision`,
        None where the ensemble gave it none)."""
        result: dict[str, list[Detection]] = {}
        for (path, category, conf, x, y, w, h, cls, label, score, source, rank, counted, review, reasons,
             sn_label, sn_score, sn_source, previous) in self.conn.execute(
                "SELECT path, category, conf, x, y, w, h, classifications, label, score, source, rank, counted,"
                " needs_review, review_reasons, sn_label, sn_score, sn_source, previous"
                " FROM detections ORDER BY path, idx"):
            decision = None
            if label is not None:
                prev = json.loads(previous) if previous else None
                decision = BoxDecision(label, score, source, rank, bool(counted), bool(review),
                                       json.loads(reasons or "[]"),
                                       Prediction(sn_label, sn_score, sn_source) if sn_label is not None else None,
                                       Prediction(prev["label"], prev["score"], prev["source"]) if prev else None)
            result.setdefault(path, []).append(
                Detection(category, conf, (x, y, w, h), [tuple(c) for c in json.loads(cls)] if cls else [], decision))
        return result

    def write_decisions(self, decisions: dict[str, tuple[Prediction, list[BoxDecision | None]]]) -> None:
        """Per path: the image's decision and each box's (in box order; None: the box got none). The image's go
        to `decisions`, each box's to its own `detections` row. Replaces every earlier decision, in one
        transaction."""
        image_rows, box_rows = [], []
        for path, (p, boxes) in decisions.items():
            image_rows.append((path, p.label, p.score, p.source, int(p.needs_review), json.dumps(p.review_reasons)))
            for idx, box in enumerate(boxes):
                if box is None:
                    continue
                sn, prev = box.speciesnet, box.previous
                box_rows.append((
                    box.label, box.score, box.source, box.rank, int(box.counted), int(box.needs_review),
                    json.dumps(box.review_reasons),
                    sn.label if sn else None, sn.score if sn else None, sn.source if sn else None,
                    json.dumps({"label": prev.label, "score": prev.score, "source": prev.source}) if prev else None,
                    path, idx))
        with self.transaction():
            self.conn.execute("DELETE FROM decisions")
            self.conn.execute("UPDATE detections SET label=NULL, score=NULL, source=NULL, rank=NULL, counted=NULL,"
                              " needs_review=NULL, review_reasons=NULL, sn_label=NULL, sn_score=NULL,"
                              " sn_source=NULL, previous=NULL")
            self.conn.executemany(
                "INSERT INTO decisions(path, label, score, source, needs_review, review_reasons) VALUES (?,?,?,?,?,?)",
                image_rows)
            self.conn.executemany(
                "UPDATE detections SET label=?, score=?, source=?, rank=?, counted=?, needs_review=?,"
                " review_reasons=?, sn_label=?, sn_score=?, sn_source=?, previous=? WHERE path=? AND idx=?", box_rows)

    def decisions(self) -> dict[str, Prediction]:
        return {r[0]: Prediction(r[1], r[2], r[3], bool(r[4]), json.loads(r[5] or "[]"))
                for r in self.conn.execute("SELECT path, label, score, source, needs_review, review_reasons FROM decisions")}

    # -- human review: corrections are their own records and always win downstream -----------------------------

    def record_human_labels(self, labels: Iterable[HumanLabel]) -> int:
        rows = [(h.path, h.label, h.count, json.dumps(h.boxes) if h.boxes is not None else None, int(h.verified),
                 h.reviewer, h.reviewed_at, h.origin) for h in labels]
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO human_labels(path, label, count, boxes, verified, reviewer, reviewed_at, origin)"
                " VALUES (?,?,?,?,?,?,?,?)", rows)
        return len(rows)

    def human_labels(self) -> dict[str, HumanLabel]:
        return {r[0]: HumanLabel(r[0], r[1], r[2], json.loads(r[3]) if r[3] else None, bool(r[4]), r[5], r[6], r[7])
                for r in self.conn.execute("SELECT path, label, count, boxes, verified, reviewer, reviewed_at, origin"
                                           " FROM human_labels")}

    def final_labels(self) -> dict[str, Prediction]:
        """The label of every decided frame, a human's where there is one (source "human", score 1)."""
        labels = self.decisions()
        for path, human in self.human_labels().items():
            labels[path] = Prediction(human.label, 1.0, "human", False, [])
        return labels

    def transaction(self) -> "_Transaction":
        return _Transaction(self.conn)

    # == typed readers for reports and review (branch l-reports) ===============================================
    # Reports and review read the journal only through these (and the readers above): no SQL outside store/.

    @dataclass
    class MediaRecord:
        """A media row as reports need it: where it sits in its burst and when it was processed."""

        path: str
        deployment_id: str | None
        sequence_id: str | None
        frame_num: int | None
        seq_num_frames: int | None
        timestamp: str | None
        status: str
        failure: str | None
        width: int | None
        height: int | None
        processed_at: str | None

    @dataclass
    class RunRecord:
        run_id: int
        started: str
        finished: str | None
        status: str
        config: dict
        models: dict
        stats: dict

    def media_records(self, *, duplicates: bool = False) -> list["Journal.MediaRecord"]:
        """Every media row by path; duplicates (content already recorded under another path) only when asked."""
        where = "" if duplicates else " WHERE status != 'duplicate'"
        rows = self.conn.execute(
            "SELECT path, deployment_id, sequence_id, frame_num, seq_num_frames, timestamp, status, failure, width,"
            " height, processed_at FROM media" + where + " ORDER BY path").fetchall()
        return [Journal.MediaRecord(*r) for r in rows]

    def media_sizes(self) -> dict[str, int]:
        """File size in bytes by path (duplicates left out): camera health asks whether a card filled up."""
        return {r[0]: r[1] for r in self.conn.execute(
            "SELECT path, size FROM media WHERE status != 'duplicate' AND size IS NOT NULL")}

    def last_run(self) -> "Journal.RunRecord | None":
        """The last finished run (the one whose settings made the results), else the last run of any status."""
        row = self.conn.execute(
            "SELECT run_id, started, finished, status, config, models, stats FROM runs"
            " ORDER BY status = 'finished' DESC, run_id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return Journal.RunRecord(row[0], row[1], row[2], row[3], json.loads(row[4] or "null") or {},
                                 json.loads(row[5] or "null") or {}, json.loads(row[6] or "null") or {})

    def detection_threshold(self) -> float:
        """The detection threshold the last run used (`ensemble.detection_threshold` of its config), else
        wildeye.config.FALLBACK_DETECTION_THRESHOLD."""
        from wildeye.config import FALLBACK_DETECTION_THRESHOLD

        run = self.last_run()
        value = ((run.config.get("ensemble") or {}) if run else {}).get("detection_threshold")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
            else FALLBACK_DETECTION_THRESHOLD

    # == end of the l-reports section ===========================================================================

    # == review pull (review.corrections) ========================================================================
    # A FiftyOne dataset speaks for the corrections that came from it (origin "fiftyone:<dataset>"): one a
    # reviewer cleared there is withdrawn on the next pull, into human_label_withdrawals (never silently lost).
    # Corrections of any other origin (imports, salvaged rows) are never touched by a pull.

    @dataclass
    class Withdrawal:
        """A correction withdrawn from human_labels, as the audit table keeps it."""

        label: HumanLabel
        withdrawn_at: str
        reason: str | None

    def replace_reviewed_labels(self, origin: str, labels: Iterable[HumanLabel], *, withdraw: bool = True,
                                reason: str | None = None) -> tuple[int, list[HumanLabel]]:
        """Write the corrections `origin` holds now (each label's own origin is replaced by `origin`) and, with
        `withdraw`, move that origin's earlier corrections it no longer holds into the audit table; one
        transaction. Returns (written, withdrawn)."""
        labels = list(labels)
        keep = {h.path for h in labels}
        now = _now()
        with self.transaction():
            gone = []
            if withdraw:
                gone = [r for r in self.conn.execute(
                    "SELECT path, label, count, boxes, verified, reviewer, reviewed_at, origin FROM human_labels"
                    " WHERE origin=? ORDER BY path", (origin,)) if r[0] not in keep]
                self.conn.executemany(
                    "INSERT INTO human_label_withdrawals(path, label, count, boxes, verified, reviewer, reviewed_at,"
                    " origin, withdrawn_at, reason) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [(*r, now, reason) for r in gone])
                self.conn.executemany("DELETE FROM human_labels WHERE path=? AND origin=?",
                                      [(r[0], origin) for r in gone])
            self.conn.executemany(
                "INSERT OR REPLACE INTO human_labels(path, label, count, boxes, verified, reviewer, reviewed_at,"
                " origin) VALUES (?,?,?,?,?,?,?,?)",
                [(h.path, h.label, h.count, json.dumps(h.boxes) if h.boxes is not None else None, int(h.verified),
                  h.reviewer, h.reviewed_at, origin) for h in labels])
        return len(labels), [_human_label(r) for r in gone]

    def withdrawn_labels(self) -> list["Journal.Withdrawal"]:
        """Every withdrawn correction, oldest withdrawal first."""
        return [Journal.Withdrawal(_human_label(r[:8]), r[8], r[9]) for r in self.conn.execute(
            "SELECT path, label, count, boxes, verified, reviewer, reviewed_at, origin, withdrawn_at, reason"
            " FROM human_label_withdrawals ORDER BY rowid")]

    # == end of the review pull section ==========================================================================

    # == imports from other tools (`wildeye import`, app.importer) ==============================================
    # An imported results file is one run (its config's "import.key" names the file); importing the file again
    # replaces that run, its boxes and decisions, in one transaction. Imported human labels carry origin
    # "import:<format>:<file>": importing again replaces them, and they never overwrite a reviewer's label.

    IMPORT_ORIGIN = "import:"

    @dataclass
    class ImportTarget:
        """A media row as an import needs it: what it is and whether it can take results."""

        path: str
        kind: str | None
        status: str
        run_id: int | None
        width: int | None
        height: int | None

    def import_targets(self) -> list["Journal.ImportTarget"]:
        return [Journal.ImportTarget(*r) for r in self.conn.execute(
            "SELECT path, kind, status, run_id, width, height FROM media ORDER BY path")]

    def import_runs(self, key: str) -> list[int]:
        """Runs that imported the file `key` (see replace_imported_results)."""
        found = []
        for run_id, config in self.conn.execute("SELECT run_id, config FROM runs"):
            try:
                if (json.loads(config or "null") or {}).get("import", {}).get("key") == key:
                    found.append(int(run_id))
            except (ValueError, AttributeError):
                continue
        return found

    def replace_imported_results(self, key: str, config: dict, models: dict,
                                 done: dict[str, tuple[list[Detection], Prediction]], failed: dict[str, str],
                                 stats: dict, fingerprint: dict) -> tuple[int | None, int]:
        """Record an imported results file as one finished run, all or nothing: the runs that imported `key`
        before are removed with what they wrote (their media go back to pending, then get this file's results).
        done: per path, its boxes (each with its decision, or None) and the image decision. With nothing done or
        failed, only the earlier runs go (run_id None). Returns (run_id, runs replaced)."""
        config = {**config, "import": {**(config.get("import") or {}), "key": key}}
        now = _now()
        with self.transaction():
            old = self.import_runs(key)
            if old:
                marks = ",".join("?" * len(old))
                stale = [r[0] for r in self.conn.execute(f"SELECT path FROM media WHERE run_id IN ({marks})", old)]
                self.conn.executemany("DELETE FROM detections WHERE path=?", [(p,) for p in stale])
                self.conn.executemany("DELETE FROM decisions WHERE path=?", [(p,) for p in stale])
                self.conn.execute(f"UPDATE media SET status='pending', failure=NULL, run_id=NULL, processed_at=NULL"
                                  f" WHERE run_id IN ({marks})", old)
                self.conn.execute(f"DELETE FROM runs WHERE run_id IN ({marks})", old)
            if not done and not failed:
                return None, len(old)
            run_id = int(self.conn.execute(
                "INSERT INTO runs(started, finished, status, wildeye_version, host, pid, config, models, stats)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (now, now, "finished", __version__, socket.gethostname(), os.getpid(), json.dumps(config),
                 json.dumps(models), json.dumps(stats))).lastrowid)
            paths = [(p,) for p in list(done) + list(failed)]
            self.conn.executemany("DELETE FROM detections WHERE path=?", paths)
            self.conn.executemany("DELETE FROM decisions WHERE path=?", paths)
            box_rows, image_rows = [], []
            for path, (dets, image) in done.items():
                for i, d in enumerate(dets):
                    b = d.decision
                    sn = b.speciesnet if b else None
                    box_rows.append((path, i, d.category, d.conf, *d.bbox,
                                     json.dumps(d.classifications) if d.classifications else None,
                                     b.label if b else None, b.score if b else None, b.source if b else None,
                                     b.rank if b else None, int(b.counted) if b else None,
                                     int(b.needs_review) if b else None,
                                     json.dumps(b.review_reasons) if b else None,
                                     sn.label if sn else None, sn.score if sn else None, sn.source if sn else None))
                image_rows.append((path, image.label, image.score, image.source, int(image.needs_review),
                                   json.dumps(image.review_reasons)))
            self.conn.executemany(
                "INSERT INTO detections(path, idx, category, conf, x, y, w, h, classifications, label, score, source,"
                " rank, counted, needs_review, review_reasons, sn_label, sn_score, sn_source)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", box_rows)
            self.conn.executemany(
                "INSERT INTO decisions(path, label, score, source, needs_review, review_reasons) VALUES (?,?,?,?,?,?)",
                image_rows)
            self.conn.executemany("UPDATE media SET status='done', failure=NULL, run_id=?, processed_at=? WHERE path=?",
                                  [(run_id, now, p) for p in done])
            self.conn.executemany("UPDATE media SET status='failed', failure=?, run_id=?, processed_at=? WHERE path=?",
                                  [(reason, run_id, now, p) for p, reason in failed.items()])
            self.set_meta("fingerprint", fingerprint)
        return run_id, len(old)

    def replace_imported_labels(self, origin: str, labels: Iterable[HumanLabel]) -> dict[str, int]:
        """Human labels from an imported file (all with `origin`), all or nothing: that file's earlier labels
        are dropped first; a frame that holds a label from anywhere but an import (a reviewer's, in the App)
        keeps it. Returns written, replaced (the file's earlier labels) and kept (reviewers' labels kept)."""
        labels = list(labels)
        with self.transaction():
            replaced = self.conn.execute("DELETE FROM human_labels WHERE origin=?", (origin,)).rowcount
            existing = dict(self.conn.execute("SELECT path, origin FROM human_labels"))
            kept = [h for h in labels if h.path in existing
                    and not (existing[h.path] or "").startswith(Journal.IMPORT_ORIGIN)]
            kept_paths = {h.path for h in kept}
            rows = [(h.path, h.label, h.count, json.dumps(h.boxes) if h.boxes is not None else None, int(h.verified),
                     h.reviewer, h.reviewed_at, origin) for h in labels if h.path not in kept_paths]
            self.conn.executemany(
                "INSERT OR REPLACE INTO human_labels(path, label, count, boxes, verified, reviewer, reviewed_at,"
                " origin) VALUES (?,?,?,?,?,?,?,?)", rows)
        return {"written": len(rows), "replaced": replaced, "kept": len(kept)}

    # == end of the imports section ==============================================================================


    # == static detections (inference.static): the marks are computed once, after each run; readers use them =====

    def replace_static(self, clusters: Iterable[StaticCluster]) -> None:
        """The deployment clusters of the whole journal (replacing the earlier ones) and their boxes; reviewers'
        answers (static_reviews) are never touched."""
        clusters = list(clusters)
        with self.transaction():
            self.conn.execute("DELETE FROM static_clusters")
            self.conn.execute("DELETE FROM static_boxes")
            self.conn.executemany(
                "INSERT INTO static_clusters(deployment_id, cluster_id, category, anchor, mean_box, frames, sequences,"
                " days, first_seen, last_seen, mean_conf, static) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(c.deployment_id, c.cluster_id, c.category, json.dumps(list(c.anchor)),
                  json.dumps(list(c.mean_box)) if c.mean_box else None, c.frames, c.sequences, c.days,
                  c.first_seen, c.last_seen, c.mean_conf, int(c.static)) for c in clusters])
            self.conn.executemany(
                "INSERT OR REPLACE INTO static_boxes(path, idx, deployment_id, cluster_id) VALUES (?,?,?,?)",
                [(path, idx, c.deployment_id, c.cluster_id) for c in clusters for path, idx in c.members])

    def static_clusters(self) -> list[StaticCluster]:
        """Every stored cluster with its evidence and members (deployment, then most frames first)."""
        members: dict[tuple[str, str], list[tuple[str, int]]] = {}
        for path, idx, deployment_id, cid in self.conn.execute(
                "SELECT path, idx, deployment_id, cluster_id FROM static_boxes ORDER BY path, idx"):
            members.setdefault((deployment_id, cid), []).append((path, idx))
        result = []
        for row in self.conn.execute(
                "SELECT deployment_id, cluster_id, category, anchor, mean_box, frames, sequences, days, first_seen,"
                " last_seen, mean_conf, static FROM static_clusters ORDER BY deployment_id, frames DESC, cluster_id"):
            result.append(StaticCluster(row[0], row[1], row[2], tuple(json.loads(row[3])),
                                        members.get((row[0], row[1]), []), row[5], row[6], row[7], row[8], row[9],
                                        tuple(json.loads(row[4])) if row[4] else None, row[10], bool(row[11])))
        return result

    def static_marks(self) -> dict[tuple[str, int], StaticMark]:
        """(path, box index) -> the box's static mark. A box is suppressed (left out of decisions, events and the
        review queue) when its cluster is static and no reviewer said it is a real animal, or when a reviewer
        confirmed it static."""
        return {(r[0], r[1]): StaticMark(r[2], r[3], r[5] != STATIC_REAL_ANIMAL and (bool(r[4]) or r[5] is not None),
                                         r[5])
                for r in self.conn.execute(
                    "SELECT b.path, b.idx, b.deployment_id, b.cluster_id, c.static, r.answer FROM static_boxes b"
                    " JOIN static_clusters c ON c.deployment_id=b.deployment_id AND c.cluster_id=b.cluster_id"
                    " LEFT JOIN static_reviews r ON r.deployment_id=b.deployment_id AND r.cluster_id=b.cluster_id")}

    def record_static_reviews(self, reviews: Iterable[StaticReview]) -> int:
        """Reviewers' answers per deployment + cluster (a later answer replaces an earlier one)."""
        rows = [(r.deployment_id, r.cluster_id, r.category, json.dumps(list(r.anchor)), r.answer, r.reviewer,
                 r.reviewed_at or _now(), r.origin) for r in reviews]
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO static_reviews(deployment_id, cluster_id, category, anchor, answer, reviewer,"
                " reviewed_at, origin) VALUES (?,?,?,?,?,?,?,?)", rows)
        return len(rows)

    def static_reviews(self) -> list[StaticReview]:
        return [StaticReview(r[0], r[1], r[2], tuple(json.loads(r[3])), r[4], r[5], r[6], r[7])
                for r in self.conn.execute(
                    "SELECT deployment_id, cluster_id, category, anchor, answer, reviewer, reviewed_at, origin"
                    " FROM static_reviews ORDER BY deployment_id, cluster_id")]


    # == videos (app.video): sampled frames committed batch by batch, then the best frame's boxes are the video's ==

    @dataclass
    class VideoRecord:
        """A video's decode facts and sampling, and the frame whose boxes are its detections (None: not done)."""

        path: str
        frame_rate: float | None
        frame_count: int | None
        width: int | None
        height: int | None
        every_n_frames: int
        best_frame: int | None

    @dataclass
    class VideoFrame:
        """One sampled frame of a video with its boxes (classifications, no decision: the video's decision is its
        best frame's, in `detections`)."""

        number: int
        time: float | None
        detections: list[Detection]

    def start_video(self, path: str, frame_rate: float | None, frame_count: int | None, width: int | None,
                    height: int | None, every_n_frames: int) -> set[int]:
        """Register a video about to be read; returns the frames already committed (a resumed run skips them).
        Frames sampled with another step, or read from other content (the file changed), are dropped."""
        with self.transaction():
            content = self.conn.execute("SELECT content_hash FROM media WHERE path=?", (path,)).fetchone()
            content = content[0] if content else None
            row = self.conn.execute("SELECT every_n_frames, content_hash FROM videos WHERE path=?",
                                    (path,)).fetchone()
            if row is not None and (row[0] != every_n_frames or row[1] != content):
                self.conn.execute("DELETE FROM video_frames WHERE path=?", (path,))
                self.conn.execute("DELETE FROM frame_detections WHERE path=?", (path,))
            self.conn.execute(
                "INSERT OR REPLACE INTO videos(path, frame_rate, frame_count, width, height, every_n_frames,"
                " best_frame, content_hash) VALUES (?,?,?,?,?,?,NULL,?)",
                (path, frame_rate, frame_count, width, height, every_n_frames, content))
            return {r[0] for r in self.conn.execute("SELECT frame FROM video_frames WHERE path=?", (path,))}

    def record_video_frames(self, run_id: int, path: str,
                            frames: dict[int, tuple[float | None, list[Detection]]]) -> None:
        """One batch of a video's sampled frames (frame number -> (seconds, boxes)), all or nothing; a frame
        recorded again replaces its boxes (never duplicates)."""
        with self.transaction():
            keys = [(path, number) for number in frames]
            self.conn.executemany("DELETE FROM frame_detections WHERE path=? AND frame=?", keys)
            self.conn.executemany(
                "INSERT INTO frame_detections(path, frame, idx, category, conf, x, y, w, h, classifications)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(path, number, i, d.category, d.conf, *d.bbox,
                  json.dumps(d.classifications) if d.classifications else None)
                 for number, (_, dets) in frames.items() for i, d in enumerate(dets)])
            self.conn.executemany("INSERT OR REPLACE INTO video_frames(path, frame, time, run_id) VALUES (?,?,?,?)",
                                  [(path, number, t, run_id) for number, (t, _) in frames.items()])

    def finish_video(self, run_id: int, path: str, best_frame: int) -> None:
        """The video is done: its best frame's boxes become its rows in `detections` (decided later, as a still's),
        its size the decoder's; one transaction."""
        now = _now()
        with self.transaction():
            self.conn.execute("DELETE FROM detections WHERE path=?", (path,))
            self.conn.execute(
                "INSERT INTO detections(path, idx, category, conf, x, y, w, h, classifications)"
                " SELECT path, idx, category, conf, x, y, w, h, classifications FROM frame_detections"
                " WHERE path=? AND frame=? ORDER BY idx", (path, best_frame))
            self.conn.execute("UPDATE videos SET best_frame=? WHERE path=?", (best_frame, path))
            self.conn.execute(
                "UPDATE media SET status='done', failure=NULL, run_id=?, processed_at=?,"
                " width=COALESCE((SELECT width FROM videos WHERE videos.path=media.path), width),"
                " height=COALESCE((SELECT height FROM videos WHERE videos.path=media.path), height)"
                " WHERE path=?", (run_id, now, path))

    def videos(self) -> dict[str, "Journal.VideoRecord"]:
        return {r[0]: Journal.VideoRecord(*r) for r in self.conn.execute(
            "SELECT path, frame_rate, frame_count, width, height, every_n_frames, best_frame FROM videos"
            " ORDER BY path")}

    def video_frames(self, path: str | None = None) -> dict[str, list["Journal.VideoFrame"]]:
        """Every committed sampled frame by video (of one video with `path`), in frame order, with its boxes."""
        where, args = (" WHERE path=?", (path,)) if path is not None else ("", ())
        boxes: dict[tuple[str, int], list[Detection]] = {}
        for p, number, category, conf, x, y, w, h, cls in self.conn.execute(
                "SELECT path, frame, category, conf, x, y, w, h, classifications FROM frame_detections" + where
                + " ORDER BY path, frame, idx", args):
            boxes.setdefault((p, number), []).append(
                Detection(category, conf, (x, y, w, h), [tuple(c) for c in json.loads(cls)] if cls else []))
        result: dict[str, list[Journal.VideoFrame]] = {}
        for p, number, t in self.conn.execute("SELECT path, frame, time FROM video_frames" + where
                                              + " ORDER BY path, frame", args):
            result.setdefault(p, []).append(Journal.VideoFrame(number, t, boxes.get((p, number), [])))
        return result

    def media_kinds(self) -> dict[str, str]:
        """path -> kind (image | video) of every media row."""
        return dict(self.conn.execute("SELECT path, kind FROM media"))


class _Transaction:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, *_):
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _connect(path: Path, check: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        if check:  # a writer first makes sure it is not building on a damaged file
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                raise sqlite3.DatabaseError(f"database disk image is malformed ({result})")
        conn.executescript(SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("malformed", "not a database", "disk image", "file is encrypted"))


def _recover(path: Path, exc: Exception) -> sqlite3.Connection:
    """Keep the damaged file for inspection, start a fresh journal, and carry over what a human did.

    Model results are cheap to redo (the run redoes them); reviewers' corrections are not, so every
    readable human_labels row is salvaged.
    """
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    damaged = path.with_name(f"{path.stem}.damaged-{stamp}{path.suffix}")
    os.replace(path, damaged)
    for suffix in ("-wal", "-shm"):
        side = Path(str(path) + suffix)
        if side.exists():
            os.replace(side, Path(str(damaged) + suffix))
    salvaged = _salvage_human_labels(damaged)
    logger.warning("run journal %s was damaged (%s): kept as %s; starting afresh with %d human labels salvaged",
                   path, exc, damaged.name, len(salvaged))
    conn = _connect(path, check=False)
    conn.executemany("INSERT OR REPLACE INTO human_labels(path, label, count, boxes, verified, reviewer, reviewed_at,"
                     " origin) VALUES (?,?,?,?,?,?,?,?)", salvaged)
    # reviewers' static/real-animal answers too (page by page, one per deployment survives: best effort)
    conn.executemany("INSERT OR REPLACE INTO static_reviews(deployment_id, cluster_id, category, anchor, answer,"
                     " reviewer, reviewed_at, origin) VALUES (?,?,?,?,?,?,?,?)", _salvage_static_reviews(damaged))
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('recovered_from', ?)", (json.dumps(damaged.name),))
    return conn


def _salvage_human_labels(damaged: Path) -> list[tuple]:
    """Read human_labels from a damaged journal wherever its pages survive (SQLite first, then page by page).

    A row whose boxes are not JSON (an overflow page reused for something else) is dropped, not carried over.
    """
    rows = []
    for row in salvage_rows(damaged, SCHEMA, "human_labels"):
        try:
            if row[3] is not None:
                json.loads(row[3])
        except ValueError:
            logger.warning("salvaged human label for %s has unreadable boxes: dropped", row[0])
            continue
        rows.append(row)
    return rows


def _salvage_static_reviews(damaged: Path) -> list[tuple]:
    """Readable static_reviews rows of a damaged journal (anchor JSON intact); never fails the recovery."""
    try:
        rows = salvage_rows(damaged, SCHEMA, "static_reviews")
    except Exception as exc:  # noqa: BLE001  (a damaged page must not cost the human labels already salvaged)
        logger.warning("static review answers not salvaged: %s", exc)
        return []
    good = []
    for row in rows:
        try:
            if len(json.loads(row[3])) == 4:
                good.append(row)
        except (TypeError, ValueError):
            continue
    return good


def _acquire_lock(folder: Path, wait: bool) -> int:
    """An exclusive POSIX record lock on OUT/journal.lock (see the module docstring for why not flock).

    With `wait`, says once on stderr whom it waits for, then blocks until the holder finishes or dies.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if str(folder.resolve()) in _HELD.values():  # POSIX locks never conflict within one process: check here
        raise JournalLocked(f"{folder} is already open for writing in this process (pid {os.getpid()})",
                            "close it first")
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EAGAIN):
            os.close(fd)
            raise
        holder = _holder(fd)
        if not wait:
            os.close(fd)
            raise JournalLocked(f"another wildeye run is using {folder} ({holder})",
                                "wait for it to finish, or pass --wait to queue behind it") from None
        logger.warning("waiting for the run holding %s (%s)", folder, holder)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {_now()}".encode(), 0)
    _HELD[fd] = str(folder.resolve())
    return fd


def _holder(fd: int) -> str:
    text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    return text or "another process"


def is_locked(folder: str | Path) -> str | None:
    """Who holds the journal lock of a run folder (a run in progress), or None; takes and drops no lock.

    A POSIX lock dies with any close of the file in its process, so this process's own lock is answered from
    memory without opening the file."""
    if str(Path(folder).resolve()) in _HELD.values():
        return f"pid {os.getpid()} (this process)"
    path = Path(folder) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        probe = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        owner = fcntl.fcntl(fd, fcntl.F_GETLK, probe)
        kind = struct.unpack("hhqqi", owner)[0]
        return _holder(fd) if kind != fcntl.F_UNLCK else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _release_lock(fd: int | None) -> None:
    if fd is not None:
        _HELD.pop(fd, None)
        os.close(fd)  # closing the descriptor releases the process's record lock


def _human_label(row) -> HumanLabel:
    """A human_labels row (path, label, count, boxes, verified, reviewer, reviewed_at, origin) as a HumanLabel."""
    return HumanLabel(row[0], row[1], row[2], json.loads(row[3]) if row[3] else None, bool(row[4]), row[5], row[6],
                      row[7])


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def iter_chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]

