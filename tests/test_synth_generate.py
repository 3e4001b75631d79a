"""Whole pages and datasets: determinism, exact and complete annotations, every language and layout."""

import json
from dataclasses import replace

import numpy as np
import pytest

from textspotter.charset import latin_charset
from textspotter.data.manifest import PageAnnotation, read_manifest
from textspotter.synth import EffectConfig, SynthConfig, generate_dataset, generate_page
from textspotter.synth.languages import LANGUAGES, language_spec


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return SynthConfig(font_cache=str(tmp_path_factory.getbasetemp() / "synth-fonts.json"))


def _check_structure(page: PageAnnotation, image: np.ndarray) -> None:
    page.validate()
    assert (page.height, page.width) == image.shape[:2] and image.dtype == np.uint8 and image.shape[2] == 3
    in_lines = [w for line in page.lines for w in line.words]
    assert sorted(in_lines) == list(range(len(page.words))), "every word belongs to exactly one line"
    in_paragraphs = [li for p in page.paragraphs for li in p.lines]
    assert sorted(in_paragraphs) == list(range(len(page.lines))), "every line belongs to exactly one paragraph"
    for word in page.words:
        assert word.text and not any(c.isspace() for c in word.text)
        quad = np.asarray(word.quad)
        inside = np.all(quad >= -1) and np.all(quad[:, 0] <= page.width + 1) and np.all(quad[:, 1] <= page.height + 1)
        assert inside or word.ignore
    json.dumps(page.to_dict())  # params are plain data


def _ink_inside(page: PageAnnotation, image: np.ndarray) -> float:
    """Share of readable words whose box holds contrasting strokes (dark ink on lighter ground inside the box)."""
    gray = image.mean(axis=2)
    inked = 0
    words = [w for w in page.words if not w.ignore]
    for word in words:
        quad = np.asarray(word.quad)
        x0, y0 = np.maximum(np.floor(quad.min(0)).astype(int), 0)
        x1, y1 = np.ceil(quad.max(0)).astype(int)
        region = gray[y0:y1, x0:x1]
        inked += region.size > 0 and np.percentile(region, 5) < np.percentile(region, 80) - 50
    return inked / max(1, len(words))


def test_generate_page_is_deterministic(config):
    image_a, page_a = generate_page(config, 3, 7)
    image_b, page_b = generate_page(config, 3, 7)
    assert np.array_equal(image_a, image_b) and page_a.to_dict() == page_b.to_dict()
    image_c, page_c = generate_page(config, 3, 8)
    assert page_c.to_dict() != page_a.to_dict()
    assert page_a.id == "synth-00000007" and page_a.image == "images/synth-00000007.png"
    assert page_a.params["seed"] == 3 and page_a.params["index"] == 7


@pytest.mark.parametrize("index", range(8))
def test_english_pages(config, index):
    image, page = generate_page(config, 11, index)
    _check_structure(page, image)
    allowed = set(latin_charset().characters)
    assert len(page.words) >= 5 and page.language == "en"
    for word in page.words:
        assert set(word.text) <= allowed, word.text
    assert page.params["layout"] in config.layouts
    assert page.params["effects"][0]["name"] == "paper"


@pytest.mark.parametrize("layout", ["article", "form", "table", "receipt", "slide", "scene", "vertical"])
def test_every_layout_on_clean_pages(config, layout):
    clean = replace(config, layouts=(layout,), effects=EffectConfig.none())
    for index in range(2):
        image, page = generate_page(clean, 5, index)
        _check_structure(page, image)
        assert page.words, layout
        assert not any(w.ignore for w in page.words)
        if layout in ("article", "form", "table", "receipt"):
            assert _ink_inside(page, image) > 0.9
        if layout == "table":
            assert page.tables
            for table in page.tables:
                assert table.html.startswith("<table>") and table.html.endswith("</table>")
                assert "<thead>" in table.html
                for cell in table.cells:
                    assert all(0 <= w < len(page.words) for w in cell.words)


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_language(config, code):
    layouts = ("article", "vertical") if code in ("ja", "zh-Hant") else ("article", "form")
    cfg = replace(config, languages=(code,), layouts=layouts, effects=EffectConfig.none())
    image, page = generate_page(cfg, 2, 0)
    _check_structure(page, image)
    spec = language_spec(code)
    assert page.language == code and len(page.words) > 10
    for word in page.words:
        assert word.language == code and spec.allows(word.text), word.text
    if spec.direction == "rtl":
        # In a right-to-left line of right-to-left words, the first word in reading order is the rightmost.
        rtl_lines = [
            line.words
            for line in page.lines
            if len(line.words) > 2 and all(any(spec.native(c) for c in page.words[w].text) for w in line.words)
        ]
        assert rtl_lines
        for words in rtl_lines:
            xs = [np.mean([p[0] for p in page.words[w].quad]) for w in words]
            assert xs == sorted(xs, reverse=True)


