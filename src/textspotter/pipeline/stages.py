"""The three inference stages on tensors, each usable alone (spec §1.2 steps 4–11, §4–§7).

* :func:`detect` — detector input images → text regions (quads in detector pixels, confidences) and the shared
  feature map F.
* :func:`recognize` — F + quads → texts, text confidences and the recognizer features the relational model reads.
* :func:`relate` — F + quads + recognizer features → per image, paragraphs → lines → region indices.

``textspotter.pipeline.ocr.OCR`` chains them for whole pages (and offers page-level ``detect`` / ``recognize`` /
``relate`` methods on images); these functions are for callers that hold tensors already.

All quads here are ``[N, 4, 2]`` float32 (x, y) in pixels of the detector input they were found in (the
``input_size`` image), clockwise from top-left. Regions of a batch are image-major, with ``image_indices [N]``
(or ``region_counts [B]``) saying which image each belongs to. Call under ``torch.inference_mode()``; the
functions follow the device and dtype of the model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from ..geometry import extend_quads
from ..ops import (
    LexiconOptions,
    calc_quad_width,
    decode_greedy,
    drop_duplicate_regions,
    fill_map_gaps,
    group_relations,
    merge_line_overlaps,
    prefilter_confidence,
    quad_nms,
    rectify_sample,
    refine_quad_ends,
    refine_quads,
    region_counts_to_indices,
    rescore_candidates,
    rescore_pages,
    rrect_to_quads,
)
from ..ops.charlm import CharLMOptions, charset_has_lm_chars, rescore_cjk
from ..ops.homoglyphs import settle_alphabets, unify_scripts
from ..ops.kana import KANA, han_pages, kana_token_ids
from ..ops.longwords import LongWordOptions, join_readings, window_quads
from ..ops.quotes import QuoteOptions, accept_closing_quotes, quote_candidates

__all__ = [
    "PRECISIONS",
    "DetectionOptions",
    "RecognitionOptions",
    "RelationOptions",
    "Detections",
    "Recognitions",
    "Groups",
    "detect",
    "crop_features",
    "crop_pixels",
    "ink_map",
    "StripBucket",
    "in_quad_order",
    "pad_features",
    "pad_logits",
    "read_strip_buckets",
    "read_strips",
    "recognize",
    "relate",
    "network_precision",
    "reading_recognizer",
    "reading_detector",
    "uses_int8",
    "detector_batch",
    "page_crop",
    "detector_forward",
    "uncrop_features",
    "resolve_precision",
    "cpu_has_native_bf16",
]

PRECISIONS = ("auto", "model", "bf16")
"""Values of ``DetectionOptions.precision`` and ``RecognitionOptions.precision``."""


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX on x86 Linux; read once, then cached).

    Without it oneDNN emulates bfloat16 and autocast is slower than float32, so ``"auto"`` keeps float32 there.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def _check_precision(owner: str, precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"{owner}.precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def resolve_precision(device_type: str, precision: str) -> str:
    """``"auto"`` made concrete: ``"bf16"`` on a CPU with native bfloat16 (:func:`cpu_has_native_bf16`), else
    ``"model"`` (GPUs too: page-at-a-time reading on an H200 was slower under autocast, benchmarks/RESULTS.md)."""
    if precision != "auto":
        return precision
    return "bf16" if device_type == "cpu" and cpu_has_native_bf16() else "model"


def detector_batch(images: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The detector's input on its device: channels-last on CPU, where oneDNN's convolutions then skip their
    layout reorders (the `small` detector at 1536 px, 2 threads: 0.46 → 0.29 s under bf16, 0.77 → 0.53 s in
    float32; benchmarks/RESULTS.md, issue #20). Values are unchanged; the outputs may come back channels-last."""
    batch = images.to(device=device, dtype=dtype)
    if device.type == "cpu":
        batch = batch.contiguous(memory_format=torch.channels_last)
    return batch


def network_precision(device_type: str, precision: str) -> torch.autocast:
    """The autocast context a network runs in: bfloat16 autocast for ``"bf16"``, a disabled one for ``"model"``
    (``"auto"`` as :func:`resolve_precision` decides on this device)."""
    enabled = resolve_precision(device_type, precision) == "bf16"
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=enabled)


Groups = list[list[list[int]]]
"""One image's grouping: paragraphs → lines → region indices (local to the image), in graph order."""


@dataclass(frozen=True)
class DetectionOptions:
    """Detector stage settings; ``None`` takes the value saved in the model spec (``spec.postprocess``).

    Attributes:
        prob_threshold: minimum cell probability kept by the quad NMS.
        iou_threshold: AABB IoU at which the quad NMS joins cells.
        use_prefilter: apply the v2 centerness × probability peak filter before NMS (spec §4.4).
        refine_quads: ours. With the pre-filter, give each region it keeps the quad merged from all cells above
            the threshold (``PostprocessConfig.refine_quads``, ``ops.refine_quads``): the same regions, better
            placed quads, which read better.
        refine_ends: ours. Re-place each region's ends from the cells nearest to them
            (``PostprocessConfig.refine_ends``, ``ops.refine_quad_ends``): long words keep their last letters and
            final punctuation, which the merged quads cut off.
        merge_lines: ours. Merge the regions that overlap along one line into one region each
            (``PostprocessConfig.merge_lines``, ``ops.merge_line_overlaps``): the overlap is read once. Runs before
            ``fill_gaps``.
        fill_gaps: ours. Add regions for confident text of the confidence map that no merged quad covers
            (``PostprocessConfig.fill_gaps``, ``ops.fill_map_gaps``): the gaps the NMS leaves in long unspaced
            lines.
        precision: ``"model"`` runs the detector in the model's dtype; ``"bf16"`` runs it under
            ``torch.autocast(dtype=torch.bfloat16)`` on the model's device (ours, for speed: about 1.8× faster
            on a CPU with AVX-512 BF16, docs/usage.md §4); ``"auto"`` (default) is ``"bf16"`` on a CPU with
            native bfloat16 and ``"model"`` elsewhere (:func:`resolve_precision`). The feature map, the NMS and
            the later stages stay float32 either way.
        crop_to_page: run the detector only on the part of each input that shows the page, rounded out to 32
            pixels, instead of the whole padded square (ours, for speed: a portrait letter page leaves about a
            quarter of the square as padding). Quads and the feature map keep the full input's coordinates and
            shape (features are zero over the skipped padding). ``False`` reads the published square input.
        int8: ours. Run the detector's backbone, feature merge and head as int8 convolutions
            (:class:`~textspotter.models.quantize.Int8Detector`, docs/usage.md §4); the head's last 1 × 1
            convolution keeps ``precision``.
            ``"auto"`` (default): on a CPU whose PyTorch has x86 int8 kernels, when the model's spec holds the
            detector's calibrated ranges (``spec.int8.detector``); ``"on"``: the same, but an error where it cannot;
            ``"off"``: float.
    """

    prob_threshold: float | None = None
    iou_threshold: float | None = None
    use_prefilter: bool | None = None
    refine_quads: bool | None = None
    refine_ends: bool | None = None
    merge_lines: bool | None = None
    fill_gaps: bool | None = None
    precision: str = "auto"
    crop_to_page: bool = True
    int8: Literal["auto", "on", "off"] = "auto"

    def __post_init__(self) -> None:
        for name in ("prob_threshold", "iou_threshold"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"DetectionOptions.{name} must be in [0, 1] or None, got {value!r}")
        _check_precision("DetectionOptions", self.precision)
        if self.int8 not in ("auto", "on", "off"):
            raise ValueError(f"DetectionOptions.int8 must be 'auto', 'on' or 'off', got {self.int8!r}")


