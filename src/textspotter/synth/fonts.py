"""The font catalogue: which installed faces can write which language, without ever rendering a missing glyph.

The catalogue scans font folders (by default the Debian font tree ``/usr/share/fonts``) for TrueType/OpenType files
and collections, reads each face's character map (the sfnt ``cmap`` table, parsed here: formats 4 and 12) and its
family and style names, and classifies the face (serif, sans, mono, bold, italic, condensed, handwriting-like). A
face is used for a language only when it covers all of the language's required characters
(:attr:`LanguageSpec.required`) and, for CJK, carries no region tag of another CJK variant; every string is checked
against the face's character map again before it is drawn (:meth:`FontCatalogue.covers`).

A face whose character map claims the Latin letters must also *draw* letters there (:func:`latin_letters_drawn`):
symbol and ornament faces such as URW's Dingbats (``D050000L``) or Standard Symbols map ``a``..``z`` to pictures or
Greek letters, and a name list cannot know every such face. The test looks at the rendered glyphs of ``a``..``z``:
all present, non-empty and distinct; ``o`` and ``e`` enclose a counter while ``l`` and ``c`` do not; and some
letters rise above the x-height or descend below the baseline. Small-capital and all-capital faces fail it too, which
is wanted: their lowercase glyphs would not match lowercase labels.

Scanning takes a few seconds, so the result is cached as JSON (file path, size and modification time, names,
code-point ranges and the letter test per face) and reused while the files are unchanged.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import ImageFont, features

from textspotter.charset import latin_charset

from .languages import LanguageSpec, language_spec

__all__ = [
    "FontFace",
    "FontCatalogue",
    "read_cmap",
    "default_cache_path",
    "latin_letters_drawn",
    "DEFAULT_FONT_DIRS",
]

# Debian installs the TeX fonts (Latin Modern, TeX Gyre) as OpenType files under texmf, outside /usr/share/fonts.
DEFAULT_FONT_DIRS: tuple[str, ...] = ("/usr/share/fonts", "/usr/share/texmf/fonts/opentype")
_CACHE_VERSION = 2
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
# Families that are not text faces for documents (symbol, ornament and liturgical faces) even where their cmap
# covers a script. This list only adds to the glyph test (latin_letters_drawn), which catches faces it does not name.
_DENY = re.compile(
    r"emoji|symbol|\bmath\b|dingbat|music|caladings|quran|qurn|kacst(digital|art|decorative|poster)", re.I
)
_BOLD = re.compile(r"bold|black|heavy|demi|semibold|extrabold|ultra", re.I)
_ITALIC = re.compile(r"italic|oblique|slanted|kursiv", re.I)
_CONDENSED = re.compile(r"condensed|narrow|compressed", re.I)
_HANDWRITING = re.compile(
    r"hand|script|pen\b|brush|kai|comic|humor|marker|kacstpen|kacstletter|chorus|chancery|z003", re.I
)
_SERIF = re.compile(
    r"(?<!sans )serif|times|roman|mincho|ming|song|batang|myeongjo|david|frank|drugulin|naskh|amiri|scheherazade|"
    r"keter|hadasim|kacstbook|ellinia|ipaexm|\bPT Serif|Liberation Serif|FreeSerif|caladea|cambria|termes|pagella|"
    r"bonum|schola|bookman|concrete|\bp052|\bc059",
    re.I,
)
_REGION = re.compile(r"\b(SC|TC|HK|JP|KR|CN|TW)\b")
# Families without a region tag that are designed for one CJK language only.
_FAMILY_LANGUAGE = (
    (re.compile(r"nanum|baekmuk|^un ", re.I), ("ko",)),
    (re.compile(r"ipa|vl gothic|takao", re.I), ("ja",)),
    (re.compile(r"wenquanyi|wqy|ar pl", re.I), ("zh-Hans", "zh-Hant")),
)
# A face made for another script serves Latin and Cyrillic text only if it covers this share of the Latin charset
# (the Latin of many Hebrew and Korean faces is ASCII only, their accents and symbols missing).
_MIN_LATIN_SHARE = 0.75
_OTHER_SCRIPTS = ("zh-Hans", "ja", "ko", "ar", "he")
_COMMON = "0123456789.,:;()%-/"


@dataclass(frozen=True)
class FontFace:
    """One face of one font file, with the style traits the layouts choose by.

    Attributes:
        path: font file (resolved).
        index: face index inside a collection (0 for single fonts).
        family, style: names from the font's name table.
        serif, monospace, bold, italic, condensed, handwriting: style traits (from names and glyph widths).
        region: CJK variant tag from the family name (``SC``, ``TC``, ``HK``, ``JP``, ``KR``, ``CN``, ``TW``) or "".
    """

    path: str
    index: int
    family: str
    style: str
    serif: bool = False
    monospace: bool = False
    bold: bool = False
    italic: bool = False
    condensed: bool = False
    handwriting: bool = False
    region: str = ""

    @property
    def key(self) -> str:
        """A stable identifier: ``path#index``."""
        return f"{self.path}#{self.index}"

    @property
    def name(self) -> str:
        """Human-readable ``family style``."""
        return f"{self.family} {self.style}".strip()


