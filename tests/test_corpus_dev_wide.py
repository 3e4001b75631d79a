"""benchmarks/corpus_dev_wide.py: a wider English dev set, its documents apart from the corpus bench's dev pages."""

import json
from pathlib import Path

import pytest

import textspotter.corpus
from textspotter.corpus import Document

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def wide(load_script):
    load_script(BENCHMARKS / "corpus_bench.py", "corpus_bench")  # the script imports it by name
    return load_script(BENCHMARKS / "corpus_dev_wide.py", "corpus_dev_wide")


def test_the_recipe_takes_one_page_from_each_of_more_documents(wide):
    recipe, english = wide.wide_recipe()
    assert (recipe.seed, recipe.page_cap, english.documents, english.pages_per_document) == (1, 120, 160, 1)
    assert [lang.code for lang in recipe.languages] == ["en"]
    bench = wide.corpus_bench.RECIPE
    assert recipe.seed != bench.seed and english.packages == bench.language("en").packages


def test_the_bench_documents_are_read_from_its_pages_file(wide, tmp_path):
    pages = tmp_path / "pages.json"
    pages.write_text(json.dumps({"splits": {"dev": {"en": {"documents": ["p/a.pdf", "p/b.pdf"], "pages": []}}}}))
    assert wide.bench_documents(pages) == {"p/a.pdf", "p/b.pdf"}


def test_the_bench_dev_documents_are_left_out_and_the_pages_recorded(wide, tmp_path, monkeypatch, capsys):
    documents = [Document(f"p/{n}.pdf", f"/x/{n}.pdf", "p") for n in "abc"]
    seen = []

    def prepare_split(docs, language, split, root, *, recipe, recorded, workers, replace):
        seen.append(([d.id for d in docs], split, recipe.seed, recorded))
        return {"documents": [d.id for d in docs], "pages": [f"{d.id}-p0001" for d in docs]}

    monkeypatch.setattr(textspotter.corpus, "load_documents", lambda sources: documents)
    monkeypatch.setattr(wide.corpus_bench, "prepare_split", prepare_split)
    monkeypatch.setattr(wide, "bench_documents", lambda: {"p/a.pdf"})
    monkeypatch.setattr(wide, "PAGES_FILE", tmp_path / "wide.json")
    assert wide.main(["--root", str(tmp_path / "root")]) == 0
    assert seen[0][:3] == (["p/b.pdf", "p/c.pdf"], "dev", 1) and seen[0][3] is None
    record = json.loads((tmp_path / "wide.json").read_text(encoding="utf-8"))
    assert record["pages"] == ["p/b.pdf-p0001", "p/c.pdf-p0001"]
    assert "2 pages of 2 documents" in capsys.readouterr().out
    # A rebuild is told the recorded pages.
    assert wide.main(["--root", str(tmp_path / "root")]) == 0
    assert seen[1][3] == record
