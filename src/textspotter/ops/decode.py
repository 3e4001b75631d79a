"""Greedy decoding of recognizer logits and the confidence rules of the published models (spec §6.4)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, overload

import torch

from ..charset import BLANK, EOS, Charset

__all__ = ["decode_greedy", "f_measure", "MIN_PROBABILITY"]

MIN_PROBABILITY = 1e-8
"""Floor of probabilities inside logarithms and harmonic means (v2 package, spec §6.4)."""

ConfidenceMode = Literal["product", "geometric_mean"]


def decode_greedy(
    logits: torch.Tensor,
    charset: Charset | Sequence[str],
    *,
    mode: ConfidenceMode = "product",
    collapse_repeats: bool = False,
) -> tuple[list[str], torch.Tensor]:
    """Decode recognizer logits greedily and compute each text's confidence (spec §6.4).

    Per position ``id_t = argmax logits[t]`` and ``p_t = softmax(logits[t])[id_t]`` (float32). Text: blanks (0)
    are skipped, the first EOS (1) ends it, rare (2) becomes ``^``, ``k ≥ 3`` is ``charset[k − 3]``; duplicates are
    not merged. Confidence:

    * ``"product"`` (v1 release): ``exp(Σ log p_t)`` over ``t = 0`` up to and including the first EOS (all ``T``
      positions without EOS), blanks included.
    * ``"geometric_mean"`` (v2 package): ``exp(Σ_real log max(p_t, 1e-8) / max(1, #real))`` over the "real"
      positions, non-blank and before the first EOS; 1.0 when there is none.

    With ``collapse_repeats`` (recognizers with ``decoding="ctc"``, ours), a position whose id equals the previous
    position's id is treated as a blank before the rules above: CTC best-path decoding ("aa-a" → "aa").

    Args:
        logits: ``[N, T, V]`` recognizer logits.
        charset: the model's :class:`~textspotter.charset.Charset` (or its list of character strings).
        mode: ``"product"`` or ``"geometric_mean"``.
        collapse_repeats: merge runs of the same id (CTC decoding).

    Returns:
        ``(texts, confidence)``: ``N`` strings and an ``[N]`` float32 tensor in [0, 1] on the device of ``logits``.

    Raises:
        ValueError: on a bad shape or mode, or a decoded id outside the charset.
        TypeError: if ``charset`` is neither a Charset nor a sequence of strings.

    >>> logits = torch.full((1, 4, 5), -10.0)
    >>> logits[0, torch.arange(4), torch.tensor([3, 0, 4, 1])] = 10.0
    >>> texts, conf = decode_greedy(logits, Charset(("a", "b")))
    >>> texts
    ['ab']
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 3:
        raise ValueError(f"logits must be an [N, T, V] tensor, got {getattr(logits, 'shape', type(logits))}")
    if mode not in ("product", "geometric_mean"):
        raise ValueError(f"mode must be 'product' or 'geometric_mean', got {mode!r}")
    if not isinstance(charset, Charset):
        if isinstance(charset, str) or not isinstance(charset, Sequence):
            raise TypeError(f"charset must be a Charset or a sequence of strings, got {type(charset).__name__}")
        charset = Charset(tuple(charset))
    scores = logits.detach().float()
    ids = scores.argmax(-1)  # (N, T); the first maximum on ties
    log_probs = torch.log_softmax(scores, dim=-1).gather(-1, ids[..., None]).squeeze(-1)
    if collapse_repeats and ids.shape[1] > 1:
        repeat = torch.zeros_like(ids, dtype=torch.bool)
        repeat[:, 1:] = ids[:, 1:] == ids[:, :-1]
        ids = torch.where(repeat, torch.full_like(ids, BLANK), ids)
    probs = torch.exp(log_probs)  # p_t as the reference computes it (exp(logit − logsumexp))
    is_eos = ids == EOS
    eos_so_far = torch.cumsum(is_eos.to(torch.int64), dim=1)  # number of EOS at positions ≤ t
    if mode == "product":
        visited = (eos_so_far - is_eos.to(torch.int64)) == 0  # no EOS strictly before t: up to and incl. EOS
        # log of the rounded p_t, like the reference, so an underflowed p_t gives confidence 0.
        confidence = torch.exp(torch.where(visited, torch.log(probs), torch.zeros_like(probs)).sum(1))
    else:
        real = (ids != BLANK) & (eos_so_far == 0)
        log_sum = torch.where(real, torch.log(probs.clamp(min=MIN_PROBABILITY)), torch.zeros_like(probs)).sum(1)
        confidence = torch.exp(log_sum / real.sum(1).clamp(min=1).to(torch.float32))
    texts = charset.decode_batch(ids)
    return texts, confidence


@overload
def f_measure(a: float, b: float) -> float: ...
@overload
def f_measure(a: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor: ...
@overload
def f_measure(a: float, b: torch.Tensor) -> torch.Tensor: ...


def f_measure(a: float | torch.Tensor, b: float | torch.Tensor) -> float | torch.Tensor:
    """Return the harmonic mean ``2 / (1/a + 1/b)`` with each argument clamped to ``≥ 1e-8`` (spec §6.4).

    Used as a region's overall confidence from its detection (NMS) and text confidences.

    Args:
        a: probability in [0, 1] (float or tensor).
        b: probability in [0, 1] (float or tensor, broadcast against ``a``).

    Returns:
        A float if both arguments are numbers, else a float tensor.

    >>> round(f_measure(0.5, 1.0), 6)
    0.666667
    """
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        device = a.device if isinstance(a, torch.Tensor) else b.device
        ta = torch.as_tensor(a, dtype=torch.float32, device=device).clamp(min=MIN_PROBABILITY)
        tb = torch.as_tensor(b, dtype=torch.float32, device=device).clamp(min=MIN_PROBABILITY)
        return 2 / (1 / ta + 1 / tb)
    fa, fb = max(float(a), MIN_PROBABILITY), max(float(b), MIN_PROBABILITY)
    return 2 / (1 / fa + 1 / fb)
