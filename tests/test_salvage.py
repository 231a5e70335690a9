"""Reviewers' labels come back from a damaged journal wherever their pages survive (store.salvage)."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3

import pytest

from wildeye.records import Detection
from wildeye.store.journal import JOURNAL_NAME, SCHEMA, HumanLabel, Journal
from wildeye.store.salvage import colliding_tables, salvage_rows, table_shapes

from test_journal import media

PAGE = 4096  # SQLite's default, what Journal.open makes
LONG_BOXES = [{"label": "snow leopard", "bbox": [0.1 + i / 1000, 0.2, 0.3, 0.4]} for i in range(300)]  # ~20 KB


def label(i: int, **kw) -> HumanLabel:
    base = dict(path=f"cam{i % 3}/IMG_{i:04d}.JPG", label=["snow leopard", "blue sheep", "blank"][i % 3],
                count=i % 4 or None, boxes=[{"label": "snow leopard", "bbox": [0.1, 0.2, 0.3, 0.4]}] if i % 2 else None,
                verified=bool(i % 5), reviewer=f"reviewer-{i % 4}", reviewed_at=f"2024-06-01T10:{i % 60:02d}:00+05:45",
                origin="fiftyone:snowleopard-2024-spring-survey-upper-mustang")
    return HumanLabel(**{**base, **kw})


def as_row(h: HumanLabel) -> tuple:
    return (h.path, h.label, h.count, json.dumps(h.boxes) if h.boxes is not None else None, int(h.verified),
            h.reviewer, h.reviewed_at, h.origin)


def build(folder, labels: list[HumanLabel]) -> dict[str, tuple]:
    """A real journal with media, detections and `labels`; returns the rows expected back, by path."""
    with Journal.open(folder) as j:
        j.add_media([media(f"cam{i % 3}/IMG_{i:04d}.JPG") for i in range(400)])
        run = j.start_run({}, {})
        box = Detection("animal", 0.9, (0.1, 0.2, 0.3, 0.4), [("snow leopard", 0.97)])
        j.record_batch(run, {f"cam{i % 3}/IMG_{i:04d}.JPG": [box, box] for i in range(300)}, {})
        j.record_human_labels(labels)
    return {h.path: as_row(h) for h in labels}


@pytest.fixture
def journal(tmp_path):
    """60 labels over several pages, one with boxes long enough to overflow onto a chain of pages."""
    labels = [label(i) for i in range(60)] + [label(60, boxes=LONG_BOXES)]
    expected = build(tmp_path, labels)
    path = tmp_path / JOURNAL_NAME
    pages = _label_pages(path)
    assert len(pages["leaf"]) >= 3 and len(pages["overflow"]) >= 3  # the test covers what it says it covers
    return path, expected, pages


def _label_pages(path) -> dict[str, list[int]]:
    """human_labels' leaf and overflow pages, as SQLite itself (dbstat) reports them on the intact file."""
    conn = sqlite3.connect(path)
    pages = {"leaf": [], "overflow": [], "all": []}
    for pageno, kind in conn.execute("SELECT pageno, pagetype FROM dbstat WHERE name='human_labels'"):
        pages.setdefault(kind, []).append(pageno)
        pages["all"].append(pageno)
    conn.close()
    return pages


def salvage(path) -> dict[str, tuple]:
    rows = salvage_rows(path, SCHEMA, "human_labels")
    result = {row[0]: row for row in rows}
    assert len(result) == len(rows), "one row per path"
    return result


def overwrite(path, offset: int, size: int, seed: int = 0) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(random.Random(seed).randbytes(size))


def sqlite_refuses(path) -> bool:
    try:
        conn = sqlite3.connect(path)
        conn.execute("SELECT * FROM human_labels").fetchall()
        conn.close()
        return False
    except sqlite3.DatabaseError:
        return True


def test_human_labels_shape_matches_no_other_table():
    shapes = table_shapes(SCHEMA)
    assert len(shapes["human_labels"]) == 8
    assert colliding_tables(shapes, "human_labels") == []


def test_header_garbage(journal):
    path, expected, _ = journal
    overwrite(path, 0, 100)
    assert sqlite_refuses(path)
    assert salvage(path) == expected


def test_schema_page_overwritten(journal):
    path, expected, _ = journal
    overwrite(path, 0, PAGE)
    assert sqlite_refuses(path)
    assert salvage(path) == expected


