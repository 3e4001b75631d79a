"""Unit tests of the pipeline pieces: preprocessing, assembly and reading order, view merging, tensor stages."""

import math
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from test_pipeline_fakes import fake_model, page_with_boxes
from textspotter.document import Line, Word
from textspotter.geometry import extend_quads
from textspotter.models import create_model
from textspotter.models.spec import PreprocessConfig
from textspotter.pipeline import (
    AssemblyOptions,
    DetectionOptions,
    PageReadings,
    RecognitionOptions,
    RelationOptions,
    ScaleOptions,
    assemble_page,
    detect,
    reading_order,
    recognize,
    relate,
)
from textspotter.pipeline.assemble import MAX_SKEW_DEGREES, _leader_words, _number_joins, text_skew
from textspotter.pipeline.multiscale import select_view_detections
from textspotter.pipeline.preprocess import (
    DetectorView,
    page_view,
    render_page,
    render_square,
    render_views,
    render_window,
    stack_inputs,
    tile_views,
)
from textspotter.pipeline.stages import _image_chunks

# ----------------------------------------------------------------------------------------------------------------
# Preprocessing


def test_page_view_scales_back_by_side_over_length():
    config = PreprocessConfig(infer_length=256)
    view = page_view(300, 600, config)
    assert (view.scale, view.offset_x, view.offset_y, view.height, view.width) == (600 / 256, 0, 0, 256, 256)
    quad = torch.tensor([[[10.0, 20.0], [30.0, 20.0], [30.0, 40.0], [10.0, 40.0]]])
    assert torch.allclose(view.to_original(quad), quad * 600 / 256)
    assert torch.allclose(view.to_detector(view.to_original(quad)), quad)


def test_page_view_content_is_the_part_of_the_square_that_shows_the_page():
    view = page_view(300, 600, PreprocessConfig(infer_length=256))
    assert view.content == (0, 0, 256, 128) and view.content_box() == (0, 0, 256, 128)
    centred = page_view(600, 300, PreprocessConfig(infer_length=256, pad_how="center"))
    assert centred.content == (64, 0, 192, 256)  # 150 px of padding each side at 600/256 px per detector pixel
    assert DetectorView(scale=1.0, offset_x=0, offset_y=0, height=64, width=96).content_box() == (0, 0, 96, 64)


def test_tile_content_stops_where_the_page_does():
    config = PreprocessConfig(infer_length=256)
    options = ScaleOptions(mode="tiled", zoom=2.0, max_upscale=4.0, overlap=0.25)
    tiles = tile_views(1000, 700, config, options)  # rendered at 512: the page is 358 wide, the tiles 256
    assert len(tiles) == 6
    for tile in tiles:
        x0, y0, x1, y1 = tile.content_box()
        assert (x0, y0) == (0, 0) and 0 < x1 <= tile.width and 0 < y1 <= tile.height
        assert x1 == min(256, math.ceil(700 / tile.scale) - round(tile.offset_x / tile.scale))


def test_centre_padding_offset_is_subtracted():
    config = PreprocessConfig(infer_length=256, pad_how="center")
    view = page_view(300, 600, config)  # page sits 150 px down in its 600×600 square
    assert (view.offset_x, view.offset_y) == (0, -150)
    top_left_of_page = torch.tensor([[[0.0, 150 * 256 / 600]] * 4])
    assert torch.allclose(view.to_original(top_left_of_page), torch.zeros(1, 4, 2), atol=1e-4)


@pytest.mark.parametrize("pad_how", ["bottom_right", "center"])
def test_render_page_pads_with_the_pad_colour(pad_how):
    config = PreprocessConfig(infer_length=128, pad_color=(1.0, 0.5, 0.0), pad_how=pad_how)
    image = np.zeros((64, 128, 3), dtype=np.uint8)  # black page, half as tall as wide
    tensor, view = render_page(image, config)
    assert tensor.shape == (3, 128, 128) and tensor.dtype == torch.float32
    page_rows = slice(0, 64) if pad_how == "bottom_right" else slice(32, 96)
    pad_rows = slice(64, 128) if pad_how == "bottom_right" else slice(0, 32)
    assert float(tensor[:, page_rows].abs().max()) == 0.0
    assert torch.allclose(tensor[:, pad_rows].mean((1, 2)), torch.tensor([1.0, 0.5, 0.0]))
    assert view.offset_y == (0 if pad_how == "bottom_right" else -32)


def test_render_page_pads_width_to_a_multiple_of_128_with_zeros():
    config = PreprocessConfig(infer_length=160)
    tensor, view = render_page(np.full((50, 50, 3), 255, dtype=np.uint8), config)
    assert tensor.shape == (3, 160, 256) and (view.height, view.width) == (160, 256)
    assert float(tensor[:, :, :160].min()) == 1.0 and float(tensor[:, :, 160:].abs().max()) == 0.0


def test_render_resizes_bilinearly_with_aligned_corners():
    config = PreprocessConfig(infer_length=128)
    image = np.zeros((256, 256, 3), dtype=np.uint8)
    image[:, :, 0] = np.arange(256, dtype=np.uint8)[None, :]  # a horizontal ramp 0..255
    tensor, _ = render_page(image, config)
    # align_corners=True keeps both end pixels exactly: 0 at the left edge, 255 at the right.
    assert float(tensor[0, 0, 0]) == 0.0 and float(tensor[0, 0, -1]) == 1.0
    assert torch.allclose(tensor[0, 0], torch.linspace(0, 1, 128), atol=1e-6)


@pytest.mark.parametrize("pad_how", ["bottom_right", "center"])
@pytest.mark.parametrize(
    ("x0", "y0", "size"),
    [(0, 0, 64), (40, 24, 96), (96, 64, 64), (128, 100, 60), (200, 0, 40), (8, 16, (224, 32)), (100, 0, (64, 160))],
)
def test_render_window_is_the_crop_of_the_whole_input_bit_for_bit(pad_how, x0, y0, size):
    # L = 160 pads the input's width to 256 with zeros: the last windows reach into that padding. A pair is a
    # (width, height) window.
    config = PreprocessConfig(infer_length=160, pad_color=(1.0, 0.5, 0.25), pad_how=pad_how)
    image = np.random.default_rng(1).integers(0, 256, (300, 220, 3), dtype=np.uint8)
    whole, view = render_page(image, config)
    width, height = (size, size) if isinstance(size, int) else size
    if y0 + height > view.height:
        with pytest.raises(ValueError, match="not inside"):
            render_window(image, config, x0, y0, size)
        return
    window = render_window(image, config, x0, y0, size)
    assert window.shape == (3, height, width)
    assert torch.equal(window, whole[:, y0 : y0 + height, x0 : x0 + width])


def test_render_window_rejects_windows_outside_the_input():
    config = PreprocessConfig(infer_length=128)
    image = np.zeros((100, 80, 3), dtype=np.uint8)
    for x0, y0, size in [(-4, 0, 32), (0, 100, 32), (0, 0, 0), (120, 0, 32)]:
        with pytest.raises(ValueError, match="not inside"):
            render_window(image, config, x0, y0, size)
    with pytest.raises(ValueError, match="not inside"):
        render_square(image, 128, config, window=(0, 0, 129, 10))


@pytest.mark.parametrize("pad_how", ["bottom_right", "center"])
@pytest.mark.parametrize(("height", "width", "side"), [(220, 170, 128), (30, 60, 128), (60, 30, 256), (1, 7, 32)])
def test_render_square_equals_padding_then_interpolating(pad_how, height, width, side):
    config = PreprocessConfig(pad_color=(1.0, 0.5, 0.25), pad_how=pad_how)
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    square_side = max(height, width)
    x0 = (square_side - width) // 2 if pad_how == "center" else 0
    y0 = (square_side - height) // 2 if pad_how == "center" else 0
    square = torch.tensor(config.pad_color).view(3, 1, 1).repeat(1, square_side, square_side)
    square[:, y0 : y0 + height, x0 : x0 + width] = torch.from_numpy(image).permute(2, 0, 1) / 255.0
    expected = torch.nn.functional.interpolate(square[None], size=(side, side), mode="bilinear", align_corners=True)
    assert torch.allclose(render_square(image, side, config), expected[0], atol=1e-6)


@pytest.mark.parametrize("pad_how", ["bottom_right", "center"])
@pytest.mark.parametrize(
    ("height", "width", "side"), [(220, 170, 128), (30, 60, 128), (60, 30, 256), (2200, 1700, 512)]
)
def test_uint8_resampling_stays_within_one_level_of_the_float_path(pad_how, height, width, side):
    config = PreprocessConfig(pad_color=(1.0, 0.5, 0.25), pad_how=pad_how)
    image = np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)
    exact = render_square(image, side, config)
    fast = render_square(image, side, config, uint8=True)
    assert fast.dtype == torch.float32 and fast.shape == exact.shape == (3, side, side)
    difference = (fast - exact).abs()
    assert float(difference.max()) <= 1.5 / 255  # rounded to uint8 after each axis (noise: the worst case)
    assert 0 < float(difference.mean()) < 0.5 / 255  # a different computation, not the float path again
    sized = PreprocessConfig(infer_length=side, pad_color=config.pad_color, pad_how=pad_how)
    single, view = render_page(image, sized, uint8=True)
    assert torch.equal(single[:, :, :side], fast) and view == page_view(height, width, sized)


def test_uint8_resampling_falls_back_for_strips_windows_and_keeps_training_exact():
    config = PreprocessConfig()
    strip = np.random.default_rng(2).integers(0, 256, (3, 40, 3), dtype=np.uint8)  # square 1,600 > 4 x 120 pixels
    assert torch.equal(render_square(strip, 64, config, uint8=True), render_square(strip, 64, config))
    page = np.random.default_rng(3).integers(0, 256, (90, 70, 3), dtype=np.uint8)
    window = (8, 4, 40, 30)
    assert torch.equal(
        render_square(page, 64, config, uint8=True, window=window), render_square(page, 64, config)[:, 4:30, 8:40]
    )
    assert torch.equal(render_page(page, config)[0], render_page(page, config, uint8=False)[0])


