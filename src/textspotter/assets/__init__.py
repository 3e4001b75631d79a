"""Files shipped with textspotter: an example page (``example.png``) and its ground truth (``example.txt``).

>>> from textspotter.assets import example_image_path
>>> example_image_path().name
'example.png'
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["example_image_path", "example_text"]


def example_image_path() -> Path:
    """Return the path of the bundled example page: a 1000×700 grey-scale PNG of printed English text."""
    return Path(__file__).with_name("example.png")


def example_text() -> str:
    """Return the ground truth of the example page: lines joined by newlines, paragraphs by blank lines."""
    return Path(__file__).with_name("example.txt").read_text(encoding="utf-8")
