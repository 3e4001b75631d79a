"""Text metrics: CER, WER, NED, bag-of-character and bag-of-word error, as corpus accumulators.

Every metric is a ratio of two totals summed over a corpus (total edits over total reference units), never a mean
of per-page rates: a long page weighs more than a short one, and the counts of several workers or datasets add up
exactly. Per page, :func:`text_counts` returns a :class:`TextCounts`; add them with ``+`` and read the rates with
:meth:`TextCounts.rates`. The definitions are in ``docs/evaluation.md``.

>>> counts = text_counts("the cat sat", "the bat sat") + text_counts("a dog", "a dog")
>>> round(counts.rates()["cer"], 4), counts.rates()["wer"]
(0.0625, 0.2)
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, fields

from textspotter.document import CJK_CLASS

__all__ = [
    "TextNormalization",
    "TextCounts",
    "normalize_text",
    "levenshtein",
    "text_counts",
    "bag_errors",
]

_UNICODE_FORMS = (None, "NFC", "NFKC", "NFD", "NFKD")

_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{CJK_CLASS}]) (?=[{CJK_CLASS}])")

_FOLD_QUOTES = str.maketrans(
    {**dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"), **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"')}
)


@dataclass(frozen=True)
class TextNormalization:
    """How reference and hypothesis texts are normalised before they are compared (both the same way).

    Whitespace is always normalised: every run of whitespace (spaces, tabs, newlines, form feeds) becomes one
    space and the ends are stripped, so line breaks and paragraph gaps never count as errors.

    Attributes:
        unicode_form: Unicode normalisation applied first (``None`` for none). ``"NFKC"`` (default) folds
            compatibility characters that an OCR engine cannot tell apart from their plain forms: the ``ﬁ``
            ligature becomes ``fi``, full-width ``Ａ`` becomes ``A``, ``²`` becomes ``2``.
        lowercase: compare case-insensitively.
        join_cjk: drop a space between two CJK characters (Han, kana, CJK punctuation), which engines that join
            words with spaces insert and which carries no meaning in Chinese or Japanese.
        fold_quotes: read the typographic single quotes and primes (``‘ ’ ‚ ‛ ′``) as ``'`` and the double ones
            (``“ ” „ ‟ ″``) as ``"``. Off by default (the published metrics keep them apart); a diagnostic for
            references that write one convention where the page shows the other: an apostrophe printed curly is
            ``’`` in DocBank's references and ``'`` in tesseract-test's.
    """

    unicode_form: str | None = "NFKC"
    lowercase: bool = False
    join_cjk: bool = True
    fold_quotes: bool = False

    def __post_init__(self) -> None:
        if self.unicode_form not in _UNICODE_FORMS:
            raise ValueError(f"unicode_form must be one of {_UNICODE_FORMS}, got {self.unicode_form!r}")


def normalize_text(text: str, normalization: TextNormalization | None = None) -> str:
    """Return ``text`` normalised as the text metrics compare it.

    Args:
        text: any string.
        normalization: the rules; :class:`TextNormalization` defaults when ``None``.

    Returns:
        The normalised string: single spaces between words, no leading or trailing whitespace.

    >>> normalize_text("  a\\n\\n b\\tc ﬁ ")
    'a b c fi'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    options = normalization or TextNormalization()
    if options.fold_quotes:
        # Before the Unicode form: NFKC would split a double prime into two single ones.
        text = text.translate(_FOLD_QUOTES)
    if options.unicode_form is not None:
        text = unicodedata.normalize(options.unicode_form, text)
    if options.lowercase:
        text = text.lower()
    text = " ".join(text.split())
    if options.join_cjk:
        text = _SPACE_BETWEEN_CJK.sub("", text)
    return text


