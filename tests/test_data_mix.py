"""The weighted training mix: source weights, K windows per loaded page, determinism, resume, config and errors."""

import json

import numpy as np
import pytest
import torch

from textspotter.charset import latin_charset
from textspotter.data import dataset
from textspotter.data.augment import AugmentConfig, sample_input_window
from textspotter.data.dataset import (
    ManifestSource,
    MixedSource,
    MixSchedule,
    SampleBuilder,
    TrainingStream,
    build_sources,
    make_loader,
)
from textspotter.data.manifest import PageAnnotation, read_manifest
from textspotter.data.targets import TargetConfig
from textspotter.data.toy import write_toy_dataset
from textspotter.models.spec import PreprocessConfig
from textspotter.train.config import SourceSection, resolve_config


@pytest.fixture(scope="module")
def toy_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    return [write_toy_dataset(root / f"shard-{i}", pages=3 + i, seed=i, size=128) for i in range(2)]


def _builder(crop_size=64):
    return SampleBuilder(
        preprocess=PreprocessConfig(infer_length=128),
        charset=latin_charset(),
        max_width=16,
        targets=TargetConfig(),
        augment=AugmentConfig(),
        crop_size=crop_size,
    )


def _mix(folders, windows=(2, 1), weights=(0.6, 0.4)):
    return [MixedSource(ManifestSource([f]), weight=w, windows=k) for f, w, k in zip(folders, weights, windows)]


def _same_batch(a, b):
    return (
        a.positions == b.positions
        and a.page_ids == b.page_ids
        and torch.equal(a.images, b.images)
        and torch.equal(a.tokens, b.tokens)
        and torch.equal(a.quads, b.quads)
    )


# ------------------------------------------------------------------------------------------------ schedule


def test_weights_are_respected_over_many_positions():
    weights, windows = [0.4, 0.4, 0.2], [1, 4, 2]
    schedule = MixSchedule(weights, windows, batch_size=16, seed=3)
    slots = np.zeros(3)
    numbers = [[], [], []]
    for batch in range(3000):  # three tables of draws
        groups = schedule.groups(batch)
        assert [g.first_slot for g in groups] == list(np.cumsum([0] + [g.windows for g in groups[:-1]]))
        assert sum(g.windows for g in groups) == 16
        for g in groups:
            assert g.windows == windows[g.source]  # a source with K = 1 always fits: no page is cut short
            slots[g.source] += g.windows
            numbers[g.source].append(g.number)
    # Windows in proportion to the weights (48 000 windows in pages of up to 4: noise about 0.005).
    np.testing.assert_allclose(slots / slots.sum(), weights, atol=0.015)
    # Each source numbers its pages 0, 1, 2, ... over the whole stream, across table boundaries.
    for source in range(3):
        assert numbers[source] == list(range(len(numbers[source])))


def test_pages_larger_than_a_batch_and_shares_out_of_reach():
    # K above the batch size: a page fills one whole micro-batch.
    assert [g.windows for g in MixSchedule([1.0], [8], batch_size=4, seed=0).groups(3)] == [4]
    # Pages of 3 in micro-batches of 4 leave a slot that only the K = 1 source can fill: at most 3/4 of the windows.
    with pytest.raises(ValueError, match=r"cannot be met .*closest: \[0.75, 0.25\]"):
        MixSchedule([0.9, 0.1], [3, 1], batch_size=4, seed=0)


def test_schedule_is_a_pure_function_of_the_global_batch():
    walked = MixSchedule([1, 2], [3, 1], batch_size=8, seed=5)
    for batch in range(2100):
        walked.groups(batch)
    fresh = MixSchedule([1, 2], [3, 1], batch_size=8, seed=5)
    assert fresh.groups(2099) == walked.groups(2099) and fresh.groups(7) == walked.groups(7)
    assert MixSchedule([1, 2], [3, 1], batch_size=8, seed=6).groups(2099) != fresh.groups(2099)


def test_one_source_with_one_window_is_the_single_source_stream(toy_folders):
    schedule = MixSchedule([1.0], [1], batch_size=4, seed=0)
    assert [(g.source, g.number, g.first_slot, g.windows) for g in schedule.groups(5)] == [
        (0, 20 + s, s, 1) for s in range(4)
    ]
    old = TrainingStream(ManifestSource([toy_folders[0]]), _builder(), batch_size=2, seed=7)
    new = TrainingStream(_mix(toy_folders[:1], windows=(1,), weights=(1,)), _builder(), batch_size=2, seed=7)
    assert _same_batch(old.make_batch(4), new.make_batch(4))
    # Page n of a manifest source: every page once per epoch, a new order each epoch.
    epochs = [[new.page_index(n) for n in range(3 * e, 3 * e + 3)] for e in range(3)]
    assert all(sorted(e) == [0, 1, 2] for e in epochs) and len({tuple(e) for e in epochs}) > 1


