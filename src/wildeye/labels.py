"""The label vocabulary: what a label means, wherever wildeye meets one (ensemble, journal, reports, review, alerts,
training). One parser, so every room agrees on kinds, ranks, names and flagship matching.

Labels come in two forms:

- SpeciesNet's 7-field strings ``uuid;class;order;family;genus;species;common name`` (speciesnet/constants.py,
  taxonomy_utils.py). The five taxa fields are the "full class string", the key of the taxonomy and geofence maps.
- Plain names from wildeye-trained packages ("snow leopard") and the plain special outcomes wildeye writes:
  "blank", "human", "vehicle", "animal" (the kingdom) and "unknown" (no usable answer).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

# --- kinds and special outcomes -----------------------------------------------------------------------------

BLANK, HUMAN, VEHICLE, ANIMAL, UNKNOWN = "blank", "human", "vehicle", "animal", "unknown"
TAXON = "taxon"
SPECIAL = frozenset({BLANK, HUMAN, VEHICLE, ANIMAL, UNKNOWN})

# SpeciesNet's special labels (speciesnet/constants.py, Classification), verbatim.
SN_BLANK = "f1856211-cfb7-4a5b-9158-c0f72fd09ee6;;;;;;blank"
SN_ANIMAL = "1f689929-883d-4dae-958c-3d57ab5b6c16;;;;;;animal"
SN_HUMAN = "990ae9dd-7a59-4344-afcb-1b7b21368000;mammalia;primates;hominidae;homo;sapiens;human"
SN_VEHICLE = "e2895ed5-780b-48f6-8a11-9e27cb594511;;;;;;vehicle"
SN_UNKNOWN = ("f2efdae9-efb8-48fb-8a91-eccf79ab4ffb;no cv result;no cv result;no cv result;no cv result;"
              "no cv result;no cv result")
SPECIESNET_LABELS = {BLANK: SN_BLANK, ANIMAL: SN_ANIMAL, HUMAN: SN_HUMAN, VEHICLE: SN_VEHICLE, UNKNOWN: SN_UNKNOWN}

RANKS = ("kingdom", "class", "order", "family", "genus", "species")  # index = depth in the five taxa fields

# MegaDetector's detection categories, as its batch output format writes them.
DETECTION_CATEGORIES = {"1": "animal", "2": "person", "3": "vehicle"}
CATEGORY_IDS = {name: key for key, name in DETECTION_CATEGORIES.items()}
_CATEGORY_ALIASES = {"animal": "animal", "1": "animal", "person": "person", "human": "person", "2": "person",
                     "vehicle": "vehicle", "3": "vehicle"}

_PLAIN_SPECIAL = {"blank": BLANK, "empty": BLANK, "human": HUMAN, "person": HUMAN, "vehicle": VEHICLE,
                  "animal": ANIMAL, "unknown": UNKNOWN, "no cv result": UNKNOWN}
_HUMAN_TAXA = ("mammalia", "primates", "hominidae", "homo", "sapiens")


def detection_category(category: str) -> str:
    """'animal' | 'person' | 'vehicle' for a MegaDetector category name or id ("1", "2", "3")."""
    name = _CATEGORY_ALIASES.get(str(category).strip().lower())
    if name is None:
        raise ValueError(f"unknown detection category {category!r}: expected animal, person or vehicle")
    return name


# --- one parsed label -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    raw: str
    taxa: tuple[str, ...]  # the five lowercased fields class..species; () for a plain label
    common: str  # lowercased common name (or the plain label)
    kind: str  # taxon | blank | human | vehicle | animal | unknown

    @property
    def key(self) -> str:
        """SpeciesNet's full class string (class;order;family;genus;species): taxonomy and geofence key."""
        if self.kind == ANIMAL:
            return ";;;;"
        return ";".join(self.taxa) if self.taxa else self.common

    @property
    def depth(self) -> int | None:
        """0 for the kingdom, 1 class ... 5 species; None for plain names and non-animal outcomes."""
        if self.kind == ANIMAL:
            return 0
        if not self.taxa:
            return None
        return max((i + 1 for i, part in enumerate(self.taxa) if part), default=0)

    @property
    def rank(self) -> str | None:
        depth = self.depth
        return RANKS[depth] if depth is not None and self.kind in (TAXON, ANIMAL) else None

    @property
    def scientific_name(self) -> str | None:
        """'Panthera uncia' for a species, the latin name at its rank above it ('Felidae'); None if unknown."""
        depth = self.depth
        if not depth or not self.taxa:
            return None
        if depth == 5 and self.taxa[3]:
            return f"{self.taxa[3].capitalize()} {self.taxa[4]}"
        return self.taxa[depth - 1].capitalize()

    @property
    def display(self) -> str:
        """As a person reads it: the kind for special outcomes, else the common name, else the latin name."""
        if self.kind != TAXON:
            return self.kind
        if self.common:
            return self.common
        return (self.scientific_name or self.raw).lower() if self.taxa else self.raw

    @property
    def name(self) -> str:
        """Display name keeping the label's own case (a SpeciesNet common name, a package's plain label), the
        latin name where a SpeciesNet label has no common name, the raw label otherwise."""
        parts = self.raw.split(";")
        if len(parts) == 7:
            return parts[6].strip() or self.scientific_name or self.raw
        return self.raw.strip() or self.raw

    @property
    def plain(self) -> str:
        """What wildeye writes as a decision: the kind word for special outcomes, the label itself for taxa."""
        return self.kind if self.kind in SPECIAL else self.raw

    @property
    def names(self) -> frozenset[str]:
        """What a person might call it: common name, 'genus species', the latin name at its rank, the label."""
        names = {self.common, self.common.replace("_", " "), self.raw.strip().lower()}
        if self.taxa:
            names.add(";".join(self.taxa))
            if self.taxa[3] and self.taxa[4]:
                names.add(f"{self.taxa[3]} {self.taxa[4]}")
            depth = self.depth
            if depth and depth < 5:
                names.add(self.taxa[depth - 1])
        names.discard("")
        return frozenset(names)

    @property
    def lineage(self) -> frozenset[str]:
        """Latin names of this taxon and every rank above it ('felidae', 'panthera', 'panthera uncia' ...)."""
        if not self.taxa:
            return frozenset()
        names = {part for part in self.taxa[:4] if part}
        if self.taxa[3] and self.taxa[4]:
            names.add(f"{self.taxa[3]} {self.taxa[4]}")
        return frozenset(names)

    def is_ancestor_of(self, other: "Label") -> bool:
        """Strictly higher in the same lineage ('animal' is above every taxon)."""
        if self.kind == ANIMAL:
            return other.kind in (TAXON, HUMAN) and other.depth != 0
        if not self.taxa or not other.taxa or self.depth is None or other.depth is None:
            return False
        return self.depth < other.depth and self.taxa[: self.depth] == other.taxa[: self.depth]

    def related(self, other: "Label") -> bool:
        return self.key == other.key or self.is_ancestor_of(other) or other.is_ancestor_of(self)


