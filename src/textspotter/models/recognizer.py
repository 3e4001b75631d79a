"""Transformer recognizer over rectified detector-feature strips (spec §6).

A conv stack reduces each ``[C, 8, T]`` strip to ``[D, 1, T]``; a learned position encoding is added and a
Transformer encoder mixes the T positions; a linear classifier predicts one token per position independently
(non-autoregressive, no CTC merging). State-dict keys follow the published ``TransformerRecognizer`` (spec §6.3).
With ``RecognizerConfig.pixel_scale > 0`` (ours) a small stem also reads the quad's grey levels at a finer grid and
its output joins the feature strip's channels (``pixel_stem.*`` keys; the encoder's first convolution is wider).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .regnet import ConvNormAct
from .spec import RecognizerConfig

__all__ = ["RecognizerOutput", "Recognizer", "conv_bias_bn", "pixel_stem"]


class RecognizerOutput(NamedTuple):
    """Recognizer outputs for ``N`` strips.

    Attributes:
        logits: ``[N, T, V]`` per-position token logits (0 blank, 1 EOS, 2 rare, 3+ characters).
        features: ``[N, T, D]`` the Transformer output, read by the relational model.
    """

    logits: torch.Tensor
    features: torch.Tensor


def conv_bias_bn(in_channels: int, out_channels: int, kernel_size: int) -> ConvNormAct:
    """Return ``ConvNormAct(0: Conv2d(bias=True), 1: BatchNorm2d, 2: ReLU)`` with "same" padding.

    The published ``conv2d_block``: the bias *and* the BN are both present (proven by the exact parameter counts,
    spec §10); the index order is inferred (spec §11).
    """
    return ConvNormAct(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2, bias=True),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class RowPool(nn.Module):
    """Max over each pair of rows: ``nn.MaxPool2d((2, 1))`` (floor on odd heights), about 70× faster on CPU.

    PyTorch's CPU max-pool kernel takes ~17 ms for a ``[128, 64, 8, 32]`` float32 NCHW tensor, the element-wise
    maximum of the even and odd rows ~0.25 ms (benchmarks/RESULTS.md, issue #20); it was ~7 % of a page's CPU time.
    Same values; no parameters, so state-dict keys are unchanged. Gradients at exact ties are shared between the
    two rows instead of going to one.

    Shapes: ``[B, C, H, W]`` → ``[B, C, H // 2, W]``, any float dtype.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        even = x.shape[2] // 2 * 2
        return torch.maximum(x[:, :, 0:even:2], x[:, :, 1:even:2])


def pixel_stem(config: RecognizerConfig) -> nn.Sequential | None:
    """The stem that brings ``[N, 1, 8k, Wk]`` ink levels down to ``[N, pixel_channels, 8, W]`` (k =
    ``config.pixel_scale``): a 3×3 convolution of 16 channels (stride 1 at k = 2, stride 2 at k = 4), then a
    stride-2 3×3 convolution to ``pixel_channels``; both with BN and ReLU. None when ``pixel_scale`` is 0."""
    if config.pixel_scale == 0:
        return None
    first = conv_bias_bn(1, 16, 3)
    if config.pixel_scale == 4:
        first[0].stride = (2, 2)
    second = conv_bias_bn(16, config.pixel_channels, 3)
    second[0].stride = (2, 2)
    return nn.Sequential(first, second)


class Recognizer(nn.Module):
    """The Transformer recognizer.

    Args:
        config: architecture (depth, layers, heads, FFN, T, V, norms).
        in_channels: width C of the detector feature map (``nic``).

    Attributes:
        feature_depth: D, width of the returned features.
        max_width: T, the strip width / sequence length.

    >>> from textspotter.models import get_spec
    >>> spec = get_spec("tiny-test")
    >>> rec = Recognizer(spec.recognizer, in_channels=spec.detector.feature_channels).eval()
    >>> out = rec(torch.zeros(2, spec.detector.feature_channels, 8, spec.recognizer.max_width))
    >>> tuple(out.logits.shape) == (2, spec.recognizer.max_width, spec.recognizer.num_tokens)
    True
    """

    def __init__(self, config: RecognizerConfig, in_channels: int) -> None:
        super().__init__()
        self.config = config
        self.in_channels = in_channels
        depth = config.depth
        width = in_channels if config.conv_width is None else config.conv_width
        final_depth = config.feature_depth
        self.feature_depth = final_depth
        self.max_width = config.max_width
        self.pixel_stem = pixel_stem(config)
        if self.pixel_stem is not None:
            in_channels = in_channels + config.pixel_channels
        # Index layout of the published Sequential (spec §6.1): pools at 2, 5, 8 halve the 8-row strip to 1 row.
        self.encoder = nn.Sequential(
            conv_bias_bn(in_channels, width, 3),
            conv_bias_bn(width, 2 * width, 3),
            RowPool(),
            conv_bias_bn(2 * width, 2 * width, 3),
            conv_bias_bn(2 * width, 2 * depth, 3),
            RowPool(),
            conv_bias_bn(2 * depth, final_depth, 3),
            conv_bias_bn(final_depth, 2 * final_depth, 3),
            RowPool(),
            conv_bias_bn(2 * final_depth, final_depth, 1),
        )
        self.position_encoding = nn.Parameter(torch.zeros(1, final_depth, config.max_width))
        if config.use_pre_norm:
            self.pre_norm = nn.LayerNorm(final_depth)
        layer = nn.TransformerEncoderLayer(
            d_model=final_depth,
            nhead=config.nhead,
            dim_feedforward=config.feedforward_width,
            dropout=config.dropout,
            batch_first=True,
            norm_first=config.norm_first or config.use_pre_norm,
        )
        final_norm = nn.LayerNorm(final_depth) if (config.use_final_norm or config.norm_first) else None
        # Nested tensors only pay off with padding masks, which the recognizer never uses.
        self.tx = nn.TransformerEncoder(layer, config.num_layers, norm=final_norm, enable_nested_tensor=False)
        self.classifier = nn.Linear(final_depth, config.num_tokens)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Random initialisation for training: He-normal convs, BN (1, 0), small position encoding."""
        if self.position_encoding.is_meta:
            # Built for loading (checkpoints._empty_model): nothing to draw, and random ops on meta tensors
            # go through torch._refs, whose first use imports torch._dynamo (seconds of start-up).
            return
        stem = [] if self.pixel_stem is None else list(self.pixel_stem.modules())
        for module in [*self.encoder.modules(), *stem]:
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.position_encoding, std=0.02)
        nn.init.normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)

    @torch.no_grad()
    def set_max_width(self, max_width: int, bucket_width: int | None = None, column_scale: float | None = None) -> None:
        """Change T (and optionally ``bucket_width`` and ``column_scale``) of a built recognizer, keeping what it has
        learnt.

        At an unchanged column scale the position encoding of columns ``0 .. min(T, T') - 1`` is kept, so strips up
        to the old width read as before; new columns repeat the last 16 learnt columns (a start that training
        refines). When the column scale changes by a factor ``r`` (strips ``r`` times as many columns wide), the
        encoding is resampled instead: new column ``j`` takes the learnt encoding at old position
        ``(j + 0.5) / r - 0.5`` (linear interpolation, the end columns held beyond the old range), so each part of a
        word keeps the encoding it had. Only the position encoding depends on T and the scale.

        Args:
            max_width: the new T (≥ 1).
            bucket_width: the new ``RecognizerConfig.bucket_width``; None keeps it.
            column_scale: the new ``RecognizerConfig.column_scale``; None keeps it.
        """
        import dataclasses

        config = dataclasses.replace(
            self.config,
            max_width=max_width,
            bucket_width=self.config.bucket_width if bucket_width is None else bucket_width,
            column_scale=self.config.column_scale if column_scale is None else column_scale,
        )
        old = self.position_encoding.data
        ratio = config.column_scale / self.config.column_scale
        if ratio != 1.0:
            last = old.shape[-1] - 1
            where = ((torch.arange(max_width, dtype=torch.float64) + 0.5) / ratio - 0.5).clamp(0.0, float(last))
            low = where.floor().long()
            high = (low + 1).clamp(max=last)
            frac = (where - low).to(old.dtype)
            new = old[..., low] * (1 - frac) + old[..., high] * frac
        else:
            keep = min(old.shape[-1], max_width)
            new = old.new_empty(1, old.shape[1], max_width)
            new[..., :keep] = old[..., :keep]
            if max_width > keep:
                tail = old[..., -min(16, keep) :]
                repeats = -(-(max_width - keep) // tail.shape[-1])
                new[..., keep:] = tail.repeat(1, 1, repeats)[..., : max_width - keep]
        self.position_encoding = nn.Parameter(new.contiguous(), requires_grad=self.position_encoding.requires_grad)
        self.config = config
        self.max_width = max_width

    def encoder_input(self, strips: torch.Tensor, pixels: torch.Tensor | None = None) -> torch.Tensor:
        """What the encoder reads: the feature strips, with the pixel stem's output appended when there is a stem.

        Args:
            strips: ``[N, C, 8, W]`` rectified detector features.
            pixels: ``[N, 1, 8k, Wk]`` ink levels in [0, 1] (``pipeline.stages.crop_pixels``), k =
                ``config.pixel_scale``; required exactly when the recognizer has a pixel stem.

        Returns:
            ``[N, C (+ pixel_channels), 8, W]`` in the strips' dtype.

        Raises:
            ValueError: pixels missing for a stem, given without one, or of the wrong shape.
        """
        if self.pixel_stem is None:
            if pixels is not None:
                raise ValueError("this recognizer reads no pixels (RecognizerConfig.pixel_scale is 0)")
            return strips
        scale = self.config.pixel_scale
        expected = (strips.shape[0], 1, strips.shape[2] * scale, strips.shape[3] * scale)
        if pixels is None or tuple(pixels.shape) != expected:
            got = None if pixels is None else tuple(pixels.shape)
            raise ValueError(f"pixels must have shape {list(expected)} for strips {tuple(strips.shape)}, got {got}")
        return torch.cat([strips, self.pixel_stem(pixels.to(strips.dtype))], dim=1)

    def forward(
        self, strips: torch.Tensor, classes: torch.Tensor | None = None, pixels: torch.Tensor | None = None
    ) -> RecognizerOutput:
        """Classify every position of each strip.

        Args:
            strips: ``[N, C, 8, W]`` rectified detector features (C = ``in_channels``). W = T (``max_width``), or
                with ``config.bucket_width > 0`` any ``1 ≤ W ≤ T`` (the first W position encodings are used).
            classes: optional ``[S]`` int64 token ids, distinct, in ``[0, V)``: score only these classes (column
                ``j`` of the logits is token ``classes[j]``). Training with a sampled softmax over a large charset
                uses it; reading never does.
            pixels: ``[N, 1, 8k, Wk]`` ink levels of the same quads, with ``k = config.pixel_scale > 0`` only
                (:meth:`encoder_input`).

        Returns:
            :class:`RecognizerOutput` with W positions; ``N = 0`` gives empty ``[0, W, V]`` / ``[0, W, D]`` tensors
            (``S`` instead of ``V`` with ``classes``).

        Raises:
            ValueError: if ``strips`` does not have shape ``[N, C, 8, W]`` with an allowed W.
        """
        width = strips.shape[-1] if strips.ndim == 4 else -1
        allowed = 1 <= width <= self.max_width if self.config.bucket_width > 0 else width == self.max_width
        expected = (self.in_channels, self.config.strip_height)
        if strips.ndim != 4 or tuple(strips.shape[1:3]) != expected or not allowed:
            wanted = f"W] with 1 <= W <= {self.max_width}" if self.config.bucket_width > 0 else f"{self.max_width}]"
            shape = tuple(strips.shape)
            raise ValueError(f"strips must have shape [N, {expected[0]}, {expected[1]}, {wanted}, got {shape}")
        # (N, C, 8, W) -> (N, D, 1, W) -> (N, D, W)
        x = self.encoder(self.encoder_input(strips, pixels)).squeeze(2)
        x = x + self.position_encoding[..., :width]
        # (N, D, W) -> (N, W, D)
        x = x.permute(0, 2, 1)
        if self.config.use_pre_norm:
            x = self.pre_norm(x)
        # The first ``global_layers`` layers attend to all columns, the rest within the window (none without one):
        # the per-layer calls nn.TransformerEncoder makes (no padding mask, so no nested tensors), then its norm.
        mask = self._window_mask(width, x)
        for index, layer in enumerate(self.tx.layers):
            x = layer(x, src_mask=None if index < self.config.global_layers else mask)
        if self.tx.norm is not None:
            x = self.tx.norm(x)
        if classes is None:
            return RecognizerOutput(self.classifier(x), x)
        # Only S rows of the classifier: with a 10,000-class charset the full product and its backward cost more
        # than the rest of the recognizer (benchmarks/recognizer_cost.py).
        weight = self.classifier.weight.index_select(0, classes)
        bias = self.classifier.bias.index_select(0, classes)
        return RecognizerOutput(nn.functional.linear(x, weight, bias), x)

    def _window_mask(self, width: int, x: torch.Tensor) -> torch.Tensor | None:
        """``[W, W]`` additive attention mask of ``config.attention_window`` (``-inf`` beyond it), or None when off."""
        window = self.config.attention_window
        if window <= 0 or window >= width - 1:
            return None
        positions = torch.arange(width, device=x.device)
        outside = (positions[:, None] - positions[None, :]).abs() > window
        return torch.zeros(width, width, dtype=x.dtype, device=x.device).masked_fill(outside, float("-inf"))
