"""Page orientation: find pages turned by 90, 180 or 270 degrees and read them upright.

The detector and recognizer were trained on upright pages (with some upside-down and vertical words), so a whole
page turned by a quarter or half turn reads as nonsense. The decision uses the networks already in the pipeline and
the page's first detection pass:

1. **Half turn, for free.** The most confident regions of the first pass (``OrientationOptions.sample_size``) are
   read twice from the same feature map: as detected, and with each quad's vertex order turned by two positions,
   which samples the region from its other end (an upside-down read). On an upside-down page the second read is
   the more confident one (16 regions of ``phototest-rotated-180.png``: 0.96 against 0.79 mean text confidence;
   upright ``phototest.tif``: 0.79 against 0.98; DocBank pages: about 0.5 against 0.92–0.98). Cost: one
   recognizer pass over ``2 × sample_size`` regions.
2. **Quarter turns, only when the upright read is doubtful.** On a page turned by 90 degrees the detector finds
   fragments of letters (about 0.4–0.5 mean text confidence), not words, so vertex turns cannot help. When the
   sampled upright confidence is below ``OrientationOptions.quarter_turn_below``, or less than half of
   ``OrientationOptions.min_word_share`` of the sample reads as words, the page is detected twice more, turned by
   90 and by 270 degrees, and each sample read as detected.

The rotation whose sample reads with the highest mean text confidence wins if it beats the upright read by
``OrientationOptions.margin``, reads at least ``OrientationOptions.min_confidence`` and reads as words
(``OrientationOptions.min_word_share``: a page turned the wrong way reads as empty strings and single characters,
which the recognizer can give a high confidence); the page is then turned
(``numpy.rot90``, exact) and read again from the start, and every quad of the result is mapped back into the
original image's pixels (:func:`page_to_original`).

Rotations are degrees **clockwise** applied to the original image before reading (``Page.rotation``). A point
``(x, y)`` of a ``W × H`` original lands at ``(H - y, x)`` after a quarter turn clockwise (the image is then
``H × W``); pixel edges map onto pixel edges, so the mapping back is exact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch

from ..document import Page, as_quad, bounding_quad, map_page_quads
from ..imageio import PageImage
from .stages import RecognitionOptions, recognize

if TYPE_CHECKING:
    from .ocr import OCR

__all__ = [
    "ROTATIONS",
    "ORIENTATION_MODES",
    "OrientationOptions",
    "rotate_image",
    "quads_to_rotated",
    "quads_to_original",
    "page_to_original",
    "turn_vertices",
    "SampleScore",
    "sample_scores",
    "choose_rotation",
    "Decisions",
    "decide_rotations",
    "apply_rotations",
]

ROTATIONS = (0, 90, 180, 270)
"""Page rotations, in degrees clockwise."""

ORIENTATION_MODES = ("auto", "off")
"""Values of ``OrientationOptions.mode``."""


@dataclass(frozen=True)
class OrientationOptions:
    """How the pipeline finds the orientation of each page (module docstring).

    Attributes:
        mode: ``"auto"`` detects pages turned by 90, 180 or 270 degrees and reads them upright; ``"off"`` reads
            every page as it is.
        sample_size: the most confident regions (by detection confidence) read to decide.
        min_regions: pages with fewer regions than this are not turned (too little evidence).
        margin: how much higher the mean text confidence of a turned sample must be than the upright one, in
            [0, 1].
        min_confidence: a turn is taken only when its sample reads with at least this mean text confidence, in
            [0, 1]: a page the model reads in no orientation (a script it does not know) stays as it is
            (``arabic.tif`` turned a quarter reads 0.46 against 0.34 upright; a turned Latin page, 0.79 or more).
            ``None`` takes the model's ``PostprocessConfig.orientation_confidence`` (0.7 unless the model sets its
            own: the multilingual model reads CJK text at lower confidence).
        quarter_turn_below: the page is also tried turned by a quarter turn (one more detector pass) when the
            upright sample's mean text confidence is below this, in [0, 1], or when less than half of
            ``min_word_share`` of it reads as words; 0 tries quarter turns only in that second case. ``None``
            takes the model's ``PostprocessConfig.orientation_confidence``, as ``min_confidence`` does.
        min_word_share: a turn is taken only when at least this share of its sample reads as words (two or more
            letters or digits), in [0, 1]. On a faint upright page (corpus en test, ``texlive-latex-extra-doc-
            b6d38a9d13-p0001``) the quarter turn read 0.81 mean confidence against 0.65 upright, but from empty and
            one-character reads (0.6 characters on average); pages really turned read words (``phototest-rotated-L``
            at 90 degrees: 4.1 characters on average). An upright sample with less than half this share of words
            also has the quarter turns tried, whatever its confidence: a detector trained to find one-letter words
            reads the letter fragments of a sideways page with confidence (stage 16: 0.72, no word).
    """

    mode: str = "auto"
    sample_size: int = 16
    min_regions: int = 3
    margin: float = 0.1
    min_confidence: float | None = None
    quarter_turn_below: float | None = None
    min_word_share: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in ORIENTATION_MODES:
            raise ValueError(
                f"OrientationOptions.mode must be one of {', '.join(ORIENTATION_MODES)}, got {self.mode!r}"
            )
        for name in ("sample_size", "min_regions"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"OrientationOptions.{name} must be a positive int, got {value!r}")
        for name in ("margin", "min_confidence", "quarter_turn_below", "min_word_share"):
            value = getattr(self, name)
            if value is None and name in ("min_confidence", "quarter_turn_below"):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"OrientationOptions.{name} must be in [0, 1], got {value!r}")


def _check_rotation(rotation: int) -> None:
    if rotation not in ROTATIONS:
        raise ValueError(f"rotation must be one of {ROTATIONS} (degrees clockwise), got {rotation!r}")


def rotate_image(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn an ``[H, W, ...]`` image by ``rotation`` degrees clockwise (exact; a C-contiguous copy).

    >>> rotate_image(np.arange(6).reshape(2, 3), 90).tolist()
    [[3, 0], [4, 1], [5, 2]]
    """
    _check_rotation(rotation)
    return np.ascontiguousarray(np.rot90(image, k=-(rotation // 90)))


def quads_to_rotated(quads: np.ndarray, rotation: int, width: int, height: int) -> np.ndarray:
    """Map ``[..., 4, 2]`` points of a ``width × height`` original into the image turned by ``rotation``.

    Vertex order is kept. Coordinates are continuous pixel coordinates (pixel ``(row, col)`` covers
    ``[col, col + 1] × [row, row + 1]``), so the result matches :func:`rotate_image` exactly.
    """
    _check_rotation(rotation)
    points = np.asarray(quads, dtype=np.float32)
    x, y = points[..., 0], points[..., 1]
    if rotation == 90:
        x, y = height - y, x
    elif rotation == 180:
        x, y = width - x, height - y
    elif rotation == 270:
        x, y = y, width - x
    return np.stack([x, y], axis=-1).astype(np.float32)


def quads_to_original(quads: np.ndarray, rotation: int, width: int, height: int) -> np.ndarray:
    """Map ``[..., 4, 2]`` points of the image turned by ``rotation`` back into the ``width × height`` original.

    The inverse of :func:`quads_to_rotated` (``width``, ``height`` are the original's). Vertex order is kept, so a
    word's first vertex stays the top-left corner of its text, wherever that lies in the original image.
    """
    _check_rotation(rotation)
    # Turning back is turning the rotated image (whose size is swapped by a quarter turn) the rest of the way round.
    turned_width, turned_height = (height, width) if rotation in (90, 270) else (width, height)
    return quads_to_rotated(quads, (360 - rotation) % 360, turned_width, turned_height)


def _map_quad(quad: tuple, rotation: int, width: int, height: int) -> tuple:
    return as_quad(quads_to_original(np.asarray(quad, dtype=np.float32), rotation, width, height))


def page_to_original(page: Page, rotation: int, width: int, height: int) -> Page:
    """Return a Page read on the image turned by ``rotation`` with its quads in the original image's pixels.

    Word quads keep their vertex order (first vertex: the text's top-left corner). Line and paragraph boxes stay
    axis-aligned boxes, clockwise from the image's top-left vertex. The result has the original's size and
    ``rotation`` set; text, confidences, order and timings are unchanged.

    Args:
        page: the Page read on the turned image.
        rotation: degrees clockwise the original was turned before reading.
        width, height: size of the original image in pixels.
    """
    _check_rotation(rotation)
    mapped = map_page_quads(
        page,
        lambda quad: _map_quad(quad, rotation, width, height),
        lambda quad: bounding_quad([_map_quad(quad, rotation, width, height)]),
    )
    return dataclasses.replace(mapped, width=width, height=height, rotation=rotation)


def turn_vertices(quads: torch.Tensor, turns: int) -> torch.Tensor:
    """Start each ``[N, 4, 2]`` quad ``turns`` vertices later: two turns read a region from its other end."""
    return torch.roll(quads, shifts=-turns, dims=-2)


class SampleScore(NamedTuple):
    """How one reading of a page's sample went.

    Attributes:
        confidence: mean text confidence of the sample's regions, in [0, 1].
        word_share: share of the regions read as words (at least two letters or digits), in [0, 1].
    """

    confidence: float
    word_share: float


def _is_word(text: str) -> bool:
    return sum(character.isalnum() for character in text) >= 2


def sample_scores(
    model: torch.nn.Module,
    features: torch.Tensor,
    crop_quads: torch.Tensor,
    view_index: torch.Tensor,
    detection_confidence: torch.Tensor,
    *,
    input_size: tuple[int, int],
    sample_size: int,
    turns: Sequence[int] = (0, 2),
    options: RecognitionOptions | None = None,
    ink: torch.Tensor | None = None,
) -> list[SampleScore]:
    """How the most confident regions read with their vertex order turned by each of ``turns``.

    Args:
        model: an ``OCRModel``.
        features: ``[B, C, Hf, Wf]`` float32 feature map F.
        crop_quads: ``[N, 4, 2]`` quads of one page in detector-input pixels (N ≥ 1).
        view_index: ``[N]`` int64 index into ``features`` of each quad.
        detection_confidence: ``[N]`` detection confidence; the ``sample_size`` highest are read.
        input_size: ``(H, W)`` of the detector inputs.
        sample_size: regions to read.
        turns: vertex turns to read each region with (0: as detected; 2: from its other end).
        options: recognizer settings.
        ink: ``[B, 1, H, W]`` ink levels of the detector inputs, for a recognizer that reads pixels
            (``stages.recognize``).

    Returns:
        Per turn, the sample's mean text confidence and share of word reads.
    """
    count = min(sample_size, int(crop_quads.shape[0]))
    sample = torch.topk(detection_confidence, count).indices
    quads = crop_quads[sample]
    if options is not None and options.lexicon is not None:
        # The turn is judged on what the recognizer sees: the lexicon would only add time and change confidences.
        options = dataclasses.replace(options, lexicon=None)
    read = recognize(
        model,
        features,
        torch.cat([turn_vertices(quads, turn) for turn in turns]),
        view_index[sample].repeat(len(turns)),
        input_size=input_size,
        options=options,
        ink=ink,
    )
    texts = list(read.texts)
    return [
        SampleScore(float(part.mean()), sum(map(_is_word, texts[k * count : (k + 1) * count])) / count)
        for k, part in enumerate(read.confidence.float().split(count))
    ]


def choose_rotation(
    scores: Mapping[int, float],
    *,
    margin: float,
    min_confidence: float = 0.0,
    word_shares: Mapping[int, float] | None = None,
    min_word_share: float = 0.0,
) -> int:
    """Return the best-scoring rotation if it beats the upright one (``scores[0]``) by more than ``margin``, scores
    at least ``min_confidence`` and (when ``word_shares`` are given) read words in at least ``min_word_share`` of
    its sample; else 0. Rotations that fail the word test are not candidates.

    >>> choose_rotation({0: 0.81, 180: 0.92}, margin=0.1), choose_rotation({0: 0.99, 180: 0.71}, margin=0.1)
    (180, 0)
    >>> choose_rotation({0: 0.34, 90: 0.46}, margin=0.1, min_confidence=0.7)
    0
    """
    if 0 not in scores:
        raise ValueError(f"scores need the upright rotation 0, got rotations {sorted(scores)}")
    candidates = [
        rotation
        for rotation in scores
        if rotation == 0 or word_shares is None or word_shares.get(rotation, 0.0) >= min_word_share
    ]
    best = max(candidates, key=lambda rotation: (scores[rotation], rotation == 0))
    return best if scores[best] > scores[0] + margin and scores[best] >= min_confidence else 0


class Decisions(NamedTuple):
    """The rotation chosen for each page of a batch and the seconds spent choosing it (each page's share)."""

    rotations: list[int]
    seconds: float


def decide_rotations(
    ocr: OCR, pages: Sequence[PageImage], groups: Sequence[tuple[list[int], Any, Any]]
) -> Decisions | None:
    """Decide the rotation of each page of a batch from its first detection pass (module docstring).

    Args:
        ocr: the OCR whose model, recognition and orientation options are used.
        pages: the batch's pages.
        groups: ``(page positions, regions, timings)`` of the first pass (``OCR._fitted_detection``), regions being
            the OCR's internal ``_Regions`` of those pages, page-major.

    Returns:
        None when ``ocr.orientation.mode`` is ``"off"``; else per page the rotation in degrees clockwise to read
        it at (0 for upright).
    """
    options = ocr.orientation
    if options.mode == "off":
        return None
    # The model's own floor where the options leave it open (the published-size English model: 0.7).
    floor = ocr.spec.postprocess.orientation_confidence
    min_confidence = floor if options.min_confidence is None else options.min_confidence
    quarter_turn_below = floor if options.quarter_turn_below is None else options.quarter_turn_below
    start = ocr._sync()
    rotations = [0] * len(pages)
    with torch.inference_mode():
        for positions, regions, _ in groups:
            offsets = np.concatenate([[0], np.cumsum(regions.page_counts)]).astype(int).tolist()
            for local, position in enumerate(positions):
                lo, hi = offsets[local], offsets[local + 1]
                if hi - lo < options.min_regions:
                    continue
                upright, half = sample_scores(
                    ocr.model,
                    regions.features,
                    regions.crop_quads[lo:hi],
                    regions.view_index[lo:hi],
                    regions.detection_confidence[lo:hi],
                    input_size=regions.input_size,
                    sample_size=options.sample_size,
                    options=ocr.recognition,
                    ink=regions.ink,
                )
                samples = {0: upright, 180: half}
                # Half the word share a turn needs: a math page's upright sample (DocBank: 44 % words at 0.94
                # confidence) is not worth two more detector passes; a sideways page's reads no words at all.
                doubtful = upright.word_share < options.min_word_share / 2
                if upright.confidence < quarter_turn_below or doubtful:
                    samples.update(_quarter_turn_scores(ocr, pages[position]))
                rotations[position] = choose_rotation(
                    {rotation: sample.confidence for rotation, sample in samples.items()},
                    margin=options.margin,
                    min_confidence=min_confidence,
                    word_shares={rotation: sample.word_share for rotation, sample in samples.items()},
                    min_word_share=options.min_word_share,
                )
    return Decisions(rotations, (ocr._sync() - start) / max(len(pages), 1))


def _quarter_turn_scores(ocr: OCR, page: PageImage) -> dict[int, SampleScore]:
    """Scores of 90 and 270 degrees: one more detector pass on the page turned each way, its sample read as found.

    (Reading the 90-degree pass turned by two vertices is no estimate of 270 degrees: on
    ``phototest-rotated-R.png`` it scored 0.56, below the 90-degree read's 0.67, where the 270-degree pass scores
    0.79.)
    """
    scores: dict[int, SampleScore] = {}
    for rotation in (90, 270):
        turned = dataclasses.replace(page, image=rotate_image(page.image, rotation))
        # At the side the upright page was first read at (ScaleOptions.small_first), so that the scores compare.
        first = ocr.scale.first_length(turned.height, turned.width, ocr.preprocess.infer_length)
        regions = ocr._detect_regions([turned], dict.fromkeys(("preprocess", "detect"), 0.0), ocr._preprocess_at(first))
        if regions.crop_quads.shape[0] < ocr.orientation.min_regions:
            continue
        [scores[rotation]] = sample_scores(
            ocr.model,
            regions.features,
            regions.crop_quads,
            regions.view_index,
            regions.detection_confidence,
            input_size=regions.input_size,
            sample_size=ocr.orientation.sample_size,
            turns=(0,),
            options=ocr.recognition,
            ink=regions.ink,
        )
    return scores


def apply_rotations(
    ocr: OCR, pages: Sequence[PageImage], load_times: Sequence[float], decisions: Decisions, results: list[Page]
) -> list[Page]:
    """Read again, upright, the pages whose rotation is not 0; return all pages with quads in original pixels.

    Every page's timings get an ``"orientation"`` entry (its share of the decision); a turned page is charged both
    of its reads.
    """
    out = list(results)
    for page in out:
        page.timings["orientation"] = decisions.seconds
    turned = [p for p, rotation in enumerate(decisions.rotations) if rotation]
    if not turned:
        return out
    again = ocr._read_pages(
        [dataclasses.replace(pages[p], image=rotate_image(pages[p].image, decisions.rotations[p])) for p in turned],
        [load_times[p] for p in turned],
        orient=False,
    )
    for p, page in zip(turned, again):
        timings = dict(results[p].timings)
        for stage, seconds in page.timings.items():
            timings[stage] = timings.get(stage, 0.0) + seconds
        mapped = page_to_original(page, decisions.rotations[p], pages[p].width, pages[p].height)
        out[p] = dataclasses.replace(mapped, timings=timings)
    return out
