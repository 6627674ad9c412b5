"""Every path a run writes against every path it reads: one check, by identity.

An output (the filtered image, a batch's files, a ``--picture``, a Zarr
store) must never be something the same run reads: an image, a kernel file,
the file stdin is redirected from. Names do not decide, identities do: a
file's or folder's (device, inode), so ``./a.png``, ``sub/../a.png``, a
symlink, a hard link and the same file seen through a bind mount are one
place. A name that does not exist yet is its folder's identity plus its own
name, so two spellings of one new output are one place too.

Folders count both ways: a Zarr store written replaces a whole folder, so
it may hold no input; and an output inside a folder that is read (a Zarr
store) would change the input.

>>> import os, pathlib, tempfile
>>> folder = tempfile.mkdtemp()
>>> photo = os.path.join(folder, "a.png")
>>> _ = pathlib.Path(photo).write_bytes(b"x")
>>> check_writes([Write(os.path.join(folder, ".", "a.png"), "b.png")], [Read(photo, "a.png")])
Traceback (most recent call last):
...
flipconv.core._shared.errors.OptionError: the output 'b.png' is the input itself ('a.png'); ...
>>> check_writes([Write(os.path.join(folder, "b.png"), "b.png")], [Read(photo, "a.png")])
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flipconv.core._shared.errors import OptionError
from flipconv.core.kernels.kernel import Filterable
from flipconv.core.kernels.specs import kernel_files

#: A file's or folder's (device, inode).
Identity = tuple[int, int]
#: Where a path points: its identity, or for a name not there yet, its folder's and its name.
Place = tuple[int, int] | tuple[tuple[int, int], str]


@dataclass(frozen=True)
class Read:
    """Something a run reads: a path, ``-`` (stdin) or an open file.

    ``name`` is the user's spelling; ``role`` says what it is in a message
    (``input``, ``kernel file``, ``image``).
    """

    source: object
    name: str
    role: str = "input"


@dataclass(frozen=True)
class Write:
    """A path a run writes; ``own`` is the input it may replace (``in_place``), if any.

    ``of`` names the input an output is made from, where several are (a batch).
    """

    target: object
    name: str
    role: str = "output"
    own: object | None = None
    of: str | None = None


def _stat(obj: object) -> os.stat_result | None:
    """``os.stat`` of a regular file or folder: a path, ``-`` (stdin) or an open file."""
    try:
        if isinstance(obj, (str, os.PathLike)):
            if os.fspath(obj) == "-":
                if sys.stdin is None:
                    return None
                info = os.fstat(sys.stdin.fileno())
            else:
                info = os.stat(obj)
        else:
            fileno = getattr(obj, "fileno", None)
            if fileno is None:
                return None
            info = os.fstat(fileno())
    except (OSError, ValueError, AttributeError):
        return None
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        return None
    return info


def identity(obj: object) -> Identity | None:
    """The (device, inode) of a regular file or folder: a path, ``-`` (stdin) or an open file.

    None for a name that does not exist, a pipe, a terminal or a device:
    nothing there can be lost.
    """
    info = _stat(obj)
    return None if info is None else (info.st_dev, info.st_ino)


def kernel_reads(kernel: Filterable) -> list[Read]:
    """The kernel files (or stdin, for ``@-``) a parsed kernel was read from, as reads."""
    return [Read(path, path, "kernel file") for path in kernel_files(kernel)]


#: What a Zarr store holds at its top: metadata, and chunks (``c/`` in Zarr 3, ``0.1`` in 2).
ZARR_ENTRIES = {"zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata", "c"}


def check_replaceable_folder(path: str | os.PathLike[str]) -> None:
    """Refuse (:class:`OptionError`) to replace a folder that is not a Zarr store.

    Writing a Zarr output replaces the folder at ``path`` whole. That is
    what a rerun wants when the folder is an earlier output (a Zarr store and
    nothing else), and never what anyone wants for any other folder: its
    files would be deleted. A name that is not there, or not a folder, is
    left to the writer.
    """
    try:
        names = os.listdir(path)
    except (NotADirectoryError, FileNotFoundError):
        return
    except OSError as exc:
        raise OptionError(f"{os.fspath(path)!r}: cannot list it ({exc.strerror})") from None
    foreign = sorted(n for n in names if n not in ZARR_ENTRIES and not _chunk_name(n))
    if foreign or not ({"zarr.json", ".zarray"} & set(names)):
        why = f"it holds {foreign[0]!r}" if foreign else "it holds no Zarr array"
        raise OptionError(
            f"{os.fspath(path)!r} is a folder that is not a Zarr store ({why}); writing a "
            "Zarr output there would delete it: choose another name, or remove the folder"
        )


def _chunk_name(name: str) -> bool:
    """A Zarr 2 chunk's name: numbers joined by dots (``0.1.0``)."""
    return all(part.isdigit() for part in name.split("."))


