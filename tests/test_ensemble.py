"""The ensemble on hand-made model outputs: thresholds, rollup, geofence, images, bursts, review, config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wildeye.config import EnsembleConfig, RunConfig, load_run_config
from wildeye.errors import ConfigError
from wildeye.inference.ensemble import (
    Ensemble,
    ImageResult,
    decide_detection,
    decide_image,
    decide_sequences,
    display_name,
    load_geofence,
)
from wildeye.records import Detection
from wildeye.labels import SN_BLANK as SPECIESNET_BLANK
from wildeye.labels import Taxonomy
from wildeye.labels import SN_HUMAN as SPECIESNET_HUMAN

REPO = Path(__file__).resolve().parents[1]

SNOW_LEOPARD = "ae0e0d8e-0000-0000-0000-000000000001;mammalia;carnivora;felidae;panthera;uncia;snow leopard"
LEOPARD = "ae0e0d8e-0000-0000-0000-000000000002;mammalia;carnivora;felidae;panthera;pardus;leopard"
LION = "ddf59264-185a-4d35-b647-2785792bdf54;mammalia;carnivora;felidae;panthera;leo;lion"
LYNX = "ae0e0d8e-0000-0000-0000-000000000003;mammalia;carnivora;felidae;lynx;lynx;eurasian lynx"
RED_FOX = "ae0e0d8e-0000-0000-0000-000000000004;mammalia;carnivora;canidae;vulpes;vulpes;red fox"
WOLF = "ae0e0d8e-0000-0000-0000-000000000005;mammalia;carnivora;canidae;canis;lupus;gray wolf"
BROWN_BEAR = "330bb1e9-84d6-4e41-afa9-938aee17ea29;mammalia;carnivora;ursidae;ursus;arctos;brown bear"
PIKA = "ae0e0d8e-0000-0000-0000-000000000006;mammalia;lagomorpha;ochotonidae;ochotona;curzoniae;plateau pika"
PANTHERA = "fbb23d07-6677-43db-b650-f99ac452c50f;mammalia;carnivora;felidae;panthera;;panthera species"
FELIDAE = "df8514b0-10a5-411f-8ed6-0f415e8153a3;mammalia;carnivora;felidae;;;cat family"
CARNIVORA = "eeeb5d26-2a47-4d01-a3de-10b33ec0aee4;mammalia;carnivora;;;;carnivorous mammal"
BOX = (0.1, 0.1, 0.3, 0.3)


def animal(conf=0.9, *classifications):
    return Detection("animal", conf, BOX, list(classifications))


def decide(det, cfg=None, **kwargs):
    return decide_detection(det, cfg or EnsembleConfig(), **kwargs)


def codes(item):
    return item.prediction.review_reasons


# --- per detection: thresholds ---------------------------------------------------------------------------


def test_detection_threshold_decides_unclassified_boxes_only():
    """Detector-only boxes (no classifications) count from the detection threshold up (inclusive); a classified
    box is SpeciesNet's, whatever its conf: a distant snow leopard at 0.15 the classifier is sure of is kept."""
    assert decide(animal(0.2)).prediction.label == "animal"
    assert decide(animal(0.1999)).prediction is None
    raised = EnsembleConfig(detection_threshold=0.5)
    assert decide(animal(0.49), raised).prediction is None
    faint = decide(animal(0.15, (SNOW_LEOPARD, 0.9)))
    assert (faint.prediction.label, faint.prediction.source, faint.counted) == (SNOW_LEOPARD, "classifier", True)
    faint_unsure = decide(animal(0.15, (SNOW_LEOPARD, 0.3), (RED_FOX, 0.3)))
    assert (faint_unsure.prediction.label, faint_unsure.counted) == ("unknown", False)


