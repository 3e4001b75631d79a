"""Model definitions: registry, published fidelity (counts, keys, shapes), forward contracts, CLI listing."""

import dataclasses
import json
import math

import pytest
import torch

from textspotter.charset import Charset
from textspotter.cli.main import main
from textspotter.models import (
    Detector,
    DetectorOutput,
    OCRModel,
    Recognizer,
    RecognizerOutput,
    RelationalOutput,
    create_model,
    get_spec,
    list_models,
    module_sizes,
    relations_to_dense,
)
from textspotter.models.spec import ModelSpec, RecognizerConfig, RegNetConfig
from textspotter.ops.distances import quad_distances
from textspotter.pipeline.ocr import default_model_dir

# ------------------------------------------------------------------------------------------------ helpers


def meta_model(name: str) -> OCRModel:
    with torch.device("meta"):
        return OCRModel(get_spec(name))


def shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def bn(prefix: str, channels: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{prefix}.weight": (channels,),
        f"{prefix}.bias": (channels,),
        f"{prefix}.running_mean": (channels,),
        f"{prefix}.running_var": (channels,),
        f"{prefix}.num_batches_tracked": (),
    }


def random_quads(num: int, *, extent: float = 200.0) -> torch.Tensor:
    """Axis-aligned word-like quads ``[num, 4, 2]`` in detector pixels, clockwise from top-left."""
    origin = torch.rand(num, 1, 2) * extent
    size = torch.rand(num, 1, 2) * torch.tensor([40.0, 10.0]) + torch.tensor([5.0, 4.0])
    unit = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    return origin + unit * size


def relational_inputs(model: OCRModel, counts: list[int]):
    num = sum(counts)
    channels = model.detector.feature_channels
    crops = torch.randn(num, channels, *model.spec.relational.grid_size)
    features = torch.randn(num, 5, model.recognizer.feature_depth)
    return crops, random_quads(num), torch.tensor(counts), features


# Expected published key → shape tables, written out from the spec's tables (§3.6, §6.3, §7.5), independently of
# the model code.


def expected_detector_keys(
    *, stem: int, widths, depths, group_widths, se: bool, merge_in: tuple[int, int, int]
) -> dict[str, tuple[int, ...]]:
    keys: dict[str, tuple[int, ...]] = {"input_mean": (1, 3, 1, 1), "input_std": (1, 3, 1, 1)}
    keys["extractor.base.0.weight"] = (stem, 3, 3, 3)
    keys.update(bn("extractor.base.1", stem))
    width_in = stem
    for level, (w, d, gw) in enumerate(zip(widths, depths, group_widths)):
        for j in range(d):
            p = f"extractor.levels.{level}.block{level + 1}-{j}"
            w_in = width_in if j == 0 else w
            if j == 0:
                keys[f"{p}.proj.0.weight"] = (w, w_in, 1, 1)
                keys.update(bn(f"{p}.proj.1", w))
            keys[f"{p}.f.a.0.weight"] = (w, w_in, 1, 1)
            keys.update(bn(f"{p}.f.a.1", w))
            keys[f"{p}.f.b.0.weight"] = (w, gw, 3, 3)
            keys.update(bn(f"{p}.f.b.1", w))
            if se:
                squeeze = round(0.25 * w_in)
                keys[f"{p}.f.se.fc1.weight"] = (squeeze, w, 1, 1)
                keys[f"{p}.f.se.fc1.bias"] = (squeeze,)
                keys[f"{p}.f.se.fc2.weight"] = (w, squeeze, 1, 1)
                keys[f"{p}.f.se.fc2.bias"] = (w,)
            keys[f"{p}.f.c.0.weight"] = (w, w, 1, 1)
            keys.update(bn(f"{p}.f.c.1", w))
        width_in = w
    pre = [(512, widths[3]), (256, 512), (128, 256)]
    for i, ((out, cin), cat, width) in enumerate(zip(pre, merge_in, (512, 256, 128))):
        keys[f"merge.pre_upsamples.{i}.0.0.weight"] = (out, cin, 1, 1)
        keys.update(bn(f"merge.pre_upsamples.{i}.0.1", out))
        keys[f"merge.post_upsamples.{i}.0.0.weight"] = (width, cat, 1, 1)
        keys.update(bn(f"merge.post_upsamples.{i}.0.1", width))
        keys[f"merge.post_upsamples.{i}.1.0.weight"] = (width, width, 3, 3)
        keys.update(bn(f"merge.post_upsamples.{i}.1.1", width))
    keys["merge.final.0.0.weight"] = (128, 128, 3, 3)
    keys.update(bn("merge.final.0.1", 128))
    for a in (0, 1):
        for b in range(7):
            keys[f"output.preds.{a}.kernels.{b}.0.weight"] = (128, 128, 3, 3)
            keys.update(bn(f"output.preds.{a}.kernels.{b}.1", 128))
        keys[f"output.preds.{a}.global_pool.1.weight"] = (128, 128, 1, 1)
        keys[f"output.preds.{a}.global_pool.1.bias"] = (128,)
        keys[f"output.preds.{a}.final.0.weight"] = (128, 1024, 1, 1)
        keys.update(bn(f"output.preds.{a}.final.1", 128))
    keys["output.preds.2.0.weight"] = (128, 128, 3, 3)
    keys.update(bn("output.preds.2.1", 128))
    keys["output.preds.3.weight"] = (6, 128, 1, 1)
    return keys


