"""Tests of the ``OCR`` API: outputs, batching, scale modes, single stages and bad inputs."""

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from test_imageio import _encrypted_pdf, _pdf_with_pages
from test_pipeline_fakes import fake_model, page_with_boxes, read_always
from textspotter import OCR, Document
from textspotter.imageio import ImageError, ImageOptions
from textspotter.models import create_model
from textspotter.models.spec import PreprocessConfig
from textspotter.ops import f_measure
from textspotter.pipeline import AssemblyOptions, OrientationOptions, RecognitionOptions, RelationOptions, ScaleOptions
from textspotter.pipeline.ocr import default_model_dir

# Tests that count detector passes: the random recognizer reads nothing, so orientation would try quarter turns.
UPRIGHT = OrientationOptions(mode="off")

BOXES = [(40, 40, 200, 72), (240, 40, 400, 72), (40, 120, 300, 152), (400, 300, 560, 340)]
PUBLISHED_KEYS = {"text", "confidence", "left", "upper", "right", "lower"}


@pytest.fixture(scope="module")
def model():
    return fake_model()


@pytest.fixture(scope="module")
def ocr(model):
    # Random recognizer weights give low text confidence, so every word is invalid: keep them to see them.
    return OCR(model=model, device="cpu", assembly=AssemblyOptions(include_invalid=True))


@pytest.fixture(scope="module")
def page():
    return page_with_boxes(400, 600, BOXES)


def _aabbs(quads):
    quads = np.asarray(quads, dtype=np.float64).reshape(-1, 4, 2)
    return np.concatenate([quads.min(1), quads.max(1)], axis=1)


def _match(found, expected, tolerance):
    """Each expected box has exactly one found box within ``tolerance`` pixels on every side."""
    found = _aabbs(found) if np.asarray(found).ndim == 3 else np.asarray(found, dtype=np.float64)
    assert len(found) == len(expected)
    for box in np.asarray(expected, dtype=np.float64):
        assert (np.abs(found - box).max(1) <= tolerance).sum() == 1, (box, found)


# ----------------------------------------------------------------------------------------------------------------
# Construction


def test_no_default_weights_gives_a_clear_error(tmp_path, monkeypatch):
    import textspotter.pipeline.ocr as ocr_module

    assert default_model_dir().name == "default"
    monkeypatch.setattr(ocr_module, "default_model_dir", lambda: tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="no default weights.*model="):
        OCR()


def test_constructor_errors(tmp_path):
    with pytest.raises(TypeError, match="model must be"):
        OCR(model=42)
    with pytest.raises(FileNotFoundError, match="missing-model"):
        OCR(model=tmp_path / "missing-model")
    with pytest.raises(ValueError, match="batch_size"):
        OCR(model=create_model("tiny-test"), batch_size=0)
    with pytest.raises(TypeError, match="scale must be a ScaleOptions"):
        OCR(model=create_model("tiny-test"), scale="tiled")
    with pytest.raises(ValueError, match="device"):
        OCR(model=create_model("tiny-test"), device="warp-drive")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            OCR(model=create_model("tiny-test"), device="cuda")


def test_model_instance_is_put_in_eval_mode_on_its_device():
    model = create_model("tiny-test")
    ocr = OCR(model=model)
    assert ocr.model is model and not model.training and ocr.device == torch.device("cpu")
    assert "tiny-test" in repr(ocr)


# ----------------------------------------------------------------------------------------------------------------
# Outputs


def test_published_output(ocr, page):
    items = ocr(page, merge_level="word")
    assert len(items) == 4 and all(set(item) == PUBLISHED_KEYS for item in items)
    for item in items:
        assert 0 <= item["left"] < item["right"] <= 1 and 0 <= item["lower"] < item["upper"] <= 1
        assert isinstance(item["text"], str) and 0 <= item["confidence"] <= 1
    # Normalised boxes, "upper" = largest y (the published quirk): back in pixels they are the drawn rectangles.
    boxes = [(i["left"] * 600, i["lower"] * 400, i["right"] * 600, i["upper"] * 400) for i in items]
    _match(boxes, BOXES, tolerance=4 * 600 / 256)
    assert len(ocr(page, merge_level="paragraph")) <= len(ocr(page, merge_level="sentence")) <= 4


