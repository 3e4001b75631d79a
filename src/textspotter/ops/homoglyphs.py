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

import functools
import re
from collections.abc import Sequence

import torch

from ..charset import BLANK, NUM_SPECIAL_TOKENS, Charset, script_of
from .decode import ConfidenceMode, decode_greedy

__all__ = ["unify_scripts", "settle_alphabets", "CYRILLIC_LOOKALIKES", "LATIN_LOOKALIKES"]

# Pairs of the same printed shape (upright roman and sans faces). Not included: shapes that differ in most faces
# (к/k, п/n, и/u, т/m only in italics) and letters Russian lacks (і, ј, ѕ), which would turn Latin into Ukrainian.
CYRILLIC_LOOKALIKES = "АВЕКМНОРСТХУаеорсух"
LATIN_LOOKALIKES = "ABEKMHOPCTXYaeopcyx"
_TO_CYRILLIC = str.maketrans(LATIN_LOOKALIKES, CYRILLIC_LOOKALIKES)
_TO_LATIN = str.maketrans(CYRILLIC_LOOKALIKES, LATIN_LOOKALIKES)
_LOOKALIKES = frozenset(CYRILLIC_LOOKALIKES + LATIN_LOOKALIKES)
_CYRILLIC = re.compile("[\u0400-\u052f]")  # script_of's Cyrillic range, searched in C on every page
_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")
_TIE = 1e-3  # log-probability difference under which a run's two alphabets score the same
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


