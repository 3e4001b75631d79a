"""Target encoders, augmentation and the training data stream (textspotter.data)."""

import math

import numpy as np
import pytest
import torch

from textspotter.charset import latin_charset
from textspotter.data.augment import AugmentConfig, AugmentParams, apply_geometry
from textspotter.data.collate import collate_pages
from textspotter.data.dataset import ManifestSource, SampleBuilder, TrainingStream
from textspotter.data.manifest import LineAnnotation, PageAnnotation, ParagraphAnnotation, WordAnnotation
from textspotter.data.targets import (
    TargetConfig,
    encode_detector_targets,
    encode_region_targets,
    fit_rotated_rect,
)
from textspotter.data.toy import toy_page, write_toy_dataset
from textspotter.models.spec import PreprocessConfig
from textspotter.ops.boxes import rrect_to_quads
from textspotter.pipeline.preprocess import ScaleOptions, page_view, render_views


def rotated_rect(cx, cy, width, height, theta):
    """Quad of a rectangle centred at (cx, cy) whose top edge runs along angle theta (clockwise from its top-left)."""
    v_x = np.array([math.cos(theta), math.sin(theta)])
    v_y = np.array([math.sin(theta), -math.cos(theta)])  # "up" of the text (spec §4.1)
    c = np.array([cx, cy])
    return np.stack(
        [
            c - v_x * width / 2 + v_y * height / 2,
            c + v_x * width / 2 + v_y * height / 2,
            c + v_x * width / 2 - v_y * height / 2,
            c - v_x * width / 2 - v_y * height / 2,
        ]
    )


def make_page(quads, texts, lines, paragraphs, ignore=None, size=(128, 128)):
    ignore = ignore or [False] * len(texts)
    words = [WordAnnotation(text=t, quad=q.tolist(), ignore=i) for t, q, i in zip(texts, quads, ignore)]
    return PageAnnotation(
        id="p",
        image="p.png",
        width=size[1],
        height=size[0],
        words=words,
        lines=[LineAnnotation(words=w) for w in lines],
        paragraphs=[ParagraphAnnotation(lines=p) for p in paragraphs],
    )


@pytest.mark.parametrize("theta", [0.0, 0.3, -0.7, math.pi / 2, 2.6, -math.pi + 0.1])
def test_rbox_targets_decode_back_to_the_word_quad(theta):
    quad = rotated_rect(64, 60, 70, 22, theta)
    targets = encode_detector_targets(quad[None], np.array([False]), height=128, width=128, config=TargetConfig())
    positive = targets.score > 0
    assert positive.sum() >= 4
    assert targets.detectable.tolist() == [True]
    decoded = rrect_to_quads(torch.from_numpy(targets.geometry)[None])[0][torch.from_numpy(positive)]
    # Every positive cell reproduces the quad through the inference decoding (spec §4.1), same vertex order.
    np.testing.assert_allclose(decoded.numpy(), np.broadcast_to(quad, decoded.shape), atol=1e-3)
    # The angle target follows the reading direction, within the head's range [-π, π].
    assert np.allclose(np.cos(targets.geometry[positive][:, 4]), math.cos(theta), atol=1e-5)


def test_positive_core_is_shrunk_and_separates_words():
    config = TargetConfig(shrink=0.3, end_shrink=0.3)
    left = rotated_rect(40, 64, 48, 20, 0.0)
    right = rotated_rect(95, 64, 48, 20, 0.0)  # 7 px gap, about one space
    targets = encode_detector_targets(np.stack([left, right]), np.zeros(2, bool), height=128, width=128, config=config)
    rows, cols = np.nonzero(targets.score)
    centres_y = rows * 4 + 2
    # Middle 40 % of the height only: y in [54 + 6, 74 - 6].
    assert centres_y.min() >= 60 and centres_y.max() <= 68
    # A column of negative cells between the two words.
    assert not targets.score[:, 17].any() or not targets.score[:, 18].any()
    assert targets.mask.min() == 1.0