def test_published_output_shape_follows_the_input(ocr, page):
    assert isinstance(ocr(page)[0], dict)
    batch = ocr([page, page[:200]])
    assert len(batch) == 2 and all(isinstance(items, list) for items in batch)
    assert batch[0] == ocr(page)
    blank = np.full((64, 64, 3), 255, dtype=np.uint8)
    assert ocr(blank) == [] and ocr([blank]) == [[]]


def test_unknown_merge_level_names_the_valid_ones(ocr, page):
    with pytest.raises(ValueError, match="one of word, sentence, paragraph, line; got 'lines'"):
        ocr(page, merge_level="lines")
    assert ocr(page, merge_level="line") == ocr(page, merge_level="sentence")  # "line" is another name
    with pytest.raises(ValueError, match="merge_level"):
        ocr(b"not an image", merge_level="block")  # checked before any input is read


def test_model_card_output(ocr, page):
    card = ocr.model_card(page, merge_level="word")
    assert set(card) == {"ocr_boxes", "ocr_txts", "ocr_confs"}
    assert len(card["ocr_boxes"]) == len(card["ocr_txts"]) == len(card["ocr_confs"]) == 4
    _match(card["ocr_boxes"], BOXES, tolerance=4 * 600 / 256)
    assert [item["text"] for item in ocr(page, "word")] == card["ocr_txts"]


def test_read_returns_ordered_documents(ocr, page):
    (doc,) = ocr.read(page)
    assert isinstance(doc, Document) and doc.ok and doc.source == "<array>"
    (result,) = doc.pages
    assert (result.width, result.height, result.index) == (600, 400, 0)
    assert [p.order for p in result.paragraphs] == list(range(len(result.paragraphs)))
    for paragraph in result.paragraphs:
        assert [line.order for line in paragraph.lines] == list(range(len(paragraph.lines)))
        for line in paragraph.lines:
            assert [w.order for w in line.words] == list(range(len(line.words)))
    words = result.words
    _match([w.quad for w in words], BOXES, tolerance=4 * 600 / 256)
    for word in words:
        assert word.detection_confidence > 0.99 and 0 <= word.text_confidence <= 1
        assert word.confidence == pytest.approx(f_measure(word.detection_confidence, word.text_confidence))
        assert word.valid == (bool(word.text) and word.confidence > 0.5)
    assert set(result.timings) == {"load", "preprocess", "detect", "recognize", "relate", "assemble", "orientation"}
    data = doc.to_dict()
    assert data["source"] == "<array>" and len(data["pages"][0]["paragraphs"]) == len(result.paragraphs)
    assert doc.text() == result.text()


def test_invalid_words_are_pruned_by_default(model, page):
    # The random recognizer is unsure of everything: every word is invalid, so every paragraph goes (§7.6 step 5).
    pruned = OCR(model=model)
    assert pruned(page) == []
    assert pruned.read(page)[0].pages[0].paragraphs == ()


def test_confident_recognizer_gives_valid_words(page):
    model = fake_model()
    read_always(model, "Hi!")
    ocr = OCR(model=model)
    assert [item["text"] for item in ocr(page, merge_level="word")] == ["Hi!"] * 4
    assert all(item["confidence"] > 0.99 for item in ocr(page, merge_level="paragraph"))
    assert all(w.valid for w in ocr.read(page)[0].pages[0].words)


def test_multi_page_inputs_and_sources(ocr, tmp_path):
    pages = [page_with_boxes(300, 300, [(20, 20, 150, 60)]), page_with_boxes(300, 300, [(20, 200, 280, 240)])]
    path = tmp_path / "two.pdf"
    Image.fromarray(pages[0]).save(path, save_all=True, append_images=[Image.fromarray(pages[1])], resolution=72)
    (doc,) = ocr.read(path, progress=None)
    assert doc.source == str(path) and [p.index for p in doc.pages] == [0, 1]
    assert len(ocr(path)) == 2  # a multi-page input gives one list per page
    counted = []
    docs = ocr.read([path, pages[0]], progress=counted.append)
    assert [len(d.pages) for d in docs] == [2, 1] and sum(counted) == 3
    assert docs[1].source == "<array #1>"


