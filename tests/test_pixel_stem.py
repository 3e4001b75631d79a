"""The recognizer's optional pixel stem (``RecognizerConfig.pixel_scale``): grid, crops, growth, pipeline, training."""

import dataclasses

import numpy as np
import pytest
import torch

from textspotter.models import create_model, get_spec
from textspotter.models.spec import RecognizerConfig
from textspotter.ops import quad_rectify_grid
from textspotter.pipeline.stages import crop_pixels, ink_map
from textspotter.train.loop import add_pixel_stem


def _quads() -> torch.Tensor:
    return torch.tensor(
        [
            [[10.0, 20.0], [90.0, 24.0], [89.0, 40.0], [9.0, 36.0]],  # slanted parallelogram
            [[5.0, 60.0], [25.0, 60.0], [25.0, 72.0], [5.0, 72.0]],  # short word
        ]
    )


@pytest.mark.parametrize("scale", [2, 4])
def test_a_subdivided_grid_covers_exactly_the_strips_grid(scale):
    # Each strip cell's s x s sub-samples average to the cell's own sample point (the quads are parallelograms),
    # and a sub-sample is outside the text exactly when its cell is.
    quads = _quads()
    coarse = quad_rectify_grid(quads, 100, 120, 8, 24, column_scale=1.5)
    fine = quad_rectify_grid(quads, 100, 120, 8, 24, column_scale=1.5, subdivide=scale)
    assert fine.shape == (2, 8 * scale, 24 * scale, 2)
    blocks = fine.view(2, 8, scale, 24, scale, 2)
    inside = (coarse > -1.5).all(-1)  # outside columns hold the pixel (-1, -1): grid values below -1
    means = blocks.mean(dim=(2, 4))
    assert torch.allclose(means[inside], coarse[inside], atol=1e-5)
    fine_inside = (blocks > -1.5).all(-1)
    assert torch.equal(fine_inside.all(dim=2).all(dim=3), inside)
    assert torch.equal(fine_inside.any(dim=2).any(dim=3), inside)
    with pytest.raises(ValueError, match="subdivide"):
        quad_rectify_grid(quads, 100, 120, 8, 24, subdivide=0)


def test_ink_levels_and_pixel_crops():
    images = torch.full((1, 3, 100, 120), 255, dtype=torch.uint8)
    images[:, :, 22:38, 10:90] = 0  # a black bar under the first quad
    ink = ink_map(images)
    assert ink.shape == (1, 1, 100, 120) and ink.dtype == torch.uint8
    assert int(ink[0, 0, 30, 50]) == 255 and int(ink[0, 0, 5, 5]) == 0
    assert torch.equal(ink_map(images.float() / 255), ink)  # float inputs in [0, 1] give the same levels
    pixels = crop_pixels(
        ink,
        _quads(),
        torch.zeros(2, dtype=torch.int64),
        input_size=(100, 120),
        output_size=(8, 24),
        column_scale=1.0,
        scale=4,
    )
    assert pixels.shape == (2, 1, 32, 96) and pixels.dtype == torch.float32
    assert float(pixels.min()) >= 0.0 and float(pixels.max()) <= 1.0
    assert float(pixels[0, 0, 12:20, 8:40].mean()) > 0.9  # the bar's middle is ink
    assert float(pixels[1].max()) == 0.0  # the second quad lies on paper; columns past its text read 0 too
    with pytest.raises(ValueError, match="B, 3, H, W"):
        ink_map(torch.zeros(1, 1, 10, 10))


def test_pixel_scale_is_validated():
    assert RecognizerConfig().pixel_scale == 0
    for bad in (1, 3, 8, True, -2):
        with pytest.raises(ValueError, match="pixel_scale"):
            RecognizerConfig(pixel_scale=bad)
    with pytest.raises(ValueError, match="pixel_channels"):
        RecognizerConfig(pixel_scale=4, pixel_channels=0)


def _page() -> np.ndarray:
    rng = np.random.default_rng(0)
    image = np.full((96, 160, 3), 255, dtype=np.uint8)
    image[20:34, 10:120] = rng.integers(0, 80, size=(14, 110, 1))  # a dark "word"
    image[50:62, 30:80] = 40
    return image


