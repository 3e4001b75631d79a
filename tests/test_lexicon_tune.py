"""benchmarks/lexicon_tune.py: gathering the lexicon's hypotheses from true boxes through the recognizer stage."""

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from textspotter.models import create_model, get_spec
from textspotter.models.checkpoints import save_model
from textspotter.pipeline import stages

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "lexicon_tune.py"
WORDS = ["the", "model", "reads", "words", "from", "pages", "and", "lines"]


@pytest.fixture(scope="module")
def tune(load_script):
    return load_script(SCRIPT, "lexicon_tune")


def _docbank_page(folder: Path) -> None:
    """One page in DocBank's layout: NAME_ori.jpg and NAME.txt (token, box in thousandths, colour, font, label)."""
    Image.fromarray(np.full((256, 256, 3), 255, dtype=np.uint8)).save(folder / "p_ori.jpg")
    rows = []
    for k, word in enumerate(WORDS):
        x0, y0 = 60 + 400 * (k % 2), 60 + 100 * (k // 2)
        box = [str(v) for v in (x0, y0, x0 + 80, y0 + 60)]  # short: not read again in windows (long words)
        rows.append("\t".join([word, *box, "0", "0", "0", "Times", "paragraph"]))
    (folder / "p.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.mark.parametrize("every_row_held", [False, True])
def test_gather_yields_one_sample_per_token_and_restores_the_stage(tune, tmp_path, monkeypatch, every_row_held):
    _docbank_page(tmp_path)
    config = dataclasses.replace(get_spec("tiny-test").recognizer, decoding="ctc")
    model = save_model(create_model("tiny-test", recognizer=config).eval(), tmp_path / "model")
    called = []
    if every_row_held:
        # Random weights seldom read an ordinary word; hold every row so that the hook's path is taken.
        monkeypatch.setattr(stages, "rescore_candidates", lambda texts, conf, options: list(range(len(texts))))
        monkeypatch.setattr(tune, "_read_pages", _spy(tune._read_pages, called))
    original = stages.rescore_pages
    args = argparse.Namespace(model=str(model), precision="model", data=str(tmp_path), pages=1, skip=0)
    samples, pages_per_second = tune.gather(args)
    assert stages.rescore_pages is original
    assert [s.truth for s in samples] == WORDS
    assert all(isinstance(s.greedy, str) and 0.0 <= s.confidence <= 1.0 for s in samples)
    assert pages_per_second > 0
    if every_row_held:
        assert called and called[0] > 0  # the recognizer stage called the gathering hook


def _spy(read_pages, called):
    def spy(ocr, pages, recorded, samples):
        read_pages(ocr, pages, recorded, samples)
        called.append(len(recorded))

    return spy


def test_samples_file_is_plain_json_and_round_trips(tune, tmp_path):
    from textspotter.ops.lexicon import Hypotheses

    samples = [
        tune.Sample("word", "wprd", 0.5, Hypotheses(3, ("wprd", "word"), (-1.0, -2.5), (None, 5.0))),
        tune.Sample("x", "x", 0.9, None),
    ]
    path = tmp_path / "samples.json"
    tune.save_samples(path, samples, 1.5)
    assert path.read_text(encoding="utf-8").startswith("{")  # data, never a pickle
    assert tune.load_samples(path) == (samples, 1.5)
    path.write_text('{"samples": [[1, 2]]}', encoding="utf-8")
    with pytest.raises(SystemExit, match="not a samples file"):
        tune.load_samples(path)
