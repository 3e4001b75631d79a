"""Run an engine over a dataset (with the cache) and score it.

>>> from textspotter.evaluate import ResultCache, create_engine, evaluate, open_dataset
>>> dataset = open_dataset("tesseract-test", data_root="../shared/data")                 # doctest: +SKIP
>>> result = evaluate(create_engine("tesseract"), dataset, cache=ResultCache("/tmp/c"))  # doctest: +SKIP
>>> result.metrics["cer"], result.pages_per_second                                        # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from textspotter.document import Page
from textspotter.evaluate.cache import ResultCache, file_sha256
from textspotter.evaluate.datasets import Dataset, Sample, load_image
from textspotter.evaluate.engines import Engine, Prediction
from textspotter.evaluate.scoring import ScoreOptions, score_dataset

__all__ = ["EngineRun", "EvalResult", "run_engine", "evaluate"]

# progress(done, total, sample id, whether it came from the cache)
Progress = Callable[[int, int, str, bool], None]


@dataclass(frozen=True)
class EngineRun:
    """An engine's predictions for a list of samples.

    Attributes:
        engine: engine name.
        version: the engine's version string (cache key part).
        predictions: one per sample, in sample order.
        load_seconds: model-load time (measured now, or cached from the run that computed the pages; ``None``
            when unknown).
        cached: how many predictions came from the cache.
    """

    engine: str
    version: str
    predictions: tuple[Prediction, ...]
    load_seconds: float | None
    cached: int


@dataclass(frozen=True)
class EvalResult:
    """One engine scored on one dataset.

    Attributes:
        dataset: dataset name.
        engine: engine name.
        version: engine version string.
        pages: number of pages.
        metrics: every metric of :data:`textspotter.evaluate.scoring.METRICS` (``None``: not measurable here).
        seconds: total per-page reading time (decoding excluded, model load excluded).
        load_seconds: model-load time, or ``None`` when unknown.
        cached: pages read from the cache (their times are those of the run that computed them).
        errors: pages the engine failed on (scored as empty pages).
        table_source: ``"engine"`` when the engine produced the tables scored by TEDS, ``"layout"`` when they
            were built from its words by position, ``""`` without tables.
        threads: CPU threads given to the engine.
    """

    dataset: str
    engine: str
    version: str
    pages: int
    metrics: dict[str, float | None]
    seconds: float
    load_seconds: float | None
    cached: int = 0
    errors: int = 0
    table_source: str = ""
    threads: int = 1
    error_messages: tuple[str, ...] = field(default=(), compare=False)

    @property
    def pages_per_second(self) -> float | None:
        """Pages read per second of engine time (``None`` if no time was spent)."""
        return self.pages / self.seconds if self.seconds > 0 else None

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "engine": self.engine,
            "version": self.version,
            "pages": self.pages,
            "metrics": self.metrics,
            "seconds": self.seconds,
            "pages_per_second": self.pages_per_second,
            "load_seconds": self.load_seconds,
            "cached": self.cached,
            "errors": self.errors,
            "error_messages": list(self.error_messages),
            "table_source": self.table_source,
            "threads": self.threads,
        }


def run_engine(
    engine: Engine,
    samples: Sequence[Sample],
    *,
    cache: ResultCache | None = None,
    refresh: bool = False,
    progress: Progress | None = None,
) -> EngineRun:
    """Read every sample's image with ``engine``, taking pages from ``cache`` when present.

    The engine is loaded (and its load timed) only when a page is not in the cache. An exception while reading
    one page is recorded in that page's :attr:`Prediction.error` (the page counts as empty) and the run goes on;
    failed pages are not cached. An :class:`~textspotter.evaluate.engines.EngineUnavailableError` from
    ``load`` propagates.

    Args:
        engine: the engine adapter.
        samples: the pages.
        cache: where to look pages up and store them; ``None`` for no cache.
        refresh: recompute every page (and overwrite its cache entry).
        progress: called after each page with ``(done, total, sample id, from cache)``.
    """
    version = engine.version()
    predictions: list[Prediction] = []
    load_seconds = cache.get_load_seconds(engine.name, version) if cache is not None else None
    loaded = False
    cached = 0
    try:
        for done, sample in enumerate(samples, 1):
            image_hash = file_sha256(sample.image)
            hit = cache.get(engine.name, version, image_hash) if cache is not None and not refresh else None
            if hit is not None:
                predictions.append(hit)
                cached += 1
            else:
                if not loaded:
                    start = time.perf_counter()
                    engine.load()
                    load_seconds = time.perf_counter() - start
                    loaded = True
                    if cache is not None:
                        cache.put_load_seconds(engine.name, version, load_seconds)
                image = load_image(sample.image)
                start = time.perf_counter()
                try:
                    prediction = engine.read(image)
                except Exception as exc:  # noqa: BLE001 - one bad page must not end a long benchmark; it is reported
                    height, width = image.shape[:2]
                    prediction = Prediction(Page(width=width, height=height), error=f"{type(exc).__name__}: {exc}")
                prediction = replace(prediction, seconds=time.perf_counter() - start)
                if cache is not None:
                    cache.put(engine.name, version, image_hash, prediction)
                predictions.append(prediction)
            if progress is not None:
                progress(done, len(samples), sample.id, hit is not None)
    finally:
        if loaded:
            engine.close()
    return EngineRun(engine.name, version, tuple(predictions), load_seconds, cached)


def evaluate(
    engine: Engine,
    dataset: Dataset,
    *,
    cache: ResultCache | None = None,
    refresh: bool = False,
    options: ScoreOptions | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Run ``engine`` over ``dataset`` and score it (see :func:`run_engine` and :func:`score_dataset`)."""
    run = run_engine(engine, dataset.samples, cache=cache, refresh=refresh, progress=progress)
    scores = score_dataset(dataset.samples, run.predictions, options)
    has_tables = any(s.tables for s in dataset.samples)
    errors = [f"{s.id}: {p.error}" for s, p in zip(dataset.samples, run.predictions) if p.error is not None]
    return EvalResult(
        dataset=dataset.name,
        engine=run.engine,
        version=run.version,
        pages=len(dataset.samples),
        metrics=scores.metrics(),
        seconds=sum(p.seconds for p in run.predictions),
        load_seconds=run.load_seconds,
        cached=run.cached,
        errors=len(errors),
        error_messages=tuple(errors),
        table_source=("engine" if any(p.tables for p in run.predictions) else "layout") if has_tables else "",
        threads=getattr(engine, "threads", 1),
    )
