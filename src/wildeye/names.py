"""File names as wildeye records them: always valid Unicode, reversible to the bytes on the card.

Python gives a name that is not valid UTF-8 (b"bad\\xffname.jpg", common on cards written by cameras or copied
from other systems) as a str with lone surrogates, which JSON, SQLite and FiftyOne cannot store. wildeye records
such a name with each undecodable byte written as ``\\xNN`` and turns it back before touching the file.
"""

from __future__ import annotations

import re

_ESCAPE = re.compile(r"\\x([89a-f][0-9a-f])")
_SURROGATE = re.compile("[\udc80-\udcff]")


def record_name(fs: str) -> str:
    """The recorded form of a name from os.scandir/os.listdir: valid names unchanged, bad bytes as \\xNN."""
    if not _SURROGATE.search(fs):
        return fs
    return _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", fs)


def fs_name(record: str) -> str:
    """The name open()/os.stat accept for a recorded name (the reverse of record_name).

    Only \\xNN escapes of bytes >= 0x80 are decoded: a name literally containing such text is the one ambiguity.
    """
    if not _ESCAPE.search(record):
        return record
    return _ESCAPE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), record)