def test_human_and_vehicle_from_the_detector():
    human = decide(Detection("person", 0.71, BOX, [(LEOPARD, 0.9)]))  # SpeciesNet #1a: the detector wins
    assert (human.prediction.label, human.prediction.source, human.prediction.score) == ("human", "detector", 0.71)
    assert human.speciesnet.label == SPECIESNET_HUMAN
    weak = decide(Detection("person", 0.7, BOX, [(LEOPARD, 0.3), (RED_FOX, 0.2)]))  # conf > 0.7, strictly
    assert (weak.prediction.label, weak.prediction.source) == ("unknown", "classifier")
    assert "unconfirmed" in codes(weak)
    vehicle = decide(Detection("vehicle", 0.71, BOX, [(LEOPARD, 0.3)]))
    assert (vehicle.prediction.label, vehicle.prediction.source) == ("vehicle", "detector")
    assert decide(Detection("vehicle", 0.7, BOX, [(LEOPARD, 0.3)])).prediction.label == "unknown"
    # Without a classifier (a detector-only run) boxes keep their detector category.
    assert decide(Detection("person", 0.5, BOX)).prediction.label == "human"
    # MegaDetector's numeric category ids work too.
    assert decide(Detection("2", 0.9, BOX, [(LEOPARD, 0.3)])).prediction.label == "human"


def test_weaker_person_and_vehicle_boxes_confirmed_by_the_classifier():
    human = decide(Detection("person", 0.5, BOX, [(SPECIESNET_HUMAN, 0.51)]))
    assert (human.prediction.label, human.prediction.source, human.prediction.score) == ("human", "classifier", 0.51)
    # 0.5 is not > 0.5 (#1b); the human label then rolls up to the kingdom: not > 0.65 either -> unknown
    assert decide(Detection("person", 0.5, BOX, [(SPECIESNET_HUMAN, 0.5)])).prediction.label == "unknown"
    vehicle = decide(Detection("vehicle", 0.5, BOX, [("vehicle", 0.41)]))
    assert (vehicle.prediction.label, vehicle.prediction.source) == ("vehicle", "classifier")
    assert decide(Detection("vehicle", 0.5, BOX, [("vehicle", 0.4)])).prediction.label == "unknown"
    # SpeciesNet #2a: a vehicle box the classifier calls human is a human (a rider, a driver).
    assert decide(Detection("vehicle", 0.9, BOX, [("human", 0.6)])).prediction.label == "human"
    # A person box the classifier is sure holds a bear is rolled up like any animal (#5a): SpeciesNet's answer.
    bear = decide(Detection("person", 0.3, BOX, [(BROWN_BEAR, 0.7)]))
    assert (bear.prediction.source, bear.rank) == ("classifier+rollup_to_genus", "genus")


def test_species_threshold_boundary():
    cfg = EnsembleConfig(species_threshold_animal_box=None)
    sure = decide(animal(0.9, (LEOPARD, 0.81)), cfg)
    assert (sure.prediction.label, sure.prediction.source, sure.rank) == (LEOPARD, "classifier", "species")
    # At exactly 0.8 it is not a species call; the single label still rolls up to its genus (0.8 > 0.65).
    at = decide(animal(0.9, (LEOPARD, 0.8)), cfg)
    assert (at.prediction.label, at.prediction.source, at.rank) == (
        ";mammalia;carnivora;felidae;panthera;;panthera", "classifier+rollup_to_genus", "genus")
    assert decide(animal(0.9, (LEOPARD, 0.7)), EnsembleConfig(species_threshold=0.69,
                                                              species_threshold_animal_box=None)).prediction.label == LEOPARD


def test_lower_species_bar_when_the_detector_also_says_animal():
    """SpeciesNet #4b: classifier > 0.65 is enough when the animal box conf > 0.2."""
    assert decide(animal(0.9, (LEOPARD, 0.66))).prediction.label == LEOPARD
    assert decide(animal(0.9, (LEOPARD, 0.65))).prediction.label == "animal"  # 0.65 fails both bars and rollup
    assert decide(animal(0.2, (LEOPARD, 0.66))).prediction.source == "classifier+rollup_to_genus"  # conf > 0.2
    assert decide(animal(0.9, (LEOPARD, 0.66)),
                  EnsembleConfig(animal_box_threshold=0.95)).prediction.source == "classifier+rollup_to_genus"


