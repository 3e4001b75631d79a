"""Turn folders, glob patterns, list files and URLs into the list of input files of a batch run (fsspec)."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from typing import Any

from ..imageio import INPUT_SUFFIXES

__all__ = ["INPUT_SUFFIXES", "expand_inputs", "canonical_source", "read_list_file"]


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol
    return "file" in (protocol if isinstance(protocol, (tuple, list)) else (protocol,))


def _url_to_fs(url: str) -> tuple[Any, str]:
    import fsspec

    return fsspec.core.url_to_fs(url)


def _name(fs: Any, path: str) -> str:
    """The key of a file in results and resume: an absolute local path, or the full URL of a remote file."""
    return path if _is_local(fs) else fs.unstrip_protocol(path)


def canonical_source(entry: str) -> str:
    """Return the name under which an input is recorded: absolute local paths, full URLs elsewhere.

    ``file://`` URLs and relative paths become absolute paths, so that reruns from another directory or with
    another spelling find the earlier rows.

    >>> canonical_source("file:///data/scan.png")
    '/data/scan.png'
    """
    if "://" not in entry and "::" not in entry:
        return os.path.abspath(entry)
    fs, path = _url_to_fs(entry)
    return _name(fs, path)


def read_list_file(url: str) -> Iterator[str]:
    """Yield the entries of a list file: one path or URL per line, skipping blank lines and ``#`` comments.

    Raises:
        FileNotFoundError: the list file does not exist (the message names it).
    """
    import fsspec

    try:
        with fsspec.open(url, "rt", encoding="utf-8") as handle:
            for line in handle:
                entry = line.strip()
                if entry and not entry.startswith("#"):
                    yield entry
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{url}: list file not found") from exc


def _expand_pattern(pattern: str) -> tuple[list[str], str | None]:
    fs, path = _url_to_fs(pattern)
    if glob.has_magic(path):
        # As in `textspotter read`, a pattern is taken at its word: every file it matches, whatever its suffix.
        found = fs.glob(path, detail=True)
        files = sorted(p for p, info in found.items() if info.get("type") == "file")
        return [_name(fs, p) for p in files], None if files else f"{pattern}: no file matches this pattern"
    if fs.isdir(path):
        files = sorted(p for p in fs.find(path) if p.lower().endswith(INPUT_SUFFIXES))
        problem = None if files else f"{pattern}: folder contains no images or PDFs"
        return [_name(fs, p) for p in files], problem
    # A missing file is not a problem here: the run records it as a failed input, with the others still running.
    return [_name(fs, path)], None


def expand_inputs(patterns: Sequence[str], *, list_files: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """List the input files of a batch run.

    Args:
        patterns: files, folders (searched recursively for images and PDFs, sorted) or glob patterns (``*``,
            ``?``, ``[...]``, ``**``), as local paths or fsspec URLs.
        list_files: list files (see :func:`read_list_file`); their entries are taken as files, without a check.

    Returns:
        ``(sources, problems)``: the input names (see :func:`canonical_source`) in order without duplicates, and one
        message per pattern or folder that yielded nothing.

    Raises:
        FileNotFoundError: a list file does not exist.
        ValueError: a URL names a protocol fsspec does not know (the message names the URL).

    >>> import fsspec
    >>> fs = fsspec.filesystem("memory")
    >>> fs.pipe({"/corpus/a.png": b"...", "/corpus/b.pdf": b"...", "/corpus/notes.txt": b"..."})
    >>> expand_inputs(["memory://corpus"])
    (['memory:///corpus/a.png', 'memory:///corpus/b.pdf'], [])
    """
    sources: list[str] = []
    problems: list[str] = []
    for pattern in patterns:
        try:
            found, problem = _expand_pattern(pattern)
        except (ImportError, ValueError) as exc:
            # fsspec raises these for unknown protocols or a missing driver package (s3fs, gcsfs...).
            raise ValueError(f"{pattern}: cannot open this location ({exc})") from exc
        sources.extend(found)
        if problem is not None:
            problems.append(problem)
    for list_file in list_files:
        sources.extend(canonical_source(entry) for entry in read_list_file(list_file))
    return list(dict.fromkeys(sources)), problems
