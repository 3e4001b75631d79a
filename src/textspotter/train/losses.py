"""Losses of the three models (formulas in ``docs/training.md``).

* Detector: confidence by BCE with online hard-example mining and/or dice over the training mask; on positive cells
  an IoU loss on the four RBOX distances and ``1 − cos Δθ`` on the angle (EAST/FOTS). Optionally instance-balanced
  (:func:`positive_weights`): the positive cells of small words weigh more, so that a one-letter word with one or two
  cells is not drowned by the long words around it.
* Recognizer: cross-entropy at every one of the T positions (characters, the EOS and the blanks after it), as the
  non-autoregressive recognizer is read by the greedy decoder.
* Relational: finished targets over the neighbours the model picked (:func:`relational_targets`), cross-entropy over
  each region's tokens for the word link, and for the line link a heteroscedastic cross-entropy that treats each
  line logit as the mean of a Gaussian with variance ``exp(λ)`` (the log-variance channel), estimated by sampling.

All losses are computed in float32 and return a scalar even when there is nothing to learn from (then 0 with a
gradient path to the inputs, so every process of a distributed run reduces the same parameters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

__all__ = [
    "LossConfig",
    "RelationalTargets",
    "SampledClasses",
    "confidence_loss",
    "positive_weights",
    "rbox_losses",
    "recognizer_loss",
    "relational_targets",
    "sample_classes",
    "word_link_loss",
    "line_link_loss",
]

IGNORE = -100
"""Target of a region whose relation cannot be expressed over the neighbours the model picked."""


@dataclass(frozen=True)
class LossConfig:
    """Loss choices and weights.

    Attributes:
        confidence: ``"bce_ohem"``, ``"dice"`` or ``"dice+bce_ohem"``.
        ohem_negative_ratio: hard negatives kept per positive cell.
        ohem_min_negatives: hard negatives kept at least, per micro-batch (pages without text still teach).
        geometry_weight: weight of the IoU loss relative to the confidence loss.
        angle_weight: weight of ``1 − cos Δθ`` relative to the IoU loss (EAST/FOTS: 10).
        detector_weight, recognizer_weight, relational_weight: weights of the three models' losses in the total.
        label_smoothing: recognizer cross-entropy label smoothing.
        word_weight, line_weight: weights of the two relational links.
        line_samples: Monte-Carlo samples of the noisy line logits.
        max_log_variance: the log-variance channel is clamped to ``±max_log_variance`` before ``exp``.
        instance_balance: exponent ``p`` of the detector's per-word weighting: a positive cell of a word with ``n``
            cells weighs ``∝ n^-p`` (mean weight over the positive cells 1, at most ``max_instance_weight``). 0 (the
            default) weighs every cell alike; 1 gives every word the same total weight; 0.5 is between.
        max_instance_weight: cap on a positive cell's weight after normalisation.
        sampled_classes: 0 (the default) normalises the recognizer's outputs over the whole charset. ``n > 0``
            trains it with a sampled softmax: each micro-batch scores the special tokens, every token of its
            targets and ``n`` further classes drawn uniformly from the rest, whose logits are raised by
            ``log(rest / n)`` so that the sampled sum estimates the full normaliser (:func:`sample_classes`). For
            charsets of thousands of classes, where the classifier costs more than the rest of the recognizer;
            reading always scores every class.
    """

    confidence: str = "dice+bce_ohem"
    ohem_negative_ratio: float = 3.0
    ohem_min_negatives: int = 256
    geometry_weight: float = 1.0
    angle_weight: float = 10.0
    detector_weight: float = 1.0
    recognizer_weight: float = 1.0
    relational_weight: float = 1.0
    label_smoothing: float = 0.0
    word_weight: float = 1.0
    line_weight: float = 1.0
    line_samples: int = 16
    max_log_variance: float = 10.0
    instance_balance: float = 0.0
    max_instance_weight: float = 10.0
    sampled_classes: int = 0

    def __post_init__(self) -> None:
        if self.sampled_classes < 0:
            raise ValueError(f"LossConfig.sampled_classes must be >= 0, got {self.sampled_classes}")
        if not 0.0 <= self.instance_balance <= 1.0:
            raise ValueError(f"LossConfig.instance_balance must be in [0, 1], got {self.instance_balance}")
        if self.max_instance_weight < 1.0:
            raise ValueError(f"LossConfig.max_instance_weight must be >= 1, got {self.max_instance_weight}")
        if self.confidence not in ("bce_ohem", "dice", "dice+bce_ohem"):
            raise ValueError(f"LossConfig.confidence must be bce_ohem, dice or dice+bce_ohem, got {self.confidence!r}")
        if self.line_samples < 1:
            raise ValueError(f"LossConfig.line_samples must be >= 1, got {self.line_samples}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"LossConfig.label_smoothing must be in [0, 1), got {self.label_smoothing}")


def _zero(*tensors: torch.Tensor) -> torch.Tensor:
    """A zero that depends on ``tensors`` (keeps the autograd graph connected when a loss has no terms)."""
    zero = tensors[0].new_zeros((), dtype=torch.float32)
    for t in tensors:
        zero = zero + t.float().sum() * 0.0
    return zero


def positive_weights(
    score: torch.Tensor, word_cells: torch.Tensor | None, power: float, max_weight: float = 10.0
) -> torch.Tensor:
    """Per-cell loss weights that balance words of different sizes (1 on every cell that is not positive).

    A positive cell of a word with ``n`` positive cells gets ``n^-power``, scaled so that the positive cells' mean
    weight is 1 (the loss keeps its scale) and clamped to ``max_weight``.

    Args:
        score: ``[B, Hf, Wf]`` target score map; cells with ``score > 0.5`` are positive.
        word_cells: ``[B, Hf, Wf]`` positive cells of each positive cell's word (``DetectorTargets.word_cells``), or
            None (then every weight is 1).
        power: the exponent ``p`` in [0, 1]; 0 gives weights of 1.
        max_weight: upper bound of a weight.

    Returns:
        ``[B, Hf, Wf]`` float32 weights.
    """
    weights = torch.ones_like(score, dtype=torch.float32)
    positive = score > 0.5
    if word_cells is None or power == 0.0 or not bool(positive.any()):
        return weights
    raw = word_cells.float()[positive].clamp(min=1.0).pow(-power)
    weights[positive] = (raw / raw.mean()).clamp(max=max_weight)
    return weights


def confidence_loss(
    logits: torch.Tensor,
    score: torch.Tensor,
    mask: torch.Tensor,
    config: LossConfig,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Confidence loss over the cells the mask keeps.

    Args:
        logits: ``[B, Hf, Wf]`` raw confidence logits.
        score: ``[B, Hf, Wf]`` target in {0, 1}.
        mask: ``[B, Hf, Wf]`` 1 where the cell counts, 0 where it is ignored.
        config: which loss and its OHEM parameters.
        weights: optional ``[B, Hf, Wf]`` per-cell weights (:func:`positive_weights`); the dice sums and the BCE of
            the positive cells are weighted by them, the hard negatives are mined and counted as without.

    Returns:
        Scalar float32 loss.
    """
    logits, score, mask = logits.float(), score.float(), mask.float()
    weighted = mask if weights is None else mask * weights.float()
    total = logits.new_zeros(())
    if "dice" in config.confidence:
        prob = torch.sigmoid(logits) * weighted
        target = score * weighted
        intersection = (prob * score).sum()
        total = total + 1.0 - 2.0 * intersection / (prob.sum() + target.sum() + 1.0)
    if "bce_ohem" in config.confidence:
        bce = F.binary_cross_entropy_with_logits(logits, score, reduction="none")
        positive = (score > 0.5) & (mask > 0)
        negative = (score <= 0.5) & (mask > 0)
        num_pos = int(positive.sum())
        num_neg_available = int(negative.sum())
        num_neg = min(num_neg_available, max(int(config.ohem_negative_ratio * num_pos), config.ohem_min_negatives))
        negative_losses = bce[negative]
        if num_neg < num_neg_available:
            negative_losses = negative_losses.topk(num_neg, sorted=False).values
        count = num_pos + num_neg
        positive_losses = bce[positive] if weights is None else bce[positive] * weighted[positive]
        if count > 0:
            total = total + (positive_losses.sum() + negative_losses.sum()) / count
    return total + _zero(logits)


