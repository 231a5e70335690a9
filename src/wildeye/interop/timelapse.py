"""Timelapse CSV exports (File > Export data to CSV): one row per image, human labels.

Timelapse's own columns (its default template, saul.cpsc.ucalgary.ca/timelapse): `File`, `RelativePath` (the
folder under the root folder the .tdb sits in, written with backslashes on Windows), `DateTime` (older
templates: `Folder`, `Date`, `Time`, `ImageQuality`) and `DeleteFlag`. Everything else is the project's own
template: a species choice ("Species", "Label", ...), a counter ("Count", ...) and flags ("Empty", "Person",
"Vehicle", "Animal", written true/false). Timelapse writes a second row for the same file (a "duplicate") to
record a second species; both are kept. Rows marked for deletion (DeleteFlag true) and rows nobody labelled
are not imported.
"""

from __future__ import annotations

from pathlib import Path

from wildeye.errors import ConfigError
from wildeye.interop import Imported, Observation, column, group_labels, number, read_csv_rows
from wildeye.interop.taxa import label_from_name

SPECIES_COLUMNS = ("Species", "Species1", "SpeciesName", "Label", "CommonName", "Common_Name", "Animal Species",
                   "Classification", "Taxon", "ScientificName", "Identification")
COUNT_COLUMNS = ("Count", "Counter", "Count1", "Number", "NumberOfAnimals", "Individuals", "IndividualCount",
                 "Animals", "Counter0")
REVIEWER_COLUMNS = ("Reviewer", "Observer", "IdentifiedBy", "ClassifiedBy", "Analyst", "Tagger")
FLAG_COLUMNS = (("Empty", "blank"), ("Blank", "blank"), ("Person", "human"), ("Human", "human"),
                ("Vehicle", "vehicle"), ("Animal", "animal"))
TRUE = {"true", "1", "yes", "y", "x", "t"}


def read_timelapse(path: Path, species_column: str | None = None, **_) -> Imported:
    table = read_csv_rows(path)
    header = table.header
    file_col, folder_col = column(header, "File"), column(header, "RelativePath")
    if file_col is None:
        raise ConfigError(f"{path.name} has no File column (columns: {', '.join(header[:12])})",
                          "export the CSV from Timelapse (File > Export data to CSV), or pass --format")
    if species_column is not None:
        species_col = column(header, species_column)
        if species_col is None:
            raise ConfigError(f"{path.name} has no column {species_column!r}",
                              "choose --species-column from: " + ", ".join(header))
    else:
        species_col = column(header, *SPECIES_COLUMNS)
    flags = [(c, label) for name, label in FLAG_COLUMNS if (c := column(header, name)) is not None]
    # An "Animal" column holding names (not true/false) is the species column of some templates.
    if species_col is None and flags:
        values = {r.get(c, "").strip().lower() for c, _ in flags for r in table.rows[:200]}
        if values - TRUE - {"false", "0", "no", "n", "f", ""}:
            species_col = next(c for c, label in flags if label == "animal") if any(
                label == "animal" for _, label in flags) else None
            flags = [(c, label) for c, label in flags if c != species_col]
    if species_col is None and not flags:
        raise ConfigError(f"{path.name} has no species or label column (columns: {', '.join(header[:12])})",
                          "pass --species-column with the column holding the species")
    count_col = column(header, *COUNT_COLUMNS)
    reviewer_col = column(header, *REVIEWER_COLUMNS)
    delete_col = column(header, "DeleteFlag")
    out = Imported("timelapse", path, tool="Timelapse")
    observations = []
    deleted = unlabelled = 0
    for i, row in enumerate(table.rows):
        out.entries += 1
        where = f"row {i + 2}"
        name = (row.get(file_col) or "").strip()
        if not name:
            out.problem(where, "no File name")
            continue
        folder = (row.get(folder_col) or "").strip().replace("\\", "/").strip("/") if folder_col else ""
        rel = f"{folder}/{name}" if folder else name
        where = rel
        if delete_col and (row.get(delete_col) or "").strip().lower() in TRUE:
            deleted += 1
            continue
        value = (row.get(species_col) or "").strip() if species_col else ""
        label = label_from_name(value) if value else next(
            (flag for c, flag in flags if (row.get(c) or "").strip().lower() in TRUE), None)
        if label is None:
            unlabelled += 1
            continue
        try:
            count = number(row.get(count_col), int) if count_col else None
        except ValueError:
            out.problem(where, f"count {row.get(count_col)!r} is not a number")
            continue
        if count is not None and count < 0:
            out.problem(where, f"count {count} is negative")
            continue
        if count == 0 and label not in ("blank",):
            count = None  # Timelapse counters start at 0: a label with no count given
        reviewer = (row.get(reviewer_col) or "").strip() or None if reviewer_col else None
        observations.append(Observation((rel, name) if folder else (rel,), label, count, reviewer=reviewer))
    out.labels = group_labels(observations)
    if species_col is None:
        out.notes.append("no species column: labels from the flag columns (" + ", ".join(c for c, _ in flags) + ")")
    if deleted:
        out.notes.append(f"{deleted} row(s) marked DeleteFlag not imported")
    if unlabelled:
        out.notes.append(f"{unlabelled} row(s) without a label (not reviewed yet) not imported")
    return out
