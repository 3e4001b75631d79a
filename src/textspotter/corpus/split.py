"""The document split: train, dev and test never share a document.

A document's split is a fixed function of its provenance key (``package/path inside the package``, see
:class:`textspotter.corpus.sources.Document`), so it never changes when packages are added, documents are
re-downloaded, or a build uses a different seed or worker count:

    u = first 8 bytes of sha256("textspotter-corpus-split/1:" + key), big-endian, divided by 2**64
    split = "train" if u < 0.90 else "dev" if u < 0.95 else "test"
    for the language packages (texlive-lang-*): "train" if u < 0.70 else "dev" if u < 0.85 else "test"

The language packages hold 17 (Korean) to 117 (Japanese) documents each, so a 5 % share left zero to two held-out
documents for some languages (Japanese dev 0, Korean dev 1, Russian test 1): too few to measure a language on.
They keep 15 % for dev and 15 % for test; ``u`` is the same, so a document only ever moves out of train.

Every page of a document (all its renderings, with or without effects) therefore lands in the same split.
``textspotter corpus build`` records the assignment of every document it saw in ``split.json``.
"""

from __future__ import annotations

import hashlib

__all__ = ["SPLITS", "SPLIT_RULE", "split_of", "key_hash"]

SPLITS = ("train", "dev", "test")
SPLIT_RULE = (
    'u = int.from_bytes(sha256(b"textspotter-corpus-split/1:" + key.encode())[:8], "big") / 2**64; '
    "train if u < 0.90, dev if u < 0.95, else test; "
    "for packages named texlive-lang-*: train if u < 0.70, dev if u < 0.85, else test"
)
_BOUNDS = (0.90, 0.95)
_LANGUAGE_PACKAGE_PREFIX = "texlive-lang-"
_LANGUAGE_PACKAGE_BOUNDS = (0.70, 0.85)


def _unit(prefix: str, key: str) -> float:
    digest = hashlib.sha256(f"{prefix}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(key: str) -> str:
    """Return ``train``, ``dev`` or ``test`` for a document's provenance key.

    >>> split_of("texlive-latex-base-doc/usr/share/doc/texlive-doc/latex/base/clsguide.pdf") in SPLITS
    True
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"a document key must be a non-empty string, got {key!r}")
    u = _unit("textspotter-corpus-split/1", key)
    low, high = _LANGUAGE_PACKAGE_BOUNDS if key.startswith(_LANGUAGE_PACKAGE_PREFIX) else _BOUNDS
    return "train" if u < low else "dev" if u < high else "test"


def key_hash(key: str) -> int:
    """A stable 63-bit integer for a document key (seeds its pages' random generators)."""
    digest = hashlib.sha256(f"textspotter-corpus-seed/1:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
