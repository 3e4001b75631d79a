"""Latin and Cyrillic letters that look the same, written in the script of the word they stand in.

Printed, ``о`` (Cyrillic) and ``o`` (Latin) are the same shape, as are eleven more pairs; a recognizer that reads
both scripts can only guess which of the two it sees, and the guess flips from word to word and from checkpoint to
checkpoint. A reader settles it by the rest of the word: ``Meликoв`` is Russian, so its ``M``, ``e`` and ``o`` are
Cyrillic. :func:`unify_scripts` does the same for the texts of one page: a word whose other letters belong to one
of the two scripts gets that script's form of each look-alike; a word of one or two look-alikes only (an initial
``А.``, the preposition ``с``), or one read in a mix of both scripts, takes the script that dominates the page.
Words that already mix letters that exist in one script only are left alone (they are misreadings this cannot
settle), and so is everything else (digits, punctuation, CJK).

Measured on the multilingual model's readings of the true word boxes of 10 Russian corpus dev pages, the character
error rate is 6.8 % after this against 8.5 % as read, and 5.4 % with every look-alike counted as right
(benchmarks/RESULTS.md, "Session 28").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..charset import script_of

__all__ = ["unify_scripts", "CYRILLIC_LOOKALIKES", "LATIN_LOOKALIKES"]

# Pairs of the same printed shape (upright roman and sans faces). Not included: shapes that differ in most faces
# (к/k, п/n, и/u, т/m only in italics) and letters Russian lacks (і, ј, ѕ), which would turn Latin into Ukrainian.
CYRILLIC_LOOKALIKES = "АВЕКМНОРСТХУаеорсух"
LATIN_LOOKALIKES = "ABEKMHOPCTXYaeopcyx"
_TO_CYRILLIC = str.maketrans(LATIN_LOOKALIKES, CYRILLIC_LOOKALIKES)
_TO_LATIN = str.maketrans(CYRILLIC_LOOKALIKES, LATIN_LOOKALIKES)
_LOOKALIKES = frozenset(CYRILLIC_LOOKALIKES + LATIN_LOOKALIKES)
_CYRILLIC = re.compile("[\u0400-\u052f]")  # script_of's Cyrillic range, searched in C on every page
_SHORT = 2  # look-alike letters of a token the page's script settles (measured: 2 fixes 100 words, breaks 8)


def _counts(token: str) -> tuple[int, int, int, int]:
    """(Cyrillic-only letters, Latin-only letters, Cyrillic look-alikes, Latin look-alikes) of ``token``."""
    cyrillic = latin = cyrillic_like = latin_like = 0
    for char in token:
        script = script_of(char)
        if char in _LOOKALIKES:
            if script == "cyrillic":
                cyrillic_like += 1
            else:
                latin_like += 1
        elif script == "cyrillic":
            cyrillic += 1
        elif script == "latin":
            latin += 1
    return cyrillic, latin, cyrillic_like, latin_like


def _unify_token(token: str, page_script: str | None) -> str:
    cyrillic, latin, cyrillic_like, latin_like = _counts(token)
    short = not (cyrillic or latin) and cyrillic_like + latin_like <= _SHORT and not any(c.isdigit() for c in token)
    if short and page_script is not None:
        # An initial ("А.") or a one-letter word ("с", "о") has no other letter to tell its script: the page does.
        # Longer words of look-alikes only ("TeX" on a Russian page) keep the script they were read in; so do
        # letters after digits ("1995a").
        return token.translate(_TO_CYRILLIC if page_script == "cyrillic" else _TO_LATIN)
    if not ((cyrillic or cyrillic_like) and (latin or latin_like)):
        return token  # one script only: nothing to settle
    if cyrillic and not latin:
        return token.translate(_TO_CYRILLIC)
    if latin and not cyrillic:
        return token.translate(_TO_LATIN)
    if cyrillic or latin:
        return token  # letters of both scripts that no look-alike explains: a misreading left as read
    # Only look-alikes, read in both scripts: the page decides, else the word's own majority.
    script = page_script
    if script is None and cyrillic_like != latin_like:
        script = "cyrillic" if cyrillic_like > latin_like else "latin"
    if script is None:
        return token
    return token.translate(_TO_CYRILLIC if script == "cyrillic" else _TO_LATIN)


def unify_scripts(texts: Sequence[str], pages: Sequence[int] | None = None) -> list[str]:
    """Write every Latin/Cyrillic look-alike in the script of its word (see the module docstring).

    Args:
        texts: the readings (words or lines; each whitespace-separated token is settled on its own).
        pages: the page (image) index of each text, for the page-wide script of tokens made only of look-alikes;
            None treats all texts as one page.

    Returns:
        The texts, changed only where a look-alike was written in the other script than its word's.

    >>> unify_scripts(["Meликoв", "Кa-", "IАEA", "TeX", "Зefn", "A.", "1995a"])
    ['Меликов', 'Ка-', 'IAEA', 'TeX', 'Зefn', 'А.', '1995a']
    """
    if pages is None:
        pages = [0] * len(texts)
    if len(pages) != len(texts):
        raise ValueError(f"unify_scripts needs one page index per text, got {len(pages)} for {len(texts)} texts")
    if not any(_CYRILLIC.search(text) for text in texts):
        return list(texts)  # a word can mix the two scripts only if there is Cyrillic at all (the common case)
    # The page's script: which of the two has more letters that only it has.
    totals: dict[int, list[int]] = {}
    for text, page in zip(texts, pages, strict=True):
        cyrillic, latin, _, _ = _counts(text)
        total = totals.setdefault(page, [0, 0])
        total[0] += cyrillic
        total[1] += latin
    out = []
    for text, page in zip(texts, pages, strict=True):
        cyrillic, latin = totals.get(page, (0, 0))
        page_script = "cyrillic" if cyrillic > latin else "latin" if latin > cyrillic else None
        if any(char in _LOOKALIKES for char in text):
            text = " ".join(_unify_token(token, page_script) for token in text.split(" "))
        out.append(text)
    return out