def test_uint8_inputs_are_channels_last_and_stay_so_in_their_batch():
    # The uint8 resize writes channels-last floats and stack_inputs keeps that layout, so the detector
    # (channels-last on CPU) does not transpose the batch again; values are those of a plain stack.
    config = PreprocessConfig(pad_color=(0.9, 0.5, 0.1))
    rng = np.random.default_rng(5)
    pages = [rng.integers(0, 256, (70, 50, 3), dtype=np.uint8) for _ in range(3)]
    inputs = [render_square(page, 64, config, uint8=True) for page in pages]
    assert all(image.shape == (3, 64, 64) and image.permute(1, 2, 0).is_contiguous() for image in inputs)
    batch = stack_inputs(inputs)
    assert batch.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(batch, torch.stack(inputs))
    one = stack_inputs(inputs[:1])
    assert one.shape == (1, 3, 64, 64) and one.data_ptr() == inputs[0].data_ptr()  # a view, no copy
    mixed = [inputs[0], render_square(pages[1], 64, config)]  # the float path is contiguous
    assert torch.equal(stack_inputs(mixed), torch.stack(mixed))
    with pytest.raises(ValueError, match="no detector inputs"):
        stack_inputs([])


@pytest.mark.parametrize("uint8", [False, True])
def test_read_only_pages_are_read_in_place_without_a_warning(uint8):
    config = PreprocessConfig(pad_color=(0.2, 0.4, 0.6))
    page = np.random.default_rng(4).integers(0, 256, (50, 40, 3), dtype=np.uint8)
    frozen = page.copy()
    frozen.flags.writeable = False  # as np.asarray of a PIL image
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read = render_square(frozen, 32, config, uint8=uint8)
    assert torch.equal(read, render_square(page, 32, config, uint8=uint8))
    assert np.array_equal(frozen, page)


def test_tiles_cover_the_page_with_overlap_and_mark_cut_edges():
    config = PreprocessConfig(infer_length=256)
    options = ScaleOptions(mode="tiled", zoom=2.0, max_upscale=4.0, overlap=0.25)
    views = tile_views(1000, 700, config, options)  # rendered at 512: page 512 × 358 → 3 × 2 tiles
    assert len(views) == 6 and all(v.tiled for v in views)
    xs = sorted({v.offset_x for v in views})
    ys = sorted({v.offset_y for v in views})
    assert xs[0] == 0 and ys[0] == 0
    side = views[0].scale * 256  # a tile's side in original pixels
    assert xs[-1] + side >= 700 - 1e-6 and ys[-1] + side >= 1000 - 1e-6  # the page is covered
    assert all(b - a <= side * 0.75 + 1e-6 for a, b in zip(ys, ys[1:]))  # neighbours overlap by ≥ 25 %
    corner = next(v for v in views if v.offset_x == 0 and v.offset_y == 0)
    assert corner.cut_edges == (False, False, True, True)


def test_tiling_is_skipped_when_it_gains_nothing():
    config = PreprocessConfig(infer_length=256)
    options = ScaleOptions(mode="tiled", max_upscale=1.0)
    assert tile_views(200, 200, config, options) == []  # already upscaled by the single view
    inputs, views = render_views(np.zeros((200, 200, 3), dtype=np.uint8), config, options)
    assert len(inputs) == 1 and not views[0].tiled


def test_render_views_puts_the_single_view_first():
    config = PreprocessConfig(infer_length=128)
    inputs, views = render_views(np.zeros((300, 200, 3), dtype=np.uint8), config, ScaleOptions(mode="tiled"))
    assert not views[0].tiled and all(v.tiled for v in views[1:]) and len(views) > 1
    assert all(t.shape == (3, 128, 128) for t in inputs)


def test_touches_cut_edge():
    view = DetectorView(scale=1.0, offset_x=0, offset_y=0, height=100, width=100, cut_edges=(False, False, True, False))
    quads = torch.tensor(
        [[[1.0, 1.0], [20.0, 1.0], [20.0, 10.0], [1.0, 10.0]], [[80.0, 1.0], [99.0, 1.0], [99.0, 10.0], [80.0, 10.0]]]
    )
    assert view.touches_cut_edge(quads, margin=4.0).tolist() == [False, True]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "pyramid"},
        {"zoom": 0.5},
        {"overlap": 0.95},
        {"duplicate_overlap": 0.0},
        {"edge_margin": -1.0},
        {"infer_length": 100},
        {"infer_length": 32},
        {"infer_length": 512.0},
        {"infer_length": True},
    ],
)
def test_scale_options_reject_bad_values(kwargs):
    with pytest.raises(ValueError, match="ScaleOptions"):
        ScaleOptions(**kwargs)


def test_scale_options_infer_length_replaces_the_model_side():
    config = PreprocessConfig(infer_length=256)
    assert ScaleOptions().preprocess(config) is config
    bigger = ScaleOptions(infer_length=384).preprocess(config)
    assert bigger.infer_length == 384 and bigger.pad_how == config.pad_how
    inputs, views = render_views(np.zeros((300, 200, 3), dtype=np.uint8), bigger, ScaleOptions())
    assert inputs[0].shape == (3, 384, 384) and views[0].scale == pytest.approx(300 / 384)


# ----------------------------------------------------------------------------------------------------------------
# Assembly


