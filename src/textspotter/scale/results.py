"""The output of a batch run: row schema, part files, the resume index, and reading the results back.

An output folder holds part files ``part-<run>-<task>-<random>.parquet`` (or ``.jsonl``), one row per page:

============  ==============================  ==========================================================
column        type                            meaning
============  ==============================  ==========================================================
source        string                          input file: absolute local path or full URL
page          int32, null                     0-based page number; null when the whole input failed
page_count    int32, null                     pages in the input; null when unknown (unreadable input)
text          string, null                    reading-order text of the page (``Page.text()``)
document      string, null                    one-page ``Document.to_dict()`` as compact JSON
text_source   string, null                    where the text came from: ocr, text-layer, mixed or none
text_layer_reason string, null                why the text layer was not (wholly) used, or null
error         string, null                    why the page (or input) could not be read; null on success
timings       struct of float64, null fields  seconds: read, preprocess, detect, recognize, relate,
                                              assemble, ocr (see ``TIMING_FIELDS``)
============  ==============================  ==========================================================

``text_source`` and ``text_layer_reason`` are ``Page.text_source`` and ``Page.text_layer_reason`` (also in
``document``); both are null on error rows, and part files written before these columns existed read them as null.

Part files appear whole: locally they are written under a hidden temporary name and renamed, and object stores
publish an object only when its upload completes. Names starting with ``.`` or ``_`` are never read.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .job import OUTPUT_FORMATS

__all__ = [
    "TIMING_FIELDS",
    "output_schema",
    "new_run_id",
    "part_name",
    "write_part",
    "check_output",
    "list_parts",
    "ResumeIndex",
    "load_index",
    "read_results",
]

TIMING_FIELDS = ("read", "preprocess", "detect", "recognize", "relate", "assemble", "ocr")
"""Per-page seconds: ``read`` fetches the input and decodes or renders the page (a PDF's opening is charged to its
first page); the pipeline stages are the batch's time shared equally by its pages; ``ocr`` is the actor's wall time
for the batch, shared the same way."""

_INDEX_COLUMNS = ["source", "page", "page_count", "error"]
# Columns added after the first release: part files written without them read as null there (resume keeps working
# on an output folder of an older version).
_LATER_COLUMNS = ("text_source", "text_layer_reason")


def output_schema() -> Any:
    """Return the ``pyarrow.Schema`` of a result row (see the module docstring)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("source", pa.string(), nullable=False),
            pa.field("page", pa.int32()),
            pa.field("page_count", pa.int32()),
            pa.field("text", pa.string()),
            pa.field("document", pa.string()),
            pa.field("text_source", pa.string()),
            pa.field("text_layer_reason", pa.string()),
            pa.field("error", pa.string()),
            pa.field("timings", pa.struct([pa.field(name, pa.float64()) for name in TIMING_FIELDS])),
        ]
    )


