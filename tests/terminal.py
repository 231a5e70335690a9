"""Run the real `wildeye` CLI with stderr on a pseudo-terminal, and replay what it drew there screen by screen.

A progress display is only drawn on a terminal, so the tests give the command one (`pty`), read every byte it
writes, and replay the cursor moves and erases a terminal would apply. The replay is small on purpose: it knows
the control sequences rich's live display uses (carriage return, cursor up/down/column, erase line, hide/show
cursor, colours), which is enough to see which text ends up on which row.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from typing import Iterator

CSI = re.compile(r"\x1b\[([?0-9;]*)([@-~])")


def run_on_terminal(*args, code: str | None = None, env=None, timeout=300, rows: int = 40, columns: int = 140):
    """`wildeye ARGS` (or `python -c CODE ARGS`) -> (returncode, stdout text, everything drawn on the terminal as
    text). stdout stays a pipe, as when a summary is redirected; stderr is the terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = {**os.environ, "FIFTYONE_DO_NOT_TRACK": "true", "COLUMNS": str(columns), "TERM": "xterm-256color",
                **(env or {})}
    for name in ("NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        full_env.pop(name, None)
    command = ["-c", code] if code is not None else ["-m", "wildeye"]
    proc = subprocess.Popen([sys.executable, *command, *map(str, args)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, env=full_env)
    os.close(slave)
    chunks: list[bytes] = []

    def pump() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not data:
                break
            chunks.append(data)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    finally:
        reader.join(timeout=30)
        os.close(master)
    return proc.returncode, stdout.decode("utf-8", "replace"), b"".join(chunks).decode("utf-8", "replace")


def screens(drawn: str) -> Iterator[list[str]]:
    """The terminal's rows after every newline, cursor move and erase in `drawn`."""
    rows: list[list[str]] = [[]]
    row = col = 0
    i = 0
    while i < len(drawn):
        ch = drawn[i]
        if ch == "\x1b":
            match = CSI.match(drawn, i)
            if match is None:  # another escape (e.g. ESC 7): skip it
                i += 2
                continue
            params, command = match.groups()
            number = int(params) if params.isdigit() else None
            if command == "A":
                row = max(0, row - (number or 1))
            elif command == "B":
                row += number or 1
            elif command == "G":
                col = (number or 1) - 1
            elif command == "K":
                while len(rows) <= row:
                    rows.append([])
                if number == 2:
                    rows[row] = []
                elif not number:
                    del rows[row][col:]
            i = match.end()
            yield ["".join(r).rstrip() for r in rows]
            continue
        i += 1
        if ch == "\n":
            row, col = row + 1, 0
            yield ["".join(r).rstrip() for r in rows]
        elif ch == "\r":
            col = 0
        elif ch >= " " or ch == "\t":
            while len(rows) <= row:
                rows.append([])
            line = rows[row]
            line.extend(" " * (col - len(line)))
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1


def final_screen(drawn: str) -> list[str]:
    """What the terminal shows once everything is drawn."""
    last = [""]
    for last in screens(drawn):
        pass
    return last


def check_one_display(drawn: str, stages: tuple[str, ...]) -> int:
    """Every screen that shows a stage's row shows the stages before it on the rows right above it (one display,
    a row per stage), never a stage drawn over another's line. Returns how many screens showed the last stage."""
    shown = 0
    for screen in screens(drawn):
        rows = {stage: [n for n, line in enumerate(screen) if line.lstrip().startswith(stage)] for stage in stages}
        for earlier, later in zip(stages, stages[1:]):
            for n in rows[later]:
                above = screen[n - 1].lstrip() if n > 0 else ""
                assert above.startswith(earlier), (f"the {later!r} row is drawn without the {earlier!r} row above "
                                                   f"it (two displays on one line?):\n" + "\n".join(screen))
        shown += bool(rows[stages[-1]])
    return shown
