"""ModelSpec: everything that travels with a set of weights (architecture, charset, preprocessing, decoding).

A model folder of ours holds ``model.safetensors`` and ``model.json`` (``ModelSpec.to_dict()``). The pipeline takes
every size, constant and threshold from the spec, never from function defaults. Fields that the architecture spec
marks **[inferred]** (spec §9, §11) are ordinary fields here so that they can be corrected without code changes;
their docstrings say so.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ..charset import Charset

__all__ = [
    "RegNetConfig",
    "DetectorConfig",
    "RecognizerConfig",
    "RelationalConfig",
    "PreprocessConfig",
    "PostprocessConfig",
    "Int8Config",
    "ModelSpec",
    "REGNET_Y_8GF",
    "REGNET_X_8GF",
    "NAMED_BACKBONES",
    "RELATIONAL_POS_CHANNELS",
    "MIN_INFER_LENGTH",
    "MAX_INFER_LENGTH",
    "check_infer_length",
    "PUBLISHED_VALID_CONFIDENCE",
]

SPEC_FORMAT_VERSION = 1

MIN_INFER_LENGTH = 64
"""Smallest detector input side L: the backbone's stride-32 output needs at least a 2 × 2 map."""

MAX_INFER_LENGTH = 4096
"""Largest detector input side L. Memory grows as L²: at 4096 one view's input is 201 MB of float32 and the
feature map the recognizer reads (C = 128 channels at L/4) 537 MB, before the backbone's own activations; beyond
that, read small text with tiled views (``ScaleOptions(mode="tiled")``) instead."""


