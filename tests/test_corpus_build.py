"""corpus build: trusted labels, pages dropped or ignored when the text layer lies, reproducibility, the split."""

import json

import numpy as np
import pytest

from textspotter.corpus import BuildOptions, Document, build_corpus, built_pages, load_documents, split_of
from textspotter.corpus.pdfwrite import TextRun, write_pdf
from textspotter.corpus.split import SPLITS
from textspotter.corpus.trust import TrustOptions, ink_fractions
from textspotter.data.manifest import read_manifest
from textspotter.synth.effects import EffectConfig

CLEAN = BuildOptions(dpi=(144, 144), clean_share=1.0)


def good_page():
    return [
        TextRun(20, 150, 12, "Hello world, again."),
        TextRun(20, 134, 12, "the de\x01nition of"),
        TextRun(20, 80, 12, "dup"),
        TextRun(20, 80, 12, "dup"),  # overprinted: the same text in the same box
        TextRun(150, 80, 12, "white", fill=(1, 1, 1)),  # no ink under it
        TextRun(20, 40, 12, "Chapter . . . . . 7"),
    ]


@pytest.fixture
def documents(tmp_path):
    good = write_pdf(tmp_path / "good.pdf", [good_page(), [TextRun(40, 100, 14, "Second page")]])
    unmapped = write_pdf(tmp_path / "unmapped.pdf", [[TextRun(20, 150, 12, "private glyphs here", font="PUA")]])
    invisible = write_pdf(
        tmp_path / "invisible.pdf", [[TextRun(20, 150, 12, "an OCR layer over a scan", render_mode=3)]]
    )
    symbols = write_pdf(
        tmp_path / "symbols.pdf",
        [[TextRun(20, 150, 12, "the set"), TextRun(80, 150, 12, "hxi", font="SYM"), TextRun(20, 120, 12, "is ok")]],
    )
    return [Document(f"test/{p.name}", str(p), "test", "MIT") for p in (good, unmapped, invisible, symbols)]


def pages_by_document(out):
    pages = {}
    for split in SPLITS:
        if (out / split / "manifest.jsonl").is_file():
            for page in read_manifest(out / split):
                pages.setdefault(page.params["document"], []).append((split, page))
    return pages


def test_labels_match_the_text_and_lies_are_dropped_or_ignored(documents, tmp_path):
    out = tmp_path / "out"
    report = build_corpus(documents, out, CLEAN, seed=3)
    pages = pages_by_document(out)
    assert set(pages) == {"test/good.pdf", "test/symbols.pdf"}  # unmapped and invisible pages dropped
    counts = report["test"]["counts"]
    assert counts["documents"] == 4 and counts["pages"] == 5 and counts["pages_kept"] == 3
    assert counts["drop_unreliable"] == 2

    split, first = pages["test/good.pdf"][0]
    assert split == split_of("test/good.pdf")
    kept = [w.text for w in first.words if not w.ignore]
    ignored = {w.text for w in first.words if w.ignore}
    assert kept == ["Hello", "world,", "again.", "the", "definition", "of", "dup", "Chapter", "7"]
    assert ignored == {"white", "."}  # no ink under white text; the dot leader
    assert first.source == "test:good.pdf#1" and first.params["licence"] == "MIT"
    assert first.language == "en" and (first.width, first.height) == (600, 400)

    _, symbols = pages["test/symbols.pdf"][0]
    assert {w.text: w.ignore for w in symbols.words} == {
        "the": False,
        "set": False,
        "hxi": True,
        "is": False,
        "ok": False,
    }

    # Every kept word has ink under it in the written image (clean pages: the render itself).
    import cv2

    image = cv2.cvtColor(cv2.imread(str(out / split / first.image)), cv2.COLOR_BGR2RGB)
    quads = [np.asarray(w.quad) for w in first.words if not w.ignore]
    assert (ink_fractions(image, quads) > 0.05).all()

    written = json.loads((out / "report.json").read_text())
    assert written["test"]["counts"]["ignore_no_ink"] == 1 and (out / "report.md").is_file()
    recorded = json.loads((out / "split.json").read_text())["documents"]
    assert {key: entry["split"] for key, entry in recorded.items()} == {d.key: split_of(d.key) for d in documents}