def _box(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def _quad(x0, y0, x1, y1):
    return tuple((float(x), float(y)) for x, y in _box(x0, y0, x1, y1))


def _readings(texts, boxes, detection, text_conf, groups, **kwargs):
    return PageReadings(
        texts=texts,
        quads=np.array([_box(*b) for b in boxes], dtype=np.float32).reshape(-1, 4, 2),
        detection_confidence=np.array(detection, dtype=np.float32),
        text_confidence=np.array(text_conf, dtype=np.float32),
        groups=groups,
        width=kwargs.pop("width", 200),
        height=kwargs.pop("height", 100),
        **kwargs,
    )


def test_assemble_validity_boxes_confidences_and_graph_order():
    readings = _readings(
        texts=["world", "Hello", "again", ""],
        boxes=[(60, 10, 100, 20), (10, 10, 50, 20), (10, 30, 50, 42), (60, 30, 70, 42)],
        detection=[0.9, 0.8, 0.9, 0.9],
        text_conf=[0.9, 1.0, 0.3, 0.9],
        groups=[[[1, 0], [2, 3]]],
        index=3,
        timings={"detect": 0.5},
    )
    page = assemble_page(readings)
    assert (page.width, page.height, page.index, page.timings) == (200, 100, 3, {"detect": 0.5})
    (paragraph,) = page.paragraphs
    first, second = paragraph.lines
    assert [w.text for w in first.words] == ["Hello", "world"]  # the graph's order, not the input order
    assert [w.order for w in first.words] == [0, 1] and [line.order for line in paragraph.lines] == [0, 1]
    hello = first.words[0]
    assert hello.confidence == pytest.approx(2 / (1 / 0.8 + 1 / 1.0))
    assert (hello.detection_confidence, hello.text_confidence, hello.valid) == (pytest.approx(0.8), 1.0, True)
    again, empty = second.words
    assert not again.valid  # f(0.9, 0.3) = 0.45 ≤ 0.5
    assert not empty.valid  # no text
    assert first.quad == ((10, 10), (100, 10), (100, 20), (10, 20))
    assert first.confidence == pytest.approx((hello.confidence + first.words[1].confidence) / 2)
    assert paragraph.quad == ((10, 10), (100, 10), (100, 42), (10, 42))
    assert paragraph.confidence == pytest.approx((first.confidence + second.confidence) / 2)
    assert page.text() == "Hello world\nagain"


def test_assemble_prunes_paragraphs_without_a_valid_word():
    readings = _readings(
        texts=["good", "bad", ""],
        boxes=[(10, 10, 50, 20), (10, 50, 50, 60), (60, 50, 90, 60)],
        detection=[0.9, 0.9, 0.9],
        text_conf=[0.9, 0.1, 0.9],
        groups=[[[0]], [[1, 2]]],
    )
    assert [p.text for p in assemble_page(readings).paragraphs] == ["good"]
    kept = assemble_page(readings, options=AssemblyOptions(include_invalid=True))
    assert [p.text for p in kept.paragraphs] == ["good", "bad"]


def test_a_word_is_valid_above_the_threshold_of_the_options():
    readings = _readings(
        texts=["sure", "maybe"],
        boxes=[(10, 10, 50, 20), (60, 10, 100, 20)],
        detection=[0.9, 0.9],
        text_conf=[0.9, 0.3],  # overall confidences 0.9 and 0.45
        groups=[[[0, 1]]],
    )
    flags = {None: [True, False], 0.5: [True, False], 0.4: [True, True], 0.9: [False, False]}
    for threshold, expected in flags.items():
        page = assemble_page(readings, options=AssemblyOptions(include_invalid=True, valid_confidence=threshold))
        assert [w.valid for w in page.words] == expected, threshold
    for bad in (1.0, -0.1, True, "0.3"):
        with pytest.raises(ValueError, match="valid_confidence"):
            AssemblyOptions(valid_confidence=bad)


def test_assemble_keeps_regions_missing_from_the_grouping():
    readings = _readings(
        texts=["a", "b", "c"],
        boxes=[(10, 10, 20, 20), (30, 10, 40, 20), (10, 40, 20, 50)],
        detection=[0.9] * 3,
        text_conf=[0.9] * 3,
        groups=[[[0, 0, 1]]],  # index 2 missing, index 0 repeated
    )
    page = assemble_page(readings)
    assert [[w.text for w in line.words] for line in page.lines] == [["a", "b"], ["c"]]
    no_relations = assemble_page(_readings(["x", "y"], [(50, 0, 60, 9), (0, 0, 9, 9)], [0.9] * 2, [0.9] * 2, None))
    assert [p.text for p in no_relations.paragraphs] == ["y", "x"]  # one paragraph per word, read left to right


def _title_linked_past_a_paragraph():
    # Title, a two-line paragraph, then another two-line paragraph; the graph wrongly continues the title with the
    # first line of the second paragraph (and the first line of paragraph one is read after its second line).
    return _readings(
        texts=["Title", "one", "two", "Three", "Four"],  # capitals: "Four" does not continue "Three"'s paragraph
        boxes=[(10, 0, 90, 10), (10, 20, 90, 30), (10, 34, 90, 44), (10, 60, 90, 70), (10, 74, 90, 84)],
        detection=[0.9] * 5,
        text_conf=[0.9] * 5,
        groups=[[[0], [3]], [[1], [2]], [[4]]],
    )


def test_assemble_orders_lines_and_splits_paragraphs_that_disagree():
    page = assemble_page(_title_linked_past_a_paragraph())
    assert page.text() == "Title\n\none\ntwo\n\nThree\n\nFour"
    assert [line.order for p in page.paragraphs for line in p.lines] == [0, 0, 1, 0, 0]
    assert [p.order for p in page.paragraphs] == [0, 1, 2, 3]
    assert page.paragraphs[1].quad == ((10, 20), (90, 20), (90, 44), (10, 44))
    # The graph's paragraphs kept whole and placed as blocks: the title's paragraph spans the first one, so it is
    # read first, with "Three" right after the title.
    whole = assemble_page(_title_linked_past_a_paragraph(), options=AssemblyOptions(order="paragraphs"))
    assert whole.text() == "Title\nThree\n\none\ntwo\n\nFour"


def test_assemble_lines_order_keeps_paragraphs_read_in_graph_order():
    # Two text columns (a gutter of 7 % of their width), each one paragraph of two lines: nothing to split.
    readings = _readings(
        texts=["a", "b", "c", "d"],
        boxes=[(0, 0, 90, 10), (0, 14, 90, 24), (96, 0, 186, 10), (96, 14, 186, 24)],
        detection=[0.9] * 4,
        text_conf=[0.9] * 4,
        groups=[[[2], [3]], [[0], [1]]],
    )
    page = assemble_page(readings)
    assert [[line.text for line in p.lines] for p in page.paragraphs] == [["a", "b"], ["c", "d"]]
    # A paragraph whose graph order runs upwards is split into lines read top to bottom.
    upwards = replace(readings, groups=[[[1], [0]], [[2], [3]]])
    assert [[line.text for line in p.lines] for p in assemble_page(upwards).paragraphs] == [["a"], ["b"], ["c", "d"]]


def _key_value_block():
    # A title over a key-value block: labels in one column, values in another, a wide gutter between them.
    rows = [  # (top, x spans of the row's words)
        (20, [(0, 30), (32, 60), (100, 110), (112, 125), (127, 135)]),
        (36, [(0, 50), (100, 112), (114, 135), (137, 170)]),
        (52, [(0, 35), (100, 112)]),
    ]
    return _readings(
        texts=["Opening", "hours:", "9", "to", "6", "Address:", "14", "Mill", "Street", "Staff:", "12", "Title"],
        boxes=[(x0, top, x1, top + 10) for top, spans in rows for x0, x1 in spans] + [(0, 0, 170, 12)],
        detection=[0.9] * 12,
        text_conf=[0.9] * 12,
        # The relational model leaves every cell a line of its own; the labels happen to form one paragraph.
        groups=[[[0, 1], [5], [9]], [[2, 3, 4]], [[6, 7, 8]], [[10]], [[11]]],
    )


def test_assemble_reads_a_key_value_block_by_rows():
    page = assemble_page(_key_value_block())
    assert page.text() == "Title\n\nOpening hours: 9 to 6\nAddress: 14 Mill Street\nStaff: 12"
    table = page.paragraphs[1]
    assert [line.order for line in table.lines] == [0, 1, 2]
    assert [w.order for w in table.lines[0].words] == [0, 1, 2, 3, 4]
    assert table.lines[1].quad == ((0, 36), (170, 36), (170, 46), (0, 46))
    # Without table detection the columns are read whole, as text columns are.
    columns = assemble_page(_key_value_block(), options=AssemblyOptions(table_gap=None))
    assert columns.text() == "Title\n\nOpening hours:\nAddress:\nStaff:\n\n9 to 6\n\n14 Mill Street\n\n12"
    # Paragraph-level assembly places whole paragraphs, which may be side by side in any layout: no tables there.
    whole = assemble_page(_key_value_block(), options=AssemblyOptions(order="paragraphs"))
    assert whole.text().startswith("Title\n\nOpening hours:\nAddress:\nStaff:")


def test_reading_order_tables_by_rows_text_columns_whole():
    table = np.array([[0, 0, 40, 10], [70, 0, 100, 10], [0, 14, 30, 24], [70, 14, 90, 24]], dtype=float)
    assert reading_order(table, table_gap=0.15) == [0, 1, 2, 3]
    assert reading_order(table) == [0, 2, 1, 3]  # off by default
    # Text columns with lines on the same baselines: a gutter of a few percent of the column width.
    text = np.array([[0, 0, 90, 10], [96, 0, 186, 10], [0, 14, 90, 24], [96, 14, 186, 24]], dtype=float)
    assert reading_order(text, table_gap=0.15) == [0, 2, 1, 3]
    # Columns with different numbers of lines, or rows that do not line up, are not a table.
    uneven = np.array([[0, 0, 40, 10], [70, 0, 100, 10], [0, 14, 30, 24]], dtype=float)
    assert reading_order(uneven, table_gap=0.15) == [0, 2, 1]
    shifted = np.array([[0, 0, 40, 10], [70, 6, 100, 16], [0, 14, 30, 24], [70, 22, 90, 32]], dtype=float)
    assert reading_order(shifted, table_gap=0.15) == [0, 2, 1, 3]


def test_reading_order_tables_with_cells_of_several_lines():
    # A price list: the first description wraps onto a second line that has nothing beside it.
    boxes = [[0, 0, 60, 10], [0, 13, 55, 23], [0, 30, 40, 40], [100, 0, 130, 10], [100, 30, 125, 40]]
    table = np.array(boxes, dtype=float)
    assert reading_order(table, table_gap=0.15) == [0, 1, 3, 2, 4]  # row 1: both lines of the cell, then the price
    # A continuation more than a line height below the line above it is not a table.
    gapped = table.copy()
    gapped[1] = [0, 22, 55, 32]
    gapped[2] = [0, 36, 40, 46]
    gapped[4] = [100, 36, 125, 46]
    assert reading_order(gapped, table_gap=0.15) == [0, 1, 2, 3, 4]
    # A line above every line of the other column (a heading, or a cell whose price sits on its second line) is
    # read first, the rest row by row: both readings give this order.
    leading = np.array([[0, 0, 60, 10], [0, 13, 55, 23], [100, 13, 130, 23], [0, 30, 40, 40], [100, 30, 125, 40]])
    assert reading_order(leading.astype(float), table_gap=0.15) == [0, 1, 2, 3, 4]
    # Four lines beside one are a paragraph beside a margin note, read column by column.
    note = np.array(
        [[0, 0, 40, 10]] + [[100, 13 * k, 300, 13 * k + 10] for k in range(4)] + [[0, 60, 40, 70], [100, 60, 300, 70]],
        dtype=float,
    )
    assert reading_order(note, table_gap=0.15) == [0, 5, 1, 2, 3, 4, 6]


def test_reading_order_reads_a_table_between_the_lines_above_and_below_it():
    # A key-value block (keys at x 20-60, values at x 100-200) closed by a brace set left of the keys (x 0-8),
    # then a heading in the keys' column and a page number under the values: the brace and the heading are
    # below every line of the other columns, so the keys and values are still read row by row, then those lines.
    rows = [[20, 14 * k, 60, 14 * k + 10] for k in range(3)] + [[100, 14 * k, 200, 14 * k + 10] for k in range(3)]
    brace, heading, number = [0, 44, 8, 54], [20, 70, 58, 80], [140, 96, 150, 106]
    boxes = np.array([*rows, brace, heading, number], dtype=float)
    assert reading_order(boxes, table_gap=0.15) == [0, 3, 1, 4, 2, 5, 6, 7, 8]
    assert reading_order(boxes) == [6, 0, 1, 2, 7, 3, 4, 5, 8]  # tables off: columns whole, brace first
    # A line above everything else of the block, left of it, is read before the rows.
    opening = np.array([[0, -16, 8, -6], *rows], dtype=float)
    assert reading_order(opening, table_gap=0.15) == [0, 1, 4, 2, 5, 3, 6]


def test_reading_order_reads_ragged_keys_by_rows_across_a_narrow_gap():
    # Keys 40 to 100 wide (the longest ends at 100), values from 110: a gap of 10, under 15 % of the keys' column
    # but the keys are ragged (median width 50 of 100), so the block is still read by rows.
    widths = [40, 50, 100, 45, 60]
    keys = [[0, 14 * k, w, 14 * k + 10] for k, w in enumerate(widths)]
    values = [[110, 14 * k, 300, 14 * k + 10] for k in range(5)]
    boxes = np.array(keys + values, dtype=float)
    assert reading_order(boxes, table_gap=0.15) == [0, 5, 1, 6, 2, 7, 3, 8, 4, 9]
    # Justified text columns with the same gap (every line fills its column) are read column by column.
    text = np.array([[0, 14 * k, 100, 14 * k + 10] for k in range(5)] + values, dtype=float)
    assert reading_order(text, table_gap=0.15) == list(range(10))
    # So is a gap narrower than half of table_gap's share, however ragged the keys.
    close = boxes.copy()
    close[5:, 0] = 105
    assert reading_order(close, table_gap=0.15) == list(range(10))


def test_reading_order_reads_a_table_with_empty_cells_by_rows():
    # A table of symbols: codes at x 0-40, a mark in a sparse column at x 80-90 on rows 0 and 2 only, names at
    # x 130-230 on every row. Read row by row, the sparse column's marks in their rows.
    codes = [[0, 20 * r, 40, 20 * r + 10] for r in range(4)]
    marks = [[80, 0, 90, 10], [80, 40, 90, 50]]
    names = [[130, 20 * r, 230, 20 * r + 10] for r in range(4)]
    boxes = np.array(codes + marks + names, dtype=float)
    assert reading_order(boxes, table_gap=0.15) == [0, 4, 6, 1, 7, 2, 5, 8, 3, 9]
    # Row labels wider than a quarter of the table (a text column beside a glossary) give no rows.
    wide = boxes.copy()
    wide[:4, 2] = 100
    wide[4:6] += [[70, 0, 70, 0]]
    wide[6:] += [[120, 0, 120, 0]]
    assert reading_order(wide, table_gap=0.15) == list(range(10))
    # A mark between two rows lines up with none of them: no table.
    between = boxes.copy()
    between[5] = [80, 30, 90, 40]
    assert reading_order(between, table_gap=0.15) == list(range(10))


def test_reading_order_tables_take_two_pieces_of_one_row_as_one_cell():
    # A numbered code listing: line numbers at x 0-10, code from x 40; the relational model split the second code
    # line at a wide space into two pieces on one row. The listing is still read row by row, pieces left to right.
    numbers = [[0, 14 * k, 10, 14 * k + 10] for k in range(3)]
    code = [[40, 0, 200, 10], [150, 14, 260, 24], [40, 14, 120, 24], [40, 28, 180, 38]]
    boxes = np.array(numbers + code, dtype=float)
    assert reading_order(boxes, table_gap=0.15) == [0, 3, 1, 5, 4, 2, 6]


def test_reading_order_reads_margin_notes_beside_the_line_they_stand_at():
    # A code listing of eight lines (x 50-300) with two margin notes left of it (x 0-44, 0.6 line heights away)
    # beside its third and seventh lines: each note is read just before its line, not all notes first.
    body = [[50, 14 * k, 300, 14 * k + 10] for k in range(8)]
    notes = [[0, 28, 44, 38], [0, 84, 44, 94]]
    boxes = np.array(body + notes, dtype=float)
    assert reading_order(boxes, table_gap=0.15) == [0, 1, 8, 2, 3, 4, 5, 9, 6, 7]
    assert reading_order(boxes) == [8, 9, *range(8)]  # table_gap None: columns whole
    # Notes right of the column (a right margin) go the same way.
    right = np.array(body + [[306, 28, 350, 38]], dtype=float)
    assert reading_order(right, table_gap=0.15) == [0, 1, 8, 2, 3, 4, 5, 6, 7]
    # Labels further off (an equation number, a figure's labels: 3 line heights away) stay a column of their own;
    # so does a column with more than a quarter of the lines beside it.
    far = boxes.copy()
    far[8:, 2] = 20
    assert reading_order(far, table_gap=0.15) == [8, 9, *range(8)]
    many = np.array(body + [[0, 14 * k, 44, 14 * k + 10] for k in (0, 2, 4)], dtype=float)
    assert reading_order(many, table_gap=0.15) == [8, 9, 10, *range(8)]


def _price_list():
    return _readings(
        texts=["Garden", "chair,", "folding", "2", "Table", "4"],
        boxes=[
            (0, 0, 30, 10),
            (32, 0, 60, 10),
            (0, 13, 55, 23),
            (100, 0, 110, 10),
            (0, 30, 40, 40),
            (100, 30, 110, 40),
        ],
        detection=[0.9] * 6,
        text_conf=[0.9] * 6,
        groups=[[[0, 1], [2]], [[3]], [[4]], [[5]]],
    )


def test_assemble_reads_a_wrapped_cell_with_its_row():
    page = assemble_page(_price_list())
    assert page.text() == "Garden chair, folding 2\nTable 4"
    assert page.paragraphs[0].lines[0].quad == ((0, 0), (110, 0), (110, 23), (0, 23))


def _justified_column_with_a_broken_row():
    # A wide paragraph over a narrow column (tesseract-test 8087_054.3B): the relational model left the end of the
    # paragraph's last row ("weath-") a paragraph of its own, 1.2 heights right of the row's start.
    return _readings(
        texts=["wide line one", "Adriatic below", "weath-", "ered time", "that historians"],
        boxes=[(0, 0, 200, 10), (0, 13, 90, 23), (102, 13, 200, 23), (0, 26, 90, 36), (0, 39, 88, 49)],
        detection=[0.9] * 5,
        text_conf=[0.9] * 5,
        groups=[[[0], [1]], [[3], [4]], [[2]]],
    )


def test_assemble_joins_the_pieces_of_a_broken_row():
    page = assemble_page(_justified_column_with_a_broken_row())
    assert page.text() == "wide line one\nAdriatic below weath-\n\nered time\nthat historians"
    joined = page.paragraphs[0].lines[1]
    assert [w.text for w in joined.words] == ["Adriatic", "below", "weath-"] or joined.text == "Adriatic below weath-"
    assert joined.quad == ((0, 13), (200, 13), (200, 23), (0, 23))
    # Without the join the piece is a column of its own, read after the narrow column below it.
    apart = assemble_page(_justified_column_with_a_broken_row(), options=AssemblyOptions(join_gap=None))
    assert apart.text().endswith("that historians\n\nweath-")
    # A gap wider than join_gap line heights stays open.
    assert assemble_page(_justified_column_with_a_broken_row(), options=AssemblyOptions(join_gap=1.0)).text() == (
        apart.text()
    )


def test_assemble_does_not_join_lines_across_a_gutter():
    # Two columns whose rows line up, gutter 1.2 heights: no line above or below runs across it.
    readings = _readings(
        texts=["a", "b", "c", "d"],
        boxes=[(0, 0, 90, 10), (0, 13, 90, 23), (102, 0, 190, 10), (102, 13, 190, 23)],
        detection=[0.9] * 4,
        text_conf=[0.9] * 4,
        groups=[[[0], [1]], [[2], [3]]],
    )
    assert assemble_page(readings).text() == "a\nb\n\nc\nd"
    # A title right above the columns runs across the gutter, but the rows below it keep it open: still columns.
    titled = _readings(
        texts=["Title", "a", "b", "c", "d"],
        boxes=[(0, -14, 190, -4), (0, 0, 90, 10), (0, 13, 90, 23), (102, 0, 190, 10), (102, 13, 190, 23)],
        detection=[0.9] * 5,
        text_conf=[0.9] * 5,
        groups=[[[0]], [[1], [2]], [[3], [4]]],
    )
    assert "a c" not in assemble_page(titled).text()


def _two_columns_linked_across_the_gutter(gutter: float = 25.0):
    # Two text columns 200 wide (the gutter under table_gap's 15 % of a column), three rows, words 10 high; the
    # relational model linked the last word of the left column's second row to the right column's second row
    # (DocBank page 1: "afterglow" -> "most particles").
    right = 200 + gutter
    left_rows = [[(0, 14 * r, 95, 14 * r + 10), (100, 14 * r, 200, 14 * r + 10)] for r in range(3)]
    right_rows = [
        [(right, 14 * r, right + 95, 14 * r + 10), (right + 100, 14 * r, right + 200, 14 * r + 10)] for r in range(3)
    ]
    boxes = [b for row in left_rows for b in row] + [b for row in right_rows for b in row]
    texts = ["l0a", "l0b", "l1a", "l1b", "l2a", "l2b", "r0a", "r0b", "r1a", "r1b", "r2a", "r2b"]
    return _readings(
        texts=texts,
        boxes=boxes,
        detection=[0.9] * 12,
        text_conf=[0.9] * 12,
        groups=[[[0, 1], [2, 3, 8, 9], [4, 5]], [[6, 7], [10, 11]]],
        width=500,
    )


def test_assemble_splits_a_line_across_a_gutter():
    page = assemble_page(_two_columns_linked_across_the_gutter())
    # The right piece is a paragraph of its own, read in its column's place.
    assert page.text() == "l0a l0b\nl1a l1b\nl2a l2b\n\nr0a r0b\n\nr1a r1b\n\nr2a r2b"
    right_piece = [line for paragraph in page.paragraphs for line in paragraph.lines if line.text == "r1a r1b"]
    assert [w.order for w in right_piece[0].words] == [0, 1]
    assert right_piece[0].quad == ((225, 14), (425, 14), (425, 24), (225, 24))
    # Without the split the linked row drags the right column's second row into the left column.
    joined = assemble_page(_two_columns_linked_across_the_gutter(), options=AssemblyOptions(split_gap=None))
    assert "l1a l1b r1a r1b" in joined.text()
    # A gap of at most split_gap heights is a wide space inside a line, not a gutter: kept.
    narrow = assemble_page(_two_columns_linked_across_the_gutter(gutter=11.0))
    assert "l1a l1b r1a r1b" in narrow.text()


def test_assemble_splits_at_a_gutter_only_when_the_rows_above_and_below_show_it():
    # As above, but the right column ends at the linked row: the row below has text left of the gap only, so the
    # gap is not shown to be a gutter there and the line is kept.
    readings = _two_columns_linked_across_the_gutter()
    kept = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]  # without r2a, r2b
    short = replace(
        readings,
        texts=[readings.texts[i] for i in kept],
        quads=readings.quads[kept],
        detection_confidence=readings.detection_confidence[kept],
        text_confidence=readings.text_confidence[kept],
        groups=[[[0, 1], [2, 3, 8, 9], [4, 5]], [[6, 7]]],
    )
    assert "l1a l1b r1a r1b" in assemble_page(short).text()