def test_truncated_file_gives_back_the_surviving_labels_and_invents_none(journal):
    path, expected, pages = journal
    leaves = sorted(pages["leaf"])
    cut = leaves[len(leaves) // 2]  # the first page lost
    data = path.read_bytes()
    path.write_bytes(data[:(cut - 1) * PAGE + PAGE // 2])
    survivors = {}
    for pageno in leaves:
        if pageno < cut:
            page = data[(pageno - 1) * PAGE:pageno * PAGE]
            survivors.update({p: row for p, row in expected.items() if p.encode() in page})
    long_path = label(60).path
    if long_path in survivors and max(pages["overflow"]) >= cut:
        del survivors[long_path]  # its overflow chain is cut: skipped, not half-read
    assert 0 < len(survivors) < len(expected)
    assert salvage(path) == survivors


def test_labels_only_in_the_wal(journal, tmp_path):
    path, expected, _ = journal
    # two small corrections that leave page 1 alone, so even with the -wal SQLite has no good copy of it;
    # the second one changes label 40 again: its later frame wins, even with an earlier reviewed_at
    first = [label(100, origin="r"), label(40, label="wolf", reviewed_at="2024-07-02T09:00:00+05:45")]
    second = [label(101, origin="r"), label(40, label="lynx", reviewed_at="2024-07-01T09:00:00+05:45")]
    copy = tmp_path / "copy"
    copy.mkdir()
    with Journal.open(path.parent) as j:
        j.record_human_labels(first)
        j.record_human_labels(second)
        # while the journal is open nothing is checkpointed: the new labels are only in the -wal
        shutil.copyfile(path, copy / JOURNAL_NAME)
        shutil.copyfile(str(path) + "-wal", copy / (JOURNAL_NAME + "-wal"))
    damaged = copy / JOURNAL_NAME
    main_only = sqlite3.connect(f"file:{damaged}?immutable=1", uri=True)
    assert main_only.execute("SELECT COUNT(*) FROM human_labels").fetchone()[0] == len(expected)
    main_only.close()
    overwrite(damaged, 0, 100)
    assert sqlite_refuses(damaged)  # with its -wal beside it
    expected.update({h.path: as_row(h) for h in first + second})
    assert salvage(damaged) == expected


def test_updated_label_newer_value_wins(tmp_path):
    labels = [label(i) for i in range(60)]
    expected = build(tmp_path, labels)
    path = tmp_path / JOURNAL_NAME
    updated = [label(i, label="wolf", reviewer="karma") for i in range(0, 60, 2)]  # same reviewed_at
    updated += [label(1, label="lynx", reviewed_at="2024-08-01T00:00:00+05:45")]
    with Journal.open(tmp_path) as j:
        j.conn.execute("PRAGMA secure_delete=OFF")  # freed space keeps old rows, as on most SQLite builds
        j.record_human_labels(updated)
    expected.update({h.path: as_row(h) for h in updated})
    overwrite(path, 0, 100)
    assert salvage(path) == expected


def test_garbage_pages_never_crash_and_invent_nothing(journal):
    path, expected, pages = journal
    intact = path.read_bytes()
    count = len(intact) // PAGE
    others = [n for n in range(2, count + 1) if n not in pages["all"]]
    for seed in range(20):
        rng = random.Random(seed)
        data = bytearray(intact)
        data[:100] = rng.randbytes(100)
        for pageno in rng.sample(others, 8):
            page = bytearray(rng.randbytes(PAGE))
            if rng.random() < 0.7:  # a plausible table-leaf header with wild cell pointers and cells
                page[0], page[3:5] = 0x0D, rng.randrange(0, 200).to_bytes(2, "big")
                page[5:7] = rng.randrange(0, PAGE).to_bytes(2, "big")
            data[(pageno - 1) * PAGE:pageno * PAGE] = page
        path.write_bytes(bytes(data))
        assert salvage(path) == expected  # the labels' own pages are intact
        # and garbage over the labels' pages too: whatever comes back is a real label, never a crash
        for pageno in rng.sample(pages["all"], 2):
            data[(pageno - 1) * PAGE:pageno * PAGE] = rng.randbytes(PAGE)
        path.write_bytes(bytes(data))
        assert all(expected[p] == row for p, row in salvage(path).items())
    for junk in (b"", b"SQLite format 3\x00", random.Random(1).randbytes(3 * PAGE + 17)):
        path.write_bytes(junk)
        assert salvage(path) == {}


def test_journal_open_recovers_all_labels_from_a_header_damaged_journal(journal):
    path, expected, _ = journal
    overwrite(path, 0, 100)
    with Journal.open(path.parent) as j:
        recovered = j.get_meta("recovered_from")
        assert recovered.startswith("journal.damaged-") and (path.parent / recovered).exists()
        assert {p: as_row(h) for p, h in j.human_labels().items()} == expected
        assert len(expected) > 10 and j.counts() == {}
