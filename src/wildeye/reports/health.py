"""Camera health per deployment, from the journal alone: what went wrong with the camera, the evidence, the fix.

Each check reads what the journal already holds (capture times, the final label of every frame, the deployment's
start, end and coordinates, file sizes) and never runs a model. The checks follow what camera-trap field manuals
ask a team to look for when a card comes back (e.g. Wildlife Insights' and the TEAM Network's camera-trap data
checks; Camtrap DP's deploymentStart/deploymentEnd as the period the camera was out):

- clock: a camera whose clock was never set or was reset after a battery change stamps its factory date (1970,
  2000, ...), a date in the future, or time that runs backwards from one file to the next (file names count up in
  the order frames are taken);
- stopped early: no frame in the last days before the deployment ended: a flat battery or a full card (the files'
  total size close to a card's nominal capacity says which is likelier);
- gaps mid-deployment: days without a single trigger between two frames: knocked over, covered by snow, moved;
  an abrupt, lasting change in the fraction of blank frames says its view changed;
- false triggers: days with many triggers that are nearly all blank: vegetation moving in front of the sensor,
  or sun glare;
- infrared: many frames over many days and none at night (sun below civil twilight at the deployment's
  coordinates, else a night-hours window): the IR flash, or the night mode, is not working;
- deployment dates: frames before the deployment's start or after its end: the dates in deployments.csv, or the
  camera clock, are wrong.

The journal does not keep a frame's pixel mode (greyscale IR frames), so night is decided from the clock and the sun.
Thresholds are a pydantic model (`HealthConfig`), overridable from `wildeye check`'s flags.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from wildeye.reports.frames import BLANK, Frame, ReportData, wall_clock
from wildeye.reports.health_defaults import DEFAULTS

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)
CHECKS = {  # check id -> what it means, for tables and docs
    "clock_default_date": "camera clock not set or reset (factory date)",
    "clock_future": "capture times in the future",
    "clock_backwards": "time runs backwards between consecutive files",
    "no_capture_time": "frames without a capture time",
    "stopped_early": "no frames in the last days before the deployment ended (battery or card)",
    "gap": "days without frames in the middle of the deployment (knocked over, covered)",
    "view_changed": "the fraction of blank frames changed abruptly and stayed changed",
    "false_triggers": "days of many, mostly blank triggers (vegetation, glare)",
    "no_night_frames": "no frames at night among many (infrared flash)",
    "outside_deployment": "frames before the deployment's start or after its end",
}
CARD_SIZES_GB = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)  # nominal SD card capacities (decimal GB, as sold)


class HealthConfig(BaseModel):
    """Thresholds of the camera health checks; defaults suit a camera out for weeks to months."""

    model_config = ConfigDict(extra="forbid")

    min_year: int = Field(DEFAULTS["min_year"], ge=1970, le=2100,
                          description="capture times before this year are a clock that was never set or was reset")
    future_tolerance_days: float = Field(DEFAULTS["future_tolerance_days"], ge=0, description="capture times later than now + this are future")
    backwards_tolerance_s: float = Field(DEFAULTS["backwards_tolerance_s"], ge=0,
                                         description="a file stamped earlier than the file before it by more than "
                                                     "this is time running backwards")
    end_silence_days: float = Field(DEFAULTS["end_silence_days"], gt=0, description="no frame in this many days before the deployment end: "
                                                          "the camera stopped early")
    gap_days: float = Field(DEFAULTS["gap_days"], gt=0, description="this many days without a frame mid-deployment is a gap")
    view_change: float = Field(DEFAULTS["view_change"], gt=0, le=1, description="a lasting jump in the blank fraction at least this big "
                                                           "is a changed view")
    view_change_min_days: int = Field(DEFAULTS["view_change_min_days"], ge=1, description="days with frames needed on each side of a view change")
    view_change_min_frames: int = Field(DEFAULTS["view_change_min_frames"], ge=1, description="frames needed on each side of a view change")
    false_trigger_frames_per_day: int = Field(DEFAULTS["false_trigger_frames_per_day"], ge=1, description="a day with at least this many frames ...")
    false_trigger_blank_fraction: float = Field(DEFAULTS["false_trigger_blank_fraction"], gt=0, le=1, description="... this fraction of them blank, is "
                                                                             "a day of false triggers")
    ir_min_frames: int = Field(DEFAULTS["ir_min_frames"], ge=1, description="frames a deployment needs before missing night frames count")
    ir_min_days: float = Field(DEFAULTS["ir_min_days"], gt=0, description="days those frames must span")
    night_start_hour: int = Field(DEFAULTS["night_start_hour"], ge=0, le=23, description="night begins (local hour) where no coordinates")
    night_end_hour: int = Field(DEFAULTS["night_end_hour"], ge=0, le=23, description="night ends (local hour) where no coordinates")
    sun_depression: float = Field(DEFAULTS["sun_depression"], ge=0, le=18, description="night: the sun this many degrees below the horizon "
                                                               "(6 = civil twilight)")
    date_tolerance_h: float = Field(DEFAULTS["date_tolerance_h"], ge=0, description="frames this far outside the deployment dates count")
    card_full_fraction: float = Field(DEFAULTS["card_full_fraction"], gt=0, le=1,
                                      description="files totalling at least this fraction of a nominal card size "
                                                  "suggest a full card")
    examples: int = Field(DEFAULTS["examples"], ge=0, le=50, description="example files named per finding")


@dataclass
class Finding:
    """One problem with one camera: what, how bad, the numbers that show it, and what a ranger does about it."""

    deployment_id: str
    check: str  # a key of CHECKS
    severity: str  # error | warning | info
    summary: str  # the evidence in one sentence
    fix: str  # one sentence a ranger can act on
    evidence: dict = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)


@dataclass
class DeploymentHealth:
    deployment_id: str
    frames: int
    first: str | None
    last: str | None
    start: str | None
    end: str | None
    findings: list[Finding] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # check -> why it could not run


@dataclass
class HealthReport:
    deployments: list[DeploymentHealth]
    config: HealthConfig

    @property
    def findings(self) -> list[Finding]:
        order = {s: i for i, s in enumerate(SEVERITIES)}
        found = [f for d in self.deployments for f in d.findings]
        return sorted(found, key=lambda f: (order[f.severity], f.deployment_id, f.check))

    def counts(self) -> dict[str, int]:
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    def downtime(self) -> dict[str, list[tuple[datetime, datetime]]]:
        """Per deployment, the spans inside its running time when the camera took nothing because it could not:
        mid-deployment gaps (knocked over, covered) and the silent end of one that stopped early. Occupancy counts
        no effort there (an occasion wholly inside is NA, not a non-detection)."""
        spans: dict[str, list[tuple[datetime, datetime]]] = {}
        keys = {"gap": ("from", "to"), "stopped_early": ("last_frame", "deployment_end")}
        for f in self.findings:
            if f.check in keys:
                a, b = (f.evidence.get(k) for k in keys[f.check])
                if a and b:
                    spans.setdefault(f.deployment_id, []).append((datetime.fromisoformat(a), datetime.fromisoformat(b)))
        return spans

    def as_dict(self) -> dict:
        return {"deployments": [{**asdict(d), "healthy": not d.findings} for d in self.deployments],
                "findings": [asdict(f) for f in self.findings], "counts": self.counts(),
                "config": self.config.model_dump()}


def check_run(out_dir: str | Path, config: HealthConfig | None = None, *, now: datetime | None = None,
              deployments: tuple[str, ...] | list[str] = ()) -> HealthReport:
    """Read a run folder's journal (read-only) and check every deployment (or only `deployments`)."""
    from wildeye.reports.frames import load
    from wildeye.store.journal import Journal

    with Journal.open(Path(out_dir), write=False) as journal:
        data = load(out_dir, journal)
        sizes = journal.media_sizes()
    return check_health(data, config, now=now, sizes=sizes, deployments=deployments)


