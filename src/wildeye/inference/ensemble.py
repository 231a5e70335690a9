"""The ensemble: detector boxes + classifier top-k -> a label per detection, per image and per sequence.

Per detection it follows SpeciesNet's ensemble (speciesnet/ensemble_prediction_combiner.py,
combine_predictions_for_single_item) with SpeciesNet's thresholds, taxonomic rollup and geofencing
(speciesnet/geofence_utils.py), but per box rather than per image, since wildeye classifies every animal
crop. On top it adds what SpeciesNet leaves to its users: the image decision over several boxes, the
burst (a clear frame labels its weak neighbours), a project allow-list, and a review queue with reasons.

Labels are SpeciesNet's 7-field strings ``uuid;class;order;family;genus;species;common name`` or plain
class names from wildeye-trained models; rollup needs the 7-field form. The special outcomes are plain:
"blank", "human", "vehicle", "animal" (the kingdom) and "unknown".
"""

from __future__ import annotations

import csv
import functools
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from wildeye.config import EnsembleConfig
from wildeye.errors import ConfigError
from wildeye.inference.types import Detection, Prediction

BLANK, HUMAN, VEHICLE, ANIMAL, UNKNOWN = "blank", "human", "vehicle", "animal", "unknown"
SPECIAL_LABELS = frozenset({BLANK, HUMAN, VEHICLE, ANIMAL, UNKNOWN})

# Prediction.source values.
SOURCES = ("detector", "classifier", "rollup", "geofence", "sequence")

# Review reason codes (EnsembleConfig.review_on picks which of them flag an item).
LOW_CONFIDENCE = "low_confidence"
FLAGSHIP = "flagship"
DISAGREEMENT = "sequence_disagreement"
GEOFENCE_CHANGED = "geofence_changed"
ROLLUP = "rollup"
UNCONFIRMED = "unconfirmed"

# SpeciesNet's special labels (speciesnet/constants.py, Classification).
SPECIESNET_BLANK = "f1856211-cfb7-4a5b-9158-c0f72fd09ee6;;;;;;blank"
SPECIESNET_ANIMAL = "1f689929-883d-4dae-958c-3d57ab5b6c16;;;;;;animal"
SPECIESNET_HUMAN = "990ae9dd-7a59-4344-afcb-1b7b21368000;mammalia;primates;hominidae;homo;sapiens;human"
SPECIESNET_VEHICLE = "e2895ed5-780b-48f6-8a11-9e27cb594511;;;;;;vehicle"
SPECIESNET_UNKNOWN = ("f2efdae9-efb8-48fb-8a91-eccf79ab4ffb;no cv result;no cv result;no cv result;"
                      "no cv result;no cv result;no cv result")

_RANKS = ("kingdom", "class", "order", "family", "genus", "species")  # index = depth in the 5 taxa fields
_KINGDOM_KEY = ""  # the taxa key of the kingdom ("animal")
_HUMAN_TAXA = ("mammalia", "primates", "hominidae", "homo", "sapiens")
_PLAIN_SPECIAL = {"blank": BLANK, "empty": BLANK, "human": HUMAN, "person": HUMAN, "vehicle": VEHICLE,
                  "animal": ANIMAL, "unknown": UNKNOWN, "no cv result": UNKNOWN}
_CATEGORIES = {"animal": "animal", "1": "animal", "person": "person", "human": "person", "2": "person",
               "vehicle": "vehicle", "3": "vehicle"}


# --- results -------------------------------------------------------------------------------------------


@dataclass
class ReviewReason:
    code: str  # one of the codes above
    text: str  # what a reviewer reads


@dataclass
class DetectionDecision:
    """One box's decision. prediction is None when the box is below the detection threshold."""

    detection: Detection
    prediction: Prediction | None
    rank: str | None = None  # taxonomic rank of a taxon label: species, genus, ..., kingdom
    reasons: list[ReviewReason] = field(default_factory=list)
    previous: Prediction | None = None  # what the box said before sequence smoothing relabelled it

    @property
    def counted(self) -> bool:
        """Takes part in the image decision: above threshold and not a box the classifier called blank."""
        return self.prediction is not None and self.prediction.label != BLANK


