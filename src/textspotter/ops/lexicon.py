"""A word-frequency lexicon as a prior over CTC readings: replace misread common words, leave everything else alone.

The recognizer reads each region without knowing which strings are words. For an ordinary word whose greedy
reading is unsure, :func:`rescore_with_lexicon` compares that reading with lexicon words a few edits away, scoring
each string ``s`` by how well the recognizer's own output explains it plus how common it is::

    score(s) = log P_ctc(s | logits) + weight · zipf(s)        (zipf(s) = oov_zipf for a reading not in the lexicon)

``log P_ctc`` is the exact CTC log-likelihood (the sum over every alignment of ``s`` to the T columns, blank 0,
``torch.nn.functional.ctc_loss``), and ``zipf`` the word's Zipf frequency, log10 of its frequency per billion words
(3 = once per million). A candidate replaces the greedy reading only if its score beats the reading's by ``margin``.

What is never changed: a region holding a digit, a symbol inside the word (``x_1``, ``a/b``, ``e-mail``, ``U.S``),
an internal capital (``iPhone``, ``McDonald``), fewer than ``min_letters`` letters, an ALL-CAPS word shorter than
``min_letters_all_caps`` (acronyms), or a confident reading (text confidence at least ``max_confidence``, or
``max_confidence_in_lexicon`` for a reading that is itself a lexicon word). Edge punctuation (``( ) [ ] , . ; : ! ?
" '`` and typographic quotes) is kept and put back; lowercase, Capitalised and ALL-CAPS readings are matched in
lowercase and the candidate is written in the reading's case. Candidates come from a deletion index
(:class:`Lexicon`): words one edit away, and for words longer than ``short_word`` letters some two edits away.

The English lexicon is an asset built by ``scripts/make_lexicon.py`` from the ``wordfreq`` package (data CC-BY-SA
4.0, attributed in ``assets/lexicon-en.meta.json``); reading it needs neither wordfreq nor a network.
"""

from __future__ import annotations

import functools
import gzip
import math
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..charset import BLANK, Charset

__all__ = [
    "LEXICON_LANGUAGES",
    "Lexicon",
    "LexiconOptions",
    "lexicon_options",
    "Hypotheses",
    "load_lexicon",
    "word_parts",
    "lexicon_hypotheses",
    "choose_reading",
    "ctc_log_likelihood",
    "rescore_with_lexicon",
    "language_pages",
    "rescore_candidates",
    "held_on_pages",
    "rescore_pages",
]

LEXICON_LANGUAGES = ("en",)
"""Languages with a shipped lexicon (``assets/lexicon-<language>.tsv.gz``)."""