def check_health(data: ReportData, config: HealthConfig | None = None, *, now: datetime | None = None,
                 sizes: dict[str, int] | None = None, deployments: tuple[str, ...] | list[str] = ()
                 ) -> HealthReport:
    """Every check on every deployment of `data` (reports.frames.load). now: what counts as the future."""
    from wildeye.ingest.deployments import Deployment

    cfg = config or HealthConfig()
    now = now or datetime.now()
    by_deployment: dict[str, list[Frame]] = defaultdict(list)
    for frame in data.frames:
        by_deployment[frame.deployment_id].append(frame)
    chosen = set(deployments) if deployments else set(by_deployment) | set(data.deployments)
    results = []
    for dep_id in sorted(chosen):
        info = data.deployments.get(dep_id)
        frames = sorted(by_deployment.get(dep_id, []), key=lambda f: _natural(f.path))
        dep = Deployment(info) if info is not None else None
        tz = data.timezones.get(dep_id)
        start, end = (wall_clock(dep.start, tz) if dep and dep.start else None), (wall_clock(dep.end, tz) if dep and dep.end
                                                                             else None)
        plausible = [f for f in frames if f.local is not None and _plausible(f.local, now, cfg)]
        dated = sorted(plausible, key=lambda f: f.local)
        result = DeploymentHealth(dep_id, len(frames), _iso(dated[0].local) if dated else None,
                                  _iso(dated[-1].local) if dated else None, _iso(start), _iso(end))
        ctx = _Context(dep_id, frames, dated, start, end, info, tz, cfg, now, sizes or {}, result)
        for check in (_clock, _stopped_early, _gaps, _view_change, _false_triggers, _night, _outside):
            check(ctx)
        results.append(result)
    return HealthReport(results, cfg)


