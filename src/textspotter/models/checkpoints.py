"""Read and write model folders: our own format and the published Nemotron OCR v1 / v2 folders.

Our format (written by :func:`save_model`):

* ``model.safetensors`` — every parameter and buffer of the three modules, keys prefixed ``detector.``,
  ``recognizer.``, ``relational.`` (the sub-keys are the published ones);
* ``model.json`` — :meth:`ModelSpec.to_dict` (architecture, charset, preprocessing, decoding constants).

Published folders (read by :func:`load_model`, written by :func:`save_published`), spec §2:

* v1: ``detector.pth``, ``recognizer.pth``, ``relational.pth``, ``charset.txt`` in ``checkpoints/`` or directly
  in the folder;
* v2: the same four files plus ``model_config.json`` (keys of spec §2.4).

Each ``.pth`` is a flat state dict read with ``torch.load(weights_only=True)``. The architecture is recognised
from the tensor shapes (spec §3.6, §6.3, §7.5); ``nhead``, ``norm_first``, ``scope`` and ``infer_length`` come from
``model_config.json`` when present (they cannot be read from shapes). Loading is strict: a missing file, a missing
or unexpected key, or a shape mismatch raises an error naming the file and the key.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..charset import Charset
from .registry import MODULE_NAMES, OCRModel
from .spec import (
    NAMED_BACKBONES,
    DetectorConfig,
    ModelSpec,
    PostprocessConfig,
    PreprocessConfig,
    RecognizerConfig,
    RegNetConfig,
    RelationalConfig,
)

__all__ = [
    "CheckpointError",
    "load_model",
    "save_model",
    "save_published",
    "load_state_dict_strict",
    "spec_from_state_dicts",
    "WEIGHTS_FILE",
    "SPEC_FILE",
    "CHARSET_FILE",
    "CONFIG_FILE",
    "PUBLISHED_WEIGHT_FILES",
]

WEIGHTS_FILE = "model.safetensors"
SPEC_FILE = "model.json"
CHARSET_FILE = "charset.txt"
CONFIG_FILE = "model_config.json"
PUBLISHED_WEIGHT_FILES = {name: f"{name}.pth" for name in MODULE_NAMES}

# Defaults of the v2 package when model_config.json lacks a key (spec §2.4).
_DEFAULT_SCOPE = 512.0
_DEFAULT_INFER_LENGTH = 1024
_DEFAULT_NHEAD = 8
# Fixed by the published GlobalRelationalModel constructor call (spec §2.4, §7).
_RELATIONAL_K = 16
_RELATIONAL_NHEAD = 8
_RELATIONAL_DROPOUT = 0.1


class CheckpointError(ValueError):
    """A checkpoint folder or file does not match what the model needs; the message names the file and key."""


# ------------------------------------------------------------------------------------------------ public API


def load_model(path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> OCRModel:
    """Load a model folder: ours (``model.safetensors`` + ``model.json``) or a published v1 / v2 folder.

    Args:
        path: the folder (or our ``model.json`` / ``model.safetensors`` inside it). For published v1 weights the
            folder may hold the files in a ``checkpoints/`` sub-folder.
        device: where to put the weights.

    Returns:
        The :class:`OCRModel` in eval mode, float32 (published weights stored as float16 are cast).

    Raises:
        FileNotFoundError: the folder or a required file is missing (the message names it).
        CheckpointError: a key is missing or unexpected, a shape does not match, or the files disagree (names the
            file and key). ``CheckpointError`` is a ``ValueError``.

    >>> model = load_model("weights/small")   # doctest: +SKIP
    """
    folder = Path(path)
    if folder.is_file() and folder.name in (WEIGHTS_FILE, SPEC_FILE):
        folder = folder.parent
    if not folder.exists():
        raise FileNotFoundError(f"model folder not found: {folder}")
    if not folder.is_dir():
        raise ValueError(f"{folder}: expected a model folder, got a file")
    ours = [folder / WEIGHTS_FILE, folder / SPEC_FILE]
    if any(p.exists() for p in ours):
        for p in ours:
            if not p.is_file():
                raise FileNotFoundError(
                    f"{p}: file not found (a textspotter model folder needs {WEIGHTS_FILE} and {SPEC_FILE})"
                )
        model = _load_ours(folder)
    else:
        model = _load_published(_find_published_folder(folder))
    return model.to(device).eval()


def save_model(model: OCRModel, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to the folder ``path`` in our format (created if needed; existing files are replaced).

    Every parameter and buffer is stored in its own dtype, so :func:`load_model` gives back a bit-exact copy
    (BatchNorm statistics and ``num_batches_tracked`` included).

    Args:
        model: the model to save.
        path: destination folder.

    Returns:
        The folder path.

    Raises:
        TypeError: if ``model`` is not an :class:`OCRModel`.

    >>> from textspotter.models import create_model
    >>> save_model(create_model("tiny-test"), "/tmp/tiny")   # doctest: +SKIP
    """
    from safetensors.torch import save_file

    if not isinstance(model, OCRModel):
        raise TypeError(f"model must be an OCRModel, got {type(model).__name__}")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {key: value.detach().to("cpu").contiguous() for key, value in model.state_dict().items()}
    spec_text = json.dumps(model.spec.to_dict(), indent=2, ensure_ascii=False) + "\n"
    _write_atomic(folder / WEIGHTS_FILE, lambda tmp: save_file(tensors, tmp, metadata={"format": "pt"}))
    _write_atomic(folder / SPEC_FILE, lambda tmp: Path(tmp).write_text(spec_text, encoding="utf-8"))
    return folder