@functools.lru_cache(maxsize=65536)
def parse(label: str) -> Label:
    parts = label.split(";")
    if len(parts) == 7:
        uuid = parts[0].strip().lower()
        taxa = tuple(part.strip().lower() for part in parts[1:6])
        common = parts[6].strip().lower()
        if uuid == SN_UNKNOWN.split(";")[0] or all(part == "no cv result" for part in taxa):
            kind = UNKNOWN
        elif taxa == _HUMAN_TAXA or (not any(taxa) and common in ("human", "person")):
            kind = HUMAN
        elif not any(taxa) and common in _PLAIN_SPECIAL:
            kind = _PLAIN_SPECIAL[common]
        else:
            kind = TAXON
        return Label(label, taxa, common, kind)
    common = " ".join(label.split()).lower()
    return Label(label, (), common, _PLAIN_SPECIAL.get(common, TAXON))


def kind(label: str) -> str:
    return parse(label).kind


def is_taxonomy_string(text: str) -> bool:
    """SpeciesNet's 7-field form: ``uuid;class;order;family;genus;species;common name``."""
    return isinstance(text, str) and text.count(";") == 6


def taxonomy_string(*, taxon_id: str = "", taxa: Iterable[str] = (), common: str = "") -> str:
    """A 7-field label from its parts: taxa are class, order, family, genus, species (lowercased, as SpeciesNet
    writes them; missing ranks empty). ``taxonomy_string(taxa=("mammalia", "carnivora", "felidae", "panthera",
    "uncia"), common="snow leopard")`` is ``;mammalia;carnivora;felidae;panthera;uncia;snow leopard``."""
    fields = [" ".join(str(t or "").split()).lower() for t in taxa][:5]
    fields += [""] * (5 - len(fields))
    parts = [str(taxon_id or "").strip(), *fields, " ".join(str(common or "").split())]
    if any(";" in part for part in parts):
        raise ValueError(f"a taxonomy field holds ';': {parts}")
    return ";".join(parts)