def test_one_and_two_workers_write_identical_datasets(documents, tmp_path):
    options = BuildOptions(dpi=(90, 200), clean_share=0.0, effects=EffectConfig(perspective=1.0))
    build_corpus(documents, tmp_path / "one", options, seed=7, workers=1)
    build_corpus(documents, tmp_path / "two", options, seed=7, workers=2)
    for split in SPLITS:
        one, two = tmp_path / "one" / split, tmp_path / "two" / split
        assert one.exists() == two.exists()
        if one.exists():
            assert (one / "manifest.jsonl").read_bytes() == (two / "manifest.jsonl").read_bytes()
            for image in (one / "images").iterdir():
                assert image.read_bytes() == (two / "images" / image.name).read_bytes()
    assert (tmp_path / "one" / "report.json").read_bytes() == (tmp_path / "two" / "report.json").read_bytes()


def test_an_extending_build_draws_only_new_pages(tmp_path):
    runs = [[TextRun(30, 150, 14, f"page number {n} here")] for n in range(1, 7)]
    document = Document("test/long.pdf", str(write_pdf(tmp_path / "long.pdf", runs)), "test", "MIT")
    options = BuildOptions(dpi=(72, 72), clean_share=1.0, max_pages=2)
    build_corpus([document], tmp_path / "first", options, seed=1)
    first = built_pages([tmp_path / "first"])
    assert list(first) == ["test/long.pdf"] and len(first["test/long.pdf"]) == 2
    build_corpus([document], tmp_path / "second", options, seed=1, exclude=first)
    second = built_pages([tmp_path / "second"])["test/long.pdf"]
    assert len(second) == 2 and not second & first["test/long.pdf"]
    (_, page), *_ = pages_by_document(tmp_path / "second")["test/long.pdf"]
    assert [w.text for w in page.words][:2] == ["page", "number"]
    assert json.loads((tmp_path / "second" / "build.json").read_text())["excluded_pages"] == 2
    # Fewer pages left than max_pages: the rest, no repeats; all excluded: nothing drawn.
    both = built_pages([tmp_path / "first", tmp_path / "second"])
    build_corpus([document], tmp_path / "third", options, seed=5, exclude=both)
    assert built_pages([tmp_path / "third"])["test/long.pdf"] == set(range(1, 7)) - both["test/long.pdf"]
    with pytest.raises(FileNotFoundError, match="split.json"):
        built_pages([tmp_path / "missing"])


def test_effects_move_the_labels_with_the_image(documents, tmp_path):
    import cv2

    options = BuildOptions(dpi=(144, 144), clean_share=0.0, effects=EffectConfig(perspective=1.0, rotate=1.0))
    build_corpus(documents[:1], tmp_path / "out", options, seed=1)
    (split, page), *_ = pages_by_document(tmp_path / "out")["test/good.pdf"]
    assert any(e["name"] == "geometry" for e in page.params["effects"])
    image = cv2.cvtColor(cv2.imread(str(tmp_path / "out" / split / page.image)), cv2.COLOR_BGR2RGB)
    quads = [np.asarray(w.quad) for w in page.words if not w.ignore]
    assert quads and (ink_fractions(image, quads) > 0.02).all()


def test_split_is_by_document_and_fixed():
    keys = [f"pkg/doc{i}.pdf" for i in range(2000)]
    splits = [split_of(k) for k in keys]
    assert splits == [split_of(k) for k in keys]
    shares = {s: splits.count(s) / len(keys) for s in SPLITS}
    assert 0.87 < shares["train"] < 0.93 and 0.03 < shares["dev"] < 0.07 and 0.03 < shares["test"] < 0.07
    with pytest.raises(ValueError):
        split_of("")


