"""Models: registry (name -> url, checksum, kind, defaults), download cache, and loaders (YOLOv5, timm, SpeciesNet)."""
