"""Files shipped with textspotter: example pages and their ground truth.

``example.png`` / ``example.txt`` is an English page; ``example-multi.png`` / ``example-multi.txt`` one notice in
English, Simplified and Traditional Chinese, Japanese, Korean and Russian (the multilingual model's languages).

>>> from textspotter.assets import example_image_path
>>> example_image_path().name
'example.png'
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["example_image_path", "example_text"]


def example_image_path(multilingual: bool = False) -> Path:
    """Return the path of a bundled example page (grey-scale PNG of printed text).

    Args:
        multilingual: False: the 1000×700 English page; True: the 900×420 page of six one-line notices.
    """
    return Path(__file__).with_name("example-multi.png" if multilingual else "example.png")


def example_text(multilingual: bool = False) -> str:
    """Return the ground truth of an example page: lines joined by newlines, paragraphs by blank lines."""
    name = "example-multi.txt" if multilingual else "example.txt"
    return Path(__file__).with_name(name).read_text(encoding="utf-8")
