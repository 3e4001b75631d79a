"""A disk cache of engine outputs, keyed by (engine, engine version, image content hash).

Reruns of ``textspotter bench`` and ``textspotter eval`` read cached pages instead of running the engines again;
anything that could change an engine's output or timing (library version, model files, settings, thread count)
is part of the engine's version string, so a change makes new entries instead of reusing stale ones. A cached
prediction keeps the per-page time measured when it was computed; the engine's model-load time is cached too.

Layout: ``<folder>/<engine>/<key[:2]>/<key>.json`` per page and ``<folder>/<engine>/load-<key>.json`` per engine
version, where ``key`` is the SHA-256 of ``engine \\0 version \\0 image hash``. Entries are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from textspotter.document import Line, Page, Paragraph, Word, as_quad
from textspotter.evaluate.engines import Prediction

__all__ = ["ResultCache", "default_cache_dir", "file_sha256", "page_from_dict"]

_FORMAT = 1  # bump when the entry layout changes, so old entries are ignored rather than misread


def default_cache_dir() -> Path:
    """Return ``$XDG_CACHE_HOME/textspotter/bench`` (``~/.cache/textspotter/bench`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "textspotter" / "bench"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def page_from_dict(data: dict[str, Any]) -> Page:
    """Rebuild a :class:`Page` from ``Page.to_dict()`` (coordinates and confidences as rounded there).

    ``text_source`` and ``text_layer_reason`` come back too; a dict without them (an older cache entry) gives an
    OCRed page (``"ocr"``, None).
    """

    def word(w: dict[str, Any]) -> Word:
        return Word(
            text=str(w["text"]),
            quad=as_quad(w["quad"]),
            confidence=float(w["confidence"]),
            detection_confidence=float(w["detection_confidence"]),
            text_confidence=float(w["text_confidence"]),
            order=int(w.get("order", 0)),
            valid=bool(w.get("valid", True)),
        )

    def line(entry: dict[str, Any]) -> Line:
        return Line(
            words=tuple(word(w) for w in entry["words"]),
            quad=as_quad(entry["quad"]),
            confidence=float(entry["confidence"]),
            order=int(entry.get("order", 0)),
        )

    paragraphs = tuple(
        Paragraph(
            lines=tuple(line(entry) for entry in p["lines"]),
            quad=as_quad(p["quad"]),
            confidence=float(p["confidence"]),
            order=int(p.get("order", 0)),
        )
        for p in data.get("paragraphs", [])
    )
    return Page(
        width=int(data["width"]),
        height=int(data["height"]),
        paragraphs=paragraphs,
        index=int(data.get("index", 0)),
        rotation=int(data.get("rotation", 0)),
        # Entries written before text-layer passthrough hold neither: their pages were OCRed.
        text_source=str(data.get("text_source") or "ocr"),
        text_layer_reason=None if data.get("text_layer_reason") is None else str(data["text_layer_reason"]),
    )


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: a run killed mid-write leaves a stray temporary file, never a truncated entry.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(data, file, ensure_ascii=False, separators=(",", ":"))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class ResultCache:
    """Engine outputs on disk, per (engine name, engine version, image hash).

    Args:
        folder: cache folder (created on first write); e.g. :func:`default_cache_dir`.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    @staticmethod
    def key(engine: str, version: str, image_hash: str) -> str:
        """Return the entry key (hex SHA-256) of one page."""
        return hashlib.sha256(f"{engine}\0{version}\0{image_hash}".encode()).hexdigest()

    def _page_path(self, engine: str, version: str, image_hash: str) -> Path:
        key = self.key(engine, version, image_hash)
        return self.folder / engine / key[:2] / f"{key}.json"

    def _load_path(self, engine: str, version: str) -> Path:
        return self.folder / engine / f"load-{self.key(engine, version, '')}.json"

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            # A damaged entry is a miss: the page is recomputed and the entry rewritten.
            return None
        return data if isinstance(data, dict) and data.get("format") == _FORMAT else None

    def get(self, engine: str, version: str, image_hash: str) -> Prediction | None:
        """Return the cached prediction of a page, or ``None``."""
        data = self._read(self._page_path(engine, version, image_hash))
        if data is None:
            return None
        try:
            page = page_from_dict(data["page"])
        except (KeyError, TypeError, ValueError):
            return None
        return Prediction(page=page, seconds=float(data["seconds"]), tables=tuple(data.get("tables", ())))

    def put(self, engine: str, version: str, image_hash: str, prediction: Prediction) -> None:
        """Store a page's prediction (predictions with an error are not cached)."""
        if prediction.error is not None:
            return
        entry = {
            "format": _FORMAT,
            "engine": engine,
            "version": version,
            "image_sha256": image_hash,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds": prediction.seconds,
            "tables": list(prediction.tables),
            "page": prediction.page.to_dict(),
        }
        _write_atomically(self._page_path(engine, version, image_hash), entry)

    def get_load_seconds(self, engine: str, version: str) -> float | None:
        """Return the cached model-load time of an engine version, or ``None``."""
        data = self._read(self._load_path(engine, version))
        return float(data["seconds"]) if data is not None and "seconds" in data else None

    def put_load_seconds(self, engine: str, version: str, seconds: float) -> None:
        """Store the model-load time of an engine version."""
        entry = {"format": _FORMAT, "engine": engine, "version": version, "seconds": seconds}
        _write_atomically(self._load_path(engine, version), entry)
