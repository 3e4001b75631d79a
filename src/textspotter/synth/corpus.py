"""Offline text sources: word frequencies, Faker entities, numbers, punctuation and casing per language.

Words are drawn from the ``wordfreq`` lists (shipped inside the package, nothing is downloaded) with probability
proportional to ``frequency ** frequency_exponent``: 1 reproduces running text, smaller values flatten Zipf's law so
that rarer words (and characters) are seen more often. Names, companies, addresses, phone numbers and dates come
from ``Faker`` locales, re-seeded from the page's generator before every use, so the text is a pure function of the
page seed. Every string a sampler returns contains only characters its language allows
(:meth:`LanguageSpec.allows`); for English that is exactly ``latin_charset()``.

Latin and Cyrillic text also carries what papers, reports and manuals are full of (:data:`TECHNICAL_KINDS`):
citations (``[12]``, ``[3, 7–9]``, ``(Smith et al., 2019)``), inline math (``x = 2``, ``f(x)``, ``p < 0.05``, ``n²``),
measurements and money (``3.5 mm``, ``12 %``, ``$1,299.00``), dates, times, phone numbers, cross-references
(``Fig. 3``, ``Sec. 2.3.1``, ``Eq. (4)``), single letters (``a``, ``I``, ``x``, ``(b)``), hyphenated compounds
(``state-of-the-art``), footnote markers (``result²``, ``method*``), e-mail addresses and URLs, and whole
bibliography entries (:meth:`TextSampler.reference_entry`). Sub- and superscripts other than ``¹²³`` are not
written (they would need mixed-baseline runs in the typesetter).

Text is returned as plain strings: words separated by spaces for spaced scripts, running text for Chinese and
Japanese (the typesetter breaks those anywhere and cuts detector words at spaces and punctuation, see render.py).

Traditional Chinese text is the Chinese word list converted character by character with the inverse of wordfreq's
Traditional-to-Simplified table (see :func:`_traditional_table` for how ambiguous characters are resolved); words
left with characters outside Big5 are dropped.
"""

from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .languages import LanguageSpec, language_spec

__all__ = [
    "TextOptions",
    "TextSampler",
    "ENTITY_KINDS",
    "TECHNICAL_KINDS",
    "ACCENTED_LANGUAGES",
    "SCRIPT_MARKS",
    "strip_scripts",
    "split_scripts",
]

# Sub- and superscript markup inside a word: private-use characters no language allows, so they can never be mistaken
# for text. ``x<SUP>2<END>`` is x squared, ``α<SUB>i<END>`` is alpha sub i; the label is the text without marks.
_SUP, _SUB, _END = "\ue0a1", "\ue0a2", "\ue0a3"
SCRIPT_MARKS = (_SUP, _SUB, _END)


def strip_scripts(text: str) -> str:
    """Return ``text`` without sub/superscript marks: the label of a scripted word (``α_i`` → ``αi``)."""
    return text.replace(_SUP, "").replace(_SUB, "").replace(_END, "") if _END in text else text


def split_scripts(word: str) -> list[tuple[str, int]]:
    """Split a word into runs ``(text, level)``: level 0 on the baseline, 1 superscript, -1 subscript.

    >>> split_scripts("x\ue0a2i\ue0a3\ue0a12\ue0a3")
    [('x', 0), ('i', -1), ('2', 1)]
    """
    runs: list[tuple[str, int]] = []
    level, current = 0, ""
    for char in word:
        if char in SCRIPT_MARKS:
            if current:
                runs.append((current, level))
            current = ""
            level = 1 if char == _SUP else -1 if char == _SUB else 0
        else:
            current += char
    if current:
        runs.append((current, level))
    return runs


ENTITY_KINDS = ("name", "company", "address", "city", "phone", "date", "email", "job", "amount", "id", "number")
# Kinds of technical tokens in running text, with their relative frequency (see TextSampler.technical).
TECHNICAL_KINDS: dict[str, float] = {
    "math": 0.2,
    "measure": 0.2,
    "crossref": 0.12,
    "letter": 0.12,
    "compound": 0.16,
    "footnote": 0.08,
    "email": 0.04,
    "url": 0.05,
    "phone": 0.03,
}

# Korean word lists are split into stems and particles; words get one of these endings back, hand-picked from the
# most common particles and verb endings.
_KO_ENDINGS = (
    "이",
    "가",
    "은",
    "는",
    "을",
    "를",
    "에",
    "의",
    "도",
    "로",
    "와",
    "과",
    "에서",
    "으로",
    "에게",
    "까지",
    "부터",
    "만",
    "하는",
    "했다",
    "한다",
    "하고",
    "입니다",
    "합니다",
    "이다",
    "된",
)

# Form labels per language, each with the kind of value that follows it (written for this project).
_LABELS: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (
        ("Name", "name"),
        ("Full name", "name"),
        ("Applicant", "name"),
        ("Address", "address"),
        ("City", "city"),
        ("Phone", "phone"),
        ("Telephone", "phone"),
        ("Date", "date"),
        ("Date of birth", "date"),
        ("Email", "email"),
        ("Company", "company"),
        ("Employer", "company"),
        ("Occupation", "job"),
        ("Amount", "amount"),
        ("Total due", "amount"),
        ("Account No.", "id"),
        ("Reference", "id"),
        ("Policy number", "id"),
        ("Invoice #", "id"),
        ("Quantity", "number"),
    ),
    "ru": (
        ("ФИО", "name"),
        ("Имя", "name"),
        ("Адрес", "address"),
        ("Город", "city"),
        ("Телефон", "phone"),
        ("Дата", "date"),
        ("Дата рождения", "date"),
        ("Эл. почта", "email"),
        ("Организация", "company"),
        ("Должность", "job"),
        ("Сумма", "amount"),
        ("Номер счёта", "id"),
        ("Договор №", "id"),
        ("Количество", "number"),
    ),
    "zh-Hans": (
        ("姓名", "name"),
        ("申请人", "name"),
        ("地址", "address"),
        ("城市", "city"),
        ("电话", "phone"),
        ("日期", "date"),
        ("出生日期", "date"),
        ("电子邮件", "email"),
        ("单位名称", "company"),
        ("职业", "job"),
        ("金额", "amount"),
        ("账号", "id"),
        ("编号", "id"),
        ("数量", "number"),
    ),
    "zh-Hant": (
        ("姓名", "name"),
        ("申請人", "name"),
        ("地址", "address"),
        ("城市", "city"),
        ("電話", "phone"),
        ("日期", "date"),
        ("出生日期", "date"),
        ("電子郵件", "email"),
        ("公司名稱", "company"),
        ("職業", "job"),
        ("金額", "amount"),
        ("帳號", "id"),
        ("編號", "id"),
        ("數量", "number"),
    ),
    "ja": (
        ("氏名", "name"),
        ("お名前", "name"),
        ("住所", "address"),
        ("市区町村", "city"),
        ("電話番号", "phone"),
        ("日付", "date"),
        ("生年月日", "date"),
        ("メールアドレス", "email"),
        ("会社名", "company"),
        ("職業", "job"),
        ("金額", "amount"),
        ("口座番号", "id"),
        ("管理番号", "id"),
        ("数量", "number"),
    ),
    "ko": (
        ("성명", "name"),
        ("이름", "name"),
        ("주소", "address"),
        ("도시", "city"),
        ("전화번호", "phone"),
        ("날짜", "date"),
        ("생년월일", "date"),
        ("이메일", "email"),
        ("회사명", "company"),
        ("직업", "job"),
        ("금액", "amount"),
        ("계좌번호", "id"),
        ("접수번호", "id"),
        ("수량", "number"),
    ),
    "ar": (
        ("الاسم", "name"),
        ("الاسم الكامل", "name"),
        ("العنوان", "address"),
        ("المدينة", "city"),
        ("الهاتف", "phone"),
        ("التاريخ", "date"),
        ("تاريخ الميلاد", "date"),
        ("البريد الإلكتروني", "email"),
        ("الشركة", "company"),
        ("المهنة", "job"),
        ("المبلغ", "amount"),
        ("رقم الحساب", "id"),
        ("الرقم المرجعي", "id"),
        ("الكمية", "number"),
    ),
    "he": (
        ("שם", "name"),
        ("שם מלא", "name"),
        ("כתובת", "address"),
        ("עיר", "city"),
        ("טלפון", "phone"),
        ("תאריך", "date"),
        ("תאריך לידה", "date"),
        ("דואר אלקטרוני", "email"),
        ("חברה", "company"),
        ("מקצוע", "job"),
        ("סכום", "amount"),
        ("מספר חשבון", "id"),
        ("אסמכתא", "id"),
        ("כמות", "number"),
    ),
}