def new_run_id() -> str:
    """Return a run identifier that sorts by start time (UTC) and is unique across concurrent runs."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def part_name(run_id: str, task: int, extension: str) -> str:
    """Return the file name of one part: ``part-<run>-<task>-<random><extension>``."""
    return f"part-{run_id}-{task:05d}-{uuid.uuid4().hex[:8]}{extension}"


def _filesystem(url: str) -> tuple[Any, str]:
    import fsspec

    return fsspec.core.url_to_fs(url)


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol
    return "file" in (protocol if isinstance(protocol, (tuple, list)) else (protocol,))


def _encode(table: Any, format: str) -> bytes:
    if format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        return sink.getvalue().to_pybytes()
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in table.to_pylist()).encode("utf-8")


def _display(fs: Any, path: str) -> str:
    """Name a path as a user gave it: a local path as it is, a remote one as a full URL."""
    return path if _is_local(fs) else fs.unstrip_protocol(path)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def check_output(output: str) -> None:
    """Check that part files can be written to ``output``: create the folder and write (then remove) a one-byte probe.

    Writing is the only test that holds everywhere: permissions do not stop root on a read-only mount, and object
    stores check credentials only on a request. The probe is named ``_write-check-*``, a name readers skip, so a
    probe that cannot be removed is harmless.

    Args:
        output: the output folder (path or fsspec URL).

    Raises:
        ValueError: the folder cannot be created or written (the message names it and gives the reason).
    """
    fs, root = _filesystem(output)
    probe = posixpath.join(root, f"_write-check-{uuid.uuid4().hex[:8]}")
    try:
        fs.makedirs(root, exist_ok=True)
        fs.pipe_file(probe, b"\0")  # one byte: an empty file needs no free block, so a full disk would pass
    except OSError as exc:
        raise ValueError(f"{output}: the output folder cannot be written ({_reason(exc)})") from exc
    except Exception as exc:  # noqa: BLE001 - object-store drivers raise their own types (credentials, network)
        raise ValueError(f"{output}: the output folder cannot be written ({type(exc).__name__}: {exc})") from exc
    with contextlib.suppress(OSError):
        fs.rm_file(probe)


def write_part(table: Any, output: str, name: str, format: str) -> str:
    """Write ``table`` (result rows) as the part file ``name`` of ``output`` so that it appears whole.

    Args:
        table: a ``pyarrow.Table`` with :func:`output_schema`.
        output: the output folder (path or fsspec URL); created if missing.
        name: file name from :func:`part_name`.
        format: ``"parquet"`` or ``"jsonl"``.

    Returns:
        The path of the written file within its filesystem.

    Raises:
        OSError: the file cannot be written (full disk, read-only storage); the message names the part file and
            the reason, and no partial file is left behind (a local temporary file is removed).
    """
    fs, root = _filesystem(output)
    data = _encode(table, format)
    final = posixpath.join(root, name)
    # A local file is visible while being written: write a hidden name, then rename (atomic within a folder).
    # Object stores (and memory://) publish an object when its upload completes: no partial file is visible.
    temporary = posixpath.join(root, f".{name}.tmp") if _is_local(fs) else final
    try:
        fs.makedirs(root, exist_ok=True)
        fs.pipe_file(temporary, data)
        if temporary != final:
            fs.mv(temporary, final)
    except OSError as exc:
        if temporary != final:
            with contextlib.suppress(OSError):
                fs.rm_file(temporary)
        raise OSError(exc.errno, f"{_display(fs, final)}: cannot be written ({_reason(exc)})") from exc
    return final


def list_parts(output: str, format: str) -> list[str]:
    """Return the part files of ``format`` in ``output``, sorted by name (that is, by run start time).

    Raises:
        ValueError: the folder holds part files of the other format (a run must keep one format).
    """
    fs, root = _filesystem(output)
    if not fs.exists(root):
        return []
    names = [posixpath.basename(p) for p in fs.ls(root, detail=False)]
    visible = [n for n in names if not n.startswith((".", "_"))]
    for other, extension in OUTPUT_FORMATS.items():
        if other != format and any(n.endswith(extension) for n in visible):
            raise ValueError(
                f"{output}: holds {other} results; rerun with the {other} format or choose another output folder"
            )
    extension = OUTPUT_FORMATS[format]
    return sorted(posixpath.join(root, n) for n in visible if n.endswith(extension))


def _read_part(fs: Any, path: str, format: str, columns: list[str] | None) -> Any:
    import pyarrow as pa
    import pyarrow.json as pa_json
    import pyarrow.parquet as pq

    schema = output_schema()
    try:
        with fs.open(path, "rb") as handle:
            if format == "parquet":
                table = pq.read_table(handle, columns=columns)
            else:
                options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
                table = pa_json.read_json(handle, parse_options=options)
                table = table.select(columns) if columns is not None else table
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{path}: unreadable result file ({exc}); move it away to redo its pages") from exc
    wanted = schema if columns is None else pa.schema([schema.field(c) for c in columns])
    for name in _LATER_COLUMNS:
        if name in wanted.names and name not in table.column_names:
            table = table.append_column(schema.field(name), pa.nulls(table.num_rows, pa.string()))
    if set(table.column_names) == set(wanted.names):
        table = table.select(wanted.names)  # the added columns in their place; other differences fail the cast
    try:
        return table.cast(wanted)
    except (pa.ArrowException, ValueError) as exc:
        raise ValueError(f"{path}: not a textspotter result file ({exc})") from exc


def _read_parts(output: str, format: str, columns: list[str] | None) -> tuple[Any, int]:
    """Return all rows of the part files (in file order) and the number of files."""
    import pyarrow as pa

    fs, _ = _filesystem(output)
    paths = list_parts(output, format)
    schema = output_schema()
    wanted = schema if columns is None else pa.schema([schema.field(c) for c in columns])
    tables = [_read_part(fs, path, format, columns) for path in paths]
    return (pa.concat_tables(tables) if tables else wanted.empty_table()), len(paths)


@dataclass(frozen=True)
class ResumeIndex:
    """What an output folder already holds, for a rerun to skip.

    Attributes:
        complete: inputs with nothing left to do: a row for each of their pages (or, for an input that could not
            be opened, its input-level error row, unless errors are retried).
        done_pages: for the other inputs with rows, the pages already done (0-based).
        files: part files read.
        rows: rows read.
    """

    complete: frozenset[str] = frozenset()
    done_pages: Mapping[str, frozenset[int]] = field(default_factory=dict)
    files: int = 0
    rows: int = 0


def load_index(output: str, *, format: str, retry_errors: bool = False) -> ResumeIndex:
    """Read the (source, page) pairs already written to ``output``.

    Args:
        output: the output folder (path or fsspec URL); a missing folder means nothing is done.
        format: ``"parquet"`` or ``"jsonl"``.
        retry_errors: count rows that record an error as not done.

    Raises:
        ValueError: a part file cannot be read, or the folder holds the other format.
    """
    import pyarrow.compute as pc

    if format not in OUTPUT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(OUTPUT_FORMATS)}, got {format!r}")
    table, files = _read_parts(output, format, _INDEX_COLUMNS)
    rows = table.num_rows
    if retry_errors:
        table = table.filter(pc.is_null(table["error"]))
    whole_input = table.filter(pc.is_null(table["page"]))
    failed_inputs = set(whole_input["source"].to_pylist())
    pages = table.filter(pc.is_valid(table["page"]))
    grouped = pages.group_by("source").aggregate([("page", "distinct"), ("page_count", "max")])
    complete: set[str] = set(failed_inputs)
    done: dict[str, frozenset[int]] = {}
    for source, page_list, count in zip(
        grouped["source"].to_pylist(), grouped["page_distinct"].to_pylist(), grouped["page_count_max"].to_pylist()
    ):
        if source in complete:
            continue
        if count is not None and len(page_list) >= count:
            complete.add(source)
        else:
            done[source] = frozenset(page_list)
    return ResumeIndex(complete=frozenset(complete), done_pages=done, files=files, rows=rows)


def read_results(output: str, *, format: str = "parquet") -> Any:
    """Read every result row of ``output``, keeping one row per (source, page).

    When a page has several rows (errors retried with ``retry_errors``, or overlapping runs), the last written row
    without an error wins, else the last written row. An input-level error row (``page`` null) is dropped when the
    input has page rows.

    Returns:
        A ``pyarrow.Table`` with :func:`output_schema`, sorted by source then page.

    Raises:
        ValueError: a part file cannot be read, or the folder holds the other format.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if format not in OUTPUT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(OUTPUT_FORMATS)}, got {format!r}")
    table, _ = _read_parts(output, format, None)
    if table.num_rows == 0:
        return table
    # Rank each row: rows without error above rows with one, later rows above earlier ones. Ranks are unique, so
    # the best row of each (source, page) group is the one whose rank is the group's maximum.
    order = pa.array(range(table.num_rows), type=pa.int64())
    ok = pc.cast(pc.is_null(table["error"]), pa.int64())
    rank = pc.add(pc.multiply(ok, table.num_rows), order)
    ranked = table.append_column("_rank", rank)
    # Whole-input rows (page null) group under page -1, apart from every real page.
    keyed = ranked.append_column("_page", pc.fill_null(table["page"], -1))
    best = keyed.group_by(["source", "_page"]).aggregate([("_rank", "max")])["_rank_max"]
    kept = keyed.filter(pc.is_in(keyed["_rank"], value_set=best))
    with_pages = pc.unique(kept.filter(pc.is_valid(kept["page"]))["source"])
    kept = kept.filter(pc.or_(pc.is_valid(kept["page"]), pc.invert(pc.is_in(kept["source"], value_set=with_pages))))
    kept = kept.sort_by([("source", "ascending"), ("_page", "ascending")])
    return kept.drop_columns(["_rank", "_page"])
