"""A character language model for Chinese and Japanese readings: a CTC beam search weighed by common character pairs.

The recognizer reads a CJK run column by column with no notion of which characters go together, and a model that
has seen each of some 7,000 Han characters a few thousand times confuses similar-looking ones (``图书情`` for
``图书馆``). For a reading that holds Han or kana and is not confident, :func:`rescore_cjk` searches the readings
the recognizer's columns allow (a CTC prefix beam search over the ``top_k`` tokens of each column) for the best

    score(s) = log P_ctc(s | logits) + Σ_c (weight · log P_lm(c | previous) + bonus)    (c: the Han and kana of s)

where ``P_lm`` is a character bigram (:class:`CharLM`; the previous character counts only when it is Han or kana
too) and ``bonus`` offsets the language model's cost of a character, so that the search does not win by dropping
characters. Other characters (Latin, digits, punctuation, Hangul) are scored by the recognizer alone. The language
model is an asset built by ``scripts/make_cjk_lm.py`` from the ``wordfreq`` package's Chinese and Japanese word
frequencies (data CC-BY-SA 4.0, attributed in ``assets/charlm-cjk.meta.json``); reading it needs neither wordfreq nor
a network. Traditional characters are looked up by their Simplified form.
"""

from __future__ import annotations

import functools
import gzip
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import torch

from textspotter.ops.switches import auto_on_off

from ..charset import BLANK, Charset

__all__ = [
    "CharLM",
    "CharLMOptions",
    "beam_search",
    "char_lm_options",
    "charset_has_lm_chars",
    "has_lm_chars",
    "is_lm_char",
    "load_char_lm",
    "rescore_cjk",
]

