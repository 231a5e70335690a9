"""The taxonomy a trained package gives each of its labels (model.json `taxonomy`, package format 2).

Per label, first that answers:

1. `classes.taxonomy` in the train config: a SpeciesNet taxonomy string as it is; a scientific name or fields,
   completed from the reference taxonomy where it knows that latin name (higher ranks, taxon ID);
2. the label itself when it is already a 7-field label (a SpeciesNet label used as a class);
3. SpeciesNet's own strings for the special outcomes (blank, empty, human, vehicle, animal, unknown);
4. the reference taxonomy, by the label's common or scientific name: `classes.taxonomy_file` (SpeciesNet's
   taxonomy_release.txt, or a SpeciesNet model folder), else the SpeciesNet model in wildeye's cache.

A label none of these answers has no taxonomy: training goes on, with a warning naming it and how to give one.
The catch-all `classes.other` is not a taxon and is left without one silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from wildeye.errors import ConfigError, WildeyeError
from wildeye.labels import (SPECIESNET_LABELS, TAXON, Taxonomy, is_taxonomy_string, parse, taxa_of_scientific_name,
                            taxonomy_string)
from wildeye.train.config import ClassesSection, TaxonFields, normalize_label

log = logging.getLogger(__name__)

_SPECIAL_WORDS = {"blank": "blank", "empty": "blank", "human": "human", "person": "human", "vehicle": "vehicle",
                  "animal": "animal", "unknown": "unknown"}


@dataclass
class LabelTaxonomy:
    taxonomy: dict[str, str] = field(default_factory=dict)  # label -> 7-field string
    sources: dict[str, str] = field(default_factory=dict)  # label -> config | label | speciesnet special | file name
    missing: list[str] = field(default_factory=list)
    reference: str | None = None  # the taxonomy file names were looked up in

    def warnings(self) -> list[str]:
        """One line for every class without a taxonomy, saying how to give one."""
        if not self.missing:
            return []
        names = ", ".join(repr(label) for label in self.missing)
        where = f" (looked up in {self.reference})" if self.reference else ""
        return [f"no taxonomy for class{'es' if len(self.missing) > 1 else ''} {names}{where}: exports will give "
                "no scientific name; add it to classes.taxonomy in the train config (a scientific name such as "
                "'Panthera uncia', or a SpeciesNet taxonomy string), or set classes.taxonomy_file to a SpeciesNet "
                "taxonomy_release.txt"]


def label_taxonomy(labels: list[str], classes: ClassesSection) -> LabelTaxonomy:
    """Each label's 7-field taxonomy string (see the module docstring); warnings are logged, never raised."""
    reference, reference_name = _reference(classes.taxonomy_file)
    given = {normalize_label(k): v for k, v in classes.taxonomy.items()}
    other = normalize_label(classes.other) if classes.other else None
    out = LabelTaxonomy(reference=reference_name)
    for label in labels:
        key = normalize_label(label)
        value, source = None, None
        if key in given:
            value, source = _from_config(label, given[key], reference), "config"
        elif is_taxonomy_string(label):
            value, source = label.strip(), "label"
        elif key in _SPECIAL_WORDS:
            value, source = SPECIESNET_LABELS[_SPECIAL_WORDS[key]], "speciesnet special"
        elif reference is not None and (found := reference.find(label)) is not None:
            value, source = found, reference_name
        if value is not None:
            out.taxonomy[label], out.sources[label] = value, source
        elif key != other:
            out.missing.append(label)
    for message in out.warnings():
        log.warning(message)
    return out


def _from_config(label: str, value: str | TaxonFields, reference: Taxonomy | None) -> str:
    if isinstance(value, str):
        value = value.strip()
        if is_taxonomy_string(value):
            return value
        value = TaxonFields(scientific_name=value)
    taxa = ["", "", "", "", ""]
    taxon_id, common = value.id or "", value.common_name
    if value.scientific_name:
        known = reference.find(value.scientific_name) if reference is not None else None
        placed = taxa_of_scientific_name(value.scientific_name, value.rank)
        if known is not None and parse(known).kind == TAXON and (placed is None or _agrees(parse(known).taxa, placed)):
            parsed = parse(known)
            taxa = list(parsed.taxa)
            taxon_id = taxon_id or known.split(";")[0].strip()
            common = common or parsed.name
        elif placed is not None:
            taxa = list(placed)
        else:
            raise ConfigError(f"classes.taxonomy: {label!r} -> {value.scientific_name!r}: cannot tell its rank",
                              "add rank: (class, order, family, genus) or give the ranks as fields")
    for i, rank in enumerate((value.class_, value.order, value.family, value.genus, value.species)):
        if rank:
            taxa[i] = rank
    return taxonomy_string(taxon_id=taxon_id, taxa=taxa, common=common or label)


def _agrees(found: tuple[str, ...], placed: tuple[str, ...]) -> bool:
    return all(not p or p == f for p, f in zip(placed, found))


def _reference(taxonomy_file: str | None) -> tuple[Taxonomy | None, str | None]:
    """The taxonomy names are looked up in: the configured file or SpeciesNet folder, else the cached SpeciesNet
    model's (None when neither is there: nothing is downloaded for this)."""
    if taxonomy_file:
        path = Path(taxonomy_file)
        if path.is_dir():
            path = _speciesnet_taxonomy(path)
            if path is None:
                raise ConfigError(f"classes.taxonomy_file: {taxonomy_file} holds no SpeciesNet taxonomy file",
                                  "point it at taxonomy_release.txt, or at a SpeciesNet model folder")
        try:
            return Taxonomy.from_file(path), path.name
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"classes.taxonomy_file: cannot read {path}: {exc}",
                              "point it at SpeciesNet's taxonomy_release.txt") from None
    try:
        from wildeye.models.hub import resolve_model

        folder = resolve_model("speciesnet", "speciesnet", download=False).path
    except (WildeyeError, OSError):
        return None, None
    path = _speciesnet_taxonomy(folder if folder.is_dir() else folder.parent)
    return (Taxonomy.from_file(path), f"SpeciesNet's {path.name}") if path else (None, None)


def _speciesnet_taxonomy(folder: Path) -> Path | None:
    from wildeye.models.speciesnet import read_info

    try:
        name = read_info(folder).get("taxonomy")
    except WildeyeError:
        name = None
    candidates = ([folder / name] if isinstance(name, str) else []) + sorted(folder.glob("*taxonomy*.txt"))
    return next((p for p in candidates if p.is_file()), None)
