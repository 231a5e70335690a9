"""Camtrap DP ready for GBIF: labels as latin names and taxa, classification fields on every row, project metadata
from a YAML or flags, filePath relative to the package or a URL. Validated offline with frictionless and the
vendored Camtrap DP 1.0.2 profile, and read back by CamTrapTools (`camtraptools labels`)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from imagegen import write_frame
from test_reports import DEP_A, DEP_B, FOX, LEOPARD, box, make_run, read_csv, run_report

from wildeye.labels import SN_UNKNOWN
from wildeye.reports.build import build_report
from wildeye.reports.metadata import ProjectMetadata, load_project
from wildeye.store.journal import HumanLabel

REPO = Path(__file__).resolve().parents[1]
CATS = "c3;mammalia;carnivora;felidae;;;cat family"  # a SpeciesNet rollup to the family

PROJECT_YAML = """\
title: Snow leopard survey 2024
description: Camera traps on ridgelines, identified with wildeye.
keywords: [camera traps, snow leopard]
bibliographic_citation: Gurung A (2024). Snow leopard survey 2024.
contributors:
  - {title: Asha Gurung, email: asha@example.org, role: contact, organization: Example Conservancy}
  - {title: Dawa Sherpa, role: principalInvestigator}
  - {title: Example Conservancy, role: rightsHolder}
  - {title: GBIF Nepal, role: publisher}
licenses: {data: CC-BY-4.0, media: CC-BY-NC-4.0}
project:
  id: mustang-2024
  title: Upper Mustang snow leopard survey
  acronym: UMSL
  description: Occupancy of snow leopard and prey.
  path: https://example.org/mustang
  sampling_design: targeted
