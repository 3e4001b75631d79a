"""Words too long for the recognizer's strip, read again as overlapping windows (ours, issue #19).

The recognizer reads each quad as a strip of ``T`` columns (``RecognizerConfig.max_width``); a quad whose strip
would be wider at the recognizer's scale (``calc_quad_width`` without a cap) is squeezed into ``T`` columns, and
squeezed text reads badly: on DocBank's true boxes (pages 21–50) the shipped English model read 37 % of the words of
16–31 characters right, and none longer; on the corpus's English pages words of 16 or more characters, mostly TeX
macros, code and URLs, were missed 83–100 % of the time against RapidOCR's 17–32 %.

Here such a quad is cut along its text direction into windows of exactly ``T`` columns at the recognizer's scale,
each overlapping the next by a fraction of ``T``; each window is read as an ordinary strip and the readings are
joined at the longest run of characters that two neighbours share in their overlap. Joining by text, not by
column: the recognizer's CTC output is not aligned with its input columns (a window's first characters are emitted
early and its middle columns are blanks), so the logits of two windows cannot be stitched at a column.

Functions:

* :func:`window_quads` — the windows of the quads that need them, and which quad each belongs to;
* :func:`join_readings` — the joined text of one quad's window readings, or None where two neighbours share too
  little to be joined safely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from textspotter.ops.rectify import natural_quad_width
from textspotter.ops.switches import auto_on_off

__all__ = ["LongWordOptions", "join_readings", "long_word_options", "natural_widths", "window_quads"]


@dataclass(frozen=True)
class LongWordOptions:
    """When and how a quad too long for the recognizer's strip is read again in windows.

    Attributes:
        min_ratio: a quad is read in windows when its strip would be more than ``min_ratio · T`` columns wide
            (> 1). Slightly long words read better squeezed than in windows (the lexicon rescores the squeezed
            reading; two windows of a 12-letter word share little): 1.3 was the best of 1.0, 1.3 and 1.6 on DocBank
            true boxes, pages 21–50.
        overlap: fraction of ``T`` that neighbouring windows share, in (0, 1).
        min_match: fewest characters two neighbouring readings must share to be joined; otherwise the squeezed
            reading is kept.
        max_windows: a quad that would need more windows keeps its squeezed reading (bounds the work a stray
            detection, e.g. a rule line read as text, can cost).
        max_confidence: only squeezed readings less confident than this are read again. 0.95 (default) halved
            the windows read on DocBank's true boxes (pages 21–50: 1,106 → 496; words exact 87.77 → 87.75 %) and
            read the corpus's English dev pages as well as 1 (every long quad) did.
    """

    min_ratio: float = 1.3
    overlap: float = 0.5
    min_match: int = 2
    max_windows: int = 16
    max_confidence: float = 0.95

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_ratio) and self.min_ratio >= 1.0):
            raise ValueError(f"LongWordOptions.min_ratio must be a finite number >= 1, got {self.min_ratio!r}")
        if not 0.0 < self.overlap < 1.0:
            raise ValueError(f"LongWordOptions.overlap must be in (0, 1), got {self.overlap!r}")
        if isinstance(self.min_match, bool) or not isinstance(self.min_match, int) or self.min_match < 1:
            raise ValueError(f"LongWordOptions.min_match must be an integer >= 1, got {self.min_match!r}")
        if isinstance(self.max_windows, bool) or not isinstance(self.max_windows, int) or self.max_windows < 2:
            raise ValueError(f"LongWordOptions.max_windows must be an integer >= 2, got {self.max_windows!r}")
        if not 0.0 < self.max_confidence <= 1.0:
            raise ValueError(f"LongWordOptions.max_confidence must be in (0, 1], got {self.max_confidence!r}")


def long_word_options(name: str) -> LongWordOptions | Literal["auto"] | None:
    """The ``RecognitionOptions.long_words`` value of a CLI choice: ``auto``, ``on`` (defaults) or ``off`` (None).

    >>> long_word_options("off") is None, long_word_options("auto"), long_word_options("on").min_ratio
    (True, 'auto', 1.3)
    """
    return auto_on_off(name, LongWordOptions, "long-word")


def natural_widths(quads: torch.Tensor, rows: int, column_scale: float) -> torch.Tensor:
    """Strip width of each quad at the recognizer's scale, uncapped and unrounded.

    ``s · (rows / h) · w`` with ``w`` the top edge, ``h`` the mean of the side edges (at least 2), ``s`` the column
    scale: :func:`~textspotter.ops.rectify.calc_quad_width` before its rounding and cap
    (:func:`~textspotter.ops.rectify.natural_quad_width`).

    Args:
        quads: ``[N, 4, 2]`` quads (any pixel frame), clockwise from top-left.
        rows: strip height in rows (``RecognizerConfig.strip_height``).
        column_scale: ``RecognizerConfig.column_scale``.

    Returns:
        ``[N]`` float32 widths in columns.
    """
    return natural_quad_width(quads, rows, column_scale)


def window_quads(
    quads: torch.Tensor,
    rows: int,
    max_width: int,
    column_scale: float,
    options: LongWordOptions,
    eligible: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut each quad too long for a ``max_width``-column strip into overlapping windows of ``max_width`` columns.

    A quad of natural width ``W > min_ratio · T`` (:func:`natural_widths`) gets ``n = ceil((W − T) / (T − o)) + 1``
    windows (``o = overlap · T`` columns shared), the first starting at the quad's start, the last ending at its
    end, evenly spaced between; each window is the part of the quad between two fractions of its length, its top
    and bottom edges cut at the same fractions, so it keeps the quad's slant. Quads needing more than
    ``max_windows`` windows get none.

    Args:
        quads: ``[N, 4, 2]`` float quads, clockwise from top-left.
        rows: strip height (``RecognizerConfig.strip_height``).
        max_width: ``T``.
        column_scale: ``RecognizerConfig.column_scale``.
        options: :class:`LongWordOptions`.
        eligible: ``[N]`` bool, the quads that may be cut (e.g. readings below ``options.max_confidence``); None:
            all.

    Returns:
        ``(windows [M, 4, 2] float32, owner [M] int64)``: the windows, each quad's consecutive and in reading
        direction, and the index of the quad each belongs to (ascending). ``M = 0`` when no quad is long.
    """
    if quads.ndim != 3 or tuple(quads.shape[1:]) != (4, 2):
        raise ValueError(f"quads must have shape [N, 4, 2], got {tuple(quads.shape)}")
    q = quads.float()
    widths = natural_widths(q, rows, column_scale)
    wanted = widths > options.min_ratio * max_width
    if eligible is not None:
        wanted &= eligible.to(device=wanted.device, dtype=torch.bool)
    long = torch.nonzero(wanted).flatten()
    empty = (q.new_zeros(0, 4, 2), torch.zeros(0, dtype=torch.int64, device=q.device))
    if long.numel() == 0:
        return empty
    stride = max_width * (1.0 - options.overlap)
    fractions: list[torch.Tensor] = []
    owners: list[int] = []
    for index, width in zip(long.tolist(), widths[long].tolist(), strict=True):
        count = max(2, math.ceil((width - max_width) / stride) + 1)
        if count > options.max_windows:
            continue
        # Evenly spaced starts from 0 to W - T: the windows cover the quad exactly and overlap at least o columns.
        starts = torch.linspace(0.0, width - max_width, count, dtype=torch.float32, device=q.device)
        fractions.append(torch.stack([starts / width, (starts + max_width) / width], dim=1))
        owners.extend([index] * count)
    if not owners:
        return empty
    owner = torch.tensor(owners, dtype=torch.int64, device=q.device)
    span = torch.cat(fractions)  # [M, 2]: start and end fractions along the quad
    src = q[owner]
    top0, top1, bottom1, bottom0 = src[:, 0], src[:, 1], src[:, 2], src[:, 3]
    a, b = span[:, :1], span[:, 1:]
    top_a, top_b = top0 + a * (top1 - top0), top0 + b * (top1 - top0)
    bottom_a, bottom_b = bottom0 + a * (bottom1 - bottom0), bottom0 + b * (bottom1 - bottom0)
    return torch.stack([top_a, top_b, bottom_b, bottom_a], dim=1), owner


