"""Build the multilingual charset asset (``src/textspotter/assets/charset-multi.json``).

The charset of the multilingual model (issue #22: en, zh-Hans, zh-Hant, ja, ko, ru) is the union of

1. :func:`textspotter.charset.latin_charset` first, unchanged and in its order, so the English model's rows keep
   their token ids;
2. standard sets decoded from Python's codecs (no copied lists):

   * GB2312 level 1 Hanzi (rows 16-55, 3,755 characters, ``gb2312``);
   * Big5 frequent characters (0xA440-0xC67E, 5,401 characters, ``big5``) for Traditional Chinese;
   * JIS X 0208 level 1 kanji (rows 16-47, 2,965 characters, ``euc_jp``) in place of the Jōyō list, which no codec
     carries (JIS level 1 holds most Jōyō kanji; the others are in only where another set or the data holds them);
   * the non-kanji rows of JIS X 0208 that hold kana and CJK punctuation (rows 1, 4, 5);
   * the 2,350 KS X 1001 Hangul syllables (``euc_kr`` 0xB0A1-0xC8FE);
   * the Russian alphabet (А-я, Ё, ё) and the ideographic / fullwidth punctuation the generator writes;

3. characters counted in data: every character occurring at least ``--min-count`` times in the words of a
   corpus manifest (``textspotter corpus build`` of the zh/ja/ko/ru TeX Live packages) or in the generator's word
   lists (``synth.corpus._word_list`` of zh-Hans, zh-Hant, ja, ko, ru at the generator's vocabulary size),
   restricted to letters, digits, punctuation and symbols (no controls, private use, combining marks or spaces).

Parts 2 and 3 are sorted by code point after the Latin part. The output is deterministic for a given wordfreq
release and manifest; the committed asset records both in ``charset-multi.meta.json``.

Usage::

    OMP_NUM_THREADS=1 nice -n 19 python scripts/multilingual_charset.py \
        --manifest /work/corpus/multi-count/train/manifest.jsonl
"""

from __future__ import annotations

import argparse
import collections
import json
import unicodedata
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

from textspotter.charset import latin_charset

ASSET = Path(__file__).resolve().parents[1] / "src" / "textspotter" / "assets" / "charset-multi.json"
LANGUAGES = ("zh-Hans", "zh-Hant", "ja", "ko", "ru")


def _decode_double_byte(codec: str, first: Iterable[int], second: Iterable[int]) -> Iterator[str]:
    """Decode every two-byte code ``first × second`` of ``codec``; codes that do not decode are skipped."""
    seconds = list(second)
    for lead in first:
        for trail in seconds:
            try:
                text = bytes((lead, trail)).decode(codec)
            except UnicodeDecodeError:
                continue
            if len(text) == 1:
                yield text


def standard_sets() -> dict[str, list[str]]:
    """The standard character sets of part 2, each in code order."""
    euc_rows = range(0xA1, 0xFF)  # EUC row/cell bytes are 0xA1 + (row - 1)
    return {
        "gb2312-level1": list(_decode_double_byte("gb2312", range(0xB0, 0xD8), euc_rows)),
        "big5-frequent": [
            c
            for c in _decode_double_byte("big5", range(0xA4, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)])
            if int.from_bytes(c.encode("big5"), "big") <= 0xC67E
        ],
        "jisx0208-level1": list(_decode_double_byte("euc_jp", range(0xB0, 0xD0), euc_rows)),
        "jisx0208-kana-punct": list(_decode_double_byte("euc_jp", (0xA1, 0xA4, 0xA5), euc_rows)),
        "ksx1001-hangul": list(_decode_double_byte("euc_kr", range(0xB0, 0xC9), euc_rows)),
        "russian": [chr(c) for c in range(0x410, 0x450)] + ["Ё", "ё"],
        "cjk-punct": [chr(c) for c in range(0x3001, 0x3020)] + [chr(c) for c in range(0xFF01, 0xFF5F)],
    }


def _acceptable(char: str) -> bool:
    # Letters, numbers, punctuation and symbols only: controls, formats, private use, marks and spaces are not
    # characters a recognizer should emit.
    return unicodedata.category(char)[0] in "LNPS"


def count_manifest(path: Path, counts: collections.Counter) -> int:
    """Add the characters of the words of a manifest's zh/ja/ko/ru pages; return the pages counted."""
    pages = 0
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            page = json.loads(line)
            if page.get("language") not in LANGUAGES:
                continue  # the language packages also hold English pages; English is the Latin part's
            pages += 1
            for word in page.get("words", ()):
                counts.update(word.get("text", ""))
    return pages


def count_word_lists(counts: collections.Counter) -> None:
    """Add the characters of the generator's word lists (each word once, as the sampler's vocabulary)."""
    from textspotter.synth.corpus import TextOptions, _word_list

    size = TextOptions().vocabulary_size
    for code in LANGUAGES:
        for word in _word_list(code, size)[0]:
            counts.update(word)


def build(manifests: list[Path], *, min_count: int) -> tuple[list[str], dict]:
    """Return the charset (Latin part first) and a description of how it was made."""
    latin = list(latin_charset().characters)
    sets = standard_sets()
    counts: collections.Counter = collections.Counter()
    pages = sum(count_manifest(p, counts) for p in manifests)
    count_word_lists(counts)
    standard = {c for chars in sets.values() for c in chars if _acceptable(c)}
    counted = {c for c, n in counts.items() if n >= min_count and _acceptable(c)}
    rest = sorted((standard | counted) - set(latin))
    meta = {
        "size": len(latin) + len(rest),
        "latin": len(latin),
        "standard_sets": {name: len(chars) for name, chars in sets.items()},
        "from_data_only": len(counted - standard - set(latin)),
        "min_count": min_count,
        "manifests": [str(p) for p in manifests],
        "manifest_pages": pages,
        "wordfreq": metadata.version("wordfreq"),
        "languages": list(LANGUAGES),
    }
    return latin + rest, meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, action="append", default=[], help="corpus manifest.jsonl to count")
    parser.add_argument("--min-count", type=int, default=2, help="occurrences a counted character needs")
    parser.add_argument("--out", type=Path, default=ASSET)
    args = parser.parse_args()
    charset, meta = build(args.manifest, min_count=args.min_count)
    args.out.write_text(json.dumps(charset, ensure_ascii=False) + "\n", encoding="utf-8")
    args.out.with_suffix(".meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
