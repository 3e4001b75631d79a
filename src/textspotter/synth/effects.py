"""Image effects: paper, ink, geometry, lighting, blur, noise, scan/fax/photocopy looks and compression.

Every effect works in two steps (as in synthtiger): ``sample_*`` draws its parameters from the page's generator into
a plain JSON-ready record (``{"name": "blur", "sigma": 1.2}``), and :func:`apply_effect` applies a record to an
image. The records are kept in the page annotation's ``params["effects"]``, so a page's look can be inspected or
replayed exactly; effects that need random textures store a ``seed`` in their record instead of the texture.

Geometric effects (rotation, shear, perspective) are combined into one 3×3 matrix that maps page pixels to output
pixels (corner convention: the top-left corner of the image is (0, 0)); the image is warped with it and the
annotation quads are transformed with the very same matrix (:class:`textspotter.synth.annotate.AnnotationBuilder`),
so boxes stay exact.

Images are ``(H, W, 3)`` uint8 RGB arrays; every function returns a new or modified array of that form. The work is
done with OpenCV and numpy on whole images (no per-pixel Python).

After the effects, :func:`illegible_words` finds the words they made unreadable, to be marked ``ignore`` in the
annotation (excluded from recognition targets, masked out of detection): words whose height is small next to the
total blur of the records, and words whose box has lost its ink contrast (thin strokes erased by binarisation or
thinning, text washed out or darkened away).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from statistics import NormalDist
from typing import Any

import cv2
import numpy as np

__all__ = [
    "EffectConfig",
    "sample_paper",
    "make_paper",
    "photo_background",
    "sample_geometry",
    "sample_effects",
    "apply_effect",
    "warp",
    "effective_blur",
    "illegible_words",
]

Record = dict[str, Any]


@dataclass(frozen=True)
class EffectConfig:
    """Probabilities (``0..1``) and strengths of the effects; :meth:`none` turns every effect off.

    Attributes:
        rotate: chance of a small rotation of up to ``rotate_max`` degrees.
        rotate_large: chance of a quarter, half or three-quarter turn (sideways and upside-down scans).
        shear: chance of a horizontal shear of up to ``shear_max`` (tan of the angle).
        perspective: chance of a perspective (photographed page), corners moving up to ``perspective_max`` of the
            page size.
        stroke: chance of thickened or thinned strokes (ink spread, light print).
        texture: chance of a paper texture; ``paper_color``: chance of a tinted or coloured paper.
        shadow: chance of a soft shadow across the page; ``light``: chance of uneven lighting.
        low_contrast: chance of a washed-out image.
        blur: chance of Gaussian or motion blur up to ``blur_max`` pixels.
        noise: chance of sensor or scanner noise up to ``noise_max`` grey levels.
        scan, fax, photocopy: chances of each look.
        downscale: chance of a low-resolution capture (downscaled, then upscaled back).
        jpeg: chance of JPEG compression with a quality in ``jpeg_quality``.
    """

    rotate: float = 0.3
    rotate_max: float = 3.0
    rotate_large: float = 0.02
    shear: float = 0.08
    shear_max: float = 0.08
    perspective: float = 0.15
    perspective_max: float = 0.07
    stroke: float = 0.15
    texture: float = 0.35
    paper_color: float = 0.25
    shadow: float = 0.08
    light: float = 0.2
    low_contrast: float = 0.08
    blur: float = 0.25
    blur_max: float = 1.5
    noise: float = 0.3
    noise_max: float = 14.0
    scan: float = 0.1
    fax: float = 0.03
    photocopy: float = 0.05
    downscale: float = 0.08
    jpeg: float = 0.3
    jpeg_quality: tuple[int, int] = (30, 92)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "jpeg_quality":
                if not (isinstance(value, tuple) and len(value) == 2 and 1 <= value[0] <= value[1] <= 100):
                    raise ValueError(f"jpeg_quality must be a (low, high) pair within 1..100, got {value!r}")
            elif f.name.endswith("_max"):
                if value < 0:
                    raise ValueError(f"{f.name} must be non-negative, got {value}")
            elif not 0 <= value <= 1:
                raise ValueError(f"{f.name} must be a probability in [0, 1], got {value}")

    @classmethod
    def none(cls) -> EffectConfig:
        """Return a configuration with every effect off (clean, upright, white pages)."""
        return cls(**{f.name: 0.0 for f in fields(cls) if not f.name.endswith("_max") and f.name != "jpeg_quality"})


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31))


def _uniform(rng: np.random.Generator, low: float, high: float, digits: int = 4) -> float:
    return round(float(rng.uniform(low, high)), digits)


# ------------------------------------------------------------------------------------------------------ paper
_PAPERS = (
    (255, 255, 255),
    (250, 248, 240),
    (245, 240, 225),
    (240, 240, 240),
    (236, 242, 250),
    (250, 244, 230),
    (232, 236, 228),
    (255, 250, 205),
    (230, 225, 210),
)


def sample_paper(rng: np.random.Generator, config: EffectConfig) -> Record:
    """Sample the page's paper: colour (mostly white) and texture strength."""
    color = (255, 255, 255)
    if rng.random() < config.paper_color:
        color = _PAPERS[int(rng.integers(1, len(_PAPERS)))]
    texture = _uniform(rng, 3, 14, 2) if rng.random() < config.texture else 0.0
    return {"name": "paper", "color": list(color), "texture": texture, "seed": _seed(rng)}


