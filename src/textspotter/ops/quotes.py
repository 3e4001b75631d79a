"""Closing quotation marks that a detected word box left out (ours, issue #19).

A closing double quote after a full stop or a comma (``felt.”``) sits above the line's low punctuation, and the
detector's word box often ends before it: the recognizer then reads ``felt.``, and the page holds more opening quotes
than closing ones. On the magazine pages of tesseract-test, 8 of 11 such words read from their detected box lacked
the quote; lengthened at their end by a third of their height, 7 of them read it.

So, on each page (detector input) whose readings open more double quotes than they close, :func:`quote_candidates`
picks the words that end in punctuation without a quote; the pipeline reads them again from their quad lengthened at
its end (``QuoteOptions.extend``), and :func:`accept_closing_quotes` keeps a new reading only when it is the old one
plus a closing double quote (or the old one with the quote in place of its last mark: the quote is then added
after the mark), read at ``QuoteOptions.min_confidence`` or above, and no more of them on a page than the
page left open (the most confident first). Nothing else of a reading changes, so a page whose quotes balance, or a
word read differently the second time, is left exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textspotter.ops.switches import auto_on_off

__all__ = ["QuoteOptions", "quote_options", "quote_balance", "quote_candidates", "accept_closing_quotes"]

# Double quotes that open and close a quotation; the ASCII one counts as opening at a word's start and as closing at
# its end. Single quotes are not counted: the closing one is also the apostrophe.
_OPENING = "“„«"
_CLOSING = "”»"
_ASCII = '"'
# A quote cut off after these characters is what the detector misses (the quote sits above a low mark).
_BEFORE_QUOTE = ".,;:!?"


@dataclass(frozen=True)
class QuoteOptions:
    """Reading again the words whose closing quote the detected box left out (:mod:`textspotter.ops.quotes`).

    Attributes:
        extend: fraction of a quad's height added after its end for the second reading, in (0, 1].
        min_confidence: text confidence the second reading needs for its quote to be kept, in [0, 1].
    """

    extend: float = 0.35
    min_confidence: float = 0.75

    def __post_init__(self) -> None:
        if not 0.0 < self.extend <= 1.0:
            raise ValueError(f"QuoteOptions.extend must be in (0, 1], got {self.extend!r}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"QuoteOptions.min_confidence must be in [0, 1], got {self.min_confidence!r}")


def quote_options(name: str) -> QuoteOptions | Literal["auto"] | None:
    """The ``RecognitionOptions.closing_quotes`` value of a CLI choice: ``auto``, ``on`` (defaults) or ``off`` (None).

    >>> quote_options("off") is None, quote_options("auto"), quote_options("on").extend
    (True, 'auto', 0.35)
    """
    return auto_on_off(name, QuoteOptions, "closing-quote")


def quote_balance(texts: list[str]) -> int:
    """Return how many more double quotes the readings open than they close (negative: more closed).

    A reading opens a quotation when it starts with ``“``, ``„``, ``«`` or ``"`` and closes one when it holds ``”`` or
    ``»`` after its first character or ends with ``"``; ``"so"`` does both.

    >>> quote_balance(["“It’s", "nothing.", "“Fine,”", "he", "said."])
    1
    """
    balance = 0
    for text in texts:
        if not text:
            continue
        if text[0] in _OPENING or text[0] == _ASCII:
            balance += 1
        if any(c in _CLOSING for c in text[1:]) or (len(text) > 1 and text[-1] == _ASCII):
            balance -= 1
    return balance


def quote_candidates(texts: list[str], pages: list[int], skip: set[int] | frozenset[int] = frozenset()) -> list[int]:
    """Return the indices of the readings to read again for a closing quote, in index order.

    Args:
        texts: every region's reading.
        pages: the page (detector input) of each region, as long as ``texts``.
        skip: indices never to pick (readings already replaced by another pass).

    Returns:
        The regions of pages with a positive :func:`quote_balance` whose reading ends in ``.,;:!?`` after a letter
        or digit and holds no closing quote.
    """
    if len(texts) != len(pages):
        raise ValueError(f"texts and pages differ in length: {len(texts)} and {len(pages)}")
    open_pages = {page for page, balance in _page_balances(texts, pages).items() if balance > 0}
    chosen: list[int] = []
    for i, (text, page) in enumerate(zip(texts, pages, strict=True)):
        if page not in open_pages or i in skip or len(text) < 2:
            continue
        if text[-1] not in _BEFORE_QUOTE or not text[-2].isalnum():
            continue
        if any(c in _CLOSING for c in text) or text.endswith(_ASCII):
            continue
        chosen.append(i)
    return chosen


def accept_closing_quotes(
    texts: list[str],
    pages: list[int],
    candidates: list[int],
    second: list[str],
    confidence: list[float],
    options: QuoteOptions,
) -> dict[int, str]:
    """Return ``{index: closing quote}`` for the candidates whose second reading adds one.

    Args:
        texts: every region's first reading.
        pages: the page of each region.
        candidates: the indices read again (:func:`quote_candidates`).
        second, confidence: their second readings and text confidences, in ``candidates`` order.
        options: the confidence a second reading needs.

    Returns:
        For each page at most as many quotes as its :func:`quote_balance`, the most confident second readings first,
        among those that read the first reading plus a quote, or the first reading with a quote in place of its last
        mark; the quote is the character the second reading ends with (``”``, ``»`` or ``"``), to be added after the
        first reading.
    """
    if not len(candidates) == len(second) == len(confidence):
        raise ValueError("candidates, second readings and confidences differ in length")
    gains: dict[int, list[tuple[float, int, str]]] = {}
    for index, text, conf in zip(candidates, second, confidence, strict=True):
        first = texts[index]
        if conf < options.min_confidence or not text or not (text[-1] in _CLOSING or text[-1] == _ASCII):
            continue
        # The quote after the first reading's last mark, or in its place (``felt.`` read again as ``felt”``: the
        # recognizer merges the low mark into the quote; the first reading saw the mark alone).
        if text[:-1] == first or text[:-1] == first[:-1]:
            gains.setdefault(pages[index], []).append((conf, index, text[-1]))
    balances = _page_balances(texts, pages) if gains else {}
    accepted: dict[int, str] = {}
    for page, found in gains.items():
        for _, index, quote in sorted(found, key=lambda g: (-g[0], g[1]))[: max(balances[page], 0)]:
            accepted[index] = quote
    return accepted


def _page_balances(texts: list[str], pages: list[int]) -> dict[int, int]:
    """:func:`quote_balance` of each page's readings, ``{page: balance}``."""
    by_page: dict[int, list[str]] = {}
    for text, page in zip(texts, pages, strict=True):
        by_page.setdefault(page, []).append(text)
    return {page: quote_balance(members) for page, members in by_page.items()}
