"""The training loop: one generic :class:`Trainer` step, and :func:`train` which wires the OCR task to it.

:class:`Trainer` knows nothing about OCR: it takes a module whose ``forward(batch)`` returns a
:class:`~textspotter.train.task.StepOutput`, wraps it in DistributedDataParallel when there are several ranks, and
runs gradient accumulation (``no_sync`` on all but the last micro-batch), gradient clipping, the optimizer and the
scheduler. :func:`train` builds everything else from a :class:`~textspotter.train.config.TrainConfig`: the model
(random, or ``--init`` from a folder), the data stream, the joint loss module, periodic evaluation, JSONL logs and
the curves PNG, and checkpoints with exact resume (see ``train/checkpoint.py``).

>>> from textspotter.train.config import resolve_config
>>> config = resolve_config(overrides=["model.name=tiny-test", "train.steps=2"])  # doctest: +SKIP
>>> result = train(config)                                                         # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..charset import NUM_SPECIAL_TOKENS, Charset
from ..pipeline.stages import cpu_has_native_bf16
from .checkpoint import (
    capture_rng_state,
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    restore_rng_state,
    save_checkpoint,
)
from .config import OptimSection, TrainConfig, config_to_dict
from .distributed import DistInfo, all_gather_objects, all_reduce_sums, barrier, init_distributed, shutdown_distributed
from .task import JointTrainingModule, StepOutput, freeze_modules, set_train_mode

__all__ = [
    "Trainer",
    "TrainResult",
    "train",
    "build_model",
    "resize_classifier",
    "resolve_charset",
    "build_optimizer",
    "build_scheduler",
    "lr_factor",
    "amp_dtype_for",
]

LOG_NAME = "log.jsonl"
CURVES_NAME = "curves.png"


def lr_factor(step: int, *, warmup_steps: int, total_steps: int, schedule: str, min_ratio: float) -> float:
    """Learning-rate multiplier after ``step`` optimizer steps: linear warm-up, then cosine, linear or constant.

    >>> [round(lr_factor(s, warmup_steps=2, total_steps=6, schedule="cosine", min_ratio=0.0), 3) for s in range(7)]
    [0.0, 0.5, 1.0, 0.854, 0.5, 0.146, 0.0]
    """
    if warmup_steps > 0 and step < warmup_steps:
        return step / warmup_steps
    if schedule == "constant":
        return 1.0
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, max(0.0, (step - warmup_steps) / span))
    decay = 1.0 - progress if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
    return min_ratio + (1.0 - min_ratio) * decay


EMULATED_BF16_NOTE = (
    "train.amp is bf16 but this CPU has no native bfloat16 (no AVX-512 BF16 or AMX): autocast is emulated, about 25x "
    "slower than float32 here; use train.amp: auto or off"
)
"""The run log's note when bf16 autocast is forced on a CPU that emulates it."""