def test_ignore_and_tiny_words_mask_the_confidence_loss():
    config = TargetConfig(min_text_height=8.0)
    quads = np.stack(
        [rotated_rect(40, 30, 50, 20, 0.0), rotated_rect(40, 80, 50, 20, 0.0), rotated_rect(100, 100, 20, 5, 0)]
    )
    targets = encode_detector_targets(quads, np.array([False, True, False]), height=128, width=128, config=config)
    assert targets.detectable.tolist() == [True, False, False]
    assert targets.score[15:25].sum() == 0  # rows of the ignored word: no positives ...
    assert targets.mask[18:22, 5:14].max() == 0  # ... and masked out
    assert targets.mask[24, 24] == 0  # the 5-px-high word is ignored too
    assert targets.mask[7, 10] == 1


def test_overlapping_words_the_smaller_one_wins():
    big = rotated_rect(64, 64, 100, 40, 0.0)
    small = rotated_rect(64, 64, 30, 12, 0.0)
    targets = encode_detector_targets(
        np.stack([big, small]), np.zeros(2, bool), height=128, width=128, config=TargetConfig()
    )
    assert targets.detectable.tolist() == [True, True]
    centre = targets.geometry[15, 15]
    assert centre[0] + centre[2] == pytest.approx(12, abs=1e-4)  # the small word's height


def test_fit_rotated_rect_of_a_parallelogram_averages_the_edges():
    quad = np.array([[10, 10], [50, 10], [54, 30], [14, 30]], dtype=np.float64)  # slanted sides
    theta, _, _, top, bottom, left, right = fit_rotated_rect(quad)
    assert theta == pytest.approx(0.0)
    assert top - bottom == pytest.approx(20)
    assert right - left == pytest.approx(40)


def test_region_targets_tokens_and_relations():
    charset = latin_charset()
    texts = ["ab", "ignored", "cd", "ef", "x" * 20]
    quads = np.stack(
        [rotated_rect(20 + 25 * i, 30, 20, 12, 0) for i in range(3)] + [rotated_rect(20, 60, 20, 12, 0)] * 2
    )
    page = make_page(
        quads, texts, lines=[[0, 1, 2], [3, 4]], paragraphs=[[0, 1]], ignore=[False, True, False, False, False]
    )
    detectable = np.array([True, False, True, True, True])
    regions = encode_region_targets(
        page, quads, detectable, charset=charset, max_width=16, rng=np.random.default_rng(0), config=TargetConfig()
    )
    assert regions.word_index.tolist() == [0, 2, 3, 4]
    assert regions.tokens[0].tolist()[:4] == [charset.token_id("a"), charset.token_id("b"), 1, 0]
    assert regions.token_valid.tolist() == [True, True, True, False]  # 20 characters + EOS do not fit in 16
    # The chain skips the ignored word: "ab" → "cd"; "ef" → "xxx…"; lines 0 → 1.
    assert regions.next_word.tolist() == [1, -1, 3, -1]
    assert regions.line_id.tolist() == [0, 0, 1, 1]
    assert regions.next_line.tolist() == [1, 1, -1, -1]
    jitter = np.abs(regions.quads - quads[[0, 2, 3, 4]]).max()
    assert 0 < jitter < 6


def test_sample_preprocessing_is_the_inference_preprocessing():
    image, page = toy_page(3, 0, size=96)
    image = np.concatenate([image, np.full((32, 96, 3), 200, np.uint8)])  # 128 x 96: not square
    page.height = 128
    preprocess = PreprocessConfig(infer_length=128)
    builder = SampleBuilder(
        preprocess=preprocess,
        charset=latin_charset(),
        max_width=16,
        targets=TargetConfig(quad_jitter=0, quad_shift=0, quad_stretch=0),
        augment=AugmentConfig(enabled=False),
    )
    sample = builder(image, page, np.random.default_rng(0))
    expected = render_views(image, preprocess, ScaleOptions(mode="single"))[0][0]
    assert torch.equal(sample.image, expected)
    view = page_view(128, 96, preprocess)
    original = np.array([w.quad for w in page.words], dtype=np.float32)
    np.testing.assert_allclose(view.to_original(torch.from_numpy(sample.quads)).numpy(), original, atol=1e-4)
    assert sample.score.shape == (32, 32) and sample.geometry.shape == (32, 32, 5)