def test_every_input_kind(ocr, page, tmp_path):
    png = io.BytesIO()
    Image.fromarray(page).save(png, format="PNG")
    path = tmp_path / "page.png"
    path.write_bytes(png.getvalue())
    inputs = [
        str(path),
        path,
        png.getvalue(),
        base64.b64encode(png.getvalue()).decode(),
        io.BytesIO(png.getvalue()),
        Image.fromarray(page),
        page,
        torch.from_numpy(page).permute(2, 0, 1).contiguous(),
    ]
    docs = ocr.read(inputs)
    assert all(d.ok for d in docs)
    reference = docs[-2].pages[0]
    for doc in docs:
        assert [w.text for w in doc.pages[0].words] == [w.text for w in reference.words]


def test_exif_orientation_is_honoured(ocr):
    upright = page_with_boxes(200, 300, [(20, 20, 150, 60)])
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(upright, k=1)))  # stored rotated 90° anticlockwise
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = io.BytesIO()
    stored.save(data, format="JPEG", exif=exif, quality=95)
    (result,) = ocr.read(data.getvalue())[0].pages
    assert (result.width, result.height) == (300, 200)
    _match([w.quad for w in result.words], [(20, 20, 150, 60)], tolerance=4 * 300 / 256 + 2)


# ----------------------------------------------------------------------------------------------------------------
# Batching


def test_batches_give_the_same_results_as_one_at_a_time(model):
    rng = np.random.default_rng(0)
    pages = []
    for height, width in [(400, 600), (300, 300), (500, 350), (256, 700), (380, 380)]:
        boxes = []
        for _ in range(4):
            x0, y0 = int(rng.integers(0, width - 120)), int(rng.integers(0, height - 40))
            boxes.append((x0, y0, x0 + int(rng.integers(40, 120)), y0 + int(rng.integers(16, 40))))
        pages.append(page_with_boxes(height, width, boxes))
    pages.insert(2, np.full((200, 300, 3), 255, dtype=np.uint8))  # a page without text inside a batch
    keep = AssemblyOptions(include_invalid=True)
    one = OCR(model=model, batch_size=1, assembly=keep, recognition=RecognitionOptions(chunk_size=3))
    many = OCR(model=model, batch_size=4, assembly=keep, relation=RelationOptions(chunk_size=5))
    single = [one.read(p)[0] for p in pages]
    batched = many.read(pages)
    assert [len(d.pages[0].words) > 0 for d in batched] == [True, True, False, True, True, True]
    for a, b in zip(single, batched):
        words_a, words_b = a.pages[0].words, b.pages[0].words
        assert len(words_a) == len(words_b)
        assert [w.text for w in words_a] == [w.text for w in words_b]
        assert np.allclose([w.quad for w in words_a], [w.quad for w in words_b], atol=1e-4)
        assert np.allclose([w.confidence for w in words_a], [w.confidence for w in words_b], atol=1e-4)
        assert a.text() == b.text()


# ----------------------------------------------------------------------------------------------------------------
# Scale modes and centre padding


def test_centre_padding_quads_land_on_the_page():
    model = fake_model()
    model.spec = model.spec.replace(preprocess=PreprocessConfig(infer_length=256, pad_how="center"))
    boxes = [(40, 40, 200, 72), (400, 300, 560, 340)]
    found = OCR(model=model).detect(page_with_boxes(400, 600, boxes))
    _match(found.quads, boxes, tolerance=4 * 600 / 256)