@dataclass
class ImageDecision:
    """The image label plus one decision per input detection, in input order."""

    prediction: Prediction
    detections: list[DetectionDecision]
    reasons: list[ReviewReason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    path: str | None = None
    sequence_id: str | None = None
    frame_num: int | None = None
    sequence: Prediction | None = None  # the burst's label, when one frame made it clear

    @property
    def labels(self) -> list[str]:
        """Distinct labels of the counted boxes, most confident box first (multi-species images)."""
        ordered = sorted((d for d in self.detections if d.counted), key=lambda d: -d.detection.conf)
        return list(dict.fromkeys(d.prediction.label for d in ordered))

    @property
    def needs_review(self) -> bool:
        return self.prediction.needs_review


@dataclass
class ImageResult:
    """What the detector and classifier produced for one image, with what the ensemble needs to know of it."""

    path: str
    detections: list[Detection]
    sequence_id: str | None = None
    frame_num: int | None = None
    country: str | None = None  # ISO 3166-1 alpha-3 of the deployment
    admin1_region: str | None = None  # ISO 3166-2 subdivision code ("XZ" or "CN-XZ")


# --- labels --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Label:
    raw: str
    taxa: tuple[str, ...]  # the 5 lowercased fields class..species; () for a plain label
    common: str  # lowercased common name (or the plain label)
    kind: str  # taxon | blank | human | vehicle | animal | unknown

    @property
    def key(self) -> str:
        """SpeciesNet's 'full class string' (class;order;family;genus;species), the geofence map's key."""
        if self.kind == ANIMAL:
            return _KINGDOM_KEY
        return ";".join(self.taxa) if self.taxa else self.common

    @property
    def depth(self) -> int | None:
        if self.kind == ANIMAL:
            return 0
        if not self.taxa:
            return None
        return max((i + 1 for i, part in enumerate(self.taxa) if part), default=0)

    @property
    def rank(self) -> str | None:
        depth = self.depth
        return _RANKS[depth] if depth is not None and (self.kind in ("taxon", ANIMAL)) else None

    @property
    def names(self) -> set[str]:
        """What a person might call it: common name, 'genus species', the latin name at its rank."""
        names = {self.common, self.common.replace("_", " "), self.raw.strip().lower()}
        if self.taxa:
            names.add(";".join(self.taxa))
            if self.taxa[3] and self.taxa[4]:
                names.add(f"{self.taxa[3]} {self.taxa[4]}")
            depth = self.depth
            if depth and depth < 5:
                names.add(self.taxa[depth - 1])
        names.discard("")
        return names

    def ancestor_key(self, level: str) -> str | None:
        """speciesnet.taxonomy_utils.get_ancestor_at_level, on keys; None where the label has no such rank."""
        if self.kind in (BLANK, VEHICLE, UNKNOWN):
            return None
        if level == "kingdom":
            if self.kind == ANIMAL or (self.taxa and self.taxa[0]) or (not self.taxa and self.kind == "taxon"):
                return _KINGDOM_KEY
            return None
        if not self.taxa:
            return None
        depth = _RANKS.index(level)
        if not self.taxa[depth - 1]:
            return None
        return ";".join(self.taxa[:depth] + ("",) * (5 - depth))

    def is_ancestor_of(self, other: "_Label") -> bool:
        """Strictly higher in the same lineage ('animal' is above every taxon)."""
        if self.kind == ANIMAL:
            return other.kind in ("taxon", HUMAN) and other.key != _KINGDOM_KEY
        if not self.taxa or not other.taxa or self.depth is None or other.depth is None:
            return False
        return self.depth < other.depth and self.taxa[: self.depth] == other.taxa[: self.depth]

    def related(self, other: "_Label") -> bool:
        return self.key == other.key or self.is_ancestor_of(other) or other.is_ancestor_of(self)


@functools.lru_cache(maxsize=65536)
def _parse(label: str) -> _Label:
    parts = label.split(";")
    if len(parts) == 7:
        uuid = parts[0].strip().lower()
        taxa = tuple(part.strip().lower() for part in parts[1:6])
        common = parts[6].strip().lower()
        if uuid == SPECIESNET_UNKNOWN.split(";")[0] or all(part == "no cv result" for part in taxa):
            kind = UNKNOWN
        elif taxa == _HUMAN_TAXA or (not any(taxa) and common in ("human", "person")):
            kind = HUMAN
        elif not any(taxa) and common in _PLAIN_SPECIAL:
            kind = _PLAIN_SPECIAL[common]
        else:
            kind = "taxon"
        return _Label(label, taxa, common, kind)
    common = " ".join(label.split()).lower()
    return _Label(label, (), common, _PLAIN_SPECIAL.get(common, "taxon"))


def display_name(label: str) -> str:
    """A label as a person reads it: the common name, else the latin name at its rank, else the label."""
    parsed = _parse(label)
    if parsed.kind != "taxon":
        return parsed.kind
    if parsed.taxa:
        if parsed.common:
            return parsed.common
        depth = parsed.depth
        return parsed.taxa[depth - 1] if depth else label
    return label


def _synthesized_label(key: str) -> str:
    """A 7-field label for a taxon the classifier has no label for (no taxonomy file given)."""
    taxa = key.split(";")
    latin = next((part for part in reversed(taxa) if part), "")
    return ";" + key + ";" + latin


# --- geofence map --------------------------------------------------------------------------------------


def load_geofence(path: str | Path) -> dict[str, dict[str, dict[str, list[str]]]]:
    """Read a SpeciesNet geofence map; raises ConfigError naming the file and the bad entry.

    .json is SpeciesNet's release format: {"class;order;family;genus;species": {"allow": {"KEN": [],
    "USA": ["AK", "CA"]}, "block": {...}}}; an empty region list means the whole country.
    .csv is the format of SpeciesNet's data/geofence_fixes.csv: species,rule,country_code,admin1_region_code.
    Keys may also be full 7-field labels or plain class names (wildeye-trained models).
    """
    return _load_geofence_cached(str(Path(path).expanduser().resolve()), *_stat(path))


def _stat(path: str | Path) -> tuple[int, int]:
    try:
        stat = Path(path).expanduser().stat()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read geofence map: {exc.strerror or exc}",
                          "set ensemble.geofence_file to a SpeciesNet geofence .json or .csv") from None
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=8)
def _load_geofence_cached(path: str, mtime_ns: int, size: int) -> dict:
    del mtime_ns, size  # cache keys: a changed file is read again
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read geofence map: {getattr(exc, 'strerror', None) or exc}") from None
    if path.lower().endswith(".csv"):
        return _geofence_from_csv(path, text)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: geofence map is not valid JSON: {exc.msg}") from None
    return normalize_geofence(raw, path)