def test_crop_augmentation_moves_the_words_and_ignores_cut_ones():
    quads = np.stack(
        [rotated_rect(30, 30, 40, 16, 0), rotated_rect(90, 30, 40, 16, 0), rotated_rect(30, 100, 40, 16, 0)]
    )
    page = make_page(quads, ["a", "b", "c"], lines=[[0, 1], [2]], paragraphs=[[0, 1]])
    image = np.full((128, 128, 3), 255, np.uint8)
    params = AugmentParams(crop=(0, 0, 100, 64), square_side=None)
    cropped, moved = apply_geometry(image, page, params, pad_color=(1, 1, 1), clipped_visibility=0.95)
    assert cropped.shape == (64, 100, 3) and (moved.width, moved.height) == (100, 64)
    assert [w.ignore for w in moved.words] == [False, True, True]  # "b" is cut by the crop, "c" is outside
    assert moved.words[0].quad == page.words[0].quad
    assert not page.words[1].ignore  # the input annotation is untouched
    padded, _ = apply_geometry(image, page, AugmentParams(square_side=200), pad_color=(1, 1, 1), clipped_visibility=1)
    assert padded.shape == (200, 200, 3) and padded[150, 150].tolist() == [255, 255, 255]


@pytest.fixture(scope="module")
def toy_folder(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("toy"), pages=5, seed=1, size=128)


def _stream(folder, **kwargs):
    builder = SampleBuilder(
        preprocess=PreprocessConfig(infer_length=128),
        charset=latin_charset(),
        max_width=16,
        targets=TargetConfig(),
        augment=AugmentConfig(),
    )
    return TrainingStream(ManifestSource([folder]), builder, batch_size=2, seed=7, **kwargs)


def test_stream_is_deterministic_and_sharded_by_rank(toy_folder):
    a, b = _stream(toy_folder), _stream(toy_folder)
    first, again = a.make_batch(3), b.make_batch(3)
    assert first.positions == again.positions == [6, 7]
    assert torch.equal(first.images, again.images) and torch.equal(first.quads, again.quads)
    rank0, rank1 = _stream(toy_folder, rank=0, world_size=2), _stream(toy_folder, rank=1, world_size=2)
    assert rank0.positions(0) == [0, 1] and rank1.positions(0) == [2, 3] and rank0.positions(1) == [4, 5]
    # Each epoch visits every page once, in a new order.
    epoch0 = [a.page_index(p) for p in range(5)]
    epoch1 = [a.page_index(p) for p in range(5, 10)]
    assert sorted(epoch0) == sorted(epoch1) == list(range(5)) and epoch0 != epoch1


def test_stream_batches_do_not_depend_on_the_worker_count(toy_folder):
    from textspotter.data.dataset import make_loader

    stream = _stream(toy_folder, start_batch=2)
    loader = make_loader(stream, workers=2, prefetch=1)
    got = []
    for batch in loader:
        got.append(batch)
        if len(got) == 3:
            break
    assert [b.batch_index for b in got] == [2, 3, 4]
    direct = _stream(toy_folder).make_batch(4)
    assert torch.equal(got[2].images, direct.images) and torch.equal(got[2].tokens, direct.tokens)
    assert got[0].region_counts.sum() == got[0].num_regions == got[0].tokens.shape[0]


def test_collate_concatenates_regions_in_page_order(toy_folder):
    stream = _stream(toy_folder)
    samples = [stream.builder(*ManifestSource([toy_folder]).load(i), np.random.default_rng(i)) for i in range(2)]
    batch = collate_pages(samples, max_width=16)
    assert batch.images.shape == (2, 3, 128, 128)
    assert batch.region_counts.tolist() == [len(samples[0].quads), len(samples[1].quads)]
    assert torch.equal(batch.next_word[: len(samples[0].quads)], torch.from_numpy(samples[0].next_word))


