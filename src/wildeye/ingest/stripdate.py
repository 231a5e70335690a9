"""Dates and times printed in a camera's info strip: find them in OCR text, settle day/month order per deployment.

Trap models print `2015-04-12 4:51:54 PM` (Reconyx, year first), `04-12-2015 16:51:54` (Bushnell, month first),
`12/04/2015 04:51` (day or month first, set in the camera's menu), `28 APR 2016 03:29 pm` (Moultrie), with or
without seconds and AM/PM. A date like 04/05/2015 says nothing about its order; a deployment's frames decide it
together (a first number over 12 is a day, a second one over 12 is a day), else its configuration does.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

MDY, DMY = "MDY", "DMY"
DATE_ORDERS = (MDY, DMY)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH = r"(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*\.?"
_SEP = r"\s?[-/.]\s?"
_SEP_OR_SPACE = r"(?:\s?[-/.]\s?|\s)"  # OCR drops separators now and then ("09.24 2015")
# (layout, pattern): "YMD" year first; "AB" two numbers of unknown order, then the year; month names.
_DATES = (
    ("YMD", re.compile(r"(?<!\d)(\d{4})" + _SEP + r"(\d{1,2})" + _SEP + r"(\d{1,2})(?!\d)")),
    # the year must not start a year-first date ("M 1/3 2010-11-06": a burst counter, then the date)
    ("AB", re.compile(r"(?<!\d)(\d{1,2})" + _SEP_OR_SPACE + r"(\d{1,2})" + _SEP_OR_SPACE + r"(\d{4})(?!\d)"
                      r"(?!\s?[-/.]\s?\d)")),
    ("DMonY", re.compile(r"(?<!\d)(\d{1,2})[\s\-/.]*" + _MONTH + r"[\s\-/.,]*(\d{4})(?!\d)", re.IGNORECASE)),
    ("MonDY", re.compile(_MONTH + r"[\s\-/.]*(\d{1,2})(?:st|nd|rd|th)?,?[\s\-/.]*(\d{4})(?!\d)", re.IGNORECASE)),
)
_TIME = re.compile(r"(?<![\d:;\-/.])(\d{1,2})\s?[:;]\s?(\d{2})(?:\s?[:;]\s?(\d{2}))?(?!\d)(?:\s?([AP])\.?\s?M\b\.?)?",
                   re.IGNORECASE)
_NEAR = 40  # characters between a date and its time, at most
# Letters OCR gives for digits inside a number ("2O22-06-08", "l0:3S").
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "Q": "0", "D": "0", "I": "1", "l": "1", "|": "1", "!": "1",
                                   "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2"})


@dataclass(frozen=True)
class StripStamp:
    """A date and time as printed. Unless `ordered`, `a`/`b` are month and day in an order not known yet."""

    year: int
    a: int
    b: int
    hour: int
    minute: int
    second: int | None  # None: the strip prints minutes only
    ordered: bool  # a is the month (year-first and month-name layouts)
    text: str  # the part of the OCR text it was read from

    @property
    def says_order(self) -> str | None:
        """The order this stamp alone proves: a number over 12 cannot be a month."""
        if self.ordered or self.a == self.b:
            return None
        return DMY if self.a > 12 else MDY if self.b > 12 else None

    def time(self, order: str = MDY) -> datetime | None:
        """The printed time read in `order` (ignored for ordered stamps); None when that order gives no date."""
        month, day = (self.a, self.b) if self.ordered or order == MDY else (self.b, self.a)
        try:
            return datetime(self.year, month, day, self.hour, self.minute, self.second or 0)
        except ValueError:
            return None


def parse_strip(text: str, years: tuple[int, int] = (1990, 2099)) -> StripStamp | None:
    """The first date with a time near it in `text` that is a real date in some order and within `years`.

    OCR's letter-for-digit slips inside numbers (O for 0, l for 1, S for 5) are undone first when the text as read
    holds no date.
    """
    for candidate in (text, _undo_lookalikes(text)):
        stamp = _first_stamp(candidate, years)
        if stamp is not None:
            return stamp
    return None


def decide_order(stamps: list[StripStamp], configured: str | None, default: str = MDY,
                 exif_pairs: list[tuple[StripStamp, datetime]] = (), tolerance_s: float = 300) -> tuple[str, str]:
    """Day/month order of one deployment's strips: (order, why).

    In turn: numbers over 12 in its frames (the majority when OCR slips make them disagree), the order configured
    for the deployment, EXIF times that match the strip in only one order, then `default`.
    """
    proofs = Counter(s.says_order for s in stamps if s.says_order)
    if proofs:
        order, count = proofs.most_common(1)[0]
        return order, f"{count} frame(s) print a day over 12 in the {'first' if order == DMY else 'second'} place"
    if configured:
        return configured, "configured for the deployment"
    votes: Counter = Counter()
    for stamp, exif in exif_pairs:
        fits = [o for o in DATE_ORDERS if (t := stamp.time(o)) and abs((t - exif).total_seconds()) <= tolerance_s]
        if len(fits) == 1:
            votes[fits[0]] += 1
    if votes:
        order, count = votes.most_common(1)[0]
        return order, f"{count} frame(s) match their EXIF time only in this order"
    return default, "default (nothing in the frames decides it)"


def _first_stamp(text: str, years: tuple[int, int]) -> StripStamp | None:
    found = []
    for layout, pattern in _DATES:
        for match in pattern.finditer(text):
            found.append((match.start(), layout, match))
    for _, layout, match in sorted(found, key=lambda item: item[0]):
        year, a, b, ordered = _date_fields(layout, match)
        if not years[0] <= year <= years[1]:
            continue
        clock = _time_near(text, match)
        if clock is None:
            continue
        hour, minute, second, span = clock
        stamp = StripStamp(year, a, b, hour, minute, second, ordered=ordered, text=_span_text(text, match, span))
        if stamp.time(MDY) or stamp.time(DMY):
            return stamp
    return None


def _date_fields(layout: str, match: re.Match) -> tuple[int, int, int, bool]:
    if layout == "YMD":
        return int(match[1]), int(match[2]), int(match[3]), True
    if layout == "AB":
        return int(match[3]), int(match[1]), int(match[2]), False
    if layout == "DMonY":
        return int(match[3]), _MONTHS.index(match[2].upper()[:3]) + 1, int(match[1]), True
    return int(match[3]), _MONTHS.index(match[1].upper()[:3]) + 1, int(match[2]), True


def _time_near(text: str, date: re.Match):
    """(hour, minute, second, (start, end)) of the time right after the date, else right before it."""
    after = _TIME.search(text, date.end())
    before = [m for m in _TIME.finditer(text, max(0, date.start() - _NEAR), date.start())]
    for match in ([after] if after and after.start() - date.end() <= _NEAR else []) + before[-1:]:
        hour, minute = int(match[1]), int(match[2])
        second = int(match[3]) if match[3] else None
        meridiem = (match[4] or "").upper()
        if meridiem:
            if not 1 <= hour <= 12:
                continue
            hour = hour % 12 + (12 if meridiem == "P" else 0)
        if hour <= 23 and minute <= 59 and (second is None or second <= 59):
            return hour, minute, second, match.span()
    return None


def _span_text(text: str, date: re.Match, span: tuple[int, int]) -> str:
    start, end = min(date.start(), span[0]), max(date.end(), span[1])
    return " ".join(text[start:end].split())


def _undo_lookalikes(text: str) -> str:
    """Swap look-alike letters for digits in tokens that are mostly digits already."""
    out = []
    for token in re.split(r"(\s+)", text):
        digits = sum(ch.isdigit() for ch in token)
        out.append(token.translate(_DIGIT_LOOKALIKES) if digits >= 2 and digits >= len(token) / 2 else token)
    return "".join(out)