def test_rollup_to_genus_and_its_boundary():
    genus = decide(animal(0.9, (SNOW_LEOPARD, 0.5), (LEOPARD, 0.2), (RED_FOX, 0.1)))
    assert genus.prediction.source == "classifier+rollup_to_genus" and genus.rank == "genus"
    assert genus.prediction.label == ";mammalia;carnivora;felidae;panthera;;panthera"
    assert genus.prediction.score == pytest.approx(0.7)
    assert codes(genus)[0] == "rollup"
    at = decide(animal(0.9, (SNOW_LEOPARD, 0.5), (LEOPARD, 0.15)))  # sums to 0.65 in floats: not > 0.65
    assert (at.prediction.label, at.prediction.source) == ("animal", "detector")
    below = decide(animal(0.9, (SNOW_LEOPARD, 0.5), (LEOPARD, 0.14)))
    assert (below.prediction.label, below.prediction.source) == ("animal", "detector")  # #5b: conf 0.9 > 0.5
    unknown = decide(animal(0.5, (SNOW_LEOPARD, 0.5), (LEOPARD, 0.14)))
    assert (unknown.prediction.label, unknown.prediction.score) == ("unknown", 0.5)  # #5b needs conf > 0.5


def test_rollup_to_family_order_and_kingdom():
    family = decide(animal(0.9, (SNOW_LEOPARD, 0.4), (LYNX, 0.3)))
    assert (family.rank, display_name(family.prediction.label)) == ("family", "felidae")
    order = decide(animal(0.9, (SNOW_LEOPARD, 0.4), (RED_FOX, 0.3)))
    assert (order.rank, display_name(order.prediction.label)) == ("order", "carnivora")
    kingdom = decide(animal(0.9, (SNOW_LEOPARD, 0.4), (PIKA, 0.3)))  # mammalia is a class: 0.7
    assert kingdom.rank == "class"
    nothing = decide(animal(0.9, (SNOW_LEOPARD, 0.3), (RED_FOX, 0.3)))
    assert (nothing.prediction.label, nothing.prediction.score) == ("animal", 0.9)
    custom = decide(animal(0.9, (SNOW_LEOPARD, 0.5), (LEOPARD, 0.2)), EnsembleConfig(rollup_levels=["family"]))
    assert custom.rank == "family"


def test_rollup_climbs_the_models_taxonomy_file():
    """SpeciesNet rolls up over its taxonomy_release.txt: a parent the classifier has no label for is reachable,
    a rank the taxonomy lacks is skipped."""
    ensemble = Ensemble(EnsembleConfig(), taxonomy=Taxonomy([SNOW_LEOPARD, LEOPARD, LYNX, FELIDAE, CARNIVORA]))
    rolled = ensemble.decide_detection(animal(0.9, (SNOW_LEOPARD, 0.5), (LEOPARD, 0.2)))
    assert (rolled.prediction.label, rolled.rank) == (FELIDAE, "family")
    with_genus = Ensemble(EnsembleConfig(), taxonomy=Taxonomy([SNOW_LEOPARD, LEOPARD, PANTHERA, FELIDAE]))
    assert with_genus.decide_detection(animal(0.9, (SNOW_LEOPARD, 0.5), (LEOPARD, 0.2))).prediction.label == PANTHERA


def test_blank_by_classifier():
    false_box = decide(animal(0.6, (SPECIESNET_BLANK, 0.995)))
    assert (false_box.prediction.label, false_box.prediction.source) == ("blank", "classifier")
    assert not false_box.counted
    image = decide_image([animal(0.6, (SPECIESNET_BLANK, 0.995))], EnsembleConfig())
    assert (image.prediction.label, image.prediction.source, image.prediction.score) == ("blank", "classifier", 0.995)
    at = decide(animal(0.6, (SPECIESNET_BLANK, 0.99)))  # needs > 0.99 (#3b)
    assert (at.prediction.label, at.prediction.source) == ("animal", "detector")
    weak = decide(animal(0.15, (SPECIESNET_BLANK, 0.51)))  # #3a: a weak box and blank > 0.5
    assert (weak.prediction.label, weak.prediction.source) == ("blank", "classifier")


def test_blank_when_no_detection_passes():
    empty = decide_image([], EnsembleConfig())
    assert (empty.prediction.label, empty.prediction.score, empty.prediction.source) == ("blank", 1.0, "detector")
    faint = decide_image([animal(0.15)], EnsembleConfig())
    assert (faint.prediction.label, faint.prediction.score) == ("blank", 0.85)
    assert faint.detections[0].prediction is None


