"""Fetching models over HTTP: resumable, verified, placed atomically, and quick to give up when offline.

The bytes go to NAME.part beside the destination. An interrupted transfer keeps the .part and the next attempt asks
for the rest with an HTTP Range request (a server that ignores Range gets a fresh start). Only a complete file
whose size and checksum are right is renamed to NAME; a wrong checksum deletes the .part, so nothing bad is left to
be loaded later. Offline is the usual case in the field: a refused or unanswered connection fails within `timeout`
with a message saying how to import a file obtained elsewhere.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from wildeye import __version__
from wildeye.atomic import fsync_dir
from wildeye.errors import WildeyeError
from wildeye.models.cache import LOCKS_DIR, ModelCache, disk_size, file_digests, file_lock, unpack_archive_atomic
from wildeye.models.kinds import check_checkpoint_format, sniff_archive
from wildeye.models.registry import ModelSpec, Registry, import_hint

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15.0  # seconds without a byte before giving up: long enough for a slow link, short offline
DEFAULT_RETRIES = 2  # automatic resumes after a dropped connection, within one call
RETRY_DELAY_S = 1.0
CHUNK = 1 << 20
USER_AGENT = f"wildeye/{__version__}"

Progress = Callable[[int, "int | None"], None]


class DownloadError(WildeyeError):
    """The file could not be fetched; `offline` when no server answered at all."""

    def __init__(self, problem: str, fix: str | None = None, *, reason: str = "", offline: bool = False,
                 part: Path | None = None, done: int = 0, total: int | None = None):
        super().__init__(problem, fix)
        self.reason = reason or problem
        self.offline = offline
        self.part = part
        self.done = done
        self.total = total


class ChecksumError(DownloadError):
    """The whole file arrived but is not the published one; it was deleted."""


class _Interrupted(Exception):
    def __init__(self, done: int, total: int | None, reason: str):
        super().__init__(reason)
        self.done, self.total, self.reason = done, total, reason


def download(url: str, dest: str | os.PathLike, *, md5: str | None = None, sha256: str | None = None,
             size: int | None = None, timeout: float | None = None, retries: int = DEFAULT_RETRIES,
             retry_delay: float = RETRY_DELAY_S, progress: Progress | None = None,
             check: Callable[[Path], object] | None = None) -> Path:
    """Fetch `url` to `dest` (resuming DEST.part if present); verify size, md5, sha256 and `check`; rename into place."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    with file_lock(dest.parent / LOCKS_DIR / f"{dest.name}.lock"):
        attempt = 0
        while True:
            try:
                _fetch(url, part, timeout, progress)
                break
            except _Interrupted as exc:
                if attempt >= retries:
                    got = f"{exc.done:,} of {exc.total:,}" if exc.total else f"{exc.done:,}"
                    raise DownloadError(f"download of {url} was interrupted after {got} bytes: {exc.reason}",
                                        f"run the same command again to resume from {part}",
                                        reason=f"interrupted after {got} bytes ({exc.reason})",
                                        part=part if part.exists() else None, done=exc.done, total=exc.total) from None
                attempt += 1
                log.warning("download of %s interrupted after %s bytes (%s); resuming (retry %d of %d)",
                            url, f"{exc.done:,}", exc.reason, attempt, retries)
                time.sleep(retry_delay * attempt)
            except OSError as exc:  # writing the .part: disk full, permissions
                raise WildeyeError(f"cannot write {part}: {exc.strerror or exc}",
                                   "free some space, or pass --cache-dir / set WILDEYE_CACHE_DIR elsewhere") from None
        _verify(url, part, md5=md5, sha256=sha256, size=size, check=check)
        os.replace(part, dest)
        fsync_dir(dest.parent)  # the rename survives a power cut
    return dest


