"""The run journal: crash-safe, resumable, the source of truth for everything downstream."""