def _bit_parallel_levenshtein(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Levenshtein distance by Hyyrö's bit-vector algorithm, with Python integers as bit vectors.

    One column of the dynamic-programming matrix is held as two bit vectors of vertical deltas (+1 / -1), so a
    step over one symbol of the shorter sequence costs a dozen big-integer operations whatever the length of the
    longer one. Reference: H. Hyyrö, "A bit-vector algorithm for computing Levenshtein and Damerau edit
    distances", Nordic Journal of Computing 10 (2003), after G. Myers, JACM 46 (1999).
    """
    pattern, text = (a, b) if len(a) >= len(b) else (b, a)
    m = len(pattern)
    if len(text) == 0:
        return m
    match_masks: dict[Hashable, int] = {}
    bit = 1
    for symbol in pattern:
        match_masks[symbol] = match_masks.get(symbol, 0) | bit
        bit <<= 1
    full = (1 << m) - 1
    last = 1 << (m - 1)
    plus_vertical, minus_vertical, score = full, 0, m
    for symbol in text:
        eq = match_masks.get(symbol, 0)
        xv = eq | minus_vertical
        xh = (((eq & plus_vertical) + plus_vertical) ^ plus_vertical) | eq
        plus_horizontal = minus_vertical | (~(xh | plus_vertical) & full)
        minus_horizontal = plus_vertical & xh
        if plus_horizontal & last:
            score += 1
        elif minus_horizontal & last:
            score -= 1
        # Shifting a 1 in: row 0 of the matrix is 0, 1, 2, ... (global distance, not substring search).
        plus_horizontal = ((plus_horizontal << 1) | 1) & full
        minus_horizontal = (minus_horizontal << 1) & full
        plus_vertical = minus_horizontal | (~(xv | plus_horizontal) & full)
        minus_vertical = plus_horizontal & xv
    return score


def levenshtein(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Return the Levenshtein distance (unit-cost insertions, deletions, substitutions) between two sequences.

    Works on strings (characters) and on lists of words or other hashable tokens. Uses ``rapidfuzz`` when it is
    installed and otherwise a bit-parallel algorithm in pure Python; both give the same integer. Two pages of
    5000 characters take a few milliseconds with ``rapidfuzz`` and about 20 ms without.

    >>> levenshtein("kitten", "sitting")
    3
    >>> levenshtein(["a", "b", "c"], ["a", "c"])
    1
    """
    if isinstance(a, str) != isinstance(b, str):
        # rapidfuzz would compare a string's characters with a list's items; make the mix explicit instead.
        a, b = list(a), list(b)
    try:
        from rapidfuzz.distance import Levenshtein
    except ImportError:
        return _bit_parallel_levenshtein(a, b)
    return int(Levenshtein.distance(a, b))


def bag_errors(reference: Sequence[Hashable], hypothesis: Sequence[Hashable]) -> int:
    """Return the order-insensitive error count between two multisets of symbols.

    The count is ``max(|R - H|, |H - R|)`` with multiset differences: pair each missing reference symbol with a
    spurious hypothesis symbol (one substitution each), then insert or delete the rest. It is the edit distance
    of the two sequences once each may be reordered freely, so it never exceeds the Levenshtein distance.

    >>> bag_errors("abc", "cab"), bag_errors(["to", "be"], ["be", "to", "or"])
    (0, 1)
    """
    ref, hyp = Counter(reference), Counter(hypothesis)
    return max(sum((ref - hyp).values()), sum((hyp - ref).values()))


@dataclass(frozen=True)
class TextCounts:
    """Totals behind the text metrics, for one page or summed over a corpus (``a + b``).

    Attributes:
        pages: number of pages counted.
        ordered_pages: pages whose reference is in reading order; only these count towards CER, WER and NED.
        reference_characters: characters of the normalised references (spaces between words included).
        character_edits: Levenshtein distance between normalised texts, in characters.
        ned_length: sum over pages of ``max(len(reference), len(hypothesis))`` in characters (NED denominator).
        reference_words: whitespace-separated words of the references.
        word_edits: Levenshtein distance between the word sequences.
        bag_reference_characters: non-space characters of all references (bag-of-character denominator).
        bag_character_errors: :func:`bag_errors` over non-space characters.
        bag_reference_words: words of all references (bag-of-word denominator).
        bag_word_errors: :func:`bag_errors` over words.
    """

    pages: int = 0
    ordered_pages: int = 0
    reference_characters: int = 0
    character_edits: int = 0
    ned_length: int = 0
    reference_words: int = 0
    word_edits: int = 0
    bag_reference_characters: int = 0
    bag_character_errors: int = 0
    bag_reference_words: int = 0
    bag_word_errors: int = 0

    def __add__(self, other: TextCounts) -> TextCounts:
        if not isinstance(other, TextCounts):
            return NotImplemented
        return TextCounts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def rates(self) -> dict[str, float | None]:
        """Return the corpus rates (``None`` where the denominator is zero).

        Keys: ``cer``, ``wer``, ``ned`` (lower is better, 0 is perfect; CER and WER can exceed 1 when the
        hypothesis is much longer than the reference), ``bag_of_char_error`` and ``bag_of_word_error``.
        """

        def ratio(numerator: int, denominator: int) -> float | None:
            return numerator / denominator if denominator > 0 else None

        return {
            "cer": ratio(self.character_edits, self.reference_characters),
            "wer": ratio(self.word_edits, self.reference_words),
            "ned": ratio(self.character_edits, self.ned_length),
            "bag_of_char_error": ratio(self.bag_character_errors, self.bag_reference_characters),
            "bag_of_word_error": ratio(self.bag_word_errors, self.bag_reference_words),
        }


def text_counts(
    reference: str,
    hypothesis: str,
    *,
    ordered: bool = True,
    normalization: TextNormalization | None = None,
) -> TextCounts:
    """Compare one page's hypothesis text with its reference and return the counts.

    Args:
        reference: ground-truth text of the page, in reading order when ``ordered``.
        hypothesis: the engine's text of the page, in its reading order.
        ordered: whether the reference is in reading order. When ``False`` (word boxes listed in no particular
            order, as in ICDAR or FUNSD files) only the order-insensitive bag metrics are counted.
        normalization: applied to both texts; :class:`TextNormalization` defaults when ``None``.

    Returns:
        The page's :class:`TextCounts`.
    """
    ref = normalize_text(reference, normalization)
    hyp = normalize_text(hypothesis, normalization)
    ref_words, hyp_words = ref.split(), hyp.split()
    bag_ref_chars = ref.replace(" ", "")
    counts = TextCounts(
        pages=1,
        bag_reference_characters=len(bag_ref_chars),
        bag_character_errors=bag_errors(bag_ref_chars, hyp.replace(" ", "")),
        bag_reference_words=len(ref_words),
        bag_word_errors=bag_errors(ref_words, hyp_words),
    )
    if not ordered:
        return counts
    return counts + TextCounts(
        ordered_pages=1,
        reference_characters=len(ref),
        character_edits=levenshtein(ref, hyp),
        ned_length=max(len(ref), len(hyp)),
        reference_words=len(ref_words),
        word_edits=levenshtein(ref_words, hyp_words),
    )