def test_plain_labels_from_wildeye_models():
    sure = decide(animal(0.9, ("snow leopard", 0.9), ("other", 0.1)))
    assert (sure.prediction.label, sure.prediction.source) == ("snow leopard", "classifier")
    assert "flagship" in codes(sure)
    unsure = decide(animal(0.9, ("snow leopard", 0.4), ("other", 0.3)))  # no taxonomy: nothing to roll up to
    assert (unsure.prediction.label, unsure.prediction.source, unsure.rank) == ("animal", "detector", "kingdom")
    assert decide(animal(0.9, ("blank", 0.995))).prediction.label == "blank"  # plain special labels work too


# --- per image -------------------------------------------------------------------------------------------


def test_multi_species_image_keeps_every_box_and_labels_the_most_confident():
    image = decide_image([animal(0.7, (RED_FOX, 0.95)), animal(0.93, (LEOPARD, 0.9)),
                          animal(0.5, (WOLF, 0.4), (RED_FOX, 0.3))], EnsembleConfig())
    assert image.prediction.label == LEOPARD and image.prediction.source == "classifier"
    assert [d.prediction.label for d in image.detections][:2] == [RED_FOX, LEOPARD]
    assert image.detections[2].prediction.label.endswith(";canidae;;;canidae")
    assert image.labels[:2] == [LEOPARD, RED_FOX]
    assert any(note.startswith("multi_species: leopard (box 0.93), red fox (box 0.70)") for note in image.notes)
    # A rollup of the same lineage is not a second species.
    same = decide_image([animal(0.9, (LEOPARD, 0.9)), animal(0.6, (LEOPARD, 0.5), (SNOW_LEOPARD, 0.2))],
                        EnsembleConfig())
    assert not any(note.startswith("multi_species") for note in same.notes)


def test_image_with_people_and_animals():
    image = decide_image([Detection("person", 0.95, BOX), animal(0.8, (BROWN_BEAR, 0.9))], EnsembleConfig())
    assert (image.prediction.label, image.prediction.source) == ("human", "detector")
    assert "also animal" in image.notes
    assert image.detections[1].prediction.label == BROWN_BEAR
    # An unconfirmed person box ("unknown": neither model is sure) does not outrank an animal.
    image = decide_image([Detection("person", 0.69, BOX, [(LEOPARD, 0.3), (RED_FOX, 0.2)]), animal(0.6)],
                         EnsembleConfig())
    assert image.detections[0].prediction.label == "unknown" and image.prediction.label == "animal"


def test_flagship_anywhere_in_the_image_flags_it():
    image = decide_image([animal(0.95, (RED_FOX, 0.95)), animal(0.4, (SNOW_LEOPARD, 0.9))], EnsembleConfig())
    assert image.prediction.label == RED_FOX
    assert image.needs_review and "flagship" in image.prediction.review_reasons
    assert any("another box" in reason.text for reason in image.reasons)


# --- geofence ------------------------------------------------------------------------------------------


GEOFENCE = {
    "mammalia;carnivora;felidae;panthera;leo": {"allow": {"KEN": [], "TZA": []}},
    "mammalia;carnivora;felidae;panthera;": {"allow": {"KEN": [], "TZA": [], "CHN": [], "USA": ["AK", "CA"]}},
    "mammalia;carnivora;felidae;;": {"allow": {"KEN": [], "TZA": [], "CHN": [], "USA": []},
                                     "block": {"USA": ["NY"]}},
    "mammalia;carnivora;ursidae;ursus;arctos": {"block": {"AUS": []}},
}


@pytest.fixture
def geofence_json(tmp_path):
    path = tmp_path / "geofence.json"
    path.write_text(json.dumps(GEOFENCE))
    return path


