"""Filter files: one file to another, and the naming rules of a batch.

:func:`plan_batch` turns input paths, an output folder and a name template
into ``(input, output, format)`` jobs, refusing before anything runs the
mistakes a batch can make (an output that overwrites an input, two inputs
that map to one output, a name without a format). :func:`filter_file` runs
one job from path to path; the command line runs many of them in parallel
processes and reports each one.
"""

from __future__ import annotations

import os
import string
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flipconv.core.errors import ImageReadError, OptionError
from flipconv.core.kernel import Kernel

#: Placeholders of ``--output-template``.
TEMPLATE_FIELDS = ("stem", "suffix", "name", "parent", "index")
DEFAULT_TEMPLATE = "{stem}{suffix}"


@dataclass(frozen=True)
class Settings:
    """Everything about filtering a file except the file names and the kernel."""

    operation: str
    mode: str = "reflect"
    cval: float = 0.0
    alpha: str = "keep"
    scale: float = 1.0
    bias: float = 0.0
    out_range: str = "clip"
    dtype: str | None = None
    normalize: bool = False
    method: str = "auto"
    threads: int | None = None
    quality: int = 95
    compression: int | None = None
    max_pixels: int = 500_000_000
    memory_limit: int | None = None


@dataclass(frozen=True)
class Job:
    """One input and the output it maps to (``fmt`` None: keep the input's format)."""

    input: str
    output: str
    fmt: str | None


@dataclass
class FileResult:
    """What happened to one file (``status`` is ``ok`` or ``error``)."""

    input: str
    output: str
    status: str = "ok"
    shape: list[int] = field(default_factory=list)
    dtype: str | None = None
    format: str | None = None
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["seconds"] = round(self.seconds, 4)
        if self.error is None:
            del doc["error"]
        return doc


def check_template(template: str) -> None:
    """Refuse a template with unknown or malformed placeholders.

    Examples
    --------
    >>> check_template("{stem}-blur{suffix}")
    >>> check_template("{stme}.png")
    Traceback (most recent call last):
    ...
    flipconv.core.errors.OptionError: --output-template: unknown placeholder {stme} (known: ...)
    """
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise OptionError(f"--output-template {template!r}: {exc}") from None
    for name in fields:
        base = name.split(".")[0].split("[")[0]
        if base not in TEMPLATE_FIELDS:
            raise OptionError(
                f"--output-template: unknown placeholder {{{name}}} "
                f"(known: {', '.join(TEMPLATE_FIELDS)})"
            )
    if not fields:
        raise OptionError(
            f"--output-template {template!r} has no placeholder, so every file would get "
            "the same name; use {stem} or {name}"
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
    return template.format(
        stem=p.stem,
        suffix=suffix if suffix is not None else p.suffix,
        name=p.stem + suffix if suffix is not None else p.name,
        parent=p.resolve().parent.name,
        index=index,
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
    """
    from flipconv.core.formats import EXTENSIONS, SUFFIX

    if not inputs:
        raise OptionError("no input files")
    if "-" in inputs:
        raise OptionError("'-' (stdin) cannot be part of a batch of files")
    for path in inputs:  # all of them before any output can be written
        check_input(path)
    template = template or DEFAULT_TEMPLATE
    check_template(template)
    if out_dir is not None:
        folder = Path(out_dir)
        if folder.exists() and not folder.is_dir():
            raise OptionError(f"output {out_dir!r} is not a folder")
        if not folder.exists():
            if not mkdir:
                raise OptionError(f"output folder {out_dir!r} does not exist (add --mkdir)")
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OptionError(
                    f"cannot create folder {out_dir!r}: {exc.strerror or exc}"
                ) from None
    suffix = SUFFIX[fmt] if fmt is not None else None
    jobs: list[Job] = []
    claimed: dict[str, str] = {}
    sources = {os.path.realpath(p): p for p in inputs}
    for index, path in enumerate(inputs):
        name = output_name(template, path, index, suffix)
        base = Path(out_dir) if out_dir is not None else Path(path).parent
        output = str(base / name)
        by_name = EXTENSIONS.get(Path(output).suffix.lower())
        if fmt is None and by_name is None:
            raise OptionError(
                f"output name {output!r} has no image extension; give --format or put "
                "one in --output-template"
            )
        if fmt is not None and by_name is not None and by_name != fmt:
            raise OptionError(f"output name {output!r} disagrees with --format {fmt}")
        real = os.path.realpath(output)
        if real in claimed:
            raise OptionError(
                f"{claimed[real]!r} and {path!r} would both be written to {output!r}; "
                "use --output-template with {parent} or {index}"
            )
        claimed[real] = path
        if real in sources:
            if sources[real] != path and os.path.realpath(path) != real:
                raise OptionError(
                    f"the output for {path!r} would overwrite input {sources[real]!r}"
                )
            if not in_place:
                raise OptionError(
                    f"the output for {path!r} is the input itself; add --in-place to "
                    "replace it, or choose another folder or template"
                )
        jobs.append(Job(path, output, fmt or by_name))
    return jobs


def filter_file(job: Job, kernel: Kernel, settings: Settings) -> FileResult:
    """Read, filter and atomically write one file; errors come back in the result.

    Only :class:`~flipconv.core.errors.FlipconvError` and ``MemoryError`` are
    turned into ``status="error"``; anything else is a bug and propagates.
    """
    from flipconv.core.errors import FlipconvError

    start = time.perf_counter()
    result = FileResult(job.input, job.output)
    try:
        _filter_file(job, kernel, settings, result)
    except FlipconvError as exc:
        result.status, result.error = "error", str(exc)
    except MemoryError:
        result.status, result.error = "error", f"{job.input}: out of memory"
    result.seconds = time.perf_counter() - start
    return result


def _filter_file(job: Job, kernel: Kernel, s: Settings, result: FileResult) -> None:
    from flipconv.core.filters import filter_image
    from flipconv.core.formats import check_writable
    from flipconv.core.limits import check_working_memory
    from flipconv.core.readers import read_image
    from flipconv.core.writers import write_image

    image = read_image(job.input, max_pixels=s.max_pixels)
    result.notes = list(image.notes)
    fmt = job.fmt or image.format
    channels = image.pixels.shape[2] if image.pixels.ndim == 3 else 1
    check_writable(s.dtype or image.pixels.dtype, channels, fmt)
    if s.memory_limit:
        check_working_memory(image.pixels.shape, s.memory_limit, label=job.input)
    pixels = filter_image(
        image.pixels,
        kernel,
        operation=s.operation,
        mode=s.mode,
        cval=s.cval,  # type: ignore[arg-type]
        alpha=s.alpha,
        scale=s.scale,
        bias=s.bias,
        out_range=s.out_range,  # type: ignore[arg-type]
        dtype=s.dtype,
        normalize=s.normalize,
        method=s.method,
        threads=s.threads,
    )
    write_image(
        pixels, job.output, fmt=fmt, quality=s.quality, compression=s.compression, threads=s.threads
    )
    result.shape = list(pixels.shape)
    result.dtype = str(pixels.dtype)
    result.format = fmt
