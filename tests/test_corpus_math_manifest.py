"""scripts/corpus-math-manifest.py: only train pages with enough operator words, images made absolute."""

import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "corpus-math-manifest.py"


@pytest.fixture(scope="module")
def script(load_script):
    return load_script(SCRIPT, "corpus_math_manifest")


def _page(page_id: str, texts: list[str]) -> dict:
    square = [[0, 0], [10, 0], [10, 5], [0, 5]]
    return {
        "id": page_id,
        "image": f"images/{page_id}.jpg",
        "width": 20,
        "height": 20,
        "language": "en",
        "words": [{"text": text, "quad": square} for text in texts],
    }


def _write(folder: Path, pages: list[dict]) -> None:
    folder.mkdir(parents=True)
    (folder / "manifest.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pages))


def test_math_words_counts_operators_not_dots_or_greek(script):
    assert script.math_words(_page("p", ["x", "−1", "a∗b", "·", "α", "∂f/∂x", "≤"])) == 4


def test_keeps_train_pages_with_enough_math(script, tmp_path):
    build = tmp_path / "build"
    math_page = _page("math", ["−", "x", "≤", "y", "±", "1"])
    _write(build / "pkg" / "train", [math_page, _page("prose", ["words", "only", "·", "α"])])
    _write(build / "more" / "pkg" / "train", [_page("more-math", ["∇", "∂", "∈"])])
    _write(build / "pkg" / "test", [_page("held-out", ["−", "−", "−", "−"])])
    assert script.main([str(build), str(tmp_path / "out"), "--min-words", "3"]) == 0
    kept = [json.loads(line) for line in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    assert [p["id"] for p in kept] == ["math", "more-math"]
    assert kept[0]["image"] == str((build / "pkg" / "train" / "images" / "math.jpg").resolve())
    assert kept[0]["words"] == math_page["words"]


def test_missing_build_is_an_error(script, tmp_path, capsys):
    assert script.main([str(tmp_path / "nothing"), str(tmp_path / "out")]) == 2
    assert "no */train/manifest.jsonl" in capsys.readouterr().err