@dataclass(frozen=True)
class RecognitionOptions:
    """Recognizer stage settings.

    Attributes:
        chunk_size: regions per recognizer forward pass (bounds memory; results do not depend on it).
        precision: ``"model"`` runs the recognizer in the model's dtype; ``"bf16"`` under bfloat16 autocast (ours,
            for speed, as ``DetectionOptions.precision``); ``"auto"`` (default) as there. Logits and features come
            out float32 either way.
        lexicon: rescore the greedy readings of ordinary words on pages of running English text with a
            word-frequency lexicon (:func:`~textspotter.ops.lexicon.rescore_pages`, docs/usage.md §8):
            :class:`~textspotter.ops.lexicon.LexiconOptions` to set it (needs a CTC recognizer, ``decoding="ctc"``,
            ours); ``None`` keeps the greedy readings; ``"auto"`` (default) is ``LexiconOptions()`` for a CTC
            recognizer and ``None`` for the published parallel decoders.
        crop_margin: ours. Each quad is read lengthened by this fraction of its height at both ends of its text
            direction (``geometry.extend_quads``); the quads reported stay as detected. 0 (default) reads the quads
            as they are (published behaviour). A margin recovers a final narrow glyph that a detected box cut off
            ("history" → "history."), but the recognizer then also reads stray marks at the ends ("since" →
            "since’!"): with the stage-15 weights 0.06 helped on DocBank and hurt clearly on the corpus pages
            (docs/usage.md §4), so it is off.
        cjk_lm: ours. Read unsure readings that hold Han or kana again with a beam search weighed by a Chinese and
            Japanese character bigram (:func:`~textspotter.ops.charlm.rescore_cjk`, docs/usage.md §8):
            :class:`~textspotter.ops.charlm.CharLMOptions` to set it (needs a CTC recognizer); ``None`` keeps the
            greedy readings; ``"auto"`` (default) is ``CharLMOptions()`` for a CTC recognizer whose charset has Han
            or kana (the multilingual model) and ``None`` otherwise.
        unify_scripts: ours. Decode a run of letters read in Latin and Cyrillic mixed again in one alphabet
            (:func:`~textspotter.ops.homoglyphs.settle_alphabets`, CTC recognizers), then write each Latin/Cyrillic
            look-alike (``о``/``o``, ``А``/``A``, twelve pairs) in the script of its word, or for a word of one or
            two look-alikes in the script of its page (:func:`~textspotter.ops.homoglyphs.unify_scripts`). True
            (default); a no-op for charsets without Cyrillic, and on pages without it.
        int8: ours. Run the recognizer's convolutional encoder as int8 convolutions
            (:class:`~textspotter.models.quantize.Int8Encoder`, docs/usage.md §4), about half its bfloat16 time;
            the Transformer after it keeps ``precision``. ``"auto"`` (default): on a CPU whose PyTorch has x86
            int8 kernels, when the model's spec holds the recognizer's calibrated ranges (``spec.int8.recognizer``;
            both shipped models do); ``"on"``: the same, but an error where it cannot; ``"off"``: float.
        long_words: ours. A quad whose strip would be squeezed (wider than ``min_ratio · T`` columns at the
            recognizer's scale) is read again as overlapping windows of ``T`` columns whose readings are joined
            where they agree (:mod:`~textspotter.ops.longwords`, docs/usage.md §4): long code words, URLs and
            compounds, and long CJK lines. :class:`~textspotter.ops.longwords.LongWordOptions` to set it; ``None``
            keeps the squeezed readings (published behaviour); ``"auto"`` (default) is ``LongWordOptions()`` for a
            CTC recognizer and ``None`` for the published parallel decoders. Only the texts and text confidences
            change (a joined reading takes its least confident window's); the relational model reads the squeezed
            strips' features, and the lexicon does not rescore a reading joined from windows.
        closing_quotes: ours. On a page whose readings open more double quotes than they close, the words ending
            in punctuation are read again lengthened at their end, and a second reading that only adds a closing
            quote (``felt.`` → ``felt.”``) keeps it, at most as many as the page left open
            (:mod:`~textspotter.ops.quotes`, docs/usage.md §4). :class:`~textspotter.ops.quotes.QuoteOptions` to set
            it; ``None`` keeps the readings; ``"auto"`` (default) is ``QuoteOptions()`` for a charset with ``”``.
        han_pages: ours. On a page whose Han and kana readings are nearly all Han (kana under a quarter of at least
            30 such characters: a Chinese page), the regions read with kana are read again with kana left out of the
            decoding: there they are misread Han characters (:mod:`~textspotter.ops.kana`). True (default); a
            no-op for charsets without kana (the English model) and on Japanese pages.
    """

    chunk_size: int = 128
    precision: str = "auto"
    lexicon: LexiconOptions | Literal["auto"] | None = "auto"
    crop_margin: float = 0.0
    cjk_lm: CharLMOptions | Literal["auto"] | None = "auto"
    unify_scripts: bool = True
    int8: Literal["auto", "on", "off"] = "auto"
    long_words: LongWordOptions | Literal["auto"] | None = "auto"
    closing_quotes: QuoteOptions | Literal["auto"] | None = "auto"
    han_pages: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.chunk_size, int) or self.chunk_size < 1:
            raise ValueError(f"RecognitionOptions.chunk_size must be a positive int, got {self.chunk_size!r}")
        _check_precision("RecognitionOptions", self.precision)
        if self.int8 not in ("auto", "on", "off"):
            raise ValueError(f"RecognitionOptions.int8 must be 'auto', 'on' or 'off', got {self.int8!r}")
        if self.lexicon not in (None, "auto") and not isinstance(self.lexicon, LexiconOptions):
            raise TypeError(f"RecognitionOptions.lexicon must be LexiconOptions, 'auto' or None, got {self.lexicon!r}")
        if not 0.0 <= self.crop_margin <= 1.0:
            raise ValueError(f"RecognitionOptions.crop_margin must be in [0, 1], got {self.crop_margin!r}")
        if self.cjk_lm not in (None, "auto") and not isinstance(self.cjk_lm, CharLMOptions):
            raise TypeError(f"RecognitionOptions.cjk_lm must be CharLMOptions, 'auto' or None, got {self.cjk_lm!r}")
        if not isinstance(self.unify_scripts, bool):
            raise TypeError(f"RecognitionOptions.unify_scripts must be a bool, got {self.unify_scripts!r}")
        if not isinstance(self.han_pages, bool):
            raise TypeError(f"RecognitionOptions.han_pages must be a bool, got {self.han_pages!r}")
        if self.long_words not in (None, "auto") and not isinstance(self.long_words, LongWordOptions):
            raise TypeError(
                f"RecognitionOptions.long_words must be LongWordOptions, 'auto' or None, got {self.long_words!r}"
            )
        if self.closing_quotes not in (None, "auto") and not isinstance(self.closing_quotes, QuoteOptions):
            raise TypeError(
                f"RecognitionOptions.closing_quotes must be QuoteOptions, 'auto' or None, got {self.closing_quotes!r}"
            )


