"""Giving freed memory back to the operating system, for applications that go idle.

Reading a page allocates and frees a few hundred MB of tensors (the detector's activations, the feature maps, the
decoded page), and glibc's allocator keeps part of what is freed in its heaps for later use. The pipeline does not
trim between batches: the next batch reuses that memory, and a trim made it fault every page in again (system time
of a DocBank page 0.11-0.13 s with a trim after each page, 0.03-0.04 s without: 8 % of the page's CPU time, for about
50 MB of RSS held between batches; ``benchmarks/cpu_per_page.py``, ``benchmarks/RESULTS.md`` "Session 41"). Memory
over a long PDF stays flat either way (the PDF is reopened as it is read, see ``imageio``). An application that
keeps an ``OCR`` alive between jobs can call :func:`release_freed_memory` when it goes idle.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Callable

__all__ = ["release_freed_memory"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where there is none (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # no C library to load, or one without malloc_trim (musl)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_freed_memory() -> bool:
    """Return the memory that the C allocator holds free to the operating system; True if it could try.

    Changes no value and no allocation that is in use; only resident memory that nothing uses is given back.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
