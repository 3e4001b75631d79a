"""End to end: the tiny-test model learns to read a handful of toy pages back through the full pipeline."""

import pytest
import torch

from textspotter.data.dataset import load_page_image
from textspotter.data.manifest import read_manifest
from textspotter.data.toy import write_toy_dataset
from textspotter.pipeline.ocr import OCR
from textspotter.train.config import resolve_config
from textspotter.train.loop import train


@pytest.fixture
def one_thread():
    # Tiny tensors: one intra-op thread is faster, and much faster on a busy machine (no spinning at barriers).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("decoding", ["parallel", "ctc"])
def test_tiny_model_reads_its_training_pages_back(tmp_path, one_thread, decoding):
    # Four 128-px pages, two lines of two words from a six-word vocabulary: easy enough that ~100 steps suffice on a
    # Xeon; on an AMD EPYC (Zen 4) 150 steps left one word undetected, so 250; at 128 px the whole run takes about
    # 10 s on one idle core. CTC first sits on the all-blank plateau and needs about 450 steps (measured: 94 % of
    # words at 450, all at 600).
    data = write_toy_dataset(tmp_path / "toy", pages=4, seed=0, size=128)
    config = resolve_config(
        overrides=[
            "model.name=tiny-test",
            "model.infer_length=128",
            f"model.decoding={decoding}",
            "data.source=manifest",
            f"data.manifests=[{data}]",
            "data.batch_size=4",
            "data.workers=0",
            "data.augment.enabled=false",
            f"train.steps={250 if decoding == 'parallel' else 600}",
            "train.log_every=50",
            "train.checkpoint_every=0",
            f"train.out_dir={tmp_path / 'run'}",
            "optim.lr=5e-3",
            "optim.warmup_steps=10",
            f"eval.manifests=[{data}]",
            "eval.every=0",
            "eval.at_end=true",
        ]
    )
    result = train(config)

    rates = result.evaluation
    assert rates["det_f1"] >= 0.9, rates
    assert rates["word_accuracy"] == 1.0 and rates["line_accuracy"] == 1.0, rates

    # The same through the public API, from the checkpoint's inference folder: boxes, text and lines.
    ocr = OCR(model=str(result.checkpoint / "model"), device="cpu")
    pages = list(read_manifest(data))
    documents = ocr.read([load_page_image(data / page.image) for page in pages])
    for page, document in zip(pages, documents):
        read = document.pages[0]
        assert read.text() == page.text()
        assert [[w.text for w in line.words] for line in read.lines] == [
            [page.words[i].text for i in line.words] for line in page.lines
        ]
        assert len(read.paragraphs) == len(page.paragraphs) == 1