@dataclass(frozen=True)
class RelationOptions:
    """Relational stage settings.

    Attributes:
        chunk_size: regions per relational forward pass; whole images are kept together, so an image with more
            regions than this runs alone.
        precision: the Transformer encoder's precision: ``"model"`` float32 (the published behaviour, spec §2.2),
            ``"bf16"`` bfloat16 autocast, ``"auto"`` bfloat16 on a CPU with native bfloat16
            (:func:`resolve_precision`), else float32. The rest of the model stays float32 either way.
    """

    chunk_size: int = 128
    precision: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.chunk_size, int) or self.chunk_size < 1:
            raise ValueError(f"RelationOptions.chunk_size must be a positive int, got {self.chunk_size!r}")
        _check_precision("RelationOptions", self.precision)


@dataclass(frozen=True)
class Detections:
    """Text regions of a batch of detector inputs.

    Attributes:
        quads: ``[N, 4, 2]`` float32 region quads in detector-input pixels, image-major.
        confidence: ``[N]`` float32 mean cell probability of each region, in [0, 1].
        region_counts: ``[B]`` int64 number of regions of each image.
        features: ``[B, C, H/4, W/4]`` float32 shared feature map F.
        input_size: ``(H, W)`` of the detector inputs in pixels.
    """

    quads: torch.Tensor
    confidence: torch.Tensor
    region_counts: torch.Tensor
    features: torch.Tensor
    input_size: tuple[int, int]

    @property
    def image_indices(self) -> torch.Tensor:
        """``[N]`` int64 image index of every region."""
        return region_counts_to_indices(self.region_counts, self.quads.shape[0])


@dataclass(frozen=True)
class Recognitions:
    """What the recognizer read in each region.

    Attributes:
        texts: decoded text of each of the ``N`` regions (greedy; spec §6.4).
        confidence: ``[N]`` float32 text confidence in [0, 1] (product or geometric mean, from the model spec).
        features: ``[N, T, D]`` float32 recognizer features (input of the relational model).
    """

    texts: list[str]
    confidence: torch.Tensor
    features: torch.Tensor


def _model_dtype(module: torch.nn.Module) -> torch.dtype:
    return next(module.parameters()).dtype


