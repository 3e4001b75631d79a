"""Training data: page sources (manifest folders, on-the-fly synthesis) and the batch stream that feeds the loop.

The stream is a sequence of micro-batches indexed by ``b = 0, 1, 2, ...`` for each process. Micro-batch ``b`` of
rank ``r`` (of ``R`` ranks) holds the pages at stream positions ``g = (b·R + r)·B + s`` for slots
``s = 0 .. B-1``: the ranks' batches interleave into one global sequence, so every rank reads different pages and
the union is the same for any number of ranks. Each page is a pure function of ``(seed, g)``:

* an on-the-fly synthetic page is ``synth.generate_page(config, seed, g)``;
* a manifest page is ``permutation_e[g mod P]`` with ``e = g div P`` (a new shuffle each epoch, seeded by
  ``(seed, e)``), which makes the stream a distributed sampler over the manifest;
* its augmentation draws from ``numpy.random.default_rng((seed, g, salt))``.

DataLoader workers only choose which batches they build (worker ``w`` of ``W`` builds ``b ≡ w (mod W)``, and the
loader returns them round-robin, i.e. in order), so the data do not depend on the worker count and the data position
saved in a checkpoint is just the number of micro-batches consumed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..charset import Charset
from ..models.spec import PreprocessConfig
from ..pipeline.preprocess import page_view, render_page, render_window
from .augment import (
    AugmentConfig,
    apply_geometry,
    apply_photometric,
    sample_augment,
    sample_input_window,
    visible_fraction,
)
from .collate import PageSample, TrainBatch, collate_pages
from .manifest import PageAnnotation, read_manifest
from .targets import TargetConfig, encode_detector_targets, encode_region_targets

__all__ = [
    "PageSource",
    "ManifestSource",
    "SynthSource",
    "SampleBuilder",
    "TrainingStream",
    "make_loader",
    "load_page_image",
    "synth_config",
]

# Separates the augmentation random stream from any other stream seeded by (seed, position).
_AUGMENT_SALT = 0x5EED


class PageSource(Protocol):
    """Where pages come from: ``load(index) -> (image [H, W, 3] uint8, annotation)``.

    ``num_pages`` is the number of distinct pages, or None for an endless (generated) source.
    """

    num_pages: int | None

    def load(self, index: int) -> tuple[np.ndarray, PageAnnotation]: ...


def load_page_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a page image as ``[H, W, 3]`` uint8 RGB."""
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


class ManifestSource:
    """Pages of one or more generated manifest folders (``data/manifest.py``), in file order.

    Args:
        folders: dataset folders (or ``manifest.jsonl`` paths).

    Raises:
        FileNotFoundError: if a manifest is missing.
        ValueError: if the folders hold no page.
    """

    def __init__(self, folders: Sequence[str | os.PathLike[str]]) -> None:
        self.entries: list[tuple[Path, PageAnnotation]] = []
        for folder in folders:
            path = Path(folder)
            root = path if path.is_dir() else path.parent
            self.entries.extend((root, page) for page in read_manifest(path))
        if not self.entries:
            raise ValueError(f"no pages in {list(map(str, folders))}")
        self.num_pages: int | None = len(self.entries)

    def load(self, index: int) -> tuple[np.ndarray, PageAnnotation]:
        root, page = self.entries[index]
        image = load_page_image(root / page.image)
        if image.shape[:2] != (page.height, page.width):
            raise ValueError(
                f"page {page.id}: image {root / page.image} is {image.shape[1]}x{image.shape[0]}, "
                f"the manifest says {page.width}x{page.height}"
            )
        return image, page


