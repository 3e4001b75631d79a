"""Int8 convolutions on a CPU: the recognizer's encoder and the detector (**ours**; not published).

Convolutions are nearly all of a page's CPU time: the detector's backbone, feature merge and head at 1536 pixels, and
the recognizer's convolutional encoder (seven 3 × 3 / 1 × 1 convolutions over ~500 strips of 8 × 48 feature cells a
page). With x86's int8 kernels (AVX-512 VNNI or AVX2) they run in a fraction of their float32 time, and the
encoder in about half its bfloat16 time (benchmarks/RESULTS.md, "Session 30"). The detector head's last 1 × 1
convolution (to the confidence and box channels), the recognizer's Transformer and everything after stay float,
under the precision the options give.

Each ``Conv2d → BatchNorm2d [→ ReLU]`` block is folded into one convolution, its weights quantized per output
channel (signed 8-bit, symmetric) when the int8 networks are built, so a model folder keeps its float weights. What
cannot be derived from the weights is each activation's range: the network's input and every activation it makes get
a ``(scale, zero_point)`` on unsigned 7-bit values (the x86 kernels' range, so that int32 sums cannot overflow),
calibrated once on pages (:func:`calibrate`, :func:`calibrate_detector`; ``scripts/calibrate_int8.py``) and kept in
the model's spec (:class:`~.spec.Int8Config`). The networks are built directly on PyTorch's quantized CPU kernels
(``torch.ops.quantized``; no graph tracing), in a fraction of a second when a model first reads. The detector body
and head are walked by functions (:func:`_walk_body`, :func:`_walk_head`) that the float calibration pass and the
int8 pass share, so their activations correspond one to one.

Row pooling is a max over row pairs, which commutes with the monotone quantization: the int8 encoder's pooling is
exact.

>>> from textspotter.models import create_model
>>> model = create_model("tiny-test").eval()
>>> strips = torch.rand(16, model.recognizer.in_channels, 8, model.recognizer.max_width)
>>> config = calibrate(model, [strips])
>>> encoder = Int8Encoder(model.recognizer, config)
>>> float_out, int8_out = model.recognizer.encoder(strips), encoder(strips)
>>> error = ((int8_out - float_out).norm() / float_out.norm()).item()
>>> int8_out.shape == float_out.shape, error < 0.05
(True, True)
"""

from __future__ import annotations

import contextlib
import functools
import threading
import warnings
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from .recognizer import Recognizer
from .spec import Int8Config

__all__ = [
    "int8_available",
    "calibrate",
    "calibrate_detector",
    "Int8Encoder",
    "Int8Detector",
    "int8_recognizer",
    "cached_int8_recognizer",
    "cached_int8_detector",
]

_QUANT_MAX = 127  # unsigned 7-bit activations: what x86's int8 convolutions expect (reduce_range)
_ENGINES = ("x86", "fbgemm")
_PACKING = threading.Lock()  # the quantized engine is process-wide: one packing at a time switches it


@functools.lru_cache(maxsize=1)
def int8_pack_engine() -> str:
    """The quantized engine the int8 convolutions are packed for: ``"onednn"`` on a CPU whose best instruction set is
    AVX2 (no AVX-512), else the engine selected (``"x86"``, which picks FBGEMM's kernels).

    The packed weights carry their engine, so a convolution packed for oneDNN runs oneDNN's kernel whatever engine the
    process selects later. On an AVX2-only AMD EPYC (Zen 3) oneDNN's kernels took 0.63× FBGEMM's time on the
    recognizer's encoder and 0.78× on the detector at 1 thread, with int8 values that differ only in rounding
    (benchmarks/RESULTS.md, "Session 45"); on AVX-512 CPUs FBGEMM's kernels were the ones measured, and stay.
    """
    if torch.backends.cpu.get_cpu_capability() == "AVX2" and "onednn" in torch.backends.quantized.supported_engines:
        return "onednn"
    return torch.backends.quantized.engine


_ONEDNN_MIN_CHANNELS = 16  # oneDNN packs only convolutions at least this wide (input per group and output)


