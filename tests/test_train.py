"""Training machinery: config, losses, schedule, freezing, exact resume, fine-tuning and the CLI (tiny model)."""

import json
import math

import numpy as np
import pytest
import torch

from textspotter.data.toy import write_toy_dataset
from textspotter.train.config import TrainConfig, config_to_dict, resolve_config, save_config
from textspotter.train.loop import lr_factor, train
from textspotter.train.losses import (
    IGNORE,
    LossConfig,
    confidence_loss,
    line_link_loss,
    positive_weights,
    rbox_losses,
    recognizer_loss,
    relational_targets,
    sample_classes,
    word_link_loss,
)


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny tensors: one intra-op thread is faster, and much faster on a busy machine (no spinning at barriers).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def toy_folder(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("toy"), pages=4, seed=0, size=128)


def tiny_overrides(folder, out, *extra):
    return [
        "model.name=tiny-test",
        "model.infer_length=128",
        "data.source=manifest",
        f"data.manifests=[{folder}]",
        "data.batch_size=2",
        "data.workers=0",
        "train.steps=4",
        "train.log_every=1",
        "train.checkpoint_every=0",
        f"train.out_dir={out}",
        "eval.every=0",
        "eval.at_end=false",
        "optim.warmup_steps=2",
        *extra,
    ]


# ------------------------------------------------------------------------------------------------ config


def test_config_yaml_roundtrip_and_overrides(tmp_path):
    config = resolve_config(overrides=["train.steps=7", "optim.lr=3e-4", "train.freeze=[detector]", "data.synth.x=1"])
    assert (config.train.steps, config.optim.lr, config.train.freeze, config.data.synth) == (
        7,
        3e-4,
        ["detector"],
        {"x": 1},
    )
    path = tmp_path / "c.yaml"
    save_config(config, path)
    again = resolve_config(path, overrides=["train.steps=8"])
    assert again.train.steps == 8 and config_to_dict(again)["optim"] == config_to_dict(config)["optim"]
    assert config_to_dict(TrainConfig())["optim"]["betas"] == [0.9, 0.999]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.bogus=1", "unknown config key 'train.bogus'"),
        ("train.steps=many", "train.steps: expected an integer"),
        ("data.source=web", "data.source must be"),
        ("loss.confidence=focal", "LossConfig.confidence"),
        ("optim.betas=[0.9]", "optim.betas: expected 2 values"),
    ],
)
def test_config_errors_name_the_key(override, message):
    with pytest.raises(ValueError, match=message):
        resolve_config(overrides=[override])


def test_yaml_words_like_off_stay_strings_and_only_true_false_are_booleans(tmp_path):
    # YAML 1.1 reads an unquoted `off` as false, which failed the documented `--set train.amp=off`.
    config = resolve_config(overrides=["train.amp=off", "train.find_unused_parameters=false"])
    assert config.train.amp == "off" and config.train.find_unused_parameters is False
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  amp: off\n  find_unused_parameters: true\n", encoding="utf-8")
    assert resolve_config(path).train.amp == "off"
    with pytest.raises(ValueError, match="train.find_unused_parameters: expected true/false"):
        resolve_config(overrides=["train.find_unused_parameters=no"])


def test_amp_auto_is_bfloat16_only_where_the_device_computes_it(monkeypatch):
    import textspotter.train.loop as loop

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert loop.amp_dtype_for("off", cuda) is None and loop.amp_dtype_for("bf16", cpu) is torch.bfloat16
    assert loop.amp_dtype_for("auto", cuda) is torch.bfloat16
    monkeypatch.setattr(loop, "cpu_has_native_bf16", lambda: False)
    assert loop.amp_dtype_for("auto", cpu) is None
    monkeypatch.setattr(loop, "cpu_has_native_bf16", lambda: True)
    assert loop.amp_dtype_for("auto", cpu) is torch.bfloat16


def test_lr_schedule():
    def factor(step, schedule):
        return lr_factor(step, warmup_steps=10, total_steps=110, schedule=schedule, min_ratio=0.1)

    assert factor(0, "cosine") == 0 and factor(5, "cosine") == 0.5 and factor(10, "cosine") == 1
    assert factor(60, "cosine") == pytest.approx(0.55) and factor(110, "cosine") == pytest.approx(0.1)
    assert factor(60, "linear") == pytest.approx(0.55) and factor(1000, "linear") == pytest.approx(0.1)
    assert factor(100, "constant") == 1


# ------------------------------------------------------------------------------------------------ losses


def test_confidence_loss_mines_hard_negatives_and_respects_the_mask():
    score = torch.zeros(1, 4, 8)
    score[0, 1:3, 1:7] = 1
    mask = torch.ones(1, 4, 8)
    good = torch.where(score > 0, 6.0, -6.0)
    bad = good.clone()
    bad[0, 3, 7] = 6.0  # one confident false positive
    config = LossConfig(confidence="bce_ohem", ohem_negative_ratio=1.0, ohem_min_negatives=1)
    assert confidence_loss(bad, score, mask, config) > 10 * confidence_loss(good, score, mask, config)
    # With 12 positives and ratio 1, only the 12 hardest of the 20 negatives count: the mean of 24 cells.
    expected = (23 * math.log1p(math.exp(-6)) + math.log1p(math.exp(6))) / 24
    assert confidence_loss(bad, score, mask, config).item() == pytest.approx(expected, rel=1e-5)
    mask[0, 3, 7] = 0  # the false positive is in an ignore region
    assert confidence_loss(bad, score, mask, config).item() == pytest.approx(
        confidence_loss(good, score, mask, config).item()
    )
    dice = LossConfig(confidence="dice")
    assert confidence_loss(good, score, mask, dice) < 0.1 < 0.9 < confidence_loss(-good, score, mask, dice)