def test_assemble_keeps_a_wide_gap_that_rows_around_it_cross():
    # One column whose rows run across the place of the gap: a tab stop inside a line, not a gutter.
    readings = _readings(
        texts=["above the gap", "key", "value", "below the gap"],
        boxes=[(0, 0, 200, 10), (0, 14, 40, 24), (120, 14, 200, 24), (0, 28, 200, 38)],
        detection=[0.9] * 4,
        text_conf=[0.9] * 4,
        groups=[[[0], [1, 2], [3]]],
    )
    assert assemble_page(readings).text() == "above the gap\nkey value\nbelow the gap"


def test_reading_order_sets_aside_a_caption_across_the_gutter():
    # Two columns (x 0-100 and 110-210), rows 10 high; from the third row on, a narrow caption (x 90-130) sits
    # across the gutter between them: the left column is still read whole before the right one.
    left = [[0, 14 * r, 100, 14 * r + 10] for r in range(5)]
    right = [[110, 14 * r, 210, 14 * r + 10] for r in range(5)]
    caption = [[90, 30, 130, 38]]
    boxes = np.array(left + right + caption, dtype=float)
    # (Without the rule the caption's rows cannot join the first two: [0, 1, 5, 6] would be read first.)
    assert reading_order(boxes) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    # A narrow heading alone on its row is not an intruder: it stays a band of its own, read before the columns.
    heading = np.array([[90, -20, 130, -10]] + left + right, dtype=float)
    assert reading_order(heading) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    # A wide box across the gutter is a full-width line, not an intruder: rows above and below stay apart.
    wide = np.array(left[:2] + right[:2] + [[0, 28, 210, 38]] + left[3:] + right[3:], dtype=float)
    assert reading_order(wide) == [0, 1, 2, 3, 4, 5, 6, 7, 8]


def test_assembly_options_reject_an_unknown_order():
    with pytest.raises(ValueError, match="order"):
        AssemblyOptions(order="columns")
    with pytest.raises(ValueError, match="join_gap"):
        AssemblyOptions(join_gap=-1.0)
    with pytest.raises(ValueError, match="table_gap"):
        AssemblyOptions(table_gap=-1.0)
    with pytest.raises(ValueError, match="split_gap"):
        AssemblyOptions(split_gap=-1.0)


