"""The one call the command line makes to filter files: which job, and running it.

A request is one file (or a pipe), one file in tiles, or a batch;
:func:`job_kind` tells which from the inputs and the output, and refuses
what cannot be meant; :func:`plan_tiling` decides tiles for one file;
:func:`plan_files` plans a batch (nothing is written if any file is wrong)
and :func:`run_files` runs it on local workers or a Dask cluster, yielding
each file's result as it finishes and closing the cluster's client after.
Messages name parameters (`` `template` ``); the command line turns them into
flags.

>>> job_kind(["a.png"], "out.png")
'one'
>>> job_kind(["a.png", "b.png"], "out/")
'batch'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Literal

from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.limits import default_threads
from flipconv.core.engine.filters import KernelLike
from flipconv.core.files.batch import Job, plan_batch
from flipconv.core.files.pipeline import (
    FileResult,
    Settings,
    Tiling,
    check_dtype_for_format,
    plan_tiles,
)
from flipconv.core.files.scheduler import connect, is_cluster
from flipconv.core.io.formats import EXTENSIONS
from flipconv.core.kernels.kernel import Filterable

JobKind = Literal["one", "batch"]


def job_kind(
    inputs: Sequence[str], output: str, *, template: str | None = None, in_place: bool = False
) -> JobKind:
    """``one`` file (or a pipe, ``-``) or a ``batch``: several inputs, an output
    folder, an output template, or in-place writing without an output.

    Raises
    ------
    OptionError
        For several inputs with nowhere to write them.
    """
    # a .zarr output is one image (a store), also when an earlier run made the folder
    is_store = Path(output.rstrip("/" + os.sep)).suffix.lower() == ".zarr"
    is_folder = (
        output != "-" and not is_store and (output.endswith(("/", os.sep)) or os.path.isdir(output))
    )
    if len(inputs) > 1 or is_folder or template is not None or (in_place and output == "-"):
        if output == "-" and not in_place and template is None:
            raise OptionError(several_inputs_hint(inputs))
        return "batch"
    return "one"


def several_inputs_hint(paths: Sequence[str]) -> str:
    """What to say when several inputs meet no output folder.

    ImageMagick's habit puts the output last (``in.png out.png``): when the
    last of two names does not exist and names an image format, that is what
    was meant. The hint never suggests a flag that would replace an input the
    user may have meant as an output.

    >>> several_inputs_hint(["in.png", "no-such-out.png"])
    'no-such-out.png: no such input; did you mean -o no-such-out.png?'
    """
    last = paths[-1]
    if len(paths) == 2 and not os.path.lexists(last) and Path(last).suffix.lower() in EXTENSIONS:
        return f"{last}: no such input; did you mean -o {last}?"
    return (
        f"{len(paths)} inputs write {len(paths)} files: give -o FOLDER/ for one output "
        "each, `template` to write each beside its input, or -o FILE with a "
        "single input"
    )


#: From this many pixels a file that can be read by region and written as it
#: streams (TIFF, NPY, Zarr in and out) is filtered in tiles by default.
#: Measured (2026-12-08, 8-bit RGB tiled TIFF, sharpen/8, whole against
#: 1024-pixel tiles, medians of 3): 9 MP 0.392 s and 234 MiB against 0.385 s
#: and 111 MiB; 36 MP 1.07 s and 687 MiB against 0.69 s and 116 MiB; 100 MP
#: 3.39 s and 1,996 MiB against 1.56 s and 113 MiB. The same pixels.
TILES_FROM_PIXELS = 8_000_000


def plan_tiling(
    src: str,
    output: str,
    settings: Settings,
    chunk: int | None = None,
    kernel: Filterable | None = None,
) -> Tiling | None:
    """Whether one file is filtered in tiles (see :func:`plan_tiles`); None for a pipe.

    Given the ``kernel``, a file of :data:`TILES_FROM_PIXELS` or more that
    tiles can take from and to (TIFF, NPY, Zarr; settings the local tiles
    have) streams in tiles even when memory would hold it: faster, and in a
    fraction of the memory.

    Raises
    ------
    OptionError
        For tiles from or to a pipe: they stream from a file to a file.
    """
    if chunk is not None and "-" in (src, output):
        raise OptionError("`chunk` streams from a file to a file; give INPUT and -o FILE")
    if src == "-":
        return None
    tiling = plan_tiles(src, settings, chunk)
    if tiling is not None and tiling.need is not None and output == "-":
        raise OptionError(tiling.note(src, to_stdout=True))
    if tiling is None and kernel is not None and _tiles_pay(src, output, settings, kernel):
        tiling = Tiling(big=True)
    return tiling


def _tiles_pay(src: str, output: str, settings: Settings, kernel: Filterable) -> bool:
    """Whether a file is big enough that tiles beat the whole image, and tiles can take it."""
    from flipconv.core.engine.local_tiles import runs_here
    from flipconv.core.io import bigio
    from flipconv.core.io.bigwrite import STREAM_WRITE

    if output == "-" or Path(output).suffix.lower() not in STREAM_WRITE:
        return False
    if settings.mode == "unfiltered" or settings.out_range == "rescale":
        return False
    if settings.arithmetic != "float64" or not runs_here(kernel) or not os.path.isfile(src):
        return False
    found = bigio.probe_shape(src)
    return found is not None and found[0][0] * found[0][1] >= TILES_FROM_PIXELS


def make_parent(output: str, mkdir: bool) -> None:
    """With ``mkdir``, create the folder a single output file goes in (``-o new/out.png``)."""
    folder = os.path.dirname(output)
    if not mkdir or output == "-" or not folder or os.path.isdir(folder):
        return
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OptionError(f"cannot create folder {folder!r}: {exc.strerror or exc}") from None


def plan_files(
    paths: Sequence[str],
    output: str,
    settings: Settings,
    *,
    template: str | None = None,
    fmt: str | None = None,
    in_place: bool = False,
    mkdir: bool = False,
    kernel: Filterable | None = None,
) -> list[Job]:
    """A batch's jobs, every name and format checked before anything is written
    (no output may replace an input or a file of ``kernel``)."""
    jobs = plan_batch(
        list(paths),
        out_dir=None if output == "-" else output,
        template=template,
        fmt=fmt.lower() if fmt else None,
        in_place=in_place,
        mkdir=mkdir,
        kernel=kernel,
    )
    for job in jobs:
        if job.fmt is not None:
            check_dtype_for_format(settings.dtype, job.fmt)
    return jobs


#: Below this much input, a batch runs in this process: a worker process costs
#: about 0.3 s to start (Python, numpy, OpenCV), more than such a batch's work.
#: 20 of the sample scene's PNGs (0.8 MB) with gaussian:2 took 0.58 s on two
#: workers against 0.28 s in this process (2026-12-08, 2 cores).
SMALL_BATCH_BYTES = 16 << 20


def choose_workers(paths: Sequence[str], cores: int) -> int:
    """Worker processes for a batch when none are asked for: one per core, or none
    beside this process for a batch smaller than :data:`SMALL_BATCH_BYTES`.

    >>> choose_workers(["samples/glyph.png", "samples/scene.png"], 4)
    1
    """
    total = 0
    for path in paths:
        try:
            total += os.path.getsize(path)
        except OSError:
            continue
        if total >= SMALL_BATCH_BYTES:
            return max(1, min(cores, len(paths)))
    return 1


def run_files(
    jobs: Sequence[Job],
    kernel: KernelLike,
    settings: Settings,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    keep_going: bool = False,
) -> Generator[FileResult, None, None]:
    """Each job's result as it finishes: ``workers`` processes here (default: one per
    core, or this process alone for a small batch, :func:`choose_workers`; one for
    the ``synchronous`` scheduler), or a Dask cluster's workers when
    ``scheduler`` names one (its client is closed when the results end or are dropped).
    """
    from flipconv.core.files.workers import run_batch  # multiprocessing: batches only

    count = workers or choose_workers([job.input for job in jobs], default_threads())
    if scheduler in ("synchronous", "sync"):
        count = 1
    client = connect(scheduler) if scheduler is not None and is_cluster(scheduler) else None
    results = run_batch(
        list(jobs), kernel, settings, workers=count, client=client, keep_going=keep_going
    )
    try:
        with contextlib.closing(results):
            yield from results
    finally:
        if client is not None:
            client.close()
