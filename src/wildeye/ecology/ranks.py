"""Taxa at a chosen rank: what RAI, occupancy, activity and richness count as "a species" (issue 15, item 5).

A label counts at rank R when it names a taxon at R or below it: at `species` a SpeciesNet species label counts as
itself; at `genus` it counts as its genus (two Panthera species are one genus). Everything else is reported apart,
never counted: "animal" (the kingdom, SpeciesNet's animal label), "unknown" (no usable answer), labels above the rank
(SpeciesNet's rollups to `felidae` when counting species) and, above species, plain names with no taxonomy to place
them. A plain name with no taxonomy at all (a trained package's "snow leopard" whose package stores none) counts at
species rank as itself: such classes name species, and the report says how many were taken on trust.
"""

from __future__ import annotations

from dataclasses import dataclass

from wildeye import labels

RANKS = ("class", "order", "family", "genus", "species")  # the five taxa fields of SpeciesNet's labels
DEFAULT_RANK = "species"

COUNTED = "counted"  # a taxon at the rank
ABOVE_RANK = "above_rank"  # a taxon above the rank (a rollup): apart
ANIMAL = "animal"  # the kingdom: apart
UNKNOWN = "unknown"  # no usable answer: apart
NO_TAXONOMY = "no_taxonomy"  # a plain name that cannot be placed at a rank above species: apart
NOT_ANIMAL = "not_animal"  # blank, human, vehicle: not wildlife at all
APART_REASONS = {ABOVE_RANK: "above the rank", ANIMAL: "animal (no taxon)", UNKNOWN: "unknown",
                 NO_TAXONOMY: "no taxonomy"}


@dataclass(frozen=True)
class RankedTaxon:
    """One label seen at one rank."""

    status: str  # COUNTED, ABOVE_RANK, ANIMAL, UNKNOWN, NO_TAXONOMY or NOT_ANIMAL
    key: str  # what events group by: the taxon's key at the rank (or the label's own key when apart)
    name: str  # as a person reads it: a species' common name, a higher taxon's latin name
    scientific_name: str  # latin name at the rank ("Panthera uncia", "Panthera"); "" when unknown
    rank: str | None  # the rank counted at, or the label's own rank when apart; None when unranked
    taxonomy: bool = True  # False: a plain name counted on trust (no taxonomy)

    @property
    def counted(self) -> bool:
        return self.status == COUNTED


def check_rank(rank: str) -> str:
    """The rank, lowercased; ValueError naming the choices when it is not one."""
    value = str(rank).strip().lower()
    if value not in RANKS:
        raise ValueError(f"unknown rank {rank!r}: choose one of {', '.join(RANKS)}")
    return value


def at_rank(label: str, rank: str = DEFAULT_RANK, taxonomy: str | None = None) -> RankedTaxon:
    """The taxon `label` counts as at `rank`. taxonomy: the label's 7-field SpeciesNet string when the label itself
    is a plain name (from its model package or a same-named label; reports.taxa.Names.taxonomy_string)."""
    rank = check_rank(rank)
    parsed = labels.parse(label)
    own_key = labels.common_name(label).strip().lower()
    if parsed.kind == labels.ANIMAL:
        return RankedTaxon(ANIMAL, own_key, labels.common_name(label), "", "kingdom")
    if parsed.kind == labels.UNKNOWN:
        return RankedTaxon(UNKNOWN, own_key, labels.common_name(label), "", None)
    if parsed.kind != labels.TAXON:
        return RankedTaxon(NOT_ANIMAL, own_key, labels.common_name(label), "", None)
    placed = parsed if parsed.depth else None
    if placed is None and taxonomy and labels.is_taxonomy_string(taxonomy):
        placed = labels.parse(taxonomy)
        placed = placed if placed.kind == labels.TAXON and placed.depth else None
    name = labels.common_name(label)
    if placed is None:  # a plain name nothing places
        if rank == "species":
            return RankedTaxon(COUNTED, own_key, name, "", None, taxonomy=False)
        return RankedTaxon(NO_TAXONOMY, own_key, name, "", None, taxonomy=False)
    depth, wanted = placed.depth, RANKS.index(rank) + 1
    if depth < wanted:
        return RankedTaxon(ABOVE_RANK, own_key, name, placed.scientific_name or "", placed.rank)
    if rank == "species":  # keyed by the name a person uses, as events always were (reports.frames.species_key)
        return RankedTaxon(COUNTED, own_key, name, placed.scientific_name or "", "species")
    latin = placed.taxa[wanted - 1]
    return RankedTaxon(COUNTED, latin, latin.capitalize(), latin.capitalize(), rank)


class RankMapper:
    """`at_rank` for every label of one report, cached; `taxonomy_of(label)` gives plain labels their 7-field
    string (or None)."""

    def __init__(self, rank: str = DEFAULT_RANK, taxonomy_of=None):
        self.rank = check_rank(rank)
        self._taxonomy_of = taxonomy_of
        self._cache: dict[str, RankedTaxon] = {}

    def __call__(self, label: str) -> RankedTaxon:
        found = self._cache.get(label)
        if found is None:
            extra = None
            if self._taxonomy_of is not None and not labels.is_taxonomy_string(label):
                extra = self._taxonomy_of(label)
            found = self._cache[label] = at_rank(label, self.rank, extra)
        return found
