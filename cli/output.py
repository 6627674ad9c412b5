"""What the command line writes: messages on stderr, data on stdout, tables, progress.

stdout carries data only (image bytes, or JSON with ``--json``); every
message and progress bar goes to stderr, and progress only on a terminal.
"""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any, BinaryIO, cast

import click

#: The root command group, given by :mod:`flipconv.cli.main` once it is built.
ROOT: list[click.Command] = []
_FLAGS: dict[str, str] = {}


def flags() -> dict[str, str]:
    """The flag for each parameter that core messages name as `name`.

    Read from the commands' own options, the one place they are declared:
    the long flag, the environment variable where one is read too, and
    ``no_NAME`` for the off side of an on/off pair.

    >>> from flipconv.cli.main import cli  # builds the commands
    >>> from flipconv.cli.output import flags
    >>> flags()["template"], flags()["no_normalize"]
    ('--output-template', '--no-normalize')
    >>> flags()["max_pixels"]
    '--max-pixels (env FLIPCONV_MAX_PIXELS)'
    """
    if _FLAGS or not ROOT:
        return _FLAGS
    commands = list(ROOT)
    while commands:
        command = commands.pop()
        commands.extend(getattr(command, "commands", {}).values())
        for param in command.params:
            if not isinstance(param, click.Option) or param.name is None:
                continue
            flag = _long(param.opts)
            if isinstance(param.envvar, str):
                flag += f" (env {param.envvar})"
            _FLAGS.setdefault(param.name, flag)
            if param.secondary_opts:
                _FLAGS.setdefault(f"no_{param.name}", _long(param.secondary_opts))
    return _FLAGS


def _long(opts: list[str]) -> str:
    """The long spelling of an option (``--format`` of ``-f/--format``)."""
    return max(opts, key=len)


def with_flags(message: str) -> str:
    """A core message as the command line says it, on one line: each `parameter`
    becomes its flag, and line breaks (a file name may hold one) are escaped.

    >>> from flipconv.cli.main import cli  # builds the commands
    >>> from flipconv.cli.output import with_flags
    >>> with_flags("output folder 'out' does not exist (`mkdir` creates it)")
    "output folder 'out' does not exist (--mkdir creates it)"
    >>> with_flags("a\\nb.png: no such file")
    'a\\\\nb.png: no such file'
    """
    message = printable(message)
    table = flags()
    return re.sub(r"`(\w+)`", lambda m: table.get(m.group(1), m.group(1)), message)


