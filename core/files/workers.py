"""Running a batch: files in parallel worker processes, or on a Dask cluster.

Worker processes, not threads: decoders report problems through Python's
``warnings``, whose capture is process-wide, so two files decoded on two
threads could swap their notes. Each worker ignores Ctrl-C (the parent
decides) and unwinds on SIGTERM, so an interrupted batch leaves finished
files and no temporary ones.

>>> import tempfile
>>> from flipconv.core.files.batch import plan_batch
>>> out = tempfile.mkdtemp()
>>> jobs = plan_batch(["samples/glyph.png", "samples/scene.png"], out_dir=out)
>>> [r.status for r in run_batch(jobs, "box:3", Settings("convolve"))]
['ok', 'ok']
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from flipconv.core._shared.errors import FlipconvError
from flipconv.core.engine.filters import KernelLike, as_filter
from flipconv.core.files.batch import Job
from flipconv.core.files.pipeline import FileResult, Settings, filter_file
from flipconv.core.io.atomic import remove_temporaries, run_tag, set_run_tag
from flipconv.core.kernels.kernel import Filterable

_busy = False  # in a worker: True while a file is being filtered
_stopping = False  # in a worker: SIGTERM came while busy


def run_job(job: Job, kernel: Filterable, settings: Settings) -> FileResult:
    """One job from path to path; foreseen failures come back in the result.

    Only :class:`~flipconv.core._shared.errors.FlipconvError` and ``MemoryError``
    become ``status="error"``; anything else is a bug and propagates.
    """
    started = time.perf_counter()
    try:
        return filter_file(
            job.input, job.output, kernel, settings, fmt=job.fmt, in_place=job.in_place
        )
    except FlipconvError as exc:
        error = str(exc)
    except MemoryError:
        error = f"{job.input}: out of memory"
    return FileResult(
        job.input, job.output, status="error", error=error, seconds=time.perf_counter() - started
    )


def run_batch(
    jobs: list[Job],
    kernel: KernelLike,
    settings: Settings,
    *,
    workers: int = 1,
    client: Any = None,
    keep_going: bool = False,
) -> Generator[FileResult, None, None]:
    """Run ``jobs`` and yield a :class:`FileResult` for each as it finishes.

    With ``workers > 1`` the files run in that many processes (``settings``
    are shared among them: :meth:`Settings.shared_by`); with a
    dask.distributed ``client`` one task per file runs on its cluster.
    Without ``keep_going`` no new file starts after the first failure.

    Close the iterator (``contextlib.closing``) if you stop early: running
    workers are then stopped and their temporary files removed.
    """
    kernel = as_filter(kernel)
    stop = [False]
    pool: list[Executor] = []  # the executor in use (replaced if a worker dies)
    if client is not None:
        results = _results_distributed(client, jobs, kernel, settings.on_cluster(), stop)
    else:
        workers = max(1, min(workers, len(jobs)))
        pool.append(_executor(workers))
        results = _results(
            pool, jobs, kernel, settings.shared_by(workers), workers, stop, keep_going
        )
    try:
        for result in results:
            if result.status != "ok" and not keep_going:
                stop[0] = True
            yield result
    except BaseException:  # Ctrl-C, SIGTERM, or the caller closing the iterator
        if pool:
            _terminate(pool[0])
        # A worker stopped between creating its temporary file and the code
        # that removes it on failure leaves one behind: remove what remains.
        _remove_orphans(jobs)
        raise
    if pool:
        pool[0].shutdown(wait=True)
    _remove_orphans(jobs)


def _tagged_job(job: Job, kernel: Filterable, settings: Settings, tag: str) -> FileResult:
    """:func:`run_job` on a cluster's worker, its temporary names tagged as the batch's."""
    set_run_tag(tag)
    return run_job(job, kernel, settings)


def _job(job: Job, kernel: Filterable, settings: Settings) -> FileResult:
    global _busy
    _busy = True
    try:
        return run_job(job, kernel, settings)
    finally:
        _busy = False
        if _stopping:  # unwound (the temporary file is gone): now leave
            os._exit(143)


def _submit(executor: Executor, job: Job, kernel: Filterable, settings: Settings) -> Future[Any]:
    """Submit one job with Ctrl-C held off while the pool may start a worker.

    A worker starts with the signals its parent blocks, and it ignores Ctrl-C
    only once its initializer has run: a Ctrl-C in the second it spends
    importing would print its traceback. Blocked in the parent while it
    spawns, Ctrl-C stays blocked in the worker (which ignores it anyway), and
    the parent takes its own as soon as the submit returns.
    """
    held = None
    if hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread():
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return executor.submit(_job, job, kernel, settings)
    finally:
        if held is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _worker_init(tag: str) -> None:
    set_run_tag(tag)  # the batch's temporary names, for its clean-up
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def unwind(signum: int, frame: Any) -> None:
        global _stopping
        if _busy and not _stopping:  # unwind, so the atomic writer removes its temporary file
            _stopping = True
            raise SystemExit(143)
        os._exit(143)  # idle or still starting: nothing to clean up

    signal.signal(signal.SIGTERM, unwind)
    import cv2  # noqa: F401  (warm up while the parent submits work)


class _InProcess(Executor):
    """One job at a time in this process (one worker, or a single file)."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 (re-raised by result())
            future.set_exception(exc)
        return future


