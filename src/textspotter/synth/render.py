"""Typesetting: break text into lines, draw them with Pillow (RAQM layout), and record exact word boxes.

**Word box definition.** Every word's quad spans, horizontally, the word's advance: from the pen position before
its first glyph to the pen position after its last glyph, as HarfBuzz lays it out (kerning and ligatures included;
italic overhangs may poke out by a pixel or two). Vertically it spans the *line box of the script* in that face and
size: from the highest to the lowest ink of a few reference letters of the script (``Hbdfhklgjpqy`` for Latin,
``国永鬱`` for Chinese, see ``languages._REFERENCE``), measured once per face and size. All words of a script in
one face and size therefore have boxes of the same height, aligned on the baseline, whatever their letters ("ace"
and "Thy" alike), which is the stable target a detector learns; accents above capitals and Arabic marks may extend a
little beyond. Vertical (top-to-bottom) words span the em width of the column and their advance downwards; their
vertex 0 is the top-right corner, so vertex 0 → 1 runs along the reading direction.

**Draw calls.** A left-to-right line that needs no reordering is drawn with one call and its word boxes come from
the advance widths of its words (equal to the shaped prefix widths, as Pillow lays text out with the same
HarfBuzz advances). Justified lines and lines with right-to-left words are drawn word by word at positions from a
word-level bidirectional ordering (a simplification of the Unicode algorithm that is exact when each word has one
direction): labels stay in logical order. Chinese and Japanese lines are drawn with one call and annotated by
:func:`cjk_runs`: one region per run of CJK text on the line (Latin and Cyrillic words in it stay words, runs longer
than :data:`MAX_CJK_RUN` characters are cut into equal pieces), their positions measured on the drawn line's
prefixes. These line-level regions are what the multilingual model reads (CJK has no spaces to cut words at).

**Emphasis and hyphenation.** A paragraph may give some words their own style (italic or bold of the same family,
:attr:`PlannedLine.styles`); such lines are drawn word by word, each word boxed with its own style's advance and
line box. Line breaking may hyphenate a word that overflows the line (:meth:`Typesetter.plan` with ``hyphenate``):
the line ends with the word's head and a hyphen, labelled as drawn (``hyphen-``), and the next line starts with the
rest (``ation``); a hyphenated compound breaks after one of its own hyphens (``state-of-`` / ``the-art``).

**Sub- and superscripts.** A word in :data:`~textspotter.synth.corpus.SCRIPT_MARKS` markup (inline math such as
``α_i`` or ``10^{-3}``) is drawn in runs: scripts at 70 % of the size, raised or lowered; its label is its text
without marks (``αi``, ``10−3``), its box spans its advance and, vertically, the line box grown to cover the scripts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .annotate import AnnotationBuilder
from .corpus import SCRIPT_MARKS, split_scripts, strip_scripts
from .fonts import FontCatalogue, FontFace, pil_direction
from .languages import LanguageSpec, script_of

__all__ = [
    "TextStyle",
    "PlannedLine",
    "Plan",
    "Typesetter",
    "visual_order",
    "word_direction",
    "cjk_runs",
    "unspaced_units",
    "MAX_CJK_RUN",
]

# Characters that must not start a line in Chinese and Japanese (kinsoku): they hang at the end of the previous one.
_NO_LINE_START = set("，。、；：？！」』）》〉】,.;:?!)%・ー")
# Characters after which a Chinese/Japanese word (detector unit) ends.
_UNIT_BREAK_AFTER = set("，。、；：？！」』）》〉】,;:?!")
_UNIT_BREAK_BEFORE = set("「『（《〈【")
# Longest CJK region (characters) written as one label; longer runs are cut into equal pieces. At 8 strip columns a
# glyph, 40 characters are 320 columns, read squeezed into the multilingual recognizer's T = 256 (models.registry);
# 95 % of the generator's Chinese/Japanese runs are shorter (docs/models.md).
MAX_CJK_RUN = 40
_CJK_SCRIPTS = frozenset(("cjk", "kana"))
_WORD_SCRIPTS = frozenset(("latin", "cyrillic", "greek", "hangul", "arabic", "hebrew"))
# A word that may be hyphenated at a line end: letters, then at most two closing punctuation marks.
_HYPHENATABLE = re.compile(r"^([^\W\d_]+(?:-[^\W\d_]+)*)([.,;:!?)”’]{0,2})$")
_VOWELS = set("aeiouyàáâäèéêëìíîïòóôöùúûüæœаеёиоуыэюя")
# Sub- and superscripts: size and baseline shift as fractions of the base size (close to TeX's text-style scripts).
_SCRIPT_SCALE = 0.7
_SUP_RISE = 0.38
_SUB_DROP = 0.18
# Small capitals: a lowercase letter is drawn as its capital at this fraction of the size (TeX's cmcsc and the
# small-capital faces of office fonts draw them at about the x-height, 0.7-0.8 of the capitals' height). Real pages
# set author names, headings and acronyms this way; the recognizer misread them (benchmarks/RESULTS.md, "Session 37").
SMALL_CAPS_SCALE = 0.76


@dataclass(frozen=True)
class TextStyle:
    """A face, a pixel size and an RGB colour; ``small_caps`` draws lowercase letters as small capitals
    (:func:`small_caps_runs`; left-to-right words only, the label keeps the letters' case)."""

    face: FontFace
    size: int
    color: tuple[int, int, int] = (20, 20, 20)
    small_caps: bool = False


@dataclass
class PlannedLine:
    """One line of a paragraph, ready to draw.

    Attributes:
        words: the line's words in logical order (spaced scripts), or the line's text as one entry (unspaced).
        widths: advance width of each entry of ``words``.
        width: advance width of the whole line with single spaces.
        last: whether this is the paragraph's last line (never justified).
        styles: the style of each word where some words are emphasised, else None (all in the plan's style).
    """

    words: list[str]
    widths: list[float]
    width: float
    last: bool = False
    styles: list[TextStyle] | None = None


@dataclass
class Plan:
    """A paragraph broken into lines for one style, language and width."""

    lines: list[PlannedLine]
    style: TextStyle
    spec: LanguageSpec
    width: float
    ascent: float
    descent: float
    pitch: float
    indent: float = 0.0

    def height(self, count: int | None = None) -> float:
        """Height of the first ``count`` lines (all by default): top of the first box to bottom of the last."""
        n = len(self.lines) if count is None else min(count, len(self.lines))
        return 0.0 if n == 0 else (n - 1) * self.pitch + self.ascent + self.descent

    def lines_fitting(self, height: float) -> int:
        """How many lines fit in ``height`` pixels."""
        if height < self.ascent + self.descent:
            return 0
        return min(len(self.lines), int((height - self.ascent - self.descent) // self.pitch) + 1)

    def split(self, count: int) -> tuple[Plan, Plan]:
        """Split after ``count`` lines (the first part's last line is then justified like any inner line)."""
        head = Plan(self.lines[:count], self.style, self.spec, self.width, self.ascent, self.descent, self.pitch)
        head.indent = self.indent
        tail = Plan(self.lines[count:], self.style, self.spec, self.width, self.ascent, self.descent, self.pitch)
        return head, tail


def small_caps_runs(word: str) -> list[tuple[str, bool]]:
    """Split a word into runs drawn as written (``False``) and as small capitals (``True``).

    A small-capital run holds lowercase letters whose capital is one character (``ß`` stays as written); it is drawn
    as ``run.upper()`` at :data:`SMALL_CAPS_SCALE` of the size.

    >>> small_caps_runs("Pollicott,")
    [('P', False), ('ollicott', True), (',', False)]
    """
    runs: list[tuple[str, bool]] = []
    for char in word:
        small = char.islower() and len(char.upper()) == 1 and char.upper() != char
        if runs and runs[-1][1] == small:
            runs[-1] = (runs[-1][0] + char, small)
        else:
            runs.append((char, small))
    return runs


def word_direction(word: str) -> str:
    """Classify a word for bidirectional ordering: ``L``, ``R``, ``EN`` (number) or ``N`` (neutral)."""
    has_digit = False
    for c in word:
        script = script_of(c)
        if script in ("arabic", "hebrew"):
            return "R"
        if script != "common":
            return "L"
        has_digit = has_digit or c.isdigit()
    return "EN" if has_digit else "N"


def visual_order(types: list[str], base: str) -> tuple[list[int], list[str]]:
    """Order words visually (left to right) from their direction types and the paragraph direction.

    A word-level form of the Unicode bidirectional algorithm: numbers take the direction of the preceding strong
    word (right-to-left at a right-to-left paragraph start, where they also count as right-to-left for ordering),
    neutrals take the direction of their neighbours when both agree and the paragraph's otherwise, then runs are
    reversed by embedding level (rule L2).

    Args:
        types: per word ``L``, ``R``, ``EN`` or ``N`` in logical order.
        base: paragraph direction, ``ltr`` or ``rtl``.

    Returns:
        (indices in visual left-to-right order, resolved ``L``/``R`` direction of each word in logical order).
    """
    strong = "R" if base == "rtl" else "L"
    resolved: list[str | None] = []
    last = strong if base == "rtl" else None
    for t in types:
        if t == "EN":
            resolved.append("L" if last == "L" or (last is None and base == "ltr") else "R")
        elif t == "N":
            resolved.append(None)
        else:
            resolved.append(t)
            last = t
    for i, r in enumerate(resolved):
        if r is None:
            before = next((resolved[j] for j in range(i - 1, -1, -1) if resolved[j] is not None), strong)
            after = next((resolved[j] for j in range(i + 1, len(resolved)) if resolved[j] is not None), strong)
            resolved[i] = before if before == after else strong
    final: list[str] = [r or strong for r in resolved]
    # Embedding levels (rule I1/I2): right-to-left words are odd, left-to-right words even.
    ltr_level = 2 if base == "rtl" else 0
    levels = [1 if r == "R" else ltr_level for r in final]
    order = list(range(len(final)))
    for level in range(max(levels, default=0), 0, -1):
        i = 0
        while i < len(order):
            if levels[order[i]] >= level:
                j = i
                while j < len(order) and levels[order[j]] >= level:
                    j += 1
                order[i:j] = order[i:j][::-1]
                i = j
            else:
                i += 1
    return order, final


def _unspaced_tokens(text: str) -> list[str]:
    """Split Chinese/Japanese running text into breakable tokens: one CJK character, or a run of Latin/digits."""
    tokens: list[str] = []
    run = ""
    for c in text:
        if c.isascii() and not c.isspace() or (script_of(c) in ("latin", "cyrillic", "greek")):
            run += c
            continue
        if run:
            tokens.append(run)
            run = ""
        tokens.append(c)
    if run:
        tokens.append(run)
    return tokens


def _run_kind(char: str) -> str | None:
    """``"cjk"`` for Han and kana, ``"word"`` for letters of spaced scripts, None for digits and punctuation."""
    script = script_of(char)
    if script in _CJK_SCRIPTS:
        return "cjk"
    return "word" if script in _WORD_SCRIPTS else None


def cjk_runs(line: str, *, max_chars: int = MAX_CJK_RUN) -> list[tuple[int, int]]:
    """Cut a line holding Chinese/Japanese text into line-level regions: one per CJK run, spaced words as words.

    The line is cut at whitespace and where CJK characters (Han, kana) meet letters of a spaced script (Latin,
    Cyrillic, ...): ``"使用Python进行开发。"`` gives ``使用``, ``Python``, ``进行开发。``. Digits and punctuation stay
    in the run they follow (or, at the start of a chunk, the run they precede): ``"2024年3月"`` is one run. A run
    longer than ``max_chars`` characters is cut into equal pieces. A line without CJK characters gives its
    whitespace-separated words unchanged.

    Args:
        line: the text of one line (or one vertical column).
        max_chars: longest region in characters (>= 1).

    Returns:
        ``(start, end)`` character ranges into ``line``, in order, none empty.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    spans: list[tuple[int, int]] = []
    for chunk in re.finditer(r"\S+", line):
        start, kind = chunk.start(), None
        for i in range(chunk.start(), chunk.end()):
            k = _run_kind(line[i])
            if k is None:
                continue
            if kind is not None and k != kind:
                spans.append((start, i))
                start = i
            kind = k
        spans.append((start, chunk.end()))
    out: list[tuple[int, int]] = []
    for start, end in spans:
        pieces = -(-(end - start) // max_chars)
        bounds = [start + round(k * (end - start) / pieces) for k in range(pieces + 1)]
        out += list(zip(bounds[:-1], bounds[1:]))
    return out


def unspaced_units(line: str) -> list[tuple[int, int]]:
    """Cut a Chinese/Japanese line into clauses: runs between spaces, ended after clause punctuation.

    Not the generator's labels any more (those are :func:`cjk_runs`); kept for callers that want clause units.

    Returns ``(start, end)`` character ranges into ``line``.
    """
    spans: list[tuple[int, int]] = []
    start = None
    for i, c in enumerate(line):
        if c.isspace():
            if start is not None:
                spans.append((start, i))
                start = None
            continue
        if c in _UNIT_BREAK_BEFORE and start is not None:
            spans.append((start, i))
            start = None
        if start is None:
            start = i
        if c in _UNIT_BREAK_AFTER:
            spans.append((start, i + 1))
            start = None
    if start is not None:
        spans.append((start, len(line)))
    return spans


class Typesetter:
    """Lay out and draw text on a page image while recording word, line and paragraph annotations.

    Args:
        image: the RGB page to draw on (modified in place).
        catalogue: fonts and their coverage.
        annotations: where words, lines and paragraphs are recorded.
    """

    def __init__(self, image: Image.Image, catalogue: FontCatalogue, annotations: AnnotationBuilder) -> None:
        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.catalogue = catalogue
        self.annotations = annotations

    # ---------------------------------------------------------------------------------------------- fonts
    def font(self, style: TextStyle) -> ImageFont.FreeTypeFont:
        return self.catalogue.font(style.face, style.size)

    def metrics(self, style: TextStyle, spec: LanguageSpec) -> tuple[float, float]:
        """``(ascent, descent)`` of the word boxes of this style and language (see the module docstring)."""
        return self.catalogue.line_metrics(style.face, style.size, spec.reference)

    def fit(self, text: str, style: TextStyle, spec: LanguageSpec) -> str:
        """Drop what the face cannot draw: whole words for spaced scripts, characters for Chinese and Japanese."""
        chars = self.catalogue.chars(style.face)
        if spec.spaced:
            return " ".join(w for w in text.split() if chars.issuperset(strip_scripts(w)))
        kept = "".join(c for c in text if c in chars or c == " ")
        return " ".join(kept.split())

    def _length(self, style: TextStyle, text: str, direction: str = "ltr") -> float:
        if SCRIPT_MARKS[2] in text:
            return sum(
                self.catalogue.advance(style.face, self._run_size(style, level), run, direction)
                for run, level in split_scripts(text)
            )
        if style.small_caps and direction == "ltr":
            return sum(
                self.catalogue.advance(style.face, self._small_size(style) if small else style.size, run, direction)
                for run, small in self._small_caps_drawn(text)
            )
        return self.catalogue.advance(style.face, style.size, text, direction)

    @staticmethod
    def _run_size(style: TextStyle, level: int) -> int:
        return style.size if level == 0 else max(6, int(round(style.size * _SCRIPT_SCALE)))

    @staticmethod
    def _small_size(style: TextStyle) -> int:
        return max(6, int(round(style.size * SMALL_CAPS_SCALE)))

    @staticmethod
    def _small_caps_drawn(word: str) -> list[tuple[str, bool]]:
        """:func:`small_caps_runs` with each small-capital run already in capitals (what is drawn)."""
        return [(run.upper() if small else run, small) for run, small in small_caps_runs(word)]

    def _draw_small_caps(self, x: float, baseline: float, word: str, style: TextStyle) -> None:
        """Draw a left-to-right word in small capitals, run by run (its advance is :meth:`_length`'s)."""
        for run, small in self._small_caps_drawn(word):
            size = self._small_size(style) if small else style.size
            font = self.catalogue.font(style.face, size)
            self.draw.text((x, baseline), run, font=font, fill=style.color, anchor="ls")
            x += self.catalogue.advance(style.face, size, run, "ltr")

    def _draw_scripted(
        self, x: float, baseline: float, word: str, style: TextStyle, reference: str
    ) -> tuple[float, float]:
        """Draw a word with sub/superscript runs; return the (top, bottom) y extent of its scripts' line boxes."""
        top, bottom = baseline, baseline
        for run, level in split_scripts(word):
            size = self._run_size(style, level)
            shift = -_SUP_RISE * style.size if level > 0 else _SUB_DROP * style.size if level < 0 else 0.0
            font = self.catalogue.font(style.face, size)
            self.draw.text((x, baseline + shift), run, font=font, fill=style.color, anchor="ls")
            if level:
                ascent, descent = self.catalogue.line_metrics(style.face, size, reference)
                top, bottom = min(top, baseline + shift - ascent), max(bottom, baseline + shift + descent)
            x += self.catalogue.advance(style.face, size, run, "ltr")
        return top, bottom

    # --------------------------------------------------------------------------------------------- layout
    def plan(
        self,
        text: str,
        style: TextStyle,
        spec: LanguageSpec,
        width: float,
        *,
        leading: float = 1.25,
        indent: float = 0.0,
        word_styles: list[TextStyle] | None = None,
        hyphenate: np.random.Generator | None = None,
        hyphen_prob: float = 0.0,
    ) -> Plan:
        """Break ``text`` into lines of at most ``width`` pixels (the first line ``indent`` narrower).

        The text must already fit the face (:meth:`fit`). A word wider than a line is cut into pieces that fit.

        Args:
            word_styles: for spaced scripts, one style per word of ``text.split()`` (emphasised words in another
                face of ``style``'s family; each word must fit its own face).
            hyphenate: the page's generator, to hyphenate words that overflow a line (spaced scripts only); each
                overflow is hyphenated with probability ``hyphen_prob`` where a break point fits.
        """
        ascent, descent = self.metrics(style, spec)
        pitch = max(leading * style.size, ascent + descent + 1)
        if spec.spaced:
            lines = self._break_spaced(text, style, width, indent, word_styles, hyphenate, hyphen_prob)
        else:
            lines = self._break_unspaced(text, style, width, indent)
        if lines:
            lines[-1].last = True
        plan = Plan(lines, style, spec, width, ascent, descent, pitch)
        plan.indent = indent
        return plan

    def _break_spaced(
        self,
        text: str,
        style: TextStyle,
        width: float,
        indent: float,
        word_styles: list[TextStyle] | None = None,
        hyphenate: np.random.Generator | None = None,
        hyphen_prob: float = 0.0,
    ) -> list[PlannedLine]:
        space = self._length(style, " ")
        lines: list[PlannedLine] = []
        words: list[str] = []
        widths: list[float] = []
        styles: list[TextStyle] = []
        current = 0.0
        split = text.split()
        if word_styles is not None and len(word_styles) != len(split):
            raise ValueError(f"word_styles has {len(word_styles)} styles for {len(split)} words")
        emphasis = word_styles is not None and any(s != style for s in word_styles)

        def close() -> None:
            lines.append(PlannedLine(words, widths, current, styles=styles if emphasis else None))

        for index, word in enumerate(split):
            word_style = word_styles[index] if word_styles is not None else style
            direction = "rtl" if word_direction(word) == "R" else "ltr"
            pieces = [(word, self._length(word_style, word, direction))]
            if pieces[0][1] > width:
                word_style = replace(word_style, small_caps=False)  # pieces are measured and drawn plain
                emphasis = emphasis or word_style != style
                pieces = self._cut(strip_scripts(word), word_style, direction, width)
            while pieces:
                piece, piece_width = pieces.pop(0)
                available = width - (indent if not lines else 0.0)
                needed = piece_width if not words else current + space + piece_width
                if words and needed > available:
                    room = available - current - space
                    broken = None
                    if hyphenate is not None and direction == "ltr" and hyphenate.random() < hyphen_prob:
                        broken = self._hyphen_break(piece, word_style, room)
                    if broken is not None:
                        head, tail = broken
                        head_width = self._length(word_style, head)
                        words.append(head)
                        widths.append(head_width)
                        styles.append(word_style)
                        current += space + head_width
                        pieces.insert(0, (tail, self._length(word_style, tail)))
                        close()
                        words, widths, styles, current = [], [], [], 0.0
                        continue
                    close()
                    words, widths, styles, needed = [], [], [], piece_width
                words.append(piece)
                widths.append(piece_width)
                styles.append(word_style)
                current = needed
        if words:
            close()
        return lines

    def _hyphen_break(self, word: str, style: TextStyle, room: float) -> tuple[str, str] | None:
        """Split ``word`` at a line end: the longest head (ending in a hyphen) whose advance fits in ``room``, and
        the rest of the word; None where no break point fits.

        Compounds break after one of their hyphens; other words of at least six letters break before a consonant
        followed by a vowel, leaving at least three letters on each side (a crude but language-neutral rule for
        Latin and Cyrillic words: ``infor-mation``, ``pro-cess``).
        """
        match = _HYPHENATABLE.match(word)
        if match is None or room <= 0:
            return None
        core = match.group(1)
        if "-" in core:
            splits = [(word[: i + 1], word[i + 1 :]) for i, c in enumerate(core) if c == "-" and i + 1 < len(core)]
        else:
            if len(core) < 6:
                return None
            lower = core.lower()
            cuts = [
                i
                for i in range(3, len(core) - 2)
                if lower[i] not in _VOWELS and lower[i + 1] in _VOWELS and lower[i - 1].isalpha()
            ]
            splits = [(word[:i] + "-", word[i:]) for i in cuts]
        for head, tail in reversed(splits):
            if self._length(style, head) <= room:
                return head, tail
        return None

    def _cut(self, word: str, style: TextStyle, direction: str, width: float) -> list[tuple[str, float]]:
        font = self.font(style)
        direction = pil_direction(direction)
        pieces, start = [], 0
        while start < len(word):
            end = start + 1
            while end < len(word) and font.getlength(word[start : end + 1], direction=direction) <= width:
                end += 1
            piece = word[start:end]
            pieces.append((piece, font.getlength(piece, direction=direction)))
            start = end
        return pieces

    def _break_unspaced(self, text: str, style: TextStyle, width: float, indent: float) -> list[PlannedLine]:
        font = self.font(style)
        lines: list[PlannedLine] = []
        current = ""
        current_width = 0.0
        for token in _unspaced_tokens(text):
            token_width = self._length(style, token)
            available = width - (indent if not lines else 0.0)
            if token.isspace():
                if current:
                    current += " "
                    current_width += token_width
                continue
            hanging = token[0] in _NO_LINE_START
            if current and current_width + token_width > available and not hanging:
                line = current.rstrip()
                lines.append(PlannedLine([line], [font.getlength(line)], font.getlength(line)))
                current, current_width = "", 0.0
            current += token
            current_width += token_width
        if current.strip():
            line = current.strip()
            lines.append(PlannedLine([line], [font.getlength(line)], font.getlength(line)))
        return lines

    # ----------------------------------------------------------------------------------------------- draw
    def draw_plan(self, plan: Plan, x: float, y_top: float, *, align: str = "start") -> tuple[list[int], float]:
        """Draw a planned paragraph in the box starting at ``x`` (``plan.width`` wide) with its top at ``y_top``.

        Args:
            align: ``start`` (left for left-to-right text, right for right-to-left), ``end``, ``center`` or
                ``justify`` (the last line aligned to the start).

        Returns:
            (ids of the recorded lines, y of the bottom of the last line's box).
        """
        line_ids: list[int] = []
        for i, line in enumerate(plan.lines):
            baseline = y_top + plan.ascent + i * plan.pitch
            indent = plan.indent if i == 0 else 0.0
            line_id = self.draw_line(line, plan.style, plan.spec, x, baseline, plan.width, align=align, indent=indent)
            if line_id is not None:
                line_ids.append(line_id)
        return line_ids, y_top + plan.height()

    def paragraph(
        self,
        text: str,
        style: TextStyle,
        spec: LanguageSpec,
        x: float,
        y_top: float,
        width: float,
        *,
        align: str = "start",
        leading: float = 1.25,
        indent: float = 0.0,
    ) -> float:
        """Fit, plan, draw and record one paragraph; return the bottom y of its last line (``y_top`` if empty)."""
        text = self.fit(text, style, spec)
        if not text:
            return y_top
        plan = self.plan(text, style, spec, width, leading=leading, indent=indent)
        line_ids, bottom = self.draw_plan(plan, x, y_top, align=align)
        self.annotations.add_paragraph(line_ids)
        return bottom

    def draw_line(
        self,
        line: PlannedLine,
        style: TextStyle,
        spec: LanguageSpec,
        x: float,
        baseline: float,
        width: float,
        *,
        align: str = "start",
        indent: float = 0.0,
    ) -> int | None:
        """Draw one planned line in the box ``[x, x + width]`` and record its words; return the line id."""
        word_ids = self.place_line(line, style, spec, x, baseline, width, align=align, indent=indent)
        return self.annotations.add_line(word_ids)

    def place_line(
        self,
        line: PlannedLine,
        style: TextStyle,
        spec: LanguageSpec,
        x: float,
        baseline: float,
        width: float,
        *,
        align: str = "start",
        indent: float = 0.0,
    ) -> list[int]:
        """Draw one planned line and record its words (but no line); return the word ids in reading order."""
        if not spec.spaced:
            return self._place_unspaced(line, style, spec, x, baseline, width, align, indent)
        font = self.font(style)
        ascent, descent = self.metrics(style, spec)
        rtl = spec.direction == "rtl"
        types = [word_direction(w) for w in line.words]
        order, resolved = visual_order(types, spec.direction)
        space = self._length(style, " ")
        justify = align == "justify" and not line.last and len(line.words) > 1
        gap = (width - indent - sum(line.widths)) / (len(line.words) - 1) if justify else space
        start = x + (0.0 if rtl else indent)
        end = x + width - (indent if rtl else 0.0)

        def left_edge(total: float) -> float:
            if justify:
                return start
            if align == "center":
                return (start + end - total) / 2
            if (align == "end") != rtl:  # right-aligned: "end" in left-to-right text, "start" in right-to-left text
                return end - total
            return start

        total = sum(line.widths) + gap * (len(line.words) - 1)
        styles = line.styles if line.styles is not None else [style] * len(line.words)
        scripted = [SCRIPT_MARKS[2] in w for w in line.words]
        one_call = (
            not justify
            and all(r == "L" for r in resolved)
            and line.styles is None
            and not style.small_caps
            and not any(scripted)
        )
        widths = list(line.widths)
        positions = [0.0] * len(line.words)
        if one_call:
            text = " ".join(line.words)
            measured = font.getlength(text)
            if abs(measured - total) > 0.01:
                # Spaces shaped inside a script run can differ from an isolated space (Hangul in CJK faces):
                # measure the real prefixes of the drawn line instead.
                left = left_edge(measured)
                offset = 0
                for i, word in enumerate(line.words):
                    positions[i] = left + (font.getlength(text[:offset]) if offset else 0.0)
                    widths[i] = left + font.getlength(text[: offset + len(word)]) - positions[i]
                    offset += len(word) + 1
            else:
                cursor = left_edge(total)
                for i in range(len(line.words)):
                    positions[i] = cursor
                    cursor += widths[i] + gap
            self.draw.text((positions[0], baseline), text, font=font, fill=style.color, anchor="ls")
        else:
            cursor = left_edge(total)
            for i in order:
                positions[i] = cursor
                cursor += widths[i] + gap
        drawn = [one_call] * len(line.words)
        if not one_call and not justify and all(r == "L" for r in resolved):
            drawn = self._draw_runs(line.words, styles, scripted, positions, widths, baseline)
        ids = []
        for i, word in enumerate(line.words):
            x0 = positions[i]
            word_ascent, word_descent = (ascent, descent) if styles[i] == style else self.metrics(styles[i], spec)
            if scripted[i]:
                top, bottom = self._draw_scripted(x0, baseline, word, styles[i], spec.reference)
                word_ascent, word_descent = max(word_ascent, baseline - top), max(word_descent, bottom - baseline)
                word = strip_scripts(word)
            elif not drawn[i] and styles[i].small_caps and resolved[i] == "L":
                self._draw_small_caps(x0, baseline, word, styles[i])
            elif not drawn[i]:
                direction = pil_direction("rtl" if resolved[i] == "R" else "ltr")
                word_font = font if styles[i] == style else self.font(styles[i])
                self.draw.text(
                    (x0, baseline), word, font=word_font, fill=styles[i].color, anchor="ls", direction=direction
                )
            x1 = x0 + widths[i]
            quad = [
                [x0, baseline - word_ascent],
                [x1, baseline - word_ascent],
                [x1, baseline + word_descent],
                [x0, baseline + word_descent],
            ]
            ids.append(self.annotations.add_word(word, np.asarray(quad), spec.code))
        return ids

    def _draw_runs(
        self,
        words: list[str],
        styles: list[TextStyle],
        scripted: list[bool],
        positions: list[float],
        widths: list[float],
        baseline: float,
    ) -> list[bool]:
        """Draw runs of consecutive left-to-right words of one style with one call each; return which were drawn.

        A run is drawn only where its shaped width equals the span of its word boxes (so the boxes stay exact);
        words left undrawn (scripted ones, runs whose spacing differs, single words) are drawn one by one later.
        """
        drawn = [False] * len(words)
        start = 0
        while start < len(words):
            end = start + 1
            while end < len(words) and styles[end] == styles[start] and not scripted[end] and not scripted[start]:
                end += 1
            if end - start > 1 and not styles[start].small_caps:
                text = " ".join(words[start:end])
                font = self.font(styles[start])
                span = positions[end - 1] + widths[end - 1] - positions[start]
                if abs(font.getlength(text) - span) < 0.01:
                    self.draw.text((positions[start], baseline), text, font=font, fill=styles[start].color, anchor="ls")
                    drawn[start:end] = [True] * (end - start)
            start = end
        return drawn

    def _place_unspaced(
        self,
        line: PlannedLine,
        style: TextStyle,
        spec: LanguageSpec,
        x: float,
        baseline: float,
        width: float,
        align: str,
        indent: float,
    ) -> list[int]:
        font = self.font(style)
        ascent, descent = self.metrics(style, spec)
        text, total = line.words[0], line.width
        if align == "center":
            left = x + indent + (width - indent - total) / 2
        elif align == "end":
            left = x + width - total
        else:
            left = x + indent
        self.draw.text((left, baseline), text, font=font, fill=style.color, anchor="ls")
        ids = []
        for start, end in cjk_runs(text):
            x0 = left + (font.getlength(text[:start]) if start else 0.0)
            x1 = left + font.getlength(text[:end])
            quad = [
                [x0, baseline - ascent],
                [x1, baseline - ascent],
                [x1, baseline + descent],
                [x0, baseline + descent],
            ]
            ids.append(self.annotations.add_word(text[start:end], np.asarray(quad), spec.code))
        return ids

    def single_line(
        self,
        text: str,
        style: TextStyle,
        spec: LanguageSpec,
        x: float,
        baseline: float,
        width: float,
        *,
        align: str = "start",
    ) -> list[int]:
        """Fit and draw ``text`` as one line (words that do not fit in ``width`` are dropped); return word ids."""
        text = self.fit(text, style, spec)
        if not text:
            return []
        plan = self.plan(text, style, spec, width)
        if not plan.lines:
            return []
        line = plan.lines[0]
        line.last = True
        return self.place_line(line, style, spec, x, baseline, width, align=align)

    def text_width(self, text: str, style: TextStyle, spec: LanguageSpec) -> float:
        """Advance width of ``text`` on one line (single spaces)."""
        if not spec.spaced:
            return self.font(style).getlength(text)
        words = text.split()
        widths = sum(self._length(style, w, "rtl" if word_direction(w) == "R" else "ltr") for w in words)
        return widths + self._length(style, " ") * max(0, len(words) - 1)

    # ------------------------------------------------------------------------------------------- vertical
    def vertical_column(
        self, text: str, style: TextStyle, spec: LanguageSpec, x_center: float, y_top: float, height: float
    ) -> tuple[int | None, int]:
        """Draw Chinese/Japanese text top to bottom in one column; return (line id, characters consumed).

        Only characters the face covers and that are not ASCII are drawn (Latin runs are not set sideways here).
        Punctuation may hang below ``height`` (kinsoku).
        """
        font = self.font(style)
        chars = self.catalogue.chars(style.face)
        column = ""
        used = 0.0
        consumed = 0
        for c in text:
            if c.isascii() or c not in chars or c.isspace():
                consumed += 1
                continue
            advance = font.getlength(c, direction="ttb")
            if column and used + advance > height and c not in _NO_LINE_START:
                break
            column += c
            used += advance
            consumed += 1
        if not column:
            return None, consumed
        self.draw.text((x_center, y_top), column, font=font, fill=style.color, anchor="mt", direction="ttb")
        half = style.size / 2
        ids = []
        for start, end in cjk_runs(column):
            y0 = y_top + (font.getlength(column[:start], direction="ttb") if start else 0.0)
            y1 = y_top + font.getlength(column[:end], direction="ttb")
            # Vertex 0 is top-right: the top edge of the text as written (vertex 0 → 1) runs down the column.
            quad = [[x_center + half, y0], [x_center + half, y1], [x_center - half, y1], [x_center - half, y0]]
            ids.append(self.annotations.add_word(column[start:end], np.asarray(quad), spec.code))
        return self.annotations.add_line(ids), consumed
