"""Build the Chinese/Japanese character language model asset (``src/textspotter/assets/charlm-cjk.tsv.gz``).

The model is the prior of the beam search that reads Chinese and Japanese runs (``textspotter.ops.charlm``,
docs/usage.md §8): an interpolated character bigram, ``P(b | a) = λ · P_word(b | a) + (1 − λ) · P(b)``, whose
bigram part counts the character pairs inside words. It is made from the word frequencies of the ``wordfreq``
package (Robyn Speer et al., https://github.com/rspeer/wordfreq; its data is licensed CC-BY-SA 4.0, so the asset is
too), and reading it needs neither wordfreq nor a network: the asset ships with textspotter.

Recipe: the first ``--size`` words of wordfreq's Chinese and Japanese lists (``get_frequency_dict``, frequency
order), each character written in its Simplified form (wordfreq's Traditional → Simplified table, which it uses for
its own Chinese lookups; so Traditional Chinese and Japanese kanji share the counts of their Simplified forms), words
made only of Han and kana; a word of frequency ``f`` adds ``f`` to each of its characters and to each pair of
neighbouring characters (both lists' frequencies are per word of their language, so each language weighs the same).
Pairs whose conditional probability is below ``--min-bigram`` are dropped (the unigram term covers them).

Lines (gzip of UTF-8, tab-separated, natural logarithms with three decimals):

* ``u  c  log P(c)`` — every character seen;
* ``b  ab  log P_word(b | a)`` — pairs inside words;
* ``m  t  s`` — Traditional character ``t`` (in the multilingual charset) counted as Simplified ``s``.

The output is deterministic for a given wordfreq release; ``charlm-cjk.meta.json`` beside it records the release,
the sizes, the recipe and the licence.

Usage::

    pip install 'wordfreq>=3' msgpack     # or the synth extra
    OMP_NUM_THREADS=1 nice -n 10 python scripts/make_cjk_lm.py
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
from collections import Counter
from importlib import metadata
from pathlib import Path

from textspotter.charset import multilingual_charset
from textspotter.ops.charlm import is_lm_char

ASSETS = Path(__file__).resolve().parents[1] / "src" / "textspotter" / "assets"


def simplified_table() -> dict[str, str]:
    """wordfreq's single-character Traditional → Simplified table (the one its Chinese lookups use)."""
    import msgpack
    import wordfreq

    path = os.path.join(os.path.dirname(wordfreq.__file__), "data", "_chinese_mapping.msgpack.gz")
    with gzip.open(path) as handle:
        mapping = msgpack.load(handle, raw=False, strict_map_key=False)
    table = {}
    for key, value in mapping.items():
        key = chr(key) if isinstance(key, int) else key
        if len(key) == 1 and len(value) == 1 and key != value:
            table[key] = value
    return table


def count(size: int, table: dict[str, str]) -> tuple[Counter[str], Counter[str]]:
    """Character and within-word pair frequencies of the first ``size`` Chinese and Japanese words."""
    import wordfreq

    unigrams: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    for language in ("zh", "ja"):
        for position, (word, frequency) in enumerate(wordfreq.get_frequency_dict(language).items()):
            if position == size:
                break
            chars = [table.get(c, c) for c in word]
            if not all(is_lm_char(c) for c in chars):
                continue
            for c in chars:
                unigrams[c] += frequency
            for a, b in zip(chars, chars[1:]):
                pairs[a + b] += frequency
    return unigrams, pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=200_000, help="words per language (default: %(default)s)")
    parser.add_argument("--min-bigram", type=float, default=1e-4, help="smallest P_word(b | a) kept")
    parser.add_argument("--out", type=Path, default=ASSETS / "charlm-cjk.tsv.gz", help="asset path")
    args = parser.parse_args(argv)

    table = simplified_table()
    unigrams, pairs = count(args.size, table)
    total = sum(unigrams.values())
    starts: Counter[str] = Counter()
    for pair, frequency in pairs.items():
        starts[pair[0]] += frequency
    lines = [f"u\t{c}\t{math.log(f / total):.3f}" for c, f in sorted(unigrams.items())]
    kept = 0
    for pair, frequency in sorted(pairs.items()):
        probability = frequency / starts[pair[0]]
        if probability >= args.min_bigram:
            lines.append(f"b\t{pair}\t{math.log(probability):.3f}")
            kept += 1
    charset = set(multilingual_charset().characters)
    mapped = sorted((t, s) for t, s in table.items() if t in charset)
    lines.extend(f"m\t{t}\t{s}" for t, s in mapped)
    # mtime=0: the same wordfreq release gives the same bytes.
    args.out.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=9, mtime=0))
    version = metadata.version("wordfreq")
    meta = {
        "languages": ["zh", "ja"],
        "words_per_language": args.size,
        "characters": len(unigrams),
        "pairs": kept,
        "pairs_dropped": len(pairs) - kept,
        "min_bigram": args.min_bigram,
        "traditional_to_simplified": len(mapped),
        "format": "gzip of UTF-8 tab-separated lines: 'u c logP(c)', 'b ab logP_word(b|a)', 'm trad simp'; natural "
        "logarithms, three decimals",
        "source": f"wordfreq {version}, get_frequency_dict('zh') and ('ja') in frequency order; its "
        "_chinese_mapping table",
        "wordfreq": version,
        "recipe": "characters in Simplified form, words of Han and kana only, the first `words_per_language` of each "
        "list; unigram and within-word pair frequencies (scripts/make_cjk_lm.py)",
        "licence": "CC-BY-SA-4.0",
        "attribution": "Word frequencies from wordfreq by Robyn Speer et al. (https://github.com/rspeer/wordfreq), "
        "whose data is licensed under the Creative Commons Attribution-ShareAlike 4.0 licence "
        "(https://creativecommons.org/licenses/by-sa/4.0/); this derived model is shared under the same licence.",
    }
    args.out.with_name(args.out.name.replace(".tsv.gz", ".meta.json")).write_text(
        json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"{args.out}: {len(unigrams)} characters, {kept} pairs, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
