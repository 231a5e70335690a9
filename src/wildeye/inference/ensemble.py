"""The ensemble: detector boxes + classifier top-5 -> a label per detection, per image and per sequence.

Per detection it is SpeciesNet's ensemble exactly (`speciesnet_rules.combine`, speciesnet 5.0.6's
combine_predictions with its geofence and rollup over the model's taxonomy file): every box SpeciesNet would
classify (conf >= 0.1, any category) gets SpeciesNet's (label, score, source), kept as `DetectionDecision.speciesnet`.
On top, and each can be turned off to get SpeciesNet's answer exactly:

- calibrated per-class thresholds from a trained package (`class_thresholds`);
- a project allow-list (`allowed_taxa`), which rolls a label up until a listed taxon holds it;
- the image decision (SpeciesNet 5 decides boxes only), the burst (a clear frame labels its weak neighbours),
  and a review queue with reasons.

Labels are SpeciesNet's 7-field strings or plain names (wildeye packages); decisions write the special outcomes
as plain words ("blank", "human", "vehicle", "animal", "unknown"), see `wildeye.labels`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from wildeye.config import FALLBACK_DETECTION_THRESHOLD, EnsembleConfig
from wildeye.inference import speciesnet_rules as rules
from wildeye.inference.geofence import admin1_code, geofence_key, load_geofence, normalize_geofence
from wildeye.records import Detection, Prediction
from wildeye.labels import (
    ANIMAL,
    BLANK,
    HUMAN,
    SPECIAL,
    SPECIESNET_LABELS,
    TAXON,
    UNKNOWN,
    VEHICLE,
    Taxonomy,
    detection_category,
    display_name,
    matches,
    parse,
)

__all__ = ["Ensemble", "DetectionDecision", "ImageDecision", "ImageResult", "ReviewReason", "display_name",
           "load_geofence", "decide_detection", "decide_image", "decide_sequences", "as_ensemble"]

# Review reason codes (EnsembleConfig.review_on picks which of them flag an item).
LOW_CONFIDENCE = "low_confidence"
FLAGSHIP = "flagship"
DISAGREEMENT = "sequence_disagreement"
GEOFENCE_CHANGED = "geofence_changed"
ROLLUP = "rollup"
UNCONFIRMED = "unconfirmed"

SEQUENCE = "sequence"  # Prediction.source of a label a burst gave a box or frame
CALIBRATED = "classifier+calibrated"  # a label accepted by its calibrated threshold
_CATEGORY_KIND = {"animal": ANIMAL, "person": HUMAN, "vehicle": VEHICLE}


# --- results -------------------------------------------------------------------------------------------


@dataclass
class ReviewReason:
    code: str  # one of the codes above
    text: str  # what a reviewer reads


@dataclass
class DetectionDecision:
    """One box's decision. prediction is None for a box that takes no part (not classified, and below the
    detection threshold). speciesnet: SpeciesNet's own (label, score, source) for a classified box."""

    detection: Detection
    prediction: Prediction | None
    rank: str | None = None  # taxonomic rank of a taxon label: species, genus, ..., kingdom
    reasons: list[ReviewReason] = field(default_factory=list)
    previous: Prediction | None = None  # what the box said before sequence smoothing relabelled it
    speciesnet: Prediction | None = None
    counted: bool = False  # takes part in the image decision (see Ensemble._counts)


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


# --- the ensemble --------------------------------------------------------------------------------------


