"""Scientific names for every label a report writes, and the taxonomic coverage of a Camtrap DP package.

A label carries its taxonomy when it is a SpeciesNet-style 7-field string. A plain label of a wildeye-trained
package gets the taxonomy the package stores for it (model.json `taxonomy`, recorded by the run). Any other plain
name (a reviewer's "Snow leopard", a package without taxonomy) gets it from a 7-field label of the same journal or
package with that common or latin name, or from the project's `scientific_names` map; otherwise it has no
scientific name. Camtrap DP 1.0.2
observations.scientificName is the "scientific name of the observed individual(s)": never a common name, never
the kingdom word "animal" (wildeye leaves it empty there, an animal of unknown taxon).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from wildeye import labels
from wildeye.labels import SPECIAL, SPECIESNET_LABELS, TAXON, Label, normalize_name, parse

_TAXA_RANKS = ("class", "order", "family", "genus")  # Camtrap DP taxonomic fields the five taxa fields fill


@dataclass(frozen=True)
class Taxon:
    """One entry of Camtrap DP package.taxonomic."""

    scientific_name: str
    rank: str | None = None
    taxon_id: str | None = None
    common: str | None = None
    higher: tuple[tuple[str, str], ...] = ()  # (rank, latin name) from class down to the taxon's own rank

    def descriptor(self) -> dict:
        """taxonID, scientificName, taxonRank, kingdom..genus, vernacularNames: Camtrap DP 1.0.2 taxonomic items."""
        out: dict = {}
        if self.taxon_id:
            out["taxonID"] = self.taxon_id
        out["scientificName"] = self.scientific_name
        if self.rank:
            out["taxonRank"] = self.rank
        out["kingdom"] = "Animalia"
        out.update(dict(self.higher))
        if self.common and normalize_name(self.common) != normalize_name(self.scientific_name):
            out["vernacularNames"] = {"eng": self.common}
        return out

    @property
    def richness(self) -> int:
        return len(self.higher) + bool(self.rank) + bool(self.taxon_id) + bool(self.common)


def taxon_of(parsed: Label) -> Taxon | None:
    """The taxon a 7-field label names; None for plain names, the kingdom ('animal') and non-animal outcomes."""
    if parsed.kind != TAXON or not parsed.taxa:
        return None
    sci = parsed.scientific_name
    if not sci:
        return None
    uuid = parsed.raw.split(";")[0].strip()
    depth = parsed.depth or 0
    higher = tuple((rank, parsed.taxa[i].capitalize()) for i, rank in enumerate(_TAXA_RANKS)
                   if i < min(depth, 4) and parsed.taxa[i])
    common = parsed.name if parsed.common else None
    return Taxon(sci, parsed.rank, uuid or None, common, higher)


class Names:
    """Label -> Taxon (and its full taxonomy string) for one report (see the module docstring)."""

    def __init__(self, seen: Iterable[str] = (), scientific_names: dict[str, str] | None = None,
                 taxonomy: dict[str, str] | None = None):
        self._package = {label: value for label, value in (taxonomy or {}).items() if labels.is_taxonomy_string(value)}
        by_name: dict[str, dict[str, str]] = {}
        for label in set(seen) | set(self._package.values()):
            parsed = parse(label)
            if taxon_of(parsed) is None:
                continue
            for name in {parsed.common, normalize_name(parsed.scientific_name or "")} - {""}:
                by_name.setdefault(name, {})[parsed.key] = label
        self._by_name = {name: next(iter(found.values())) for name, found in by_name.items() if len(found) == 1}
        self._given = {normalize_name(k): v for k, v in (scientific_names or {}).items()}
        self._cache: dict[str, Taxon | None] = {}
        self._strings: dict[str, str | None] = {}

    @classmethod
    def from_frames(cls, frames, scientific_names: dict[str, str] | None = None,
                    taxonomy: dict[str, str] | None = None) -> "Names":
        """From every label the frames carry: final observations and every box's classifications. taxonomy: a
        package's label -> taxonomy string (`package_taxonomy(models)`)."""
        seen: set[str] = set()
        for frame in frames:
            seen.update(o.label for o in frame.observations)
            for box in frame.boxes:
                seen.update(label for label, _ in box.classifications)
                if box.decision is not None:
                    seen.add(box.decision.label)
        return cls(seen, scientific_names, taxonomy)

    def taxon(self, label: str) -> Taxon | None:
        if label not in self._cache:
            self._cache[label] = self._resolve(label)
        return self._cache[label]

    def scientific_name(self, label: str) -> str:
        taxon = self.taxon(label)
        return taxon.scientific_name if taxon else ""

    def rank(self, label: str) -> str | None:
        taxon = self.taxon(label)
        return taxon.rank if taxon else None

    def taxonomy_string(self, label: str) -> str | None:
        """The label as SpeciesNet's 7-field string (what MegaDetector files carry in
        classification_category_descriptions): its own, SpeciesNet's for the special outcomes (blank, human ...),
        its package's, a same-named label's, or one built from the project's scientific name; None if unknown."""
        if label not in self._strings:
            self._strings[label] = self._string(label)
        return self._strings[label]

    def _string(self, label: str) -> str | None:
        parsed = parse(label)
        if labels.is_taxonomy_string(label):
            return label.strip()
        if parsed.kind in SPECIAL:
            return SPECIESNET_LABELS[parsed.kind]
        if label in self._package:
            return self._package[label]
        name = normalize_name(parsed.name)
        if name in self._given:
            taxa = labels.taxa_of_scientific_name(self._given[name])
            return labels.taxonomy_string(taxa=taxa, common=parsed.name) if taxa else None
        return self._by_name.get(name)

    def _resolve(self, label: str) -> Taxon | None:
        parsed = parse(label)
        if parsed.kind != TAXON:
            return None
        own = taxon_of(parsed)
        if own is not None:
            return own
        if label in self._package:
            return taxon_of(parse(self._package[label]))
        name = normalize_name(parsed.name)
        if name in self._given:
            latin = self._given[name]
            rank = "species" if len(latin.split()) == 2 else None
            return Taxon(latin, rank, None, parsed.name if normalize_name(latin) != name else None)
        if name in self._by_name:
            return taxon_of(parse(self._by_name[name]))
        return None


def package_taxonomy(models: dict) -> dict[str, str]:
    """A wildeye package's label -> taxonomy string, as the run recorded it (its models' classifier entry). Runs
    recorded before packages had a taxonomy in the journal: read from the package's model.json, if still there."""
    classifier = (models or {}).get("classifier") or {}
    recorded = classifier.get("taxonomy")
    if isinstance(recorded, dict):
        return {str(k): str(v) for k, v in recorded.items()}
    path = classifier.get("path")
    if not path:
        return {}
    from wildeye.errors import WildeyeError
    from wildeye.models.package import is_package, read_info

    try:
        return dict(read_info(path).taxonomy) if is_package(path) else {}
    except (WildeyeError, OSError, ValueError):
        return {}


def coverage(taxa: Iterable[Taxon]) -> list[dict]:
    """package.taxonomic: one entry per scientific name (the richest description of it), sorted by name."""
    best: dict[str, Taxon] = {}
    for taxon in taxa:
        current = best.get(taxon.scientific_name)
        if current is None or taxon.richness > current.richness:
            best[taxon.scientific_name] = taxon
    return [best[name].descriptor() for name in sorted(best)]


def is_identified(label: str) -> bool:
    """Whether a label names a taxon (a species, or a genus, family ... above it): what species tables count.
    'animal' (the kingdom) and 'unknown' are not."""
    return labels.kind(label) == TAXON
