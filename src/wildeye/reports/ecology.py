"""Occupancy, activity and richness from a report's events and effort (issue 15): the use case over wildeye.ecology.

Sites are deployments with effort (camera-days from deployments.csv, else from their frames); detections are the
independent events of taxa counted at the report's rank (ecology.ranks), their start time on the deployment's
wall clock. Writes, under the given folder:

- occupancy/: `<taxon>_detection_history.csv` per taxon (unmarked / camtrapR layout: a row per site, columns
  o1..oK, NA where the camera was not running), `effort.csv` (days per site and occasion, same layout),
  `site_covariates.csv`, and `occupancy.csv` (naive occupancy, psi and p with Wald intervals, warnings);
- activity/: `activity.csv` (events, bandwidth, peak hour per taxon, clock and sun time) and `overlap.csv`
  (Delta-1/Delta-4 with basic0 bootstrap intervals for each pair of taxa with enough events);
- richness/: `accumulation.csv` (expected taxa per number of sampling units) and `chao2.csv`.
"""

from __future__ import annotations

import calendar
import math
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from wildeye.ecology import activity, histories, occupancy, richness, suntime
from wildeye.errors import ConfigError
from wildeye.reports.tables import write_csv


class EcologyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occasion_days: float = Field(7.0, gt=0, description="length of a sampling occasion in days")
    min_effort_days: float = Field(0.0, ge=0, description="occasions a camera ran this many days or fewer are NA")
    effort_scaled: bool = Field(False, description="detection of a partly covered occasion scales with its effort")
    p_by_occasion: bool = Field(False, description="one detection probability per occasion, p(t), instead of p(.)")
    covariates: list[str] = Field(default_factory=list, description="deployments.csv columns for psi")
    n_boot: int = Field(199, ge=0, description="smoothed bootstrap resamples per overlap (overlap advises >= 1000)")
    min_activity_events: int = Field(10, ge=2, description="taxa with fewer events get no activity curve")
    max_overlap_taxa: int = Field(4, ge=2, description="overlap for the pairs of this many most-seen taxa")
    richness_unit: Literal["camera-day", "site"] = "camera-day"
    seed: int = 0


def wall_seconds(when: datetime | None) -> float | None:
    """Seconds on the deployment's wall clock (local time, as if UTC): occasions start at local midnight."""
    if when is None:
        return None
    return calendar.timegm(when.replace(tzinfo=None).timetuple()) + when.microsecond / 1e6


def analyse(data, frames, events, efforts, names: dict[str, str], options: EcologyOptions, out_dir: Path,
            downtime: dict | None = None) -> dict:
    """Compute and write every ecology table; returns what the HTML report and the command print. downtime:
    deployment -> [(from, to)] local times the camera was not running inside its window (reports.health)."""
    out_dir = Path(out_dir)
    notes: list[str] = []
    files: list[tuple[str, str]] = []
    windows = []
    for e in efforts:
        start, end = wall_seconds(e.start), wall_seconds(e.end)
        if start is not None and end is not None and end > start:
            gaps = tuple((wall_seconds(a), wall_seconds(b)) for a, b in (downtime or {}).get(e.deployment_id, ()))
            windows.append(histories.SiteWindow(e.deployment_id, start, end, gaps))
    counted = [e for e in events if e.identified and e.start.local is not None]
    by_taxon: dict[str, list] = {}
    for e in counted:
        by_taxon.setdefault(e.species, []).append(e)
    order = sorted(by_taxon, key=lambda k: (-len(by_taxon[k]), names.get(k, k)))
    result = {"occupancy": _occupancy(data, windows, by_taxon, order, names, options, out_dir / "occupancy", notes,
                                      files),
              "activity": _activity(data, by_taxon, order, names, options, out_dir / "activity", notes, files),
              "richness": _richness(windows, by_taxon, order, options, out_dir / "richness", notes, files),
              "options": options.model_dump(), "notes": notes,
              "files": [(str(Path(out_dir.name) / path), note) for path, note in files]}
    return result


# --- occupancy --------------------------------------------------------------------------------------------------