def test_rbox_losses_vanish_at_the_target_and_have_gradients():
    geometry = torch.tensor([[[[4.0, 20.0, 6.0, 10.0, 0.3]]]])
    score = torch.ones(1, 1, 1)
    iou, angle = rbox_losses(geometry, geometry, score)
    assert iou.item() == pytest.approx(0.0, abs=1e-6) and angle.item() == pytest.approx(0.0, abs=1e-6)
    pred = torch.tensor([[[[2.0, 10.0, 3.0, 5.0, 0.0]]]], requires_grad=True)
    iou, angle = rbox_losses(pred, geometry, score)
    (iou + angle).backward()
    assert iou > 0.5 and angle.item() == pytest.approx(1 - math.cos(0.3), rel=1e-5)
    assert (pred.grad[..., :4] < 0).all()  # growing the too-small box lowers the loss
    empty_iou, _ = rbox_losses(pred, geometry, torch.zeros(1, 1, 1))
    assert empty_iou.item() == 0.0 and empty_iou.requires_grad


def test_instance_balance_weighs_a_one_cell_word_like_a_long_one():
    score = torch.zeros(1, 4, 12)
    score[0, 1, 0:9] = 1  # a long word: 9 cells
    score[0, 1, 11] = 1  # a one-letter word: 1 cell
    cells = score.clone()
    cells[0, 1, 0:9] = 9
    assert torch.equal(positive_weights(score, cells, 0.0), torch.ones_like(score))
    assert torch.equal(positive_weights(score, None, 1.0), torch.ones_like(score))
    weights = positive_weights(score, cells, 1.0)
    assert weights[score > 0.5].mean().item() == pytest.approx(1.0)
    assert weights[0, 1, 11].item() == pytest.approx(9 * weights[0, 1, 0].item())  # equal totals per word
    assert (weights[score <= 0.5] == 1).all()
    assert positive_weights(score, cells, 1.0, max_weight=2.0).max().item() == pytest.approx(2.0)
    # Missing the one-letter word costs more once balanced; weights of 1 give the unweighted losses exactly.
    config = LossConfig(confidence="dice+bce_ohem", ohem_min_negatives=1)
    logits = torch.where(score > 0, 6.0, -6.0)
    logits[0, 1, 11] = -6.0
    plain = confidence_loss(logits, score, torch.ones_like(score), config)
    assert confidence_loss(logits, score, torch.ones_like(score), config, torch.ones_like(score)).item() == (
        pytest.approx(plain.item())
    )
    assert confidence_loss(logits, score, torch.ones_like(score), config, weights) > 2 * plain
    geometry = torch.zeros(1, 4, 12, 5)
    geometry[..., :4] = 4.0
    pred = geometry.clone()
    pred[0, 1, 11, :4] = 1.0  # only the small word's box is wrong
    iou_plain, _ = rbox_losses(pred, geometry, score)
    iou_balanced, _ = rbox_losses(pred, geometry, score, weights)
    assert iou_balanced.item() == pytest.approx(iou_plain.item() * 10 * 9 / 18, rel=1e-5)


def test_recognizer_loss_reads_every_position_including_blanks_after_eos():
    tokens = torch.tensor([[5, 6, 1, 0, 0]])
    right = torch.nn.functional.one_hot(tokens, 10).float() * 20
    wrong_tail = right.clone()
    wrong_tail[0, 4] = torch.nn.functional.one_hot(torch.tensor(7), 10).float() * 20
    valid = torch.tensor([True])
    assert recognizer_loss(right, tokens, valid) < 1e-6 < recognizer_loss(wrong_tail, tokens, valid)
    assert recognizer_loss(wrong_tail, tokens, torch.tensor([False])).item() == 0.0


def test_ctc_recognizer_loss_accepts_any_alignment_of_the_characters():
    tokens = torch.tensor([[5, 6, 6, 1, 0, 0, 0, 0]])  # "x y y", EOS, padding
    valid = torch.tensor([True])

    def path_logits(path):
        return torch.nn.functional.one_hot(torch.tensor([path]), 10).float() * 20

    # Characters at any columns, with repeats merged and a blank between the two y's: all near-zero loss.
    for path in ([5, 6, 0, 6, 0, 0, 0, 0], [0, 5, 5, 6, 6, 0, 6, 0], [5, 0, 0, 0, 0, 6, 0, 6]):
        assert recognizer_loss(path_logits(path), tokens, valid, decoding="ctc") < 1e-4, path
    # Without the blank the two y's merge into one: the path cannot produce the target.
    assert recognizer_loss(path_logits([5, 6, 6, 0, 0, 0, 0, 0]), tokens, valid, decoding="ctc") > 1.0
    assert recognizer_loss(path_logits([5, 6, 0, 6, 0, 0, 0, 0]), tokens, torch.tensor([False]), decoding="ctc") == 0
    with pytest.raises(ValueError, match="decoding"):
        recognizer_loss(path_logits([0] * 8), tokens, valid, decoding="beam")