def expected_recognizer_keys(*, depth=128, layers=3, ffn=256, tokens=858, width=32, final_norm=False):
    d = 2 * depth
    keys = {"position_encoding": (1, d, width)}
    convs = {0: (128, 128, 3), 1: (256, 128, 3), 3: (256, 256, 3), 4: (d, 256, 3), 6: (d, d, 3), 7: (2 * d, d, 3)}
    convs[9] = (d, 2 * d, 1)
    for idx, (out, cin, k) in convs.items():
        keys[f"encoder.{idx}.0.weight"] = (out, cin, k, k)
        keys[f"encoder.{idx}.0.bias"] = (out,)
        keys.update(bn(f"encoder.{idx}.1", out))
    for i in range(layers):
        p = f"tx.layers.{i}"
        keys.update(transformer_layer_keys(p, d, ffn))
    if final_norm:
        keys["tx.norm.weight"] = (d,)
        keys["tx.norm.bias"] = (d,)
    keys["classifier.weight"] = (tokens, d)
    keys["classifier.bias"] = (tokens,)
    return keys


def transformer_layer_keys(p: str, d: int, ffn: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{p}.self_attn.in_proj_weight": (3 * d, d),
        f"{p}.self_attn.in_proj_bias": (3 * d,),
        f"{p}.self_attn.out_proj.weight": (d, d),
        f"{p}.self_attn.out_proj.bias": (d,),
        f"{p}.linear1.weight": (ffn, d),
        f"{p}.linear1.bias": (ffn,),
        f"{p}.linear2.weight": (d, ffn),
        f"{p}.linear2.bias": (d,),
        f"{p}.norm1.weight": (d,),
        f"{p}.norm1.bias": (d,),
        f"{p}.norm2.weight": (d,),
        f"{p}.norm2.bias": (d,),
    }


def expected_relational_keys(recog_depth=256):
    keys = {"rect_proj.0.weight": (128, 128, 1, 1), "rect_proj.0.bias": (128,)}
    keys.update(bn("rect_proj.1", 128))
    keys["recog_tx.weight"] = (128, recog_depth)
    keys["recog_tx.bias"] = (128,)
    keys["combined_proj.0.weight"] = (256, 256)
    keys["combined_proj.0.bias"] = (256,)
    keys.update(bn("combined_proj.1", 256))
    keys["combined_proj.3.weight"] = (113, 256)
    keys["combined_proj.3.bias"] = (113,)
    keys.update(bn("combined_proj.4", 113))
    for i in range(4):
        keys.update(transformer_layer_keys(f"encoder.0.layers.{i}", 256, 512))
    keys["encoder.1.weight"] = (3, 256)
    keys["encoder.1.bias"] = (3,)
    return keys


# ------------------------------------------------------------------------------------------------ registry


def test_registry_lists_required_models_and_rejects_unknown():
    names = list_models()
    for required in ("v1", "v2-en", "v2-multi", "small", "tiny-test"):
        assert required in names
    with pytest.raises(ValueError, match="unknown model 'v3'.*v1"):
        get_spec("v3")


@pytest.mark.parametrize("name", ["v1", "v2-en", "v2-multi", "small", "tiny-test"])
def test_spec_json_roundtrip(name):
    spec = get_spec(name)
    assert ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("v1", {"detector": (45_268_472, 573), "recognizer": (4_944_346, 88), "relational": (2_254_422, 73)}),
        ("v2-en", {"detector": (45_344_704, 613), "recognizer": (6_126_810, 90), "relational": (2_254_422, 73)}),
        ("v2-multi", {"detector": (45_344_704, 613), "recognizer": (36_113_191, 126), "relational": (2_287_190, 73)}),
    ],
)
def test_published_parameter_counts(name, expected):
    sizes = module_sizes(name)
    got = {m: (s["parameters"], s["state_dict_entries"]) for m, s in sizes.items()}
    assert got == expected


def test_small_is_within_budget():
    total = sum(s["parameters"] for s in module_sizes("small").values())
    assert total > 2_000_000 and total * 4 < 25_000_000  # fp32 weights under 25 MB
    spec = get_spec("small")
    assert spec.charset is not None and spec.recognizer.num_tokens == 308 and spec.recognizer.max_width >= 32