def test_tiles_read_small_text_that_the_single_view_misses(model):
    # 6 px tall: less than one detector cell at 1200 → 256, more than one in tiles rendered 4× larger.
    big, small = (100, 100, 700, 260), (100, 600, 160, 606)
    page = page_with_boxes(1200, 900, [big, small])
    single = OCR(model=model).detect(page)
    _match(single.quads, [big], tolerance=4 * 1200 / 256)
    tiled = OCR(model=model, scale=ScaleOptions(mode="tiled", zoom=4.0, max_upscale=2.0)).detect(page)
    # One detection per rectangle: the big one (wider than a tile) from the single view, the small one from a tile.
    _match(tiled.quads, [big, small], tolerance=4 * 1200 / 256)
    small_quad = _aabbs(tiled.quads)[_aabbs(tiled.quads)[:, 1] > 500][0]
    assert np.abs(small_quad - small).max() <= 4


def test_tiled_read_gives_one_word_per_rectangle(model):
    boxes = [(30, 30, 300, 60), (30, 500, 90, 506), (600, 900, 880, 960), (700, 100, 760, 110)]
    page = page_with_boxes(1000, 900, boxes)
    ocr = OCR(
        model=model,
        scale=ScaleOptions(mode="tiled", zoom=4.0, max_upscale=2.0),
        assembly=AssemblyOptions(include_invalid=True),
        batch_size=3,
    )
    (doc,) = ocr.read([page])
    _match([w.quad for w in doc.pages[0].words], boxes, tolerance=4 * 1000 / 256)
    assert all(len(w.text) > 0 for w in doc.pages[0].words)


def test_a_cpu_detector_reads_one_input_per_pass_and_results_do_not_depend_on_the_batch(model):
    # A batch of 6 pages in one detector pass held every page's activations at once: 2.2 GB at 1536² (issue #20).
    boxes = [(30, 30, 300, 60), (30, 500, 90, 506), (600, 900, 880, 960)]
    pages = [page_with_boxes(1000, 900, boxes), page_with_boxes(600, 400, boxes[:1])]
    scale = ScaleOptions(mode="tiled", zoom=4.0, max_upscale=2.0)  # several views per page: tiles fill the batch
    keep = AssemblyOptions(include_invalid=True)
    passes = []
    hook = model.detector.register_forward_pre_hook(lambda module, args: passes.append(args[0].shape[0]))
    try:
        many = OCR(model=model, scale=scale, assembly=keep, batch_size=8).read(pages)
    finally:
        hook.remove()
    assert len(passes) > len(pages) and set(passes) == {1}
    one = [OCR(model=model, scale=scale, assembly=keep, batch_size=1).read(p)[0] for p in pages]
    for a, b in zip(one, many):
        assert [w.text for w in a.pages[0].words] == [w.text for w in b.pages[0].words]
        assert np.allclose([w.quad for w in a.pages[0].words], [w.quad for w in b.pages[0].words], atol=1e-3)


def test_infer_length_option_sets_the_detector_input_side(model):
    boxes = [(40, 40, 200, 72), (240, 40, 400, 72), (40, 120, 300, 152)]
    page = page_with_boxes(400, 600, boxes)
    sides = []
    hook = model.detector.register_forward_pre_hook(lambda module, args: sides.append(tuple(args[0].shape[-2:])))
    try:
        ocr = OCR(model=model, scale=ScaleOptions(infer_length=512), assembly=AssemblyOptions(include_invalid=True))
        assert ocr.preprocess.infer_length == 512 and model.spec.preprocess.infer_length != 512
        assert "infer_length=512" in repr(ocr)
        (doc,) = ocr.read([page])
    finally:
        hook.remove()
    # The long side is L; the short one is cropped to the page (400 / 600 of 512, rounded up to 32).
    assert sides and sides[0] == (352, 512)
    # Boxes come back in page pixels whatever the detector's input side.
    _match([w.quad for w in doc.pages[0].words], boxes, tolerance=4 * 600 / 512)