def test_assemble_empty_page():
    page = assemble_page(_readings([], [], [], [], []))
    assert page.paragraphs == () and page.text() == ""


def test_page_readings_check_shapes():
    with pytest.raises(ValueError, match="quads"):
        PageReadings(["a"], np.zeros((2, 4, 2)), np.zeros(1), np.zeros(1), None, 10, 10)


# ----------------------------------------------------------------------------------------------------------------
# Reading order


def test_reading_order_two_columns_between_title_and_footer():
    boxes = np.array(
        [
            [0, 0, 200, 10],  # 0 title, full width
            [110, 20, 200, 50],  # 1 right column, first paragraph
            [0, 20, 90, 50],  # 2 left column, first paragraph
            [0, 60, 90, 90],  # 3 left column, second paragraph: its gap lines up with the right column's
            [110, 60, 200, 90],  # 4 right column, second paragraph
            [0, 100, 200, 110],  # 5 footer
        ],
        dtype=float,
    )
    assert reading_order(boxes) == [0, 2, 3, 1, 4, 5]


def test_reading_order_continues_a_column_below_the_other_one_ending():
    boxes = np.array([[0, 0, 90, 40], [110, 0, 200, 40], [0, 50, 90, 90]], dtype=float)
    assert reading_order(boxes) == [0, 2, 1]


def test_reading_order_single_column_and_overlaps():
    column = np.array([[0, 30, 50, 40], [0, 0, 80, 10], [0, 15, 60, 25]], dtype=float)
    assert reading_order(column) == [1, 2, 0]
    overlapping = np.array([[10, 5, 60, 30], [0, 0, 50, 20], [40, 10, 90, 40]], dtype=float)
    assert reading_order(overlapping) == [1, 0, 2]  # no gap anywhere: top edge, then left edge


def test_reading_order_tolerance_absorbs_small_overlaps():
    boxes = np.array([[0, 0, 100, 12], [0, 10, 45, 30], [55, 10, 100, 30]], dtype=float)
    assert reading_order(boxes) == [0, 1, 2]
    assert reading_order(boxes, tolerance=3) == [0, 1, 2]
    columns = np.array([[0, 0, 52, 50], [50, 0, 100, 50]], dtype=float)  # 2 px overlap between the columns
    assert reading_order(columns, tolerance=3) == [0, 1]


# ----------------------------------------------------------------------------------------------------------------
# Merging views


def _quads(*boxes):
    return torch.tensor([_box(*b) for b in boxes], dtype=torch.float32)


def test_select_prefers_uncut_then_tiled_then_confident():
    quads = _quads((0, 0, 100, 10), (0, 0, 60, 10), (0, 0, 100, 10), (200, 0, 260, 10))
    keep = select_view_detections(
        quads,
        torch.tensor([0.6, 0.99, 0.9, 0.5]),
        torch.tensor([1, 2, 0, 0]),
        tiled=torch.tensor([True, True, False, False]),
        cut=torch.tensor([False, True, False, False]),
        duplicate_overlap=0.5,
    )
    # 1 is a cut piece of 0; 2 is the single view's reading of the same word; 3 is elsewhere.
    assert keep.tolist() == [0, 3]


def test_select_never_merges_detections_of_one_view():
    quads = _quads((0, 0, 100, 10), (10, 0, 90, 10))
    keep = select_view_detections(
        quads,
        torch.tensor([0.9, 0.8]),
        torch.tensor([0, 0]),
        tiled=torch.tensor([False, False]),
        cut=torch.tensor([False, False]),
        duplicate_overlap=0.5,
    )
    assert keep.tolist() == [0, 1]
    none = select_view_detections(
        torch.zeros(0, 4, 2),
        torch.zeros(0),
        torch.zeros(0, dtype=torch.int64),
        tiled=torch.zeros(0, dtype=torch.bool),
        cut=torch.zeros(0, dtype=torch.bool),
        duplicate_overlap=0.5,
    )
    assert none.tolist() == []


# ----------------------------------------------------------------------------------------------------------------
# Tensor stages


@pytest.fixture(scope="module")
def model():
    return fake_model()


def _detector_input(model, boxes, size=(300, 400)):
    image = page_with_boxes(size[0], size[1], boxes)
    tensor, view = render_page(image, model.spec.preprocess)
    return tensor[None], view


def test_detect_finds_the_rectangles_in_detector_space(model):
    images, view = _detector_input(model, [(20, 20, 120, 60), (200, 150, 380, 200)])
    with torch.inference_mode():
        found = detect(model, images)
    assert found.region_counts.tolist() == [2] and found.confidence.min() > 0.99
    boxes = torch.cat([view.to_original(found.quads).amin(1), view.to_original(found.quads).amax(1)], 1)
    expected = torch.tensor([[20, 20, 120, 60], [200, 150, 380, 200]], dtype=torch.float32)
    assert torch.allclose(boxes, expected, atol=4 * view.scale)  # within one detector cell
    assert found.features.dtype == torch.float32 and found.features.shape[0] == 1
    assert found.image_indices.tolist() == [0, 0]


def test_detect_options_override_the_spec(model):
    images, _ = _detector_input(model, [(20, 20, 120, 60)])
    with torch.inference_mode():
        found = detect(model, images, options=DetectionOptions(prob_threshold=1.0))
    assert found.quads.shape == (0, 4, 2)  # no cell reaches probability 1
    with pytest.raises(ValueError, match="prob_threshold"):
        DetectionOptions(prob_threshold=2.0)


def test_detect_refines_the_prefiltered_quads_without_changing_the_regions(model):
    images, view = _detector_input(model, [(20, 20, 120, 60), (200, 150, 380, 200)])
    with torch.inference_mode():
        peaks = detect(model, images, options=DetectionOptions(use_prefilter=True, refine_quads=False))
        refined = detect(model, images, options=DetectionOptions(use_prefilter=True, refine_quads=True))
        full = detect(model, images, options=DetectionOptions(use_prefilter=False))
    assert refined.region_counts.tolist() == peaks.region_counts.tolist() == [2]
    assert torch.equal(refined.confidence, peaks.confidence)
    # The refined quads are those merged from every cell above the threshold.
    assert torch.allclose(refined.quads, full.quads)
    boxes = torch.cat([view.to_original(refined.quads).amin(1), view.to_original(refined.quads).amax(1)], 1)
    expected = torch.tensor([[20, 20, 120, 60], [200, 150, 380, 200]], dtype=torch.float32)
    assert torch.allclose(boxes, expected, atol=4 * view.scale)


def test_detect_refined_ends_keep_exact_boxes_and_are_off_in_published_specs(model):
    from textspotter.models.spec import PostprocessConfig

    assert PostprocessConfig().refine_ends is False
    images, view = _detector_input(model, [(20, 20, 120, 60), (200, 150, 380, 200)])
    with torch.inference_mode():
        plain = detect(model, images, options=DetectionOptions(refine_ends=False))
        ends = detect(model, images, options=DetectionOptions(refine_ends=True))
    assert ends.region_counts.tolist() == plain.region_counts.tolist() == [2]
    assert torch.equal(ends.confidence, plain.confidence)
    boxes = torch.cat([view.to_original(ends.quads).amin(1), view.to_original(ends.quads).amax(1)], 1)
    expected = torch.tensor([[20, 20, 120, 60], [200, 150, 380, 200]], dtype=torch.float32)
    assert torch.allclose(boxes, expected, atol=4 * view.scale)


def test_detect_merges_and_fills_only_where_needed_and_is_off_in_published_specs(model):
    from textspotter.models.spec import PostprocessConfig

    assert PostprocessConfig().fill_gaps is False and PostprocessConfig().merge_lines is False
    images, _ = _detector_input(model, [(20, 20, 120, 60), (200, 150, 380, 200)])
    with torch.inference_mode():
        plain = detect(model, images)
        filled = detect(model, images, options=DetectionOptions(merge_lines=True, fill_gaps=True))
        # The pre-filter keeps peaks only; with a threshold only the boxes' centre cells reach, the merged quads of
        # those cells still cover the map: nothing to add, the regions unchanged.
        assert torch.equal(filled.quads, plain.quads) and filled.region_counts.tolist() == [2]
        empty = detect(model, images, options=DetectionOptions(prob_threshold=1.0, fill_gaps=True))
    assert empty.region_counts.tolist() == [0]  # the map's threshold is the regions' threshold


def test_fill_gaps_restores_a_region_the_nms_lost(model, monkeypatch):
    from textspotter.pipeline import stages

    images, view = _detector_input(model, [(20, 20, 120, 60), (200, 150, 380, 200)])
    original = stages.quad_nms

    def lose_the_second(*args, **kwargs):  # an NMS that misses the second rectangle, as on long CJK lines
        quads, conf, counts = original(*args, **kwargs)
        return quads[:1], conf[:1], torch.tensor([1])

    monkeypatch.setattr(stages, "quad_nms", lose_the_second)
    with torch.inference_mode():
        lost = detect(model, images, options=DetectionOptions(refine_ends=False))
        filled = detect(model, images, options=DetectionOptions(refine_ends=False, fill_gaps=True))
    assert lost.region_counts.tolist() == [1] and filled.region_counts.tolist() == [2]
    box = torch.cat([view.to_original(filled.quads[1:]).amin(1), view.to_original(filled.quads[1:]).amax(1)], 1)
    # This fake's map covers whole boxes (a trained one stops short of the ends): the region reaches 0.3 heights past.
    assert torch.allclose(box, torch.tensor([[185.0, 150.0, 395.0, 200.0]]), atol=4 * view.scale)


def test_auto_precision_is_bf16_only_on_a_cpu_with_native_bfloat16(monkeypatch):
    from textspotter.pipeline import stages

    assert DetectionOptions().precision == RecognitionOptions().precision == "auto"
    for native in (True, False):
        monkeypatch.setattr(stages, "cpu_has_native_bf16", lambda native=native: native)
        assert stages.resolve_precision("cpu", "auto") == ("bf16" if native else "model")
        assert stages.resolve_precision("cuda", "auto") == "model"  # slower page at a time on a GPU
        assert stages.resolve_precision("cpu", "model") == "model"
        assert stages.resolve_precision("cuda", "bf16") == "bf16"
        assert stages.network_precision("cpu", "auto").fast_dtype == torch.bfloat16
        assert stages.network_precision("cpu", "auto")._enabled is native
    with pytest.raises(ValueError, match="precision"):
        DetectionOptions(precision="fp16")


