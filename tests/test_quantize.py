"""Int8 recognizer encoder (textspotter.models.quantize) and its option RecognitionOptions.int8."""

from __future__ import annotations

import pytest
import torch

from test_pipeline_fakes import DarkBoxDetector, page_with_boxes, read_always
from textspotter import OCR
from textspotter.models import create_model
from textspotter.models.checkpoints import load_model, save_model
from textspotter.models.quantize import (
    Int8Detector,
    Int8Encoder,
    cached_int8_detector,
    cached_int8_recognizer,
    calibrate,
    calibrate_detector,
    int8_available,
    int8_pack_engine,
)
from textspotter.models.spec import Int8Config, ModelSpec
from textspotter.pipeline.stages import DetectionOptions, RecognitionOptions, recognize, uses_int8
from textspotter.train.config import config_from_dict
from textspotter.train.loop import build_model

needs_int8 = pytest.mark.skipif(not int8_available(), reason="this PyTorch build has no x86 int8 kernels")


def _strips(model: torch.nn.Module, count: int = 32, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    rec = model.recognizer
    # Detector features are non-negative (they leave a ReLU); half the columns zero, as past a word's end.
    strips = torch.rand(count, rec.in_channels, rec.config.strip_height, rec.max_width, generator=generator)
    strips[..., rec.max_width // 2 :] = 0
    return strips


@pytest.fixture(scope="module")
def calibrated():
    torch.manual_seed(0)
    model = create_model("tiny-test").eval()
    config = calibrate(model, _strips(model).split(8), "random strips")
    model.spec = model.spec.replace(int8=config)
    return model


def test_int8_config_validates_its_pairs():
    config = Int8Config(recognizer=[[0.5, 0], [0.25, 3]], calibration="x")
    assert config.recognizer == ((0.5, 0), (0.25, 3))
    for bad in ([[0.0, 0]], [[0.1, 128]], [[0.1, 1.5]], [[float("nan"), 0]], [[0.1]], [[True, 0]]):
        with pytest.raises(ValueError, match="Int8Config.recognizer"):
            Int8Config(recognizer=bad)


@needs_int8
def test_spec_round_trip_keeps_int8_and_omits_it_when_absent(calibrated, tmp_path):
    data = calibrated.spec.to_dict()
    assert ModelSpec.from_dict(data).int8 == calibrated.spec.int8
    assert "int8" not in calibrated.spec.replace(int8=None).to_dict()
    save_model(calibrated, tmp_path / "m")
    assert load_model(tmp_path / "m").spec.int8 == calibrated.spec.int8


@needs_int8
def test_calibration_has_one_range_per_activation(calibrated):
    convs = sum(isinstance(m, torch.nn.Sequential) for m in calibrated.recognizer.encoder)
    config = calibrated.spec.int8
    assert len(config.recognizer) == convs + 1
    assert config.calibration == "random strips"
    assert all(scale > 0 and zero == 0 for scale, zero in config.recognizer)  # inputs and ReLU outputs are >= 0


@needs_int8
def test_int8_encoder_is_close_to_the_float_encoder(calibrated):
    strips = _strips(calibrated, count=16, seed=1)
    with torch.no_grad():
        expected = calibrated.recognizer.encoder(strips)
        got = Int8Encoder(calibrated.recognizer, calibrated.spec.int8)(strips)
    assert got.shape == expected.shape and got.dtype == torch.float32
    error = (got - expected).norm() / expected.norm()
    assert error < 0.05, f"relative error {error:.3f}"


@needs_int8
def test_int8_encoder_rejects_ranges_of_another_encoder(calibrated):
    short = Int8Config(recognizer=calibrated.spec.int8.recognizer[:-1])
    with pytest.raises(ValueError, match="calibrate it again"):
        Int8Encoder(calibrated.recognizer, short)


@needs_int8
def test_cached_recognizer_is_rebuilt_when_weights_change():
    torch.manual_seed(0)
    model = create_model("tiny-test").eval()
    config = calibrate(model, [_strips(model)])
    first = cached_int8_recognizer(model.recognizer, config)
    assert cached_int8_recognizer(model.recognizer, config) is first
    assert first.classifier is model.recognizer.classifier  # everything but the encoder is shared
    assert first.encoder is not model.recognizer.encoder
    with torch.no_grad():
        model.recognizer.encoder[0][0].weight.mul_(0.5)  # an in-place update, as an optimizer step makes
    assert cached_int8_recognizer(model.recognizer, config) is not first


@needs_int8
def test_uses_int8_follows_the_option_the_ranges_and_the_device(calibrated):
    plain = create_model("tiny-test").eval()
    assert uses_int8(calibrated, "cpu", "auto") and uses_int8(calibrated, "cpu", "on")
    assert not uses_int8(calibrated, "cpu", "off")
    assert not uses_int8(plain, "cpu", "auto")
    assert not uses_int8(calibrated, "meta", "auto")
    with pytest.raises(ValueError, match="no int8 ranges"):
        uses_int8(plain, "cpu", "on")
    with pytest.raises(ValueError, match="not the CPU"):
        uses_int8(calibrated, "meta", "on")
    halved = create_model("tiny-test").eval().to(torch.bfloat16)
    halved.spec = calibrated.spec
    assert not uses_int8(halved, "cpu", "auto")
    with pytest.raises(ValueError, match="not float32"):
        uses_int8(halved, "cpu", "on")
    with pytest.raises(ValueError, match="RecognitionOptions.int8"):
        RecognitionOptions(int8="yes")  # type: ignore[arg-type]


def test_ocr_with_int8_on_and_no_ranges_fails_at_construction():
    with pytest.raises(ValueError, match="int8='on' cannot be met"):
        OCR(model=create_model("tiny-test"), device="cpu", recognition=RecognitionOptions(int8="on"))


@needs_int8
def test_recognize_in_int8_reads_like_float(calibrated):
    features = torch.rand(1, calibrated.recognizer.in_channels, 16, 32, generator=torch.Generator().manual_seed(2))
    quads = torch.tensor(
        [[[4.0, 8.0], [60.0, 8.0], [60.0, 20.0], [4.0, 20.0]], [[8.0, 30.0], [40.0, 30.0], [40.0, 44.0], [8.0, 44.0]]]
    )
    index = torch.zeros(2, dtype=torch.int64)
    kwargs = dict(input_size=(64, 128))
    with torch.no_grad():
        float_read = recognize(calibrated, features, quads, index, options=RecognitionOptions(int8="off"), **kwargs)
        int8_read = recognize(calibrated, features, quads, index, options=RecognitionOptions(int8="on"), **kwargs)
    assert len(int8_read.texts) == 2 and int8_read.features.shape == float_read.features.shape
    error = (int8_read.features - float_read.features).norm() / float_read.features.norm()
    assert error < 0.1, f"relative error of the recognizer features {error:.3f}"


@needs_int8
def test_ocr_reads_pages_through_the_int8_encoder(monkeypatch):
    torch.manual_seed(0)
    model = create_model("tiny-test").eval()
    model.spec = model.spec.replace(int8=calibrate(model, [_strips(model)]))
    model.detector = DarkBoxDetector(model.detector)
    read_always(model, "int8")
    calls = []
    forward = Int8Encoder.forward
    monkeypatch.setattr(Int8Encoder, "forward", lambda self, strips: calls.append(len(strips)) or forward(self, strips))
    page = page_with_boxes(96, 160, [(16, 24, 80, 40), (16, 56, 120, 72)])
    for int8, expected_calls in (("on", 1), ("off", 0)):
        calls.clear()
        results = OCR(model=model, device="cpu", recognition=RecognitionOptions(int8=int8))(page)
        assert [r["text"] for r in results] == ["int8", "int8"], int8
        assert len(calls) == expected_calls and sum(calls) == 2 * expected_calls


@needs_int8
def test_training_drops_the_int8_ranges_of_its_starting_weights(calibrated, tmp_path):
    save_model(calibrated, tmp_path / "init")
    config = config_from_dict(
        {"model": {"name": "tiny-test", "init": str(tmp_path / "init")}, "train": {"device": "cpu"}}
    )
    assert build_model(config).spec.int8 is None


# ---------------------------------------------------------------------------------------------------------------------
# The detector body


@pytest.fixture(scope="module")
def calibrated_detector():
    torch.manual_seed(0)
    model = create_model("tiny-test").eval()
    generator = torch.Generator().manual_seed(3)
    inputs = [torch.rand(1, 3, 96, 128, generator=generator) for _ in range(2)]
    model.spec = model.spec.replace(int8=Int8Config(detector=calibrate_detector(model.detector, inputs)))
    return model


@needs_int8
def test_int8_detector_is_close_to_the_float_detector(calibrated_detector):
    model = calibrated_detector
    image = torch.rand(2, 3, 64, 96, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected, got = model.detector(image), Int8Detector(model.detector, model.spec.int8)(image)
    for name in ("confidence", "rboxes", "features"):
        a, b = getattr(expected, name).float(), getattr(got, name).float()
        assert a.shape == b.shape and b.dtype == torch.float32, name
        # Random tiny weights make small, noisy maps: the head's outputs get a looser bound than the features.
        assert (b - a).norm() / a.norm() < (0.1 if name == "features" else 0.3), name


@needs_int8
def test_int8_detector_rejects_ranges_of_another_detector(calibrated_detector):
    ranges = calibrated_detector.spec.int8.detector
    for wrong in (ranges[:-1], (*ranges, ranges[-1])):
        with pytest.raises(ValueError, match="calibrate it again"):
            Int8Detector(calibrated_detector.detector, Int8Config(detector=wrong))


@needs_int8
def test_detector_int8_needs_detector_ranges(calibrated, calibrated_detector):
    assert uses_int8(calibrated_detector, "cpu", "auto", "detector")
    assert not uses_int8(calibrated, "cpu", "auto", "detector")  # recognizer ranges only
    assert not uses_int8(calibrated_detector, "cpu", "auto")  # detector ranges only
    with pytest.raises(ValueError, match="DetectionOptions.int8='on'"):
        uses_int8(calibrated, "cpu", "on", "detector")
    with pytest.raises(ValueError, match="DetectionOptions.int8"):
        DetectionOptions(int8="yes")  # type: ignore[arg-type]


@needs_int8
def test_cached_detector_is_rebuilt_when_weights_change(calibrated_detector):
    detector, config = calibrated_detector.detector, calibrated_detector.spec.int8
    first = cached_int8_detector(detector, config)
    assert cached_int8_detector(detector, config) is first and first.output is detector.output
    with torch.no_grad():
        detector.merge.final[0][0].weight.mul_(1.0)  # in place: the version counter moves, the values do not
    assert cached_int8_detector(detector, config) is not first


@needs_int8
def test_ocr_detects_through_the_int8_detector(calibrated_detector, monkeypatch):
    calls = []
    forward = Int8Detector.forward
    monkeypatch.setattr(
        Int8Detector, "forward", lambda self, images: calls.append(len(images)) or forward(self, images)
    )
    page = page_with_boxes(96, 160, [(16, 24, 80, 40)])
    for int8, used in (("on", True), ("off", False)):
        calls.clear()
        OCR(model=calibrated_detector, device="cpu", detection=DetectionOptions(int8=int8))(page)
        assert bool(calls) == used, int8


@needs_int8
def test_without_int8_kernels_auto_reads_in_float_and_on_fails(calibrated, monkeypatch):
    import textspotter.models.quantize as quantize

    monkeypatch.setattr(quantize, "int8_available", lambda: False)
    assert not uses_int8(calibrated, "cpu", "auto")
    with pytest.raises(ValueError, match="no x86 int8 kernels"):
        uses_int8(calibrated, "cpu", "on")


def test_int8_available_is_false_with_another_quantized_engine(monkeypatch):
    int8_available.cache_clear()
    try:
        monkeypatch.setattr(torch.backends.quantized, "engine", "qnnpack", raising=False)
        assert not int8_available()
    finally:
        monkeypatch.undo()
        int8_available.cache_clear()


def test_pack_engine_is_onednn_on_avx2_only_cpus_and_the_selected_engine_elsewhere(monkeypatch):
    int8_pack_engine.cache_clear()
    try:
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
        assert int8_pack_engine() == ("onednn" if "onednn" in torch.backends.quantized.supported_engines else "x86")
        int8_pack_engine.cache_clear()
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
        assert int8_pack_engine() == torch.backends.quantized.engine
    finally:
        monkeypatch.undo()
        int8_pack_engine.cache_clear()


@needs_int8
@pytest.mark.parametrize("engine", ["x86", "onednn"])
def test_int8_encoder_packed_for_either_engine_reads_alike_and_leaves_the_engine_selected(
    calibrated, engine, monkeypatch
):
    import textspotter.models.quantize as quantize

    if engine not in torch.backends.quantized.supported_engines:
        pytest.skip(f"no {engine} engine in this build")
    strips = _strips(calibrated, count=16, seed=2)
    selected = torch.backends.quantized.engine
    with torch.no_grad():
        expected = calibrated.recognizer.encoder(strips)
        monkeypatch.setattr(quantize, "int8_pack_engine", lambda: engine)
        encoder = Int8Encoder(calibrated.recognizer, calibrated.spec.int8)
        assert torch.backends.quantized.engine == selected  # packing switched it only while packing
        got = encoder(strips)
    assert ((got - expected).norm() / expected.norm()) < 0.05
