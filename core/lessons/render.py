"""Pictures: kernels as heat maps, and the verify sheet (drawing only, no maths).

Everything here turns arrays that :mod:`flipconv.core.lessons.verification` computed into
PNG-ready RGB arrays with Pillow; nothing is filtered here. Imported lazily:
Pillow loads only when a picture is asked for.

Colours: signed values use a diverging map, blue for negative, a neutral
light grey for zero, red for positive, scaled to the largest magnitude in the
row, so "agree" reads as one flat grey panel. Non-negative results are shown
in grey levels from black (0) to white (the row's peak).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Side of every square panel, in pixels.
PANEL = 160
GAP = 14
MARGIN = 16
LABEL_H = 34
HEADER_H = 26
LEGEND_H = 64
#: The colour of zero on signed heat maps.
NEUTRAL = (236, 236, 236)
_NEGATIVE = (33, 84, 170)
_POSITIVE = (190, 30, 40)
_BACKGROUND = (255, 255, 255)
_INK = (20, 20, 20)
COLUMNS = ("kernel (origin boxed)", "convolve", "correlate", "convolve - correlate")


@dataclass(frozen=True)
class Layout:
    """Where each panel of a verify sheet is, for ``rows`` kernels."""

    rows: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the sheet."""
        width = 2 * MARGIN + 4 * PANEL + 3 * GAP
        height = MARGIN + HEADER_H + self.rows * (LABEL_H + PANEL + GAP) + LEGEND_H + MARGIN
        return width, height

    def panel_box(self, row: int, column: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom), right/bottom exclusive, of one panel."""
        left = MARGIN + column * (PANEL + GAP)
        top = MARGIN + HEADER_H + row * (LABEL_H + PANEL + GAP) + LABEL_H
        return left, top, left + PANEL, top + PANEL

    def label_xy(self, row: int) -> tuple[int, int]:
        """Where row ``row``'s label starts."""
        return MARGIN, MARGIN + HEADER_H + row * (LABEL_H + PANEL + GAP) + 2

    @property
    def legend_top(self) -> int:
        """The legend's top edge, below the last row."""
        return MARGIN + HEADER_H + self.rows * (LABEL_H + PANEL + GAP)


def signed_colours(values: np.ndarray, peak: float) -> np.ndarray:
    """RGB uint8 for signed values: blue (-peak), neutral grey (0), red (+peak).

    Examples
    --------
    >>> signed_colours(np.array([-1.0, 0.0, 1.0]), 1.0).tolist()
    [[33, 84, 170], [236, 236, 236], [190, 30, 40]]
    """
    t = np.clip(values / peak, -1.0, 1.0) if peak > 0 else np.zeros_like(values)
    neutral = np.array(NEUTRAL, dtype=np.float64)
    far = np.where(
        t[..., None] < 0, np.array(_NEGATIVE, np.float64), np.array(_POSITIVE, np.float64)
    )
    rgb = neutral + np.abs(t)[..., None] * (far - neutral)
    return np.rint(rgb).astype(np.uint8)


def grey_colours(values: np.ndarray, peak: float) -> np.ndarray:
    """RGB uint8 grey levels: 0 is black, ``peak`` white (colour images keep colour)."""
    t = np.clip(values / peak, 0.0, 1.0) if peak > 0 else np.zeros_like(values)
    grey = np.rint(t * 255).astype(np.uint8)
    return grey if grey.ndim == 3 and grey.shape[2] == 3 else np.repeat(grey[..., None], 3, -1)


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default()