# ------------------------------------------------------------------------------------------------ stream


def test_k_windows_per_page_come_from_one_load(toy_folders, monkeypatch):
    loads = []
    original = dataset.load_page_image
    monkeypatch.setattr(dataset, "load_page_image", lambda path: loads.append(path) or original(path))
    stream = TrainingStream(_mix(toy_folders, windows=(4, 4)), _builder(), batch_size=8, seed=1)
    batch = stream.make_batch(0)
    assert len(loads) == 2 and batch.images.shape[0] == 8 and batch.positions == list(range(8))
    assert batch.page_ids[:4] == [batch.page_ids[0]] * 4 and batch.page_ids[4:] == [batch.page_ids[4]] * 4
    # Each window is its own sample: its own window, augmentation and targets.
    assert len({batch.images[i].sum().item() for i in range(4)}) == 4


def test_windows_of_a_page_aim_at_words_the_earlier_windows_miss():
    quads = np.array([[[x, 10], [x + 8, 10], [x + 8, 18], [x, 18]] for x in (10, 100, 200)], dtype=np.float64)
    ignore = np.zeros(3, dtype=bool)
    for seed in range(20):
        x0, _ = sample_input_window(
            np.random.default_rng(seed),
            quads,
            ignore,
            height=256,
            width=256,
            size=64,
            text_probability=1.0,
            avoid=np.array([True, False, True]),
        )
        assert x0 <= 104 < x0 + 64  # always the one word not yet covered
    # Everything covered: aim at any word, as without `avoid`.
    everything = np.ones(3, dtype=bool)
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    assert sample_input_window(rng_a, quads, ignore, height=256, width=256, size=64, avoid=everything) == (
        sample_input_window(rng_b, quads, ignore, height=256, width=256, size=64)
    )


def test_batches_do_not_depend_on_the_worker_count(toy_folders):
    def first_batches(workers):
        stream = TrainingStream(_mix(toy_folders), _builder(), batch_size=3, seed=2, start_batch=1)
        out = []
        for batch in make_loader(stream, workers=workers, prefetch=1):
            out.append(batch)
            if len(out) == 3:
                return out

    one, two = first_batches(1), first_batches(2)
    assert [b.batch_index for b in one] == [b.batch_index for b in two] == [1, 2, 3]
    assert all(_same_batch(a, b) for a, b in zip(one, two))


def test_resume_position_is_exact_and_ranks_split_the_global_stream(toy_folders):
    straight = TrainingStream(_mix(toy_folders), _builder(), batch_size=3, seed=4)
    resumed = TrainingStream(_mix(toy_folders), _builder(), batch_size=3, seed=4, start_batch=5)
    assert _same_batch(next(iter(resumed)), straight.make_batch(5))
    ranks = [TrainingStream(_mix(toy_folders), _builder(), batch_size=3, seed=4, rank=r, world_size=2) for r in (0, 1)]
    # Rank r's micro-batch b is global micro-batch 2b + r of the one-process stream.
    assert _same_batch(ranks[1].make_batch(2), straight.make_batch(5))
    assert _same_batch(ranks[0].make_batch(2), straight.make_batch(4))


# ------------------------------------------------------------------------------------------------ config and errors


def test_config_mix_and_the_single_source_form():
    config = resolve_config(
        overrides=[
            "data.sources=[{kind: synth, weight: 0.4, synth: {languages: [en]}},"
            " {kind: manifest, weight: 0.6, paths: [corpus/en/shard-*], windows: 4, name: en-real}]"
        ]
    )
    mix = config.data.mix()
    assert [(s.kind, s.weight, s.windows) for s in mix] == [("synth", 0.4, 1), ("manifest", 0.6, 4)]
    assert config.data.synth_options() == {"languages": ["en"]}
    legacy = resolve_config(overrides=["data.source=manifest", "data.manifests=[a, b]"]).data
    assert legacy.mix() == [SourceSection(kind="manifest", paths=["a", "b"])] and legacy.synth_options() is None
    assert resolve_config().data.mix() == [SourceSection(kind="synth")]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.sources=[{kind: synth}]", "data.synth={dpi: 1}"], "data.sources replaces .* remove data.synth"),
        (["data.sources=[{kind: web}]"], r"data.sources\[0\].kind must be"),
        (["data.sources=[{kind: synth}, {kind: manifest, weight: -1, paths: [x]}]"], r"data.sources\[1\].weight"),
        (["data.sources=[{kind: manifest}]"], r"data.sources\[0\]: kind 'manifest' needs paths"),
        (["data.sources=[{kind: synth, windows: 0}]"], r"data.sources\[0\].windows must be >= 1"),
        (["data.sources=[{kind: synth, paths: [x]}]"], "paths and languages are for kind 'manifest'"),
        (["data.sources=[{kind: synth, languages: [ja]}]"], "synth.languages"),
    ],
)
def test_config_errors_name_the_source(overrides, message):
    with pytest.raises(ValueError, match=message):
        resolve_config(overrides=overrides)