def synth_config(options: dict[str, Any]) -> Any:
    """Build a ``textspotter.synth.SynthConfig`` from plain (YAML) data.

    Lists become tuples and mappings given for dataclass fields (``text``, ``effects``) become those dataclasses.

    Raises:
        ValueError: on an unknown field (named) or a value the generator rejects.
    """
    import dataclasses
    import typing

    from ..synth import SynthConfig

    hints = typing.get_type_hints(SynthConfig)

    def plain(value: Any) -> Any:
        return tuple(plain(v) for v in value) if isinstance(value, list) else value

    kwargs = {}
    for key, value in options.items():
        if key not in hints:
            raise ValueError(f"unknown synth option {key!r} (known: {', '.join(sorted(hints))})")
        kind = hints[key]
        if isinstance(value, dict) and dataclasses.is_dataclass(kind):
            known = {f.name for f in dataclasses.fields(kind)}
            unknown = sorted(set(value) - known)
            if unknown:
                raise ValueError(f"unknown synth option {key}.{unknown[0]!r} (known: {', '.join(sorted(known))})")
            value = kind(**{k: plain(v) for k, v in value.items()})
        kwargs[key] = plain(value)
    try:
        return SynthConfig(**kwargs)
    except TypeError as exc:
        raise ValueError(f"invalid synth options: {exc}") from exc


class SynthSource:
    """Endless synthetic pages: page ``i`` is ``textspotter.synth.generate_page(config, seed, i)``.

    Args:
        options: fields of ``textspotter.synth.SynthConfig`` (unknown fields raise there).
        seed: master seed of the generator.
    """

    def __init__(self, options: dict[str, Any], seed: int) -> None:
        self.config = synth_config(options)
        self.seed = int(seed)
        self.num_pages: int | None = None

    def load(self, index: int) -> tuple[np.ndarray, PageAnnotation]:
        from ..synth import generate_page

        return generate_page(self.config, self.seed, index)


@dataclass(frozen=True)
class SampleBuilder:
    """Turn an annotated page into a :class:`PageSample` (augment → inference preprocessing → targets).

    Attributes:
        preprocess: the model's preprocessing (``infer_length``, pad colour and placement).
        charset: the model's charset.
        max_width: recognizer sequence length T.
        targets: target parameters.
        augment: augmentation strengths (``enabled=False`` for plain inference preprocessing).
        crop_size: train on a ``crop_size × crop_size`` window of the detector input (0: the whole input). The page
            keeps the inference scale (text as large as the detector sees it at inference) while a step costs
            ``(crop_size / L)²`` of a whole page; words cut by the window become ignore regions.
    """

    preprocess: PreprocessConfig
    charset: Charset
    max_width: int
    targets: TargetConfig
    augment: AugmentConfig
    crop_size: int = 0

    def __post_init__(self) -> None:
        if self.crop_size < 0 or self.crop_size % 32:
            raise ValueError(f"crop_size must be 0 or a positive multiple of 32, got {self.crop_size}")
        if self.crop_size > self.preprocess.infer_length:
            raise ValueError(
                f"crop_size {self.crop_size} is larger than the detector input ({self.preprocess.infer_length})"
            )

    def __call__(
        self, image: np.ndarray, page: PageAnnotation, rng: np.random.Generator, *, position: int = 0
    ) -> PageSample:
        """Build the sample of one page; all randomness comes from ``rng``."""
        params = sample_augment(rng, image.shape[0], image.shape[1], self.augment)
        image, page = apply_geometry(
            image,
            page,
            params,
            pad_color=self.preprocess.pad_color,
            clipped_visibility=self.augment.clipped_visibility,
        )
        view = page_view(int(image.shape[0]), int(image.shape[1]), self.preprocess)
        if page.words:
            page_quads = torch.tensor([w.quad for w in page.words], dtype=torch.float64)
            quads = view.to_detector(page_quads).numpy()
        else:
            quads = np.zeros((0, 4, 2), dtype=np.float64)
        ignore = np.array([w.ignore for w in page.words], dtype=bool)
        height, width = view.height, view.width
        if self.crop_size and self.crop_size < max(height, width):
            size = self.crop_size
            x0, y0 = sample_input_window(rng, quads, ignore, height=height, width=width, size=size)
            # Only the window is resized: the same pixels as cropping the whole input, a fraction of the work.
            pixels = render_window(image, self.preprocess, x0, y0, size)
            if len(quads):
                visible = visible_fraction(quads, (x0, y0, x0 + size, y0 + size))
                ignore = ignore | (visible < self.augment.clipped_visibility)
            quads = quads - np.array([x0, y0], dtype=np.float64)
            height = width = size
        else:
            pixels = render_page(image, self.preprocess)[0]
        # Brightness, contrast and noise are per pixel: applied to the window only, they cost a ninth of the page's
        # time at L = 1536 with 512-px windows (the noise comes from its own seed, so no other draw moves).
        pixels = apply_photometric(pixels, params).contiguous()
        detector = encode_detector_targets(quads, ignore, height=height, width=width, config=self.targets)
        regions = encode_region_targets(
            page,
            quads,
            detector.detectable,
            charset=self.charset,
            max_width=self.max_width,
            rng=rng,
            config=self.targets,
        )
        return PageSample(
            image=pixels,
            score=detector.score,
            mask=detector.mask,
            geometry=detector.geometry,
            quads=regions.quads,
            tokens=regions.tokens,
            token_valid=regions.token_valid,
            next_word=regions.next_word,
            line_id=regions.line_id,
            next_line=regions.next_line,
            relational_shift=np.asarray(params.relational_shift, dtype=np.float32),
            page_id=page.id,
            position=position,
        )


