"""Default thresholds of the camera health checks (reports.health.HealthConfig), in a module with no imports, so
`wildeye check --help` shows them without loading pydantic when the CLI starts."""

DEFAULTS = {
    "min_year": 2005,
    "future_tolerance_days": 1.0,
    "backwards_tolerance_s": 60.0,
    "end_silence_days": 7.0,
    "gap_days": 7.0,
    "view_change": 0.5,
    "view_change_min_days": 5,
    "view_change_min_frames": 30,
    "false_trigger_frames_per_day": 100,
    "false_trigger_blank_fraction": 0.9,
    "ir_min_frames": 100,
    "ir_min_days": 14.0,
    "night_start_hour": 20,
    "night_end_hour": 5,
    "sun_depression": 6.0,
    "date_tolerance_h": 24.0,
    "card_full_fraction": 0.88,
    "examples": 3,
}