@dataclass
class _Context:
    dep_id: str
    frames: list[Frame]  # in file order
    dated: list[Frame]  # with a plausible capture time, in time order
    start: datetime | None  # deployment start, wall clock at the deployment
    end: datetime | None
    info: object
    tz: object
    cfg: HealthConfig
    now: datetime
    sizes: dict[str, int]
    result: DeploymentHealth

    def add(self, check: str, severity: str, summary: str, fix: str, evidence: dict, examples=()) -> None:
        self.result.findings.append(Finding(self.dep_id, check, severity, summary, fix, evidence,
                                            list(examples)[: self.cfg.examples]))

    def skip(self, check: str, why: str) -> None:
        self.result.skipped[check] = why


# --- the checks ---------------------------------------------------------------------------------------------


def _clock(c: _Context) -> None:
    cfg = c.cfg
    timed = [f for f in c.frames if f.local is not None]
    untimed = [f for f in c.frames if f.local is None]
    if untimed:
        c.add("no_capture_time", WARNING, f"{len(untimed)} of {len(c.frames)} frames have no capture time",
              "Check the camera's date and time settings; these frames count for no event or effort.",
              {"frames": len(untimed)}, [f.path for f in untimed])
    old = [f for f in timed if f.local.year < cfg.min_year]
    if old:
        years = sorted({f.local.year for f in old})
        c.add("clock_default_date", ERROR,
              f"{len(old)} of {len(timed)} frames are dated before {cfg.min_year} "
              f"({_span(min(f.local for f in old), max(f.local for f in old))}): the camera clock was never set or "
              "was reset",
              "Set the camera's date and time before the next deployment, and give this deployment a clock offset "
              "(clockOffset in deployments.csv) so its frames get real dates.",
              {"frames": len(old), "years": years, "first": _iso(min(f.local for f in old)),
               "last": _iso(max(f.local for f in old))}, [f.path for f in old])
    future_after = c.now + timedelta(days=cfg.future_tolerance_days)
    future = [f for f in timed if f.local > future_after]
    if future:
        c.add("clock_future", ERROR,
              f"{len(future)} frames are dated after today ({_span(min(f.local for f in future), max(f.local for f in future))})",
              "Set the camera's date and time (and year) correctly, and give this deployment a clock offset in "
              "deployments.csv.",
              {"frames": len(future), "first": _iso(min(f.local for f in future)),
               "last": _iso(max(f.local for f in future))}, [f.path for f in future])
    steps = []
    previous = None
    for f in c.frames:  # file order: names count up as frames are taken
        if f.local is None:
            continue
        if previous is not None:
            back = (previous.local - f.local).total_seconds()
            if back > cfg.backwards_tolerance_s:
                steps.append((back, previous, f))
        previous = f
    if steps:
        worst = max(steps, key=lambda s: s[0])
        c.add("clock_backwards", ERROR,
              f"time runs backwards {len(steps)} time{'s' if len(steps) != 1 else ''} from one file to the next, "
              f"by up to {_duration(worst[0])} ({worst[1].path} {_iso(worst[1].local)} -> {worst[2].path} "
              f"{_iso(worst[2].local)}): the clock was reset, e.g. by a battery change",
              "Set the camera's clock, note the true time when you change batteries, and split this deployment at "
              "the reset (or give it a clock offset) in deployments.csv.",
              {"times": len(steps), "largest_s": round(worst[0], 1), "at": worst[2].path,
               "from": _iso(worst[1].local), "to": _iso(worst[2].local)},
              [s[2].path for s in sorted(steps, key=lambda s: -s[0])])


