"""Start-up cost: what ``import textspotter`` and loading a model pull in (issue #20).

Each check runs in a fresh interpreter, since this test process has imported everything already. Speed targets
(import under 1 s, ``OCR()`` under 1 s beyond the torch import) live in ``benchmarks/startup_memory.py``; these tests
pin the causes instead: heavy modules imported eagerly, and random initialisation while loading.
"""

import json
import subprocess
import sys

from textspotter.models import create_model
from textspotter.models.checkpoints import save_model

HEAVY = ("torch", "numpy", "PIL", "cv2", "pypdfium2", "scipy", "safetensors", "yaml", "tqdm", "matplotlib")


def _modules_after(code: str) -> set[str]:
    """Run ``code`` in a fresh interpreter and return the top-level modules it imported."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_import_textspotter_imports_no_heavy_module():
    loaded = _modules_after("import textspotter\nfrom textspotter import Document, Page, Word, __version__")
    assert "textspotter" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_cli_help_imports_no_heavy_module():
    code = (
        "import contextlib, io\nfrom textspotter.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    main([])"
    )
    loaded = _modules_after(code)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_loading_a_model_draws_no_random_weights(tmp_path):
    # Random initialisation on the meta device goes through torch._refs, whose first use imports torch._dynamo:
    # 3-8 s of every `textspotter read` before the fix. Loading must also not touch the global random state.
    save_model(create_model("tiny-test"), tmp_path / "model")
    code = (
        "import torch\nfrom textspotter.models.checkpoints import load_model\nstate = torch.get_rng_state()\n"
        f"model = load_model({str(tmp_path / 'model')!r})\n"
        "assert torch.equal(state, torch.get_rng_state())\n"
        "assert not any(p.is_meta for p in model.parameters())\n"
        "print('dynamo', 'torch._dynamo' in sys.modules)"
    )
    script = f"import sys\n{code}"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.strip().splitlines()[-1] == "dynamo False", result.stdout + result.stderr