def make_paper(record: Record, width: int, height: int) -> np.ndarray:
    """Return the paper image ``(height, width, 3)`` uint8 described by a :func:`sample_paper` record.

    A textured paper is darkened by soft blotches (coarse noise, upscaled) and a fine grain.
    """
    row = np.empty((1, width, 3), np.uint8)
    row[:] = record["color"]
    paper = np.repeat(row, height, axis=0)  # several times faster than broadcasting a colour into the full image
    strength = float(record["texture"])
    if not strength:
        return paper
    rng = np.random.default_rng(record["seed"])
    coarse = rng.standard_normal((height // 48 + 2, width // 48 + 2), dtype=np.float32)
    blotches = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)
    darkening = cv2.convertScaleAbs(blotches, alpha=strength * 0.5)  # |blotch| * strength, saturated to uint8
    grain = np.frombuffer(rng.bytes(height * width), dtype=np.uint8).reshape(height, width)
    darkening = cv2.add(darkening, cv2.LUT(grain, _grain_lut(strength * 0.4)))
    return cv2.subtract(paper, _rgb(darkening))


def _grain_lut(amplitude: float) -> np.ndarray:
    """Lookup table mapping uniform bytes to a darkening of 0..amplitude grey levels (mostly small)."""
    return np.round(amplitude * (np.arange(256) / 255.0) ** 3).astype(np.uint8)


def photo_background(seed: int, width: int, height: int) -> np.ndarray:
    """Return a photo-like background: a colour gradient with soft blobs, stripes and grain (no real photos).

    Drawn at one eighth of the size and upscaled, so it costs a few milliseconds.
    """
    rng = np.random.default_rng(seed)
    sw, sh = max(8, width // 8), max(8, height // 8)
    c0, c1 = rng.integers(0, 256, size=3), rng.integers(0, 256, size=3)
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    t = (xx * math.cos(angle) + yy * math.sin(angle)) / max(sw, sh)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    small = (c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]).astype(np.float32)
    for _ in range(int(rng.integers(4, 14))):
        center = (int(rng.integers(0, sw)), int(rng.integers(0, sh)))
        axes = (int(rng.integers(2, sw // 2 + 3)), int(rng.integers(2, sh // 2 + 3)))
        color = [float(v) for v in rng.integers(0, 256, size=3)]
        cv2.ellipse(small, center, axes, float(rng.uniform(0, 180)), 0, 360, color, -1)
    if rng.random() < 0.4:
        period = rng.uniform(2, 10)
        stripes = np.sin(xx * math.cos(angle + 1.2) / period + yy * math.sin(angle + 1.2) / period)
        small += (stripes[..., None] * rng.uniform(5, 25)).astype(np.float32)
    small = cv2.GaussianBlur(small, (0, 0), float(rng.uniform(0.8, 3.0)))
    small = np.clip(small, 0, 255).astype(np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


# --------------------------------------------------------------------------------------------------- geometry
def sample_geometry(rng: np.random.Generator, config: EffectConfig, width: int, height: int) -> Record | None:
    """Sample rotation, shear and perspective as one page → output homography, or ``None`` for none.

    The output canvas contains the whole transformed page plus a margin filled with a background (a plain colour
    or a photo-like desk), so no word is cut.
    """
    matrix = np.eye(3)
    parts: dict[str, Any] = {}
    cx, cy = width / 2, height / 2
    to_center = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], dtype=np.float64)
    if rng.random() < config.shear:
        shear = _uniform(rng, -config.shear_max, config.shear_max)
        parts["shear"] = shear
        matrix = np.array([[1, shear, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64) @ matrix
    angle = 0.0
    if rng.random() < config.rotate:
        angle += _uniform(rng, -config.rotate_max, config.rotate_max, 3)
    if rng.random() < config.rotate_large:
        angle += float(rng.choice([90, 180, 270]))
    if angle:
        parts["angle"] = angle
        a = math.radians(angle)
        # Positive angles turn the page clockwise on screen (y points down).
        rotation = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
        matrix = rotation @ matrix
    matrix = matrix @ to_center
    if rng.random() < config.perspective:
        corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
        moved = transform(matrix, corners)
        size = min(width, height)
        jitter = rng.uniform(-config.perspective_max, config.perspective_max, size=(4, 2)) * size
        parts["perspective"] = [[round(float(v), 2) for v in row] for row in jitter]
        perspective = cv2.getPerspectiveTransform(moved.astype(np.float32), (moved + jitter).astype(np.float32))
        matrix = perspective.astype(np.float64) @ matrix
    if not parts:
        return None
    corners = transform(matrix, np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64))
    span = corners.max(0) - corners.min(0)
    # Keep the output about as large as the page: shrink when the turned page needs a bigger canvas.
    scale = min(1.0, 1.08 * max(width, height) / max(span))
    margin = float(rng.uniform(0.0, 0.05)) * max(width, height)
    scaling = np.diag([scale, scale, 1.0])
    matrix = scaling @ matrix
    corners = corners * scale
    offset = -corners.min(0) + margin
    matrix = np.array([[1, 0, offset[0]], [0, 1, offset[1]], [0, 0, 1]]) @ matrix
    out_w = int(math.ceil(span[0] * scale + 2 * margin))
    out_h = int(math.ceil(span[1] * scale + 2 * margin))
    desk = "photo" if rng.random() < 0.5 else "plain"
    desk_color = [int(v) for v in rng.integers(0, 256, size=3)]
    return {
        "name": "geometry",
        **parts,
        "matrix": [[float(v) for v in row] for row in matrix],
        "size": [out_w, out_h],
        "background": desk,
        "background_color": desk_color,
        "seed": _seed(rng),
    }


def transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 3×3 homography to ``[N, 2]`` points."""
    homogeneous = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ np.asarray(matrix).T
    return homogeneous[:, :2] / homogeneous[:, 2:3]


def warp(image: np.ndarray, record: Record) -> np.ndarray:
    """Warp an image with a :func:`sample_geometry` record; the margin gets the record's background."""
    out_w, out_h = record["size"]
    matrix = np.asarray(record["matrix"], dtype=np.float64)
    # OpenCV samples at pixel centres (integer coordinates); the matrix is in corner coordinates.
    half = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    matrix_cv = np.linalg.inv(half) @ matrix @ half
    if record["background"] == "photo":
        background = photo_background(record["seed"], out_w, out_h)
    else:
        background = np.empty((out_h, out_w, 3), np.uint8)
        background[:] = record["background_color"]
    return cv2.warpPerspective(
        image, matrix_cv, (out_w, out_h), dst=background, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT
    )


# ---------------------------------------------------------------------------------------------------- effects
def sample_effects(rng: np.random.Generator, config: EffectConfig) -> list[Record]:
    """Sample the photometric effects applied after the geometry, in application order."""
    records: list[Record] = []
    if rng.random() < config.shadow:
        points = rng.uniform(-0.2, 1.2, size=(4, 2))
        records.append(
            {
                "name": "shadow",
                "polygon": [[round(float(x), 3), round(float(y), 3)] for x, y in points],
                "strength": _uniform(rng, 0.15, 0.5, 3),
                "softness": _uniform(rng, 0.01, 0.08, 3),
            }
        )
    if rng.random() < config.light:
        records.append(
            {
                "name": "light",
                "kind": "radial" if rng.random() < 0.5 else "linear",
                "center": [_uniform(rng, 0, 1, 3), _uniform(rng, 0, 1, 3)],
                "angle": _uniform(rng, 0, 360, 1),
                "strength": _uniform(rng, 0.1, 0.45, 3),
            }
        )
    if rng.random() < config.low_contrast:
        low = int(rng.integers(30, 110))
        records.append({"name": "contrast", "low": low, "high": int(rng.integers(max(low + 60, 160), 256))})
    if rng.random() < config.downscale:
        records.append({"name": "downscale", "factor": _uniform(rng, 0.4, 0.8, 3)})
    if rng.random() < config.blur and config.blur_max > 0:
        if rng.random() < 0.75:
            records.append({"name": "blur", "kind": "gaussian", "sigma": _uniform(rng, 0.4, config.blur_max, 3)})
        else:
            length = int(rng.integers(3, max(4, int(2 * config.blur_max) + 3)))
            records.append({"name": "blur", "kind": "motion", "length": length, "angle": _uniform(rng, 0, 180, 1)})
    looks = [("scan", config.scan), ("fax", config.fax), ("photocopy", config.photocopy)]
    for name, probability in looks:
        if rng.random() < probability:
            records.append(_sample_look(rng, name))
            break
    if rng.random() < config.noise and config.noise_max > 0:
        records.append(
            {
                "name": "noise",
                "sigma": _uniform(rng, 2, config.noise_max, 2),
                "grain": int(rng.choice([1, 1, 2])),
                "color": bool(rng.random() < 0.3),
                "seed": _seed(rng),
            }
        )
    if rng.random() < config.jpeg:
        low, high = config.jpeg_quality
        records.append({"name": "jpeg", "quality": int(rng.integers(low, high + 1))})
    return records


def sample_stroke(rng: np.random.Generator, config: EffectConfig) -> Record | None:
    """Sample thickened or thinned strokes (applied to the drawn page before the geometry), or ``None``."""
    if rng.random() >= config.stroke:
        return None
    mode = "thicken" if rng.random() < 0.6 else "thin"
    # A 3-pixel maximum filter erases small text entirely: thinning uses 2 pixels only.
    size = int(rng.choice([2, 2, 3])) if mode == "thicken" else 2
    return {"name": "stroke", "mode": mode, "size": size}


def _sample_look(rng: np.random.Generator, name: str) -> Record:
    if name == "scan":
        return {
            "name": "scan",
            "gray": bool(rng.random() < 0.4),
            "gamma": _uniform(rng, 0.7, 1.3, 3),
            "streaks": int(rng.integers(0, 4)),
            "seed": _seed(rng),
        }
    if name == "fax":
        threshold = int(rng.integers(110, 170))
        return {"name": "fax", "threshold": threshold, "speckle": _uniform(rng, 0, 0.004, 5), "seed": _seed(rng)}
    return {
        "name": "photocopy",
        "contrast": _uniform(rng, 1.2, 2.0, 3),
        "toner": _uniform(rng, 0.0005, 0.004, 5),
        "edge": _uniform(rng, 0.0, 0.06, 3),
        "seed": _seed(rng),
    }


def _noise_lut(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables turning uniform bytes into the positive and negative parts of Gaussian noise."""
    normal = NormalDist(0.0, sigma)
    quantiles = np.array([normal.inv_cdf((i + 0.5) / 256) for i in range(256)])
    positive = np.clip(np.round(quantiles), 0, 255).astype(np.uint8)
    negative = np.clip(np.round(-quantiles), 0, 255).astype(np.uint8)
    return positive, negative


def _add_noise(image: np.ndarray, sigma: float, grain: int, color: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    gh, gw = -(-h // grain), -(-w // grain)
    channels = 3 if color else 1
    raw = np.frombuffer(rng.bytes(gh * gw * channels), dtype=np.uint8).reshape(gh, gw * channels)
    positive_lut, negative_lut = _noise_lut(sigma)
    positive, negative = cv2.LUT(raw, positive_lut), cv2.LUT(raw, negative_lut)
    if color:
        positive, negative = positive.reshape(gh, gw, 3), negative.reshape(gh, gw, 3)
    else:
        positive, negative = _rgb(positive), _rgb(negative)
    if grain > 1:
        positive = cv2.resize(positive, (gw * grain, gh * grain), interpolation=cv2.INTER_NEAREST)[:h, :w]
        negative = cv2.resize(negative, (gw * grain, gh * grain), interpolation=cv2.INTER_NEAREST)[:h, :w]
    # Positive and negative parts never overlap, so saturating add then subtract equals clip(image + noise).
    return cv2.subtract(cv2.add(image, positive), negative)


def _rgb(channel: np.ndarray) -> np.ndarray:
    """Repeat one channel three times (OpenCV's grey-to-RGB conversion is the fastest way)."""
    return cv2.cvtColor(channel, cv2.COLOR_GRAY2RGB)


def _multiply(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Multiply an image by a per-pixel factor field ``(H, W)`` float32."""
    return cv2.multiply(image, _rgb(field), dtype=cv2.CV_8U)


def _light_field(record: Record, width: int, height: int) -> np.ndarray:
    sw, sh = 64, max(2, int(64 * height / width))
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xx, yy = xx / (sw - 1), yy / (sh - 1)
    cx, cy = record["center"]
    if record["kind"] == "radial":
        distance = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / math.sqrt(2)
    else:
        a = math.radians(record["angle"])
        distance = (xx - cx) * math.cos(a) + (yy - cy) * math.sin(a)
        distance = (distance - distance.min()) / max(float(distance.max() - distance.min()), 1e-6)
    small = 1.0 - record["strength"] * distance
    return cv2.resize(small.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def _shadow_field(record: Record, width: int, height: int) -> np.ndarray:
    scale = 8
    sw, sh = max(2, width // scale), max(2, height // scale)
    mask = np.zeros((sh, sw), np.float32)
    polygon = np.asarray(record["polygon"]) * np.array([sw, sh])
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1.0)
    sigma = max(0.5, record["softness"] * max(sw, sh))
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    field = 1.0 - record["strength"] * mask
    return cv2.resize(field, (width, height), interpolation=cv2.INTER_LINEAR)


def _gray3(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def apply_effect(image: np.ndarray, record: Record) -> np.ndarray:
    """Apply one effect record (from :func:`sample_effects` or :func:`sample_stroke`) to an RGB uint8 image.

    Raises:
        ValueError: for a record whose name is not an effect (geometry is applied with :func:`warp`).
    """
    name = record["name"]
    h, w = image.shape[:2]
    if name == "stroke":
        kernel = np.ones((record["size"], record["size"]), np.uint8)
        # Dark ink on light paper: a minimum filter grows the strokes, a maximum filter shrinks them.
        return cv2.erode(image, kernel) if record["mode"] == "thicken" else cv2.dilate(image, kernel)
    if name == "shadow":
        return _multiply(image, _shadow_field(record, w, h))
    if name == "light":
        return _multiply(image, _light_field(record, w, h))
    if name == "contrast":
        low, high = record["low"], record["high"]
        return cv2.convertScaleAbs(image, alpha=(high - low) / 255.0, beta=low)
    if name == "downscale":
        factor = record["factor"]
        small = cv2.resize(image, (max(1, int(w * factor)), max(1, int(h * factor))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if name == "blur":
        if record["kind"] == "gaussian":
            return cv2.GaussianBlur(image, (0, 0), record["sigma"])
        length = record["length"]
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        rotation = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), record["angle"], 1.0)
        kernel = cv2.warpAffine(kernel, rotation, (length, length))
        kernel /= max(float(kernel.sum()), 1e-6)
        return cv2.filter2D(image, -1, kernel)
    if name == "noise":
        return _add_noise(image, record["sigma"], record["grain"], record["color"], record["seed"])
    if name == "jpeg":
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, record["quality"]])
        if not ok:
            return image
        return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if name == "scan":
        out = _gray3(image) if record["gray"] else image
        lut = np.clip(255.0 * (np.arange(256) / 255.0) ** record["gamma"], 0, 255).astype(np.uint8)
        out = cv2.LUT(out, lut)
        rng = np.random.default_rng(record["seed"])
        for _ in range(record["streaks"]):
            # A dusty scanner glass leaves thin vertical lines.
            x, width = int(rng.integers(0, w)), int(rng.integers(1, 3))
            out[:, x : x + width] = (out[:, x : x + width] * rng.uniform(0.75, 0.95)).astype(np.uint8)
        return cv2.GaussianBlur(out, (0, 0), 0.6)
    if name == "fax":
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        # Fax resolution is about half as fine vertically as horizontally.
        half = cv2.resize(gray, (w, max(1, h // 2)), interpolation=cv2.INTER_AREA)
        _, binary = cv2.threshold(half, record["threshold"], 255, cv2.THRESH_BINARY)
        rng = np.random.default_rng(record["seed"])
        speckle = rng.random(binary.shape, dtype=np.float32) < record["speckle"]
        binary[speckle] = 255 - binary[speckle]
        full = cv2.resize(binary, (w, h), interpolation=cv2.INTER_NEAREST)
        return cv2.cvtColor(full, cv2.COLOR_GRAY2RGB)
    if name == "photocopy":
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        gray = np.clip((gray - 128.0) * record["contrast"] + 150.0, 0, 255)
        rng = np.random.default_rng(record["seed"])
        toner = rng.random(gray.shape, dtype=np.float32) < record["toner"]
        gray[toner] = rng.uniform(20, 120)
        edge = int(record["edge"] * w)
        if edge > 0:
            ramp = np.linspace(0.35, 1.0, edge, dtype=np.float32)
            gray[:, :edge] *= ramp[None, :]
            gray[:, w - edge :] *= ramp[None, ::-1]
        out = cv2.GaussianBlur(gray.astype(np.uint8), (0, 0), 0.5)
        return cv2.cvtColor(out, cv2.COLOR_GRAY2RGB)
    raise ValueError(f"unknown effect {name!r}")


# ------------------------------------------------------------------------------------------------ legibility
# Effects that can erase ink or bury it (the others lower contrast by a bounded factor, or blur, which the blur test
# covers): thinned strokes, a washed-out image, binarisation, photocopy contrast, a shadow over the text.
_ERASING_EFFECTS = frozenset({"contrast", "fax", "photocopy", "shadow"})


def _can_erase(records: list[Record]) -> bool:
    return any(
        record.get("name") in _ERASING_EFFECTS or (record.get("name") == "stroke" and record.get("mode") == "thin")
        for record in records
    )


def effective_blur(records: list[Record]) -> float:
    """Return the standard deviation in pixels of the combined blur that effect records apply.

    Gaussian blur counts its sigma; motion blur of length L counts L/√12 (the spread of a box of that length);
    a downscale by factor f counts about 0.5·√(1/f² − 1) (area averaging, then linear upscaling); scan and
    photocopy looks their fixed softening; a fax its halved vertical resolution. Independent blurs add in squares.
    """
    variance = 0.0
    for record in records:
        name = record.get("name")
        if name == "blur":
            sigma = record["sigma"] if record["kind"] == "gaussian" else record["length"] / math.sqrt(12)
        elif name == "downscale":
            sigma = 0.5 * math.sqrt(max(0.0, 1.0 / record["factor"] ** 2 - 1.0))
        elif name == "scan":
            sigma = 0.6
        elif name == "photocopy":
            sigma = 0.5
        elif name == "fax":
            sigma = 0.5 * math.sqrt(3.0)
        else:
            continue
        variance += float(sigma) ** 2
    return math.sqrt(variance)


def illegible_words(
    image: np.ndarray,
    quads: np.ndarray,
    records: list[Record],
    *,
    skip: np.ndarray | None = None,
    blur_ratio: float = 0.18,
    min_contrast: float = 16.0,
) -> np.ndarray:
    """Return which words the effects made illegible.

    A word is illegible when the combined blur of ``records`` (:func:`effective_blur`) exceeds ``blur_ratio`` times
    its box height (the box spans ascenders to descenders, so at 0.18 the blur is about a third of the x-height and
    the letters' counters fill in), or, when some record can erase ink (thinned strokes, a washed-out image,
    binarisation, photocopy, a shadow), when its box has lost its ink: neither
    the 2nd nor the 98th percentile of its grey values lies ``min_contrast`` grey levels (or 2.5 noise sigmas, if
    more) from their median (dark ink and light ink on either ground alike).

    Args:
        image: the final page ``(H, W, 3)`` uint8 RGB, after every effect.
        quads: word quads ``[N, 4, 2]`` in pixels of ``image`` (clockwise from the word's top-left).
        records: the effect records applied to the page (any order; unknown names are ignored).
        skip: ``[N]`` bool, words not to test (already ignored); they are returned False.
        blur_ratio: blur standard deviation, as a share of the word height, above which a word is illegible.
        min_contrast: grey levels (0..255) of ink contrast below which a word is illegible.

    Returns:
        ``[N]`` bool, True for the illegible words.

    Raises:
        ValueError: for an image that is not ``(H, W, 3)`` or quads that are not ``[N, 4, 2]``.
    """
    image = np.asarray(image)
    quads = np.asarray(quads, dtype=np.float64)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got shape {image.shape}")
    if quads.ndim != 3 or quads.shape[1:] != (4, 2):
        raise ValueError(f"quads must be [N, 4, 2], got shape {quads.shape}")
    count = len(quads)
    flags = np.zeros(count, dtype=bool)
    if count == 0:
        return flags
    todo = np.ones(count, dtype=bool) if skip is None else ~np.asarray(skip, dtype=bool).reshape(count)
    heights = (
        np.linalg.norm(quads[:, 3] - quads[:, 0], axis=1) + np.linalg.norm(quads[:, 2] - quads[:, 1], axis=1)
    ) / 2
    blur = effective_blur(records)
    if blur > 0:
        flags |= todo & (blur > blur_ratio * heights)
    if not _can_erase(records):
        return flags
    # Noise spreads the grey values of a blank box too: its 2nd percentile lies about 2.05 sigma below the median.
    noise = max((float(r["sigma"]) for r in records if r.get("name") == "noise"), default=0.0)
    threshold = max(min_contrast, 2.5 * noise)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    lows = np.floor(quads.min(axis=1)).astype(np.int64)
    highs = np.ceil(quads.max(axis=1)).astype(np.int64)
    x0s, y0s = np.clip(lows[:, 0], 0, w).tolist(), np.clip(lows[:, 1], 0, h).tolist()
    x1s, y1s = np.clip(highs[:, 0], 0, w).tolist(), np.clip(highs[:, 1], 0, h).tolist()
    for i in np.flatnonzero(todo & ~flags).tolist():
        # Every row of small words; about a dozen rows of tall ones (vertical stems cross all of them).
        step = max(1, (y1s[i] - y0s[i]) // 12)
        pixels = gray[y0s[i] : y1s[i] : step, x0s[i] : x1s[i]].ravel()
        size = len(pixels)
        if size < 16:
            continue  # too little of the word on the image to judge (mark_outside handles clipped words)
        # One partial sort gives the three order statistics (2nd, 50th, 98th percentile, nearest rank).
        ranks = (int(0.02 * (size - 1)), (size - 1) // 2, int(0.98 * (size - 1)))
        low, median, high = np.partition(pixels, ranks)[list(ranks)].astype(np.int16).tolist()
        if max(median - low, high - median) < threshold:
            flags[i] = True
    return flags
