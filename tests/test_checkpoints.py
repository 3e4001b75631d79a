"""Checkpoint folders: our safetensors format (bit-exact) and the published v1 / v2 layouts (strict)."""

import dataclasses
import json

import pytest
import torch

import textspotter
from textspotter.charset import latin_charset
from textspotter.models import OCRModel, create_model, get_spec
from textspotter.models.checkpoints import (
    CheckpointError,
    load_model,
    load_state_dict_strict,
    save_model,
    save_published,
    spec_from_state_dicts,
)
from textspotter.models.spec import ModelSpec, PreprocessConfig, RegNetConfig, RelationalConfig

MODULES = ("detector", "recognizer", "relational")


def publishable_tiny(*, regnet_x: bool = False, **recognizer_changes) -> ModelSpec:
    """tiny-test with the values a published folder fixes (relational k 16 / 8 heads, v1 defaults)."""
    spec = get_spec("tiny-test")
    backbone = spec.detector.backbone
    if regnet_x:
        backbone = RegNetConfig(
            stem_width=8, widths=(8, 16, 24, 32), depths=(1, 2, 1, 1), group_widths=(8, 8, 8, 16), se_ratio=0.0
        )
    return spec.replace(
        detector=dataclasses.replace(spec.detector, backbone=backbone, scope=512.0),
        recognizer=dataclasses.replace(spec.recognizer, **{"nhead": 8, **recognizer_changes}),
        relational=RelationalConfig(num_layers=1, dim_feedforward=64, initial_depth=32),
        preprocess=PreprocessConfig(infer_length=1024),
    )


def trained_like(spec: ModelSpec) -> OCRModel:
    """A model whose BN statistics and counters are not the defaults (one training-mode pass)."""
    torch.manual_seed(1)
    model = OCRModel(spec).train()
    channels, width = model.detector.feature_channels, spec.recognizer.max_width
    with torch.no_grad():
        model.detector(torch.rand(2, 3, 64, 64))
        rec = model.recognizer(torch.randn(3, channels, 8, width))
        quads = torch.tensor([[0.0, 0.0], [30.0, 0.0], [30.0, 8.0], [0.0, 8.0]]) + torch.rand(3, 1, 2) * 100
        model.relational(torch.randn(3, channels, 2, 3), quads, torch.tensor([3]), rec.features)
    return model.eval()