def test_v1_state_dict_keys_and_shapes_match_the_spec_tables():
    model = meta_model("v1")
    detector = expected_detector_keys(
        stem=32,
        widths=(224, 448, 896, 2016),
        depths=(2, 4, 10, 1),
        group_widths=(56, 56, 56, 56),
        se=True,
        merge_in=(1408, 704, 352),
    )
    assert len(detector) == 573
    assert shapes(model.detector) == detector
    assert model.detector.state_dict()["input_mean"].dtype == torch.float16
    # Spot values of the spec's stage table (se sizes of §3.6).
    assert detector["extractor.levels.0.block1-0.f.se.fc1.weight"] == (8, 224, 1, 1)
    assert detector["extractor.levels.3.block4-0.f.se.fc1.weight"] == (224, 2016, 1, 1)
    assert shapes(model.recognizer) == expected_recognizer_keys()
    assert len(expected_recognizer_keys()) == 88
    assert shapes(model.relational) == expected_relational_keys()
    assert len(expected_relational_keys()) == 73


def test_v2_state_dict_keys_and_shapes():
    model = meta_model("v2-multi")
    detector = expected_detector_keys(
        stem=32,
        widths=(80, 240, 720, 1920),
        depths=(2, 5, 15, 1),
        group_widths=(80, 120, 120, 120),
        se=False,
        merge_in=(1232, 496, 208),
    )
    assert len(detector) == 613
    assert shapes(model.detector) == detector
    assert shapes(model.recognizer) == expected_recognizer_keys(
        depth=256, layers=6, ffn=2048, tokens=14_247, width=128, final_norm=True
    )
    assert shapes(model.relational) == expected_relational_keys(recog_depth=512)
    assert shapes(meta_model("v2-en").recognizer) == expected_recognizer_keys(ffn=1024, final_norm=True)


def test_create_model_overrides_and_container():
    charset = Charset(tuple("abc"))
    model = create_model("tiny-test", charset=charset)
    assert model.spec.recognizer.num_tokens == 6 and model.recognizer.classifier.out_features == 6
    assert set(model.state_dict()) == {
        f"{m}.{k}" for m in ("detector", "recognizer", "relational") for k in getattr(model, m).state_dict()
    }
    with pytest.raises(ValueError, match="num_tokens"):
        create_model("tiny-test", charset=charset, recognizer=RecognizerConfig(num_tokens=7, depth=16, nhead=2))
    with pytest.raises(TypeError, match="container"):
        model(torch.zeros(1))
    with pytest.raises(TypeError, match="ModelSpec"):
        OCRModel("tiny-test")


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="nhead"):
        RecognizerConfig(depth=10, nhead=3)
    with pytest.raises(ValueError, match="group width"):
        RegNetConfig(widths=(24, 48, 96, 192), group_widths=(16, 16, 16, 16))
    with pytest.raises(ValueError, match="strip_height"):
        RecognizerConfig(strip_height=16)
    with pytest.raises(ValueError, match="decoding"):
        RecognizerConfig(decoding="beam")


def test_the_validity_threshold_is_saved_in_the_spec():
    spec = get_spec("tiny-test")
    assert spec.postprocess.valid_confidence == 0.5  # the published rule
    lower = spec.replace(postprocess=dataclasses.replace(spec.postprocess, valid_confidence=0.25))
    assert ModelSpec.from_dict(json.loads(json.dumps(lower.to_dict()))).postprocess.valid_confidence == 0.25
    older = lower.to_dict()
    del older["postprocess"]["valid_confidence"]  # a model.json written before the field existed
    assert ModelSpec.from_dict(older).postprocess.valid_confidence == 0.5
    with pytest.raises(ValueError, match="valid_confidence"):
        spec.replace(postprocess=dataclasses.replace(spec.postprocess, valid_confidence=1.5))


def test_the_orientation_floor_is_saved_in_the_spec():
    spec = get_spec("tiny-test")
    assert spec.postprocess.orientation_confidence == 0.7
    lower = spec.replace(postprocess=dataclasses.replace(spec.postprocess, orientation_confidence=0.5))
    assert ModelSpec.from_dict(json.loads(json.dumps(lower.to_dict()))).postprocess.orientation_confidence == 0.5
    older = lower.to_dict()
    del older["postprocess"]["orientation_confidence"]  # a model.json written before the field existed
    assert ModelSpec.from_dict(older).postprocess.orientation_confidence == 0.7
    for bad in (1.5, -0.1, True, "0.5"):
        with pytest.raises(ValueError, match="orientation_confidence"):
            spec.replace(postprocess=dataclasses.replace(spec.postprocess, orientation_confidence=bad))


def test_ctc_decoding_is_saved_in_the_spec():
    spec = get_spec("tiny-test")
    assert spec.recognizer.decoding == "parallel"
    ctc = spec.replace(recognizer=dataclasses.replace(spec.recognizer, decoding="ctc"))
    assert ModelSpec.from_dict(json.loads(json.dumps(ctc.to_dict()))).recognizer.decoding == "ctc"


