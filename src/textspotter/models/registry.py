"""Named model configurations and the :class:`OCRModel` container they build.

=========== ============================================================================================
name        what it is
=========== ============================================================================================
v1          Nemotron OCR v1 exactly as published (RegNetY-8GF, 855 characters; counts verified, spec §10)
v2-en       Nemotron OCR v2 English; values marked **[inferred]** in spec §9 (RegNetX-8GF, scope 2048, ...)
v2-multi    Nemotron OCR v2 multilingual; **[inferred]** (D 512, 6 layers, T 128, V 14,247)
small       textspotter's CPU model: same architecture family, narrow and shallow (docs/models.md)
small-multi ``small`` with the multilingual charset and a longer recognizer (CJK is read by lines; issue #22)
tiny-test   every module minimal, for unit tests
tiny-multi  ``tiny-test`` with the multilingual charset, for unit tests
=========== ============================================================================================

The published configurations carry no charset (the published ``charset.txt`` is not shipped with textspotter);
``small`` and ``tiny-test`` use :func:`~textspotter.charset.latin_charset`, ``small-multi`` and ``tiny-multi``
:func:`~textspotter.charset.multilingual_charset`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import MappingProxyType

import torch
from torch import nn

from ..charset import Charset, latin_charset, multilingual_charset
from .detector import Detector
from .recognizer import Recognizer
from .relational import Relational
from .spec import (
    REGNET_X_8GF,
    REGNET_Y_8GF,
    DetectorConfig,
    ModelSpec,
    PostprocessConfig,
    PreprocessConfig,
    RecognizerConfig,
    RegNetConfig,
    RelationalConfig,
)

__all__ = ["OCRModel", "list_models", "get_spec", "create_model", "module_sizes", "MODULE_NAMES"]

MODULE_NAMES = ("detector", "recognizer", "relational")


class OCRModel(nn.Module):
    """The three networks of one model plus the :class:`ModelSpec` that describes them.

    The state dict has the prefixes ``detector.``, ``recognizer.`` and ``relational.``; each sub-module's own
    state dict has exactly the keys of the published ``.pth`` files (for the published architectures).

    Args:
        spec: architecture, charset, preprocessing and decoding constants.

    Attributes:
        spec: the spec (immutable).
        detector: :class:`~textspotter.models.detector.Detector`.
        recognizer: :class:`~textspotter.models.recognizer.Recognizer` (reads C-channel feature strips).
        relational: :class:`~textspotter.models.relational.Relational`.

    >>> model = OCRModel(get_spec("tiny-test"))
    >>> sorted(model.module_sizes())
    ['detector', 'recognizer', 'relational']
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        if not isinstance(spec, ModelSpec):
            raise TypeError(f"spec must be a ModelSpec, got {type(spec).__name__}")
        self.spec = spec
        self.detector = Detector(spec.detector, spec.preprocess)
        channels = spec.detector.feature_channels
        self.recognizer = Recognizer(spec.recognizer, in_channels=channels)
        self.relational = Relational(
            spec.relational, in_channels=channels, recog_feature_depth=spec.recognizer.feature_depth
        )

    def forward(self, *args: object) -> None:
        """Not callable as a whole: run ``detector``, ``recognizer`` and ``relational`` (see the pipeline)."""
        raise TypeError("OCRModel is a container; call model.detector, model.recognizer or model.relational")

    def module_sizes(self) -> dict[str, dict[str, int]]:
        """Return ``{module: {"parameters": trainable parameters, "state_dict_entries": keys}}``."""
        return {
            name: {
                "parameters": sum(p.numel() for p in module.parameters() if p.requires_grad),
                "state_dict_entries": len(module.state_dict()),
            }
            for name, module in ((n, getattr(self, n)) for n in MODULE_NAMES)
        }


# ----------------------------------------------------------------------------------------------------------------
# Named configurations. Builders (not instances) so that nothing is constructed at import time.


def _v1() -> ModelSpec:
    return ModelSpec(
        name="v1",
        detector=DetectorConfig(backbone=REGNET_Y_8GF, scope=512.0),
        recognizer=RecognizerConfig(depth=128, num_layers=3, nhead=8, max_width=32, num_tokens=858),
        relational=RelationalConfig(),
        postprocess=PostprocessConfig(text_confidence="product", use_prefilter=False),
        description="Nemotron OCR v1 as published (RegNetY-8GF detector, 855 characters)",
    )


