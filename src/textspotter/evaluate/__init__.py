"""Evaluation: dataset adapters, engine adapters, a result cache, scoring and reports.

The same images go to every engine (decoded once), every engine's output becomes a
:class:`textspotter.document.Page`, and every page is scored with :mod:`textspotter.metrics` accumulators.
The command line is ``textspotter eval`` (one engine, one dataset) and ``textspotter bench`` (several of each);
see ``docs/evaluation.md``.
"""

from textspotter.evaluate.cache import ResultCache, default_cache_dir
from textspotter.evaluate.datasets import (
    FORMATS,
    SHORTCUTS,
    Dataset,
    Region,
    Sample,
    TableTruth,
    detect_format,
    load_image,
    open_dataset,
)
from textspotter.evaluate.engines import (
    ENGINES,
    Engine,
    EngineUnavailableError,
    Prediction,
    RapidOCREngine,
    RapidOCROptions,
    TesseractEngine,
    TesseractOptions,
    TextspotterEngine,
    TextspotterOptions,
    create_engine,
)
from textspotter.evaluate.runner import EngineRun, EvalResult, evaluate, run_engine
from textspotter.evaluate.scoring import METRICS, ScoreOptions, Scores, score_dataset, score_page

__all__ = [
    "ENGINES",
    "FORMATS",
    "METRICS",
    "SHORTCUTS",
    "Dataset",
    "Engine",
    "EngineRun",
    "EngineUnavailableError",
    "EvalResult",
    "Prediction",
    "RapidOCREngine",
    "RapidOCROptions",
    "Region",
    "ResultCache",
    "Sample",
    "ScoreOptions",
    "Scores",
    "TableTruth",
    "TesseractEngine",
    "TesseractOptions",
    "TextspotterEngine",
    "TextspotterOptions",
    "create_engine",
    "default_cache_dir",
    "detect_format",
    "evaluate",
    "load_image",
    "open_dataset",
    "run_engine",
    "score_dataset",
    "score_page",
]
