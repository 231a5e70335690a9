"""Foreign names as wildeye labels (`wildeye.labels`): the special outcomes as plain words, taxa as SpeciesNet's
7-field strings where the file gives ranks, plain names otherwise.

The importer then resolves these against the labels the journal already holds (`Vocabulary`), so a Timelapse
"Red fox" or a Camtrap DP "Vulpes vulpes" compares equal to SpeciesNet's '…;vulpes;vulpes;red fox'.
"""

from __future__ import annotations

from typing import Iterable

from wildeye.labels import ANIMAL, BLANK, HUMAN, SPECIAL, UNKNOWN, VEHICLE, normalize_name, parse

# Words tools use for the special outcomes (Timelapse templates, Wildlife Insights, COCO-CT category 0, LILA).
_SPECIAL_WORDS = {
    "blank": BLANK, "empty": BLANK, "none": BLANK, "nothing": BLANK, "no animal": BLANK, "misfire": BLANK,
    "false trigger": BLANK, "false positive": BLANK,
    "human": HUMAN, "person": HUMAN, "people": HUMAN, "homo sapiens": HUMAN, "homo species": HUMAN,
    "vehicle": VEHICLE, "car": VEHICLE, "truck": VEHICLE,
    "animal": ANIMAL,
    "unknown": UNKNOWN, "unidentified": UNKNOWN, "unidentifiable": UNKNOWN, "no cv result": UNKNOWN,
    "cv failed": UNKNOWN,
}


def special(name: str) -> str | None:
    """'blank', 'human', 'vehicle', 'animal' or 'unknown' when `name` is one of those outcomes, else None."""
    word = normalize_name(name.replace("_", " "))
    if word in _SPECIAL_WORDS:
        return _SPECIAL_WORDS[word]
    if name.count(";") == 6:
        kind = parse(name).kind
        return kind if kind in SPECIAL else None
    return None


def label_from_name(name: str) -> str:
    """A file's label as wildeye writes it: special outcomes plain, a 7-field string kept, a name stripped."""
    name = " ".join(str(name).split())
    return special(name) or name


def taxon_label(*, common: str = "", scientific: str = "", ranks: dict | None = None, uuid: str = "") -> str:
    """A 7-field label 'uuid;class;order;family;genus;species;common name' (taxa lowercased, as SpeciesNet writes
    them) from what a file gives; the special outcomes come back plain. Without any rank the common or scientific
    name is returned as a plain label."""
    ranks = {k: (v or "").strip().lower() for k, v in (ranks or {}).items()}
    common = " ".join((common or "").split())
    scientific = " ".join((scientific or "").split())
    found = special(common) if common else None
    if found is None and scientific:
        found = special(scientific)
    if found is not None:
        return found
    genus, species = ranks.get("genus", ""), ranks.get("species", "")
    words = scientific.lower().split()
    if words and not genus and len(words) >= 2:
        genus = words[0]
    if words and not species and len(words) >= 2:
        species = words[1]
    if species and genus and species.startswith(genus + " "):  # WI writes the epithet; some tools 'genus species'
        species = species[len(genus) + 1:]
    taxa = [ranks.get("class", ""), ranks.get("order", ""), ranks.get("family", ""), genus, species]
    if not any(taxa):
        if len(words) == 1 and not common:
            return scientific  # one latin word without rank: a plain name
        return common or scientific
    if not common and not species and scientific:
        common = scientific.lower()
    return ";".join([uuid.strip().lower()] + taxa + [common.lower()])


class Vocabulary:
    """Names -> the journal's own labels: a foreign name becomes the label the machine already uses for it."""

    def __init__(self, labels: Iterable[str]):
        self.known: set[str] = set()
        self._by_key: dict[str, set[str]] = {}
        self._by_name: dict[str, set[str]] = {}
        for label in labels:
            if not label or parse(label).kind in SPECIAL:
                continue
            self.known.add(label)
            parsed = parse(label)
            if parsed.taxa:
                self._by_key.setdefault(parsed.key, set()).add(label)
            for name in parsed.names:
                self._by_name.setdefault(name, set()).add(label)

    def resolve(self, label: str) -> str:
        plain = special(label)
        if plain is not None:
            return plain
        if label in self.known:
            return label
        parsed = parse(label)
        if parsed.taxa:
            hits = self._by_key.get(parsed.key, set())
            if len(hits) == 1:
                return next(iter(hits))
            # a label whose species names a known taxon ('vulpes vulpes')
            if parsed.taxa[3] and parsed.taxa[4]:
                hits = self._by_name.get(f"{parsed.taxa[3]} {parsed.taxa[4]}", set())
                if len(hits) == 1:
                    return next(iter(hits))
            if parsed.common:
                hits = self._by_name.get(parsed.common, set())
                if len(hits) == 1:
                    return next(iter(hits))
            return label
        hits = self._by_name.get(normalize_name(label.replace("_", " ")), set())
        return next(iter(hits)) if len(hits) == 1 else label