def _occupancy(data, windows, by_taxon, order, names, options, folder: Path, notes, files) -> dict:
    occ = histories.occasions(windows, options.occasion_days, min_effort_days=options.min_effort_days)
    if not occ.site_ids:
        notes.append("occupancy: no deployment has a known running time (deploymentStart/End or dated frames)")
        return {"rows": [], "occasions": 0, "sites": 0}
    folder.mkdir(parents=True, exist_ok=True)
    columns = ["site"] + [f"o{j + 1}" for j in range(len(occ.starts))]
    write_csv(folder / "effort.csv", columns, _matrix_rows(occ.site_ids, np.where(occ.active, occ.effort, np.nan)),
              spreadsheet=False)
    files.append(("occupancy/effort.csv", "days each camera ran per occasion (NA: not running)"))
    x, x_names, cov_rows = _covariates(data, occ.site_ids, options.covariates)
    write_csv(folder / "site_covariates.csv", ["site", "latitude", "longitude"] + list(options.covariates), cov_rows,
              spreadsheet=False)
    files.append(("occupancy/site_covariates.csv", "site covariates (unmarked siteCovs)"))
    rows = []
    for key in order:
        dets: dict[str, list[float]] = {}
        for e in by_taxon[key]:
            dets.setdefault(e.deployment_id, []).append(wall_seconds(e.start.local))
        y = occ.history(dets)
        if np.isnan(y).all():
            notes.append(f"occupancy of {names.get(key, key)}: no occasion was surveyed (--min-effort-days too high?)")
            continue
        slug = _slug(names.get(key, key))
        write_csv(folder / f"{slug}_detection_history.csv", columns, _matrix_rows(occ.site_ids, y), spreadsheet=False)
        fit = occupancy.fit(y, x if x_names else None, x_names, occ.effort if options.effort_scaled else None,
                            options.occasion_days if options.effort_scaled else None,
                            p_by_occasion=options.p_by_occasion)
        rows.append(_occupancy_row(names.get(key, key), fit))
        if fit.warnings:
            notes.append(f"occupancy of {names.get(key, key)}: " + "; ".join(fit.warnings))
    files.append(("occupancy/<taxon>_detection_history.csv", "detection histories (unmarked / camtrapR layout)"))
    columns_out = list(rows[0]) if rows else ["taxon"]
    write_csv(folder / "occupancy.csv", columns_out, rows)
    files.append(("occupancy/occupancy.csv", f"single-season occupancy (MacKenzie 2002), {options.occasion_days:g}-day "
                                             "occasions"))
    start = datetime(1970, 1, 1) + timedelta(seconds=float(occ.starts[0]))
    return {"rows": rows, "occasions": len(occ.starts), "sites": len(occ.site_ids),
            "occasion_days": options.occasion_days, "first_day": f"{start:%Y-%m-%d}", "covariates": x_names}


def _occupancy_row(name: str, fit) -> dict:
    row = {"taxon": name, "sites": fit.n_sites, "occasions": fit.n_occasions, "detections": fit.detections,
           "sites_detected": fit.sites_detected, "naive_occupancy": _r(fit.naive),
           "psi": _r(fit.psi.value), "psi_lower": _r(fit.psi.lower), "psi_upper": _r(fit.psi.upper),
           "p": _r(fit.p.value), "p_lower": _r(fit.p.lower), "p_upper": _r(fit.p.upper),
           "p_cumulative": _r(fit.cumulative_p), "log_likelihood": _r(fit.log_likelihood), "aic": _r(fit.aic),
           "converged": fit.converged}
    for e in fit.p_occasions:
        row[e.name] = _r(e.value)
        row[f"{e.name}_lower"], row[f"{e.name}_upper"] = _r(e.lower), _r(e.upper)
    for c in fit.coefficients[1:]:
        row[f"beta_{c.name}"] = _r(c.value)
        row[f"beta_{c.name}_se"] = _r(c.se_logit)
    row["warnings"] = "; ".join(fit.warnings)
    return row


def _covariates(data, sites: list[str], columns: list[str]) -> tuple[np.ndarray, list[str], list[dict]]:
    """Numeric deployments.csv columns as they are; text ones as 0/1 columns per level (the first level the
    reference). A site without a value stops with a message naming it."""
    rows = [{"site": s, "latitude": getattr(data.deployments.get(s), "latitude", None),
             "longitude": getattr(data.deployments.get(s), "longitude", None)} for s in sites]
    design, design_names = [], []
    for column in columns:
        values = []
        for s in sites:
            info = data.deployments.get(s)
            value = getattr(info, column, None) if info is not None and column in type(info).model_fields else None
            if value is None and info is not None:
                value = info.extra.get(column)
            if value is None or str(value).strip() == "":
                raise ConfigError(f"occupancy covariate {column!r} has no value for deployment {s}",
                                  f"fill the {column} column of deployments.csv for every deployment, or drop "
                                  f"--covariate {column}")
            values.append(str(value).strip())
        try:
            numbers = [float(v) for v in values]
            design.append(numbers)
            design_names.append(column)
            for row, v in zip(rows, numbers):
                row[column] = v
        except ValueError:
            levels = sorted(set(values))
            for level in levels[1:]:
                design.append([float(v == level) for v in values])
                design_names.append(f"{column}={level}")
            for row, v in zip(rows, values):
                row[column] = v
    x = np.array(design).T if design else np.zeros((len(sites), 0))
    return x, design_names, rows


