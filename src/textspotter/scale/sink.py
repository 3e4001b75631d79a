"""A Ray Data datasink writing result rows as whole part files (imports Ray: load it only to run a job)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa
from ray.data import Datasink
from ray.data.block import BlockAccessor

from .job import OUTPUT_FORMATS
from .results import output_schema, part_name, write_part

__all__ = ["PageSink"]

# Error messages a write task reports back to the driver, at most (the rows hold all of them).
_ERROR_SAMPLE = 20


class PageSink(Datasink):
    """Write each write task's rows to one part file of ``output`` (see ``scale.results``).

    Ray's own file sinks write to the final name directly, so a killed run can leave a truncated file that the next
    run could not read; this sink publishes whole files only.

    Args:
        output: output folder, path or fsspec URL, reachable from every node.
        format: ``"parquet"`` or ``"jsonl"``.
        run_id: identifier of the run, part of every file name (``results.new_run_id``).
        rows_per_file: rows Ray gathers before a write task starts (the last file may hold fewer).

    After the write, ``reports`` holds one ``{"file", "rows", "failed", "errors", "unwritten", "write_error"}`` dict
    per write task: a part file that could not be written (full disk, read-only storage) has ``file`` None,
    ``unwritten`` rows and the message in ``write_error``; the run goes on with the other tasks.
    """

    def __init__(self, output: str, *, format: str, run_id: str, rows_per_file: int) -> None:
        self.output = output
        self.format = format
        self.run_id = run_id
        self.rows_per_file = rows_per_file
        self.reports: list[dict[str, Any]] = []

    def get_name(self) -> str:
        return "WritePages"

    @property
    def min_rows_per_write(self) -> int:
        return self.rows_per_file

    def write(self, blocks: Iterable[Any], ctx: Any) -> dict[str, Any] | None:
        tables = [BlockAccessor.for_block(block).to_arrow() for block in blocks]
        tables = [t for t in tables if t.num_rows]
        if not tables:
            return None
        table = pa.concat_tables(tables).cast(output_schema())
        name = part_name(self.run_id, ctx.task_idx, OUTPUT_FORMATS[self.format])
        try:
            write_part(table, self.output, name, self.format)
        except OSError as exc:
            # Reported by the driver by name; an exception here would end the whole run with Ray's traceback and
            # stop the other write tasks. The rows are not in any file, so the next run redoes their pages.
            return {
                "file": None,
                "rows": 0,
                "failed": 0,
                "errors": [],
                "unwritten": table.num_rows,
                "write_error": exc.strerror or str(exc),
            }
        failed = table.filter(table["error"].is_valid())
        return {
            "file": name,
            "rows": table.num_rows,
            "failed": failed.num_rows,
            "errors": failed["error"].to_pylist()[:_ERROR_SAMPLE],
            "unwritten": 0,
            "write_error": None,
        }

    def on_write_complete(self, write_result: Any) -> None:
        # Runs on the driver, on this instance (write tasks work on copies).
        self.reports = [r for r in write_result.write_returns if r is not None]