def _fetch(url: str, part: Path, timeout: float, progress: Progress | None) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = _opener(url).open(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        content_range = exc.headers.get("Content-Range") if exc.headers else None
        exc.close()
        if exc.code == 416 and have:
            total = _range_total(content_range)
            if total == have:
                return  # the .part was already whole: an earlier run died between the last byte and the rename
            part.unlink(missing_ok=True)
            raise _Interrupted(0, total, "the partial download did not fit the file on the server; starting over")
        raise DownloadError(f"could not download {url}: HTTP {exc.code} {exc.reason}",
                            "check the url, or get the file another way", reason=f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = _reason(exc, timeout)
        raise DownloadError(f"could not download {url}: {reason}", "check the internet connection",
                            reason=reason, offline=True) from None

    with response:
        total = None
        if have and response.status == 206:
            start, total = _range_start(response.headers.get("Content-Range"))
            if start != have:
                part.unlink(missing_ok=True)
                raise _Interrupted(0, total, f"server resumed at byte {start}, not {have}; starting over")
            mode, done = "ab", have
        else:
            if have:
                log.info("%s ignored the Range request; downloading from the start", urllib.parse.urlsplit(url).netloc)
            mode, done = "wb", 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if progress:
            progress(done, total)
        with open(part, mode) as f:
            while True:
                try:
                    block = response.read(CHUNK)
                except (http.client.HTTPException, OSError) as exc:
                    raise _Interrupted(done, total, _reason(exc, timeout)) from None
                if not block:
                    break
                f.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
            f.flush()
            os.fsync(f.fileno())
    if total is not None and done < total:
        raise _Interrupted(done, total, "the server closed the connection early")


def _verify(url: str, part: Path, *, md5, sha256, size, check) -> None:
    problems = []
    got_size = part.stat().st_size
    if size is not None and got_size != size:
        problems.append(f"size {got_size:,} bytes, expected {size:,}")
    if md5 or sha256:
        digests = file_digests(part)
        if md5 and digests["md5"] != md5.lower():
            problems.append(f"md5 {digests['md5']}, expected {md5.lower()}")
        if sha256 and digests["sha256"] != sha256.lower():
            problems.append(f"sha256 {digests['sha256']}, expected {sha256.lower()}")
    if problems:
        part.unlink(missing_ok=True)
        raise ChecksumError(f"the file downloaded from {url} is not the published one ({'; '.join(problems)}); "
                            "it was deleted", "try again; if it fails again, the file on the server changed or "
                            "something on the way altered it", reason="; ".join(problems))
    if check is not None:
        try:
            check(part)
        except WildeyeError as exc:
            part.unlink(missing_ok=True)
            raise ChecksumError(f"the file downloaded from {url}: {exc.problem}; it was deleted",
                                exc.fix, reason=exc.problem) from None


def _opener(url: str) -> urllib.request.OpenerDirector:
    """The default opener (honours http(s)_proxy), except that loopback hosts never go through a proxy."""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return urllib.request.build_opener(urllib.request.ProxyHandler({})) if loopback else urllib.request.build_opener()


def _reason(exc: BaseException, timeout: float) -> str:
    inner = getattr(exc, "reason", exc) if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(inner, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout:g} s (offline?)"
    if isinstance(inner, socket.gaierror):
        return "the server name could not be looked up (offline?)"
    if isinstance(inner, ConnectionRefusedError):
        return "connection refused (offline, or nothing listening there)"
    if isinstance(inner, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "the connection was dropped"
    if isinstance(inner, OSError) and inner.strerror:
        return inner.strerror[0].lower() + inner.strerror[1:]
    return str(inner) or type(inner).__name__


def _range_start(header: str | None) -> tuple[int | None, int | None]:
    match = re.match(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)", header or "")
    if not match:
        return None, None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), total


def _range_total(header: str | None) -> int | None:
    match = re.match(r"\s*bytes\s+\*/(\d+)", header or "")
    return int(match.group(1)) if match else None


@contextmanager
def progress_bar(description: str, enabled: bool = True):
    """Yields a callback(done_bytes, total_bytes), drawn on stderr only when it is a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    columns = [TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn()]
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


# --- pulling a registry model into the cache -------------------------------------------------------------------------

@dataclass
class PullResult:
    spec: ModelSpec
    path: Path
    downloaded: bool  # False: it was already in the cache
    size: int
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.spec.name, "kind": self.spec.kind, "path": str(self.path), "downloaded": self.downloaded,
                "size": self.size, "md5": self.spec.md5, "sha256": self.spec.sha256,
                "verified_by": self.spec.verified_by, "warnings": self.warnings}


def pull(model: str | ModelSpec, *, cache: ModelCache | None = None, registry: Registry | None = None,
         force: bool = False, timeout: float | None = None, retries: int = DEFAULT_RETRIES,
         progress: Progress | bool | None = None) -> PullResult:
    """Make a registry model present in the cache, downloading it if needed (or always, with force)."""
    cache = cache or ModelCache()
    spec = model if isinstance(model, ModelSpec) else (registry or Registry(cache)).get(model)
    existing = cache.cached_path(spec)
    if existing is not None and not force:
        return PullResult(spec, existing, False, disk_size(existing))
    if not spec.url:
        where = f" (its file {cache.path_for(spec)} is gone)" if spec.source == "imported" else ""
        raise WildeyeError(f"model {spec.name} has no download url{where}", f"run '{import_hint(spec)}'")
    cache.ensure_writable()
    bar = progress_bar(f"{spec.name}", enabled=True) if progress is True else nullcontext(progress or None)
    warnings: list[str] = []
    with cache.lock(spec.name), bar as on_progress:
        try:
            if spec.archive:
                archive = cache.download_path(spec)
                download(spec.url, archive, md5=spec.md5, sha256=spec.sha256, size=spec.size, timeout=timeout,
                         retries=retries, progress=on_progress, check=sniff_archive)
                try:
                    # the bytes decide (tar.gz, tar or zip), whatever the registry says the server sends
                    path = unpack_archive_atomic(archive, cache.path_for(spec), sniff_archive(archive), kind=spec.kind)
                finally:
                    archive.unlink(missing_ok=True)
            else:
                verified = spec.md5 or spec.sha256
                path = download(spec.url, cache.path_for(spec), md5=spec.md5, sha256=spec.sha256, size=spec.size,
                                timeout=timeout, retries=retries, progress=on_progress,
                                check=None if verified else check_checkpoint_format)
        except DownloadError as exc:
            raise _pull_error(spec, exc) from None
    if not (spec.md5 or spec.sha256):
        message = f"{spec.name}: no checksum is published for this model; checked by size and format only"
        log.warning(message)
        warnings.append(message)
    return PullResult(spec, path, True, disk_size(path), warnings)


def _pull_error(spec: ModelSpec, exc: DownloadError) -> DownloadError:
    elsewhere = f"on a machine with internet download {spec.url}, copy it here, then run: {import_hint(spec)}"
    if isinstance(exc, ChecksumError):
        return ChecksumError(exc.problem, f"{exc.fix}; or {elsewhere}", reason=exc.reason)
    problem = f"could not download model {spec.name}: {exc.reason}"
    fix = f"run the same command again to resume; or {elsewhere}" if exc.part is not None else elsewhere
    return DownloadError(problem, fix, reason=exc.reason, offline=exc.offline, part=exc.part, done=exc.done,
                         total=exc.total)
