"""Filtering files: one file, tiles, or a batch in worker processes or on a Dask cluster.

:mod:`~flipconv.core.files.run` is the one call the command line makes;
:mod:`~flipconv.core.files.pipeline` filters one file, :mod:`~flipconv.core.files.batch`
plans many, :mod:`~flipconv.core.files.workers` and :mod:`~flipconv.core.files.scheduler`
run them."""
