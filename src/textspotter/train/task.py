"""Joint training step of the detector, recognizer and relational model (the module DDP wraps).

One forward pass over a :class:`~textspotter.data.collate.TrainBatch`, as the published system runs at inference
but with ground-truth regions:

1. detector on the page inputs → confidence, rotated boxes, feature map F (detector losses against the dense
   targets);
2. recognizer strips rectified from F along the (jittered) ground-truth quads, exactly like the pipeline does with
   detected quads (``ops.quad_rectify_grid`` + ``ops.indirect_grid_sample``, gradients flow into the detector);
3. relational model on the 2×3 crops of the same quads, the region counts and the (detached) recognizer features,
   with the quads it reads translated by the page's random offset (the published training augmentation, spec §7.2);
   its targets are expressed over the neighbours it picked.

Frozen modules (``train.freeze``) run without gradients and in eval mode, and their losses are skipped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import torch
from torch import nn

from ..data.collate import TrainBatch
from ..ops.rectify import region_counts_to_indices
from ..pipeline.stages import (
    StripBucket,
    crop_features,
    in_quad_order,
    ink_map,
    pad_features,
    pad_logits,
    read_strip_buckets,
)
from .losses import (
    LossConfig,
    confidence_loss,
    line_link_loss,
    positive_weights,
    rbox_losses,
    recognizer_loss,
    relational_targets,
    sample_classes,
    word_link_loss,
)

__all__ = ["StepOutput", "JointTrainingModule", "freeze_modules", "set_train_mode", "resolve_submodule"]

MODULES = ("detector", "recognizer", "relational")


class StepOutput(NamedTuple):
    """What one forward pass returns.

    Attributes:
        loss: scalar float32 weighted total (differentiable).
        parts: detached scalar float32 loss components and counts, for logging.
    """

    loss: torch.Tensor
    parts: dict[str, torch.Tensor]


def resolve_submodule(model: nn.Module, name: str) -> nn.Module:
    """Return the sub-module at a dotted path (``detector``, ``detector.extractor``, ...).

    Raises:
        ValueError: if the path names no sub-module.
    """
    module = model
    for part in name.split("."):
        child = getattr(module, part, None) if part else None
        if not isinstance(child, nn.Module):
            raise ValueError(f"train.freeze: {name!r} is not a sub-module of the model (try detector, recognizer, ...)")
        module = child
    return module


def freeze_modules(model: nn.Module, names: Iterable[str]) -> None:
    """Stop gradients of the named sub-modules (their BatchNorm statistics are kept fixed by :func:`set_train_mode`)."""
    for name in names:
        for parameter in resolve_submodule(model, name).parameters():
            parameter.requires_grad_(False)


def set_train_mode(model: nn.Module, frozen: Iterable[str]) -> None:
    """Put the model in training mode except frozen sub-modules, which stay in eval mode (fixed BN, no dropout)."""
    model.train()
    for name in frozen:
        resolve_submodule(model, name).eval()


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[None]:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


class JointTrainingModule(nn.Module):
    """Wrap an ``OCRModel`` so that ``forward(batch)`` returns the joint training loss.

    Args:
        model: the ``OCRModel`` (attributes ``spec``, ``detector``, ``recognizer``, ``relational``).
        loss: loss choices and weights.
        frozen: names of frozen sub-modules (``train.freeze``); a frozen top-level module contributes no loss.
        amp_dtype: autocast dtype for the detector and recognizer (``torch.bfloat16``), or None for float32.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: LossConfig,
        *,
        frozen: Iterable[str] = (),
        amp_dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.loss_config = loss
        self.frozen = tuple(frozen)
        self.amp_dtype = amp_dtype
        self.trains = {name: name not in self.frozen for name in MODULES}

    def forward(self, batch: TrainBatch) -> StepOutput:
        """Compute the weighted loss of one micro-batch (all tensors already on the model's device)."""
        cfg = self.loss_config
        model = self.model
        device = batch.images.device
        parts: dict[str, torch.Tensor] = {}
        total = batch.images.new_zeros(())

        grad_if = {name: (contextlib.nullcontext() if on else torch.no_grad()) for name, on in self.trains.items()}
        with grad_if["detector"], _autocast(device, self.amp_dtype):
            detected = model.detector(batch.images)
        if self.trains["detector"]:
            weights = positive_weights(batch.score, batch.word_cells, cfg.instance_balance, cfg.max_instance_weight)
            conf = confidence_loss(detected.confidence, batch.score, batch.mask, cfg, weights)
            iou, angle = rbox_losses(detected.rboxes, batch.geometry, batch.score, weights)
            detector_total = conf + cfg.geometry_weight * (iou + cfg.angle_weight * angle)
            total = total + cfg.detector_weight * detector_total
            parts.update(det_conf=conf.detach(), det_iou=iou.detach(), det_angle=angle.detach())

        num = batch.num_regions
        if num == 0 or not (self.trains["recognizer"] or self.trains["relational"]):
            return StepOutput(self._connected(total), parts)
        # Grid sampling in float32 like the pipeline (spec §1.2 step 8).
        features = detected.features.float()
        input_size = (batch.images.shape[2], batch.images.shape[3])
        image_index = region_counts_to_indices(batch.region_counts, num)
        spec = model.spec
        amp_dtype, train_recognizer = self.amp_dtype, self.trains["recognizer"]

        @contextlib.contextmanager
        def recognizer_context() -> Iterator[None]:
            # A fresh context per bucket: the recognizer may run once per strip width.
            with contextlib.nullcontext() if train_recognizer else torch.no_grad(), _autocast(device, amp_dtype):
                yield

        # A sampled softmax scores a subset of the charset (the relational model reads features, not logits).
        sampled = None
        if train_recognizer and cfg.sampled_classes > 0:
            sampled = sample_classes(batch.tokens, spec.recognizer.num_tokens, cfg.sampled_classes)
        # Bucketed by strip width when the recognizer asks for it, exactly as the pipeline reads.
        # A recognizer that reads pixels gets the windows' ink levels, rounded as the pipeline's uint8 map is.
        ink = ink_map(batch.images).float().div_(255.0) if spec.recognizer.pixel_scale else None
        buckets = read_strip_buckets(
            model.recognizer,
            features,
            batch.quads,
            image_index,
            input_size=input_size,
            network_context=recognizer_context,
            classes=None if sampled is None else sampled.classes,
            ink=ink,
        )
        if self.trains["recognizer"]:
            rec = bucketed_recognizer_loss(
                buckets,
                batch.tokens if sampled is None else sampled.tokens,
                batch.token_valid,
                decoding=spec.recognizer.decoding,
                max_width=spec.recognizer.max_width,
                label_smoothing=cfg.label_smoothing,
                logit_offset=None if sampled is None else sampled.logit_offset,
            )
            total = total + cfg.recognizer_weight * rec
            parts["rec"] = rec.detach()

        # BatchNorm1d in the relational model needs more than one region in training mode.
        if self.trains["relational"] and num >= 2:
            crops = crop_features(
                features,
                batch.quads,
                image_index,
                input_size=input_size,
                output_size=tuple(spec.relational.grid_size),
                isotropic=False,
            )
            # The published training translation of the relational quads (spec §7.2); crops use the true quads.
            shift = batch.relational_shift[image_index] * spec.relational.quad_downscale  # (N, 2)
            width = spec.recognizer.max_width
            rec_features = in_quad_order([pad_features(b.features, width) for b in buckets], buckets)
            quads = batch.quads + shift[:, None, :]
            related = model.relational(crops, quads, batch.region_counts, rec_features.detach())
            targets = relational_targets(
                related.neighbours, batch.region_counts, batch.next_word, batch.line_id, batch.next_line
            )
            word = word_link_loss(related.logits[..., 0], targets)
            line = line_link_loss(
                related.logits[..., 1],
                related.logits[..., 2],
                targets,
                samples=cfg.line_samples,
                max_log_variance=cfg.max_log_variance,
            )
            total = total + cfg.relational_weight * (cfg.word_weight * word + cfg.line_weight * line)
            parts.update(rel_word=word.detach(), rel_line=line.detach())
        return StepOutput(self._connected(total), parts)

    def _connected(self, total: torch.Tensor) -> torch.Tensor:
        """Return ``total``, tied to the trainable parameters with weight zero if nothing else ties it.

        With the detector frozen, a micro-batch without regions (or with one region, for the relational model)
        yields a loss that no trainable parameter feeds. Its backward would fail, and skipping it on one rank would
        leave the other ranks of a distributed run waiting for gradients; zero gradients keep every rank in step.
        """
        if total.requires_grad or not torch.is_grad_enabled():
            return total
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        if not trainable:
            return total
        return total + sum(p.sum() * 0.0 for p in trainable)