def test_shards_hold_whole_documents(documents, tmp_path):
    build_corpus(documents, tmp_path / "out", BuildOptions(dpi=(72, 72), clean_share=1.0, shards=4), seed=0)
    folders = json.loads((tmp_path / "out" / "build.json").read_text())["folders"]
    assert folders and all("/shard-" in f for f in folders)
    seen = {}
    for folder in folders:
        for page in read_manifest(tmp_path / "out" / folder):
            assert seen.setdefault(page.params["document"], folder) == folder


def test_load_documents_from_folders_and_files(documents, tmp_path):
    found = load_documents([tmp_path])
    assert {d.key for d in found} == {
        f"{tmp_path.name}/{name}.pdf" for name in ("good", "unmapped", "invisible", "symbols")
    }
    single = load_documents([documents[0].path])
    assert single[0].key == "local/good.pdf" and single[0].package == "local"
    with pytest.raises(FileNotFoundError):
        load_documents([tmp_path / "missing"])


def test_options_are_checked():
    with pytest.raises(ValueError, match="dpi"):
        BuildOptions(dpi=(300, 100))
    with pytest.raises(ValueError, match="clean_share"):
        BuildOptions(clean_share=2)
    with pytest.raises(ValueError, match="splits"):
        BuildOptions(splits=("val",))
    with pytest.raises(ValueError, match="max_untrusted"):
        TrustOptions(max_untrusted=1.5)


def test_overprinted_duplicates_are_removed():
    from textspotter.corpus.text_layer import Glyph, PageText, WordCandidate
    from textspotter.corpus.trust import check_words

    def word(text, dx):
        quad = np.array([[10 + dx, 10], [40 + dx, 10], [40 + dx, 20], [10 + dx, 20]], dtype=float)
        return WordCandidate(text, quad, [Glyph(text=text, raw=text, quad=quad, height=10.0)])

    page = PageText(glyphs=[], images=[], width=100, height=100)
    kept, removed = check_words([word("bold", 0), word("bold", 0.4), word("bold", 30), word("other", 0)], page, {})
    assert [w.text for w in kept] == ["bold", "bold", "other"] and removed == 1


def test_a_cjk_run_is_too_long_only_past_the_run_cut():
    from textspotter.corpus.text_layer import Glyph, PageText, WordCandidate
    from textspotter.corpus.trust import check_words
    from textspotter.synth.render import MAX_CJK_RUN

    def word(text, row):
        quad = np.array([[10, 20 * row], [90, 20 * row], [90, 20 * row + 10], [10, 20 * row + 10]], dtype=float)
        return WordCandidate(text, quad, [Glyph(text=text, raw=text, quad=quad, height=10.0)])

    # A Chinese line cut at the builder's 40 characters is a target; Latin or Cyrillic words keep the 31 limit.
    words = [word("图" * MAX_CJK_RUN, 0), word("图" * (MAX_CJK_RUN + 1), 1), word("かな" * 20, 2), word("x" * 32, 3)]
    words.append(word("слово" * 7, 4))
    page = PageText(glyphs=[], images=[], width=100, height=200)
    kept, _ = check_words(words, page, {})
    assert [w.ignore_reasons for w in kept] == [[], ["too_long"], [], ["too_long"], ["too_long"]]


def test_words_of_conjoining_jamo_are_ignored_and_can_drop_the_page():
    from textspotter.corpus.text_layer import Glyph, PageText, WordCandidate
    from textspotter.corpus.trust import check_words, page_verdict

    def word(text, row):
        quad = np.array([[10, 20 * row], [90, 20 * row], [90, 20 * row + 10], [10, 20 * row + 10]], dtype=float)
        return WordCandidate(text, quad, [Glyph(text=text, raw=text, quad=quad, height=10.0)])

    # A modern syllable spelt in jamo composes (NFC) and is kept; an archaic one (arae-a) and a syllable cut in two
    # do not; compatibility jamo are letters of their own.
    texts = ["한국어", "\u1112\u1161\u11ab", "\u1112\u119e\u11ab", "\u11af\u1100", "ㄱㄴ"]
    page = PageText(glyphs=[], images=[], width=100, height=200)
    kept, _ = check_words([word(t, row) for row, t in enumerate(texts)], page, {})
    assert [w.ignore_reasons for w in kept] == [[], [], ["jamo"], ["jamo"], []]
    kept, _ = check_words([word(t, row) for row, t in enumerate([*texts, "문서", "글자", "읽기"])], page, {})
    assert page_verdict(kept, 0.0) is None  # 2 of 8 untrusted
    archaic = [word("\u1112\u119e", row) for row in range(9)] + [word("이", 9)]
    kept, _ = check_words(archaic, page, {})
    assert page_verdict(kept, 0.0) == "unreliable"


