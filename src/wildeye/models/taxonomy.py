"""SpeciesNet taxonomy labels: `uuid;class;order;family;genus;species;common name`.

SpeciesNet names every output class with one such 7-field string (its labels file, its taxonomy file and its
outputs all use it), and rolls a prediction up species -> genus -> family -> order -> class -> kingdom when it is
unsure. These helpers parse the string and walk up the ranks the same way SpeciesNet does
(`get_ancestor_at_level` and `_load_taxonomy_from_file` in speciesnet/taxonomy_utils.py and ensemble.py), so the
ensemble can stay a plain function of labels and scores.

Labels of a wildeye package are plain names ("snow leopard"); `common_name` passes those through unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from wildeye.errors import WildeyeError

# Ranks from the top down; "kingdom" is SpeciesNet's name for the "animal" label (all ranks empty).
LEVELS = ("kingdom", "class", "order", "family", "genus", "species")
_RANKS = ("class_", "order", "family", "genus", "species")

# SpeciesNet's fixed non-species labels (speciesnet/constants.py, `Classification`).
BLANK = "f1856211-cfb7-4a5b-9158-c0f72fd09ee6;;;;;;blank"
ANIMAL = "1f689929-883d-4dae-958c-3d57ab5b6c16;;;;;;animal"
HUMAN = "990ae9dd-7a59-4344-afcb-1b7b21368000;mammalia;primates;hominidae;homo;sapiens;human"
VEHICLE = "e2895ed5-780b-48f6-8a11-9e27cb594511;;;;;;vehicle"
UNKNOWN = "f2efdae9-efb8-48fb-8a91-eccf79ab4ffb" + ";no cv result" * 6


@dataclass(frozen=True)
class Taxon:
    """One parsed SpeciesNet label. Empty strings mean "rank not given", exactly as in the label."""

    uuid: str
    class_: str
    order: str
    family: str
    genus: str
    species: str
    common_name: str

    @classmethod
    def from_label(cls, label: str) -> Taxon:
        parts = label.strip().split(";")
        if len(parts) != 7:
            raise WildeyeError(
                f"SpeciesNet label {label.strip()!r} has {len(parts)} ';'-separated fields, expected 7",
                "labels look like uuid;class;order;family;genus;species;common name",
            )
        return cls(*(p.strip() for p in parts))

    @property
    def label(self) -> str:
        """The 7-field string, as SpeciesNet writes it."""
        return ";".join((self.uuid, self.class_, self.order, self.family, self.genus, self.species, self.common_name))

    @property
    def taxa(self) -> str:
        """`class;order;family;genus;species`: the key SpeciesNet's taxonomy map and geofence use."""
        return ";".join(getattr(self, rank) for rank in _RANKS)

    @property
    def scientific_name(self) -> str:
        """"Panthera uncia" for a species, else the lowest rank given ("felidae"); "" when no rank is given."""
        if self.species:
            return f"{self.genus.capitalize()} {self.species}".strip()
        for rank in reversed(_RANKS):
            if getattr(self, rank):
                return getattr(self, rank)
        return ""

    @property
    def name(self) -> str:
        """What a person wants to read: the common name, else the scientific name."""
        return self.common_name or self.scientific_name

    def is_taxon(self) -> bool:
        """False for blank, vehicle and unknown: they are outcomes, not animals, and never roll up."""
        return self.level() is not None

    def level(self) -> str | None:
        """The lowest rank this label names: species, genus, family, order, class, kingdom; None if not a taxon."""
        if self.class_ == "no cv result":
            return None
        if self.species:
            return "species"
        for level, rank in (("genus", "genus"), ("family", "family"), ("order", "order"), ("class", "class_")):
            if getattr(self, rank):
                return level
        if self.uuid == ANIMAL.split(";")[0] or self.common_name == "animal":
            return "kingdom"
        return None

    def ancestor(self, level: str, taxonomy: Mapping[str, Taxon] | None = None) -> Taxon | None:
        """This taxon cut to `level`, or None if it does not name that rank (SpeciesNet's `get_ancestor_at_level`).

        The ranks alone do not say the ancestor's uuid or common name: with `taxonomy` (from `taxonomy_map`) the
        answer is the full label SpeciesNet would report, or None if the taxonomy lacks it, as in SpeciesNet;
        without it, uuid and common name are left empty.
        """
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
        own = self.level()
        if own is None or LEVELS.index(level) > LEVELS.index(own):
            return None
        if level == "kingdom":
            found = Taxon.from_label(ANIMAL)
        else:
            keep = LEVELS.index(level)  # class keeps 1 rank ... species keeps all 5
            if not getattr(self, _RANKS[keep - 1]):
                return None  # a skipped rank, e.g. a family given without its order
            found = Taxon("", *(getattr(self, r) if i < keep else "" for i, r in enumerate(_RANKS)), "")
            if found.taxa == self.taxa:
                found = self
        if taxonomy is not None:
            return taxonomy.get(found.taxa)
        return found

    def parent(self, taxonomy: Mapping[str, Taxon] | None = None) -> Taxon | None:
        """The next rank up that this label names (species -> genus -> ... -> kingdom); None at the top."""
        own = self.level()
        if own is None or own == "kingdom":
            return None
        for level in reversed(LEVELS[: LEVELS.index(own)]):
            found = self.ancestor(level, taxonomy)
            if found is not None and found.level() == level:
                return found
        return None

    def ancestors(self, taxonomy: Mapping[str, Taxon] | None = None) -> list[Taxon]:
        """Parent, grandparent, ... up to kingdom ("animal"): the order SpeciesNet's rollup tries them in."""
        chain: list[Taxon] = []
        node = self.parent(taxonomy)
        while node is not None:
            chain.append(node)
            node = node.parent(taxonomy)
        return chain


def common_name(label: str) -> str:
    """Display name for any classifier label: a SpeciesNet label's common name, or the label itself."""
    parts = label.split(";")
    if len(parts) != 7:
        return label
    return Taxon.from_label(label).name or label


def taxonomy_map(labels: Iterable[str]) -> dict[str, Taxon]:
    """`taxa` -> Taxon for a taxonomy or labels file, as SpeciesNet's `_load_taxonomy_from_file` builds it.

    Blank, vehicle and unknown are left out (nothing rolls up to them); human and animal are always present.
    """
    out: dict[str, Taxon] = {}
    for label in labels:
        if label.strip():
            taxon = Taxon.from_label(label)
            out[taxon.taxa] = taxon
    for label in (BLANK, VEHICLE, UNKNOWN):
        out.pop(Taxon.from_label(label).taxa, None)
    for label in (HUMAN, ANIMAL):
        taxon = Taxon.from_label(label)
        out[taxon.taxa] = taxon
    return out