@cache
def raqm_available() -> bool:
    """Whether this PIL shapes text with libraqm (needed for right-to-left scripts and vertical columns)."""
    return bool(features.check("raqm"))


def pil_direction(direction: str) -> str | None:
    """The ``direction`` argument for PIL's text calls.

    Without libraqm, PIL's basic layout sets text left to right and refuses any ``direction``; left-to-right text then
    goes without the argument (basic layout still kerns, and labels come from the same measurements as the drawing,
    so they stay exact). Other directions are returned unchanged: they need libraqm (see :func:`raqm_available`).
    """
    return None if direction == "ltr" and not raqm_available() else direction


def _u16(data: bytes, offset: int) -> int:
    return struct.unpack_from(">H", data, offset)[0]


def _u32(data: bytes, offset: int) -> int:
    return struct.unpack_from(">I", data, offset)[0]


def _face_offsets(data: bytes) -> list[int]:
    if data[:4] == b"ttcf":
        return [_u32(data, 12 + 4 * i) for i in range(_u32(data, 8))]
    return [0]


def _table(data: bytes, face_offset: int, tag: bytes) -> int | None:
    num_tables = _u16(data, face_offset + 4)
    for i in range(num_tables):
        rec = face_offset + 12 + 16 * i
        if data[rec : rec + 4] == tag:
            return _u32(data, rec + 8)
    return None


def _cmap_format4(data: bytes, sub: int) -> list[tuple[int, int]]:
    seg_count = _u16(data, sub + 6) // 2
    ends = sub + 14
    starts = ends + 2 * seg_count + 2
    deltas = starts + 2 * seg_count
    range_offsets = deltas + 2 * seg_count
    ranges: list[tuple[int, int]] = []
    for s in range(seg_count):
        end, start = _u16(data, ends + 2 * s), _u16(data, starts + 2 * s)
        delta, range_offset = _u16(data, deltas + 2 * s), _u16(data, range_offsets + 2 * s)
        if start == 0xFFFF:
            continue
        if range_offset == 0:
            # Glyph = (c + delta) mod 65536; only the one code with glyph 0 (.notdef) is missing.
            hole = (-delta) & 0xFFFF
            if start <= hole <= end:
                ranges += [r for r in ((start, hole - 1), (hole + 1, end)) if r[0] <= r[1]]
            else:
                ranges.append((start, end))
            continue
        base = range_offsets + 2 * s + range_offset
        for c in range(start, end + 1):
            glyph = _u16(data, base + 2 * (c - start))
            if glyph and (glyph + delta) & 0xFFFF:
                ranges.append((c, c))
    return ranges


def _cmap_format12(data: bytes, sub: int) -> list[tuple[int, int]]:
    groups = _u32(data, sub + 12)
    ranges = []
    for g in range(groups):
        start, end, glyph = struct.unpack_from(">III", data, sub + 16 + 12 * g)
        if glyph == 0:
            start += 1  # the first code maps to .notdef
        if start <= end:
            ranges.append((start, end))
    return ranges


def _merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def read_cmap(data: bytes, face_offset: int = 0) -> list[tuple[int, int]]:
    """Return the code points a face maps to a real glyph, as sorted inclusive ``(start, end)`` ranges.

    Reads the Unicode subtables of the sfnt ``cmap`` table (format 12 preferred, else format 4); code points that
    map to glyph 0 (.notdef, the "tofu" box) are excluded.

    Args:
        data: the whole font file.
        face_offset: offset of the face's table directory (non-zero inside collections).

    Raises:
        ValueError: if the face has no cmap table or no Unicode subtable.
    """
    cmap = _table(data, face_offset, b"cmap")
    if cmap is None:
        raise ValueError("font has no cmap table")
    best: tuple[int, int] | None = None  # (preference, subtable offset)
    for i in range(_u16(data, cmap + 2)):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
        sub = cmap + offset
        fmt = _u16(data, sub)
        unicode = platform == 0 or (platform == 3 and encoding in (1, 10))
        if not unicode or fmt not in (4, 12):
            continue
        preference = 2 if fmt == 12 else 1
        if best is None or preference > best[0]:
            best = (preference, sub)
    if best is None:
        raise ValueError("font has no Unicode cmap subtable")
    sub = best[1]
    ranges = _cmap_format12(data, sub) if _u16(data, sub) == 12 else _cmap_format4(data, sub)
    return _merge_ranges(ranges)