def test_mixed_language_pages(config):
    cfg = replace(config, languages=("en", "ru"), mixed_language=1.0, layouts=("article",))
    found = set()
    for index in range(3):
        _image, page = generate_page(cfg, 9, index)
        found |= {w.language for w in page.words}
        assert page.params["mixed_language"] in ("en", "ru")
    assert found == {"en", "ru"}


def test_geometric_effects_keep_boxes_on_words(config):
    effects = replace(EffectConfig.none(), rotate=1.0, rotate_max=8.0, perspective=1.0)
    cfg = replace(config, layouts=("article",), effects=effects)
    for index in range(3):
        image, page = generate_page(cfg, 4, index)
        _check_structure(page, image)
        assert page.params["effects"][-1]["name"] == "geometry"
        assert _ink_inside(page, image) > 0.9


def test_left_to_right_pages_without_libraqm(config, tmp_path, monkeypatch):
    # Some PIL builds (a GPU machine's image, for one) lack libraqm: left-to-right text falls back to PIL's basic
    # layout with exact boxes; languages that need shaping fail at once, naming what is missing.
    from textspotter.synth import fonts
    from textspotter.synth import generate as generate_module

    monkeypatch.setattr(fonts, "raqm_available", lambda: False)
    monkeypatch.setattr(generate_module, "raqm_available", lambda: False)
    assert fonts.pil_direction("ltr") is None and fonts.pil_direction("rtl") == "rtl"
    clean = replace(config, font_cache=str(tmp_path / "fonts.json"), effects=EffectConfig.none())
    for layout in ("article", "form"):
        image, page = generate_page(replace(clean, layouts=(layout,)), 5, 0)
        _check_structure(page, image)
        assert len(page.words) > 10 and _ink_inside(page, image) > 0.9
    with pytest.raises(RuntimeError, match="libraqm"):
        generate_page(replace(clean, languages=("ar",)), 0, 0)


def test_config_validation(config):
    with pytest.raises(ValueError, match="unknown layouts"):
        SynthConfig(layouts=("poster",))
    with pytest.raises(ValueError, match="unknown language"):
        SynthConfig(languages=("tlh",))
    with pytest.raises(ValueError, match="layout_weights"):
        SynthConfig(layout_weights=(1.0,))
    with pytest.raises(ValueError, match="page_width"):
        SynthConfig(page_width=(900, 100))
    with pytest.raises(ValueError, match="seed"):
        generate_page(config, -1, 0)
    with pytest.raises(ValueError, match="no installed font"):
        generate_page(replace(config, font_dirs=("/usr/share/fonts/truetype/dejavu",), languages=("ja",)), 0, 0)
    assert SynthConfig(languages=("zh", "jp")).languages == ("zh-Hans", "ja")


def test_dataset_is_identical_for_any_number_of_workers(config, tmp_path):
    cfg = replace(config, layouts=("form", "receipt"))
    one = generate_dataset(cfg, tmp_path / "one", pages=4, seed=21, workers=1)
    ticks = []
    two = generate_dataset(cfg, tmp_path / "two", pages=4, seed=21, workers=2, progress=ticks.append)
    assert sum(ticks) == 4
    assert one.read_bytes() == two.read_bytes()
    pages = list(read_manifest(one))
    assert [p.id for p in pages] == [f"synth-{i:08d}" for i in range(4)]
    for page in pages:
        assert (tmp_path / "one" / page.image).read_bytes() == (tmp_path / "two" / page.image).read_bytes()
    description = json.loads((tmp_path / "one" / "synth.json").read_text())
    assert description["seed"] == 21 and description["config"]["layouts"] == ["form", "receipt"]
