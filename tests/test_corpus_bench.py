"""benchmarks/corpus_bench.py: the benchmark pages are drawn reproducibly, spread over documents, and rebuilt as
recorded."""

from pathlib import Path

import pytest

from textspotter.corpus import Document, split_of
from textspotter.corpus.pdfwrite import TextRun, write_pdf

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "corpus_bench.py"


@pytest.fixture(scope="module")
def bench(load_script):
    return load_script(SCRIPT, "corpus_bench")


def page_ids(pages_per_document):
    return [f"pkg-{d:010x}-p{p:04d}" for d, count in enumerate(pages_per_document) for p in range(1, count + 1)]


def test_pages_are_taken_one_per_document_in_turn(bench):
    pages = page_ids([6, 1, 2, 3])
    chosen = bench.select_pages(pages, 6, seed=0)
    assert len(chosen) == len(set(chosen)) == 6
    documents = [bench.document_of(p) for p in chosen]
    assert len(set(documents[:4])) == 4  # the first round visits every document
    # The second round: two different documents that have a second page (document 1 has one page only).
    assert len(set(documents[4:])) == 2 and "pkg-0000000001" not in documents[4:]
    assert bench.select_pages(list(reversed(pages)), 6, seed=0) == chosen  # input order does not matter
    assert bench.select_pages(pages, 100, seed=0) == bench.select_pages(pages, 100, seed=0)
    assert sorted(bench.select_pages(pages, 100, seed=0)) == sorted(pages)
    assert bench.select_pages(pages, 100, seed=1) != bench.select_pages(pages, 100, seed=0)
    # A prefix of a longer selection is the shorter selection (what --limit relies on).
    assert bench.select_pages(pages, 9, seed=0)[:6] == chosen


def test_page_ids_and_caps_are_checked(bench):
    with pytest.raises(ValueError, match="page id"):
        bench.document_of("no-number-here")
    with pytest.raises(ValueError, match="cap"):
        bench.select_pages(page_ids([1]), 0, seed=0)
    with pytest.raises(ValueError, match="unique"):
        bench.select_pages(page_ids([1]) * 2, 3, seed=0)


def test_documents_are_drawn_from_the_language_packages_and_split(bench):
    documents = [
        Document(f"{package}/doc{i}.pdf", f"/x/{i}.pdf", package) for package in ("a", "b") for i in range(200)
    ]
    language = bench.Language("xx", ("a",), "eng", True, documents=3, pages_per_document=1)
    drawn = bench.draw_documents(documents, language, "test", seed=0)
    assert len(drawn) == 3
    assert all(d.package == "a" and split_of(d.key) == "test" for d in drawn)
    assert [d.id for d in drawn] == sorted(d.id for d in drawn)
    assert bench.draw_documents(list(reversed(documents)), language, "test", seed=0) == drawn
    every = bench.draw_documents(documents, bench.Language("xx", ("a",), "eng", True, 1000, 1), "test", seed=0)
    assert {d.id for d in drawn} < {d.id for d in every}


def test_the_recipe_names_every_language(bench):
    assert bench.RECIPE.language("ko").tesseract == "kor"
    assert not bench.RECIPE.language("ru").rapidocr  # reported as unreadable, not skipped
    with pytest.raises(ValueError, match="unknown language"):
        bench.RECIPE.language("fr")
    assert bench.RECIPE.to_dict()["languages"][0]["code"] == "en"


def test_pages_are_built_filtered_and_rebuilt_as_recorded(bench, tmp_path):
    names = [n for n in (f"doc{i}.pdf" for i in range(400)) if split_of(f"pkg/{n}") == "test"][:2]

    def pages(name):
        return [[TextRun(30, 150, 12, f"Page {p} of {name}"), TextRun(30, 120, 12, "plain words")] for p in range(3)]

    documents = [Document(f"pkg/{n}", str(write_pdf(tmp_path / n, pages(n))), "pkg", "MIT") for n in names]
    documents.append(Document("other/x.pdf", documents[0].path, "other", "MIT"))  # not the language's package
    language = bench.Language("en", ("pkg",), "eng", True, documents=5, pages_per_document=2)
    recipe = bench.Recipe(seed=0, page_cap=3, languages=(language,))
    root = tmp_path / "bench"
    record = bench.prepare_split(documents, language, "test", root, recipe=recipe, recorded=None)
    assert record["documents"] == sorted(d.id for d in documents[:2])
    assert len(record["pages"]) == 3 and len({bench.document_of(p) for p in record["pages"][:2]}) == 2
    manifest = root / "en" / "test" / "manifest.jsonl"
    first = manifest.read_bytes()
    images = sorted(p.read_bytes() for p in (root / "en" / "test" / "images").iterdir())
    assert len(images) == 3

    # Up to date: nothing is built again.
    assert bench.prepare_split(documents, language, "test", root, recipe=recipe, recorded=record) == record
    # Removed and rebuilt from the record: the same pages, byte for byte.
    for folder in ("test", "build-test"):
        for path in sorted((root / "en" / folder).rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    assert bench.prepare_split(documents, language, "test", root, recipe=recipe, recorded=record) == record
    assert manifest.read_bytes() == first
    assert sorted(p.read_bytes() for p in (root / "en" / "test" / "images").iterdir()) == images
    # A folder holding other pages (another set built under this root) is not replaced unless asked.
    stale = {**record, "pages": record["pages"][:-1] + ["pkg-0123456789-p0099"]}
    with pytest.raises(ValueError, match="not this recipe's recorded ones"):
        bench.prepare_split(documents, language, "test", root, recipe=recipe, recorded=stale)
    with pytest.raises(ValueError, match="not this recipe's recorded ones"):
        bench.prepare_split(documents, language, "test", root, recipe=recipe, recorded=None)
    assert manifest.read_bytes() == first
    # A recorded page the build no longer yields is an error, not a silent redraw.
    with pytest.raises(ValueError, match="lacks recorded pages"):
        bench.prepare_split(documents, language, "test", root, recipe=recipe, recorded=stale, replace=True)
    # Pages of another language are not benchmark pages of this one.
    korean = bench.Language("ko", ("pkg",), "kor", False, documents=5, pages_per_document=2)
    assert bench.prepare_split(documents, korean, "test", root, recipe=recipe, recorded=None)["pages"] == []


def test_tables_mark_a_language_an_engine_cannot_read(bench):
    rows = [
        {
            "language": "ru",
            "engine": "tesseract (rus)",
            "pages": 2,
            "words": 30,
            "pages_per_second": 0.5,
            "cached": 2,
            "metrics": {"cer": 0.125, "wer": 0.5, "reading_order_tau": 0.75},
        },
        {"language": "ru", "engine": "rapidocr", "pages": 2, "words": 30, "metrics": {}, "note": "cannot read"},
    ]
    table = bench.split_table("test", rows)
    assert "| ru | 2 | 30 | tesseract (rus)¹ | 12.50 | n/a | n/a | 50.00 | n/a | n/a | n/a | 0.750 | 0.500 |" in table
    assert "| ru | 2 | 30 | rapidocr | — cannot read |" in table