# ------------------------------------------------------------------------------------------------ forward


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_model("tiny-test").eval()


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_runs_forward(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    spec = model.spec
    channels, width = model.detector.feature_channels, spec.recognizer.max_width
    with torch.inference_mode():
        det = model.detector(torch.rand(1, 3, 32, 64))
        rec = model.recognizer(torch.randn(2, channels, 8, width))
        rel = model.relational(torch.randn(2, channels, 2, 3), random_quads(2), torch.tensor([2]), rec.features)
    assert det.features.shape == (1, channels, 8, 16)
    assert rec.logits.shape == (2, width, spec.recognizer.num_tokens)
    assert rel.logits.shape == (2, spec.relational.k, 3)
    assert torch.isfinite(det.features).all() and torch.isfinite(rec.logits).all()


@pytest.mark.parametrize("autocast", [False, True])
def test_tiny_forward_contracts_fp32_and_autocast(tiny, autocast):
    spec = tiny.spec
    channels, width, depth = tiny.detector.feature_channels, spec.recognizer.max_width, tiny.recognizer.feature_depth
    images = torch.rand(2, 3, 64, 96)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        det = tiny.detector(images)
        rec = tiny.recognizer(torch.randn(3, channels, 8, width))
        crops, quads, counts, _ = relational_inputs(tiny, [2, 1])
        rel = tiny.relational(crops, quads, counts, rec.features)
    compute = torch.bfloat16 if autocast else torch.float32
    assert isinstance(det, DetectorOutput) and isinstance(rec, RecognizerOutput) and isinstance(rel, RelationalOutput)
    assert det.confidence.shape == (2, 16, 24) and det.rboxes.shape == (2, 16, 24, 5)
    assert det.features.shape == (2, channels, 16, 24) and det.features.dtype == compute
    assert rec.logits.shape == (3, width, spec.recognizer.num_tokens) and rec.features.shape == (3, width, depth)
    assert rec.logits.dtype == compute
    # The relational model always computes in float32.
    assert rel.logits.dtype == torch.float32 and rel.neighbours.dtype == torch.int64
    assert all(isinstance(t, torch.Tensor) for t in (*det, *rec, *rel))


def test_autocast_outputs_close_to_fp32(tiny):
    images = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        ref = tiny.detector(images)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = tiny.detector(images)
    assert torch.allclose(low.features.float(), ref.features, atol=0.1 * ref.features.abs().max().item())


def test_detector_rejects_bad_input(tiny):
    with pytest.raises(ValueError, match="multiples of 32"):
        tiny.detector(torch.rand(1, 3, 40, 64))
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        tiny.detector(torch.rand(1, 4, 64, 64))
    with pytest.raises(TypeError, match="floating-point"):
        tiny.detector(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))


def test_detector_buffers_and_rbox_ranges():
    spec = get_spec("tiny-test")
    det = Detector(spec.detector, spec.preprocess).eval()
    assert det.input_mean.dtype == torch.float16 and det.input_mean.shape == (1, 3, 1, 1)
    assert torch.allclose(det.input_std.float().flatten(), torch.tensor([0.229, 0.224, 0.225]), atol=1e-3)
    torch.nn.init.normal_(det.output.preds[-1].weight, std=2.0)  # make the head produce large values
    with torch.inference_mode():
        out = det(torch.rand(1, 3, 64, 64))
    distances, angle = out.rboxes[..., :4], out.rboxes[..., 4]
    assert (distances >= 0).all() and distances.max() > 0 and (distances <= 1e6).all()
    assert (angle.abs() <= math.pi + 1e-6).all() and angle.abs().max() > 0.1
    # Distances are relu(x) * scope: doubling the scope doubles them.
    det.output.scope *= 2
    with torch.inference_mode():
        doubled = det(torch.rand(1, 3, 64, 64) * 0 + 0.5)
        det.output.scope /= 2
        single = det(torch.rand(1, 3, 64, 64) * 0 + 0.5)
    assert torch.allclose(doubled.rboxes[..., :4], 2 * single.rboxes[..., :4])


def test_recognizer_variants_and_validation():
    channels = 16
    base = dict(depth=16, num_layers=2, nhead=2, max_width=8, num_tokens=10)
    plain = Recognizer(RecognizerConfig(**base), in_channels=channels)
    pre = Recognizer(RecognizerConfig(**base, use_pre_norm=True), in_channels=channels)
    first = Recognizer(RecognizerConfig(**base, norm_first=True), in_channels=channels)
    narrow = Recognizer(RecognizerConfig(**base, conv_width=4), in_channels=channels)
    assert "pre_norm.weight" not in plain.state_dict() and "tx.norm.weight" not in plain.state_dict()
    assert "pre_norm.weight" in pre.state_dict() and pre.tx.layers[0].norm_first
    assert "tx.norm.weight" in first.state_dict()
    assert narrow.state_dict()["encoder.0.0.weight"].shape == (4, channels, 3, 3)
    assert narrow.state_dict()["encoder.3.0.weight"].shape == (8, 8, 3, 3)
    with pytest.raises(ValueError, match=r"\[N, 16, 8, 8\]"):
        plain(torch.zeros(1, channels, 8, 9))
    empty = plain.eval()(torch.zeros(0, channels, 8, 8))
    assert empty.logits.shape == (0, 8, 10) and empty.features.shape == (0, 8, 32)


