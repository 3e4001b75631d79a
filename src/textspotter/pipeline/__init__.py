"""textspotter.pipeline: page images → Documents.

* :class:`OCR` runs everything (``ocr.py``);
* ``stages.py`` exposes each stage on tensors: :func:`detect`, :func:`recognize`, :func:`relate`;
* ``preprocess.py`` renders pages into detector views and maps coordinates back (:class:`ScaleOptions` for tiles);
* ``assemble.py`` turns readings and relations into a ``Page`` (validity, pruning, boxes, reading order);
* ``orientation.py`` finds pages turned by 90, 180 or 270 degrees and reads them upright (:class:`OrientationOptions`);
* ``textlayer.py`` reads born-digital PDF pages from their own text layer when it can be trusted
  (:class:`TextLayerOptions`).
"""

from ..ops.charlm import CharLMOptions
from ..ops.lexicon import LexiconOptions
from .assemble import AssemblyOptions, PageReadings, assemble_page, reading_order
from .ocr import OCR, DetectedRegions, RecognizedRegions, default_model_dir
from .orientation import OrientationOptions
from .preprocess import DetectorView, ScaleOptions
from .stages import (
    DetectionOptions,
    Detections,
    RecognitionOptions,
    Recognitions,
    RelationOptions,
    crop_features,
    detect,
    recognize,
    relate,
)
from .textlayer import TextLayerOptions

__all__ = [
    "CharLMOptions",
    "OCR",
    "DetectedRegions",
    "RecognizedRegions",
    "default_model_dir",
    "ScaleOptions",
    "DetectorView",
    "DetectionOptions",
    "RecognitionOptions",
    "LexiconOptions",
    "RelationOptions",
    "AssemblyOptions",
    "OrientationOptions",
    "TextLayerOptions",
    "Detections",
    "Recognitions",
    "PageReadings",
    "detect",
    "crop_features",
    "recognize",
    "relate",
    "assemble_page",
    "reading_order",
]
