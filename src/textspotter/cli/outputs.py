"""Output files of the command line: folder checks before any work, atomic and streamed writes, option hints.

Every file a command writes goes first to ``<name>.partial`` in the same folder and is renamed to ``<name>``
(``os.replace``, atomic within a folder) once complete, so a file under its final name is always whole: a full disk
or a failed write leaves no truncated file, and a killed run leaves only ``.partial`` files, which are clearly
incomplete (a rerun overwrites them).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

__all__ = ["PARTIAL_SUFFIX", "check_folder", "describe_os_error", "PartialFile", "save_image", "option_hint"]

PARTIAL_SUFFIX = ".partial"


def describe_os_error(exc: OSError) -> str:
    """Return the operating system's reason for ``exc`` without the path (``"No space left on device"``)."""
    return exc.strerror or str(exc) or type(exc).__name__


def check_folder(folder: Path, *, create: bool) -> str | None:
    """Check that files can be written into ``folder`` by writing (and removing) a hidden one-byte file there.

    Writing is the only test that holds everywhere: ``os.access`` says yes to root on a read-only mount, and a full
    disk or a quota only shows when a file is created.

    Args:
        folder: the folder that will receive output files.
        create: create the folder (and its parents) when it is missing.

    Returns:
        None when the folder is usable, otherwise one line naming the folder and the reason.
    """
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"{folder}: cannot create this folder ({describe_os_error(exc)})"
    if not folder.is_dir():
        return f"{folder}: not a folder" if folder.exists() else f"{folder}: no such folder"
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".textspotter-write-check-")
    except OSError as exc:
        return f"{folder}: cannot write in this folder ({describe_os_error(exc)})"
    try:
        # One byte, synced: creating an empty file needs no free block, so only this shows a disk already full.
        os.write(handle, b"\0")
        os.fsync(handle)
    except OSError as exc:
        return f"{folder}: cannot write in this folder ({describe_os_error(exc)})"
    finally:
        os.close(handle)
        with contextlib.suppress(OSError):
            os.unlink(probe)
    return None


class PartialFile:
    """A file written piece by piece into ``<path>.partial`` and renamed to ``path`` when complete.

    Each :meth:`write` is flushed to the operating system, so a killed process leaves the pieces written so far in
    the ``.partial`` file. Nothing here raises ``OSError``: the first failure is kept in :attr:`error` (later
    writes are ignored) and the ``.partial`` file is removed, so that no truncated file stays behind.

    Args:
        path: the final path of the file.
        binary: write ``bytes`` (a PDF) instead of UTF-8 text.
    """

    def __init__(self, path: Path, *, binary: bool = False) -> None:
        self.path = path
        self.partial = path.with_name(path.name + PARTIAL_SUFFIX)
        self.binary = binary
        self.error: str | None = None
        self._handle: IO[Any] | None = None

    def _open(self) -> IO[Any]:
        if self.binary:
            return open(self.partial, "wb")  # noqa: SIM115 - kept open across pieces
        return open(self.partial, "w", encoding="utf-8")  # noqa: SIM115 - kept open across pieces

    @property
    def started(self) -> bool:
        """Whether a piece was written (the ``.partial`` file exists)."""
        return self._handle is not None

    def _fail(self, exc: OSError) -> None:
        self.error = f"cannot write {self.path}: {describe_os_error(exc)}"
        self.discard()

    def write(self, text: str | bytes) -> None:
        """Append ``text`` (``bytes`` for a binary file) and flush it (a no-op after a failure)."""
        if self.error is not None:
            return
        try:
            if self._handle is None:
                self._handle = self._open()
            self._handle.write(text)
            self._handle.flush()
        except OSError as exc:
            self._fail(exc)

    def commit(self) -> None:
        """Sync the file to disk and give it its final name (an empty file is created when nothing was written)."""
        if self.error is not None:
            return
        try:
            if self._handle is None:
                self._handle = self._open()
            self._handle.flush()
            # Sync before renaming: otherwise a crash soon after can leave the final name on an empty file.
            os.fsync(self._handle.fileno())
            self._handle.close()
            os.replace(self.partial, self.path)
        except OSError as exc:
            self._fail(exc)
        self._handle = None

    def close(self) -> None:
        """Close the file and keep it under its ``.partial`` name (an incomplete result, e.g. an input that failed
        after some of its pages were written)."""
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None

    def discard(self) -> None:
        """Close and remove the ``.partial`` file."""
        self.close()
        with contextlib.suppress(OSError):
            os.unlink(self.partial)


def save_image(image: Any, path: Path) -> str | None:
    """Save a PIL image as PNG at ``path`` through ``<path>.partial``; return None, or why it could not be written.

    Args:
        image: a ``PIL.Image.Image``.
        path: the final path.
    """
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    try:
        with open(partial, "wb") as handle:
            # The format is named because PIL would otherwise guess it from the ".partial" suffix.
            image.save(handle, format="PNG")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        return f"cannot write {path}: {describe_os_error(exc)}"
    return None


def option_hint(message: str, options: Mapping[str, str]) -> str:
    """Return ``" (option --flag)"`` for the first option name that ``message`` mentions, else ``""``.

    Library errors name settings as Python does (``batch_size``, ``ImageOptions.dpi``); the hint tells a command
    line user which flag that is.

    Args:
        message: the error message.
        options: Python-side names (whole words in messages) → command-line flags, e.g. ``{"batch_size":
            "--batch-size"}``.
    """
    found = [
        (match.start(), flag)
        for name, flag in options.items()
        if (match := re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", message))
    ]
    return f" (option {min(found)[1]})" if found else ""
