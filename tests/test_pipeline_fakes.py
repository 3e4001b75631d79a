"""Test doubles for the pipeline tests (no tests here).

A randomly initialised detector finds no text, so pipeline tests wrap the real tiny-test detector in
``DarkBoxDetector``: it returns the real feature map (so the recognizer and relational model read real, batch-
sensitive features) but replaces confidence and rotated boxes by an exact description of the dark rectangles of the
input: every cell whose 4×4 pixels are mostly dark is "text", and its box distances reach the edges of its run of
dark cells. Black rectangles drawn on a white page therefore come back as one region each, with known quads.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from textspotter.models import DetectorOutput, create_model

CELL = 4


def _run_lengths(mask: torch.Tensor, dim: int, reverse: bool) -> torch.Tensor:
    """Number of consecutive True cells ending at each cell along ``dim`` (counting the cell itself)."""
    m = mask.flip(dim) if reverse else mask
    out = torch.zeros_like(m, dtype=torch.float32)
    run = torch.zeros_like(m.select(dim, 0), dtype=torch.float32)
    for i in range(m.shape[dim]):
        run = (run + 1) * m.select(dim, i)
        out.select(dim, i).copy_(run)
    return out.flip(dim) if reverse else out


class DarkBoxDetector(nn.Module):
    """Wrap a detector: real features, confidence and axis-aligned boxes from the dark cells of the input."""

    def __init__(self, real: nn.Module) -> None:
        super().__init__()
        self.real = real

    def forward(self, images: torch.Tensor) -> DetectorOutput:
        features = self.real(images).features
        dark = 1.0 - images.float().mean(1, keepdim=True)  # (B, 1, H, W)
        cells = F.avg_pool2d(dark, CELL)[:, 0] > 0.5  # (B, Hf, Wf)
        # Distances from the cell centre to the run's edges: (run - 1) cells plus half a cell.
        top = _run_lengths(cells, 1, reverse=False) * CELL - CELL / 2
        bottom = _run_lengths(cells, 1, reverse=True) * CELL - CELL / 2
        left = _run_lengths(cells, 2, reverse=False) * CELL - CELL / 2
        right = _run_lengths(cells, 2, reverse=True) * CELL - CELL / 2
        rboxes = torch.stack([top, right, bottom, left, torch.zeros_like(top)], dim=-1).clamp(min=0)
        confidence = torch.where(cells, torch.tensor(8.0), torch.tensor(-8.0))
        return DetectorOutput(confidence.to(images.dtype), rboxes.to(images.dtype), features)


def fake_model(seed: int = 0):  # noqa: ANN201 - OCRModel
    """The tiny-test model (seeded random weights) with its detector wrapped in ``DarkBoxDetector``."""
    torch.manual_seed(seed)
    model = create_model("tiny-test").eval()
    model.detector = DarkBoxDetector(model.detector)
    return model


def read_always(model, text: str) -> None:  # noqa: ANN001 - OCRModel
    """Make the recognizer read ``text`` (then EOS) in every region with near-certain confidence."""
    ids = [model.spec.charset.token_id(c) for c in text] + [1]
    recognizer = model.recognizer
    with torch.no_grad():
        recognizer.classifier.weight.zero_()
        recognizer.classifier.bias.zero_()
        bias = torch.full((recognizer.max_width, recognizer.classifier.bias.shape[0]), -30.0)
        bias[torch.arange(recognizer.max_width), 0] = 30.0  # blanks after the text
        bias[torch.arange(len(ids)), ids] = 30.0
        bias[torch.arange(len(ids)), 0] = -30.0
    # Position-dependent output needs a position-dependent bias: fold it into the classifier through a hook.
    recognizer.classifier.register_forward_hook(lambda module, args, out: out + bias[: out.shape[-2]].to(out))


def page_with_boxes(height: int, width: int, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """A white ``[H, W, 3]`` uint8 page with black rectangles ``(x0, y0, x1, y1)`` (pixel edges, exclusive end)."""
    page = np.full((height, width, 3), 255, dtype=np.uint8)
    for x0, y0, x1, y1 in boxes:
        page[y0:y1, x0:x1] = 0
    return page
