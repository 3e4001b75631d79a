"""Kana read on a Chinese page: which pages are Chinese, and which tokens to leave out when they are read again (ours).

A Han character printed small, light or thin (a Song face scanned at low resolution) is sometimes read as a kana of
similar shape by a model that reads Japanese too: ``を`` for a stroke of ``奇``, ``か`` for ``力``. On a Japanese
page kana are a third or more of the Han and kana characters; on a Chinese page there are none, so every kana read
there is a misreading. :func:`han_pages` finds the pages whose Han and kana readings are nearly all Han, and the
pipeline reads their regions that hold kana again with the tokens of :func:`kana_token_ids` excluded from the
decoding (``RecognitionOptions.han_pages``).

Measured on the multilingual model's corpus dev pages (benchmarks/RESULTS.md, "Session 45"): 485 kana read among
20,620 Han and kana characters of the 40 Chinese pages (the references hold 1), at most 17 % of a page's; on the 40
Japanese pages the share read is 38 % or more (references 68 % overall).

>>> sorted(han_pages(["中文文本" * 10, "日本語のテキスト" * 5, "か" + "中" * 40], [0, 1, 2]))
[0, 2]
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from ..charset import NUM_SPECIAL_TOKENS, Charset

__all__ = ["KANA", "HAN", "han_pages", "kana_token_ids"]

# Hiragana, katakana (the middle dot U+30FB left out: Chinese text writes names with it) and half-width katakana.
KANA = re.compile("[\u3041-\u309f\u30a0-\u30fa\u30fc-\u30ff\uff66-\uff9f]")
HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

MAX_KANA_SHARE = 0.25
"""A page whose kana are under this share of its Han and kana characters read is Chinese (dev pages: Chinese at
most 0.17, Japanese at least 0.38)."""
MIN_CHARACTERS = 30
"""Han and kana characters a page needs before its share decides anything."""


def han_pages(
    texts: Sequence[str],
    pages: Sequence[int],
    *,
    max_kana_share: float = MAX_KANA_SHARE,
    min_characters: int = MIN_CHARACTERS,
) -> set[int]:
    """The pages (indices from ``pages``) whose readings hold at least ``min_characters`` Han and kana characters,
    kana under ``max_kana_share`` of them.

    Args:
        texts: the readings of the batch.
        pages: the page index of each reading.
        max_kana_share: in [0, 1].
        min_characters: at least 1.

    Raises:
        ValueError: ``pages`` not one per text, or an argument out of range.
    """
    if len(pages) != len(texts):
        raise ValueError(f"han_pages needs one page index per text, got {len(pages)} for {len(texts)} texts")
    if not 0.0 <= max_kana_share <= 1.0:
        raise ValueError(f"max_kana_share must be in [0, 1], got {max_kana_share!r}")
    if min_characters < 1:
        raise ValueError(f"min_characters must be at least 1, got {min_characters!r}")
    counts: dict[int, list[int]] = {}
    for text, page in zip(texts, pages, strict=True):
        han, kana = len(HAN.findall(text)), len(KANA.findall(text))
        if han or kana:
            total = counts.setdefault(page, [0, 0])
            total[0] += han
            total[1] += kana
    return {
        page
        for page, (han, kana) in counts.items()
        if han + kana >= min_characters and kana < max_kana_share * (han + kana)
    }


@functools.lru_cache(maxsize=8)
def _kana_ids(characters: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(i + NUM_SPECIAL_TOKENS for i, c in enumerate(characters) if KANA.fullmatch(c))


def kana_token_ids(charset: Charset) -> tuple[int, ...]:
    """The token ids of ``charset``'s kana (empty for a charset without them)."""
    return _kana_ids(tuple(charset.characters))