def test_training_step_reaches_every_module(tiny):
    model = create_model("tiny-test").train()
    det = model.detector(torch.rand(2, 3, 64, 64))
    channels, width = model.detector.feature_channels, model.spec.recognizer.max_width
    rec = model.recognizer(torch.randn(4, channels, 8, width))
    crops, quads, counts, _ = relational_inputs(model, [3, 1])
    rel = model.relational(crops, quads, counts, rec.features)
    finite = rel.logits[torch.isfinite(rel.logits)]
    loss = det.confidence.mean() + det.rboxes.mean() + rec.logits.logsumexp(-1).mean() + finite.mean()
    loss.backward()
    for name in ("detector", "recognizer", "relational"):
        grads = [p.grad for p in getattr(model, name).parameters() if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), name


# ------------------------------------------------------------------------------------------------ relational


def test_relational_neighbours_are_the_nearest_regions_of_the_same_image(tiny):
    counts = [12, 3, 0, 1]
    crops, quads, region_counts, features = relational_inputs(tiny, counts)
    with torch.inference_mode():
        out = tiny.relational(crops, quads, region_counts, features)
    k1 = tiny.spec.relational.k - 1
    assert out.logits.shape == (16, k1 + 1, 3) and out.neighbours.shape == (16, k1)
    start = 0
    for n in counts:
        if n == 0:
            continue
        nbrs = out.neighbours[start : start + n]
        kk = min(n - 1, k1)
        assert (nbrs[:, kk:] == -1).all() and (nbrs[:, :kk] >= 0).all() and (nbrs[:, :kk] < n).all()
        if kk:
            dist = quad_distances(quads[start : start + n] / tiny.spec.relational.quad_downscale)
            for i in range(n):
                chosen = dist[i, nbrs[i, :kk]]
                others = torch.ones(n, dtype=torch.bool)
                others[nbrs[i, :kk]] = False
                others[i] = False
                assert i not in nbrs[i, :kk].tolist()
                if others.any():
                    assert chosen.max() <= dist[i, others].min()
        block = out.logits[start : start + n]
        assert torch.isinf(block[:, 1 + kk :]).all() and torch.isfinite(block[:, : 1 + kk]).all()
        start += n


def reference_relational_logits(model, crops, quads, counts, features):
    """The published per-region variable-length computation, region by region (spec §7.2–7.4)."""
    rel = model.relational
    qs = quads / rel.config.quad_downscale
    e = rel.encode_regions(crops, qs, features)
    out = []
    start = 0
    for n in counts:
        dist = quad_distances(qs[start : start + n])
        for i in range(n):
            kk = min(n - 1, rel.k - 1)
            if n == 1:
                tokens = [torch.cat([e[start + i], torch.zeros(e.shape[1] + 2)])]
            else:
                tokens = [torch.cat([e[start + i], torch.zeros(e.shape[1]), torch.tensor([-1.0, -2.0])])]
            q = qs[start + i]
            pt0, pt1 = (q[0] + q[3]) / 2, (q[1] + q[2]) / 2
            direction = (pt1 - pt0) / (pt1 - pt0).norm().clamp(min=1e-6)
            centre = (pt0 + pt1) / 2
            order = torch.argsort(dist[i])[:kk]
            for j in order.tolist():
                to_j = qs[start + j].mean(0) - centre
                cos = (direction * to_j / to_j.norm().clamp(min=1e-6)).sum()
                tokens.append(torch.cat([e[start + i], e[start + j], dist[i, j].view(1), cos.view(1)]))
            seq = torch.stack(tokens)[None]
            logits = rel.encoder[1](rel.encoder[0](seq))[0]
            out.append((logits, [start + j for j in order.tolist()]))
        start += n
    return out


def test_relational_padding_mask_equals_variable_length_sequences(tiny):
    counts = [10, 1, 4]
    crops, quads, region_counts, features = relational_inputs(tiny, counts)
    with torch.inference_mode():
        out = tiny.relational(crops, quads, region_counts, features)
        reference = reference_relational_logits(tiny, crops, quads, counts, features)
    for row, (logits, partners) in enumerate(reference):
        kk = len(partners)
        image_start = 0 if row < 10 else (10 if row < 11 else 11)
        got_partners = (out.neighbours[row, :kk] + image_start).tolist()
        assert sorted(got_partners) == sorted(partners)
        assert torch.allclose(out.logits[row, 0], logits[0], atol=1e-5), row
        by_partner = dict(zip(partners, logits[1:]))
        for m, partner in enumerate(got_partners):
            assert torch.allclose(out.logits[row, 1 + m], by_partner[partner], atol=1e-5)
    # Row 10 is the single-region image (null token [e, zeros]): only its null logit is finite.
    single = out.logits[10]
    assert torch.isfinite(single[0]).all() and torch.isinf(single[1:]).all()


