"""Run a batch of files: parallel worker processes, progress, reports.

Worker processes, not threads: decoders report problems through Python's
``warnings``, whose capture is process-wide, so two files decoded on two
threads could swap their notes. Each worker ignores Ctrl-C (the parent
decides) and unwinds on SIGTERM, so an interrupted batch leaves finished
files and no temporary ones.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import Any

import click
from flipconv.core.batch import FileResult, Job, Settings, filter_file
from flipconv.core.kernel import Kernel

_busy = False  # in a worker: True while a file is being filtered
_stopping = False  # in a worker: SIGTERM came while busy


def _job(job: Job, kernel: Kernel, settings: Settings) -> FileResult:
    global _busy
    _busy = True
    try:
        return filter_file(job, kernel, settings)
    finally:
        _busy = False
        if _stopping:  # unwound (the temporary file is gone): now leave
            os._exit(143)


def _worker_init() -> None:
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def unwind(signum: int, frame: Any) -> None:
        global _stopping
        if _busy and not _stopping:  # unwind, so the atomic writer removes its temporary file
            _stopping = True
            raise SystemExit(143)
        os._exit(143)  # idle or still starting: nothing to clean up

    signal.signal(signal.SIGTERM, unwind)
    import flipconv.core.filters  # noqa: F401
    import scipy.ndimage  # noqa: F401  (warm up while the parent submits work)


class _InProcess(Executor):
    """One job at a time in this process (``-j1``, or a single file)."""

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
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: the parent may have threads (the scipy preloader), which fork
    # would copy in an unknown state.
    return ProcessPoolExecutor(
        max_workers=workers,
        initializer=_worker_init,
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
    executor.shutdown(wait=False, cancel_futures=True)


def _results(
    executor: Executor,
    jobs: list[Job],
    kernel: Kernel,
    settings: Settings,
    workers: int,
    stop: list[bool],
) -> Iterator[FileResult]:
    """Yield results as files finish, keeping at most ``2 * workers`` queued."""
    pending: set[Future[FileResult]] = set()
    queue = iter(jobs)
    depth = 2 * workers if workers > 1 else 1  # in-process jobs run on submit
    while True:
        while not stop[0] and len(pending) < depth:
            job = next(queue, None)
            if job is None:
                break
            pending.add(executor.submit(_job, job, kernel, settings))
        if not pending:
            return
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            yield future.result()


def _results_distributed(
    client: Any, jobs: list[Job], kernel: Kernel, settings: Settings, stop: list[bool]
) -> Iterator[FileResult]:
    """One task per file on a dask.distributed cluster, yielded as they finish.

    The scheduler re-runs the tasks of a worker that dies; each task writes
    its file atomically, so a re-run replaces nothing but a missing file.
    """
    from distributed import as_completed

    kernel_future = client.scatter(kernel, broadcast=True)
    futures = [
        client.submit(
            filter_file,
            job,
            kernel_future,
            settings,
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
    """Temporary files of workers killed mid-write (``.NAME.*.tmp`` beside each output)."""
    import glob

    for job in jobs:
        folder, name = os.path.split(job.output)
        for orphan in glob.glob(os.path.join(folder or ".", f".{glob.escape(name)}.*.tmp")):
            try:
                os.unlink(orphan)
            except OSError:
                pass


def run_batch(
    jobs: list[Job],
    kernel: Kernel,
    settings: Settings,
    *,
    workers: int,
    keep_going: bool,
    as_json: bool,
    quiet: bool,
    progress: bool,
    client: Any = None,
) -> int:
    """Process ``jobs``; return the exit status (0 all written, 1 any failed).

    With a dask.distributed ``client`` the files run on its cluster, one task
    each; otherwise on ``workers`` local processes.
    """
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    started = time.perf_counter()
    failed = 0
    done = 0
    stop = [False]
    executor = _executor(1 if client is not None else min(workers, len(jobs)))
    bar = _Progress(console, len(jobs)) if progress else None
    if client is not None:
        results = _results_distributed(client, jobs, kernel, settings, stop)
    else:
        results = _results(executor, jobs, kernel, settings, workers, stop)

    def say(line: str) -> None:
        if bar is not None:
            bar.print(line)
        else:
            click.echo(line, err=True)

    try:
        if bar is not None:
            bar.start()
        for result in results:
            done += 1
            if result.status != "ok":
                failed += 1
                say(f"flipconv: error: {result.error}")
                if not keep_going:
                    stop[0] = True
            elif not quiet:
                for note in result.notes:
                    say(f"flipconv: note: {result.input}: {note}")
            if as_json:
                click.echo(json.dumps(result.to_json()))
                sys.stdout.flush()
            if bar is not None:
                bar.advance(result.input, done)
    except BaseException:
        _terminate(executor)
        # A worker stopped between creating its temporary file and the code
        # that removes it on failure leaves one behind: remove what remains.
        _remove_orphans(jobs)
        raise
    finally:
        if bar is not None:
            bar.stop()
        if client is not None:
            _remove_orphans(jobs)
    executor.shutdown(wait=True)
    seconds = time.perf_counter() - started
    if failed:
        left = len(jobs) - done
        tail = (
            f"; stopped at the first failure, {left} not processed (--keep-going goes on)"
            if left
            else ""
        )
        click.echo(f"flipconv: {failed} of {len(jobs)} files failed{tail}", err=True)
        return 1
    if progress:
        click.echo(f"flipconv: {len(jobs)} files written in {seconds:.1f} s", err=True)
    return 0


class _Progress:
    """A rich progress bar on stderr: files done / total, current file, elapsed, rate."""

    def __init__(self, console: Any, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]filtering"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("{task.fields[current]}"),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task("files", total=total, rate="", current="")
        self._start = time.perf_counter()

    def start(self) -> None:
        self._progress.start()

    def stop(self) -> None:
        self._progress.stop()

    def print(self, line: str) -> None:
        self._progress.console.print(line, markup=False, highlight=False)

    def advance(self, name: str, done: int) -> None:
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        self._progress.update(
            self._task,
            completed=done,
            rate=f"{done / elapsed:.1f} files/s",
            current=click.format_filename(name, shorten=True),
        )
