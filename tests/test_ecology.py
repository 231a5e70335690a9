"""Ecology (issue 15): taxa at a rank, detection histories, single-season occupancy, activity overlap, sun time,
richness; and the `wildeye ecology` command on a small journal. Statistics run on small simulated data with fixed
seeds and are checked against values computed by hand from the published formulas."""

from __future__ import annotations

import csv
import json
import math
from datetime import date, timezone
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, special, stats

from wildeye import labels
from wildeye.ecology import activity, histories, occupancy, ranks, richness, suntime

FOX = "a1;mammalia;carnivora;canidae;vulpes;vulpes;red fox"
LEOPARD = "b2;mammalia;carnivora;felidae;panthera;uncia;snow leopard"
TIGER = "b3;mammalia;carnivora;felidae;panthera;tigris;tiger"
CATS = "c3;mammalia;carnivora;felidae;;;cat family"
PANTHERA = "c4;mammalia;carnivora;felidae;panthera;;panthera species"


# --- item 5: species level only where it belongs --------------------------------------------------------------


@pytest.mark.parametrize("label", ["animal", "Animal", labels.SN_ANIMAL, "unknown", labels.SN_UNKNOWN, "no cv result"])
def test_animal_and_unknown_are_never_counted_at_any_rank(label):
    for rank in ranks.RANKS:
        taxon = ranks.at_rank(label, rank)
        assert not taxon.counted and taxon.status in (ranks.ANIMAL, ranks.UNKNOWN)


def test_labels_map_to_their_taxon_at_the_chosen_rank():
    assert ranks.at_rank(LEOPARD).counted and ranks.at_rank(LEOPARD).key == "snow leopard"
    assert ranks.at_rank(LEOPARD).scientific_name == "Panthera uncia"
    # rollups above the rank are apart, with their own rank
    cats = ranks.at_rank(CATS)
    assert cats.status == ranks.ABOVE_RANK and cats.rank == "family" and cats.scientific_name == "Felidae"
    assert ranks.at_rank(PANTHERA).status == ranks.ABOVE_RANK
    # at genus rank two Panthera species and the genus label are one taxon; the family rollup is still apart
    genus = {label: ranks.at_rank(label, "genus") for label in (LEOPARD, TIGER, PANTHERA, CATS, FOX)}
    assert genus[LEOPARD].key == genus[TIGER].key == genus[PANTHERA].key == "panthera"
    assert genus[LEOPARD].name == "Panthera" and genus[FOX].key == "vulpes"
    assert genus[CATS].status == ranks.ABOVE_RANK
    assert ranks.at_rank(CATS, "family").counted and ranks.at_rank(LEOPARD, "family").key == "felidae"
    # non-animals are not wildlife at all
    assert ranks.at_rank("blank").status == ranks.at_rank("human").status == ranks.NOT_ANIMAL
    # a plain name: on trust at species rank (said so), placed by its taxonomy string when there is one
    plain = ranks.at_rank("Snow leopard")
    assert plain.counted and not plain.taxonomy
    assert ranks.at_rank("Snow leopard", "genus").status == ranks.NO_TAXONOMY
    assert ranks.at_rank("Snow leopard", "genus", LEOPARD).key == "panthera"
    assert ranks.at_rank("Big cat", "species", CATS).status == ranks.ABOVE_RANK
    with pytest.raises(ValueError, match="unknown rank"):
        ranks.check_rank("subspecies")


# --- item 2: detection histories and occupancy ----------------------------------------------------------------

DAY = histories.DAY_S


def test_detection_history_has_effort_and_na_where_the_camera_was_not_running():
    """Occasions of 2 days from the first midnight. Site A runs day 0.5 to day 6 with a gap on days 2-4 (knocked
    over); site B starts on day 4. Hand-computed effort (days) and history."""
    windows = [histories.SiteWindow("A", 0.5 * DAY, 6 * DAY, gaps=((2 * DAY, 4 * DAY),)),
               histories.SiteWindow("B", 4 * DAY, 7.5 * DAY)]
    occ = histories.occasions(windows, occasion_days=2)
    assert occ.site_ids == ["A", "B"] and list(occ.starts) == [0, 2 * DAY, 4 * DAY, 6 * DAY]
    assert occ.effort.tolist() == [[1.5, 0, 2, 0], [0, 0, 2, 1.5]]
    y = occ.history({"A": [1.0 * DAY, 5.9 * DAY, 3 * DAY], "B": [7 * DAY]})  # day 3 at A: in the gap, dropped
    assert np.array_equal(y, [[1, np.nan, 1, np.nan], [np.nan, np.nan, 0, 1]], equal_nan=True)
    assert histories.naive_occupancy(y) == 1.0
    assert histories.naive_occupancy(np.array([[0, np.nan], [1, 0], [np.nan, np.nan]])) == 0.5
    short = histories.occasions(windows, occasion_days=2, min_effort_days=1.5)  # barely covered occasions: NA
    assert np.isnan(short.history({})[0, 0]) and short.history({})[0, 2] == 0