def taxa_of_scientific_name(name: str, rank: str | None = None) -> tuple[str, ...] | None:
    """The five taxa fields a latin name fills without a taxonomy to look it up in: 'Panthera uncia' (two words)
    is genus + species; one word needs its rank ('Felidae', 'family'). None when that cannot be placed."""
    words = str(name).split()
    if len(words) == 2 and rank in (None, "species"):
        return ("", "", "", words[0].lower(), words[1].lower())
    if len(words) == 1 and rank in RANKS[1:5]:
        taxa = ["", "", "", "", ""]
        taxa[RANKS.index(rank) - 1] = words[0].lower()
        return tuple(taxa)
    return None


def display_name(label: str) -> str:
    return parse(label).display


def scientific_name(label: str) -> str | None:
    return parse(label).scientific_name


def common_name(label: str) -> str:
    """Display name for any label, case kept: 'snow leopard', 'Felidae', a package's 'Snow leopard'."""
    return parse(label).name


def is_species_level(label: str) -> bool:
    return parse(label).rank == "species"


def normalize_name(name: str) -> str:
    """How names are compared: lowercased, single spaces."""
    return " ".join(str(name).split()).lower()


def matches(label: str, names: Iterable[str]) -> bool:
    """True when the label is one of `names` or falls under one of them (a flagship given as 'felidae' or
    'panthera' matches a snow leopard). Names: common names, latin names, 'genus species', or full labels."""
    wanted = {normalize_name(name) for name in names}
    if not wanted:
        return False
    parsed = parse(label)
    return bool(wanted & parsed.names) or bool(wanted & parsed.lineage)


# --- taxonomy --------------------------------------------------------------------------------------------------


class Taxonomy:
    """Full class string -> label, as speciesnet.ensemble._load_taxonomy_from_file builds its `taxonomy_map`:
    every taxon of the model's taxonomy_release.txt (parents that are not classifier labels included), blank,
    vehicle and 'no cv result' removed, human and animal always present."""

    def __init__(self, labels: Iterable[str]):
        mapping: dict[str, str] = {}
        for line in labels:
            line = line.strip()
            if line.count(";") == 6:
                mapping[";".join(line.split(";")[1:6])] = line
        for special in (SN_BLANK, SN_VEHICLE, SN_UNKNOWN):
            mapping.pop(";".join(special.split(";")[1:6]), None)
        for special in (SN_HUMAN, SN_ANIMAL):
            mapping[";".join(special.split(";")[1:6])] = special
        self.map = mapping

    @classmethod
    def implied_by(cls, labels: Iterable[str]) -> "Taxonomy":
        """The labels plus each ancestor their taxa imply, for models that ship no taxonomy file (a wildeye
        deviation: SpeciesNet always has one). A missing ancestor gets a label with an empty uuid and its latin
        name as common name, e.g. ';mammalia;carnivora;felidae;;;felidae'."""
        labels = [label.strip() for label in labels]
        implied = []
        for label in labels:
            parsed = parse(label)
            if parsed.kind != TAXON or not parsed.taxa:
                continue
            for depth in range(1, (parsed.depth or 0)):
                taxa = parsed.taxa[:depth] + ("",) * (5 - depth)
                implied.append(";" + ";".join(taxa) + ";" + parsed.taxa[depth - 1])
        return cls(implied + labels)  # the model's own labels win over implied ones

    @classmethod
    def from_file(cls, path: str | Path) -> "Taxonomy":
        return cls(Path(path).read_text(encoding="utf-8").splitlines())

    def get(self, full_class_string: str) -> str | None:
        return self.map.get(full_class_string)

    def find(self, name: str) -> str | None:
        """The label a person's name for a taxon means: its common name ('snow leopard'), latin name at its rank
        ('Panthera uncia', 'Felidae') or full class string; None when no label, or more than one, has that name."""
        index = self.__dict__.get("_by_name")
        if index is None:
            found: dict[str, set[str]] = {}
            for label in self.map.values():
                parsed = parse(label)
                names = {parsed.common, parsed.key, normalize_name(parsed.scientific_name or "")} - {""}
                for key in names:
                    found.setdefault(key, set()).add(label)
            index = self.__dict__["_by_name"] = {k: next(iter(v)) for k, v in found.items() if len(v) == 1}
        return index.get(normalize_name(name))

    def __len__(self) -> int:
        return len(self.map)

    def labels(self) -> list[str]:
        return list(self.map.values())
