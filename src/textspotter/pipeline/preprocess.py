"""Page image → detector input, and detector coordinates → original-page coordinates (spec §1.2 steps 1–3, §4.5).

The published models read a page as one square view: the page is padded to a square of side ``S = max(H, W)`` with
the pad colour of the model spec (white, bottom-right by default), resized bilinearly (``align_corners=True``) to
``L × L`` and, when ``L`` is not a multiple of 128, right-padded with zeros to the next multiple (v2 package).
Detected quads come back by ``× S / L``; with centre padding we also subtract the page offset, which the official
code forgets (spec §4.5).

Beyond the published single view, a page can also be read as overlapping ``L × L`` tiles of a larger rendering of
the same padded square, in addition to the single view (``ScaleOptions``), so that small text keeps enough detector
pixels. Every detector input,
whole page or tile, is described by a ``DetectorView`` that maps its pixels to the original page.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..models.spec import PreprocessConfig, check_infer_length

__all__ = [
    "ScaleOptions",
    "DetectorView",
    "page_view",
    "tile_views",
    "tiled_side",
    "check_page_shape",
    "render_square",
    "render_page",
    "render_views",
    "stack_inputs",
]

# Bounds of ScaleOptions.zoom and .overlap: together they cap the tiles of one page at 7 x 7.
MAX_ZOOM = 4.0
MAX_OVERLAP = 0.5

# The published code right-pads the detector input width to a multiple of 128 (spec §1.2 step 3): the CUDA NMS
# works on 32-cell row segments of the L/4-wide map.
_WIDTH_MULTIPLE = 128


@dataclass(frozen=True)
class ScaleOptions:
    """How many detector views read each page.

    Attributes:
        mode: ``"single"`` reads the page once at ``L × L`` (the published behaviour). ``"tiled"`` also reads it as
            overlapping ``L × L`` tiles of a rendering ``zoom`` times larger, and keeps, for each word found more
            than once, the best reading (see ``pipeline.multiscale``); the single view stays because it holds whole
            the words that are larger than a tile.
        zoom: size of the tiled rendering relative to the single view (2.0: text twice as large in detector pixels),
            in [1, 4].
        max_upscale: cap on detector pixels per original pixel for the tiled rendering, so that small images are
            not blown up for nothing; when the cap leaves no gain over the single view, tiling is skipped.
        overlap: fraction of the tile side shared by neighbouring tiles, in [0, 0.5]; words narrower than the
            overlap are seen whole in at least one tile.
        duplicate_overlap: two detections of different views are the same word when their intersection covers at
            least this fraction of the smaller one's box (a word cut by a tile edge is mostly inside the whole one).
        edge_margin: detections closer than this (in detector pixels) to a tile edge that cuts through the page are
            treated as possibly cut, and lose against a duplicate that is not.
        infer_length: detector input side L (the single view is ``L × L``, tiles too); ``None`` keeps the model's
            ``preprocess.infer_length``. Text is read from a stride-4 feature map, so a larger L reads small text
            better, at a cost that grows as L² (docs/usage.md §4). A multiple of 32 in [64, 4096]
            (``models.spec.MAX_INFER_LENGTH``).
        fit_text: ours (not in the published pipeline). In single mode, when the words found at ``L`` are
            taller than ``max_text_height`` detector pixels (median), read the page again at the smaller side
            ``L' = L · text_height / median`` (a multiple of 32, at least ``min_fit_length``), and keep that
            reading. A small image (a screenshot, a 640-pixel scan) is otherwise blown up to ``L`` and its text
            becomes larger than anything the models were trained on; the second reading costs ``(L'/L)²`` of the
            first. Pages whose text is not too large are read once, as before.
        text_height: the word height, in detector pixels, that ``fit_text`` aims at (the median of the shipped
            model's training pages is about 20).
        max_text_height: median word height in detector pixels above which ``fit_text`` reads a page again.
        min_fit_length: the smallest side ``fit_text`` may choose (a multiple of 32, at least 64).
        small_first: ours. With ``fit_text`` in single mode, a page whose longer side ``S`` is at most this fraction
            of ``L`` is read first at its own size (``L0``: ``S`` rounded up to a multiple of 32, at least
            ``min_fit_length``) instead of blown up to ``L``; the words found there decide, as they would have at
            ``L`` (heights scaled by ``L / L0``), the side to keep: ``L0`` itself, the fitted side, or ``L`` (small
            text, or no words found), read again unless it is ``L0``. A small image with large text (a screenshot, a
            640-pixel scan) then costs ``(L0/L)²`` of a read at ``L`` before the fitted read; one with small text
            costs that much more. In ``[0, 1]``; 0 turns it off. 0.67 (a page blown up 1.5 times or more): pages
            rendered at 100-150 dpi (long side 0.7-1.0 ``L``) mostly have small text and would be read twice for
            nothing.
    """

    mode: str = "single"
    zoom: float = 2.0
    max_upscale: float = 2.0
    overlap: float = 0.25
    duplicate_overlap: float = 0.5
    edge_margin: float = 4.0
    infer_length: int | None = None
    fit_text: bool = True
    text_height: float = 20.0
    max_text_height: float = 32.0
    min_fit_length: int = 256
    small_first: float = 0.67

    def __post_init__(self) -> None:
        if self.mode not in ("single", "tiled"):
            raise ValueError(f"ScaleOptions.mode must be 'single' or 'tiled', got {self.mode!r}")
        # zoom and overlap set how many tiles a page has (at most 7 x 7 at their limits, 3 x 3 by default), and so
        # the memory one page needs in tiled mode; nothing else about a page changes it.
        if not 1.0 <= self.zoom <= MAX_ZOOM:
            raise ValueError(f"ScaleOptions.zoom must be in [1, {MAX_ZOOM:g}], got {self.zoom!r}")
        if not 0 < self.max_upscale < math.inf:
            raise ValueError(f"ScaleOptions.max_upscale must be positive and finite, got {self.max_upscale!r}")
        if not 0.0 <= self.overlap <= MAX_OVERLAP:
            raise ValueError(f"ScaleOptions.overlap must be in [0, {MAX_OVERLAP:g}], got {self.overlap!r}")
        if not 0.0 < self.duplicate_overlap <= 1.0:
            raise ValueError(f"ScaleOptions.duplicate_overlap must be in (0, 1], got {self.duplicate_overlap!r}")
        if self.edge_margin < 0:
            raise ValueError(f"ScaleOptions.edge_margin must be >= 0, got {self.edge_margin!r}")
        if self.infer_length is not None:
            check_infer_length(self.infer_length, "ScaleOptions.infer_length")
        if not 0 < self.text_height <= self.max_text_height:
            raise ValueError(
                f"ScaleOptions needs 0 < text_height <= max_text_height, got {self.text_height!r} and "
                f"{self.max_text_height!r}"
            )
        if not 0.0 <= self.small_first <= 1.0:
            raise ValueError(f"ScaleOptions.small_first must be in [0, 1], got {self.small_first!r}")
        fit = self.min_fit_length
        if isinstance(fit, bool) or not isinstance(fit, int) or fit < 64 or fit % 32 != 0:
            raise ValueError(f"ScaleOptions.min_fit_length must be a multiple of 32 >= 64, got {fit!r}")

    def fitted_length(self, heights: torch.Tensor, length: int) -> int | None:
        """Return the detector side at which to read a page again, or None to keep the reading at ``length``.

        Args:
            heights: ``[N]`` heights of the words found on the page, in detector pixels of its ``length × length``
                single view (any float dtype and device).
            length: the side ``L`` the page was read at.

        Returns:
            ``L'`` (a multiple of 32, ``min_fit_length <= L' < L``) when ``fit_text`` is on, the mode is single,
            and the median height exceeds ``max_text_height``; otherwise None.
        """
        if not self.fit_text or self.mode != "single" or heights.numel() == 0:
            return None
        median = float(heights.float().median())
        if median <= self.max_text_height:
            return None
        fitted = max(self.min_fit_length, round(length * self.text_height / median / 32) * 32)
        return fitted if fitted < length else None

    def first_length(self, height: int, width: int, length: int) -> int:
        """Return the detector side at which to read a ``height × width`` page first (``length`` unless ``small_first``
        applies: see the class docstring)."""
        side = max(height, width)
        if not (self.fit_text and self.mode == "single") or side > self.small_first * length:
            return length
        return min(length, max(self.min_fit_length, math.ceil(side / 32) * 32))

    def refit_length(self, heights: torch.Tensor, first: int, length: int) -> int | None:
        """Return the side at which to read a page again after a first read at ``first``, or None to keep it.

        Args:
            heights: ``[N]`` heights of the words found at ``first``, in detector pixels of that read.
            first: the side of the first read (:meth:`first_length`).
            length: the side ``L`` of the pipeline.

        Returns:
            For ``first == length``, :meth:`fitted_length`. For a smaller first read, the side the page would have
            been kept at after a read at ``length`` (the heights scaled by ``length / first``): None when that is
            ``first`` itself, else that side (``length`` when the text is not too large or no word was found).
        """
        if first == length:
            return self.fitted_length(heights, length)
        fitted = self.fitted_length(heights * (length / first), length)
        target = length if fitted is None else fitted
        return None if target == first else target

    def preprocess(self, config: PreprocessConfig) -> PreprocessConfig:
        """Return the model's preprocessing with this option's ``infer_length`` applied (``config`` if None)."""
        if self.infer_length is None or self.infer_length == config.infer_length:
            return config
        return dataclasses.replace(config, infer_length=self.infer_length)


@dataclass(frozen=True)
class DetectorView:
    """One detector input (the whole page or a tile) and the map from its pixels to the original page.

    ``original = detector * scale + offset`` for x and y alike. Coordinates are pixel positions with the origin at
    the top-left corner of the top-left pixel.

    Attributes:
        scale: original pixels per detector pixel (``S / L`` for the single view).
        offset_x, offset_y: original-page position of detector pixel (0, 0) (negative for centre padding).
        height, width: size of the detector input in pixels (``L`` and ``L`` rounded up to a multiple of 128).
        cut_edges: (left, top, right, bottom): whether that edge of the view cuts through the page next to another
            tile (words there may be truncated). All False for the single view.
        tiled: whether the view is a tile of the zoomed rendering (False for the published single view).
        content: ``(x0, y0, x1, y1)`` detector pixels that show the page (the rest is padding), or ``None`` when
            unknown (the whole view). The detector may skip the padding (``DetectionOptions.crop_to_page``).
    """

    scale: float
    offset_x: float
    offset_y: float
    height: int
    width: int
    cut_edges: tuple[bool, bool, bool, bool] = (False, False, False, False)
    tiled: bool = False
    content: tuple[int, int, int, int] | None = None

    def content_box(self) -> tuple[int, int, int, int]:
        """Return ``content`` clipped to the view, or the whole view ``(0, 0, width, height)`` when unknown."""
        if self.content is None:
            return (0, 0, self.width, self.height)
        x0, y0, x1, y1 = self.content
        return (max(0, x0), max(0, y0), min(self.width, x1), min(self.height, y1))

    def to_original(self, quads: torch.Tensor) -> torch.Tensor:
        """Map ``[..., 4, 2]`` detector-view quads to original-page pixels (same dtype and device)."""
        offset = quads.new_tensor([self.offset_x, self.offset_y])
        return quads * self.scale + offset

    def to_detector(self, quads: torch.Tensor) -> torch.Tensor:
        """Map ``[..., 4, 2]`` original-page quads to this view's detector pixels (same dtype and device)."""
        offset = quads.new_tensor([self.offset_x, self.offset_y])
        return (quads - offset) / self.scale

    def touches_cut_edge(self, quads: torch.Tensor, margin: float) -> torch.Tensor:
        """Return ``[N]`` bool: whether each detector-view quad ``[N, 4, 2]`` comes within ``margin`` of a cut edge."""
        touches = torch.zeros(quads.shape[0], dtype=torch.bool, device=quads.device)
        if not any(self.cut_edges):
            return touches
        lo, hi = quads.amin(dim=1), quads.amax(dim=1)  # (N, 4, 2) -> (N, 2)
        left, top, right, bottom = self.cut_edges
        if left:
            touches |= lo[:, 0] <= margin
        if top:
            touches |= lo[:, 1] <= margin
        if right:
            touches |= hi[:, 0] >= self.width - margin
        if bottom:
            touches |= hi[:, 1] >= self.height - margin
        return touches


def _padded_width(infer_length: int) -> int:
    return math.ceil(infer_length / _WIDTH_MULTIPLE) * _WIDTH_MULTIPLE


def _square_offset(height: int, width: int, pad_how: str) -> tuple[int, int]:
    """Return the (x, y) position of the page inside its padded square."""
    side = max(height, width)
    if pad_how == "center":
        return (side - width) // 2, (side - height) // 2
    return 0, 0


def page_view(height: int, width: int, config: PreprocessConfig) -> DetectorView:
    """Return the published single view of an ``height × width`` page (spec §1.2, §4.5).

    Args:
        height, width: original page size in pixels (both ≥ 1).
        config: the model's preprocessing (``infer_length`` L, ``pad_how``).

    Returns:
        A view with ``scale = S / L`` and, for centre padding, the offset that puts quads back on the page.
    """
    side = max(height, width)
    scale = side / config.infer_length
    pad_x, pad_y = _square_offset(height, width, config.pad_how)
    # Detector pixels whose bilinear samples touch a page pixel: [pad / scale, (pad + size) / scale), rounded out.
    content = (
        math.floor(pad_x / scale),
        math.floor(pad_y / scale),
        math.ceil((pad_x + width) / scale),
        math.ceil((pad_y + height) / scale),
    )
    return DetectorView(
        scale=scale,
        offset_x=-pad_x,
        offset_y=-pad_y,
        height=config.infer_length,
        width=_padded_width(config.infer_length),
        content=content,
    )


def check_page_shape(height: int, width: int, config: PreprocessConfig) -> str | None:
    """Tell whether a page can be read at the model's detector side, and why not.

    The single view shrinks the page's long side to ``L``; a page so elongated that its short side would come out
    under one detector pixel (a 100,000 × 1 strip at ``L`` = 1536) holds nothing the detector can see, so it is
    refused rather than read for nothing. In other words, the aspect ratio may reach ``L : 1``.

    Args:
        height, width: page size in pixels (both ≥ 1).
        config: the preprocessing it would be read with (``infer_length`` L).

    Returns:
        None when the page can be read, else the problem, worded to follow the input's name.
    """
    short, long = min(height, width), max(height, width)
    detector_short = short * config.infer_length / long
    if detector_short >= 1.0:
        return None
    return (
        f"page of {width}x{height} pixels is too elongated to read: at infer_length {config.infer_length} its "
        f"{short}-pixel side becomes {detector_short:.3g} detector pixels (at least 1 needed, so an aspect ratio of "
        f"at most {config.infer_length}:1); crop it or cut it into pieces"
    )


def _tile_starts(extent: int, tile: int, stride: int) -> list[int]:
    """Evenly spread tile start positions covering ``[0, extent)`` with at most ``stride`` between starts."""
    if extent <= tile:
        return [0]
    count = math.ceil((extent - tile) / stride) + 1
    return [round(i * (extent - tile) / (count - 1)) for i in range(count)]


def tiled_side(height: int, width: int, config: PreprocessConfig, options: ScaleOptions) -> int | None:
    """Return the side ``R`` of the zoomed square rendering used for tiles, or None when tiling gains nothing.

    ``R = L · zoom``, capped so that one original pixel becomes at most ``max_upscale`` detector pixels (but never
    below ``L``). Returns None when the capped ``R`` is not larger than ``L``.
    """
    side = max(height, width)
    length = config.infer_length
    target = min(length * options.zoom, max(side * options.max_upscale, length))
    rendered = int(round(target))
    return rendered if rendered > length else None


def tile_views(height: int, width: int, config: PreprocessConfig, options: ScaleOptions) -> list[DetectorView]:
    """Return the ``L × L`` tile views of a page rendered at side ``R`` (see ``tiled_side``), row-major.

    Tiles cover only the page (placed at the top-left of its square: tiles need no centring), overlap by
    ``options.overlap`` of a tile, and are padded with the pad colour where they pass the page. Empty list when
    tiling gains nothing over the single view.
    """
    rendered = tiled_side(height, width, config, options)
    if rendered is None:
        return []
    length = config.infer_length
    side = max(height, width)
    scale = side / rendered
    page_w = math.ceil(width / scale)
    page_h = math.ceil(height / scale)
    stride = max(1, int(length * (1.0 - options.overlap)))
    xs, ys = _tile_starts(page_w, length, stride), _tile_starts(page_h, length, stride)
    views = []
    for row, y in enumerate(ys):
        for col, x in enumerate(xs):
            cut = (col > 0, row > 0, col < len(xs) - 1, row < len(ys) - 1)
            views.append(
                DetectorView(
                    scale=scale,
                    offset_x=x * scale,
                    offset_y=y * scale,
                    height=length,
                    width=_padded_width(length),
                    cut_edges=cut,
                    tiled=True,
                    content=(0, 0, page_w - x, page_h - y),
                )
            )
    return views


def _sample_axis(
    out_size: int, square_size: int, page_start: int, page_size: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bilinear (``align_corners=True``) sampling of one axis of the padded square, expressed on the page.

    Output pixel ``j`` samples the square at ``j · (square_size − 1) / (out_size − 1)`` (in float32, as PyTorch's
    ``upsample_bilinear2d`` does), between square pixels ``i0`` and ``i0 + 1`` with weight ``w`` on the second.

    Returns:
        ``(first, second, first_is_pad, second_is_pad, weight)``, each ``[out_size]``: int64 page indices (clamped
        into the page), bool masks of the samples that fall on the padding, float32 weights.
    """
    scale = torch.tensor((square_size - 1) / (out_size - 1) if out_size > 1 else 0.0, dtype=torch.float32)
    position = torch.arange(out_size, dtype=torch.float32) * scale
    first = position.to(torch.int64)  # non-negative, so truncation is the floor
    second = torch.where(first < square_size - 1, first + 1, first)
    weight = position - first.to(torch.float32)
    first, second = first - page_start, second - page_start
    first_pad, second_pad = (first < 0) | (first >= page_size), (second < 0) | (second >= page_size)
    tensors = (first.clamp(0, page_size - 1), second.clamp(0, page_size - 1), first_pad, second_pad, weight)
    return tuple(t.to(device) for t in tensors)  # type: ignore[return-value]


def render_square(
    image: np.ndarray | torch.Tensor,
    side: int,
    config: PreprocessConfig,
    *,
    pad_how: str | None = None,
    device: torch.device | str = "cpu",
    window: tuple[int, int, int, int] | None = None,
    uint8: bool = False,
) -> torch.Tensor:
    """Pad a page to a square with the pad colour and resize it to ``side × side`` (spec §1.2 steps 1–3).

    Equal (to float rounding, ~1e-6) to padding the page into its ``S × S`` square and calling
    ``F.interpolate(..., size=(side, side), mode="bilinear", align_corners=True)``, but computed as separable
    gathers and linear interpolations of the page itself: the padded square (58 MB of floats for a 200-dpi letter
    page) is never built, and only the ``side`` rows (or columns) needed are converted to float. The page's longer
    axis is resampled first, so the float intermediate is at most four times the uint8 page (or, when enlarging, the
    size of the result), whatever the aspect ratio.

    Args:
        image: ``[H, W, 3]`` uint8 RGB page (numpy or tensor).
        side: output side in pixels.
        config: the model's preprocessing (pad colour, default placement).
        pad_how: placement override (``"bottom_right"`` or ``"center"``); None uses ``config.pad_how``.
        device: where to build the result.
        window: ``(x0, y0, x1, y1)`` with ``0 <= x0 < x1 <= side`` (same for y): build only these output columns and
            rows. Every output pixel is computed on its own, so the result equals the same crop of the whole output
            bit for bit, at a fraction of the cost (training windows).
        uint8: resample in uint8 with PyTorch's vectorised bilinear kernel (``F.interpolate`` on the padded uint8
            square) when the page is on the CPU, needs no window and is not far from square (the square at most
            :data:`UINT8_MAX_PADDING` times the page's pixels): 4–5 times faster, each value within 1.5/255 of the
            float path (rounded to uint8 after each axis; on a scanned page within 1/255, 0.1/255 on average).
            Reading uses it; training keeps the float path, whose windows equal the whole output bit for bit.

    Returns:
        ``[3, side, side]`` float32 in [0, 1], or ``[3, y1 - y0, x1 - x0]`` with a window.
    """
    with warnings.catch_warnings():
        # A read-only page (np.asarray of a PIL image) is viewed, not copied: every path below only reads it. Torch
        # warns on such views because writing through them would be undefined.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        pixels = torch.as_tensor(image).to(device)
    if pixels.dtype != torch.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"page image must be [H, W, 3] uint8, got {tuple(pixels.shape)} {pixels.dtype}")
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    square_side = max(height, width)
    pad_x, pad_y = _square_offset(height, width, pad_how or config.pad_how)
    near_square = square_side**2 <= UINT8_MAX_PADDING * height * width
    if uint8 and window is None and pixels.device.type == "cpu" and near_square:
        return _render_square_uint8(pixels, side, config.pad_color, pad_x, pad_y)
    # Resampled in the 0..255 scale of the page: the division by 255 rides on the final layout copy.
    color = torch.tensor(config.pad_color, dtype=torch.float32, device=pixels.device) * 255.0

    def gather(values: torch.Tensor, dim: int, index: torch.Tensor, is_pad: torch.Tensor) -> torch.Tensor:
        picked = values.index_select(dim, index).float()
        if bool(is_pad.any()):
            if dim == 0:
                picked[is_pad] = color
            else:
                picked[:, is_pad] = color
        return picked

    def resample(values: torch.Tensor, dim: int, axis: tuple[torch.Tensor, ...]) -> torch.Tensor:
        first, second, first_pad, second_pad, weight = axis
        out = gather(values, dim, first, first_pad)
        # In place: only two intermediates of this size are alive at once.
        return out.lerp_(gather(values, dim, second, second_pad), weight.view((-1, 1, 1) if dim == 0 else (1, -1, 1)))

    x0, y0, x1, y1 = window if window is not None else (0, 0, side, side)
    if not (0 <= x0 < x1 <= side and 0 <= y0 < y1 <= side):
        raise ValueError(f"window {window} is not inside the {side} x {side} output")
    rows = tuple(t[y0:y1] for t in _sample_axis(side, square_side, pad_y, height, pixels.device))
    cols = tuple(t[x0:x1] for t in _sample_axis(side, square_side, pad_x, width, pixels.device))
    # Resample the page's longer axis first, on the uint8 page in (H, W, 3) layout: the float intermediate is then
    # (output side x short side x 3), at most four times the uint8 page (or the size of the float output). The other
    # order would blow a 100,000 x 1 strip up to (output side x 100,000 x 3) floats, gigabytes. The order depends on
    # the page alone, not on the window, so that a window stays equal to the same crop of the whole output bit for
    # bit.
    if width <= height:
        out = resample(resample(pixels, 0, rows), 1, cols)
    else:
        out = resample(resample(pixels, 1, cols), 0, rows)
    result = out.new_empty((3, out.shape[0], out.shape[1]))
    return torch.mul(out.permute(2, 0, 1), 1.0 / 255.0, out=result)  # (rows, cols, 3) -> (3, rows, cols) in [0, 1]


UINT8_MAX_PADDING = 4
"""``render_square(uint8=True)`` builds the padded uint8 square only when it holds at most this many times the page's
pixels: a long strip would otherwise pad to gigabytes (the float path never builds the square)."""


def _render_square_uint8(
    pixels: torch.Tensor, side: int, pad_color: tuple[float, float, float], pad_x: int, pad_y: int
) -> torch.Tensor:
    """``render_square``'s uint8 path: pad ``[H, W, 3]`` uint8 ``pixels`` into its square at ``(pad_x, pad_y)`` and
    resize it with ``F.interpolate`` (bilinear, ``align_corners=True``) in uint8; ``[3, side, side]`` float32."""
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    square_side = max(height, width)
    square = pixels.new_empty((square_side, square_side, 3))
    if square_side != height or square_side != width:
        # One row of the colour broadcast over the rows: a 3-vector broadcast over every pixel is 30 times slower.
        row = torch.tensor([round(255 * c) for c in pad_color], dtype=torch.uint8).repeat(square_side)
        square.view(square_side, square_side * 3).copy_(row.expand(square_side, square_side * 3))
    square[pad_y : pad_y + height, pad_x : pad_x + width] = pixels
    # An NCHW view of the HWC buffer is channels-last: the layout of PyTorch's vectorised uint8 kernel.
    resized = F.interpolate(square.permute(2, 0, 1)[None], size=(side, side), mode="bilinear", align_corners=True)
    # The float result stays channels-last too (an HWC buffer seen as [3, side, side]): the scaling is then a straight
    # pass over memory instead of a transposing one, and the detector's convolutions take that layout as it is
    # (stack_inputs keeps it in the batch): 35-58 -> 15-21 ms a page at side 1536 (benchmarks/RESULTS.md, "Session 41").
    result = torch.empty((side, side, 3), dtype=torch.float32).permute(2, 0, 1)
    return torch.mul(resized[0], 1.0 / 255.0, out=result)


def stack_inputs(images: Sequence[torch.Tensor]) -> torch.Tensor:
    """``[B, 3, H, W]`` from ``B`` detector inputs ``[3, H, W]`` of one size, in channels-last memory when every input
    is (the uint8 page resize writes its inputs so), else contiguous.

    ``torch.stack`` alone always returns a contiguous batch, which the detector (channels-last on CPU,
    ``stages.detector_batch``) would transpose again. One input is returned as a view, without a copy.
    """
    if not images:
        raise ValueError("no detector inputs to stack")
    if len(images) == 1:
        return images[0][None]
    if all(image.permute(1, 2, 0).is_contiguous() for image in images):
        return torch.stack([image.permute(1, 2, 0) for image in images]).permute(0, 3, 1, 2)
    return torch.stack(list(images))


def _fit_width(square: torch.Tensor, width: int) -> torch.Tensor:
    """Right-pad ``[3, L, L]`` with zeros to ``[3, L, width]`` (the v2 package pads with 0.0, spec §1.2 step 3)."""
    if square.shape[-1] == width:
        return square
    return F.pad(square, (0, width - square.shape[-1]), value=0.0)


def render_page(
    image: np.ndarray | torch.Tensor,
    config: PreprocessConfig,
    *,
    device: torch.device | str = "cpu",
    uint8: bool = False,
) -> tuple[torch.Tensor, DetectorView]:
    """Build the published single detector input of a page: ``[3, L, Wpad]`` float32 in [0, 1], and its view.

    ``uint8``: resample in uint8 where that is possible (``render_square``): within 1.5/255, several times faster.
    """
    view = page_view(int(image.shape[0]), int(image.shape[1]), config)
    square = render_square(image, config.infer_length, config, device=device, uint8=uint8)
    return _fit_width(square, view.width), view


def render_window(
    image: np.ndarray | torch.Tensor,
    config: PreprocessConfig,
    x0: int,
    y0: int,
    size: int | tuple[int, int],
    *,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Build only the ``size × size`` (or ``(width, height)``) window at ``(x0, y0)`` of the page's detector input.

    Equal bit for bit to ``render_page(image, config)[0][:, y0 : y0 + h, x0 : x0 + w]`` (zeros where the window
    reaches the width padding), without resizing the rest of the page: training cuts one window per page.

    Returns:
        ``[3, h, w]`` float32 in [0, 1].
    """
    width, height = (size, size) if isinstance(size, int) else size
    view = page_view(int(image.shape[0]), int(image.shape[1]), config)
    length = config.infer_length
    if min(width, height) < 1 or x0 < 0 or y0 < 0 or y0 + height > view.height or x0 + width > view.width:
        raise ValueError(
            f"window ({x0}, {y0}) of {width} x {height} is not inside the {view.width} x {view.height} input"
        )
    x1 = min(x0 + width, length)
    if x1 <= x0:
        return torch.zeros(3, height, width, device=device)
    out = render_square(image, length, config, device=device, window=(x0, y0, x1, y0 + height))
    return out if x1 - x0 == width else F.pad(out, (0, width - (x1 - x0)), value=0.0)


def render_views(
    image: np.ndarray | torch.Tensor,
    config: PreprocessConfig,
    options: ScaleOptions,
    *,
    device: torch.device | str = "cpu",
    uint8: bool = False,
) -> tuple[list[torch.Tensor], list[DetectorView]]:
    """Build every detector input of one page for the given scale mode.

    Args:
        image: ``[H, W, 3]`` uint8 RGB page.
        config: the model's preprocessing.
        options: which views to build.
        device: where to build the inputs.
        uint8: resample the single view in uint8 where possible (``render_square``; reading does, training not).

    Returns:
        ``(inputs, views)``: inputs are ``[3, L, Wpad]`` float32 in [0, 1]; the single view comes first, then the
        tiles (if any) in row-major order.
    """
    single, view = render_page(image, config, device=device, uint8=uint8)
    inputs, views = [single], [view]
    if options.mode == "single":
        return inputs, views
    height, width = int(image.shape[0]), int(image.shape[1])
    tiles = tile_views(height, width, config, options)
    if not tiles:
        return inputs, views
    rendered = tiled_side(height, width, config, options)
    length = config.infer_length
    color = torch.tensor(config.pad_color, dtype=torch.float32, device=single.device).view(3, 1, 1)
    for tile_view in tiles:
        # Render each tile's window of the R x R rendering on its own (bit for bit the same crop of it): the whole
        # rendering would hold zoom² single views, mostly padding for a page far from square.
        x0, y0 = round(tile_view.offset_x / tile_view.scale), round(tile_view.offset_y / tile_view.scale)
        x1, y1 = min(x0 + length, rendered), min(y0 + length, rendered)
        crop = render_square(image, rendered, config, pad_how="bottom_right", device=device, window=(x0, y0, x1, y1))
        tile = color.expand(3, length, length).clone()
        tile[:, : crop.shape[1], : crop.shape[2]] = crop
        inputs.append(_fit_width(tile, tile_view.width))
        views.append(tile_view)
    return inputs, views
