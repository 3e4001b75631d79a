"""benchmarks/bag_errors.py: tokens sorted into kinds; a page's missing, spurious and near-missed tokens counted."""

import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bag_errors.py"


@pytest.fixture(scope="module")
def bag(load_script):
    return load_script(SCRIPT, "bag_errors")


def test_token_kinds(bag):
    kinds = {t: bag.token_kind(t) for t in ("−", "losses,", "(see", "2007", "12.5%", "H2O", "∇f", "--", "self-affine")}
    assert kinds == {
        "−": "one character",
        "losses,": "ordinary word",
        "(see": "ordinary word",
        "2007": "number",
        "12.5%": "number",
        "H2O": "with digits",
        "∇f": "math or symbol letters",
        "--": "symbols",
        "self-affine": "other",
    }
    assert set(kinds.values()) == set(bag.KINDS)


def test_a_page_is_compared_as_bags(bag):
    report = bag.BagReport()
    # "losses" read once as "loses" (a near miss), "x" missed, "the" in another place, "Fig" spurious.
    bag.compare("the losses of x grow", "grow the of loses Fig", report)
    assert report.reference_tokens == 5
    assert report.errors == 2  # max(2 missing, 2 spurious)
    assert report.missing == {"ordinary word": 1, "one character": 1}
    assert report.spurious == {"ordinary word": 2}
    assert report.near_misses == 1
    assert report.missing_tokens == {"losses": 1, "x": 1}


def test_cached_pages_are_read_back(bag, tmp_path):
    page = {"width": 10, "height": 10, "lines": [], "paragraphs": [], "words": []}
    entry = tmp_path / "textspotter" / "ab"
    entry.mkdir(parents=True)
    (entry / "abc.json").write_text(json.dumps({"image_sha256": "f00", "page": page}))
    assert bag.cached_pages(tmp_path) == {"f00": ""}


def test_cached_pages_leave_out_words_inside_dont_care_quads(bag, tmp_path):
    import numpy as np

    from textspotter.document import Line, Page, Paragraph, Word, bounding_quad

    def word(text, x0, x1):
        quad = ((x0, 0.0), (x1, 0.0), (x1, 10.0), (x0, 10.0))
        return Word(text, quad, 0.9, 0.9, 0.9)

    words = (word("kept", 0.0, 20.0), word("\\code", 40.0, 90.0))
    line = Line(words, bounding_quad([w.quad for w in words]), 0.9)
    page = Page(100, 20, (Paragraph((line,), line.quad, 0.9),))
    entry = tmp_path / "textspotter" / "ab"
    entry.mkdir(parents=True)
    (entry / "abc.json").write_text(json.dumps({"image_sha256": "f00", "page": page.to_dict()}))
    ignored = np.array([[[35, -2], [95, -2], [95, 12], [35, 12]]], dtype=np.float64)
    assert bag.cached_pages(tmp_path, {"f00": ignored}.get) == {"f00": "kept"}
    assert bag.cached_pages(tmp_path, {}.get) == bag.cached_pages(tmp_path) == {"f00": "kept \\code"}
