"""Find media on a card dump: recursive, case-insensitive extensions, symlink loops detected, OS junk skipped."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from wildeye.names import record_name

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mts", ".m2ts"})

# Files operating systems and camera firmware leave on cards. "._IMG_0001.JPG" is a macOS AppleDouble
# resource file: it has a media extension but holds no image.
JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", ".localized"})
JUNK_DIRS = frozenset({".spotlight-v100", ".trashes", ".fseventsd", ".temporaryitems", "system volume information"})


@dataclass(frozen=True)
class Found:
    path: str  # relative to the source, POSIX separators, as a record name (see wildeye.names)
    kind: str  # "image" or "video"


@dataclass
class WalkResult:
    media: list[Found] = field(default_factory=list)
    ignored: int = 0  # OS junk and non-media files
    problems: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)


def media_kind(name: str) -> str | None:
    ext = os.path.splitext(name)[1].lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    return None


def walk_media(source: Path, exclude: Path | None = None) -> WalkResult:
    """Walk `source` depth-first in sorted order, following directory symlinks once per real directory.

    Paths come back as record names (`wildeye.names.record_name`), so a name that is not valid UTF-8 is
    recorded as text; open them with `wildeye.names.media_path`.
    """
    result = WalkResult()
    source = Path(source)
    excluded = _real_id(exclude) if exclude is not None and exclude.exists() else None
    seen_dirs: set[tuple[int, int]] = set()

    def visit(directory: Path, rel: str) -> None:
        dir_id = _real_id(directory)
        if dir_id in seen_dirs:
            result.problems.append((rel or ".", "symlink loop or repeated directory: skipped"))
            return
        if dir_id == excluded:
            return
        seen_dirs.add(dir_id)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            result.problems.append((rel or ".", f"directory unreadable: {exc.strerror or exc}"))
            return
        names = {entry.name for entry in entries}
        for entry in entries:
            name = record_name(entry.name)
            child_rel = f"{rel}/{name}" if rel else name
            if name != entry.name and name in names:
                result.problems.append((child_rel, "name is not valid UTF-8 and, written as text, is the name of "
                                        "another file here: skipped (rename one of them)"))
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                if entry.name.lower() in JUNK_DIRS:
                    result.ignored += 1
                    continue
                visit(Path(entry.path), child_rel)
                continue
            kind = media_kind(entry.name)
            if kind is None or entry.name.startswith("._") or entry.name.lower() in JUNK_NAMES:
                result.ignored += 1
                continue
            result.media.append(Found(child_rel, kind))

    visit(source, "")
    return result


def _real_id(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino)