def test_mackenzie_likelihood_by_hand():
    """MacKenzie et al. (2002) eq. 3-4 for psi = 0.6, p = 0.3: history 10 -> psi p (1-p) = 0.126;
    00 -> psi (1-p)^2 + (1 - psi) = 0.694; 1NA -> psi p = 0.18 (the NA occasion drops out)."""
    y = np.array([[1, 0], [0, 0], [1, np.nan]])
    theta = np.array([special.logit(0.6), special.logit(0.3)])
    nll = occupancy.neg_log_likelihood(theta, y, np.ones((3, 1)))
    assert nll == pytest.approx(-(math.log(0.126) + math.log(0.694) + math.log(0.18)), rel=1e-12)
    # effort-scaled: an occasion run for half its length detects with 1 - (1 - p)^0.5
    half = np.array([[1.0, 0.5], [1.0, 1.0], [0.5, 0.0]])
    q = math.sqrt(0.7)
    expected = math.log(0.6 * 0.3 * q) + math.log(0.6 * 0.49 + 0.4) + math.log(0.6 * (1 - q))
    assert occupancy.neg_log_likelihood(theta, y, np.ones((3, 1)), half) == pytest.approx(-expected, rel=1e-12)


def simulate(rng, n_sites, k, psi, p, missing=0.1):
    z = rng.random(n_sites) < psi
    y = ((rng.random((n_sites, k)) < p) & z[:, None]).astype(float)
    y[rng.random((n_sites, k)) < missing] = np.nan
    return y


def test_occupancy_ci_covers_the_simulated_truth():
    """psi = 0.6, p = 0.3 over 300 sites x 6 occasions (10% NA), fixed seed: the Wald intervals cover the truth,
    and naive occupancy underestimates psi as it must."""
    y = simulate(np.random.default_rng(7), 300, 6, 0.6, 0.3)
    fit = occupancy.fit(y)
    assert fit.converged and not fit.warnings
    assert fit.psi.lower < 0.6 < fit.psi.upper and fit.p.lower < 0.3 < fit.p.upper
    assert fit.naive < fit.psi.value
    assert fit.cumulative_p == pytest.approx(1 - (1 - fit.p.value) ** 6)
    assert fit.aic == pytest.approx(4 - 2 * fit.log_likelihood)