def save_published(model: OCRModel, path: str | os.PathLike[str], *, layout: str = "v2") -> Path:
    """Write ``model`` as a published-style folder that the official ``nemotron_ocr`` package can read.

    Args:
        model: a model with a charset.
        path: destination folder.
        layout: ``"v1"`` (``checkpoints/`` with the four files; meaningful for the v1 architecture only, since the
            v1 release hard-codes it) or ``"v2"`` (the five files directly in ``path``, incl. ``model_config.json``).

    Returns:
        The folder holding the files.

    Raises:
        ValueError: unknown layout, the model has no charset, or its spec holds a value that the layout cannot
            express (the published code fixes it), so that reading the folder back would build a different model.
    """
    if layout not in ("v1", "v2"):
        raise ValueError(f"layout must be 'v1' or 'v2', got {layout!r}")
    spec = model.spec
    if spec.charset is None:
        raise ValueError(f"model {spec.name!r} has no charset; a published folder needs {CHARSET_FILE}")
    problems = _unpublishable(spec, layout)
    if problems:
        raise ValueError(
            f"model {spec.name!r} cannot be written in the published {layout} layout: {'; '.join(problems)}"
        )
    folder = Path(path) / "checkpoints" if layout == "v1" else Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    for name in MODULE_NAMES:
        state = {k: v.detach().to("cpu") for k, v in getattr(model, name).state_dict().items()}
        _write_atomic(folder / PUBLISHED_WEIGHT_FILES[name], lambda tmp, state=state: torch.save(state, tmp))
    spec.charset.to_file(folder / CHARSET_FILE)
    if layout == "v2":
        config = _published_config(spec)
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return folder


