"""Errors a user can act on, and the exit codes a scheduler can act on."""

from __future__ import annotations

EXIT_OK = 0
EXIT_INPUT_FAILURES = 1  # finished, but some inputs could not be processed
EXIT_USAGE = 2  # bad argument or config: nothing was done
EXIT_LOCKED = 3  # another run holds the journal (retry later, or pass --wait)
EXIT_WRITE_FAILED = 4  # results could not be written (disk full, read-only); finished work is kept
EXIT_INTERRUPTED = 130


class WildeyeError(Exception):
    """A problem the user can fix; shown as one line, never as a traceback."""

    exit_code = EXIT_USAGE

    def __init__(self, problem: str, fix: str | None = None):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem} ({self.fix})" if self.fix else self.problem


class ConfigError(WildeyeError):
    """A config file, deployments table or argument is wrong."""