def test_occupancy_with_a_site_covariate_recovers_its_slope():
    """logit psi = 0.3 + 1.2 x (x standard normal): the slope's interval covers 1.2; the covariate is standardised
    (x already has mean ~0, sd ~1)."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal(400)
    psi = special.expit(0.3 + 1.2 * x)
    z = rng.random(400) < psi
    y = ((rng.random((400, 5)) < 0.4) & z[:, None]).astype(float)
    fit = occupancy.fit(y, x[:, None], ["elevation"])
    slope = fit.coefficients[1]
    assert slope.name == "elevation"
    lo, hi = slope.value - 1.96 * slope.se_logit, slope.value + 1.96 * slope.se_logit
    sd = x.std()
    assert lo < 1.2 * sd < hi  # per standard deviation of x
    assert fit.site_psi[int(np.argmax(x))] > fit.site_psi[int(np.argmin(x))]


def test_sparse_or_boundary_data_are_flagged():
    y = np.zeros((20, 4))
    y[0, 1] = y[3, 2] = 1
    fit = occupancy.fit(y)
    assert any("sparse data" in w for w in fit.warnings)
    everywhere = occupancy.fit(np.ones((30, 4)))  # detected every time: psi and p at 1
    assert any("boundary" in w for w in everywhere.warnings)


# --- item 3: activity ---------------------------------------------------------------------------------------------


def test_von_mises_kernel_density_integrates_to_one():
    x = activity.to_radians([1.0, 2.5, 23.5, 12.0])
    for bw in (0.5, 5.0, 50.0, 700.0):
        total, _ = integrate.quad(lambda t: activity.density(x, [t], bw)[0], 0, 2 * np.pi, limit=400)
        assert total == pytest.approx(1.0, abs=1e-6)
    # one observation: the density is scipy's von Mises centred on it
    assert activity.density([1.0], [0.3], 4.0)[0] == pytest.approx(stats.vonmises.pdf(0.3, 4.0, loc=1.0))


def test_bandwidth_follows_taylors_rule_on_the_largest_moment_concentration():
    """overlap::getBandWidth written out: kappa solves I_1(kappa)/I_0(kappa) = R1 (here the largest of k = 1..3),
    bw = (3 n kappa^2 I_2(2 kappa) / (4 sqrt(pi) I_0(kappa)^2))^(2/5). (During development wildeye's estimator
    reproduced overlap 0.3.9's own test values on its simulatedData: getBandWidth 29.90645 / 10.42065,
    overlapEst Dhat1 0.290862, Dhat4 0.269201; that GPL data set is not shipped here.)"""
    rng = np.random.default_rng(3)
    x = np.mod(rng.vonmises(1.0, 2.0, 60), 2 * np.pi)
    mean = np.arctan2(np.sin(x).sum(), np.cos(x).sum())
    r = [abs(np.exp(1j * k * (x - mean)).mean()) for k in (1, 2, 3)]
    from scipy.optimize import brentq

    kappas = [brentq(lambda kap: special.iv(k, kap) / special.iv(0, kap) - r[k - 1], 1e-4, 345) for k in (1, 2, 3)]
    kappa = max(kappas)
    expected = (3 * 60 * kappa ** 2 * special.iv(2, 2 * kappa) / (4 * math.sqrt(math.pi) * special.iv(0, kappa) ** 2)
                ) ** 0.4
    assert activity.bandwidth(x) == pytest.approx(expected, rel=1e-8)
    assert activity.bandwidth([2.0, 2.0, 2.0]) is None  # no spread: no root, as overlap's uniroot errors


def test_overlap_limits_and_the_true_overlap_of_two_von_mises_curves():
    rng = np.random.default_rng(5)
    a = np.mod(rng.vonmises(np.pi / 2, 3.0, 150), 2 * np.pi)
    assert activity.overlap(a, a, "dhat4") == 1.0  # min(1, f/f) everywhere
    assert activity.overlap(a, a, "dhat1") == pytest.approx(1.0, abs=1e-12)
    night = np.mod(rng.vonmises(3 * np.pi / 2, 30.0, 40), 2 * np.pi)
    day = np.mod(rng.vonmises(np.pi / 2, 30.0, 40), 2 * np.pi)
    assert activity.overlap(day, night) < 0.05
    # large samples from vM(pi/2, 2) and vM(pi, 2): the estimate is near the true overlap (integral of min(f, g))
    b = np.mod(rng.vonmises(np.pi, 2.0, 400), 2 * np.pi)
    a = np.mod(rng.vonmises(np.pi / 2, 2.0, 400), 2 * np.pi)
    true, _ = integrate.quad(lambda t: min(stats.vonmises.pdf(t, 2.0, loc=np.pi / 2),
                                           stats.vonmises.pdf(t, 2.0, loc=np.pi)), 0, 2 * np.pi, limit=200)
    assert activity.overlap(a, b) == pytest.approx(true, abs=0.05)


def test_estimator_choice_and_the_basic0_interval():
    """overlap's vignette: Delta-4 when the smaller sample has more than 75 observations, else Delta-1; basic0 =
    percentile interval minus the bootstrap bias (mean of the bootstraps minus the estimate)."""
    assert activity.estimator_for(76, 200) == "dhat4" and activity.estimator_for(75, 200) == "dhat1"
    rng = np.random.default_rng(9)
    a = np.mod(rng.vonmises(1.0, 1.5, 30), 2 * np.pi)
    b = np.mod(rng.vonmises(2.5, 1.5, 40), 2 * np.pi)
    o = activity.overlap_with_ci(a, b, n_boot=60, seed=1)
    assert o.estimator == "dhat1" and o.n_boot == 60 and 0 <= o.lower < o.value < o.upper <= 1
    boot_rng = np.random.default_rng(1)
    ra = activity.smoothed_resamples(a, 30, 60, boot_rng)
    rb = activity.smoothed_resamples(b, 40, 60, boot_rng)
    boots = [activity.overlap(x, y, "dhat1") for x, y in zip(ra, rb)]
    lo, hi = activity.interpolated_quantiles(boots)
    bias = np.mean(boots) - o.value
    assert (o.lower, o.upper) == pytest.approx((max(0, lo - bias), min(1, hi - bias)))
    # norm.inter on 1..999 (R = 999, (R+1)*0.025 = 25): the 25th and 975th values
    assert activity.interpolated_quantiles(np.arange(1, 1000)) == pytest.approx((25.0, 975.0))


def test_sun_time_maps_sunrise_and_sunset_to_six_and_eighteen():
    """Nouvellet et al. (2012) / overlap::sunTime: sunrise -> pi/2, sunset -> 3 pi/2, linear in between; at the
    equator on the March equinox astral's sunrise and sunset are about 06:04 and 18:10 UTC."""
    rise, fall = suntime.sunrise_sunset(0.0, 0.0, date(2024, 3, 20), timezone.utc)
    assert rise / (2 * np.pi) * 24 == pytest.approx(6.07, abs=0.15)
    assert fall / (2 * np.pi) * 24 == pytest.approx(18.17, abs=0.15)
    r, s = 5 / 24 * 2 * np.pi, 20 / 24 * 2 * np.pi  # a 15-hour day
    mapped = suntime.sun_time([r, s, (r + s) / 2, 0.0, 2 * np.pi - 1e-9 - 0.0], r, s)
    assert mapped[:3] == pytest.approx([np.pi / 2, 3 * np.pi / 2, np.pi])
    # midnight is 4 of the night's 9 hours after sunset: 3 pi / 2 + 4/9 pi
    assert mapped[3] == pytest.approx(3 * np.pi / 2 + 4 / 9 * np.pi)
    assert suntime.sunrise_sunset(78.2, 15.6, date(2024, 6, 21), timezone.utc) is None  # Svalbard: midnight sun


