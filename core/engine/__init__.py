"""The filter engine: arrays in, arrays out.

:mod:`~flipconv.core.engine.filters` is the public face (``correlate``, ``convolve``,
``filter_image``); :mod:`~flipconv.core.engine.planner` chooses an algorithm and a
backend (:mod:`~flipconv.core.engine.opencv_backend`, the reference
:mod:`~flipconv.core.engine.scipy_backend`), with the exact integer path
(:mod:`~flipconv.core.engine.exact8`), the certified route (:mod:`~flipconv.core.engine.certified`),
borders, channels, sample types, notes and Dask tiles. Knows nothing of files."""
