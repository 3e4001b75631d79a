"""Image effects: parameter records, application, and the geometry that moves quads with the image."""

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from textspotter.synth.annotate import transform_points
from textspotter.synth.effects import (
    EffectConfig,
    apply_effect,
    make_paper,
    photo_background,
    sample_effects,
    sample_geometry,
    sample_paper,
    sample_stroke,
    warp,
)

ALWAYS = EffectConfig(
    rotate=1,
    shear=1,
    perspective=1,
    stroke=1,
    texture=1,
    paper_color=1,
    shadow=1,
    light=1,
    low_contrast=1,
    blur=1,
    noise=1,
    scan=1,
    downscale=1,
    jpeg=1,
)


def _page() -> np.ndarray:
    image = np.full((300, 240, 3), 245, np.uint8)
    cv2.putText(image, "Text 123", (20, 100), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (10, 10, 10), 2)
    return image


def test_records_are_plain_json_and_replayable():
    rng = np.random.default_rng(0)
    records = [sample_paper(rng, ALWAYS), sample_stroke(rng, ALWAYS), *sample_effects(rng, ALWAYS)]
    names = {r["name"] for r in records}
    assert {"paper", "stroke", "shadow", "light", "contrast", "blur", "noise", "scan", "jpeg", "downscale"} <= names
    assert json.loads(json.dumps(records)) == records
    page = _page()
    once, twice = page, page
    for record in records[1:]:
        once = apply_effect(once, record)
        twice = apply_effect(twice, json.loads(json.dumps(record)))
        assert once.dtype == np.uint8 and once.shape == page.shape, record["name"]
    assert np.array_equal(once, twice)
    assert not np.array_equal(once, page)


@pytest.mark.parametrize("look", ["scan", "fax", "photocopy"])
def test_document_looks(look):
    config = replace(EffectConfig.none(), **{look: 1.0})
    records = sample_effects(np.random.default_rng(3), config)
    assert [r["name"] for r in records] == [look]
    out = apply_effect(_page(), records[0])
    assert out.shape == (300, 240, 3) and out.dtype == np.uint8
    if look != "scan":
        assert np.all(out[..., 0] == out[..., 1])  # fax and photocopies are grey


def test_no_effects_config():
    rng = np.random.default_rng(0)
    none = EffectConfig.none()
    assert sample_effects(rng, none) == [] and sample_geometry(rng, none, 100, 100) is None
    assert sample_stroke(rng, none) is None and sample_paper(rng, none)["texture"] == 0.0
    with pytest.raises(ValueError, match="blur"):
        EffectConfig(blur=1.5)
    with pytest.raises(ValueError, match="jpeg_quality"):
        EffectConfig(jpeg_quality=(90, 10))
    with pytest.raises(ValueError, match="unknown effect"):
        apply_effect(_page(), {"name": "sparkles"})


def test_paper_and_backgrounds_are_deterministic():
    record = sample_paper(np.random.default_rng(1), ALWAYS)
    assert np.array_equal(make_paper(record, 64, 48), make_paper(record, 64, 48))
    assert make_paper(record, 64, 48).shape == (48, 64, 3)
    assert np.array_equal(photo_background(5, 80, 60), photo_background(5, 80, 60))
    assert photo_background(5, 80, 60).std() > 1.0


def _centroid(weights: np.ndarray) -> np.ndarray:
    ys, xs = np.mgrid[0 : weights.shape[0], 0 : weights.shape[1]]
    weights = weights.astype(np.float64)
    return np.array([(weights * xs).sum(), (weights * ys).sum()]) / weights.sum()


@pytest.mark.parametrize("seed", range(6))
def test_geometry_moves_quads_exactly_with_the_image(seed):
    """A white rectangle with known corners must land exactly on its transformed quad (to a few hundredths of a
    pixel): this pins the corner convention of quads against OpenCV's pixel-centre convention."""
    width, height = 320, 240
    image = np.zeros((height, width, 3), np.uint8)
    x0, y0, x1, y1 = 80, 60, 230, 150  # pixel corners: pixel (i, j) covers [i, i + 1)
    image[y0:y1, x0:x1] = 255
    config = EffectConfig(rotate=1, rotate_max=25, shear=1, perspective=1, rotate_large=0.5)
    record = sample_geometry(np.random.default_rng(seed), config, width, height)
    record["background"] = "plain"
    record["background_color"] = [0, 0, 0]
    warped = warp(image, record)[..., 0]
    assert list(warped.shape[::-1]) == record["size"]
    quad = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    moved = transform_points(np.asarray(record["matrix"]), quad)
    # The quad's exact pixel coverage, by 8x supersampling (OpenCV fills pixel centres, hence the half pixel).
    scale = 8
    fine = np.zeros((warped.shape[0] * scale, warped.shape[1] * scale), np.uint8)
    cv2.fillPoly(fine, [np.round((moved * scale - 0.5) * 16).astype(np.int32)], 255, shift=4)
    coverage = cv2.resize(fine, warped.shape[::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(_centroid(warped) - _centroid(coverage)).max() < 0.1
    assert np.abs(warped.astype(np.int32) - coverage).mean() < 0.5
    # Every transformed corner lies inside the output image (nothing is cut off).
    assert np.all(moved >= 0) and np.all(moved <= np.array(record["size"]))
