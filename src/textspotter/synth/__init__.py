"""Synthetic annotated document pages for training and evaluation (the data engine).

>>> from textspotter.synth import SynthConfig, generate_page
>>> image, page = generate_page(SynthConfig(languages=("en",)), seed=1, index=0)   # doctest: +SKIP

See docs/synth.md for languages, fonts, layouts, effects, reproducibility and the CLI.
"""

from .corpus import TextOptions, TextSampler
from .effects import EffectConfig
from .fonts import FontCatalogue, FontFace
from .generate import GENERATOR_VERSION, SynthConfig, generate_dataset, generate_page
from .languages import LANGUAGES

__all__ = [
    "SynthConfig",
    "EffectConfig",
    "TextOptions",
    "TextSampler",
    "FontCatalogue",
    "FontFace",
    "LANGUAGES",
    "GENERATOR_VERSION",
    "generate_page",
    "generate_dataset",
]