def test_detect_under_bf16_finds_the_same_regions_and_returns_float32(model):
    images, _ = _detector_input(model, [(20, 20, 120, 60), (200, 150, 380, 200)])
    with torch.inference_mode():
        exact = detect(model, images, options=DetectionOptions(precision="model"))
        fast = detect(model, images, options=DetectionOptions(precision="bf16"))
    assert fast.region_counts.tolist() == exact.region_counts.tolist() == [2]
    assert fast.features.dtype == fast.quads.dtype == fast.confidence.dtype == torch.float32
    # bfloat16 keeps 8 bits of mantissa: geometry within a cell, features within a few per cent.
    assert torch.allclose(fast.quads, exact.quads, atol=4.0)
    assert (fast.features - exact.features).norm() <= 0.05 * exact.features.norm()
    assert next(model.parameters()).dtype == torch.float32  # autocast leaves the weights alone
    with pytest.raises(ValueError, match="precision"):
        DetectionOptions(precision="fp16")


def test_detect_batches_give_the_same_regions(model):
    first, _ = _detector_input(model, [(20, 20, 120, 60)])
    second, _ = _detector_input(model, [(50, 100, 300, 140), (50, 200, 200, 240)])
    images = torch.cat([first, second, first])
    with torch.inference_mode():
        together = detect(model, images, batch_size=3)
        apart = detect(model, images, batch_size=1)
    assert together.region_counts.tolist() == apart.region_counts.tolist() == [1, 2, 1]
    assert torch.allclose(together.quads, apart.quads, atol=1e-4)
    assert torch.allclose(together.features, apart.features, atol=1e-4)


def test_page_crop_rounds_out_to_the_stride_and_stays_inside():
    from textspotter.pipeline.stages import page_crop

    assert page_crop([(0, 0, 100, 60)], 256, 256) == (0, 0, 128, 64)
    assert page_crop([(0, 0, 100, 60), (40, 33, 130, 10)], 256, 256) == (0, 0, 160, 64)
    assert page_crop([(70, 250, 300, 300)], 256, 256) == (64, 224, 256, 256)
    assert page_crop([(0, 0, 1, 1)], 256, 256) == (0, 0, 32, 32)  # never empty