def test_training_window_keeps_the_inference_scale():
    from textspotter.data.augment import sample_input_window, visible_fraction

    image, page = toy_page(5, 0, size=256)
    preprocess = PreprocessConfig(infer_length=256)
    targets = TargetConfig(quad_jitter=0, quad_shift=0, quad_stretch=0)
    whole = SampleBuilder(preprocess, latin_charset(), 16, targets, AugmentConfig(enabled=False))
    window = SampleBuilder(preprocess, latin_charset(), 16, targets, AugmentConfig(enabled=False), crop_size=192)
    full = whole(image, page, np.random.default_rng(0))
    part = window(image, page, np.random.default_rng(0))
    assert part.image.shape == (3, 192, 192) and part.score.shape == (48, 48)
    # Without augmentation the window is the first draw of the page's generator.
    no_ignore = np.zeros(len(full.quads), bool)
    x0, y0 = sample_input_window(np.random.default_rng(0), full.quads, no_ignore, height=256, width=256, size=192)
    assert x0 % 4 == 0 and y0 % 4 == 0
    # Same pixels as the whole input (same scale), and the words wholly inside the window, shifted.
    assert torch.equal(part.image, full.image[:, y0 : y0 + 192, x0 : x0 + 192])
    inside = visible_fraction(full.quads, (x0, y0, x0 + 192, y0 + 192)) >= 0.95
    assert inside.any()
    np.testing.assert_allclose(part.quads, full.quads[inside] - np.array([x0, y0], np.float32), atol=1e-4)
    with pytest.raises(ValueError, match="crop_size"):
        SampleBuilder(preprocess, latin_charset(), 16, targets, AugmentConfig(), crop_size=100)


def test_a_wide_window_holds_a_line_that_a_square_one_cuts():
    # A 200-px line: never 95 % inside a 128-px square window, so always ignored there; a 256 x 128 window holds it
    # whole (CJK lines are one region each; configs/small-multi.yaml).
    image = np.full((256, 256, 3), 255, np.uint8)
    image[120:136, 28:228] = 0
    line = WordAnnotation(text="abc", quad=[[28, 120], [228, 120], [228, 136], [28, 136]])
    page = PageAnnotation(
        id="p",
        image="p.png",
        width=256,
        height=256,
        words=[line],
        lines=[LineAnnotation(words=[0])],
        paragraphs=[ParagraphAnnotation(lines=[0])],
    )
    preprocess = PreprocessConfig(infer_length=256)
    targets = TargetConfig(quad_jitter=0, quad_shift=0, quad_stretch=0)
    plain = AugmentConfig(enabled=False)
    square = SampleBuilder(preprocess, latin_charset(), 16, targets, plain, crop_size=128)
    wide = SampleBuilder(preprocess, latin_charset(), 16, targets, plain, crop_size=256, crop_height=128)
    for seed in range(4):  # windows aimed at the line (seed 4 draws one of the 10 % placed anywhere)
        assert len(square(image, page, np.random.default_rng(seed)).quads) == 0
        sample = wide(image, page, np.random.default_rng(seed))
        assert sample.image.shape == (3, 128, 256) and sample.score.shape == (32, 64)
        assert len(sample.quads) == 1 and (sample.score > 0.5).any()
    with pytest.raises(ValueError, match="crop_height"):
        SampleBuilder(preprocess, latin_charset(), 16, targets, plain, crop_height=64)
    with pytest.raises(ValueError, match="crop_height"):
        SampleBuilder(preprocess, latin_charset(), 16, targets, plain, crop_size=128, crop_height=100)


def test_word_cells_count_the_positive_cells_of_each_word():
    long_word = rotated_rect(64, 32, 100, 20, 0.0)
    letter = rotated_rect(64, 96, 6, 20, 0.0)  # a one-letter word: its core keeps the cell nearest its centre
    targets = encode_detector_targets(
        np.stack([long_word, letter]), np.zeros(2, bool), height=128, width=128, config=TargetConfig()
    )
    positive = targets.score > 0.5
    assert targets.word_cells[~positive].max() == 0
    upper, lower = targets.word_cells[:16], targets.word_cells[16:]
    assert set(np.unique(upper[upper > 0]).tolist()) == {float((targets.score[:16] > 0.5).sum())}
    assert set(np.unique(lower[lower > 0]).tolist()) == {float((targets.score[16:] > 0.5).sum())}
    assert (targets.score[16:] > 0.5).sum() <= 2 < (targets.score[:16] > 0.5).sum()