def test_geofence_block_rolls_up_from_family(geofence_json):
    cfg = EnsembleConfig(geofence_file=str(geofence_json))
    lion = animal(0.9, (LION, 0.9), (LEOPARD, 0.05))
    kept = decide(lion, cfg, country="KEN")
    assert (kept.prediction.label, kept.prediction.source) == (LION, "classifier")
    fenced = decide(lion, cfg, country="CHN")
    assert (fenced.prediction.source, fenced.rank, display_name(fenced.prediction.label)) == (
        "classifier+geofence+rollup_to_family", "family", "felidae")  # SpeciesNet's geofence rollup starts at family
    assert fenced.prediction.score == pytest.approx(0.95)
    assert "geofence_changed" in codes(fenced)
    assert "not allowed in CHN" in fenced.reasons[0].text
    # Admin1 rules: allowed only in some US states; the family is blocked in NY.
    assert decide(lion, cfg, country="USA", admin1_region="US-NY").prediction.label == \
        ";mammalia;carnivora;;;;carnivora"
    # Without a country, or with geofencing off, nothing is fenced.
    assert decide(lion, cfg).prediction.label == LION
    assert decide(lion, EnsembleConfig(geofence_file=str(geofence_json), geofence=False), country="CHN") \
        .prediction.label == LION
    # A block rule for a whole country; a geofence rollup to genus when configured.
    bear = decide(animal(0.9, (BROWN_BEAR, 0.9)), cfg, country="AUS")
    assert bear.prediction.source == "classifier+geofence+rollup_to_family" and bear.rank == "family"
    genus_first = EnsembleConfig(geofence_file=str(geofence_json), geofence_rollup_levels=["genus", "family"])
    assert decide(lion, genus_first, country="CHN").rank == "genus"


def test_geofenced_genus_is_skipped_by_an_ordinary_rollup(geofence_json):
    cfg = EnsembleConfig(geofence_file=str(geofence_json))
    det = animal(0.9, (LION, 0.5), (LEOPARD, 0.3))
    assert decide(det, cfg, country="KEN").rank == "genus"
    assert decide(det, cfg, country="FRA").rank == "order"  # panthera and felidae are not allowed in FRA


def test_geofence_csv_format(tmp_path):
    path = tmp_path / "fixes.csv"
    path.write_text("species,rule,country_code,admin1_region_code\n"
                    "mammalia;carnivora;felidae;panthera;leo,allow,KEN,\n"
                    "mammalia;carnivora;ursidae;ursus;arctos,block,USA,NJ\n"
                    "mammalia;carnivora;ursidae;ursus;arctos,block,USA,NY\n")
    geofence = load_geofence(path)
    assert geofence["mammalia;carnivora;felidae;panthera;leo"] == {"allow": {"KEN": []}}
    assert geofence["mammalia;carnivora;ursidae;ursus;arctos"] == {"block": {"USA": ["NJ", "NY"]}}
    cfg = EnsembleConfig(geofence_file=str(path))
    assert decide(animal(0.9, (BROWN_BEAR, 0.9)), cfg, country="USA", admin1_region="NY").prediction.source == \
        "classifier+geofence+rollup_to_family"
    assert decide(animal(0.9, (BROWN_BEAR, 0.9)), cfg, country="USA", admin1_region="CA").prediction.source == \
        "classifier"


def test_bad_geofence_file_is_a_config_error(tmp_path):
    path = tmp_path / "geofence.json"
    path.write_text(json.dumps({"mammalia;carnivora;felidae;panthera;leo": {"allow": ["KEN"]}}))
    with pytest.raises(ConfigError, match="geofence.json.*allow"):
        Ensemble(EnsembleConfig(geofence_file=str(path)))


def test_project_allow_list():
    cfg = EnsembleConfig(allowed_taxa=["snow leopard", "ochotona", "ursidae"])
    ok = decide(animal(0.9, (SNOW_LEOPARD, 0.9)), cfg)
    assert ok.prediction.source == "classifier"
    assert decide(animal(0.9, (PIKA, 0.9)), cfg).prediction.label == PIKA  # genus entry
    assert decide(animal(0.9, (BROWN_BEAR, 0.9)), cfg).prediction.label == BROWN_BEAR  # family entry
    # A leopard is not plausible here: it rolls up to the cat family, which holds an allowed species.
    leopard = decide(animal(0.9, (LEOPARD, 0.85), (SNOW_LEOPARD, 0.1)), cfg)
    assert (leopard.prediction.source, display_name(leopard.prediction.label)) == ("classifier+allowed_taxa+rollup_to_family", "felidae")
    assert "allowed_taxa" in leopard.reasons[0].text
    # Nothing of the lineage allowed: all the way to "animal".
    fox = decide(animal(0.9, (RED_FOX, 0.9)), cfg)
    assert (fox.prediction.label, fox.prediction.source, fox.rank) == ("animal", "classifier+allowed_taxa+rollup_to_kingdom", "kingdom")
    plain = decide(animal(0.8, ("tiger", 0.95)), cfg)
    assert (plain.prediction.label, plain.prediction.source) == ("animal", "classifier+allowed_taxa")


