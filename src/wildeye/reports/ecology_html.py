"""The HTML report's occupancy, activity and richness sections: tables and matplotlib plots (data URIs) from what
reports.ecology.analyse returned. Rendered by templates/ecology.html.j2, included in the report page."""

from __future__ import annotations

from wildeye.reports.html import PALETTE, _empty, _figure, _plain_text, _png


def view(ecology: dict | None) -> dict | None:
    """What the template shows; None when the report has no ecology sections."""
    if not ecology:
        return None
    occ, act, rich = ecology.get("occupancy") or {}, ecology.get("activity") or {}, ecology.get("richness") or {}
    with _plain_text():
        plots = []
        if act.get("curves"):
            plots.append(("Activity (clock time, kernel density)", _curves_plot(act["curves"], "hour of day")))
        if act.get("sun_curves"):
            plots.append(("Activity (sun time: sunrise 06:00, sunset 18:00)",
                          _curves_plot(act["sun_curves"], "sun time (h)")))
        if rich.get("curve"):
            plots.append(("Taxon accumulation", _accumulation_plot(rich["curve"], rich["chao2"])))
    rows = occ.get("rows") or []
    return {
        "occasion_text": (f"{occ.get('sites', 0)} sites × {occ.get('occasions', 0)} occasions of "
                          f"{occ.get('occasion_days', 0):g} days from {occ.get('first_day', '')}"
                          + (f"; psi covariates: {', '.join(occ['covariates'])}" if occ.get("covariates") else "")),
        "occupancy_header": ["taxon", "detections", "sites detected", "naive", "ψ (95% CI)", "p per occasion (95% CI)",
                             "warnings"],
        "occupancy_rows": [[r["taxon"], r["detections"], f"{r['sites_detected']}/{r['sites']}",
                            _f(r["naive_occupancy"]), _ci(r["psi"], r["psi_lower"], r["psi_upper"]),
                            _ci(r["p"], r["p_lower"], r["p_upper"]), r["warnings"]] for r in rows],
        "overlap_header": ["taxa", "time", "events", "estimator", "overlap Δ (95% CI, basic0)"],
        "overlap_rows": [[f"{o['taxon_a']} × {o['taxon_b']}", o["time"], f"{o['n_a']} / {o['n_b']}",
                          {"dhat1": "Δ1", "dhat4": "Δ4"}[o["estimator"]], _ci(o["overlap"], o["lower"], o["upper"])]
                         for o in act.get("overlaps") or []],
        "chao2": rich.get("chao2"),
        "plots": plots,
    }


def _f(value) -> str:
    return "" if value is None else f"{value:.2f}"


def _ci(value, lower, upper) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" + (f" ({lower:.2f}–{upper:.2f})" if lower is not None and upper is not None else "")


def _curves_plot(curves: dict, xlabel: str) -> str:
    fig, ax = _figure()
    for i, (name, (hours, dens)) in enumerate(list(curves.items())[:8]):
        ax.plot(hours, dens, color=PALETTE[i % len(PALETTE)], label=name, lw=1.6)
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 3))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density (per hour)")
    ax.legend(fontsize=7, loc="upper right")
    return _png(fig)


def _accumulation_plot(curve, chao2: dict) -> str:
    fig, ax = _figure()
    units, taxa = curve
    if units:
        ax.plot(units, taxa, color=PALETTE[0], lw=1.8, label="expected taxa (rarefaction)")
        ax.axhline(chao2["chao2"], color=PALETTE[1], ls="--", lw=1.2, label=f"Chao2 {chao2['chao2']:.1f}")
        if chao2.get("lower") is not None and chao2.get("upper") is not None:
            ax.axhspan(chao2["lower"], chao2["upper"], color=PALETTE[1], alpha=0.12)
        ax.set_xlabel(chao2["unit"] + "s")
        ax.set_ylabel("taxa")
        ax.legend(fontsize=7, loc="lower right")
    else:
        _empty(ax)
    return _png(fig)
