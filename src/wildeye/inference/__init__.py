"""Inference: fast data path, detector, classifier and ensemble (crop -> species -> sequence -> image)."""
