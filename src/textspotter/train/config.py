"""Training configuration: nested dataclasses ↔ YAML, with ``--set a.b=c`` overrides.

The resolved configuration (defaults, then the YAML file, then the overrides) is validated against the dataclasses:
an unknown key is a ``ValueError`` naming it, and values are checked against the field types. ``to_dict`` gives the
plain form that is saved as ``config.yaml`` next to every checkpoint.

>>> config = resolve_config(overrides=["train.steps=10", "optim.lr=3e-4", "train.freeze=[detector]"])
>>> config.train.steps, config.optim.lr, config.train.freeze
(10, 0.0003, ['detector'])
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..data.augment import AugmentConfig
from ..data.targets import TargetConfig
from .losses import LossConfig

__all__ = [
    "ModelSection",
    "SourceSection",
    "DataSection",
    "OptimSection",
    "RunSection",
    "EvalSection",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
    "apply_overrides",
    "resolve_config",
    "save_config",
]


@dataclass
class ModelSection:
    """Which model is trained.

    Attributes:
        name: registry name (``textspotter.models.list_models()``) of a randomly initialised model.
        init: a model folder to start from instead (ours, or a published v1/v2 folder; ``load_model``).
        infer_length: detector input side L used for training and written into the saved spec; None keeps the spec's.
        decoding: recognizer decoding rule (``"parallel"`` published, ``"ctc"`` ours; ``RecognizerConfig.decoding``)
            written into the saved spec; None keeps the spec's. Switching it keeps the weights (the classifier
            relearns what its positions mean).
        max_width: recognizer sequence length T (``RecognizerConfig.max_width``) written into the saved spec; None
            keeps the spec's. Changing it keeps the learnt position encodings of the first columns
            (``Recognizer.set_max_width``).
        bucket_width: ``RecognizerConfig.bucket_width`` (0: strips read T wide; b: read at their width rounded up
            to a multiple of b); None keeps the spec's.
        attention_window: ``RecognizerConfig.attention_window`` (0: global attention; w: each position attends to
            those within w); None keeps the spec's. No weight depends on it.
        global_layers: ``RecognizerConfig.global_layers`` (with a window, how many first Transformer layers still
            attend globally; 0: all windowed); None keeps the spec's. No weight depends on it.
        column_scale: ``RecognizerConfig.column_scale`` (strip columns per row of text height); None keeps the
            spec's. A change resamples the position encoding to the new column pitch (``Recognizer.set_max_width``).
        recognizer_layers: grows the recognizer's Transformer to this many layers (``RecognizerConfig.num_layers``);
            None keeps the spec's. The new layers are appended after the trained ones with their attention and
            feed-forward output projections zeroed, so the model reads exactly as before at step 0
            (``train.loop.grow_recognizer``); they attend as their index says (globally below ``global_layers``).
        recognizer_feedforward: widens every Transformer layer's feed-forward block to this many units
            (``RecognizerConfig.dim_feedforward``); None keeps the spec's. The new units start with zero output
            weights (same reading at step 0). Neither may shrink the recognizer.
        charset: replaces the model's charset: ``"latin"``, ``"multilingual"`` (``textspotter.charset``) or the path
            of a ``charset.txt`` (a JSON array of strings); None keeps the spec's. The recognizer's classifier is
            resized: characters both charsets hold keep their trained rows, the others start untrained
            (``train.loop.resize_classifier``).
        pixel_scale: gives the recognizer a pixel stem reading the quads' grey levels at this many times its strip's
            grid (``RecognizerConfig.pixel_scale``: 2 or 4); None keeps the spec's. Added to a recognizer without
            one, the stem's channels enter the encoder with zero weights, so the model reads as before at step 0
            (``train.loop.add_pixel_stem``).
        pixel_channels: the stem's output channels (``RecognizerConfig.pixel_channels``), with ``pixel_scale``.
        valid_confidence: ``PostprocessConfig.valid_confidence`` written into the saved spec (the confidence a
            word needs to be valid, in [0, 1); the published rule is 0.5); None keeps the spec's. No weight
            depends on it.
        orientation_confidence: ``PostprocessConfig.orientation_confidence`` written into the saved spec (the mean
            text confidence at which the orientation check trusts a sample of reads, in [0, 1]; 0.7 by default);
            None keeps the spec's. No weight depends on it.
    """

    name: str = "small"
    init: str | None = None
    infer_length: int | None = None
    decoding: str | None = None
    max_width: int | None = None
    bucket_width: int | None = None
    attention_window: int | None = None
    global_layers: int | None = None
    column_scale: float | None = None
    recognizer_layers: int | None = None
    recognizer_feedforward: int | None = None
    charset: str | None = None
    pixel_scale: int | None = None
    pixel_channels: int = 16
    valid_confidence: float | None = None
    orientation_confidence: float | None = None


@dataclass
class SourceSection:
    """One source of the training mix (an entry of ``data.sources``).

    Attributes:
        kind: ``"synth"`` (pages generated on the fly in the DataLoader workers) or ``"manifest"`` (folders in the
            ``data/manifest.py`` schema: ``textspotter synth``, ``textspotter corpus build``).
        weight: this source's share of the training windows, relative to the other entries' weights (> 0).
        paths: for ``kind: manifest``, dataset folders, ``manifest.jsonl`` files or glob patterns of them
            (``/corpus/en-train/shard-*``; a pattern's matches in sorted order).
        synth: for ``kind: synth``, fields of ``textspotter.synth.SynthConfig`` (``text`` and ``effects`` as mappings).
        languages: for ``kind: manifest``, keep only pages whose ``language`` is listed (empty: all), e.g. one language
            of a corpus that mixes several (a synthetic source sets ``synth.languages`` instead).
        windows: training windows cut from each page this source loads (K >= 1): the page is decoded or generated
            once and each window is its own sample, with its own augmentation and position (``data.crop_size``).
        seed: generator seed of a ``synth`` source; None: ``data.seed`` plus the entry's index.
        name: a label for error messages (e.g. ``en-scanned``).
    """

    kind: str = "synth"
    weight: float = 1.0
    paths: list[str] = field(default_factory=list)
    synth: dict[str, Any] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)
    windows: int = 1
    seed: int | None = None
    name: str = ""


@dataclass
class DataSection:
    """Where training pages come from and how they are batched.

    The pages come from ``sources``, a weighted mix of synthetic and manifest sources (``data/dataset.py`` says how
    the stream stays a pure function of the seed and the position). The older single-source form (``source`` with
    ``manifests`` or ``synth``) still works and means one source of weight 1 and one window per page; the two forms
    cannot be combined.

    Attributes:
        sources: the training mix (:class:`SourceSection` entries); empty: the single-source form below.
        source: single-source form: ``"synth"`` or ``"manifest"`` (None: ``"synth"``).
        manifests: single-source form: dataset folders for ``source: manifest``.
        synth: single-source form: fields of ``textspotter.synth.SynthConfig`` for ``source: synth``.
        seed: seed of the page stream (mix, synthesis, shuffles, augmentation).
        batch_size: training windows (samples) per micro-batch and process.
        crop_size: train on ``crop_size × crop_size`` windows of each page's detector input (0: whole inputs); the
            text keeps its inference size and a step costs ``(crop_size / infer_length)²`` of a whole page.
        crop_height: height of non-square windows (0: square); ``crop_size`` is then the width. ``crop_size: 1024``
            with ``crop_height: 256`` costs what 512 × 512 does and holds whole long lines (CJK lines are one
            region each; a square window cuts the long ones, and a cut region is ignored).
        workers: DataLoader worker processes per training process.
        prefetch: micro-batches prepared ahead by each worker.
        shuffle: shuffle manifest pages each epoch.
        augment: augmentation strengths.
        targets: target-encoding parameters.
    """

    sources: list[SourceSection] = field(default_factory=list)
    source: str | None = None
    manifests: list[str] = field(default_factory=list)
    synth: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    batch_size: int = 4
    crop_size: int = 0
    crop_height: int = 0
    workers: int = 2
    prefetch: int = 2
    shuffle: bool = True
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    targets: TargetConfig = field(default_factory=TargetConfig)

    def __post_init__(self) -> None:
        if self.source not in (None, "synth", "manifest"):
            raise ValueError(f"data.source must be 'synth' or 'manifest', got {self.source!r}")
        if self.sources:
            legacy = [name for name in ("source", "manifests", "synth") if getattr(self, name)]
            if legacy:
                raise ValueError(
                    f"data.sources replaces data.source, data.manifests and data.synth; remove data.{legacy[0]} "
                    "(or move it into an entry of data.sources)"
                )
            for index, entry in enumerate(self.sources):
                _check_source(entry, f"data.sources[{index}]")
        elif self.source == "manifest" and not self.manifests:
            raise ValueError("data.source is 'manifest' but data.manifests is empty")
        if self.batch_size < 1 or self.workers < 0 or self.prefetch < 1:
            raise ValueError("data.batch_size and data.prefetch must be >= 1 and data.workers >= 0")

    def mix(self) -> list[SourceSection]:
        """The training mix: ``sources``, or the single-source form as a one-entry mix."""
        if self.sources:
            return list(self.sources)
        if self.source == "manifest":
            return [SourceSection(kind="manifest", paths=list(self.manifests))]
        return [SourceSection(kind="synth", synth=dict(self.synth))]

    def synth_options(self) -> dict[str, Any] | None:
        """``SynthConfig`` fields of the mix's first synthetic source (the default held-out split), or None."""
        for entry in self.mix():
            if entry.kind == "synth":
                return dict(entry.synth)
        return None


def _check_source(entry: SourceSection, where: str) -> None:
    if entry.kind not in ("synth", "manifest"):
        raise ValueError(f"{where}.kind must be 'synth' or 'manifest', got {entry.kind!r}")
    if not (math.isfinite(entry.weight) and entry.weight > 0):
        raise ValueError(f"{where}.weight must be a finite number > 0, got {entry.weight!r}")
    if entry.windows < 1:
        raise ValueError(f"{where}.windows must be >= 1, got {entry.windows!r}")
    if entry.kind == "manifest":
        if not entry.paths:
            raise ValueError(f"{where}: kind 'manifest' needs paths")
        if entry.synth or entry.seed is not None:
            raise ValueError(f"{where}: synth and seed are options of kind 'synth', not 'manifest'")
    elif entry.paths or entry.languages:
        raise ValueError(f"{where}: paths and languages are for kind 'manifest' (a synth source has synth.languages)")


@dataclass
class OptimSection:
    """AdamW and the learning-rate schedule.

    Attributes:
        lr: peak learning rate.
        weight_decay: decoupled weight decay (not applied to biases, norms and position encodings).
        betas: AdamW betas.
        eps: AdamW epsilon.
        warmup_steps: linear warm-up from 0 to ``lr``.
        schedule: after warm-up: ``"cosine"`` (down to ``min_lr_ratio · lr`` at ``train.steps``), ``"linear"`` or
            ``"constant"``.
        min_lr_ratio: final learning rate relative to ``lr``.
        grad_clip: clip the global gradient norm to this (0 disables).
        lr_scale: per-module learning-rate multipliers, e.g. ``{detector: 0.1}`` when fine-tuning; a dotted key
            names a sub-module (``{recognizer.pixel_stem: 5.0}``), and the longest key above a parameter wins.
    """

    lr: float = 1e-3
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    warmup_steps: int = 500
    schedule: str = "cosine"
    min_lr_ratio: float = 0.02
    grad_clip: float = 5.0
    lr_scale: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.schedule not in ("cosine", "linear", "constant"):
            raise ValueError(f"optim.schedule must be cosine, linear or constant, got {self.schedule!r}")
        if self.lr <= 0 or self.warmup_steps < 0 or not 0 <= self.min_lr_ratio <= 1:
            raise ValueError("optim.lr must be > 0, optim.warmup_steps >= 0, optim.min_lr_ratio in [0, 1]")


@dataclass
class RunSection:
    """The run itself.

    Attributes:
        steps: optimizer steps to train.
        accumulate: micro-batches per optimizer step (gradient accumulation).
        amp: ``"auto"`` (bf16 autocast on GPU and on a CPU with native bfloat16, float32 on other CPUs), ``"bf16"``
            (forced; on a CPU that emulates bfloat16 many times slower than float32) or ``"off"``.
        freeze: modules (``detector``, ``recognizer``, ``relational`` or a dotted sub-module such as
            ``detector.extractor``) whose weights and BatchNorm statistics stay fixed.
        seed: seed of the model initialisation and of torch's random stream (plus the rank).
        device: ``"auto"`` (``cuda:LOCAL_RANK`` when available, else CPU), ``"cpu"`` or ``"cuda"``.
        out_dir: where logs, curves and checkpoints go.
        log_every: optimizer steps between log records.
        checkpoint_every: optimizer steps between checkpoints (0: only at the end).
        keep_checkpoints: most recent checkpoints kept.
        threads: torch intra-op threads per process (0 leaves torch's default).
        find_unused_parameters: DDP option; needed when a step can skip a module (a page without words).
        resume: a checkpoint folder to resume from, ``"auto"`` for the latest one in ``out_dir``, or None.
    """

    steps: int = 10_000
    accumulate: int = 1
    amp: str = "auto"
    freeze: list[str] = field(default_factory=list)
    seed: int = 0
    device: str = "auto"
    out_dir: str = "runs/train"
    log_every: int = 10
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    threads: int = 0
    find_unused_parameters: bool = True
    resume: str | None = None

    def __post_init__(self) -> None:
        if self.amp not in ("auto", "bf16", "off"):
            raise ValueError(f"train.amp must be auto, bf16 or off, got {self.amp!r}")
        if self.steps < 0 or self.accumulate < 1 or self.log_every < 1 or self.checkpoint_every < 0:
            raise ValueError("train.steps >= 0, train.accumulate >= 1, log_every >= 1, checkpoint_every >= 0 needed")


@dataclass
class EvalSection:
    """Periodic evaluation through the full pipeline.

    Attributes:
        every: optimizer steps between evaluations (0: only at the end when ``at_end``).
        at_end: evaluate after the last step.
        pages: held-out synthetic pages (generated with ``seed``; never seen in training).
        seed: synthesis seed of the held-out split (different from ``data.seed``).
        synth: ``SynthConfig`` fields of the held-out split; empty means the training ``data.synth``.
        manifests: held-out manifest folders to evaluate on instead of synthetic pages.
        iou_threshold: detection match threshold.
        batch_size: pages per pipeline call.
        datasets: development datasets also scored at each evaluation (paths or ``textspotter.evaluate``
            shortcuts such as ``tesseract-test``, ``docbank``), with that module's metrics.
        data_root: folder of the shortcut datasets.
        dataset_pages: first pages of each development dataset to use (0: all).
    """

    every: int = 1000
    at_end: bool = True
    pages: int = 16
    seed: int = 1_000_003
    synth: dict[str, Any] = field(default_factory=dict)
    manifests: list[str] = field(default_factory=list)
    iou_threshold: float = 0.5
    batch_size: int = 4
    datasets: list[str] = field(default_factory=list)
    data_root: str = "../shared/data"
    dataset_pages: int = 0


@dataclass
class TrainConfig:
    """Everything a training run needs (saved as ``config.yaml`` with each checkpoint)."""

    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimSection = field(default_factory=OptimSection)
    train: RunSection = field(default_factory=RunSection)
    eval: EvalSection = field(default_factory=EvalSection)


def _coerce(kind: Any, value: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``kind`` and convert it (lists → tuples, ints → floats, ...)."""
    origin = typing.get_origin(kind)
    if kind is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, where)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError(f"{where}: {value!r} does not match {kind} ({'; '.join(errors)})")
    if dataclasses.is_dataclass(kind):
        if isinstance(value, kind):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        return _from_dict(kind, value, where)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(kind)
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        items = typing.get_args(kind)
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        if len(items) == 2 and items[1] is Ellipsis:
            return tuple(_coerce(items[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(items) != len(value):
            raise ValueError(f"{where}: expected {len(items)} values, got {value!r}")
        return tuple(_coerce(t, v, f"{where}[{i}]") for i, (t, v) in enumerate(zip(items, value)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        key_kind, value_kind = typing.get_args(kind)
        return {_coerce(key_kind, k, where): _coerce(value_kind, v, f"{where}.{k}") for k, v in value.items()}
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true/false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, str):
            # YAML 1.1 reads "3e-4" (no dot) as a string; accept any spelling Python reads as a number.
            try:
                return float(value)
            except ValueError:
                raise ValueError(f"{where}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{where}: unsupported config type {kind!r}")


def _from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in names:
            raise ValueError(f"unknown config key {path!r} (known: {', '.join(sorted(names))})")
        kwargs[key] = _coerce(hints[key], value, path)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"{where or 'config'}: {exc}") from exc


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from its plain form (missing keys keep their defaults)."""
    if not isinstance(data, dict):
        raise ValueError(f"a training config must be a mapping, got {type(data).__name__}")
    return _from_dict(TrainConfig, data, "")


def config_to_dict(config: Any) -> dict[str, Any]:
    """Return the plain (YAML-ready) form of a config dataclass: tuples become lists."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(config)


class _ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with YAML 1.2's booleans: only ``true`` / ``false``. Under YAML 1.1 an unquoted ``off``
    (``train.amp: off``, ``--set train.amp=off``) reads as ``False`` and fails a string field."""


_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 - a SafeLoader subclass: plain data only


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides to a plain config (values are parsed as YAML: ``[a, b]``, ``1e-3``, ...).

    Returns a new dict; intermediate mappings are created as needed (unknown keys fail later, in validation).

    Raises:
        ValueError: if an override has no ``=`` or an empty key.
    """
    out = yaml.safe_load(yaml.safe_dump(data))  # deep copy through the plain form
    for override in overrides:
        key, sep, raw = override.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"override must look like key.path=value, got {override!r}")
        value = _load_yaml(raw) if raw.strip() else None
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return out


def resolve_config(path: str | os.PathLike[str] | None = None, *, overrides: list[str] | None = None) -> TrainConfig:
    """Defaults, then the YAML file (if any), then the overrides; validated.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: on unknown keys or values of the wrong type.
    """
    data = config_to_dict(TrainConfig())
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        loaded = _load_yaml(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: a training config must be a mapping")
        data = _merge(data, loaded)
    data = apply_overrides(data, list(overrides or []))
    return config_from_dict(data)


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def save_config(config: TrainConfig, path: str | os.PathLike[str]) -> None:
    """Write the resolved config as YAML."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False), encoding="utf-8")
