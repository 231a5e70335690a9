"""Scan an SD-card dump: media files, EXIF, hashes, deployments and sequences."""
