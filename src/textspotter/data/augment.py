"""Training augmentation of whole pages, applied before the inference preprocessing.

Geometric changes edit the page image and its annotation *before* ``pipeline.preprocess.render_views`` turns it into
the detector input, so the model always sees inputs padded and resized exactly as at inference, and targets follow
the words by construction:

* **crop** a window of the page (text becomes larger in detector pixels; words cut by the window become ``ignore``
  regions, words outside it are dropped by the detector targets because their cells fall off the input);
* **zoom out** by padding the page with the pad colour to a larger square (text becomes smaller).

Photometric changes (brightness, contrast, noise) apply to the detector input itself. The relational model also gets
the published training-time translation of its input quads (a random page offset, spec §7.2), which leaves the
neighbour distances and directions unchanged but keeps it from relying on absolute positions. As in the generator,
every random choice is drawn first into a plain :class:`AugmentParams` record, which is then applied.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from .manifest import PageAnnotation

__all__ = [
    "AugmentConfig",
    "AugmentParams",
    "sample_augment",
    "apply_geometry",
    "apply_photometric",
    "visible_fraction",
    "sample_input_window",
]


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation strengths.

    Attributes:
        enabled: master switch (evaluation and the tiny tests turn it off).
        crop_probability: chance of cropping a window of the page.
        min_crop_side: smallest crop side, relative to the page's longer side (0.4 → text up to 2.5× larger).
        max_crop_aspect: the crop's width/height ratio is drawn log-uniformly in ``[1/r, r]``.
        zoom_out_probability: chance of padding the (cropped) page to a larger square.
        max_zoom_out: largest square side relative to the page's longer side (1.5 → text down to 2/3 of its size).
        clipped_visibility: a word keeping less than this fraction of its box inside the crop becomes ``ignore``.
        brightness: largest additive brightness change (inputs are in [0, 1]).
        contrast: largest relative contrast change around mid-grey.
        noise_std: largest standard deviation of additive Gaussian pixel noise.
        relational_shift: largest translation of the relational model's quads, in units of its ``quad_downscale``
            (published training: 2, i.e. offsets in [−2, 2) after the division by 1024).
    """

    enabled: bool = True
    crop_probability: float = 0.4
    min_crop_side: float = 0.4
    max_crop_aspect: float = 1.5
    zoom_out_probability: float = 0.2
    max_zoom_out: float = 1.5
    clipped_visibility: float = 0.95
    brightness: float = 0.1
    contrast: float = 0.2
    noise_std: float = 0.03
    relational_shift: float = 2.0

    def __post_init__(self) -> None:
        for name in ("crop_probability", "zoom_out_probability", "clipped_visibility"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"AugmentConfig.{name} must be in [0, 1], got {getattr(self, name)!r}")
        if not 0.0 < self.min_crop_side <= 1.0:
            raise ValueError(f"AugmentConfig.min_crop_side must be in (0, 1], got {self.min_crop_side!r}")
        if self.max_crop_aspect < 1.0 or self.max_zoom_out < 1.0:
            raise ValueError("AugmentConfig.max_crop_aspect and max_zoom_out must be >= 1")
        for name in ("brightness", "contrast", "noise_std", "relational_shift"):
            if getattr(self, name) < 0:
                raise ValueError(f"AugmentConfig.{name} must be >= 0, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class AugmentParams:
    """The sampled augmentation of one page.

    Attributes:
        crop: ``(x0, y0, x1, y1)`` window in page pixels, or None.
        square_side: side of the padded square the (cropped) page is placed in (top-left), or None for the usual
            ``max(H, W)``.
        brightness: additive change.
        contrast: multiplicative change around 0.5.
        noise_std: pixel noise standard deviation.
        noise_seed: seed of the pixel noise.
        relational_shift: (x, y) translation of the relational model's quads, in units of its ``quad_downscale``.
    """

    crop: tuple[int, int, int, int] | None = None
    square_side: int | None = None
    brightness: float = 0.0
    contrast: float = 1.0
    noise_std: float = 0.0
    noise_seed: int = 0
    relational_shift: tuple[float, float] = (0.0, 0.0)


def sample_augment(rng: np.random.Generator, height: int, width: int, config: AugmentConfig) -> AugmentParams:
    """Draw the augmentation of one ``height × width`` page (identity when ``config.enabled`` is False)."""
    if not config.enabled:
        return AugmentParams()
    crop = None
    if rng.random() < config.crop_probability:
        side = max(height, width) * rng.uniform(config.min_crop_side, 1.0)
        aspect = float(np.exp(rng.uniform(-1.0, 1.0) * np.log(config.max_crop_aspect)))
        crop_w = int(min(width, max(8, round(side * np.sqrt(aspect)))))
        crop_h = int(min(height, max(8, round(side / np.sqrt(aspect)))))
        x0 = int(rng.integers(0, width - crop_w + 1))
        y0 = int(rng.integers(0, height - crop_h + 1))
        crop = (x0, y0, x0 + crop_w, y0 + crop_h)
    square_side = None
    if rng.random() < config.zoom_out_probability:
        h, w = (crop[3] - crop[1], crop[2] - crop[0]) if crop else (height, width)
        square_side = int(round(max(h, w) * rng.uniform(1.0, config.max_zoom_out)))
    return AugmentParams(
        crop=crop,
        square_side=square_side,
        brightness=float(rng.uniform(-config.brightness, config.brightness)),
        contrast=float(1.0 + rng.uniform(-config.contrast, config.contrast)),
        noise_std=float(rng.uniform(0.0, config.noise_std)),
        noise_seed=int(rng.integers(0, 2**31 - 1)),
        relational_shift=(
            float(rng.uniform(-config.relational_shift, config.relational_shift)),
            float(rng.uniform(-config.relational_shift, config.relational_shift)),
        ),
    )


def visible_fraction(quads: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    """Fraction ``[n]`` of each quad's ``[n, 4, 2]`` axis-aligned box inside ``window`` (x0, y0, x1, y1)."""
    lo, hi = quads.min(axis=1), quads.max(axis=1)  # (n, 4, 2) -> (n, 2)
    inter_lo = np.maximum(lo, np.array(window[:2], dtype=np.float64))
    inter_hi = np.minimum(hi, np.array(window[2:], dtype=np.float64))
    inter = np.clip(inter_hi - inter_lo, 0, None).prod(axis=1)
    area = np.clip(hi - lo, 1e-6, None).prod(axis=1)
    return inter / area


def apply_geometry(
    image: np.ndarray,
    page: PageAnnotation,
    params: AugmentParams,
    *,
    pad_color: tuple[float, float, float],
    clipped_visibility: float,
) -> tuple[np.ndarray, PageAnnotation]:
    """Crop and/or pad a page and move its annotation with it.

    Args:
        image: ``[H, W, 3]`` uint8 RGB page.
        page: its annotation (not modified; a changed copy is returned, sharing its lines, paragraphs, tables
            and params).
        params: the sampled augmentation.
        pad_color: the model's pad colour, RGB in [0, 1].
        clipped_visibility: words with a smaller visible fraction of their box become ``ignore``.

    Returns:
        ``(image, page)``: the new ``[H', W', 3]`` uint8 page and its annotation (same words, lines and paragraphs,
        quads in the new page's pixels; ``width``/``height`` updated).
    """
    if params.crop is None and params.square_side is None:
        return image, page
    # New word records, the rest shared: lines, paragraphs, tables and params are only read downstream, and a deep
    # copy of a dense real page (hundreds of words) cost more than building the training window itself.
    words = page.words
    if params.crop is not None:
        x0, y0, x1, y1 = params.crop
        image = image[y0:y1, x0:x1]
        if words:
            quads = np.array([w.quad for w in words], dtype=np.float64)
            visible = visible_fraction(quads, params.crop)
            quads -= np.array([x0, y0], dtype=np.float64)
            words = [
                dataclasses.replace(word, quad=quad.tolist(), ignore=word.ignore or bool(fraction < clipped_visibility))
                for word, quad, fraction in zip(words, quads, visible)
            ]
    if params.square_side is not None and params.square_side > max(image.shape[:2]):
        side = params.square_side
        color = np.round(np.asarray(pad_color, dtype=np.float64) * 255).astype(np.uint8)
        canvas = np.empty((side, side, 3), dtype=np.uint8)
        canvas[:] = color
        canvas[: image.shape[0], : image.shape[1]] = image
        image = canvas
    page = dataclasses.replace(page, words=list(words), height=int(image.shape[0]), width=int(image.shape[1]))
    return np.ascontiguousarray(image), page


def apply_photometric(pixels: torch.Tensor, params: AugmentParams) -> torch.Tensor:
    """Change brightness and contrast and add pixel noise to a ``[3, H, W]`` float input in [0, 1] (clamped)."""
    if params.brightness == 0.0 and params.contrast == 1.0 and params.noise_std == 0.0:
        return pixels
    out = (pixels - 0.5) * params.contrast + 0.5 + params.brightness
    if params.noise_std > 0:
        generator = torch.Generator().manual_seed(params.noise_seed)
        out = out + torch.randn(out.shape, generator=generator) * params.noise_std
    return out.clamp(0.0, 1.0)


def sample_input_window(
    rng: np.random.Generator,
    quads: np.ndarray,
    ignore: np.ndarray,
    *,
    height: int,
    width: int,
    size: int | tuple[int, int],
    text_probability: float = 0.9,
    avoid: np.ndarray | None = None,
) -> tuple[int, int]:
    """Choose a ``size × size`` (or ``(width, height)``) training window inside a ``height × width`` detector input.

    With probability ``text_probability`` (and if there is a word) the window contains the centre of a random
    non-ignored word at a random place; otherwise it is uniform. The corner is a multiple of the detector stride (4)
    so that the window's cells are cells of the whole input. Words flagged in ``avoid`` (those that earlier windows of
    the same page hold) are not aimed at while another word is left, which spreads a page's windows over it; with
    nothing to avoid the window is the one chosen without ``avoid``, so a page's first window does not depend on how
    many follow.

    Args:
        rng: the page's random generator.
        quads: ``[n, 4, 2]`` word quads in detector pixels.
        ignore: ``[n]`` bool, words not to aim at.
        height, width: detector input size.
        size: window side, or its ``(width, height)`` (at most the input's).
        text_probability: chance of aiming at a word.
        avoid: ``[n]`` bool, words to aim at only when no other is left (None: none).

    Returns:
        ``(x0, y0)``, the window's top-left corner in detector pixels.
    """
    size_x, size_y = (size, size) if isinstance(size, int) else size
    if size_x > width or size_y > height:
        raise ValueError(f"training window {size_x}x{size_y} does not fit in the {width}x{height} detector input")
    wanted = ~np.asarray(ignore, dtype=bool)
    if avoid is not None and (wanted & ~np.asarray(avoid, dtype=bool)).any():
        wanted &= ~np.asarray(avoid, dtype=bool)
    candidates = np.flatnonzero(wanted)
    if candidates.size and rng.random() < text_probability:
        centre = np.asarray(quads[int(rng.choice(candidates))], dtype=np.float64).mean(axis=0)
        x0 = centre[0] - rng.uniform(0.1, 0.9) * size_x
        y0 = centre[1] - rng.uniform(0.1, 0.9) * size_y
    else:
        x0 = rng.uniform(0, width - size_x)
        y0 = rng.uniform(0, height - size_y)
    x0 = int(np.clip(x0, 0, width - size_x)) // 4 * 4
    y0 = int(np.clip(y0, 0, height - size_y)) // 4 * 4
    return x0, y0