def _stopped_early(c: _Context) -> None:
    if c.end is None:
        c.skip("stopped_early", "no deployment end in deployments.csv")
        return
    if not c.dated:
        c.skip("stopped_early", "no dated frames")
        return
    last = c.dated[-1].local
    at = next(i for i, f in enumerate(c.frames) if f is c.dated[-1])
    dated = {id(f) for f in c.dated}
    wrong_clock = [f for f in c.frames[at + 1:] if id(f) not in dated]
    if wrong_clock:  # frames were taken after the last well-dated one: the camera ran, its clock did not
        c.skip("stopped_early", f"{len(wrong_clock)} frames after the last well-dated one have a wrong clock")
        return
    silent = (c.end - last).total_seconds() / 86400
    if silent < c.cfg.end_silence_days:
        return
    total = sum(c.sizes.get(f.path, 0) for f in c.frames)
    card = _full_card(total, c.cfg.card_full_fraction)
    cause = (f"the files total {total / 1e9:.1f} GB, close to a {card} GB card: probably a full card" if card
             else "probably a flat battery (or a full card)")
    fix = ("Bring a larger (or empty) card and check the camera's capacity settings before redeploying."
           if card else "Fit fresh batteries (lithium in the cold) and an empty card before redeploying; check the "
                        "camera again sooner than every "
                        f"{max(1, round((c.end - c.dated[0].local).total_seconds() / 86400))} days.")
    c.add("stopped_early", WARNING,
          f"the last frame is from {_iso(last)}, {silent:.1f} days before the deployment ended on {_iso(c.end)}: "
          + cause, fix,
          {"last_frame": _iso(last), "deployment_end": _iso(c.end), "days_silent": round(silent, 2),
           "frames": len(c.frames), "bytes": total, "card_gb": card}, [c.dated[-1].path])


def _gaps(c: _Context) -> None:
    gaps = []
    for a, b in zip(c.dated, c.dated[1:]):
        days = (b.local - a.local).total_seconds() / 86400
        if days >= c.cfg.gap_days:
            gaps.append((days, a, b))
    for days, a, b in gaps:
        c.add("gap", WARNING,
              f"no frame for {days:.1f} days, from {_iso(a.local)} to {_iso(b.local)}, in the middle of the "
              "deployment: the camera may have been knocked over, covered (snow, a bag) or switched off",
              "Check the mount and the view when you visit: strap the camera tighter or move it away from "
              "livestock paths, and note in deployments.csv when it was not running.",
              {"days": round(days, 2), "from": _iso(a.local), "to": _iso(b.local)}, [a.path, b.path])