def join_readings(texts: list[str], min_match: int = 2, advance: float | None = None) -> str | None:
    """Join the readings of one quad's consecutive windows into one text.

    Two neighbours are joined at a run of characters common to the text so far and to the next reading: the text so
    far up to the run, then the next reading from the run on. The characters at a window's edges are often a glyph
    cut in half; the run lies inside both windows, where each reads whole glyphs. Of the common runs (each as long
    as it can be), the longest wins, less one character for each character its placement of the next reading is
    off from where the windows' geometry puts it: ``advance`` times the previous reading's length after that
    reading's start (for ``advance=None``, where the previous reading would end if the two shared half of the
    shorter). So in ``insulator-`` + ``ator-insul`` the run ``ator-`` wins over ``insul``, which would put the next
    window before the previous one.

    Args:
        texts: the windows' readings, in reading direction (at least one).
        min_match: fewest characters the run must have.
        advance: how far each window starts after the previous one, as a fraction of a window's width (``(W − T) /
            ((n − 1) · T)`` for :func:`window_quads`' windows), or None.

    Returns:
        The joined text, or None when two neighbours share no run of ``min_match`` characters (no safe join).

    >>> join_readings(["amplificatio", "mplification,"])
    'amplification,'
    >>> join_readings(["insulator-", "ator-insul", ".insulator"], advance=0.4)
    'insulator-insulator'
    >>> join_readings(["abc", "xyz"]) is None
    True
    """
    if not texts:
        raise ValueError("join_readings needs at least one reading")
    joined = texts[0]
    start = 0  # where the previous reading starts in ``joined``
    previous = texts[0]
    for text in texts[1:]:
        if advance is None:
            expected = start + max(0, len(previous) - min(len(previous), len(text)) // 2)
        else:
            expected = start + round(advance * len(previous))
        best: tuple[float, int, int] | None = None  # (score, end in joined, end in text)
        # suffix[j]: length of the common run ending at joined[i - 1] and text[j - 1] (dynamic programming).
        above = [0] * (len(text) + 1)
        for i in range(1, len(joined) + 1):
            row = [0] * (len(text) + 1)
            for j in range(1, len(text) + 1):
                if joined[i - 1] == text[j - 1]:
                    row[j] = above[j - 1] + 1
            for j in range(1, len(text) + 1):
                size = row[j]
                # A maximal run only: it cannot be extended to the right in both strings.
                if size < min_match or (i < len(joined) and j < len(text) and joined[i] == text[j]):
                    continue
                shift = (i - size) - (j - size)  # where the next reading starts in ``joined``
                score = size - abs(shift - expected)
                if best is None or score > best[0]:
                    best = (score, i - size, j - size)
            above = row
        if best is None:
            return None
        _, at_joined, at_text = best
        start = at_joined - at_text
        joined = joined[:at_joined] + text[at_text:]
        previous = text
    return joined
