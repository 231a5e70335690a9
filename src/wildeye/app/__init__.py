"""Use cases: what a command does, orchestrating the layers below (ingest, store, models, inference).

`run` is `wildeye run` (scan, detect, classify, journal, decisions, exports); `alerts` tells someone at once about
new flagship sightings. The report, review and training use cases live in `reports/`, `review/` and `train/`.
"""