def _view_change(c: _Context) -> None:
    """The day that most separates the blank fraction before it from the one after (each day weighs the same, so a
    few days of false triggers do not count), if the jump is large and both sides hold enough days and frames: a
    view turned to the sky or the ground goes from some animals to all blank, and stays there."""
    days: dict[date, list[bool]] = defaultdict(list)
    for f in c.dated:
        if f.status == "done" and f.observations:
            days[f.local.date()].append(_is_blank(f))
    order = sorted(days)
    need_days, need_frames = c.cfg.view_change_min_days, c.cfg.view_change_min_frames
    if len(order) < 2 * need_days:
        return
    daily = [sum(days[d]) / len(days[d]) for d in order]
    counts = [len(days[d]) for d in order]
    best = None
    for i in range(need_days, len(order) - need_days + 1):
        if sum(counts[:i]) < need_frames or sum(counts[i:]) < need_frames:
            continue
        p1, p2 = sum(daily[:i]) / i, sum(daily[i:]) / (len(order) - i)
        if best is None or abs(p2 - p1) > abs(best[0]):
            best = (p2 - p1, i, p1, p2)
    if best is None or abs(best[0]) < c.cfg.view_change:
        return
    _, i, p1, p2 = best
    first_after = next(f for f in c.dated if f.local.date() == order[i])
    last_before = next(f for f in reversed(c.dated) if f.local.date() == order[i - 1])
    before, after = sum(counts[:i]), sum(counts[i:])
    c.add("view_changed", INFO,
          f"blank frames went from {p1:.0%} to {p2:.0%} of a day on {order[i]} ({i} days and {before} frames "
          f"before, {len(order) - i} days and {after} after): the camera's view probably changed (knocked, turned, "
          "fogged)",
          "Look at frames either side of that date and re-aim or clean the camera; leave the days after it out of "
          "effort if the view was lost.",
          {"date": order[i].isoformat(), "blank_before": round(p1, 3), "blank_after": round(p2, 3),
           "frames_before": before, "frames_after": after}, [last_before.path, first_after.path])


def _false_triggers(c: _Context) -> None:
    days: dict[date, list[Frame]] = defaultdict(list)
    for f in c.dated:
        if f.status == "done" and f.observations:
            days[f.local.date()].append(f)
    bad = []
    for day, frames in sorted(days.items()):
        blanks = sum(_is_blank(f) for f in frames)
        if len(frames) >= c.cfg.false_trigger_frames_per_day and blanks / len(frames) >= \
                c.cfg.false_trigger_blank_fraction:
            bad.append((day, len(frames), blanks, frames))
    if not bad:
        return
    worst = max(bad, key=lambda b: b[1])
    frames = sum(b[1] for b in bad)
    blanks = sum(b[2] for b in bad)
    c.add("false_triggers", WARNING,
          f"{len(bad)} day{'s' if len(bad) != 1 else ''} with ≥ {c.cfg.false_trigger_frames_per_day} frames, "
          f"{blanks / frames:.0%} blank ({frames} frames; worst {worst[0].isoformat()}: {worst[1]} frames, "
          f"{worst[2]} blank): vegetation moving in front of the camera, or sun glare",
          "Clear grass and branches in front of the camera, avoid facing east or west into the sun, and lower the "
          "sensor's sensitivity if it keeps happening.",
          {"days": len(bad), "frames": frames, "blank": blanks, "worst_day": worst[0].isoformat(),
           "worst_day_frames": worst[1], "dates": [b[0].isoformat() for b in bad]},
          [f.path for f in worst[3] if _is_blank(f)])


def _night(c: _Context) -> None:
    cfg = c.cfg
    if len(c.dated) < cfg.ir_min_frames:
        c.skip("no_night_frames", f"fewer than {cfg.ir_min_frames} dated frames")
        return
    span = (c.dated[-1].local - c.dated[0].local).total_seconds() / 86400
    if span < cfg.ir_min_days:
        c.skip("no_night_frames", f"frames span {span:.1f} days, fewer than {cfg.ir_min_days:g}")
        return
    info = c.info
    coords = info is not None and info.latitude is not None and info.longitude is not None
    is_night = _sun_night(info.latitude, info.longitude, cfg.sun_depression) if coords else None
    night, by_sun = 0, 0
    for f in c.dated:
        if is_night is not None and f.when is not None and f.when.tzinfo is not None:
            by_sun += 1
            night += is_night(f.when)
        else:
            night += _night_hour(f.local.hour, cfg)
    if night:
        return
    how = ("the sun below civil twilight at the deployment's coordinates" if by_sun == len(c.dated)
           else f"local hours {cfg.night_start_hour}:00-{cfg.night_end_hour}:00")
    c.add("no_night_frames", WARNING,
          f"none of {len(c.dated)} frames over {span:.0f} days was taken at night ({how}): the infrared flash or "
          "night mode may be broken",
          "Test the camera in the dark (cover the sensor, trigger it and check for a night frame and the IR LEDs' "
          "glow); repair or replace it if it takes none.",
          {"frames": len(c.dated), "days": round(span, 1), "night_frames": 0,
           "night_by": "sun" if by_sun == len(c.dated) else "hours"}, [c.dated[0].path, c.dated[-1].path])