def amp_dtype_for(setting: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: ``auto`` → bf16 on GPU and on a CPU with native bfloat16 (AVX-512 BF16 or AMX), None
    (float32) on other CPUs; ``bf16`` → bf16; ``off`` → None.

    Why ``auto`` looks at the CPU: where bfloat16 is native, autocast trained the recognizer 2.2× faster (128 against
    58 words per second per thread); where oneDNN emulates it, a recognizer step took 25× longer than in float32
    (0.022 against 0.5 steps per second, an AVX2-only AMD EPYC; benchmarks/RESULTS.md, "Session 46").
    """
    if setting == "bf16":
        return torch.bfloat16
    if setting == "auto" and (device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())):
        return torch.bfloat16
    return None


def build_model(config: TrainConfig) -> nn.Module:
    """Create the ``OCRModel`` to train: ``model.init`` loaded with ``load_model`` or ``model.name`` from the registry.

    ``model.infer_length`` replaces the spec's detector input side (the saved spec carries it).
    """
    from ..models import create_model

    if config.model.init:
        from ..models.checkpoints import load_model

        model = load_model(config.model.init)
        if model.spec.int8 is not None:
            # The int8 ranges were calibrated for the starting weights; training changes them, so checkpoints carry
            # none (calibrate again after training: scripts/calibrate_int8.py).
            model.spec = model.spec.replace(int8=None)
    else:
        model = create_model(config.model.name)
    if config.model.infer_length is not None:
        length = config.model.infer_length
        if length % 32:
            raise ValueError(f"model.infer_length must be a multiple of 32, got {length}")
        spec = model.spec
        model.spec = spec.replace(preprocess=dataclasses.replace(spec.preprocess, infer_length=length))
    # Recognizer settings the config overrides; the spec and the built recognizer must agree on them.
    changes = {
        key: value
        for key, value in (
            ("decoding", config.model.decoding),
            ("max_width", config.model.max_width),
            ("bucket_width", config.model.bucket_width),
            ("attention_window", config.model.attention_window),
            ("global_layers", config.model.global_layers),
            ("column_scale", config.model.column_scale),
        )
        if value is not None
    }
    if changes:
        recognizer = dataclasses.replace(model.spec.recognizer, **changes)  # validates the combination
        resample = recognizer.column_scale != model.recognizer.config.column_scale
        if recognizer.max_width != model.recognizer.max_width or "bucket_width" in changes or resample:
            model.recognizer.set_max_width(recognizer.max_width, recognizer.bucket_width, recognizer.column_scale)
        model.spec = model.spec.replace(recognizer=recognizer)
        model.recognizer.config = recognizer
    if config.model.recognizer_layers is not None or config.model.recognizer_feedforward is not None:
        grow_recognizer(
            model, num_layers=config.model.recognizer_layers, dim_feedforward=config.model.recognizer_feedforward
        )
    if config.model.pixel_scale is not None and config.model.pixel_scale != model.spec.recognizer.pixel_scale:
        add_pixel_stem(model, scale=config.model.pixel_scale, channels=config.model.pixel_channels)
    if config.model.charset is not None:
        resize_classifier(model, resolve_charset(config.model.charset))
    thresholds = {
        name: getattr(config.model, name)
        for name in ("valid_confidence", "orientation_confidence")
        if getattr(config.model, name) is not None
    }
    if thresholds:
        postprocess = dataclasses.replace(model.spec.postprocess, **thresholds)
        model.spec = model.spec.replace(postprocess=postprocess)  # validated by ModelSpec
    if model.spec.charset is None:
        raise ValueError(f"model {model.spec.name!r} has no charset: recognizer targets cannot be encoded")
    return model


def resolve_charset(name: str) -> Charset:
    """Return the charset named by ``model.charset``: ``latin``, ``multilingual`` or a ``charset.txt`` path.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: a file that is not a JSON array of strings.
    """
    from ..charset import latin_charset, multilingual_charset

    named = {"latin": latin_charset, "multilingual": multilingual_charset}
    if name in named:
        return named[name]()
    return Charset.from_file(name)


@torch.no_grad()
def resize_classifier(model: nn.Module, charset: Charset) -> None:
    """Give ``model`` (an ``OCRModel``) the charset ``charset``, resizing the recognizer's classifier in place.

    The rows of the special tokens (blank, end, rare) and of every character both charsets hold are copied from
    the old classifier, so what the model has learnt to read it still reads. The other rows get small random
    weights (as ``Recognizer.reset_parameters``) and a bias of ``mean(old character biases) - log(new rows)``:
    together the new characters start as likely as one average known character, so a model that reads English
    keeps reading it at step 0 instead of spreading its output over thousands of untrained rows.
    The spec's charset and ``num_tokens`` follow. A model without a charset keeps only the special rows.

    Args:
        model: the ``OCRModel`` (``model.spec``, ``model.recognizer.classifier``: ``Linear(D, V)``).
        charset: the new charset (``V' = len(charset) + 3``).
    """
    old_charset = model.spec.charset
    if old_charset == charset:
        return
    old = model.recognizer.classifier
    new = nn.Linear(old.in_features, charset.num_tokens, device=old.weight.device, dtype=old.weight.dtype)
    nn.init.normal_(new.weight, std=0.02)
    old_chars = old.bias[NUM_SPECIAL_TOKENS:]
    base = old_chars.mean() if old_chars.numel() else old.bias.new_zeros(())
    fresh = [c for c in charset.characters if old_charset is None or c not in old_charset]
    new.bias.fill_(float(base) - math.log(max(1, len(fresh))))
    new.weight[:NUM_SPECIAL_TOKENS] = old.weight[:NUM_SPECIAL_TOKENS]
    new.bias[:NUM_SPECIAL_TOKENS] = old.bias[:NUM_SPECIAL_TOKENS]
    if old_charset is not None:
        pairs = [(charset.token_id(c), old_charset.token_id(c)) for c in charset.characters if c in old_charset]
        if pairs:
            dst, src = (torch.tensor(ids, device=old.weight.device) for ids in zip(*pairs))
            new.weight[dst] = old.weight[src]
            new.bias[dst] = old.bias[src]
    new.weight.requires_grad_(old.weight.requires_grad)
    new.bias.requires_grad_(old.bias.requires_grad)
    model.recognizer.classifier = new
    recognizer = dataclasses.replace(model.spec.recognizer, num_tokens=charset.num_tokens)
    model.spec = model.spec.replace(charset=charset, recognizer=recognizer)
    model.recognizer.config = recognizer


@torch.no_grad()
def grow_recognizer(model: nn.Module, *, num_layers: int | None = None, dim_feedforward: int | None = None) -> None:
    """Deepen and/or widen the recognizer's Transformer of ``model`` (an ``OCRModel``) without changing its output.

    The layers are pre-norm (``x + attn(norm1(x))``, then ``x + ffn(norm2(x))``), so a layer whose attention output
    projection and second feed-forward linear are zero adds nothing: new layers are appended after the trained
    ones in that state (their other weights drawn as a fresh ``nn.TransformerEncoderLayer`` draws them). Widening
    the feed-forward block keeps the trained units and adds units with random input weights, zero bias and zero
    output weights. Either way the model reads exactly as before until training moves the new weights; gradients
    reach them at once (a zero output weight still gets the gradient of its unit's activation). The spec follows.

    Args:
        model: the ``OCRModel``; its recognizer must be pre-norm (``norm_first`` or ``use_pre_norm``).
        num_layers: the new layer count, at least the current one; None keeps it.
        dim_feedforward: the new feed-forward width, at least the current one; None keeps it.

    Raises:
        ValueError: a smaller value than the current one, or a post-norm recognizer (its layers cannot be grown
            without changing the output).
    """
    recognizer = model.recognizer
    config = recognizer.config
    layers = recognizer.tx.layers
    new_layers = len(layers) if num_layers is None else num_layers
    new_width = config.feedforward_width if dim_feedforward is None else dim_feedforward
    if new_layers < len(layers) or new_width < config.feedforward_width:
        raise ValueError(
            f"the recognizer can only grow: {len(layers)} layers x {config.feedforward_width} feed-forward units "
            f"asked to become {new_layers} x {new_width}"
        )
    if not (config.norm_first or config.use_pre_norm):
        raise ValueError("only a pre-norm recognizer (norm_first) can grow without changing what it reads")
    reference = recognizer.classifier.weight
    for layer in layers:
        old_width = layer.linear1.out_features
        if new_width == old_width:
            continue
        linear1 = nn.Linear(layer.linear1.in_features, new_width, device=reference.device, dtype=reference.dtype)
        linear2 = nn.Linear(new_width, layer.linear2.out_features, device=reference.device, dtype=reference.dtype)
        linear1.bias.zero_()
        linear1.weight[:old_width] = layer.linear1.weight
        linear1.bias[:old_width] = layer.linear1.bias
        linear2.weight.zero_()
        linear2.weight[:, :old_width] = layer.linear2.weight
        linear2.bias.copy_(layer.linear2.bias)
        for new, old in ((linear1, layer.linear1), (linear2, layer.linear2)):
            new.weight.requires_grad_(old.weight.requires_grad)
            new.bias.requires_grad_(old.bias.requires_grad)
        layer.linear1, layer.linear2 = linear1, linear2
    for _ in range(new_layers - len(layers)):
        template = layers[0]
        layer = nn.TransformerEncoderLayer(
            d_model=template.linear1.in_features,
            nhead=template.self_attn.num_heads,
            dim_feedforward=new_width,
            dropout=config.dropout,
            batch_first=True,
            norm_first=True,
            device=reference.device,
            dtype=reference.dtype,
        )
        nn.init.zeros_(layer.self_attn.out_proj.weight)
        nn.init.zeros_(layer.self_attn.out_proj.bias)
        nn.init.zeros_(layer.linear2.weight)
        nn.init.zeros_(layer.linear2.bias)
        layer.requires_grad_(reference.requires_grad)
        layers.append(layer)
    recognizer.tx.num_layers = len(layers)
    grown = dataclasses.replace(config, num_layers=len(layers), dim_feedforward=new_width)
    model.spec = model.spec.replace(recognizer=grown)
    recognizer.config = grown


@torch.no_grad()
def add_pixel_stem(model: nn.Module, *, scale: int, channels: int = 16) -> None:
    """Give the recognizer of ``model`` (an ``OCRModel``) a pixel stem without changing what it reads.

    A fresh ``models.recognizer.pixel_stem`` (``RecognizerConfig.pixel_scale = scale``) is attached, randomly
    initialised, and the encoder's first convolution gets ``channels`` more input channels with zero weights: the
    model reads exactly as before at step 0, and the new weights get gradients at once (the stem's output is not
    zero, so the zero weights reading it are not stuck; the stem learns as soon as they move). The spec follows.

    Args:
        model: the ``OCRModel``; its recognizer must have no pixel stem yet.
        scale: 2 or 4 (``RecognizerConfig.pixel_scale``).
        channels: ``RecognizerConfig.pixel_channels``.

    Raises:
        ValueError: a recognizer that already reads pixels, or a bad ``scale`` / ``channels``.
    """
    from ..models.recognizer import pixel_stem

    recognizer = model.recognizer
    config = recognizer.config
    if config.pixel_scale:
        raise ValueError(f"the recognizer already reads pixels (pixel_scale {config.pixel_scale})")
    grown = dataclasses.replace(config, pixel_scale=scale, pixel_channels=channels)  # validates
    first = recognizer.encoder[0][0]
    reference = first.weight
    wider = nn.Conv2d(
        first.in_channels + channels,
        first.out_channels,
        first.kernel_size,
        padding=first.padding,
        bias=first.bias is not None,
        device=reference.device,
        dtype=reference.dtype,
    )
    wider.weight.zero_()
    wider.weight[:, : first.in_channels] = first.weight
    if first.bias is not None:
        wider.bias.copy_(first.bias)
    wider.requires_grad_(reference.requires_grad)
    recognizer.encoder[0][0] = wider
    stem = pixel_stem(grown)
    assert stem is not None
    for module in stem.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(module.bias)
    stem.to(device=reference.device, dtype=reference.dtype).requires_grad_(reference.requires_grad)
    stem.train(recognizer.training)
    recognizer.pixel_stem = stem
    model.spec = model.spec.replace(recognizer=grown)
    recognizer.config = grown


def _is_no_decay(name: str, parameter: nn.Parameter) -> bool:
    # Biases, norm/BN scales and the learned position encoding are not weight-decayed (standard AdamW practice).
    return parameter.ndim <= 1 or name.endswith("position_encoding")


def _under(name: str, module: str) -> bool:
    """Whether parameter ``name`` (``recognizer.encoder.0.0.weight``) lies in ``module`` (``recognizer``)."""
    return name == module or name.startswith(module + ".")


def build_optimizer(model: nn.Module, optim: OptimSection) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters, grouped by (top-level module learning-rate scale, weight decay)."""
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
    names = [name for name, _ in model.named_parameters()]
    unknown = [key for key in optim.lr_scale if not any(_under(name, key) for name in names)]
    if unknown:
        raise ValueError(f"optim.lr_scale names unknown modules: {sorted(unknown)}")
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        # The longest key naming a module above the parameter sets its scale (recognizer.pixel_stem before recognizer).
        keys = [key for key in optim.lr_scale if _under(name, key)]
        scale = float(optim.lr_scale[max(keys, key=len)]) if keys else 1.0
        groups.setdefault((scale, _is_no_decay(name, parameter)), []).append(parameter)
    if not groups:
        raise ValueError("nothing to train: every parameter is frozen")
    param_groups = [
        {"params": params, "lr": optim.lr * scale, "weight_decay": 0.0 if no_decay else optim.weight_decay}
        for (scale, no_decay), params in sorted(groups.items())
    ]
    return torch.optim.AdamW(param_groups, lr=optim.lr, betas=tuple(optim.betas), eps=optim.eps)


def build_scheduler(optimizer: torch.optim.Optimizer, optim: OptimSection, total_steps: int) -> Any:
    """A ``LambdaLR`` applying :func:`lr_factor` to every group's base learning rate."""

    def factor(step: int) -> float:
        return lr_factor(
            step,
            warmup_steps=optim.warmup_steps,
            total_steps=total_steps,
            schedule=optim.schedule,
            min_ratio=optim.min_lr_ratio,
        )

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _apply_configured_rates(optimizer: torch.optim.Optimizer, scheduler: Any, configured: list[float]) -> list[str]:
    """Give a resumed run the base learning rates of its config (``optim.lr`` × ``optim.lr_scale``).

    The optimizer's and scheduler's saved state carry the base rates the run started with; a config that changes
    ``optim.lr`` or ``optim.lr_scale`` for the rest of a run (in a way that keeps the parameter groups: same
    modules trained, scales in the same order) takes effect from the resumed step, with the schedule's factor at
    that step. Returns one line per group whose rate changed (the run log records them).
    """
    changes = []
    factor = scheduler.lr_lambdas[0](scheduler.last_epoch)
    for index, (group, rate) in enumerate(zip(optimizer.param_groups, configured, strict=True)):
        saved = float(group["initial_lr"])
        if math.isclose(saved, rate, rel_tol=1e-9):
            continue
        group["initial_lr"] = rate
        group["lr"] = rate * factor
        scheduler.base_lrs[index] = rate
        changes.append(f"parameter group {index}: base learning rate {saved:.3g} -> {rate:.3g} from this step")
    if changes:
        scheduler._last_lr = [float(group["lr"]) for group in optimizer.param_groups]
    return changes


class Trainer:
    """One optimizer step over a list of micro-batches (generic: any module returning ``StepOutput``).

    Args:
        module: ``forward(batch) -> StepOutput``; batches must have ``.to(device)``.
        optimizer: over the module's trainable parameters.
        scheduler: stepped once per optimizer step.
        info: the process group; with several ranks the module is wrapped in DistributedDataParallel.
        grad_clip: global gradient-norm clip (0 disables).
        train_mode: puts the module in training mode (frozen parts in eval mode) before each step.
        find_unused_parameters: DDP option.
    """

    def __init__(
        self,
        module: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        *,
        info: DistInfo,
        grad_clip: float = 0.0,
        train_mode: Callable[[], None] | None = None,
        find_unused_parameters: bool = True,
    ) -> None:
        self.inner = module
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.info = info
        self.grad_clip = grad_clip
        self.train_mode = train_mode or module.train
        if info.distributed:
            device_ids = [info.device.index] if info.device.type == "cuda" else None
            self.module: nn.Module = DistributedDataParallel(
                module, device_ids=device_ids, find_unused_parameters=find_unused_parameters
            )
        else:
            self.module = module
        self.parameters = [p for p in module.parameters() if p.requires_grad]

    def step(self, micro_batches: list[Any]) -> dict[str, float]:
        """Forward/backward every micro-batch, then clip and step once.

        Returns:
            This rank's sums over the micro-batches of ``loss`` and each loss part, plus ``micro_batches``,
            ``grad_norm`` (before clipping) and ``lr`` (of the first group, after this step's update).
        """
        self.train_mode()
        self.optimizer.zero_grad(set_to_none=True)
        sums: dict[str, float] = {"micro_batches": float(len(micro_batches))}
        for i, batch in enumerate(micro_batches):
            last = i == len(micro_batches) - 1
            sync = contextlib.nullcontext() if last or not self.info.distributed else self.module.no_sync()
            with sync:
                output: StepOutput = self.module(batch.to(self.info.device, non_blocking=True))
                (output.loss / len(micro_batches)).backward()
            sums["loss"] = sums.get("loss", 0.0) + float(output.loss.detach())
            for key, value in output.parts.items():
                sums[key] = sums.get(key, 0.0) + float(value)
        if self.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.parameters, self.grad_clip)
        else:
            norm = torch.linalg.vector_norm(
                torch.stack([p.grad.norm() for p in self.parameters if p.grad is not None] or [torch.zeros(())])
            )
        sums["grad_norm"] = float(norm)
        self.optimizer.step()
        self.scheduler.step()
        sums["lr"] = float(self.optimizer.param_groups[0]["lr"])
        return sums


@dataclass
class TrainResult:
    """What :func:`train` returns (on every rank).

    Attributes:
        step: optimizer steps done.
        out_dir: the run folder.
        evaluation: the last evaluation's rates (empty if none ran).
        checkpoint: the last checkpoint folder written (None if none).
        throughput: ``steps_per_s`` and ``pages_per_s`` (all ranks) over this process's training time.
        model: the trained ``OCRModel`` (on the training device, in training mode).
    """

    step: int
    out_dir: Path
    evaluation: dict[str, float] = field(default_factory=dict)
    checkpoint: Path | None = None
    throughput: dict[str, float] = field(default_factory=dict)
    model: nn.Module | None = None


class _RunLog:
    """JSONL log and curves PNG of a run; writes only on rank 0."""

    def __init__(self, out_dir: Path, enabled: bool, echo: Callable[[str], None] | None) -> None:
        self.path = out_dir / LOG_NAME
        self.curves = out_dir / CURVES_NAME
        self.enabled = enabled
        self.echo = echo if enabled else None

    def truncate_after(self, step: int) -> None:
        """Drop records of steps after ``step`` (a resumed run re-does them)."""
        if not self.enabled or not self.path.is_file():
            return
        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
        kept = [line for line in kept if json.loads(line).get("step", 0) <= step]
        self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if self.echo is not None:
            shown = " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items() if k != "time"
            )
            self.echo(shown)

    def plot(self) -> None:
        if not self.enabled:
            return
        from .plot import plot_curves, read_log

        plot_curves(read_log(self.path), self.curves)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def sample_builder(spec: Any, data: Any) -> Any:
    """Return the ``SampleBuilder`` that turns pages into training windows for a model spec and a ``DataSection``."""
    from ..data.dataset import SampleBuilder

    return SampleBuilder(
        preprocess=spec.preprocess,
        charset=spec.charset,
        max_width=spec.recognizer.max_width,
        targets=data.targets,
        augment=data.augment,
        crop_size=data.crop_size,
        crop_height=data.crop_height,
    )


def _make_stream(config: TrainConfig, model: nn.Module, info: DistInfo, start_batch: int) -> Any:
    from ..data.dataset import TrainingStream, build_sources

    data = config.data
    sources = build_sources(data.mix(), seed=data.seed)
    return TrainingStream(
        sources,
        sample_builder(model.spec, data),
        batch_size=data.batch_size,
        seed=data.seed,
        rank=info.rank,
        world_size=info.world_size,
        start_batch=start_batch,
        shuffle=data.shuffle,
    )


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, config: TrainConfig, *, windows: int, start_batch: int = 0) -> int:
    """Re-estimate the recognizer's BatchNorm running statistics over ``windows`` training windows.

    Training leaves each BatchNorm layer's running mean and variance an exponential average (momentum 0.1) of the
    last ten or twenty micro-batches, so they follow whatever the data stream served last: with a mix of scripts,
    checkpoints 500 steps apart read Russian words from their true boxes at 6 % and 12 % character error, and the
    later checkpoint's weights with the earlier one's statistics at 7 % again (benchmarks/RESULTS.md, "Session
    28"). This replaces them by the plain average over many windows of the config's data mix (``momentum=None``),
    every weight unchanged ("precise BatchNorm").

    The detector runs in eval mode and the recognizer reads the strips of the windows' true regions, as in
    training, in train mode for its statistics only (its dropout is 0 in the shipped models).

    Args:
        model: the ``OCRModel`` (CPU or GPU); left in eval mode.
        config: the training configuration whose ``data`` section serves the windows.
        windows: how many windows to average over (whole micro-batches, so up to ``batch_size - 1`` more).
        start_batch: where in the data stream to start.

    Returns:
        The number of windows used.
    """
    from ..data.dataset import make_loader
    from ..ops.rectify import region_counts_to_indices
    from ..pipeline.stages import ink_map, read_strip_buckets

    if windows < 1:
        raise ValueError(f"windows must be >= 1, got {windows}")
    layers = [m for m in model.recognizer.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over the forward passes
    device = next(model.parameters()).device
    info = DistInfo(rank=0, world_size=1, local_rank=0, device=device)
    loader = make_loader(_make_stream(config, model, info, start_batch), workers=config.data.workers)
    model.eval()
    model.recognizer.train()
    used = 0
    try:
        for batch in loader:
            if used >= windows:
                break
            images = batch.images.to(device)
            if batch.num_regions:
                read_strip_buckets(
                    model.recognizer,
                    model.detector(images).features.float(),
                    batch.quads.to(device),
                    region_counts_to_indices(batch.region_counts, batch.num_regions).to(device),
                    input_size=(images.shape[2], images.shape[3]),
                    ink=ink_map(images).float().div_(255.0) if model.spec.recognizer.pixel_scale else None,
                )
            used += batch.num_pages
    finally:
        for layer, momentum in zip(layers, saved, strict=True):
            layer.momentum = momentum
        model.eval()
    return used


def _eval_pages(config: TrainConfig, info: DistInfo) -> list[Any] | None:
    """This rank's held-out pages, or None when the config names no held-out split."""
    from .evaluate import manifest_eval_pages, synthetic_eval_pages

    if config.eval.manifests:
        return manifest_eval_pages(config.eval.manifests, info=info)
    training_synth = config.data.synth_options()
    if training_synth is None and not config.eval.synth:
        return None
    options = config.eval.synth or training_synth
    return synthetic_eval_pages(options, seed=config.eval.seed, count=config.eval.pages, info=info)


def _parameter_checksum(model: nn.Module) -> float:
    """Sum of all parameter values (float64): equal on every rank when DDP keeps them in sync."""
    with torch.no_grad():
        return float(sum(p.detach().double().sum() for p in model.parameters()))


def _mean_parts(sums: dict[str, float]) -> dict[str, float]:
    batches = max(sums.get("micro_batches", 0.0), 1.0)
    steps = max(sums.get("steps", 0.0), 1.0)
    out = {}
    for key, value in sums.items():
        if key in ("micro_batches", "steps", "pages"):
            continue
        out[key] = value / (steps if key in ("grad_norm", "lr") else batches)
    return out


def train(
    config: TrainConfig,
    *,
    log: Callable[[str], None] | None = None,
    env: dict[str, str] | None = None,
    stop_after: int | None = None,
) -> TrainResult:
    """Train (or resume training) as ``config`` says; run under ``torchrun`` for several processes.

    Args:
        config: the resolved configuration.
        log: receives one human-readable line per log record (rank 0 only), e.g. ``print``.
        env: environment to read the ``torchrun`` variables from (default ``os.environ``).
        stop_after: stop after this optimizer step even though ``train.steps`` is larger (the schedule still
            follows ``train.steps``); the interruption drill of the resume tests.

    Returns:
        A :class:`TrainResult`.
    """
    info = init_distributed(config.train.device, env=env)
    try:
        return _train(config, info, log, stop_after)
    finally:
        # The training closures form reference cycles that keep the DistributedDataParallel wrapper, and through
        # its reducer the process group, alive after _train returns. Left to the interpreter's final teardown, gloo
        # then joins its worker threads too late and the process aborts ("terminate called without an active
        # exception") after a successful run. Collect them first so destroy_process_group really ends the group.
        gc.collect()
        shutdown_distributed(info)


def _train(
    config: TrainConfig, info: DistInfo, log: Callable[[str], None] | None, stop_after: int | None
) -> TrainResult:
    from ..data.dataset import make_loader
    from ..models.registry import OCRModel
    from ..models.spec import ModelSpec

    run = config.train
    if run.threads > 0:
        torch.set_num_threads(run.threads)
    out_dir = Path(run.out_dir)
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    barrier(info)
    config_yaml = yaml.safe_dump(config_to_dict(config), sort_keys=False)

    resume_from: Path | None = None
    if run.resume == "auto":
        resume_from = latest_checkpoint(out_dir)
    elif run.resume:
        resume_from = Path(run.resume)
    state = load_checkpoint(resume_from) if resume_from is not None else None

    # Same initialisation on every rank (DDP also broadcasts rank 0's weights).
    _seed_everything(run.seed)
    if state is not None:
        model = OCRModel(ModelSpec.from_dict(state["spec"]))
        model.load_state_dict(state["model"])
    else:
        model = build_model(config)
    freeze_modules(model, run.freeze)
    model.to(info.device)
    amp_dtype = amp_dtype_for(run.amp, info.device)
    module = JointTrainingModule(model, config.loss, frozen=run.freeze, amp_dtype=amp_dtype)
    optimizer = build_optimizer(model, config.optim)
    scheduler = build_scheduler(optimizer, config.optim, run.steps)
    step, data_position = 0, 0
    rate_changes: list[str] = []
    if state is not None:
        configured = [float(group["initial_lr"]) for group in optimizer.param_groups]
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, data_position = int(state["step"]), int(state["data_position"])
        rate_changes = _apply_configured_rates(optimizer, scheduler, configured)
        if int(state["world_size"]) != info.world_size:
            raise ValueError(
                f"checkpoint {resume_from} was written by {state['world_size']} ranks; exact resume needs the same "
                f"number, got {info.world_size}"
            )

    run_log = _RunLog(out_dir, info.is_main, log)
    if info.is_main:
        (out_dir / "config.yaml").write_text(config_yaml, encoding="utf-8")
        run_log.truncate_after(step)
        for change in rate_changes:
            run_log.write({"kind": "note", "step": step, "note": change})
        if amp_dtype is not None and info.device.type == "cpu" and not cpu_has_native_bf16():
            run_log.write({"kind": "note", "step": step, "note": EMULATED_BF16_NOTE})
    frozen = list(run.freeze)
    trainer = Trainer(
        module,
        optimizer,
        scheduler,
        info=info,
        grad_clip=config.optim.grad_clip,
        train_mode=lambda: set_train_mode(model, frozen),
        find_unused_parameters=run.find_unused_parameters,
    )
    stream = _make_stream(config, model, info, data_position)
    loader = make_loader(
        stream, workers=config.data.workers, prefetch=config.data.prefetch, pin_memory=info.device.type == "cuda"
    )
    # Starting the loader draws a base seed from torch's generator: do it before the random state is set, so that a
    # resumed run continues exactly where the interrupted one stopped.
    batches: Iterator[Any] = iter(loader)
    if state is not None:
        restore_rng_state(state["rng"][info.rank])
    else:
        # Different dropout / sampling noise per rank; the data stream has its own seeds.
        _seed_everything(run.seed + 1_000_003 * (info.rank + 1))
    eval_pages: list[Any] | None = None
    eval_loaded = False
    result = TrainResult(step=step, out_dir=out_dir, model=model)
    window: dict[str, float] = {}
    window_start = time.perf_counter()
    train_time, pages_done, steps_done = 0.0, 0.0, 0
    last_step = run.steps if stop_after is None else min(run.steps, stop_after)

    def evaluate() -> None:
        nonlocal eval_pages, eval_loaded
        from .evaluate import evaluate_datasets, evaluate_model

        if not eval_loaded:
            eval_pages, eval_loaded = _eval_pages(config, info), True
        rates: dict[str, float] = {}
        if eval_pages is not None:
            rates, _ = evaluate_model(
                model,
                eval_pages,
                device=info.device,
                info=info,
                batch_size=config.eval.batch_size,
                iou_threshold=config.eval.iou_threshold,
            )
        if config.eval.datasets:
            rates.update(
                evaluate_datasets(
                    model,
                    config.eval.datasets,
                    data_root=config.eval.data_root,
                    limit=config.eval.dataset_pages or None,
                    device=info.device,
                    info=info,
                    batch_size=config.eval.batch_size,
                )
            )
        if not rates:
            return
        result.evaluation = rates
        run_log.write({"kind": "eval", "step": step, "time": time.time(), **rates})
        run_log.plot()

    def checkpoint() -> None:
        rng_states = all_gather_objects(capture_rng_state(), info)
        # Every rank must hold the same weights; a silent desync would make the checkpoint rank 0's alone.
        checksums = all_gather_objects(_parameter_checksum(model), info)
        if any(c != checksums[0] for c in checksums):
            raise RuntimeError(f"ranks hold different weights at step {step}: parameter checksums {checksums}")
        if info.is_main:
            trainer_state = {
                "step": step,
                "data_position": data_position,
                "world_size": info.world_size,
                "spec": model.spec.to_dict(),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": rng_states,
                "parameter_checksums": checksums,
            }
            result.checkpoint = save_checkpoint(
                checkpoint_path(out_dir, step), trainer_state, config_yaml=config_yaml, model=model
            )
            prune_checkpoints(out_dir, run.keep_checkpoints)
            run_log.plot()
        barrier(info)

    try:
        while step < last_step:
            started = time.perf_counter()
            micro = [next(batches) for _ in range(run.accumulate)]
            data_wait = time.perf_counter() - started
            sums = trainer.step(micro)
            elapsed = time.perf_counter() - started
            step += 1
            data_position += run.accumulate
            train_time += elapsed
            steps_done += 1
            pages = float(sum(b.num_pages for b in micro))
            pages_done += pages
            for key, value in sums.items():
                window[key] = window.get(key, 0.0) + value
            window["steps"] = window.get("steps", 0.0) + 1
            window["pages"] = window.get("pages", 0.0) + pages
            window["data_wait"] = window.get("data_wait", 0.0) + data_wait
            if step % run.log_every == 0 or step == last_step:
                totals = all_reduce_sums(window, info)
                seconds = time.perf_counter() - window_start
                record = {"kind": "train", "step": step, "time": time.time(), **_mean_parts(totals)}
                record["pages"] = totals["pages"]
                record["data_wait"] = totals["data_wait"] / max(totals["steps"], 1.0)
                record["steps_per_s"] = window["steps"] / max(seconds, 1e-9)
                record["pages_per_s"] = totals["pages"] / max(seconds, 1e-9)
                run_log.write(record)
                window, window_start = {}, time.perf_counter()
            if config.eval.every and step % config.eval.every == 0 or (step == run.steps and config.eval.at_end):
                evaluate()
            if (run.checkpoint_every and step % run.checkpoint_every == 0) or step == last_step:
                checkpoint()
    finally:
        del batches  # shuts the DataLoader workers down
    result.step = step
    world_pages = all_reduce_sums({"pages": pages_done}, info)["pages"]
    result.throughput = {
        "steps_per_s": steps_done / max(train_time, 1e-9),
        "pages_per_s": world_pages / max(train_time, 1e-9),
    }
    return result