def test_relational_targets_follow_the_chosen_neighbours():
    # Two images: image 0 has 4 regions (line 0: 0 → 1, line 1: 2 → 3, paragraph 0 → 1); image 1 has 2 regions.
    counts = torch.tensor([4, 2])
    neighbours = torch.tensor(
        [
            [1, 2, -1],  # region 0: next word 1 is neighbour token 1; next line words {2, 3}: token 2
            [0, 3, -1],  # region 1: ends its line → word token 0; line 1 word 3 is token 2
            [0, 1, -1],  # region 2: next word 3 is not a neighbour → IGNORE; last line → line null
            [2, 0, -1],
            [1, -1, -1],  # image 1, within-image indices
            [0, -1, -1],
        ]
    )
    next_word = torch.tensor([1, -1, 3, -1, 1, -1])
    line_id = torch.tensor([0, 0, 1, 1, 0, 0])
    next_line = torch.tensor([1, 1, -1, -1, -1, -1])
    targets = relational_targets(neighbours, counts, next_word, line_id, next_line)
    assert targets.word.tolist() == [1, 0, IGNORE, 0, 1, 0]
    assert targets.line[:2].tolist() == [[False, False, True, False], [False, False, True, False]]
    assert targets.line[2:, 0].all() and targets.line_valid.all()
    assert targets.candidates[0].tolist() == [True, True, True, False]
    logits = torch.zeros(6, 4, requires_grad=True)
    loss = word_link_loss(logits, targets)
    loss.backward()
    assert loss.item() == pytest.approx((math.log(3) * 3 + math.log(2) * 2) / 5, rel=1e-5)  # row 2 is ignored
    assert logits.grad[:, 3].abs().sum() == 0  # padded tokens get no gradient


def test_line_link_loss_is_heteroscedastic():
    counts = torch.tensor([2])
    targets = relational_targets(
        torch.tensor([[1], [0]]), counts, torch.tensor([-1, -1]), torch.tensor([0, 1]), torch.tensor([1, -1])
    )
    right = torch.tensor([[-5.0, 5.0], [5.0, -5.0]])
    torch.manual_seed(0)
    low = line_link_loss(right, torch.full((2, 2), -6.0), targets, samples=64)
    wrong_log_var = torch.zeros(2, 2, requires_grad=True)
    loss = line_link_loss(-right, wrong_log_var, targets, samples=256)
    loss.backward()
    assert low < 0.01 < loss
    # A confidently wrong logit is excused by a larger variance: the loss decreases as λ grows.
    assert wrong_log_var.grad[0, 1] < 0 and wrong_log_var.grad[1, 0] < 0


# ------------------------------------------------------------------------------------------------ loop


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_reproduces_an_uninterrupted_run(toy_folder, tmp_path):
    common = ["train.steps=4", "data.augment.enabled=true", "train.seed=3", "data.seed=5"]
    straight = train(resolve_config(overrides=tiny_overrides(toy_folder, tmp_path / "a", *common)))
    interrupted = resolve_config(overrides=tiny_overrides(toy_folder, tmp_path / "b", *common))
    first = train(interrupted, stop_after=2)
    assert first.step == 2 and first.checkpoint.name == "step-00000002"
    resumed = train(resolve_config(overrides=tiny_overrides(toy_folder, tmp_path / "b", *common, "train.resume=auto")))
    assert resumed.step == 4
    a, b = _state(straight.model), _state(resumed.model)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:5]
    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r["kind"] == "train"] == [1, 2, 3, 4]


def test_a_resumed_run_takes_the_learning_rates_of_its_config(toy_folder, tmp_path):
    # optim.lr_scale raised for the rest of a run: from the resumed step the detector's groups use the new base rate
    # (at the schedule's factor for that step), the others keep theirs, and the run log says what changed.
    from textspotter.train.loop import lr_factor

    common = ["train.steps=4", "optim.lr=1e-3", "optim.schedule=linear"]
    first = train(
        resolve_config(overrides=tiny_overrides(toy_folder, tmp_path, *common, "optim.lr_scale={detector: 0.1}"))
    )
    assert first.step == 4
    more = [*common, "train.steps=6", "train.resume=auto", "optim.lr_scale={detector: 0.2}"]
    resumed = train(resolve_config(overrides=tiny_overrides(toy_folder, tmp_path, *more)), stop_after=5)
    assert resumed.step == 5
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    notes = [r["note"] for r in log if r["kind"] == "note"]
    assert len(notes) == 2 and all("0.0001 -> 0.0002" in note for note in notes)  # decayed and not decayed group
    step5 = next(r for r in log if r["kind"] == "train" and r["step"] == 5)
    # The logged rate is the first group's (the detector's) once step 5 is taken: 2e-4 at the 6-step schedule's factor.
    ratio = resolve_config(overrides=more).optim.min_lr_ratio
    factor = lr_factor(5, warmup_steps=2, total_steps=6, schedule="linear", min_ratio=ratio)
    assert math.isclose(step5["lr"], 2e-4 * factor, rel_tol=1e-6)


def test_a_mix_of_sources_trains_and_resumes_exactly(toy_folder, tmp_path):
    # Two manifest sources, pages of the first cut into 2 windows each: the loop reads the mix through the same
    # config section, and 2 steps + resume + 2 steps equal 4 steps.
    other = write_toy_dataset(tmp_path / "other", pages=3, seed=9, size=128)
    mix = [
        "data.source=null",
        "data.manifests=[]",
        f"data.sources=[{{kind: manifest, weight: 2, paths: [{toy_folder}], windows: 2}},"
        f" {{kind: manifest, weight: 1, paths: ['{tmp_path}/oth*']}}]",
        "data.crop_size=64",
        "data.batch_size=3",
        "data.augment.enabled=true",
    ]
    straight = train(resolve_config(overrides=tiny_overrides(toy_folder, tmp_path / "a", *mix)))
    train(resolve_config(overrides=tiny_overrides(toy_folder, tmp_path / "b", *mix)), stop_after=2)
    resumed = train(resolve_config(overrides=tiny_overrides(toy_folder, tmp_path / "b", *mix, "train.resume=auto")))
    assert other.is_dir() and straight.step == resumed.step == 4
    a, b = _state(straight.model), _state(resumed.model)
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:5]
    saved = resolve_config(resumed.checkpoint / "config.yaml").data
    assert [(s.kind, s.weight, s.windows) for s in saved.sources] == [("manifest", 2.0, 2), ("manifest", 1.0, 1)]


