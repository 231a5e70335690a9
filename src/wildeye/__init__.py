"""wildeye: camera-trap SD-card dumps to reviewed species sightings.

Importing the package stays cheap: heavy libraries (torch, fiftyone, PIL) load inside the functions that need them.
"""

__version__ = "0.1.0"