@contextlib.contextmanager
def _packing_engine(conv: nn.Conv2d) -> Iterator[None]:
    """Select :func:`int8_pack_engine` while ``conv``'s weights are packed, and the caller's engine again after.

    Convolutions narrower than :data:`_ONEDNN_MIN_CHANNELS` channels stay with the selected engine: oneDNN's kernel
    for a 1 × 1 convolution of 8 to 8 channels (the tiny test model's) gave one of two results, up to 31 int8 steps
    apart, from one process to the next; every convolution of the shipped models gave the same bytes in six processes.
    """
    wide = min(conv.in_channels // conv.groups, conv.out_channels) >= _ONEDNN_MIN_CHANNELS
    engine = int8_pack_engine() if wide else torch.backends.quantized.engine
    with _PACKING:
        previous = torch.backends.quantized.engine
        if previous == engine:
            yield
            return
        torch.backends.quantized.engine = engine
        try:
            yield
        finally:
            torch.backends.quantized.engine = previous


@functools.lru_cache(maxsize=1)
def int8_available() -> bool:
    """Whether this PyTorch build runs int8 convolutions with an x86 engine selected (the x86-64 CPU wheels do).

    Checked once by running a 1 × 1 int8 convolution, so a build whose quantized kernels are missing or have been
    removed (PyTorch marks them deprecated) reads in float instead of failing.
    """
    if torch.backends.quantized.engine not in _ENGINES:
        return False
    try:
        with _quiet():
            weight = torch.quantize_per_channel(
                torch.ones(1, 1, 1, 1),
                torch.ones(1, dtype=torch.double),
                torch.zeros(1, dtype=torch.int64),
                0,
                torch.qint8,
            )
            packed = torch.ops.quantized.conv2d_prepack(weight, None, [1, 1], [0, 0], [1, 1], 1)
            x = torch.quantize_per_tensor(torch.ones(1, 1, 1, 1), 1.0, 0, torch.quint8)
            return float(torch.ops.quantized.conv2d(x, packed, 1.0, 0).dequantize()) == 1.0
    except Exception:  # noqa: BLE001 - any failure means: no usable int8 kernels here
        return False


def _fold(block: nn.Sequential) -> tuple[torch.Tensor, torch.Tensor]:
    """``(weight, bias)`` of ``Conv2d → BatchNorm2d`` as one convolution (float32, the norm's running statistics)."""
    conv, norm = block[0], block[1]
    factor = norm.weight.detach().float() / torch.sqrt(norm.running_var.float() + norm.eps)
    weight = conv.weight.detach().float() * factor[:, None, None, None]
    bias = -norm.running_mean.float() * factor + norm.bias.detach().float()
    if conv.bias is not None:
        bias = bias + conv.bias.detach().float() * factor
    return weight, bias


def _has_relu(block: nn.Sequential) -> bool:
    return any(isinstance(layer, nn.ReLU) for layer in list(block)[2:])


class _QuantizedConv(nn.Module):
    """One int8 convolution (+ ReLU): quantized ``[N, C, H, W]`` in, quantized out at the calibrated qparams."""

    def __init__(self, packed: Any, relu: bool, qparams: tuple[float, int]) -> None:
        super().__init__()
        self.packed = packed
        self.relu = relu
        self.scale, self.zero_point = qparams

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        op = torch.ops.quantized.conv2d_relu if self.relu else torch.ops.quantized.conv2d
        return op(x, self.packed, self.scale, self.zero_point)


def _quantized_conv(conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor | None, relu: bool, qparams: Any) -> Any:
    """An int8 convolution (with ReLU when ``relu``) of ``conv``'s geometry, float ``weight``/``bias`` quantized
    per output channel (symmetric signed 8-bit, the x86 backend's rule), output ``qparams = (scale, zero_point)``."""
    scales = (weight.abs().amax(dim=(1, 2, 3)) / 127.5).clamp(min=1e-8).double()
    zero = torch.zeros(weight.shape[0], dtype=torch.int64)
    qweight = torch.quantize_per_channel(weight.float(), scales, zero, 0, torch.qint8)
    with _packing_engine(conv):
        packed = torch.ops.quantized.conv2d_prepack(
            qweight, bias, list(conv.stride), list(conv.padding), list(conv.dilation), conv.groups
        )
    return _QuantizedConv(packed, relu, qparams)


class _RangeObserver:
    """Running histogram of one activation, turned into ``(scale, zero_point)`` by the x86 histogram rule."""

    def __init__(self) -> None:
        from torch.ao.quantization.observer import HistogramObserver

        self.observer = HistogramObserver(dtype=torch.quint8, quant_min=0, quant_max=_QUANT_MAX)

    def __call__(self, x: torch.Tensor) -> None:
        self.observer(x.detach().float())

    def qparams(self) -> tuple[float, int]:
        scale, zero_point = self.observer.calculate_qparams()
        return float(scale.reshape(-1)[0]), int(zero_point.reshape(-1)[0])


def calibrate(model: Any, strips: Iterable[torch.Tensor], description: str = "") -> Int8Config:
    """Measure the encoder's activation ranges on real strips (histogram observers, the x86 backend's rule).

    Args:
        model: an ``OCRModel`` (eval mode; float weights).
        strips: batches of the encoder's input ``[N, C, 8, W]`` float32 (``Recognizer.encoder_input``: the feature
            strips the pipeline samples from real pages, with a pixel stem's channels when the recognizer has one).
        description: what the strips came from (kept in :attr:`Int8Config.calibration`).

    Returns:
        The :class:`Int8Config` to store in the model's spec (``spec.replace(int8=...)``).

    Raises:
        RuntimeError: without int8 kernels (:func:`int8_available`).
        ValueError: if ``strips`` is empty.
    """
    if not int8_available():
        raise RuntimeError("this PyTorch build has no x86 int8 kernels; int8 calibration needs them")
    ops = _ObservingOps()
    with torch.no_grad(), _quiet():
        for batch in strips:
            x = ops.start(batch.float())
            for module in model.recognizer.encoder:  # ConvNormAct blocks (folded in eval mode) and RowPools
                x = ops.conv(module, x) if isinstance(module, nn.Sequential) else module(x)
    if not ops.observers:
        raise ValueError("calibrate needs at least one batch of strips")
    return Int8Config(recognizer=tuple(o.qparams() for o in ops.observers), calibration=description)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """PyTorch marks its quantized tensors and observers deprecated (in favour of compiled graphs, which a plain
    CPU install cannot use); the kernels work, so the warnings are silenced where this module calls them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        yield


class Int8Encoder(nn.Module):
    """The recognizer's encoder as int8 convolutions: float ``[N, C, 8, W]`` in, float32 ``[N, D, 1, W]`` out.

    Args:
        recognizer: the float recognizer (its encoder's weights and batch-norm statistics are read once).
        config: the calibrated ranges (``spec.int8``); one pair for the input and one per convolution.

    Raises:
        RuntimeError: without int8 kernels.
        ValueError: if ``config`` has no or the wrong number of recognizer ranges.
    """

    def __init__(self, recognizer: Recognizer, config: Int8Config) -> None:
        super().__init__()
        if not int8_available():
            raise RuntimeError("this PyTorch build has no x86 int8 kernels")
        ranges = config.recognizer
        convs = sum(isinstance(module, nn.Sequential) for module in recognizer.encoder)
        if len(ranges) != convs + 1:
            raise ValueError(
                f"Int8Config.recognizer has {len(ranges)} ranges, but this recognizer's encoder needs {convs + 1} "
                "(its input and each convolution): calibrate it again (scripts/calibrate_int8.py)"
            )
        self.input_scale, self.input_zero_point = ranges[0]
        layers: list[nn.Module] = []
        index = 1
        with _quiet():
            for module in recognizer.encoder:
                if not isinstance(module, nn.Sequential):
                    layers.append(nn.MaxPool2d((2, 1)))  # = RowPool on quantized values (max commutes with them)
                    continue
                weight, bias = _fold(module)
                layers.append(_quantized_conv(module[0], weight, bias, True, ranges[index]))
                index += 1
        self.layers = nn.Sequential(*layers)

    def forward(self, strips: torch.Tensor) -> torch.Tensor:
        # No warning filter here (filters are process-wide, not thread-safe): PyTorch warns once per process about
        # its quantized tensors, and int8_available() has already taken that warning quietly.
        # Quantized first, then made channels-last (what x86's int8 convolutions want): the transposing copy then moves
        # one byte per value instead of four (a batch of 128 strips: 14 -> 3-4 ms, the same int8 values).
        q = torch.quantize_per_tensor(strips.float(), self.input_scale, self.input_zero_point, torch.quint8)
        return self.layers(q.contiguous(memory_format=torch.channels_last)).dequantize()


def int8_recognizer(recognizer: Recognizer, config: Int8Config) -> Recognizer:
    """A reading copy of ``recognizer`` whose encoder runs in int8 (:class:`Int8Encoder`); every other parameter
    and module is shared with ``recognizer``. For reading only (no gradients, not for saving)."""
    clone = nn.Module.__new__(type(recognizer))
    clone.__dict__.update(recognizer.__dict__)
    clone._modules = dict(recognizer._modules)
    clone._modules["encoder"] = Int8Encoder(recognizer, config).eval()
    return clone


_CACHE: weakref.WeakKeyDictionary[nn.Module, tuple[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()


def _cached(owner: nn.Module, watched: nn.Module, config: Int8Config, build: Any) -> Any:
    """``build()``'s int8 copy of ``owner``, built once and reused while ``config`` and every parameter and buffer
    of ``watched`` (the float modules the copy was quantized from) are unchanged: a tensor updated in place, as by
    an optimizer step, moves its version counter and builds the copy anew."""
    key = (config, *((id(t), t._version) for t in (*watched.parameters(), *watched.buffers())))
    held = _CACHE.get(owner)
    if held is not None and held[0] == key:
        return held[1]
    copy = build()
    _CACHE[owner] = (key, copy)
    return copy


def cached_int8_recognizer(recognizer: Recognizer, config: Int8Config) -> Recognizer:
    """:func:`int8_recognizer`, built once per recognizer and reused while its encoder's weights, batch-norm
    statistics and ``config`` are unchanged."""
    return _cached(recognizer, recognizer.encoder, config, lambda: int8_recognizer(recognizer, config))


# ---------------------------------------------------------------------------------------------------------------------
# The detector (backbone, feature merge, head)


def _walk_body(detector: Any, x: torch.Tensor, ops: Any) -> torch.Tensor:
    """The detector's backbone and feature merge (``Detector.extractor`` then ``Detector.merge``, the same steps in
    the same order) with every operation that makes a new activation routed through ``ops``: the float pass
    observes each one, the int8 pass runs its quantized kernel. ``x`` is the normalised input."""
    extractor, merge = detector.extractor, detector.merge
    x = ops.conv(extractor.base, ops.start(x))
    levels = []
    for stage in extractor.levels:
        for block in stage:
            shortcut = x if block.proj is None else ops.conv(block.proj, x)
            y = ops.conv(block.f.a, x)
            y = ops.conv(block.f.b, y)
            if hasattr(block.f, "se"):
                y = ops.gate(block.f.se, y)
            y = ops.conv(block.f.c, y)
            x = ops.add_relu(shortcut, y)
        levels.append(x)
    y = levels[-1]
    for i, (pre, post) in enumerate(zip(merge.pre_upsamples, merge.post_upsamples)):
        y = nn.functional.interpolate(ops.conv(pre[0], y), scale_factor=2.0, mode="nearest")
        y = ops.cat([y, levels[-2 - i]])
        y = ops.conv(post[1], ops.conv(post[0], y))
    return ops.conv(merge.final[0], y)


def _walk_head(detector: Any, x: torch.Tensor, ops: Any) -> torch.Tensor:
    """The detector head's layers before its last 1 × 1 convolution (``DetectorHead.preds[:-1]``: the ASPP modules
    and the 3 × 3 block), walked as :func:`_walk_body`; returns that convolution's float input."""
    layers = list(detector.output.preds)
    for layer in layers[:-2]:  # the ASPP modules
        branches = [ops.conv(kernel, x) for kernel in layer.kernels]
        pooled = ops.pooled_conv(layer.global_pool[1], x)
        # Materialised channels-last: quantized.cat of a stride-0 (expanded) tensor takes a slow generic path,
        # ~70 ms against ~3 ms for a DocBank page's 384 × 304 map (benchmarks/RESULTS.md, "Session 31").
        branches.append(pooled.expand(-1, -1, x.shape[2], x.shape[3]).contiguous(memory_format=torch.channels_last))
        y = ops.conv(layer.final, ops.cat(branches))
        x = ops.add(x, y) if layer.residual else y
    return ops.finish(ops.conv(layers[-2], x))


