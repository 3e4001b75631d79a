"""The languages the synthetic generator writes, and what each needs from fonts and labels.

Every language is one frozen :class:`LanguageSpec`: its word-frequency list and Faker locales, its writing direction,
whether words are separated by spaces, the characters a label may contain, the characters a font must cover to be
used for it, and its punctuation. The specs are built on demand by :func:`language_spec`; nothing here is read at
import time.

Codes follow the manifest: ISO 639-1, with ``zh-Hans`` and ``zh-Hant`` for Simplified and Traditional Chinese.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from textspotter.charset import latin_charset, script_of

__all__ = ["LanguageSpec", "LANGUAGES", "language_spec", "normalize_language", "script_of"]

# The v2 language set plus two right-to-left scripts.
LANGUAGES: tuple[str, ...] = ("en", "zh-Hans", "zh-Hant", "ja", "ko", "ru", "ar", "he")

_ALIASES = {
    "en": "en",
    "eng": "en",
    "english": "en",
    "zh": "zh-Hans",
    "zh-cn": "zh-Hans",
    "zh-hans": "zh-Hans",
    "zh_hans": "zh-Hans",
    "zh-tw": "zh-Hant",
    "zh-hk": "zh-Hant",
    "zh-hant": "zh-Hant",
    "zh_hant": "zh-Hant",
    "ja": "ja",
    "jp": "ja",
    "ko": "ko",
    "kr": "ko",
    "ru": "ru",
    "ar": "ar",
    "he": "he",
    "iw": "he",
}

# Reference characters whose ink spans the line box of each script (see render.LineMetrics): the tallest
# ascenders and the deepest descenders of common letters, no accents.
_REFERENCE = {
    "latin": "Hbdfhklgjpqy",
    "cyrillic": "ЙДЦбдруфHg",
    "cjk": "国永鬱",
    "kana": "国永あのグ",
    "hangul": "국영를",
    "arabic": "لأكطجعي",
    "hebrew": "לךףקשץ",
}

# A hundred very common characters per CJK variant: a font must cover all of them to be used for the language
# (rarer characters are checked word by word at render time).
_CORE_HANS = (
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可生自会那后能对着事其里所去行过家十用发"
    "天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从"
)
_CORE_HANT = (
    "的一是不了人我在有他這為之大來以個中上們到說國和地也子時道出而要於就下得可生自會那後能對著事其裡所去行過家十用發"
    "天如然作方成者多日都三小軍二無同麼經法當起與好看學進種將還分此心前面又定見只主沒公從"
)
_HIRAGANA = "".join(chr(c) for c in range(0x3041, 0x3094))
_KATAKANA = "".join(chr(c) for c in range(0x30A1, 0x30F7)) + "ー"
_CORE_KANJI = "日本人年月時間会社大学生国語中見行出来上下山川田子女男手気前後東西南北新高長話読書食電車"
_CORE_HANGUL = (
    "가각간갈감강개거건걸게격결경계고공과관광교구국군권그근글금기길김나날남내너년노농누는늘다단달담당대더도동두들등"
    "라람랑래러려력로록론료루류르를리마만말맞매머면명모목무문물미민바반받발방배백버번법변보본부분불비사산살상새생서"
    "선설성세소속손수순술시식신실심아안알았애야약양어언얼업없었에여역연열영예오온와완왕외요용우운원월위유으은을음의"
    "이인일임입있자작장재저전점정제조족종주준중지직진질집차착참창책처천철청체초최추출충치친카크타태터통트파판평포표"
    "하학한할함합해했행향허현형호화확환활회후히"
)
_CYRILLIC = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя"
_ARABIC_LETTERS = "ءآأؤإئابةتثجحخدذرزسشصضطظعغفقكلمنهوىي"
_HEBREW_LETTERS = "אבגדהוזחטיךכלםמןנסעףפץצקרשת"
_ASCII_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ASCII_PRINTABLE = "".join(chr(c) for c in range(33, 127))


def _in_ranges(*ranges: tuple[int, int]) -> Callable[[str], bool]:
    def check(char: str) -> bool:
        c = ord(char)
        return any(lo <= c <= hi for lo, hi in ranges)

    return check


@dataclass(frozen=True)
class LanguageSpec:
    """What the generator needs to know about one language.

    Attributes:
        code: manifest language code (``en``, ``zh-Hans``, ...).
        wordfreq: the ``wordfreq`` language code of its word list.
        faker_locales: Faker locales for names, addresses, phone numbers, companies.
        direction: ``ltr`` or ``rtl`` (paragraph direction).
        spaced: whether words are separated by spaces; unspaced scripts (Chinese, Japanese) break lines anywhere
            and cut words at punctuation and spaces.
        script: the main script (a key of the line-box reference table).
        required: characters a font must cover to be used for this language at all.
        native: characters (besides ``extra``) a label in this language may contain, as a predicate.
        extra: further characters a label may contain (Latin charset, language punctuation).
        region_tags: CJK font-name tags for this language's glyph variant (``SC``, ``JP``, ...); fonts tagged for
            another CJK variant are not used.
        comma, stops, quotes: punctuation of the language.
        vertical: whether the language is also written in vertical columns.
    """

    code: str
    wordfreq: str
    faker_locales: tuple[str, ...]
    direction: str
    spaced: bool
    script: str
    required: str
    native: Callable[[str], bool]
    extra: frozenset[str]
    region_tags: tuple[str, ...] = ()
    comma: str = ","
    stops: str = ".?!"
    quotes: tuple[tuple[str, str], ...] = (("“", "”"), ("(", ")"))
    vertical: bool = False

    def allows(self, text: str) -> bool:
        """Return whether every character of ``text`` may appear in a label of this language."""
        return all(c in self.extra or self.native(c) for c in text)

    @property
    def reference(self) -> str:
        """Characters whose ink spans the line box of this language's script."""
        return _REFERENCE[self.script]


