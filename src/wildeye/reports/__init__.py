"""Reports read the run journal (human corrections win) and never re-run models."""