@pytest.mark.parametrize("scale", [2, 4])
def test_an_added_stem_keeps_the_readings_trains_and_round_trips(tmp_path, scale):
    from test_pipeline_fakes import DarkBoxDetector, page_with_boxes
    from textspotter import OCR
    from textspotter.models.checkpoints import load_model, save_model

    torch.manual_seed(0)
    model = create_model("tiny-test").eval()
    page = _page()
    quads = np.array([[[10, 20], [120, 20], [120, 34], [10, 34]], [[30, 50], [80, 50], [80, 62], [30, 62]]], np.float32)
    before = OCR(model=model, device="cpu").recognize(page, quads)
    add_pixel_stem(model, scale=scale, channels=8)
    model.eval()
    assert model.spec.recognizer.pixel_scale == scale and model.recognizer.pixel_stem is not None
    after = OCR(model=model, device="cpu").recognize(page, quads)
    assert after.texts == before.texts
    np.testing.assert_allclose(after.confidence, before.confidence, atol=1e-5)
    # A whole page is read with its pixels too: the dark boxes' regions, read with and without orientation.
    seen = []
    hook = model.recognizer.register_forward_pre_hook(lambda _module, args: seen.append(args[2].shape))
    boxes = page_with_boxes(96, 160, [(10, 20, 120, 36), (30, 52, 80, 64)])
    real = model.detector
    model.detector = DarkBoxDetector(real)
    OCR(model=model, device="cpu")(boxes)
    model.detector = real
    hook.remove()
    assert seen and all(shape[1:3] == (1, 8 * scale) for shape in seen)
    # Gradients reach the zero weights that read the stem at once.
    spec = model.spec
    strips = torch.randn(3, spec.detector.feature_channels, 8, spec.recognizer.max_width)
    pixels = torch.rand(3, 1, 8 * scale, spec.recognizer.max_width * scale)
    model.train()
    model.recognizer(strips, None, pixels).logits.logsumexp(-1).mean().backward()
    first = model.recognizer.encoder[0][0]
    assert first.weight.grad[:, spec.detector.feature_channels :].abs().sum() > 0
    # Saved and loaded strictly from its own spec, reading the same.
    model.eval()
    save_model(model, tmp_path / "stem")
    reloaded = load_model(tmp_path / "stem").eval()
    assert any(key.startswith("recognizer.pixel_stem.") for key in reloaded.state_dict())
    with torch.no_grad():
        expected = model.recognizer(strips, None, pixels).logits
        assert torch.allclose(reloaded.recognizer(strips, None, pixels).logits, expected, atol=1e-5)
    # Pixels are required exactly when there is a stem, in the strip's shape times the scale.
    with pytest.raises(ValueError, match="pixels must have shape"):
        reloaded.recognizer(strips)
    with pytest.raises(ValueError, match="pixels must have shape"):
        reloaded.recognizer(strips, None, pixels[..., :-1])
    with pytest.raises(ValueError, match="reads no pixels"):
        create_model("tiny-test").recognizer(strips, None, pixels)
    with pytest.raises(ValueError, match="already reads pixels"):
        add_pixel_stem(reloaded, scale=scale)


def test_a_recognizer_that_reads_pixels_needs_the_ink_levels():
    from textspotter.pipeline.stages import read_strip_buckets

    spec = get_spec("tiny-test")
    spec = spec.replace(recognizer=dataclasses.replace(spec.recognizer, pixel_scale=2))
    from textspotter.models.registry import OCRModel

    model = OCRModel(spec).eval()
    features = torch.randn(1, spec.detector.feature_channels, 25, 30)
    with pytest.raises(ValueError, match="ink levels"):
        read_strip_buckets(
            model.recognizer, features, _quads(), torch.zeros(2, dtype=torch.int64), input_size=(100, 120)
        )
    ink = ink_map(torch.rand(1, 3, 100, 120)).float() / 255
    [bucket] = read_strip_buckets(
        model.recognizer, features, _quads(), torch.zeros(2, dtype=torch.int64), input_size=(100, 120), ink=ink
    )
    assert bucket.logits.shape == (2, spec.recognizer.max_width, spec.recognizer.num_tokens)


