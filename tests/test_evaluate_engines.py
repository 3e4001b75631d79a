"""Engine adapters (Tesseract, RapidOCR, textspotter; skipped when missing), the runner, the cache, scoring, reports."""

import json
import os

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from textspotter.document import Line, Page, Paragraph, Word, bounding_quad
from textspotter.evaluate import (
    Dataset,
    EngineUnavailableError,
    Prediction,
    RapidOCREngine,
    Region,
    ResultCache,
    Sample,
    TableTruth,
    TesseractEngine,
    TesseractOptions,
    TextspotterEngine,
    TextspotterOptions,
    create_engine,
    evaluate,
    run_engine,
    score_page,
)
from textspotter.evaluate.cache import page_from_dict
from textspotter.evaluate.engines import page_from_lines, page_from_tesseract_tsv, source_fingerprint
from textspotter.evaluate.report import markdown_report, results_to_json, write_charts
from textspotter.evaluate.scoring import hypothesis_text
from textspotter.metrics import normalize_text

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def render(text, size=(520, 90)):
    image = Image.new("RGB", size, "white")
    font = ImageFont.truetype(FONT, 40) if os.path.exists(FONT) else ImageFont.load_default(size=40)
    ImageDraw.Draw(image).text((20, 20), text, fill="black", font=font)
    return np.asarray(image)


def quad(x0, y0, x1, y1):
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def word(text, box, order=0, valid=True):
    return Word(text, quad(*box), 0.9, 0.9, 0.9, order=order, valid=valid)


def page_of(lines, width=200, height=100):
    built = tuple(Line(tuple(ws), bounding_quad([w.quad for w in ws]), 0.9, order=i) for i, ws in enumerate(lines))
    return Page(width, height, (Paragraph(built, bounding_quad([line.quad for line in built]), 0.9),))


# ------------------------------------------------------------------------------------------------------------
# Output conversion


TSV = "\n".join(
    [
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
        "1\t1\t0\t0\t0\t0\t0\t0\t200\t100\t-1\t",
        "2\t1\t1\t0\t0\t0\t10\t10\t150\t50\t-1\t",
        "3\t1\t1\t1\t0\t0\t10\t10\t150\t50\t-1\t",
        "4\t1\t1\t1\t1\t0\t10\t10\t150\t20\t-1\t",
        "5\t1\t1\t1\t1\t1\t10\t10\t60\t20\t96.5\tHello",
        "5\t1\t1\t1\t1\t2\t80\t10\t80\t20\t91.0\tworld",
        "5\t1\t1\t1\t1\t3\t170\t10\t5\t20\t95.0\t ",
        "4\t1\t1\t1\t2\t0\t10\t40\t40\t20\t-1\t",
        "5\t1\t1\t1\t2\t1\t10\t40\t40\t20\t88.0\tagain",
        "3\t1\t1\t2\t0\t0\t10\t70\t40\t20\t-1\t",
        "4\t1\t1\t2\t1\t0\t10\t70\t40\t20\t-1\t",
        "5\t1\t1\t2\t1\t1\t10\t70\t40\t20\t80.0\tnext",
    ]
)


def test_page_from_tesseract_tsv():
    page = page_from_tesseract_tsv(TSV, 200, 100)
    assert page.text() == "Hello world\nagain\n\nnext"
    first = page.lines[0]
    assert first.quad == quad(10, 10, 160, 30)
    assert first.words[1].quad == quad(80, 10, 160, 30)
    assert first.words[0].confidence == pytest.approx(0.965)
    assert [w.order for w in first.words] == [0, 1]


def test_page_from_lines_splits_words_along_the_line():
    page = page_from_lines([("ab cd", [[0, 0], [50, 0], [50, 10], [0, 10]], 0.8, None)], 100, 20)
    (line,) = page.lines
    assert [w.text for w in line.words] == ["ab", "cd"]
    assert line.words[0].quad == quad(0, 0, 20, 10)
    assert line.words[1].quad == quad(30, 0, 50, 10)
    assert page_from_lines([], 10, 10).paragraphs == ()


# ------------------------------------------------------------------------------------------------------------
# Real engines on one small image


def read_with(engine):
    try:
        engine.version()
        engine.load()
    except EngineUnavailableError as exc:
        pytest.skip(f"{engine.name} is not available here: {exc}")
    try:
        return engine.read(render("Hello world 2024"))
    finally:
        engine.close()


@pytest.mark.parametrize("backend", ["tesserocr", "cli"])
def test_tesseract_adapter(backend):
    engine = TesseractEngine(TesseractOptions(backend=backend), threads=1)
    prediction = read_with(engine)
    assert hypothesis_text(prediction.page) == "Hello world 2024"
    assert [w.text for w in prediction.page.words] == ["Hello", "world", "2024"]
    x0 = [w.quad[0][0] for w in prediction.page.words]
    assert x0 == sorted(x0) and 10 <= x0[0] <= 40
    assert "lang eng" in engine.version() and "threads 1" in engine.version()