# --- review ----------------------------------------------------------------------------------------------


def test_flagship_always_needs_review():
    sure = decide(animal(0.99, (SNOW_LEOPARD, 0.99)))
    assert sure.prediction.needs_review and codes(sure) == ["flagship"]
    by_latin = decide(animal(0.99, (SNOW_LEOPARD, 0.99)), EnsembleConfig(flagship_species=["Panthera  uncia"]))
    assert codes(by_latin) == ["flagship"]
    hidden = decide(animal(0.9, (LEOPARD, 0.85), (SNOW_LEOPARD, 0.1)))
    assert hidden.prediction.label == LEOPARD and codes(hidden) == ["flagship"]
    assert codes(decide(animal(0.9, (LEOPARD, 0.9), (SNOW_LEOPARD, 0.09)))) == []
    off = decide(animal(0.99, (SNOW_LEOPARD, 0.99)), EnsembleConfig(review_on=["low_confidence"]))
    assert not off.prediction.needs_review


def test_low_confidence_boundary():
    assert codes(decide(animal(0.64))) == ["low_confidence"]
    assert codes(decide(animal(0.65))) == []
    assert decide(animal(0.64)).reasons[0].text == "animal at 0.64, below 0.65"


# --- sequences -----------------------------------------------------------------------------------------


def burst(*frames, sequence_id="CAM1#00001", country="CHN"):
    return [ImageResult(path=f"IMG_{i + 1:04d}.JPG", detections=dets, sequence_id=sequence_id, frame_num=i,
                        country=country) for i, dets in enumerate(frames)]


def test_clear_snow_leopard_in_frame_2_labels_frames_1_to_5():
    images = burst(
        [animal(0.4)],  # weak box, no classification
        [animal(0.95, (SNOW_LEOPARD, 0.93))],
        [animal(0.8, (SNOW_LEOPARD, 0.4), (LYNX, 0.3))],  # rolled up to felidae
        [animal(0.6, (SNOW_LEOPARD, 0.3), (RED_FOX, 0.25))],  # "animal"
        [animal(0.3, (SNOW_LEOPARD, 0.5), (LEOPARD, 0.2))],  # rolled up to panthera
    )
    results = decide_sequences(images, EnsembleConfig())
    assert list(results) == [image.path for image in images]
    for path, decision in results.items():
        assert decision.prediction.label == SNOW_LEOPARD, path
        assert decision.sequence.label == SNOW_LEOPARD
        assert "flagship" in decision.prediction.review_reasons
    assert results["IMG_0002.JPG"].prediction.source == "classifier"
    for path in ("IMG_0001.JPG", "IMG_0003.JPG", "IMG_0004.JPG", "IMG_0005.JPG"):
        decision = results[path]
        assert decision.prediction.source == "sequence"
        assert decision.prediction.score == 0.93
        assert decision.detections[0].previous is not None
        assert "rollup" not in decision.prediction.review_reasons
    assert results["IMG_0003.JPG"].detections[0].previous.source == "classifier+rollup_to_family"
    assert results["IMG_0001.JPG"].notes[-1] == (
        "sequence: snow leopard from IMG_0002.JPG of burst CAM1#00001 replaced animal 0.40 (detector)")