"""


def frames_with_every_kind():
    return [
        ("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(FOX), box(LEOPARD, 0.6, (0.5, 0.5, 0.25, 0.25))]),
        ("A/002.JPG", "A", "2024-05-01T11:00:00+05:45", [box("animal", 0.5)]),
        ("A/003.JPG", "A", "2024-05-01T12:00:00+05:45", [box(CATS, 0.8)]),
        ("A/004.JPG", "A", "2024-05-01T13:00:00+05:45", [box(SN_UNKNOWN, 0.4)]),
        ("A/005.JPG", "A", "2024-05-01T14:00:00+05:45", [box("human", 0.95)]),
        ("A/006.JPG", "A", "2024-05-01T15:00:00+05:45", [box("vehicle", 0.9, category="vehicle")]),
        ("A/007.JPG", "A", "2024-05-01T16:00:00+05:45", []),
        ("B/001.JPG", "B", "2024-05-02T01:00:00+05:45", [box(FOX)]),
        ("B/002.JPG", "B", "2024-05-02T09:00:00+05:45", [box(FOX)]),
    ]


def test_labels_become_latin_names_taxa_and_classification_fields(tmp_path):
    pytest.importorskip("frictionless")
    from wildeye.reports.camtrapdp import validate_package

    # a reviewer types a plain name: its latin name comes from the same journal's SpeciesNet label
    humans = [HumanLabel("B/002.JPG", "Snow leopard", count=2, reviewer="asha",
                         reviewed_at="2024-06-01T09:00:00+05:45")]
    out = make_run(tmp_path, [DEP_A, DEP_B], frames_with_every_kind(), humans)
    (tmp_path / "project.yaml").write_text(PROJECT_YAML)
    summary = build_report(out, tmp_path / "rep", project=load_project(tmp_path / "project.yaml"))
    package = tmp_path / "rep" / "camtrap-dp"
    assert validate_package(package) == []

    obs = read_csv(package / "observations.csv")
    media_level = [r for r in obs if r["observationLevel"] == "media"]
    by_label = {r["observationTags"].split(":", 1)[1]: r for r in media_level}
    assert {r["observationType"] for r in media_level} == {"animal", "human", "vehicle", "blank", "unknown"}
    assert by_label[FOX]["scientificName"] == "Vulpes vulpes"
    assert by_label[LEOPARD]["scientificName"] == "Panthera uncia"
    assert by_label[CATS]["scientificName"] == "Felidae"
    assert by_label["animal"]["scientificName"] == "" and by_label["animal"]["observationType"] == "animal"
    assert by_label[SN_UNKNOWN]["observationType"] == "unknown" and by_label[SN_UNKNOWN]["scientificName"] == ""
    reviewed = by_label["Snow leopard"]
    assert (reviewed["scientificName"], reviewed["classificationMethod"], reviewed["classifiedBy"],
            reviewed["classificationProbability"], reviewed["count"]) == ("Panthera uncia", "human", "asha", "1.0", "2")
    # latin names only: no common name, no "animal", no human taxon in scientificName
    assert {r["scientificName"] for r in obs} == {"", "Vulpes vulpes", "Panthera uncia", "Felidae"}
    # every classified row says how, by whom, when and how sure, event rows too
    for row in obs:
        assert row["classificationMethod"] in ("human", "machine"), row
        assert row["classifiedBy"] and row["classificationProbability"] and row["classificationTimestamp"], row
    events = [r for r in obs if r["observationLevel"] == "event"]
    leopard_b = next(r for r in events if r["deploymentID"] == "B" and r["scientificName"] == "Panthera uncia")
    assert (leopard_b["classificationMethod"], leopard_b["classifiedBy"]) == ("human", "asha")
    fox_a = next(r for r in events if r["deploymentID"] == "A" and r["scientificName"] == "Vulpes vulpes")
    assert (fox_a["classificationMethod"], fox_a["classifiedBy"]) == ("machine", "md-test")
    assert any(r["scientificName"] == "" and r["observationType"] == "animal" for r in events)  # 'animal' event

    descriptor = json.loads((package / "datapackage.json").read_text())
    taxa = {t["scientificName"]: t for t in descriptor["taxonomic"]}
    assert set(taxa) == {"Vulpes vulpes", "Panthera uncia", "Felidae"}
    assert taxa["Panthera uncia"] == {"taxonID": "b2", "scientificName": "Panthera uncia", "taxonRank": "species",
                                      "kingdom": "Animalia", "class": "Mammalia", "order": "Carnivora",
                                      "family": "Felidae", "genus": "Panthera",
                                      "vernacularNames": {"eng": "snow leopard"}}
    assert taxa["Felidae"]["taxonRank"] == "family" and taxa["Felidae"]["vernacularNames"] == {"eng": "cat family"}
    assert "genus" not in taxa["Felidae"]

    # metadata from the project YAML
    assert descriptor["title"] == "Snow leopard survey 2024"
    assert descriptor["description"].startswith("Camera traps")
    assert descriptor["keywords"] == ["camera traps", "snow leopard"]
    assert descriptor["bibliographicCitation"].startswith("Gurung A (2024)")
    roles = {c["title"]: c["role"] for c in descriptor["contributors"]}
    assert roles == {"Asha Gurung": "contact", "Dawa Sherpa": "principalInvestigator",
                     "Example Conservancy": "rightsHolder", "GBIF Nepal": "publisher", "asha": "contributor"}
    assert descriptor["contributors"][0]["email"] == "asha@example.org"
    assert descriptor["licenses"] == [
        {"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/", "scope": "data"},
        {"name": "CC-BY-NC-4.0", "path": "https://creativecommons.org/licenses/by-nc/4.0/", "scope": "media"}]
    assert descriptor["project"] == {"id": "mustang-2024", "title": "Upper Mustang snow leopard survey",
                                     "acronym": "UMSL", "description": "Occupancy of snow leopard and prey.",
                                     "path": "https://example.org/mustang", "samplingDesign": "targeted",
                                     "captureMethod": ["activityDetection"], "individualAnimals": False,
                                     "observationLevel": ["event", "media"]}
    assert descriptor["coordinatePrecision"] == 0.1  # snow leopards: the sites were generalised
    assert descriptor["temporal"] == {"start": "2024-05-01", "end": "2024-05-03"}
    assert not any("GBIF" in n for n in summary["notes"])
    assert summary["camtrap_dp"]["gbif_gaps"] == []

    # 'animal' and a rollup to the family are no species (issue 15: species level only where it belongs): not in
    # species.csv, RAI or diel, counted on their own lines and in taxa_apart.csv
    species = read_csv(tmp_path / "rep" / "species.csv")
    assert {r["species"] for r in species} == {"red fox", "snow leopard"}
    assert {r["taxon_rank"] for r in species} == {"species"}
    for table in ("rai.csv", "diel_activity.csv"):
        assert not {"animal", "cat family"} & {r["species"] for r in read_csv(tmp_path / "rep" / table)}
    apart = {r["name"]: r for r in read_csv(tmp_path / "rep" / "taxa_apart.csv")}
    assert apart["cat family"]["taxon_rank"] == "family" and apart["cat family"]["reason"] == "above the rank"
    assert apart["cat family"]["scientific_name"] == "Felidae" and apart["animal"]["reason"] == "animal (no taxon)"
    effort = {r["deployment_id"]: r for r in read_csv(tmp_path / "rep" / "effort.csv")}
    assert effort["A"]["unidentified_events"] == "1" and effort["A"]["species"] == "2"
    assert effort["A"]["apart_events"] == "1"
    assert summary["species"] == 2 and summary["unidentified_events"] == 1 and summary["apart_events"] == 1
    assert any("not identified to any taxon" in n for n in summary["notes"])
    sightings = {(r["deployment_id"], r["species"]): r for r in read_csv(tmp_path / "rep" / "sightings.csv")}
    assert sightings[("B", "Snow leopard")]["scientific_name"] == "Panthera uncia"
    assert ("A", "animal") in sightings  # a sighting all the same


def test_labels_without_taxonomy_get_names_from_the_project_or_a_note(tmp_path):
    pytest.importorskip("frictionless")
    from wildeye.reports.camtrapdp import validate_package

    frames = [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box("blue sheep")]),
              ("A/002.JPG", "A", "2024-05-01T12:00:00+05:45", [box("pika")])]
    out = make_run(tmp_path, [DEP_A], frames)
    summary = build_report(out, tmp_path / "rep", project=ProjectMetadata(
        scientific_names={"Blue Sheep": "Pseudois nayaur"}))
    package = tmp_path / "rep" / "camtrap-dp"
    assert validate_package(package) == []
    names = {r["observationTags"]: r["scientificName"] for r in read_csv(package / "observations.csv")}
    assert names["wildeyeLabel:blue sheep"] == "Pseudois nayaur" and names["wildeyeLabel:pika"] == ""
    taxa = json.loads((package / "datapackage.json").read_text())["taxonomic"]
    assert taxa == [{"scientificName": "Pseudois nayaur", "taxonRank": "species", "kingdom": "Animalia",
                     "vernacularNames": {"eng": "blue sheep"}}]
    assert any("no scientific name for 'pika' (1)" in n for n in summary["notes"]), summary["notes"]


def test_missing_gbif_metadata_is_a_note_and_strict_refuses(tmp_path):
    frames = [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(FOX)])]
    out = make_run(tmp_path, [DEP_A], frames)
    proc = run_report(out, "--to", tmp_path / "rep", "--json", "--no-gallery")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    note = next(n for n in summary["notes"] if "not ready for GBIF" in n)
    for gap in ("title", "description", "role: contact", "licenses.data", "licenses.media"):
        assert gap in note
    assert any("filePath is relative to the card" in n for n in summary["notes"])

    strict = run_report(out, "--to", tmp_path / "strict", "--strict", "--no-gallery")
    assert strict.returncode == 2 and "Traceback" not in strict.stderr
    assert len(strict.stderr.strip().splitlines()) == 1 and "not ready for GBIF" in strict.stderr
    assert "description" in strict.stderr and not (tmp_path / "strict").exists()  # nothing written

    # the same metadata from flags: ready, --strict passes; flags win over the YAML
    (tmp_path / "project.yaml").write_text("title: from yaml\nlicenses: {data: CC0-1.0}\n")
    ready = run_report(out, "--to", tmp_path / "ok", "--strict", "--no-gallery", "--json",
                       "--project", tmp_path / "project.yaml", "--title", "Fox survey",
                       "--description", "Foxes.", "--contact", "Asha Gurung <asha@example.org>",
                       "--media-license", "CC-BY-NC-4.0")
    assert ready.returncode == 0, ready.stderr
    descriptor = json.loads((tmp_path / "ok" / "camtrap-dp" / "datapackage.json").read_text())
    assert descriptor["title"] == "Fox survey" and descriptor["description"] == "Foxes."
    assert descriptor["contributors"] == [{"title": "Asha Gurung", "email": "asha@example.org", "role": "contact"}]
    assert [(lic["name"], lic["scope"]) for lic in descriptor["licenses"]] == [("CC0-1.0", "data"),
                                                                            ("CC-BY-NC-4.0", "media")]

    # GBIF takes three data licences only
    gbif = run_report(out, "--to", tmp_path / "nc", "--strict", "--no-gallery", "--project", tmp_path / "project.yaml",
                      "--description", "x", "--contact", "A", "--media-license", "CC-BY-4.0", "--license", "GPL-3.0")
    assert gbif.returncode == 2 and "GBIF accepts CC0-1.0, CC-BY-4.0 or CC-BY-NC-4.0, not GPL-3.0" in gbif.stderr


@pytest.mark.parametrize("text, words", [
    ("titel: x\n", ["project.yaml:1", "unknown key 'titel'", "did you mean 'title'"]),
    ("contributors:\n  - {title: A, role: boss}\n", ["project.yaml:2", "contributors[0].role", "contact"]),
    ("project: {sampling_design: random}\n", ["project.sampling_design", "opportunistic"]),
    ("media_base_url: data/cards\n", ["media_base_url", "absolute URL"]),
    ("privacy: {coordinate_decimals: 9}\n", ["privacy.coordinate_decimals", "less than or equal to 4"]),
    ("licenses: {data: {}}\n", ["licenses.data", "CC-BY-4.0"]),
])
def test_a_bad_project_yaml_is_one_line_naming_the_key(tmp_path, text, words):
    out = make_run(tmp_path, [DEP_A], [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(FOX)])])
    (tmp_path / "project.yaml").write_text(text)
    proc = run_report(out, "--to", tmp_path / "rep", "--project", tmp_path / "project.yaml")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr)


def test_file_path_relative_to_the_package_or_a_media_url(tmp_path):
    pytest.importorskip("frictionless")
    from wildeye.reports.camtrapdp import validate_package

    frames = [("A/IMG 001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(FOX)]),
              ("A/002.JPG", "A", "2024-05-01T11:00:00+05:45", [box("human", 0.95)]),
              ("B/001.JPG", "B", "2024-05-02T01:00:00+05:45", [])]
    out = make_run(tmp_path, [DEP_A, DEP_B], frames, images=True)

    def media(report: str) -> dict[str, dict]:
        package = tmp_path / report / "camtrap-dp"
        assert validate_package(package) == []
        return {r["fileName"]: r for r in read_csv(package / "media.csv")}

    build_report(out, tmp_path / "url", gallery=False,
                 project=ProjectMetadata(media_base_url="https://data.example.org/cards/2024/"))
    rows = media("url")
    assert rows["IMG 001.JPG"]["filePath"] == "https://data.example.org/cards/2024/A/IMG%20001.JPG"
    assert rows["IMG 001.JPG"]["filePublic"] == "true"
    assert rows["002.JPG"]["filePublic"] == "false"  # a person: never public media

    build_report(out, tmp_path / "copy", gallery=False, copy_media=True)
    rows = media("copy")
    assert rows["IMG 001.JPG"]["filePath"] == "media/A/IMG 001.JPG" and rows["IMG 001.JPG"]["filePublic"] == "false"
    package = tmp_path / "copy" / "camtrap-dp"
    for row in rows.values():  # every filePath opens from the package folder
        assert (package / row["filePath"]).read_bytes() == (tmp_path / "card" / row["filePath"][6:]).read_bytes()

    build_report(out, tmp_path / "plain", gallery=False)
    assert media("plain")["IMG 001.JPG"]["filePath"] == "A/IMG 001.JPG"  # the card's own path, with a note


def camtraptools_cli() -> list[str]:
    pytest.importorskip("camtraptools")
    script = Path(sys.executable).with_name("camtraptools")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from camtraptools.cli import app; app()"]


def speciesnet_taxonomy(cache: Path, labels: list[str]) -> dict:
    """A SpeciesNet taxonomy where CamTrapTools looks for one (its `labels` command then checks every name)."""
    folder = cache / "models" / "google" / "speciesnet" / "pyTorch" / "v4.0.1a" / "1"
    folder.mkdir(parents=True)
    (folder / "taxonomy_release.txt").write_text("\n".join(labels) + "\n")
    return {**os.environ, "KAGGLEHUB_CACHE": str(cache)}


def test_camtraptools_reads_the_package_with_species_intact(tmp_path):
    cli = camtraptools_cli()
    frames = [("A/001.JPG", "A", "2024-05-01T10:00:00+05:45", [box(LEOPARD)]),
              ("A/002.JPG", "A", "2024-05-01T10:00:30+05:45", [box(LEOPARD)]),
              ("A/003.JPG", "A", "2024-05-01T18:00:00+05:45", [box(CATS, 0.8)]),
              ("B/001.JPG", "B", "2024-05-02T01:00:00+05:45", [box(FOX)]),
              ("B/002.JPG", "B", "2024-05-02T05:00:00+05:45", [box("animal", 0.5)]),
              ("B/003.JPG", "B", "2024-05-02T06:00:00+05:45", [])]
    out = make_run(tmp_path, [DEP_A, DEP_B], frames)
    card = tmp_path / "card"
    for i, (path, _, stamp, _) in enumerate(frames):  # the same images, with the capture time in EXIF
        write_frame(card / path, datetime.fromisoformat(stamp).replace(tzinfo=None), size=(64, 48), seed=i)
    build_report(out, tmp_path / "rep", gallery=False)
    ingest = subprocess.run([*cli, "ingest", str(card), "--out", str(tmp_path / "ctt")], capture_output=True,
                            text=True, timeout=300)
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    env = speciesnet_taxonomy(tmp_path / "kaggle", [FOX, LEOPARD, CATS])

    def labels(package: Path, name: str) -> tuple[str, dict[str, str]]:
        proc = subprocess.run([*cli, "labels", str(tmp_path / "ctt"), str(package), "--out",
                               str(tmp_path / name)], capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
        with open(tmp_path / name, newline="") as f:
            return proc.stdout, {r["filePath"]: r["scientificName"] for r in csv.DictReader(f)}

    text, truth = labels(tmp_path / "rep" / "camtrap-dp", "labels.csv")
    assert "Not recognised" not in text, text
    assert "matched 5 of the package's 6 images" in text, text  # B/002 is an 'animal': no species to say
    assert {k: truth[k] for k in ("A/001.JPG", "A/002.JPG", "A/003.JPG", "B/001.JPG", "B/003.JPG")} == {
        "A/001.JPG": "Panthera uncia", "A/002.JPG": "Panthera uncia", "A/003.JPG": "Felidae",
        "B/001.JPG": "Vulpes vulpes", "B/003.JPG": ""}
    for name in ("Panthera uncia", "Vulpes vulpes", "Felidae"):
        assert name in text

    assert "B/002.JPG" not in truth

    # the check has teeth: "animal" as a scientificName (what wildeye wrote before) is not recognised
    old = tmp_path / "old"
    shutil.copytree(tmp_path / "rep" / "camtrap-dp", old)
    obs = (old / "observations.csv").read_text().replace("Panthera uncia", "animal")
    (old / "observations.csv").write_text(obs)
    text, _ = labels(old, "old.csv")
    assert "Not recognised as a scientific or common name: animal" in text, text