def test_detect_cropped_to_the_page_finds_the_same_regions(model):
    # A wide page: the bottom of the square input is padding.
    images, view = _detector_input(model, [(20, 20, 120, 60), (200, 150, 380, 200)], size=(220, 400))
    content = [view.content_box()]
    assert content[0][3] < images.shape[-2]
    with torch.inference_mode():
        full = detect(model, images, content=content, options=DetectionOptions(crop_to_page=False))
        cropped = detect(model, images, content=content)
    assert cropped.region_counts.tolist() == full.region_counts.tolist() == [2]
    assert torch.allclose(cropped.quads, full.quads, atol=4.0)
    assert cropped.features.shape == full.features.shape and cropped.input_size == full.input_size
    rows = -(-content[0][3] // 32) * 32 // 4  # feature rows computed; the rest was skipped and is zero
    assert cropped.features[..., rows:, :].abs().max() == 0 and cropped.features[..., :rows, :].abs().max() > 0
    with pytest.raises(ValueError, match="content holds"):
        detect(model, images, content=content * 2)
    # Written into a preallocated map (dirty, as a reused buffer would be): the same features, in that tensor.
    target = torch.full_like(full.features, 7.0)
    with torch.inference_mode():
        into = detect(model, images, content=content, features_out=target)
    assert into.features is target and torch.equal(target, cropped.features)
    with pytest.raises(ValueError, match="features_out holds"):
        detect(model, images, content=content, features_out=torch.cat([target, target]))


def test_uncrop_features_places_the_window_and_checks_the_target():
    from textspotter.pipeline.stages import uncrop_features

    window_map = torch.rand(2, 3, 5, 4, dtype=torch.bfloat16)
    placed = uncrop_features(window_map, (32, 8, 48, 28), 40, 64)  # cell 4: rows 2..7, columns 8..12 of 10 x 16
    assert placed.dtype == torch.float32 and placed.shape == (2, 3, 10, 16)
    assert torch.equal(placed[..., 2:7, 8:12], window_map.float()) and placed.sum() == window_map.float().sum()
    target = torch.full((2, 3, 10, 16), -1.0)
    assert uncrop_features(window_map, (32, 8, 48, 28), 40, 64, out=target) is target and torch.equal(target, placed)
    whole = torch.rand(1, 3, 10, 16)
    assert uncrop_features(whole, (0, 0, 64, 40), 40, 64) is whole  # float32 and the whole input: no copy
    with pytest.raises(ValueError, match="float32 map of shape"):
        uncrop_features(window_map, (32, 8, 48, 28), 40, 64, out=torch.zeros(2, 3, 10, 15))


def test_recognize_and_relate_on_given_quads(model):
    images, _ = _detector_input(model, [(20, 20, 120, 60), (140, 20, 240, 60), (20, 100, 200, 140)])
    with torch.inference_mode():
        found = detect(model, images)
        one_chunk = recognize(model, found.features, found.quads, found.image_indices, input_size=found.input_size)
        chunked = recognize(
            model,
            found.features,
            found.quads,
            found.image_indices,
            input_size=found.input_size,
            options=RecognitionOptions(chunk_size=1),
        )
        groups = relate(
            model,
            found.features,
            found.quads,
            found.image_indices,
            found.region_counts,
            one_chunk.features,
            input_size=found.input_size,
        )
    spec = model.spec.recognizer
    assert len(one_chunk.texts) == 3 and one_chunk.texts == chunked.texts
    assert torch.allclose(one_chunk.confidence, chunked.confidence, atol=1e-5)
    assert one_chunk.features.shape == (3, spec.max_width, spec.feature_depth)
    assert ((one_chunk.confidence >= 0) & (one_chunk.confidence <= 1)).all()
    (page_groups,) = groups
    assert sorted(i for paragraph in page_groups for line in paragraph for i in line) == [0, 1, 2]


def test_bucketed_recognize_decodes_each_bucket_as_the_padded_strips_would():
    # recognize decodes bucket by bucket over the columns read; the padded [N, T, V] logits of read_strips give the
    # same texts and confidences (padding is certain blanks), and the same features, in the quads' order.
    from textspotter.ops import calc_quad_width, decode_greedy
    from textspotter.pipeline.stages import read_strips

    torch.manual_seed(0)
    model = create_model("tiny-test")
    spec = model.spec
    model.recognizer.set_max_width(32, bucket_width=8)
    spec = replace(spec, recognizer=model.recognizer.config)
    model.spec = spec
    model.eval()
    features = torch.randn(2, spec.detector.feature_channels, 32, 64)
    quads = torch.tensor(
        [[[x, y], [x + w, y], [x + w, y + 8], [x, y + 8]] for x, y, w in [(4, 4, 60), (8, 20, 6), (30, 40, 20)]],
        dtype=torch.float32,
    )
    indices = torch.tensor([1, 0, 1])
    assert len(set(calc_quad_width(quads, 8, 8, 32).tolist())) == 3
    options = RecognitionOptions(crop_margin=0.0, lexicon=None, precision="model")
    with torch.inference_mode():
        read = recognize(model, features, quads, indices, input_size=(128, 256), options=options)
        logits, feats = read_strips(model.recognizer, features, quads, indices, input_size=(128, 256))
    texts, confidence = decode_greedy(
        logits.float(),
        spec.charset,
        mode=spec.postprocess.text_confidence,
        collapse_repeats=spec.recognizer.decoding == "ctc",
    )
    assert read.texts == texts and any(texts)  # random weights read something
    assert torch.allclose(read.confidence, confidence, atol=1e-6)
    assert torch.allclose(read.features, feats.float(), atol=1e-6)


def test_recognize_under_bf16_returns_float32_and_the_same_shapes(model):
    images, _ = _detector_input(model, [(20, 20, 120, 60), (140, 20, 240, 60)])
    with torch.inference_mode():
        found = detect(model, images)
        args = (model, found.features, found.quads, found.image_indices)
        exact = recognize(*args, input_size=found.input_size, options=RecognitionOptions(precision="model"))
        fast = recognize(*args, input_size=found.input_size, options=RecognitionOptions(precision="bf16"))
    assert len(fast.texts) == len(exact.texts) == 2
    assert fast.confidence.dtype == fast.features.dtype == torch.float32
    assert fast.features.shape == exact.features.shape
    assert (fast.features - exact.features).norm() <= 0.05 * exact.features.norm()
    with pytest.raises(ValueError, match="precision"):
        RecognitionOptions(precision="half")


def test_recognize_reads_the_quads_lengthened_by_the_crop_margin(model):
    images, _ = _detector_input(model, [(20, 20, 120, 60), (140, 20, 240, 60)])
    with torch.inference_mode():
        found = detect(model, images)
        args = (model, found.features, found.quads, found.image_indices)
        plain = recognize(*args, input_size=found.input_size, options=RecognitionOptions(crop_margin=0.0))
        wide = recognize(*args, input_size=found.input_size, options=RecognitionOptions(crop_margin=0.3))
        lengthened = recognize(
            model,
            found.features,
            extend_quads(found.quads, 0.3),
            found.image_indices,
            input_size=found.input_size,
            options=RecognitionOptions(crop_margin=0.0),
        )
    assert torch.equal(wide.features, lengthened.features) and wide.texts == lengthened.texts
    assert not torch.equal(wide.features, plain.features)
    assert RecognitionOptions().crop_margin == 0.0  # off by default: it hurt on the corpus pages
    with pytest.raises(ValueError, match="crop_margin"):
        RecognitionOptions(crop_margin=-0.1)


def test_recognize_and_relate_with_no_regions(model):
    features = torch.zeros(2, model.spec.detector.feature_channels, 64, 64)
    quads = torch.zeros(0, 4, 2)
    indices = torch.zeros(0, dtype=torch.int64)
    with torch.inference_mode():
        read = recognize(model, features, quads, indices, input_size=(256, 256))
        groups = relate(model, features, quads, indices, torch.tensor([0, 0]), read.features, input_size=(256, 256))
    assert read.texts == [] and read.confidence.shape == (0,)
    assert groups == [[], []]


def test_relate_chunks_keep_pages_whole_and_agree(model):
    images = torch.cat(
        [
            _detector_input(model, [(20, 20, 120, 60), (140, 20, 240, 60)])[0],
            _detector_input(model, [(20, 20, 120, 60), (20, 100, 200, 140), (220, 100, 380, 140)])[0],
        ]
    )
    with torch.inference_mode():
        found = detect(model, images)
        read = recognize(model, found.features, found.quads, found.image_indices, input_size=found.input_size)
        args = (model, found.features, found.quads, found.image_indices, found.region_counts, read.features)
        # float32: bfloat16 matrix products may round differently with the batch's size
        whole = relate(*args, input_size=found.input_size, options=RelationOptions(precision="model"))
        chunked = relate(*args, input_size=found.input_size, options=RelationOptions(chunk_size=1, precision="model"))
    assert whole == chunked and len(whole) == 2


def test_image_chunks():
    assert _image_chunks([3, 0, 2, 5, 1], 5) == [(0, 3), (3, 4), (4, 5)]
    assert _image_chunks([9], 2) == [(0, 1)]
    assert _image_chunks([], 4) == []


def test_stage_options_reject_bad_chunk_sizes():
    with pytest.raises(ValueError, match="chunk_size"):
        RecognitionOptions(chunk_size=0)
    with pytest.raises(ValueError, match="chunk_size"):
        RelationOptions(chunk_size=-1)
    with pytest.raises(ValueError, match="RelationOptions.precision"):
        RelationOptions(precision="fp16")


def test_random_tiny_model_runs_every_stage():
    model = create_model("tiny-test").eval()
    with torch.inference_mode():
        found = detect(model, torch.rand(2, 3, 128, 128))
        read = recognize(model, found.features, found.quads, found.image_indices, input_size=found.input_size)
    assert found.region_counts.shape == (2,) and len(read.texts) == found.quads.shape[0]


def test_read_strips_buckets_by_width_and_pads_with_blanks_and_mean_features():
    from textspotter.models.recognizer import Recognizer
    from textspotter.ops import calc_quad_width
    from textspotter.pipeline.stages import crop_features, read_strips

    torch.manual_seed(0)
    base = create_model("tiny-test").spec.recognizer
    channels = 8
    features = torch.randn(2, channels, 32, 64)
    # Mixed aspect ratios (natural widths 8 .. 64 columns at 8 rows), out of order, on two images.
    quads = torch.tensor(
        [
            [[10, 10], [200, 10], [200, 30], [10, 30]],
            [[10, 40], [30, 40], [30, 60], [10, 60]],
            [[50, 70], [120, 70], [120, 90], [50, 90]],
            [[5, 100], [250, 100], [250, 104], [5, 104]],
        ],
        dtype=torch.float32,
    )
    indices = torch.tensor([0, 1, 0, 1])
    size = (128, 256)
    plain = Recognizer(replace(base, max_width=32), in_channels=channels).eval()
    with torch.inference_mode():
        logits, feats = read_strips(plain, features, quads, indices, input_size=size)
        whole = plain(crop_features(features, quads, indices, input_size=size, output_size=(8, 32), isotropic=True))
    assert torch.equal(logits, whole.logits) and torch.equal(feats, whole.features)

    bucketed = Recognizer(replace(base, max_width=32, bucket_width=16), in_channels=channels).eval()
    bucketed.load_state_dict(plain.state_dict())
    widths = calc_quad_width(quads, 8, 16, 32).tolist()
    assert sorted(set(widths)) == [16, 32]
    with torch.inference_mode():
        logits, feats = read_strips(bucketed, features, quads, indices, input_size=size)
        for i, width in enumerate(widths):
            alone = bucketed(
                crop_features(
                    features,
                    quads[i : i + 1],
                    indices[i : i + 1],
                    input_size=size,
                    output_size=(8, width),
                    isotropic=True,
                )
            )
            assert torch.allclose(logits[i, :width], alone.logits[0], atol=1e-5)
            assert torch.allclose(feats[i, :width], alone.features[0], atol=1e-5)
            if width < 32:
                assert (logits[i, width:].argmax(-1) == 0).all()
                assert torch.allclose(feats[i, width:], alone.features[0].mean(0).expand(32 - width, -1), atol=1e-5)
                assert torch.allclose(feats[i].mean(0), alone.features[0].mean(0), atol=1e-5)
    assert logits.shape == (4, 32, base.num_tokens) and feats.shape == (4, 32, base.feature_depth)


def _table_of_contents(page_numbers_x: float = 500.0):
    # A table of contents: section numbers at x 0, titles at x 30, page numbers right-aligned at 520 (the dot
    # leaders between them are not read, so nothing bridges the gap); each a line of its own in the graph.
    # A heading without a number runs across the gap between numbers and titles, so these are no table.
    rows = [("1", "Introduction", "1"), ("2", "Methods", "4"), ("2.1", "Data", "5"), ("3", "Results", "12")]
    texts, boxes, groups = ["Appendix of tables", "20"], [(0, 80, 150, 90), (500, 80, 520, 90)], [[[0]], [[1]]]
    for r, (number, title, page) in enumerate(rows):
        top, first = 20 * r, len(texts)
        texts += [number, title, page]
        boxes += [(0, top, 20, top + 10), (30, top, 30 + 8 * len(title), top + 10)]
        boxes.append((page_numbers_x + 20 - 8 * len(page), top, page_numbers_x + 20, top + 10))
        groups += [[[first]], [[first + 1]], [[first + 2]]]
    return _readings(
        texts=texts, boxes=boxes, detection=[0.9] * len(texts), text_conf=[0.9] * len(texts), groups=groups, width=600
    )


def test_assemble_reads_a_table_of_contents_row_by_row():
    page = assemble_page(_table_of_contents())
    rows = ["1 Introduction 1", "2 Methods 4", "2.1 Data 5", "3 Results 12", "Appendix of tables 20"]
    assert page.text().replace("\n\n", "\n").split("\n") == rows
    # The table rule alone reads it by rows too (each section number and its title are two pieces of one row);
    # without either rule the page numbers are a column of their own, read after the titles.
    tabled = assemble_page(_table_of_contents(), options=AssemblyOptions(number_columns=False))
    assert tabled.text().replace("\n\n", "\n").split("\n") == rows
    apart = assemble_page(_table_of_contents(), options=AssemblyOptions(number_columns=False, table_gap=None))
    assert apart.text().replace("\n\n", "\n").split("\n")[-5:] == ["1", "4", "5", "12", "20"]
    with pytest.raises(TypeError, match="number_columns"):
        AssemblyOptions(number_columns="on")


def _scanned_contents(rows: int = 4):
    # A scanned table of contents whose dot leaders the detector found: each title's line ends with an unsure ".",
    # a line of two unsure leader words ("×", "·") stands in the gap, the page number sits at the right margin.
    texts, boxes, conf, groups = [], [], [], []
    for r in range(rows):
        top, first = 20 * r, len(texts)
        texts += [f"Title{r}", ".", "×", "·", str(r + 1)]
        boxes += [(0, top, 100, top + 10), (105, top + 6, 108, top + 9), (200, top + 4, 206, top + 8)]
        boxes += [(260, top + 6, 263, top + 9), (505, top, 520, top + 10)]
        conf += [0.98, 0.5, 0.4, 0.45, 0.97]
        groups += [[[first, first + 1]], [[first + 2, first + 3]], [[first + 4]]]
    return _readings(texts=texts, boxes=boxes, detection=[0.9] * len(texts), text_conf=conf, groups=groups, width=600)


def test_assemble_drops_dot_leaders_read_as_words_and_joins_entry_and_page():
    page = assemble_page(_scanned_contents())
    assert page.text().replace("\n\n", "\n").split("\n") == ["Title0 1", "Title1 2", "Title2 3", "Title3 4"]
    kept = assemble_page(_scanned_contents(), options=AssemblyOptions(drop_leaders=False)).text()
    assert "×" in kept and "·" in kept
    # Two rows hold six leader words: fewer than a page needs before any is taken for a leader.
    few = assemble_page(_scanned_contents(rows=2)).text()
    assert "×" in few and "·" in few
    with pytest.raises(TypeError, match="drop_leaders"):
        AssemblyOptions(drop_leaders=1)


def _paragraph_and_its_last_line(last: str = "evening", ending: str = "the", drop: float = 14.0, left: float = 0.0):
    # A paragraph of two full lines (the second ending with ``ending``) and, as a paragraph of its own, a short line
    # starting with ``last`` at ``left``, ``drop`` pixels below the second line's top (lines 10 px high).
    texts = ["The", "library", "welcomed", "Most", "came", ending, last, "classes."]
    boxes = [(0, 0, 40, 10), (45, 0, 100, 10), (105, 0, 190, 10)]
    boxes += [(0, 14, 40, 24), (45, 14, 100, 24), (105, 14, 190, 24)]
    top = 14 + drop
    boxes += [(left, top, left + 50, top + 10), (left + 55, top, left + 100, top + 10)]
    groups = [[[0, 1, 2], [3, 4, 5]], [[6, 7]]]
    return _readings(texts, boxes, [0.9] * 8, [0.95] * 8, groups, width=200, height=100)


def test_a_paragraph_left_open_is_continued_by_the_lower_case_line_below_it():
    page = assemble_page(_paragraph_and_its_last_line())
    assert [len(p.lines) for p in page.paragraphs] == [3]
    assert page.text() == "The library welcomed\nMost came the\nevening classes."
    apart = assemble_page(_paragraph_and_its_last_line(), options=AssemblyOptions(continue_paragraphs=False))
    assert [len(p.lines) for p in apart.paragraphs] == [2, 1]
    with pytest.raises(TypeError, match="continue_paragraphs"):
        AssemblyOptions(continue_paragraphs="yes")


@pytest.mark.parametrize(
    "change",
    [
        {"ending": "the."},  # the sentence ended: a paragraph may end there
        {"ending": "said:"},
        {"ending": "end.)"},  # a closing mark before a closing bracket
        {"last": "Evening"},  # a capital may start a paragraph
        {"last": "2"},
        {"drop": 30.0},  # a gap of two line heights: a paragraph break
        {"left": 30.0},  # indented: a new paragraph's first line
    ],
)
def test_a_paragraph_is_not_continued_across_a_closed_line_a_capital_a_gap_or_an_indent(change):
    page = assemble_page(_paragraph_and_its_last_line(**change))
    assert [len(p.lines) for p in page.paragraphs] == [2, 1]


def test_leader_words_are_unsure_or_in_long_runs():
    def line(texts, conf):
        words = tuple(
            Word(t, _quad(10 * k, 0, 10 * k + 5, 10), c, detection_confidence=0.9, text_confidence=c, order=k)
            for k, (t, c) in enumerate(zip(texts, conf))
        )
        return Line(words=words, quad=_quad(0, 0, 10 * len(texts), 10), confidence=0.9)

    # An ellipsis read surely stays; unsure dots, bullets and crosses are leaders; four sure dots in a row are.
    assert _leader_words(line(["x1,", ".", ".", ".", ",", "xn"], [0.99] * 6)) == [False] * 6
    assert _leader_words(line(["a", ".", "•", "×", "b."], [0.99, 0.5, 0.6, 0.3, 0.5])) == [
        False,
        True,
        True,
        True,
        False,
    ]
    assert _leader_words(line(["Intro", ".", ".", "..", ".", "7"], [0.99] * 6)) == [
        False,
        True,
        True,
        True,
        True,
        False,
    ]
    assert _leader_words(line(["•", "Item"], [0.98, 0.99])) == [False, False]
    # One run of three or more, CJK long-vowel marks and full-width stops among them, however surely read.
    assert _leader_words(line(["オプション", "ーーー．．", "19"], [0.99] * 3)) == [False, True, False]


def test_a_leader_read_into_the_end_of_a_cjk_word_is_cut_off():
    texts, boxes, conf, groups = [], [], [], []
    for r in range(8):
        top = 20 * r
        texts += [f"項目{r}ーーーーー．．", str(r + 10)]
        boxes += [(0, top, 300, top + 10), (480, top, 500, top + 10)]
        conf += [0.97, 0.98]
        groups += [[[2 * r, 2 * r + 1]]]
    readings = _readings(texts=texts, boxes=boxes, detection=[0.9] * 16, text_conf=conf, groups=groups, width=600)
    rows = assemble_page(readings).text().replace("\n\n", "\n").split("\n")
    assert rows == [f"項目{r} {r + 10}" for r in range(8)]
    kept = assemble_page(readings, options=AssemblyOptions(drop_leaders=False)).text()
    assert "ーーーーー．．" in kept


def test_number_joins_need_a_column_of_numbers_and_an_open_gap():
    boxes = np.array([(30, 0, 130, 10), (495, 0, 520, 10), (30, 20, 130, 30), (495, 20, 520, 30)], dtype=float)
    # Two page numbers are no column.
    assert _number_joins(boxes, ["Introduction", "1", "Methods", "4"]) == []
    # Three are; each joins the title on its row.
    boxes3 = np.vstack([boxes, (30, 40, 130, 50), (495, 40, 520, 50)])
    texts3 = ["Introduction", "1", "Methods", "4", "Data", "5"]
    assert _number_joins(boxes3, texts3) == [(0, 1), (2, 3), (4, 5)]
    # A second text column above and below the numbers' rows covers the gap (a gutter, not a leader): no join.
    column = np.array([(300, y, 520, y + 10) for y in (-20, 60)], dtype=float)
    # The right column's lines above and below the numbers run across the gap of the first and last rows.
    joined = _number_joins(np.vstack([boxes3, column]), texts3 + ["right column text", "more right column"])
    assert (0, 1) not in joined and (4, 5) not in joined and (2, 3) in joined
    # A line lying inside the gap a little above a number's row (a two-column index): no join for that row.
    inside = np.array([(200, -8, 300, 2)], dtype=float)
    joined = _number_joins(np.vstack([boxes3, inside]), [*texts3, "entry of the next column"])
    assert (0, 1) not in joined and (4, 5) in joined
    # A numeric table: its last column's numbers have numbers to their left, the others numbers to their right.
    table = np.array([(x, 20 * r, x + 20, 20 * r + 10) for r in range(3) for x in (400, 450, 500)], dtype=float)
    assert _number_joins(table, [str(10 * r + c) for r in range(3) for c in range(3)]) == []
    # Numbered code lines: consecutive line numbers in a column each join the line to their right.
    code = np.array([b for r in range(3) for b in ((0, 20 * r, 15, 20 * r + 10), (25, 20 * r, 200, 20 * r + 10))])
    code_texts = [t for r in range(3) for t in (str(r + 1), f"x = f({r})")]
    assert _number_joins(code.astype(float), code_texts) == [(0, 1), (2, 3), (4, 5)]
    # Not when the numbers do not count (1, 5, 9: a list of values), nor when the line beside is a number too.
    spaced = [t for r in range(3) for t in (str(4 * r + 1), f"x = f({r})")]
    assert _number_joins(code.astype(float), spaced) == []
    assert _number_joins(code.astype(float), [t for r in range(3) for t in (str(r + 1), str(r + 7))]) == []
    # Words are not numbers: a column of short words at the right edge joins nothing.
    assert _number_joins(boxes3, ["Introduction", "one", "Methods", "two", "Data", "six"]) == []


def test_number_joins_take_an_index_entrys_list_of_references():
    # An index: entries at x 0, their references right-aligned at 300 across dot leaders that are not read; a list
    # of pages, a range, a page-and-line reference.
    refs = ["12, 394", "433–435", "196–h852", "7"]
    boxes = [
        b
        for r, ref in enumerate(refs)
        for b in ((0, 20 * r, 90, 20 * r + 10), (300 - 8 * len(ref), 20 * r, 300, 20 * r + 10))
    ]
    texts = [t for r, ref in enumerate(refs) for t in (f"\\entry{r}", ref)]
    assert _number_joins(np.array(boxes, dtype=float), texts) == [(0, 1), (2, 3), (4, 5), (6, 7)]
    # A list much wider than a line of references (12 line heights) is text, not references.
    wide = list(boxes)
    wide[1] = (300 - 200, 0, 300, 10)
    assert (0, 1) not in _number_joins(np.array(wide, dtype=float), texts)
    # Numbers beside numbers stay apart (a numeric table), lists included.
    numeric = [t if k % 2 else "1, 2" for k, t in enumerate(texts)]
    assert _number_joins(np.array(boxes, dtype=float), numeric) == []


def test_assemble_fixes_dashes_unless_told_not_to():
    readings = _readings(
        texts=["k", "=", "n", "–", "1,", "pp.", "577–-583"],
        boxes=[
            (10, 10, 14, 20),
            (16, 10, 20, 20),
            (22, 10, 26, 20),
            (28, 10, 32, 20),
            (34, 10, 40, 20),
            (42, 10, 52, 20),
            (54, 10, 90, 20),
        ],
        detection=[0.9] * 7,
        text_conf=[0.9] * 7,
        groups=[[[0, 1, 2, 3, 4, 5, 6]]],
    )
    assert assemble_page(readings).text() == "k = n − 1, pp. 577–583"
    assert assemble_page(readings, options=AssemblyOptions(fix_dashes=False)).text() == "k = n – 1, pp. 577–-583"
    with pytest.raises(TypeError, match="fix_dashes"):
        AssemblyOptions(fix_dashes=1)


def _slanted_page(degrees, cuts=(0, 3, 5, 4)):
    """One paragraph of four lines of eight words at a slant of ``degrees``; the first line is one relational line,
    each later one two pieces cut after ``cuts[row]`` words (the fragments a photographed page gives the relational
    model)."""
    slope = math.tan(math.radians(degrees))
    texts, quads, groups = [], [], []
    for row, cut in enumerate(cuts):
        line = []
        for k in range(8):
            x0 = 40 + k * 110
            y0 = 200 + row * 34 + slope * x0
            quads.append([[x0, y0], [x0 + 90, y0], [x0 + 90, y0 + 22], [x0, y0 + 22]])  # upright: as detected
            texts.append(f"r{row}w{k}")
            line.append(len(texts) - 1)
        groups += [line[:cut], line[cut:]] if cut else [line]
    count = len(texts)
    full = np.full(count, 0.9, dtype=np.float32)
    return PageReadings(texts, np.array(quads, dtype=np.float32), full, full, [groups], width=1000, height=600)


def test_slanted_lines_are_joined_and_ordered_in_the_frame_of_the_text():
    readings = _slanted_page(-4.0)
    expected = [" ".join(f"r{row}w{k}" for k in range(8)) for row in range(4)]
    # Upright boxes of a line rising to the right: its right piece starts above its left one and above the line
    # before, so the page's own frame reads pieces out of order (and cannot join them).
    upright = assemble_page(readings, options=AssemblyOptions(deskew=None))
    assert [" ".join(w.text for w in line.words) for line in upright.lines] != expected
    page = assemble_page(readings)
    assert [" ".join(w.text for w in line.words) for line in page.lines] == expected
    # Word quads come back as detected; lines and paragraphs are rectangles at the slant of the text.
    got = np.array([w.quad for w in page.words])
    order = [int(w.text[1]) * 8 + int(w.text[3]) for w in page.words]
    assert np.allclose(got, readings.quads[order], atol=1e-4)
    (x0, y0), (x1, y1) = page.lines[1].quad[:2]
    assert math.degrees(math.atan2(y1 - y0, x1 - x0)) == pytest.approx(-4.0, abs=0.01)
    assert page.text() == "\n".join(expected)


def test_text_skew_needs_lines_of_words_and_a_slant_under_the_limit():
    lines = [line for paragraph in _slanted_page(2.5).groups for line in paragraph]
    assert text_skew(_slanted_page(2.5).quads, lines) == pytest.approx(2.5, abs=1e-3)
    assert text_skew(_slanted_page(2.5).quads, [[0, 1], [2, 3, 4]]) == 0.0  # three words on lines of 3+: too few
    steep = _slanted_page(MAX_SKEW_DEGREES + 5)
    assert text_skew(steep.quads, [line for paragraph in steep.groups for line in paragraph]) == 0.0
    # A page slanted less than the option is assembled exactly as without it.
    slight = _slanted_page(0.5)
    assert assemble_page(slight) == assemble_page(slight, options=AssemblyOptions(deskew=None))
    for bad in (0, -1.0, MAX_SKEW_DEGREES + 1):
        with pytest.raises(ValueError, match="deskew"):
            AssemblyOptions(deskew=bad)