def _classify(path: str, index: int, family: str, style: str, monospace: bool) -> FontFace:
    names = f"{family} {style} {Path(path).stem}"
    region_match = _REGION.search(family)
    return FontFace(
        path=path,
        index=index,
        family=family,
        style=style,
        serif=bool(_SERIF.search(names)) and not monospace,
        monospace=monospace or "mono" in family.lower(),
        bold=bool(_BOLD.search(style)) or bool(_BOLD.search(Path(path).stem)),
        italic=bool(_ITALIC.search(style)),
        condensed=bool(_CONDENSED.search(names)),
        handwriting=bool(_HANDWRITING.search(names)),
        region=region_match.group(1) if region_match else "",
    )


_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_LETTER_TEST_SIZE = 24  # pixels per em of the shape tests (the size the scan loads every face at)
_COUNTER_TEST_SIZE = 96  # large enough that the hairlines of display faces close their counters


def _holes(font: ImageFont.FreeTypeFont, letter: str) -> int:
    """Count the enclosed background regions (counters) of a glyph, -1 for an empty glyph."""
    mask = font.getmask(letter)
    width, height = mask.size
    if not width or not height:
        return -1
    # bytes() reads the coverage row by row in C; numpy would read the object pixel by pixel.
    coverage = np.frombuffer(bytes(mask), dtype=np.uint8).reshape(height, width)
    ink = np.pad((coverage >= 32).astype(np.uint8), 1)
    count, _labels = cv2.connectedComponents(1 - ink, connectivity=4)
    return int(count) - 2  # minus the ink label and the outer background


def latin_letters_drawn(font: ImageFont.FreeTypeFont) -> bool:
    """Return whether a font draws recognisable Latin lowercase letters at ``a``..``z``.

    The checks are structural, so they hold for serif, sans, monospace, italic, bold and handwriting faces alike:
    every glyph present, non-empty and different from the others; ``o`` and ``e``
    enclose a counter and ``l`` and ``c`` do not; ascenders (``bdhkl``) rise or descenders (``gpqy``) drop at least
    6 % of the size beyond the x-height letters. Symbol faces (dingbats, Greek symbol sets) and small-capital faces
    fail.

    Args:
        font: a loaded face, at any size (it is reloaded at the test sizes where needed).
    """
    # Basic layout: single glyphs need no shaping, and it renders several times faster than libraqm.
    basic = ImageFont.Layout.BASIC
    small = font
    if font.size != _LETTER_TEST_SIZE or font.layout_engine != basic:
        small = font.font_variant(size=_LETTER_TEST_SIZE, layout_engine=basic)
    seen: set[tuple[tuple[int, int], bytes]] = set()
    for letter in _LETTERS:
        mask = small.getmask(letter)
        if not mask.size[0] or not mask.size[1] or mask.getbbox() is None:
            return False
        key = (mask.size, bytes(mask))
        if key in seen:
            return False  # one shape for two letters: .notdef boxes or a placeholder glyph
        seen.add(key)
    boxes = {c: small.getbbox(c, anchor="ls") for c in "acemnorsuvwxzbdhklgpqy"}
    x_height = float(np.median([-boxes[c][1] for c in "acemnorsuvwxz"]))
    baseline = float(np.median([boxes[c][3] for c in "acemnorsuvwxz"]))
    ascender = float(np.median([-boxes[c][1] for c in "bdhkl"])) - x_height
    descender = float(np.median([boxes[c][3] for c in "gpqy"])) - baseline
    if max(ascender, descender) < 0.06 * _LETTER_TEST_SIZE:
        return False
    large = font.font_variant(size=_COUNTER_TEST_SIZE, layout_engine=basic)
    holes = {letter: _holes(large, letter) for letter in "oelc"}
    return holes["o"] >= 1 and holes["e"] >= 1 and holes["l"] == 0 and holes["c"] == 0