def _model_device(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


_CROP_MULTIPLE = 32  # the detector's total stride: a crop of a multiple of it keeps every feature cell aligned


def page_crop(boxes: Sequence[tuple[int, int, int, int]], height: int, width: int) -> tuple[int, int, int, int]:
    """Return the ``(x0, y0, x1, y1)`` window of ``height × width`` inputs that holds every box, rounded out to 32."""
    x0 = min(b[0] for b in boxes) // _CROP_MULTIPLE * _CROP_MULTIPLE
    y0 = min(b[1] for b in boxes) // _CROP_MULTIPLE * _CROP_MULTIPLE
    x1 = -(-max(b[2] for b in boxes) // _CROP_MULTIPLE) * _CROP_MULTIPLE
    y1 = -(-max(b[3] for b in boxes) // _CROP_MULTIPLE) * _CROP_MULTIPLE
    x0, y0 = max(0, min(x0, width - _CROP_MULTIPLE)), max(0, min(y0, height - _CROP_MULTIPLE))
    return x0, y0, max(x0 + _CROP_MULTIPLE, min(x1, width)), max(y0 + _CROP_MULTIPLE, min(y1, height))


def detector_forward(
    detector: torch.nn.Module,
    images: torch.Tensor,
    content: Sequence[tuple[int, int, int, int]] | None,
    options: DetectionOptions,
) -> tuple[Any, tuple[int, int, int, int]]:
    """Run ``detector`` on ``images`` ``[b, 3, H, W]``, cropped to the window holding the ``content`` boxes when
    ``options.crop_to_page`` (:func:`page_crop`), in the model's device, dtype and ``options.precision``.

    Returns:
        The detector's output for the window, and the window ``(x0, y0, x1, y1)`` in input pixels.
    """
    height, width = int(images.shape[-2]), int(images.shape[-1])
    x0, y0, x1, y1 = 0, 0, width, height
    if options.crop_to_page and content is not None:
        x0, y0, x1, y1 = page_crop(content, height, width)
    batch = detector_batch(images[:, :, y0:y1, x0:x1], _model_device(detector), _model_dtype(detector))
    with network_precision(batch.device.type, options.precision):
        return detector(batch), (x0, y0, x1, y1)


def detect(
    model: torch.nn.Module,
    images: torch.Tensor,
    *,
    batch_size: int = 8,
    options: DetectionOptions | None = None,
    content: Sequence[tuple[int, int, int, int]] | None = None,
    features_out: torch.Tensor | None = None,
) -> Detections:
    """Find text regions in detector inputs (spec §1.2 steps 4–7).

    Runs the detector in batches of ``batch_size``, optionally pre-filters the confidence map (spec §4.4),
    turns the rotated boxes into quads and merges them with the quad NMS (spec §4.3).

    Args:
        model: an ``OCRModel`` (uses ``model.detector`` and ``model.spec.postprocess``).
        images: ``[B, 3, H, W]`` float RGB in [0, 1], already padded and resized (``preprocess.render_views``);
            H and W multiples of 32.
        batch_size: images per detector forward pass (results do not depend on it, unless ``content`` boxes of
            different sizes share a pass).
        options: threshold, pre-filter, precision and cropping overrides.
        content: per image, the ``(x0, y0, x1, y1)`` pixels that show the page (``DetectorView.content_box``);
            with ``options.crop_to_page`` each forward pass reads only the window holding its images' boxes.
        features_out: optional preallocated ``[B, C, H/4, W/4]`` float32 map that the feature maps are written into
            (``Detections.features`` is then this tensor): one copy per pass instead of three.

    Returns:
        :class:`Detections` on the model's device; the feature map is float32 whatever the model dtype.

    >>> from textspotter.models import create_model
    >>> model = create_model("tiny-test").eval()
    >>> with torch.inference_mode():
    ...     found = detect(model, torch.rand(2, 3, 128, 128))
    >>> found.region_counts.shape, found.features.shape[0]
    (torch.Size([2]), 2)
    """
    options = options or DetectionOptions()
    post = model.spec.postprocess
    prob_threshold = post.prob_threshold if options.prob_threshold is None else options.prob_threshold
    iou_threshold = post.iou_threshold if options.iou_threshold is None else options.iou_threshold
    use_prefilter = post.use_prefilter if options.use_prefilter is None else options.use_prefilter
    refine = post.refine_quads if options.refine_quads is None else options.refine_quads
    refine_ends = post.refine_ends if options.refine_ends is None else options.refine_ends
    merge_lines = post.merge_lines if options.merge_lines is None else options.merge_lines
    fill_gaps = post.fill_gaps if options.fill_gaps is None else options.fill_gaps
    if images.ndim != 4 or images.shape[1] != 3 or images.shape[0] == 0:
        raise ValueError(f"images must have shape [B, 3, H, W] with B >= 1, got {tuple(images.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if content is not None and len(content) != images.shape[0]:
        raise ValueError(f"content holds {len(content)} boxes for {images.shape[0]} images")
    if features_out is not None and features_out.shape[0] != images.shape[0]:
        raise ValueError(f"features_out holds {features_out.shape[0]} maps for {images.shape[0]} images")
    detector = reading_detector(model, images.device, options.int8)
    height, width = int(images.shape[-2]), int(images.shape[-1])
    quads, confidence, counts, features = [], [], [], []
    for start in range(0, images.shape[0], batch_size):
        chunk = None if content is None else content[start : start + batch_size]
        out, (x0, y0, x1, y1) = detector_forward(detector, images[start : start + batch_size], chunk, options)
        logits = out.confidence.float()
        rboxes = out.rboxes.float()
        cell_size = (y1 - y0) // logits.shape[-2]
        cell_quads = rrect_to_quads(rboxes, cell_size=cell_size)
        thresholds = {"prob_threshold": prob_threshold, "iou_threshold": iou_threshold}
        probs = torch.sigmoid(logits)
        if use_prefilter:
            peaks = prefilter_confidence(logits, rboxes, kernel=post.prefilter_peak_kernel)
            batch_quads, batch_conf, batch_counts = quad_nms(cell_quads, torch.sigmoid(peaks), **thresholds)
            if refine:
                full_quads, _, full_counts = quad_nms(cell_quads, probs, **thresholds)
                batch_quads = refine_quads(batch_quads, batch_counts, full_quads, full_counts)
        else:
            batch_quads, batch_conf, batch_counts = quad_nms(cell_quads, probs, **thresholds)
        if refine_ends:
            batch_quads = refine_quad_ends(
                batch_quads,
                batch_counts,
                cell_quads,
                probs,
                prob_threshold=prob_threshold,
                cell_size=cell_size,
                passes=post.refine_end_passes,
            )
            # A word the NMS split in two now has two regions with the same ends: read it once.
            batch_quads, batch_conf, batch_counts = drop_duplicate_regions(batch_quads, batch_conf, batch_counts)
        if merge_lines:
            batch_quads, batch_conf, batch_counts = merge_line_overlaps(batch_quads, batch_conf, batch_counts)
        if fill_gaps:
            batch_quads, batch_conf, batch_counts = fill_map_gaps(
                batch_quads,
                batch_conf,
                batch_counts,
                cell_quads,
                probs,
                prob_threshold=prob_threshold,
                cell_size=cell_size,
            )
        if x0 or y0:
            batch_quads = batch_quads + batch_quads.new_tensor([x0, y0])
        quads.append(batch_quads)
        confidence.append(batch_conf)
        counts.append(batch_counts)
        # Crops are sampled from the fp32 feature map (spec §1.2 step 8), whatever the detector ran in.
        target = None if features_out is None else features_out[start : start + batch_size]
        features.append(uncrop_features(out.features, (x0, y0, x1, y1), height, width, out=target))
    if features_out is None:
        features_out = features[0] if len(features) == 1 else torch.cat(features)
    return Detections(
        quads=torch.cat(quads).float(),
        confidence=torch.cat(confidence).float(),
        region_counts=torch.cat(counts).to(torch.int64),
        features=features_out,
        input_size=(int(images.shape[-2]), int(images.shape[-1])),
    )


def uncrop_features(
    features: torch.Tensor,
    window: tuple[int, int, int, int],
    height: int,
    width: int,
    *,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Place the feature map of a cropped input window into a float32 map of the whole input's shape (zeros
    outside the window).

    Args:
        features: ``[b, C, h, w]`` feature map of the window (any float dtype and memory format).
        window: ``(x0, y0, x1, y1)`` of the window in input pixels (multiples of the feature stride).
        height, width: the whole input's size in pixels.
        out: optional ``[b, C, height/cell, width/cell]`` float32 map to write into (a slice of a preallocated
            batch map); the copy then converts the dtype and layout in one pass, and nothing else is allocated.

    Returns:
        ``out`` when given, else a new float32 map (``features.float()`` itself when the window is the whole input).
    """
    x0, y0, x1, y1 = window
    cell = (x1 - x0) // features.shape[-1]
    shape = (*features.shape[:2], height // cell, width // cell)
    whole = (x0, y0, x1, y1) == (0, 0, width, height)
    r0, c0 = y0 // cell, x0 // cell
    r1, c1 = r0 + features.shape[-2], c0 + features.shape[-1]
    if out is None:
        if whole:
            return features.float()
        out = features.new_zeros(shape, dtype=torch.float32)
    elif tuple(out.shape) != shape or out.dtype != torch.float32:
        raise ValueError(f"out must be a float32 map of shape {shape}, got {tuple(out.shape)} {out.dtype}")
    elif not whole:
        # Zero only the cells outside the window: the window's cells are overwritten below.
        out[..., :r0, :].zero_()
        out[..., r1:, :].zero_()
        out[..., r0:r1, :c0].zero_()
        out[..., r0:r1, c1:].zero_()
    out[..., r0:r1, c0:c1].copy_(features)
    return out


def crop_features(
    features: torch.Tensor,
    quads: torch.Tensor,
    image_indices: torch.Tensor,
    *,
    input_size: tuple[int, int],
    output_size: tuple[int, int],
    isotropic: bool,
    column_scale: float = 1.0,
    subdivide: int = 1,
) -> torch.Tensor:
    """Sample the feature map along each quad into a rectified grid (spec §5).

    Args:
        features: ``[B, C, Hf, Wf]`` float32 feature map F.
        quads: ``[N, 4, 2]`` quads in detector-input pixels.
        image_indices: ``[N]`` int64 index into ``features`` of each quad.
        input_size: ``(H, W)`` of the detector input (the quads' pixel space).
        output_size: ``(rows, cols)`` of the crop: ``(8, T)`` for the recognizer, ``(2, 3)`` for the relational
            model.
        isotropic: keep the quad's aspect ratio (recognizer; columns past the text are zero) or stretch it over
            the whole grid (relational model).
        column_scale: with ``isotropic``, strip columns per row of height (``RecognizerConfig.column_scale``).
        subdivide: ``s``: the same grid ``s`` times as fine in both directions (``ops.quad_rectify_grid``).

    Returns:
        ``[N, C, rows·s, cols·s]`` float32 crops.
    """
    return rectify_sample(
        features,
        quads,
        image_indices,
        input_size=input_size,
        output_size=output_size,
        isotropic=isotropic,
        column_scale=column_scale,
        subdivide=subdivide,
    )


def ink_map(images: torch.Tensor) -> torch.Tensor:
    """Ink levels of detector inputs, for recognizers that read pixels (``RecognizerConfig.pixel_scale``).

    Args:
        images: ``[B, 3, H, W]`` uint8 (0–255) or float RGB in [0, 1].

    Returns:
        ``[B, 1, H, W]`` uint8, 255 minus the mean of the three channels (0 on white paper, so the zeros that grid
        sampling reads outside a quad look like paper). Four bytes per pixel fewer than a float copy.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must have shape [B, 3, H, W], got {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        grey = images.sum(dim=1, keepdim=True, dtype=torch.int32).div_(3, rounding_mode="floor")
        return (255 - grey).to(torch.uint8)
    grey = images.float().mean(dim=1, keepdim=True).clamp_(0.0, 1.0)
    return (255.0 - grey * 255.0).round_().to(torch.uint8)


def crop_pixels(
    ink: torch.Tensor,
    quads: torch.Tensor,
    image_indices: torch.Tensor,
    *,
    input_size: tuple[int, int],
    output_size: tuple[int, int],
    column_scale: float,
    scale: int,
) -> torch.Tensor:
    """Sample each quad's ink levels on its recognizer strip's grid subdivided ``scale`` times (``8·scale`` rows,
    ``cols·scale`` columns): :func:`crop_features` with ``isotropic=True`` and ``subdivide=scale``, so the pixel
    strip covers exactly what the feature strip covers.

    Args:
        ink: ``[B, 1, H, W]`` ink levels (:func:`ink_map`; uint8 0–255, or float in [0, 1]).
        quads, image_indices, input_size, column_scale: as :func:`crop_features`.
        output_size: ``(rows, cols)`` of the feature strip, ``(8, W)``.
        scale: ``RecognizerConfig.pixel_scale`` (≥ 1).

    Returns:
        ``[N, 1, rows·scale, cols·scale]`` float32 in [0, 1].
    """
    levels = ink.float().div_(255.0) if ink.dtype == torch.uint8 else ink.float()
    return crop_features(
        levels,
        quads,
        image_indices,
        input_size=input_size,
        output_size=output_size,
        isotropic=True,
        column_scale=column_scale,
        subdivide=scale,
    )


# Logit of the blank token (0) and of every other token in the columns a bucketed strip did not read: the padded
# positions decode as certain blanks, which greedy decoding and its confidence skip and CTC aligns at no cost.
_PAD_BLANK_LOGIT, _PAD_OTHER_LOGIT = 0.0, -1.0e4


@dataclass(frozen=True)
class StripBucket:
    """The recognizer's output for the strips read at one width (:func:`read_strip_buckets`).

    Attributes:
        index: ``[n]`` int64 positions of these strips among the quads given.
        logits: ``[n, w, V]`` logits of the ``w`` columns read.
        features: ``[n, w, D]`` recognizer features of the same columns.
    """

    index: torch.Tensor
    logits: torch.Tensor
    features: torch.Tensor


def read_strip_buckets(
    recognizer: Any,
    features: torch.Tensor,
    quads: torch.Tensor,
    image_indices: torch.Tensor,
    *,
    input_size: tuple[int, int],
    dtype: torch.dtype | None = None,
    network_context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
    classes: torch.Tensor | None = None,
    ink: torch.Tensor | None = None,
) -> list[StripBucket]:
    """Rectify each quad's strip from the feature map and run the recognizer on it, one call per strip width.

    With ``recognizer.config.bucket_width = b > 0`` the strips are grouped by their width rounded up to a multiple
    of ``b`` (``calc_quad_width``, at most T) and each group is read at that width, unpadded: training computes the
    CTC loss over the columns read only (padding a 256-column strip for a 10,000-class charset costs more than the
    network). With ``b = 0`` (or no quads) there is one bucket, every strip read T wide (published behaviour).

    Sampling runs in float32 outside ``network_context``; the recognizer inside it (autocast, ``torch.no_grad``).

    Args:
        recognizer: the :class:`~textspotter.models.recognizer.Recognizer`.
        features: ``[B, C, Hf, Wf]`` float32 feature map.
        quads: ``[N, 4, 2]`` quads in detector-input pixels.
        image_indices: ``[N]`` int64 index into ``features`` of each quad.
        input_size: ``(H, W)`` of the detector input.
        dtype: dtype the strips are cast to before the network (None: keep float32).
        network_context: factory of the context the network runs in.
        classes: ``[S]`` token ids to score (training's sampled softmax; the logits then have S columns), or None
            for every token.
        ink: ``[B, 1, H, W]`` ink levels of the detector inputs (:func:`ink_map`, float in [0, 1] saves a
            conversion per call); needed by a recognizer that reads pixels (``pixel_scale > 0``), ignored otherwise.

    Returns:
        The buckets, narrowest first; their ``index`` tensors partition ``0 .. N - 1``.

    Raises:
        ValueError: a recognizer that reads pixels given no ``ink``.
    """
    config = recognizer.config
    rows, width = config.strip_height, config.max_width
    scale = getattr(config, "pixel_scale", 0)
    if scale and ink is None:
        raise ValueError("this recognizer reads pixels too (pixel_scale > 0): pass the detector inputs' ink levels")

    def run(selected: torch.Tensor, columns: int) -> StripBucket:
        strips = crop_features(
            features,
            quads[selected],
            image_indices[selected],
            input_size=input_size,
            output_size=(rows, columns),
            isotropic=True,
            column_scale=config.column_scale,
        )
        pixels = None
        if scale:
            assert ink is not None
            pixels = crop_pixels(
                ink,
                quads[selected],
                image_indices[selected],
                input_size=input_size,
                output_size=(rows, columns),
                column_scale=config.column_scale,
                scale=scale,
            )
        if dtype is not None:
            strips = strips.to(dtype)
            pixels = None if pixels is None else pixels.to(dtype)
        with network_context():
            out = recognizer(strips, classes, pixels)
        return StripBucket(selected, out.logits, out.features)

    num = quads.shape[0]
    if config.bucket_width <= 0 or num == 0:
        return [run(torch.arange(num, device=quads.device), width)]
    widths = calc_quad_width(quads.float(), rows, config.bucket_width, width, config.column_scale)
    return [run(torch.nonzero(widths == columns).flatten(), int(columns)) for columns in torch.unique(widths).tolist()]


def read_strips(
    recognizer: Any,
    features: torch.Tensor,
    quads: torch.Tensor,
    image_indices: torch.Tensor,
    *,
    input_size: tuple[int, int],
    dtype: torch.dtype | None = None,
    network_context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
    ink: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rectify each quad's strip from the feature map and run the recognizer on it (spec §5, §6).

    Reads as :func:`read_strip_buckets` (same arguments) and pads every bucket back to T columns: logits with a
    certain blank, features with the mean of the strip's read columns (so a mean over the T positions, which the
    relational model takes, is the mean over the columns read).

    Returns:
        ``(logits [N, T, V], recognizer features [N, T, D])`` in the network's output dtype, in the quads' order.
    """
    buckets = read_strip_buckets(
        recognizer,
        features,
        quads,
        image_indices,
        input_size=input_size,
        dtype=dtype,
        network_context=network_context,
        ink=ink,
    )
    width = recognizer.config.max_width
    logits = in_quad_order([pad_logits(bucket.logits, width) for bucket in buckets], buckets)
    return logits, in_quad_order([pad_features(bucket.features, width) for bucket in buckets], buckets)


def in_quad_order(parts: list[torch.Tensor], buckets: list[StripBucket]) -> torch.Tensor:
    """Concatenate per-bucket ``[n, ...]`` tensors and put their rows back in the quads' order."""
    if len(buckets) == 1:
        return parts[0]
    order = torch.cat([bucket.index for bucket in buckets])
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(order.numel(), device=order.device)
    return torch.cat(parts)[inverse]


def pad_logits(logits: torch.Tensor, width: int) -> torch.Tensor:
    """Pad ``[n, w, V]`` logits to ``width`` columns with a certain blank (token 0)."""
    pad = width - logits.shape[1]
    if pad <= 0:
        return logits
    fill = logits.new_full((logits.shape[0], pad, logits.shape[2]), _PAD_OTHER_LOGIT)
    fill[..., 0] = _PAD_BLANK_LOGIT
    return torch.cat([logits, fill], dim=1)


def pad_features(features: torch.Tensor, width: int) -> torch.Tensor:
    """Pad ``[n, w, D]`` features to ``width`` columns with each strip's mean over its ``w`` columns."""
    pad = width - features.shape[1]
    if pad <= 0:
        return features
    return torch.cat([features, features.mean(dim=1, keepdim=True).expand(-1, pad, -1)], dim=1)


def recognize(
    model: torch.nn.Module,
    features: torch.Tensor,
    quads: torch.Tensor,
    image_indices: torch.Tensor,
    *,
    input_size: tuple[int, int],
    options: RecognitionOptions | None = None,
    ink: torch.Tensor | None = None,
) -> Recognitions:
    """Read the text of each quad from the detector features (spec §5, §6).

    Args:
        model: an ``OCRModel`` (uses ``model.recognizer`` and the charset and confidence rule of ``model.spec``).
        features: ``[B, C, Hf, Wf]`` float32 feature map F of the detector inputs.
        quads: ``[N, 4, 2]`` quads in detector-input pixels.
        image_indices: ``[N]`` int64 index into ``features`` of each quad.
        input_size: ``(H, W)`` of the detector inputs.
        options: chunk size, precision and lexicon rescoring.
        ink: ``[B, 1, H, W]`` ink levels of the detector inputs (:func:`ink_map`), for a recognizer that reads
            pixels (``RecognizerConfig.pixel_scale > 0``); ignored by the others.

    Returns:
        :class:`Recognitions` (texts, ``[N]`` text confidences, ``[N, T, D]`` recognizer features).

    Raises:
        ValueError: a model without charset, or lexicon rescoring asked of a recognizer that is not CTC.
    """
    options = options or RecognitionOptions()
    spec = model.spec
    if spec.charset is None:
        raise ValueError(f"model {spec.name!r} has no charset: its texts cannot be decoded")
    recognizer = reading_recognizer(model, features.device, options.int8)
    dtype = _model_dtype(recognizer)
    config = spec.recognizer
    lexicon = options.lexicon
    if lexicon == "auto":
        lexicon = LexiconOptions() if config.decoding == "ctc" else None
    if lexicon is not None and config.decoding != "ctc":
        # The rescoring weighs readings by their CTC likelihood, which a parallel decoder does not define.
        raise ValueError(f"lexicon rescoring needs a CTC recognizer; model {spec.name!r} decodes {config.decoding!r}")
    cjk_lm = options.cjk_lm
    if cjk_lm == "auto":
        cjk_lm = CharLMOptions() if config.decoding == "ctc" and charset_has_lm_chars(spec.charset) else None
    if cjk_lm is not None and config.decoding != "ctc":
        raise ValueError(
            f"the CJK language model needs a CTC recognizer; model {spec.name!r} decodes {config.decoding!r}"
        )
    texts: list[str] = []
    confidence, recog_features = [], []
    held: list[tuple[list[int], torch.Tensor]] = []
    read_quads = extend_quads(quads, options.crop_margin)
    width = config.max_width
    if ink is not None and config.pixel_scale:
        ink = ink.to(features.device).float().div_(255.0) if ink.dtype == torch.uint8 else ink.to(features.device)
    for start in range(0, quads.shape[0], options.chunk_size):
        buckets = read_strip_buckets(
            recognizer,
            features,
            read_quads[start : start + options.chunk_size],
            image_indices[start : start + options.chunk_size],
            input_size=input_size,
            dtype=dtype,
            network_context=lambda: network_precision(features.device.type, options.precision),
            ink=ink if config.pixel_scale else None,
        )
        # Decoded bucket by bucket over the columns read: the padding read_strips adds is certain blanks, which
        # change neither the text nor the confidence, and for a large charset costs more than the decoding.
        chunk_texts: list[str] = [""] * sum(b.index.numel() for b in buckets)
        chunk_conf = torch.zeros(len(chunk_texts), device=features.device)
        for bucket in buckets:
            bucket_texts, bucket_conf = _decode_strips(bucket.logits, spec, options, cjk_lm)
            positions = bucket.index.tolist()
            for position, text in zip(positions, bucket_texts, strict=True):
                chunk_texts[position] = text
            chunk_conf[bucket.index] = bucket_conf.float()
            if lexicon is not None:
                # Keep the logits of the readings the lexicon may change; which pages qualify is known at the end.
                rows = rescore_candidates(bucket_texts, bucket_conf, lexicon)
                if rows:
                    held.append(([start + positions[r] for r in rows], bucket.logits[rows].float()))
        texts.extend(chunk_texts)
        confidence.append(chunk_conf)
        recog_features.append(in_quad_order([pad_features(b.features, width).float() for b in buckets], buckets))
    if not texts:
        device = features.device
        return Recognitions(
            texts=[],
            confidence=torch.zeros(0, device=device),
            features=torch.zeros(0, config.max_width, config.feature_depth, device=device),
        )
    all_confidence = torch.cat(confidence)
    long_words = options.long_words
    if long_words == "auto":
        long_words = LongWordOptions() if config.decoding == "ctc" else None
    rereads: dict[int, tuple[str, float]] = {}
    if long_words is not None:
        rereads = _read_long_words(
            recognizer,
            spec,
            features,
            read_quads,
            image_indices,
            input_size=input_size,
            options=dataclasses.replace(options, long_words=long_words),
            cjk_lm=cjk_lm,
            ink=ink if config.pixel_scale else None,
            eligible=all_confidence < long_words.max_confidence,
        )
        for index, (text, text_confidence) in rereads.items():
            texts[index] = text
            all_confidence[index] = text_confidence
        if rereads and held:
            # The lexicon rescored the squeezed readings' logits; the windows' joined reading replaces them.
            kept = []
            for positions, logits in held:
                rows = [r for r, position in enumerate(positions) if position not in rereads]
                if rows:
                    kept.append(([positions[r] for r in rows], logits[rows]))
            held = kept
    closing_quotes = options.closing_quotes
    if closing_quotes == "auto":
        closing_quotes = QuoteOptions() if "”" in spec.charset.characters else None
    quotes: dict[int, str] = {}
    if closing_quotes is not None:
        quotes = _read_closing_quotes(
            recognizer,
            spec,
            features,
            read_quads,
            image_indices,
            texts,
            input_size=input_size,
            options=dataclasses.replace(options, closing_quotes=closing_quotes),
            cjk_lm=cjk_lm,
            ink=ink if config.pixel_scale else None,
            skip=set(rereads),
        )
    if options.han_pages and config.decoding == "ctc" and kana_token_ids(spec.charset):
        _read_kana_again(
            recognizer,
            spec,
            features,
            read_quads,
            image_indices,
            texts,
            all_confidence,
            input_size=input_size,
            options=dataclasses.replace(options, long_words=long_words),
            cjk_lm=cjk_lm,
            ink=ink if config.pixel_scale else None,
            windowed=set(rereads),
        )
    if lexicon is not None and held:
        texts, all_confidence = rescore_pages(
            texts,
            all_confidence,
            image_indices.tolist(),
            held,
            spec.charset,
            options=lexicon,
            mode=spec.postprocess.text_confidence,
        )
    if options.unify_scripts:
        texts = unify_scripts(texts, image_indices.tolist())
    for index, quote in quotes.items():
        # After the lexicon, which rescored the first reading's logits: the quote is added to whatever word it kept.
        texts[index] = texts[index] + quote
    return Recognitions(texts=texts, confidence=all_confidence, features=torch.cat(recog_features))


def _decode_strips(
    logits: torch.Tensor,
    spec: Any,
    options: RecognitionOptions,
    cjk_lm: CharLMOptions | None,
    banned: Sequence[int] = (),
) -> tuple[list[str], torch.Tensor]:
    """Greedy texts and confidences of ``[n, w, V]`` strip logits, alphabets settled and CJK readings rescored as
    :func:`recognize` asks; the tokens ``banned`` are never read."""
    ctc = spec.recognizer.decoding == "ctc"
    if banned:
        logits = logits.float().clone()
        logits[..., list(banned)] = -1e9
    texts, conf = decode_greedy(
        logits.float(), spec.charset, mode=spec.postprocess.text_confidence, collapse_repeats=ctc
    )
    if options.unify_scripts and ctc:
        texts, conf, _ = settle_alphabets(logits, texts, conf, spec.charset, mode=spec.postprocess.text_confidence)
    if cjk_lm is not None:
        texts, conf = rescore_cjk(logits, texts, conf, spec.charset, options=cjk_lm)
    return texts, conf


def _read_again(
    recognizer: Any,
    spec: Any,
    features: torch.Tensor,
    quads: torch.Tensor,
    image_indices: torch.Tensor,
    *,
    input_size: tuple[int, int],
    options: RecognitionOptions,
    cjk_lm: CharLMOptions | None,
    ink: torch.Tensor | None,
    banned: Sequence[int] = (),
) -> tuple[list[str], torch.Tensor]:
    """Texts and ``[n]`` float32 confidences of ``n`` extra quads (windows, lengthened quads) read and decoded as
    :func:`recognize` reads its own (never reading the tokens ``banned``), ``options.chunk_size`` at a time; the
    second passes of the stage use it."""
    texts: list[str] = []
    confidence: list[torch.Tensor] = []
    dtype = _model_dtype(recognizer)
    for start in range(0, quads.shape[0], options.chunk_size):
        buckets = read_strip_buckets(
            recognizer,
            features,
            quads[start : start + options.chunk_size],
            image_indices[start : start + options.chunk_size],
            input_size=input_size,
            dtype=dtype,
            network_context=lambda: network_precision(features.device.type, options.precision),
            ink=ink,
        )
        count = sum(b.index.numel() for b in buckets)
        chunk_texts: list[str] = [""] * count
        chunk_conf = torch.zeros(count, device=features.device)
        for bucket in buckets:
            bucket_texts, bucket_conf = _decode_strips(bucket.logits, spec, options, cjk_lm, banned)
            for position, text in zip(bucket.index.tolist(), bucket_texts, strict=True):
                chunk_texts[position] = text
            chunk_conf[bucket.index] = bucket_conf.float()
        texts.extend(chunk_texts)
        confidence.append(chunk_conf)
    return texts, torch.cat(confidence) if confidence else torch.zeros(0, device=features.device)


def _read_kana_again(
    recognizer: Any,
    spec: Any,
    features: torch.Tensor,
    read_quads: torch.Tensor,
    image_indices: torch.Tensor,
    texts: list[str],
    confidence: torch.Tensor,
    *,
    input_size: tuple[int, int],
    options: RecognitionOptions,
    cjk_lm: CharLMOptions | None,
    ink: torch.Tensor | None,
    windowed: set[int],
) -> None:
    """Read again, kana left out, the regions read with kana on Chinese pages (``RecognitionOptions.han_pages``);
    ``texts`` and ``confidence`` are updated in place. A region whose reading was joined from windows (``windowed``,
    a long CJK line) is read in windows again; one whose windows no longer join keeps its reading."""
    pages = image_indices.tolist()
    chinese = han_pages(texts, pages)
    if not chinese:
        return
    redo = [i for i, (text, page) in enumerate(zip(texts, pages)) if page in chinese and KANA.search(text)]
    if not redo:
        return
    banned = kana_token_ids(spec.charset)
    found: dict[int, tuple[str, float]] = {}
    whole = [i for i in redo if i not in windowed]
    if whole:
        chosen = torch.tensor(whole, dtype=torch.int64, device=read_quads.device)
        second, second_confidence = _read_again(
            recognizer,
            spec,
            features,
            read_quads[chosen],
            image_indices[chosen],
            input_size=input_size,
            options=options,
            cjk_lm=cjk_lm,
            ink=ink,
            banned=banned,
        )
        found.update(zip(whole, zip(second, second_confidence.tolist())))
    long = [i for i in redo if i in windowed]
    if long and isinstance(options.long_words, LongWordOptions):
        eligible = torch.zeros(read_quads.shape[0], dtype=torch.bool, device=read_quads.device)
        eligible[long] = True
        found.update(
            _read_long_words(
                recognizer,
                spec,
                features,
                read_quads,
                image_indices,
                input_size=input_size,
                options=options,
                cjk_lm=cjk_lm,
                ink=ink,
                eligible=eligible,
                banned=banned,
            )
        )
    for index, (text, text_confidence) in found.items():
        texts[index] = text
        confidence[index] = text_confidence


def _read_closing_quotes(
    recognizer: Any,
    spec: Any,
    features: torch.Tensor,
    read_quads: torch.Tensor,
    image_indices: torch.Tensor,
    texts: list[str],
    *,
    input_size: tuple[int, int],
    options: RecognitionOptions,
    cjk_lm: CharLMOptions | None,
    ink: torch.Tensor | None,
    skip: set[int],
) -> dict[int, str]:
    """Read again, lengthened at their end, the words of unbalanced pages that may have lost a closing quote
    (:mod:`~textspotter.ops.quotes`); returns ``{quad index: quote}`` for the second readings that add one."""
    assert isinstance(options.closing_quotes, QuoteOptions)
    pages = image_indices.tolist()
    candidates = quote_candidates(texts, pages, skip)
    if not candidates:
        return {}
    chosen = torch.tensor(candidates, dtype=torch.int64, device=read_quads.device)
    longer = extend_quads(read_quads[chosen], options.closing_quotes.extend, start=False)
    second, confidence = _read_again(
        recognizer,
        spec,
        features,
        longer,
        image_indices[chosen],
        input_size=input_size,
        options=options,
        cjk_lm=cjk_lm,
        ink=ink,
    )
    return accept_closing_quotes(texts, pages, candidates, second, confidence.tolist(), options.closing_quotes)


def _read_long_words(
    recognizer: Any,
    spec: Any,
    features: torch.Tensor,
    read_quads: torch.Tensor,
    image_indices: torch.Tensor,
    *,
    input_size: tuple[int, int],
    options: RecognitionOptions,
    cjk_lm: CharLMOptions | None,
    ink: torch.Tensor | None,
    eligible: torch.Tensor,
    banned: Sequence[int] = (),
) -> dict[int, tuple[str, float]]:
    """Read the quads too long for the recognizer's strip again in overlapping windows
    (:mod:`~textspotter.ops.longwords`); returns ``{quad index: (joined text, confidence)}`` for the quads whose
    windows could be joined (the lowest window confidence). The tokens ``banned`` are never read."""
    assert options.long_words is not None
    config = spec.recognizer
    windows, owner = window_quads(
        read_quads, config.strip_height, config.max_width, config.column_scale, options.long_words, eligible
    )
    if owner.numel() == 0:
        return {}
    texts, confidence = _read_again(
        recognizer,
        spec,
        features,
        windows,
        image_indices[owner],
        input_size=input_size,
        options=options,
        cjk_lm=cjk_lm,
        ink=ink,
        banned=banned,
    )
    window_conf = confidence.tolist()
    joined: dict[int, tuple[str, float]] = {}
    owners = owner.tolist()
    first = 0
    while first < len(owners):
        last = first
        while last < len(owners) and owners[last] == owners[first]:
            last += 1
        # How far each window starts after the previous one, as a fraction of a window's width (join_readings).
        width = (windows[first, 1] - windows[first, 0]).norm().clamp(min=1e-6)
        advance = float((windows[first + 1, 0] - windows[first, 0]).norm() / width)
        text = join_readings(texts[first:last], options.long_words.min_match, advance)
        if text is not None:
            joined[owners[first]] = (text, min(window_conf[first:last]))
        first = last
    return joined


def uses_int8(model: Any, device: torch.device | str, int8: str, part: str = "recognizer") -> bool:
    """Whether ``model``'s ``part`` (``"recognizer"``: its encoder; ``"detector"``: its convolutions) reads
    in int8 on ``device`` with ``int8`` = ``RecognitionOptions.int8`` / ``DetectionOptions.int8`` (see there).

    Raises:
        ValueError: for ``int8="on"`` where it cannot run (not a CPU, no calibrated ranges, weights not float32, no
            int8 kernels).
    """
    if int8 == "off":
        return False
    from ..models.quantize import int8_available

    device_type = torch.device(device).type
    reasons = []
    if device_type != "cpu":
        reasons.append(f"the device is {device_type!r}, not the CPU")
    ranges = getattr(model.spec.int8, part, ()) if model.spec.int8 is not None else ()
    if not ranges:
        reasons.append(
            f"model {model.spec.name!r} has no int8 ranges for its {part} (spec.int8; scripts/calibrate_int8.py)"
        )
    dtype = _model_dtype(getattr(model, part))
    if dtype != torch.float32:
        reasons.append(f"the {part}'s weights are {dtype}, not float32")
    if not reasons and not int8_available():  # checked last: it imports PyTorch's quantized modules
        reasons.append("this PyTorch build has no x86 int8 kernels")
    if reasons and int8 == "on":
        owner = "RecognitionOptions" if part == "recognizer" else "DetectionOptions"
        raise ValueError(f"{owner}.int8='on' cannot be met: " + "; ".join(reasons))
    return not reasons


def reading_recognizer(model: Any, device: torch.device | str, int8: str) -> Any:
    """The recognizer :func:`recognize` runs: ``model.recognizer``, or its int8-encoder copy (built once per
    recognizer and weights, :func:`~textspotter.models.quantize.cached_int8_recognizer`) when :func:`uses_int8`."""
    if not uses_int8(model, device, int8):
        return model.recognizer
    from ..models.quantize import cached_int8_recognizer

    return cached_int8_recognizer(model.recognizer, model.spec.int8)


def reading_detector(model: Any, device: torch.device | str, int8: str) -> Any:
    """The detector :func:`detect` runs: ``model.detector``, or its int8 copy (built once per detector and
    weights, :func:`~textspotter.models.quantize.cached_int8_detector`) when :func:`uses_int8` for the detector."""
    if not uses_int8(model, device, int8, "detector"):
        return model.detector
    from ..models.quantize import cached_int8_detector

    return cached_int8_detector(model.detector, model.spec.int8)


def _image_chunks(region_counts: Sequence[int], chunk_size: int) -> list[tuple[int, int]]:
    """Group consecutive images into ``(first, end)`` ranges of at most ``chunk_size`` regions (≥ 1 image each)."""
    chunks: list[tuple[int, int]] = []
    first, total = 0, 0
    for i, count in enumerate(region_counts):
        if i > first and total + count > chunk_size:
            chunks.append((first, i))
            first, total = i, 0
        total += count
    if len(region_counts) > first:
        chunks.append((first, len(region_counts)))
    return chunks


def relate(
    model: torch.nn.Module,
    features: torch.Tensor,
    quads: torch.Tensor,
    image_indices: torch.Tensor,
    region_counts: torch.Tensor,
    recognizer_features: torch.Tensor,
    *,
    input_size: tuple[int, int],
    geometry_quads: torch.Tensor | None = None,
    options: RelationOptions | None = None,
) -> list[Groups]:
    """Link regions into lines and paragraphs with the relational model (spec §7).

    The relational model reads, per region, a ``(2, 3)`` stretched crop of the feature map, the region's quad and
    its recognizer features, and relates each region to its nearest neighbours on the same page. Its dense word /
    line relations are decoded into chains (``ops.group_relations``, spec §7.6 steps 1–4).

    Args:
        model: an ``OCRModel`` (uses ``model.relational``).
        features: ``[B, C, Hf, Wf]`` float32 feature map F of the detector inputs.
        quads: ``[N, 4, 2]`` quads in detector-input pixels, used to crop ``features``.
        image_indices: ``[N]`` int64 index into ``features`` of each quad.
        region_counts: ``[P]`` int64 regions per page; regions are page-major. A page is what the relational model
            relates; it is usually one detector input, but may span several (tiles of one page).
        recognizer_features: ``[N, T, D]`` float32 from :func:`recognize`.
        input_size: ``(H, W)`` of the detector inputs.
        geometry_quads: ``[N, 4, 2]`` quads that the relational model sees as geometry, in the page's single-view
            detector pixels (the space it was trained in); None uses ``quads``.
        options: chunk size.

    Returns:
        Per page, paragraphs → lines → region indices **local to the page** (0 … n_p − 1), in graph order.
    """
    from ..models.relational import relations_to_dense

    options = options or RelationOptions()
    relational = model.relational
    counts = [int(c) for c in region_counts.tolist()]
    geometry = quads if geometry_quads is None else geometry_quads
    offsets = [0]
    for count in counts:
        offsets.append(offsets[-1] + count)
    groups: list[Groups] = []
    for first, end in _image_chunks(counts, options.chunk_size):
        lo, hi = offsets[first], offsets[end]
        chunk_counts = region_counts[first:end].to(device="cpu", dtype=torch.int64)
        if hi == lo:
            groups.extend([] for _ in range(end - first))
            continue
        crops = crop_features(
            features,
            quads[lo:hi],
            image_indices[lo:hi],
            input_size=input_size,
            output_size=tuple(model.spec.relational.grid_size),
            isotropic=False,
        )
        # The relational model casts its inputs to float32 itself (spec §2.2).
        out = relational(
            crops,
            geometry[lo:hi],
            chunk_counts,
            recognizer_features[lo:hi],
            encoder_bf16=resolve_precision(features.device.type, options.precision) == "bf16",
        )
        words, lines, line_log_var = relations_to_dense(out, chunk_counts)
        for page_words, page_lines, page_log_var in zip(words, lines, line_log_var):
            if page_words.shape[0] == 0:
                groups.append([])
                continue
            groups.append(group_relations(page_words.float(), page_lines.float(), page_log_var.float()))
    return groups