def normalize_language(code: str) -> str:
    """Map a user-facing language code (``zh``, ``zh-TW``, ``jp``, ...) to its manifest code.

    Raises:
        ValueError: for a language the generator does not write.
    """
    if not isinstance(code, str):
        raise TypeError(f"language must be a string, got {type(code).__name__}")
    key = code.strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"unknown language {code!r}; choose from {', '.join(LANGUAGES)}")
    return _ALIASES[key]


@cache
def language_spec(code: str) -> LanguageSpec:
    """Return the :class:`LanguageSpec` of a language code (aliases accepted, see :func:`normalize_language`)."""
    code = normalize_language(code)
    latin = frozenset(latin_charset().characters)
    cjk_punct = frozenset("，。、；：？！「」『』（）《》〈〉【】・…—～％＋－＝／·")
    if code == "en":
        return LanguageSpec(
            code="en",
            wordfreq="en",
            faker_locales=("en_US", "en_GB"),
            direction="ltr",
            spaced=True,
            script="latin",
            required=_ASCII_PRINTABLE,
            native=lambda c: False,
            extra=latin,
            quotes=(("“", "”"), ("(", ")"), ('"', '"'), ("‘", "’")),
        )
    if code == "ru":
        return LanguageSpec(
            code="ru",
            wordfreq="ru",
            faker_locales=("ru_RU",),
            direction="ltr",
            spaced=True,
            script="cyrillic",
            required=_CYRILLIC + _ASCII_LETTERS + "0123456789",
            native=_in_ranges((0x400, 0x45F)),
            extra=latin | frozenset("№«»„“"),
            quotes=(("«", "»"), ("„", "“"), ("(", ")")),
        )
    if code in ("zh-Hans", "zh-Hant"):
        hant = code == "zh-Hant"
        return LanguageSpec(
            code=code,
            wordfreq="zh",
            faker_locales=("zh_TW",) if hant else ("zh_CN",),
            direction="ltr",
            spaced=False,
            script="cjk",
            required=_CORE_HANT if hant else _CORE_HANS,
            native=_in_ranges((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x3000, 0x303F), (0xFF01, 0xFF5E)),
            extra=latin | cjk_punct,
            region_tags=("TC", "HK", "TW") if hant else ("SC", "CN"),
            comma="，、",
            stops="。？！",
            quotes=(("「", "」"), ("（", "）"), ("《", "》")) if hant else (("“", "”"), ("（", "）"), ("《", "》")),
            vertical=True,
        )
    if code == "ja":
        return LanguageSpec(
            code="ja",
            wordfreq="ja",
            faker_locales=("ja_JP",),
            direction="ltr",
            spaced=False,
            script="kana",
            required=_HIRAGANA + _KATAKANA + _CORE_KANJI,
            native=_in_ranges((0x3040, 0x30FF), (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x3000, 0x303F), (0xFF01, 0xFF5E)),
            extra=latin | cjk_punct,
            region_tags=("JP",),
            comma="、",
            stops="。？！",
            quotes=(("「", "」"), ("（", "）"), ("『", "』")),
            vertical=True,
        )
    if code == "ko":
        return LanguageSpec(
            code="ko",
            wordfreq="ko",
            faker_locales=("ko_KR",),
            direction="ltr",
            spaced=True,
            script="hangul",
            required=_CORE_HANGUL + _ASCII_LETTERS + "0123456789",
            native=_in_ranges((0xAC00, 0xD7A3), (0x4E00, 0x9FFF), (0x3000, 0x303F)),
            extra=latin | frozenset("「」『』《》〈〉·…"),
            region_tags=("KR",),
        )
    if code == "ar":
        return LanguageSpec(
            code="ar",
            wordfreq="ar",
            faker_locales=("ar_AA",),
            direction="rtl",
            spaced=True,
            script="arabic",
            required=_ARABIC_LETTERS,
            # Letters, Arabic-Indic digits and Arabic punctuation; harakat are left out (wordfreq strips them).
            native=_in_ranges((0x621, 0x64A), (0x660, 0x66D), (0x60C, 0x60C), (0x61B, 0x61F), (0x6A4, 0x6A4)),
            extra=latin,
            comma="،",
            stops=".؟!",
            quotes=(("«", "»"), ("(", ")")),
        )
    # code == "he"
    return LanguageSpec(
        code="he",
        wordfreq="he",
        faker_locales=("he_IL",),
        direction="rtl",
        spaced=True,
        script="hebrew",
        required=_HEBREW_LETTERS,
        native=_in_ranges((0x5D0, 0x5EA), (0x5F3, 0x5F4)),
        extra=latin,
        quotes=(('"', '"'), ("(", ")")),
    )