@functools.lru_cache(maxsize=4)
def _alphabet_classes(charset: Charset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Masks ``[V]`` (bool) of the charset's Latin letters, Cyrillic letters and letters of any script, and the
    ``[P, 2]`` token ids (Latin, Cyrillic) of the look-alike pairs that both are in the charset."""
    latin = torch.zeros(charset.num_tokens, dtype=torch.bool)
    cyrillic = torch.zeros(charset.num_tokens, dtype=torch.bool)
    letter = torch.zeros(charset.num_tokens, dtype=torch.bool)
    for i, char in enumerate(charset.characters, start=NUM_SPECIAL_TOKENS):
        if len(char) != 1 or not char.isalpha():
            continue
        letter[i] = True
        script = script_of(char)
        latin[i] = script == "latin"
        cyrillic[i] = script == "cyrillic"
    pairs = [
        (charset.token_id(a), charset.token_id(b))
        for a, b in zip(LATIN_LOOKALIKES, CYRILLIC_LOOKALIKES, strict=True)
        if a in charset and b in charset
    ]
    return latin, cyrillic, letter, torch.tensor(pairs, dtype=torch.int64).reshape(-1, 2)


def _letter_runs(ids: list[int], letter: list[bool]) -> list[tuple[int, int]]:
    """Column spans ``[start, end)`` of one best path whose ids are letters or blanks, cut at every other id."""
    runs = []
    start = None
    for t, token in enumerate(ids):
        if letter[token] or token == BLANK:
            if start is None and token != BLANK:
                start = t
        elif start is not None:
            runs.append((start, t))
            start = None
    if start is not None:
        runs.append((start, len(ids)))
    return runs


def settle_alphabets(
    logits: torch.Tensor,
    texts: Sequence[str],
    confidence: torch.Tensor,
    charset: Charset,
    *,
    mode: ConfidenceMode = "geometric_mean",
) -> tuple[list[str], torch.Tensor, list[int]]:
    """Decode again, in one alphabet, each run of letters that a CTC best path spelled in Latin and Cyrillic mixed.

    No word is written in both alphabets, but a recognizer that reads both may spell one so (``Чyraeвa`` for
    ``Чугаева``, ``DосSтиP`` for ``DocStrip``): each column's best class is chosen on its own. For every run of
    letter columns of the best path (cut at spaces, digits, hyphens and other punctuation, so ``PDF-файл`` keeps its
    two alphabets) that mixes the two, the run's columns are scored once with Latin letters only and once with
    Cyrillic letters only (the sum over the run's columns of the best allowed log-probability, a look-alike pair
    such as ``о``/``o`` counted as one letter with both classes' probability; blanks and non-letters are always
    allowed), the other alphabet's letters are masked in the run's columns for the lower-scoring case (each kept
    look-alike taking its pair's probability), and the row is decoded again (greedy CTC, same confidence rule).
    Rows without both alphabets are not touched, nor runs whose two alphabets score the same (look-alikes only:
    :func:`unify_scripts` settles those by the page's script).

    Args:
        logits: ``[N, T, V]`` CTC logits of the readings (any float dtype).
        texts: the ``N`` greedy readings of ``logits``.
        confidence: ``[N]`` their confidences.
        charset: the model's charset.
        mode: the confidence rule (``spec.postprocess.text_confidence``).

    Returns:
        ``(texts, confidence, changed)``: the readings and confidences with the settled rows decoded again, and the
        indices of the rows whose text changed.

    >>> cs = Charset(("y", "у", "Ч"))  # Latin y (id 3), Cyrillic у (4), Cyrillic Ч (5)
    >>> logits = torch.full((1, 2, cs.num_tokens), -9.0)
    >>> logits[0, 0, 5] = 5.0                        # column 0: Ч
    >>> logits[0, 1, 3], logits[0, 1, 4] = 5.0, 4.9  # column 1: Latin y just ahead of Cyrillic у
    >>> texts, conf, changed = settle_alphabets(logits, ["Чy"], torch.ones(1), cs)
    >>> texts, changed
    (['Чу'], [0])
    """
    if not any(_CYRILLIC.search(text) and _LATIN.search(text) for text in texts):
        return list(texts), confidence, []
    latin, cyrillic, letter, pairs = _alphabet_classes(charset)
    if logits.shape[-1] != latin.numel():
        raise ValueError(f"logits have {logits.shape[-1]} classes, the charset {latin.numel()}")
    letter_list = letter.tolist()
    out_texts, out_conf = list(texts), confidence.clone()
    rows, masked = [], []
    for row, text in enumerate(texts):
        if not (_CYRILLIC.search(text) and _LATIN.search(text)):
            continue
        scores = logits[row].float()  # one conversion: argmax over bfloat16 is several times slower
        ids = scores.argmax(-1)  # the greedy path
        new: torch.Tensor | None = None
        for start, end in _letter_runs(ids.tolist(), letter_list):
            span = ids[start:end]
            if not (latin[span].any() and cyrillic[span].any()):
                continue
            # Scored on the run's columns only (a row holds T x V logits; a run is a few columns).
            part = scores[start:end].clone()
            normaliser = torch.logsumexp(part, dim=-1)
            if pairs.numel():
                # A look-alike pair's shape is one letter read twice: each form gets the pair's summed
                # probability, so the alphabet is decided by the letters only one alphabet has, not by how the
                # recognizer split ``о``/``o`` between the two classes. The kept form carries it into the
                # decoding too (one of the two is masked below, so the normaliser stays right).
                merged = torch.logaddexp(part[:, pairs[:, 0]], part[:, pairs[:, 1]])
                part[:, pairs[:, 0]] = merged
                part[:, pairs[:, 1]] = merged
            keep_latin = float((part.masked_fill(cyrillic, float("-inf")).amax(-1) - normaliser).sum())
            keep_cyrillic = float((part.masked_fill(latin, float("-inf")).amax(-1) - normaliser).sum())
            if abs(keep_latin - keep_cyrillic) < _TIE:
                continue  # look-alikes only: unify_scripts settles them by the page's script
            if new is None:
                new = scores.clone()
            new[start:end] = part.masked_fill(cyrillic if keep_latin > keep_cyrillic else latin, float("-inf"))
        if new is not None:
            rows.append(row)
            masked.append(new)
    if not rows:
        return out_texts, out_conf, []
    again, again_conf = decode_greedy(torch.stack(masked), charset, mode=mode, collapse_repeats=True)
    changed_rows = []
    for row, text, conf in zip(rows, again, again_conf.tolist(), strict=True):
        if text != out_texts[row]:
            changed_rows.append(row)
        out_texts[row] = text
        out_conf[row] = conf
    return out_texts, out_conf, changed_rows
