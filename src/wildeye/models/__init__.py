"""Models: what wildeye can run, where the files are, and how to open them safely. Imports point down this list only:

    registry.py     named models (ModelSpec: kind, url, md5, image size, thresholds), no I/O beyond $WILDEYE_REGISTRY
    safe_pickle.py  the one pickle sandbox; an AllowList per kind
    kinds.py        sniff_kind: what a file or folder is, decided in one place; cheap format checks
    yolov5_net.py   the YOLOv5 network MegaDetector runs (our code, rebuilt from the checkpoint's architecture dict)
    megadetector.py / speciesnet.py / package.py   loaders, one per kind; trust is passed in, never read from the cache
    cache.py        the cache folder (platformdirs), its index and trust records, atomic placing, `models import`
    download.py     resumable, verified HTTP pulls into the cache
    hub.py          resolve_model: a name or a path -> a file on disk plus its spec (downloading when needed)
    factory.py      create_model(name_or_path, role) -> LoadedModel, with the loaders registered by kind
    commands.py     the `wildeye models` CLI (moving to wildeye/commands/models.py)

Only yolov5_net.py and megadetector.py import torch at import time (they define nn.Modules); everything else
imports it when a file is opened, and they are imported only then too.
"""
