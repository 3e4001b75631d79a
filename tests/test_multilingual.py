"""The groundwork of the multilingual model (issue #22): charset, registry specs, line-level CJK regions, the
charset override of training, the ``small-multi`` config and the ``multi`` model name."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from test_pipeline_fakes import DarkBoxDetector, page_with_boxes, read_always
from textspotter import OCR
from textspotter.charset import NUM_SPECIAL_TOKENS, RARE, latin_charset, multilingual_charset
from textspotter.models import create_model
from textspotter.models.checkpoints import load_model, save_model
from textspotter.models.registry import get_spec, module_sizes
from textspotter.pipeline import AssemblyOptions, OrientationOptions
from textspotter.pipeline.ocr import SHIPPED_MODELS, default_model_dir, shipped_model_dir
from textspotter.synth import SynthConfig, generate_page
from textspotter.synth.languages import script_of
from textspotter.synth.render import MAX_CJK_RUN, cjk_runs
from textspotter.train.config import config_from_dict, resolve_config
from textspotter.train.loop import build_model, resize_classifier

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = {
    "en": "Hello",
    "zh-Hans": "简体中文识别",
    "zh-Hant": "繁體中文辨識",
    "ja": "ひらがなカタカナ漢字",
    "ko": "한국어문서",
    "ru": "Привет,Ёлка",
}


def _script_module():
    spec = importlib.util.spec_from_file_location("multilingual_charset", ROOT / "scripts" / "multilingual_charset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------------------------------------------
# Charset


def test_multilingual_charset_round_trips_every_language(tmp_path):
    charset = multilingual_charset()
    for language, text in SAMPLES.items():
        ids = charset.encode(text)
        assert RARE not in ids, language
        assert charset.decode(ids) == text
    assert charset.decode(charset.encode("中文 text")) == "中文^text"  # the space is not a character
    path = tmp_path / "charset.txt"
    charset.to_file(path)
    assert json.loads(path.read_text(encoding="utf-8")) == list(charset.characters)
    assert type(charset).from_file(path) == charset


def test_multilingual_charset_keeps_latin_ids_and_records_its_recipe():
    charset, latin = multilingual_charset(), latin_charset()
    assert charset.characters[: len(latin)] == latin.characters  # English token ids unchanged
    assert len(set(charset.characters)) == len(charset)
    assert all(len(c) == 1 and not c.isspace() for c in charset.characters)
    meta = json.loads((ROOT / "src/textspotter/assets/charset-multi.meta.json").read_text(encoding="utf-8"))
    assert meta["size"] == len(charset) and meta["latin"] == len(latin)
    assert multilingual_charset() is charset  # read once


def test_standard_sets_come_from_the_codecs_and_are_all_in_the_charset():
    sets = _script_module().standard_sets()
    sizes = {name: len(chars) for name, chars in sets.items()}
    assert sizes["gb2312-level1"] == 3755 and sizes["big5-frequent"] == 5401
    assert sizes["jisx0208-level1"] == 2965 and sizes["ksx1001-hangul"] == 2350 and sizes["russian"] == 66
    charset = multilingual_charset()
    missing = [c for chars in sets.values() for c in chars if c not in charset and not c.isspace()]
    assert missing == []


def test_small_multi_fits_the_weights_budget():
    spec = get_spec("small-multi")
    assert spec.charset == multilingual_charset() and spec.recognizer.num_tokens == len(spec.charset) + 3
    assert spec.recognizer.max_width == 256 and spec.recognizer.bucket_width == 16
    # Same detector and relational model as `small`: the English weights carry over.
    assert spec.detector == get_spec("small").detector and spec.relational == get_spec("small").relational
    parameters = sum(m["parameters"] for m in module_sizes(spec).values())
    assert parameters * 4 <= 25e6  # float32 safetensors, buffers aside


# ----------------------------------------------------------------------------------------------------------------
# Line-level CJK regions


@pytest.mark.parametrize(
    ("line", "regions"),
    [
        ("使用Python进行开发。", ["使用", "Python", "进行开发。"]),
        ("2024年3月，东京 Tokyo 大阪", ["2024年3月，东京", "Tokyo", "大阪"]),
        ("これはテストです", ["これはテストです"]),
        ("Plain English words, unchanged.", ["Plain", "English", "words,", "unchanged."]),
        ("Привет мир", ["Привет", "мир"]),
    ],
)
def test_cjk_runs_one_region_per_run_and_words_stay_words(line, regions):
    assert [line[a:b] for a, b in cjk_runs(line)] == regions


def test_cjk_runs_cut_long_runs_into_equal_pieces():
    line = "中" * (2 * MAX_CJK_RUN + 1)
    pieces = [b - a for a, b in cjk_runs(line)]
    assert len(pieces) == 3 and sum(pieces) == len(line) and max(pieces) - min(pieces) <= 1
    with pytest.raises(ValueError, match="max_chars"):
        cjk_runs(line, max_chars=0)


def _is_cjk(text):
    return any(script_of(c) in ("cjk", "kana") for c in text)


@pytest.mark.parametrize("language", ["zh-Hans", "ja"])
def test_generator_writes_line_level_cjk_regions(language):
    _, page = generate_page(SynthConfig(languages=(language,), layouts=("article",)), 11, 0)
    cjk = [w for w in page.words if _is_cjk(w.text)]
    assert cjk, "the page has CJK text"
    assert max(len(w.text) for w in cjk) > 12  # whole runs, not clauses cut at punctuation
    for line in page.lines:
        words = [page.words[i] for i in line.words]
        for a, b in zip(words, words[1:]):
            # Two CJK regions side by side on a line only where a space parts them (names: 阿部 陽子) or where
            # a long run was cut into pieces (which abut).
            if _is_cjk(a.text[-1]) and _is_cjk(b.text[0]):
                gap = b.quad[0][0] - a.quad[1][0]
                assert gap > 1 or len(a.text) + len(b.text) > MAX_CJK_RUN, [w.text for w in words]


# ----------------------------------------------------------------------------------------------------------------
# Whole pipeline with a tiny multilingual model


def test_tiny_multi_reads_cjk_lines_and_latin_words_in_reading_order():
    torch.manual_seed(0)
    model = create_model("tiny-multi").eval()
    model.detector = DarkBoxDetector(model.detector)
    read_always(model, "中文")
    # Two lines of a mixed page: a CJK run, a Latin word, a CJK run; then one long CJK run (line-level region).
    boxes = [(40, 40, 330, 72), (350, 40, 450, 72), (470, 40, 560, 72), (40, 120, 520, 152)]
    ocr = OCR(model=model, device="cpu", orientation=OrientationOptions(mode="off"), assembly=AssemblyOptions())
    (doc,) = ocr.read(page_with_boxes(400, 600, boxes))
    page = doc.pages[0]
    assert [w.text for w in page.words] == ["中文"] * 4
    lefts = [(round(min(x for x, _ in w.quad)), round(min(y for _, y in w.quad))) for w in page.words]
    tolerance = 4 * 600 / 256
    for (x, y), box in zip(lefts, boxes):
        assert abs(x - box[0]) <= tolerance and abs(y - box[1]) <= tolerance, (lefts, boxes)
    # The random relational model links nothing, so each region is its own line; the page order is still rows
    # top to bottom, left to right (checked above), and so is every view of it.
    assert [item["text"] for item in ocr(page_with_boxes(400, 600, boxes), merge_level="word")] == ["中文"] * 4


# ----------------------------------------------------------------------------------------------------------------
# Training: charset override and config


def _tiny_config(**model):
    return config_from_dict({"model": {"name": "tiny-test", **model}, "train": {"device": "cpu"}})


def test_charset_override_keeps_the_rows_of_shared_characters(tmp_path):
    torch.manual_seed(0)
    before = create_model("tiny-test")
    old_weight = before.recognizer.classifier.weight.detach().clone()
    old_bias = before.recognizer.classifier.bias.detach().clone()
    torch.manual_seed(0)
    model = build_model(_tiny_config(charset="multilingual"))
    charset, latin = multilingual_charset(), latin_charset()
    classifier = model.recognizer.classifier
    assert classifier.out_features == charset.num_tokens == model.spec.recognizer.num_tokens
    assert model.spec.charset == charset and model.recognizer.config.num_tokens == charset.num_tokens
    assert torch.equal(classifier.weight[:NUM_SPECIAL_TOKENS], old_weight[:NUM_SPECIAL_TOKENS])
    for char in "Aé€":
        assert torch.equal(classifier.weight[charset.token_id(char)], old_weight[latin.token_id(char)])
        assert classifier.bias[charset.token_id(char)] == old_bias[latin.token_id(char)]
    # New rows: trainable, small, and together about as likely as one known character.
    new = slice(len(latin) + NUM_SPECIAL_TOKENS, None)
    assert classifier.weight.requires_grad and classifier.weight[new].abs().max() < 0.2
    fresh = charset.num_tokens - latin.num_tokens
    expected = old_bias[NUM_SPECIAL_TOKENS:].mean() - np.log(fresh)
    assert torch.allclose(classifier.bias[new], expected.expand(fresh))
    strips = torch.randn(2, model.detector.feature_channels, 8, model.spec.recognizer.max_width)
    assert model.recognizer(strips).logits.shape[-1] == charset.num_tokens
    # The saved folder carries the new charset and loads strictly.
    loaded = load_model(save_model(model, tmp_path / "m"))
    assert loaded.spec.charset == charset
    assert torch.equal(loaded.recognizer.classifier.weight, classifier.weight.detach())


def test_charset_override_from_a_file_and_no_op_when_equal(tmp_path):
    path = tmp_path / "charset.txt"
    path.write_text(json.dumps(["中", "A", "文"], ensure_ascii=False), encoding="utf-8")
    model = build_model(_tiny_config(charset=str(path)))
    assert model.spec.charset.characters == ("中", "A", "文") and model.recognizer.classifier.out_features == 6
    classifier = model.recognizer.classifier
    resize_classifier(model, model.spec.charset)
    assert model.recognizer.classifier is classifier
    with pytest.raises(FileNotFoundError, match="charset file not found"):
        build_model(_tiny_config(charset=str(tmp_path / "missing.txt")))


def test_small_multi_config_loads_and_builds_from_the_english_weights():
    config = resolve_config(ROOT / "configs" / "small-multi.yaml")
    assert config.model.name == "small-multi" and config.model.charset == "multilingual"
    assert (config.model.max_width, config.model.bucket_width, config.model.decoding) == (256, 16, "ctc")
    synth = config.data.sources[0].synth
    assert set(synth["languages"]) == {"en", "zh-Hans", "zh-Hant", "ja", "ko", "ru"} and synth["mixed_language"] > 0
    filtered = {lang for s in config.data.sources if s.kind == "manifest" for lang in s.languages}
    assert {"zh-Hans", "ja", "ko", "ru"} <= filtered
    if not (ROOT / config.model.init / "model.json").is_file():
        pytest.skip("the English weights are not installed")
    config.model.init = str(ROOT / config.model.init)
    model = build_model(config)
    english = load_model(config.model.init)
    assert model.spec.charset == multilingual_charset() and model.spec.recognizer.max_width == 256
    assert model.spec.recognizer.column_scale == english.spec.recognizer.column_scale  # the English pitch kept
    for name in ("detector", "relational"):  # carried over unchanged
        ours, theirs = getattr(model, name).state_dict(), getattr(english, name).state_dict()
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)


# ----------------------------------------------------------------------------------------------------------------
# The `multi` model name


def test_multi_name_resolves_to_the_shipped_folder_or_says_it_is_not_shipped():
    assert set(SHIPPED_MODELS) == {"default", "multi"}
    folder = Path(default_model_dir()).parent / "multi"
    if (folder / "model.json").is_file():
        assert shipped_model_dir("multi") == folder
    else:
        with pytest.raises(FileNotFoundError, match="the multilingual weights are not shipped yet"):
            OCR(model="multi")
        with pytest.raises(FileNotFoundError, match="not shipped yet"):
            shipped_model_dir("multi")
    with pytest.raises(ValueError, match="unknown shipped model 'nope'"):
        shipped_model_dir("nope")
    if (default_model_dir() / "model.json").is_file():
        assert shipped_model_dir("default") == default_model_dir()


def test_multi_name_in_batch_jobs():
    from textspotter.scale.batch import _resolve_model

    if (Path(default_model_dir()).parent / "multi" / "model.json").is_file():
        pytest.skip("the multilingual weights are installed")
    with pytest.raises(FileNotFoundError, match="not shipped yet"):
        _resolve_model("multi")


def test_cli_model_multi_says_it_is_not_shipped_yet(capsys):
    from textspotter.cli.main import main

    if (Path(default_model_dir()).parent / "multi" / "model.json").is_file():
        pytest.skip("the multilingual weights are installed")
    assert main(["read", str(ROOT / "src/textspotter/assets/example.png"), "--model", "multi"]) == 2
    assert "the multilingual weights are not shipped yet" in capsys.readouterr().err
