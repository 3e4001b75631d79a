"""Giving freed memory back to the operating system between batches.

Reading a page allocates and frees a few hundred MB of tensors (the detector's activations, the feature maps, the
decoded page). glibc's allocator keeps part of what is freed in its heaps for later use. Reading a 500-page PDF
with the pages passed on and none kept, the process's resident memory after each batch was 509–510 MB without a
trim and 481–482 MB with one (``benchmarks/RESULTS.md``, "Session 25"; flat either way once the PDF is reopened as
it is read, see ``imageio``). The pipeline calls :func:`release_freed_memory` after each batch of pages: in a
profile of a batch of 8 pages (``benchmarks/host_side.py``, 1 thread) the trim took 11 ms of the batch's 3 s.
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
