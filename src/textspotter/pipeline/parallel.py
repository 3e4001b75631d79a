"""Read many inputs with several worker processes (``textspotter read --workers``).

Reading pages one call at a time on the development VM (2 cores, AVX2, float32), two single-threaded processes got
0.70 DocBank pages/s against 0.43 for one process with two threads under ``OMP_WAIT_POLICY=PASSIVE``, and 0.36
against 0.60 without it. ``OCR.read`` of a batch of 8 pages in one process keeps both cores busy, and
``textspotter read`` of 24 pages took as long either way (38.1 s in one process, 39.4 s with two workers;
benchmarks/RESULTS.md, "Speed on a CPU without bfloat16"). So the CLI reads in one process by default. Each worker
builds its own :class:`~textspotter.pipeline.OCR` from the same settings (3–6 s: importing torch and loading the
model) and holds its own model and pages, so memory grows with the workers.

Inputs are whole files (or bytes): the pages of one PDF are read by one worker, in order. Documents come back in
input order, each as soon as it and every input before it are done.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from typing import Any

from ..document import Document

__all__ = ["read_in_processes", "auto_workers"]

# The worker process's reader, built once by the pool's initializer (one per process, never in the parent), or the
# message of what stopped it from being built: a pool re-starts workers whose initializer raises, without end.
_WORKER_OCR: Any = None
_WORKER_ERROR = ""


def auto_workers(inputs: int, device: str = "cpu", cores: int | None = None) -> int:
    """The worker count ``--workers auto`` chooses (not the default): one per core on a CPU from 4 inputs, else 1.

    Fewer inputs do not repay the workers' start-up (about one page's time each); a GPU reads in one process.

    >>> auto_workers(10, cores=2), auto_workers(3, cores=2), auto_workers(10, device="cuda", cores=2)
    (2, 1, 1)
    """
    cores = cores if cores is not None else (os.cpu_count() or 1)
    if device not in ("cpu", "auto") or inputs < 4 or cores < 2:
        return 1
    if device == "auto":
        import torch

        if torch.cuda.is_available():
            return 1
    return max(1, min(cores, inputs))


def _start_worker(settings: dict[str, Any], threads: int) -> None:
    global _WORKER_OCR, _WORKER_ERROR
    try:
        import torch

        torch.set_num_threads(threads)
        from . import OCR

        _WORKER_OCR = OCR(**settings)
    except Exception as exc:  # reported by the first task, in the parent
        _WORKER_ERROR = f"{type(exc).__name__}: {exc}"


def _read_one(source: Any) -> Document:
    if _WORKER_OCR is None:
        raise RuntimeError(f"a reader process could not start: {_WORKER_ERROR}")
    return next(_WORKER_OCR.read_iter([source]))


def read_in_processes(
    settings: dict[str, Any], inputs: Sequence[Any], *, workers: int, threads: int = 1
) -> Iterator[Document]:
    """Read ``inputs`` in ``workers`` processes of ``threads`` threads each; yield their Documents in input order.

    Args:
        settings: keyword arguments of :class:`~textspotter.pipeline.OCR` (picklable: a model folder or name, not a
            model instance).
        inputs: file paths or bytes, as :meth:`OCR.read` takes them (no arrays: they would be copied to a worker).
        workers: processes (≥ 1).
        threads: torch threads per process.

    Raises:
        Whatever building the reader raises in a worker (a missing model folder, a bad option), re-raised here.
    """
    if workers < 1 or threads < 1:
        raise ValueError(f"workers and threads must be positive, got {workers} and {threads}")
    # spawn: a forked child would inherit the parent's torch thread pools and locks.
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_start_worker, initargs=(settings, threads)) as pool:
        yield from pool.imap(_read_one, inputs, chunksize=1)
