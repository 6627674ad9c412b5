"""Planning a batch of files: output names, folders, and the mistakes refused first.

:func:`plan_batch` turns input paths, an output folder and a name template
into ``(input, output, format)`` jobs, refusing before anything runs the
mistakes a batch can make (a missing input, an output that overwrites an
input, two inputs that map to one output, a name without a format).
:mod:`flipconv.core.files.workers` then runs the jobs.
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass
from pathlib import Path

from flipconv.core._shared.errors import ImageReadError, OptionError
from flipconv.core.io.formats import EXTENSIONS, SUFFIX
from flipconv.core.io.guard import Read, Write, check_writes, identity, kernel_reads, place
from flipconv.core.kernels.kernel import Filterable

#: Placeholders of an output name template.
TEMPLATE_FIELDS = ("stem", "suffix", "name", "parent", "index")
#: The longest file name (bytes) the common file systems take.
NAME_MAX = 255
DEFAULT_TEMPLATE = "{stem}{suffix}"


@dataclass(frozen=True)
class Job:
    """One input and the output it maps to (``fmt`` None: keep the input's format;
    ``in_place``: the output is the input, replaced as asked)."""

    input: str
    output: str
    fmt: str | None
    in_place: bool = False


def check_template(template: str) -> None:
    """Refuse a template with unknown or malformed placeholders.

    A placeholder is a name, with an optional format spec of its own type
    (``{index:03d}``): no attributes or indexes (``{stem.upper}`` would name
    files after a method), no conversions, no nested fields, no width that
    makes a name longer than a file system allows; and no absolute path,
    which would leave the output folder. The template is tried on a sample
    file here, so a spec its value cannot take is found before any work.

    Examples
    --------
    >>> check_template("{stem}-blur{suffix}")
    >>> check_template("{stme}.png")
    Traceback (most recent call last):
    ...
    flipconv.core._shared.errors.OptionError: `template`: unknown placeholder {stme} (known: ...)
    >>> check_template("{stem.upper}.png")
    Traceback (most recent call last):
    ...
    flipconv.core._shared.errors.OptionError: `template`: {stem.upper}: placeholders are ...
    """
    try:
        parts = [p for p in string.Formatter().parse(template) if p[1] is not None]
    except ValueError as exc:
        raise OptionError(f"`template` {template!r}: {exc}") from None
    for _, name, spec, conversion in parts:
        _check_field(str(name), spec or "", conversion)
    if not parts:
        raise OptionError(
            f"`template` {template!r} has no placeholder, so every file would get "
            "the same name; use {stem} or {name}"
        )
    if os.path.isabs(template):
        raise OptionError(
            f"`template` {template!r} is an absolute path; it names each output inside the "
            "output folder, or beside its input"
        )
    output_name(template, "folder/sample.png", 0, None)  # a spec the value cannot take


def _check_field(name: str, spec: str, conversion: str | None) -> None:
    if name not in TEMPLATE_FIELDS:
        base = re.split(r"[.\[]", name)[0]
        if base in TEMPLATE_FIELDS:
            raise OptionError(
                f"`template`: {{{name}}}: placeholders are plain names (no attributes or indexes)"
            )
        raise OptionError(
            f"`template`: unknown placeholder {{{name}}} (known: {', '.join(TEMPLATE_FIELDS)})"
        )
    if conversion is not None:
        raise OptionError(f"`template`: {{{name}!{conversion}}}: conversions are not supported")
    if "{" in spec:
        raise OptionError(f"`template`: {{{name}:{spec}}}: a spec cannot hold a placeholder")
    width = max((int(n) for n in re.findall(r"\d+", spec)), default=0)
    if width > NAME_MAX:
        raise OptionError(
            f"`template`: {{{name}:{spec}}} is wider than a file name may be ({NAME_MAX})"
        )


def output_name(template: str, path: str, index: int, suffix: str | None) -> str:
    """Format ``template`` for ``path`` (``suffix`` replaces the input's, if given).

    Examples
    --------
    >>> output_name("{stem}-blur{suffix}", "shots/a.png", 0, None)
    'a-blur.png'
    >>> output_name("{parent}_{stem}{suffix}", "shots/a.png", 3, ".npy")
    'shots_a.npy'
    >>> output_name("{index:03d}-{name}", "a.png", 7, None)
    '007-a.png'
    """
    p = Path(path)
    try:
        name = template.format(
            stem=p.stem,
            suffix=suffix if suffix is not None else p.suffix,
            name=p.stem + suffix if suffix is not None else p.name,
            parent=p.resolve().parent.name,
            index=index,
        )
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise OptionError(f"`template` {template!r}: {exc}") from None
    return name


def _check_name(name: str, template: str, path: str) -> None:
    """Refuse an output name with a part longer than a file system takes."""
    for part in Path(name).parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise OptionError(
                f"`template` {template!r} makes a name of {len(os.fsencode(part))} bytes for "
                f"{path!r}, longer than a file name may be ({NAME_MAX})"
            )


def check_input(path: str) -> None:
    """Refuse an input that is missing, a folder, or unreadable.

    A batch checks every input before it writes anything, so a mistyped or
    misplaced name can never leave some files replaced and others not.
    """
    import stat

    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImageReadError(f"{path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageReadError(f"{path}: is a folder, not an image")
    if not os.access(path, os.R_OK):
        raise ImageReadError(f"{path}: permission denied")


def plan_batch(
    inputs: list[str],
    *,
    out_dir: str | None,
    template: str | None = None,
    fmt: str | None = None,
    in_place: bool = False,
    mkdir: bool = False,
    kernel: Filterable | None = None,
) -> list[Job]:
    """Map each input to its output, or refuse with :class:`OptionError`.

    Parameters
    ----------
    inputs : list of str
        Image paths (``-`` is not allowed in a batch).
    out_dir : str or None
        Output folder; None writes next to each input (needs ``in_place`` or
        a ``template`` that changes the names).
    template : str, optional
        Output names, with :data:`TEMPLATE_FIELDS`; default ``{stem}{suffix}``.
        ``{suffix}`` is the input's, or the one of ``fmt`` when given.
    fmt : str, optional
        Output format for every file.
    in_place : bool
        Allow an output to replace its own input (atomically, once filtered).
    mkdir : bool
        Create ``out_dir`` (and parents) if missing.
    kernel : Kernel or Stack, optional
        The kernel, whose files no output may replace.

    Outputs are compared with the inputs, the kernel files and each other
    as files (:mod:`flipconv.core.io.guard`), never as names: one file named
    twice (``a.png ./a.png``, a hard link, a bind mount) is one output.
    """
    if not inputs:
        raise OptionError("no input files")
    if "-" in inputs:
        raise OptionError("'-' (stdin) cannot be part of a batch of files")
    for path in inputs:  # all of them before any output can be written
        check_input(path)
    template = template or DEFAULT_TEMPLATE
    check_template(template)
    if out_dir is not None:
        _output_folder(out_dir, mkdir)
    suffix = SUFFIX[fmt] if fmt is not None else None
    jobs: list[Job] = []
    writes: list[Write] = []
    claimed: dict[object, str] = {}
    for index, path in enumerate(inputs):
        base = Path(out_dir) if out_dir is not None else Path(path).parent
        name = output_name(template, path, index, suffix)
        _check_name(name, template, path)
        output = str(base / name)
        by_name = _output_format(output, fmt)
        where = place(output) or os.path.realpath(output)
        if where in claimed and identity(path) == identity(claimed[where]):
            raise OptionError(
                f"{claimed[where]!r} and {path!r} are one file, named twice; name it once"
            )
        if where in claimed:
            raise OptionError(
                f"{claimed[where]!r} and {path!r} would both be written to {output!r}; "
                "use a `template` with {parent} or {index}"
            )
        claimed[where] = path
        own = identity(path) is not None and identity(output) == identity(path)
        if own and not in_place:
            raise OptionError(
                f"the output for {path!r} is the input itself; `in_place` lets the output "
                "replace it; or choose another folder or template"
            )
        writes.append(Write(output, output, own=path if own else None, of=path))
        jobs.append(Job(path, output, fmt or by_name, in_place=own))
    reads = [Read(p, p) for p in inputs] + (kernel_reads(kernel) if kernel is not None else [])
    check_writes(writes, reads)
    _template_folders(jobs, mkdir)
    return jobs


def _template_folders(jobs: list[Job], mkdir: bool) -> None:
    """The folders a template names (``sub/{name}``): there, or made by ``mkdir``, before
    any file is read (they were found missing only as each file was written)."""
    missing = sorted({str(Path(job.output).parent) for job in jobs} - {"", "."})
    missing = [folder for folder in missing if not os.path.isdir(folder)]
    if missing and not mkdir:
        raise OptionError(f"output folder {missing[0]!r} does not exist (`mkdir` creates it)")
    for folder in missing:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise OptionError(f"cannot create folder {folder!r}: {exc.strerror or exc}") from None


def _output_folder(out_dir: str, mkdir: bool) -> None:
    """Refuse an output folder that is a file or missing (unless ``mkdir`` makes it)."""
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise OptionError(f"output {out_dir!r} is not a folder")
    if folder.exists():
        return
    if folder.suffix.lower() in EXTENSIONS and not out_dir.endswith(("/", os.sep)):
        # an image's name: one output file meant, not a folder to make of that name
        raise OptionError(
            f"{out_dir!r} names one file, and several inputs write one file each: give "
            f"-o FOLDER/ (`mkdir` makes it), or one input"
        )
    if not mkdir:
        raise OptionError(f"output folder {out_dir!r} does not exist (`mkdir` creates it)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptionError(f"cannot create folder {out_dir!r}: {exc.strerror or exc}") from None


def _output_format(output: str, fmt: str | None) -> str | None:
    """The format an output's extension names, checked against ``fmt``."""
    by_name = EXTENSIONS.get(Path(output).suffix.lower())
    if fmt is None and by_name is None:
        raise OptionError(
            f"output name {output!r} has no image extension; give `fmt` or put one in `template`"
        )
    if fmt is not None and by_name is not None and by_name != fmt:
        raise OptionError(f"output name {output!r} disagrees with `fmt` {fmt}")
    return by_name
