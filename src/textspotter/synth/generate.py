"""Generate annotated synthetic pages: one page from (config, seed, index), or a whole dataset folder.

A page is a pure function of ``(config, seed, index)``: its random generator is
``numpy.random.default_rng([seed, index])`` and nothing else is random, so pages can be generated in any order, by
any number of processes, on the fly during training or ahead of time, with identical results (on one machine: the
installed fonts and library versions are part of the input).

The heavy resources (font catalogue, word lists, Faker instances) are loaded once per process and configuration,
on first use, and kept in a small cache.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from textspotter.data.manifest import MANIFEST_NAME, ManifestWriter, PageAnnotation

from .annotate import AnnotationBuilder
from .corpus import TextOptions, TextSampler
from .effects import (
    EffectConfig,
    apply_effect,
    illegible_words,
    make_paper,
    sample_effects,
    sample_geometry,
    sample_paper,
    sample_stroke,
)
from .effects import warp as warp_image
from .fonts import DEFAULT_FONT_DIRS, FontCatalogue, raqm_available
from .languages import language_spec, normalize_language
from .layout import LAYOUTS, PageContext, page_shape
from .render import Typesetter

__all__ = ["SynthConfig", "generate_page", "generate_dataset", "GENERATOR_VERSION"]

# Bumped whenever the same (config, seed, index) would give a different page.
GENERATOR_VERSION = 3


def _tuple(value: Any, name: str) -> tuple:
    if isinstance(value, str):
        return (value,)
    try:
        return tuple(value)
    except TypeError as exc:
        raise TypeError(f"{name} must be a sequence, got {type(value).__name__}") from exc


@dataclass(frozen=True)
class SynthConfig:
    """What kind of pages to generate. The defaults give English documents of about 1024 px.

    Attributes:
        languages: page languages (``en``, ``zh-Hans``, ``zh-Hant``, ``ja``, ``ko``, ``ru``, ``ar``, ``he``;
            aliases such as ``zh`` or ``jp`` are accepted).
        language_weights: relative frequency of each language (uniform if None).
        mixed_language: chance that a page with several configured languages mixes a second one into its blocks.
        layouts: page layouts (``article``, ``form``, ``table``, ``receipt``, ``slide``, ``scene``, ``vertical``).
        layout_weights: relative frequency of each layout (uniform if None).
        page_width: range of page widths in pixels (slides and scenes derive their size from it).
        page_aspect: range of height / width of portrait pages.
        font_size: range of body text sizes in pixels.
        text: how text is drawn from the sources.
        effects: effect probabilities and strengths.
        font_dirs: folders scanned for fonts.
        font_cache: JSON file caching the font scan (None: ``~/.cache/textspotter/fonts-v1.json``).
        image_format: ``png`` or ``jpg`` for :func:`generate_dataset`.
        id_prefix: page ids are ``{id_prefix}-{index:08d}``.

    >>> config = SynthConfig(languages=("ja",), layouts=("article", "vertical"))
    """

    languages: tuple[str, ...] = ("en",)
    language_weights: tuple[float, ...] | None = None
    mixed_language: float = 0.1
    layouts: tuple[str, ...] = ("article", "form", "table", "receipt")
    layout_weights: tuple[float, ...] | None = None
    page_width: tuple[int, int] = (800, 1000)
    page_aspect: tuple[float, float] = (1.25, 1.42)
    font_size: tuple[int, int] = (13, 24)
    text: TextOptions = field(default_factory=TextOptions)
    effects: EffectConfig = field(default_factory=EffectConfig)
    font_dirs: tuple[str, ...] = DEFAULT_FONT_DIRS
    font_cache: str | None = None
    image_format: str = "png"
    id_prefix: str = "synth"

    def __post_init__(self) -> None:
        languages = tuple(dict.fromkeys(normalize_language(code) for code in _tuple(self.languages, "languages")))
        if not languages:
            raise ValueError("languages must name at least one language")
        object.__setattr__(self, "languages", languages)
        layouts = _tuple(self.layouts, "layouts")
        unknown = [name for name in layouts if name not in LAYOUTS]
        if unknown or not layouts:
            raise ValueError(f"unknown layouts {unknown or layouts}; choose from {', '.join(LAYOUTS)}")
        object.__setattr__(self, "layouts", layouts)
        for name, options in (("language_weights", languages), ("layout_weights", layouts)):
            weights = getattr(self, name)
            if weights is None:
                continue
            weights = tuple(float(w) for w in _tuple(weights, name))
            if len(weights) != len(options) or min(weights) < 0 or sum(weights) <= 0:
                raise ValueError(
                    f"{name} must be {len(options)} non-negative numbers with a positive sum, got {weights}"
                )
            object.__setattr__(self, name, weights)
        for name, minimum in (("page_width", 64), ("font_size", 4)):
            low, high = _tuple(getattr(self, name), name)
            if not minimum <= int(low) <= int(high):
                raise ValueError(f"{name} must be a (low, high) range with {minimum} <= low <= high, got {(low, high)}")
            object.__setattr__(self, name, (int(low), int(high)))
        low, high = _tuple(self.page_aspect, "page_aspect")
        if not 0.2 <= float(low) <= float(high) <= 5:
            raise ValueError(f"page_aspect must be a (low, high) range within 0.2..5, got {(low, high)}")
        object.__setattr__(self, "page_aspect", (float(low), float(high)))
        if not 0 <= self.mixed_language <= 1:
            raise ValueError(f"mixed_language must be a probability in [0, 1], got {self.mixed_language}")
        if self.image_format not in ("png", "jpg"):
            raise ValueError(f"image_format must be 'png' or 'jpg', got {self.image_format!r}")
        object.__setattr__(self, "font_dirs", tuple(str(d) for d in _tuple(self.font_dirs, "font_dirs")))
        if not isinstance(self.text, TextOptions):
            raise TypeError(f"text must be a TextOptions, got {type(self.text).__name__}")
        if not isinstance(self.effects, EffectConfig):
            raise TypeError(f"effects must be an EffectConfig, got {type(self.effects).__name__}")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready data."""
        return asdict(self)


