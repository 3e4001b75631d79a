"""Dashes in read text: one dash for a run inside a word, and the minus sign between math operands.

Two confusions of the recognizer that the word's own pixels cannot settle but its text and its neighbours can:

* **Runs.** A long dash inside a word is sometimes read as two (``577–-583``, ``Born--Mayer``): the recognizer's
  columns cover it twice. Inside a word, between two letters or digits, printed text almost never has two dashes in a
  row (146 such runs beside about 389,000 dashes in the text layers of the English corpus's training pages, most of
  them TeX source shown verbatim), so a run there is one dash: the longest kind in it (``—`` over ``–`` over ``-``).
* **Minus.** A minus sign standing alone between two math operands (``n – 1``, ``(1 – p)``, ``x — y``) is read as
  an en or em dash: in a crop of the sign alone, the three differ only in length against an unseen x-height. Where
  the words before and after are operands (a number, one Latin or Greek letter, or a token with ``= + × ^ _``,
  brackets or a Greek letter) the dash is written ``−`` (U+2212). Two plain numbers around it are a range
  (``608 – 614``) and keep their dash, as does any dash next to an ordinary word (``results – see``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["DASHES", "LONE_DASHES", "MINUS", "join_dash_runs", "math_minus"]

DASHES = "-–—"
"""Hyphen-minus, en dash, em dash: the dashes these rules touch."""

MINUS = "−"
"""U+2212 MINUS SIGN."""

LONE_DASHES = frozenset("–—")
"""The dashes :func:`math_minus` may turn into a minus sign when they stand alone."""

_RUN = re.compile(r"(?<=[^\W_])[-–—]{2,}(?=[^\W_])")
_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)*[.,;:]?")
_GREEK = re.compile("[\u0391-\u03a9\u03b1-\u03c9\u03d1\u03d5\u03f5]")
_MATH_MARKS = re.compile(r"[=+×^_()\[\]{}|]")


def _longest(run: re.Match[str]) -> str:
    text = run.group()
    return "—" if "—" in text else "–" if "–" in text else "-"


def join_dash_runs(text: str) -> str:
    """Write each run of two or more dashes between two letters or digits as one dash, the longest kind in it.

    >>> join_dash_runs("pp. 577–-583, Born--Mayer, --verbose, a---")
    'pp. 577–583, Born-Mayer, --verbose, a---'
    """
    if "-" not in text and "–" not in text and "—" not in text:
        return text
    return _RUN.sub(_longest, text)


def _operand(token: str) -> bool:
    if _NUMBER.fullmatch(token):
        return True
    core = token.strip("()[]{},.;:")
    if len(core) == 1 and ((core.isascii() and core.isalpha()) or _GREEK.match(core)):
        return True
    return bool(_MATH_MARKS.search(token) or _GREEK.search(token))


def math_minus(tokens: Sequence[str]) -> list[str]:
    """The tokens of one line with each lone en or em dash between two math operands written as a minus sign.

    Args:
        tokens: the words of one line in reading order.

    Returns:
        A new list of the same length; only tokens that are exactly ``–`` or ``—`` may change, to ``−``.

    >>> math_minus(["k", "=", "n", "–", "1,", "pages", "608", "–", "614", "results", "—", "see"])
    ['k', '=', 'n', '−', '1,', 'pages', '608', '–', '614', 'results', '—', 'see']
    """
    out = list(tokens)
    for i in range(1, len(out) - 1):
        if out[i] not in LONE_DASHES:
            continue
        before, after = tokens[i - 1], tokens[i + 1]
        if _NUMBER.fullmatch(before) and _NUMBER.fullmatch(after):
            continue  # a range: 608 – 614
        if _operand(before) and _operand(after):
            out[i] = MINUS
    return out