def write_published(model: OCRModel, folder, *, config: dict | None = None) -> None:
    """Write the files exactly as the official package stores them: flat state dicts, JSON charset, config."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in MODULES:
        torch.save(getattr(model, name).state_dict(), folder / f"{name}.pth")
    (folder / "charset.txt").write_text(json.dumps(list(model.spec.charset.characters)), encoding="utf-8")
    if config is not None:
        (folder / "model_config.json").write_text(json.dumps(config), encoding="utf-8")


def assert_same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype, key
        assert torch.equal(sa[key], sb[key]), key


def architecture(spec: ModelSpec):
    return spec.detector, spec.recognizer, spec.relational


# ------------------------------------------------------------------------------------------------ our format


def test_save_load_is_bit_exact(tmp_path):
    model = trained_like(get_spec("tiny-test"))
    bn = model.detector.extractor.base[1]
    assert bn.num_batches_tracked.item() == 1 and not torch.all(bn.running_var == 1)
    save_model(model, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.json", "model.safetensors"]
    loaded = load_model(tmp_path / "m")
    assert not loaded.training and loaded.spec == model.spec
    assert_same_state(model, loaded)
    assert loaded.detector.input_mean.dtype == torch.float16
    # Also reachable as textspotter.load_model, and through the model.json path.
    again = textspotter.load_model(tmp_path / "m" / "model.json")
    assert_same_state(model, again)
    images = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(model.detector(images).features, loaded.detector(images).features)


def test_our_format_errors(tmp_path):
    model = create_model("tiny-test")
    save_model(model, tmp_path / "m")
    (tmp_path / "m" / "model.json").unlink()
    with pytest.raises(FileNotFoundError, match="model.json"):
        load_model(tmp_path / "m")

    from safetensors.torch import load_file, save_file

    save_model(model, tmp_path / "extra")
    tensors = load_file(tmp_path / "extra" / "model.safetensors")
    tensors["detector.bogus"] = torch.zeros(1)
    save_file(tensors, tmp_path / "extra" / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*unexpected key 'detector\.bogus'"):
        load_model(tmp_path / "extra")

    del tensors["detector.bogus"]
    tensors["recognizer.classifier.bias"] = torch.zeros(5)
    save_file(tensors, tmp_path / "extra" / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"'recognizer\.classifier\.bias' has shape \[5\]"):
        load_model(tmp_path / "extra")

    spec = json.loads((tmp_path / "extra" / "model.json").read_text())
    spec["recognizer"]["bogus"] = 1
    (tmp_path / "extra" / "model.json").write_text(json.dumps(spec))
    with pytest.raises(CheckpointError, match="model.json.*bogus"):
        load_model(tmp_path / "extra")

    with pytest.raises(FileNotFoundError, match="not found"):
        load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no model found"):
        load_model(tmp_path / "empty")


# ------------------------------------------------------------------------------------------------ published layouts


@pytest.mark.parametrize("nested", [True, False])
def test_published_v1_folder(tmp_path, nested):
    spec = publishable_tiny()
    model = trained_like(spec)
    write_published(model, tmp_path / "checkpoints" if nested else tmp_path)
    loaded = load_model(tmp_path)
    assert_same_state(model, loaded)
    assert architecture(loaded.spec) == architecture(spec)
    assert loaded.spec.charset == latin_charset()
    assert loaded.spec.postprocess.text_confidence == "product" and not loaded.spec.postprocess.use_prefilter
    assert loaded.spec.recognizer.nhead == 8 and not loaded.spec.recognizer.norm_first
    assert loaded.spec.detector.scope == 512.0 and loaded.spec.preprocess.infer_length == 1024


def test_published_v2_folder_reads_model_config(tmp_path):
    spec = publishable_tiny(regnet_x=True, nhead=4, norm_first=True, use_final_norm=True, dim_feedforward=48)
    spec = spec.replace(
        detector=dataclasses.replace(spec.detector, scope=2048.0), preprocess=PreprocessConfig(infer_length=512)
    )
    model = trained_like(spec)
    config = {
        "scope": 2048,
        "max_width": spec.recognizer.max_width,
        "num_tokens": spec.recognizer.num_tokens,
        "infer_length": 512,
        "has_pre_norm": False,
        "has_tx_norm": True,
        "recognizer_variant": "prenorm",
        "depth": spec.recognizer.depth,
        "num_layers": 1,
        "nhead": 4,
        "dim_feedforward": 48,
        "norm_first": True,
    }
    write_published(model, tmp_path, config=config)
    loaded = load_model(tmp_path)
    assert_same_state(model, loaded)
    assert architecture(loaded.spec) == architecture(spec)
    assert loaded.spec.detector.backbone.se_ratio == 0.0
    assert not any(".f.se." in key for key in loaded.detector.state_dict())
    assert loaded.spec.postprocess.text_confidence == "geometric_mean" and loaded.spec.postprocess.use_prefilter
    assert loaded.spec.preprocess.infer_length == 512
    strips = torch.randn(2, spec.detector.feature_channels, 8, spec.recognizer.max_width)
    with torch.inference_mode():
        assert torch.equal(model.recognizer(strips).logits, loaded.recognizer(strips).logits)


def test_save_published_roundtrip_and_refusals(tmp_path):
    spec = publishable_tiny()
    model = trained_like(spec)
    for layout in ("v1", "v2"):
        save_published(model, tmp_path / layout, layout=layout)
        loaded = load_model(tmp_path / layout)
        assert_same_state(model, loaded)
        assert architecture(loaded.spec) == architecture(spec)
    assert (tmp_path / "v1" / "checkpoints" / "detector.pth").is_file()
    assert json.loads((tmp_path / "v2" / "model_config.json").read_text())["nhead"] == 8
    with pytest.raises(ValueError, match="relational.k"):
        save_published(create_model("tiny-test"), tmp_path / "tiny")
    with pytest.raises(ValueError, match="no charset"):
        save_published(create_model("v1"), tmp_path / "v1-nocharset")


def test_full_published_key_sets_give_the_registered_architectures():
    """The complete v1 / v2 key sets (meta tensors, no data) are recognised as the registered configs."""
    configs = {
        "v1": None,
        "v2-en": {"scope": 2048, "backbone": "regnet_x_8gf", "norm_first": True, "nhead": 8},
        "v2-multi": {"scope": 2048, "backbone": "regnet_x_8gf", "norm_first": True, "max_width": 128},
    }
    for name, config in configs.items():
        with torch.device("meta"):
            reference = OCRModel(get_spec(name))
        states = {m: getattr(reference, m).state_dict() for m in MODULES}
        spec = spec_from_state_dicts(states, config=config)
        assert architecture(spec) == architecture(get_spec(name)), name
        with torch.device("meta"):
            rebuilt = OCRModel(spec)
        for module in MODULES:
            load_state_dict_strict(getattr(rebuilt, module), states[module], source=f"{module}.pth")
    # A v1 folder needs every one of the 573 detector keys.
    with torch.device("meta"):
        v1 = OCRModel(get_spec("v1"))
    state = dict(v1.detector.state_dict())
    del state["output.preds.1.kernels.6.1.running_var"]
    with pytest.raises(
        CheckpointError, match=r"detector\.pth: missing key 'output\.preds\.1\.kernels\.6\.1\.running_var'"
    ):
        load_state_dict_strict(v1.detector, state, source="detector.pth")


def test_published_errors_name_file_and_key(tmp_path):
    spec = publishable_tiny()
    model = create_model(spec)

    def fresh(name: str):
        folder = tmp_path / name
        write_published(model, folder)
        return folder

    folder = fresh("missing-file")
    (folder / "recognizer.pth").unlink()
    with pytest.raises(FileNotFoundError, match="recognizer.pth"):
        load_model(folder)

    folder = fresh("unexpected")
    state = model.relational.state_dict()
    state["extra.weight"] = torch.zeros(2)
    torch.save(state, folder / "relational.pth")
    with pytest.raises(CheckpointError, match=r"relational\.pth: unexpected key 'extra\.weight'"):
        load_model(folder)

    folder = fresh("missing-key")
    state = model.detector.state_dict()
    del state["merge.final.0.1.running_var"]
    torch.save(state, folder / "detector.pth")
    with pytest.raises(CheckpointError, match=r"detector\.pth: missing key 'merge\.final\.0\.1\.running_var'"):
        load_model(folder)

    folder = fresh("shape")
    state = model.relational.state_dict()
    state["recog_tx.bias"] = torch.zeros(state["recog_tx.bias"].numel() + 1)
    torch.save(state, folder / "relational.pth")
    with pytest.raises(CheckpointError, match=r"relational\.pth: key 'recog_tx\.bias' has shape"):
        load_model(folder)

    folder = fresh("charset")
    (folder / "charset.txt").write_text(json.dumps(["a", "b"]), encoding="utf-8")
    with pytest.raises(CheckpointError, match="charset.txt has 2 characters"):
        load_model(folder)

    folder = fresh("wrapped")
    torch.save({"state_dict": model.detector.state_dict()}, folder / "detector.pth")
    with pytest.raises(CheckpointError, match="flat state dict"):
        load_model(folder)

    folder = fresh("config-tokens")
    (folder / "model_config.json").write_text(json.dumps({"num_tokens": 999}), encoding="utf-8")
    with pytest.raises(CheckpointError, match=r"model_config\.json: num_tokens=999.*classifier\.weight"):
        load_model(folder)

    folder = fresh("config-backbone")
    (folder / "model_config.json").write_text(json.dumps({"backbone": "regnet_y_8gf"}), encoding="utf-8")
    with pytest.raises(CheckpointError, match="backbone 'regnet_y_8gf' disagrees"):
        load_model(folder)

    folder = fresh("not-a-pth")
    (folder / "detector.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="detector.pth: cannot read"):
        load_model(folder)
