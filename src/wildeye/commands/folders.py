"""Checks on the folders a command is given, before anything runs: each answers with its own exit code."""

from __future__ import annotations

import errno
from pathlib import Path

from wildeye.errors import NothingToDo, WildeyeError, WriteFailed

_WRITE_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


def check_source(source: Path) -> None:
    """A missing source is 'nothing to do' (exit 5), not a usage error: a nightly job's card is not mounted."""
    if not source.exists():
        raise NothingToDo(f"source folder {source} does not exist", "check that the card is mounted and the path is right")
    if not source.is_dir():
        raise WildeyeError(f"source {source} is not a folder", "pass the folder holding the card's files")


def ensure_writable(folder: Path) -> None:
    """Results that cannot be written exit 4 (read-only card, full disk), as the README documents; a path through
    a file is a usage error (2)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".wildeye-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        error = WriteFailed if exc.errno in _WRITE_ERRNOS else WildeyeError
        raise error(f"cannot write to {folder}: {exc.strerror or exc}", "pass --out with a writable folder") from None