def test_relational_ignores_autocast_and_validates(tiny):
    crops, quads, counts, features = relational_inputs(tiny, [5])
    with torch.inference_mode():
        ref = tiny.relational(crops, quads, counts, features)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = tiny.relational(crops.bfloat16(), quads, counts, features.bfloat16())
    assert low.logits.dtype == torch.float32
    finite = torch.isfinite(ref.logits)
    assert torch.equal(finite, torch.isfinite(low.logits))
    assert torch.allclose(low.logits[finite], ref.logits[finite], atol=0.1)
    with pytest.raises(ValueError, match="sum to the 5 regions"):
        tiny.relational(crops, quads, torch.tensor([4]), features)
    with pytest.raises(ValueError, match="quads must have shape"):
        tiny.relational(crops, quads[:4], counts, features)
    empty = tiny.relational(crops[:0], quads[:0], torch.tensor([0, 0]), features[:0])
    assert empty.logits.shape == (0, tiny.spec.relational.k, 3) and empty.neighbours.shape == (0, 7)


def test_relational_encoder_in_bf16_stays_close_and_float32(tiny):
    # RelationOptions.precision "bf16": only the Transformer encoder under bfloat16 autocast.
    crops, quads, counts, features = relational_inputs(tiny, [6, 3])
    with torch.inference_mode():
        ref = tiny.relational(crops, quads, counts, features)
        low = tiny.relational(crops, quads, counts, features, encoder_bf16=True)
    assert low.logits.dtype == torch.float32
    assert torch.equal(low.neighbours, ref.neighbours)
    finite = torch.isfinite(ref.logits)
    assert torch.equal(finite, torch.isfinite(low.logits))
    assert torch.allclose(low.logits[finite], ref.logits[finite], atol=0.1)
    assert not torch.equal(low.logits[finite], ref.logits[finite])  # it did run in bfloat16


def test_relations_to_dense_scatters_tokens(tiny):
    counts = [6, 1, 0]
    crops, quads, region_counts, features = relational_inputs(tiny, counts)
    with torch.inference_mode():
        out = tiny.relational(crops, quads, region_counts, features)
    words, lines, log_var = relations_to_dense(out, region_counts)
    assert [w.shape for w in words] == [(6, 7), (1, 2), (0, 1)]
    for channel, dense in enumerate((words[0], lines[0], log_var[0])):
        assert torch.equal(dense[:, 0], out.logits[:6, 0, channel])
        assert torch.isinf(dense.diagonal(offset=1)).all()
        for i in range(6):
            for m, j in enumerate(out.neighbours[i].tolist()):
                if j >= 0:
                    assert dense[i, j + 1] == out.logits[i, 1 + m, channel]
        # 5 neighbours per row (n - 1 < k - 1) + the null column are finite, the diagonal is not.
        assert torch.isfinite(dense).sum() == 6 * 6
    assert torch.isinf(words[1][0, 1]) and torch.isfinite(words[1][0, 0])
    with pytest.raises(ValueError, match="sum to the 7"):
        relations_to_dense(out, torch.tensor([6]))


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_models_json_and_table(capsys):
    assert main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == list_models()
    assert data["v1"] == {
        "detector": {"parameters": 45_268_472, "state_dict_entries": 573},
        "recognizer": {"parameters": 4_944_346, "state_dict_entries": 88},
        "relational": {"parameters": 2_254_422, "state_dict_entries": 73},
    }
    assert main(["models", "v1", "small"]) == 0
    table = capsys.readouterr().out
    assert "45,268,472" in table and "small" in table and "v2-en" not in table
    assert "shipped" not in table  # the shipped folders are listed with the whole registry only
    assert main(["models"]) == 0
    shipped = capsys.readouterr().out.split("\n\n")[1].splitlines()
    assert shipped[0].split()[:3] == ["shipped", "installed", "architecture"]
    rows = {line.split()[0]: line for line in shipped[2:]}
    assert set(rows) == {"default", "multi"}
    default = json.loads((default_model_dir() / "model.json").read_text())["name"]
    assert rows["default"].split()[1:3] == ["yes", default]
    installed = (default_model_dir().parent / "multi" / "model.json").is_file()
    assert ("yes" in rows["multi"].split()[1]) == installed
    with pytest.raises(SystemExit, match="unknown model"):
        main(["models", "nope"])


def test_cli_models_time_reports_every_stage(capsys):
    args = ["models", "tiny-test", "--time", "--size", "64", "--regions", "3", "--repeat", "1", "--threads", "2"]
    assert main([*args, "--json"]) == 0
    timing = json.loads(capsys.readouterr().out)["tiny-test"]
    assert set(timing) == {"detector", "recognizer", "relational", "total"}
    assert all(0 < v["min_ms"] <= v["median_ms"] for v in timing.values())
    with pytest.raises(SystemExit, match="multiple of 32"):
        main(["models", "tiny-test", "--time", "--size", "50"])


