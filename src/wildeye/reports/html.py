"""A self-contained HTML report: numbers, plots and a gallery, every image a data URI (works offline, mails well).

Plots are drawn with matplotlib (Agg, imported only here), with maths parsing off: deployment IDs and labels are
user text, and `$x^2$` must show as typed (and `$^$` must not stop the report). Gallery thumbnails come from the
real frames under the run's source folder, decoded at reduced size (JPEG draft mode) with the best box drawn on them.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from datetime import datetime
from pathlib import Path

from wildeye import __version__
from wildeye.names import media_path

THUMB = (480, 360)
PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]

# Marks every image that did not decode (naturalWidth 0) so a headless browser's DOM dump shows it.
CHECK_SCRIPT = """<script>
window.addEventListener('load', function () {
  var images = document.images, broken = 0;
  for (var i = 0; i < images.length; i++) {
    var ok = images[i].complete && images[i].naturalWidth > 0;
    images[i].setAttribute('data-loaded', ok ? 'yes' : 'broken');
    if (!ok) broken++;
  }
  document.body.setAttribute('data-images', images.length);
  document.body.setAttribute('data-broken-images', broken);
});
</script>"""

CSS = """body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222;padding:0 1em}
h1{margin-bottom:.2em}.sub{color:#666;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:.6em}.card{background:#f3f5f4;border-radius:6px;padding:.6em 1em;min-width:7em}
.card b{display:block;font-size:1.5em}.plots{display:grid;grid-template-columns:1fr 1fr;gap:1em}
.plots figure,.gallery figure{margin:0}.plots img{width:100%;border:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}td,th{border-bottom:1px solid #ddd;padding:.25em .6em;
text-align:left}td.n{text-align:right}.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));
gap:1em}.gallery img{width:100%;border-radius:4px}figcaption{font-size:.85em;color:#444}.missing{background:#eee;
padding:3em 1em;text-align:center;color:#888}.notes{color:#a60}"""


def render(report: dict, frames_root: Path | None, gallery: list[dict]) -> str:
    """report: the summary and tables build_report computed; gallery: best frame per species with its boxes."""
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
        map_png = _map_plot(report["effort"])
    if map_png:
        plots.append(("Deployments", map_png))
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>wildeye report: {_e(s['title'])}</title><style>{CSS}</style></head><body>",
        f"<h1>Sightings: {_e(s['title'])}</h1>",
        f"<p class='sub'>{_e(s['period'])} · generated {datetime.now():%Y-%m-%d %H:%M} by wildeye {__version__}"
        f" · independent events: ≥ {s['event_gap_min']:g} min apart · human corrections applied</p>",
        "<div class='cards'>" + "".join(f"<div class='card'><b>{_e(v)}</b>{_e(k)}</div>" for k, v in cards) + "</div>",
    ]
    if s.get("filters_text"):
        parts.append(f"<p class='sub'>Filters: {_e(s['filters_text'])}</p>")
    if s.get("notes"):
        parts.append("<ul class='notes'>" + "".join(f"<li>{_e(n)}</li>" for n in s["notes"]) + "</ul>")
    parts.append("<h2>Plots</h2><div class='plots'>")
    for title, png in plots:
        parts.append(f"<figure class='plot'><img alt='{_e(title)}' src='{png}'><figcaption>{_e(title)}</figcaption>"
                     "</figure>")
    parts.append("</div>")
    parts.append("<h2>Species</h2>" + _table(
        ["species", "scientific name", "events", "verified", "images", "max count", "deployments", "RAI"],
        [[r["species"], r["scientific_name"], r["events"], r["verified_events"], r["images"], r["max_count"],
          r["deployments"], _num(r["rai"])] for r in report["species"]]))
    parts.append("<h2>Best frame per species</h2><div class='gallery'>")
    for item in gallery:
        caption = (f"{_e(item['species'])} · {_e(item['deployment_id'])} · {_e(item['time'])} · "
                   f"conf {item['confidence']:.2f}{' · verified' if item['verified'] else ''}")
        thumb = _thumbnail(frames_root, item)
        body = f"<img alt='{_e(item['species'])}' src='{thumb}'>" if thumb else \
            f"<div class='missing'>image not found:<br>{_e(item['path'])}</div>"
        parts.append(f"<figure class='best'>{body}<figcaption>{caption}</figcaption></figure>")
    parts.append("</div>")
    parts.append("<h2>Effort per deployment</h2>" + _table(
        ["deployment", "location", "camera-days", "from", "images", "blank", "events", "species", "RAI (all)"],
        [[r["deployment_id"], r["location_name"] or "", _num(r["camera_days"]), r["effort_from"], r["images"],
          r["blank_images"], r["events"], r["species"], _num(r["rai_all"])] for r in report["effort"]]))
    rows = report["sightings"]
    parts.append(f"<h2>Sightings</h2><p class='sub'>{len(rows)} independent events"
                 + (" (first 500 shown; all in sightings.csv)" if len(rows) > 500 else "") + "</p>")
    parts.append(_table(["start (local)", "deployment", "species", "frames", "count", "confidence", "verified"],
                        [[r["start_local"] or "", r["deployment_id"], r["species"], r["frames"], r["count"],
                          f"{r['confidence']:.2f}", "yes" if r["verified"] else ""] for r in rows[:500]]))
    parts.append(CHECK_SCRIPT + "</body></html>")
    return "\n".join(parts)


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


def _map_plot(effort: list[dict]) -> str | None:
    points = [r for r in effort if r["latitude"] is not None and r["longitude"] is not None]
    if not points:
        return None
    fig, ax = _figure()
    sizes = [30 + 20 * r["events"] for r in points]
    ax.scatter([r["longitude"] for r in points], [r["latitude"] for r in points], s=sizes, color=PALETTE[0],
               alpha=0.7, edgecolors="black")
    for r in points:
        ax.annotate(r["deployment_id"], (r["longitude"], r["latitude"]), fontsize=7, xytext=(4, 4),
                    textcoords="offset points")
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
        with Image.open(path) as im:
            im.draft("RGB", (THUMB[0] * 2, THUMB[1] * 2))
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail(THUMB)
            draw = ImageDraw.Draw(im)
            width = max(2, im.width // 160)
            for x, y, w, h in item["boxes"]:
                draw.rectangle([x * im.width, y * im.height, (x + w) * im.width, (y + h) * im.height],
                               outline=(255, 200, 0), width=width)
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=82)
    except (OSError, ValueError, SyntaxError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# --- small helpers --------------------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(
        f"<td class='n'>{_e(v)}</td>" if isinstance(v, (int, float)) else f"<td>{_e(v)}</td>" for v in row)
        + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _num(value) -> str:
    return "" if value is None else f"{value:.2f}"


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def event_days(events) -> dict[str, int]:
    counts: Counter = Counter()
    for e in events:
        if e.start.local is not None:
            counts[e.start.local.date().isoformat()] += 1
    return dict(counts)
