"""The `wildeye` command: assembles the commands (one module each in wildeye.commands) and turns every user error
into one line and an exit code.

Exit codes: 0 ok, 1 finished but some inputs failed, 2 usage or config error (one line, no traceback), 3 another
run holds the journal, 4 results could not be written, 5 nothing to do (source missing or empty), 128 + N stopped
by signal N. Heavy imports happen inside commands so `wildeye --help` stays fast.
"""

from __future__ import annotations

import errno
import signal
import sqlite3
import sys

import click

from wildeye import __version__
from wildeye.commands.check import check
from wildeye.commands.ecology import ecology
from wildeye.commands.import_ import import_
from wildeye.commands.models import models
from wildeye.commands.options import CONTEXT, configure_logging, verbosity_options
from wildeye.commands.plan import plan
from wildeye.commands.report import report
from wildeye.commands.review import evaluate, review
from wildeye.commands.run import run
from wildeye.commands.scan import scan
from wildeye.commands.train import train
from wildeye.errors import EXIT_OK, EXIT_USAGE, EXIT_WRITE_FAILED, Terminated, WildeyeError


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="wildeye")
@verbosity_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """wildeye: camera-trap SD-card dumps to reviewed species sightings."""
    ctx.ensure_object(dict).setdefault("verbose", 0)
    ctx.obj.setdefault("quiet", False)
    configure_logging(ctx.obj)


for _command in (scan, run, import_, models, review, report, evaluate, train, ecology, check, plan):
    cli.add_command(_command)


_WRITE_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


def _is_write_failure(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return any(word in str(exc) for word in ("disk is full", "disk I/O error", "readonly", "unable to open"))
    return exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EDQUOT, errno.EIO)


def _raise_terminated(signum: int, frame) -> None:
    raise Terminated(signum)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: turns every user error into one line and an exit code.

    SIGTERM (systemd, `timeout`) and SIGHUP (a dropped ssh session) unwind like Ctrl-C: the run is recorded as
    interrupted, its workers stop, and the exit code is 128 + the signal number.
    """
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_terminated)
    try:
        code = cli.main(args=argv, prog_name="wildeye", standalone_mode=False)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "wildeye"
        click.echo(f"{command}: error: {exc.format_message()} (see '{command} --help')", err=True)
        code = EXIT_USAGE
    except click.ClickException as exc:
        click.echo(f"wildeye: error: {exc.format_message()}", err=True)
        code = exc.exit_code
    except WildeyeError as exc:
        click.echo(f"wildeye: error: {exc}", err=True)
        code = exc.exit_code
    except (OSError, sqlite3.OperationalError) as exc:
        if not _is_write_failure(exc):
            raise
        click.echo(f"wildeye: error: could not write results: {exc} (free some disk space or fix the output folder, "
                   "then run the same command again: finished work is kept)", err=True)
        code = EXIT_WRITE_FAILED
    except (click.Abort, KeyboardInterrupt):
        click.echo("wildeye: interrupted (run the same command again to resume)", err=True)
        code = 130
    except Terminated as exc:
        click.echo(f"wildeye: stopped by signal {exc.signum} (run the same command again to resume)", err=True)
        code = 128 + exc.signum
    sys.exit(code if isinstance(code, int) else EXIT_OK)