def _outside(c: _Context) -> None:
    if c.start is None and c.end is None:
        c.skip("outside_deployment", "no deployment start or end in deployments.csv")
        return
    slack = timedelta(hours=c.cfg.date_tolerance_h)
    before = [f for f in c.dated if c.start is not None and f.local < c.start - slack]
    after = [f for f in c.dated if c.end is not None and f.local > c.end + slack]
    if not before and not after:
        return
    parts = []
    if before:
        parts.append(f"{len(before)} before the start {_iso(c.start)} (earliest {_iso(before[0].local)})")
    if after:
        parts.append(f"{len(after)} after the end {_iso(c.end)} (latest {_iso(after[-1].local)})")
    c.add("outside_deployment", WARNING,
          f"{len(before) + len(after)} frames fall outside the deployment's dates: " + "; ".join(parts),
          f"Correct deploymentStart/deploymentEnd in deployments.csv (the frames run from {_iso(c.dated[0].local)} "
          f"to {_iso(c.dated[-1].local)}), or give the deployment a clock offset if the camera's clock was wrong.",
          {"before_start": len(before), "after_end": len(after), "first_frame": _iso(c.dated[0].local),
           "last_frame": _iso(c.dated[-1].local), "deployment_start": _iso(c.start), "deployment_end": _iso(c.end)},
          [f.path for f in before[:2] + after[-2:]])


# --- helpers ------------------------------------------------------------------------------------------------


def _sun_night(latitude: float, longitude: float, depression: float):
    """A test `when (aware) -> bool`: the sun more than `depression` degrees below the horizon (astral's NOAA
    solar position), dawn and dusk computed once per day; days without either (polar summer or winter) ask the
    sun's elevation directly."""
    from astral import Observer
    from astral.sun import dawn, dusk, elevation

    observer = Observer(latitude=latitude, longitude=longitude)
    days: dict[tuple, tuple | None] = {}

    def is_night(when: datetime) -> bool:
        key = (when.date(), when.utcoffset())
        if key not in days:
            try:
                days[key] = (dawn(observer, when.date(), depression, when.tzinfo),
                             dusk(observer, when.date(), depression, when.tzinfo))
            except ValueError:
                days[key] = None
        window = days[key]
        if window is None:
            return elevation(observer, when.astimezone(timezone.utc)) < -depression
        return when < window[0] or when > window[1]

    return is_night


def _night_hour(hour: int, cfg: HealthConfig) -> bool:
    start, end = cfg.night_start_hour, cfg.night_end_hour
    return (hour >= start or hour < end) if start > end else start <= hour < end


def _is_blank(frame: Frame) -> bool:
    return bool(frame.observations) and all(o.kind == BLANK for o in frame.observations)


def _plausible(local: datetime, now: datetime, cfg: HealthConfig) -> bool:
    return local.year >= cfg.min_year and local <= now + timedelta(days=cfg.future_tolerance_days)


def _full_card(total_bytes: int, fraction: float) -> int | None:
    """The nominal card size (GB) the files nearly fill, if any: a card of N GB holds about 0.93 N GB of files."""
    for size in CARD_SIZES_GB:
        if fraction * size * 1e9 * 0.93 <= total_bytes <= size * 1e9:
            return size
    return None


def _natural(path: str) -> list:
    """File order as a camera writes it: IMG_9 before IMG_10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path)]


def _iso(when: datetime | None) -> str | None:
    return when.isoformat(sep=" ", timespec="minutes") if when is not None else None


def _span(a: datetime, b: datetime) -> str:
    return f"{a:%Y-%m-%d}" if a.date() == b.date() else f"{a:%Y-%m-%d} to {b:%Y-%m-%d}"


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"