# --- item 4: richness --------------------------------------------------------------------------------------------


def test_chao2_by_hand():
    """Chao (1987) with EstimateS's (m-1)/m factor (Colwell, EstimateS user guide, appendix B). Incidences
    1,1,1,2,2,3,5 in m = 10 units: S_obs 7, Q1 3, Q2 2, A = 0.9; Chao2 = 7 + 0.9 * 9 / 4 = 9.025;
    var = Q2 (A/2 (Q1/Q2)^2 + A^2 (Q1/Q2)^3 + A^2/4 (Q1/Q2)^4) = 2 (1.0125 + 2.73375 + 1.02515625) = 9.5428125."""
    c = richness.chao2([1, 1, 1, 2, 2, 3, 5, 0], 10)
    assert (c.s_obs, c.q1, c.q2, c.form) == (7, 3, 2, "classic")
    assert c.estimate == pytest.approx(9.025) and c.variance == pytest.approx(9.5428125)
    t = 2.025
    k = math.exp(1.959963984540054 * math.sqrt(math.log(1 + 9.5428125 / t ** 2)))
    assert (c.lower, c.upper) == pytest.approx((7 + t / k, 7 + t * k))
    assert c.lower > c.s_obs
    # Q2 = 0: bias-corrected 4 + 0.8 * 3 * 2 / 2 = 6.4; var = 2.4 + 0.64 * 3 * 25 / 4 - 0.64 * 81 / (4 * 6.4) = 12.375
    b = richness.chao2([1, 1, 1, 3], 5)
    assert b.form == "bias-corrected" and b.estimate == pytest.approx(6.4) and b.variance == pytest.approx(12.375)
    # nothing unseen: the interval is the observed number
    none = richness.chao2([3, 4], 5)
    assert none.estimate == 2 and (none.lower, none.upper) == (2, 2)


def test_rarefaction_is_the_average_over_every_order_of_units():
    """Exact sample-based rarefaction equals the mean accumulation curve over all orderings of the units."""
    from itertools import permutations

    units = [{"a"}, {"a", "b"}, set(), {"c"}, {"a", "d"}]
    taxa = sorted(set().union(*units))
    incidence = [sum(t in u for u in units) for t in taxa]
    t, expected = richness.rarefaction(incidence, len(units))
    curves = []
    for order in permutations(units):
        seen, curve = set(), []
        for u in order:
            seen |= u
            curve.append(len(seen))
        curves.append(curve)
    assert list(t) == [1, 2, 3, 4, 5]
    assert expected == pytest.approx(np.mean(curves, axis=0))
    assert richness.rarefaction([1, 2], 2)[1] == pytest.approx([1.5, 2.0])  # by hand


