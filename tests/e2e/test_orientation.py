"""End-to-end: the shipped model reads the example page turned by 90 and 180 degrees upright (OrientationOptions).

Checks the decision (``Page.rotation``: the clockwise turn that makes the page upright), the text (the same reading
quality as the upright page) and that the word quads come back in the turned input's own pixels.
"""

import numpy as np
import pytest
from PIL import Image

import textspotter
from textspotter.assets import example_image_path
from textspotter.geometry import aabb_iou
from textspotter.metrics.text import text_counts
from textspotter.pipeline import OrientationOptions
from textspotter.pipeline.orientation import quads_to_rotated, rotate_image

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ocr():
    return textspotter.OCR(device="cpu")


@pytest.fixture(scope="module")
def upright(ocr):
    image = np.asarray(Image.open(example_image_path()).convert("RGB"))
    return image, ocr.read(image)[0].pages[0]


def _boxes(quads):
    quads = np.asarray(quads, dtype=np.float32).reshape(-1, 4, 2)
    return np.concatenate([quads.min(1), quads.max(1)], axis=1)


def test_upright_example_page_is_not_turned(upright):
    assert upright[1].rotation == 0


@pytest.mark.parametrize(("turn", "rotation"), [(180, 180), (90, 270)])
def test_turned_example_page_reads_upright_in_its_own_pixels(ocr, upright, turn, rotation):
    image, page = upright
    reference = example_image_path().with_suffix(".txt").read_text(encoding="utf-8")
    turned = rotate_image(image, turn)  # the input: the example page turned `turn` degrees clockwise
    read = ocr.read(turned)[0].pages[0]
    assert read.rotation == rotation
    assert (read.width, read.height) == (turned.shape[1], turned.shape[0])
    rates = text_counts(reference, read.text()).rates()
    assert rates["cer"] <= 0.05, rates  # the upright page: CER 0.009 (test_default_weights.py)
    # Each upright word, moved into the turned input, is found there by the turned read (the boxes overlap).
    expected = _boxes(quads_to_rotated(np.array([w.quad for w in page.words]), turn, page.width, page.height))
    found = _boxes([w.quad for w in read.words])
    best = aabb_iou(expected, found).max(1)
    assert np.mean(best >= 0.5) >= 0.9, best
    off = textspotter.OCR(model=ocr.model, device="cpu", orientation=OrientationOptions(mode="off"))
    garbled = text_counts(reference, off.read(turned)[0].pages[0].text()).rates()
    assert garbled["cer"] > 0.3, garbled  # what the option fixes: the turned page read as it is
