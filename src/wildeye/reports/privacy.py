"""Privacy on export: people left out, and the sites of sensitive species generalised.

Applied in `build.build_report` to the frames and deployments before any writer runs, so every export (Camtrap DP,
CSVs, COCO-CT, the reviewed MegaDetector file, the HTML report's map and gallery) gets the same treatment. Effort is
still counted from every frame: leaving a ranger's photos out must not shorten a deployment's camera-days.

People (`exclude_humans`): a frame whose only observations are people is left out; so are the frames of its burst
(sequence) that show no animal or vehicle, since a burst that caught a person mostly shows that person. A frame
that shows animals too keeps its animals, loses its person observations and person boxes, is marked
`filePublic: false` (Camtrap DP media.filePublic: "`false` if the media file is not publicly accessible (e.g. to
protect the privacy of people)") and has the people blurred wherever the report exports the image itself.

Sensitive species: Camtrap DP 1.0.2 deployments.coordinateUncertainty is the "horizontal distance from the given
`latitude` and `longitude` describing the smallest circle containing the deployment location ... Especially
relevant when coordinates are rounded to protect sensitive species", and package.coordinatePrecision the "least
precise coordinate precision" of the deployments. Rounding to `d` decimals moves a site by up to half a grid step
in each direction, so the circle widens by the half-diagonal of that grid cell (plus any uncertainty the site
already had).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable

from wildeye.config import PrivacyConfig
from wildeye.labels import matches
from wildeye.reports.frames import ANIMAL, HUMAN, VEHICLE, Frame, label_kind

METRES_PER_DEGREE = 111_320.0  # one degree of latitude (and of longitude at the equator), WGS84, rounded up


def half_diagonal_m(latitude: float, decimals: int) -> int:
    """Metres from a rounded point to the farthest corner of its rounding cell (whole metres, rounded up).

    The cell is widest east-west at its edge nearest the equator, so the longitude metres are taken there."""
    half = 0.5 * 10.0 ** -decimals
    nearest_equator = max(0.0, abs(latitude) - half)
    north = half * METRES_PER_DEGREE
    east = half * METRES_PER_DEGREE * math.cos(math.radians(min(nearest_equator, 90.0)))
    return math.ceil(math.hypot(north, east))


def generalise(latitude: float, longitude: float, uncertainty_m: float | None, decimals: int
               ) -> tuple[float, float, int]:
    """(latitude, longitude, coordinateUncertainty in metres) with the coordinates rounded to `decimals`.

    The new uncertainty is the old one (0 when unknown) plus the cell's half-diagonal: the true site lies within
    the old circle around the exact point, and the exact point within the half-diagonal of the rounded one."""
    lat = round(float(latitude), decimals)
    lon = round(float(longitude), decimals)
    if lon <= -180.0:
        lon += 360.0
    if lon > 180.0:
        lon -= 360.0
    lat = min(90.0, max(-90.0, lat))
    widened = half_diagonal_m(lat, decimals) + math.ceil(float(uncertainty_m or 0.0))
    return lat, lon, max(1, widened)


def sensitive_deployments(frames: Iterable[Frame], names: Iterable[str]) -> dict[str, list[str]]:
    """Deployment -> the sensitive species seen there (as labelled), from every frame's final observations."""
    names = list(names)
    found: dict[str, set[str]] = {}
    if not names:
        return {}
    for frame in frames:
        for obs in frame.observations:
            if obs.kind == ANIMAL and matches(obs.label, names):
                found.setdefault(frame.deployment_id, set()).add(obs.key)
    return {dep: sorted(species) for dep, species in sorted(found.items())}


def generalise_deployments(deployments: dict, which: Iterable[str], decimals: int) -> dict:
    """A copy of `deployments` (id -> DeploymentInfo) with `which` rounded and coordinateUncertainty widened."""
    out = dict(deployments)
    for dep_id in which:
        info = deployments.get(dep_id)
        if info is None or info.latitude is None or info.longitude is None:
            continue
        extra = dict(info.extra)
        try:
            known = float(extra.get("coordinateUncertainty") or 0.0)
        except ValueError:
            known = 0.0
        lat, lon, metres = generalise(info.latitude, info.longitude, known, decimals)
        extra["coordinateUncertainty"] = str(metres)
        out[dep_id] = info.model_copy(update={"latitude": lat, "longitude": lon, "extra": extra})
    return out