def test_sequence_keeps_people_blanks_and_different_species():
    images = burst(
        [],  # blank
        [animal(0.95, (SNOW_LEOPARD, 0.93))],
        [animal(0.9, (RED_FOX, 0.7))],  # a species, below the sequence threshold: left alone
        [animal(0.9, (RED_FOX, 0.5), (WOLF, 0.2))],  # rolled up to canidae: a different lineage
        [Detection("person", 0.9, BOX)],
    )
    results = decide_sequences(images, EnsembleConfig())
    assert results["IMG_0001.JPG"].prediction.label == "blank"
    assert results["IMG_0003.JPG"].prediction.label == RED_FOX
    assert display_name(results["IMG_0004.JPG"].prediction.label) == "canidae"
    assert results["IMG_0005.JPG"].prediction.label == "human"
    assert not any("sequence_disagreement" in d.prediction.review_reasons for d in results.values())

    filled = decide_sequences(images, EnsembleConfig(sequence_fill_blanks=True))
    assert (filled["IMG_0001.JPG"].prediction.label, filled["IMG_0001.JPG"].prediction.source) == (
        SNOW_LEOPARD, "sequence")

    off = decide_sequences(burst([animal(0.4)], [animal(0.95, (SNOW_LEOPARD, 0.93))]),
                           EnsembleConfig(sequence_smoothing=False))
    assert off["IMG_0001.JPG"].prediction.label == "animal"


def test_sequence_threshold_boundary():
    images = burst([animal(0.4)], [animal(0.95, (LEOPARD, 0.8))])
    assert decide_sequences(images, EnsembleConfig(sequence_threshold=0.8))["IMG_0001.JPG"].prediction.label == LEOPARD
    assert decide_sequences(images, EnsembleConfig(sequence_threshold=0.81))["IMG_0001.JPG"].prediction.label == "animal"


def test_sequence_disagreement_flags_the_burst():
    images = burst(
        [animal(0.95, (SNOW_LEOPARD, 0.93))],
        [animal(0.5)],
        [animal(0.9, (RED_FOX, 0.88))],
    )
    results = decide_sequences(images, EnsembleConfig())
    for decision in results.values():
        assert "sequence_disagreement" in decision.prediction.review_reasons
        assert decision.sequence.needs_review
    assert results["IMG_0002.JPG"].prediction.label == "animal"  # ambiguous: not smoothed
    assert results["IMG_0003.JPG"].prediction.label == RED_FOX
    text = next(r.text for r in results["IMG_0002.JPG"].reasons if r.code == "sequence_disagreement")
    assert text == "burst CAM1#00001: snow leopard (0.93 in IMG_0001.JPG) and red fox (0.88 in IMG_0003.JPG)"
    # Same lineage (a genus and a species in it) is no disagreement: the species names the burst.
    related = decide_sequences(burst([animal(0.9, (PANTHERA, 0.95))], [animal(0.9, (SNOW_LEOPARD, 0.9))],
                                     [animal(0.5)]), EnsembleConfig())
    assert related["IMG_0003.JPG"].prediction.label == SNOW_LEOPARD
    assert not any("sequence_disagreement" in d.prediction.review_reasons for d in related.values())


def test_sequences_are_separate_and_frames_without_sequence_stand_alone():
    images = burst([animal(0.95, (SNOW_LEOPARD, 0.93))]) + burst([animal(0.5)], sequence_id="CAM1#00002")
    images[1].path = "other.JPG"
    images.append(ImageResult("lone.JPG", [animal(0.5)]))
    results = decide_sequences(images, EnsembleConfig())
    assert results["other.JPG"].prediction.label == "animal"
    assert results["lone.JPG"].prediction.label == "animal" and results["lone.JPG"].sequence is None


# --- config --------------------------------------------------------------------------------------------


def test_defaults_and_the_shipped_run_yaml_agree():
    default = load_run_config()
    assert default == RunConfig()
    assert default.ensemble.detection_threshold is None and default.ensemble.species_threshold == 0.8
    assert default.ensemble.classification_threshold == 0.1 and default.ensemble.geofence
    assert default.ensemble.flagship_species == ["snow leopard"]
    shipped = REPO / "configs" / "run.yaml"
    assert load_run_config(shipped) == default
    import yaml

    listed = yaml.safe_load(shipped.read_text())
    assert set(listed["ensemble"]) == set(EnsembleConfig.model_fields)
    assert set(listed) == set(RunConfig.model_fields)


