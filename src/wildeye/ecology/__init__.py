"""Ecology a survey team publishes, computed from events and effort: taxa at a chosen rank (`ranks`), detection
histories and single-season occupancy (`histories`, `occupancy`), diel activity and overlap (`activity`, `suntime`),
species richness (`richness`). Pure computation on plain numbers: no journal, no files, no command line."""
