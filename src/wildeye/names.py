"""File names as wildeye records them, and back: a card's names are bytes, wildeye's records are text.

Cards written by cameras or old systems can hold names that are not valid UTF-8 (``bad<0xFF>name.jpg``).
Python hands those over as ``str`` with lone surrogates (PEP 383 "surrogateescape"), which JSON, SQLite and
FiftyOne refuse. So everything wildeye writes (manifest, journal, CSV, JSON, FiftyOne) holds the *record
name*: valid Unicode, each byte that is not valid UTF-8 written as the four characters ``\\xNN`` (two lowercase
hex digits). Valid names are recorded unchanged, so for them nothing changes anywhere.

To open or stat a file from its record, use ``fs_name`` (or ``media_path`` under a root folder).

The one ambiguity: a name that literally contains the text ``\\xNN`` with NN >= 80 reads back as that byte. Only
a card that also holds the byte-named twin (``bad\\xffname.jpg`` as text beside ``bad<0xFF>name.jpg``) is
affected: the walker keeps the literal one and reports the other, and ``media_path`` prefers a file literally
named like the record when one exists.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_HIGH_ESCAPE = re.compile(r"\\x([89a-f][0-9a-f])")  # only bytes >= 0x80 can be invalid UTF-8


def record_name(fs_name: str) -> str:
    """The name as wildeye records it: `fs_name` itself when valid Unicode, else with `\\xNN` for each bad byte."""
    try:
        fs_name.encode("utf-8")
        return fs_name
    except UnicodeEncodeError:
        pass
    return os.fsencode(fs_name).decode("utf-8", "backslashreplace")


def fs_name(record: str) -> str:
    """The `str` that `open()` and `os.stat` accept for a record name (lone surrogates for bad bytes)."""
    if not needs_decoding(record):
        return record
    raw = bytearray()
    last = 0
    for match in _HIGH_ESCAPE.finditer(record):
        raw += record[last:match.start()].encode("utf-8")
        raw.append(int(match.group(1), 16))
        last = match.end()
    raw += record[last:].encode("utf-8")
    return os.fsdecode(bytes(raw))


def needs_decoding(record: str) -> bool:
    """Whether the record holds a `\\xNN` escape (NN >= 80), so that its file name on disk may differ."""
    return _HIGH_ESCAPE.search(record) is not None


def media_path(root: str | Path, record: str) -> Path:
    """The file a record (relative to `root`) names on disk; a file literally named like the record wins."""
    literal = Path(root) / record
    if not needs_decoding(record) or os.path.lexists(literal):
        return literal
    return Path(root) / fs_name(record)
