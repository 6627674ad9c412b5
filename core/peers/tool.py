"""The probed tool behind one calling convention: ``tool(image, kernel) -> plane``.

:func:`adapt` wraps what :func:`~flipconv.core.peers.probing.probe` is given:
a PyTorch module or Keras layer with its own 2-D weights, ``func(image,
kernel)``, or ``func(image)`` holding its own kernel. :class:`Tool` counts the
runs, turns the tool's own failures and non-finite output into
:class:`~flipconv.core.peers.impulses.ProbeError`, reads the first channel as
a float64 plane, and puts a 'valid'-sized output back where it belongs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core.peers.impulses import InconsistentToolError, ProbeError


class Tool:
    """``func`` behind one calling convention, counting runs and naming its failures."""

    def __init__(self, func: Callable[..., Any], own: np.ndarray | None, image_only: bool):
        self.func, self.own, self.image_only, self.runs = func, own, image_only, 0
        self.float_output = False
        #: The tool returned only the valid part (where the kernel fits inside).
        self.cropped = False

    def __call__(self, image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        """The tool's output for ``image`` (and ``kernel``) as a float64 plane."""
        self.runs += 1
        try:
            out = self.func(image) if self.image_only else self.func(image, kernel)
        except ProbeError:
            raise
        except Exception as exc:  # the tool's own refusal, whatever it raises
            text = str(exc).strip().splitlines()
            why = f": {text[0][:200]}" if text else ""
            raise ProbeError(f"the tool raised {type(exc).__name__}{why}") from None
        array = np.asarray(out)
        if array.dtype.kind in "fc" and not np.isfinite(array).all():
            raise ProbeError(
                "the tool's output is not finite (NaN or infinity): nothing to measure"
            )
        self.float_output = array.dtype.kind == "f"
        plane = _as_plane(array, image.dtype)
        kh, kw = np.shape(self.own if self.own is not None else kernel)
        valid = (image.shape[0] - kh + 1, image.shape[1] - kw + 1)
        if plane.shape != image.shape and plane.shape == valid:
            # 'valid' output: put it back where a centred kernel's results belong
            self.cropped = True
            canvas = np.zeros(image.shape)
            canvas[kh // 2 : kh // 2 + valid[0], kw // 2 : kw // 2 + valid[1]] = plane
            return canvas
        if plane.shape != image.shape:  # every comparison of outputs needs one size
            (h, w), (oh, ow) = image.shape, plane.shape
            raise InconsistentToolError(
                f"the tool returned a {ow}x{oh} image for a {w}x{h} input; the probe needs "
                "its output at the input's size (or only the part where the kernel fits)"
            )
        return plane


def adapt(func: Any) -> Tool:
    """Wrap ``func`` by its shape: a framework layer, ``f(image, kernel)`` or ``f(image)``."""
    module = type(func).__module__
    weight: Any = getattr(func, "weight", None)
    if module.startswith("torch") and getattr(weight, "ndim", 0) == 4:
        import torch

        own = weight.detach().cpu().double().numpy()[0, 0]

        def torch_run(image: np.ndarray) -> np.ndarray:
            x = torch.from_numpy(image.astype(np.float64)).to(weight.dtype)[None, None]
            with torch.no_grad():
                return func(x)[0, 0].detach().cpu().double().numpy()

        return Tool(torch_run, own, True)
    weights = getattr(func, "kernel", None)
    if ("keras" in module or "tensorflow" in module) and len(getattr(weights, "shape", ())) == 4:
        own = np.asarray(weights, dtype=np.float64)[:, :, 0, 0]

        def keras_run(image: np.ndarray) -> np.ndarray:
            out = func(image.astype(np.float32)[None, :, :, None])
            return np.asarray(out, dtype=np.float64)[0, :, :, 0]

        return Tool(keras_run, own, True)
    if not callable(func):
        raise OptionError(f"`func` must be callable, not {type(func).__name__}")
    return Tool(func, None, _takes_one_argument(func))


def _takes_one_argument(func: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: assume (image, kernel)
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return False
    return len(positional) == 1 or (
        len(positional) > 1 and all(p.default is not p.empty for p in positional[1:])
    )


def _as_plane(array: np.ndarray, in_dtype: np.dtype) -> np.ndarray:
    if array.ndim == 3:
        array = array[..., 0]
    if array.ndim != 2:
        raise ProbeError(f"the tool returned a {array.ndim}-D image; expected 2-D")
    if array.dtype.kind in "ui" and in_dtype.kind == "u" and array.dtype != in_dtype:
        scale = _full(in_dtype) / _full(array.dtype)
        return array.astype(np.float64) * scale
    return array.astype(np.float64) if array.dtype.kind != "f" else array.astype(np.float64)


def _full(dtype: np.dtype) -> float:
    return float(np.iinfo(dtype).max) if dtype.kind in "ui" else 1.0
