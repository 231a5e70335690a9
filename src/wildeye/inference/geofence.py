"""Geofence maps: which taxa are plausible where (SpeciesNet's `geofence_release.json`, or its fixes CSV).

Keys are SpeciesNet's full class strings (`class;order;family;genus;species`, lowercased); countries are
ISO 3166-1 alpha-3, admin1 regions the subdivision part of ISO 3166-2 ('CA' for 'US-CA'), as
speciesnet.geofence_utils compares them.
"""

from __future__ import annotations

import csv
import functools
import json
from collections import defaultdict
from pathlib import Path
from typing import Mapping

from wildeye.errors import ConfigError



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
        key = geofence_key(str(label))
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
                target[str(country).strip().upper()] = sorted({admin1_code(str(r)) for r in regions})
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
        key = geofence_key(row["species"] or "")
        country = (row["country_code"] or "").strip().upper()
        region = (row.get("admin1_region_code") or "").strip()
        current = countries[key][rule].get(country, set())
        if current is None or not region:
            countries[key][rule][country] = None
        else:
            countries[key][rule][country] = current | {admin1_code(region)}
    return {key: {rule: {c: sorted(r or ()) for c, r in by_country.items()} for rule, by_country in rules.items()}
            for key, rules in countries.items()}


def geofence_key(label: str) -> str:
    label = label.strip()
    parts = label.split(";")
    if len(parts) == 7:
        return ";".join(part.strip().lower() for part in parts[1:6])
    if len(parts) == 5:
        return ";".join(part.strip().lower() for part in parts)
    return " ".join(label.split()).lower()


def admin1_code(region: str | None) -> str | None:
    """'CN-XZ' and 'XZ' both -> 'XZ' (SpeciesNet's maps use the subdivision part, e.g. USA: ['CA'])."""
    if not region:
        return None
    region = region.strip().upper()
    return region.split("-", 1)[1] if "-" in region else region