def _matrix_rows(sites: list[str], values: np.ndarray) -> list[list]:
    return [[site] + ["NA" if math.isnan(v) else _num(v) for v in row] for site, row in zip(sites, values)]


# --- activity ---------------------------------------------------------------------------------------------------


def _activity(data, by_taxon, order, names, options, folder: Path, notes, files) -> dict:
    clock: dict[str, np.ndarray] = {}
    sun: dict[str, np.ndarray] = {}
    no_sun = set()
    cache: dict[tuple, tuple | None] = {}
    for key in order:
        evs = by_taxon[key]
        if len(evs) < options.min_activity_events:
            continue
        c, s = [], []
        for e in evs:
            t = e.start.local
            radians = (t.hour + t.minute / 60 + t.second / 3600) / 24 * 2 * np.pi
            c.append(radians)
            info, tz = data.deployments.get(e.deployment_id), data.timezones.get(e.deployment_id)
            if info is None or info.latitude is None or info.longitude is None or tz is None:
                no_sun.add(e.deployment_id)
                continue
            day_key = (round(info.latitude, 3), round(info.longitude, 3), t.date(), str(tz))
            if day_key not in cache:
                cache[day_key] = suntime.sunrise_sunset(info.latitude, info.longitude, t.date(), tz)
            if cache[day_key] is not None:
                s.append(float(suntime.sun_time(radians, *cache[day_key])))
        clock[key] = np.array(c)
        if len(s) >= options.min_activity_events:
            sun[key] = np.array(s)
    few = [names.get(k, k) for k in order if k not in clock]
    if few:
        notes.append(f"activity: fewer than {options.min_activity_events} events, no curve for "
                     + ", ".join(few[:8]) + (" …" if len(few) > 8 else ""))
    if no_sun:
        notes.append("activity: no sun time for deployment" + ("s " if len(no_sun) > 1 else " ")
                     + ", ".join(sorted(no_sun)[:8]) + " (needs latitude, longitude and timezone in deployments.csv)")
    if not clock:
        return {"curves": {}, "sun_curves": {}, "rows": [], "overlaps": []}
    folder.mkdir(parents=True, exist_ok=True)
    rows, curves, sun_curves = [], {}, {}
    for key, times in clock.items():
        curve = activity.density_curve(times)
        if curve is not None:
            curves[names.get(key, key)] = curve
        sun_curve = activity.density_curve(sun[key]) if key in sun else None
        if sun_curve is not None:
            sun_curves[names.get(key, key)] = sun_curve
        bw = activity.bandwidth(times)
        rows.append({"taxon": names.get(key, key), "events": len(times), "bandwidth": _r(bw),
                     "peak_hour": _r(float(curve[0][np.argmax(curve[1])])) if curve else None,
                     "sun_time_events": len(sun.get(key, ())),
                     "peak_sun_hour": _r(float(sun_curve[0][np.argmax(sun_curve[1])])) if sun_curve else None})
    write_csv(folder / "activity.csv", list(rows[0]), rows)
    files.append(("activity/activity.csv", "events, kernel bandwidth and peak hour per taxon (clock and sun time)"))
    overlaps = []
    top = [k for k in order if k in clock][: options.max_overlap_taxa]
    for i, (ka, kb) in enumerate(combinations(top, 2)):
        for scale, source in (("clock", clock), ("sun", sun)):
            if ka not in source or kb not in source:
                continue
            o = activity.overlap_with_ci(source[ka], source[kb], n_boot=options.n_boot, seed=options.seed + i,
                                         names=(names.get(ka, ka), names.get(kb, kb)))
            overlaps.append({"taxon_a": o.a, "taxon_b": o.b, "time": scale, "n_a": o.n_a, "n_b": o.n_b,
                             "estimator": o.estimator, "overlap": _r(o.value), "lower": _r(o.lower),
                             "upper": _r(o.upper), "bootstrap_mean": _r(o.boot_mean), "bootstrap": o.n_boot})
    if overlaps:
        write_csv(folder / "overlap.csv", list(overlaps[0]), overlaps)
        files.append(("activity/overlap.csv", "coefficient of overlapping (Delta-1 / Delta-4) with basic0 bootstrap "
                                              "intervals"))
    return {"curves": curves, "sun_curves": sun_curves, "rows": rows, "overlaps": overlaps}


# --- richness ---------------------------------------------------------------------------------------------------


