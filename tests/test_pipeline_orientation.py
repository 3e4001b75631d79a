"""Page orientation (pipeline/orientation.py): exact geometry, the decision rule, and the pipeline's plumbing.

The tiny random model cannot read, so the pipeline tests use the fakes: dark rectangles come back as regions and
the recognizer reads one fixed word with near-certain confidence whichever way a region is read, so the decision
data say "upright"; a rotation is forced by replacing the choice function.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

import textspotter.pipeline.orientation as orientation
from test_pipeline_fakes import DarkBoxDetector, fake_model, page_with_boxes, read_always
from textspotter import OCR
from textspotter.cli.main import main
from textspotter.document import Line, Page, Paragraph, Word, bounding_quad
from textspotter.export import to_json, to_published
from textspotter.models import checkpoints, create_model
from textspotter.pipeline import ScaleOptions
from textspotter.pipeline.orientation import (
    OrientationOptions,
    choose_rotation,
    page_to_original,
    quads_to_original,
    quads_to_rotated,
    rotate_image,
    turn_vertices,
)

# (x0, y0, x1, y1) on a 96 x 128 page read at a 128-pixel detector side: on detector cells, whichever the turn.
BOXES = [(8, 8, 60, 20), (68, 8, 112, 20), (8, 40, 48, 52), (60, 76, 120, 88)]
HEIGHT, WIDTH = 96, 128
SCALE = ScaleOptions(infer_length=128)


def _box_quad(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_mapped_quads_cover_the_same_pixels_of_the_turned_image(rotation):
    height, width = 60, 100
    image = page_with_boxes(height, width, [(10, 5, 30, 25)])
    turned = rotate_image(image, rotation)
    assert turned.flags["C_CONTIGUOUS"]
    assert turned.shape[:2] == ((width, height) if rotation in (90, 270) else (height, width))
    mapped = quads_to_rotated(_box_quad(10, 5, 30, 25), rotation, width, height)
    x0, y0 = mapped.min(0).astype(int)
    x1, y1 = mapped.max(0).astype(int)
    dark = np.argwhere(turned[..., 0] == 0)  # (row, col) of every dark pixel
    assert (dark[:, 1].min(), dark[:, 0].min(), dark[:, 1].max() + 1, dark[:, 0].max() + 1) == (x0, y0, x1, y1)
    back = quads_to_original(mapped, rotation, width, height)
    np.testing.assert_array_equal(back, _box_quad(10, 5, 30, 25))


def test_rotations_compose_and_reject_other_angles():
    quads = np.random.default_rng(0).uniform(0, 50, size=(3, 4, 2)).astype(np.float32)
    once = quads_to_rotated(quads_to_rotated(quads, 90, 80, 50), 90, 50, 80)
    np.testing.assert_allclose(once, quads_to_rotated(quads, 180, 80, 50))
    with pytest.raises(ValueError, match="rotation must be one of"):
        rotate_image(np.zeros((2, 2)), 45)
    with pytest.raises(ValueError, match="rotation must be one of"):
        quads_to_original(quads, -90, 80, 50)


def test_turning_two_vertices_starts_at_the_opposite_corner():
    quad = torch.from_numpy(_box_quad(0, 0, 4, 2))[None]
    turned = turn_vertices(quad, 2)
    assert turned[0].tolist() == [[4, 2], [0, 2], [0, 0], [4, 0]]
    assert turn_vertices(turned, 2).equal(quad)


def test_page_to_original_maps_every_level_and_keeps_the_text():
    # A page read on the original turned by 90 degrees (100 x 60 original -> 60 x 100 turned).
    quad = tuple(map(tuple, _box_quad(10, 20, 50, 30).tolist()))
    word = Word("hi", quad, 0.9, 0.95, 0.85)
    line = Line((word,), bounding_quad([quad]), 0.9)
    read = Page(60, 100, (Paragraph((line,), bounding_quad([quad]), 0.9),), index=3, timings={"detect": 1.0})
    page = page_to_original(read, 90, 100, 60)
    assert (page.width, page.height, page.rotation, page.index) == (100, 60, 90, 3)
    assert page.text() == "hi" and page.timings == {"detect": 1.0}
    expected = quads_to_original(_box_quad(10, 20, 50, 30), 90, 100, 60)
    np.testing.assert_array_equal(np.array(page.words[0].quad), expected)
    assert page.words[0].quad[0] == (20.0, 50.0)  # the text's top-left corner: bottom-left in the original
    x0, y0 = expected.min(0)
    x1, y1 = expected.max(0)
    assert page.lines[0].quad == page.paragraphs[0].quad == ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    assert page.to_dict()["rotation"] == 90


def test_choose_rotation_needs_a_clear_margin():
    assert choose_rotation({0: 0.81, 180: 0.96}, margin=0.1) == 180
    assert choose_rotation({0: 0.90, 180: 0.96}, margin=0.1) == 0
    assert choose_rotation({0: 0.40, 180: 0.30, 90: 0.60, 270: 0.95}, margin=0.1) == 270
    assert choose_rotation({0: 0.5, 180: 0.5}, margin=0.0) == 0  # a tie keeps the page upright
    # arabic.tif, a script the model does not read: a quarter turn reads "better", but still reads nothing.
    assert choose_rotation({0: 0.34, 180: 0.32, 90: 0.46, 270: 0.38}, margin=0.1, min_confidence=0.7) == 0
    assert choose_rotation({0: 0.45, 180: 0.35, 90: 0.79, 270: 0.66}, margin=0.1, min_confidence=0.7) == 90
    with pytest.raises(ValueError, match="upright rotation 0"):
        choose_rotation({180: 0.9}, margin=0.1)


def test_choose_rotation_skips_turns_that_read_no_words():
    # A faint upright page (corpus en test): the quarter turn read confidently, but empty and one-letter strings.
    scores = {0: 0.645, 180: 0.333, 90: 0.806, 270: 0.683}
    shares = {0: 0.88, 180: 0.62, 90: 0.0, 270: 0.06}
    kwargs = {"margin": 0.1, "min_confidence": 0.7}
    assert choose_rotation(scores, **kwargs) == 90  # confidence alone turns it
    assert choose_rotation(scores, **kwargs, word_shares=shares, min_word_share=0.5) == 0
    # phototest-rotated-L.png: the right turn reads words and wins.
    scores, shares = {0: 0.45, 180: 0.50, 90: 0.71, 270: 0.58}, {0: 0.0, 180: 0.0, 90: 0.94, 270: 0.88}
    assert choose_rotation(scores, **kwargs, word_shares=shares, min_word_share=0.5) == 90
    # The best eligible turn wins even when a better-scoring one reads no words.
    scores, shares = {0: 0.3, 90: 0.95, 270: 0.85}, {0: 0.0, 90: 0.1, 270: 0.9}
    assert choose_rotation(scores, **kwargs, word_shares=shares, min_word_share=0.5) == 270


def test_sample_scores_count_word_reads(monkeypatch):
    reads = ["word", "", "a", "42", "x.", "abc"]  # as detected: 3 words of 6; turned: none

    class Read:
        def __init__(self, count):
            self.texts = reads[:count] + ["."] * count
            self.confidence = torch.cat([torch.full((count,), 0.5), torch.full((count,), 0.9)])

    monkeypatch.setattr(orientation, "recognize", lambda model, features, quads, *a, **k: Read(len(quads) // 2))
    quads = torch.zeros(6, 4, 2)
    upright, turned = orientation.sample_scores(
        None,
        torch.zeros(1, 1, 4, 4),
        quads,
        torch.zeros(6, dtype=torch.long),
        torch.rand(6),
        input_size=(4, 4),
        sample_size=8,
    )
    assert upright == (pytest.approx(0.5), pytest.approx(0.5)) and turned == (pytest.approx(0.9), 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "on"}, "mode"),
        ({"sample_size": 0}, "sample_size"),
        ({"min_regions": True}, "min_regions"),
        ({"margin": 1.5}, "margin"),
        ({"min_confidence": 2}, "min_confidence"),
        ({"quarter_turn_below": -0.1}, "quarter_turn_below"),
        ({"min_confidence": True}, "min_confidence"),
        ({"min_word_share": 1.5}, "min_word_share"),
    ],
)
def test_orientation_options_reject_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OrientationOptions(**kwargs)


@pytest.fixture(scope="module")
def reading_model():
    model = fake_model()
    read_always(model, "word")
    return model


def _aabbs(page):
    return sorted(tuple(np.round(np.concatenate([np.min(w.quad, 0), np.max(w.quad, 0)]), 1)) for w in page.words)


def _ocr(model, mode="auto"):
    return OCR(model=model, device="cpu", scale=SCALE, orientation=OrientationOptions(mode=mode))


def test_upright_page_is_not_turned_when_the_sample_reads_best_upright(reading_model):
    image = page_with_boxes(HEIGHT, WIDTH, BOXES)
    auto = _ocr(reading_model).read(image)[0].pages[0]
    off = _ocr(reading_model, "off").read(image)[0].pages[0]
    assert auto.rotation == 0 and len(auto.words) == len(BOXES)
    assert auto.to_dict() == off.to_dict()
    assert "orientation" in auto.timings and "orientation" not in off.timings


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_turned_reads_are_mapped_back_to_the_original_pixels(reading_model, monkeypatch, rotation):
    image = page_with_boxes(HEIGHT, WIDTH, BOXES)
    chosen = []
    monkeypatch.setattr(orientation, "choose_rotation", lambda scores, **_: chosen.append(scores) or rotation)
    page = _ocr(reading_model).read(image)[0].pages[0]
    assert len(chosen) == 1 and set(chosen[0]) == {0, 180}  # confident upright sample: no quarter-turn passes
    assert (page.rotation, page.width, page.height) == (rotation, WIDTH, HEIGHT)
    # The rectangles, found in the turned image, land exactly on their original pixels.
    assert _aabbs(page) == sorted(tuple(map(float, box)) for box in BOXES)
    for word in page.words:  # the first vertex is the text's top-left: the turned box's corner
        corner = quads_to_rotated(np.array(word.quad), rotation, WIDTH, HEIGHT)
        assert np.allclose(corner[0], corner.min(0))
    assert json.loads(to_json(page))["pages"][0]["rotation"] == rotation


def test_quarter_turns_are_tried_when_the_upright_sample_reads_no_words(monkeypatch):
    # Confident one-letter reads (a sideways page's letter fragments, to a detector that finds one-letter words).
    model = fake_model()
    read_always(model, "a")
    chosen = []
    monkeypatch.setattr(orientation, "choose_rotation", lambda scores, **kw: chosen.append((scores, kw)) or 0)
    page = _ocr(model).read(page_with_boxes(HEIGHT, WIDTH, BOXES))[0].pages[0]
    scores, kwargs = chosen[0]
    assert page.rotation == 0 and set(scores) == {0, 90, 180, 270}
    assert min(scores.values()) > 0.9 and set(kwargs["word_shares"].values()) == {0.0}


def test_the_model_sets_the_confidence_floors_the_options_leave_open(monkeypatch):
    # A model that reads at lower confidence (the multilingual one on CJK) carries its own floor in model.json: it is
    # the floor for taking a turn and for skipping the quarter-turn passes unless the options set them.
    model = fake_model()
    read_always(model, "word")
    model.spec = model.spec.replace(postprocess=dataclasses.replace(model.spec.postprocess, orientation_confidence=0.4))
    scores = orientation.sample_scores
    # Every sample reads at half its confidence (about 0.5): below 0.7, above the model's 0.4.
    monkeypatch.setattr(
        orientation,
        "sample_scores",
        lambda *a, **kw: [s._replace(confidence=s.confidence / 2) for s in scores(*a, **kw)],
    )
    chosen = []
    monkeypatch.setattr(orientation, "choose_rotation", lambda scores, **kw: chosen.append((scores, kw)) or 0)
    image = page_with_boxes(HEIGHT, WIDTH, BOXES)
    _ocr(model).read(image)
    explicit = OrientationOptions(min_confidence=0.6, quarter_turn_below=0.7)
    OCR(model=model, device="cpu", scale=SCALE, orientation=explicit).read(image)
    (model_scores, model_kwargs), (option_scores, option_kwargs) = chosen
    assert 0.45 < model_scores[0] < 0.55
    assert set(model_scores) == {0, 180} and model_kwargs["min_confidence"] == 0.4
    assert set(option_scores) == {0, 90, 180, 270} and option_kwargs["min_confidence"] == 0.6


def test_cli_orientation_flag_and_reported_rotation(tmp_path, monkeypatch, capsys):
    folder = checkpoints.save_model(create_model("tiny-test"), tmp_path / "tiny")
    load = checkpoints.load_model

    def load_with_fake_detector(path, **kwargs):
        model = load(path, **kwargs)
        model.detector = DarkBoxDetector(model.detector)
        read_always(model, "ok")
        return model

    monkeypatch.setattr(checkpoints, "load_model", load_with_fake_detector)
    monkeypatch.setattr(orientation, "choose_rotation", lambda scores, **_: 180)
    path = tmp_path / "page.png"
    Image.fromarray(page_with_boxes(HEIGHT, WIDTH, BOXES)).save(path)
    common = ["read", str(path), "--model", str(folder), "--device", "cpu", "--infer-length", "128"]
    rotations = []
    for flags in (["--format", "json"], ["--format", "document"], ["--orientation", "off"]):
        assert main([*common, *flags]) == 0
        out = json.loads(capsys.readouterr().out)
        rotations.append(out["rotation"] if "rotation" in out else out["pages"][0]["rotation"])
    assert rotations == [180, 180, 0]
    with pytest.raises(SystemExit):
        main([*common, "--orientation", "90"])


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_published_order_of_a_turned_page_is_the_upright_order(rotation):
    # Three lines read upright on the turned image (100 x 60): two words on the first line, one on each other.
    boxes = [(10, 5, 40, 15), (50, 5, 90, 15), (10, 25, 60, 35), (10, 45, 30, 55)]
    words = [Word(t, tuple(map(tuple, _box_quad(*b).tolist())), 0.9, 0.9, 0.9) for t, b in zip("abcd", boxes)]
    lines = [(words[0], words[1]), (words[2],), (words[3],)]
    read = Page(
        100,
        60,
        (Paragraph(tuple(Line(ws, bounding_quad([w.quad for w in ws]), 0.9) for ws in lines), words[0].quad, 0.9),),
    )
    width, height = (60, 100) if rotation in (90, 270) else (100, 60)
    page = page_to_original(read, rotation, width, height)
    assert [item["text"] for item in to_published(page, "word")] == ["a", "b", "c", "d"]
    assert [item["text"] for item in to_published(page, "sentence")] == ["a b", "c", "d"]
    assert [item["text"] for item in to_published(dataclasses.replace(page, rotation=0), "word")] != list("abcd")