# --- people -----------------------------------------------------------------------------------------------------


def _shows_person(obs) -> bool:
    return obs.kind == HUMAN


def _person_box(box) -> bool:
    """A machine box of a person: the detector's person category (unless the ensemble made it an animal), or a
    box the ensemble called human. Boxes below the threshold count too: blurring a false alarm costs nothing."""
    kind = label_kind(box.decision.label) if box.decision is not None else None
    return kind == HUMAN or (box.category == "person" and kind != ANIMAL)


@dataclass
class PeopleOutcome:
    frames: list[Frame]
    dropped: int = 0  # frames left out
    kept: int = 0  # frames with animals or vehicles kept, people removed
    blur: dict[str, list[tuple]] = field(default_factory=dict)  # path -> person boxes to blur in exported images


def exclude_people(frames: list[Frame]) -> PeopleOutcome:
    """The frames without people (see the module docstring): new Frame objects, the originals are untouched."""
    with_people = {f.path for f in frames
                   if any(_shows_person(o) for o in f.observations) or any(_person_box(b) for b in f.boxes)}
    human_bursts = {(f.deployment_id, f.sequence_id) for f in frames
                    if f.path in with_people and f.sequence_id and any(o.kind == HUMAN for o in f.observations)}
    outcome = PeopleOutcome([])
    for frame in frames:
        keeps = any(o.kind in (ANIMAL, VEHICLE) for o in frame.observations)
        in_human_burst = frame.sequence_id and (frame.deployment_id, frame.sequence_id) in human_bursts
        if frame.path not in with_people:
            if in_human_burst and not keeps:
                outcome.dropped += 1
                continue
            outcome.frames.append(frame)
            continue
        human_obs = any(o.kind == HUMAN for o in frame.observations)
        if human_obs and not keeps:
            outcome.dropped += 1
            continue
        boxes = [tuple(o.bbox) for o in frame.observations if _shows_person(o) and o.bbox is not None]
        boxes += [tuple(b.bbox) for b in frame.boxes if _person_box(b)]
        outcome.blur[frame.path] = sorted(set(boxes))
        outcome.kept += human_obs
        outcome.frames.append(replace(frame, observations=[o for o in frame.observations if not _shows_person(o)],
                                      boxes=[b for b in frame.boxes if not _person_box(b)]))
    return outcome


# --- both, for build_report --------------------------------------------------------------------------------------


@dataclass
class PrivacyOutcome:
    settings: PrivacyConfig
    frames: list[Frame]  # what the writers get
    deployments: dict  # id -> DeploymentInfo, generalised where needed
    generalised: dict[str, list[str]]  # deployment -> sensitive species seen there
    exact_sensitive: dict[str, list[str]]  # sensitive sites left exact (generalise_locations off)
    people: PeopleOutcome | None
    with_people: set[str] = field(default_factory=set)  # frames the writers get that show people

    @property
    def blur(self) -> dict[str, list[tuple]]:
        return self.people.blur if self.people else {}

    @property
    def private_media(self) -> set[str]:
        """Frames that show people (or showed them, kept for their animals): never public media."""
        return set(self.blur) | self.with_people

    @property
    def coordinate_precision(self) -> float | None:
        """Camtrap DP coordinatePrecision when some coordinates were rounded: 10^-decimals degrees."""
        return 10.0 ** -self.settings.coordinate_decimals if self.generalised else None

    def notes(self) -> list[str]:
        notes = []
        if self.generalised:
            notes.append(f"locations generalised to {self.settings.coordinate_decimals} decimal"
                         f"{'s' if self.settings.coordinate_decimals != 1 else ''} (sensitive species): "
                         + "; ".join(f"{dep} ({', '.join(sp)})" for dep, sp in self.generalised.items()))
        if self.exact_sensitive:
            notes.append("exact locations kept (--exact-locations) for deployments with sensitive species: "
                         + ", ".join(self.exact_sensitive))
        if self.people is not None:
            notes.append(f"people left out (--exclude-humans): {self.people.dropped} frame"
                         f"{'s' if self.people.dropped != 1 else ''} dropped, {self.people.kept} kept for their "
                         "animals with the people removed (blurred in exported images)")
        return notes

    def describe(self) -> dict:
        return {"exclude_humans": self.settings.exclude_humans,
                "people_frames_dropped": self.people.dropped if self.people else 0,
                "people_frames_kept": self.people.kept if self.people else 0,
                "generalised_deployments": self.generalised,
                "coordinate_decimals": self.settings.coordinate_decimals if self.generalised else None,
                "exact_sensitive_deployments": self.exact_sensitive}