class TrainingStream(IterableDataset):
    """Endless stream of :class:`TrainBatch` for one process (see the module docstring for the indexing).

    Args:
        source: where pages come from.
        builder: how a page becomes a sample.
        batch_size: pages per micro-batch.
        seed: seed of the shuffles and augmentations.
        rank, world_size: this process's place among the training processes.
        start_batch: first micro-batch index to produce (the data position when resuming).
        shuffle: shuffle finite sources each epoch (otherwise file order).
    """

    def __init__(
        self,
        source: PageSource,
        builder: SampleBuilder,
        *,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        start_batch: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        if start_batch < 0:
            raise ValueError(f"start_batch must be >= 0, got {start_batch}")
        self.source = source
        self.builder = builder
        self.batch_size = batch_size
        self.seed = int(seed)
        self.rank = rank
        self.world_size = world_size
        self.start_batch = start_batch
        self.shuffle = shuffle
        self._permutation: tuple[int, np.ndarray] | None = None  # (epoch, order) of the last epoch used

    def positions(self, batch_index: int) -> list[int]:
        """Stream positions of the pages of micro-batch ``batch_index`` of this rank."""
        first = (batch_index * self.world_size + self.rank) * self.batch_size
        return list(range(first, first + self.batch_size))

    def page_index(self, position: int) -> int:
        """Index in the source of the page at a stream position."""
        total = self.source.num_pages
        if total is None:
            return position
        epoch, offset = divmod(position, total)
        if not self.shuffle:
            return offset
        if self._permutation is None or self._permutation[0] != epoch:
            self._permutation = (epoch, np.random.default_rng((self.seed, epoch)).permutation(total))
        return int(self._permutation[1][offset])

    def make_batch(self, batch_index: int) -> TrainBatch:
        """Build micro-batch ``batch_index`` (a pure function of the seed, rank, world size and index)."""
        samples = []
        for position in self.positions(batch_index):
            image, page = self.source.load(self.page_index(position))
            rng = np.random.default_rng((self.seed, position, _AUGMENT_SALT))
            samples.append(self.builder(image, page, rng, position=position))
        return collate_pages(samples, max_width=self.builder.max_width, batch_index=batch_index)

    def __iter__(self) -> Iterator[TrainBatch]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        batch_index = self.start_batch + worker
        while True:
            yield self.make_batch(batch_index)
            batch_index += workers


def _init_worker(_: int) -> None:
    # Workers build pages with numpy and a few small torch ops; one thread each avoids oversubscribing the cores
    # that the training process needs.
    torch.set_num_threads(1)


def make_loader(stream: TrainingStream, *, workers: int, prefetch: int = 2, pin_memory: bool = False) -> DataLoader:
    """Wrap a stream in a DataLoader whose workers build whole micro-batches (batches arrive in index order).

    Args:
        stream: the micro-batch stream.
        workers: worker processes (0 builds batches in the training process).
        prefetch: batches prepared ahead by each worker.
        pin_memory: pin batches for faster host-to-GPU copies.
    """
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    return DataLoader(
        stream,
        batch_size=None,
        num_workers=workers,
        prefetch_factor=prefetch if workers > 0 else None,
        worker_init_fn=_init_worker if workers > 0 else None,
        pin_memory=pin_memory,
        persistent_workers=False,
    )
