"""Per-page training samples and the batch they are collated into."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import torch

__all__ = ["PageSample", "TrainBatch", "collate_pages"]


@dataclass
class PageSample:
    """Everything one page contributes to a training step (see ``data/targets.py`` for the meaning of each field).

    Attributes:
        image: ``[3, L, Wpad]`` float32 detector input in [0, 1].
        score, mask: ``[L/4, Wpad/4]`` float32 detector score map and confidence-loss mask.
        geometry: ``[L/4, Wpad/4, 5]`` float32 RBOX targets (t, r, b, l, θ).
        quads: ``[n, 4, 2]`` float32 region quads in detector pixels.
        word_cells: ``[L/4, Wpad/4]`` float32 positive cells of the word owning each positive cell (0 elsewhere), or
            None when the page does not say (then an instance-balanced loss weighs its cells alike).
        tokens: ``[n, T]`` int64 recognizer targets; token_valid: ``[n]`` bool.
        next_word, line_id, next_line: ``[n]`` int64 relational indices (page-local, -1 = none).
        relational_shift: ``[2]`` float32 translation of the page's relational quads (units of ``quad_downscale``).
        page_id: the annotation's id; position: the page's position in the training stream.
    """

    image: np.ndarray | torch.Tensor
    score: np.ndarray
    mask: np.ndarray
    geometry: np.ndarray
    quads: np.ndarray
    tokens: np.ndarray
    token_valid: np.ndarray
    next_word: np.ndarray
    line_id: np.ndarray
    next_line: np.ndarray
    relational_shift: np.ndarray = field(default_factory=lambda: np.zeros(2, dtype=np.float32))
    page_id: str = ""
    position: int = 0
    word_cells: np.ndarray | None = None


@dataclass
class TrainBatch:
    """A micro-batch of pages; region tensors are the pages' regions concatenated in page order.

    Attributes:
        images: ``[B, 3, L, Wpad]`` float32 in [0, 1].
        score, mask: ``[B, L/4, Wpad/4]`` float32.
        geometry: ``[B, L/4, Wpad/4, 5]`` float32.
        quads: ``[N, 4, 2]`` float32 detector-space region quads.
        tokens: ``[N, T]`` int64; token_valid: ``[N]`` bool.
        next_word: ``[N]`` int64 index *within its page* of the next word in the line, or -1.
        line_id, next_line: ``[N]`` int64 page-local line indices, or -1.
        region_counts: ``[B]`` int64 regions per page (sums to N).
        relational_shift: ``[B, 2]`` float32 translation of each page's relational quads (units of
            ``quad_downscale``; zeros without augmentation).
        page_ids: annotation ids; positions: stream positions of the pages.
        batch_index: index of this micro-batch in its process's stream (the data position for exact resume).
        word_cells: ``[B, L/4, Wpad/4]`` float32 cells of the word owning each positive cell, or None unless every
            page carries them.
    """

    images: torch.Tensor
    score: torch.Tensor
    mask: torch.Tensor
    geometry: torch.Tensor
    quads: torch.Tensor
    tokens: torch.Tensor
    token_valid: torch.Tensor
    next_word: torch.Tensor
    line_id: torch.Tensor
    next_line: torch.Tensor
    region_counts: torch.Tensor
    relational_shift: torch.Tensor
    page_ids: list[str]
    positions: list[int]
    batch_index: int = 0
    word_cells: torch.Tensor | None = None

    @property
    def num_pages(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_regions(self) -> int:
        return int(self.quads.shape[0])

    def to(self, device: torch.device | str, *, non_blocking: bool = False) -> TrainBatch:
        """Return a copy with every tensor on ``device``."""
        moved = {}
        for f in fields(self):
            value = getattr(self, f.name)
            moved[f.name] = value.to(device, non_blocking=non_blocking) if isinstance(value, torch.Tensor) else value
        return TrainBatch(**moved)

    def pin_memory(self) -> TrainBatch:
        """Pin every tensor (called by ``DataLoader(pin_memory=True)``)."""
        pinned = {}
        for f in fields(self):
            value = getattr(self, f.name)
            pinned[f.name] = value.pin_memory() if isinstance(value, torch.Tensor) else value
        return TrainBatch(**pinned)


def collate_pages(samples: Sequence[PageSample], *, max_width: int, batch_index: int = 0) -> TrainBatch:
    """Stack page samples into a :class:`TrainBatch`.

    Args:
        samples: pages of equal detector-input size.
        max_width: recognizer sequence length T (shapes the token tensor when no page has regions).
        batch_index: the micro-batch's index in its stream.

    Raises:
        ValueError: if ``samples`` is empty or the pages differ in size.
    """
    if not samples:
        raise ValueError("cannot collate an empty list of pages")
    shapes = {tuple(np.shape(s.image)) for s in samples}
    if len(shapes) != 1:
        raise ValueError(f"pages of one batch must share the detector input size, got {sorted(shapes)}")

    def stack(name: str) -> torch.Tensor:
        return torch.stack([torch.as_tensor(getattr(s, name)) for s in samples])

    def concat(name: str, empty_shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        parts = [torch.as_tensor(getattr(s, name)) for s in samples if len(getattr(s, name))]
        return torch.cat(parts).to(dtype) if parts else torch.zeros(empty_shape, dtype=dtype)

    return TrainBatch(
        images=stack("image").float(),
        score=stack("score").float(),
        mask=stack("mask").float(),
        geometry=stack("geometry").float(),
        quads=concat("quads", (0, 4, 2), torch.float32),
        tokens=concat("tokens", (0, max_width), torch.int64),
        token_valid=concat("token_valid", (0,), torch.bool),
        next_word=concat("next_word", (0,), torch.int64),
        line_id=concat("line_id", (0,), torch.int64),
        next_line=concat("next_line", (0,), torch.int64),
        region_counts=torch.tensor([len(s.quads) for s in samples], dtype=torch.int64),
        relational_shift=stack("relational_shift").float(),
        word_cells=stack("word_cells").float() if all(s.word_cells is not None for s in samples) else None,
        page_ids=[s.page_id for s in samples],
        positions=[s.position for s in samples],
        batch_index=batch_index,
    )
