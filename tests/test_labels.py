"""The one label vocabulary (wildeye.labels): kinds, ranks, names, flagship matching, SpeciesNet's taxonomy map."""

from __future__ import annotations

from wildeye import labels
from wildeye.labels import SN_ANIMAL, SN_BLANK, SN_HUMAN, SN_UNKNOWN, SN_VEHICLE, Taxonomy, matches, parse

SNOW_LEOPARD = "ae0e0d8e-0000-0000-0000-000000000001;mammalia;carnivora;felidae;panthera;uncia;snow leopard"
FELIDAE = "df8514b0-10a5-411f-8ed6-0f415e8153a3;mammalia;carnivora;felidae;;;cat family"
LION = "ddf59264-185a-4d35-b647-2785792bdf54;mammalia;carnivora;felidae;panthera;leo;lion"
NO_COMMON = "x;mammalia;carnivora;felidae;panthera;uncia;"


def test_kinds_ranks_and_names():
    leopard = parse(SNOW_LEOPARD)
    assert (leopard.kind, leopard.rank, leopard.depth) == ("taxon", "species", 5)
    assert leopard.scientific_name == "Panthera uncia" and leopard.display == "snow leopard"
    assert leopard.key == "mammalia;carnivora;felidae;panthera;uncia" and leopard.plain == SNOW_LEOPARD
    assert {"snow leopard", "panthera uncia"} <= leopard.names
    assert (parse(FELIDAE).rank, parse(FELIDAE).scientific_name) == ("family", "Felidae")
    assert labels.common_name(NO_COMMON) == "Panthera uncia" and labels.common_name("Snow leopard") == "Snow leopard"
    for special, kind in ((SN_BLANK, "blank"), (SN_HUMAN, "human"), (SN_VEHICLE, "vehicle"), (SN_ANIMAL, "animal"),
                          (SN_UNKNOWN, "unknown"), ("empty", "blank"), ("person", "human"), ("no cv result", "unknown")):
        assert parse(special).kind == kind and parse(special).plain == kind, special
    assert parse(SN_ANIMAL).rank == "kingdom" and parse(SN_HUMAN).rank is None
    assert parse("blue sheep").kind == "taxon" and parse("blue sheep").rank is None
    assert parse(FELIDAE).is_ancestor_of(leopard) and parse(SN_ANIMAL).is_ancestor_of(leopard)
    assert not leopard.is_ancestor_of(parse(FELIDAE)) and leopard.related(parse(FELIDAE))
    assert labels.detection_category("2") == "person" and labels.detection_category("human") == "person"


def test_flagship_matching_by_name_latin_name_or_any_rank_above():
    """A flagship given at family or genus level matches its species (once flagged for review but never alerted)."""
    for names in (["snow leopard"], ["Panthera  uncia"], ["felidae"], ["panthera"], [SNOW_LEOPARD]):
        assert matches(SNOW_LEOPARD, names), names
    assert not matches(SNOW_LEOPARD, ["canidae"]) and not matches(SNOW_LEOPARD, [])
    assert not matches(FELIDAE, ["snow leopard"])  # the family is not the species
    assert matches("Snow Leopard", ["snow leopard"])  # a package's plain label


def test_taxonomy_map_is_speciesnets():
    """speciesnet.ensemble._load_taxonomy_from_file: every line keyed by its full class string; blank, vehicle and
    'no cv result' removed; human and animal always present."""
    taxonomy = Taxonomy([SN_BLANK, SN_VEHICLE, SN_UNKNOWN, SNOW_LEOPARD, FELIDAE, ""])
    assert taxonomy.get("mammalia;carnivora;felidae;;") == FELIDAE
    assert taxonomy.get(";;;;") == SN_ANIMAL and taxonomy.get("mammalia;primates;hominidae;homo;sapiens") == SN_HUMAN
    assert len(taxonomy) == 4
    implied = Taxonomy.implied_by([SNOW_LEOPARD])
    assert implied.get("mammalia;carnivora;felidae;panthera;") == ";mammalia;carnivora;felidae;panthera;;panthera"
    assert implied.get("mammalia;;;;") == ";mammalia;;;;;mammalia"
    assert Taxonomy.implied_by([SNOW_LEOPARD, FELIDAE]).get("mammalia;carnivora;felidae;;") == FELIDAE


def test_a_flagship_given_as_a_family_alerts(tmp_path):
    from wildeye.ingest.manifest import MediaFile
    from wildeye.records import Prediction
    from wildeye.app.alerts import new_sightings
    from wildeye.store.journal import Journal

    with Journal.open(tmp_path) as journal:
        journal.add_media([MediaFile(path="a.jpg", kind="image", size=1, mtime="", content_hash="a",
                                     deployment_id="ridge", sequence_id="ridge#1", frame_num=0)])
        run = journal.start_run({}, {})
        journal.record_batch(run, {"a.jpg": []}, {})
        journal.write_decisions({"a.jpg": (Prediction(SNOW_LEOPARD, 0.97, "classifier"), [])})
        (sighting,) = new_sightings(journal, run, ["felidae"])
        assert sighting.flagship and sighting.name == "snow leopard"
        assert not new_sightings(journal, run, ["canidae"])[0].flagship


def test_taxonomy_strings_from_parts_and_latin_names():
    built = labels.taxonomy_string(taxa=("Mammalia", "carnivora", "felidae", "panthera", "uncia"), common="Snow leopard")
    assert built == ";mammalia;carnivora;felidae;panthera;uncia;Snow leopard" and labels.is_taxonomy_string(built)
    assert parse(built).scientific_name == "Panthera uncia" and parse(built).rank == "species"
    assert labels.taxa_of_scientific_name("Panthera uncia") == ("", "", "", "panthera", "uncia")
    assert labels.taxa_of_scientific_name("Felidae", "family") == ("", "", "felidae", "", "")
    assert labels.taxa_of_scientific_name("Felidae") is None  # one word: the rank is needed to place it
    assert not labels.is_taxonomy_string("Panthera uncia")


def test_taxonomy_finds_a_label_by_common_or_latin_name():
    lines = [LION, "fbb23d07-6677-43db-b650-f99ac452c50f;mammalia;carnivora;felidae;panthera;;panthera species",
             "ec1a70f4-41c0-4aba-9150-292fb2b7a324;mammalia;carnivora;ursidae;;;bear family"]
    taxonomy = Taxonomy(lines)
    assert taxonomy.find("Lion") == LION and taxonomy.find("panthera  leo") == LION
    assert taxonomy.find("Panthera") == lines[1] and taxonomy.find("Ursidae") == lines[2]
    assert taxonomy.find("human") == SN_HUMAN and taxonomy.find("snow leopard") is None