def test_fitted_length_rule():
    heights = torch.tensor([38.0, 40.0, 42.0])
    options = ScaleOptions()
    assert options.fitted_length(heights, 1536) == 768  # 1536 · 20 / 40
    assert options.fitted_length(torch.tensor([30.0, 31.0]), 1536) is None  # not too large
    assert options.fitted_length(torch.tensor([400.0]), 1536) == 256  # floored at min_fit_length
    assert options.fitted_length(torch.tensor([33.0]), 256) is None  # the floor leaves no smaller side
    assert options.fitted_length(torch.empty(0), 1536) is None
    assert ScaleOptions(fit_text=False).fitted_length(heights, 1536) is None
    assert ScaleOptions(mode="tiled").fitted_length(heights, 1536) is None
    assert ScaleOptions(text_height=10.0, min_fit_length=64).fitted_length(heights, 1536) == 384
    with pytest.raises(ValueError, match="text_height"):
        ScaleOptions(text_height=40.0, max_text_height=32.0)
    with pytest.raises(ValueError, match="min_fit_length"):
        ScaleOptions(min_fit_length=100)
    with pytest.raises(ValueError, match="small_first"):
        ScaleOptions(small_first=1.5)


def _detector_sides(model, run):
    sides = []
    hook = model.detector.register_forward_pre_hook(lambda module, args: sides.append(tuple(args[0].shape[-2:])))
    try:
        result = run()
    finally:
        hook.remove()
    return sides, result


def test_large_text_is_read_again_at_a_fitted_size(model):
    # 96 px tall rectangles on a 600 px page: 41 detector pixels at 256, over max_text_height (32); the page is
    # read again at 256 · 20 / 41 ≈ 128 and the boxes still come back in page pixels.
    boxes = [(40, 40, 260, 136), (300, 40, 560, 136), (40, 250, 400, 346)]
    page = page_with_boxes(400, 600, boxes)
    keep = AssemblyOptions(include_invalid=True)
    fit = OCR(model=model, scale=ScaleOptions(min_fit_length=64), assembly=keep, orientation=UPRIGHT)
    sides, (doc,) = _detector_sides(model, lambda: fit.read([page]))
    assert [max(side) for side in sides] == [256, 128]
    _match([w.quad for w in doc.pages[0].words], boxes, tolerance=4 * 600 / 128)
    off = OCR(model=model, scale=ScaleOptions(fit_text=False, min_fit_length=64), assembly=keep, orientation=UPRIGHT)
    sides, _ = _detector_sides(model, lambda: off.read([page]))
    assert [max(side) for side in sides] == [256]
    # The single stages choose the same size: detect() from its detections, recognize() from the given quads.
    sides, found = _detector_sides(model, lambda: fit.detect(page))
    assert [max(side) for side in sides] == [256, 128]
    _match(found.quads, boxes, tolerance=4 * 600 / 128)
    sides, read = _detector_sides(model, lambda: fit.recognize(page, found.quads))
    assert [max(side) for side in sides] == [128]
    assert read.texts == [w.text for w in sorted(doc.pages[0].words, key=lambda w: _word_key(w, found.quads))]


def test_small_first_rule():
    options = ScaleOptions()
    assert options.first_length(480, 640, 1536) == 640  # its own size
    assert options.first_length(100, 150, 1536) == 256  # floored at min_fit_length
    assert options.first_length(2200, 1700, 1536) == 1536  # not smaller than L
    assert options.first_length(600, 1100, 1536) == 1536  # over 0.67 L: read at L
    assert options.first_length(600, 1000, 1536) == 1024  # rounded up to a multiple of 32
    assert ScaleOptions(small_first=0.0).first_length(480, 640, 1536) == 1536
    assert ScaleOptions(fit_text=False).first_length(480, 640, 1536) == 1536
    assert ScaleOptions(mode="tiled").first_length(480, 640, 1536) == 1536
    # The decision is the one a read at L would give: 30 px at 640 is 72 px at 1536, fitted to 1536 · 20 / 72.
    assert options.refit_length(torch.tensor([30.0]), 640, 1536) == 416
    assert options.refit_length(torch.tensor([50.0]), 640, 1536) == 256  # floored
    assert options.refit_length(torch.tensor([10.0]), 640, 1536) == 1536  # small text: read at L after all
    assert options.refit_length(torch.empty(0), 640, 1536) == 1536  # nothing found: read at L
    assert options.refit_length(torch.tensor([32.0]), 512, 512) is None  # a first read at L: fitted_length's rule
    assert options.refit_length(torch.tensor([64.0]), 256, 1536) is None  # floored at 256, which it was read at