def test_a_bad_manifest_path_is_named(toy_folders, tmp_path):
    good = SourceSection(kind="manifest", paths=[str(toy_folders[0])])
    missing = SourceSection(kind="manifest", paths=[str(tmp_path / "nowhere")], name="en-real")
    with pytest.raises(FileNotFoundError, match=r"data.sources\[1\] \(en-real\): .*nowhere"):
        build_sources([good, missing], seed=0)
    pattern = SourceSection(kind="manifest", paths=[str(tmp_path / "shard-*")])
    with pytest.raises(FileNotFoundError, match=r"data.sources\[0\]: no manifest folder matches .*shard-\*"):
        build_sources([pattern], seed=0)
    # A pattern reads its matches in sorted order, like the folders listed one by one.
    shards = build_sources([SourceSection(kind="manifest", paths=[str(toy_folders[0].parent / "shard-*")])], seed=0)
    assert _page_ids(shards[0].source) == _page_ids(ManifestSource(toy_folders))
    # A language filter keeps one language of a corpus that mixes several; none left is an error naming it.
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "images").symlink_to(toy_folders[1] / "images")
    lines = (toy_folders[1] / "manifest.jsonl").read_text().splitlines()
    lines[1] = lines[1].replace('"language":"en"', '"language":"ja"', 1)
    (mixed / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    (japanese,) = build_sources([SourceSection(kind="manifest", paths=[str(mixed)], languages=["ja"])], seed=0)
    assert japanese.source.num_pages == 1 and japanese.source.annotation(0)[1].language == "ja"
    with pytest.raises(ValueError, match=r"data.sources\[0\]: no pages with language in \['ko'\]"):
        build_sources([SourceSection(kind="manifest", paths=[str(mixed)], languages=["ko"])], seed=0)
    with pytest.raises(TypeError, match="MixedSource"):
        TrainingStream([ManifestSource([toy_folders[0]])], _builder(), batch_size=2, seed=0)


def test_the_page_language_is_read_without_parsing_the_words(tmp_path):
    # The page's own language is read from the start of its line; a line in another key order, with an escape, or
    # with no language is parsed whole, and gives the same answer.
    manifest = tmp_path / "manifest.jsonl"
    lines = {
        b'{"id": "a", "width": 9, "language": "zh-Hans", "words": [{"text": "x", "language": "en"}]}': "zh-Hans",
        b'{"id":"b","words":[{"text":"x","language":"en"}],"language":"ja"}': "ja",
        b'{"id":"c","params":{"language":"ru"},"language":"ko"}': "ko",
        b'{"id":"d","language":"k\\u006f"}': "ko",
        b'{"id":"e","words":[]}': "",
        b'{"id":"f","note":"[\\"language\\": \\"x\\"]","language":"ru"}': "ru",
    }
    for raw, language in lines.items():
        assert dataset._line_language(raw, manifest) == language == (json.loads(raw).get("language") or "")
    with pytest.raises(ValueError, match="not a page annotation"):
        dataset._line_language(b"not json", manifest)
    # A line broken after its language passes the scan; loading that page names the manifest and the byte.
    manifest.write_bytes(b'{"id": "g", "language": "en", "words": [\n')
    source = ManifestSource([manifest])
    with pytest.raises(ValueError, match=r"manifest.jsonl \(byte 0\)"):
        source.annotation(0)


def _page_ids(source: ManifestSource) -> list[str]:
    return [source.annotation(i)[1].id for i in range(source.num_pages)]


def test_a_manifest_source_keeps_only_line_offsets_and_parses_pages_on_load(toy_folders, tmp_path):
    source = ManifestSource(toy_folders)
    held = [x for value in vars(source).values() if isinstance(value, (list, tuple)) for x in value]
    assert not any(isinstance(x, PageAnnotation) for x in held)
    pages = [page for folder in toy_folders for page in read_manifest(folder)]
    assert [source.annotation(i)[1] for i in range(source.num_pages)] == pages
    with pytest.raises(IndexError, match="page 99"):
        source.annotation(99)
    # A line broken after indexing is named (file and byte) when its page is loaded.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.jsonl").write_text('{"id": "x"}\n')
    with pytest.raises(ValueError, match=r"broken/manifest.jsonl \(byte 0\)"):
        ManifestSource([broken]).load(0)
