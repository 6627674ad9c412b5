"""flipconv's command line: parses options, calls :mod:`flipconv.core`, prints.

Only click and the standard library are imported at module level here, so
``flipconv --help`` does not pay for numpy, scipy, imageio or rich.
"""