def test_override_from_yaml_and_from_flags(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("device: cpu\nensemble:\n  detection_threshold: 0.3\n  flagship_species: [Snow Leopard, pallas cat]\n")
    config = load_run_config(path)
    assert config.device == "cpu"
    assert config.ensemble.detection_threshold == 0.3
    assert config.ensemble.flagship_species == ["snow leopard", "pallas cat"]
    assert config.ensemble.species_threshold == 0.8  # untouched
    flagged = load_run_config(path, overrides={"ensemble.species_threshold": 0.9, "workers": 0})
    assert (flagged.ensemble.species_threshold, flagged.workers, flagged.ensemble.detection_threshold) == (0.9, 0, 0.3)
    with pytest.raises(ConfigError, match="^command-line override: ensemble.species_threshold"):
        load_run_config(path, overrides={"ensemble.species_threshold": 2})


def test_unknown_key_names_the_file_line_and_key(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("ensemble:\n  detection_threshold: 0.3\n  flagship_specis: [snow leopard]\n")
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message == f"{path}:3: ensemble: unknown key 'flagship_specis' (did you mean 'flagship_species'?)"
    path.write_text("detectr:\n  name: mdv5a\n")
    with pytest.raises(ConfigError, match=r"run.yaml:1: top level: unknown key 'detectr' \(did you mean 'detector'"):
        load_run_config(path)


def test_wrong_type_names_the_key(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("ensemble:\n  detection_threshold: high\n")
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    assert str(info.value) == (f"{path}:2: ensemble.detection_threshold: should be a valid number, "
                               "unable to parse string as a number, got 'high'")
    path.write_text("ensemble:\n  sequence_threshold: 1.5\n  rollup_levels: [family, genus]\ndevice: gpu\n")
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:2: ensemble.sequence_threshold: should be less than or equal to 1, got 1.5")
    assert "ensemble.rollup_levels: list each level once" in message and "device: use auto, cpu" in message


def test_bad_yaml_and_missing_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_run_config(tmp_path / "nope.yaml")
    path = tmp_path / "run.yaml"
    path.write_text("ensemble:\n  detection_threshold: [0.2\n")
    with pytest.raises(ConfigError, match=r"run.yaml:\d+: not valid YAML"):
        load_run_config(path)
    path.write_text("ensemble:\n  review_threshold: 0.5\n  review_threshold: 0.6\n")
    with pytest.raises(ConfigError, match=r"run.yaml:3: ensemble.review_threshold: key appears twice"):
        load_run_config(path)
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_run_config(path)
    path.write_text("")
    assert load_run_config(path) == RunConfig()
    path.write_text("ensemble:\n  geofence_file: fences/geofence.json\n")
    with pytest.raises(ConfigError, match=r"run.yaml:2: ensemble.geofence_file: no such file"):
        load_run_config(path)


def test_geofence_file_is_relative_to_the_config(tmp_path):
    (tmp_path / "fences").mkdir()
    (tmp_path / "fences" / "geofence.json").write_text(json.dumps(GEOFENCE))
    path = tmp_path / "run.yaml"
    path.write_text("ensemble:\n  geofence_file: fences/geofence.json\n")
    config = load_run_config(path)
    assert Path(config.ensemble.geofence_file) == tmp_path / "fences" / "geofence.json"
    lion = animal(0.9, (LION, 0.9))
    assert decide(lion, config.ensemble, country="CHN").prediction.source == "classifier+geofence+rollup_to_family"


def test_calibrated_class_threshold_replaces_the_global_bar():
    from wildeye.config import EnsembleConfig
    from wildeye.inference.ensemble import decide_detection
    from wildeye.records import Detection

    cfg = EnsembleConfig(class_thresholds={"snow leopard": 0.93, "other": 0.5})
    sure = decide_detection(Detection("animal", 0.9, (0.1, 0.1, 0.2, 0.2), [("snow leopard", 0.95)]), cfg)
    assert (sure.prediction.label, sure.prediction.source) == ("snow leopard", "classifier")
    unsure = decide_detection(Detection("animal", 0.9, (0.1, 0.1, 0.2, 0.2), [("snow leopard", 0.90)]), cfg)
    assert unsure.prediction.label == "animal"  # 0.90 passes SpeciesNet's bars but not the calibrated 0.93
    assert "low_confidence" in [r.code for r in unsure.reasons]
    low_bar = decide_detection(Detection("animal", 0.9, (0.1, 0.1, 0.2, 0.2), [("other", 0.55)]), cfg)
    assert low_bar.prediction.label == "other"  # calibrated below the global 0.65/0.8 bars
