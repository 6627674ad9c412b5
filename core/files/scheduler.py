"""Where tiles and batch files run: local threads or processes, or a Dask cluster."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flipconv.core._shared.errors import FlipconvError, OptionError
from flipconv.core.engine.tiled import DASK_EXTRA

#: Names of the local schedulers (threads when none is given).
LOCAL = ("threads", "threaded", "processes", "synchronous", "sync", "single-threaded")


def is_cluster(scheduler: str | None) -> bool:
    """True when ``scheduler`` is a dask.distributed address, not a local scheduler."""
    return scheduler is not None and scheduler not in LOCAL


def compute_function(scheduler: str | None, threads: int) -> Callable[..., Any]:
    """``compute(*delayed)`` on the chosen scheduler, returning the results in order.

    ``scheduler`` is None or ``threads`` (``threads`` threads), ``processes``,
    ``synchronous``, or a dask.distributed scheduler address.
    """
    import dask

    if scheduler in (None, "threads", "threaded"):
        return lambda *d: dask.compute(*d, scheduler="threads", num_workers=threads)
    if scheduler in LOCAL:
        name = "processes" if scheduler == "processes" else "synchronous"
        return lambda *d: dask.compute(*d, scheduler=name, num_workers=threads)
    assert scheduler is not None
    client = connect(scheduler)
    return lambda *d: client.gather(client.compute(list(d)))


def connect(address: str) -> Any:
    """A ``distributed.Client`` for the scheduler at ``address`` (``tcp://host:port``).

    Raises
    ------
    OptionError
        Without dask.distributed, or for an address of the wrong form.
    FlipconvError
        When the scheduler cannot be reached within 10 seconds.
    """
    try:
        from distributed import Client
    except ImportError:
        raise OptionError(f"scheduler {address} needs dask.distributed; {DASK_EXTRA}") from None
    # distributed logs every rescheduled task; flipconv reports failures itself
    logging.getLogger("distributed").setLevel(logging.ERROR)
    if "://" not in address and not address.rpartition(":")[2].isdigit():
        raise OptionError(
            f"`scheduler` {address!r} is not threads, processes, synchronous or a scheduler "
            "address such as tcp://127.0.0.1:8786"
        )
    try:
        return Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise FlipconvError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