@dataclass(frozen=True)
class LexiconOptions:
    """Settings of the lexicon rescoring (:func:`rescore_with_lexicon`).

    The defaults were tuned on DocBank pages 41–100 with the shipped model (docs/usage.md §8), never on the pages
    the reported figures use.

    Attributes:
        language: lexicon language (:data:`LEXICON_LANGUAGES`).
        weight: weight of a Zipf unit (a factor of 10 in frequency) against the natural-log CTC likelihood.
        oov_zipf: the Zipf frequency a reading outside the lexicon is given (the lexicon's rarest words are
            about 2.1).
        margin: how much a candidate's score must exceed the greedy reading's, in natural-log units.
        max_confidence: readings outside the lexicon whose text confidence is at least this are kept as read.
        max_confidence_in_lexicon: the same for readings that are lexicon words (one word misread as another is
            rarer than a misread word, and a unigram frequency is weak evidence between two words).
        min_letters: readings with fewer letters are kept as read, and candidates with fewer are not proposed.
        min_letters_all_caps: ALL-CAPS readings with fewer letters are kept as read (acronyms: ``NLO``, ``PSNR``).
        max_deletions: deletions from the reading when looking up candidates of words longer than
            ``short_word`` letters (1 or 2). With one deletion on the lexicon side, every word one edit away is
            found, and those two edits away that need at most one character added to the reading.
        short_word: readings of at most this many letters are compared only with words one edit away (two edits
            turn a short word into an unrelated one, and would multiply the candidates).
        min_function_share: a page (detector input) is rescored only when at least this share of its ordinary
            words are among the lexicon's 100 most frequent words of 3+ letters (``the``, ``and``, ``for`` ...):
            English running text has 25–45 %, French, German, Spanish, Italian, Polish text under 2 %, so a page in
            another Latin-script language is never "corrected" into English (:func:`language_pages`).
        min_page_words: pages with fewer ordinary words than this are not rescored (too little evidence of their
            language: labels, receipts, a single heading).
    """

    language: str = "en"
    weight: float = 1.5
    oov_zipf: float = 0.0
    margin: float = 1.0
    max_confidence: float = 0.99
    max_confidence_in_lexicon: float = 0.9
    min_letters: int = 3
    min_letters_all_caps: int = 5
    max_deletions: int = 2
    short_word: int = 5
    min_function_share: float = 0.10
    min_page_words: int = 10

    def __post_init__(self) -> None:
        if self.language not in LEXICON_LANGUAGES:
            shipped = ", ".join(LEXICON_LANGUAGES)
            raise ValueError(f"LexiconOptions.language must be one of {shipped}, got {self.language!r}")
        for name in ("weight", "margin"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"LexiconOptions.{name} must be a finite number >= 0, got {getattr(self, name)!r}")
        if not math.isfinite(self.oov_zipf):
            raise ValueError(f"LexiconOptions.oov_zipf must be finite, got {self.oov_zipf!r}")
        for name in ("max_confidence", "max_confidence_in_lexicon", "min_function_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"LexiconOptions.{name} must be in [0, 1], got {getattr(self, name)!r}")
        for name in ("min_letters", "min_letters_all_caps", "short_word", "min_page_words"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"LexiconOptions.{name} must be a positive int, got {getattr(self, name)!r}")
        if self.max_deletions not in (1, 2):
            raise ValueError(f"LexiconOptions.max_deletions must be 1 or 2, got {self.max_deletions!r}")


def lexicon_options(name: str) -> LexiconOptions | Literal["auto"] | None:
    """The ``RecognitionOptions.lexicon`` a command-line ``--lexicon`` value names.

    ``"off"`` → None, ``"auto"`` → ``"auto"``, a language → its defaults.

    >>> lexicon_options("off") is None, lexicon_options("auto"), lexicon_options("en").language
    (True, 'auto', 'en')
    """
    if name == "off":
        return None
    if name == "auto":
        return "auto"
    if name not in LEXICON_LANGUAGES:
        raise ValueError(f"lexicon must be 'off' or one of {', '.join(LEXICON_LANGUAGES)}, got {name!r}")
    return LexiconOptions(language=name)


# ----------------------------------------------------------------------------------------------------------------
# The lexicon and its candidate index

# Polynomial hashes of strings modulo 2**64 (numpy uint64 arithmetic wraps). An odd base has an inverse modulo
# 2**64, so the hash of a string with one character deleted follows from prefix sums without building the string.
_MASK64 = 2**64 - 1
_BASE = 0x100000001B3
_BASE_INVERSE = np.uint64(pow(_BASE, -1, 2**64))
_BASE_INVERSE_SQUARED = np.uint64(pow(_BASE, -2, 2**64))
_LENGTH_MIX = 0x9E3779B97F4A7C15  # keeps strings of different lengths apart
# An index entry is one uint64: the top 39 bits of a key, the deleted position (5 bits; 31 = none) and the word's
# row (20 bits), so a plain sort orders keys and carries the rest along. A false match of 39-bit keys (about 1 in
# 10**6 per look-up) only adds a candidate, which the CTC score then rejects.
_ROW_BITS = 20
_LOW_BITS = _ROW_BITS + 5
_NO_DELETION = 31
_TWO_DELETIONS = 30  # query side only
_ROW_MASK = np.uint64(2**_ROW_BITS - 1)
_LOW_MASK = np.uint64(2**_LOW_BITS - 1)
_KEY_MASK = np.uint64(_MASK64 ^ (2**_LOW_BITS - 1))
_MAX_WORD = 28  # longer words are not proposed: the recognizer reads T = 32 columns
_LATIN_END = "\u0250"  # letters of the Latin blocks only (other scripts are not English words)


def _is_letter(char: str) -> bool:
    return char.isalpha() and char < _LATIN_END


def _is_latin_word(word: str) -> bool:
    return word.isalpha() and (word.isascii() or all(c < _LATIN_END for c in word))


@functools.lru_cache(maxsize=1)
def _powers(length: int) -> np.ndarray:
    """``[length]`` uint64 ``BASE**i`` modulo 2**64."""
    values, power = [], 1
    for _ in range(length):
        values.append(power)
        power = power * _BASE & _MASK64
    return np.array(values, dtype=np.uint64)


def _prefix_hashes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Polynomial hash sums of ``[N, L]`` uint64 code points.

    Returns ``(exclusive, inclusive, total)``: the running sums of ``c_i · BASE**i`` before and up to ``i`` (both
    ``[N, L]``) and the whole sum ``[N]``, all uint64 modulo 2**64.
    """
    weighted = codes * _powers(_MAX_WORD + 4)[None, : codes.shape[1]]
    inclusive = np.cumsum(weighted, axis=1, dtype=np.uint64)
    return inclusive - weighted, inclusive, inclusive[:, -1]


def _keys(hashes: np.ndarray, length: int) -> np.ndarray:
    """Index keys (the low position and row bits cleared) of hashes of strings of ``length`` characters.

    The polynomial sum keeps its first characters in its low bits, which the entry's other fields replace, so it is
    mixed first (the finaliser of MurmurHash3: every input bit reaches the high bits).
    """
    mixed = hashes + np.uint64(length * _LENGTH_MIX & _MASK64)
    mixed = (mixed ^ (mixed >> np.uint64(33))) * np.uint64(0xFF51AFD7ED558CCD)
    mixed = (mixed ^ (mixed >> np.uint64(33))) * np.uint64(0xC4CEB9FE1A85EC53)
    return (mixed ^ (mixed >> np.uint64(33))) & _KEY_MASK


def _build_index(words: Sequence[str]) -> np.ndarray:
    """Sorted uint64 entries ``key | deleted position | row`` of each word and each of its one-character
    deletions."""
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    flat = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    starts = np.cumsum(lengths) - lengths
    parts = []
    for length in np.unique(lengths).tolist():
        rows = np.flatnonzero(lengths == length)
        # (n, length) code points of the words of this length.
        codes = flat[starts[rows][:, None] + np.arange(length)[None, :]]
        exclusive, inclusive, total = _prefix_hashes(codes)
        row_bits = rows.astype(np.uint64)
        parts.append(_keys(total, length) | np.uint64(_NO_DELETION << _ROW_BITS) | row_bits)
        # Delete position k: sum before k + (sum after k) / BASE.
        deleted = exclusive + _BASE_INVERSE * (total[:, None] - inclusive)
        position_bits = (np.arange(length, dtype=np.uint64) << np.uint64(_ROW_BITS))[None, :]
        parts.append((_keys(deleted, length - 1) | position_bits | row_bits[:, None]).ravel())
    return np.sort(np.concatenate(parts))


@functools.lru_cache(maxsize=64)
def _pairs(length: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of positions ``j < k`` below ``length``."""
    return np.triu_indices(length, k=1)


def _query_keys(word: str, max_deletions: int) -> tuple[np.ndarray, np.ndarray]:
    """Keys of ``word`` and of every string made by deleting up to ``max_deletions`` (1 or 2) of its characters,
    and the deleted position of each (``_NO_DELETION``, the position, or ``_TWO_DELETIONS``)."""
    length = len(word)
    codes = np.array([[ord(c) for c in word]], dtype=np.uint64)
    exclusive, inclusive, total = (a[0] for a in _prefix_hashes(codes))
    parts = [_keys(np.array([total]), length), _keys(exclusive + _BASE_INVERSE * (total - inclusive), length - 1)]
    positions = [np.array([_NO_DELETION]), np.arange(length)]
    if max_deletions >= 2 and length >= 2:
        first, second = _pairs(length)
        # Delete j < k: sum before j + (sum between j and k) / BASE + (sum after k) / BASE**2.
        between = exclusive[second] - inclusive[first]
        after = total - inclusive[second]
        hashes = exclusive[first] + _BASE_INVERSE * between + _BASE_INVERSE_SQUARED * after
        parts.append(_keys(hashes, length - 2))
        positions.append(np.full(len(first), _TWO_DELETIONS))
    # Repeated keys (from repeated letters) are kept: each carries its own deleted position.
    return np.concatenate(parts), np.concatenate(positions)


class Lexicon:
    """Lowercase words with their Zipf frequencies, and an index of the letter-only words by deletions.

    The index holds every letter-only word of at most 28 letters and each of its one-character deletions as 64-bit
    hashes in one sorted array (a symmetric deletion index, built with numpy in tens of milliseconds); a query
    hashes the reading and its deletions and finds them by binary search.

    >>> lexicon = Lexicon({"word": 5.0, "world": 5.5, "sword": 3.0})
    >>> lexicon.candidates("wprd"), lexicon.candidates("wrd")  # a substitution; a deleted character
    (['word'], ['word'])
    >>> lexicon.zipf("Word"), lexicon.zipf("wprd")
    (5.0, None)
    """

    def __init__(self, words: Mapping[str, float]) -> None:
        self._zipf = {word.lower(): float(zipf) for word, zipf in words.items()}
        self._indexed = [w for w in self._zipf if len(w) <= _MAX_WORD and _is_latin_word(w)]
        if len(self._indexed) >= 2**_ROW_BITS:
            raise ValueError(f"a lexicon indexes at most {2**_ROW_BITS - 1} words, got {len(self._indexed)}")
        self._entries = _build_index(self._indexed) if self._indexed else np.zeros(0, dtype=np.uint64)
        # Every character a candidate can be written with (the indexed words in lower, title and upper case).
        letters = "".join(self._indexed)
        self.letters = frozenset(letters + letters.upper())
        self._cache: dict[tuple[str, int, bool], tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self._zipf)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word.lower() in self._zipf

    @functools.cached_property
    def function_words(self) -> frozenset[str]:
        """The 100 most frequent letter-only words of 3 or more letters (a language's function words)."""
        ranked = sorted((w for w in self._zipf if len(w) >= 3 and _is_latin_word(w)), key=lambda w: -self._zipf[w])
        return frozenset(ranked[:100])

    def zipf(self, word: str) -> float | None:
        """The Zipf frequency of ``word`` (any case), or None if it is not in the lexicon."""
        return self._zipf.get(word.lower())

    def candidates(self, word: str, *, max_deletions: int = 2, one_edit: bool = False) -> list[str]:
        """Letter-only lexicon words near ``word`` (lowercase), sorted: those that equal ``word`` after deleting at
        most ``max_deletions`` of its characters and at most one of theirs. ``word`` itself is included if indexed.

        With ``one_edit`` only the words one substitution, insertion or deletion away (and ``word``) are kept: a
        match of one deletion on each side counts only where both deleted the same position.
        """
        if not word or not self._entries.size:
            return []
        key = (word.lower(), max_deletions if not one_edit else 1, one_edit)
        found = self._cache.get(key)
        if found is None:
            found = self._look_up(*key)
            if len(self._cache) >= 20_000:  # a bound, not an eviction policy: readings rarely repeat that much
                self._cache.clear()
            self._cache[key] = found
        return list(found)

    def _look_up(self, word: str, max_deletions: int, one_edit: bool) -> tuple[str, ...]:
        queries, positions = _query_keys(word, max_deletions)
        low = np.searchsorted(self._entries, queries, side="left")
        high = np.searchsorted(self._entries, queries | _LOW_MASK, side="right")
        counts = high - low
        # Every entry of every matched range: its range start plus its offset within the range.
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        entries = self._entries[np.repeat(low, counts) + within]
        if one_edit:
            query_position = np.repeat(positions, counts)
            word_position = (entries >> np.uint64(_ROW_BITS)) & np.uint64(31)
            keep = (query_position == _NO_DELETION) | (word_position == _NO_DELETION)
            entries = entries[keep | (query_position == word_position)]
        rows = np.unique(entries & _ROW_MASK)
        return tuple(sorted(self._indexed[i] for i in rows.tolist()))


def _read_asset(language: str) -> dict[str, float]:
    name = f"lexicon-{language}.tsv.gz"
    data = resources.files("textspotter.assets").joinpath(name).read_bytes()
    # Words hold no white space, so one split gives word, zipf, word, zipf, ...
    fields = gzip.decompress(data).decode("utf-8").split()
    try:
        if len(fields) % 2:
            raise ValueError("odd number of fields")
        return dict(zip(fields[0::2], map(float, fields[1::2])))
    except ValueError as exc:
        raise ValueError(f"{name}: expected lines 'word<TAB>zipf' ({exc})") from None


@functools.cache
def load_lexicon(language: str = "en") -> Lexicon:
    """Load the shipped lexicon of ``language`` and build its index (once per process; the same object after).

    >>> lexicon = load_lexicon("en")
    >>> "the" in lexicon and lexicon.zipf("the") > 7
    True
    """
    if language not in LEXICON_LANGUAGES:
        raise ValueError(f"no lexicon for language {language!r}; shipped: {', '.join(LEXICON_LANGUAGES)}")
    return Lexicon(_read_asset(language))


# ----------------------------------------------------------------------------------------------------------------
# Which readings are words

_LEADING = "([{\"'‘“«"
_TRAILING = ")]}\"'’”»,.;:!?"


def word_parts(text: str, *, min_letters: int = 3) -> tuple[str, str, str, str] | None:
    """Split a reading into ``(prefix, word, suffix, case)`` if it is an ordinary word, else None.

    ``word`` is what is left after stripping edge punctuation; it must be at least ``min_letters`` Latin letters,
    all lowercase (``case = "lower"``), Capitalised (``"title"``) or all capitals (``"upper"``). Anything else (a
    digit, a symbol inside, an internal capital, too short) gives None.

    >>> word_parts('("Tbe,')
    ('("', 'Tbe', ',', 'title')
    >>> word_parts("iPhone") is None, word_parts("x_1") is None, word_parts("A4B-77") is None
    (True, True, True)
    """
    start, end = 0, len(text)
    while start < end and text[start] in _LEADING:
        start += 1
    while end > start and text[end - 1] in _TRAILING:
        end -= 1
    word = text[start:end]
    if len(word) < min_letters or not all(_is_letter(c) for c in word):
        return None
    if word.islower():
        case = "lower"
    elif word.isupper():
        case = "upper"
    elif word[0].isupper() and word[1:].islower():
        case = "title"
    else:
        return None
    return text[:start], word, text[end:], case


def _in_case(word: str, case: str) -> str:
    if case == "upper":
        return word.upper()
    if case == "title":
        return word[:1].upper() + word[1:]
    return word


# ----------------------------------------------------------------------------------------------------------------
# Scoring


def ctc_log_likelihood(
    log_probs: torch.Tensor, regions: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """Exact CTC log-likelihood ``log P(target | region's columns)`` of each (region, target) pair, blank 0.

    Each pair is scored on a compact class axis instead of the V tokens: class 0 is the blank and class ``j + 1``
    the token at target position ``j``. CTC compares a label only with its neighbour (a blank must separate two
    equal neighbours), so a run of equal tokens shares the class of its first position and every other position
    may have its own: the likelihood is exactly that over V classes, at a cost independent of V.

    Args:
        log_probs: ``[N, T, V]`` float32 log-softmax of recognizer logits.
        regions: ``[M]`` int64 region index into ``log_probs`` of each target.
        targets: ``[M, S]`` int64 token ids (≥ 3, no EOS), each row padded after its length with anything.
        lengths: ``[M]`` int64 target lengths, each ≥ 1.

    Returns:
        ``[M]`` float32 log-likelihoods (``-inf`` where the target cannot fit in T columns), on ``log_probs``' device.

    >>> log_probs = torch.log_softmax(torch.randn(1, 6, 8), -1)
    >>> ctc_log_likelihood(log_probs, torch.tensor([0]), torch.tensor([[5, 5, 3]]), torch.tensor([3])).shape
    torch.Size([1])
    """
    count, longest = targets.shape
    if count == 0:
        return log_probs.new_zeros(0)
    device = log_probs.device
    targets = targets.to(device=device, dtype=torch.int64)
    position = torch.arange(longest, device=device).expand(count, longest)
    repeat = torch.zeros_like(targets, dtype=torch.bool)
    repeat[:, 1:] = targets[:, 1:] == targets[:, :-1]
    # The first position of each run of equal tokens: the running maximum of the positions that start a run.
    classes = torch.cummax(torch.where(repeat, torch.zeros_like(position), position), dim=1).values + 1
    columns = torch.cat([torch.full((count, 1), BLANK, dtype=torch.int64, device=device), targets], dim=1)
    # (M, S + 1, T) -> (T, M, S + 1): CTC's layout.
    compact = log_probs[regions.to(device)[:, None], :, columns].permute(2, 0, 1)
    nll = F.ctc_loss(
        compact,
        classes,
        torch.full((count,), log_probs.shape[1], dtype=torch.int64, device=device),
        lengths.to(device=device, dtype=torch.int64),
        blank=BLANK,
        reduction="none",
        zero_infinity=False,
    )
    return -nll


@dataclass(frozen=True)
class Hypotheses:
    """The readings of one region weighed by :func:`choose_reading`.

    Attributes:
        region: index of the region in its batch.
        texts: the greedy reading first, then the lexicon candidates written as the reading is (case, punctuation).
        log_likelihoods: CTC log-likelihood of each text.
        zipf: Zipf frequency of each text's word, None for a word outside the lexicon.
    """

    region: int
    texts: tuple[str, ...]
    log_likelihoods: tuple[float, ...]
    zipf: tuple[float | None, ...]


def lexicon_hypotheses(
    logits: torch.Tensor,
    texts: Sequence[str],
    confidence: torch.Tensor | Sequence[float],
    charset: Charset,
    *,
    lexicon: Lexicon,
    options: LexiconOptions,
) -> list[Hypotheses]:
    """Gather and score the candidate readings of every region the lexicon may change (see the module docs).

    Args:
        logits: ``[N, T, V]`` float recognizer logits (CTC, blank 0).
        texts: the ``N`` greedy readings (``decode_greedy`` with ``collapse_repeats=True``).
        confidence: ``[N]`` their text confidences in [0, 1].
        charset: the model's charset (token id = index + 3).
        lexicon: the word list.
        options: the letter counts, confidence thresholds and ``max_deletions`` are used here.

    Returns:
        One :class:`Hypotheses` per region that is an ordinary word below its confidence threshold and has at least
        one candidate, in region order.
    """
    if logits.ndim != 3 or logits.shape[0] != len(texts):
        raise ValueError(f"logits must be [N, T, V] with N = {len(texts)} texts, got {tuple(logits.shape)}")
    scores = torch.as_tensor(confidence, dtype=torch.float32).tolist()
    pending: list[tuple[int, list[str], list[float | None]]] = []
    # Candidates are letters of the lexicon in the reading's case; the prefix and suffix came from the charset.
    allowed = set(charset.characters)
    check_letters = not lexicon.letters <= allowed
    highest = max(options.max_confidence, options.max_confidence_in_lexicon)
    for region, (text, score) in enumerate(zip(texts, scores)):
        if score >= highest:  # confident whatever the word: skip the string work
            continue
        parts = word_parts(text, min_letters=options.min_letters)
        if parts is None:
            continue
        prefix, word, suffix, case = parts
        if case == "upper" and len(word) < options.min_letters_all_caps:
            continue
        lower = word.lower()
        known = lexicon.zipf(lower)
        if score >= (options.max_confidence if known is None else options.max_confidence_in_lexicon):
            continue
        short = len(word) <= options.short_word
        found = lexicon.candidates(lower, max_deletions=options.max_deletions, one_edit=short)
        found = [w for w in found if w != lower and len(w) >= options.min_letters]
        readings, frequencies = [text], [known]
        for candidate in found:
            cased = _in_case(candidate, case)
            if not check_letters or all(c in allowed for c in cased):
                readings.append(prefix + cased + suffix)
                frequencies.append(lexicon.zipf(candidate))
        if len(readings) > 1:
            pending.append((region, readings, frequencies))
    if not pending:
        return []
    # Only the regions with candidates are normalised; every hypothesis is scored in one batch.
    used = [region for region, _, _ in pending]
    log_probs = torch.log_softmax(logits.detach()[used].float(), dim=-1)
    texts_flat = [text for _, readings, _ in pending for text in readings]
    ids = {c: charset.token_id(c) for c in set("".join(texts_flat))}
    lengths = np.fromiter(map(len, texts_flat), dtype=np.int64, count=len(texts_flat))
    padded = np.zeros((len(texts_flat), int(lengths.max())), dtype=np.int64)
    padded[np.arange(padded.shape[1])[None, :] < lengths[:, None]] = [ids[c] for c in "".join(texts_flat)]
    owner = np.repeat(np.arange(len(pending)), [len(readings) for _, readings, _ in pending])
    likelihoods = ctc_log_likelihood(
        log_probs, torch.from_numpy(owner), torch.from_numpy(padded), torch.from_numpy(lengths)
    ).tolist()
    out, position = [], 0
    for region, readings, frequencies in pending:
        count = len(readings)
        out.append(
            Hypotheses(region, tuple(readings), tuple(likelihoods[position : position + count]), tuple(frequencies))
        )
        position += count
    return out


def choose_reading(hypotheses: Hypotheses, options: LexiconOptions) -> int:
    """Index into ``hypotheses.texts`` of the reading to keep: the best candidate if it beats the greedy reading
    (index 0) by ``options.margin``, else 0. Score: CTC log-likelihood + ``weight`` · Zipf (``oov_zipf`` when
    None)."""

    def score(k: int) -> float:
        zipf = hypotheses.zipf[k]
        return hypotheses.log_likelihoods[k] + options.weight * (options.oov_zipf if zipf is None else zipf)

    best = max(range(1, len(hypotheses.texts)), key=score, default=0)
    return best if best and score(best) > score(0) + options.margin else 0


def rescore_with_lexicon(
    logits: torch.Tensor,
    texts: Sequence[str],
    confidence: torch.Tensor,
    charset: Charset,
    *,
    options: LexiconOptions | None = None,
    mode: str = "geometric_mean",
    lexicon: Lexicon | None = None,
) -> tuple[list[str], torch.Tensor]:
    """Replace misread ordinary words by lexicon words where the recognizer's output supports them.

    Args:
        logits: ``[N, T, V]`` float recognizer logits of a CTC recognizer (blank 0, ids ≥ 3 are
            ``charset[id − 3]``).
        texts: the ``N`` greedy readings of ``logits``.
        confidence: ``[N]`` float32 text confidences of ``texts`` in [0, 1].
        charset: the model's charset.
        options: thresholds and weights (defaults: :class:`LexiconOptions`).
        mode: the model's text-confidence rule (``"geometric_mean"`` or ``"product"``), used for replaced texts.
        lexicon: a word list (default: the shipped one of ``options.language``, loaded once per process).

    Returns:
        ``(texts, confidence)``: ``N`` texts, changed only where a candidate won, and ``[N]`` float32 confidences
        on ``confidence``'s device. A kept text keeps its confidence; a replaced text gets the CTC probability of
        the new text under the logits in the model's confidence rule: ``P_ctc(text)`` for ``"product"``, its
        per-character geometric mean ``P_ctc(text) ** (1 / len(text))`` for ``"geometric_mean"``. It measures how
        well the recognizer's columns support the new text, not the lexicon's opinion.

    >>> charset = Charset(tuple("abcdefghijklmnopqrstuvwxyz"))
    >>> logits = torch.full((1, 6, 29), -5.0)
    >>> for t, c in enumerate("tbe"):
    ...     logits[0, 2 * t, charset.token_id(c)] = 5.0
    ...     logits[0, 2 * t + 1, 0] = 5.0
    >>> logits[0, 2, charset.token_id("h")] = 4.5  # the recognizer nearly read 'h'
    >>> rescore_with_lexicon(logits, ["tbe"], torch.tensor([0.6]), charset, lexicon=Lexicon({"the": 7.7}))[0]
    ['the']
    """
    options = options or LexiconOptions()
    if len(texts) != confidence.shape[0]:
        raise ValueError(f"got {len(texts)} texts and {confidence.shape[0]} confidences")
    if not texts:
        return [], confidence
    lexicon = lexicon if lexicon is not None else load_lexicon(options.language)
    new_texts, new_confidence = list(texts), confidence.clone()
    for hypotheses in lexicon_hypotheses(logits, texts, confidence, charset, lexicon=lexicon, options=options):
        chosen = choose_reading(hypotheses, options)
        if chosen:
            text = hypotheses.texts[chosen]
            log_likelihood = hypotheses.log_likelihoods[chosen]
            if mode == "geometric_mean":
                log_likelihood /= max(1, len(text))
            new_texts[hypotheses.region] = text
            new_confidence[hypotheses.region] = math.exp(log_likelihood)
    return new_texts, new_confidence


def language_pages(
    texts: Sequence[str], groups: Sequence[int], options: LexiconOptions, lexicon: Lexicon | None = None
) -> set[int]:
    """The groups (pages, detector inputs) whose readings look like running text in the lexicon's language.

    A group qualifies when it holds at least ``options.min_page_words`` ordinary words (:func:`word_parts`) and at
    least ``options.min_function_share`` of them are the lexicon's function words (:attr:`Lexicon.function_words`).

    >>> lexicon = Lexicon({"the": 7.7, "and": 7.5, "page": 5.0})
    >>> options = LexiconOptions(min_page_words=3)
    >>> sorted(language_pages(["the", "page", "and", "la", "page", "est", "une", "page"], [0, 0, 0, 1, 1, 1, 1, 1],
    ...                       options, lexicon))
    [0]
    """
    lexicon = lexicon if lexicon is not None else load_lexicon(options.language)
    function_words = lexicon.function_words
    words: dict[int, int] = {}
    hits: dict[int, int] = {}
    for text, group in zip(texts, groups):
        parts = word_parts(text, min_letters=3)
        if parts is None:
            continue
        words[group] = words.get(group, 0) + 1
        if parts[1].lower() in function_words:
            hits[group] = hits.get(group, 0) + 1
    return {
        group
        for group, count in words.items()
        if count >= options.min_page_words and hits.get(group, 0) >= options.min_function_share * count
    }


def rescore_candidates(texts: Sequence[str], confidence: torch.Tensor, options: LexiconOptions) -> list[int]:
    """Positions of the readings :func:`rescore_with_lexicon` could change (ordinary words, not confident)."""
    return [
        i
        for i, (text, conf) in enumerate(zip(texts, confidence.tolist()))
        if conf < options.max_confidence and word_parts(text, min_letters=options.min_letters) is not None
    ]


def held_on_pages(
    held: Sequence[tuple[Sequence[int], torch.Tensor]], groups: Sequence[int], pages: Collection[int]
) -> Iterator[tuple[list[int], torch.Tensor]]:
    """Yield, per held chunk with any region on ``pages``, those regions' positions and their ``[n, T, V]`` logits.

    Args:
        held: ``(positions, logits)`` pairs as :func:`rescore_pages` takes them.
        groups: the page (detector input) index of every region.
        pages: the pages to keep (:func:`language_pages`).
    """
    for positions, logits in held:
        rows = [r for r, position in enumerate(positions) if groups[position] in pages]
        if rows:
            yield [positions[r] for r in rows], logits[rows]


def rescore_pages(
    texts: Sequence[str],
    confidence: torch.Tensor,
    groups: Sequence[int],
    held: Sequence[tuple[Sequence[int], torch.Tensor]],
    charset: Charset,
    *,
    options: LexiconOptions,
    mode: str = "geometric_mean",
    lexicon: Lexicon | None = None,
) -> tuple[list[str], torch.Tensor]:
    """Rescore the held readings of the pages in the lexicon's language (:func:`language_pages`).

    Args:
        texts: the ``N`` greedy readings of every region.
        confidence: ``[N]`` float32 text confidences.
        groups: ``N`` page (detector input) indices, one per region.
        held: ``(positions, logits)`` pairs: positions into ``texts`` (from :func:`rescore_candidates`) and their
            ``[len(positions), T, V]`` float32 logits.
        charset, options, mode, lexicon: as for :func:`rescore_with_lexicon`.

    Returns:
        ``(texts, confidence)`` with the replaced readings of qualifying pages (others unchanged).
    """
    lexicon = lexicon if lexicon is not None else load_lexicon(options.language)
    new_texts, new_confidence = list(texts), confidence.clone()
    for chosen, logits in held_on_pages(held, groups, language_pages(texts, groups, options, lexicon)):
        read, conf = rescore_with_lexicon(
            logits,
            [texts[p] for p in chosen],
            confidence[chosen],
            charset,
            options=options,
            mode=mode,
            lexicon=lexicon,
        )
        for position, text, value in zip(chosen, read, conf.tolist()):
            new_texts[position] = text
            new_confidence[position] = value
    return new_texts, new_confidence