def _scan_file(path: str) -> list[dict]:
    """Read the faces of one font file as JSON-ready records (names, traits, cmap ranges, letter test)."""
    data = Path(path).read_bytes()
    records = []
    for index, offset in enumerate(_face_offsets(data)):
        if _table(data, offset, b"glyf") is None and _table(data, offset, b"CFF ") is None:
            continue  # bitmap-only faces cannot be scaled to arbitrary sizes
        try:
            ranges = read_cmap(data, offset)
            font = ImageFont.truetype(path, 24, index=index)
        except (ValueError, OSError, struct.error):
            continue  # a broken or unsupported face is simply not offered
        family, style = font.getname()
        monospace = font.getlength("i") == font.getlength("M") == font.getlength("0")
        record = {"index": index, "family": family or "", "style": style or "", "mono": monospace, "ranges": ranges}
        if all(any(a <= ord(c) <= b for a, b in ranges) for c in _LETTERS):
            # A face that claims the Latin letters must draw them (None: no claim, nothing to check).
            record["letters"] = latin_letters_drawn(font)
        else:
            record["letters"] = None
        records.append(record)
    return records


def default_cache_path() -> Path:
    """Return where the catalogue scan is cached: ``$XDG_CACHE_HOME/textspotter/fonts.json`` (or ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "textspotter" / f"fonts-v{_CACHE_VERSION}.json"


def _font_files(dirs: Sequence[str | os.PathLike[str]]) -> list[str]:
    found: set[str] = set()
    for folder in dirs:
        for root, _subdirs, files in os.walk(folder, followlinks=True):
            for name in files:
                if name.lower().endswith(_FONT_SUFFIXES):
                    found.add(os.path.realpath(os.path.join(root, name)))
    return sorted(found)


class FontCatalogue:
    """The usable font faces, their glyph coverage, and a cache of loaded fonts.

    >>> catalogue = FontCatalogue.scan()                        # doctest: +SKIP
    >>> face = catalogue.faces_for("en")[0]                     # doctest: +SKIP
    >>> catalogue.covers(face, "Hello")                         # doctest: +SKIP
    True
    """

    def __init__(self, faces: Sequence[FontFace], ranges: dict[str, Sequence[tuple[int, int]]]) -> None:
        """Build a catalogue from faces and their cmap ranges (keyed by :attr:`FontFace.key`)."""
        self.faces: tuple[FontFace, ...] = tuple(faces)
        self._ranges = {k: tuple((int(a), int(b)) for a, b in v) for k, v in ranges.items()}
        self._chars: dict[str, frozenset[str]] = {}
        self._shared: dict[tuple[tuple[int, int], ...], frozenset[str]] = {}
        self._by_language: dict[str, tuple[FontFace, ...]] = {}
        self._fonts: OrderedDict[tuple[str, int, int], ImageFont.FreeTypeFont] = OrderedDict()
        self._metrics: dict[tuple[str, int, int, str], tuple[float, float]] = {}
        self._advances: dict[tuple[str, int, int, str, str], float] = {}
        self._complete: dict[str, tuple[FontFace, ...]] = {}
        # Pools of choose() by language and wanted traits (families sorted), and variant() results: pure functions
        # of the catalogue, cached because layouts ask the same questions on every page.
        self._pools: dict[tuple, tuple[tuple[str, ...], dict[str, tuple[FontFace, ...]]]] = {}
        self._variants: dict[tuple[str, bool, bool], FontFace | None] = {}

    @classmethod
    def scan(
        cls,
        dirs: Sequence[str | os.PathLike[str]] = DEFAULT_FONT_DIRS,
        *,
        cache_path: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
    ) -> FontCatalogue:
        """Scan font folders (reusing the JSON cache for unchanged files) and return the catalogue.

        Args:
            dirs: folders searched recursively for ``.ttf``, ``.otf``, ``.ttc`` and ``.otc`` files.
            cache_path: JSON cache file; ``None`` uses :func:`default_cache_path`.
            use_cache: read and write the cache; a cache that cannot be written is silently skipped.

        Raises:
            FileNotFoundError: if none of ``dirs`` exists.
        """
        existing = [d for d in dirs if os.path.isdir(d)]
        if not existing:
            raise FileNotFoundError(f"no font folder found among {[str(d) for d in dirs]}")
        cache_file = Path(cache_path) if cache_path is not None else default_cache_path()
        cached: dict = {}
        if use_cache and cache_file.is_file():
            try:
                content = json.loads(cache_file.read_text(encoding="utf-8"))
                if content.get("version") == _CACHE_VERSION:
                    cached = content.get("files", {})
            except (OSError, ValueError):
                cached = {}
        files: dict[str, dict] = {}
        changed = False
        for path in _font_files(existing):
            stat = os.stat(path)
            entry = cached.get(path)
            if entry is None or entry.get("size") != stat.st_size or entry.get("mtime_ns") != stat.st_mtime_ns:
                entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "faces": _scan_file(path)}
                changed = True
            files[path] = entry
        if use_cache and (changed or set(files) != set(cached)):
            try:
                cache_file.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps({"version": _CACHE_VERSION, "files": files}), encoding="utf-8")
                os.replace(tmp, cache_file)
            except OSError:
                pass  # a read-only home only costs a rescan next time
        faces, ranges = [], {}
        for path, entry in files.items():
            for rec in entry["faces"]:
                if _DENY.search(rec["family"]) or _DENY.search(Path(path).stem) or rec.get("letters") is False:
                    continue
                face = _classify(path, int(rec["index"]), rec["family"], rec["style"], bool(rec["mono"]))
                faces.append(face)
                ranges[face.key] = [tuple(r) for r in rec["ranges"]]
        return cls(faces, ranges)

    def chars(self, face: FontFace) -> frozenset[str]:
        """Return the set of characters the face has glyphs for."""
        chars = self._chars.get(face.key)
        if chars is None:
            ranges = self._ranges[face.key]
            # Faces of one collection or family often share a cmap: keep one set per distinct coverage.
            chars = self._shared.get(ranges)
            if chars is None:
                chars = frozenset(chr(c) for a, b in ranges for c in range(a, b + 1))
                self._shared[ranges] = chars
            self._chars[face.key] = chars
        return chars

    def covers(self, face: FontFace, text: str) -> bool:
        """Return whether every character of ``text`` (spaces included) has a glyph in ``face``."""
        return self.chars(face).issuperset(text)

    def faces_for(self, language: str | LanguageSpec) -> tuple[FontFace, ...]:
        """Return the faces that can write a language, in catalogue order.

        A face qualifies if it covers every required character of the language and, for CJK, its region tag (if
        any) belongs to the language; faces of single-language CJK families (Nanum, IPA, ...) serve that language
        only.
        """
        spec = language if isinstance(language, LanguageSpec) else language_spec(language)
        cached = self._by_language.get(spec.code)
        if cached is not None:
            return cached
        cjk_tags = {"SC", "TC", "HK", "JP", "KR", "CN", "TW"}
        alphabetic = spec.script in ("latin", "cyrillic")
        latin = latin_charset().characters
        others = [language_spec(code).required for code in _OTHER_SCRIPTS]
        selected = []
        for face in self.faces:
            if face.region and face.region in cjk_tags and face.region not in spec.region_tags:
                continue
            only = next((langs for pattern, langs in _FAMILY_LANGUAGE if pattern.search(face.family)), None)
            if only is not None and spec.code not in only and not alphabetic:
                continue
            if not self.covers(face, spec.required + " "):
                continue
            if alphabetic and any(self.covers(face, other) for other in others):
                chars = self.chars(face)
                if sum(c in chars for c in latin) < _MIN_LATIN_SHARE * len(latin):
                    continue
            selected.append(face)
        result = tuple(selected)
        self._by_language[spec.code] = result
        return result

    def variant(self, face: FontFace, *, bold: bool, italic: bool) -> FontFace | None:
        """Return the face of ``face``'s family with the given weight and slant, or None if the family has none.

        Among several candidates (optical sizes, widths), the one whose style name shares most words with
        ``face``'s wins (``Latin Modern Roman 10 Regular`` → ``10 Italic``), then the same width; ties go to the
        first in catalogue order. No randomness: emphasis follows from the body face.
        """
        cache_key = (face.key, bold, italic)
        if cache_key in self._variants:
            return self._variants[cache_key]
        ignored = {"bold", "italic", "oblique", "regular", "book", "roman", "medium", "normal"}
        words = set(face.style.lower().split()) - ignored
        best: tuple[tuple[int, int], FontFace] | None = None
        for other in self.faces:
            if other.family != face.family or other.bold != bold or other.italic != italic or other.key == face.key:
                continue
            shared = len(words & (set(other.style.lower().split()) - ignored))
            score = (shared, int(other.condensed == face.condensed))
            if best is None or score > best[0]:
                best = (score, other)
        result = None if best is None else best[1]
        self._variants[cache_key] = result
        return result

    def font(self, face: FontFace, size: int) -> ImageFont.FreeTypeFont:
        """Return the loaded font of a face at a pixel size (kept in a small least-recently-used cache)."""
        key = (face.path, face.index, int(size))
        font = self._fonts.get(key)
        if font is None:
            engine = ImageFont.Layout.RAQM if raqm_available() else ImageFont.Layout.BASIC
            font = ImageFont.truetype(face.path, int(size), index=face.index, layout_engine=engine)
            self._fonts[key] = font
            if len(self._fonts) > 192:
                self._fonts.popitem(last=False)
        else:
            self._fonts.move_to_end(key)
        return font

    def advance(self, face: FontFace, size: int, text: str, direction: str = "ltr") -> float:
        """Return the advance width of ``text`` shaped on its own (cached: frequent words recur on every page)."""
        key = (face.path, face.index, int(size), text, direction)
        width = self._advances.get(key)
        if width is None:
            width = self.font(face, size).getlength(text, direction=pil_direction(direction))
            if len(self._advances) > 500_000:
                self._advances.clear()
            self._advances[key] = width
        return width

    def line_metrics(self, face: FontFace, size: int, reference: str) -> tuple[float, float]:
        """Return ``(ascent, descent)`` in pixels: the ink extent of ``reference`` above and below the baseline.

        This is the vertical extent of every word box written in this face, size and script (render.py).
        """
        key = (face.path, face.index, int(size), reference)
        metrics = self._metrics.get(key)
        if metrics is None:
            font = self.font(face, size)
            ref = "".join(c for c in reference if c in self.chars(face)) or "H"
            _x0, top, _x1, bottom = font.getbbox(ref, anchor="ls")
            ascent, descent = float(max(-top, 1)), float(max(bottom, 0))
            metrics = (ascent, descent)
            self._metrics[key] = metrics
        return metrics

    def choose(
        self,
        rng: np.random.Generator,
        language: str | LanguageSpec,
        *,
        serif: bool | None = None,
        monospace: bool | None = None,
        bold: bool | None = None,
        italic: bool | None = None,
        handwriting: bool | None = None,
        family: str | None = None,
    ) -> FontFace:
        """Draw a face for a language with the requested traits (``None`` = either), falling back gracefully.

        Faces covering the digits and common punctuation are preferred whenever the language has any. Families
        are drawn uniformly first, then a face within the family, so that a family with many faces (a CJK
        collection, a large superfamily) does not crowd out the others. Traits are relaxed one by one
        (handwriting, italic, monospace, serif, bold, family) until some face matches.

        Raises:
            ValueError: if no installed face can write the language.
        """
        spec = language if isinstance(language, LanguageSpec) else language_spec(language)
        faces = self.faces_for(spec)
        if not faces:
            code = spec.code
            raise ValueError(f"no installed font covers language {code!r}; see docs/synth.md for font packages")
        wanted = {
            "family": family,
            "bold": bold,
            "serif": serif,
            "monospace": monospace,
            "italic": italic,
            "handwriting": handwriting,
        }
        # Faces that also draw digits and common punctuation come first: a face without them (several Hebrew
        # faces have no digits) would silently lose every number of its text to the coverage check.
        complete = self._complete.get(spec.code)
        if complete is None:
            complete = tuple(f for f in faces if self.covers(f, _COMMON)) or faces
            self._complete[spec.code] = complete
        faces = complete
        for relax in ("", "handwriting", "italic", "monospace", "serif", "bold", "family"):
            if relax:
                wanted[relax] = None
            key = (spec.code, tuple(wanted.items()))
            cached = self._pools.get(key)
            if cached is None:
                pool = [
                    f
                    for f in faces
                    if all(
                        v is None or (f.family == v if k == "family" else getattr(f, k) == v) for k, v in wanted.items()
                    )
                ]
                families = tuple(sorted({f.family for f in pool}))
                cached = (families, {name: tuple(f for f in pool if f.family == name) for name in families})
                self._pools[key] = cached
            families, members = cached
            if families:
                chosen_family = families[int(rng.integers(len(families)))]
                return members[chosen_family][int(rng.integers(len(members[chosen_family])))]
        return faces[int(rng.integers(len(faces)))]