def _richness(windows, by_taxon, order, options, folder: Path, notes, files) -> dict:
    if options.richness_unit == "site":
        units = [w.site_id for w in windows]
        found = {k: {e.deployment_id for e in by_taxon[k]} for k in order}
    else:
        units = [(w.site_id, day) for w in windows
                 for day in range(int(w.start // 86400), int(math.ceil(w.end / 86400)))]
        found = {k: {(e.deployment_id, int(wall_seconds(e.start.local) // 86400)) for e in by_taxon[k]}
                 for k in order}
    unit_set = set(units)
    incidence = [len(found[k] & unit_set) for k in order]
    m = len(units)
    if not m or not any(incidence):
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    steps = np.unique(np.linspace(1, m, min(m, 200)).round().astype(int))
    t, s = richness.rarefaction(incidence, m, steps)
    write_csv(folder / "accumulation.csv", [options.richness_unit + "s", "expected_taxa"],
              [[int(a), round(float(b), 4)] for a, b in zip(t, s)])
    c = richness.chao2(incidence, m)
    row = {"unit": options.richness_unit, "units": m, "observed": c.s_obs, "q1": c.q1, "q2": c.q2,
           "chao2": _r(c.estimate), "form": c.form, "variance": _r(c.variance), "lower": _r(c.lower),
           "upper": _r(c.upper)}
    write_csv(folder / "chao2.csv", list(row), [row])
    files.append(("richness/accumulation.csv", f"expected taxa per number of {options.richness_unit}s (rarefaction)"))
    files.append(("richness/chao2.csv", "Chao2 estimate of richness with its log-linear 95% interval"))
    if c.q1 and not c.q2:
        notes.append("richness: no taxon in exactly two units, Chao2 is the bias-corrected form")
    return {"curve": (t.tolist(), s.tolist()), "chao2": row}


def _r(value, digits: int = 4):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), digits)


def _num(value: float):
    return int(value) if float(value).is_integer() else round(float(value), 4)


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "taxon"


# --- the `wildeye ecology` use case -----------------------------------------------------------------------------


def ecology_report(run_dir: str | Path, out_dir: str | Path, *, rank: str = "species", event_gap_s: float = 1800.0,
                   options: EcologyOptions | None = None, project=None) -> dict:
    """Journal -> events of taxa at `rank` (human labels win) -> occupancy, activity, richness files in out_dir,
    plus summary.json. Coordinates written are as the report would publish them (reports.privacy)."""
    import json
    import time
    from dataclasses import replace

    from wildeye.atomic import write_json_atomic
    from wildeye.ecology.ranks import RankMapper, check_rank
    from wildeye.reports import effort as effort_mod, events as events_mod, frames as frames_mod
    from wildeye.reports.metadata import ProjectMetadata
    from wildeye.reports.privacy import apply_privacy
    from wildeye.reports.taxa import Names, package_taxonomy

    started = time.perf_counter()
    try:
        rank = check_rank(rank)
    except ValueError as exc:
        raise ConfigError(str(exc), "pass --rank species (the default), genus, family, order or class") from None
    options = options or EcologyOptions()
    out_dir = Path(out_dir)
    data = frames_mod.load(run_dir)
    project = project or ProjectMetadata()
    privacy = apply_privacy(data.frames, data.frames, data.deployments, project.privacy)
    published = replace(data, deployments=privacy.deployments)
    names = Names.from_frames(data.frames, project.scientific_names, package_taxonomy(data.models))
    taxon_of = RankMapper(rank, names.taxonomy_string)
    events = events_mod.independent_events(privacy.frames, event_gap_s, taxon_of)
    efforts = effort_mod.deployment_effort(published, data.frames, events)
    species = effort_mod.species_summary(events, efforts, privacy.frames, names, taxon_of)
    key_names = {r["key"]: r["species"] for r in species}
    out_dir.mkdir(parents=True, exist_ok=True)
    from wildeye.reports.health import check_health

    downtime = check_health(data).downtime()  # gaps and early stops: no effort there
    result = analyse(published, data.frames, events, efforts, key_names, options, out_dir, downtime)
    apart = [e for e in events if not e.identified]
    summary = {
        "rank": rank, "taxa": len(species), "events": sum(e.identified for e in events), "events_apart": len(apart),
        "sites": result["occupancy"].get("sites", 0), "occasions": result["occupancy"].get("occasions", 0),
        "occupancy": result["occupancy"].get("rows", []),
        "activity": result["activity"].get("rows", []), "overlap": result["activity"].get("overlaps", []),
        "richness": (result["richness"] or {}).get("chao2"),
        "notes": list(data.notes) + result["notes"],
        "files": [str(out_dir / Path(path).relative_to(out_dir.name)) for path, _ in result["files"]],
        "options": result["options"], "seconds": round(time.perf_counter() - started, 3),
    }
    write_json_atomic(out_dir / "summary.json", json.loads(json.dumps(summary, default=str)))
    summary["summary_file"] = str(out_dir / "summary.json")
    return summary