def test_freezing_keeps_weights_and_batchnorm_statistics(toy_folder, tmp_path):
    from textspotter.models import create_model
    from textspotter.models.checkpoints import save_model

    start = create_model("tiny-test")
    save_model(start, tmp_path / "init")
    result = train(
        resolve_config(
            overrides=tiny_overrides(
                toy_folder, tmp_path / "run", f"model.init={tmp_path / 'init'}", "train.freeze=[detector]"
            )
        )
    )
    before, after = _state(start), _state(result.model)
    detector_keys = [k for k in before if k.startswith("detector.")]
    assert any("running_mean" in k for k in detector_keys)
    assert all(torch.equal(before[k], after[k]) for k in detector_keys)
    assert not all(torch.equal(before[k], after[k]) for k in before if k.startswith("recognizer."))
    assert not all(torch.equal(before[k], after[k]) for k in before if k.startswith("relational."))


@pytest.mark.parametrize("regions", [0, 1])
def test_frozen_detector_and_a_window_without_enough_regions_still_backpropagates(regions):
    # A training window may hold no text (or one word, which the relational model skips); with the detector frozen
    # nothing trainable fed such a loss and backward() failed. It must give zero gradients instead.
    from textspotter.data.collate import PageSample, collate_pages
    from textspotter.models import create_model
    from textspotter.train.task import JointTrainingModule, freeze_modules

    model = create_model("tiny-test")
    freeze_modules(model, ["detector"])
    module = JointTrainingModule(model, LossConfig(), frozen=["detector"])
    width = model.spec.recognizer.max_width
    quad = np.array([[[8, 8], [40, 8], [40, 20], [8, 20]]], dtype=np.float32)[:regions]
    page = PageSample(
        image=np.zeros((3, 64, 64), dtype=np.float32),
        score=np.zeros((16, 16), dtype=np.float32),
        mask=np.ones((16, 16), dtype=np.float32),
        geometry=np.zeros((16, 16, 5), dtype=np.float32),
        quads=quad,
        tokens=np.full((regions, width), 0, dtype=np.int64),
        token_valid=np.zeros(regions, dtype=bool),
        next_word=np.full(regions, -1, dtype=np.int64),
        line_id=np.zeros(regions, dtype=np.int64),
        next_line=np.full(regions, -1, dtype=np.int64),
    )
    module.train()
    output = module(collate_pages([page], max_width=width))
    output.loss.backward()
    assert torch.isfinite(output.loss)
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    if regions == 0:  # nothing to learn: zero gradients for every trainable parameter
        assert len(grads) == sum(p.requires_grad for p in model.parameters()) and not any(g.any() for g in grads)
    assert all(p.grad is None for p in model.detector.parameters())


def test_fine_tuning_from_a_published_folder(toy_folder, tmp_path):
    from textspotter.models import create_model
    from textspotter.models.checkpoints import load_model, save_published
    from textspotter.models.spec import RelationalConfig

    # A tiny architecture the published files can describe (k = 16 and 8 heads are fixed in the published code).
    relational = RelationalConfig(k=16, num_layers=1, nhead=8, dim_feedforward=64, initial_depth=32)
    save_published(create_model("tiny-test", relational=relational), tmp_path / "published", layout="v2")
    result = train(
        resolve_config(
            overrides=tiny_overrides(
                toy_folder, tmp_path / "run", f"model.init={tmp_path / 'published'}", "train.steps=2"
            )
        )
    )
    assert result.step == 2 and result.model.spec.relational.k == 16
    reloaded = load_model(result.checkpoint / "model")
    assert reloaded.spec.preprocess.infer_length == 128  # the training input size travels with the weights
    assert all(torch.equal(v, result.model.state_dict()[k].cpu()) for k, v in reloaded.state_dict().items())


def test_cli_trains_and_writes_logs_curves_and_checkpoints(toy_folder, tmp_path):
    from textspotter.cli.main import main

    config_path = tmp_path / "tiny.yaml"
    save_config(resolve_config(overrides=tiny_overrides(toy_folder, tmp_path / "unused")), config_path)
    out = tmp_path / "run"
    assert main(["train", "--config", str(config_path), "--out", str(out), "--steps", "2", "--quiet"]) == 0
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert np.isfinite([r["loss"] for r in records]).all() and {"det_conf", "rec", "rel_word"} <= records[0].keys()
    checkpoint = out / "checkpoints" / "step-00000002"
    for name in ("trainer.json", "trainer.safetensors", "config.yaml", "model/model.json", "model/model.safetensors"):
        assert (checkpoint / name).is_file(), name
    assert (out / "curves.png").stat().st_size > 1000
    assert resolve_config(checkpoint / "config.yaml").train.steps == 2


# ------------------------------------------------------------------------------------------------ evaluation