def _executor(workers: int) -> Executor:
    if workers <= 1:
        return _InProcess()
    # spawn: the parent may have threads (the preloader), which fork would
    # copy in an unknown state.
    return ProcessPoolExecutor(
        max_workers=workers,
        initializer=_worker_init,
        initargs=(run_tag(),),
        mp_context=multiprocessing.get_context("spawn"),
    )


def _terminate(executor: Executor) -> None:
    """Stop worker processes now; each removes its temporary file on SIGTERM."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for process in processes:
        try:
            process.terminate()
        except (OSError, AttributeError):
            pass
    for process in processes:  # a worker still starting up may not answer: kill it
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
    manager = getattr(executor, "_executor_manager_thread", None)
    executor.shutdown(wait=False, cancel_futures=True)
    # Its workers are gone, so the pool's manager thread ends at once: wait
    # for it. Left running, it could close its wake-up pipe while Python's exit
    # hook writes to it (unlocked before CPython 3.12): EBADF, a traceback.
    if manager is not None:
        manager.join(timeout=10)


def _results(
    pool: list[Executor],
    jobs: list[Job],
    kernel: Filterable,
    settings: Settings,
    workers: int,
    stop: list[bool],
    keep_going: bool,
) -> Iterator[FileResult]:
    """Yield results as files finish, keeping at most ``2 * workers`` queued.

    A worker that dies (killed, out of memory) breaks the whole process pool.
    Without ``keep_going`` that ends the batch with an error. With it, a fresh
    pool takes the files that were in flight again; a file in flight during a
    second death is reported as failed, so one bad file cannot stop the rest.
    """
    pending: dict[Future[FileResult], Job] = {}
    queue = list(reversed(jobs))
    crashes: dict[str, int] = {}
    depth = 2 * workers if workers > 1 else 1  # in-process jobs run on submit
    while True:
        while not stop[0] and len(pending) < depth and queue:
            job = queue.pop()
            pending[_submit(pool[0], job, kernel, settings)] = job
        if not pending:
            return
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        broken = [f for f in done if isinstance(f.exception(), BrokenProcessPool)]
        for future in done:
            if future not in broken:
                pending.pop(future)
                yield future.result()
        if not broken:
            continue
        lost = list(pending.values())
        if not keep_going:
            raise FlipconvError(
                f"{lost[0].input}: a worker process died (killed, or out of memory) while "
                "filtering it or a file beside it; files not yet finished were not written "
                "(`keep_going` retries them)"
            )
        pending.clear()
        _terminate(pool[0])
        pool[0] = _executor(workers)
        for job in lost:
            crashes[job.input] = crashes.get(job.input, 0) + 1
            if crashes[job.input] >= 2:
                yield FileResult(
                    job.input,
                    job.output,
                    status="error",
                    error=f"{job.input}: a worker process died twice filtering it",
                )
            else:
                queue.append(job)


def _results_distributed(
    client: Any, jobs: list[Job], kernel: Filterable, settings: Settings, stop: list[bool]
) -> Iterator[FileResult]:
    """One task per file on a dask.distributed cluster, yielded as they finish.

    The scheduler re-runs the tasks of a worker that dies; each task writes
    its file atomically, so a re-run replaces nothing but a missing file.
    """
    from distributed import as_completed

    kernel_future = client.scatter(kernel, broadcast=True)
    futures = [
        client.submit(
            _tagged_job,
            job,
            kernel_future,
            settings,
            run_tag(),
            pure=False,
            key=f"flipconv-{i}-{os.path.basename(job.output)}",
        )
        for i, job in enumerate(jobs)
    ]
    try:
        with client.as_current():
            finished = as_completed(futures)
        for future in finished:
            yield future.result()
            if stop[0]:
                client.cancel([f for f in futures if not f.done()])
                return
    finally:
        client.cancel([f for f in futures if not f.done()])


def _remove_orphans(jobs: list[Job]) -> None:
    """Temporary files of workers killed mid-write: only this run's, beside its outputs."""
    remove_temporaries([job.output for job in jobs], run_tag())