def test_a_small_page_is_read_first_at_its_own_size(model):
    keep = AssemblyOptions(include_invalid=True)
    # 96 px words on a 600 px page: 97 px at 608 (its own size), 205 px at 1280; the decision at L (fit to
    # 1280 · 20 / 205 ≈ 128) is taken from the first read without reading at 1280.
    large = page_with_boxes(400, 600, [(40, 40, 260, 136), (300, 40, 560, 136), (40, 250, 400, 346)])
    small_first = OCR(
        model=model, scale=ScaleOptions(infer_length=1280, min_fit_length=64), assembly=keep, orientation=UPRIGHT
    )
    sides, (doc,) = _detector_sides(model, lambda: small_first.read([large]))
    assert [max(side) for side in sides] == [608, 128]
    _match(
        [w.quad for w in doc.pages[0].words],
        [(40, 40, 260, 136), (300, 40, 560, 136), (40, 250, 400, 346)],
        tolerance=4 * 600 / 128,
    )
    every = OCR(
        model=model,
        scale=ScaleOptions(infer_length=1280, min_fit_length=64, small_first=0.0),
        assembly=keep,
        orientation=UPRIGHT,
    )
    sides, (same,) = _detector_sides(model, lambda: every.read([large]))
    assert [max(side) for side in sides] == [1280, 128]
    assert [w.text for w in same.pages[0].words] == [w.text for w in doc.pages[0].words]
    # 12 px words are 26 px at 1280, not too large: the page is read again at L.
    small = page_with_boxes(400, 600, [(40, 40, 160, 52), (200, 40, 330, 52), (40, 100, 220, 112)])
    sides, _ = _detector_sides(model, lambda: small_first.read([small]))
    assert [max(side) for side in sides] == [608, 1280]


def _word_key(word, quads):
    """Position in ``quads`` of the quad nearest to the word's."""
    return int(np.abs(np.asarray(quads) - np.asarray(word.quad)).reshape(len(quads), -1).max(1).argmin())


def test_a_batch_mixing_fitted_and_unfitted_pages_keeps_order_and_results(model):
    large = page_with_boxes(400, 600, [(40, 40, 260, 136), (300, 40, 560, 136), (40, 250, 400, 346)])
    normal = page_with_boxes(400, 600, BOXES)
    blank = np.full((300, 300, 3), 255, dtype=np.uint8)
    keep = AssemblyOptions(include_invalid=True)
    scale = ScaleOptions(min_fit_length=64)
    pages = [normal, large, blank, large, normal]
    one = [OCR(model=model, batch_size=1, scale=scale, assembly=keep).read(p)[0] for p in pages]
    batch = OCR(model=model, batch_size=8, scale=scale, assembly=keep, orientation=UPRIGHT)
    sides, many = _detector_sides(model, lambda: batch.read(pages))
    # A CPU detector reads one input per pass (OCR._detector_batch_size): five at 256, then the two large pages.
    assert [max(side) for side in sides] == [256] * 5 + [128] * 2
    assert [len(d.pages[0].words) for d in many] == [4, 3, 0, 3, 4]
    for a, b in zip(one, many):
        assert [w.text for w in a.pages[0].words] == [w.text for w in b.pages[0].words]
        assert np.allclose([w.quad for w in a.pages[0].words], [w.quad for w in b.pages[0].words], atol=1e-3)


# ----------------------------------------------------------------------------------------------------------------
# Single stages