def test_model_pixel_scale_adds_a_stem_for_training(tmp_path):
    from textspotter.data.toy import write_toy_dataset
    from textspotter.models.checkpoints import load_model, save_model
    from textspotter.train.config import resolve_config
    from textspotter.train.loop import train

    folder = write_toy_dataset(tmp_path / "toy", pages=2, seed=0, size=128)
    save_model(create_model("tiny-test"), tmp_path / "start")
    overrides = [
        "model.name=tiny-test",
        f"model.init={tmp_path / 'start'}",
        "model.infer_length=128",
        "model.pixel_scale=4",
        "model.pixel_channels=4",
        "data.source=manifest",
        f"data.manifests=[{folder}]",
        "data.batch_size=2",
        "data.workers=0",
        "train.steps=2",
        "train.checkpoint_every=0",
        f"train.out_dir={tmp_path / 'run'}",
        "train.freeze=[detector,relational]",
        "eval.every=0",
        "eval.at_end=false",
        "optim.warmup_steps=1",
    ]
    result = train(resolve_config(overrides=overrides))
    trained = load_model(result.checkpoint / "model")
    assert trained.spec.recognizer.pixel_scale == 4 and trained.spec.recognizer.pixel_channels == 4
    assert trained.recognizer.encoder[0][0].in_channels == trained.spec.detector.feature_channels + 4


def test_a_dotted_lr_scale_key_names_a_sub_module():
    from textspotter.train.config import OptimSection
    from textspotter.train.loop import build_optimizer

    model = create_model("tiny-test")
    add_pixel_stem(model, scale=4, channels=4)
    optim = OptimSection(lr=1e-3, lr_scale={"recognizer": 0.5, "recognizer.pixel_stem": 4.0})
    optimizer = build_optimizer(model, optim)
    rates = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    assert all(rates[id(p)] == pytest.approx(4e-3) for p in model.recognizer.pixel_stem.parameters())
    assert rates[id(model.recognizer.classifier.weight)] == pytest.approx(5e-4)
    assert rates[id(next(model.detector.parameters()))] == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="unknown modules"):
        build_optimizer(model, OptimSection(lr_scale={"recognizer.pixel": 2.0}))  # a prefix, not a module


def test_a_recognizer_that_reads_pixels_runs_its_encoder_in_int8():
    from textspotter.models.quantize import calibrate, int8_available
    from textspotter.pipeline.stages import RecognitionOptions, recognize

    if not int8_available():
        pytest.skip("this PyTorch build has no x86 int8 kernels")
    torch.manual_seed(0)
    model = create_model("tiny-test").eval()
    add_pixel_stem(model, scale=4, channels=4)
    with torch.no_grad():  # let the stem's channels count, as after training
        model.recognizer.encoder[0][0].weight[:, model.recognizer.in_channels :].normal_(std=0.1)
    generator = torch.Generator().manual_seed(2)
    features = torch.rand(1, model.recognizer.in_channels, 16, 32, generator=generator)
    ink = ink_map(torch.rand(1, 3, 64, 128, generator=generator))
    quads = torch.tensor(
        [[[4.0, 8.0], [60.0, 8.0], [60.0, 20.0], [4.0, 20.0]], [[8.0, 30.0], [40.0, 30.0], [40.0, 44.0], [8.0, 44.0]]]
    )
    index = torch.zeros(2, dtype=torch.int64)
    # The ranges are measured on the encoder's input: the features with the stem's channels appended.
    seen = []
    hook = model.recognizer.encoder.register_forward_pre_hook(lambda _module, args: seen.append(args[0]))
    with torch.no_grad():
        recognize(model, features, quads, index, input_size=(64, 128), options=RecognitionOptions(int8="off"), ink=ink)
    hook.remove()
    assert seen[0].shape[1] == model.recognizer.in_channels + 4
    model.spec = model.spec.replace(int8=calibrate(model, seen))
    kwargs = dict(input_size=(64, 128), ink=ink)
    with torch.no_grad():
        float_read = recognize(model, features, quads, index, options=RecognitionOptions(int8="off"), **kwargs)
        int8_read = recognize(model, features, quads, index, options=RecognitionOptions(int8="on"), **kwargs)
    error = (int8_read.features - float_read.features).norm() / float_read.features.norm()
    assert error < 0.1, f"relative error of the recognizer features {error:.3f}"
