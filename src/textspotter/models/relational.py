"""Global relational model: links words into lines and lines into paragraphs (spec §7).

Each region ``i`` is encoded as a vector ``e_i`` (visual features of its 2×3 feature crop, the mean of its recognizer
features, and 14 geometry values). Per image, the ``kk = min(n_i - 1, k - 1)`` nearest regions (edge-to-edge quad
distance, spec §7.3) become its neighbours, and a Transformer reads the ``1 + kk`` tokens
``[e_i, e_j, dist_ij, cos_ij]`` (token 0 is the *null* neighbour) and predicts three logits per token: "j is the next
word of i" (``words``), "the line of i continues with the line of j" (``lines``) and the log-variance of the latter.

All regions of the batch are processed at once: sequences are padded to ``k`` tokens and the padding is masked with
``src_key_padding_mask``, which gives the same outputs as the published variable-length sequences.
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ..ops.distances import nearest_quads
from .recognizer import conv_bias_bn
from .spec import RelationalConfig

__all__ = ["RelationalOutput", "Relational", "relations_to_dense", "NUM_RELATIONS"]

NUM_RELATIONS = 3
"""Output channels per token: word link, line link, line-link log-variance (spec §7.4)."""

# Direction/distance values of the null token (spec §7.4).
_NULL_DISTANCE = -1.0
_NULL_DIRECTION = -2.0
_NORM_EPS = 1e-6


class RelationalOutput(NamedTuple):
    """Relational outputs for ``N`` regions (all images of the batch, image by image).

    Attributes:
        logits: ``[N, k, 3]`` float32; token 0 is the null connection, token ``m >= 1`` the neighbour
            ``neighbours[:, m - 1]``; channels (word, line, line log-variance). Padded tokens are ``-inf``.
        neighbours: ``[N, k - 1]`` int64 index of each neighbour within its image (``0 .. n_i - 1``), ``-1`` for
            padding (images with ``n_i <= k - 1`` regions have ``n_i - 1`` neighbours per region).
    """

    logits: torch.Tensor
    neighbours: torch.Tensor


class Relational(nn.Module):
    """The global relational model (published ``GlobalRelationalModel``, keys of spec §7.5).

    Args:
        config: architecture (k, layers, heads, FFN, token width, dropout, quad scale).
        in_channels: width C of the detector feature map (and of ``rect_proj`` / ``recog_tx``).
        recog_feature_depth: width D of the recognizer features.

    >>> from textspotter.models import create_model
    >>> model = create_model("tiny-test").eval()
    >>> rel = model.relational
    >>> C, D = model.detector.feature_channels, model.recognizer.feature_depth
    >>> quads = torch.tensor([[[0.0, 0], [10, 0], [10, 5], [0, 5]]]).repeat(3, 1, 1) + torch.rand(3, 1, 2) * 50
    >>> out = rel(torch.rand(3, C, 2, 3), quads, torch.tensor([3]), torch.rand(3, 4, D))
    >>> tuple(out.logits.shape), out.neighbours[0, 2:].tolist()
    ((3, 8, 3), [-1, -1, -1, -1, -1])
    """

    def __init__(self, config: RelationalConfig, in_channels: int, recog_feature_depth: int) -> None:
        super().__init__()
        self.config = config
        self.in_channels = in_channels
        self.recog_feature_depth = recog_feature_depth
        self.k = config.k
        self.rect_proj = conv_bias_bn(in_channels, in_channels, 1)
        self.recog_tx = nn.Linear(recog_feature_depth, in_channels)
        self.combined_proj = nn.Sequential(
            nn.Linear(2 * in_channels, 2 * in_channels),
            nn.BatchNorm1d(2 * in_channels),
            nn.ReLU(inplace=True),
            nn.Linear(2 * in_channels, config.semantic_width),
            nn.BatchNorm1d(config.semantic_width),
            nn.ReLU(inplace=True),
        )
        layer = nn.TransformerEncoderLayer(
            d_model=config.token_width,
            nhead=config.nhead,
            dim_feedforward=config.dim_feedforward,
            dropout=config.dropout,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.Sequential(
            nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False),
            nn.Linear(config.token_width, NUM_RELATIONS),
        )
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Random initialisation for training: He-normal ``rect_proj`` conv, BN (1, 0), PyTorch defaults elsewhere."""
        if self.rect_proj[0].weight.is_meta:
            # Built for loading (checkpoints._empty_model): nothing to draw, and random ops on meta tensors
            # go through torch._refs, whose first use imports torch._dynamo (seconds of start-up).
            return
        nn.init.kaiming_normal_(self.rect_proj[0].weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.rect_proj[0].bias)
        for module in self.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def encode_regions(
        self, crops: torch.Tensor, quads_scaled: torch.Tensor, recog_features: torch.Tensor
    ) -> torch.Tensor:
        """Return the per-region encodings ``e`` ``[N, initial_depth - 1]`` (spec §7.2), float32.

        Args:
            crops: ``[N, C, 2, 3]`` float32 feature crops.
            quads_scaled: ``[N, 4, 2]`` detector-space quads divided by ``quad_downscale``.
            recog_features: ``[N, T, D]`` float32 recognizer features.
        """
        visual = self.rect_proj(crops).mean(dim=(2, 3))
        text = self.recog_tx(recog_features).mean(dim=1)
        semantic = self.combined_proj(torch.cat([visual, text], dim=1))
        q = quads_scaled
        left_edge = q[:, 3] - q[:, 0]
        right_edge = q[:, 2] - q[:, 1]
        left_mid = q[:, 0] + left_edge / 2
        right_mid = q[:, 1] + right_edge / 2
        along = right_mid - left_mid
        width = along.norm(dim=-1, keepdim=True)
        along = along / width.clamp(min=_NORM_EPS)
        height = ((left_edge + right_edge) / 2).norm(dim=-1, keepdim=True)
        across = torch.stack([-along[:, 1], along[:, 0]], dim=-1)
        return torch.cat([semantic, q.flatten(1), along, across, width, height], dim=1)

    def forward(
        self,
        crops: torch.Tensor,
        quads: torch.Tensor,
        region_counts: torch.Tensor,
        recog_features: torch.Tensor,
        *,
        encoder_bf16: bool = False,
    ) -> RelationalOutput:
        """Score every (region, neighbour) pair of every image.

        Runs in float32 with autocast disabled, whatever the caller's autocast state (spec §2.2); with
        ``encoder_bf16`` (ours, for reading on CPUs with native bfloat16) the Transformer encoder runs under bfloat16
        autocast, the region encodings, distances and output layer stay float32.

        Args:
            crops: ``[N, C, 2, 3]`` rectified feature crops (relational grid, spec §5).
            quads: ``[N, 4, 2]`` region quads in detector-input pixels, image by image.
            region_counts: ``[B]`` integer number of regions of each image (sums to N).
            recog_features: ``[N, T, D]`` recognizer features of the same regions (detached here).

        Returns:
            :class:`RelationalOutput` with ``logits [N, k, 3]`` and ``neighbours [N, k - 1]``.

        Raises:
            ValueError: on inconsistent shapes or region counts.
        """
        num = self._check_inputs(crops, quads, region_counts, recog_features)
        counts = [int(c) for c in region_counts.tolist()]
        device = crops.device
        k1 = self.k - 1
        if num == 0:
            empty = torch.zeros((0, self.k, NUM_RELATIONS), dtype=torch.float32, device=device)
            return RelationalOutput(empty, torch.zeros((0, k1), dtype=torch.int64, device=device))
        with _autocast_disabled(device.type):
            crops = crops.float()
            quads_scaled = quads.float() / self.config.quad_downscale
            regions = self.encode_regions(crops, quads_scaled, recog_features.detach().float())

            neighbours, distances = self._nearest(quads_scaled, counts)
            valid = neighbours >= 0
            counts_t = torch.tensor(counts, dtype=torch.int64, device=device)
            starts = torch.cumsum(counts_t, 0) - counts_t
            region_start = torch.repeat_interleave(starts, counts_t)
            region_count = torch.repeat_interleave(counts_t, counts_t)
            rows = torch.arange(num, device=device)
            # Padding slots point at the region itself: any valid row works, they are masked out below.
            partner = torch.where(valid, neighbours + region_start[:, None], rows[:, None])

            mids = quads_scaled.mean(dim=1)
            left_mid = (quads_scaled[:, 0] + quads_scaled[:, 3]) / 2
            right_mid = (quads_scaled[:, 1] + quads_scaled[:, 2]) / 2
            direction = F.normalize(right_mid - left_mid, dim=-1, eps=_NORM_EPS)
            centre = (left_mid + right_mid) / 2
            to_partner = F.normalize(mids[partner] - centre[:, None], dim=-1, eps=_NORM_EPS)
            cosines = (direction[:, None] * to_partner).sum(-1)

            # Tokens 1..k-1: [e_i, e_j, dist_ij, cos_ij]  -> (N, k-1, 2E + 2)
            pair_tokens = torch.cat(
                [
                    regions[:, None].expand(-1, k1, -1),
                    regions[partner],
                    distances[..., None],
                    cosines[..., None],
                ],
                dim=-1,
            )
            pair_tokens = pair_tokens * valid[..., None]
            # Token 0: [e_i, 0, -1, -2]; the v1 release uses [e_i, 0, 0, 0] for an image with a single region.
            null_tail = torch.tensor([_NULL_DISTANCE, _NULL_DIRECTION], device=device).expand(num, 2)
            null_tail = null_tail * (region_count > 1)[:, None]
            null_token = torch.cat([regions, torch.zeros_like(regions), null_tail], dim=-1)
            tokens = torch.cat([null_token[:, None], pair_tokens], dim=1)
            padding = torch.cat([torch.zeros((num, 1), dtype=torch.bool, device=device), ~valid], dim=1)

            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=encoder_bf16):
                encoded = self.encoder[0](tokens, src_key_padding_mask=padding)
            logits = self.encoder[1](encoded.float()).masked_fill(padding[..., None], float("-inf"))
        return RelationalOutput(logits, neighbours)

    def _nearest(self, quads_scaled: torch.Tensor, counts: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return each region's ``kk`` nearest regions of its image (indices within the image) and distances.

        Returns:
            ``neighbours [N, k-1]`` int64 (-1 padding, nearest first) and ``distances [N, k-1]`` float32 (0 padding).
        """
        num, k1 = quads_scaled.shape[0], self.k - 1
        neighbours = torch.full((num, k1), -1, dtype=torch.int64, device=quads_scaled.device)
        distances = torch.zeros((num, k1), dtype=torch.float32, device=quads_scaled.device)
        start = 0
        for count in counts:
            kk = min(count - 1, k1)
            if kk > 0:
                values, indices = nearest_quads(quads_scaled[start : start + count], kk)
                neighbours[start : start + count, :kk] = indices
                distances[start : start + count, :kk] = values
            start += count
        return neighbours, distances

    def _check_inputs(
        self, crops: torch.Tensor, quads: torch.Tensor, region_counts: torch.Tensor, recog_features: torch.Tensor
    ) -> int:
        grid = tuple(self.config.grid_size)
        if crops.ndim != 4 or crops.shape[1] != self.in_channels or tuple(crops.shape[2:]) != grid:
            raise ValueError(
                f"crops must have shape [N, {self.in_channels}, {grid[0]}, {grid[1]}], got {tuple(crops.shape)}"
            )
        num = crops.shape[0]
        if tuple(quads.shape) != (num, 4, 2):
            raise ValueError(f"quads must have shape [{num}, 4, 2], got {tuple(quads.shape)}")
        if recog_features.ndim != 3 or recog_features.shape[0] != num:
            raise ValueError(f"recog_features must have shape [{num}, T, D], got {tuple(recog_features.shape)}")
        if recog_features.shape[2] != self.recog_feature_depth:
            raise ValueError(
                f"recog_features must have depth {self.recog_feature_depth}, got {recog_features.shape[2]}"
            )
        if region_counts.ndim != 1 or region_counts.is_floating_point():
            raise ValueError(
                f"region_counts must be a 1-D integer tensor, got {region_counts.dtype} {tuple(region_counts.shape)}"
            )
        counts = region_counts.tolist()
        if any(c < 0 for c in counts) or sum(counts) != num:
            raise ValueError(f"region_counts {counts} must be non-negative and sum to the {num} regions")
        return num


def relations_to_dense(
    output: RelationalOutput, region_counts: torch.Tensor
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """Scatter the per-token logits into per-image dense matrices (spec §7.4).

    Args:
        output: the relational model's output for N regions.
        region_counts: ``[B]`` regions per image (as passed to the model).

    Returns:
        ``(words, lines, line_log_var)``, each a list of B float32 ``[n_i, n_i + 1]`` matrices: column 0 is the
        null connection, column ``j + 1`` region ``j`` of the same image; ``-inf`` where ``j`` is not a neighbour
        (including the diagonal).

    Raises:
        ValueError: if ``region_counts`` does not sum to N.

    >>> out = RelationalOutput(torch.zeros(2, 3, 3), torch.tensor([[1, -1], [0, -1]]))
    >>> words, lines, log_var = relations_to_dense(out, torch.tensor([2]))
    >>> words[0]
    tensor([[0., -inf, 0.],
            [0., 0., -inf]])
    """
    counts = [int(c) for c in torch.as_tensor(region_counts).tolist()]
    logits, neighbours = output.logits.float(), output.neighbours
    if sum(counts) != logits.shape[0] or any(c < 0 for c in counts):
        raise ValueError(f"region_counts {counts} must be non-negative and sum to the {logits.shape[0]} regions")
    words, lines, log_vars = [], [], []
    start = 0
    for count in counts:
        block = logits[start : start + count]
        nbrs = neighbours[start : start + count]
        dense = torch.full((count, count + 1, NUM_RELATIONS), float("-inf"), device=logits.device)
        dense[:, 0] = block[:, 0]
        valid = nbrs >= 0
        rows = torch.arange(count, device=logits.device)[:, None].expand_as(nbrs)
        dense[rows[valid], nbrs[valid] + 1] = block[:, 1:][valid]
        words.append(dense[..., 0].contiguous())
        lines.append(dense[..., 1].contiguous())
        log_vars.append(dense[..., 2].contiguous())
        start += count
    return words, lines, log_vars


def _autocast_disabled(device_type: str) -> contextlib.AbstractContextManager[None]:
    if torch.amp.is_autocast_available(device_type):
        return torch.autocast(device_type=device_type, enabled=False)
    return contextlib.nullcontext()