def test_single_stages_agree_with_the_pipeline(ocr, page):
    found = ocr.detect(page)
    assert found.quads.shape == (4, 4, 2) and found.quads.dtype == np.float32
    assert (found.width, found.height) == (600, 400) and (found.confidence > 0.99).all()
    read = ocr.recognize(page, found.quads)
    words = ocr.read(page)[0].pages[0].words
    by_quad = {tuple(np.round(np.asarray(w.quad), 2).ravel()): w for w in words}
    for quad, text, conf in zip(found.quads, read.texts, read.confidence):
        word = by_quad[tuple(np.round(quad.astype(np.float64), 2).ravel())]
        assert word.text == text and word.text_confidence == pytest.approx(float(conf), abs=1e-5)
    groups = ocr.relate(page, found.quads)
    assert sorted(i for paragraph in groups for line in paragraph for i in line) == [0, 1, 2, 3]
    assert ocr.recognize(page, np.zeros((0, 4, 2))).texts == []
    with pytest.raises(ValueError, match="quads"):
        ocr.recognize(page, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="no page 3"):
        ocr.detect(page, page=3)


# ----------------------------------------------------------------------------------------------------------------
# Bad inputs


@pytest.fixture(scope="module")
def tiny_ocr():
    return OCR(model=create_model("tiny-test"), image_options=ImageOptions(max_pixels=1_000_000))


@pytest.mark.parametrize(
    ("make_input", "error", "message"),
    [
        (lambda tmp: tmp / "missing.png", FileNotFoundError, "missing.png"),
        (lambda tmp: _write(tmp / "empty.png", b""), ImageError, "empty.png: .*empty"),
        (lambda tmp: _write(tmp / "corrupt.png", b"\x89PNG\r\n\x1a\n garbage"), ImageError, "corrupt.png"),
        (lambda tmp: b"\x00\x01 definitely not an image", ImageError, "<bytes>"),
        (lambda tmp: np.zeros((0, 10, 3), dtype=np.uint8), ImageError, "<array>: .*(empty|zero)"),
        (lambda tmp: np.zeros((2000, 1000), dtype=np.uint8), ImageError, "<array>: .*pixels"),
        (lambda tmp: object(), TypeError, "unsupported input type"),
        (lambda tmp: np.zeros((10, 10, 3), dtype=np.complex64), ImageError, "<array>: .*dtype"),
        (lambda tmp: np.zeros((2, 10, 10, 3), dtype=np.uint8), ImageError, "<array>: .*shape"),
        (lambda tmp: np.full((10, 10, 3), 7.5, dtype=np.float32), ImageError, r"<array>: .*\[0, 1\]"),
        (lambda tmp: _encrypted_pdf("secret", "owner"), ImageError, "encrypted"),
        (lambda tmp: _pdf_with_pages([]), ImageError, "no pages"),
    ],
    ids=[
        "missing",
        "empty-file",
        "corrupt-file",
        "bytes",
        "zero-size",
        "too-large",
        "type",
        "dtype",
        "shape",
        "range",
        "encrypted-pdf",
        "empty-pdf",
    ],
)
def test_bad_inputs_raise_alone_and_are_reported_in_a_batch(tiny_ocr, tmp_path, make_input, error, message):
    bad = make_input(tmp_path)
    with pytest.raises(error, match=message):
        tiny_ocr(bad)
    good = np.full((64, 64, 3), 255, dtype=np.uint8)
    docs = tiny_ocr.read([good, bad, good])
    assert [d.ok for d in docs] == [True, False, True]
    assert docs[1].pages == () and docs[1].error
    assert len(docs[0].pages) == len(docs[2].pages) == 1


def _write(path, data):
    path.write_bytes(data)
    return path


def test_the_validity_threshold_is_the_models_unless_the_options_say(monkeypatch, page):
    import dataclasses

    import textspotter.pipeline.ocr as ocr_module

    model = fake_model()
    model.spec = model.spec.replace(postprocess=dataclasses.replace(model.spec.postprocess, valid_confidence=0.3))
    used = []
    assemble = ocr_module.assemble_page
    monkeypatch.setattr(
        ocr_module,
        "assemble_page",
        lambda r, options: used.append(options.valid_confidence) or assemble(r, options=options),
    )
    OCR(model=model, device="cpu", orientation=UPRIGHT).read(page)
    OCR(model=model, device="cpu", orientation=UPRIGHT, assembly=AssemblyOptions(valid_confidence=0.6)).read(page)
    assert used == [0.3, 0.6]
