"""FOTS-style text detector: RegNet backbone → U-Net merge → ASPP head (spec §3).

State-dict keys follow the published ``FOTSDetector`` (spec §3.6): ``input_mean``, ``input_std``, ``extractor.*``,
``merge.*``, ``output.preds.*``. The forward pass returns raw confidence logits, rotated boxes in detector-input
pixels, and the shared feature map F that the recognizer and the relational model read.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from .regnet import ConvNormAct, RegNet, conv_bn
from .spec import DetectorConfig, PreprocessConfig

__all__ = ["DetectorOutput", "ASPP", "FeatureMerge", "DetectorHead", "Detector", "RBOX_CHANNELS"]

RBOX_CHANNELS = 6
"""Head outputs in RBOX mode: confidence (1), distances top/right/bottom/left (4), angle (1) (spec §3.5)."""


class DetectorOutput(NamedTuple):
    """Detector outputs for a batch of ``B`` images of ``H×W`` pixels (``Hf = H/4``, ``Wf = W/4``).

    Attributes:
        confidence: ``[B, Hf, Wf]`` raw text/no-text logits (apply a sigmoid for probabilities).
        rboxes: ``[B, Hf, Wf, 5]`` = (top, right, bottom, left) distances in detector-input pixels (>= 0) and the
            angle θ in radians in [-π, π], per cell (cell centre at ``(4x + 2, 4y + 2)``).
        features: ``[B, C, Hf, Wf]`` the merge output F (the shared feature map).
    """

    confidence: torch.Tensor
    rboxes: torch.Tensor
    features: torch.Tensor


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling with a residual connection when the shapes allow (spec §3.4).

    Branch ``i`` of ``kernels`` is a 3×3 conv with dilation and padding ``dilations[i]``; ``global_pool`` adds the
    image mean (1×1 conv with bias) broadcast over the map; ``final`` fuses the ``len(dilations) + 1`` branches.

    Args:
        in_channels: input width.
        num_channels: width of each branch and of the output.
        dilations: dilation of each 3×3 branch (published: 1, 2, 4, ..., 64).
        dropout: dropout after the fusion (published: 0.0).
    """

    def __init__(self, in_channels: int, num_channels: int, dilations: tuple[int, ...], dropout: float = 0.0) -> None:
        super().__init__()
        self.kernels = nn.ModuleList(
            ConvNormAct(
                nn.Conv2d(in_channels, num_channels, 3, padding=d, dilation=d, bias=False),
                nn.BatchNorm2d(num_channels),
                nn.ReLU(inplace=True),
            )
            for d in dilations
        )
        self.global_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, num_channels, 1, bias=True), nn.ReLU(inplace=True)
        )
        self.final = ConvNormAct(
            nn.Conv2d((len(dilations) + 1) * num_channels, num_channels, 1, bias=False),
            nn.BatchNorm2d(num_channels),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
        )
        self.residual = in_channels == num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``[B, in, H, W]`` to ``[B, num, H, W]``."""
        branches = [kernel(x) for kernel in self.kernels]
        pooled = self.global_pool(x)
        # Materialised in the branches' layout: concatenating a stride-0 (expanded) tensor with channels-last maps
        # takes a slow generic path on CPU (a DocBank page's 384 × 304 map: bf16 10 → 3 ms; benchmarks/RESULTS.md,
        # "Session 31").
        channels_last = branches[0].is_contiguous(memory_format=torch.channels_last)
        layout = torch.channels_last if channels_last else torch.contiguous_format
        branches.append(pooled.expand(-1, -1, x.shape[2], x.shape[3]).contiguous(memory_format=layout))
        y = self.final(torch.cat(branches, dim=1))
        return x + y if self.residual else y


class FeatureMerge(nn.Module):
    """U-Net-like top-down merge of the four backbone levels into F at stride 4 (spec §3.3).

    For each step ``i`` (deepest first): ``pre_upsamples[i]`` (1×1 block) narrows the running map to
    ``min(prev // 2, merge_widths[i])``, it is upsampled ×2 (nearest), concatenated with the next shallower level,
    and ``post_upsamples[i]`` (1×1 block then 3×3 block) maps it to ``merge_widths[i]``; ``final`` is one 3×3 block.

    Args:
        level_widths: output widths of the backbone stages, shallowest first.
        merge_widths: output width of each step (published 512, 256, 128).
    """

    def __init__(self, level_widths: list[int], merge_widths: tuple[int, int, int]) -> None:
        super().__init__()
        deepest_first = list(reversed(level_widths))
        prev = deepest_first[0]
        pre, post = [], []
        for i, width in enumerate(merge_widths):
            narrowed = min(prev // 2, width)
            pre.append(nn.Sequential(conv_bn(prev, narrowed, 1)))
            post.append(nn.Sequential(conv_bn(narrowed + deepest_first[i + 1], width, 1), conv_bn(width, width, 3)))
            prev = width
        self.pre_upsamples = nn.ModuleList(pre)
        self.post_upsamples = nn.ModuleList(post)
        self.final = nn.Sequential(conv_bn(prev, prev, 3))
        self.num_features = [deepest_first[0], *merge_widths]

    def forward(self, levels: list[torch.Tensor]) -> torch.Tensor:
        """Merge the four level outputs (strides 4..32, shallowest first) into ``[B, C, H/4, W/4]``."""
        y = levels[-1]
        for i, (pre, post) in enumerate(zip(self.pre_upsamples, self.post_upsamples)):
            y = F.interpolate(pre(y), scale_factor=2.0, mode="nearest")
            y = post(torch.cat([y, levels[-2 - i]], dim=1))
        return self.final(y)


class DetectorHead(nn.Module):
    """``preds`` = ASPP × ``num_aspp`` → 3×3 block → bias-free 1×1 conv to the 6 RBOX channels (spec §3.5).

    Args:
        in_channels: width C of F.
        config: the detector config (head width, dilations, number of ASPP modules, scope).
    """

    def __init__(self, in_channels: int, config: DetectorConfig) -> None:
        super().__init__()
        width = config.head_channels
        layers: list[nn.Module] = []
        channels = in_channels
        for _ in range(config.num_aspp):
            layers.append(ASPP(channels, width, config.aspp_dilations))
            channels = width
        layers.append(conv_bn(channels, width, 3))
        layers.append(nn.Conv2d(width, RBOX_CHANNELS, 1, bias=False))
        self.preds = nn.Sequential(*layers)
        self.scope = float(config.scope)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(confidence [B, Hf, Wf], rboxes [B, Hf, Wf, 5])`` from F ``[B, C, Hf, Wf]``."""
        return self.decode(self.preds(features))

    def decode(self, preds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(confidence, rboxes)`` from the ``[B, 6, Hf, Wf]`` output of ``preds`` (what :meth:`forward` returns)."""
        confidence = preds[:, 0]
        coords = torch.relu(preds[:, 1:5]) * self.scope
        angle = F.hardtanh(preds[:, 5:6], -1.0, 1.0) * math.pi
        # (B, 5, Hf, Wf) -> (B, Hf, Wf, 5)
        rboxes = torch.cat([coords, angle], dim=1).permute(0, 2, 3, 1)
        return confidence, rboxes


class Detector(nn.Module):
    """The FOTS detector: normalise → RegNet → merge → head.

    Args:
        config: architecture.
        preprocess: supplies the ImageNet mean/std stored (as float16, like the published weights) in the
            ``input_mean`` / ``input_std`` buffers.

    Attributes:
        feature_channels: width C of the returned feature map.
        downsample: 4, the stride of every output map.

    >>> from textspotter.models import get_spec
    >>> det = Detector(get_spec("tiny-test").detector).eval()
    >>> out = det(torch.rand(1, 3, 64, 96))
    >>> tuple(out.confidence.shape), tuple(out.rboxes.shape), tuple(out.features.shape)
    ((1, 16, 24), (1, 16, 24, 5), (1, 16, 16, 24))
    """

    downsample = 4

    def __init__(self, config: DetectorConfig, preprocess: PreprocessConfig | None = None) -> None:
        super().__init__()
        preprocess = PreprocessConfig() if preprocess is None else preprocess
        self.config = config
        self.register_buffer("input_mean", torch.tensor(preprocess.mean, dtype=torch.float16).view(1, 3, 1, 1))
        self.register_buffer("input_std", torch.tensor(preprocess.std, dtype=torch.float16).view(1, 3, 1, 1))
        self.extractor = RegNet(config.backbone)
        self.merge = FeatureMerge(self.extractor.channel_counts, config.merge_widths)
        self.output = DetectorHead(config.feature_channels, config)
        self.feature_channels = config.feature_channels
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Random initialisation for training: He-normal convs, BN (1, 0), a small-output final conv."""
        if self.output.preds[-1].weight.is_meta:
            # Built for loading (checkpoints._empty_model): nothing to draw, and random ops on meta tensors
            # go through torch._refs, whose first use imports torch._dynamo (seconds of start-up).
            return
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        # Start near "no text, zero-size box, angle 0" so early losses are not dominated by huge distances.
        nn.init.normal_(self.output.preds[-1].weight, std=1e-3)

    def forward(self, images: torch.Tensor) -> DetectorOutput:
        """Detect text in ``images``.

        Args:
            images: ``[B, 3, H, W]`` float RGB in [0, 1]; H and W multiples of 32.

        Returns:
            :class:`DetectorOutput` with maps of ``H/4 × W/4`` cells, in the compute dtype (autocast applies).

        Raises:
            ValueError: if the shape is not ``[B, 3, H, W]`` with H, W multiples of 32.
            TypeError: if ``images`` is not floating point.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape [B, 3, H, W], got {tuple(images.shape)}")
        if images.shape[2] % 32 or images.shape[3] % 32:
            raise ValueError(f"image height and width must be multiples of 32, got {tuple(images.shape[2:])}")
        if not images.is_floating_point():
            raise TypeError(f"images must be a floating-point tensor in [0, 1], got {images.dtype}")
        x = (images - self.input_mean.to(images.dtype)) / self.input_std.to(images.dtype)
        features = self.merge(self.extractor(x))
        confidence, rboxes = self.output(features)
        return DetectorOutput(confidence, rboxes, features)
