"""Build the English word-frequency lexicon asset (``src/textspotter/assets/lexicon-en.tsv.gz``).

The lexicon is the prior of the optional lexicon rescoring of recognizer readings (``textspotter.ops.lexicon``,
docs/usage.md §8). It is made from the word frequencies of the ``wordfreq`` package (Robyn Speer et al.,
https://github.com/rspeer/wordfreq; its data is licensed CC-BY-SA 4.0, so the asset is too), and reading it needs
neither wordfreq nor a network: the asset ships with textspotter.

Recipe: wordfreq's English list in frequency order (``top_n_list("en", ...)``, the "best" = large list), keeping
words that

* are letters (any case; wordfreq's keys are lowercase) with at most internal apostrophes or hyphens
  (``don't``, ``well-known``; no digits, no other symbols, no leading or trailing mark);
* are written in the Latin script and only with characters of the English model's charset
  (:func:`textspotter.charset.latin_charset`), so every entry is a reading the recognizer can produce;

then the first ``--size`` of them. Each line is ``word<TAB>zipf``: the word's Zipf frequency (log10 of its frequency
per billion words, wordfreq's ``zipf_frequency``, two decimals). Lines are sorted by word, which gzip compresses
better than frequency order. The output is deterministic for a given wordfreq release; ``lexicon-en.meta.json``
beside it records the release, the size, the recipe and the licence.

Usage::

    pip install 'wordfreq>=3'            # or the synth extra
    OMP_NUM_THREADS=1 nice -n 10 python scripts/make_lexicon.py --size 80000
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from importlib import metadata
from pathlib import Path

from textspotter.charset import latin_charset

ASSETS = Path(__file__).resolve().parents[1] / "src" / "textspotter" / "assets"

# Letters, optionally joined by single internal apostrophes or hyphens (wordfreq writes ASCII apostrophes).
_WORD = re.compile(r"^[^\W\d_]+(?:['-][^\W\d_]+)*$")
_LATIN_END = "\u0250"  # Basic Latin, Latin-1 and Latin Extended-A/B end here; IPA and other scripts are left out


# Profanity and slurs are left out, so that the rescoring never turns a misread word into one of them (it once made
# one out of a misread "turb"). A word read as such by the recognizer itself is kept as read.
_LEFT_OUT = frozenset(
    """
    fuck fucks fucked fucker fuckers fucking fuckin motherfucker motherfuckers shit shits shitty shitting bullshit
    bitch bitches bitchy cunt cunts dick dicks dickhead cock cocks cocksucker pussy pussies asshole assholes arse
    arsehole bastard bastards whore whores slut sluts twat twats wanker wankers bollocks piss pissed pissing nigger
    niggers nigga niggas faggot faggots fag fags dyke dykes retard retards retarded tranny spic spics chink chinks
    kike kikes wetback gook gooks
    """.split()  # noqa: SIM905 (a word list, not a list of strings to read)
)


def english_words(size: int) -> list[tuple[str, float]]:
    """Return the ``size`` most frequent usable English words of wordfreq with their Zipf frequencies."""
    import wordfreq

    allowed = set(latin_charset().characters)
    chosen: list[tuple[str, float]] = []
    for word in wordfreq.top_n_list("en", 10 * size, wordlist="best"):
        if not _WORD.match(word) or any(c not in allowed or c >= _LATIN_END for c in word if c not in "'-"):
            continue
        if word in _LEFT_OUT:
            continue
        chosen.append((word, wordfreq.zipf_frequency(word, "en", wordlist="best")))
        if len(chosen) == size:
            break
    if len(chosen) < size:
        raise ValueError(f"wordfreq's English list gives only {len(chosen)} usable words, asked for {size}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=80_000, help="number of words (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=ASSETS / "lexicon-en.tsv.gz", help="asset path")
    args = parser.parse_args(argv)

    words = english_words(args.size)
    text = "".join(f"{word}\t{zipf:.2f}\n" for word, zipf in sorted(words))
    # mtime=0: the same wordfreq release gives the same bytes.
    args.out.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    version = metadata.version("wordfreq")
    meta = {
        "language": "en",
        "size": len(words),
        "left_out": f"{len(_LEFT_OUT)} profanities and slurs (scripts/make_lexicon.py _LEFT_OUT)",
        "letters_only": sum(1 for word, _ in words if word.isalpha()),
        "min_zipf": min(zipf for _, zipf in words),
        "max_zipf": max(zipf for _, zipf in words),
        "format": "gzip of UTF-8 lines 'word<TAB>zipf', sorted by word; zipf = log10(frequency per 1e9 words)",
        "source": f"wordfreq {version}, top_n_list('en', wordlist='best') in frequency order, zipf_frequency",
        "wordfreq": version,
        "recipe": "letters with internal apostrophes or hyphens only, Latin script, characters of latin_charset(); "
        "the first `size` in frequency order (scripts/make_lexicon.py)",
        "licence": "CC-BY-SA-4.0",
        "attribution": "Word frequencies from wordfreq by Robyn Speer et al. (https://github.com/rspeer/wordfreq), "
        "whose data is licensed under the Creative Commons Attribution-ShareAlike 4.0 licence "
        "(https://creativecommons.org/licenses/by-sa/4.0/); this derived list is shared under the same licence.",
    }
    args.out.with_name(args.out.name.replace(".tsv.gz", ".meta.json")).write_text(
        json.dumps(meta, indent=2) + "\n", encoding="utf-8"
    )
    print(f"{args.out}: {len(words)} words, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
