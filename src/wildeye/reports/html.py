"""A self-contained HTML report: numbers, plots and a gallery, every image a data URI (works offline, mails well).

The page is a Jinja2 template (templates/report.html.j2) rendered with autoescape: labels, deployment IDs, paths
and notes are user text. Plots are drawn with matplotlib (Agg, imported only here), with maths parsing off for
the same reason: `$x^2$` must show as typed (and `$^$` must not stop the report). Gallery thumbnails come from the
real frames under the run's source folder, decoded at reduced size (JPEG draft mode) with the best box drawn on them.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from datetime import datetime
from pathlib import Path

from wildeye import __version__
from wildeye.ingest.video import VideoError, read_frame
from wildeye.names import media_path

THUMB = (480, 360)
PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]

TEMPLATE = "report.html.j2"  # under wildeye/reports/templates/


def render(report: dict, frames_root: Path | None, gallery: list[dict]) -> str:
    """report: the summary and tables build_report computed (`ecology_view`: reports.ecology_html.view, the
    occupancy, activity and richness sections); gallery: best frame per species with its boxes."""
    s = report["summary"]
    cards = [("frames", s["frames"]), ("processed", s["processed"]), ("animal frames", s["animal_frames"]),
             ("blank frames", s["blank_frames"]), ("events", s["events"]), ("verified events", s["verified_events"]),
             ("species", s["species"]), ("deployments", s["deployments"]), ("camera-days", f"{s['camera_days']:.1f}")]
    if s.get("pending"):
        cards.insert(2, ("pending", s["pending"]))
    with _plain_text():
        plots = [("Events per species", _species_plot(report["species"])),
                 ("Activity by hour (local time)", _diel_plot(report["diel"], report["names"])),
                 ("Events over time", _time_plot(report["event_days"])),
                 ("Effort per deployment", _effort_plot(report["effort"]))]
        map_png = _map_plot(report["effort"], set(report.get("generalised") or ()))
    if map_png:
        plots.append(("Deployments", map_png))
    sightings = report["sightings"]
    return _template().render(
        s=s, version=__version__, generated=f"{datetime.now():%Y-%m-%d %H:%M}", event_gap=f"{s['event_gap_min']:g}",
        cards=cards, plots=plots,
        species_header=["species", "scientific name", "events", "verified", "images", "max count", "deployments",
                        "RAI"],
        species_rows=[[r["species"], r["scientific_name"], r["events"], r["verified_events"], r["images"],
                       r["max_count"], r["deployments"], _num(r["rai"])] for r in report["species"]],
        gallery=[{**item, "thumb": _thumbnail(frames_root, item)} for item in gallery],
        effort_header=["deployment", "location", "camera-days", "from", "images", "blank", "events", "species",
                       "RAI (all)"],
        effort_rows=[[r["deployment_id"], r["location_name"] or "", _num(r["camera_days"]), r["effort_from"],
                      r["images"], r["blank_images"], r["events"], r["species"], _num(r["rai_all"])]
                     for r in report["effort"]],
        sightings_header=["start (local)", "deployment", "species", "frames", "count", "confidence", "verified"],
        sightings_rows=[[r["start_local"] or "", r["deployment_id"], r["species"], r["frames"], r["count"],
                         f"{r['confidence']:.2f}", "yes" if r["verified"] else ""] for r in sightings[:500]],
        sightings_total=len(sightings), files=report.get("files") or [], ecology=report.get("ecology_view"),
        health=_health(report.get("health")))


def _health(health: dict | None) -> dict | None:
    """The "Camera health" section: one row per finding (reports.health), the healthy cameras named."""
    if health is None:
        return None
    rows = [[f["deployment_id"], f["check"], f["severity"], f["summary"], ", ".join(f["examples"]), f["fix"]]
            for f in health["findings"]]
    return {"header": ["deployment", "check", "severity", "evidence", "example files", "suggested fix"], "rows": rows,
            "counts": health["counts"], "checked": len(health["deployments"]),
            "healthy": [d["deployment_id"] for d in health["deployments"] if d["healthy"]]}


def _template():
    """The report template; autoescape on, so user text (labels, deployment IDs, paths) is always escaped."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("wildeye.reports", "templates"), autoescape=True,
                      undefined=StrictUndefined, keep_trailing_newline=True)
    return env.get_template(TEMPLATE)


# --- plots ----------------------------------------------------------------------------------------------------


def _plain_text():
    """Within it, every text matplotlib draws is shown as typed: `$...$` is never parsed as maths."""
    import matplotlib

    return matplotlib.rc_context({"text.parse_math": False})


def _figure(width=5.4, height=3.2):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    return fig, ax


def _png(fig) -> str:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    for ax in fig.axes:  # counts are whole numbers
        if getattr(ax, "_wildeye_counts", None):
            getattr(ax, ax._wildeye_counts).set_major_locator(MaxNLocator(integer=True))

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _empty(ax, text="no events"):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#888")
    ax.set_xticks([])
    ax.set_yticks([])