class _Engine:
    """The per-process resources of one configuration: font catalogue and text samplers."""

    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        self.catalogue = FontCatalogue.scan(config.font_dirs, cache_path=config.font_cache)
        for code in config.languages:
            spec = language_spec(code)
            if (spec.direction != "ltr" or spec.vertical) and not raqm_available():
                raise RuntimeError(
                    f"language {code!r} needs PIL with libraqm (right-to-left or vertical text), which this PIL "
                    "lacks; install Pillow from PyPI (its wheels bring libraqm) or leave the language out"
                )
            if not self.catalogue.faces_for(code):
                raise ValueError(
                    f"no installed font covers language {code!r} (searched {list(config.font_dirs)}); "
                    "see docs/synth.md for the Debian font packages"
                )
        self.samplers = {code: TextSampler(code, config.text) for code in config.languages}


@lru_cache(maxsize=4)
def _engine(config: SynthConfig) -> _Engine:
    return _Engine(config)


def _choice(rng: np.random.Generator, options: tuple[str, ...], weights: tuple[float, ...] | None) -> str:
    if weights is None:
        return options[int(rng.integers(len(options)))]
    p = np.asarray(weights, dtype=np.float64)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def generate_page(config: SynthConfig, seed: int, index: int) -> tuple[np.ndarray, PageAnnotation]:
    """Generate one annotated page, deterministically from ``(config, seed, index)``.

    Args:
        config: what to generate.
        seed: the dataset's master seed (non-negative).
        index: the page's index (non-negative); the page's random generator is seeded from ``[seed, index]``.

    Returns:
        The page image ``(H, W, 3)`` uint8 RGB and its annotation: quads in pixels of that image, after every
        effect; ``params`` holds the sampled layout, fonts and effect records. The annotation's ``image`` is the
        path :func:`generate_dataset` would write it to.

    Raises:
        ValueError: for a negative seed or index, or when no installed font covers a configured language.

    >>> image, page = generate_page(SynthConfig(), seed=0, index=0)   # doctest: +SKIP
    >>> page.words[0].text, page.words[0].quad                         # doctest: +SKIP
    """
    if not isinstance(config, SynthConfig):
        raise TypeError(f"config must be a SynthConfig, got {type(config).__name__}")
    for name, value in (("seed", seed), ("index", index)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    engine = _engine(config)
    rng = np.random.default_rng([int(seed), int(index)])
    main = _choice(rng, config.languages, config.language_weights)
    mixed = None
    others = [code for code in config.languages if code != main]
    if others and rng.random() < config.mixed_language:
        mixed = others[int(rng.integers(len(others)))]
    layout = _choice(rng, config.layouts, config.layout_weights)
    width, height = page_shape(layout, rng, config.page_width, config.page_aspect)
    paper = sample_paper(rng, config.effects)
    page_image = Image.fromarray(make_paper(paper, width, height))
    annotations = AnnotationBuilder()
    context = PageContext(
        rng=rng,
        image=page_image,
        typesetter=Typesetter(page_image, engine.catalogue, annotations),
        samplers=engine.samplers,
        main=main,
        mixed=mixed,
        mixed_prob=float(rng.uniform(0.15, 0.5)) if mixed else 0.0,
        font_size=config.font_size,
    )
    LAYOUTS[layout](context)
    # tobytes + frombuffer is several times faster than numpy's array-interface conversion of a Pillow image.
    image = np.frombuffer(bytearray(page_image.tobytes()), dtype=np.uint8).reshape(height, width, 3)
    records: list[dict[str, Any]] = [paper]
    stroke = sample_stroke(rng, config.effects)
    if stroke is not None:
        image = apply_effect(image, stroke)
        records.append(stroke)
    geometry = sample_geometry(rng, config.effects, width, height)
    if geometry is not None:
        image = warp_image(image, geometry)
        annotations.transform(np.asarray(geometry["matrix"]))
        records.append(geometry)
    for record in sample_effects(rng, config.effects):
        image = apply_effect(image, record)
        records.append(record)
    out_h, out_w = image.shape[:2]
    annotations.mark_outside(out_w, out_h)
    annotations.mark(illegible_words(image, annotations.quads, records, skip=np.asarray(annotations.ignore)))
    page_id = f"{config.id_prefix}-{int(index):08d}"
    params = {
        "generator": f"textspotter.synth/{GENERATOR_VERSION}",
        "seed": int(seed),
        "index": int(index),
        "layout": layout,
        "mixed_language": mixed,
        "page_size": [width, height],
        "layout_params": context.params,
        "effects": records,
    }
    page = annotations.build(
        page_id=page_id,
        image=f"images/{page_id}.{config.image_format}",
        width=out_w,
        height=out_h,
        language=main,
        params=params,
    )
    return image, page


def _init_worker() -> None:
    # One OpenCV thread per worker process: the processes already use the cores.
    cv2.setNumThreads(1)


def _write_page(config: SynthConfig, seed: int, out_dir: str, index: int) -> PageAnnotation:
    image, page = generate_page(config, seed, index)
    path = os.path.join(out_dir, page.image)
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if config.image_format == "png":
        ok = cv2.imwrite(path, bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    else:
        ok = cv2.imwrite(path, bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise OSError(f"could not write {path}")
    return page


def generate_dataset(
    config: SynthConfig,
    out_dir: str | os.PathLike[str],
    *,
    pages: int,
    seed: int,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Generate ``pages`` pages (indices ``0 .. pages - 1``) into a dataset folder and return its manifest path.

    The folder gets ``images/``, ``manifest.jsonl`` (one record per page in index order, see
    :mod:`textspotter.data.manifest`) and ``synth.json`` (the configuration, seed and generator version). The output
    is byte-identical for any number of workers.

    Args:
        config: what to generate.
        out_dir: dataset folder (created; an existing manifest there is replaced).
        pages: number of pages.
        seed: master seed (non-negative).
        workers: processes to use (1 = this process).
        progress: called with the number of pages finished since the last call (e.g. ``tqdm(...).update``).

    Raises:
        ValueError: for a negative page count or seed, or fewer than one worker.

    >>> generate_dataset(SynthConfig(), "out/en", pages=10, seed=1, workers=2)   # doctest: +SKIP
    PosixPath('out/en/manifest.jsonl')
    """
    if not isinstance(pages, int) or pages < 0:
        raise ValueError(f"pages must be a non-negative integer, got {pages!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    if pages:
        _engine(config)  # fail early (fonts, languages) before starting workers
    description = {"generator": GENERATOR_VERSION, "seed": seed, "pages": pages, "config": config.to_dict()}
    (out / "synth.json").write_text(json.dumps(description, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    task = partial(_write_page, config, seed, str(out))
    with ManifestWriter(out) as writer:
        if workers == 1 or pages <= 1:
            for index in range(pages):
                writer.write(task(index))
                if progress is not None:
                    progress(1)
        else:
            context = multiprocessing.get_context("spawn")
            with context.Pool(workers, initializer=_init_worker) as pool:
                # imap keeps index order, so the manifest does not depend on which worker finishes first.
                for page in pool.imap(task, range(pages), chunksize=2):
                    writer.write(page)
                    if progress is not None:
                        progress(1)
    return out / MANIFEST_NAME