def test_rapidocr_adapter():
    pytest.importorskip("rapidocr")
    pytest.importorskip("onnxruntime")
    engine = RapidOCREngine(threads=1)
    prediction = read_with(engine)
    # RapidOCR may give each word its own line box: compare the whitespace-normalised text.
    assert normalize_text(hypothesis_text(prediction.page)) == "Hello world 2024"
    assert (prediction.page.width, prediction.page.height) == (520, 90)
    assert "rapidocr 3." in engine.version()


def test_textspotter_adapter_with_random_weights():
    pytest.importorskip("textspotter.pipeline.ocr")
    engine = TextspotterEngine(TextspotterOptions(model="random:tiny-test"), threads=1)
    prediction = read_with(engine)
    # Random weights read nothing sensible; the adapter must still return a page of the input's size.
    assert (prediction.page.width, prediction.page.height) == (520, 90)
    assert "model random:tiny-test" in engine.version()
    assert f"(code {source_fingerprint()})" in engine.version()
    # Cached pages of one page assembly are never served for another.
    assert "reading order lines" in engine.version()
    other = TextspotterEngine(TextspotterOptions(model="random:tiny-test", reading_order="paragraphs"), threads=1)
    assert "reading order paragraphs" in other.version()
    other.load()
    assert other._ocr.assembly.order == "paragraphs"
    # Nor pages kept at another validity threshold.
    assert "valid confidence" not in engine.version()
    lower = TextspotterEngine(TextspotterOptions(model="random:tiny-test", valid_confidence=0.3), threads=1)
    assert "; valid confidence 0.3;" in lower.version()
    lower.load()
    assert lower._ocr.assembly.valid_confidence == 0.3
    # Nor pages read with text fitting for a run without it.
    assert "fit text on" in engine.version() and engine.version() != other.version()
    unfitted = TextspotterEngine(TextspotterOptions(model="random:tiny-test", fit_text=False), threads=1)
    assert "fit text off" in unfitted.version()
    unfitted.load()
    assert unfitted._ocr.scale.fit_text is False
    # Nor pages of a bf16 detector for a run in the model's dtype; "auto" is named by what it resolves to here.
    from textspotter.pipeline.stages import cpu_has_native_bf16

    assert ("precision bf16" in engine.version()) == cpu_has_native_bf16()
    exact = TextspotterEngine(TextspotterOptions(model="random:tiny-test", precision="model"), threads=1)
    assert "precision" not in exact.version()
    bf16 = TextspotterEngine(TextspotterOptions(model="random:tiny-test", precision="bf16"), threads=1)
    assert "precision bf16" in bf16.version()
    bf16.load()
    assert bf16._ocr.detection.precision == bf16._ocr.recognition.precision == bf16._ocr.relation.precision == "bf16"
    # Nor pages whose long words were read in windows for a run that reads them squeezed.
    assert "; long words auto: min_ratio 1.3," in engine.version()
    squeezed = TextspotterEngine(TextspotterOptions(model="random:tiny-test", long_words="off"), threads=1)
    assert "long words" not in squeezed.version()
    squeezed.load()
    assert squeezed._ocr.recognition.long_words is None


def test_textspotter_adapter_reports_unusable_models(tmp_path):
    pytest.importorskip("textspotter.pipeline.ocr")
    for model in ("random:no-such-configuration", str(tmp_path / "missing-folder")):
        engine = TextspotterEngine(TextspotterOptions(model=model))
        with pytest.raises(EngineUnavailableError):
            engine.load()


def test_engine_options_are_checked():
    with pytest.raises(ValueError, match="backend"):
        TesseractOptions(backend="gpu")
    with pytest.raises(ValueError, match="lang"):
        TesseractOptions(lang="eng; rm -rf")
    with pytest.raises(ValueError, match="unknown engine"):
        create_engine("abbyy")
    with pytest.raises(ValueError, match="threads"):
        create_engine("rapidocr", threads=0)


# ------------------------------------------------------------------------------------------------------------
# Runner and cache, with a fake engine


class FakeEngine:
    """Reads a fixed page; counts loads and reads; fails on images of a given width."""

    name = "fake"

    def __init__(self, page, fail_width=None):
        self.page, self.fail_width = page, fail_width
        self.threads = 1
        self.loads = self.reads = 0

    def version(self):
        return "fake 1"

    def load(self):
        self.loads += 1

    def read(self, image):
        self.reads += 1
        if image.shape[1] == self.fail_width:
            raise RuntimeError("cannot read this one")
        return Prediction(self.page)

    def close(self):
        pass