def _species_plot(species: list[dict]) -> str:
    fig, ax = _figure()
    top = species[:15][::-1]
    if top:
        ax.barh([r["species"] for r in top], [r["events"] for r in top], color=PALETTE[0])
        ax.set_xlabel("independent events")
        ax._wildeye_counts = "xaxis"
    else:
        _empty(ax)
    return _png(fig)


def _diel_plot(diel: dict[str, list[int]], names: dict[str, str]) -> str:
    fig, ax = _figure()
    if diel:
        ranked = sorted(diel, key=lambda k: -sum(diel[k]))
        bottom = [0] * 24
        shown = ranked[:7]
        rest = [sum(diel[k][h] for k in ranked[7:]) for h in range(24)]
        series = [(names.get(k, k), diel[k]) for k in shown] + ([("other", rest)] if any(rest) else [])
        for i, (name, hours) in enumerate(series):
            ax.bar(range(24), hours, bottom=bottom, color=PALETTE[i % len(PALETTE)], label=name, width=0.85)
            bottom = [b + h for b, h in zip(bottom, hours)]
        ax.set_xticks(range(0, 24, 3))
        ax.set_xlabel("hour of day")
        ax.set_ylabel("events")
        ax._wildeye_counts = "yaxis"
        ax.legend(fontsize=7, loc="upper right")
    else:
        _empty(ax)
    return _png(fig)


def _time_plot(days: dict[str, int]) -> str:
    fig, ax = _figure()
    if days:
        from datetime import date

        dates = sorted(days)
        xs = [date.fromisoformat(d) for d in dates]
        ax.bar(xs, [days[d] for d in dates], color=PALETTE[2], width=1.0)
        ax.set_ylabel("events per day")
        ax._wildeye_counts = "yaxis"
        fig.autofmt_xdate()
    else:
        _empty(ax)
    return _png(fig)


def _effort_plot(effort: list[dict]) -> str:
    fig, ax = _figure()
    rows = effort[:25][::-1]
    if rows:
        ax.barh([r["deployment_id"] for r in rows], [r["camera_days"] for r in rows], color=PALETTE[1])
        for i, r in enumerate(rows):
            ax.text(r["camera_days"], i, f" {r['events']} ev", va="center", fontsize=7)
        ax.set_xlabel("camera-days")
    else:
        _empty(ax, "no deployments")
    return _png(fig)


def _map_plot(effort: list[dict], generalised: set[str] = frozenset()) -> str | None:
    """Deployments as published: a generalised site (sensitive species, reports.privacy) is drawn at its rounded
    position as an open square, labelled with its uncertainty."""
    points = [r for r in effort if r["latitude"] is not None and r["longitude"] is not None]
    if not points:
        return None
    fig, ax = _figure()
    for rounded in (False, True):
        group = [r for r in points if (r["deployment_id"] in generalised) == rounded]
        if group:
            ax.scatter([r["longitude"] for r in group], [r["latitude"] for r in group],
                       s=[30 + 20 * r["events"] for r in group], marker="s" if rounded else "o",
                       facecolors="none" if rounded else PALETTE[0], edgecolors=PALETTE[1] if rounded else "black",
                       alpha=0.8)
    for r in points:
        label = r["deployment_id"]
        if r["deployment_id"] in generalised and r.get("coordinate_uncertainty_m"):
            label += f" (±{float(r['coordinate_uncertainty_m']) / 1000:.0f} km)"
        ax.annotate(label, (r["longitude"], r["latitude"]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.margins(0.2)
    ax.set_aspect("equal", adjustable="datalim")
    return _png(fig)


# --- gallery --------------------------------------------------------------------------------------------------


def _thumbnail(root: Path | None, item: dict) -> str | None:
    if root is None:
        return None
    from PIL import Image, ImageDraw, ImageOps

    path = media_path(root, item["path"])
    try:
        with _still(path, item.get("video_frame")) as im:
            im.draft("RGB", (THUMB[0] * 2, THUMB[1] * 2))
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail(THUMB)
            if item.get("blur"):  # people in a frame kept for its animals (--exclude-humans)
                from wildeye.reports.privacy import blur_boxes

                blur_boxes(im, item["blur"])
            draw = ImageDraw.Draw(im)
            width = max(2, im.width // 160)
            for x, y, w, h in item["boxes"]:
                draw.rectangle([x * im.width, y * im.height, (x + w) * im.width, (y + h) * im.height],
                               outline=(255, 200, 0), width=width)
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=82)
    except (OSError, ValueError, SyntaxError, VideoError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _still(path: Path, video_frame: int | None):
    """The image a gallery item shows: the file itself, or a video's frame `video_frame` taken from the clip."""
    from PIL import Image

    if video_frame is None:
        return Image.open(path)
    return Image.fromarray(read_frame(path, video_frame))


# --- small helpers --------------------------------------------------------------------------------------------


def _num(value) -> str:
    return "" if value is None else f"{value:.2f}"


def event_days(events) -> dict[str, int]:
    counts: Counter = Counter()
    for e in events:
        if e.start.local is not None:
            counts[e.start.local.date().isoformat()] += 1
    return dict(counts)
