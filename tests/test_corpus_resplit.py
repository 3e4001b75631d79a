"""scripts/corpus-resplit.py: pages of an existing build move, with their images, to their document's split."""

import json
from pathlib import Path

import pytest

from textspotter.corpus import split_of
from textspotter.corpus.split import SPLIT_RULE

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "corpus-resplit.py"


@pytest.fixture(scope="module")
def script(load_script):
    return load_script(SCRIPT, "corpus_resplit")


def _page(document: str, number: int) -> dict:
    page_id = f"{Path(document).stem}-p{number}"
    return {"id": page_id, "image": f"images/{page_id}.jpg", "params": {"document": document}}


def test_language_packages_keep_more_documents_out_of_training():
    keys = [f"texlive-lang-x/doc{i}.pdf" for i in range(2000)]
    english = [f"texlive-latex-base-doc/doc{i}.pdf" for i in range(2000)]
    share = sum(split_of(k) != "train" for k in keys) / len(keys)
    assert 0.26 < share < 0.34  # 30 % held out
    assert 0.07 < sum(split_of(k) != "train" for k in english) / len(english) < 0.13  # 10 %


def test_pages_move_to_their_documents_split_with_their_images(script, tmp_path):
    documents = [f"texlive-lang-x/doc{i}.pdf" for i in range(200)]
    moving = next(d for d in documents if split_of(d) == "test")
    staying = next(d for d in documents if split_of(d) == "train")
    folder = tmp_path / "build"
    pages = [_page(moving, 1), _page(moving, 2), _page(staying, 1)]
    (folder / "train" / "images").mkdir(parents=True)
    for page in pages:
        (folder / "train" / page["image"]).write_bytes(page["id"].encode())
    (folder / "train" / "manifest.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pages))
    record = {"rule": "old", "documents": {d: {"split": "train", "pages": {}} for d in (moving, staying)}}
    (folder / "split.json").write_text(json.dumps(record))
    (folder / "build.json").write_text(json.dumps({"split_rule": "old", "folders": ["train"]}))

    assert script.main([str(folder)]) == 0
    train = [json.loads(x)["id"] for x in (folder / "train" / "manifest.jsonl").read_text().splitlines()]
    test = [json.loads(x)["id"] for x in (folder / "test" / "manifest.jsonl").read_text().splitlines()]
    assert train == [pages[2]["id"]] and test == [pages[0]["id"], pages[1]["id"]]
    assert (folder / "test" / pages[0]["image"]).read_bytes() == pages[0]["id"].encode()
    assert not (folder / "train" / pages[0]["image"]).exists()
    saved = json.loads((folder / "split.json").read_text())
    assert saved["rule"] == SPLIT_RULE and saved["documents"][moving]["split"] == "test"
    build = json.loads((folder / "build.json").read_text())
    assert build["split_rule"] == SPLIT_RULE and build["folders"] == ["train", "test"]
    # Up to date: a second run moves nothing.
    assert script.main([str(folder)]) == 0
    assert [json.loads(x)["id"] for x in (folder / "test" / "manifest.jsonl").read_text().splitlines()] == test


def test_a_folder_that_is_not_a_build_is_refused(script, tmp_path, capsys):
    assert script.main([str(tmp_path)]) == 2
    assert "no split.json" in capsys.readouterr().err