def fixture_dataset(tmp_path):
    Image.new("RGB", (200, 100), "white").save(tmp_path / "a.png")
    Image.new("RGB", (210, 100), "white").save(tmp_path / "b.png")
    words = (Region("Hello", quad(10, 10, 50, 20)), Region("world", quad(60, 10, 100, 20)))
    samples = (
        Sample(
            "a.png",
            tmp_path / "a.png",
            text="Hello world",
            words=words,
            lines=(Region("Hello world", quad(10, 10, 100, 20)),),
        ),
        Sample("b.png", tmp_path / "b.png", text="Hello world"),
    )
    return Dataset("fixture", "folder", tmp_path, samples)


def fake_page():
    return page_of([[word("Hello", (10, 10, 50, 20)), word("world", (60, 10, 100, 20), order=1)]])


def test_runner_caches_pages_and_load_time(tmp_path):
    dataset = fixture_dataset(tmp_path)
    cache = ResultCache(tmp_path / "cache")
    engine = FakeEngine(fake_page())
    first = evaluate(engine, dataset, cache=cache)
    assert (engine.loads, engine.reads, first.cached) == (1, 2, 0)
    assert first.metrics["cer"] == 0.0 and first.metrics["word_f1"] == 1.0 and first.metrics["line_f1"] == 1.0
    assert first.load_seconds is not None and first.seconds > 0
    second = evaluate(engine, dataset, cache=cache)
    assert (engine.loads, engine.reads, second.cached) == (1, 2, 2)
    assert second.metrics == first.metrics and second.load_seconds == first.load_seconds
    evaluate(engine, dataset, cache=cache, refresh=True)
    assert (engine.loads, engine.reads) == (2, 4)


def test_runner_records_failed_pages_and_does_not_cache_them(tmp_path):
    dataset = fixture_dataset(tmp_path)
    cache = ResultCache(tmp_path / "cache")
    engine = FakeEngine(fake_page(), fail_width=210)
    result = evaluate(engine, dataset, cache=cache)
    assert result.errors == 1 and "cannot read this one" in result.error_messages[0]
    # The failed page counts as empty: 11 reference characters missing of 22.
    assert result.metrics["cer"] == pytest.approx(11 / 22)
    run = run_engine(engine, dataset.samples, cache=cache)
    assert run.cached == 1 and run.predictions[1].error is not None


def test_cache_round_trip_and_damaged_entries(tmp_path):
    cache = ResultCache(tmp_path)
    prediction = Prediction(fake_page(), seconds=1.5, tables=("<table></table>",))
    cache.put("fake", "v1", "abc", prediction)
    loaded = cache.get("fake", "v1", "abc")
    assert loaded.page.to_dict() == prediction.page.to_dict()
    assert loaded.seconds == 1.5 and loaded.tables == ("<table></table>",)
    assert cache.get("fake", "v2", "abc") is None
    assert page_from_dict(prediction.page.to_dict()) == prediction.page
    entry = next((tmp_path / "fake").rglob("*.json"))
    entry.write_text("{not json", encoding="utf-8")
    assert cache.get("fake", "v1", "abc") is None
    cache.put("fake", "v1", "bad", Prediction(fake_page(), error="boom"))
    assert cache.get("fake", "v1", "bad") is None


def test_cache_keeps_where_a_page_text_came_from(tmp_path):
    import dataclasses

    cache = ResultCache(tmp_path)
    for number, (source, reason) in enumerate([("text-layer", None), ("mixed", "images+untrusted_words")]):
        page = dataclasses.replace(fake_page(), text_source=source, text_layer_reason=reason)
        cache.put("fake", "v1", str(number), Prediction(page, seconds=0.5))
        loaded = cache.get("fake", "v1", str(number)).page
        assert (loaded.text_source, loaded.text_layer_reason) == (source, reason)
        assert loaded == page  # Page equality compares both fields
    # An entry written before the text layer was read (no such keys) is an OCRed page.
    old = {key: value for key, value in fake_page().to_dict().items() if not key.startswith("text_")}
    assert (page_from_dict(old).text_source, page_from_dict(old).text_layer_reason) == ("ocr", None)


# ------------------------------------------------------------------------------------------------------------
# Scoring


def test_score_page_words_lines_order_and_invalid_words(tmp_path):
    words = tuple(Region(t, quad(10 + 40 * i, 10, 40 + 40 * i, 20)) for i, t in enumerate(["a", "b", "c"]))
    sample = Sample("p", tmp_path / "p.png", text="a b c", words=words)
    # The engine reads c before b, and has one invalid (low-confidence) word that must not count.
    page = page_of(
        [[word("a", (10, 10, 40, 20)), word("c", (90, 10, 120, 20)), word("b", (50, 10, 80, 20))]]
        + [[word("zz", (0, 50, 30, 60), valid=False)]]
    )
    metrics = score_page(sample, Prediction(page)).metrics()
    assert metrics["word_f1"] == 1.0
    assert metrics["reading_order_tau"] == pytest.approx(1 - 2 * 1 / 3)
    assert metrics["cer"] == pytest.approx(2 / 5)  # "a c b" vs "a b c"
    assert metrics["bag_of_word_error"] == 0.0
    assert metrics["teds"] is None and metrics["line_f1"] is None


