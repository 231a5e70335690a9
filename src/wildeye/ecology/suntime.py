"""Sun time: clock times mapped so that sunrise is 06:00 (pi/2) and sunset 18:00 (3 pi/2) every day.

The piecewise-linear transform of Nouvellet et al. (2012, J. Zool. 286:179), the one the R package `overlap`
offers as `sunTime`: daytime (sunrise to sunset) is stretched or squeezed linearly onto pi/2..3pi/2 and the night
onto the rest, so activity pooled over months (or latitudes) keeps its relation to dawn and dusk. Not the
"average anchoring" / double anchoring of Vazquez et al. (2019), which keeps mean day length. Sunrise and sunset
come from `astral` (NOAA's solar equations) for the deployment's latitude, longitude and date.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

import numpy as np

TWO_PI = 2 * np.pi


def sunrise_sunset(latitude: float, longitude: float, day: date, tz: tzinfo) -> tuple[float, float] | None:
    """(sunrise, sunset) as radians of the local clock on that day; None in polar day or night (no rise/set)."""
    from astral import Observer
    from astral.sun import sunrise, sunset

    observer = Observer(latitude=latitude, longitude=longitude)
    try:
        rise, fall = sunrise(observer, day, tzinfo=tz), sunset(observer, day, tzinfo=tz)
    except ValueError:
        return None
    return _radians(rise), _radians(fall)


def _radians(when: datetime) -> float:
    return (when.hour + when.minute / 60 + (when.second + when.microsecond / 1e6) / 3600) / 24 * TWO_PI


def sun_time(clock, sunrise, sunset) -> np.ndarray:
    """Clock times (radians) to sun time (radians; sunrise pi/2, sunset 3pi/2), element-wise with each time's
    own sunrise and sunset."""
    clock, sunrise, sunset = (np.asarray(v, dtype=float) for v in (clock, sunrise, sunset))
    day = (clock > sunrise) & (clock < sunset)
    day_length = sunset - sunrise
    anchor = np.where(day, sunrise, sunset)
    span = np.where(day, day_length, TWO_PI - day_length)
    since = np.mod(clock - anchor, TWO_PI)
    return np.mod(np.where(day, np.pi / 2, 3 * np.pi / 2) + since / span * np.pi, TWO_PI)
