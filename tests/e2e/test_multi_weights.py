"""End-to-end checks of the shipped multilingual model (src/textspotter/weights/multi, ``OCR(model="multi")``).

The multilingual model reads Korean and Russian well and Chinese and Japanese imperfectly (its MODEL_CARD.md).
These tests pin strict loading with the multilingual charset, the size budget and card, and the reading of the
bundled six-language example page (its ground truth ships beside it) with margins below what was measured; the
benchmarks report the scores on real pages.
"""

from pathlib import Path

import pytest

import textspotter
from textspotter.assets import example_image_path
from textspotter.charset import multilingual_charset
from textspotter.metrics.text import text_counts
from textspotter.models.checkpoints import load_model

MULTI = Path(textspotter.__file__).parent / "weights" / "multi"
EXAMPLE = example_image_path().with_name("example-multi.png")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def page():
    ocr = textspotter.OCR(model="multi", device="cpu")
    return ocr.read([str(EXAMPLE)])[0].pages[0]


def test_folder_is_complete_and_within_budget():
    for name in ("model.json", "model.safetensors", "MODEL_CARD.md"):
        assert (MULTI / name).is_file(), name
    assert (MULTI / "model.safetensors").stat().st_size <= 25 * 1024 * 1024
    card = (MULTI / "MODEL_CARD.md").read_text(encoding="utf-8")
    for section in ("Training", "Scores", "Known weaknesses"):
        assert section in card


def test_loads_strictly_with_the_multilingual_charset():
    model = load_model(MULTI)
    assert model.spec.name == "small-multi"
    assert model.spec.charset == multilingual_charset()
    assert model.spec.recognizer.num_tokens == multilingual_charset().num_tokens


def test_reads_the_six_languages_of_the_example_page_in_order(page):
    reference = EXAMPLE.with_suffix(".txt").read_text(encoding="utf-8")
    rates = text_counts(reference, page.text()).rates()
    # Measured for the shipped checkpoint (MODEL_CARD.md, stage 2): CER 0.119, bag-of-character error 0.114 under
    # bfloat16 (0.125 / 0.128 in float32); the English line exact, the Russian line exact but for the case of its
    # first letter, the Korean line two letters off, the Chinese and Japanese lines several characters off each.
    # The margins leave room for other CPUs' float rounding; a model that reads no CJK scores about 0.5.
    assert rates["cer"] <= 0.2, rates
    assert rates["bag_of_char_error"] <= 0.2, rates
    lines = [line.text for line in page.lines]
    assert len(lines) == 6, lines
    # The English notice first, the Korean and Russian lines last: reading order across scripts.
    assert lines[0] == "Notice to readers of the city library", lines
    for reference, line in (
        ("도서관은 일요일과 공휴일에 문을 닫습니다.", lines[4]),
        ("Читальный зал открыт с понедельника по субботу.", lines[5]),
    ):
        assert text_counts(reference, line).rates()["cer"] <= 0.15, (reference, line)
