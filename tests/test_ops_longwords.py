"""Long words read as overlapping windows (ops.longwords) and their wiring into pipeline.stages.recognize."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from textspotter.models import create_model
from textspotter.ops import decode_greedy
from textspotter.ops.longwords import LongWordOptions, join_readings, natural_widths, window_quads
from textspotter.pipeline.stages import RecognitionOptions, read_strips, recognize


def _box(x: float, y: float, w: float, h: float) -> list[list[float]]:
    return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]


def test_natural_widths_follow_the_recognizers_scale():
    quads = torch.tensor([_box(0, 0, 40, 10), _box(5, 5, 10, 20)])
    # 8 rows over a height of 10 (or 20), times the width, times 1.5 columns per row.
    assert torch.allclose(natural_widths(quads, 8, 1.5), torch.tensor([48.0, 6.0]))


def test_natural_widths_are_calc_quad_width_before_its_rounding_and_cap():
    from textspotter.ops import calc_quad_width

    generator = torch.Generator().manual_seed(3)
    corner = torch.rand(64, 1, 2, generator=generator) * 500
    size = torch.rand(64, 1, 2, generator=generator) * torch.tensor([400.0, 40.0]) + 3
    quads = corner + size * torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    expected = calc_quad_width(quads, 8, 1, 0, 1.5)  # rounded up to a multiple of 1, no cap
    assert torch.equal(natural_widths(quads, 8, 1.5).ceil().clamp(min=2).long(), expected)


def test_window_quads_cover_each_long_quad_in_windows_of_t_columns():
    # Quad 0: 8/10 * 200 = 160 columns; quad 1: 40 columns (short); quad 2: slanted, about 87.9 columns.
    slanted = [[300.0, 50.0], [410.0, 60.0], [409.0, 70.0], [299.0, 60.0]]
    quads = torch.tensor([_box(0, 0, 200, 10), _box(0, 20, 50, 10), slanted])
    options = LongWordOptions(min_ratio=1.3, overlap=0.5)
    windows, owner = window_quads(quads, 8, 32, 1.0, options)
    # Quad 0: (160 - 32) / 16 + 1 = 9 windows; quad 2: (87.9 - 32) / 16 -> 4, + 1 = 5; quad 1 (40 < 41.6) none.
    assert owner.tolist() == [0] * 9 + [2] * 5
    assert torch.allclose(natural_widths(windows, 8, 1.0), torch.full((14,), 32.0), atol=1e-3)
    first, last = windows[owner == 0][0], windows[owner == 0][-1]
    assert torch.allclose(first[0], quads[0, 0]) and torch.allclose(first[3], quads[0, 3])  # starts at the start
    assert torch.allclose(last[1], quads[0, 1]) and torch.allclose(last[2], quads[0, 2])  # ends at the end
    starts = windows[owner == 0][:, 0, 0]
    assert torch.all(starts[1:] > starts[:-1]) and float((starts[1:] - starts[:-1]).max()) <= 20.0 + 1e-3
    # The slanted quad's windows lie on its top and bottom edges.
    top_direction = (quads[2, 1] - quads[2, 0]) / (quads[2, 1] - quads[2, 0]).norm()
    for window in windows[owner == 2]:
        step = window[1] - window[0]
        assert torch.allclose(step / step.norm(), top_direction, atol=1e-5)


def test_window_quads_none_when_nothing_is_long_or_too_long():
    quads = torch.tensor([_box(0, 0, 40, 10), _box(0, 0, 2000, 10)])  # 32 columns; 1,600 columns
    windows, owner = window_quads(quads, 8, 32, 1.0, LongWordOptions(max_windows=16))
    assert windows.shape == (0, 4, 2) and owner.numel() == 0  # the long one would need 99 windows
    windows, owner = window_quads(quads, 8, 32, 1.0, LongWordOptions(max_windows=200))
    assert owner.tolist() == [1] * 99
    with pytest.raises(ValueError, match="quads"):
        window_quads(torch.zeros(3, 4), 8, 32, 1.0, LongWordOptions())


def test_window_quads_cut_only_the_eligible_quads():
    quads = torch.tensor([_box(0, 0, 100, 10), _box(0, 20, 100, 10)])  # 80 columns each
    _, owner = window_quads(quads, 8, 32, 1.0, LongWordOptions(), torch.tensor([True, True]))
    assert owner.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    _, owner = window_quads(quads, 8, 32, 1.0, LongWordOptions(), torch.tensor([False, True]))
    assert owner.tolist() == [1, 1, 1, 1]


def test_join_readings_joins_at_the_shared_run():
    assert join_readings(["amplificatio", "mplification,"]) == "amplification,"
    assert join_readings(["conventio", "rentionall", "ntionally"]) == "conventionally"
    # The edge glyphs of a window are often half glyphs: the join keeps the earlier window's reading up to the run
    # and the later one's from it, so neither window's edge survives inside the word.
    assert join_readings(["\\catcod", "atcode13", "ode13=5"]) == "\\catcode13=5"
    # Of two equally long shared runs, the one that places the next window after the previous one wins.
    assert join_readings(["insulator-", "ator-insul", ".insulator"], advance=0.4) == "insulator-insulator"
    assert join_readings(["insulator-", "ator-insul", ".insulator"]) == "insulator-insulator"
    assert join_readings(["word"]) == "word"
    assert join_readings(["abc", "xyz"]) is None
    assert join_readings(["abcd", "cdxy"], min_match=3) is None
    with pytest.raises(ValueError, match="at least one"):
        join_readings([])


def test_long_word_options_are_checked():
    for bad in (
        {"min_ratio": 0.9},
        {"min_ratio": float("nan")},
        {"overlap": 0.0},
        {"overlap": 1.0},
        {"min_match": 0},
        {"max_windows": 1},
        {"max_windows": True},
        {"max_confidence": 0.0},
        {"max_confidence": 1.5},
    ):
        with pytest.raises(ValueError, match="LongWordOptions"):
            LongWordOptions(**bad)
    with pytest.raises(TypeError, match="long_words"):
        RecognitionOptions(long_words="on")  # type: ignore[arg-type]


def test_recognize_reads_long_quads_in_windows_and_joins_them():
    torch.manual_seed(0)
    model = create_model("tiny-test").eval()
    spec = model.spec
    config = spec.recognizer
    features = torch.randn(1, spec.detector.feature_channels, 32, 128)
    # One short quad and two long ones (> 1.3 T columns at the recognizer's scale).
    height = 8.0
    quads = torch.tensor(
        [_box(4, 4, 20, height), _box(4, 30, 6 * config.max_width, height), _box(8, 60, 7 * config.max_width, height)]
    )
    indices = torch.zeros(3, dtype=torch.int64)
    long_words = LongWordOptions(min_match=1, max_confidence=1.0)
    base = RecognitionOptions(lexicon=None, precision="model", cjk_lm=None, unify_scripts=False, long_words=None)
    with torch.inference_mode():
        squeezed = recognize(model, features, quads, indices, input_size=(128, 512), options=base)
        windowed = recognize(
            model, features, quads, indices, input_size=(128, 512), options=replace(base, long_words=long_words)
        )
        windows, owner = window_quads(quads, config.strip_height, config.max_width, config.column_scale, long_words)
        logits, _ = read_strips(model.recognizer, features, windows, indices[owner], input_size=(128, 512))
    ctc = config.decoding == "ctc"
    texts, _ = decode_greedy(logits.float(), spec.charset, mode=spec.postprocess.text_confidence, collapse_repeats=ctc)
    assert sorted(set(owner.tolist())) == [1, 2]
    joined = 0
    for index in (1, 2):
        mine = (owner == index).nonzero().flatten()
        advance = float(
            (windows[mine[1], 0] - windows[mine[0], 0]).norm() / (windows[mine[0], 1] - windows[mine[0], 0]).norm()
        )
        expected = join_readings([texts[k] for k in mine.tolist()], 1, advance)
        assert windowed.texts[index] == (squeezed.texts[index] if expected is None else expected)
        joined += expected is not None
    assert joined  # random weights read enough for at least one join: the test exercises the joined path
    assert windowed.texts[0] == squeezed.texts[0]  # short quads are read once, as before
    with torch.inference_mode():
        sure = replace(base, long_words=replace(long_words, max_confidence=float(squeezed.confidence.min()) / 2))
        gated = recognize(model, features, quads, indices, input_size=(128, 512), options=sure)
    assert gated.texts == squeezed.texts  # every squeezed reading is at least as confident: none read again
    assert torch.equal(windowed.features, squeezed.features)  # the relational model reads the squeezed strips
    assert RecognitionOptions().long_words == "auto"


def test_read_and_eval_pass_the_long_words_flag(read_recognition):
    import argparse

    from textspotter.cli.eval import add_arguments, engine_options
    from textspotter.ops.longwords import long_word_options

    assert read_recognition().long_words == "auto"
    assert read_recognition("--long-words", "off").long_words is None
    assert read_recognition("--long-words", "on").long_words == LongWordOptions()
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ["--dataset", "docbank", "--engine", "textspotter"]
    assert engine_options("textspotter", parser.parse_args(base)).long_words == "auto"
    assert engine_options("textspotter", parser.parse_args([*base, "--long-words", "off"])).long_words == "off"
    with pytest.raises(ValueError, match="long-word setting"):
        long_word_options("sometimes")
