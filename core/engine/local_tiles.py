"""Tiles run here, on this machine's threads, without Dask.

:func:`filter_tiles` takes a source read by region (a file's
:class:`~flipconv.core.io.bigio.RegionReader`) and gives :class:`Tiles`: the
very blocks of :func:`~flipconv.core.engine.tiled.filter_array` (same
regions, same filtering, same bytes), run on a thread pool a few at a time
while the caller writes the ones before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.vocabulary import AlphaPolicy, Method, Mode, Operation
from flipconv.core.engine.planner import plan
from flipconv.core.engine.settings import Finish
from flipconv.core.engine.tiled import (
    Block,
    _blocks,
    _filter_region,
    _has_chain,
    _refuse_rescale,
    _region,
    _split,
)
from flipconv.core.kernels.kernel import Filterable, Kernel


@dataclass(frozen=True)
class Tiles:
    """An image filtered block by block in this process, on threads, without Dask.

    The blocks, and their bytes, are :func:`filter_array`'s: the same regions
    through the same :func:`_filter_region`. ``source`` is read by region
    (``source[r0:r1, c0:c1]`` gives a numpy array), so only the blocks being
    filtered are in memory. Made by :func:`filter_tiles`.
    """

    source: Any
    shape: tuple[int, ...]
    dtype: np.dtype
    chunks: tuple[tuple[int, ...], tuple[int, ...]]
    blocks: list[list[Block]]
    task: dict[str, Any]

    @property
    def ndim(self) -> int:
        """2 or 3, as the source's."""
        return len(self.shape)

    def block(self, i: int, j: int) -> np.ndarray:
        """Output block ``(i, j)``: its region read and filtered."""
        rows, cols, keep = self.blocks[i][j]
        region, rr, cc = _region(self.source, rows, cols)
        return _filter_region(region, rows=rr, cols=cc, keep=keep, **self.task)

    def rows(
        self, threads: int, ahead: int | None = None
    ) -> Generator[Iterator[np.ndarray], None, None]:
        """Each row of blocks in turn, as an iterator over its blocks.

        The blocks are filtered on ``threads`` threads in row-major order, at
        most ``ahead`` of them (by default twice the threads) running or done
        and waiting beyond the one the caller holds: memory is bounded by the
        blocks' size, whatever the image's width. A row the caller leaves
        unfinished is run to its end before the next one starts. Closed
        early (an error, Ctrl-C), it cancels the blocks not yet started and
        waits for those running.
        """
        order = [(i, j) for i, row in enumerate(self.blocks) for j in range(len(row))]
        window = ahead or 2 * max(1, threads)
        with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="tiles") as pool:
            pending: deque[Future[np.ndarray]] = deque()
            submitted = 0

            def fill() -> None:
                nonlocal submitted
                while submitted < len(order) and len(pending) < window:
                    pending.append(pool.submit(self.block, *order[submitted]))
                    submitted += 1

            def row(count: int) -> Iterator[np.ndarray]:
                for _ in range(count):
                    done = pending.popleft()
                    fill()
                    yield done.result()

            fill()
            try:
                for blocks in self.blocks:
                    current = row(len(blocks))
                    yield current
                    for _ in current:  # what the caller left of this row
                        pass
            finally:
                for future in pending:
                    future.cancel()


def runs_here(kernel: Filterable) -> bool:
    """Whether :func:`filter_tiles` takes ``kernel``: not a chain, which needs a pass per kernel."""
    return not _has_chain(kernel)


def filter_tiles(
    source: Any,
    kernel: Filterable,
    *,
    operation: Operation,
    mode: Mode = "reflect",
    cval: float = 0.0,
    alpha: AlphaPolicy | None = "keep",
    method: Method = "auto",
    finish: Finish,
    chunks: int,
) -> Tiles:
    """:func:`filter_array` for a source read by region, run here without Dask.

    ``source`` has ``shape`` (2-D or 3-D, channels last), ``dtype`` and gives
    numpy arrays for ``source[r0:r1, c0:c1]``; ``chunks`` is the output
    blocks' side. Chains of kernels are not taken (:func:`runs_here`).
    """
    if not runs_here(kernel):
        raise OptionError("a chain of kernels runs in tiles through Dask")
    if len(source.shape) not in (2, 3):
        raise OptionError(f"image must be 2-D or 3-D (channels last), got {len(source.shape)}-D")
    _refuse_rescale(finish)
    shape = tuple(source.shape)
    grid = tuple(_split(n, chunks) for n in shape[:2])
    kernel_used = kernel.reflected() if operation == "convolve" else kernel
    engine3 = method == "auto"
    if isinstance(kernel_used, Kernel):
        method = plan(kernel_used, shape[:2], method).method
    finish = replace(finish, bias=finish.bias + kernel.offset)
    task = {"kernel": kernel, "operation": operation, "mode": mode, "cval": cval,
            "alpha": alpha, "method": method, "in_dtype": str(source.dtype),
            "finish": finish, "engine3": engine3}  # fmt: skip
    return Tiles(
        source,
        shape,
        np.dtype(finish.dtype),
        (grid[0], grid[1]),
        _blocks(shape, grid, kernel, operation, mode),
        task,
    )
