"""Int8 convolutions for the recognizer's encoder on a CPU (**ours**; not in the published models).

The recognizer's convolutional encoder (seven 3 × 3 / 1 × 1 convolutions over ~500 strips of 8 × 48 feature cells a
page) is the largest single cost of reading a page on a CPU after the detector. With x86's int8 kernels (AVX-512
VNNI or AVX2) it runs in about half the time it takes in bfloat16 (benchmarks/RESULTS.md, "Session 30"); the
Transformer after it stays float, under the precision the options give.

Each ``Conv2d → BatchNorm2d → ReLU`` block is folded into one convolution, its weights quantized per output channel
(signed 8-bit, symmetric) when the int8 encoder is built, so a model folder keeps its float weights. What cannot be
derived from the weights is each activation's range: the encoder's input and every block's output get a
``(scale, zero_point)`` on unsigned 7-bit values (the x86 kernels' range, so that int32 sums cannot overflow),
calibrated once on pages by :func:`calibrate` (``scripts/calibrate_int8.py``) and kept in the model's spec
(:class:`~.spec.Int8Config`). The modules are built directly (no graph tracing): building takes milliseconds.

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
import warnings
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from .recognizer import Recognizer
from .spec import Int8Config

__all__ = ["int8_available", "calibrate", "Int8Encoder", "int8_recognizer", "cached_int8_recognizer", "encoder_blocks"]

_QUANT_MAX = 127  # unsigned 7-bit activations: what x86's int8 convolutions expect (reduce_range)
_ENGINES = ("x86", "fbgemm")


@functools.lru_cache(maxsize=1)
def int8_available() -> bool:
    """Whether this PyTorch build runs int8 convolutions with an x86 engine selected (x86-64 CPU wheels do)."""
    try:
        import torch.ao.nn.intrinsic.quantized  # noqa: F401
    except ImportError:  # a build without quantization
        return False
    return torch.backends.quantized.engine in _ENGINES


def encoder_blocks(recognizer: Recognizer) -> Iterator[tuple[str, Any]]:
    """The encoder as ``("conv", (weight, bias, padding))`` with batch norm folded in (float32, eval statistics)
    and ``("pool", None)`` for each row pooling, in order."""
    for module in recognizer.encoder:
        if not isinstance(module, nn.Sequential):
            yield "pool", None
            continue
        conv, norm = module[0], module[1]
        factor = norm.weight.detach() / torch.sqrt(norm.running_var + norm.eps)
        weight = conv.weight.detach() * factor[:, None, None, None]
        bias = (conv.bias.detach() if conv.bias is not None else 0.0) - norm.running_mean
        yield "conv", (weight.float(), (bias * factor + norm.bias.detach()).float(), conv.padding)


def _pool(x: torch.Tensor) -> torch.Tensor:
    even = x.shape[2] // 2 * 2
    return torch.maximum(x[:, :, 0:even:2], x[:, :, 1:even:2])


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
        strips: batches of recognizer strips ``[N, C, 8, W]`` float32, as the pipeline samples them from detector
            features of real pages.
        description: what the strips came from (kept in :attr:`Int8Config.calibration`).

    Returns:
        The :class:`Int8Config` to store in the model's spec (``spec.replace(int8=...)``).

    Raises:
        RuntimeError: without int8 kernels (:func:`int8_available`).
        ValueError: if ``strips`` is empty.
    """
    if not int8_available():
        raise RuntimeError("this PyTorch build has no x86 int8 kernels; int8 calibration needs them")
    blocks = list(encoder_blocks(model.recognizer))
    observers = [_RangeObserver() for _ in range(1 + sum(kind == "conv" for kind, _ in blocks))]
    seen = 0
    with torch.no_grad(), _quiet():
        for batch in strips:
            x = batch.float()
            observers[0](x)
            index = 1
            for kind, params in blocks:
                if kind == "pool":
                    x = _pool(x)
                    continue
                weight, bias, padding = params
                x = torch.relu(nn.functional.conv2d(x, weight, bias, padding=padding))
                observers[index](x)
                index += 1
            seen += 1
    if not seen:
        raise ValueError("calibrate needs at least one batch of strips")
    return Int8Config(recognizer=tuple(o.qparams() for o in observers), calibration=description)


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
        from torch.ao.nn.intrinsic.quantized import ConvReLU2d

        blocks = list(encoder_blocks(recognizer))
        ranges = config.recognizer
        convs = sum(kind == "conv" for kind, _ in blocks)
        if len(ranges) != convs + 1:
            raise ValueError(
                f"Int8Config.recognizer has {len(ranges)} ranges, but this recognizer's encoder needs {convs + 1} "
                "(its input and each convolution): calibrate it again (scripts/calibrate_int8.py)"
            )
        self.input_scale, self.input_zero_point = ranges[0]
        layers: list[nn.Module] = []
        index = 1
        with _quiet():
            for kind, params in blocks:
                if kind == "pool":
                    layers.append(nn.MaxPool2d((2, 1)))
                    continue
                weight, bias, padding = params
                out_channels, in_channels, kh, kw = weight.shape
                conv = ConvReLU2d(in_channels, out_channels, (kh, kw), padding=padding)
                # Symmetric per-channel weights, as the x86 backend quantizes them (scale from the largest |w|).
                scales = (weight.abs().amax(dim=(1, 2, 3)) / 127.5).clamp(min=1e-8).double()
                zero = torch.zeros(out_channels, dtype=torch.int64)
                conv.set_weight_bias(torch.quantize_per_channel(weight, scales, zero, 0, torch.qint8), bias)
                conv.scale, conv.zero_point = ranges[index]
                layers.append(conv)
                index += 1
        self.layers = nn.Sequential(*layers)

    def forward(self, strips: torch.Tensor) -> torch.Tensor:
        x = strips.float().contiguous(memory_format=torch.channels_last)
        with _quiet():
            q = torch.quantize_per_tensor(x, self.input_scale, self.input_zero_point, torch.quint8)
            return self.layers(q).dequantize()


def int8_recognizer(recognizer: Recognizer, config: Int8Config) -> Recognizer:
    """A reading copy of ``recognizer`` whose encoder runs in int8 (:class:`Int8Encoder`); every other parameter
    and module is shared with ``recognizer``. For reading only (no gradients, not for saving)."""
    clone = nn.Module.__new__(type(recognizer))
    clone.__dict__.update(recognizer.__dict__)
    clone._modules = dict(recognizer._modules)
    clone._modules["encoder"] = Int8Encoder(recognizer, config).eval()
    return clone


_CACHE: weakref.WeakKeyDictionary[nn.Module, tuple[tuple[Any, ...], Recognizer]] = weakref.WeakKeyDictionary()


def cached_int8_recognizer(recognizer: Recognizer, config: Int8Config) -> Recognizer:
    """:func:`int8_recognizer`, built once per recognizer and reused while its encoder's weights, batch-norm
    statistics and ``config`` are unchanged (a weight updated in place, as by an optimizer step, builds it anew)."""
    key = (config, *((id(t), t._version) for t in (*recognizer.encoder.parameters(), *recognizer.encoder.buffers())))
    held = _CACHE.get(recognizer)
    if held is not None and held[0] == key:
        return held[1]
    reader = int8_recognizer(recognizer, config)
    _CACHE[recognizer] = (key, reader)
    return reader
