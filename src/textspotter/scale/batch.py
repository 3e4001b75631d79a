"""Run a :class:`BatchJob` on Ray Data: list inputs → skip what is done → render pages → OCR actors → part files.

>>> from textspotter.scale import BatchJob, run_batch
>>> job = BatchJob(inputs=("scans/", "s3://bucket/pdfs/*.pdf"), output="s3://bucket/ocr/", actors=4)
>>> summary = run_batch(job)                                        # doctest: +SKIP
>>> summary.pages_written, summary.pages_failed                      # doctest: +SKIP
(18234, 3)

The stages (one Ray Data pipeline, streamed, so a corpus never has to fit in memory):

1. ``from_items``: the input files still to do, with the pages of each that earlier runs wrote (``load_index``);
2. ``flat_map(read_pages)``: tasks fetch each input with fsspec and decode it; a PDF expands into one row per page.
   A PDF page whose text layer can be trusted (``job.text_layer``, docs/usage.md §7) is finished here: its row
   carries its result and no image;
3. ``map_batches(OCRWorker)``: a fixed pool of actors, one model each, OCRs batches of pages on CPU or GPU (the
   rows finished from their text layer pass through without a model call: a Ray Data pipeline is one chain);
4. ``write_datasink(PageSink)``: write tasks publish part files of ``rows_per_file`` rows.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace

from .inputs import expand_inputs
from .job import BatchJob
from .results import check_output, load_index, new_run_id

__all__ = ["BatchSummary", "run_batch"]

# Blocks of the input list: one input per block up to this many, so that rendering spreads over many tasks; a
# larger corpus shares blocks (each task then renders its inputs one after the other, streaming the pages).
_MAX_INPUT_BLOCKS = 2000

# Write tasks only encode and upload rows; a small CPU share lets them run beside actors that hold every CPU.
_WRITER_CPUS = 0.25


@dataclass(frozen=True)
class BatchSummary:
    """What a run did.

    Attributes:
        run_id: identifier in the names of the part files this run wrote.
        inputs: input files listed.
        inputs_skipped: inputs that earlier runs had completed (not opened).
        inputs_scheduled: inputs read by this run (all, or the pages they still missed).
        pages_written: rows this run wrote (pages, and input-level error rows).
        pages_failed: of those, rows that record an error.
        files: part files this run wrote.
        errors: a sample of the recorded errors (all of them are in the rows' ``error`` column).
        problems: patterns or folders that matched no input.
        seconds: wall time of the run, Ray start-up included.
        pages_unwritten: rows read but lost with a part file that could not be written (the next run redoes them).
        write_errors: one message per part file that could not be written (its path and the reason).
    """

    run_id: str
    inputs: int
    inputs_skipped: int
    inputs_scheduled: int
    pages_written: int
    pages_failed: int
    files: tuple[str, ...]
    errors: tuple[str, ...]
    problems: tuple[str, ...]
    seconds: float
    pages_unwritten: int = 0
    write_errors: tuple[str, ...] = ()

    @property
    def pages_per_second(self) -> float:
        """Pages written per second of wall time (0 when nothing was written)."""
        return self.pages_written / self.seconds if self.pages_written and self.seconds > 0 else 0.0


def run_batch(job: BatchJob, *, address: str | None = None, progress: bool = False) -> BatchSummary:
    """List the job's inputs, skip what its output already holds, and OCR the rest on Ray Data.

    Ray: when this process is already connected (``ray.init`` was called), the run uses that connection and leaves it
    open. Otherwise it connects to ``address`` (``"auto"`` or ``"ray://host:10001"`` for an existing cluster) or,
    when ``address`` is None, starts a local Ray instance on this machine; either is shut down at the end. Nothing
    starts Ray when every input is already done.

    Args:
        job: inputs, output, model and resources.
        address: Ray cluster address, or None for a local instance.
        progress: show Ray Data's progress bars (on stderr).

    Returns:
        Counts, the files written and a sample of the errors. Failed pages do not raise: each has a row with its
        error, and a rerun skips it unless ``job.retry_errors``. A part file that cannot be written (full disk)
        does not raise either: it is named in ``write_errors``, the other part files stay, and a rerun redoes its
        pages.

    Raises:
        FileNotFoundError: a list file or the model folder is missing (checked before Ray starts).
        ValueError: an output folder that cannot be created or written (checked before Ray starts), an unreadable
            part file in it, the other format there, or an unknown URL protocol.
        ImportError: Ray Data, pyarrow or fsspec is not installed (``pip install 'textspotter[scale]'``).
    """
    start = time.perf_counter()
    run_id = new_run_id()
    # Worker processes need not share this process's working directory: give them absolute local paths.
    output = job.output if "://" in job.output else os.path.abspath(job.output)
    job = replace(job, model=_resolve_model(job.model), output=output)
    sources, problems = expand_inputs(job.inputs, list_files=job.list_files)
    index = load_index(job.output, format=job.format, retry_errors=job.retry_errors)
    items = [
        {"source": source, "skip_pages": sorted(index.done_pages.get(source, ()))}
        for source in sources
        if source not in index.complete
    ]
    reports: list[dict] = []
    if items:
        # Before Ray starts: a run that cannot write would otherwise fail only once pages are read.
        check_output(job.output)
        reports = _execute(job, items, run_id=run_id, address=address, progress=progress)
    errors = [message for report in reports for message in report["errors"]]
    return BatchSummary(
        run_id=run_id,
        inputs=len(sources),
        inputs_skipped=len(sources) - len(items),
        inputs_scheduled=len(items),
        pages_written=sum(r["rows"] for r in reports),
        pages_failed=sum(r["failed"] for r in reports),
        files=tuple(r["file"] for r in reports if r["file"] is not None),
        errors=tuple(errors[:20]),
        problems=tuple(problems),
        seconds=time.perf_counter() - start,
        pages_unwritten=sum(r.get("unwritten", 0) for r in reports),
        write_errors=tuple(r["write_error"] for r in reports if r.get("write_error")),
    )


def _resolve_model(model: str | None) -> str | None:
    """Check the model folder here, before the actors fail on it, and make it absolute."""
    from ..pipeline.ocr import SHIPPED_MODELS, default_model_dir, shipped_model_dir

    if model is None:
        if not (default_model_dir() / "model.json").is_file():
            raise FileNotFoundError(f"no default weights are installed (expected {default_model_dir()}); pass a model")
        return None
    if model in SHIPPED_MODELS and not os.path.exists(model):
        return str(shipped_model_dir(model))  # a shipped name ("multi"); raises while its weights are not shipped
    if not os.path.isdir(model):
        raise FileNotFoundError(f"{model}: model folder not found")
    return os.path.abspath(model)


def _execute(job: BatchJob, items: list[dict], *, run_id: str, address: str | None, progress: bool) -> list[dict]:
    import ray
    import ray.data

    from .sink import PageSink
    from .workers import OCRWorker, read_pages

    started = not ray.is_initialized()
    if started:
        ray.init(address=address)
    context = ray.data.DataContext.get_current()
    shown = context.enable_progress_bars
    context.enable_progress_bars = progress
    try:
        dataset = ray.data.from_items(items, override_num_blocks=min(len(items), _MAX_INPUT_BLOCKS))
        dataset = dataset.flat_map(
            read_pages,
            fn_kwargs={"image_options": job.image_options, "text_layer": job.text_layer},
            num_cpus=job.reader_cpus,
        )
        dataset = dataset.map_batches(
            OCRWorker,
            fn_constructor_kwargs={
                "model": job.model,
                "device": job.device,
                "batch_size": job.batch_size,
                "image_options": job.image_options,
                "scale": job.scale,
                "detection": job.detection,
                "recognition": job.recognition,
                "relation": job.relation,
                "text_layer": job.text_layer,
                "threads": job.threads_per_actor,
            },
            batch_size=job.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=job.actors),
            num_cpus=job.cpus_per_actor,
            num_gpus=job.gpus_per_actor,
        )
        sink = PageSink(job.output, format=job.format, run_id=run_id, rows_per_file=job.rows_per_file)
        dataset.write_datasink(sink, ray_remote_args={"num_cpus": _WRITER_CPUS})
        return sink.reports
    finally:
        context.enable_progress_bars = shown
        if started:
            ray.shutdown()