def check_infer_length(value: object, where: str) -> None:
    """Raise ``ValueError`` naming ``where`` unless ``value`` is an int multiple of 32 in [64, 4096].

    Args:
        value: a detector input side L from a model spec, an option or the command line.
        where: where the value came from (``"PreprocessConfig.infer_length"``, ``"ScaleOptions.infer_length"``).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where} must be an int, got {value!r}")
    if not MIN_INFER_LENGTH <= value <= MAX_INFER_LENGTH or value % 32:
        raise ValueError(f"{where} must be a multiple of 32 in [{MIN_INFER_LENGTH}, {MAX_INFER_LENGTH}], got {value!r}")


@dataclass(frozen=True)
class RegNetConfig:
    """A RegNet backbone given by its explicit per-stage numbers (torchvision naming, spec §3.2).

    Attributes:
        stem_width: output channels of the 3×3 stride-2 stem conv.
        widths: output width of each of the 4 stages.
        depths: number of ResBottleneck blocks per stage.
        group_widths: channels per group of each stage's 3×3 conv (groups = width / group_width).
        se_ratio: squeeze-excitation ratio relative to the block input width; 0 disables SE (RegNet X).
        bottleneck_multiplier: bottleneck width / output width (1.0 for all published models).
    """

    stem_width: int = 32
    widths: tuple[int, int, int, int] = (224, 448, 896, 2016)
    depths: tuple[int, int, int, int] = (2, 4, 10, 1)
    group_widths: tuple[int, int, int, int] = (56, 56, 56, 56)
    se_ratio: float = 0.25
    bottleneck_multiplier: float = 1.0

    def __post_init__(self) -> None:
        for name in ("widths", "depths", "group_widths"):
            value = tuple(getattr(self, name))
            object.__setattr__(self, name, value)  # lists (e.g. from JSON) become tuples: hashable, comparable
            if len(value) != 4 or any(int(v) != v or v < 1 for v in value):
                raise ValueError(f"RegNetConfig.{name} must be 4 positive integers, got {value!r}")
        if self.stem_width < 1:
            raise ValueError(f"RegNetConfig.stem_width must be positive, got {self.stem_width}")
        if not 0.0 <= self.se_ratio < 1.0:
            raise ValueError(f"RegNetConfig.se_ratio must be in [0, 1), got {self.se_ratio}")
        if self.bottleneck_multiplier <= 0:
            raise ValueError(f"RegNetConfig.bottleneck_multiplier must be positive, got {self.bottleneck_multiplier}")
        for stage, (width, group_width) in enumerate(zip(self.widths, self.group_widths)):
            bottleneck = int(round(width * self.bottleneck_multiplier))
            if bottleneck % min(group_width, bottleneck):
                raise ValueError(
                    f"RegNetConfig stage {stage}: bottleneck width {bottleneck} is not divisible by "
                    f"group width {group_width}"
                )


REGNET_Y_8GF = RegNetConfig()
"""The v1 backbone (verified by exact parameter count, spec §3.2)."""

REGNET_X_8GF = RegNetConfig(
    stem_width=32, widths=(80, 240, 720, 1920), depths=(2, 5, 15, 1), group_widths=(80, 120, 120, 120), se_ratio=0.0
)
"""The v2 backbone **[inferred]** (spec §3.2, §9)."""

NAMED_BACKBONES = {"regnet_y_8gf": REGNET_Y_8GF, "regnet_x_8gf": REGNET_X_8GF}

RELATIONAL_POS_CHANNELS = 14
"""Geometry channels of each region encoding (8 quad coords, 2 + 2 directions, width, height; spec §7.2)."""


@dataclass(frozen=True)
class DetectorConfig:
    """FOTS detector: RegNet backbone → U-Net merge → ASPP head (spec §3).

    Attributes:
        backbone: RegNet stage numbers.
        merge_widths: output widths of the three merge steps (published: 512, 256, 128). The last one is the width
            ``C`` of the shared feature map F that the recognizer and relational model read.
        aspp_dilations: dilations of the ASPP branches (published: 1, 2, 4, ..., 64).
        num_aspp: number of stacked ASPP modules in the head (published: 2; 0 leaves only the 3×3 block).
        scope: distance scale of the RBOX output in detector pixels. v1: 512; v2: **[inferred]** 2048 (spec §9).
        head_width: channels of the ASPP modules and the head's 3×3 block; ``None`` means ``feature_channels``
            (published: 128 = C, which makes every ASPP residual). Our own small models may go narrower.
    """

    backbone: RegNetConfig = REGNET_Y_8GF
    merge_widths: tuple[int, int, int] = (512, 256, 128)
    aspp_dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    num_aspp: int = 2
    scope: float = 512.0
    head_width: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "merge_widths", tuple(self.merge_widths))
        object.__setattr__(self, "aspp_dilations", tuple(self.aspp_dilations))
        if len(self.merge_widths) != 3 or any(w < 1 for w in self.merge_widths):
            raise ValueError(f"DetectorConfig.merge_widths must be 3 positive integers, got {self.merge_widths!r}")
        if not self.aspp_dilations or any(d < 1 for d in self.aspp_dilations):
            raise ValueError(
                f"DetectorConfig.aspp_dilations must be non-empty positive integers, got {self.aspp_dilations!r}"
            )
        if self.num_aspp < 0:
            raise ValueError(f"DetectorConfig.num_aspp must be >= 0, got {self.num_aspp}")
        if self.scope <= 0:
            raise ValueError(f"DetectorConfig.scope must be positive, got {self.scope}")
        if self.head_width is not None and self.head_width < 1:
            raise ValueError(f"DetectorConfig.head_width must be positive or None, got {self.head_width}")

    @property
    def feature_channels(self) -> int:
        """Width C of the shared feature map F (the last merge width)."""
        return self.merge_widths[-1]

    @property
    def head_channels(self) -> int:
        """Width of the output head (``head_width``, or C when unset)."""
        return self.feature_channels if self.head_width is None else self.head_width


@dataclass(frozen=True)
class RecognizerConfig:
    """Transformer recognizer over rectified feature strips (spec §6).

    Attributes:
        depth: base width; the Transformer width is ``D = 2 * depth``.
        num_layers, nhead: Transformer encoder layers and heads. ``nhead`` cannot be read from weights.
        dim_feedforward: FFN width; ``None`` means ``D`` (v1: 256).
        max_width: sequence length T (strip width in feature cells).
        num_tokens: vocabulary V = len(charset) + 3.
        use_pre_norm: legacy standalone LayerNorm before the Transformer.
        use_final_norm: LayerNorm after the last layer (``tx.norm``).
        norm_first: pre-norm Transformer layers. v2: **[inferred]** True (spec §9).
        strip_height: rows of the rectified input strip; the conv stack halves it three times, so it must be 8.
        conv_width: width of the first two conv blocks of the encoder (``encoder.0`` outputs it, ``encoder.1`` and
            ``encoder.3`` twice it); ``None`` means the input width C (published).
        dropout: Transformer dropout (published: 0.0).
        decoding: how position outputs become text. ``"parallel"`` (published, spec §6.4): position t holds the
            t-th character, then EOS; blanks skipped, repeats kept. ``"ctc"`` (**ours**, not in the published models):
            position t holds a character or blank; repeats are merged, then blanks dropped, and training uses the
            CTC loss. CTC learns several times faster on CPU budgets, which is why the shipped ``small`` weights use
            it; it keeps characters under their strip columns only where attention is local (``attention_window``).
        bucket_width: ``0`` (published): every strip is read T columns wide. ``b > 0`` (**ours**): each strip is
            read at its own width rounded up to a multiple of ``b`` (at most T), strips of equal width together;
            the text is left-aligned and the columns past it are zero either way, so this reads a short word at
            the cost of its width instead of T, and lets T grow for long words without slowing short ones. The
            outputs are padded back to T (see ``pipeline.stages.read_strips``).
        attention_window: ``0`` (published): every Transformer position attends to all T. ``w > 0`` (**ours**):
            position t attends only to positions within ``w`` of it, so a CTC output stays near the strip columns
            it reads. With global attention the shipped CTC weights (switched from parallel decoding) emit a word's
            characters packed into the first half of its columns, about 1.3 per letter, and lose the blank CTC
            needs between two equal characters (``losses`` → ``loses``; benchmarks/RESULTS.md, "Session 17").
        global_layers: with ``attention_window > 0``, how many of the first Transformer layers still attend to all
            T (**ours**; ``0``: every layer is windowed). Global context is what reads degraded letters; the window
            in the last layers is what keeps each output near its columns. ``0 ≤ global_layers ≤ num_layers``.
        column_scale: strip columns per row of text height (``1.0``: published, the strip keeps the quad's aspect
            ratio). At ``s > 1`` (**ours**) a word is sampled ``s`` times as finely across as down, so narrow letters
            side by side (``ll``, ``il``) get more columns each; T should grow by the same factor for long words to
            fit (``ops.calc_quad_width``). Strips read at another scale than the weights were trained at read badly.
        pixel_scale: ``0`` (published): the recognizer reads the detector's feature map only, 4 input pixels per
            feature cell. ``k`` in {2, 4} (**ours**): it also reads the detector input's grey levels along each quad
            at ``k`` times the strip's grid (``8k`` rows, ``Wk`` columns; ``pipeline.stages.crop_pixels``), brought
            down to the strip's grid by a stem of two or one stride-2 convolutions (``Recognizer.pixel_stem``) and
            concatenated to the feature strip before the encoder. Why: from the features alone the recognizer has
            about 2.5 cells per letter of body text, and ordinary words stopped improving with data
            (benchmarks/RESULTS.md, "Session 33").
        pixel_channels: channels the pixel stem adds to the encoder's input (used when ``pixel_scale > 0``).
    """

    depth: int = 128
    num_layers: int = 3
    nhead: int = 8
    dim_feedforward: int | None = None
    max_width: int = 32
    num_tokens: int = 858
    use_pre_norm: bool = False
    use_final_norm: bool = False
    norm_first: bool = False
    strip_height: int = 8
    conv_width: int | None = None
    dropout: float = 0.0
    decoding: str = "parallel"
    bucket_width: int = 0
    attention_window: int = 0
    global_layers: int = 0
    column_scale: float = 1.0
    pixel_scale: int = 0
    pixel_channels: int = 16

    def __post_init__(self) -> None:
        if self.decoding not in ("parallel", "ctc"):
            raise ValueError(f"RecognizerConfig.decoding must be 'parallel' or 'ctc', got {self.decoding!r}")
        if self.depth < 1 or self.num_layers < 1 or self.nhead < 1:
            raise ValueError(
                f"RecognizerConfig depth, num_layers and nhead must be positive, got "
                f"{self.depth}, {self.num_layers}, {self.nhead}"
            )
        if (2 * self.depth) % self.nhead:
            raise ValueError(f"RecognizerConfig: width D = 2*depth = {2 * self.depth} is not divisible by nhead")
        if self.max_width < 1:
            raise ValueError(f"RecognizerConfig.max_width must be positive, got {self.max_width}")
        if self.num_tokens < 4:
            raise ValueError(f"RecognizerConfig.num_tokens must be >= 4 (3 special tokens + 1), got {self.num_tokens}")
        if self.strip_height != 8:
            raise ValueError(f"RecognizerConfig.strip_height must be 8 (three 2x poolings), got {self.strip_height}")
        if self.dim_feedforward is not None and self.dim_feedforward < 1:
            raise ValueError(f"RecognizerConfig.dim_feedforward must be positive or None, got {self.dim_feedforward}")
        if self.conv_width is not None and self.conv_width < 1:
            raise ValueError(f"RecognizerConfig.conv_width must be positive or None, got {self.conv_width}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"RecognizerConfig.dropout must be in [0, 1), got {self.dropout}")
        if isinstance(self.bucket_width, bool) or not isinstance(self.bucket_width, int):
            raise ValueError(f"RecognizerConfig.bucket_width must be an integer, got {self.bucket_width!r}")
        if not 0 <= self.bucket_width <= self.max_width:
            raise ValueError(
                f"RecognizerConfig.bucket_width must be 0 (off) or in [1, max_width={self.max_width}], "
                f"got {self.bucket_width}"
            )
        window = self.attention_window
        if isinstance(window, bool) or not isinstance(window, int) or window < 0:
            raise ValueError(f"RecognizerConfig.attention_window must be an integer >= 0 (0: off), got {window!r}")
        layers = self.global_layers
        if isinstance(layers, bool) or not isinstance(layers, int) or not 0 <= layers <= self.num_layers:
            raise ValueError(
                f"RecognizerConfig.global_layers must be an integer in [0, num_layers={self.num_layers}], "
                f"got {layers!r}"
            )
        scale = self.column_scale
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.25 <= scale <= 4.0:
            raise ValueError(f"RecognizerConfig.column_scale must be a number in [0.25, 4], got {scale!r}")
        pixels = self.pixel_scale
        if isinstance(pixels, bool) or pixels not in (0, 2, 4):
            raise ValueError(f"RecognizerConfig.pixel_scale must be 0 (off), 2 or 4, got {pixels!r}")
        channels = self.pixel_channels
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"RecognizerConfig.pixel_channels must be a positive integer, got {channels!r}")

    @property
    def feature_depth(self) -> int:
        """Width D of the Transformer and of the returned features (2 * depth)."""
        return 2 * self.depth

    @property
    def feedforward_width(self) -> int:
        """The FFN width actually built (``dim_feedforward`` or D)."""
        return self.feature_depth if self.dim_feedforward is None else self.dim_feedforward


@dataclass(frozen=True)
class RelationalConfig:
    """Global relational model over k-nearest-neighbour region pairs (spec §7).

    Attributes:
        k: neighbourhood size including the null token (published pipeline: 16, so 15 neighbours).
        num_layers, nhead, dim_feedforward: Transformer over (region, neighbour) tokens (published: 4, 8, 512).
        initial_depth: half the token width (published: 128 → tokens of 256).
        dropout: Transformer dropout (training only).
        quad_downscale: quads are divided by this before geometry features (published: 1024, independent of L).
        grid_size: (rows, cols) of the rectified feature crop (published: 2×3).
    """

    k: int = 16
    num_layers: int = 4
    nhead: int = 8
    dim_feedforward: int = 512
    initial_depth: int = 128
    dropout: float = 0.1
    quad_downscale: float = 1024.0
    grid_size: tuple[int, int] = (2, 3)

    def __post_init__(self) -> None:
        object.__setattr__(self, "grid_size", tuple(self.grid_size))
        if self.k < 2:
            raise ValueError(f"RelationalConfig.k must be >= 2 (null token + 1 neighbour), got {self.k}")
        if self.initial_depth <= 1 + RELATIONAL_POS_CHANNELS:
            raise ValueError(
                f"RelationalConfig.initial_depth must exceed {1 + RELATIONAL_POS_CHANNELS}, got {self.initial_depth}"
            )
        if self.num_layers < 1 or self.nhead < 1 or self.dim_feedforward < 1:
            raise ValueError("RelationalConfig num_layers, nhead and dim_feedforward must be positive")
        if self.token_width % self.nhead:
            raise ValueError(f"RelationalConfig: token width {self.token_width} is not divisible by nhead {self.nhead}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"RelationalConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.quad_downscale <= 0:
            raise ValueError(f"RelationalConfig.quad_downscale must be positive, got {self.quad_downscale}")
        if len(self.grid_size) != 2 or min(self.grid_size) < 1:
            raise ValueError(f"RelationalConfig.grid_size must be 2 positive integers, got {self.grid_size!r}")

    @property
    def token_width(self) -> int:
        """Width of one (region, neighbour) token: ``2 * initial_depth`` (published 256)."""
        return 2 * self.initial_depth

    @property
    def semantic_width(self) -> int:
        """Output width of ``combined_proj``: ``initial_depth - 1 - 14`` (published 113)."""
        return self.initial_depth - 1 - RELATIONAL_POS_CHANNELS


@dataclass(frozen=True)
class PreprocessConfig:
    """How a page image becomes the detector input (spec §1.2, §4.5).

    Attributes:
        infer_length: side L of the square detector input (published: 1024).
        pad_color: RGB in [0, 1] used to pad the page to a square (published: white).
        pad_how: ``"bottom_right"`` (published default) or ``"center"``.
        mean, std: ImageNet normalisation applied inside the detector (stored as its buffers too).
    """

    infer_length: int = 1024
    pad_color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    pad_how: str = "bottom_right"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def __post_init__(self) -> None:
        check_infer_length(self.infer_length, "PreprocessConfig.infer_length")
        for name in ("pad_color", "mean", "std"):
            value = getattr(self, name)
            if (
                not isinstance(value, (tuple, list))
                or len(value) != 3
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)
            ):
                raise ValueError(f"PreprocessConfig.{name} must be 3 numbers (R, G, B), got {value!r}")
            object.__setattr__(self, name, tuple(float(v) for v in value))  # JSON lists become tuples
        if not all(0.0 <= v <= 1.0 for v in self.pad_color):
            raise ValueError(f"PreprocessConfig.pad_color must lie in [0, 1], got {self.pad_color!r}")
        if not all(0.0 < v < math.inf for v in self.std):
            raise ValueError(f"PreprocessConfig.std must be positive and finite, got {self.std!r}")
        if not all(math.isfinite(v) for v in self.mean):
            raise ValueError(f"PreprocessConfig.mean must be finite, got {self.mean!r}")


PUBLISHED_VALID_CONFIDENCE = 0.5
"""A word is valid above this confidence in the published output (spec §6.4)."""


@dataclass(frozen=True)
class PostprocessConfig:
    """Decoding constants (spec §4.2, §4.4, §6.4).

    Attributes:
        prob_threshold, iou_threshold: quad NMS thresholds (published: 0.5, 0.5).
        use_prefilter: the v2 centerness × probability 3×3 peak pre-filter before NMS.
        prefilter_peak_kernel: its max-pool window.
        refine_quads: ours. With the pre-filter, each region it keeps takes the quad merged from all cells above
            the threshold that overlaps it best (``ops.refine_quads``); ``False`` (the published behaviour) keeps
            the quads merged from the peak cells.
        refine_ends: ours. Re-place each region's two ends from the cells nearest to them
            (``ops.refine_quad_ends``): the merged quads of long words stop short of their ends, cutting off
            final letters and punctuation. ``False`` (the published behaviour) keeps the merged ends.
        refine_end_passes: ours. How many times ``refine_ends`` places the ends, each pass from the previous one's
            (``refine_quad_ends(passes=...)``): one pass moves an end at most about half a height past the merged
            quad, short of the end of a long monospace word whose cells run on. 1 (the default) is one pass; the
            shipped English model uses 3 (benchmarks/RESULTS.md, "Session 45"), the multilingual one 1 (its long
            CJK lines are merged and filled instead: ``merge_lines``, ``fill_gaps``).
        merge_lines: ours. Merge the regions that overlap along one line into one region each
            (``ops.merge_line_overlaps``): the NMS leaves long unspaced lines (and some words) as overlapping
            pieces, and each piece read apart reads the overlap twice. ``False`` (the published behaviour) keeps them.
        fill_gaps: ours. Add a region for each run of confident cells of the confidence map that no merged quad
            covers (``ops.fill_map_gaps``): on long unspaced lines (Chinese, Japanese) the cells disagree about the
            line's ends and the NMS leaves fragments with gaps, or no region at all. ``False`` (the published
            behaviour) keeps only the merged quads.
        text_confidence: ``"product"`` (v1 release: Π p_t) or ``"geometric_mean"`` (v2 package).
        valid_confidence: a word is valid (kept in the published output and scored) when its text is not empty and
            its confidence (the harmonic mean of its detection and text confidences) is above this, in [0, 1).
            The published rule is 0.5 (spec §6.4); a model whose confidences run lower on some scripts may set its
            own (the multilingual model reads long CJK lines at lower per-character confidence).
        orientation_confidence: ours. The mean text confidence at which a sample of this model's reads counts as
            confident, in [0, 1]: the orientation check's default floor for taking a turn
            (``OrientationOptions.min_confidence``) and for skipping the quarter-turn passes
            (``OrientationOptions.quarter_turn_below``). 0.7 suits the English model; a model that reads some
            scripts at lower confidence sets its own, or upside-down pages of those scripts are never turned.
    """

    prob_threshold: float = 0.5
    iou_threshold: float = 0.5
    use_prefilter: bool = False
    prefilter_peak_kernel: int = 3
    refine_quads: bool = False
    refine_ends: bool = False
    refine_end_passes: int = 1
    merge_lines: bool = False
    fill_gaps: bool = False
    text_confidence: str = "product"
    valid_confidence: float = PUBLISHED_VALID_CONFIDENCE
    orientation_confidence: float = 0.7


@dataclass(frozen=True)
class Int8Config:
    """Activation ranges for reading with int8 convolutions on a CPU (**ours**; not in the published models).
    ``None`` in a spec (the default) means the model has none and reads in float.

    ``RecognitionOptions(int8=...)`` runs the recognizer's convolutional encoder in int8 and
    ``DetectionOptions(int8=...)`` the detector's backbone, feature merge and head but for its last convolution
    (``textspotter.models.quantize``;
    ``"auto"``, the default, on a CPU when the spec has the part's ranges). Weights are quantized per output channel
    when the int8 networks are built from the float weights, so the checkpoint stays float; what cannot be derived
    from the weights is each activation's range, calibrated once on pages (``scripts/calibrate_int8.py``) and kept
    here.

    Attributes:
        recognizer: ``(scale, zero_point)`` of the encoder's input, then of each convolution's output, in order;
            ``scale`` > 0, ``zero_point`` an int in ``[0, 127]`` (unsigned 7-bit values, as x86's int8 kernels
            take them). Empty: the recognizer reads in float.
        detector: the same for the detector's input and each activation its backbone, merge and head make
            (convolutions, gates, pooled branches, residual sums, concatenations) in the order of
            ``quantize._walk_body`` then ``quantize._walk_head``. Empty: the detector reads in
            float.
        calibration: what the ranges were calibrated on (free text, for the model card).
    """

    recognizer: tuple[tuple[float, int], ...] = ()
    detector: tuple[tuple[float, int], ...] = ()
    calibration: str = ""

    def __post_init__(self) -> None:
        for name in ("recognizer", "detector"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"Int8Config.{name} must be a list of [scale, zero_point], got {value!r}")
            pairs = []
            for pair in value:
                if (
                    not isinstance(pair, (list, tuple))
                    or len(pair) != 2
                    or isinstance(pair[0], bool)
                    or not isinstance(pair[0], (int, float))
                    or not math.isfinite(pair[0])
                    or pair[0] <= 0
                    or isinstance(pair[1], bool)
                    or not isinstance(pair[1], int)
                    or not 0 <= pair[1] <= 127
                ):
                    raise ValueError(
                        f"Int8Config.{name} entries must be [scale > 0, zero_point int in [0, 127]], got {pair!r}"
                    )
                pairs.append((float(pair[0]), int(pair[1])))
            object.__setattr__(self, name, tuple(pairs))
        if not self.recognizer and not self.detector:
            raise ValueError("Int8Config needs the ranges of the recognizer, the detector or both")
        if not isinstance(self.calibration, str):
            raise ValueError(f"Int8Config.calibration must be a string, got {self.calibration!r}")


@dataclass(frozen=True)
class ModelSpec:
    """Architecture + charset + preprocessing + decoding of one model; saved as ``model.json``."""

    name: str
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    recognizer: RecognizerConfig = field(default_factory=RecognizerConfig)
    relational: RelationalConfig = field(default_factory=RelationalConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    charset: Charset | None = None
    description: str = ""
    int8: Int8Config | None = None

    def __post_init__(self) -> None:
        if self.charset is not None and self.charset.num_tokens != self.recognizer.num_tokens:
            raise ValueError(
                f"charset has {len(self.charset)} characters (+3 special = {self.charset.num_tokens} tokens) "
                f"but the recognizer has num_tokens={self.recognizer.num_tokens}"
            )
        if self.preprocess.pad_how not in ("bottom_right", "center"):
            raise ValueError(f"pad_how must be 'bottom_right' or 'center', got {self.preprocess.pad_how!r}")
        if self.postprocess.text_confidence not in ("product", "geometric_mean"):
            raise ValueError(
                f"text_confidence must be 'product' or 'geometric_mean', got {self.postprocess.text_confidence!r}"
            )
        valid = self.postprocess.valid_confidence
        if isinstance(valid, bool) or not isinstance(valid, (int, float)) or not 0.0 <= valid < 1.0:
            raise ValueError(f"valid_confidence must be a number in [0, 1), got {valid!r}")
        floor = self.postprocess.orientation_confidence
        if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0.0 <= floor <= 1.0:
            raise ValueError(f"orientation_confidence must be a number in [0, 1], got {floor!r}")
        passes = self.postprocess.refine_end_passes
        if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
            raise ValueError(f"refine_end_passes must be an int >= 1, got {passes!r}")

    def replace(self, **changes: Any) -> ModelSpec:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        def conv(obj: Any) -> Any:
            if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
                return {f.name: conv(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
            if isinstance(obj, tuple):
                return [conv(v) for v in obj]
            return obj

        out: dict[str, Any] = {"format_version": SPEC_FORMAT_VERSION}
        for f in dataclasses.fields(self):
            if f.name == "charset":
                out["charset"] = None if self.charset is None else self.charset.to_json()
            elif f.name == "int8" and self.int8 is None:
                continue  # no int8 ranges: the file says nothing (model folders from before the field read the same)
            else:
                out[f.name] = conv(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Build a spec from ``to_dict()`` output; unknown keys raise ``ValueError`` naming the key."""
        data = dict(data)
        version = data.pop("format_version", SPEC_FORMAT_VERSION)
        if version != SPEC_FORMAT_VERSION:
            raise ValueError(f"unsupported model.json format_version {version} (expected {SPEC_FORMAT_VERSION})")
        kwargs: dict[str, Any] = {}
        nested = {
            "detector": DetectorConfig,
            "recognizer": RecognizerConfig,
            "relational": RelationalConfig,
            "preprocess": PreprocessConfig,
            "postprocess": PostprocessConfig,
        }
        for key, value in data.items():
            if key == "int8":
                kwargs[key] = None if value is None else _build(Int8Config, value, key)
            elif key in nested:
                kwargs[key] = _build(nested[key], value, key)
            elif key == "charset":
                kwargs[key] = None if value is None else Charset(tuple(value))
            elif key in ("name", "description"):
                kwargs[key] = value
            else:
                raise ValueError(f"unknown key {key!r} in model spec")
        return cls(**kwargs)


def _build(cls: type, value: dict[str, Any], where: str) -> Any:
    if not isinstance(value, dict):
        raise ValueError(f"model spec field {where!r} must be an object, got {type(value).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, v in value.items():
        if key not in names:
            raise ValueError(f"unknown key {where}.{key!r} in model spec")
        if key == "backbone":
            if isinstance(v, dict):
                v = _build(RegNetConfig, v, f"{where}.backbone")
            elif v in NAMED_BACKBONES:
                v = NAMED_BACKBONES[v]
            else:
                raise ValueError(f"unknown backbone {v!r} in model spec (known: {sorted(NAMED_BACKBONES)})")
        elif isinstance(v, list):
            v = tuple(v)
        kwargs[key] = v
    return cls(**kwargs)