def test_page_counters_score_detection_words_lines_and_text():
    from textspotter.data.manifest import LineAnnotation, PageAnnotation, ParagraphAnnotation, WordAnnotation
    from textspotter.document import Line, Page, Paragraph, Word, bounding_quad
    from textspotter.train.evaluate import page_counters, summarize

    def box(x0, y0, x1, y1):
        return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))

    quads = [box(0, 0, 30, 10), box(40, 0, 70, 10), box(0, 20, 30, 30), box(40, 20, 70, 30)]
    annotation = PageAnnotation(
        id="p",
        image="p.png",
        width=100,
        height=40,
        words=[WordAnnotation(text=t, quad=[list(p) for p in q]) for t, q in zip(["ab", "cd", "ef", "gh"], quads)],
        lines=[LineAnnotation([0, 1]), LineAnnotation([2, 3])],
        paragraphs=[ParagraphAnnotation([0, 1])],
    )

    def line(*words):
        return Line(words=words, quad=bounding_quad([w.quad for w in words]), confidence=1.0)

    # "cd" read as "cx", "gh" missed, a spurious "zz" far away.
    read = [Word(t, q, 1.0, 1.0, 1.0) for t, q in zip(["ab", "cx", "ef"], quads[:3])]
    spurious = Word("zz", box(80, 30, 99, 39), 1.0, 1.0, 1.0)
    lines = (line(read[0], read[1]), line(read[2]), line(spurious))
    page = Page(width=100, height=40, paragraphs=(Paragraph(lines, bounding_quad([ln.quad for ln in lines]), 1.0),))
    counters = page_counters(page, annotation)
    assert (counters["tp"], counters["fp"], counters["fn"]) == (3, 1, 1)
    assert counters["word_edits"] == 1 + 2 + 2 and counters["word_chars"] == 8  # cx, missed gh, spurious zz
    assert counters["words_exact"] == 2 and counters["lines_matched"] == 0
    rates = summarize(counters)
    assert rates["det_f1"] == pytest.approx(6 / 8) and rates["word_cer"] == pytest.approx(5 / 8)
    perfect = Page(
        width=100,
        height=40,
        paragraphs=(
            Paragraph(
                (
                    line(*[Word(t, q, 1.0, 1.0, 1.0) for t, q in zip(["ab", "cd"], quads[:2])]),
                    line(*[Word(t, q, 1.0, 1.0, 1.0) for t, q in zip(["ef", "gh"], quads[2:])]),
                ),
                box(0, 0, 70, 30),
                1.0,
            ),
        ),
    )
    rates = summarize(page_counters(perfect, annotation))
    assert rates["det_f1"] == 1 and rates["word_cer"] == 0 and rates["page_cer"] == 0 and rates["line_accuracy"] == 1


def test_development_datasets_are_scored_with_the_evaluation_module(shared_data):
    from textspotter.models import create_model
    from textspotter.models.spec import PreprocessConfig
    from textspotter.train.evaluate import evaluate_datasets

    model = create_model("tiny-test", preprocess=PreprocessConfig(infer_length=128))
    rates = evaluate_datasets(
        model, ["tesseract-test"], data_root=shared_data, limit=1, device=torch.device("cpu"), batch_size=1
    )
    assert {"tesseract-test/cer", "tesseract-test/bag_of_char_error"} <= rates.keys()
    assert all(math.isfinite(v) for v in rates.values())


def _retrain_frozen_tiny(toy_folder, tmp_path, *overrides):
    """Save a random tiny-test model, train it a step or two with its networks frozen under ``overrides``.

    Returns ``(start model, reloaded trained model)``.
    """
    from textspotter.models import create_model
    from textspotter.models.checkpoints import load_model, save_model

    start = create_model("tiny-test")
    save_model(start, tmp_path / "start")
    result = train(
        resolve_config(
            overrides=tiny_overrides(
                toy_folder,
                tmp_path / "run",
                f"model.init={tmp_path / 'start'}",
                *overrides,
                "train.freeze=[detector,recognizer]",
            )
        )
    )
    return start, load_model(result.checkpoint / "model")


def test_column_scale_change_resamples_the_loaded_recognizer_and_is_saved(toy_folder, tmp_path):
    # model.column_scale on a model loaded from model.init: T and the position encoding are resampled to the new
    # pitch (Recognizer.set_max_width), training reads strips at it, and the saved spec carries it (and
    # model.valid_confidence's validity threshold and model.orientation_confidence's floor).
    from textspotter.models import get_spec

    width = 3 * get_spec("tiny-test").recognizer.max_width // 2  # T at 1.5 times the columns
    start, reloaded = _retrain_frozen_tiny(
        toy_folder,
        tmp_path,
        f"model.max_width={width}",
        "model.column_scale=1.5",
        "model.valid_confidence=0.3",
        "model.orientation_confidence=0.55",
        "train.steps=1",
    )
    assert reloaded.spec.recognizer.column_scale == 1.5 == reloaded.recognizer.config.column_scale
    assert start.spec.postprocess.valid_confidence == 0.5 and reloaded.spec.postprocess.valid_confidence == 0.3
    assert start.spec.postprocess.orientation_confidence == 0.7
    assert reloaded.spec.postprocess.orientation_confidence == 0.55
    expected = start.recognizer
    expected.set_max_width(width, column_scale=1.5)
    assert torch.equal(reloaded.recognizer.position_encoding, expected.position_encoding)