def test_score_page_first_line_only_and_layout_tables(tmp_path):
    sample = Sample("l", tmp_path / "l.png", text="first", first_line_only=True)
    page = page_of([[word("first", (0, 0, 10, 10))], [word("second", (0, 20, 10, 30))]])
    assert score_page(sample, Prediction(page)).metrics()["cer"] == 0.0
    table = "<table><thead><tr><td>first</td></tr></thead><tbody><tr><td>second</td></tr></tbody></table>"
    sample = Sample("t", tmp_path / "t.png", tables=(TableTruth(table),))
    metrics = score_page(sample, Prediction(page)).metrics()
    assert metrics["teds"] == 1.0 and metrics["teds_structure"] == 1.0


def test_dont_care_leaves_out_words_read_inside_ignored_reference_words(tmp_path):
    from textspotter.evaluate import ScoreOptions, score_dataset
    from textspotter.evaluate.scoring import dont_care_quads

    # The reference transcribes "a b" and marks a long code line on the second row as ignored (not transcribed).
    code = Region("\\def\\x{...}", quad(10, 40, 200, 55), ignore=True)
    sample = Sample("p", tmp_path / "p.png", text="a b", words=(Region("a", quad(10, 10, 40, 20)), code))
    sample_b = Sample("q", tmp_path / "q.png", text="a b", words=(Region("a", quad(10, 10, 40, 20)), code))
    read = [[word("a", (10, 10, 40, 20)), word("b", (50, 10, 80, 20))], [word("\\def\\x{", (12, 41, 150, 54))]]
    page = page_of(read + [[word("tail", (170, 42, 260, 54))]])  # centre (215, 48) is outside the ignored box
    plain = score_page(sample, Prediction(page)).metrics()
    scored = score_page(sample, Prediction(page), ScoreOptions(dont_care=True)).metrics()
    assert plain["bag_of_word_error"] == pytest.approx(1.0) and scored["bag_of_word_error"] == pytest.approx(0.5)
    assert scored["cer"] < plain["cer"]
    assert dont_care_quads(sample).shape == (1, 4, 2)
    # Nothing ignored: the option changes nothing; a word exactly on the ignored box's edge counts as inside.
    clean = Sample("c", tmp_path / "c.png", text="a b", words=(Region("a", quad(10, 10, 40, 20)),))
    assert score_page(clean, Prediction(page), ScoreOptions(dont_care=True)) == score_page(clean, Prediction(page))
    edge = page_of([[word("a", (10, 10, 40, 20)), word("b", (50, 10, 80, 20))], [word("x", (190, 40, 210, 55))]])
    assert score_page(sample, Prediction(edge), ScoreOptions(dont_care=True)).metrics()["cer"] == 0.0
    # Retrieval searches the same texts.
    total = score_dataset([sample, sample_b], [Prediction(page), Prediction(page)], ScoreOptions(dont_care=True))
    assert total.metrics()["bag_of_word_error"] == pytest.approx(0.5)


# ------------------------------------------------------------------------------------------------------------
# Reports


def test_markdown_json_and_charts(tmp_path):
    dataset = fixture_dataset(tmp_path)
    result = evaluate(FakeEngine(fake_page()), dataset)
    report = markdown_report([result], title="T", context=[("threads", "1")])
    assert "# T" in report and "- **threads:** 1" in report
    assert "| fixture | fake | 2 | 0.00 |" in report
    assert "`fake`: fake 1" in report and "TEDS" not in report
    data = json.loads(results_to_json([result], context=[("threads", "1")]))
    assert data["context"] == {"threads": "1"} and data["results"][0]["metrics"]["wer"] == 0.0
    pytest.importorskip("matplotlib")
    charts = write_charts([result], tmp_path / "charts")
    assert (tmp_path / "charts" / "cer.png") in charts
    assert all(path.stat().st_size > 1000 for path in charts)


def test_source_fingerprint_follows_the_code(tmp_path, monkeypatch):
    import textspotter

    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "rules.py").write_text("GAP = 1.5\n")
    monkeypatch.setattr(textspotter, "__file__", str(tmp_path / "__init__.py"))
    source_fingerprint.cache_clear()
    try:
        first = source_fingerprint()
        (tmp_path / "rules.py").write_text("GAP = 2.0\n")
        source_fingerprint.cache_clear()
        second = source_fingerprint()
    finally:
        source_fingerprint.cache_clear()
    assert len(first) == 12 and int(first, 16) >= 0 and first != second