def test_cli_builds_from_pdf_files(documents, tmp_path, capsys):
    from textspotter.cli.main import main

    out = tmp_path / "cli"
    code = main(["corpus", "build", documents[0].path, "--out", str(out), "--dpi", "72", "72", "--preview", "2"])
    assert code == 0
    assert "2 pages checked, 2 kept" in capsys.readouterr().out
    pages = [p for s in SPLITS if (out / s / "manifest.jsonl").is_file() for p in read_manifest(out / s)]
    assert [p.source for p in pages] == ["local:good.pdf#1", "local:good.pdf#2"]
    assert main(["corpus", "build", str(tmp_path / "missing.pdf"), "--out", str(out)]) == 2
    # --exclude: every page was kept by the first build, so an extending build draws none.
    more = tmp_path / "more"
    assert main(["corpus", "build", documents[0].path, "--out", str(more), "--exclude", str(out)]) == 0
    assert "0 pages checked, 0 kept" in capsys.readouterr().out
    assert main(["corpus", "build", documents[0].path, "--out", str(more), "--exclude", str(tmp_path)]) == 2
    assert "split.json" in capsys.readouterr().err


def test_the_recorded_split_follows_the_rule():
    from pathlib import Path

    recorded = json.loads((Path(__file__).parents[1] / "benchmarks" / "corpus-split.json").read_text())
    assert recorded["dev"] and recorded["test"]
    assert all(split_of(key) == "dev" for key in recorded["dev"])
    assert all(split_of(key) == "test" for key in recorded["test"])


def test_long_documents_read_their_text_layer_again(documents, tmp_path, monkeypatch):
    import textspotter.corpus.build as build

    cached = build_corpus(documents[:1], tmp_path / "cached", CLEAN, seed=2)
    monkeypatch.setattr(build, "_CACHED_PAGES", 1)  # the second page is read again when built
    again = build_corpus(documents[:1], tmp_path / "again", CLEAN, seed=2)
    assert cached == again
    split = split_of(documents[0].key)
    assert (tmp_path / "cached" / split / "manifest.jsonl").read_bytes() == (
        tmp_path / "again" / split / "manifest.jsonl"
    ).read_bytes()


def test_fonts_reading_through_the_wrong_encoding_are_suspect():
    from textspotter.corpus.text_layer import Glyph
    from textspotter.corpus.trust import FontStats, suspect_fonts

    def glyphs(font, text):
        return [Glyph(text=c, raw=c, quad=np.zeros((4, 2)), font=font, height=10.0) for c in text]

    stats = FontStats()
    stats.add(glyphs("CP1251AsLatin1", "Ïðèâåò ìèð, ýòî òåêñò íà ðóññêîì ÿçûêå"))  # "Привет мир, это текст ..."
    stats.add(glyphs("French", "Les élèves ont étudié à l'école près de la forêt aujourd'hui"))
    stats.add(glyphs("Fraktur", "ĚŊĆŊĚĆĚŊĆŊĚĆabc"))
    stats.add(glyphs("CMSY10", "hxi6="))
    assert suspect_fonts(stats) == {"CP1251AsLatin1": "mojibake", "Fraktur": "rare_letters", "CMSY10": "symbol_font"}


def test_unreadable_documents_are_reported(documents, tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    report = build_corpus([Document("test/broken.pdf", str(broken), "test")], tmp_path / "out", CLEAN)
    assert report["test"]["errors"][0].startswith("test/broken.pdf: unreadable")
    assert "Documents that failed" in (tmp_path / "out" / "report.md").read_text()