# Receipt and slide vocabulary per language (written for this project).
_TERMS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "subtotal": ("SUBTOTAL", "Subtotal", "Sub-total"),
        "tax": ("TAX", "VAT", "Sales tax", "GST"),
        "total": ("TOTAL", "Total", "AMOUNT DUE", "Balance due"),
        "payment": ("CASH", "VISA", "MASTERCARD", "DEBIT", "Card"),
        "change": ("CHANGE", "Change due"),
        "thanks": ("THANK YOU!", "Thank you for shopping with us", "Please come again", "Keep this receipt"),
        "page": ("Page", "p."),
        "figure": ("Figure", "Fig.", "Chart", "Table"),
        "references": ("References", "REFERENCES", "Bibliography", "Literature Cited"),
    },
    "ru": {
        "subtotal": ("ПОДЫТОГ", "Промежуточный итог"),
        "tax": ("НДС", "В т.ч. НДС 20%"),
        "total": ("ИТОГ", "ИТОГО", "К оплате"),
        "payment": ("НАЛИЧНЫМИ", "БЕЗНАЛИЧНЫМИ", "Карта"),
        "change": ("СДАЧА", "Сдача"),
        "thanks": ("СПАСИБО ЗА ПОКУПКУ!", "Ждём вас снова"),
        "page": ("Стр.", "Страница"),
        "figure": ("Рис.", "Рисунок", "Таблица"),
        "references": ("Литература", "Список литературы", "СПИСОК ЛИТЕРАТУРЫ"),
    },
    "zh-Hans": {
        "subtotal": ("小计",),
        "tax": ("税额", "增值税"),
        "total": ("合计", "总计", "应付金额"),
        "payment": ("现金", "微信支付", "支付宝", "银行卡"),
        "change": ("找零",),
        "thanks": ("谢谢惠顾", "欢迎再次光临"),
        "page": ("第", "页"),
        "figure": ("图", "表"),
    },
    "zh-Hant": {
        "subtotal": ("小計",),
        "tax": ("稅額", "營業稅"),
        "total": ("合計", "總計", "應付金額"),
        "payment": ("現金", "信用卡", "悠遊卡"),
        "change": ("找零",),
        "thanks": ("謝謝惠顧", "歡迎再次光臨"),
        "page": ("第", "頁"),
        "figure": ("圖", "表"),
    },
    "ja": {
        "subtotal": ("小計",),
        "tax": ("消費税", "内税", "(税込)"),
        "total": ("合計", "お会計", "ご請求額"),
        "payment": ("現金", "クレジット", "電子マネー"),
        "change": ("お釣り", "釣銭"),
        "thanks": ("ありがとうございました", "またのご来店をお待ちしております"),
        "page": ("ページ",),
        "figure": ("図", "表"),
    },
    "ko": {
        "subtotal": ("소계",),
        "tax": ("부가세", "세액"),
        "total": ("합계", "총액", "결제금액"),
        "payment": ("현금", "카드", "신용카드"),
        "change": ("거스름돈",),
        "thanks": ("감사합니다", "또 오세요"),
        "page": ("페이지", "쪽"),
        "figure": ("그림", "표"),
    },
    "ar": {
        "subtotal": ("المجموع الفرعي",),
        "tax": ("الضريبة", "ضريبة القيمة المضافة"),
        "total": ("الإجمالي", "المجموع", "المبلغ المستحق"),
        "payment": ("نقدا", "بطاقة", "فيزا"),
        "change": ("الباقي",),
        "thanks": ("شكرا لزيارتكم", "نتمنى رؤيتكم مجددا"),
        "page": ("صفحة",),
        "figure": ("شكل", "جدول"),
    },
    "he": {
        "subtotal": ("סכום ביניים",),
        "tax": ('מע"מ', "מס"),
        "total": ('סה"כ', "לתשלום", "סך הכל"),
        "payment": ("מזומן", "אשראי", "כרטיס"),
        "change": ("עודף",),
        "thanks": ("תודה ולהתראות", "תודה על הקנייה"),
        "page": ("עמוד",),
        "figure": ("איור", "טבלה"),
    },
}

# Arabic cities (Faker's Arabic locale mixes English templates into addresses, so they are built here).
_AR_CITIES = ("القاهرة", "الرياض", "دبي", "عمان", "بيروت", "تونس", "الرباط", "جدة", "الدوحة", "مسقط", "الكويت", "بغداد")
_AR_STREET = ("شارع", "طريق", "حي", "ميدان")

