"""textspotter: a pure-PyTorch OCR engine (detector, recognizer, relational model) for document pipelines.

>>> from textspotter import OCR
>>> ocr = OCR()                                   # the shipped default model          # doctest: +SKIP
>>> ocr("page.png", merge_level="paragraph")      # the published list-of-dicts output # doctest: +SKIP
>>> doc = ocr.read("page.png")[0]; print(doc.text())                                   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .document import Document, Line, Page, Paragraph, Word

__version__ = "0.1.0"

__all__ = ["OCR", "load_model", "save_model", "Document", "Page", "Paragraph", "Line", "Word", "__version__"]

if TYPE_CHECKING:
    from .models.checkpoints import load_model, save_model
    from .pipeline.ocr import OCR

_LAZY = {
    "OCR": ("textspotter.pipeline.ocr", "OCR"),
    "load_model": ("textspotter.models.checkpoints", "load_model"),
    "save_model": ("textspotter.models.checkpoints", "save_model"),
}


def __getattr__(name: str) -> Any:
    # Lazy so that `import textspotter` stays cheap and the document types import without the model code.
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'textspotter' has no attribute {name!r}")
