"""A foreign file's image paths matched to the scanned files' record names.

Other tools write paths relative to another root: absolute ('D:\\traps\\site1\\cam2\\IMG_0001.JPG'), relative to
a parent folder ('site1/cam2/IMG_0001.JPG' for a card scanned at site1) or to a child folder ('IMG_0001.JPG' for
results made on cam2 alone), with Windows backslashes, URLs (gs://, https://) or another letter case. A path is
first rewritten by the user's `--path-root OLD[=NEW]` (OLD replaced by NEW at its start), then normalized, then
matched: exactly; else by its longest tail (leading folders dropped, one at a time) that ends exactly one scanned
path, in the same letter case or else ignoring case (so a tail of a single file name matches only when that name
is unique on the card). A tail that ends several scanned paths stops the search (shorter tails would be as ambiguous);
such paths get a second chance from the root rewrite most matches agree on (`rebase`). Two foreign paths that
reach one scanned file keep the closer match; the other is reported as a conflict.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

EXACT, TAIL, NAME, REBASED = "exact", "tail", "file name", "root rewrite"
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]*/?", re.IGNORECASE)
_DRIVE = re.compile(r"^[a-z]:", re.IGNORECASE)


@dataclass
class Match:
    path: str | None  # the scanned record name, None when unmatched
    how: str  # exact | tail | file name | root rewrite | why it failed
    strength: int = 0  # path components that agree (exact: all)
    foreign: str = ""


def normalize(path: str) -> str:
    """POSIX separators, no scheme/host, drive letter, leading './' or '/', doubled or trailing slashes; NFC."""
    text = unicodedata.normalize("NFC", str(path).strip().replace("\\", "/"))
    text = _SCHEME.sub("", text)
    text = _DRIVE.sub("", text)
    parts = [p for p in text.split("/") if p not in ("", ".")]
    return "/".join(parts)


def parse_root(option: str | None) -> tuple[str, str] | None:
    """`--path-root OLD[=NEW]` as (OLD, NEW), both normalized."""
    if not option:
        return None
    old, _, new = option.partition("=")
    return normalize(old), normalize(new)


class PathMatcher:
    def __init__(self, scanned: Iterable[str], root: tuple[str, str] | None = None):
        self.scanned = {unicodedata.normalize("NFC", p): p for p in scanned}
        self.root = root
        self._tails: dict[str, set[str]] = {}
        self._folded: dict[str, set[str]] = {}
        for key, path in self.scanned.items():
            parts = key.split("/")
            for i in range(len(parts)):
                tail = "/".join(parts[i:])
                self._tails.setdefault(tail, set()).add(path)
                self._folded.setdefault(tail.casefold(), set()).add(path)
        self.rebase_rule: tuple[str, str] | None = None

    def rewrite(self, foreign: str) -> str:
        text = normalize(foreign)
        if self.root is not None:
            old, new = self.root
            if not old:
                text = f"{new}/{text}" if new else text
            elif text == old or text.startswith(old + "/"):
                text = (new + text[len(old):]).strip("/")
            elif text.casefold().startswith(old.casefold() + "/"):
                text = (new + text[len(old):]).strip("/")
        return text

    def match(self, foreign: str) -> Match:
        text = self.rewrite(foreign)
        if not text:
            return Match(None, "empty path", foreign=foreign)
        if text in self.scanned:
            return Match(self.scanned[text], EXACT, text.count("/") + 1, foreign)
        parts = text.split("/")
        for i in range(len(parts)):
            tail = "/".join(parts[i:])
            owners = self._tails.get(tail) or self._folded.get(tail.casefold())
            if not owners:
                continue
            if len(owners) > 1:
                return Match(None, f"ambiguous: {len(owners)} scanned files end with {tail!r}", foreign=foreign)
            n = len(parts) - i
            return Match(next(iter(owners)), NAME if n == 1 else TAIL, n, foreign)
        return Match(None, "no scanned file has this path or name", foreign=foreign)

    def match_all(self, candidates: list[tuple[str, ...]]) -> list[Match]:
        """The best match for each record's candidate paths (tried in order), conflicts resolved: one scanned
        file is given to one record only, the one whose path agrees on the most components."""
        found: list[Match] = []
        for paths in candidates:
            best = None
            for path in paths:
                m = self.match(path)
                if m.path is not None:
                    best = m
                    break
                best = best or m
            found.append(best or Match(None, "no path", foreign=""))
        self._rebase(found, candidates)
        owner: dict[str, int] = {}
        for i, m in enumerate(found):
            if m.path is None:
                continue
            j = owner.get(m.path)
            if j is None:
                owner[m.path] = i
                continue
            loser = i if found[j].strength >= m.strength else j
            if loser == j:
                owner[m.path] = i
            found[loser] = Match(None, f"conflict: {found[loser].foreign!r} and another entry both match "
                                       f"{m.path!r}", foreign=found[loser].foreign)
        return found

    def _rebase(self, found: list[Match], candidates: list[tuple[str, ...]]) -> None:
        """Give ambiguous paths a second chance with the root rewrite most tail matches agree on: e.g. results
        made on cam2 ('IMG_0001.JPG') for a card scanned above it ('cam2/IMG_0001.JPG')."""
        rules: Counter = Counter()
        for m in found:
            if m.path is None or m.how == EXACT:
                continue
            foreign = self.rewrite(m.foreign).split("/")
            scanned = m.path.split("/")
            n = m.strength
            rules[("/".join(foreign[:len(foreign) - n]), "/".join(scanned[:len(scanned) - n]))] += 1
        if not rules:
            return
        (old, new), votes = rules.most_common(1)[0]
        if votes * 2 <= sum(rules.values()):
            return
        self.rebase_rule = (old, new)
        for i, m in enumerate(found):
            if m.path is not None:
                continue
            for path in candidates[i]:
                text = self.rewrite(path)
                if old and not text.startswith(old + "/"):
                    continue
                rest = text[len(old) + 1:] if old else text
                target = f"{new}/{rest}" if new else rest
                if target in self.scanned:
                    found[i] = Match(self.scanned[target], REBASED, target.count("/") + 1, path)
                    break
