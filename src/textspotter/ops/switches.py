"""The ``auto`` / ``on`` / ``off`` CLI choices of the recognizer stage's optional passes, as option values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

__all__ = ["auto_on_off"]

T = TypeVar("T")


def auto_on_off(name: str, make: Callable[[], T], setting: str) -> T | Literal["auto"] | None:
    """``"auto"`` for ``auto``, ``make()`` (the pass's default options) for ``on``, None for ``off``.

    Args:
        name: the CLI choice.
        make: builds the pass's default options.
        setting: what the choice sets, for the error message (``"long-word"``).

    Raises:
        ValueError: any other choice.

    >>> auto_on_off("on", dict, "example"), auto_on_off("off", dict, "example")
    ({}, None)
    """
    if name == "auto":
        return "auto"
    if name == "on":
        return make()
    if name == "off":
        return None
    raise ValueError(f"unknown {setting} setting {name!r}; expected auto, on or off")