def apply_privacy(all_frames: list[Frame], frames: list[Frame], deployments: dict,
                  settings: PrivacyConfig) -> PrivacyOutcome:
    """all_frames: every frame of the journal (a site is sensitive whatever the report's filters keep);
    frames: those the report covers."""
    sensitive = sensitive_deployments(all_frames, settings.sensitive_species)
    sensitive = {dep: sp for dep, sp in sensitive.items()
                 if dep in deployments and deployments[dep].latitude is not None
                 and deployments[dep].longitude is not None}
    if settings.generalise_locations:
        generalised, exact = sensitive, {}
        deployments = generalise_deployments(deployments, sensitive, settings.coordinate_decimals)
    else:
        generalised, exact = {}, sensitive
    people = exclude_people(frames) if settings.exclude_humans else None
    kept = people.frames if people else frames
    with_people = {f.path for f in kept
                   if any(_shows_person(o) for o in f.observations) or any(_person_box(b) for b in f.boxes)}
    return PrivacyOutcome(settings, kept, deployments, generalised, exact, people, with_people)


# --- exported images -------------------------------------------------------------------------------------------


def blur_boxes(image, boxes) -> None:
    """Pixelate then blur each normalised [x, y, w, h] box of a PIL image in place, so no face or figure can be
    recognised (the box widened by 10% each side: detector boxes are tight)."""
    from PIL import ImageFilter

    width, height = image.size
    for x, y, w, h in boxes:
        pad_w, pad_h = 0.1 * w, 0.1 * h
        left, top = max(0, int((x - pad_w) * width)), max(0, int((y - pad_h) * height))
        right = min(width, int(round((x + w + pad_w) * width)))
        bottom = min(height, int(round((y + h + pad_h) * height)))
        if right - left < 1 or bottom - top < 1:
            continue
        region = image.crop((left, top, right, bottom))
        small = region.resize((max(1, region.width // 16), max(1, region.height // 16)))
        region = small.resize(region.size).filter(ImageFilter.GaussianBlur(max(2, min(region.size) // 12)))
        image.paste(region, (left, top))


def blurred_jpeg(path, boxes, quality: int = 92) -> bytes:
    """The image at `path` with `boxes` blurred, upright, as a JPEG without metadata."""
    import io

    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
    blur_boxes(im, boxes)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def without_exif(jpeg: bytes) -> bytes:
    """The JPEG without its APP1 segments (EXIF, GPS, XMP), every other byte as it was: no re-encoding."""
    if jpeg[:2] != b"\xff\xd8":
        return jpeg
    out, i = bytearray(jpeg[:2]), 2
    while i + 4 <= len(jpeg) and jpeg[i] == 0xFF:
        marker = jpeg[i + 1]
        if marker == 0xDA:  # start of scan: the rest is image data
            break
        length = int.from_bytes(jpeg[i + 2:i + 4], "big")
        if marker != 0xE1:
            out += jpeg[i:i + 2 + length]
        i += 2 + length
    out += jpeg[i:]
    return bytes(out)