class _ObservingOps:
    """Float operations; each new activation goes to the next observer (calibration)."""

    def __init__(self) -> None:
        self.observers: list[_RangeObserver] = []
        self.index = 0

    def _seen(self, x: torch.Tensor) -> torch.Tensor:
        if self.index == len(self.observers):
            self.observers.append(_RangeObserver())
        self.observers[self.index](x)
        self.index += 1
        return x

    def start(self, x: torch.Tensor) -> torch.Tensor:
        self.index = 0
        return self._seen(x)

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def conv(self, block: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        return self._seen(block(x))

    def gate(self, se: nn.Module, x: torch.Tensor) -> torch.Tensor:
        scale = nn.functional.adaptive_avg_pool2d(x, 1)
        scale = self._seen(torch.relu(se.fc1(scale)))
        scale = self._seen(se.fc2(scale))
        return self._seen(x * torch.sigmoid(scale))

    def add_relu(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self._seen(torch.relu(a + b))

    def add(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self._seen(a + b)

    def pooled_conv(self, conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        return self._seen(torch.relu(conv(nn.functional.adaptive_avg_pool2d(x, 1))))

    def cat(self, parts: list[torch.Tensor]) -> torch.Tensor:
        return self._seen(torch.cat(parts, dim=1))


class _Int8Ops(nn.Module):
    """Quantized operations with the calibrated ranges, consumed in the walk's order; the convolutions are built
    once (a first, dry walk that computes nothing) and kept in ``convs`` under their position in that order."""

    def __init__(self, detector: Any, ranges: tuple[tuple[float, int], ...]) -> None:
        super().__init__()
        self.ranges = ranges
        self.index = 0
        self.convs = nn.ModuleDict()
        self.building = True
        with torch.no_grad():
            # A dry walk over a 1-pixel tensor: it builds every convolution in order and computes nothing.
            _walk_head(detector, _walk_body(detector, torch.zeros(1, 1, 1, 1), self), self)
        self.building = False
        if self.index != len(ranges):
            raise ValueError(
                f"Int8Config.detector has {len(ranges)} ranges, but this detector needs {self.index}: calibrate it "
                "again (scripts/calibrate_int8.py)"
            )

    def _next(self) -> tuple[float, int]:
        if self.index >= len(self.ranges):
            raise ValueError(
                f"Int8Config.detector has {len(self.ranges)} ranges, too few for this detector: calibrate it again "
                "(scripts/calibrate_int8.py)"
            )
        qparams = self.ranges[self.index]
        self.index += 1
        return qparams

    def _conv(self, key: str, conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor | None, relu: bool) -> Any:
        qparams = self._next()
        if self.building:
            self.convs[key] = _quantized_conv(conv, weight, bias, relu, qparams)
        return self.convs[key]

    def start(self, x: torch.Tensor) -> torch.Tensor:
        self.index = 0
        scale, zero_point = self._next()
        if self.building:
            return x
        # x86's int8 convolutions want channels-last; made so after quantizing, one byte per value to move (the
        # detector's inputs usually arrive channels-last already: preprocess.stack_inputs).
        q = torch.quantize_per_tensor(x, scale, zero_point, torch.quint8)
        return q.contiguous(memory_format=torch.channels_last)

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.building else x.dequantize()

    def conv(self, block: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        key = str(self.index)
        weight, bias = _fold(block) if self.building else (torch.empty(0), None)
        conv = self._conv(key, block[0], weight, bias, _has_relu(block))
        return x if self.building else conv(x)

    def gate(self, se: nn.Module, x: torch.Tensor) -> torch.Tensor:
        fc1, fc2 = se.fc1, se.fc2
        first = self._conv(str(self.index), fc1, fc1.weight.detach().float(), fc1.bias.detach().float(), True)
        second = self._conv(str(self.index), fc2, fc2.weight.detach().float(), fc2.bias.detach().float(), False)
        out_scale, out_zero = self._next()
        if self.building:
            return x
        scale = second(first(nn.functional.adaptive_avg_pool2d(x, 1)))
        return torch.ops.quantized.mul(x, torch.sigmoid(scale), out_scale, out_zero)

    def add_relu(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        scale, zero_point = self._next()
        return a if self.building else torch.ops.quantized.add_relu(a, b, scale, zero_point)

    def add(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        scale, zero_point = self._next()
        return a if self.building else torch.ops.quantized.add(a, b, scale, zero_point)

    def pooled_conv(self, conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        bias = None if conv.bias is None else conv.bias.detach().float()
        quantized = self._conv(str(self.index), conv, conv.weight.detach().float(), bias, True)
        return x if self.building else quantized(nn.functional.adaptive_avg_pool2d(x, 1))

    def cat(self, parts: list[torch.Tensor]) -> torch.Tensor:
        scale, zero_point = self._next()
        return parts[0] if self.building else torch.ops.quantized.cat(parts, 1, scale, zero_point)


def calibrate_detector(detector: Any, images: Iterable[torch.Tensor]) -> tuple[tuple[float, int], ...]:
    """The detector body's activation ranges on real detector inputs (``[B, 3, H, W]`` float in [0, 1], as the
    pipeline feeds them), for :attr:`Int8Config.detector`.

    Raises:
        ValueError: if ``images`` is empty.
    """
    ops = _ObservingOps()
    with torch.no_grad(), _quiet():
        for image in images:
            features = _walk_body(
                detector, (image.float() - detector.input_mean.float()) / detector.input_std.float(), ops
            )
            _walk_head(detector, features, ops)
    if not ops.observers:
        raise ValueError("calibrate_detector needs at least one detector input")
    return tuple(o.qparams() for o in ops.observers)


class Int8Detector(nn.Module):
    """A detector whose backbone, feature merge and head run as int8 convolutions, all but the head's last 1 × 1
    convolution, which maps to the confidence and box channels and stays float (shared with ``detector``).

    Same contract as :class:`~textspotter.models.detector.Detector`: ``[B, 3, H, W]`` float in [0, 1] (H, W
    multiples of 32) → :class:`~textspotter.models.detector.DetectorOutput`; features float32.

    Raises:
        RuntimeError: without int8 kernels.
        ValueError: if ``config.detector`` does not fit this detector.
    """

    def __init__(self, detector: Any, config: Int8Config) -> None:
        super().__init__()
        if not int8_available():
            raise RuntimeError("this PyTorch build has no x86 int8 kernels")
        self.output = detector.output
        self.register_buffer("input_mean", detector.input_mean, persistent=False)
        self.register_buffer("input_std", detector.input_std, persistent=False)
        self.feature_channels = detector.feature_channels
        self._float = [detector]  # in a list: the float modules are walked, not registered twice
        with _quiet():
            self.ops = _Int8Ops(detector, config.detector)

    def forward(self, images: torch.Tensor) -> Any:
        from .detector import DetectorOutput

        if images.ndim != 4 or images.shape[1] != 3 or images.shape[2] % 32 or images.shape[3] % 32:
            raise ValueError(f"images must have shape [B, 3, H, W], H and W multiples of 32, got {tuple(images.shape)}")
        # One pass instead of two over the page (7 ms of a 1536 × 1216 page); a pixel in a million lands one int8
        # step away from ``(x - mean) / std``.
        inverse_std = 1.0 / self.input_std.float()
        x = torch.addcmul(-self.input_mean.float() * inverse_std, images.float(), inverse_std)
        detector = self._float[0]
        quantized = _walk_body(detector, x, self.ops)  # no warning filter: as in Int8Encoder.forward
        hidden = _walk_head(detector, quantized, self.ops)
        features = quantized.dequantize()
        last = self.output.preds[-1]  # the last 1 × 1 convolution stays float (the maps' precision)
        confidence, rboxes = self.output.decode(last(hidden.to(last.weight.dtype)))
        return DetectorOutput(confidence, rboxes, features)


def cached_int8_detector(detector: Any, config: Int8Config) -> Int8Detector:
    """:class:`Int8Detector`, built once per detector and reused while its weights, statistics and ``config`` are
    unchanged (as :func:`cached_int8_recognizer`)."""
    return _cached(detector, detector, config, lambda: Int8Detector(detector, config).eval())