_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_UNITS = ("kg", "g", "mm", "cm", "m", "km", "ml", "L", "h", "min", "s", "°C", "%", "kWh", "MB", "GB", "pcs")
# Units of measurements in technical text; written after a space ("3.5 mm") or, for a few, attached ("12%").
_SI_UNITS = (
    "mm", "cm", "m", "km", "nm", "µm", "kg", "g", "mg", "s", "ms", "µs", "min", "h", "Hz", "kHz", "MHz", "GHz",
    "V", "mV", "A", "mA", "W", "kW", "J", "K", "°C", "Pa", "kPa", "MPa", "dB", "%", "mol", "L", "mL", "px", "dpi",
    "GB", "MB", "TB", "ppm", "bit", "bits", "FLOPs", "fps", "pt",
)  # fmt: skip
_GREEK = "αβγδεθλμπστφωΔΣΩ"
_MATH_VARIABLES = "xyzntkijmNpqabcuvw"
_MATH_FUNCTIONS = ("f", "g", "h", "p", "P", "L", "E", "F", "O", "log", "exp", "sin", "cos", "max", "min", "softmax")
_RELATIONS = ("=", "<", ">", "≤", "≥", "≈", "≠", "∈", "→")
_CROSSREFS = (
    "Fig.", "Figure", "Table", "Tab.", "Sec.", "Section", "Eq.", "Equation", "Appendix", "Algorithm", "Alg.",
    "Theorem", "Lemma", "Chapter", "p.", "pp.", "No.", "Ref.",
)  # fmt: skip
_LETTER_TOKENS = (
    "a", "a", "I", "I", "x", "y", "n", "k", "A", "B", "C", "X", "(a)", "(b)", "(c)", "(i)", "(ii)", "(iii)", "a)",
    "b)", "i.e.", "e.g.", "cf.", "vs.", "etc.",
)  # fmt: skip
# Common hyphenated compounds of technical English (written for this project); others are built from word pairs.
_COMPOUNDS = (
    "state-of-the-art", "well-known", "real-time", "end-to-end", "large-scale", "high-resolution", "low-level",
    "so-called", "trade-off", "fine-tuning", "pre-trained", "non-linear", "multi-scale", "two-stage", "long-term",
    "open-source", "cross-entropy", "self-attention", "data-driven", "case-by-case", "one-to-one", "up-to-date",
    "co-occurrence", "re-ranking", "sub-word", "in-house", "first-order", "zero-shot", "e-mail", "user-friendly",
)  # fmt: skip
_FOOTNOTE_MARKS = ("¹", "²", "³", "*", "†", "‡", "¹", "²", "*")
_TLDS = ("com", "org", "net", "edu", "io", "de", "uk", "fr", "gov", "ac.uk", "co.jp")
_URL_PATHS = ("index.html", "docs", "en/latest", "papers", "download", "project", "about", "api/v2", "data")
_VENUES = (
    "Proc. IEEE Conf. on Computer Vision and Pattern Recognition (CVPR)",
    "Proc. Int. Conf. on Document Analysis and Recognition (ICDAR)",
    "Advances in Neural Information Processing Systems",
    "Proc. of the Annual Meeting of the Association for Computational Linguistics",
    "Proc. European Conf. on Computer Vision (ECCV)",
    "Int. Conf. on Learning Representations (ICLR)",
    "Proc. ACM Symposium on Document Engineering",
)
_JOURNALS = (
    "IEEE Trans. Pattern Anal. Mach. Intell.",
    "Pattern Recognition",
    "Int. J. Document Analysis and Recognition",
    "Journal of Machine Learning Research",
    "Nature",
    "Physical Review Letters",
    "ACM Computing Surveys",
    "J. Appl. Phys.",
)
_CURRENCIES_EN = ("$", "£", "€", "¥")