def _one_word_lines_page(size, quads, texts, width):
    """A training page of random pixels whose regions ``quads`` are one-word lines reading the token ids ``texts``
    (then EOS), every region valid, no detector targets."""
    from textspotter.data.collate import PageSample

    height, page_width = size
    count = len(texts)
    tokens = np.zeros((count, width), dtype=np.int64)
    for row, text in enumerate(texts):
        tokens[row, : len(text) + 1] = [*text, 1]
    return PageSample(
        image=np.random.default_rng(0).random((3, height, page_width), dtype=np.float32),
        score=np.zeros((height // 4, page_width // 4), dtype=np.float32),
        mask=np.ones((height // 4, page_width // 4), dtype=np.float32),
        geometry=np.zeros((height // 4, page_width // 4, 5), dtype=np.float32),
        quads=quads,
        tokens=tokens,
        token_valid=np.ones(count, dtype=bool),
        next_word=np.full(count, -1, dtype=np.int64),
        line_id=np.arange(count, dtype=np.int64),
        next_line=np.full(count, -1, dtype=np.int64),
    )


def test_widening_the_recognizer_with_buckets_trains_and_saves_the_new_width(toy_folder, tmp_path):
    # model.max_width / model.bucket_width change a model loaded from model.init: the learnt columns are kept, the
    # saved spec carries the new T and bucket width (and model.attention_window's window and model.global_layers),
    # and the training step reads strips bucketed by width.
    from textspotter.models import get_spec

    old_width = get_spec("tiny-test").recognizer.max_width
    start, reloaded = _retrain_frozen_tiny(
        toy_folder,
        tmp_path,
        f"model.max_width={2 * old_width}",
        "model.bucket_width=8",
        "model.attention_window=2",
        "model.global_layers=1",
        "train.steps=2",
    )
    assert reloaded.spec.recognizer.max_width == 2 * old_width and reloaded.spec.recognizer.bucket_width == 8
    assert start.spec.recognizer.attention_window == 0 and reloaded.recognizer.config.attention_window == 2
    assert reloaded.spec.recognizer.global_layers == 1 == reloaded.recognizer.config.global_layers
    encoding = reloaded.recognizer.position_encoding
    assert encoding.shape[-1] == 2 * old_width
    # The recognizer was frozen here: the kept columns are exactly the starting ones.
    assert torch.equal(encoding[..., :old_width], start.recognizer.position_encoding[..., :old_width])
    # Trained, the bucketed recognizer gets finite gradients in every bucket (one backward through read_strips).
    from textspotter.data.collate import collate_pages
    from textspotter.train.task import JointTrainingModule

    model = reloaded
    module = JointTrainingModule(model, LossConfig(), frozen=["detector", "relational"])
    width = model.spec.recognizer.max_width
    quads = np.array([[[4, 4], [20, 4], [20, 14], [4, 14]], [[4, 20], [120, 20], [120, 30], [4, 30]]], dtype=np.float32)
    page = _one_word_lines_page((64, 128), quads, [[5, 6], [5, 6]], width)
    module.train()
    module(collate_pages([page], max_width=width)).loss.backward()
    grad = model.recognizer.position_encoding.grad
    assert grad is not None and torch.isfinite(grad).all()
    assert grad[..., :8].abs().sum() > 0 and grad[..., 8 : 2 * old_width].abs().sum() > 0  # both buckets learn


def test_bucketed_strips_give_a_ctc_loss_equal_to_reading_each_strip_alone():
    # The padded columns of a bucketed strip are certain blanks: CTC over T positions equals CTC over the columns
    # that were read, so bucketing changes what the network sees, not what the loss asks of it.
    torch.manual_seed(0)
    logits = torch.randn(1, 16, 7)
    padded = torch.cat([logits, torch.full((1, 16, 7), -1.0e4)], dim=1)
    padded[0, 16:, 0] = 0.0
    tokens = torch.tensor([[3, 4, 4, 5, 1] + [0] * 27])
    valid = torch.tensor([True])
    short = recognizer_loss(logits, tokens[:, :16], valid, decoding="ctc")
    long = recognizer_loss(padded, tokens, valid, decoding="ctc")
    assert torch.allclose(short, long, atol=1e-5)


def test_training_ctc_loss_per_bucket_equals_the_loss_over_padded_strips():
    # Training computes CTC per strip width over the columns read (no [N, T, V] padding); the mean over regions is
    # the one over strips padded back to T, with a region that does not count in a bucket of its own.
    import dataclasses

    from textspotter.models import get_spec
    from textspotter.models.registry import OCRModel
    from textspotter.pipeline.stages import read_strip_buckets, read_strips
    from textspotter.train.task import bucketed_recognizer_loss

    spec = get_spec("tiny-test")
    spec = dataclasses.replace(
        spec, recognizer=dataclasses.replace(spec.recognizer, decoding="ctc", bucket_width=8, max_width=32)
    )
    torch.manual_seed(0)
    model = OCRModel(spec).eval()
    features = torch.randn(1, spec.detector.feature_channels, 16, 32)
    lengths = (6, 14, 22, 30)  # quads 8 px high: strips of 8, 16, 24 and 32 columns
    quads = torch.tensor([[[2, 2], [2 + w, 2], [2 + w, 10], [2, 10]] for w in lengths], dtype=torch.float32)
    index = torch.zeros(4, dtype=torch.long)
    tokens = torch.zeros(4, 32, dtype=torch.long)
    for row, text in enumerate(([3, 4], [5, 5, 6], [3, 4, 5, 6], [7, 8, 9, 10, 3])):
        tokens[row, : len(text)] = torch.tensor(text)
        tokens[row, len(text)] = 1
    valid = torch.tensor([True, False, True, True])
    with torch.no_grad():
        buckets = read_strip_buckets(model.recognizer, features, quads, index, input_size=(64, 128))
        logits, _ = read_strips(model.recognizer, features, quads, index, input_size=(64, 128))
    assert len(buckets) == 4 and [b.logits.shape[1] for b in buckets] == [8, 16, 24, 32]
    per_bucket = bucketed_recognizer_loss(buckets, tokens, valid, decoding="ctc", max_width=32)
    padded = recognizer_loss(logits, tokens, valid, decoding="ctc")
    assert torch.allclose(per_bucket, padded, atol=1e-5)


def test_recognizer_scores_a_subset_of_classes_as_the_full_classifier_does():
    from textspotter.models import get_spec
    from textspotter.models.recognizer import Recognizer

    spec = get_spec("tiny-test")
    torch.manual_seed(0)
    recognizer = Recognizer(spec.recognizer, spec.detector.feature_channels).eval()
    strips = torch.randn(3, spec.detector.feature_channels, 8, spec.recognizer.max_width)
    classes = torch.tensor([0, 1, 2, 7, 11])
    with torch.no_grad():
        full = recognizer(strips)
        part = recognizer(strips, classes)
    assert part.logits.shape == (3, spec.recognizer.max_width, 5)
    assert torch.allclose(part.logits, full.logits[..., classes], atol=1e-5)
    assert torch.equal(part.features, full.features)


def test_sampled_classes_keep_the_targets_and_correct_the_drawn_logits():
    torch.manual_seed(0)
    tokens = torch.tensor([[40, 41, 40, 1, 0], [57, 3, 1, 0, 0]])
    picked = sample_classes(tokens, 200, 20)
    kept = {0, 1, 2, 3, 40, 41, 57}
    classes = picked.classes.tolist()
    assert classes == sorted(classes) and classes[:3] == [0, 1, 2] and kept <= set(classes)
    assert len(classes) == len(kept) + 20
    assert torch.equal(picked.classes[picked.tokens], tokens)  # rewritten targets point at the same tokens
    drawn = torch.tensor([c not in kept for c in classes])
    assert torch.all(picked.logit_offset[~drawn] == 0)
    assert torch.allclose(picked.logit_offset[drawn], torch.tensor(math.log((200 - len(kept)) / 20)))
    # Asking for at least the rest keeps every class, uncorrected: the full softmax and its loss.
    everything = sample_classes(tokens, 200, 500)
    assert torch.equal(everything.classes, torch.arange(200)) and not everything.logit_offset.any()
    logits = torch.randn(2, 8, 200)
    valid = torch.tensor([True, True])
    full = recognizer_loss(logits, torch.nn.functional.pad(tokens, (0, 3)), valid, decoding="ctc")
    same = recognizer_loss(
        logits[..., everything.classes],
        torch.nn.functional.pad(everything.tokens, (0, 3)),
        valid,
        decoding="ctc",
        logit_offset=everything.logit_offset,
    )
    assert torch.allclose(full, same)
    with pytest.raises(ValueError, match="negatives"):
        sample_classes(tokens, 200, 0)


def test_the_sampled_normaliser_estimates_the_full_one():
    # Each drawn class stands for rest / drawn classes: averaged over draws, the corrected sum of exp(logits) over
    # the scored classes is the sum over all of them (the estimate the sampled softmax normalises with).
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(300, generator=generator)
    tokens = torch.tensor([[5, 6, 1]])
    estimates = []
    for _ in range(2000):
        picked = sample_classes(tokens, 300, 30, generator=generator)
        estimates.append(torch.exp(logits[picked.classes] + picked.logit_offset).sum())
    mean = torch.stack(estimates).mean()
    assert abs(float(mean / logits.exp().sum()) - 1.0) < 0.02


def test_a_sampled_softmax_step_trains_only_the_scored_classifier_rows():
    from textspotter.data.collate import collate_pages
    from textspotter.models import create_model
    from textspotter.train.task import JointTrainingModule, freeze_modules

    torch.manual_seed(0)
    model = create_model("tiny-test")
    freeze_modules(model, ["detector", "relational"])
    module = JointTrainingModule(model, LossConfig(sampled_classes=4), frozen=["detector", "relational"])
    width = model.spec.recognizer.max_width
    quads = np.array([[[4, 4], [40, 4], [40, 16], [4, 16]], [[4, 24], [60, 24], [60, 36], [4, 36]]], dtype=np.float32)
    page = _one_word_lines_page((64, 64), quads, [[5, 6], [9, 5]], width)
    module.train()
    output = module(collate_pages([page], max_width=width))
    output.loss.backward()
    assert torch.isfinite(output.loss) and output.parts["rec"] > 0
    rows = model.recognizer.classifier.weight.grad.abs().sum(1) > 0
    assert rows[[0, 1, 5, 6, 9]].all()  # blank, EOS and the targets' characters always
    assert int(rows.sum()) <= 3 + 3 + 4  # specials, targets, 4 drawn: never the whole charset
    assert model.spec.recognizer.num_tokens > 10


def _pre_norm_tiny():
    import dataclasses

    from textspotter.models import get_spec
    from textspotter.models.registry import OCRModel

    spec = get_spec("tiny-test")
    spec = dataclasses.replace(spec, recognizer=dataclasses.replace(spec.recognizer, norm_first=True))
    torch.manual_seed(0)
    return OCRModel(spec)


def test_growing_the_recognizer_keeps_its_readings_and_trains_the_new_weights(tmp_path):
    from textspotter.models.checkpoints import load_model, save_model
    from textspotter.train.loop import grow_recognizer

    model = _pre_norm_tiny().eval()
    strips = torch.randn(3, model.spec.detector.feature_channels, 8, model.spec.recognizer.max_width)
    with torch.no_grad():
        before = model.recognizer(strips).logits
    layers, width = model.spec.recognizer.num_layers, model.spec.recognizer.feedforward_width
    grow_recognizer(model, num_layers=layers + 2, dim_feedforward=2 * width)
    assert model.spec.recognizer.num_layers == layers + 2 == len(model.recognizer.tx.layers)
    assert model.spec.recognizer.feedforward_width == 2 * width
    assert all(layer.linear1.out_features == 2 * width for layer in model.recognizer.tx.layers)
    with torch.no_grad():
        after = model.recognizer(strips).logits
    assert torch.allclose(before, after, atol=1e-5)  # the same readings at step 0
    # The new weights learn at once: gradients reach the zeroed projections and the new units' output weights.
    model.train()
    model.recognizer(strips).logits.logsumexp(-1).mean().backward()
    new_layer = model.recognizer.tx.layers[-1]
    assert new_layer.self_attn.out_proj.weight.grad.abs().sum() > 0
    assert new_layer.linear2.weight.grad.abs().sum() > 0
    assert model.recognizer.tx.layers[0].linear2.weight.grad[:, width:].abs().sum() > 0
    # The grown model saves and loads strictly from its own spec.
    save_model(model, tmp_path / "grown")
    reloaded = load_model(tmp_path / "grown").eval()
    with torch.no_grad():
        assert torch.allclose(reloaded.recognizer(strips).logits, model.eval().recognizer(strips).logits, atol=1e-5)


def test_the_recognizer_cannot_shrink_or_grow_post_norm():
    from textspotter.models import create_model
    from textspotter.train.loop import grow_recognizer

    model = _pre_norm_tiny()
    with pytest.raises(ValueError, match="only grow"):
        grow_recognizer(model, num_layers=0)
    with pytest.raises(ValueError, match="only grow"):
        grow_recognizer(model, dim_feedforward=model.spec.recognizer.feedforward_width - 1)
    with pytest.raises(ValueError, match="pre-norm"):
        grow_recognizer(create_model("tiny-test"), num_layers=2)


def test_model_recognizer_layers_grow_a_loaded_model_for_training(toy_folder, tmp_path):
    from textspotter.models.checkpoints import load_model, save_model

    save_model(_pre_norm_tiny(), tmp_path / "start")
    config = resolve_config(
        overrides=tiny_overrides(
            toy_folder,
            tmp_path / "run",
            f"model.init={tmp_path / 'start'}",
            "model.recognizer_layers=2",
            "model.recognizer_feedforward=48",
            "train.freeze=[detector,relational]",
        )
    )
    result = train(config)
    grown = load_model(result.checkpoint / "model")
    assert grown.spec.recognizer.num_layers == 2 and grown.spec.recognizer.feedforward_width == 48


def test_batchnorm_recalibration_replaces_only_the_recognizers_running_statistics(toy_folder, tmp_path):
    from textspotter.models import create_model
    from textspotter.train.loop import recalibrate_batchnorm

    torch.manual_seed(0)
    model = create_model("tiny-test")
    layers = [m for m in model.recognizer.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert layers
    for layer in layers:
        layer.running_mean.fill_(5.0)
        layer.running_var.fill_(100.0)  # statistics of some other data
    weights = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k}
    detector_stats = {k: v.clone() for k, v in model.detector.state_dict().items() if "running" in k}
    config = resolve_config(overrides=tiny_overrides(toy_folder, tmp_path / "run"))
    used = recalibrate_batchnorm(model, config, windows=3)
    assert used == 4  # whole micro-batches of 2
    assert not model.training and all(layer.momentum == 0.1 for layer in layers)
    for layer in layers:
        assert torch.isfinite(layer.running_var).all() and not torch.all(layer.running_var == 100.0)
        assert not torch.all(layer.running_mean == 5.0) and int(layer.num_batches_tracked) > 0
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in weights.items())  # no weight moved
    assert all(torch.equal(model.detector.state_dict()[k], v) for k, v in detector_stats.items())
    with pytest.raises(ValueError, match="windows"):
        recalibrate_batchnorm(model, config, windows=0)


def test_a_head_only_detector_step_leaves_the_features_the_recognizer_reads_unchanged():
    # configs/small-en-head.yaml trains only detector.output: the backbone and the feature merge stay frozen (eval
    # mode, no gradients), so the feature map the recognizer and the relational model read is the same after a step.
    from textspotter.data.collate import collate_pages
    from textspotter.models import create_model
    from textspotter.train.task import JointTrainingModule, freeze_modules, set_train_mode

    torch.manual_seed(0)
    model = create_model("tiny-test")
    frozen = ["recognizer", "relational", "detector.extractor", "detector.merge"]
    freeze_modules(model, frozen)
    module = JointTrainingModule(model, LossConfig(), frozen=frozen)
    width = model.spec.recognizer.max_width
    quads = np.array([[[4, 4], [40, 4], [40, 16], [4, 16]], [[8, 28], [14, 28], [14, 40], [8, 40]]], dtype=np.float32)
    page = _one_word_lines_page((64, 64), quads, [[5, 6], [9]], width)
    page.score[2:4, 2:9] = 1.0
    page.score[8:9, 2:3] = 1.0
    page.geometry[page.score > 0] = [2.0, 4.0, 2.0, 4.0, 0.0]
    batch = collate_pages([page], max_width=width)
    model.eval()
    with torch.no_grad():
        before = model.detector(batch.images).features.clone()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    set_train_mode(model, frozen)
    output = module(batch)
    output.loss.backward()
    assert torch.isfinite(output.loss) and {"det_conf", "det_iou"} <= set(output.parts) and "rec" not in output.parts
    trained = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert trained and all(n.startswith("detector.output.") for n in trained)
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1).step()
    after = model.state_dict()
    changed = {k for k in state if not torch.equal(state[k], after[k])}
    assert changed and all(k.startswith("detector.output.") for k in changed)  # BN statistics of the backbone too
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.detector(batch.images).features, before)


def test_every_shipped_training_config_resolves():
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert len(configs) > 10
    for path in configs:
        config = resolve_config(path)
        assert config.train.steps > 0, path.name
