"""Offline text sources: word frequencies, Faker entities, numbers, punctuation and casing per language.

Words are drawn from the ``wordfreq`` lists (shipped inside the package, nothing is downloaded) with probability
proportional to ``frequency ** frequency_exponent``: 1 reproduces running text, smaller values flatten Zipf's law so
that rarer words (and characters) are seen more often. Names, companies, addresses, phone numbers and dates come
from ``Faker`` locales, re-seeded from the page's generator before every use, so the text is a pure function of the
page seed. Every string a sampler returns contains only characters its language allows
(:meth:`LanguageSpec.allows`); for English that is exactly ``latin_charset()``.

Text is returned as plain strings: words separated by spaces for spaced scripts, running text for Chinese and
Japanese (the typesetter breaks those anywhere and cuts detector words at spaces and punctuation, see render.py).

Traditional Chinese text is the Chinese word list converted character by character with the inverse of wordfreq's
Traditional-to-Simplified table (see :func:`_traditional_table` for how ambiguous characters are resolved); words
left with characters outside Big5 are dropped.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .languages import LanguageSpec, language_spec

__all__ = ["TextOptions", "TextSampler", "ENTITY_KINDS"]

ENTITY_KINDS = ("name", "company", "address", "city", "phone", "date", "email", "job", "amount", "id", "number")

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

    def __post_init__(self) -> None:
        if self.vocabulary_size < 100:
            raise ValueError(f"vocabulary_size must be at least 100, got {self.vocabulary_size}")
        if not 0 < self.frequency_exponent <= 2:
            raise ValueError(f"frequency_exponent must be in (0, 2], got {self.frequency_exponent}")
        for name in ("number_prob", "entity_prob", "comma_prob", "bracket_prob", "upper_prob", "rare_char_prob"):
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

    def _slot(self, rng: np.random.Generator) -> str:
        """One word slot of running text: a word, or sometimes a number, entity, Latin word or rare characters."""
        opts = self.options
        u = rng.random()
        if u < opts.number_prob:
            return self.number(rng)
        u -= opts.number_prob
        if u < opts.entity_prob:
            return self.entity(rng, "name" if rng.random() < 0.7 else "company")
        u -= opts.entity_prob
        if self._latin and u < opts.latin_prob:
            word = self._latin[int(rng.integers(len(self._latin)))]
            return word.upper() if rng.random() < 0.4 else word.capitalize()
        u -= opts.latin_prob
        if self._inventory and u < opts.rare_char_prob:
            length = int(rng.integers(1, 4))
            return "".join(self._inventory[int(i)] for i in rng.integers(len(self._inventory), size=length))
        word = self.word(rng)
        if self.spec.script in ("latin", "cyrillic") and rng.random() < opts.upper_prob:
            word = word.upper()
        return word

    # ------------------------------------------------------------------------------------------- sentences
    def sentence(self, rng: np.random.Generator, min_words: int = 5, max_words: int = 18) -> str:
        """Draw one sentence: capitalised (where the script has case), with commas, brackets and a full stop."""
        spec, opts = self.spec, self.options
        count = int(rng.integers(min_words, max_words + 1))
        slots = [self._slot(rng) for _ in range(count)]
        if rng.random() < opts.bracket_prob and count >= 4:
            start = int(rng.integers(1, count - 1))
            end = min(count - 1, start + int(rng.integers(0, 3)))
            opening, closing = spec.quotes[int(rng.integers(len(spec.quotes)))]
            slots[start] = opening + slots[start]
            slots[end] = slots[end] + closing
        for i in range(count - 1):
            if rng.random() < opts.comma_prob * (2.0 if not spec.spaced else 1.0):
                slots[i] += spec.comma[int(rng.integers(len(spec.comma)))]
        stops = spec.stops
        stop = stops[0] if rng.random() < 0.85 else stops[int(rng.integers(len(stops)))]
        slots[-1] += stop
        if spec.script in ("latin", "cyrillic") and slots[0][:1].isalpha():
            slots[0] = slots[0][0].upper() + slots[0][1:]
        return self.join(slots)

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

    def paragraph(self, rng: np.random.Generator, min_sentences: int = 2, max_sentences: int = 6) -> str:
        """Draw a paragraph of running text."""
        count = int(rng.integers(min_sentences, max_sentences + 1))
        sentences = [self.sentence(rng) for _ in range(count)]
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
            words[0] = words[0][0].upper() + words[0][1:]
        return self.join(words)

    def labels(self) -> tuple[tuple[str, str], ...]:
        """Form labels of the language with the entity kind of their values."""
        return _LABELS[self.spec.code]

    def term(self, rng: np.random.Generator, key: str) -> str:
        """Draw a receipt or document term (``subtotal``, ``tax``, ``total``, ``payment``, ``change``, ``thanks``,
        ``page``, ``figure``) in the language.

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
