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
        #: A constant the tool adds to every output (a layer's bias), taken off each.
        self.offset = 0.0
        #: What the probe should say of the tool's shape (a layer's channels).
        self.notes: list[str] = []
        #: The tool returned only the valid part (where the kernel fits inside).
        self.cropped = False

    def __call__(self, image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        """The tool's output for ``image`` (and ``kernel``) as a float64 plane, less its offset."""
        plane = self._plane(image, kernel) - self.offset
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

    def find_offset(self, image: np.ndarray, kernel: np.ndarray) -> float:
        """The constant the tool writes for a black ``image`` (a bias), kept as :attr:`offset`.

        A linear filter gives 0 for 0 everywhere; a layer with a bias gives
        the bias everywhere (before any cropping), which is taken off every
        output from now on. Anything not constant is left to the probe.
        """
        plane = self._plane(np.zeros_like(image), kernel)
        level = float(plane.flat[0]) if plane.size else 0.0
        if level != 0.0 and bool((plane == level).all()):
            self.offset = level
        return self.offset

    def _plane(self, image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        """One run of the tool, its failures named, read as a float64 plane."""
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
        return _as_plane(array, image.dtype)


def adapt(func: Any, pair: tuple[int, int] = (0, 0)) -> Tool:
    """Wrap ``func`` by its shape: a framework layer, ``f(image, kernel)`` or ``f(image)``.

    A layer's kernel is the one from input channel ``pair[1]`` to output
    channel ``pair[0]``; the other inputs are fed zeros.
    """
    module = type(func).__module__
    weight: Any = getattr(func, "weight", None)
    if module.startswith("torch") and getattr(weight, "ndim", 0) == 4:
        return _torch_layer(func, weight, pair)
    weights = getattr(func, "kernel", None)
    if ("keras" in module or "tensorflow" in module) and len(getattr(weights, "shape", ())) == 4:
        return _keras_layer(func, np.asarray(weights, dtype=np.float64), pair)
    if not callable(func):
        raise OptionError(f"`func` must be callable, not {type(func).__name__}")
    return Tool(func, None, _takes_one_argument(func))


def _pair_note(outputs: int, inputs: int, pair: tuple[int, int], name: str) -> list[str]:
    out, into = pair
    if not (0 <= out < outputs and 0 <= into < inputs):
        raise OptionError(
            f"`pair` {pair} is outside the layer's {outputs} outputs and {inputs} inputs"
        )
    if (outputs, inputs) == (1, 1):
        return []
    return [
        f"the layer maps {inputs} input channel(s) to {outputs} output(s): {name} (output "
        f"{out} from input {into}) is probed, the other inputs fed zeros; each output sums "
        "its inputs' correlations, plus its bias. Probe another with `pair=(output, input)`"
    ]


def _torch_layer(func: Any, weight: Any, pair: tuple[int, int]) -> Tool:
    import torch

    outputs, per_group = int(weight.shape[0]), int(weight.shape[1])
    groups = int(getattr(func, "groups", 1))
    inputs = int(getattr(func, "in_channels", per_group * groups))
    notes = _pair_note(outputs, per_group, pair, f"weight[{pair[0]}, {pair[1]}]")
    out_index = pair[0]
    in_index = (out_index // max(1, outputs // groups)) * per_group + pair[1]
    own = weight.detach().cpu().double().numpy()[out_index, pair[1]]

    def torch_run(image: np.ndarray) -> np.ndarray:
        x = torch.zeros((1, inputs, *image.shape), dtype=weight.dtype)
        x[0, in_index] = torch.from_numpy(image.astype(np.float64)).to(weight.dtype)
        with torch.no_grad():
            return func(x)[0, out_index].detach().cpu().double().numpy()

    tool = Tool(torch_run, own, True)
    tool.notes = notes
    return tool


def _keras_layer(func: Any, weights: np.ndarray, pair: tuple[int, int]) -> Tool:
    inputs, outputs = weights.shape[2], weights.shape[3]
    notes = _pair_note(outputs, inputs, pair, f"kernel[:, :, {pair[1]}, {pair[0]}]")
    own = weights[:, :, pair[1], pair[0]]

    def keras_run(image: np.ndarray) -> np.ndarray:
        x = np.zeros((1, *image.shape, inputs), dtype=np.float32)
        x[0, :, :, pair[1]] = image
        return np.asarray(func(x), dtype=np.float64)[0, :, :, pair[0]]

    tool = Tool(keras_run, own, True)
    tool.notes = notes
    return tool


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
