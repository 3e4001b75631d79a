"""Training data: page sources (manifest folders, on-the-fly synthesis), their weighted mix, and the batch stream.

The stream is a sequence of micro-batches indexed by ``b = 0, 1, 2, ...`` for each process. Micro-batch ``b`` of
rank ``r`` (of ``R`` ranks) is the *global* micro-batch ``c = b·R + r`` and holds the training windows at stream
positions ``g = c·B + s`` for slots ``s = 0 .. B-1``: the ranks' batches interleave into one global sequence, so
every rank reads different windows and the union is the same for any number of ranks.

**The mix.** A stream draws from one or more sources (:class:`MixedSource`: a page source, a weight and ``K``, the
windows cut from each loaded page, at most ``B``). The slots of global micro-batch ``c`` are filled with *page
groups*, left to right: each group takes the next page of a randomly chosen source and fills ``K`` consecutive slots
with windows of that one page. Only sources whose ``K`` fits the slots left are chosen while one fits (otherwise the
batch's last page yields fewer windows). The page probabilities start at ``weight / K`` and are corrected once, from
the exact expectation of this filling rule, so that each source supplies ``weight / Σ weights`` of the windows in
expectation (a share that no probabilities can give is a ``ValueError``). The choices come from
``numpy.random.default_rng((seed, c div 1024, salt))``, a table of draws for 1 024 global micro-batches at a time, so
the composition of every micro-batch is a pure function of ``(seed, c)``. A page loaded (decoded or generated) once
thus yields ``K`` samples in the same micro-batch, built by the same worker.

**Which page.** Each source numbers its pages in stream order, ``n = 0, 1, 2, ...`` (counted over all earlier
global micro-batches from the same table of draws, cached per 1 024 micro-batches). An on-the-fly synthetic page is
``synth.generate_page(config, source_seed, n)``; a manifest page is ``permutation_e[n mod P]`` with ``e = n div P``,
a new shuffle of the source's ``P`` pages each epoch seeded by ``(seed, e)`` for the first source and
``(seed, e, i)`` for source ``i > 0``, which makes each source a distributed sampler over its pages (every page once
per epoch of that source, whatever its weight).

**Each window** at position ``g`` draws its augmentation, its window position and its target jitter from
``numpy.random.default_rng((seed, g, salt))``; the ``k``-th window of a page aims at a word that the page's earlier
windows do not contain when there is one, so the windows of a page spread over it.

With one source and ``K = 1`` every group is one slot: page ``n`` is the page at position ``g``, exactly the stream
of the versions before mixing (so their checkpoints resume exactly).

DataLoader workers only choose which micro-batches they build (worker ``w`` of ``W`` builds ``b ≡ w (mod W)``, and
the loader returns them round-robin, i.e. in order), so the data do not depend on the worker count, and the data
position saved in a checkpoint is just the number of micro-batches consumed.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

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
from .manifest import MANIFEST_NAME, PageAnnotation
from .targets import TargetConfig, encode_detector_targets, encode_region_targets

__all__ = [
    "PageSource",
    "ManifestSource",
    "expand_manifest_paths",
    "SynthSource",
    "MixedSource",
    "PageGroup",
    "MixSchedule",
    "SourceOptions",
    "build_sources",
    "SampleBuilder",
    "TrainingStream",
    "make_loader",
    "load_page_image",
    "synth_config",
]

# Separate the augmentation random stream and the mix's draws from any other stream seeded by (seed, index).
_AUGMENT_SALT = 0x5EED
_MIX_SALT = 0x313C
# Global micro-batches per table of mix draws: one numpy call per table, and the per-source page counts are cached
# at table boundaries, so resuming at micro-batch c costs c / 1024 tables (about a second per million).
_MIX_TABLE = 1024


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


def expand_manifest_paths(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Expand glob patterns (``corpus/en/shard-*``) among manifest paths; each pattern's matches in sorted order.

    Raises:
        FileNotFoundError: naming the path or pattern, if a path does not exist or a pattern matches nothing.
    """
    out: list[Path] = []
    for item in paths:
        text = os.fspath(item)
        if glob.has_magic(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise FileNotFoundError(f"no manifest folder matches {text!r}")
            out.extend(Path(m) for m in matches)
        elif not os.path.exists(text):
            raise FileNotFoundError(f"manifest folder not found: {text!r}")
        else:
            out.append(Path(text))
    return out


class ManifestSource:
    """Pages of one or more manifest folders (``data/manifest.py``), in file order.

    Args:
        folders: dataset folders, ``manifest.jsonl`` paths or glob patterns of either (``corpus/en/shard-*``;
            the matches of a pattern in sorted order, so the page order does not depend on the file system).
        languages: keep only the pages whose ``language`` is one of these (None: every page), e.g. the Japanese
            pages of a corpus that mixes languages.

    Raises:
        FileNotFoundError: naming the path, if a folder, pattern or manifest is missing.
        ValueError: if the folders hold no page (of the languages asked for).
    """

    def __init__(self, folders: Sequence[str | os.PathLike[str]], *, languages: Sequence[str] | None = None) -> None:
        # Only where each page's line starts is kept (8 bytes a page): a real-document corpus of 100k dense pages
        # holds tens of GB of parsed annotations, once per DataLoader worker. A page is parsed when it is loaded.
        self._manifests: list[Path] = []
        offsets: list[np.ndarray] = []
        wanted = None if languages is None else set(languages)
        for path in expand_manifest_paths(folders):
            manifest = path / MANIFEST_NAME if path.is_dir() else path
            if not manifest.is_file():
                raise FileNotFoundError(f"manifest not found: {manifest}")
            starts = []
            with manifest.open("rb") as fh:
                position = 0
                for raw in fh:
                    if raw.strip() and (wanted is None or _line_language(raw, manifest) in wanted):
                        starts.append(position)
                    position += len(raw)
            self._manifests.append(manifest)
            offsets.append(np.asarray(starts, dtype=np.int64))
        self._counts = np.cumsum([len(o) for o in offsets], dtype=np.int64)
        self._offsets = np.concatenate(offsets) if offsets else np.zeros(0, dtype=np.int64)
        if not len(self._offsets):
            which = "" if languages is None else f" with language in {sorted(wanted or ())}"
            raise ValueError(f"no pages{which} in {list(map(str, folders))}")
        self.num_pages: int | None = len(self._offsets)

    def annotation(self, index: int) -> tuple[Path, PageAnnotation]:
        """Return page ``index``'s dataset folder (image paths are relative to it) and its parsed annotation."""
        if not 0 <= index < len(self._offsets):
            raise IndexError(f"page {index} of a manifest source of {len(self._offsets)} pages")
        manifest = self._manifests[int(np.searchsorted(self._counts, index, side="right"))]
        with manifest.open("rb") as fh:
            fh.seek(int(self._offsets[index]))
            raw = fh.readline()
        try:
            return manifest.parent, PageAnnotation.from_dict(json.loads(raw))
        except (json.JSONDecodeError, ValueError, TypeError) as exc:
            raise ValueError(f"{manifest} (byte {int(self._offsets[index])}): {exc}") from exc

    def load(self, index: int) -> tuple[np.ndarray, PageAnnotation]:
        root, page = self.annotation(index)
        image = load_page_image(root / page.image)
        if image.shape[:2] != (page.height, page.width):
            raise ValueError(
                f"page {page.id}: image {root / page.image} is {image.shape[1]}x{image.shape[0]}, "
                f"the manifest says {page.width}x{page.height}"
            )
        return image, page


# The page's own "language" before its word list (the manifest writer's key order): read without parsing the words.
_PAGE_LANGUAGE = re.compile(rb'^\s*\{[^\[\{]*?"language"\s*:\s*("(?:[^"\\]|\\.)*")')


def _line_language(raw: bytes, manifest: Path) -> str:
    """The ``language`` of the page annotation on ``raw`` ("" when it has none).

    Parsing a whole line costs about a millisecond (a dense page's words and quads), so when the page's language
    comes before any list or nested object, only that string is decoded; other lines are parsed whole. (A line broken
    after its language is then found when its page is loaded: ``annotation`` names the manifest and the byte.)
    """
    try:
        found = _PAGE_LANGUAGE.match(raw)
        if found is not None:
            return str(json.loads(found.group(1)))
        return str(json.loads(raw).get("language", ""))
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        raise ValueError(f"{manifest}: a line that is not a page annotation ({exc})") from exc


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
class MixedSource:
    """One source of a training mix.

    Attributes:
        source: where its pages come from.
        weight: its share of the training windows, relative to the other sources' weights (> 0).
        windows: K, the training windows cut from each page it loads (>= 1); each window is its own sample with its
            own augmentation and position, so a page decoded or generated once feeds K samples.
        name: a label for error messages and logs.
    """

    source: PageSource
    weight: float = 1.0
    windows: int = 1
    name: str = ""

    def __post_init__(self) -> None:
        if not (isinstance(self.weight, (int, float)) and math.isfinite(self.weight) and self.weight > 0):
            raise ValueError(f"source {self.name or '?'}: weight must be a finite number > 0, got {self.weight!r}")
        if isinstance(self.windows, bool) or not isinstance(self.windows, int) or self.windows < 1:
            raise ValueError(f"source {self.name or '?'}: windows must be an integer >= 1, got {self.windows!r}")


class PageGroup(NamedTuple):
    """The slots of a global micro-batch that one page fills.

    Attributes:
        source: index of the page's source in the mix.
        number: the page's number among that source's pages in the whole stream (0, 1, 2, ...).
        first_slot: its first slot in the micro-batch.
        windows: how many consecutive slots (training windows) it fills.
    """

    source: int
    number: int
    first_slot: int
    windows: int


class MixSchedule:
    """Which page of which source fills each slot of a global micro-batch (see the module docstring).

    A pure function of ``(weights, windows, batch_size, seed, global batch)``; the number of ranks and workers plays
    no part.

    Args:
        weights: each source's share of the windows (relative, > 0).
        windows: each source's K (windows per page, >= 1).
        batch_size: slots (windows) per micro-batch, B.
        seed: seed of the draws.

    >>> schedule = MixSchedule([1.0], [2], batch_size=4, seed=0)
    >>> schedule.groups(1)
    [PageGroup(source=0, number=2, first_slot=0, windows=2), PageGroup(source=0, number=3, first_slot=2, windows=2)]
    """

    def __init__(self, weights: Sequence[float], windows: Sequence[int], *, batch_size: int, seed: int) -> None:
        if not weights or len(weights) != len(windows):
            raise ValueError(f"need one K per weight and at least one source, got {list(weights)} and {list(windows)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if min(windows) < 1:
            raise ValueError(f"windows per page must be >= 1, got {list(windows)}")
        # A page never yields more than one micro-batch of windows (they must share its worker).
        self.windows = np.minimum(np.asarray(windows, dtype=np.int64), batch_size)
        share = np.asarray(weights, dtype=np.float64)
        if not (np.isfinite(share).all() and (share > 0).all()):
            raise ValueError(f"source weights must be finite and > 0, got {list(weights)}")
        self.window_share = share / share.sum()
        self.batch_size = int(batch_size)
        self.page_probability = _page_probabilities(self.window_share, self.windows, self.batch_size)
        self.seed = int(seed)
        self._starts: list[np.ndarray] = [np.zeros(len(weights), dtype=np.int64)]  # pages per source before table t
        self._table: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def num_sources(self) -> int:
        return len(self.windows)

    def _fill(self, table: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lay out the ``_MIX_TABLE`` global micro-batches of one table.

        Returns:
            ``(choice, taken, before)``: ``[rows, B]`` int64 source of each draw, ``[rows, B]`` int64 slots each draw
            fills (0 once its row is full), ``[rows + 1, S]`` int64 pages of each source before each row (from the
            start of the table; the last row is the table's total).
        """
        rows, slots = _MIX_TABLE, self.batch_size
        draws = np.random.default_rng((self.seed, table, _MIX_SALT)).random((rows, slots))
        choice = np.zeros((rows, slots), dtype=np.int64)
        taken = np.zeros((rows, slots), dtype=np.int64)
        filled = np.zeros(rows, dtype=np.int64)
        # Every page fills at least one slot, so B draws always fill a row.
        for draw in range(slots):
            weights = _fitting(self.page_probability, self.windows, slots - filled)  # (rows, S)
            cumulative = np.cumsum(weights, axis=1)
            target = draws[:, draw] * cumulative[:, -1]
            chosen = np.minimum((cumulative <= target[:, None]).sum(axis=1), self.num_sources - 1)
            choice[:, draw] = chosen
            taken[:, draw] = np.minimum(self.windows[chosen], slots - filled)
            filled += taken[:, draw]
        used = taken > 0
        per_row = np.stack([(used & (choice == i)).sum(axis=1) for i in range(self.num_sources)], axis=1)
        before = np.zeros((rows + 1, self.num_sources), dtype=np.int64)
        np.cumsum(per_row, axis=0, out=before[1:])
        return choice, taken, before

    def _layout(self, table: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._table is None or self._table[0] != table:
            self._table = (table, *self._fill(table))
        return self._table[1], self._table[2], self._table[3]

    def _start(self, table: int) -> np.ndarray:
        # Pages of each source in all earlier tables: summed table by table (cached), each a pure function of its
        # index, so any worker reaches the same counts on its own.
        while len(self._starts) <= table:
            done = len(self._starts) - 1
            self._starts.append(self._starts[done] + self._layout(done)[2][-1])
        return self._starts[table]

    def groups(self, global_batch: int) -> list[PageGroup]:
        """The page groups of global micro-batch ``global_batch`` (``batch·world_size + rank``), left to right."""
        if global_batch < 0:
            raise ValueError(f"global_batch must be >= 0, got {global_batch}")
        table, row = divmod(int(global_batch), _MIX_TABLE)
        if self.num_sources == 1:
            # One source: every micro-batch holds the same ceil(B / K) pages, so the count has a closed form.
            size = int(self.windows[0])
            per_batch = -(-self.batch_size // size)
            first = global_batch * per_batch
            return [PageGroup(0, first + i, i * size, min(size, self.batch_size - i * size)) for i in range(per_batch)]
        start = self._start(table)
        choice, taken, before = self._layout(table)
        seen = start + before[row]
        out, slot = [], 0
        for draw in range(self.batch_size):
            count = int(taken[row, draw])
            if count == 0:
                break
            source = int(choice[row, draw])
            out.append(PageGroup(source, int(seen[source]), slot, count))
            seen[source] += 1
            slot += count
        return out


def _fitting(probability: np.ndarray, windows: np.ndarray, remaining: np.ndarray) -> np.ndarray:
    """Unnormalised choice weights ``[rows, S]`` when ``remaining [rows]`` slots are left in each micro-batch.

    Only sources whose K pages fit the remaining slots are chosen while one does, so that no loaded page yields fewer
    than its K windows unless no source fits (then all are, and the last page is cut short).
    """
    fits = windows[None, :] <= np.maximum(remaining, 1)[:, None]  # (rows, S)
    fits[~fits.any(axis=1)] = True
    return np.where(fits, probability[None, :], 0.0)


def _window_shares(probability: np.ndarray, windows: np.ndarray, batch_size: int) -> np.ndarray:
    """Expected share ``[S]`` of a micro-batch's windows that each source fills, for page probabilities ``[S]``."""
    reach = np.zeros(batch_size + 1)  # probability that a micro-batch's fill passes through f slots
    reach[0] = 1.0
    filled = np.zeros(len(windows))
    for slot in range(batch_size):
        if reach[slot] == 0:
            continue
        weights = _fitting(probability, windows, np.array([batch_size - slot]))[0]
        weights = reach[slot] * weights / weights.sum()
        taken = np.minimum(windows, batch_size - slot)
        filled += weights * taken
        np.add.at(reach, slot + taken, weights)
    return filled / batch_size


def _page_probabilities(share: np.ndarray, windows: np.ndarray, batch_size: int) -> np.ndarray:
    """Page probabilities whose expected window shares are ``share`` (sums to 1) given K and the batch size.

    A page of source i yields K_i windows, so ``share_i / K_i`` is right when batches never end a page early; the
    fitting rule of :func:`_fitting` skews that at the end of a micro-batch, which a few multiplicative corrections
    undo (computed once, exactly, from the fill's Markov chain; no draws).
    """
    probability = share / windows
    probability /= probability.sum()
    for _ in range(500):
        achieved = _window_shares(probability, windows, batch_size)
        if np.abs(achieved - share).max() < 1e-9:
            return probability
        probability = np.maximum(probability * share / np.maximum(achieved, 1e-12), 1e-12)
        probability /= probability.sum()
    if np.abs(achieved - share).max() > 1e-3:
        raise ValueError(
            f"window shares {np.round(share, 4).tolist()} cannot be met with {windows.tolist()} windows per page in "
            f"micro-batches of {batch_size} (closest: {np.round(achieved, 4).tolist()}); lower the windows per page "
            "or raise the batch size"
        )
    return probability


class SourceOptions(Protocol):
    """The plain description of one source (``train.config.SourceSection``)."""

    kind: str
    weight: float
    paths: list[str]
    synth: dict[str, Any]
    languages: list[str]
    windows: int
    seed: int | None
    name: str


def build_sources(entries: Sequence[SourceOptions], *, seed: int) -> list[MixedSource]:
    """Open the sources of a mix described by plain options.

    A ``synth`` source generates with its own ``seed``, or ``seed + i`` for the ``i``-th entry when it has none (so
    two synthetic sources never draw the same pages, and a lone first source keeps the run's seed).

    Raises:
        FileNotFoundError: naming the source and the missing manifest path or unmatched pattern.
        ValueError: on an unknown kind or invalid options, naming the source.
    """
    out = []
    for index, entry in enumerate(entries):
        label = f"data.sources[{index}]" + (f" ({entry.name})" if entry.name else "")
        try:
            if entry.kind == "synth":
                source: PageSource = SynthSource(entry.synth, seed + index if entry.seed is None else entry.seed)
            elif entry.kind == "manifest":
                source = ManifestSource(entry.paths, languages=entry.languages or None)
            else:
                raise ValueError(f"kind must be 'synth' or 'manifest', got {entry.kind!r}")
            out.append(MixedSource(source, weight=entry.weight, windows=entry.windows, name=entry.name))
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{label}: {exc}") from exc
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from exc
    return out


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
        crop_height: the window's height when it is not square (0: ``crop_size``); ``crop_size`` is then its width.
            A wide window (1024 × 256 costs what 512 × 512 does) holds whole long lines, which a square one cuts
            and so ignores: CJK lines read as one region.
    """

    preprocess: PreprocessConfig
    charset: Charset
    max_width: int
    targets: TargetConfig
    augment: AugmentConfig
    crop_size: int = 0
    crop_height: int = 0

    def __post_init__(self) -> None:
        for name in ("crop_size", "crop_height"):
            value = getattr(self, name)
            if value < 0 or value % 32:
                raise ValueError(f"{name} must be 0 or a positive multiple of 32, got {value}")
            if value > self.preprocess.infer_length:
                raise ValueError(f"{name} {value} is larger than the detector input ({self.preprocess.infer_length})")
        if self.crop_height and not self.crop_size:
            raise ValueError("crop_height needs crop_size (the window's width)")

    def __call__(
        self, image: np.ndarray, page: PageAnnotation, rng: np.random.Generator, *, position: int = 0
    ) -> PageSample:
        """Build the sample of one page; all randomness comes from ``rng``."""
        return self._build(image, page, rng, position, None)[0]

    def windows(
        self, image: np.ndarray, page: PageAnnotation, rngs: Sequence[np.random.Generator], positions: Sequence[int]
    ) -> list[PageSample]:
        """Build several samples (training windows) from one loaded page, one per generator.

        Each window draws its own augmentation (crop, zoom, photometric), position and target jitter from its
        generator; a window aims at a word that the earlier windows do not contain when there is one, so that the
        windows spread over the page. The first window is exactly ``self(image, page, rngs[0])``.

        Args:
            image: ``[H, W, 3]`` uint8 RGB page.
            page: its annotation (not modified).
            rngs: one generator per window.
            positions: the windows' stream positions (recorded in the samples).
        """
        if len(rngs) != len(positions):
            raise ValueError(f"need one position per generator, got {len(rngs)} and {len(positions)}")
        covered = np.zeros(len(page.words), dtype=bool)
        samples = []
        for rng, position in zip(rngs, positions):
            sample, inside = self._build(image, page, rng, int(position), covered)
            covered |= inside
            samples.append(sample)
        return samples

    def _build(
        self,
        image: np.ndarray,
        page: PageAnnotation,
        rng: np.random.Generator,
        position: int,
        covered: np.ndarray | None,
    ) -> tuple[PageSample, np.ndarray]:
        """Build one sample; also return ``[n_words]`` bool, the page's words whose centre is in the sample."""
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
        # apply_geometry keeps the words and their order, so word i here is word i of the loaded page.
        centre = quads.mean(axis=1) if len(quads) else np.zeros((0, 2))  # (n, 4, 2) -> (n, 2)
        inside = (centre >= 0).all(axis=1) & (centre < (width, height)).all(axis=1)
        size_x, size_y = self.crop_size, self.crop_height or self.crop_size
        if self.crop_size and (size_x < width or size_y < height):
            size = (size_x, size_y)
            x0, y0 = sample_input_window(rng, quads, ignore, height=height, width=width, size=size, avoid=covered)
            inside = (centre >= (x0, y0)).all(axis=1) & (centre < (x0 + size_x, y0 + size_y)).all(axis=1)
            # Only the window is resized: the same pixels as cropping the whole input, a fraction of the work.
            pixels = render_window(image, self.preprocess, x0, y0, size)
            if len(quads):
                visible = visible_fraction(quads, (x0, y0, x0 + size_x, y0 + size_y))
                ignore = ignore | (visible < self.augment.clipped_visibility)
            quads = quads - np.array([x0, y0], dtype=np.float64)
            width, height = size_x, size_y
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
        sample = PageSample(
            image=pixels,
            score=detector.score,
            mask=detector.mask,
            geometry=detector.geometry,
            word_cells=detector.word_cells,
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
        return sample, inside


class TrainingStream(IterableDataset):
    """Endless stream of :class:`TrainBatch` for one process (see the module docstring for the indexing).

    Args:
        sources: where pages come from: one page source (all windows from it, one per page), or a mix of
            :class:`MixedSource` entries.
        builder: how a page becomes samples.
        batch_size: training windows (samples) per micro-batch.
        seed: seed of the mix, the shuffles and the augmentations.
        rank, world_size: this process's place among the training processes.
        start_batch: first micro-batch index to produce (the data position when resuming).
        shuffle: shuffle finite sources each epoch (otherwise file order).

    Raises:
        TypeError: if ``sources`` is a sequence holding anything but :class:`MixedSource` entries.
        ValueError: on an empty mix, ``batch_size < 1``, a rank outside ``world_size`` or ``start_batch < 0``.
    """

    def __init__(
        self,
        sources: PageSource | Sequence[MixedSource],
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
        if isinstance(sources, (list, tuple)):
            mix = tuple(sources)
            if not mix:
                raise ValueError("a training mix needs at least one source")
            for entry in mix:
                if not isinstance(entry, MixedSource):
                    raise TypeError(f"a training mix holds MixedSource entries, got {type(entry).__name__}")
        else:
            mix = (MixedSource(sources),)
        self.sources = mix
        self.builder = builder
        self.batch_size = batch_size
        self.seed = int(seed)
        self.rank = rank
        self.world_size = world_size
        self.start_batch = start_batch
        self.shuffle = shuffle
        self.schedule = MixSchedule(
            [m.weight for m in mix], [m.windows for m in mix], batch_size=batch_size, seed=self.seed
        )
        self._permutations: dict[int, tuple[int, np.ndarray]] = {}  # source -> (epoch, order) of its last epoch

    def positions(self, batch_index: int) -> list[int]:
        """Stream positions of the windows of micro-batch ``batch_index`` of this rank."""
        first = (batch_index * self.world_size + self.rank) * self.batch_size
        return list(range(first, first + self.batch_size))

    def groups(self, batch_index: int) -> list[PageGroup]:
        """The pages of micro-batch ``batch_index`` of this rank: which source, which page, which slots."""
        return self.schedule.groups(batch_index * self.world_size + self.rank)

    def page_index(self, number: int, source: int = 0) -> int:
        """Index in source ``source`` of its page number ``number`` (with one source and K = 1: the position)."""
        total = self.sources[source].source.num_pages
        if total is None:
            return number
        epoch, offset = divmod(number, total)
        if not self.shuffle:
            return offset
        cached = self._permutations.get(source)
        if cached is None or cached[0] != epoch:
            # The first source keeps the seeding of the single-source stream, so its earlier runs resume exactly.
            key = (self.seed, epoch) if source == 0 else (self.seed, epoch, source)
            cached = (epoch, np.random.default_rng(key).permutation(total))
            self._permutations[source] = cached
        return int(cached[1][offset])

    def make_batch(self, batch_index: int) -> TrainBatch:
        """Build micro-batch ``batch_index`` (a pure function of the seed, mix, rank, world size and index)."""
        first = self.positions(batch_index)[0]
        samples: list[PageSample] = []
        for group in self.groups(batch_index):
            image, page = self.sources[group.source].source.load(self.page_index(group.number, group.source))
            positions = range(first + group.first_slot, first + group.first_slot + group.windows)
            rngs = [np.random.default_rng((self.seed, position, _AUGMENT_SALT)) for position in positions]
            samples.extend(self.builder.windows(image, page, rngs, positions))
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