def _fit(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    """Enlarge by a whole factor (nearest neighbour) to fit the panel."""
    h, w = rgb.shape[:2]
    factor = max(1, PANEL // max(h, w))
    return np.repeat(np.repeat(rgb, factor, 0), factor, 1)[:PANEL, :PANEL], factor


def _paste(sheet: np.ndarray, box: tuple[int, int, int, int], rgb: np.ndarray) -> None:
    left, top, right, bottom = box
    sheet[top:bottom, left:right] = _BACKGROUND
    h, w = rgb.shape[:2]
    y, x = top + (PANEL - h) // 2, left + (PANEL - w) // 2
    sheet[y : y + h, x : x + w] = rgb


def _number(value: float) -> str:
    if value == 0:
        return "0"
    text = f"{value:.3g}"
    return text.replace("e-0", "e-").replace("e+0", "e")


def kernel_panel(values: np.ndarray, origin: tuple[int, int]) -> Any:
    """The kernel as a PANEL x PANEL heat map, values printed, origin boxed (a PIL image)."""
    from PIL import Image, ImageDraw

    h, w = values.shape
    cell = max(1, PANEL // max(h, w))
    peak = float(np.abs(values).max())
    rgb = np.repeat(np.repeat(signed_colours(values, peak), cell, 0), cell, 1)
    panel = Image.new("RGB", (PANEL, PANEL), _BACKGROUND)
    x0, y0 = (PANEL - w * cell) // 2, (PANEL - h * cell) // 2
    panel.paste(Image.fromarray(rgb[:PANEL, :PANEL]), (x0, y0))
    draw = ImageDraw.Draw(panel)
    if cell >= 16:
        font = _font(max(8, min(14, cell // 3)))
        for r in range(h):
            for c in range(w):
                text = _number(float(values[r, c]))
                strength = abs(values[r, c]) / peak if peak else 0.0
                ink = (255, 255, 255) if strength > 0.6 else _INK
                box = draw.textbbox((0, 0), text, font=font)
                tw, th = box[2] - box[0], box[3] - box[1]
                if tw > cell - 2:
                    continue  # too narrow for this number: the colour says it
                draw.text(
                    (
                        x0 + c * cell + (cell - tw) / 2 - box[0],
                        y0 + r * cell + (cell - th) / 2 - box[1],
                    ),
                    text,
                    fill=ink,
                    font=font,
                )
    r, c = origin
    width = 3 if cell >= 12 else 1
    draw.rectangle(
        [x0 + c * cell, y0 + r * cell, x0 + (c + 1) * cell - 1, y0 + (r + 1) * cell - 1],
        outline=(0, 0, 0),
        width=width,
    )
    return panel


@dataclass(frozen=True)
class SheetRow:
    """One kernel's panels and label: what the verify sheet draws in a row."""

    spec: str
    values: np.ndarray
    origin: tuple[int, int]
    convolve: np.ndarray
    correlate: np.ndarray
    symmetry: str
    measured: str
    max_abs_diff: float
    ok: bool


def _one_plane(values: np.ndarray) -> np.ndarray:
    """A signed 2-D view of a result: colour images give their strongest channel."""
    if values.ndim == 2:
        return values
    index = np.abs(values).argmax(axis=2)
    return np.take_along_axis(values, index[..., None], axis=2)[..., 0]


def verify_sheet(rows: list[SheetRow], *, source: str) -> np.ndarray:
    """The verify picture as an RGB uint8 array (see :class:`Layout`)."""
    from PIL import Image, ImageDraw

    layout = Layout(len(rows))
    width, height = layout.size
    sheet = np.full((height, width, 3), _BACKGROUND, dtype=np.uint8)
    for index, row in enumerate(rows):
        peak = max(float(np.abs(row.convolve).max()), float(np.abs(row.correlate).max()))
        signed = bool(min(row.convolve.min(), row.correlate.min()) < 0)
        for column, result in ((1, row.convolve), (2, row.correlate)):
            rgb = signed_colours(_one_plane(result), peak) if signed else grey_colours(result, peak)
            _paste(sheet, layout.panel_box(index, column), _fit(rgb)[0])
        diff = _one_plane(row.convolve - row.correlate)
        _paste(sheet, layout.panel_box(index, 3), _fit(signed_colours(diff, peak))[0])
        left, top, _, _ = layout.panel_box(index, 0)
        sheet[top : top + PANEL, left : left + PANEL] = np.asarray(
            kernel_panel(row.values, row.origin)
        )
    image = Image.fromarray(sheet)
    draw = ImageDraw.Draw(image)
    title, small = _font(13), _font(11)
    for column, name in enumerate(COLUMNS):
        left, _, _, _ = layout.panel_box(0, column)
        draw.text((left, MARGIN), name, fill=_INK, font=title)
    for index, row in enumerate(rows):
        x, y = layout.label_xy(index)
        verdict = {
            "agree": "convolve = correlate",
            "negated": "convolve = -correlate",
            "differ": "convolve != correlate",
        }[row.measured]
        mark = "as predicted" if row.ok else "NOT as predicted"
        spec = row.spec if len(row.spec) <= 60 else row.spec[:57] + "..."
        draw.text(
            (x, y),
            f"{spec}   {row.values.shape[0]}x{row.values.shape[1]}, origin "
            f"{row.origin[0]},{row.origin[1]}",
            fill=_INK,
            font=title,
        )
        draw.text(
            (x, y + 16),
            f"{row.symmetry}: {verdict} ({mark}), max |difference| {row.max_abs_diff:.3g}",
            fill=_INK if row.ok else _POSITIVE,
            font=small,
        )
    _legend(draw, layout, source, small)
    return np.asarray(image)


def _legend(draw: Any, layout: Layout, source: str, font: Any) -> None:
    top = layout.legend_top + 4
    left = MARGIN
    bar_w = 2 * PANEL
    t = np.linspace(-1.0, 1.0, bar_w)
    colours = signed_colours(t, 1.0)
    for i in range(bar_w):
        draw.line([(left + i, top), (left + i, top + 12)], fill=tuple(int(v) for v in colours[i]))
    draw.text((left, top + 15), "-peak", fill=_INK, font=font)
    draw.text((left + bar_w // 2 - 3, top + 15), "0", fill=_INK, font=font)
    draw.text((left + bar_w - 30, top + 15), "+peak", fill=_INK, font=font)
    grey_left = left + bar_w + 2 * GAP
    grey_w = PANEL
    for i in range(grey_w):
        level = round(255 * i / (grey_w - 1))
        draw.line([(grey_left + i, top), (grey_left + i, top + 12)], fill=(level, level, level))
    draw.text((grey_left, top + 15), "0", fill=_INK, font=font)
    draw.text((grey_left + grey_w - 30, top + 15), "peak", fill=_INK, font=font)
    draw.text(
        (left, top + 30),
        "Signed values: blue < 0 (grey) < red; results without negatives "
        "in grey levels. Peak: each row's largest |result|.",
        fill=_INK,
        font=font,
    )
    draw.text((left, top + 44), f"Image: {source}.", fill=_INK, font=font)


def kernel_picture(values: np.ndarray, origin: tuple[int, int], spec: str) -> np.ndarray:
    """One kernel's heat map with its spec and a legend, as RGB uint8."""
    from PIL import Image, ImageDraw

    width, height = PANEL + 2 * MARGIN + 120, PANEL + 2 * MARGIN + HEADER_H + 30
    image = Image.new("RGB", (width, height), _BACKGROUND)
    image.paste(kernel_panel(values, origin), (MARGIN, MARGIN + HEADER_H))
    draw = ImageDraw.Draw(image)
    spec = spec if len(spec) <= 40 else spec[:37] + "..."
    draw.text(
        (MARGIN, MARGIN),
        f"{spec}  origin {origin[0]},{origin[1]} (boxed)",
        fill=_INK,
        font=_font(12),
    )
    peak = float(np.abs(values).max())
    x = MARGIN + PANEL + GAP
    for i in range(PANEL):
        t = 1.0 - 2.0 * i / (PANEL - 1)
        colour = tuple(int(v) for v in signed_colours(np.array([t]), 1.0)[0])
        draw.line([(x, MARGIN + HEADER_H + i), (x + 12, MARGIN + HEADER_H + i)], fill=colour)
    font = _font(11)
    draw.text((x + 16, MARGIN + HEADER_H), f"+{_number(peak)}", fill=_INK, font=font)
    draw.text((x + 16, MARGIN + HEADER_H + PANEL // 2 - 6), "0", fill=_INK, font=font)
    draw.text((x + 16, MARGIN + HEADER_H + PANEL - 12), f"-{_number(peak)}", fill=_INK, font=font)
    draw.text(
        (MARGIN, MARGIN + HEADER_H + PANEL + 8), "blue < 0 (grey) < red", fill=_INK, font=font
    )
    return np.asarray(image)