@pytest.mark.parametrize("bias", [False, True])
def test_conv_norm_act_folds_the_norm_only_in_eval_mode(bias):
    from torch import nn

    from textspotter.models.regnet import ConvNormAct

    torch.manual_seed(0)
    block = ConvNormAct(nn.Conv2d(4, 6, 3, padding=2, dilation=2, bias=bias), nn.BatchNorm2d(6), nn.ReLU())
    with torch.no_grad():
        norm = block[1]
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.2, 3)
        norm.weight.uniform_(0.5, 2)
        norm.bias.uniform_(-1, 1)
    plain = nn.Sequential(*block)  # the same modules, unfolded
    assert list(block.state_dict()) == list(plain.state_dict())  # published key layout unchanged
    x = torch.randn(2, 4, 9, 11)
    block.eval()
    plain.eval()
    with torch.no_grad():
        folded = block(x)
        assert torch.allclose(folded, plain(x), atol=1e-5)
        assert folded.min() == 0  # the ReLU after the fold still applies
    block.train()
    plain.train()
    before = norm.running_mean.clone()
    out = block(x)
    assert not torch.equal(norm.running_mean, before)  # training mode uses batch statistics and updates them
    assert out.shape == folded.shape


def test_bucketed_recognizer_reads_narrower_strips_and_widens_keeping_learnt_columns():
    channels = 16
    base = dict(depth=16, num_layers=1, nhead=2, max_width=16, num_tokens=10)
    with pytest.raises(ValueError, match="bucket_width"):
        RecognizerConfig(**base, bucket_width=17)
    bucketed = Recognizer(RecognizerConfig(**base, bucket_width=8), in_channels=channels).eval()
    out = bucketed(torch.randn(3, channels, 8, 8))
    assert out.logits.shape == (3, 8, 10) and out.features.shape == (3, 8, 32)
    with pytest.raises(ValueError, match="1 <= W <= 16"):
        bucketed(torch.zeros(1, channels, 8, 17))
    # A strip read at width W uses the first W position encodings: it equals the full-width read when the
    # Transformer cannot see past W (one column here: no attention partner, convs see zeros either way).
    before = bucketed.position_encoding.detach().clone()
    bucketed.set_max_width(40)
    assert bucketed.max_width == 40 and bucketed.config.max_width == 40 and bucketed.config.bucket_width == 8
    assert torch.equal(bucketed.position_encoding[..., :16], before)
    assert torch.equal(bucketed.position_encoding[..., 16:32], before)  # new columns repeat the last 16
    assert bucketed(torch.randn(2, channels, 8, 40)).logits.shape == (2, 40, 10)
    bucketed.set_max_width(4, bucket_width=4)
    assert torch.equal(bucketed.position_encoding, before[..., :4]) and bucketed.config.bucket_width == 4


def test_windowed_attention_keeps_each_output_to_its_columns():
    channels = 16
    base = dict(depth=16, num_layers=2, nhead=2, max_width=24, num_tokens=10)
    with pytest.raises(ValueError, match="attention_window"):
        RecognizerConfig(**base, attention_window=-1)
    torch.manual_seed(0)
    windowed = Recognizer(RecognizerConfig(**base, attention_window=2), in_channels=channels).eval()
    x = torch.randn(1, channels, 8, 24)
    changed = x.clone()
    changed[..., 20:] = torch.randn(1, channels, 8, 4)  # columns 20-23 differ
    with torch.no_grad():
        a, b = windowed(x).logits, windowed(changed).logits
    # Column c reaches c ± 7 through the convolutions (seven 3x3 convs: ± 7 columns) and ± 2 per attention layer
    # (two layers): outputs up to column 8 cannot see columns 20-23; later ones can.
    assert torch.allclose(a[:, :9], b[:, :9], atol=1e-6)
    assert not torch.allclose(a[:, 9:], b[:, 9:])
    # Global attention (the default, published) lets every output see every column.
    dense = Recognizer(RecognizerConfig(**base), in_channels=channels).eval()
    dense.load_state_dict(windowed.state_dict())  # no weight depends on the window
    with torch.no_grad():
        assert not torch.allclose(dense(x).logits[:, :9], dense(changed).logits[:, :9])
    # The saved spec carries the window.
    spec = get_spec("tiny-test")
    wide = spec.replace(recognizer=dataclasses.replace(spec.recognizer, attention_window=3))
    assert ModelSpec.from_dict(wide.to_dict()).recognizer.attention_window == 3


