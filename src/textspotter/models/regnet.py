"""RegNet X/Y backbones with torchvision's module names, written for the detector (spec §3.2).

The published detector stores its backbone under ``extractor.base`` (the stem) and ``extractor.levels.{l}`` (the
four stages) with the block names of torchvision's RegNet (``block{l+1}-{j}`` with ``proj`` and ``f.a`` / ``f.b`` /
``f.se`` / ``f.c``). The modules below reproduce that naming so that published state dicts load strictly. Widths,
depths and group widths are given explicitly per stage by :class:`~textspotter.models.spec.RegNetConfig` instead of
being derived from the RegNet (w_0, w_a, w_m) parametrisation, so that a config states exactly what it builds.
"""

from __future__ import annotations

import torch
from torch import nn

from .spec import RegNetConfig

__all__ = ["ConvNormAct", "conv_bn", "SqueezeExcitation", "ResBottleneckBlock", "RegNetStage", "RegNet"]


class ConvNormAct(nn.Sequential):
    """``Sequential(0: Conv2d, 1: BatchNorm2d, *rest)`` that folds the norm into the convolution in eval mode.

    The modules and state-dict keys are those of the plain Sequential. In eval mode the norm is a per-channel affine
    map, so ``norm(conv(x))`` is one convolution with ``w' = w · γ / σ`` and ``b' = β + (b − μ) · γ / σ``: one pass
    over the activation instead of two (about a tenth of the detector's CPU time). The folded weights are recomputed
    on every call, which costs little next to the convolution and needs no cache to invalidate when weights change.
    In training mode (batch statistics) it runs as the plain Sequential.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``[B, C_in, H, W]`` to ``[B, C_out, H', W']``, the same values as the unfolded modules."""
        conv, norm = self[0], self[1]
        if self.training or not isinstance(norm, nn.BatchNorm2d) or norm.running_var is None:
            return super().forward(x)
        # Folded in float32 whatever the parameter dtype, then cast back: a half-precision variance loses digits.
        scale = torch.rsqrt(norm.running_var.float() + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight.float()
        bias = -norm.running_mean.float() * scale
        if norm.bias is not None:
            bias = bias + norm.bias.float()
        if conv.bias is not None:
            bias = bias + conv.bias.float() * scale
        weight = conv.weight.float() * scale.reshape(-1, 1, 1, 1)
        y = conv._conv_forward(x, weight.to(conv.weight.dtype), bias.to(conv.weight.dtype))
        for layer in list(self)[2:]:
            y = layer(y)
        return y


def conv_bn(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    stride: int = 1,
    groups: int = 1,
    activation: bool = True,
) -> nn.Sequential:
    """Return ``ConvNormAct(0: Conv2d(bias=False), 1: BatchNorm2d[, 2: ReLU])`` with "same" padding.

    This is torchvision's ``Conv2dNormActivation`` as a Sequential, which gives the same state-dict keys.
    """
    layers: list[nn.Module] = [
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=(kernel_size - 1) // 2,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels),
    ]
    if activation:
        layers.append(nn.ReLU(inplace=True))
    return ConvNormAct(*layers)


class SqueezeExcitation(nn.Module):
    """Channel gating ``x * sigmoid(fc2(relu(fc1(mean_hw(x)))))`` (keys ``fc1``, ``fc2``, both 1×1 convs with bias)."""

    def __init__(self, channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gate ``x`` ``[B, C, H, W]`` channel-wise; same shape and dtype out."""
        scale = torch.nn.functional.adaptive_avg_pool2d(x, 1)
        scale = self.fc2(torch.relu(self.fc1(scale)))
        return x * torch.sigmoid(scale)


class ResBottleneckBlock(nn.Module):
    """RegNet residual bottleneck: ``relu(proj(x) + f(x))`` with ``f = a (1×1) → b (3×3 grouped) → [se] → c (1×1)``.

    Args:
        width_in: input channels.
        width_out: output channels.
        stride: stride of the 3×3 conv (and of ``proj``).
        group_width: channels per group of the 3×3 conv.
        bottleneck_multiplier: bottleneck width / ``width_out``.
        se_ratio: squeeze width relative to ``width_in``; 0 builds no ``f.se`` (RegNet X).
    """

    def __init__(
        self,
        width_in: int,
        width_out: int,
        *,
        stride: int,
        group_width: int,
        bottleneck_multiplier: float,
        se_ratio: float,
    ) -> None:
        super().__init__()
        self.proj: nn.Sequential | None = None
        if width_in != width_out or stride != 1:
            self.proj = conv_bn(width_in, width_out, 1, stride=stride, activation=False)
        width_b = int(round(width_out * bottleneck_multiplier))
        groups = width_b // min(group_width, width_b)
        f = nn.Sequential()
        f.add_module("a", conv_bn(width_in, width_b, 1))
        f.add_module("b", conv_bn(width_b, width_b, 3, stride=stride, groups=groups))
        if se_ratio > 0:
            # torchvision sizes the squeeze on the block *input* width (spec §3.2).
            f.add_module("se", SqueezeExcitation(width_b, int(round(se_ratio * width_in))))
        f.add_module("c", conv_bn(width_b, width_out, 1, activation=False))
        self.f = f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``[B, width_in, H, W]`` to ``[B, width_out, H / stride, W / stride]``."""
        shortcut = x if self.proj is None else self.proj(x)
        return torch.relu(shortcut + self.f(x))


class RegNetStage(nn.Sequential):
    """One stage: ``depth`` blocks named ``block{stage_number}-{j}``, the first one strided."""

    def __init__(self, width_in: int, width_out: int, *, stage_number: int, depth: int, config: RegNetConfig) -> None:
        super().__init__()
        stage = stage_number - 1
        for j in range(depth):
            block = ResBottleneckBlock(
                width_in if j == 0 else width_out,
                width_out,
                stride=2 if j == 0 else 1,
                group_width=config.group_widths[stage],
                bottleneck_multiplier=config.bottleneck_multiplier,
                se_ratio=config.se_ratio,
            )
            self.add_module(f"block{stage_number}-{j}", block)


class RegNet(nn.Module):
    """RegNet trunk returning its four stage outputs (strides 4, 8, 16, 32); the stem output is not returned.

    Attributes:
        base: the stem, 3×3 stride-2 conv + BN + ReLU (state-dict prefix ``base``).
        levels: the four stages (prefixes ``levels.0`` .. ``levels.3``).
        channel_counts: output width of each stage.

    >>> from textspotter.models.spec import RegNetConfig
    >>> net = RegNet(RegNetConfig(stem_width=8, widths=(8, 16, 16, 32), depths=(1, 1, 1, 1), group_widths=(8,) * 4))
    >>> [tuple(o.shape) for o in net(torch.zeros(1, 3, 64, 64))]
    [(1, 8, 16, 16), (1, 16, 8, 8), (1, 16, 4, 4), (1, 32, 2, 2)]
    """

    downsample = 4

    def __init__(self, config: RegNetConfig) -> None:
        super().__init__()
        self.config = config
        self.base = conv_bn(3, config.stem_width, 3, stride=2)
        levels = []
        width_in = config.stem_width
        for stage, (width, depth) in enumerate(zip(config.widths, config.depths)):
            levels.append(RegNetStage(width_in, width, stage_number=stage + 1, depth=depth, config=config))
            width_in = width
        self.levels = nn.ModuleList(levels)
        self.channel_counts: list[int] = list(config.widths)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Run ``x`` ``[B, 3, H, W]`` (normalised, H and W multiples of 32) through the stem and the four stages.

        Returns:
            Four tensors ``[B, widths[l], H / 2**(l+2), W / 2**(l+2)]``.
        """
        x = self.base(x)
        outputs = []
        for level in self.levels:
            x = level(x)
            outputs.append(x)
        return outputs