def check_picture(
    picture: str, kernels: Iterable[Filterable], image: str | None = None, *more: str
) -> None:
    """Refuse (:class:`OptionError`) a picture path that is an image or a kernel file read."""
    reads = [Read(path, path, "image") for path in (image, *more) if path is not None]
    for kernel in kernels:
        reads += kernel_reads(kernel)
    check_writes([Write(picture, picture, "picture")], reads)


def place(path: str | os.PathLike[str]) -> Place | None:
    """Where ``path`` points, also when it does not exist yet (see the module docstring)."""
    found = identity(path)
    if found is not None:
        return found
    text = os.fspath(path)
    folder = identity(os.path.dirname(text) or ".")
    return None if folder is None else (folder, os.path.basename(text))


def folders_around(obj: object) -> set[Identity]:
    """The identities of every folder that holds ``obj`` (a path), up to the root."""
    if not isinstance(obj, (str, os.PathLike)) or os.fspath(obj) == "-":
        return set()
    found: set[Identity] = set()
    # Two walks: by the name as written (a bind mount or a folder symlink in
    # it) and by the real path (a symlinked file lives where it points).
    for start in {os.path.abspath(os.fspath(obj)), os.path.realpath(obj)}:
        folder = os.path.dirname(start)
        while True:
            here = identity(folder)
            if here is not None:
                found.add(here)
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
    return found


def check_writes(writes: Iterable[Write], reads: Sequence[Read]) -> None:
    """Refuse (:class:`OptionError`) any write that would change something read.

    A write may be the very input it names as ``own`` (writing in place);
    never a kernel file, another input, a folder holding an input, or a path
    inside a folder that is read. Each write costs a few ``stat`` calls,
    whatever the number of reads, so a batch of thousands checks in time
    linear in its files.
    """
    known = _Reads(reads)
    for w in writes:
        if isinstance(w.target, (str, os.PathLike)) and os.fspath(w.target) != "-":
            known.check(w)  # a stream is not checked here: the caller knows what stdout is


class _Reads:
    """The reads by identity, for :func:`check_writes`."""

    def __init__(self, reads: Sequence[Read]) -> None:
        self.reads = reads
        self.by_identity: dict[Identity, list[Read]] = {}
        self.folders: dict[Identity, Read] = {}
        self._holders: dict[Identity, Read] | None = None
        for r in reads:
            info = _stat(r.source)
            if info is not None:
                self.by_identity.setdefault((info.st_dev, info.st_ino), []).append(r)
                if stat.S_ISDIR(info.st_mode):
                    self.folders[(info.st_dev, info.st_ino)] = r

    def holders(self) -> dict[Identity, Read]:
        """Each folder that holds a read, and that read (made on first use)."""
        if self._holders is None:
            self._holders = {f: r for r in self.reads for f in folders_around(r.source)}
        return self._holders

    def check(self, w: Write) -> None:
        info = _stat(w.target)
        if info is not None:
            target = (info.st_dev, info.st_ino)
            own = identity(w.own) if w.own is not None else None
            for r in self.by_identity.get(target, ()):
                if not (own == target and r.role == "input"):
                    raise OptionError(_same_message(w, r))
            if stat.S_ISDIR(info.st_mode) and target in self.holders():
                r = self.holders()[target]
                raise OptionError(
                    f"the {w.role} {w.name!r} is a folder that holds the {r.role} "
                    f"{_shown(r)}; writing it would delete that"
                )
        if self.folders:
            for folder in folders_around(w.target) & self.folders.keys():
                r = self.folders[folder]
                raise OptionError(
                    f"the {w.role} {w.name!r} is inside the {r.role} {_shown(r)}, "
                    "which it would change"
                )


def _shown(r: Read) -> str:
    return "stdin" if r.name == "-" else repr(r.name)


def _same_message(w: Write, r: Read) -> str:
    same = "" if w.name == r.name else f" ({_shown(r)})"
    if w.of is not None:
        return f"the {w.role} for {w.of!r}, {w.name!r}, would replace the {r.role} {_shown(r)}"
    hint = ""
    if (w.role, r.role) == ("output", "input"):
        hint = "; `in_place` lets the output replace it"
    return f"the {w.role} {w.name!r} is the {r.role} itself{same}{hint}"