def rbox_losses(
    rboxes: torch.Tensor, geometry: torch.Tensor, score: torch.Tensor, weights: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """IoU loss of the four distances and angle loss, on positive cells.

    ``L_iou = −log((|R̂ ∩ R| + 1) / (|R̂ ∪ R| + 1))`` with both rectangles anchored at the cell's prior point (so the
    intersection is ``(min(t̂, t) + min(b̂, b)) · (min(l̂, l) + min(r̂, r))``), and ``L_θ = 1 − cos(θ̂ − θ)``.

    Args:
        rboxes: ``[B, Hf, Wf, 5]`` predicted (t, r, b, l) in detector pixels and θ in radians.
        geometry: ``[B, Hf, Wf, 5]`` targets in the same units.
        score: ``[B, Hf, Wf]`` target score map; cells with ``score > 0.5`` are positive.
        weights: optional ``[B, Hf, Wf]`` per-cell weights (:func:`positive_weights`): weighted means.

    Returns:
        ``(iou_loss, angle_loss)``: scalar float32 means over positive cells (0 when there is none).
    """
    positive = score > 0.5
    if not bool(positive.any()):
        zero = _zero(rboxes)
        return zero, zero
    pred = rboxes.float()[positive]  # (B, Hf, Wf, 5) -> (P, 5)
    target = geometry.float()[positive]
    pt, pr, pb, pl, ptheta = pred.unbind(-1)
    gt, gr, gb, gl, gtheta = target.unbind(-1)
    area_pred = (pt + pb) * (pl + pr)
    area_target = (gt + gb) * (gl + gr)
    intersection = (torch.minimum(pt, gt) + torch.minimum(pb, gb)) * (torch.minimum(pl, gl) + torch.minimum(pr, gr))
    union = area_pred + area_target - intersection
    iou_loss = -torch.log((intersection + 1.0) / (union + 1.0))
    angle_loss = 1.0 - torch.cos(ptheta - gtheta)
    if weights is None:
        return iou_loss.mean(), angle_loss.mean()
    w = weights.float()[positive]
    return (iou_loss * w).sum() / w.sum(), (angle_loss * w).sum() / w.sum()


def recognizer_loss(
    logits: torch.Tensor,
    tokens: torch.Tensor,
    valid: torch.Tensor,
    *,
    label_smoothing: float = 0.0,
    decoding: str = "parallel",
    logit_offset: torch.Tensor | None = None,
) -> torch.Tensor:
    """Recognizer loss of the regions whose text fits.

    ``decoding="parallel"`` (published): cross-entropy at every position (text, EOS, then blanks).
    ``decoding="ctc"`` (ours): CTC loss with blank 0 over all T positions against the character tokens (≥ 3) of
    each target, EOS and padding removed; summed per region and divided by its target length, then averaged
    (``reduction="mean"``). Label smoothing does not apply to CTC.

    Args:
        logits: ``[N, T, V]`` recognizer logits.
        tokens: ``[N, T]`` int64 targets (characters ≥ 3, EOS 1, blank 0 after it).
        valid: ``[N]`` bool, regions that count.
        label_smoothing: as in ``torch.nn.functional.cross_entropy``.
        decoding: ``"parallel"`` or ``"ctc"`` (the recognizer's ``decoding``).
        logit_offset: optional ``[V]`` float added to every position's logits before normalising (the sampled
            softmax's correction, :func:`sample_classes`).

    Returns:
        Scalar float32 mean over the ``valid`` regions (0 when there is none).
    """
    if decoding not in ("parallel", "ctc"):
        raise ValueError(f"decoding must be 'parallel' or 'ctc', got {decoding!r}")
    if not bool(valid.any()):
        return _zero(logits)
    selected = logits[valid].float()
    if logit_offset is not None:
        selected = selected + logit_offset.to(selected.dtype)
    if decoding == "ctc":
        targets = tokens[valid]
        is_char = targets >= 3
        lengths = is_char.sum(1)
        # Characters are the leading tokens (text, then EOS and blanks), so keeping the first `length` entries
        # of each row gives the CTC targets in the padded (n, S) layout ctc_loss accepts.
        log_probs = F.log_softmax(selected, dim=-1).transpose(0, 1)  # (T, n, V)
        input_lengths = torch.full((selected.shape[0],), selected.shape[1], dtype=torch.long, device=logits.device)
        return F.ctc_loss(log_probs, targets, input_lengths, lengths, blank=0, zero_infinity=True)
    # (n, T, V) -> (n·T, V): every position is classified independently (spec §6.1).
    return F.cross_entropy(
        selected.reshape(-1, selected.shape[-1]), tokens[valid].reshape(-1), label_smoothing=label_smoothing
    )


class SampledClasses(NamedTuple):
    """The classes one micro-batch scores under a sampled softmax (:func:`sample_classes`).

    Attributes:
        classes: ``[S]`` int64 token ids, ascending (so the special tokens 0, 1, 2 keep their ids).
        tokens: the targets rewritten as positions in ``classes`` (same shape as the targets given).
        logit_offset: ``[S]`` float32, 0 for the special tokens and the targets' tokens, ``log(rest / drawn)`` for
            the classes drawn.
    """

    classes: torch.Tensor
    tokens: torch.Tensor
    logit_offset: torch.Tensor


def sample_classes(
    tokens: torch.Tensor, num_tokens: int, negatives: int, *, generator: torch.Generator | None = None
) -> SampledClasses:
    """Choose the recognizer classes to score for a sampled softmax over a large charset.

    Always kept: the special tokens (0 blank, 1 EOS, 2 rare) and every token that occurs in ``tokens`` (all
    regions, so any target can be rewritten). Of the ``rest`` other classes, ``negatives`` are drawn uniformly
    without replacement; each drawn class stands for ``rest / negatives`` classes, so its logit is raised by the log
    of that (importance weighting: the softmax's normaliser over the kept classes then estimates the full one
    without bias in its sum). When ``negatives`` covers the rest every class is kept, no offset: the full softmax.

    Args:
        tokens: ``[..., T]`` int64 targets in ``[0, num_tokens)``.
        num_tokens: V, the charset's size with the special tokens.
        negatives: classes to draw besides the kept ones (> 0).
        generator: random source (default: torch's global one, which checkpoints save).

    Returns:
        :class:`SampledClasses`.

    >>> tokens = torch.tensor([[5, 9, 1, 0]])
    >>> picked = sample_classes(tokens, 100, 10)
    >>> picked.classes.numel(), bool((picked.classes[picked.tokens] == tokens).all())
    (15, True)
    """
    if negatives <= 0:
        raise ValueError(f"negatives must be > 0, got {negatives}")
    device = tokens.device
    kept = torch.zeros(num_tokens, dtype=torch.bool, device=device)
    kept[:3] = True
    kept[tokens.reshape(-1)] = True
    rest = torch.nonzero(~kept).flatten()
    drawn = rest
    if negatives < rest.numel():
        order = torch.randperm(rest.numel(), generator=generator, device="cpu").to(device)
        drawn = rest[order[:negatives]]
    chosen = kept.clone()
    chosen[drawn] = True
    classes = torch.nonzero(chosen).flatten()
    position = torch.full((num_tokens,), -1, dtype=torch.long, device=device)
    position[classes] = torch.arange(classes.numel(), device=device)
    offset = torch.zeros(classes.numel(), dtype=torch.float32, device=device)
    if drawn.numel() < rest.numel():
        offset[position[drawn]] = math.log(rest.numel() / drawn.numel())
    return SampledClasses(classes, position[tokens], offset)


@dataclass
class RelationalTargets:
    """Relational targets over the model's own candidate tokens (token 0 = null, token m ≥ 1 = neighbour m − 1).

    Attributes:
        candidates: ``[N, k]`` bool, which tokens exist (the null token always; neighbours where the model found one).
        word: ``[N]`` int64 token of the next word in the line (0 when the word ends its line), ``IGNORE`` when the
            next word is not among the neighbours.
        line: ``[N, k]`` bool, tokens that are correct for the line link: neighbours in the line that follows the
            region's line in its paragraph, or the null token when no line follows.
        line_valid: ``[N]`` bool, False when a following line exists but none of its words is a neighbour.
    """

    candidates: torch.Tensor
    word: torch.Tensor
    line: torch.Tensor
    line_valid: torch.Tensor


def relational_targets(
    neighbours: torch.Tensor,
    region_counts: torch.Tensor,
    next_word: torch.Tensor,
    line_id: torch.Tensor,
    next_line: torch.Tensor,
) -> RelationalTargets:
    """Express the annotation's relations over the neighbours the relational model selected (spec §7.3, §7.4).

    Args:
        neighbours: ``[N, k-1]`` int64 neighbour index *within the region's image*, -1 where there is none.
        region_counts: ``[B]`` int64 regions per image (regions concatenated in image order).
        next_word: ``[N]`` int64 within-image index of the next word in the line, or -1.
        line_id: ``[N]`` int64 image-local line index of each region, or -1.
        next_line: ``[N]`` int64 image-local index of the line after the region's line, or -1.

    Returns:
        :class:`RelationalTargets` on the device of ``neighbours``.
    """
    device = neighbours.device
    counts = region_counts.to(device=device, dtype=torch.int64)
    num = neighbours.shape[0]
    offsets = torch.cumsum(counts, 0) - counts
    image_of = torch.repeat_interleave(torch.arange(counts.shape[0], device=device), counts)
    present = neighbours >= 0
    # (N, k-1) within-image indices -> global region indices (0 for missing neighbours, masked by ``present``).
    global_nbr = torch.where(present, neighbours + offsets[image_of][:, None], torch.zeros_like(neighbours))
    next_word, line_id, next_line = next_word.to(device), line_id.to(device), next_line.to(device)

    has_next = next_word >= 0
    is_next = present & has_next[:, None] & (neighbours == next_word[:, None])
    found = is_next.any(dim=1)
    word = torch.where(found, is_next.float().argmax(dim=1) + 1, torch.full((num,), IGNORE, device=device))
    word = torch.where(has_next, word, torch.zeros_like(word))

    has_next_line = next_line >= 0
    in_next_line = present & has_next_line[:, None] & (line_id[global_nbr] == next_line[:, None])
    line = torch.cat([(~has_next_line)[:, None], in_next_line], dim=1)
    line_valid = ~has_next_line | in_next_line.any(dim=1)
    candidates = torch.cat([torch.ones(num, 1, dtype=torch.bool, device=device), present], dim=1)
    return RelationalTargets(candidates=candidates, word=word, line=line, line_valid=line_valid)


def word_link_loss(logits: torch.Tensor, targets: RelationalTargets) -> torch.Tensor:
    """Cross-entropy of the word link over each region's existing tokens.

    Args:
        logits: ``[N, k]`` word-link logits (channel 0 of the relational output).
        targets: from :func:`relational_targets`.

    Returns:
        Scalar float32 mean over regions with a usable target (0 when there is none).
    """
    usable = targets.word != IGNORE
    if not bool(usable.any()):
        return _zero(logits)
    masked = logits.float().masked_fill(~targets.candidates, float("-inf"))
    return F.cross_entropy(masked[usable], targets.word[usable])


def line_link_loss(
    logits: torch.Tensor,
    log_variance: torch.Tensor,
    targets: RelationalTargets,
    *,
    samples: int,
    max_log_variance: float = 10.0,
) -> torch.Tensor:
    """Heteroscedastic cross-entropy of the line link.

    Each line logit is the mean of a Gaussian with variance ``exp(λ)``: with ``ĝ_s = g + exp(λ/2)·ε_s``,
    ``ε_s ~ N(0, 1)``, the loss of a region is ``−log((1/S) Σ_s Σ_{m ∈ positives} softmax(ĝ_s)_m)`` (several tokens
    can be right: any word of the next line). Regions the model is unsure about learn a large ``λ`` instead of
    forcing their logits, and the pipeline weighs their votes by ``exp(−λ)`` (spec §7.6 step 3).

    Args:
        logits: ``[N, k]`` line-link logits (channel 1).
        log_variance: ``[N, k]`` log-variances λ (channel 2).
        targets: from :func:`relational_targets`.
        samples: Monte-Carlo samples S (drawn from torch's global generator, which checkpoints restore).
        max_log_variance: λ is clamped to ``[−max, max]``.

    Returns:
        Scalar float32 mean over regions with a usable target (0 when there is none).
    """
    usable = targets.line_valid
    if not bool(usable.any()):
        return _zero(logits, log_variance)
    mean = logits.float()[usable]
    sigma = torch.exp(0.5 * log_variance.float()[usable].clamp(-max_log_variance, max_log_variance))
    candidates, positive = targets.candidates[usable], targets.line[usable]
    noise = torch.randn((samples, *mean.shape), device=mean.device)
    noisy = mean[None] + sigma[None] * noise  # (S, n, k)
    noisy = noisy.masked_fill(~candidates[None], float("-inf"))
    log_norm = torch.logsumexp(noisy, dim=-1)
    log_positive = torch.logsumexp(noisy.masked_fill(~positive[None], float("-inf")), dim=-1)
    log_likelihood = torch.logsumexp(log_positive - log_norm, dim=0) - math.log(samples)
    return -log_likelihood.mean()