def _v2_postprocess() -> PostprocessConfig:
    return PostprocessConfig(text_confidence="geometric_mean", use_prefilter=True)


def _v2_en() -> ModelSpec:
    return ModelSpec(
        name="v2-en",
        # [inferred] backbone and scope (spec §9).
        detector=DetectorConfig(backbone=REGNET_X_8GF, scope=2048.0),
        # [inferred] FFN 1024, pre-norm layers + final norm; nhead 8 is the package default.
        recognizer=RecognizerConfig(
            depth=128,
            num_layers=3,
            nhead=8,
            dim_feedforward=1024,
            max_width=32,
            num_tokens=858,
            norm_first=True,
            use_final_norm=True,
        ),
        relational=RelationalConfig(),
        postprocess=_v2_postprocess(),
        description="Nemotron OCR v2 English; architecture values inferred (spec §9)",
    )


def _v2_multi() -> ModelSpec:
    return ModelSpec(
        name="v2-multi",
        detector=DetectorConfig(backbone=REGNET_X_8GF, scope=2048.0),
        # [inferred] D 512, 6 layers, FFN 2048, T 128, V 14,247 (spec §9).
        recognizer=RecognizerConfig(
            depth=256,
            num_layers=6,
            nhead=8,
            dim_feedforward=2048,
            max_width=128,
            num_tokens=14_247,
            norm_first=True,
            use_final_norm=True,
        ),
        relational=RelationalConfig(),
        postprocess=_v2_postprocess(),
        description="Nemotron OCR v2 multilingual; architecture values inferred (spec §9)",
    )


def _small() -> ModelSpec:
    # Sized for CPU (docs/models.md, "The small model"): about 12 GMAC for a 1024-px page in the detector, whose
    # cost is dominated by the 3×3 convs at stride 4 (merge tail, ASPP, head), hence C = 48 and a 32-wide head.
    charset = latin_charset()
    return ModelSpec(
        name="small",
        detector=DetectorConfig(
            backbone=RegNetConfig(
                stem_width=16,
                widths=(32, 96, 192, 384),
                depths=(1, 2, 4, 2),
                group_widths=(16, 16, 16, 16),
                se_ratio=0.25,
            ),
            merge_widths=(96, 64, 48),
            aspp_dilations=(1, 4, 16),
            num_aspp=1,
            head_width=32,
            scope=512.0,
        ),
        recognizer=RecognizerConfig(
            depth=64,
            num_layers=3,
            nhead=4,
            dim_feedforward=256,
            max_width=32,
            num_tokens=charset.num_tokens,
            conv_width=32,
            norm_first=True,
            use_final_norm=True,
        ),
        relational=RelationalConfig(k=16, num_layers=2, nhead=4, dim_feedforward=256, initial_depth=64),
        postprocess=PostprocessConfig(text_confidence="geometric_mean", use_prefilter=True),
        charset=charset,
        description="textspotter's CPU model: the v2 architecture family, narrow and shallow",
    )


# Recognizer length of the multilingual model. Chinese and Japanese are read by lines (one region per run of CJK
# text on a line), and a square glyph is about 8 strip columns wide at the strip's 8 rows, so a run of n glyphs
# needs about 8·n columns. T = 256 reads 32 glyphs at full resolution (the 95th percentile of the generator's
# CJK runs; docs/models.md); longer runs are squeezed into T. Bucketing keeps short Latin words at their own width.
MULTI_MAX_WIDTH = 256
MULTI_BUCKET_WIDTH = 16


def _small_multi() -> ModelSpec:
    charset = multilingual_charset()
    base = _small()
    return base.replace(
        name="small-multi",
        recognizer=dataclasses.replace(
            base.recognizer,
            max_width=MULTI_MAX_WIDTH,
            bucket_width=MULTI_BUCKET_WIDTH,
            num_tokens=charset.num_tokens,
            decoding="ctc",
        ),
        charset=charset,
        description="the small model with the multilingual charset (en, zh-Hans, zh-Hant, ja, ko, ru); CJK by lines",
    )


