"""The ``textspotter synth`` command."""

import json

from PIL import Image

from textspotter.cli.main import main
from textspotter.data.manifest import read_manifest


def test_synth_command_writes_dataset_and_preview(tmp_path, capsys):
    out = tmp_path / "ds"
    cache = tmp_path.parent / "synth-cli-fonts.json"
    argv = ["synth", "--lang", "en", "--pages", "3", "--out", str(out), "--seed", "5", "--clean", "--preview", "3"]
    assert main(argv + ["--layout", "form,receipt", "--font-cache", str(cache)]) == 0
    pages = list(read_manifest(out))
    assert len(pages) == 3 and all(p.params["layout"] in ("form", "receipt") for p in pages)
    assert all(len(p.params["effects"]) == 1 for p in pages)  # --clean: paper only
    with Image.open(out / "preview.png") as sheet:
        assert sheet.width > 600
    assert json.loads((out / "synth.json").read_text())["seed"] == 5
    assert "wrote 3 pages" in capsys.readouterr().out


def test_synth_command_reports_bad_input(tmp_path, capsys):
    assert main(["synth", "--lang", "xx", "--pages", "1", "--out", str(tmp_path / "x")]) == 2
    assert "unknown language" in capsys.readouterr().err
    assert main(["synth", "--layout", "poster", "--pages", "1", "--out", str(tmp_path / "y")]) == 2
    assert main(["synth", "--pdf", str(tmp_path / "none.pdf"), "--out", str(tmp_path / "z")]) == 2
