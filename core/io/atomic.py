"""Atomic output: a file (or a Zarr folder) appears whole or not at all.

Everything flipconv writes goes through :func:`atomic_path`: the data is
written under a temporary name beside the target and renamed over it at the
end. A reader never sees a partial file; on any failure, Ctrl-C or SIGTERM
the temporary file is removed and an existing target is left as it was, so
writing over the input is safe. The target keeps its permission bits (a new
one gets the umask's).
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from flipconv.core._shared.errors import ImageWriteError
from flipconv.core.io.guard import check_replaceable_folder

#: What this run's temporary names carry (``.NAME.TAG.XXXXXXXX.tmp``), so that a
#: clean-up after a killed worker removes only what this run made: never a
#: user's ``.a.png.notes.tmp`` nor another run's live temporary file. A
#: batch hands its own tag to its workers (:func:`set_run_tag`).
_run_tag = f"flipconv{os.getpid():x}{secrets.token_hex(4)}"


def run_tag() -> str:
    """This run's tag (see :data:`_run_tag`)."""
    return _run_tag


def set_run_tag(tag: str) -> None:
    """Name this process's temporary files with ``tag`` (a batch's worker takes the batch's)."""
    global _run_tag
    if not tag.isalnum():
        raise ValueError(f"a run tag is letters and digits, not {tag!r}")
    _run_tag = tag


def remove_temporaries(outputs: Iterable[str | os.PathLike[str]], tag: str) -> int:
    """Remove what is left of run ``tag``'s temporary files beside ``outputs``.

    Only names this run made for these outputs (``.NAME.TAG.XXXXXXXX.tmp``)
    are removed. Each folder is listed once, so the time grows with the
    number of files, not with its square. Returns how many were removed.

    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in (".a.png.T1.x2y3z4w5.tmp", ".a.png.notes.tmp", ".a.png.T2.abcdefgh.tmp"):
    ...     _ = (folder / name).write_bytes(b"")
    >>> remove_temporaries([folder / "a.png"], "T1")
    1
    >>> sorted(p.name for p in folder.iterdir())
    ['.a.png.T2.abcdefgh.tmp', '.a.png.notes.tmp']
    """
    wanted: dict[str, set[str]] = {}
    for output in outputs:
        folder, name = os.path.split(os.fspath(output))
        wanted.setdefault(folder or ".", set()).add(_temp_stem(name, tag))
    marker, removed = f".{tag}.", 0
    for folder, names in wanted.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            at = entry.name.rfind(marker)
            if not (entry.name.startswith(".") and entry.name.endswith(".tmp") and at > 1):
                continue
            if entry.name[1:at] not in names or len(entry.name) - at != len(marker) + 12:
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed += 1
            except OSError:
                pass
    return removed


def _temp_stem(name: str, tag: str) -> str:
    """``name`` as a temporary name holds it: cut so that ``.NAME.TAG.XXXXXXXX.tmp``
    stays within 255 bytes (an output name of 255 bytes is valid; its temporary
    name would not be)."""
    room = 255 - len(tag) - len("..") - len(".XXXXXXXX.tmp")
    return os.fsdecode(os.fsencode(name)[:room]) if len(os.fsencode(name)) > room else name


def _temporary(target: Path, folder: Path, directory: bool) -> Path:
    """A new, empty temporary file (or folder) in ``folder``, named after ``target``
    and this run (:data:`_run_tag`)."""
    prefix = f".{_temp_stem(target.name, _run_tag)}.{_run_tag}."
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=folder))
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    os.close(fd)
    return Path(name)


@contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, directory: bool = False, stream_ok: bool = True
) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed over it when the block succeeds.

    A target that exists and is not a regular file (``/dev/null``, a FIFO, a
    terminal) is never replaced: with ``stream_ok`` it is handed back itself,
    to be written as a stream; without, it is refused.

    Raises
    ------
    ImageWriteError
        If the folder is missing, the target is a folder (for a file), or the
        temporary file cannot be made or renamed.
    """
    target = Path(path)
    special = _special(target)
    if special is not None:
        if directory or not stream_ok:
            raise ImageWriteError(
                f"{os.fspath(path)}: is a {special}, not a file; this output is written in "
                "place and renamed, so it needs a file name"
            )
        yield target
        return
    folder = _check_target(target, directory)
    # Ctrl-C or SIGTERM between creating the temporary file and the try block
    # that removes it would leave it behind: hold them off until it is guarded.
    held = _hold_signals()
    try:
        tmp = _temporary(target, folder, directory)
    except OSError as exc:
        _release_signals(held)
        raise ImageWriteError(f"{os.fspath(path)}: cannot write ({exc.strerror or exc})") from None
    try:
        _release_signals(held)
        yield tmp
        if target.exists():
            mode = os.stat(target).st_mode & 0o7777
        else:
            mode = (0o777 if directory else 0o666) & ~_umask()
        os.chmod(tmp, mode)
        _replace(tmp, target)
    except BaseException as exc:
        # (asked before the temporary file goes: its removal frees the disk)
        why = (exc.strerror or _short_write(exc, folder)) if isinstance(exc, OSError) else ""
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ImageWriteError(f"{os.fspath(path)}: cannot write ({why})") from None
        raise


def write_bytes_atomic(data: bytes, path: str | os.PathLike[str]) -> None:
    """Write ``data`` to ``path`` atomically (see the module docstring).

    A device or FIFO is written as a stream, never replaced by a file.
    """
    write_atomic(path, lambda f: f.write(data), data)


def write_atomic(
    path: str | os.PathLike[str],
    fill: Callable[[BinaryIO], object],
    data: bytes | None = None,
) -> None:
    """Have ``fill`` write a file, and put it at ``path`` atomically.

    ``fill`` gets the temporary file, open for writing (it may seek). A
    device or FIFO at ``path`` is written as a stream instead: ``data``, the
    bytes ``fill`` writes where the caller has them, or else what ``fill``
    writes into a buffer.
    """
    with atomic_path(path) as tmp:
        if tmp == Path(path):  # a device or FIFO
            if data is None:
                buffer = io.BytesIO()
                fill(buffer)
                data = buffer.getvalue()
            try:
                with open(tmp, "wb") as stream:
                    if stream.isatty():  # /dev/tty, /dev/stdout or /proc/self/fd/1 on one
                        raise ImageWriteError(
                            f"{os.fspath(path)}: is a terminal; refusing to write image bytes "
                            "to a terminal (redirect to a file)"
                        )
                    write_stream(data, stream)
            except OSError as exc:
                raise ImageWriteError(
                    f"{os.fspath(path)}: cannot write ({exc.strerror or exc})"
                ) from None
            return
        with open(tmp, "wb") as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())


def write_stream(data: bytes, stream: BinaryIO) -> None:
    """Write all of ``data`` to a binary stream, surfacing a closed reader.

    A buffered ``write`` of one large block can return as if it succeeded
    when the reader of a pipe goes away mid-way; writing to the descriptor in
    a loop raises :class:`BrokenPipeError` instead, as it should (the command
    line exits 141 for it). Any other failure (a full disk, ``/dev/full``, a
    closed descriptor) is an :class:`ImageWriteError`.
    """
    name = getattr(stream, "name", None)
    label = "stdout" if name in (1, "<stdout>") else str(name or "the output stream")
    try:
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            stream.write(data)
            stream.flush()
            return
        stream.flush()
        view = memoryview(data)
        while view:
            written = os.write(fd, view[: 1 << 20])
            view = view[written:]
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a stream closed in Python
        why = getattr(exc, "strerror", None) or str(exc)
        raise ImageWriteError(f"{label}: cannot write ({why})") from None


def _short_write(exc: OSError, folder: Path) -> str:
    """What a write that stopped short means (a library's own message has no errno).

    tifffile reports ``4096 requested and 3984 written`` where the disk
    filled up: say so when the folder's file system has no room left.
    """
    try:
        room = os.statvfs(folder)
        if room.f_bavail * room.f_frsize < (1 << 16):
            return os.strerror(errno.ENOSPC)
    except (OSError, AttributeError):
        pass
    return str(exc)


def _check_target(target: Path, directory: bool) -> Path:
    """The folder ``target`` is written in, once the target is found fit to write."""
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ImageWriteError(f"{os.fspath(target)}: folder {os.fspath(folder)!r} does not exist")
    if target.is_dir() and not directory:
        raise ImageWriteError(f"{os.fspath(target)}: is a directory")
    if directory:
        check_replaceable_folder(target)
    return folder


def _special(target: Path) -> str | None:
    """What ``target`` is when it exists and is neither a regular file nor a folder."""
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _replace(tmp: Path, target: Path) -> None:
    if not tmp.is_dir():
        os.replace(tmp, target)
        return
    old = None
    if target.exists():  # a folder cannot be renamed over another: move it aside first,
        # to a name of this run's own (a fixed name could be somebody's folder)
        old = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.{_run_tag}.", suffix=".old", dir=tmp.parent)
        )
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Act on Ctrl-C and SIGTERM only once the block has ended.

    For a write that another thread finishes (Zarr's I/O runs on its own
    event loop): an exception raised while the main thread waits for it
    would let the clean-up remove the temporary folder while that thread
    still writes a chunk into it, leaving it behind. Off the main thread,
    where handlers cannot be set, the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def record(signum: int, frame: object) -> None:
        caught.append(signum)

    held: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if handler is not None and handler != signal.SIG_IGN:  # None: set outside Python
            held[sig] = signal.signal(sig, record)
    try:
        yield
    finally:
        for number, before in held.items():
            signal.signal(number, before)
        if caught:
            action = held[caught[0]]
            if callable(action):
                action(caught[0], None)  # raises, as it would have
            else:  # the default action
                os.kill(os.getpid(), caught[0])


def _hold_signals() -> set[int] | None:
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _release_signals(held: set[int] | None) -> None:
    if held is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