# Han (CJK Unified Ideographs, extension A, compatibility ideographs), hiragana and katakana with the prolonged
# sound mark, and the iteration marks 々 〆 〇.
_LM_RANGES = ((0x3005, 0x3007), (0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
# A column whose blank has at least this log-probability moves every prefix on unchanged (most columns of a strip).
_CERTAIN_BLANK = math.log(0.9995)
# Tokens of a column below this log-probability are not tried: the language model's largest preference for one
# character over another (a common pair against a character never seen) is about 0.3 · 15 nats.
_MIN_TOKEN = math.log(0.005)
_NEG = -math.inf


def is_lm_char(char: str) -> bool:
    """Whether the language model scores ``char``: a Han character or kana.

    >>> [is_lm_char(c) for c in "图の、aК한"]
    [True, True, False, False, False, False]
    """
    code = ord(char) if len(char) == 1 else -1
    return any(low <= code <= high for low, high in _LM_RANGES)


def has_lm_chars(text: str) -> bool:
    """Whether ``text`` holds a character the language model scores."""
    return any(is_lm_char(c) for c in text)


def _is_kana(char: str) -> bool:
    return "\u3040" <= char <= "\u30ff"


@functools.lru_cache(maxsize=8)
def _flags(characters: tuple[str, ...]) -> tuple[tuple[bool, ...], tuple[bool, ...]]:
    """Per character of a charset: whether the language model scores it, and whether it is kana."""
    return tuple(is_lm_char(c) for c in characters), tuple(_is_kana(c) for c in characters)


def charset_has_lm_chars(charset: Charset) -> bool:
    """Whether a model with ``charset`` can read Han or kana (so that ``"auto"`` turns the beam search on)."""
    return any(_flags(charset.characters)[0])


@dataclass(frozen=True)
class CharLM:
    """An interpolated character bigram: ``P(b | a) = λ · P_word(b | a) + (1 − λ) · P(b)``.

    Attributes:
        unigrams: natural-log ``P(c)`` of each character.
        pairs: natural-log ``P_word(b | a)`` keyed by ``a + b`` (pairs inside words).
        simplified: Traditional → Simplified characters (the counts are kept by Simplified form).
        floor: natural-log probability of a character never seen.
    """

    unigrams: dict[str, float]
    pairs: dict[str, float]
    simplified: dict[str, str]
    floor: float = math.log(1e-7)

    def log_prob(self, previous: str | None, char: str, *, bigram_share: float = 0.8) -> float:
        """Natural-log ``P(char | previous)``; ``previous`` None (or not Han/kana) gives the unigram ``P(char)``.

        >>> lm = CharLM({"图": math.log(0.01), "馆": math.log(0.001)}, {"图馆": math.log(0.5)}, {"館": "馆"})
        >>> round(math.exp(lm.log_prob("图", "館")), 4)  # 0.8 * 0.5 + 0.2 * 0.001
        0.4002
        """
        char = self.simplified.get(char, char)
        unigram = math.exp(self.unigrams.get(char, self.floor))
        if previous is None:
            return math.log(unigram)
        previous = self.simplified.get(previous, previous)
        pair = self.pairs.get(previous + char)
        bigram = math.exp(pair) if pair is not None else 0.0
        return math.log(bigram_share * bigram + (1.0 - bigram_share) * unigram)


@functools.cache
def load_char_lm() -> CharLM:
    """Load the shipped Chinese/Japanese character model (once per process; the same object after)."""
    name = "charlm-cjk.tsv.gz"
    data = resources.files("textspotter.assets").joinpath(name).read_bytes()
    # No field holds white space, so one split gives kind, key, value, kind, key, value, ...
    fields = gzip.decompress(data).decode("utf-8").split()
    kinds, keys, values = fields[0::3], fields[1::3], fields[2::3]
    if len(fields) % 3 or set(kinds) - {"u", "b", "m"}:
        raise ValueError(f"{name}: expected lines 'u c logp', 'b ab logp' or 'm trad simp'")
    sections: dict[str, list[tuple[str, str]]] = {"u": [], "b": [], "m": []}
    for kind, key, value in zip(kinds, keys, values):
        sections[kind].append((key, value))
    return CharLM(
        unigrams={key: float(value) for key, value in sections["u"]},
        pairs={key: float(value) for key, value in sections["b"]},
        simplified=dict(sections["m"]),
    )


@dataclass(frozen=True)
class CharLMOptions:
    """Settings of the CJK beam search (:func:`rescore_cjk`).

    The defaults were chosen on the true line boxes of 8 zh-Hans and 8 ja corpus dev pages read by the multilingual
    model at step 10,300 (benchmarks/RESULTS.md, "Session 27"); the test pages were not used.

    Attributes:
        weight: weight of the language model's natural-log probability against the CTC log-likelihood.
        char_bonus: added per Han or kana character (offsets the language model's cost of a character).
        bigram_share: λ, the bigram's share against the unigram in the interpolation.
        beam: prefixes kept after each column.
        top_k: tokens of each column tried (the blank is always tried).
        max_confidence: readings with at least this text confidence are kept as read.
    """

    weight: float = 0.3
    char_bonus: float = 3.0
    bigram_share: float = 0.8
    beam: int = 8
    top_k: int = 6
    max_confidence: float = 0.99

    def __post_init__(self) -> None:
        for name in ("weight", "char_bonus"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"CharLMOptions.{name} must be a finite number >= 0, got {value!r}")
        for name in ("bigram_share", "max_confidence"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"CharLMOptions.{name} must be in [0, 1], got {value!r}")
        for name in ("beam", "top_k"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CharLMOptions.{name} must be a positive int, got {value!r}")


def char_lm_options(name: str) -> CharLMOptions | Literal["auto"] | None:
    """The ``RecognitionOptions.cjk_lm`` value of a CLI choice: ``auto``, ``on`` (defaults) or ``off`` (None)."""
    return auto_on_off(name, CharLMOptions, "CJK language model")


def beam_search(
    logits: torch.Tensor, charset: Charset, lm: CharLM, options: CharLMOptions, *, kana: bool = True
) -> list[int]:
    """The best token sequence of one region's columns under the CTC likelihood and the language model.

    Args:
        logits: ``[T, V]`` recognizer logits of one region, or their log-softmax (the same result; blank 0, ids ≥ 3
            are ``charset[id − 3]``; EOS and the rare token are not proposed).
        charset: the model's charset.
        lm: the character model.
        options: weights and search widths.
        kana: whether kana may be read. False gives every kana the language model's floor (a Chinese line: the
            mixed Chinese/Japanese model would otherwise find a cheap common kana in a stray mark at a line end).

    Returns:
        The token ids of the best reading (≥ 3), in order.
    """
    # Every reading takes one token (or the blank) per column, so a per-column shift of the scores shifts every
    # reading's score alike: the columns are normalised over their top k tokens only, not over all V (the log-softmax
    # of a [T, V] strip would cost more than the search). The tail beyond the top k only decides, in a column ruled
    # by the blank, whether that column branches at all.
    top = logits.topk(min(options.top_k, logits.shape[-1]), dim=-1)
    top_values = top.values.float()
    normaliser = torch.logsumexp(top_values, dim=-1, keepdim=True)
    blanks = (logits[:, BLANK].float() - normaliser[:, 0]).tolist()
    values, indices = (top_values - normaliser).tolist(), top.indices.tolist()
    characters = charset.characters
    scored, kanas = _flags(characters)
    weight, bonus, share = options.weight, options.char_bonus, options.bigram_share
    # prefix (token ids) -> [log P(prefix, ending in blank), log P(prefix, ending in its last token)]
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, _NEG)}
    lm_score: dict[tuple[int, ...], float] = {(): 0.0}

    def extend(prefix: tuple[int, ...], token: int) -> tuple[int, ...]:
        longer = prefix + (token,)
        if longer not in lm_score:
            score = 0.0
            if scored[token - 3]:
                context = characters[prefix[-1] - 3] if prefix and scored[prefix[-1] - 3] else None
                if kana or not kanas[token - 3]:
                    score = weight * lm.log_prob(context, characters[token - 3], bigram_share=share) + bonus
                else:
                    score = weight * lm.floor
            lm_score[longer] = lm_score[prefix] + score
        return longer

    for column_values, column_tokens, blank in zip(values, indices, blanks):
        if blank >= _CERTAIN_BLANK:
            beams = {prefix: (_logaddexp(*probs) + blank, _NEG) for prefix, probs in beams.items()}
            continue
        grown: dict[tuple[int, ...], list[float]] = {}
        for prefix, (ends_blank, ends_token) in beams.items():
            total = _logaddexp(ends_blank, ends_token)
            entry = grown.setdefault(prefix, [_NEG, _NEG])
            entry[0] = _logaddexp(entry[0], total + blank)
            for value, token in zip(column_values, column_tokens):
                if token < 3 or value < _MIN_TOKEN:
                    continue
                if prefix and prefix[-1] == token:
                    # The same token again: it continues the last one, unless a blank came between.
                    entry[1] = _logaddexp(entry[1], ends_token + value)
                    longer = grown.setdefault(extend(prefix, token), [_NEG, _NEG])
                    longer[1] = _logaddexp(longer[1], ends_blank + value)
                else:
                    longer = grown.setdefault(extend(prefix, token), [_NEG, _NEG])
                    longer[1] = _logaddexp(longer[1], total + value)
        ranked = sorted(grown.items(), key=lambda item: -(_logaddexp(*item[1]) + lm_score[item[0]]))
        beams = {prefix: (probs[0], probs[1]) for prefix, probs in ranked[: options.beam]}
    best = max(beams.items(), key=lambda item: _logaddexp(*item[1]) + lm_score[item[0]])
    return list(best[0])


def _logaddexp(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b == _NEG:
        return a
    return a + math.log1p(math.exp(b - a))


def rescore_cjk(
    logits: torch.Tensor,
    texts: Sequence[str],
    confidence: torch.Tensor,
    charset: Charset,
    *,
    options: CharLMOptions | None = None,
    lm: CharLM | None = None,
) -> tuple[list[str], torch.Tensor]:
    """Read again, with the language model, the unsure readings that hold Han or kana.

    Args:
        logits: ``[N, T, V]`` float recognizer logits of a CTC recognizer.
        texts: the ``N`` greedy readings of ``logits``.
        confidence: ``[N]`` float32 text confidences of ``texts`` in [0, 1].
        charset: the model's charset.
        options: weights and widths (defaults: :class:`CharLMOptions`).
        lm: a character model (default: the shipped one, loaded once per process).

    Returns:
        ``(texts, confidence)``: ``N`` texts, changed where the search found a better reading, and the confidences
        as given. A corrected reading keeps the greedy reading's confidence: the CTC probability of the corrected
        text is lower by construction (the recognizer preferred the look-alike), and taking it would drop correct
        readings below the validity threshold (measured: ``模式`` for ``機式`` at 0.59 → 0.33).
    """
    options = options or CharLMOptions()
    if len(texts) != confidence.shape[0] or logits.shape[0] != len(texts):
        raise ValueError(f"got {len(texts)} texts, {confidence.shape[0]} confidences and {logits.shape[0]} regions")
    rows = [r for r, text in enumerate(texts) if has_lm_chars(text) and float(confidence[r]) < options.max_confidence]
    new_texts, new_confidence = list(texts), confidence.clone()
    if not rows:
        return new_texts, new_confidence
    lm = lm if lm is not None else load_char_lm()
    for row in rows:
        tokens = beam_search(logits[row], charset, lm, options, kana=any(_is_kana(c) for c in texts[row]))
        if tokens:
            new_texts[row] = "".join(charset.characters[t - 3] for t in tokens)
    return new_texts, new_confidence