class Ensemble:
    """An EnsembleConfig with what it refers to loaded: the geofence map and the taxonomy.

    taxonomy: SpeciesNet's taxonomy_release.txt (labels.Taxonomy) for rollups, as SpeciesNet uses it. Given as a
    label list (a model that ships no taxonomy file), or not at all, the taxonomy is the labels plus every ancestor
    their taxa imply (`Taxonomy.implied_by`), so rollups still work; SpeciesNet itself always has the file.
    geofence: a geofence map (else `cfg.geofence_file`, read once and cached).
    """

    def __init__(self, cfg: EnsembleConfig | None = None, *, geofence: Mapping | None = None,
                 taxonomy: Taxonomy | Iterable[str] | None = None, classified: bool = True):
        self.cfg = cfg or EnsembleConfig()
        if geofence is not None:
            self.geofence = normalize_geofence(geofence)
        elif self.cfg.geofence_file:
            self.geofence = load_geofence(self.cfg.geofence_file)
        else:
            self.geofence = {}
        if taxonomy is not None and not isinstance(taxonomy, Taxonomy):
            taxonomy = Taxonomy.implied_by(taxonomy)
        self.taxonomy: Taxonomy | None = taxonomy
        self.thresholds = _thresholds(self.cfg)
        self._allowed = [geofence_key(name) for name in self.cfg.allowed_taxa]

    @property
    def detection_threshold(self) -> float:
        threshold = self.cfg.detection_threshold
        return threshold if threshold is not None else FALLBACK_DETECTION_THRESHOLD

    # --- per detection ---------------------------------------------------------------------------------

    def decide_detection(self, det: Detection, country: str | None = None,
                         admin1_region: str | None = None) -> DetectionDecision:
        cfg = self.cfg
        category = detection_category(det.category)
        country = country.strip().upper() if country else None
        admin1 = admin1_code(admin1_region)
        cls = sorted(((str(label), float(score)) for label, score in det.classifications), key=lambda c: -c[1])
        cls = cls[:rules.ENSEMBLE_TOP_K]
        reasons: list[ReviewReason] = []
        if not cls:  # not classified: a detector-only run, or a box SpeciesNet would not classify
            if det.conf < self.detection_threshold:
                return DetectionDecision(det, None)
            return self._done(det, _CATEGORY_KIND[category], det.conf, "detector", None, reasons, cls)
        classes = [self._speciesnet_label(label) for label, _ in cls]
        scores = [score for _, score in cls]
        geofence_on = cfg.geofence
        taxonomy = self.taxonomy or Taxonomy.implied_by(classes)
        label, score, source = rules.combine(category, det.conf, classes, scores, country=country,
                                             admin1_region=admin1, taxonomy=taxonomy, geofence=self.geofence,
                                             geofence_enabled=geofence_on, t=self.thresholds)
        speciesnet = Prediction(label, score, source)
        top, top_score = classes[0], scores[0]
        if "geofence" in source:
            reasons.append(ReviewReason(GEOFENCE_CHANGED, f"{display_name(top)} ({top_score:.2f}) is not allowed "
                                        f"in {_place(country, admin1)} by the geofence map; "
                                        f"{display_name(label)} instead"))
        # wildeye: a threshold calibrated for the top label to a target precision replaces SpeciesNet's bars.
        calibrated = cfg.class_thresholds.get(cls[0][0])
        if calibrated is not None and parse(top).kind == TAXON:
            if top_score >= calibrated and label != top and "geofence" not in source:
                label, score, source = rules.geofence_classification(
                    classes, scores, country=country, admin1_region=admin1, taxonomy=taxonomy,
                    geofence=self.geofence, geofence_enabled=geofence_on,
                    levels=self.thresholds.geofence_rollup_levels)
                source = CALIBRATED if source == "classifier" else source
            elif top_score < calibrated and label == top:
                reasons.append(ReviewReason(LOW_CONFIDENCE, f"{display_name(top)} {top_score:.2f} is below its "
                                            f"calibrated threshold {calibrated:.2f}"))
                label, score, source = self._below_bar(category, det.conf, classes, scores, country, admin1,
                                                       taxonomy)
        # wildeye: the project's allow-list, on top of the geofence.
        if self._allowed and parse(label).kind == TAXON and not self._project_allows(label, classes):
            allowed = self._allowed_ancestor(label, classes, scores, taxonomy)
            reasons.append(ReviewReason(GEOFENCE_CHANGED, f"{display_name(label)} ({score:.2f}) is not on the "
                                        f"project's allowed_taxa; "
                                        + (f"{display_name(allowed[0])} instead" if allowed else "no allowed ancestor")))
            label, score, source = allowed or (rules.SN_ANIMAL if category == "animal" else rules.SN_UNKNOWN,
                                               det.conf, "classifier+allowed_taxa")
        if "rollup" in source and "geofence" not in source:
            reasons.append(ReviewReason(ROLLUP, f"rolled up to {parse(label).rank or 'a higher taxon'} "
                                        f"{display_name(label)} ({score:.2f}); best guess {display_name(top)} "
                                        f"{top_score:.2f}"))
        return self._done(det, parse(label).plain, score, source, speciesnet, reasons, cls)

    def _speciesnet_label(self, label: str) -> str:
        """Plain special labels of wildeye packages ("blank", "human") as SpeciesNet's own strings."""
        parsed = parse(label)
        if parsed.kind in SPECIAL and not parsed.taxa and label.count(";") != 6:
            return SPECIESNET_LABELS[parsed.kind]
        return label

    def _below_bar(self, category, conf, classes, scores, country, admin1, taxonomy) -> tuple[str, float, str]:
        """What SpeciesNet does when no species passes: rollup (#5a), else animal (#5b), else unknown."""
        rolled = rules.roll_up(classes, scores, country=country, admin1_region=admin1,
                               levels=self.cfg.rollup_levels, threshold=self.thresholds.rollup,
                               taxonomy=taxonomy, geofence=self.geofence, geofence_enabled=self.cfg.geofence)
        if rolled:
            return rolled
        if category == "animal" and conf > self.thresholds.animal_box:
            return rules.SN_ANIMAL, conf, "detector"
        return rules.SN_UNKNOWN, scores[0], "classifier"

    def _allowed_ancestor(self, label, classes, scores, taxonomy) -> tuple[str, float, str] | None:
        """The label's nearest ancestor on the allow-list (a family is allowed where a listed species is)."""
        for level in self.cfg.geofence_rollup_levels:
            ancestor = rules.ancestor_at_level(label, level, taxonomy)
            if ancestor and self._project_allows(ancestor, classes):
                total = sum(s for c, s in zip(classes, scores)
                            if rules.ancestor_at_level(c, level, taxonomy) == ancestor)
                return ancestor, max(total, scores[0]), f"classifier+allowed_taxa+rollup_to_{level}"
        return None

    def _project_allows(self, label: str, local: Iterable[str] = ()) -> bool:
        """On the allow-list, below an entry (e.g. 'ursidae'), or above one (a family holding a listed species)."""
        parsed = parse(label)
        if parsed.kind != TAXON or parsed.depth == 0:
            return True
        if matches(label, self._allowed):
            return True
        for entry in self._allowed:
            for candidate in self._entry_labels(entry, local):
                if parsed.is_ancestor_of(parse(candidate)):
                    return True
        return False

    def _entry_labels(self, entry: str, local: Iterable[str] = ()) -> list[str]:
        """Labels an allow-list entry names: itself if it is a full class string, else taxonomy labels (and the
        box's own top-k labels) it is a name of."""
        if ";" in entry:
            return [";" + entry + ";"]
        known = list(self.taxonomy.labels() if self.taxonomy else ()) + list(local)
        return [label for label in known if entry in parse(label).names]

    def _done(self, det: Detection, label: str, score: float, source: str, speciesnet: Prediction | None,
              reasons: list[ReviewReason], cls: list[tuple[str, float]]) -> DetectionDecision:
        decision = DetectionDecision(det, Prediction(label, score, source), parse(label).rank, reasons,
                                     speciesnet=speciesnet)
        decision.counted = self._counts(decision)
        if label == UNKNOWN and decision.counted:
            reasons.append(ReviewReason(UNCONFIRMED, f"{detection_category(det.category)} box at {det.conf:.2f}: "
                                        "neither the detector nor the classifier is sure what it is"))
        self._review_detection(decision, cls)
        return decision

    def _counts(self, decision: DetectionDecision) -> bool:
        """Takes part in the image decision: not a box the classifier called blank, and either at or above the
        detection threshold, or a weaker box the classifier named (a distant snow leopard at conf 0.15)."""
        pred = decision.prediction
        if pred is None or pred.label == BLANK:
            return False
        if decision.detection.conf >= self.detection_threshold:
            return True
        return pred.source.startswith("classifier") and parse(pred.label).kind in (TAXON, HUMAN, VEHICLE)

    # --- review ----------------------------------------------------------------------------------------

    def is_flagship(self, label: str) -> bool:
        return matches(label, self.cfg.flagship_species)

    def _review_detection(self, decision: DetectionDecision, cls: list[tuple[str, float]]) -> None:
        pred = decision.prediction
        if pred.label == BLANK or not decision.counted:
            decision.reasons.clear()
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

    def _fence_reason(self, label: str, country: str | None, admin1: str | None) -> str | None:
        """Why this taxon may not be given here (geofence map or allow-list), or None."""
        if parse(label).kind != TAXON:
            return None
        if self._allowed and not self._project_allows(label, [label]):
            return "is not on the project's allowed_taxa"
        try:
            fenced = rules.should_geofence(label, country, admin1, self.geofence,
                                           self.cfg.geofence)
        except ValueError:
            return None
        return "is not allowed here by the geofence map" if fenced else None


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
            animals = [d for d in counted if parse(d.prediction.label).kind in (TAXON, ANIMAL)]
            taxa: list[DetectionDecision] = []
            for d in sorted(animals, key=lambda d: -d.detection.conf):
                label = parse(d.prediction.label)
                if label.kind == TAXON and not any(parse(t.prediction.label).related(label) for t in taxa):
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
                if (d.counted and pred.source in ("classifier", CALIBRATED) and parse(pred.label).kind == TAXON
                        and pred.score >= cfg.sequence_threshold):
                    if pred.label not in clear or pred.score > clear[pred.label][0]:
                        clear[pred.label] = (pred.score, image)
        if not clear:
            return
        labels = sorted(clear, key=lambda label: -clear[label][0])
        conflict = next(((a, b) for i, a in enumerate(labels) for b in labels[i + 1:]
                         if not parse(a).related(parse(b))), None)
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
        label = max(labels, key=lambda label: (parse(label).depth or 0, clear[label][0]))
        score, source_image = clear[label]
        target = parse(label)
        for image in frames:
            decision = results[image.path]
            decision.sequence = Prediction(label, score, "sequence")
            if not cfg.sequence_smoothing:
                continue
            relabelled = []
            for d in decision.detections:
                if not d.counted or detection_category(d.detection.category) != "animal":
                    continue
                current = parse(d.prediction.label)
                weak = (d.prediction.source == "detector" or "rollup" in d.prediction.source
                        or d.prediction.score < cfg.sequence_threshold)
                if not weak or not (current.kind == ANIMAL or current.is_ancestor_of(target)):
                    continue  # a confident or a different species keeps its label
                if self._fence_reason(label, image.country and image.country.strip().upper(),
                                      admin1_code(image.admin1_region)) is not None:
                    continue
                d.previous, d.prediction, d.rank = d.prediction, Prediction(label, score, SEQUENCE), target.rank
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
    kind = parse(label).kind
    return ANIMAL if kind == TAXON else kind


def _frame(image: ImageResult) -> str:
    return Path(image.path).name or image.path


def _thresholds(cfg: EnsembleConfig) -> rules.Thresholds:
    return rules.Thresholds(
        human_box=cfg.human_threshold, weak_box=cfg.animal_box_threshold,
        human_classification=cfg.human_classifier_threshold, vehicle_box=cfg.vehicle_threshold,
        vehicle_classification=cfg.vehicle_classifier_threshold,
        blank_classification_weak_box=cfg.blank_threshold_weak_box, blank_classification=cfg.blank_threshold,
        species=cfg.species_threshold,
        species_animal_box=cfg.species_threshold_animal_box if cfg.species_threshold_animal_box is not None else 1.0,
        rollup=cfg.rollup_threshold, animal_box=cfg.animal_detector_threshold,
        rollup_levels=tuple(cfg.rollup_levels), geofence_rollup_levels=tuple(cfg.geofence_rollup_levels))


def _place(country: str | None, admin1: str | None) -> str:
    return f"{country}-{admin1}" if country and admin1 else country or "this place"


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
