"""benchmarks/generated_bench.py: the page sets and the generator command (no engine is run here)."""

from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "generated_bench.py"


@pytest.fixture(scope="module")
def bench(load_script):
    return load_script(SCRIPT, "generated_bench")


def test_sets_cover_the_six_languages_and_mixed_pages_with_tesseracts_models(bench):
    sets = {name: (languages, tesseract) for name, languages, tesseract, _ in bench.SETS}
    assert set(sets) == {"en", "zh-Hans", "zh-Hant", "ja", "ko", "ru", "mixed"}
    assert sets["zh-Hant"][1] == "chi_tra" and sets["mixed"][0].split(",") == list(sets)[:6]


def test_pages_are_generated_once_at_the_benchmark_seed(bench, tmp_path, monkeypatch):
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        folder = Path(command[command.index("--out") + 1])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "manifest.jsonl").write_text("{}\n{}\n")

    monkeypatch.setattr(bench.subprocess, "run", run)
    bench.generate("mixed", "en,ja", tmp_path / "mixed", 2, 1)
    bench.generate("mixed", "en,ja", tmp_path / "mixed", 2, 1)  # already there: not generated again
    assert len(calls) == 1
    command = calls[0]
    assert command[command.index("--seed") + 1] == str(bench.SEED) and command[-2:] == ["--mixed", "1"]
    assert command[command.index("--lang") + 1] == "en,ja"


def test_unknown_sets_and_engines_are_refused(bench, capsys):
    assert bench.main(["--sets", "xx"]) == 2
    assert bench.main(["--engines", "abbyy"]) == 2
    assert "unknown set or engine" in capsys.readouterr().err