def test_global_layers_window_only_the_last_layers():
    channels = 16
    base = dict(depth=16, num_layers=2, nhead=2, max_width=24, num_tokens=10, attention_window=2)
    for bad in (-1, 3, True):
        with pytest.raises(ValueError, match="global_layers"):
            RecognizerConfig(**base, global_layers=bad)
    torch.manual_seed(0)
    windowed = Recognizer(RecognizerConfig(**base), in_channels=channels).eval()
    mixed = Recognizer(RecognizerConfig(**base, global_layers=1), in_channels=channels).eval()
    dense = Recognizer(RecognizerConfig(**{**base, "attention_window": 0}), in_channels=channels).eval()
    all_global = Recognizer(RecognizerConfig(**base, global_layers=2), in_channels=channels).eval()
    for model in (mixed, dense, all_global):
        model.load_state_dict(windowed.state_dict())  # no weight depends on the window
    x = torch.randn(1, channels, 8, 24)
    changed = x.clone()
    changed[..., 20:] = torch.randn(1, channels, 8, 4)  # columns 20-23 differ
    with torch.no_grad():
        # A global first layer carries columns 20-23 to every output, which two windowed layers cannot.
        assert torch.allclose(windowed(x).logits[:, :9], windowed(changed).logits[:, :9], atol=1e-6)
        assert not torch.allclose(mixed(x).logits[:, :9], mixed(changed).logits[:, :9])
        # Every layer global is global attention.
        assert torch.allclose(all_global(x).logits, dense(x).logits, atol=1e-6)
        # The last layer is the windowed one: with the first layer made position-wise (no attention or
        # feed-forward output), column c reaches c ± 7 through the convolutions and c ± 2 through the last layer.
        first = mixed.tx.layers[0]
        for module in (first.self_attn.out_proj, first.linear2):
            torch.nn.init.zeros_(module.weight)
            torch.nn.init.zeros_(module.bias)
        a, b = mixed(x).logits, mixed(changed).logits
    assert torch.allclose(a[:, :11], b[:, :11], atol=1e-6)
    assert not torch.allclose(a[:, 11:], b[:, 11:])
    # The saved spec carries it.
    spec = get_spec("tiny-test")
    recognizer = dataclasses.replace(spec.recognizer, attention_window=3, global_layers=1)
    assert ModelSpec.from_dict(spec.replace(recognizer=recognizer).to_dict()).recognizer.global_layers == 1


def test_row_pool_matches_max_pool_over_row_pairs():
    from textspotter.models.recognizer import RowPool

    pool = torch.nn.MaxPool2d((2, 1))
    for height in (8, 4, 2, 7):
        x = torch.randn(3, 5, height, 6)
        assert torch.equal(RowPool()(x), pool(x))
        assert torch.equal(RowPool()(x.to(torch.bfloat16)), pool(x.to(torch.bfloat16)))
        channels_last = x.contiguous(memory_format=torch.channels_last)
        assert torch.equal(RowPool()(channels_last), pool(x))
    x = torch.randn(2, 3, 8, 4, requires_grad=True)
    RowPool()(x).sum().backward()
    pairs = x.grad.view(2, 3, 4, 2, 4)  # each output's gradient goes to the larger row of its pair
    assert torch.equal(pairs.sum(dim=3), torch.ones(2, 3, 4, 4))
    assert torch.equal(pairs.argmax(dim=3), x.detach().view(2, 3, 4, 2, 4).argmax(dim=3))


def test_column_scale_resamples_the_position_encoding_and_is_saved():
    channels = 16
    base = dict(depth=16, num_layers=2, nhead=2, max_width=8, num_tokens=10)
    for bad in (0, -1.0, 5.0, True, float("nan")):
        with pytest.raises(ValueError, match="column_scale"):
            RecognizerConfig(**base, column_scale=bad)
    recognizer = Recognizer(RecognizerConfig(**base), in_channels=channels).eval()
    with torch.no_grad():
        recognizer.position_encoding.copy_(torch.arange(8, dtype=torch.float32).expand(1, 32, 8))
    # Twice the columns at twice the scale: new column j holds old position (j + 0.5) / 2 - 0.5, ends held.
    recognizer.set_max_width(16, column_scale=2.0)
    expected = ((torch.arange(16) + 0.5) / 2 - 0.5).clamp(0, 7)
    assert recognizer.config.column_scale == 2.0 and recognizer.max_width == 16
    assert torch.allclose(recognizer.position_encoding[0, 0], expected)
    assert recognizer(torch.randn(2, channels, 8, 16)).logits.shape == (2, 16, 10)
    # Back to scale 1 at T = 8: the original ramp inside; the end columns averaged with the held ones.
    recognizer.set_max_width(8, column_scale=1.0)
    back = recognizer.position_encoding[0, 0]
    assert torch.allclose(back[1:7], torch.arange(1, 7, dtype=torch.float32))
    assert back[0].item() == pytest.approx(0.125) and back[7].item() == pytest.approx(6.875)
    spec = get_spec("tiny-test")
    scaled = spec.replace(recognizer=dataclasses.replace(spec.recognizer, column_scale=1.5))
    assert ModelSpec.from_dict(scaled.to_dict()).recognizer.column_scale == 1.5
    old_json = scaled.to_dict()
    del old_json["recognizer"]["column_scale"]  # a model.json written before the option reads at scale 1
    assert ModelSpec.from_dict(old_json).recognizer.column_scale == 1.0
