"""SpeciesNet's per-detection ensemble, rule for rule: one box and its classifier top-5 -> (label, score, source).

This is the authority wildeye matches (speciesnet 5.0.6): `ensemble_prediction_combiner.combine_predictions`
with `geofence_utils.geofence_animal_classification` and `roll_up_labels_to_first_matching_level`, over the
`taxonomy_map` of the model's taxonomy file (`labels.Taxonomy`) and its geofence map. Labels and sources are
SpeciesNet's own strings, so `scripts/speciesnet_parity.py` compares them verbatim. wildeye's additions
(calibrated thresholds, project allow-list, sequences, review) live in `ensemble.py`, on top of this.

Every comparison below is SpeciesNet's: `>` is strict, `<` for the blank detection rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from wildeye.labels import SN_ANIMAL, SN_BLANK, SN_HUMAN, SN_UNKNOWN, SN_VEHICLE, Taxonomy

ENSEMBLE_TOP_K = 5  # speciesnet.constants.NUM_CLASSIFICATIONS_FOR_ENSEMBLE: the top classes each box is decided on
ROLLUP_LEVELS = ("genus", "family", "order", "class", "kingdom")  # rule #5a
GEOFENCE_ROLLUP_LEVELS = ("family", "order", "class", "kingdom")  # geofence_animal_classification
_LEVEL_FIELDS = {"species": 5, "genus": 4, "family": 3, "order": 2, "class": 1}


@dataclass(frozen=True)
class Thresholds:
    """SpeciesNet's numbers (combine_predictions), named. Changing one leaves SpeciesNet's behaviour."""

    human_box: float = 0.7  # 1a
    weak_box: float = 0.2  # 1b, 2a, 2c, 3a, 4b: "mid-confidence" detections
    human_classification: float = 0.5  # 1b, 2a
    vehicle_box: float = 0.7  # 2b
    vehicle_classification: float = 0.4  # 2c
    blank_classification_weak_box: float = 0.5  # 3a
    blank_classification: float = 0.99  # 3b
    species: float = 0.8  # 4a
    species_animal_box: float = 0.65  # 4b
    rollup: float = 0.65  # 5a
    animal_box: float = 0.5  # 5b
    rollup_levels: tuple[str, ...] = ROLLUP_LEVELS  # 5a
    geofence_rollup_levels: tuple[str, ...] = GEOFENCE_ROLLUP_LEVELS


SPECIESNET = Thresholds()


def full_class_string(label: str) -> str:
    """speciesnet.taxonomy_utils.get_full_class_string; a plain label (wildeye packages) is its own key."""
    parts = label.split(";")
    if len(parts) != 7:
        return " ".join(label.split()).lower()
    return ";".join(parts[1:6])


def ancestor_at_level(label: str, level: str, taxonomy: Taxonomy) -> str | None:
    """speciesnet.taxonomy_utils.get_ancestor_at_level: the taxonomy's label for the label's ancestor at `level`
    (the label itself at its own rank), None when the label has no such rank or the taxonomy lacks that taxon.
    A plain label (wildeye packages) has no ranks: None (SpeciesNet only ever sees 7-field labels)."""
    parts = label.split(";")
    if len(parts) != 7:
        return None
    taxa = parts[1:6]
    if level == "kingdom":
        if not taxa[0] and label != SN_ANIMAL:
            return None
        return taxonomy.get(";;;;")
    depth = _LEVEL_FIELDS.get(level)
    if depth is None or not taxa[depth - 1]:
        return None
    return taxonomy.get(";".join(taxa[:depth] + [""] * (5 - depth)))


def should_geofence(label: str, country: str | None, admin1_region: str | None, geofence: Mapping,
                    enabled: bool) -> bool:
    """speciesnet.geofence_utils.should_geofence_animal_classification: allow rules first, then block rules."""
    if not enabled or not country:
        return False
    if len(country) != 3:
        raise ValueError(f"invalid country code {country!r}: use ISO 3166-1 alpha-3, e.g. NPL")
    if admin1_region and len(admin1_region) != 2:
        raise ValueError(f"invalid admin1 region code {admin1_region!r}: use the two-letter subdivision, e.g. CA")
    rules = geofence.get(full_class_string(label))
    if rules is None:
        return False
    allow = rules.get("allow")
    if allow:
        if country not in allow:
            return True
        regions = allow[country]
        if admin1_region and regions and admin1_region not in regions:
            return True
    block = rules.get("block")
    if block and country in block:
        regions = block[country]
        if not regions:
            return True
        if admin1_region and admin1_region in regions:
            return True
    return False


def roll_up(classes: Sequence[str], scores: Sequence[float], *, country: str | None, admin1_region: str | None,
            levels: Sequence[str], threshold: float, taxonomy: Taxonomy, geofence: Mapping,
            geofence_enabled: bool) -> tuple[str, float, str] | None:
    """speciesnet.geofence_utils.roll_up_labels_to_first_matching_level.

    At each level in turn, sum the scores of the labels sharing an ancestor there (in top-k order, as plain float
    additions); the best sum whose ancestor is not geofenced wins if it passes `threshold` (strictly).
    """
    for level in levels:
        sums: dict[str, float] = {}
        for label, score in zip(classes, scores):
            ancestor = ancestor_at_level(label, level, taxonomy)
            if ancestor:
                sums[ancestor] = sums.get(ancestor, 0.0) + score
        best, best_score = None, 0.0
        for ancestor, total in sums.items():
            if total > best_score and not should_geofence(ancestor, country, admin1_region, geofence,
                                                          geofence_enabled):
                best, best_score = ancestor, total
        if best and best_score > threshold:
            return best, best_score, f"classifier+rollup_to_{level}"
    return None


def geofence_classification(classes: Sequence[str], scores: Sequence[float], *, country: str | None,
                            admin1_region: str | None, taxonomy: Taxonomy, geofence: Mapping,
                            geofence_enabled: bool,
                            levels: Sequence[str] = GEOFENCE_ROLLUP_LEVELS) -> tuple[str, float, str]:
    """speciesnet.geofence_utils.geofence_animal_classification: the top label where it is allowed, else a
    rollup from family upwards that keeps at least the top score."""
    if not should_geofence(classes[0], country, admin1_region, geofence, geofence_enabled):
        return classes[0], scores[0], "classifier"
    rolled = roll_up(classes, scores, country=country, admin1_region=admin1_region, levels=levels,
                     threshold=scores[0] - 1e-10, taxonomy=taxonomy, geofence=geofence,
                     geofence_enabled=geofence_enabled)
    if rolled:
        return rolled[0], rolled[1], "classifier+geofence+" + rolled[2][len("classifier+"):]
    return SN_UNKNOWN, scores[0], "classifier+geofence+rollup_failed"


def combine(category: str, conf: float, classes: Sequence[str], scores: Sequence[float], *,
            country: str | None = None, admin1_region: str | None = None, taxonomy: Taxonomy,
            geofence: Mapping | None = None, geofence_enabled: bool = True,
            t: Thresholds = SPECIESNET) -> tuple[str, float, str]:
    """speciesnet.ensemble_prediction_combiner.combine_predictions for one classified detection.

    category: the detector's 'animal' | 'person' | 'vehicle'; conf its score; classes/scores the classifier's
    top-5 for the box's crop, best first. Returns SpeciesNet's (class, score, source).
    """
    geofence = geofence or {}
    top, top_score = classes[0], scores[0]
    place = {"country": country, "admin1_region": admin1_region, "taxonomy": taxonomy, "geofence": geofence,
             "geofence_enabled": geofence_enabled}
    if category == "person":
        if conf > t.human_box:  # 1a
            return SN_HUMAN, conf, "detector"
        if conf > t.weak_box and top in (SN_HUMAN, SN_VEHICLE) and top_score > t.human_classification:  # 1b
            return SN_HUMAN, top_score, "classifier"
    if category == "vehicle":
        if conf > t.weak_box and top == SN_HUMAN and top_score > t.human_classification:  # 2a
            return SN_HUMAN, top_score, "classifier"
        if conf > t.vehicle_box:  # 2b
            return SN_VEHICLE, conf, "detector"
        if conf > t.weak_box and top == SN_VEHICLE and top_score > t.vehicle_classification:  # 2c
            return SN_VEHICLE, top_score, "classifier"
    if conf < t.weak_box and top == SN_BLANK and top_score > t.blank_classification_weak_box:  # 3a
        return SN_BLANK, top_score, "classifier"
    if top == SN_BLANK and top_score > t.blank_classification:  # 3b
        return SN_BLANK, top_score, "classifier"
    if top not in (SN_BLANK, SN_HUMAN, SN_VEHICLE):
        if top_score > t.species or (top_score > t.species_animal_box and category == "animal"
                                     and conf > t.weak_box):  # 4a, 4b
            return geofence_classification(classes, scores, levels=t.geofence_rollup_levels, **place)
    rolled = roll_up(classes, scores, levels=t.rollup_levels, threshold=t.rollup, **place)  # 5a
    if rolled:
        return rolled
    if category == "animal" and conf > t.animal_box:  # 5b
        return SN_ANIMAL, conf, "detector"
    return SN_UNKNOWN, top_score, "classifier"
