"""Training targets built from the annotation schema (``data/manifest.py``) for the three models.

Everything here works on one page at a time, in numpy, so that it can run inside DataLoader workers.

* **Page preprocessing** is the inference one (``pipeline.preprocess.render_views`` with the single view: square pad
  with the pad colour, bilinear resize to ``L × L`` with ``align_corners=True``, right-pad the width to a multiple of
  128); quads go to detector space with the same ``DetectorView``. Augmentation (``data/augment.py``) only edits the
  page before that step, so the detector always sees inputs made exactly as at inference.
* **Detector targets** at stride 4 (spec §3.5, §4.1): a shrunk text score map, per-cell RBOX distances
  ``(t, r, b, l)`` to the edges of the rectangle fitted to the word quad and its angle θ, so that
  ``ops.rrect_to_quads`` of the target at any positive cell gives back the (rectangular) word quad, and a training
  mask that is 0 over ``ignore`` words and text too small to detect.
* **Region targets**: the words the detector is trained to find become the regions that the recognizer and the
  relational model are trained on, with slightly jittered quads (the pipeline feeds them detector quads, which are
  never exact). Per region: the token sequence (``Charset.encode``: characters, EOS = 1, blanks = 0 up to
  ``T = max_width``; rare characters → 2), and the indices that define the relational targets (next word in its
  line, its line, the next line of its paragraph). The relational targets themselves depend on the neighbours that
  the relational model picks and are finished in ``train/losses.py``.

Words whose text plus EOS does not fit in ``T`` positions are **excluded** from the recognizer loss (they stay
regions for detection and relations): a truncated label would teach the recognizer to stop reading early.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..charset import Charset
from ..geometry import quad_height
from .manifest import PageAnnotation

__all__ = [
    "TargetConfig",
    "DetectorTargets",
    "RegionTargets",
    "fit_rotated_rect",
    "encode_detector_targets",
    "encode_region_targets",
    "jitter_quads",
    "CELL_SIZE",
]

CELL_SIZE = 4
"""Detector stride: cell (row y, column x) has the prior point ``(4x + 2, 4y + 2)`` (spec §4.1)."""


@dataclass(frozen=True)
class TargetConfig:
    """How annotations become targets.

    Attributes:
        shrink: fraction of the word height removed from the top and from the bottom of the rectangle to get the
            positive core of the score map (0.3 keeps the middle 40 % of the text height), so that neighbouring
            lines stay apart and only cells with well-defined geometry vote for a box.
        end_shrink: fraction of the word height removed at the left and right ends of the core (capped at a quarter
            of the word width) so that words separated by one space keep negative cells between them.
        min_text_height: words lower than this, in detector pixels, become ignore regions (too small to read at
            stride 4) and are not regions.
        quad_jitter: standard deviation of the per-vertex noise added to region quads, relative to the word height.
        quad_shift: standard deviation of a per-quad translation (both axes), relative to the word height.
        quad_stretch: standard deviation of a per-quad relative change of width along the text direction.
    """

    shrink: float = 0.3
    end_shrink: float = 0.3
    min_text_height: float = 6.0
    quad_jitter: float = 0.04
    quad_shift: float = 0.05
    quad_stretch: float = 0.04

    def __post_init__(self) -> None:
        if not 0.0 <= self.shrink < 0.5:
            raise ValueError(f"TargetConfig.shrink must be in [0, 0.5), got {self.shrink!r}")
        if not 0.0 <= self.end_shrink < 0.5:
            raise ValueError(f"TargetConfig.end_shrink must be in [0, 0.5), got {self.end_shrink!r}")
        if self.min_text_height < 0:
            raise ValueError(f"TargetConfig.min_text_height must be >= 0, got {self.min_text_height!r}")
        for name in ("quad_jitter", "quad_shift", "quad_stretch"):
            if getattr(self, name) < 0:
                raise ValueError(f"TargetConfig.{name} must be >= 0, got {getattr(self, name)!r}")


@dataclass
class DetectorTargets:
    """Dense detector targets of one page at stride 4.

    Attributes:
        score: ``[Hf, Wf]`` float32, 1 on positive cells (shrunk word cores), 0 elsewhere.
        mask: ``[Hf, Wf]`` float32, 0 where the confidence loss ignores the cell (ignore words, tiny text), else 1.
        geometry: ``[Hf, Wf, 5]`` float32 (top, right, bottom, left in detector pixels, θ in radians ∈ (−π, π]);
            meaningful only where ``score == 1``.
        detectable: ``[n_words]`` bool, whether each word of the page got positive cells (it is a region).
        word_cells: ``[Hf, Wf]`` float32, on each positive cell the number of positive cells of the word that owns
            it (≥ 1), 0 elsewhere: what an instance-balanced loss (``LossConfig.instance_balance``) weighs by.
    """

    score: np.ndarray
    mask: np.ndarray
    geometry: np.ndarray
    detectable: np.ndarray
    word_cells: np.ndarray


@dataclass
class RegionTargets:
    """Per-region targets of one page (regions = detectable words, in annotation order).

    Attributes:
        word_index: ``[n]`` int64, index of each region's word in the page annotation.
        quads: ``[n, 4, 2]`` float32 jittered quads in detector space.
        tokens: ``[n, T]`` int64 token ids (characters, EOS 1, blanks 0).
        token_valid: ``[n]`` bool, False where the text does not fit (excluded from the recognizer loss).
        next_word: ``[n]`` int64 region index (within the page) of the next word in the line, or -1.
        line_id: ``[n]`` int64 page-local index of the region's line, or -1 when it is in no line.
        next_line: ``[n]`` int64 page-local index of the line that follows the region's line in its paragraph, or -1.
    """

    word_index: np.ndarray
    quads: np.ndarray
    tokens: np.ndarray
    token_valid: np.ndarray
    next_word: np.ndarray
    line_id: np.ndarray
    next_line: np.ndarray

    def __len__(self) -> int:
        return int(self.word_index.shape[0])


def fit_rotated_rect(quad: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, float, float, float, float]:
    """Fit the rotated rectangle that the RBOX head can express to a word quad.

    The angle follows the mean direction of the top (q0→q1) and bottom (q3→q2) edges, i.e. the text's reading
    direction (manifest convention), so rotated and vertical text keep their reading order. The sides are the mean
    positions of the quad's edges along that frame, which reproduces a rectangular quad exactly.

    Args:
        quad: ``[4, 2]`` float (x, y), clockwise from the text's top-left vertex.

    Returns:
        ``(theta, v_x, v_y, top, bottom, left, right)``: θ in radians ∈ (−π, π]; ``v_x = (cos θ, sin θ)`` and
        ``v_y = (sin θ, −cos θ)`` (the spec §4.1 "right" and "up" directions); and the rectangle's sides as
        coordinates along ``v_y`` (top > bottom) and ``v_x`` (right > left) in the frame's origin.
    """
    q = np.asarray(quad, dtype=np.float64)
    direction = (q[1] - q[0]) + (q[2] - q[3])
    theta = math.atan2(direction[1], direction[0])
    v_x = np.array([math.cos(theta), math.sin(theta)])
    v_y = np.array([math.sin(theta), -math.cos(theta)])
    along, across = q @ v_x, q @ v_y
    top = (across[0] + across[1]) / 2
    bottom = (across[2] + across[3]) / 2
    left = (along[0] + along[3]) / 2
    right = (along[1] + along[2]) / 2
    return theta, v_x, v_y, top, bottom, left, right


def encode_detector_targets(
    quads: np.ndarray,
    ignore: np.ndarray,
    *,
    height: int,
    width: int,
    config: TargetConfig,
) -> DetectorTargets:
    """Build the stride-4 score map, training mask and RBOX targets of one page.

    Positive cells are those whose prior point ``(4x + 2, 4y + 2)`` lies in the word rectangle shrunk by
    ``config.shrink · h`` at top and bottom and ``min(config.end_shrink · h, w / 4)`` at both ends. Where cores of
    two words overlap, the smaller word wins. A word whose core holds no prior point gets the cell nearest to its
    centre when that cell's prior lies inside the rectangle; otherwise it is treated like an ignore word. The cells
    inside ignore words (flag set, or height below ``config.min_text_height``) are masked out of the confidence
    loss unless they are positive for another word.

    Args:
        quads: ``[n, 4, 2]`` word quads in detector pixels.
        ignore: ``[n]`` bool, the annotation's ``ignore`` flags.
        height, width: detector input size in pixels (multiples of 4).
        config: target parameters.

    Returns:
        The page's :class:`DetectorTargets` with ``[height / 4, width / 4]`` maps.
    """
    quads = np.asarray(quads, dtype=np.float64).reshape(-1, 4, 2)
    ignore = np.asarray(ignore, dtype=bool).reshape(-1)
    if ignore.shape[0] != quads.shape[0]:
        raise ValueError(f"ignore has {ignore.shape[0]} flags for {quads.shape[0]} quads")
    if height % CELL_SIZE or width % CELL_SIZE:
        raise ValueError(f"detector input {height}x{width} is not a multiple of the stride {CELL_SIZE}")
    rows, cols = height // CELL_SIZE, width // CELL_SIZE
    score = np.zeros((rows, cols), dtype=np.float32)
    mask = np.ones((rows, cols), dtype=np.float32)
    geometry = np.zeros((rows, cols, 5), dtype=np.float32)
    owner_area = np.full((rows, cols), np.inf)
    owner = np.full((rows, cols), -1, dtype=np.int64)
    ignored_cells: list[tuple[np.ndarray, np.ndarray]] = []

    for i, quad in enumerate(quads):
        # Prior points of the cells under the quad's bounding box (a 1-cell margin covers rounding).
        x_lo = max(0, int(math.floor((quad[:, 0].min() - 2) / CELL_SIZE)))
        x_hi = min(cols - 1, int(math.ceil((quad[:, 0].max() - 2) / CELL_SIZE)))
        y_lo = max(0, int(math.floor((quad[:, 1].min() - 2) / CELL_SIZE)))
        y_hi = min(rows - 1, int(math.ceil((quad[:, 1].max() - 2) / CELL_SIZE)))
        if x_lo > x_hi or y_lo > y_hi:
            continue  # entirely off the detector input (most words of a page, for a training window)
        theta, v_x, v_y, top, bottom, left, right = fit_rotated_rect(quad)
        text_height, text_width = top - bottom, right - left
        cy, cx = np.meshgrid(np.arange(y_lo, y_hi + 1), np.arange(x_lo, x_hi + 1), indexing="ij")
        px, py = cx * CELL_SIZE + CELL_SIZE / 2, cy * CELL_SIZE + CELL_SIZE / 2
        along = px * v_x[0] + py * v_x[1]
        across = px * v_y[0] + py * v_y[1]
        # Distances from each prior to the four sides (spec §4.1: q0 = P − l·vX + t·vY reproduces the corner).
        dist_t, dist_b = top - across, across - bottom
        dist_l, dist_r = along - left, right - along
        inside = (dist_t >= 0) & (dist_b >= 0) & (dist_l >= 0) & (dist_r >= 0)
        too_small = text_height < max(config.min_text_height, 1e-6) or text_width <= 0
        if ignore[i] or too_small:
            ignored_cells.append((cy[inside], cx[inside]))
            continue
        margin_v = config.shrink * text_height
        margin_h = min(config.end_shrink * text_height, text_width / 4)
        core = (dist_t >= margin_v) & (dist_b >= margin_v) & (dist_l >= margin_h) & (dist_r >= margin_h)
        if not core.any():
            # Short or low words: keep the single cell nearest to the rectangle's centre if its prior is inside.
            centre_along, centre_across = (left + right) / 2, (top + bottom) / 2
            nearest = np.argmin((along - centre_along) ** 2 + (across - centre_across) ** 2)
            core = np.zeros_like(inside)
            core.flat[nearest] = inside.flat[nearest]
        if not core.any():
            ignored_cells.append((cy[inside], cx[inside]))
            continue
        area = text_height * text_width
        ys, xs = cy[core], cx[core]
        wins = area < owner_area[ys, xs]
        ys, xs = ys[wins], xs[wins]
        owner_area[ys, xs] = area
        owner[ys, xs] = i
        score[ys, xs] = 1.0
        geometry[ys, xs, 0] = dist_t[core][wins]
        geometry[ys, xs, 1] = dist_r[core][wins]
        geometry[ys, xs, 2] = dist_b[core][wins]
        geometry[ys, xs, 3] = dist_l[core][wins]
        geometry[ys, xs, 4] = theta

    # Ignore regions mask the confidence loss, except on cells that are positive for a real word.
    for ys, xs in ignored_cells:
        keep = score[ys, xs] == 0
        mask[ys[keep], xs[keep]] = 0.0
    # A word is a region only if it still owns cells once smaller overlapping words have taken theirs.
    detectable = np.zeros(quads.shape[0], dtype=bool)
    owners, counts = np.unique(owner[owner >= 0], return_counts=True)
    detectable[owners] = True
    word_cells = np.zeros((rows, cols), dtype=np.float32)
    if owners.size:
        per_word = np.zeros(quads.shape[0], dtype=np.float32)
        per_word[owners] = counts
        word_cells[owner >= 0] = per_word[owner[owner >= 0]]
    return DetectorTargets(score=score, mask=mask, geometry=geometry, detectable=detectable, word_cells=word_cells)


def jitter_quads(quads: np.ndarray, rng: np.random.Generator, config: TargetConfig) -> np.ndarray:
    """Perturb region quads like an imperfect detector would (vertex noise, shift, stretch along the text).

    Args:
        quads: ``[n, 4, 2]`` quads in detector pixels.
        rng: the page's random generator.
        config: noise levels relative to each word's height.

    Returns:
        ``[n, 4, 2]`` float32 jittered quads (same vertex order).
    """
    quads = np.asarray(quads, dtype=np.float64).reshape(-1, 4, 2)
    n = quads.shape[0]
    if n == 0:
        return quads.astype(np.float32)
    heights = np.maximum(quad_height(quads), 1.0)[:, None, None]
    centre = quads.mean(axis=1, keepdims=True)
    direction = (quads[:, 1] - quads[:, 0]) + (quads[:, 2] - quads[:, 3])
    direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-6)
    stretch = rng.normal(0.0, config.quad_stretch, size=(n, 1, 1))
    along = ((quads - centre) * direction[:, None, :]).sum(-1, keepdims=True)
    out = quads + stretch * along * direction[:, None, :]
    out = out + rng.normal(0.0, config.quad_shift, size=(n, 1, 2)) * heights
    out = out + rng.normal(0.0, config.quad_jitter, size=(n, 4, 2)) * heights
    return out.astype(np.float32)


def _line_structure(page: PageAnnotation, keep: np.ndarray) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """Return (next word of each kept word, line of each kept word, next line of each line) over kept words.

    Words that are not kept (ignored, too small, cropped away) are skipped, so a chain of words or lines stays
    connected around them; lines left empty are skipped in their paragraph's chain.
    """
    next_word: dict[int, int] = {}
    line_of: dict[int, int] = {}
    non_empty: set[int] = set()
    for li, line in enumerate(page.lines):
        kept = [w for w in line.words if keep[w]]
        if kept:
            non_empty.add(li)
        for a, b in zip(kept[:-1], kept[1:]):
            next_word[a] = b
        for w in kept:
            line_of[w] = li
    next_line: dict[int, int] = {}
    for paragraph in page.paragraphs:
        kept_lines = [li for li in paragraph.lines if li in non_empty]
        for a, b in zip(kept_lines[:-1], kept_lines[1:]):
            next_line[a] = b
    return next_word, line_of, next_line


def encode_region_targets(
    page: PageAnnotation,
    quads: np.ndarray,
    detectable: np.ndarray,
    *,
    charset: Charset,
    max_width: int,
    rng: np.random.Generator,
    config: TargetConfig,
) -> RegionTargets:
    """Build the recognizer and relational targets of one page.

    Args:
        page: the (possibly augmented) annotation; its word order defines ``word_index``.
        quads: ``[n_words, 4, 2]`` word quads in detector pixels.
        detectable: ``[n_words]`` bool from :func:`encode_detector_targets`; these words become the regions.
        charset: the model's charset (token id = index + 3).
        max_width: recognizer sequence length T.
        rng: the page's random generator (quad jitter).
        config: jitter levels.

    Returns:
        The page's :class:`RegionTargets` (regions in annotation order).
    """
    keep = np.asarray(detectable, dtype=bool)
    word_index = np.flatnonzero(keep)
    region_of = {int(w): r for r, w in enumerate(word_index)}
    next_word_map, line_of, next_line_map = _line_structure(page, keep)
    n = word_index.shape[0]
    tokens = np.zeros((n, max_width), dtype=np.int64)
    token_valid = np.zeros(n, dtype=bool)
    next_word = np.full(n, -1, dtype=np.int64)
    line_id = np.full(n, -1, dtype=np.int64)
    next_line = np.full(n, -1, dtype=np.int64)
    for r, w in enumerate(word_index.tolist()):
        text = page.words[w].text
        # Text + EOS must fit in T positions; longer words are left out of the recognizer loss (module docstring).
        if 0 < len(text) < max_width:
            tokens[r] = charset.encode(text, max_length=max_width)
            token_valid[r] = True
        if w in next_word_map:
            next_word[r] = region_of[next_word_map[w]]
        if w in line_of:
            line_id[r] = line_of[w]
            next_line[r] = next_line_map.get(line_of[w], -1)
    region_quads = jitter_quads(np.asarray(quads)[word_index], rng, config)
    return RegionTargets(
        word_index=word_index.astype(np.int64),
        quads=region_quads,
        tokens=tokens,
        token_valid=token_valid,
        next_word=next_word,
        line_id=line_id,
        next_line=next_line,
    )
