"""Wildlife Insights images.csv (a project's "Download data" bundle): one row per image and species.

Columns (the WI download bundle; MegaDetector's data_management/wi_download_csv_to_coco.py reads the same):
`project_id, deployment_id, image_id, filename` (the name the file had when uploaded), `location` (its gs://
URL), `is_blank, identified_by, wi_taxon_id, class, order, family, genus, species` (the epithet),
`common_name, number_of_objects, cv_confidence, ...`. The taxon fields are WI's taxonomy, the one SpeciesNet's
7-field labels come from, so a row becomes 'wi_taxon_id;class;order;family;genus;species;common name'.
`identified_by` names the person who identified the image; rows identified by "Computer vision" are machine
results (image-level, scored by cv_confidence), every other row is a human label. An image is matched by its
deployment and file name, its file name alone, or its URL's path.
"""

from __future__ import annotations

from pathlib import Path

from wildeye.errors import ConfigError
from wildeye.interop import Imported, ImportedResult, Observation, column, group_labels, number, read_csv_rows
from wildeye.interop.taxa import taxon_label
from wildeye.records import Prediction

MACHINE = ("computer vision", "computer_vision", "cv", "ai", "machine")
TRUE = {"1", "1.0", "true", "yes", "t"}


def read_wildlife_insights(path: Path, **_) -> Imported:
    table = read_csv_rows(path)
    h = table.header
    cols = {key: column(h, key) for key in ("image_id", "filename", "location", "deployment_id", "is_blank",
                                            "identified_by", "wi_taxon_id", "class", "order", "family", "genus",
                                            "species", "common_name", "number_of_objects", "cv_confidence",
                                            "timestamp")}
    if cols["filename"] is None and cols["location"] is None:
        raise ConfigError(f"{path.name} has neither a filename nor a location column",
                          "pass the images.csv of a Wildlife Insights download, or --format")
    if not any(cols[k] for k in ("common_name", "genus", "species", "is_blank")):
        raise ConfigError(f"{path.name} has no species columns (common_name, genus, species, is_blank)",
                          "pass the images.csv of a Wildlife Insights download")

    def cell(row, key) -> str:
        name = cols[key]
        return (row.get(name) or "").strip() if name else ""

    out = Imported("wildlife-insights", path, tool="Wildlife Insights")
    human, machine = [], {}
    for i, row in enumerate(table.rows):
        out.entries += 1
        filename, location, deployment = cell(row, "filename"), cell(row, "location"), cell(row, "deployment_id")
        paths = tuple(dict.fromkeys(p for p in (f"{deployment}/{filename}" if deployment and filename else "",
                                                filename, location) if p))
        where = filename or location or f"row {i + 2}"
        if not paths:
            out.problem(f"row {i + 2}", "no filename or location")
            continue
        if cell(row, "is_blank").lower() in TRUE:
            label = "blank"
        else:
            label = taxon_label(common=cell(row, "common_name"), uuid=cell(row, "wi_taxon_id"),
                                ranks={k: cell(row, k) for k in ("class", "order", "family", "genus", "species")})
        if not label:
            out.problem(where, "no species, common name or is_blank")
            continue
        try:
            count = number(cell(row, "number_of_objects"), int)
            score = number(cell(row, "cv_confidence"))
        except ValueError as exc:
            out.problem(where, f"not a number: {exc}")
            continue
        who = cell(row, "identified_by")
        if who.lower() in MACHINE or "computer vision" in who.lower():
            best = machine.get(paths)
            if best is None or (score or 0) > (best.image.score or 0):
                machine[paths] = ImportedResult(paths, [], Prediction(label, score if score is not None else 1.0,
                                                                       "classifier"))
            continue
        human.append(Observation(paths, label, count if label != "blank" else None, reviewer=who or None))
    out.labels = group_labels(human)
    out.results = list(machine.values())
    if out.results:
        out.models = {"detector": {"name": "Wildlife Insights computer vision"},
                      "classifier": {"name": "Wildlife Insights computer vision"}}
        out.tool = "Wildlife Insights computer vision"
    return out
