"""Errors a user can act on, and the exit codes a scheduler can act on."""

from __future__ import annotations

EXIT_OK = 0
EXIT_INPUT_FAILURES = 1  # finished, but some inputs could not be processed
EXIT_USAGE = 2  # bad argument or config: nothing was done
EXIT_LOCKED = 3  # another run holds the journal (retry later, or pass --wait)
EXIT_WRITE_FAILED = 4  # results could not be written (disk full, read-only); finished work is kept
EXIT_NOTHING_TO_DO = 5  # the source is missing or holds no media (an unmounted card): nothing was done
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


class NothingToDo(WildeyeError):
    """The source is missing or empty: for a nightly job, most often a card that is not mounted."""

    exit_code = EXIT_NOTHING_TO_DO


class WriteFailed(WildeyeError):
    """Results cannot be written (read-only folder, disk full); what was finished is kept."""

    exit_code = EXIT_WRITE_FAILED


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived (a scheduler's timeout, a dropped ssh session): unwind like Ctrl-C so the
    journal records the run as interrupted, then exit 128 + the signal number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
