"""Character sets: the mapping between recognizer token ids and text.

Token ids follow the published models (spec §2.3, §6.4): 0 is blank/padding, 1 is end-of-sequence, 2 is the
"rare" token (decoded as ``^``), and id ``k >= 3`` is ``charset[k - 3]``. Each charset entry is a string, usually
one character; the vocabulary size of the recognizer is ``len(charset) + 3``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "BLANK",
    "EOS",
    "RARE",
    "RARE_TEXT",
    "NUM_SPECIAL_TOKENS",
    "Charset",
    "latin_charset",
    "multilingual_charset",
    "script_of",
]

BLANK = 0
EOS = 1
RARE = 2
RARE_TEXT = "^"
NUM_SPECIAL_TOKENS = 3


def script_of(char: str) -> str:
    """Return the script family of one character: latin, cyrillic, greek, cjk, kana, hangul, arabic, hebrew, common.

    Digits, punctuation and symbols are ``common``.
    """
    c = ord(char)
    if (0x41 <= c <= 0x5A) or (0x61 <= c <= 0x7A) or (0xC0 <= c <= 0x24F and c not in (0xD7, 0xF7)):
        return "latin"
    if 0x370 <= c <= 0x3FF:
        return "greek"
    if 0x400 <= c <= 0x52F:
        return "cyrillic"
    if 0x590 <= c <= 0x5FF or 0xFB1D <= c <= 0xFB4F:
        return "hebrew"
    if 0x600 <= c <= 0x6FF or 0x750 <= c <= 0x77F or 0xFB50 <= c <= 0xFDFF or 0xFE70 <= c <= 0xFEFF:
        # Arabic-Indic digits are numbers, but they only occur in Arabic text, so they count as Arabic.
        return "arabic"
    if 0x3040 <= c <= 0x30FF or 0x31F0 <= c <= 0x31FF:
        return "kana"
    if 0xAC00 <= c <= 0xD7A3 or 0x1100 <= c <= 0x11FF or 0x3130 <= c <= 0x318F:
        return "hangul"
    if 0x4E00 <= c <= 0x9FFF or 0x3400 <= c <= 0x4DBF or 0xF900 <= c <= 0xFAFF or 0x20000 <= c <= 0x2FFFF:
        return "cjk"
    return "common"


@dataclass(frozen=True)
class Charset:
    """An ordered list of character strings; token id = index + 3.

    >>> cs = Charset(("a", "b"))
    >>> cs.encode("ab", max_length=4)
    [3, 4, 1, 0]
    >>> cs.decode([3, 4, 1, 3])
    'ab'
    """

    characters: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        chars = tuple(self.characters)
        object.__setattr__(self, "characters", chars)
        for i, c in enumerate(chars):
            if not isinstance(c, str) or not c:
                raise ValueError(f"charset entry {i} must be a non-empty string, got {c!r}")
        index: dict[str, int] = {}
        for i, c in enumerate(chars):
            index.setdefault(c, i + NUM_SPECIAL_TOKENS)
        object.__setattr__(self, "_index", index)

    @property
    def num_tokens(self) -> int:
        """Vocabulary size of a recognizer using this charset (characters + 3 special tokens)."""
        return len(self.characters) + NUM_SPECIAL_TOKENS

    def __len__(self) -> int:
        return len(self.characters)

    def __contains__(self, char: object) -> bool:
        return char in self._index

    @classmethod
    def from_text(cls, text: Iterable[str]) -> Charset:
        """Build a charset of the distinct characters of ``text``, sorted by code point."""
        return cls(tuple(sorted(set("".join(text)))))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Charset:
        """Read a published ``charset.txt``: a UTF-8 JSON array of strings."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"charset file not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: charset must be a UTF-8 JSON array of strings ({exc})") from exc
        if not isinstance(data, list):
            raise ValueError(f"{path}: charset must be a JSON array of strings, got {type(data).__name__}")
        return cls(tuple(data))

    def to_file(self, path: str | os.PathLike[str]) -> None:
        """Write the charset in the published ``charset.txt`` form (a JSON array of strings)."""
        Path(path).write_text(json.dumps(list(self.characters), ensure_ascii=False), encoding="utf-8")

    def token_id(self, char: str) -> int:
        """Return the token id of one charset entry, or ``RARE`` if it is not in the charset."""
        return self._index.get(char, RARE)

    def encode(self, text: str, *, max_length: int | None = None) -> list[int]:
        """Encode text character by character, append EOS, and pad with blanks to ``max_length``.

        Characters absent from the charset become the rare token (2). If the text plus EOS is longer than
        ``max_length`` it is truncated (the EOS is dropped with it), so callers that need every label exact
        should check ``len(text) < max_length`` first.
        """
        ids = [self.token_id(c) for c in text] + [EOS]
        if max_length is not None:
            ids = ids[:max_length] + [BLANK] * max(0, max_length - len(ids))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Decode token ids as the published greedy decoder does: skip blanks, stop at EOS, rare → ``^``.

        Duplicates are not merged (the recognizer is not CTC-trained). An id past the vocabulary raises
        ``ValueError``. One row of :meth:`decode_batch`.
        """
        import numpy as np

        row = ids.detach().cpu() if hasattr(ids, "detach") else np.asarray(ids, dtype=np.int64)
        return self.decode_batch(row.reshape(1, -1))[0]

    def decode_batch(self, ids: Any) -> list[str]:
        """Decode each row of an ``[N, T]`` integer tensor or array of token ids: row ``i`` gives ``decode(ids[i])``.

        Vectorised (one table lookup for the whole array, one ``join`` per row), for the recognizer's batches on
        the reading path, where a Python loop over every position cost more than the decoding itself.

        Raises:
            ValueError: if ``ids`` is not two-dimensional, or an id before its row's first EOS is outside the
                vocabulary (as :meth:`decode`).
        """
        import numpy as np  # here, not at import time: ``import textspotter`` stays cheap

        values = ids.detach().cpu().numpy() if hasattr(ids, "detach") else np.asarray(ids)
        if values.ndim != 2:
            raise ValueError(f"ids must be an [N, T] array, got shape {values.shape}")
        if values.size == 0:
            return [""] * values.shape[0]
        values = values.astype(np.int64, copy=False)
        # Everything from a row's first EOS on is dropped: read as blank.
        after_eos = np.cumsum(values == EOS, axis=1) > 0
        values = np.where(after_eos, BLANK, values)
        bad = (values < 0) | (values >= self.num_tokens)
        if bad.any():
            raise ValueError(f"token id {int(values[bad][0])} is outside the vocabulary of {self.num_tokens} tokens")
        return ["".join(row) for row in self._lookup[values].tolist()]

    @cached_property
    def _lookup(self) -> Any:
        """``[num_tokens]`` numpy object array: id -> text it decodes to (blank and EOS empty, rare ``^``)."""
        import numpy as np

        table = np.empty(self.num_tokens, dtype=object)
        table[BLANK] = table[EOS] = ""
        table[RARE] = RARE_TEXT
        table[NUM_SPECIAL_TOKENS:] = self.characters
        return table

    def to_json(self) -> list[str]:
        return list(self.characters)


# Printable ASCII, the Latin-1 letters and signs, and the typographic punctuation common in documents.
_LATIN_EXTRA = (
    "¡¢£¤¥¦§¨©ª«¬®¯°±²³´µ¶·¸¹º»¼½¾¿ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ"
    "ŒœŠšŸŽžƒŁłŃńŚśŹźŻżĆćĘęĄąČčĎďĚěŇňŘřŤťŮů"
    "–—‘’‚“”„†‡•…‰′″‹›€™−≤≥≠≈∞√∑∏∫∂∆∇∈∉∩∪⊂⊃→←↑↓↔⇒⇔αβγδεζηθικλμνξοπρστυφχψωΓΔΘΛΞΠΣΦΨΩ"
)


def latin_charset() -> Charset:
    """Return the charset of textspotter's own English/Latin models.

    Printable ASCII (space excluded: words never contain it), Latin-1 and Central-European letters, typographic
    punctuation, common math symbols and Greek letters: the characters of scientific and business documents.
    """
    ascii_chars = [chr(c) for c in range(33, 127)]
    extra = [c for c in dict.fromkeys(_LATIN_EXTRA) if c not in ascii_chars]
    return Charset(tuple(ascii_chars + extra))


@lru_cache(maxsize=1)
def multilingual_charset() -> Charset:
    """Return the charset of the multilingual model (issue #22): en, zh-Hans, zh-Hant, ja, ko and ru.

    A frozen asset (``assets/charset-multi.json``) generated by ``scripts/multilingual_charset.py``; its recipe:

    * :func:`latin_charset` first, in its order (the English model's characters keep their token ids);
    * standard sets decoded from Python's codecs: GB2312 level 1 Hanzi (3,755), the Big5 frequent characters
      (5,401), JIS X 0208 level 1 kanji (2,965; no codec carries the Jōyō list: JIS level 1 holds most of it, the
      rest is in only where another set or the data holds it), the kana and punctuation rows of JIS X 0208, the
      2,350 KS X 1001 Hangul syllables, the Russian alphabet (66) and the CJK / fullwidth punctuation blocks;
    * every letter, digit, punctuation mark or symbol seen at least twice in the generator's zh/ja/ko/ru word lists
      or in a corpus build of the TeX Live zh/ja/ko/ru packages.

    10,614 characters (V = 10,617): 305 Latin, the standard sets, and 398 characters from the data only (other
    Cyrillic alphabets' letters, math italics, rarer Han). Left out (read as the rare token ``^``) unless seen in the
    data: GB2312 level 2 and Big5's less frequent level, Korean Hanja, Hangul outside KS X 1001, vertical
    presentation forms, emoji. ``assets/charset-multi.meta.json`` records the sizes and the wordfreq release. The
    result is cached: the same object is returned on every call.
    """
    text = resources.files("textspotter.assets").joinpath("charset-multi.json").read_text(encoding="utf-8")
    return Charset(tuple(json.loads(text)))