def normalize_geofence(raw: Mapping, source: str = "geofence map") -> dict:
    """Check and normalize an in-memory geofence map (keys lowercased, countries and regions uppercased)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: the top level must map taxa to rules", "use SpeciesNet's geofence JSON format")
    result: dict = {}
    for label, rules in raw.items():
        key = _geofence_key(str(label))
        if not isinstance(rules, Mapping) or set(rules) - {"allow", "block"}:
            raise ConfigError(f"{source}: {label!r}: rules must be {{'allow': ..., 'block': ...}}",
                              "map each rule to {country: [admin1 regions]}")
        entry = result.setdefault(key, {})
        for rule, countries in rules.items():
            if not isinstance(countries, Mapping):
                raise ConfigError(f"{source}: {label!r}.{rule}: expected {{country: [admin1 regions]}}",
                                  "use [] for the whole country")
            target = entry.setdefault(rule, {})
            for country, regions in countries.items():
                if regions is None:
                    regions = []
                if not isinstance(regions, list):
                    raise ConfigError(f"{source}: {label!r}.{rule}.{country}: expected a list of admin1 regions",
                                      "use [] for the whole country")
                target[str(country).strip().upper()] = sorted({_admin1(str(r)) for r in regions})
    return result


def _geofence_from_csv(path: str, text: str) -> dict:
    rows = list(csv.DictReader(text.splitlines()))
    needed = {"species", "rule", "country_code"}
    if not rows or needed - set(rows[0]):
        raise ConfigError(f"{path}: geofence CSV needs columns species, rule, country_code[, admin1_region_code]")
    countries: dict = defaultdict(lambda: defaultdict(dict))  # key -> rule -> country -> set | None (whole)
    for number, row in enumerate(rows, start=2):
        rule = (row.get("rule") or "").strip().lower()
        if rule not in ("allow", "block"):
            raise ConfigError(f"{path}:{number}: rule {row.get('rule')!r} is not allow or block")
        key = _geofence_key(row["species"] or "")
        country = (row["country_code"] or "").strip().upper()
        region = (row.get("admin1_region_code") or "").strip()
        current = countries[key][rule].get(country, set())
        if current is None or not region:
            countries[key][rule][country] = None
        else:
            countries[key][rule][country] = current | {_admin1(region)}
    return {key: {rule: {c: sorted(r or ()) for c, r in by_country.items()} for rule, by_country in rules.items()}
            for key, rules in countries.items()}


def _geofence_key(label: str) -> str:
    label = label.strip()
    parts = label.split(";")
    if len(parts) == 7:
        return ";".join(part.strip().lower() for part in parts[1:6])
    if len(parts) == 5:
        return ";".join(part.strip().lower() for part in parts)
    return " ".join(label.split()).lower()


def _admin1(region: str | None) -> str | None:
    """'CN-XZ' and 'XZ' both -> 'XZ' (SpeciesNet's maps use the subdivision part, e.g. USA: ['CA'])."""
    if not region:
        return None
    region = region.strip().upper()
    return region.split("-", 1)[1] if "-" in region else region


# --- the ensemble --------------------------------------------------------------------------------------


class Ensemble:
    """An EnsembleConfig with what it refers to loaded: the geofence map and, optionally, the taxonomy.

    taxonomy: the classifier's label list (SpeciesNet's labels file). With it, rollup only ever returns
    labels the model has, exactly as SpeciesNet; without it, a missing ancestor gets a synthesized label
    ';mammalia;carnivora;felidae;;;felidae'.
    """

    def __init__(self, cfg: EnsembleConfig | None = None, *, geofence: Mapping | None = None,
                 taxonomy: Iterable[str] | None = None):
        self.cfg = cfg or EnsembleConfig()
        if geofence is not None:
            self.geofence = normalize_geofence(geofence)
        elif self.cfg.geofence_file:
            self.geofence = load_geofence(self.cfg.geofence_file)
        else:
            self.geofence = {}
        self.taxonomy: dict[str, str] | None = None
        if taxonomy is not None:
            self.taxonomy = {}
            for label in taxonomy:
                label = label.strip()
                if label and _parse(label).kind in ("taxon", HUMAN):
                    self.taxonomy.setdefault(_parse(label).key, label)
        self._flagship = set(self.cfg.flagship_species)
        self._allowed = [_geofence_key(name) for name in self.cfg.allowed_taxa]
        self._taxonomy_names: dict[str, set[str]] = defaultdict(set)
        for label in (self.taxonomy or {}).values():
            for name in _parse(label).names:
                self._taxonomy_names[name].add(_parse(label).key)

    # --- per detection ---------------------------------------------------------------------------------

    def decide_detection(self, det: Detection, country: str | None = None,
                         admin1_region: str | None = None) -> DetectionDecision:
        cfg = self.cfg
        category = _CATEGORIES.get(str(det.category).strip().lower())
        if category is None:
            raise ValueError(f"unknown detection category {det.category!r}: expected animal, person or vehicle")
        if det.conf < cfg.detection_threshold:
            return DetectionDecision(det, None)
        country = country.strip().upper() if country else None
        admin1 = _admin1(admin1_region)
        cls = sorted(((str(label), float(score)) for label, score in det.classifications), key=lambda c: -c[1])
        top = _parse(cls[0][0]) if cls else None
        top_score = cls[0][1] if cls else 0.0
        reasons: list[ReviewReason] = []

        def done(label: str, score: float, source: str, rank: str | None = None) -> DetectionDecision:
            decision = DetectionDecision(det, Prediction(label, round(score, 6), source), rank, reasons)
            self._review_detection(decision, cls)
            return decision

        # SpeciesNet #1a/#1b, #2a-#2c: people and vehicles, from the detector first.
        if category == "person":
            if det.conf > cfg.human_threshold:
                return done(HUMAN, det.conf, "detector")
            if top and top.kind in (HUMAN, VEHICLE) and top_score > cfg.human_classifier_threshold:
                return done(HUMAN, top_score, "classifier")
        elif category == "vehicle":
            if top and top.kind == HUMAN and top_score > cfg.human_classifier_threshold:
                return done(HUMAN, top_score, "classifier")
            if det.conf > cfg.vehicle_threshold:
                return done(VEHICLE, det.conf, "detector")
            if top and top.kind == VEHICLE and top_score > cfg.vehicle_classifier_threshold:
                return done(VEHICLE, top_score, "classifier")

        if cls:
            # SpeciesNet #3b: the classifier is sure the box holds nothing.
            if top.kind == BLANK and top_score > cfg.blank_threshold:
                return done(BLANK, top_score, "classifier")
            # SpeciesNet #4a/#4b: a species (or any taxon the classifier names directly), geofenced.
            animal_box = category == "animal" and det.conf > cfg.animal_box_threshold
            sure = top_score > cfg.species_threshold or (
                cfg.species_threshold_animal_box is not None and animal_box
                and top_score > cfg.species_threshold_animal_box)
            calibrated = cfg.class_thresholds.get(top.raw)
            if calibrated is not None:  # a threshold calibrated for this label to a target precision
                sure = top_score >= calibrated
                if not sure:
                    reasons.append(ReviewReason(LOW_CONFIDENCE, f"{display_name(top.raw)} {top_score:.2f} is below "
                                                f"its calibrated threshold {calibrated:.2f}"))
            if sure and top.kind not in (BLANK, UNKNOWN):
                if top.kind in (HUMAN, VEHICLE, ANIMAL):  # SpeciesNet would roll a 'human' crop up to primates
                    return done(top.kind, top_score, "classifier")
                fenced = self._fence_reason(top, country, admin1, [label for label, _ in cls])
                if fenced is None:
                    return done(self._output_label(top), top_score, "classifier", top.rank)
                # speciesnet.geofence_utils.geofence_animal_classification: roll up until allowed, keeping
                # at least the top score (the top label's own ancestors always have it).
                rolled = self._rollup(cls, cfg.geofence_rollup_levels, top_score - 1e-9, country, admin1)
                reasons.append(ReviewReason(GEOFENCE_CHANGED, f"{display_name(top.raw)} ({top_score:.2f}) "
                                            f"{fenced}; " + (f"rolled up to {rolled[2]} {display_name(rolled[0])}"
                                                             if rolled else "no allowed ancestor")))
                if rolled:
                    return done(rolled[0], rolled[1], "geofence", rolled[2])
                return done(ANIMAL if category == "animal" else UNKNOWN, det.conf, "geofence")
            # SpeciesNet #5a: sum the top-k within each genus, family, ... and take the first rank that passes.
            rolled = self._rollup(cls, cfg.rollup_levels, cfg.rollup_threshold, country, admin1)
            if rolled:
                label, score, level = rolled
                reasons.append(ReviewReason(ROLLUP, f"rolled up to {level} {display_name(label)} "
                                            f"(top-{len(cls)} sum {score:.2f}); best guess "
                                            f"{display_name(top.raw)} {top_score:.2f}"))
                return done(label, score, "rollup", level)

        # SpeciesNet #5b, then 'unknown' (a person/vehicle box the ensemble could not confirm).
        if category == "animal":
            return done(ANIMAL, det.conf, "detector")
        reasons.append(ReviewReason(UNCONFIRMED, f"detector says {category} at {det.conf:.2f}, below "
                                    f"{cfg.human_threshold if category == 'person' else cfg.vehicle_threshold:.2f}"))
        return done(UNKNOWN, det.conf, "detector")

    def _rollup(self, cls: list[tuple[str, float]], levels: Iterable[str], threshold: float,
                country: str | None, admin1: str | None) -> tuple[str, float, str] | None:
        """speciesnet.geofence_utils.roll_up_labels_to_first_matching_level: (label, score, level) or None."""
        local = {_parse(label).key: label for label, _ in cls}
        for level in levels:
            sums: dict[str, float] = {}
            for label, score in cls:
                key = _parse(label).ancestor_key(level)
                if key is not None and self._label_for_key(key, local) is not None:
                    sums[key] = sums.get(key, 0.0) + score
            best_key, best_score = None, 0.0
            for key, score in sums.items():
                score = round(score, 9)  # 0.5 + 0.15 must pass or fail a 0.65 bar the same way every time
                if score > best_score and self._fence_reason(
                        _parse(self._label_for_key(key, local)), country, admin1, local.values()) is None:
                    best_key, best_score = key, score
            if best_key is not None and best_score > threshold:
                return self._output_label(_parse(self._label_for_key(best_key, local))), best_score, level
        return None

    def _label_for_key(self, key: str, local: Mapping[str, str]) -> str | None:
        if key == _KINGDOM_KEY:
            return SPECIESNET_ANIMAL
        if key in local:
            return local[key]
        if self.taxonomy is not None:
            return self.taxonomy.get(key)  # as SpeciesNet: only ancestors the model has a label for
        return _synthesized_label(key)

    @staticmethod
    def _output_label(label: _Label) -> str:
        return label.kind if label.kind in SPECIAL_LABELS else label.raw

    # --- geofence --------------------------------------------------------------------------------------

    def _fence_reason(self, label: _Label, country: str | None, admin1: str | None,
                      local: Iterable[str] = ()) -> str | None:
        """Why this taxon is not allowed here, or None (speciesnet.geofence_utils.should_geofence_...).

        local: the box's top-k labels, used to place allowed_taxa given by common name in the taxonomy.
        """
        if not self.cfg.geofence or label.kind != "taxon" or label.key == _KINGDOM_KEY:
            return None
        if self._allowed and not self._project_allows(label, local):
            return "is not on the project's allowed_taxa"
        if not country or not self.geofence:
            return None
        rules = self.geofence.get(label.key)
        if not rules:
            return None
        allow = rules.get("allow")
        if allow:
            if country not in allow:
                return f"is not allowed in {country} by the geofence map"
            regions = allow[country]
            if admin1 and regions and admin1 not in regions:
                return f"is not allowed in {country}-{admin1} by the geofence map"
        block = rules.get("block")
        if block and country in block:
            regions = block[country]
            if not regions:
                return f"is blocked in {country} by the geofence map"
            if admin1 and admin1 in regions:
                return f"is blocked in {country}-{admin1} by the geofence map"
        return None

    def _project_allows(self, label: _Label, local: Iterable[str] = ()) -> bool:
        """On the allow-list, below an entry (e.g. 'ursidae'), or above one (SpeciesNet propagates allow
        rules to higher taxa: a family is allowed where any of its listed species is)."""
        names = label.names
        local = [_parse(other) for other in local]
        for entry in self._allowed:
            if entry in names or entry in label.taxa[:4]:  # the taxon itself, or a genus/family/... above it
                return True
            if not label.taxa:
                continue
            if ";" in entry:
                keys = {entry}
            else:  # a name: find its lineage in the taxonomy or among this box's labels
                keys = set(self._taxonomy_names.get(entry, ()))
                keys.update(other.key for other in local if other.taxa and entry in other.names)
            if any(label.related(_parse(";" + key + ";")) for key in keys):
                return True
        return False

    # --- review ----------------------------------------------------------------------------------------

    def is_flagship(self, label: str) -> bool:
        return bool(self._flagship & _parse(label).names)

    def _review_detection(self, decision: DetectionDecision, cls: list[tuple[str, float]]) -> None:
        pred = decision.prediction
        if pred.label == BLANK:
            return self._sync(decision)
        if pred.score < self.cfg.review_threshold:
            decision.reasons.insert(0, ReviewReason(LOW_CONFIDENCE, f"{display_name(pred.label)} at "
                                                    f"{pred.score:.2f}, below {self.cfg.review_threshold:.2f}"))
        if self.is_flagship(pred.label):
            decision.reasons.append(ReviewReason(FLAGSHIP, f"flagship species {display_name(pred.label)}"))
        else:
            for label, score in cls:
                if score >= self.cfg.flagship_min_score and self.is_flagship(label):
                    decision.reasons.append(ReviewReason(
                        FLAGSHIP, f"flagship species {display_name(label)} in the classifier's top-{len(cls)} "
                                  f"at {score:.2f}"))
                    break
        self._sync(decision)

    def _sync(self, item) -> None:
        """Keep only the reasons review_on asks for, and mirror them into the Prediction."""
        wanted = set(self.cfg.review_on)
        item.reasons[:] = [r for r in item.reasons if r.code in wanted]
        if item.prediction is not None:
            item.prediction.review_reasons = list(dict.fromkeys(r.code for r in item.reasons))
            item.prediction.needs_review = bool(item.reasons)

    # --- per image -------------------------------------------------------------------------------------

    def decide_image(self, detections: list[Detection], country: str | None = None,
                     admin1_region: str | None = None) -> ImageDecision:
        decisions = [self.decide_detection(det, country, admin1_region) for det in detections]
        return self._summarize(decisions)

    def _summarize(self, decisions: list[DetectionDecision], extra: list[ReviewReason] = ()) -> ImageDecision:
        """The image label: blank, or the most confident counted box's label (SpeciesNet decides an image
        from its top detection), with the others kept per detection and noted."""
        cfg = self.cfg
        counted = [d for d in decisions if d.counted]
        notes: list[str] = []
        if not counted:
            false_boxes = [d for d in decisions if d.prediction is not None]  # the classifier called them blank
            if false_boxes:
                pred = Prediction(BLANK, min(d.prediction.score for d in false_boxes), "classifier")
                notes.append(f"{len(false_boxes)} box(es) the classifier called blank")
            else:
                top = max((d.detection.conf for d in decisions), default=0.0)
                pred = Prediction(BLANK, round(1.0 - top, 6), "detector")
            reasons = []
            if pred.score < cfg.review_threshold:
                reasons.append(ReviewReason(LOW_CONFIDENCE, f"blank at {pred.score:.2f}, "
                                            f"below {cfg.review_threshold:.2f}"))
        else:
            best = max(counted, key=lambda d: (d.prediction.label != UNKNOWN, d.detection.conf, d.prediction.score))
            pred = Prediction(best.prediction.label, best.prediction.score, best.prediction.source)
            reasons = list(best.reasons)
            codes = {r.code for r in reasons}
            for other in counted:
                for reason in other.reasons:
                    if other is not best and reason.code == FLAGSHIP and FLAGSHIP not in codes:
                        reasons.append(ReviewReason(FLAGSHIP, f"another box: {reason.text}"))
                        codes.add(FLAGSHIP)
            animals = [d for d in counted if _parse(d.prediction.label).kind in ("taxon", ANIMAL)]
            taxa: list[DetectionDecision] = []
            for d in sorted(animals, key=lambda d: -d.detection.conf):
                label = _parse(d.prediction.label)
                if label.kind == "taxon" and not any(_parse(t.prediction.label).related(label) for t in taxa):
                    taxa.append(d)
            if len(taxa) > 1:
                listed = ", ".join(f"{display_name(d.prediction.label)} (box {d.detection.conf:.2f})" for d in taxa)
                notes.append(f"multi_species: {listed}; image label is the most confident box")
            present = {_kind_word(d.prediction.label) for d in counted}
            others = present - {_kind_word(pred.label), UNKNOWN}
            if others:
                notes.append("also " + ", ".join(sorted(others)))
        reasons.extend(extra)
        image = ImageDecision(pred, decisions, reasons, notes)
        self._sync(image)
        return image

    # --- per sequence ----------------------------------------------------------------------------------

    def decide_sequences(self, images: Iterable[ImageResult]) -> dict[str, ImageDecision]:
        """Decide every image, then each burst: a clear species (classifier score >= sequence_threshold)
        labels the burst's weak animal boxes; two clear, unrelated species flag the whole burst."""
        images = list(images)
        results: dict[str, ImageDecision] = {}
        bursts: dict[str, list[ImageResult]] = defaultdict(list)
        for image in images:
            decision = self.decide_image(image.detections, image.country, image.admin1_region)
            decision.path, decision.sequence_id, decision.frame_num = image.path, image.sequence_id, image.frame_num
            results[image.path] = decision
            if image.sequence_id is not None:
                bursts[image.sequence_id].append(image)
        for sequence_id, frames in bursts.items():
            frames.sort(key=lambda image: (image.frame_num is None, image.frame_num or 0, image.path))
            self._decide_burst(sequence_id, frames, results)
        return results

    def _decide_burst(self, sequence_id: str, frames: list[ImageResult], results: dict[str, ImageDecision]) -> None:
        cfg = self.cfg
        clear: dict[str, tuple[float, ImageResult]] = {}  # label -> best score, frame
        for image in frames:
            for d in results[image.path].detections:
                pred = d.prediction
                if (d.counted and pred.source == "classifier" and _parse(pred.label).kind == "taxon"
                        and pred.score >= cfg.sequence_threshold):
                    if pred.label not in clear or pred.score > clear[pred.label][0]:
                        clear[pred.label] = (pred.score, image)
        if not clear:
            return
        labels = sorted(clear, key=lambda label: -clear[label][0])
        conflict = next(((a, b) for i, a in enumerate(labels) for b in labels[i + 1:]
                         if not _parse(a).related(_parse(b))), None)
        if conflict:
            a, b = conflict
            text = (f"burst {sequence_id}: {display_name(a)} ({clear[a][0]:.2f} in {_frame(clear[a][1])}) and "
                    f"{display_name(b)} ({clear[b][0]:.2f} in {_frame(clear[b][1])})")
            flagged = DISAGREEMENT in cfg.review_on
            for image in frames:
                decision = results[image.path]
                decision.sequence = Prediction(a, clear[a][0], "sequence", flagged, [DISAGREEMENT] if flagged else [])
                if any(d.counted and _kind_word(d.prediction.label) == ANIMAL for d in decision.detections):
                    decision.reasons.append(ReviewReason(DISAGREEMENT, text))
                    self._sync(decision)
            return
        # One lineage: the most specific clear label names the burst (snow leopard over 'panthera species').
        label = max(labels, key=lambda label: (_parse(label).depth or 0, clear[label][0]))
        score, source_image = clear[label]
        target = _parse(label)
        for image in frames:
            decision = results[image.path]
            decision.sequence = Prediction(label, score, "sequence")
            if not cfg.sequence_smoothing:
                continue
            relabelled = []
            for d in decision.detections:
                if not d.counted or _CATEGORIES.get(str(d.detection.category).strip().lower()) != "animal":
                    continue
                current = _parse(d.prediction.label)
                weak = (d.prediction.source in ("detector", "rollup", "geofence")
                        or d.prediction.score < cfg.sequence_threshold)
                if not weak or not (current.kind == ANIMAL or current.is_ancestor_of(target)):
                    continue  # a confident or a different species keeps its label
                if self._fence_reason(target, image.country and image.country.strip().upper(),
                                      _admin1(image.admin1_region), [label]) is not None:
                    continue
                d.previous, d.prediction, d.rank = d.prediction, Prediction(label, score, "sequence"), target.rank
                d.reasons = []
                self._review_detection(d, sorted(d.detection.classifications, key=lambda c: -c[1]))
                relabelled.append(f"{display_name(d.previous.label)} {d.previous.score:.2f} ({d.previous.source})")
            if relabelled:
                results[image.path] = new = self._resummarize(decision)
                new.notes.append(f"sequence: {display_name(label)} from {_frame(source_image)} of burst "
                                 f"{sequence_id} replaced " + ", ".join(relabelled))
            elif cfg.sequence_fill_blanks and decision.prediction.label == BLANK:
                decision.notes.append(f"sequence: blank frame given {display_name(label)} from "
                                      f"{_frame(source_image)} of burst {sequence_id}")
                decision.prediction = Prediction(label, score, "sequence")
                decision.reasons = [r for r in decision.reasons if r.code != LOW_CONFIDENCE]
                if self.is_flagship(label):
                    decision.reasons.append(ReviewReason(FLAGSHIP, f"flagship species {display_name(label)}"))
                self._sync(decision)

    def _resummarize(self, old: ImageDecision) -> ImageDecision:
        kept = [r for r in old.reasons if r.code == DISAGREEMENT]
        new = self._summarize(old.detections, kept)
        new.path, new.sequence_id, new.frame_num, new.sequence = old.path, old.sequence_id, old.frame_num, old.sequence
        return new


def _kind_word(label: str) -> str:
    kind = _parse(label).kind
    return ANIMAL if kind == "taxon" else kind


def _frame(image: ImageResult) -> str:
    return Path(image.path).name or image.path


# --- module-level API ----------------------------------------------------------------------------------


def as_ensemble(cfg: EnsembleConfig | Ensemble | None) -> Ensemble:
    """An Ensemble from a config (the geofence file is read once and cached), or the one given."""
    return cfg if isinstance(cfg, Ensemble) else Ensemble(cfg)


def decide_detection(det: Detection, cfg: EnsembleConfig | Ensemble | None = None, country: str | None = None,
                     admin1_region: str | None = None) -> DetectionDecision:
    return as_ensemble(cfg).decide_detection(det, country, admin1_region)


def decide_image(detections: list[Detection], cfg: EnsembleConfig | Ensemble | None = None,
                 country: str | None = None, admin1_region: str | None = None) -> ImageDecision:
    return as_ensemble(cfg).decide_image(detections, country, admin1_region)


def decide_sequences(images: Iterable[ImageResult],
                     cfg: EnsembleConfig | Ensemble | None = None) -> dict[str, ImageDecision]:
    return as_ensemble(cfg).decide_sequences(images)