@dataclass(frozen=True)
class TextOptions:
    """How text is drawn from the sources.

    Attributes:
        vocabulary_size: how many of the most frequent words of each language are used.
        frequency_exponent: words are drawn with probability ∝ frequency ** exponent (1 = natural text).
        number_prob: chance that a word slot holds a number, amount, date, code or measurement instead.
        entity_prob: chance that a word slot holds a Faker name or company.
        comma_prob: chance of a comma after a word (or a clause break in Chinese and Japanese).
        bracket_prob: chance that a sentence wraps a few words in parentheses or quotes.
        upper_prob: chance that a word is written in capitals (Latin and Cyrillic).
        rare_char_prob: chance, in Chinese and Japanese, that a word is replaced by characters drawn uniformly
            from the language's whole character inventory (to see rare characters).
        latin_prob: chance, in non-Latin languages, of a Latin word (brand, unit, abbreviation) in the text.
        technical_prob: chance, in Latin and Cyrillic text, that a word slot holds a technical token (one of
            :data:`TECHNICAL_KINDS`: math, measurement, cross-reference, single letter, compound, footnote marker,
            e-mail, URL, phone number).
        citation_prob: chance, in Latin and Cyrillic text, that a sentence cites (``[12]``, ``(Smith et al., 2019)``).
        accented_prob: chance, in Latin-script text, that a word slot holds a word of another European language
            written in the Latin script with at least one letter outside ASCII (``Fußnote``, ``über``, ``déjà``,
            ``Citações``, ``año``; :data:`ACCENTED_LANGUAGES`, the language's charset permitting): documents mix
            them in, and English text alone shows the recognizer too few accented letters. 0 (default) draws
            nothing extra, so the text of a seed is as it was.
    """

    vocabulary_size: int = 40000
    frequency_exponent: float = 0.6
    number_prob: float = 0.05
    entity_prob: float = 0.02
    comma_prob: float = 0.07
    bracket_prob: float = 0.08
    upper_prob: float = 0.01
    rare_char_prob: float = 0.02
    latin_prob: float = 0.02
    technical_prob: float = 0.07
    citation_prob: float = 0.12
    accented_prob: float = 0.0

    def __post_init__(self) -> None:
        if self.vocabulary_size < 100:
            raise ValueError(f"vocabulary_size must be at least 100, got {self.vocabulary_size}")
        if not 0 < self.frequency_exponent <= 2:
            raise ValueError(f"frequency_exponent must be in (0, 2], got {self.frequency_exponent}")
        probabilities = ("number_prob", "entity_prob", "comma_prob", "bracket_prob", "upper_prob", "rare_char_prob")
        for name in probabilities + ("latin_prob", "technical_prob", "citation_prob", "accented_prob"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")


def _big5_rank(char: str) -> int | None:
    """Big5 code of a character, or None outside Big5 (codes below 0xC940 are the 5401 frequent characters)."""
    try:
        encoded = char.encode("big5")
    except UnicodeEncodeError:
        return None
    return int.from_bytes(encoded, "big") if len(encoded) == 2 else None


_BIG5_LEVEL2 = 0xC940


@lru_cache(maxsize=1)
def _traditional_table() -> dict[str, str]:
    """Simplified → Traditional character table, the inverse of wordfreq's Traditional → Simplified table.

    One simplified character can stand for several traditional ones, and may itself be a traditional character
    (制 and 製 both simplify to 制). Without Traditional Chinese frequencies, the Japanese word list (which writes
    most traditional forms) ranks the candidates: the candidate used most in Japanese wins, preferring Big5's
    frequent-character level; the simplified character is kept when it is a frequent Big5 character used about as
    much in Japanese as that candidate (制, 家, 面, 只 stay; 机, 后, 于 become 機, 後, 於).
    """
    import msgpack
    import wordfreq

    path = os.path.join(os.path.dirname(wordfreq.__file__), "data", "_chinese_mapping.msgpack.gz")
    with gzip.open(path) as fh:
        mapping = msgpack.load(fh, raw=False, strict_map_key=False)
    japanese: dict[str, int] = {}
    for bucket, members in enumerate(wordfreq.get_frequency_list("ja")):
        for word in members:
            if len(word) == 1:
                japanese.setdefault(word, bucket)
    candidates: dict[str, list[str]] = {}
    for trad, simp in mapping.items():
        trad_char = chr(trad) if isinstance(trad, int) else trad
        if len(trad_char) == 1 and len(simp) == 1 and trad_char != simp and _big5_rank(trad_char) is not None:
            candidates.setdefault(simp, []).append(trad_char)
    rare = 10**6
    table = {}
    for simp, trads in candidates.items():
        best = min(trads, key=lambda t: (_big5_rank(t) >= _BIG5_LEVEL2, japanese.get(t, rare), _big5_rank(t)))
        rank = _big5_rank(simp)
        # Japanese frequency buckets are centibels: 50 is a factor of about three.
        if rank is not None and rank < _BIG5_LEVEL2 and japanese.get(simp, rare) <= japanese.get(best, rare) + 50:
            continue
        table[simp] = best
    return table


@lru_cache(maxsize=16)
def _word_list(code: str, size: int) -> tuple[tuple[str, ...], np.ndarray]:
    """Return a language's filtered words and their frequencies (not normalised), most frequent first."""
    import wordfreq

    spec = language_spec(code)
    table = _traditional_table() if code == "zh-Hant" else None
    words: list[str] = []
    freqs: list[float] = []
    for bucket, members in enumerate(wordfreq.get_frequency_list(spec.wordfreq)):
        for word in members:
            if table is not None:
                word = "".join(table.get(c, c) for c in word)
                if any(_big5_rank(c) is None for c in word):
                    continue
            if not _acceptable(word, spec):
                continue
            words.append(word)
            freqs.append(10.0 ** (-bucket / 100))  # wordfreq buckets are centibels of frequency
            if len(words) >= size:
                return tuple(words), np.asarray(freqs)
    return tuple(words), np.asarray(freqs)


# An ss that German writes ß: after a diphthong, ie or ö, before t, e, l or at the end (heißt, draußen, größte,
# schließlich, weiß); a guess, but the letter is what the recognizer must see, and most such words are right.
_ESZETT = re.compile(r"(ei|au|eu|ie|ö)ss(?=t|e|l|$)")
ACCENTED_LANGUAGES = ("de", "fr", "es", "pt", "it", "nl", "sv", "da", "pl", "cs", "ca", "fi")
"""wordfreq languages whose accented words :attr:`TextOptions.accented_prob` mixes into Latin-script text."""


@lru_cache(maxsize=4)
def _accented_words(code: str, per_language: int = 3000) -> tuple[tuple[str, ...], np.ndarray]:
    """Words of :data:`ACCENTED_LANGUAGES` with a letter outside ASCII that a label of ``code`` may hold, each
    language's ``per_language`` most frequent, and their draw weights (each language weighs the same in total;
    within it ∝ frequency ** 0.5)."""
    import wordfreq

    spec = language_spec(code)
    words: list[str] = []
    weights: list[np.ndarray] = []
    for language in ACCENTED_LANGUAGES:
        chosen: list[str] = []
        freqs: list[float] = []
        for bucket, members in enumerate(wordfreq.get_frequency_list(language)):
            for word in members:
                # wordfreq folds ß into ss; put it back where German writes it after a long vowel or diphthong
                # (heißt, weiß, draußen, größte, schließlich; not the prefix of aus|sehen), so that it is seen at all.
                if language == "de" and (not word.startswith("auss") or word.startswith(("ausser", "aussen"))):
                    word = _ESZETT.sub(r"\1ß", word)
                if len(word) < 2 or all(ord(c) < 128 for c in word) or not _acceptable(word, spec):
                    continue
                chosen.append(word)
                freqs.append(10.0 ** (-bucket / 200))  # the square root of the frequency (centibel buckets)
                if len(chosen) >= per_language:
                    break
            if len(chosen) >= per_language:
                break
        if chosen:
            words += chosen
            weights.append(np.asarray(freqs) / sum(freqs))
    if not words:
        return (), np.zeros(0)
    cdf = np.cumsum(np.concatenate(weights))
    return tuple(words), cdf / cdf[-1]


def _acceptable(word: str, spec: LanguageSpec) -> bool:
    if not word or not spec.allows(word):
        return False
    if spec.script in ("latin", "cyrillic"):
        if spec.code == "ru" and not any(spec.native(c) for c in word):
            return False  # Russian lists contain English words; the Latin share is added separately
        return any(c.isalpha() for c in word) and all(c.isalpha() or c in "'-" for c in word)
    if spec.script == "hangul":
        return len(word) >= 2 and all(spec.native(c) for c in word)
    return all(spec.native(c) and c.isalpha() for c in word)


class TextSampler:
    """Draw words, sentences, headings and entities for one language.

    Every method takes the page's ``numpy.random.Generator`` and uses nothing else, so the text is reproducible.

    >>> import numpy as np
    >>> sampler = TextSampler("en")                                    # doctest: +SKIP
    >>> sampler.sentence(np.random.default_rng(0))                     # doctest: +SKIP
    'The new system was based on 12 units.'
    """

    def __init__(self, language: str, options: TextOptions | None = None) -> None:
        """Load the word list of ``language`` (alias accepted) with the given options."""
        self.spec = language_spec(language)
        self.options = options or TextOptions()
        words, freqs = _word_list(self.spec.code, self.options.vocabulary_size)
        if not words:
            raise ValueError(f"no usable words for language {self.spec.code!r}")
        self._words = words
        weights = freqs**self.options.frequency_exponent
        self._cdf = np.cumsum(weights / weights.sum())
        self._cdf[-1] = 1.0
        self._inventory = "".join(sorted({c for w in words for c in w})) if not self.spec.spaced else ""
        self._latin: tuple[str, ...] = ()
        if self.spec.code != "en":
            self._latin = tuple(w for w in _word_list("en", 5000)[0] if len(w) > 1)
        self._fakers: dict[str, object] = {}
        self._surnames: tuple[str, ...] | None = None
        self._technical = self.spec.script in ("latin", "cyrillic")
        self._accented: tuple[tuple[str, ...], np.ndarray] = ((), np.zeros(0))
        if self.options.accented_prob > 0 and self.spec.script == "latin":
            self._accented = _accented_words(self.spec.code)
        self._technical_kinds = tuple(TECHNICAL_KINDS)
        weights = np.asarray(list(TECHNICAL_KINDS.values()))
        self._technical_cdf = np.cumsum(weights / weights.sum())

    @property
    def language(self) -> str:
        return self.spec.code

    # ----------------------------------------------------------------------------------------------- words
    def word(self, rng: np.random.Generator) -> str:
        """Draw one word by (flattened) frequency, with language-specific completions (Korean endings)."""
        word = self._words[int(np.searchsorted(self._cdf, rng.random(), side="right"))]
        if self.spec.code == "ko" and not word.endswith("다") and rng.random() < 0.5:
            word += _KO_ENDINGS[int(rng.integers(len(_KO_ENDINGS)))]
        elif self.spec.code == "en" and word in ("i", "i'm", "i'll", "i've", "i'd"):
            word = "I" + word[1:]
        return word

    def words(self, rng: np.random.Generator, count: int) -> list[str]:
        """Draw ``count`` plain words (no punctuation, no casing change)."""
        return [self.word(rng) for _ in range(count)]

    def _slot(self, rng: np.random.Generator, scripts: bool = False) -> str:
        """One word slot of running text: a word, or sometimes a number, entity, Latin word or rare characters."""
        opts = self.options
        u = rng.random()
        if u < opts.number_prob:
            return self.number(rng)
        u -= opts.number_prob
        if u < opts.entity_prob:
            return self.entity(rng, "name" if rng.random() < 0.7 else "company")
        u -= opts.entity_prob
        if self._technical and u < opts.technical_prob:
            return self.technical(rng, scripts=scripts)
        u -= opts.technical_prob if self._technical else 0.0
        if self._latin and u < opts.latin_prob:
            word = self._latin[int(rng.integers(len(self._latin)))]
            return word.upper() if rng.random() < 0.4 else word.capitalize()
        u -= opts.latin_prob
        if self._accented[0] and u < opts.accented_prob:
            words, cdf = self._accented
            word = words[min(int(np.searchsorted(cdf, rng.random(), side="right")), len(words) - 1)]
            return word.capitalize() if rng.random() < 0.15 else word
        u -= opts.accented_prob if self._accented[0] else 0.0
        if self._inventory and u < opts.rare_char_prob:
            length = int(rng.integers(1, 4))
            return "".join(self._inventory[int(i)] for i in rng.integers(len(self._inventory), size=length))
        word = self.word(rng)
        if self.spec.script in ("latin", "cyrillic") and rng.random() < opts.upper_prob:
            word = word.upper()
        return word

    # ------------------------------------------------------------------------------------------- sentences
    def sentence(
        self, rng: np.random.Generator, min_words: int = 5, max_words: int = 18, *, scripts: bool = False
    ) -> str:
        """Draw one sentence: capitalised (where the script has case), with commas, brackets and a full stop.

        With ``scripts``, some inline math carries sub- and superscripts in :data:`SCRIPT_MARKS` markup, for the
        typesetter only (:func:`strip_scripts` gives the label).
        """
        spec, opts = self.spec, self.options
        count = int(rng.integers(min_words, max_words + 1))
        slots = [self._slot(rng, scripts) for _ in range(count)]
        if rng.random() < opts.bracket_prob and count >= 4:
            start = int(rng.integers(1, count - 1))
            end = min(count - 1, start + int(rng.integers(0, 3)))
            opening, closing = spec.quotes[int(rng.integers(len(spec.quotes)))]
            slots[start] = opening + slots[start]
            slots[end] = slots[end] + closing
        for i in range(count - 1):
            if rng.random() < opts.comma_prob * (2.0 if not spec.spaced else 1.0):
                slots[i] += spec.comma[int(rng.integers(len(spec.comma)))]
        if self._technical and rng.random() < opts.citation_prob:
            citation = self.citation(rng)
            if citation.startswith("(") or rng.random() < 0.7:
                slots.append(citation)  # "... as shown [12]." / "... (Smith et al., 2019)."
            else:
                slots.insert(int(rng.integers(1, count)), citation)  # "Smith et al. [3] showed ..."
        stops = spec.stops
        stop = stops[0] if rng.random() < 0.85 else stops[int(rng.integers(len(stops)))]
        slots[-1] += stop
        if spec.script in ("latin", "cyrillic") and slots[0][:1].isalpha():
            slots[0] = self._capitalized(slots[0])
        return self.join(slots)

    def _capitalized(self, word: str) -> str:
        """``word`` with a capital first letter, unless that capital is outside the language (Greek ``α``)."""
        capital = word[0].upper()
        return capital + word[1:] if self.spec.allows(capital) else word

    def join(self, parts: list[str]) -> str:
        """Join text pieces the way the language does: with spaces, or directly for Chinese and Japanese.

        In unspaced text a Latin or numeric piece keeps a space on both sides, as is common in print.
        """
        if self.spec.spaced:
            return " ".join(p for p in parts if p)
        out = ""
        for part in parts:
            if not part:
                continue
            latin_like = part[0].isascii() or part[-1].isascii()
            if out and (latin_like or out[-1].isascii()) and not out.endswith(" "):
                out += " "
            out += part
        return out

    def paragraph(
        self, rng: np.random.Generator, min_sentences: int = 2, max_sentences: int = 6, *, scripts: bool = False
    ) -> str:
        """Draw a paragraph of running text (``scripts``: see :meth:`sentence`)."""
        count = int(rng.integers(min_sentences, max_sentences + 1))
        sentences = [self.sentence(rng, scripts=scripts) for _ in range(count)]
        return (" " if self.spec.spaced else "").join(sentences)

    def heading(self, rng: np.random.Generator, min_words: int = 1, max_words: int = 6) -> str:
        """Draw a heading: Title Case or capitals for cased scripts, no final stop."""
        count = int(rng.integers(min_words, max_words + 1))
        words = [self.word(rng) for _ in range(count)]
        if self.spec.script in ("latin", "cyrillic"):
            style = rng.random()
            if style < 0.2:
                words = [w.upper() for w in words]
            elif style < 0.7 and self.spec.code == "en":
                words = [w[0].upper() + w[1:] if len(w) > 3 or i == 0 else w for i, w in enumerate(words)]
            else:
                words[0] = words[0][0].upper() + words[0][1:]
        return self.join(words)

    def phrase(self, rng: np.random.Generator, min_words: int = 1, max_words: int = 4) -> str:
        """Draw a short phrase (table cells, list items, labels), capitalised for cased scripts."""
        words = [self._slot(rng) for _ in range(int(rng.integers(min_words, max_words + 1)))]
        if self.spec.script in ("latin", "cyrillic") and words[0][:1].isalpha() and rng.random() < 0.6:
            words[0] = self._capitalized(words[0])
        return self.join(words)

    def labels(self) -> tuple[tuple[str, str], ...]:
        """Form labels of the language with the entity kind of their values."""
        return _LABELS[self.spec.code]

    def term(self, rng: np.random.Generator, key: str) -> str:
        """Draw a receipt or document term (``subtotal``, ``tax``, ``total``, ``payment``, ``change``, ``thanks``,
        ``page``, ``figure``; ``references`` in English and Russian only) in the language.

        Raises:
            ValueError: for an unknown key.
        """
        terms = _TERMS[self.spec.code]
        if key not in terms:
            raise ValueError(f"unknown term {key!r}; choose from {sorted(terms)}")
        options = terms[key]
        return options[int(rng.integers(len(options)))]

    # ------------------------------------------------------------------------------------- numbers, entities
    def _digits(self, rng: np.random.Generator, text: str) -> str:
        if self.spec.code == "ar" and rng.random() < 0.3:
            return text.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
        return text

    def amount(self, rng: np.random.Generator, *, symbol: bool = True) -> str:
        """Draw a money amount in a local format (``$1,234.56``, ``1 234,56``, ``¥3,800``)."""
        value = float(np.exp(rng.uniform(0, 9)))
        code = self.spec.code
        if code in ("ja", "ko"):
            text = f"{int(value * 10):,}"
            unit = "¥" if code == "ja" else ""
            return self._digits(rng, f"{unit}{text}" if symbol and unit else text)
        if code == "ru":
            whole, cents = f"{value:,.2f}".split(".")
            return f"{whole.replace(',', ' ')},{cents}"  # the caller's text splits "1 234,56" into two words
        text = f"{value:,.2f}"
        if symbol and code == "en" and rng.random() < 0.7:
            currency = _CURRENCIES_EN[int(rng.choice(4, p=[0.6, 0.15, 0.2, 0.05]))]
            text = f"-{currency}{text}" if rng.random() < 0.03 else f"{currency}{text}"
        return self._digits(rng, text)

    def date(self, rng: np.random.Generator) -> str:
        """Draw a date in one of the common written forms."""
        year, month, day = int(rng.integers(1950, 2031)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        code = self.spec.code
        if code in ("zh-Hans", "zh-Hant", "ja") and rng.random() < 0.6:
            return f"{year}年{month}月{day}日"
        if code == "ko" and rng.random() < 0.5:
            return f"{year}. {month}. {day}."
        style = int(rng.integers(5))
        if style == 0:
            text = f"{year}-{month:02d}-{day:02d}"
        elif style == 1:
            text = f"{month:02d}/{day:02d}/{year}"
        elif style == 2:
            text = f"{day:02d}.{month:02d}.{year}"
        elif style == 3 and code == "en":
            text = f"{_MONTHS_EN[month - 1]} {day}, {year}"
        elif style == 3:
            text = f"{day}/{month}/{year % 100:02d}"
        else:
            text = f"{day} {_MONTHS_EN[month - 1][:3]} {year}" if code == "en" else f"{day:02d}/{month:02d}/{year}"
        return self._digits(rng, text)

    def number(self, rng: np.random.Generator) -> str:
        """Draw a number-like token: integer, decimal, percentage, amount, date, time, code or measurement."""
        kind = int(rng.integers(10))
        if kind == 0:
            text = str(int(rng.integers(0, 100)))
        elif kind == 1:
            text = f"{int(np.exp(rng.uniform(3, 13))):,}"
            if self.spec.code == "ru":
                text = text.replace(",", "")
        elif kind == 2:
            text = f"{rng.uniform(0, 100):.{int(rng.integers(1, 3))}f}"
            if self.spec.code == "ru":
                text = text.replace(".", ",")
        elif kind == 3:
            text = f"{rng.uniform(0, 100):.1f}%"
        elif kind == 4:
            return self.amount(rng)
        elif kind == 5:
            return self.date(rng)
        elif kind == 6:
            text = f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}"
        elif kind == 7:
            return self.code(rng)
        elif kind == 8:
            unit = _UNITS[int(rng.integers(len(_UNITS)))]
            value = f"{rng.uniform(0, 500):.{int(rng.integers(0, 2))}f}"
            text = f"{value}{unit}" if unit in ("%", "°C") or rng.random() < 0.3 else value
        else:
            text = str(int(rng.integers(1900, 2040)))
        return self._digits(rng, text)

    def code(self, rng: np.random.Generator) -> str:
        """Draw an identifier: invoice, account or reference number."""
        letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
        prefix = "".join(letters[int(i)] for i in rng.integers(len(letters), size=int(rng.integers(1, 4))))
        digits = "".join(str(int(d)) for d in rng.integers(10, size=int(rng.integers(3, 9))))
        style = int(rng.integers(4))
        if style == 0:
            return f"{prefix}-{digits}"
        if style == 1:
            return f"{prefix}{digits}"
        if style == 2:
            return f"#{digits}"
        return f"{digits[:3]}-{digits[3:] or '0'}-{prefix}"

    # ------------------------------------------------------------------------------------- technical text
    def _kept(self, rng: np.random.Generator, text: str) -> str:
        """``text`` if the language allows all of it, else a plain word (Cyrillic pages keep Greek out, say)."""
        return text if self.spec.allows(text.replace(" ", "")) else self.word(rng)

    def _value(self, rng: np.random.Generator) -> str:
        """A measured value: integer or decimal of 0 to 3 places, over several orders of magnitude."""
        value = float(np.exp(rng.uniform(-2, 7)))
        places = int(rng.choice([0, 1, 1, 2, 3])) if value < 1000 else 0
        if self.spec.code == "ru":
            return f"{value:.{places}f}".replace(".", ",")  # decimal comma, no thousands separator
        return f"{value:.{places}f}" if value < 1000 else f"{int(value):,}"

    def technical(self, rng: np.random.Generator, kind: str | None = None, *, scripts: bool = False) -> str:
        """Draw a technical token of ``kind`` (one of :data:`TECHNICAL_KINDS`, drawn by weight if None).

        The result may hold spaces (``x = 2`` is three words, as in a PDF's text layer). With ``scripts``, half of
        the math tokens have sub- or superscripts (``α_i``, ``10^{-3}``) and most footnote marks are raised numbers,
        in :data:`SCRIPT_MARKS` markup.

        Raises:
            ValueError: for an unknown kind.
        """
        if kind is None:
            kind = self._technical_kinds[int(np.searchsorted(self._technical_cdf, rng.random(), side="right"))]
        if kind not in TECHNICAL_KINDS:
            raise ValueError(f"unknown technical kind {kind!r}; choose from {tuple(TECHNICAL_KINDS)}")
        pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
        if kind == "math" and scripts and rng.random() < 0.5:
            return self._scripted(rng)
        if kind == "math":
            variable = pick(_MATH_VARIABLES + _GREEK)
            style = int(rng.integers(8))
            if style == 0:
                text = f"{variable} {pick(_RELATIONS[:5])} {self._value(rng)}"
            elif style == 1:
                text = f"{pick(_MATH_FUNCTIONS)}({variable})"
            elif style == 2:
                text = f"{pick(_MATH_FUNCTIONS)}({variable}, {pick(_MATH_VARIABLES)})"
            elif style == 3:
                text = f"{variable}{pick('²³')}" if rng.random() < 0.6 else f"10{pick('²³')}"
            elif style == 4:
                text = f"{variable} {pick(_RELATIONS)} {pick(_MATH_VARIABLES + _GREEK)}"
            elif style == 5:
                text = pick(("O(n log n)", "O(n²)", "O(1)", "p < 0.05", "[0, 1]", "(x, y)", "n → ∞", "√2", "∂f/∂x"))
            elif style == 6:
                text = (
                    f"{self._value(rng)} × 10{pick('²³')}" if rng.random() < 0.5 else f"{variable} ± {self._value(rng)}"
                )
            else:
                text = pick(_GREEK)
            return self._kept(rng, text)
        if kind == "measure":
            style = int(rng.integers(7))
            unit = pick(_SI_UNITS)
            if style <= 2:
                text = f"{self._value(rng)} {unit}" if unit != "%" or rng.random() < 0.5 else f"{self._value(rng)}%"
            elif style == 3:
                low = int(rng.integers(1, 50))
                text = f"{low}–{low + int(rng.integers(1, 50))} {unit}"
            elif style == 4:
                text = self.amount(rng)
            elif style == 5:
                hour, minute = int(rng.integers(0, 24)), int(rng.integers(0, 60))
                text = (
                    f"{hour:02d}:{minute:02d}"
                    if rng.random() < 0.6
                    else f"{hour % 12 or 12}:{minute:02d} {pick(('am', 'pm', 'a.m.', 'p.m.'))}"
                )
            else:
                text = self.date(rng)
            return self._kept(rng, text)
        if kind == "crossref":
            label = pick(_CROSSREFS)
            depth = int(rng.choice([1, 1, 2, 2, 3]))
            number = ".".join(str(int(rng.integers(1, 10))) for _ in range(depth))
            if label.startswith("Eq"):
                number = f"({number})"
            elif label in ("Appendix",):
                number = pick("ABCD") + ("" if rng.random() < 0.5 else f".{int(rng.integers(1, 5))}")
            elif label == "pp.":
                first = int(rng.integers(1, 900))
                number = f"{first}–{first + int(rng.integers(1, 30))}"
            return self._kept(rng, f"{label} {number}" if rng.random() < 0.85 else number)
        if kind == "letter":
            return pick(_LETTER_TOKENS)
        if kind == "compound":
            if self.spec.code == "en" and rng.random() < 0.5:
                return pick(_COMPOUNDS)
            parts = [self.word(rng) for _ in range(int(rng.choice([2, 2, 2, 3])))]
            return "-".join(parts)
        if kind == "footnote":
            if scripts and rng.random() < 0.6:
                return f"{self.word(rng)}{_SUP}{pick(('1', '2', '3', '4', '5', '7', '9', '12', '*', '†'))}{_END}"
            return self.word(rng) + pick(_FOOTNOTE_MARKS)
        if kind == "email":
            return self._email(rng)
        if kind == "url":
            return self._url(rng)
        return self._kept(rng, self.entity(rng, "phone"))

    def _scripted(self, rng: np.random.Generator) -> str:
        """A math token with a sub- or superscript, in :data:`SCRIPT_MARKS` markup (``α_i``, ``10^{-3}``, ``x_t^2``)."""
        pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
        variable = pick(_MATH_VARIABLES + _GREEK)
        index = pick(("i", "j", "k", "n", "t", "0", "1", "2", "ij", "max", "min", "i,j", "t+1", "k−1"))
        power = pick(("2", "3", "n", "T", "−1", "k", "*", "(t)", "′"))
        style = int(rng.integers(6))
        if style == 0:
            text = f"{variable}{_SUB}{index}{_END}"
        elif style == 1:
            text = f"{variable}{_SUP}{power}{_END}"
        elif style == 2:
            text = f"10{_SUP}{pick(('−', '', '−', '+'))}{int(rng.integers(1, 13))}{_END}"
        elif style == 3:
            text = f"{variable}{_SUB}{index}{_END}{_SUP}{pick(('2', '3', '(t)', '*'))}{_END}"
        elif style == 4:
            text = f"e{_SUP}−{variable}{pick(('', '/2', 't'))}{_END}"
        else:
            text = f"{self._value(rng)}×10{_SUP}{pick(('−', ''))}{int(rng.integers(1, 10))}{_END}"
        return text if self.spec.allows(strip_scripts(text)) else self.word(rng)

    def _host(self, rng: np.random.Generator) -> str:
        latin = [w for w in (self.word(rng) for _ in range(3)) if w.isascii() and w.isalpha()] or ["example"]
        tld = _TLDS[int(rng.integers(len(_TLDS)))]
        return f"{latin[0].lower()}.{tld}" if rng.random() < 0.6 else f"{latin[0].lower()}-{latin[-1].lower()}.{tld}"

    def _email(self, rng: np.random.Generator) -> str:
        first = self._faker_latin(rng)
        user = first if rng.random() < 0.5 else f"{first}.{self._faker_latin(rng)}"
        return f"{user}@{self._host(rng)}"

    def _url(self, rng: np.random.Generator) -> str:
        style = int(rng.integers(5))
        host = self._host(rng)
        path = _URL_PATHS[int(rng.integers(len(_URL_PATHS)))]
        if style == 0:
            return f"https://{host}/{path}"
        if style == 1:
            return f"www.{host}"
        if style == 2:
            user, repo = self._faker_latin(rng), self.word(rng).lower() if self.spec.code == "en" else "code"
            return f"https://github.com/{user}/{repo}"
        if style == 3:
            return f"doi:10.{int(rng.integers(1000, 9999))}/{self.code(rng).lower()}"
        return f"arXiv:{int(rng.integers(15, 25))}{int(rng.integers(1, 13)):02d}.{int(rng.integers(0, 99999)):05d}"

    def _faker_latin(self, rng: np.random.Generator) -> str:
        """A lower-case ASCII name for user names and hosts (Faker's English data, whatever the page language)."""
        names = ("smith", "lee", "wang", "garcia", "kim", "mueller", "rossi", "chen", "novak", "silva", "tanaka")
        return names[int(rng.integers(len(names)))] + (str(int(rng.integers(1, 99))) if rng.random() < 0.2 else "")

    def _surname(self, rng: np.random.Generator) -> str:
        """A surname of the language (Faker's lists, read once; re-seeding Faker per citation is slow)."""
        if self._surnames is None:
            import importlib

            names: list[str] = []
            for locale in self.spec.faker_locales:
                try:
                    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
                except ImportError:
                    continue
                for attribute in ("last_names", "last_names_male", "last_names_female"):
                    names += [str(n).split()[0] for n in getattr(provider, attribute, ()) if str(n).strip()]
            self._surnames = tuple(sorted({n for n in names if self.spec.allows(n)}))
        if not self._surnames:
            return self._faker_latin(rng).capitalize()
        return self._surnames[int(rng.integers(len(self._surnames)))]

    def citation(self, rng: np.random.Generator) -> str:
        """Draw an in-text citation: ``[12]``, ``[3, 7–9]``, ``[4,5]`` or ``(Smith et al., 2019)``.

        Returned for any language, but only Latin and Cyrillic running text uses it (:attr:`TextOptions.citation_prob`).
        """
        style = int(rng.integers(6))
        first = int(rng.integers(1, 60))
        if style <= 1:
            return f"[{first}]"
        if style == 2:
            numbers = sorted({first, *(int(v) for v in rng.integers(1, 60, size=int(rng.integers(1, 4))))})
            return "[" + ", ".join(str(n) for n in numbers) + "]"
        if style == 3:
            return f"[{first}, {first + 2}–{first + int(rng.integers(3, 8))}]"
        if style == 4:
            return f"[{first},{first + int(rng.integers(1, 5))}]"
        year = int(rng.integers(1985, 2026))
        name = self._surname(rng)
        form = int(rng.integers(3))
        if form == 0:
            return f"({name} et al., {year})"
        if form == 1:
            return f"({name} and {self._surname(rng)}, {year})"
        return f"({name}, {year}{'abc'[int(rng.integers(3))] if rng.random() < 0.2 else ''})"

    def reference_entry(self, rng: np.random.Generator) -> str:
        """Draw a bibliography entry (without its ``[n]`` label), e.g.
        ``A. Author, B. Author. Title of the work. In Proc. ..., pp. 1–10, 2019.``"""
        authors = []
        for _ in range(int(rng.integers(1, 5))):
            alphabet = "АБВГДЕЗИКЛМНОПРСТ" if self.spec.script == "cyrillic" else "ABCDEFGHJKLMNOPRSTW"
            count = int(rng.choice([1, 1, 2]))
            initials = "".join(f"{alphabet[int(i)]}. " for i in rng.integers(len(alphabet), size=count))
            authors.append(f"{initials}{self._surname(rng)}")
        if len(authors) > 2 and rng.random() < 0.3:
            names = f"{authors[0]} et al."
        elif len(authors) > 1:
            names = ", ".join(authors[:-1]) + (", and " if rng.random() < 0.5 else ", ") + authors[-1]
        else:
            names = authors[0]
        title_words = [self.word(rng) for _ in range(int(rng.integers(3, 11)))]
        if rng.random() < 0.3:
            title_words[int(rng.integers(len(title_words)))] = self.technical(rng, "compound")
        title = " ".join(title_words)
        title = title[0].upper() + title[1:]
        year = int(rng.integers(1985, 2026))
        style = int(rng.integers(4))
        first_page = int(rng.integers(1, 900))
        pages = f"pp. {first_page}–{first_page + int(rng.integers(3, 25))}"
        if style == 0:
            venue = f"In {_VENUES[int(rng.integers(len(_VENUES)))]}, {pages}, {year}."
        elif style == 1:
            journal = _JOURNALS[int(rng.integers(len(_JOURNALS)))]
            volume, issue = int(rng.integers(1, 60)), int(rng.integers(1, 13))
            venue = f"{journal}, {volume}({issue}):{first_page}–{first_page + 12}, {year}."
        elif style == 2:
            venue = f"{self._url(rng)}, {year}."
        else:
            venue = f"{self.entity(rng, 'company')}, {year}."
        return self._kept_words(f"{names}. {title}. {venue}")

    def _kept_words(self, text: str) -> str:
        """Drop the words of ``text`` the language does not allow."""
        return " ".join(w for w in text.split() if self.spec.allows(w))

    def _faker(self, rng: np.random.Generator):  # noqa: ANN202 - faker.Faker
        locale = self.spec.faker_locales[int(rng.integers(len(self.spec.faker_locales)))]
        fake = self._fakers.get(locale)
        if fake is None:
            from faker import Faker

            fake = Faker(locale)
            self._fakers[locale] = fake
        fake.seed_instance(int(rng.integers(2**31)))
        return fake

    def entity(self, rng: np.random.Generator, kind: str) -> str:
        """Draw a named entity or typed value (one of :data:`ENTITY_KINDS`) as label-safe text.

        Characters the language does not allow are dropped word by word; the result is never empty.

        Raises:
            ValueError: for an unknown kind.
        """
        if kind not in ENTITY_KINDS:
            raise ValueError(f"unknown entity kind {kind!r}; choose from {ENTITY_KINDS}")
        if kind == "amount":
            return self.amount(rng)
        if kind == "date":
            return self.date(rng)
        if kind == "id":
            return self.code(rng)
        if kind == "number":
            return self._digits(rng, str(int(np.exp(rng.uniform(0, 7)))))
        fake = self._faker(rng)
        code = self.spec.code
        if kind == "name":
            text = fake.name()
        elif kind == "company":
            text = fake.company()
        elif kind == "job":
            text = fake.job()
        elif kind == "phone":
            text = self._digits(rng, fake.phone_number())
        elif kind == "email":
            text = fake.email() if code != "ar" else f"user{int(rng.integers(10, 10**5))}@example.com"
        elif kind == "city":
            text = _AR_CITIES[int(rng.integers(len(_AR_CITIES)))] if code == "ar" else fake.city()
        elif code == "ar":
            street = _AR_STREET[int(rng.integers(len(_AR_STREET)))]
            city = _AR_CITIES[int(rng.integers(len(_AR_CITIES)))]
            text = f"{self._digits(rng, str(int(rng.integers(1, 400))))} {street} {fake.last_name()}، {city}"
        else:
            text = fake.address().replace("\n", ", ")
        # Brackets are dropped: Faker's Hebrew data stores some of them in visual (mirrored) order.
        kept = [w for w in text.split() if self.spec.allows(w) and (code != "he" or not set(w) & set("()"))]
        return " ".join(kept) if kept else self.word(rng)