def _tiny_test() -> ModelSpec:
    charset = latin_charset()
    return ModelSpec(
        name="tiny-test",
        detector=DetectorConfig(
            backbone=RegNetConfig(
                stem_width=8, widths=(8, 16, 16, 32), depths=(1, 1, 1, 1), group_widths=(8, 8, 8, 8), se_ratio=0.25
            ),
            merge_widths=(16, 16, 16),
            aspp_dilations=(1, 2),
            num_aspp=1,
            scope=128.0,
        ),
        recognizer=RecognizerConfig(depth=16, num_layers=1, nhead=2, max_width=16, num_tokens=charset.num_tokens),
        relational=RelationalConfig(k=8, num_layers=1, nhead=2, dim_feedforward=64, initial_depth=32),
        preprocess=PreprocessConfig(infer_length=256),
        charset=charset,
        description="minimal modules for unit tests",
    )


def _tiny_multi() -> ModelSpec:
    charset = multilingual_charset()
    base = _tiny_test()
    return base.replace(
        name="tiny-multi",
        recognizer=dataclasses.replace(base.recognizer, max_width=64, bucket_width=16, num_tokens=charset.num_tokens),
        charset=charset,
        description="minimal modules with the multilingual charset, for unit tests",
    )


# Read-only: the registry is fixed at import; custom models are built from a ModelSpec instead.
_BUILDERS: MappingProxyType[str, Callable[[], ModelSpec]] = MappingProxyType(
    {
        "v1": _v1,
        "v2-en": _v2_en,
        "v2-multi": _v2_multi,
        "small": _small,
        "small-multi": _small_multi,
        "tiny-test": _tiny_test,
        "tiny-multi": _tiny_multi,
    }
)


def list_models() -> list[str]:
    """Return the names of the registered configurations.

    >>> list_models()
    ['v1', 'v2-en', 'v2-multi', 'small', 'small-multi', 'tiny-test', 'tiny-multi']
    """
    return list(_BUILDERS)


def get_spec(name: str) -> ModelSpec:
    """Return the :class:`ModelSpec` registered as ``name``.

    Raises:
        ValueError: if ``name`` is not registered (the message lists the known names).
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(_BUILDERS)}")
    return _BUILDERS[name]()


def create_model(
    name: str | ModelSpec,
    *,
    charset: Charset | None = None,
    detector: DetectorConfig | None = None,
    recognizer: RecognizerConfig | None = None,
    relational: RelationalConfig | None = None,
    preprocess: PreprocessConfig | None = None,
    postprocess: PostprocessConfig | None = None,
) -> OCRModel:
    """Build a randomly initialised model from a registered name (or a spec), optionally changing parts of it.

    Args:
        name: a name of :func:`list_models` or a :class:`ModelSpec`.
        charset: replaces the charset; the recognizer's ``num_tokens`` follows it unless ``recognizer`` is given.
        detector, recognizer, relational, preprocess, postprocess: replace that part of the spec.

    Returns:
        An :class:`OCRModel` in training mode on the CPU in float32.

    Raises:
        ValueError: unknown name, or an inconsistent combination (e.g. charset vs ``num_tokens``).

    >>> model = create_model("tiny-test")
    >>> model.spec.name, model.detector.feature_channels
    ('tiny-test', 16)
    """
    spec = name if isinstance(name, ModelSpec) else get_spec(name)
    changes: dict[str, object] = {}
    if charset is not None:
        changes["charset"] = charset
        if recognizer is None:
            changes["recognizer"] = dataclasses.replace(spec.recognizer, num_tokens=charset.num_tokens)
    for key, value in (
        ("detector", detector),
        ("recognizer", recognizer),
        ("relational", relational),
        ("preprocess", preprocess),
        ("postprocess", postprocess),
    ):
        if value is not None:
            changes[key] = value
    if changes:
        spec = spec.replace(**changes)
    return OCRModel(spec)


def module_sizes(spec: ModelSpec | str) -> dict[str, dict[str, int]]:
    """Return parameter and state-dict-entry counts per module without allocating any weights.

    The model is built on the ``meta`` device, so even ``v2-multi`` is counted in well under a second.
    """
    spec = spec if isinstance(spec, ModelSpec) else get_spec(spec)
    with torch.device("meta"):
        model = OCRModel(spec)
    return model.module_sizes()