def print_json(doc: Any, *, indent: int | None = None) -> None:
    """One JSON document on stdout, flushed: a stdout that cannot take it (full,
    closed, or not open at all: ``>&-``) is an error, never a silent loss."""
    import json

    if sys.stdout is None:
        raise click.ClickException("stdout is closed, so the JSON report has nowhere to go")
    try:
        sys.stdout.write(json.dumps(doc, indent=indent) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: closed in Python
        why = getattr(exc, "strerror", None) or str(exc)
        raise click.ClickException(f"stdout: cannot write the JSON report ({why})") from None


#: Control characters (C0 but tab, DEL, C1): a tool's escape sequences, a file name's.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
#: Terminal sequences, dropped whole: colours and cursor moves (CSI), titles (OSC).
_STYLING = re.compile("\x1b\\[[0-?]*[ -/]*[@-~]|\x1b\\][^\x07\x1b]*(?:\x07|\x1b\\\\)")


def printable(message: str) -> str:
    r"""``message`` with its control characters spelled out, so that it is one line and
    cannot drive the terminal (a probed tool's colours, a file name's escape sequences).

    >>> printable("a \x1b[31mred\x1b[0m\nb\x1b]0;title\x07 \x07\x1bc")
    'a red\\nb \\x07\\x1bc'
    """
    named = {"\n": "\\n", "\r": "\\r"}
    message = _STYLING.sub("", message)
    return _CONTROL.sub(lambda m: named.get(m.group(), f"\\x{ord(m.group()):02x}"), message)


def stderr(message: str) -> None:
    """One message line on stderr, its control characters spelled out."""
    click.echo(printable(message), err=True)


def silence_stdout() -> None:
    # Python flushes stdout at exit; once the reader is gone that would raise
    # again, so point the descriptor at /dev/null (the documented recipe).
    """Point stdout at /dev/null once its reader has gone away."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def report_console(width: int) -> Any:
    """A rich console for a report on stdout: the window's width on a terminal, else ``width``.

    A reader that goes away (``| head``) ends the command with 141 like every
    other command; rich's own handling would exit 1 without a word.
    """
    from rich.console import Console

    class _Report(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return _Report(highlight=False, width=None if is_terminal(sys.stdout) else width)


def redirected_file(stream: Any) -> str | None:
    """The file name a stream is redirected to (``> out.png``), when it is a regular file.

    Read from /proc on Linux; None for a pipe, a terminal, or elsewhere.
    """
    import stat

    try:
        fd = stream.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.readlink(f"/proc/self/fd/{fd}")
    except (AttributeError, OSError, ValueError):
        return None


def binary(stream: Any) -> BinaryIO:
    """The byte stream under a text stream (sys.stdin/sys.stdout)."""
    return cast(BinaryIO, getattr(stream, "buffer", stream))


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (False for anything that cannot say)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


#: Largest side printed as a table; bigger matrices show the window around the origin.
EXPLAIN_SIDE = 9


def matrix_table(title: str, values: Any, mark: tuple[int, int] | None) -> Any:
    """A rich table of a kernel's weights, ``mark`` (the origin) boxed."""
    from rich import box
    from rich.table import Table

    h, w = values.shape
    r0 = 0 if mark is None else min(max(0, mark[0] - EXPLAIN_SIDE // 2), max(0, h - EXPLAIN_SIDE))
    c0 = 0 if mark is None else min(max(0, mark[1] - EXPLAIN_SIDE // 2), max(0, w - EXPLAIN_SIDE))
    rows, cols = range(r0, min(h, r0 + EXPLAIN_SIDE)), range(c0, min(w, c0 + EXPLAIN_SIDE))
    if len(rows) < h or len(cols) < w:
        title += (
            f" (rows {rows.start}-{rows.stop - 1}, columns {cols.start}-{cols.stop - 1} of {h}x{w})"
        )
    from rich.markup import escape

    table = Table(
        title=escape(title),
        box=box.SIMPLE,
        show_header=False,
        pad_edge=False,
        min_width=len(title) + 2,
        title_justify="left",
    )
    for _ in cols:
        table.add_column(justify="right")
    peak = float(abs(values).max()) or 1.0
    for r in rows:
        cells = []
        for c in cols:
            v = float(values[r, c])
            text = "0" if v == 0 else f"{v:.4g}"
            colour = "red" if v > 0 else "blue" if v < 0 else "dim"
            style = f"bold {colour}" if abs(v) > 0.5 * peak else colour
            if mark is not None and (r, c) == mark:
                text, style = f"[{text}]", f"{style} reverse"
            cells.append(f"[{style}]{text}[/]")
        table.add_row(*cells)
    return table


class Progress:
    """A rich progress bar on stderr: done / total, elapsed, and for files a rate and name.

    Only for a terminal: callers check :func:`is_terminal` and ``-q`` first.
    """

    def __init__(self, label: str, total: int | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        self._bar = Bar(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("{task.fields[current]}"),
            console=Console(stderr=True),
        )
        self._task = self._bar.add_task(label, total=total, rate="", current="")
        self._start = time.perf_counter()
        self._bar.start()

    def update(self, done: int, total: int) -> None:
        """Show ``done`` of ``total`` (tiles)."""
        self._bar.update(self._task, completed=done, total=total)

    def advance(self, name: str, done: int) -> None:
        """One more file done: ``name``, and the rate so far."""
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        self._bar.update(
            self._task,
            completed=done,
            rate=f"{done / elapsed:.1f} files/s",
            current=click.format_filename(name, shorten=True),
        )

    def print(self, line: str) -> None:
        """A message line above the bar."""
        self._bar.console.print(line, markup=False, highlight=False)

    def close(self) -> None:
        """Take the bar off the terminal."""
        self._bar.stop()