def load_state_dict_strict(module: nn.Module, state: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Copy ``state`` into ``module`` after checking keys and shapes; errors name ``source`` and the key.

    Tensors are cast to the dtype of the module's own tensors (e.g. float16 files into float32 parameters;
    ``input_mean`` / ``input_std`` stay float16).

    Raises:
        CheckpointError: on a missing key, an unexpected key or a shape mismatch.
    """
    expected = module.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if missing:
        raise CheckpointError(f"{source}: missing key {missing[0]!r}{_more(missing)}")
    if unexpected:
        raise CheckpointError(f"{source}: unexpected key {unexpected[0]!r}{_more(unexpected)}")
    converted = {}
    for key, target in expected.items():
        value = state[key]
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{source}: key {key!r} holds a {type(value).__name__}, not a tensor")
        if tuple(value.shape) != tuple(target.shape):
            raise CheckpointError(
                f"{source}: key {key!r} has shape {list(value.shape)} but the model expects {list(target.shape)}"
            )
        converted[key] = value.to(dtype=target.dtype)
    # A module built on the meta device (see _empty_model) takes the loaded tensors as they are; a real one copies.
    assign = any(t.is_meta for t in expected.values())
    module.load_state_dict(converted, strict=True, assign=assign)


def spec_from_state_dicts(
    states: Mapping[str, Mapping[str, torch.Tensor]],
    *,
    charset: Charset | None = None,
    config: Mapping[str, Any] | None = None,
    name: str = "published",
    sources: Mapping[str, str] | None = None,
) -> ModelSpec:
    """Recognise the architecture of published state dicts (spec §3.6, §6.3, §7.5).

    Only shapes are read, so meta tensors work. Values that shapes cannot give (``nhead``, ``norm_first``,
    ``scope``, ``infer_length``) come from ``config`` (a parsed ``model_config.json``) or the package defaults.

    Args:
        states: ``{"detector": ..., "recognizer": ..., "relational": ...}`` flat state dicts.
        charset: the folder's charset (must match the classifier size).
        config: parsed ``model_config.json``, or ``None`` for a v1 folder (v1 decoding constants are used then;
            with a config the v2 ones: geometric-mean text confidence and the NMS pre-filter).
        name: the spec name.
        sources: file name per module for error messages (default ``detector.pth`` etc.).

    Raises:
        CheckpointError: a needed key is missing, or config, charset and weights disagree.
    """
    sources = dict(PUBLISHED_WEIGHT_FILES) if sources is None else dict(sources)
    cfg = _Config(config, CONFIG_FILE)
    detector = _detector_config(states["detector"], cfg, sources["detector"])
    recognizer = _recognizer_config(
        states["recognizer"], cfg, sources["recognizer"], in_channels=detector.feature_channels
    )
    relational = _relational_config(
        states["relational"],
        sources["relational"],
        in_channels=detector.feature_channels,
        recog_depth=recognizer.feature_depth,
    )
    if charset is not None and charset.num_tokens != recognizer.num_tokens:
        raise CheckpointError(
            f"{CHARSET_FILE} has {len(charset)} characters ({charset.num_tokens} tokens with the 3 special ones) but "
            f"{sources['recognizer']} key 'classifier.weight' has {recognizer.num_tokens} rows"
        )
    if config is None:
        postprocess = PostprocessConfig(text_confidence="product", use_prefilter=False)
        generation = "v1"
    else:
        postprocess = PostprocessConfig(text_confidence="geometric_mean", use_prefilter=True)
        generation = "v2"
    return ModelSpec(
        name=name,
        detector=detector,
        recognizer=recognizer,
        relational=relational,
        preprocess=PreprocessConfig(infer_length=cfg.get_int("infer_length", _DEFAULT_INFER_LENGTH)),
        postprocess=postprocess,
        charset=charset,
        description=f"published Nemotron OCR {generation} weights",
    )


# ------------------------------------------------------------------------------------------------ our format


def _load_ours(folder: Path) -> OCRModel:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    spec_path, weights_path = folder / SPEC_FILE, folder / WEIGHTS_FILE
    try:
        spec = ModelSpec.from_dict(json.loads(spec_path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{spec_path}: not a valid model spec ({exc})") from exc
    try:
        state = load_file(weights_path)
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{weights_path}: cannot read safetensors file ({exc})") from exc
    model = _empty_model(spec)
    load_state_dict_strict(model, state, source=str(weights_path))
    return model


# ------------------------------------------------------------------------------------------------ published format


def _find_published_folder(folder: Path) -> Path:
    """Return the folder (``folder`` or ``folder/checkpoints``) holding the published files."""
    required = [*PUBLISHED_WEIGHT_FILES.values(), CHARSET_FILE]
    for candidate in (folder, folder / "checkpoints"):
        if any((candidate / f).exists() for f in required):
            for f in required:
                if not (candidate / f).is_file():
                    raise FileNotFoundError(
                        f"{candidate / f}: file not found (a published folder needs {', '.join(required)})"
                    )
            return candidate
    raise FileNotFoundError(
        f"{folder}: no model found (expected {WEIGHTS_FILE} + {SPEC_FILE}, or {', '.join(required)} "
        f"[+ {CONFIG_FILE}] here or in {folder / 'checkpoints'})"
    )


def _load_published(folder: Path) -> OCRModel:
    states = {name: _read_pth(folder / PUBLISHED_WEIGHT_FILES[name]) for name in MODULE_NAMES}
    charset = Charset.from_file(folder / CHARSET_FILE)
    config = None
    config_path = folder / CONFIG_FILE
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"{config_path}: not valid JSON ({exc})") from exc
        if not isinstance(config, dict):
            raise CheckpointError(f"{config_path}: expected a JSON object, got {type(config).__name__}")
    sources = {name: str(folder / PUBLISHED_WEIGHT_FILES[name]) for name in MODULE_NAMES}
    spec = spec_from_state_dicts(
        states, charset=charset, config=config, name="v1" if config is None else "v2", sources=sources
    )
    model = _empty_model(spec)
    for name in MODULE_NAMES:
        load_state_dict_strict(getattr(model, name), states[name], source=sources[name])
    return model


def _read_pth(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types (pickle, zip, runtime); all mean "unreadable"
        raise CheckpointError(f"{path}: cannot read the state dict ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: expected a flat state dict (name -> tensor), got {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"{path}: expected a flat state dict (name -> tensor), but key {key!r} holds a {type(value).__name__}"
            )
    return dict(state)


class _Config:
    """Typed access to ``model_config.json`` values, with errors naming the key."""

    def __init__(self, data: Mapping[str, Any] | None, source: str) -> None:
        self.data = {} if data is None else dict(data)
        self.source = source

    def __contains__(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def get_int(self, key: str, default: int) -> int:
        if key not in self:
            return default
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise CheckpointError(f"{self.source}: key {key!r} must be an integer, got {value!r}")
        return int(value)

    def get_float(self, key: str, default: float) -> float:
        if key not in self:
            return default
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CheckpointError(f"{self.source}: key {key!r} must be a number, got {value!r}")
        return float(value)

    def get_bool(self, key: str, default: bool) -> bool:
        if key not in self:
            return default
        value = self.data[key]
        if not isinstance(value, bool):
            raise CheckpointError(f"{self.source}: key {key!r} must be true or false, got {value!r}")
        return value

    def check(self, key: str, actual: int, source: str, weight_key: str) -> None:
        """Raise if the config states ``key`` and it disagrees with the value read from the weights."""
        if key in self and self.get_int(key, actual) != actual:
            raise CheckpointError(
                f"{self.source}: {key}={self.data[key]!r} disagrees with {source} key {weight_key!r} "
                f"(which gives {actual})"
            )


def _shape(state: Mapping[str, torch.Tensor], key: str, source: str) -> tuple[int, ...]:
    if key not in state:
        raise CheckpointError(f"{source}: missing key {key!r}")
    return tuple(state[key].shape)


def _count(state: Mapping[str, torch.Tensor], pattern: str) -> int:
    """Number of distinct integers ``i`` such that some key matches ``pattern`` with ``(\\d+)`` = i."""
    regex = re.compile(pattern)
    return len({m.group(1) for key in state if (m := regex.match(key))})


def _per_stage(values: list[int]) -> tuple[int, int, int, int]:
    """The four per-stage values of a backbone as the fixed-length tuple ``RegNetConfig`` holds."""
    first, second, third, fourth = values
    return first, second, third, fourth


def _detector_config(state: Mapping[str, torch.Tensor], cfg: _Config, source: str) -> DetectorConfig:
    stem_width = _shape(state, "extractor.base.0.weight", source)[0]
    widths, depths, group_widths, multipliers = [], [], [], set()
    se_pairs: list[tuple[int, int, str]] = []
    width_in = stem_width
    for level in range(4):
        prefix = f"extractor.levels.{level}.block{level + 1}-"
        depth = _count(state, re.escape(prefix) + r"(\d+)\.")
        if depth == 0:
            raise CheckpointError(f"{source}: missing key {prefix + '0.f.a.0.weight'!r} (backbone level {level})")
        width = _shape(state, f"{prefix}0.f.c.0.weight", source)[0]
        bottleneck = _shape(state, f"{prefix}0.f.a.0.weight", source)[0]
        multipliers.add(bottleneck / width)
        group_widths.append(_shape(state, f"{prefix}0.f.b.0.weight", source)[1])
        for j in range(depth):
            key = f"{prefix}{j}.f.se.fc1.weight"
            if key in state:
                se_pairs.append((state[key].shape[0], width_in if j == 0 else width, key))
        widths.append(width)
        depths.append(depth)
        width_in = width
    if len(multipliers) != 1:
        raise CheckpointError(f"{source}: the backbone stages use different bottleneck multipliers {multipliers}")
    se_ratio = 0.0
    if se_pairs:
        # The widest block input gives the least rounded ratio; every block must then round to its own size.
        squeeze, block_in, _ = max(se_pairs, key=lambda p: p[1])
        se_ratio = squeeze / block_in
        for squeeze, block_in, key in se_pairs:
            if int(round(se_ratio * block_in)) != squeeze:
                raise CheckpointError(f"{source}: key {key!r} does not fit SE ratio {se_ratio} of the other blocks")
    backbone = RegNetConfig(
        stem_width=stem_width,
        widths=_per_stage(widths),
        depths=_per_stage(depths),
        group_widths=_per_stage(group_widths),
        se_ratio=se_ratio,
        bottleneck_multiplier=multipliers.pop(),
    )
    if "backbone" in cfg:
        named = cfg.data["backbone"]
        if named not in NAMED_BACKBONES:
            raise CheckpointError(f"{cfg.source}: unknown backbone {named!r} (known: {sorted(NAMED_BACKBONES)})")
        if NAMED_BACKBONES[named] != backbone:
            raise CheckpointError(
                f"{cfg.source}: backbone {named!r} disagrees with the backbone of {source} ({backbone})"
            )
    merge_a, merge_b, merge_c = (_shape(state, f"merge.post_upsamples.{i}.1.0.weight", source)[0] for i in range(3))
    merge_widths = (merge_a, merge_b, merge_c)
    num_aspp = _count(state, r"output\.preds\.(\d+)\.kernels\.")
    if num_aspp:
        branches = _count(state, r"output\.preds\.0\.kernels\.(\d+)\.")
        head_width = _shape(state, "output.preds.0.kernels.0.0.weight", source)[0]
    else:
        branches = 7
        head_width = _shape(state, "output.preds.0.0.weight", source)[0]
    return DetectorConfig(
        backbone=backbone,
        merge_widths=merge_widths,
        # Dilations are not visible in shapes; the published ASPP uses 2**i for branch i (spec §3.4).
        aspp_dilations=tuple(2**i for i in range(branches)),
        num_aspp=num_aspp,
        scope=cfg.get_float("scope", _DEFAULT_SCOPE),
        head_width=None if head_width == merge_widths[-1] else head_width,
    )


def _recognizer_config(
    state: Mapping[str, torch.Tensor], cfg: _Config, source: str, *, in_channels: int
) -> RecognizerConfig:
    num_tokens = _shape(state, "classifier.weight", source)[0]
    _, feature_depth, max_width = _shape(state, "position_encoding", source)
    if feature_depth % 2:
        raise CheckpointError(f"{source}: key 'position_encoding' has odd width {feature_depth}")
    conv_out, nic = _shape(state, "encoder.0.0.weight", source)[:2]
    if nic != in_channels:
        raise CheckpointError(
            f"{source}: key 'encoder.0.0.weight' reads {nic} channels but the detector features have {in_channels}"
        )
    num_layers = _count(state, r"tx\.layers\.(\d+)\.")
    if num_layers == 0:
        raise CheckpointError(f"{source}: missing key 'tx.layers.0.linear1.weight'")
    feedforward = _shape(state, "tx.layers.0.linear1.weight", source)[0]
    depth = feature_depth // 2
    cfg.check("num_tokens", num_tokens, source, "classifier.weight")
    cfg.check("max_width", max_width, source, "position_encoding")
    cfg.check("depth", depth, source, "position_encoding")
    cfg.check("num_layers", num_layers, source, "tx.layers.*")
    cfg.check("dim_feedforward", feedforward, source, "tx.layers.0.linear1.weight")
    return RecognizerConfig(
        depth=depth,
        num_layers=num_layers,
        nhead=cfg.get_int("nhead", _DEFAULT_NHEAD),
        dim_feedforward=None if feedforward == feature_depth else feedforward,
        max_width=max_width,
        num_tokens=num_tokens,
        use_pre_norm=cfg.get_bool("has_pre_norm", "pre_norm.weight" in state),
        use_final_norm=cfg.get_bool("has_tx_norm", "tx.norm.weight" in state),
        norm_first=cfg.get_bool("norm_first", False),
        conv_width=None if conv_out == nic else conv_out,
    )


def _relational_config(
    state: Mapping[str, torch.Tensor], source: str, *, in_channels: int, recog_depth: int
) -> RelationalConfig:
    proj_shape = _shape(state, "rect_proj.0.weight", source)
    if proj_shape[:2] != (in_channels, in_channels):
        raise CheckpointError(
            f"{source}: key 'rect_proj.0.weight' has shape {list(proj_shape)} but the detector features have "
            f"{in_channels} channels"
        )
    recog_shape = _shape(state, "recog_tx.weight", source)
    if recog_shape[1] != recog_depth:
        raise CheckpointError(
            f"{source}: key 'recog_tx.weight' reads {recog_shape[1]} features but the recognizer gives {recog_depth}"
        )
    token_width = _shape(state, "encoder.1.weight", source)[1]
    num_layers = _count(state, r"encoder\.0\.layers\.(\d+)\.")
    if num_layers == 0:
        raise CheckpointError(f"{source}: missing key 'encoder.0.layers.0.linear1.weight'")
    return RelationalConfig(
        k=_RELATIONAL_K,
        num_layers=num_layers,
        nhead=_RELATIONAL_NHEAD,
        dim_feedforward=_shape(state, "encoder.0.layers.0.linear1.weight", source)[0],
        initial_depth=token_width // 2,
        dropout=_RELATIONAL_DROPOUT,
    )


def _published_config(spec: ModelSpec) -> dict[str, Any]:
    """The ``model_config.json`` keys of spec §2.4 describing ``spec``."""
    rec = spec.recognizer
    config: dict[str, Any] = {
        "scope": spec.detector.scope,
        "max_width": rec.max_width,
        "num_tokens": rec.num_tokens,
        "infer_length": spec.preprocess.infer_length,
        "has_pre_norm": rec.use_pre_norm,
        "has_tx_norm": rec.use_final_norm or rec.norm_first,
        "recognizer_variant": "prenorm" if (rec.use_pre_norm or rec.use_final_norm or rec.norm_first) else "standard",
        "depth": rec.depth,
        "num_layers": rec.num_layers,
        "nhead": rec.nhead,
        "dim_feedforward": rec.dim_feedforward,
        "norm_first": rec.norm_first,
    }
    for backbone_name, backbone in NAMED_BACKBONES.items():
        if backbone == spec.detector.backbone:
            config["backbone"] = backbone_name
    return config


def _unpublishable(spec: ModelSpec, layout: str) -> list[str]:
    """List the spec values that the published files cannot carry (they are fixed in the published code)."""
    problems = []
    dilations = spec.detector.aspp_dilations
    if dilations != tuple(2**i for i in range(len(dilations))):
        problems.append(f"ASPP dilations {dilations} are not 1, 2, 4, ...")
    rel, published_rel = spec.relational, RelationalConfig()
    for field in ("k", "nhead", "quad_downscale", "grid_size"):
        if getattr(rel, field) != getattr(published_rel, field):
            problems.append(f"relational.{field} = {getattr(rel, field)} (published: {getattr(published_rel, field)})")
    if layout == "v1":
        # No model_config.json: these take the package defaults when read back.
        fixed = {
            "detector.scope": (spec.detector.scope, _DEFAULT_SCOPE),
            "preprocess.infer_length": (spec.preprocess.infer_length, _DEFAULT_INFER_LENGTH),
            "recognizer.nhead": (spec.recognizer.nhead, _DEFAULT_NHEAD),
            "recognizer.norm_first": (spec.recognizer.norm_first, False),
        }
        problems += [
            f"{key} = {value} (v1 folders imply {default})"
            for key, (value, default) in fixed.items()
            if value != default
        ]
    return problems


# ------------------------------------------------------------------------------------------------ helpers


def _empty_model(spec: ModelSpec) -> OCRModel:
    # Built on the meta device: no memory and no random init; load_state_dict_strict assigns the real tensors.
    with torch.device("meta"):
        return OCRModel(spec)


def _more(keys: list[str]) -> str:
    return f" (and {len(keys) - 1} more)" if len(keys) > 1 else ""


def _write_atomic(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` and move the result over ``path``, so a crash never leaves half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