# --- the command on a journal ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """Three cameras over three weeks (C starts on day 8): red foxes at night, snow leopards near dawn, plus one
    'animal', one cat-family rollup and one Panthera-genus label, which must never count as species."""
    from test_reports import box, make_run

    root = tmp_path_factory.mktemp("survey")
    deps = [{"deployment_id": d, "latitude": 28.1 + i / 10, "longitude": 84.2, "timezone": "+05:45",
             "deployment_start": start, "deployment_end": "2024-05-22T00:00:00", "extra": {"habitat": hab}}
            for i, (d, start, hab) in enumerate([("A", "2024-05-01T00:00:00", "scree"),
                                                  ("B", "2024-05-01T00:00:00", "meadow"),
                                                  ("C", "2024-05-08T00:00:00", "scree")])]
    frames, i = [], 0
    for day in range(1, 21):
        for dep, label, hour in (("A", FOX, 22), ("B", FOX, 1), ("A", LEOPARD, 5), ("C", LEOPARD, 6)):
            if dep == "C" and day < 9 or (label == LEOPARD and day % 2):
                continue
            frames.append((f"{dep}/{i:04d}.JPG", dep, f"2024-05-{day:02d}T{hour:02d}:{(7 * day) % 60:02d}:00+05:45",
                           [box(label)]))
            i += 1
    for dep, label in (("B", "animal"), ("B", CATS), ("C", PANTHERA)):
        frames.append((f"{dep}/{i:04d}.JPG", dep, "2024-05-15T12:00:00+05:45", [box(label)]))
        i += 1
    return make_run(root, deps, frames)


def run_cli(args, capsys):
    from wildeye.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(args)
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_ecology_command_writes_histories_occupancy_activity_and_richness(survey, tmp_path, capsys):
    out = tmp_path / "eco"
    code, stdout, _ = run_cli(["ecology", str(survey / "journal.sqlite"), "--out", str(out), "--bootstrap", "20",
                               "--covariate", "habitat", "--json"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    assert summary["rank"] == "species" and summary["events_apart"] == 3
    assert {r["taxon"] for r in summary["occupancy"]} == {"red fox", "snow leopard"}
    # unmarked / camtrapR layout: a row per site, o1..oK, NA where the camera did not run (C before day 8)
    history = read_rows(out / "occupancy" / "snow_leopard_detection_history.csv")
    assert list(history[0]) == ["site", "o1", "o2", "o3"]
    assert [(r["site"], r["o1"], r["o2"], r["o3"]) for r in history] == [
        ("A", "1", "1", "1"), ("B", "0", "0", "0"), ("C", "NA", "1", "1")]
    effort = {r["site"]: r for r in read_rows(out / "occupancy" / "effort.csv")}
    assert effort["A"]["o1"] == "7" and effort["C"]["o1"] == "NA" and effort["C"]["o2"] == "7"
    covariates = {r["site"]: r["habitat"] for r in read_rows(out / "occupancy" / "site_covariates.csv")}
    assert covariates == {"A": "scree", "B": "meadow", "C": "scree"}
    occ = {r["taxon"]: r for r in read_rows(out / "occupancy" / "occupancy.csv")}
    assert float(occ["snow leopard"]["naive_occupancy"]) == pytest.approx(2 / 3, abs=1e-4)
    assert "sparse data" in occ["snow leopard"]["warnings"]  # three sites are too few to trust
    assert "beta_habitat=scree" in occ["snow leopard"]
    pairs = {(r["taxon_a"], r["taxon_b"], r["time"]): r for r in read_rows(out / "activity" / "overlap.csv")}
    assert set(pairs) == {("red fox", "snow leopard", "clock"), ("red fox", "snow leopard", "sun")}
    assert float(pairs[("red fox", "snow leopard", "clock")]["overlap"]) < 0.5
    assert pairs[("red fox", "snow leopard", "clock")]["estimator"] == "dhat1"
    chao = read_rows(out / "richness" / "chao2.csv")[0]
    assert chao["observed"] == "2" and chao["unit"] == "camera-day"
    assert (out / "richness" / "accumulation.csv").exists() and (out / "summary.json").exists()

    # at genus rank the Panthera label joins the snow leopards; the family rollup and 'animal' stay apart
    code, stdout, _ = run_cli(["ecology", str(survey), "--out", str(tmp_path / "genus"), "--rank", "genus",
                               "--bootstrap", "0", "--p-by-occasion", "--json"], capsys)
    genus = json.loads(stdout)
    assert {r["taxon"] for r in genus["occupancy"]} == {"Panthera", "Vulpes"} and genus["events_apart"] == 2
    panthera = {r["taxon"]: r for r in genus["occupancy"]}["Panthera"]
    assert {"p1", "p2", "p3", "p3_upper"} <= set(panthera)  # p(t): one detection probability per occasion
    assert panthera["detections"] == {r["taxon"]: r for r in summary["occupancy"]}["snow leopard"]["detections"]

    code, _, err = run_cli(["ecology", str(survey), "--out", str(tmp_path / "bad"), "--covariate", "elevation"],
                           capsys)
    assert code == 2 and "elevation" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_report_counts_species_only_and_shows_ecology_sections(survey, tmp_path):
    from wildeye.reports.build import build_report

    summary = build_report(survey, tmp_path / "rep", gallery=False, ecology={"n_boot": 0})
    assert set(summary["species_events"]) == {"red fox", "snow leopard"}
    assert summary["unidentified_events"] == 1 and summary["apart_events"] == 2
    rai = {r["species"] for r in read_rows(tmp_path / "rep" / "rai.csv")}
    assert rai == {"red fox", "snow leopard"}
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "<h2>Occupancy</h2>" in html and "Activity (sun time" in html and "Chao2" in html
    assert (tmp_path / "rep" / "ecology" / "occupancy" / "red_fox_detection_history.csv").exists()
    chromium_dom = _render_in_chromium(tmp_path / "rep" / "report.html", tmp_path)
    if chromium_dom is not None:  # the sections' plots decode in a real browser
        assert 'data-broken-images="0"' in chromium_dom
        assert chromium_dom.count('class="plot ecology"') == 3  # clock and sun-time activity, accumulation
    genus = build_report(survey, tmp_path / "genus", gallery=False, rank="genus", ecology={"enabled": False})
    assert set(genus["species_events"]) == {"Panthera", "Vulpes"} and genus["apart_events"] == 1
    assert not (tmp_path / "genus" / "ecology").exists()
    # Camtrap DP keeps the events of what was identified: every animal observation row belongs to an event
    observations = read_rows(tmp_path / "genus" / "camtrap-dp" / "observations.csv")
    events = [r for r in observations if r["observationLevel"] == "event"]
    assert {r["scientificName"] for r in events} >= {"Panthera uncia", "Vulpes vulpes", "Panthera"}
    animals = [r for r in observations if r["observationLevel"] == "media" and r["observationType"] == "animal"]
    assert animals and all(r["eventID"] for r in animals)


def test_occupancy_with_one_detection_probability_per_occasion():
    """p(t) (MacKenzie et al. 2002's general model): by hand, history 10 with p1 = 0.2, p2 = 0.5 and psi = 0.6 is
    0.6 * 0.2 * 0.5 = 0.06; simulated p = (0.2, 0.5, 0.8) over 400 sites: every interval covers its truth."""
    theta = special.logit(np.array([0.6, 0.2, 0.5]))
    assert occupancy.neg_log_likelihood(theta, np.array([[1.0, 0.0]]), np.ones((1, 1))) == pytest.approx(
        -math.log(0.06))
    rng = np.random.default_rng(2)
    z = rng.random(400) < 0.7
    y = ((rng.random((400, 3)) < np.array([0.2, 0.5, 0.8])) & z[:, None]).astype(float)
    fit = occupancy.fit(y, p_by_occasion=True)
    assert [e.name for e in fit.p_occasions] == ["p1", "p2", "p3"] and not fit.warnings
    for e, truth in zip(fit.p_occasions, (0.2, 0.5, 0.8)):
        assert e.lower < truth < e.upper
    assert fit.psi.lower < 0.7 < fit.psi.upper
    assert fit.cumulative_p == pytest.approx(1 - np.prod([1 - e.value for e in fit.p_occasions]))
    assert fit.aic == pytest.approx(8 - 2 * fit.log_likelihood)


def _render_in_chromium(page, tmp_path) -> str | None:
    """The page's DOM after load in headless Chromium (as tests/test_reports.py does); None without Chromium."""
    import shutil
    import subprocess

    browser = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if browser is None:
        return None
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000", "--dump-dom", page.as_uri()]
    return subprocess.run([browser, *flags], capture_output=True, text=True, timeout=90).stdout