def bucketed_recognizer_loss(
    buckets: list[StripBucket],
    tokens: torch.Tensor,
    valid: torch.Tensor,
    *,
    decoding: str,
    max_width: int,
    label_smoothing: float = 0.0,
    logit_offset: torch.Tensor | None = None,
) -> torch.Tensor:
    """:func:`~textspotter.train.losses.recognizer_loss` of strips read in buckets (``read_strip_buckets``).

    CTC is computed per bucket over the columns read, and the buckets' means are weighed by their counts of valid
    regions: the same mean over regions as one CTC over strips padded with certain blanks, without building and
    normalising ``[N, T, V]`` padded logits, which with a 10,000-class charset cost several times the network
    (RESULTS "Session 23"). A text longer than the columns read is infeasible here and counts zero
    (``zero_infinity``); over padded strips it was a huge finite loss whose gradient taught nothing.
    Cross-entropy decoding scores every one of the T positions, so it keeps the padded layout.

    Args:
        buckets: the recognizer's output per strip width; their indices partition ``0 .. N - 1``.
        tokens: ``[N, T]`` int64 targets in the quads' order.
        valid: ``[N]`` bool, regions that count.
        decoding: ``"ctc"`` or ``"parallel"``.
        max_width: T.
        label_smoothing: for ``"parallel"``.
        logit_offset: ``[V]`` added to the logits before normalising (a sampled softmax's correction).

    Returns:
        Scalar float32 mean over the valid regions.
    """
    if decoding != "ctc":
        logits = in_quad_order([pad_logits(b.logits, max_width) for b in buckets], buckets)
        return recognizer_loss(
            logits, tokens, valid, label_smoothing=label_smoothing, decoding=decoding, logit_offset=logit_offset
        )
    counts = [int(valid[b.index].sum()) for b in buckets]
    total_valid = sum(counts)
    total = buckets[0].logits.new_zeros((), dtype=torch.float32)
    for bucket, count in zip(buckets, counts, strict=True):
        loss = recognizer_loss(
            bucket.logits, tokens[bucket.index], valid[bucket.index], decoding="ctc", logit_offset=logit_offset
        )
        # A bucket without a valid region still adds a zero tied to its logits (the graph stays connected).
        total = total + loss * (count / total_valid if total_valid else 1.0)
    return total
