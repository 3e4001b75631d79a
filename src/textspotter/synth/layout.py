"""Page layouts: articles, forms, tables, receipts, slides, scene text and vertical CJK columns.

Each layout is a function ``layout(ctx: PageContext) -> None`` that draws one page through the context's
:class:`~textspotter.synth.render.Typesetter` (which records every word, line and paragraph) and writes what it chose
into ``ctx.params``. All random choices come from ``ctx.rng``.

Reading order and grouping, the same in every layout:

* paragraphs are added in page reading order: running header, title, body (column by column: left to right, or
  right to left for Arabic and Hebrew), footnotes, running footer;
* a paragraph is a block of wrapped lines (a body paragraph, a heading, a list item, a caption, a table cell, a
  form value); a paragraph cut by a column break continues as a new paragraph in the next column;
* pieces of text on one baseline separated by more than a few spaces (a receipt's item and price, a header's left
  and right parts) are separate lines and separate paragraphs, in row-major reading order;
* list bullets and numbers are words of their item's first line; form labels and their inline values share a line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw

from .annotate import AnnotationBuilder
from .corpus import SCRIPT_MARKS, TextSampler
from .effects import photo_background
from .fonts import FontFace
from .languages import LanguageSpec
from .render import PlannedLine, TextStyle, Typesetter

__all__ = ["PageContext", "LAYOUTS", "page_shape", "draw_table"]

_INK_ACCENTS = ((20, 40, 110), (120, 20, 30), (10, 80, 50), (60, 30, 100), (0, 90, 140), (150, 70, 0))
_BULLETS = ("•", "–", "-", "▪", "·", "*", "›", "→")
_HAND_INKS = ((20, 30, 140), (10, 10, 10), (30, 30, 90), (90, 20, 20))
# Scripts with a lowercase and a capital form of their letters: the ones small capitals can be set in.
_CASED_SCRIPTS = frozenset(("latin", "cyrillic", "greek"))


@dataclass
class PageContext:
    """Everything a layout draws with: the page, the typesetter, text samplers and the page's random generator.

    Attributes:
        rng: the page's generator (every random choice comes from it).
        image: the RGB page being drawn.
        typesetter: draws text and records annotations.
        samplers: text samplers by language code; ``main`` is the page language.
        main: the page's main language.
        mixed: a second language mixed into the page (or None), used for a block with probability ``mixed_prob``.
        font_size: body text size range in pixels (layouts scale headings and footnotes from it).
        params: the layout's recorded choices (JSON-ready).
    """

    rng: np.random.Generator
    image: Image.Image
    typesetter: Typesetter
    samplers: dict[str, TextSampler]
    main: str
    mixed: str | None = None
    mixed_prob: float = 0.0
    font_size: tuple[int, int] = (13, 22)
    params: dict[str, Any] = field(default_factory=dict)
    _faces: dict[tuple[str, str], FontFace] = field(default_factory=dict)
    _traits: dict[str, Any] = field(default_factory=dict)

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    @property
    def draw(self) -> ImageDraw.ImageDraw:
        return self.typesetter.draw

    @property
    def annotations(self) -> AnnotationBuilder:
        return self.typesetter.annotations

    def language(self) -> str:
        """Language of the next block: the page's, or on mixed pages sometimes the second language."""
        if self.mixed and self.rng.random() < self.mixed_prob:
            return self.mixed
        return self.main

    def sampler(self, language: str | None = None) -> TextSampler:
        return self.samplers[language or self.main]

    def spec(self, language: str | None = None) -> LanguageSpec:
        return self.samplers[language or self.main].spec

    @property
    def rtl(self) -> bool:
        return self.spec().direction == "rtl"

    def traits(self) -> dict[str, Any]:
        """The page's typographic choices, drawn once: serif or sans body and headings, ink colours."""
        if not self._traits:
            rng = self.rng
            gray = int(rng.integers(0, 70))
            tint = rng.integers(-10, 11, size=3)
            ink = tuple(int(np.clip(gray + t, 0, 255)) for t in tint)
            accent = _INK_ACCENTS[int(rng.integers(len(_INK_ACCENTS)))] if rng.random() < 0.3 else ink
            body_serif = bool(rng.random() < 0.5)
            self._traits = {
                "ink": ink,
                "accent": accent,
                "body_serif": body_serif,
                "heading_serif": body_serif if rng.random() < 0.6 else not body_serif,
                "body_mono": bool(rng.random() < 0.04),
                "body_hand": bool(rng.random() < 0.03),
                "body_italic": bool(rng.random() < 0.04),
            }
            self.params["ink"] = list(ink)
        return self._traits

    def face(self, language: str, role: str) -> FontFace:
        """The face of a text role on this page (drawn once per language and role).

        Roles: ``body``, ``heading``, ``title``, ``caption``, ``label``, ``mono``, ``hand``.
        """
        key = (language, role)
        face = self._faces.get(key)
        if face is None:
            t = self.traits()
            catalogue = self.typesetter.catalogue
            spec = self.spec(language)
            if role == "body":
                face = catalogue.choose(
                    self.rng,
                    spec,
                    serif=t["body_serif"],
                    bold=False,
                    italic=t["body_italic"],
                    monospace=t["body_mono"],
                    handwriting=t["body_hand"],
                )
            elif role in ("heading", "title"):
                face = catalogue.choose(self.rng, spec, serif=t["heading_serif"], bold=True, italic=False)
            elif role == "caption":
                face = catalogue.choose(self.rng, spec, serif=t["body_serif"], italic=bool(self.rng.random() < 0.5))
            elif role == "label":
                face = catalogue.choose(self.rng, spec, serif=False, bold=bool(self.rng.random() < 0.5))
            elif role == "mono":
                face = catalogue.choose(self.rng, spec, monospace=True, bold=bool(self.rng.random() < 0.2))
            elif role == "hand":
                face = catalogue.choose(self.rng, spec, handwriting=True, italic=bool(self.rng.random() < 0.3))
            else:
                raise ValueError(f"unknown text role {role!r}")
            self._faces[key] = face
            self.params.setdefault("fonts", {})[f"{language}/{role}"] = face.name
        return face

    def style(self, language: str, role: str, size: float, color: tuple[int, int, int] | None = None) -> TextStyle:
        t = self.traits()
        if color is None:
            color = t["accent"] if role in ("heading", "title") else t["ink"]
        return TextStyle(self.face(language, role), max(6, int(round(size))), tuple(int(c) for c in color))

    def body_size(self) -> int:
        low, high = self.font_size
        return int(self.rng.integers(low, high + 1))

    def uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def chance(self, probability: float) -> bool:
        return bool(self.rng.random() < probability)

    def pick(self, options: tuple | list) -> Any:
        return options[int(self.rng.integers(len(options)))]


# ---------------------------------------------------------------------------------------------- page shapes
def page_shape(layout: str, rng: np.random.Generator, width_range: tuple[int, int], aspect_range: tuple[float, float]):
    """Return ``(width, height)`` of a page for a layout: documents are portrait, slides landscape."""
    width = int(rng.integers(width_range[0], width_range[1] + 1))
    if layout == "slide":
        aspect = 9 / 16 if rng.random() < 0.75 else 3 / 4
        long_side = int(width * float(rng.uniform(1.0, 1.25)))
        return long_side, int(long_side * aspect)
    if layout == "scene":
        aspect = float(rng.choice([3 / 4, 4 / 3, 1.0, 9 / 16]))
        return width, int(width * aspect)
    return width, int(width * float(rng.uniform(*aspect_range)))


# ---------------------------------------------------------------------------------------------------- helpers
def _rect(draw: ImageDraw.ImageDraw, box: list[float], **style: Any) -> None:
    """Draw a rectangle given any two opposite corners (Pillow rejects reversed or float-rounded ones)."""
    x0, y0, x1, y1 = box
    draw.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], **style)


def _margins(ctx: PageContext, low: float = 0.05, high: float = 0.11) -> tuple[int, int, int, int]:
    w = ctx.width
    return tuple(int(w * ctx.uniform(low, high)) for _ in range(4))  # left, top, right, bottom


def _single(
    ctx: PageContext,
    text: str,
    style: TextStyle,
    language: str,
    x: float,
    baseline: float,
    width: float,
    align: str = "start",
) -> list[int]:
    """Draw one line as its own paragraph; return its word ids."""
    ids = ctx.typesetter.single_line(text, style, ctx.spec(language), x, baseline, width, align=align)
    line = ctx.annotations.add_line(ids)
    ctx.annotations.add_paragraph([line])
    return ids


def _running_header(ctx: PageContext, x0: float, x1: float, y: float) -> float:
    """A small running header (title and date or section on the two sides) with an optional rule below."""
    lang = ctx.main
    sampler = ctx.sampler(lang)
    size = max(8, ctx.body_size() * ctx.uniform(0.7, 0.9))
    style = ctx.style(lang, "caption", size)
    ascent, descent = ctx.typesetter.metrics(style, ctx.spec(lang))
    baseline = y + ascent
    width = x1 - x0
    title = sampler.heading(ctx.rng, 1, 4)
    detail = sampler.date(ctx.rng) if ctx.chance(0.5) else sampler.heading(ctx.rng, 1, 3)
    # The title sits on the reading-start side (left, or right in right-to-left pages) and is read first.
    title_x = x1 - width * 0.55 if ctx.rtl else x0
    _single(ctx, title, style, lang, title_x, baseline, width * 0.55, align="start")
    if ctx.chance(0.7):
        detail_x = x0 if ctx.rtl else x0 + width * 0.6
        _single(ctx, detail, style, lang, detail_x, baseline, width * 0.4, align="end")
    bottom = baseline + descent + size * 0.4
    if ctx.chance(0.6):
        ctx.draw.line([(x0, bottom), (x1, bottom)], fill=ctx.traits()["ink"], width=1)
    return bottom + size * ctx.uniform(0.8, 2.0)


def _running_footer(ctx: PageContext, x0: float, x1: float, bottom: float) -> None:
    """A page number (``3``, ``- 3 -``, ``Page 3 of 12``) and sometimes a note, at the bottom of the page."""
    lang = ctx.main
    sampler = ctx.sampler(lang)
    size = max(8, ctx.body_size() * ctx.uniform(0.7, 0.95))
    style = ctx.style(lang, "caption", size)
    _ascent, descent = ctx.typesetter.metrics(style, ctx.spec(lang))
    baseline = bottom - descent
    number = int(ctx.rng.integers(1, 400))
    form = int(ctx.rng.integers(4))
    if form == 0:
        label = str(number)
    elif form == 1:
        label = f"- {number} -"
    elif form == 2:
        label = f"{sampler.term(ctx.rng, 'page')} {number}"
    else:
        label = f"{number} / {number + int(ctx.rng.integers(0, 30))}"
    align = ctx.pick(("center", "end", "start"))
    width = x1 - x0
    if ctx.chance(0.3):
        note = sampler.phrase(ctx.rng, 2, 6)
        if align != "start":  # the note on the reading-start side, the number elsewhere
            note_x = x1 - width * 0.6 if ctx.rtl else x0
            _single(ctx, note, style, lang, note_x, baseline, width * 0.6, "start")
        else:
            _single(ctx, note, style, lang, x0, baseline, width, "end")
    _single(ctx, label, style, lang, x0, baseline, width, align)


def _place_runs(
    ctx: PageContext,
    runs: list[tuple[str, TextStyle]],
    language: str,
    x: float,
    baseline: float,
    width: float,
    gap: float,
) -> tuple[list[int], float]:
    """Draw text runs of different styles one after the other on one baseline (in reading direction).

    Returns the word ids in reading order and the total advance used. Runs that do not fit are dropped.
    """
    ts = ctx.typesetter
    spec = ctx.spec(language)
    ids: list[int] = []
    used = 0.0
    for text, style in runs:
        text = ts.fit(text, style, spec)
        if not text:
            continue
        run_width = ts.text_width(text, style, spec)
        if used + run_width > width:
            break
        left = x + width - used - run_width if spec.direction == "rtl" else x + used
        plan = ts.plan(text, style, spec, run_width + 1)
        line = plan.lines[0]
        line.last = True
        ids += ts.place_line(line, style, spec, left, baseline, run_width + 1, align="start" if not ctx.rtl else "end")
        used += run_width + gap
    return ids, used


def _flow_plan(ctx: PageContext, plan, x: float, y: float, align: str) -> float:
    line_ids, bottom = ctx.typesetter.draw_plan(plan, x, y, align=align)
    ctx.annotations.add_paragraph(line_ids)
    return bottom


def _list_item(
    ctx: PageContext,
    bullet: str,
    text: str,
    style: TextStyle,
    language: str,
    x: float,
    y: float,
    width: float,
    leading: float,
    max_height: float,
    emphasis_rate: float = 0.0,
    small_caps_words: int = 0,
) -> float | None:
    """Draw a list item with a hanging bullet (the bullet is the first word of the first line).

    ``emphasis_rate``: see :func:`_emphasis` (0: no emphasis, and no random draw). ``small_caps_words``: that many
    first words of the text in small capitals (author names of a reference list; no emphasis then). Returns the
    bottom y, or None if the item does not fit in ``max_height``.
    """
    ts = ctx.typesetter
    spec = ctx.spec(language)
    text = ts.fit(text, style, spec)
    bullet = ts.fit(bullet, style, spec)
    if not text or not bullet:
        return y
    hang = ts.text_width(bullet, style, spec) + style.size * 0.6
    word_styles = _emphasis(ctx, text, style, spec, emphasis_rate) if emphasis_rate else None
    if small_caps_words:
        caps = replace(style, small_caps=True)
        word_styles = [
            caps if i < small_caps_words and ts.catalogue.covers(style.face, word.upper()) else style
            for i, word in enumerate(text.split())
        ]
    plan = ts.plan(text, style, spec, width - hang, leading=leading, word_styles=word_styles)
    if plan.height() > max_height:
        return None
    rtl = spec.direction == "rtl"
    bullet_x = x + width - hang if rtl else x
    body_x = x if rtl else x + hang
    bullet_width = ts.text_width(bullet, style, spec)
    line_ids = []
    for i, line in enumerate(plan.lines):
        baseline = y + plan.ascent + i * plan.pitch
        ids = ts.place_line(line, style, spec, body_x, baseline, width - hang, align="start")
        if i == 0:
            bullet_line = PlannedLine([bullet], [bullet_width], bullet_width, last=True)
            ids = ts.place_line(bullet_line, style, spec, bullet_x, baseline, hang, align="start") + ids
        line_ids.append(ctx.annotations.add_line(ids))
    ctx.annotations.add_paragraph(line_ids)
    return y + plan.height()


def _bullet(index: int, kind: int, symbol: str) -> str:
    """The marker of list item ``index``: a symbol, ``1.``, ``a)`` or ``(1)``."""
    if kind == 0:
        return symbol
    if kind == 1:
        return f"{index + 1}."
    if kind == 2:
        return f"{'abcdefghijklmnop'[index % 16]})"
    return f"({index + 1})"


# ----------------------------------------------------------------------------------------------------- figures
def _figure(ctx: PageContext, x: float, y: float, width: float, height: float) -> None:
    """Draw a non-text figure: a bar chart, a line plot, or a photo-like picture, in the given box.

    Charts usually get tick numbers on both axes and axis titles (``Accuracy (%)``, ``Epoch``), each label its own
    one-line paragraph, in reading order: y-axis title, y ticks top to bottom, x ticks, x-axis title.
    """
    draw = ctx.draw
    ink = ctx.traits()["ink"]
    kind = int(ctx.rng.integers(3))
    x0, y0, x1, y1 = int(x), int(y), int(x + width), int(y + height)
    if kind == 2 and width > 16 and height > 16:
        picture = photo_background(int(ctx.rng.integers(2**31)), x1 - x0, y1 - y0)
        ctx.image.paste(Image.fromarray(picture), (x0, y0))
        return
    count = int(ctx.rng.integers(4, 12))
    values = ctx.rng.uniform(0.1, 0.95, size=count)
    if width > 120 and height > 70 and ctx.chance(0.8):
        x0, y1 = _axis_labels(ctx, x0, y0, x1, y1, kind, count)
        width, height = x1 - x0, y1 - y0
    draw.line([(x0 + 4, y0 + 4), (x0 + 4, y1 - 4), (x1 - 4, y1 - 4)], fill=ink, width=1)
    step = (width - 12) / count
    color = tuple(int(c) for c in ctx.rng.integers(40, 200, size=3))
    if kind == 0:
        for i, v in enumerate(values):
            bx = x0 + 8 + i * step
            _rect(draw, [bx, y1 - 4 - v * (height - 10), bx + step * 0.7, y1 - 5], fill=color)
    else:
        points = [(x0 + 8 + i * step, y1 - 4 - v * (height - 10)) for i, v in enumerate(values)]
        draw.line(points, fill=color, width=2)


def _rotated_title(
    ctx: PageContext, text: str, style: TextStyle, language: str, x: float, top: float, bottom: float
) -> bool:
    """Draw ``text`` turned 90° counter-clockwise, centred on ``[top, bottom]``, its line box from ``x`` rightwards.

    The line is set on its own patch, turned with an exact quarter turn and composited in the style's colour; its
    word quads are moved by the same matrix (their vertex 0 stays the start of the text's top edge). Returns False
    when the text does not fit the height.
    """
    measure = Typesetter(Image.new("RGB", (1, 1)), ctx.typesetter.catalogue, AnnotationBuilder())
    spec = ctx.spec(language)
    white = TextStyle(style.face, style.size, (255, 255, 255))
    text = measure.fit(text, white, spec)
    if not text:
        return False
    width = measure.text_width(text, white, spec)
    ascent, descent = measure.metrics(white, spec)
    if width + 2 > bottom - top:
        return False
    pw, ph = int(math.ceil(width)) + 2, int(math.ceil(ascent + descent)) + 2
    patch = Image.new("RGB", (pw, ph), (0, 0, 0))
    builder = AnnotationBuilder()
    ids = Typesetter(patch, ctx.typesetter.catalogue, builder).single_line(text, white, spec, 1, 1 + ascent, pw)
    builder.add_paragraph([builder.add_line(ids)])
    # np.rot90 turns counter-clockwise: patch point (px, py) goes to (py, pw - px) in the turned patch.
    coverage = np.rot90(np.asarray(patch)[..., 0]).astype(np.float32)[..., None] / 255.0
    ox, oy = int(round(x)), int(round((top + bottom - pw) / 2))
    region = np.asarray(ctx.image.crop((ox, oy, ox + ph, oy + pw)), dtype=np.float32)
    blended = region * (1 - coverage) + np.asarray(style.color, np.float32) * coverage
    ctx.image.paste(Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8)), (ox, oy))
    ctx.annotations.merge(builder, np.array([[0.0, 1.0, ox], [-1.0, 0.0, pw + oy], [0.0, 0.0, 1.0]]))
    return True


_AXIS_UNITS = ("(%)", "(s)", "(ms)", "(mm)", "(dB)", "(K)", "[a.u.]", "(MB)", "(Hz)", "")


def _axis_labels(ctx: PageContext, x0: int, y0: int, x1: int, y1: int, kind: int, count: int) -> tuple[int, int]:
    """Write a chart's axis titles and tick labels around its plot area; return the plot's new (left, bottom).

    Tick values run from 0 to a round top value (``1``, ``0.5``, ``100``, ``2000``, ...); x ticks are numbers
    (epochs, years) for line plots and short words or numbers for bars.
    """
    rng = ctx.rng
    lang = ctx.main
    spec = ctx.spec(lang)
    sampler = ctx.sampler(lang)
    ts = ctx.typesetter
    size = max(8, int(round(ctx.body_size() * ctx.uniform(0.6, 0.9))))
    style = ctx.style(lang, "label", size)
    ascent, descent = ts.metrics(style, spec)
    line = ascent + descent
    top = float(ctx.pick((1, 1, 0.5, 5, 10, 20, 50, 100, 100, 200, 1000, 2000)))
    ticks = int(ctx.pick((2, 4, 5))) + 1  # intervals that divide the round top values into round steps
    labels = [f"{top * i / (ticks - 1):g}" for i in range(ticks)]
    label_width = max(ts.text_width(t, style, spec) for t in labels) + size * 0.4
    x_title = sampler.phrase(rng, 1, 3)
    y_title = f"{sampler.phrase(rng, 1, 2)} {ctx.pick(_AXIS_UNITS)}".strip()
    plot_bottom = y1 - int(math.ceil(2 * line + size * 0.6))
    if ctx.chance(0.5):
        # The y-axis title turned a quarter left along the axis, read bottom to top, as most plotting tools do.
        plot_top = y0 + line / 2
        title_x = x0
        x0 += int(math.ceil(line + size * 0.4))
        if not _rotated_title(ctx, y_title, style, lang, title_x, plot_top, plot_bottom):
            x0 = title_x
    else:
        # The y-axis title above the axis (a common layout for small charts).
        _single(ctx, y_title, style, lang, x0, y0 + ascent, x1 - x0, "start")
        plot_top = y0 + line + size * 0.3
    plot_left = x0 + int(math.ceil(label_width))
    if plot_bottom - plot_top < 30 or x1 - plot_left < 60:
        return x0, y1
    span = plot_bottom - 4 - (plot_top + 6)
    ink = ctx.traits()["ink"]
    for i in range(ticks - 1, -1, -1):
        tick_y = plot_bottom - 4 - span * i / (ticks - 1)
        ctx.draw.line([(plot_left + 1, tick_y), (plot_left + 4, tick_y)], fill=ink, width=1)
        baseline = tick_y + (ascent - descent) / 2
        _single(ctx, labels[i], style, lang, x0, baseline, label_width - size * 0.3, "end")
    step = (x1 - plot_left - 12) / count
    if kind == 0 and ctx.chance(0.5):
        names = [sampler.word(rng)[:8] for _ in range(count)]
    else:
        start = int(ctx.pick((0, 0, 1, 1990, 2000, 2010)))
        stride = int(ctx.pick((1, 1, 2, 5, 10)))
        names = [str(start + i * stride) for i in range(count)]
    every = max(1, int(math.ceil(max(ts.text_width(n, style, spec) for n in names) * 1.3 / max(step, 1))))
    baseline = plot_bottom + size * 0.3 + ascent
    for i in range(0, count, every):
        center = plot_left + 8 + (i + 0.35) * step
        _single(ctx, names[i], style, lang, center - step * every / 2, baseline, step * every, "center")
    _single(ctx, x_title, style, lang, plot_left, baseline + line + size * 0.3, x1 - plot_left, "center")
    return plot_left, plot_bottom


# ------------------------------------------------------------------------------------------------------ tables
def _cell_text(ctx: PageContext, sampler: TextSampler, kind: str) -> str:
    rng = ctx.rng
    if kind == "text":
        return sampler.phrase(rng, 1, 4)
    if kind == "name":
        return sampler.entity(rng, "name")
    if kind == "amount":
        return sampler.amount(rng, symbol=ctx.chance(0.3))
    if kind == "date":
        return sampler.date(rng)
    if kind == "code":
        return sampler.code(rng)
    if kind == "percent":
        return f"{rng.uniform(0, 100):.1f}%"
    return sampler.number(rng)


def draw_table(
    ctx: PageContext,
    x: float,
    y: float,
    width: float,
    max_height: float,
    *,
    language: str,
    size: float,
    max_rows: int = 30,
) -> float | None:
    """Draw a table with a header row in the box and record its cells; return its bottom y (None if none fit).

    Rulings are one of: full grid, horizontal rules only, header rules only (booktabs), none, or zebra stripes.
    A group header row with a spanning cell and a first-column cell spanning two rows appear sometimes. Numeric
    columns are aligned to the end. Cell text is wrapped to at most three lines.
    """
    rng = ctx.rng
    ts = ctx.typesetter
    sampler = ctx.sampler(language)
    spec = ctx.spec(language)
    rtl = spec.direction == "rtl"
    body_style = ctx.style(language, "body", size)
    head_style = ctx.style(language, "heading", size, color=ctx.traits()["ink"])
    ncols = int(rng.integers(2, 8))
    kinds = ["text" if ctx.chance(0.7) else "name"] + [
        ctx.pick(("number", "amount", "date", "text", "code", "percent")) for _ in range(ncols - 1)
    ]
    rows = int(rng.integers(3, max_rows + 1))
    headers = [sampler.heading(rng, 1, 2) for _ in range(ncols)]
    body = [
        [_cell_text(ctx, sampler, kinds[c]) if not ctx.chance(0.04) else "" for c in range(ncols)] for _ in range(rows)
    ]
    pad_x, pad_y = size * ctx.uniform(0.3, 0.8), size * ctx.uniform(0.2, 0.6)
    headers = [ts.fit(h, head_style, spec) for h in headers]
    body = [[ts.fit(t, body_style, spec) for t in row] for row in body]

    # Natural column widths (text columns capped, they wrap), then fit the table into the width.
    def natural(c: int) -> float:
        widths = [ts.text_width(headers[c], head_style, spec)] + [ts.text_width(r[c], body_style, spec) for r in body]
        return max(widths) + 2 * pad_x

    widths = [natural(c) for c in range(ncols)]
    cap = width * (0.4 if ncols <= 3 else 0.28)
    widths = [min(w, cap) if kinds[c] in ("text", "name") else w for c, w in enumerate(widths)]
    while sum(widths) > width and len(widths) > 2:
        widths.pop()
        kinds.pop()
        headers.pop()
        body = [row[:-1] for row in body]
    ncols = len(widths)
    if sum(widths) > width:
        scale = width / sum(widths)
        widths = [w * scale for w in widths]
    if ctx.chance(0.5):
        extra = (width - sum(widths)) / ncols
        widths = [w + extra for w in widths]
    total_width = sum(widths)
    left = x + (width - total_width if rtl else 0.0)
    # Column c's box; columns run right to left in right-to-left tables.
    col_x = []
    cursor = left + total_width if rtl else left
    for w in widths:
        if rtl:
            cursor -= w
            col_x.append(cursor)
        else:
            col_x.append(cursor)
            cursor += w

    def plan_cell(text: str, style: TextStyle, c0: int, c1: int):
        cell_width = sum(widths[c0 : c1 + 1]) - 2 * pad_x
        if not text or cell_width < style.size:
            return None
        plan = ts.plan(text, style, spec, cell_width, leading=1.2)
        if len(plan.lines) > 3:
            plan, _ = plan.split(3)
            plan.lines[-1].last = True
        return plan

    group = ncols >= 4 and ctx.chance(0.2)
    rows_cells: list[list[dict[str, Any]]] = []
    if group:
        span = int(rng.integers(2, ncols))
        label = ts.fit(sampler.heading(rng, 1, 3), head_style, spec)
        rows_cells.append(
            [
                {"col": 0, "colspan": 1, "rowspan": 1, "plan": None, "header": True, "align": "start"},
                {
                    "col": 1,
                    "colspan": span,
                    "rowspan": 1,
                    "plan": plan_cell(label, head_style, 1, span),
                    "header": True,
                    "align": "center",
                },
            ]
            + [
                {"col": c, "colspan": 1, "rowspan": 1, "plan": None, "header": True, "align": "start"}
                for c in range(span + 1, ncols)
            ]
        )
    header_align = ctx.pick(("start", "center"))
    rows_cells.append(
        [
            {
                "col": c,
                "colspan": 1,
                "rowspan": 1,
                "plan": plan_cell(headers[c], head_style, c, c),
                "header": True,
                "align": header_align,
            }
            for c in range(ncols)
        ]
    )
    header_rows = len(rows_cells)
    span_row = int(rng.integers(0, max(1, rows - 1))) if ctx.chance(0.15) and rows >= 3 else None
    for r, row in enumerate(body):
        cells = []
        for c in range(ncols):
            if span_row is not None and r == span_row + 1 and c == 0:
                continue  # covered by the spanning cell above
            numeric = kinds[c] in ("number", "amount", "percent")
            cells.append(
                {
                    "col": c,
                    "colspan": 1,
                    "rowspan": 2 if (span_row == r and c == 0) else 1,
                    "plan": plan_cell(row[c], body_style, c, c),
                    "header": False,
                    "align": "end" if numeric else "start",
                }
            )
        rows_cells.append(cells)

    # Row heights, then cut the rows that do not fit.
    heights = []
    for cells in rows_cells:
        content = [cell["plan"].height() for cell in cells if cell["plan"] is not None and cell["rowspan"] == 1]
        heights.append(max(content, default=ts.metrics(body_style, spec)[0]) + 2 * pad_y)
    keep = 0
    total = 0.0
    for h in heights:
        if total + h > max_height:
            break
        total += h
        keep += 1
    if keep < header_rows + 2:
        return None
    rows_cells, heights = rows_cells[:keep], heights[:keep]
    last = rows_cells[-1]
    for cell in last:
        cell["rowspan"] = 1  # a span cannot run past the last kept row
    row_y = [y]
    for h in heights:
        row_y.append(row_y[-1] + h)

    draw = ctx.draw
    ink = ctx.traits()["ink"]
    rule = ctx.pick(("grid", "grid", "horizontal", "booktabs", "none", "zebra"))
    line_color = tuple(int(v) for v in np.clip(np.array(ink) + rng.integers(0, 120), 0, 255))
    right = left + total_width
    if ctx.chance(0.35):
        fill = tuple(int(v) for v in rng.integers(200, 245, size=3))
        _rect(draw, [left, row_y[0], right, row_y[header_rows]], fill=fill)
    if rule == "zebra":
        stripe = tuple(int(v) for v in rng.integers(225, 250, size=3))
        for r in range(header_rows, keep, 2):
            _rect(draw, [left, row_y[r], right, row_y[r + 1]], fill=stripe)
    thick = int(rng.integers(1, 3))
    if rule in ("grid", "horizontal"):
        for r in range(keep + 1):
            # A spanning first-column cell has no rule through its middle.
            if rule == "grid" and span_row is not None and r == header_rows + span_row + 1 and r < keep:
                x_start = col_x[0] + widths[0] if not rtl else left
                x_end = right if not rtl else col_x[0]
                draw.line([(x_start, row_y[r]), (x_end, row_y[r])], fill=line_color, width=thick)
            else:
                draw.line([(left, row_y[r]), (right, row_y[r])], fill=line_color, width=thick)
    if rule == "grid":
        for c in range(ncols + 1):
            xx = left + sum(widths[:c]) if not rtl else right - sum(widths[:c])
            draw.line([(xx, row_y[0]), (xx, row_y[-1])], fill=line_color, width=thick)
    if rule in ("booktabs", "zebra"):
        for r in (0, header_rows, keep):
            draw.line([(left, row_y[r]), (right, row_y[r])], fill=line_color, width=thick + (r != header_rows))

    table = ctx.annotations.add_table(np.array([[left, y], [right, y], [right, row_y[-1]], [left, row_y[-1]]]))
    for r, cells in enumerate(rows_cells):
        for cell in cells:
            c0, c1 = cell["col"], cell["col"] + cell["colspan"] - 1
            rowspan = min(cell["rowspan"], keep - r)
            words: list[int] = []
            plan = cell["plan"]
            if plan is not None:
                cell_left = min(col_x[c0], col_x[c1])
                top = row_y[r] + pad_y
                if rowspan > 1:
                    top = (row_y[r] + row_y[r + rowspan] - plan.height()) / 2
                first_word = len(ctx.annotations.texts)
                _flow_plan(ctx, plan, cell_left + pad_x, top, cell["align"])
                words = list(range(first_word, len(ctx.annotations.texts)))
            text = (" " if spec.spaced else "").join(ctx.annotations.texts[w] for w in words)
            table.add_cell(r, c0, words, text, rowspan=rowspan, colspan=cell["colspan"], header=cell["header"])
    ctx.params.setdefault("tables", []).append({"rows": keep, "cols": ncols, "rule": rule, "group": group})
    return row_y[-1]


def _emphasis(ctx: PageContext, text: str, style: TextStyle, spec: LanguageSpec, rate: float) -> list[TextStyle] | None:
    """Choose emphasised spans of a paragraph: per word of ``text.split()``, its style (mostly ``style``).

    A span of 1–4 words starts at a word with probability ``rate`` and is set in small capitals of the body face
    (one time in seven, cased scripts only), else in the italic (three times in four) or bold face of the body's
    family; a word the emphasis face cannot draw stays upright. Returns None when nothing was emphasised.
    """
    words = text.split()
    catalogue = ctx.typesetter.catalogue
    styles = [style] * len(words)
    emphasised = False
    i = 0
    while i < len(words):
        if ctx.rng.random() >= rate:
            i += 1
            continue
        small_caps = spec.script in _CASED_SCRIPTS and ctx.chance(1 / 7)
        italic = not small_caps and ctx.chance(0.75)
        if small_caps:
            face: FontFace | None = style.face
        else:
            face = catalogue.variant(style.face, bold=not italic or style.face.bold, italic=italic or style.face.italic)
        length = int(ctx.rng.choice([1, 1, 1, 2, 2, 3, 4]))
        if face is not None and (small_caps or face != style.face):
            emphasis = TextStyle(face, style.size, style.color, small_caps=small_caps)
            for j in range(i, min(len(words), i + length)):
                if catalogue.covers(face, words[j].upper() if small_caps else words[j]):
                    styles[j] = emphasis
                    emphasised = True
        i += length
    return styles if emphasised else None


def _author_words(entry: str) -> int:
    """How many words of a reference entry (:meth:`TextSampler.reference_entry`) name its authors: up to the first
    word of two or more letters that ends with a full stop (``A. Author, B. Author.``, ``... et al.``).

    >>> _author_words("A. Smith, B. C. Jones. Deep reading. In Proc. X, 2019.")
    5
    """
    for index, word in enumerate(entry.split()):
        if word.endswith(".") and len(word.rstrip(".,")) >= 2:
            return index + 1
    return 0


def _references(
    ctx: PageContext,
    language: str,
    x: float,
    y: float,
    width: float,
    y_end: float,
    body_size: int,
    numbered: bool,
    section: int,
) -> tuple[float | None, int]:
    """Draw a reference list: a heading, then entries ``[1] A. Author, B. Author. Title. In Proc. ..., 2019.``
    with hanging labels (``[n]`` or ``n.``), as many as fit.

    Returns (bottom y or None if not even the heading and one entry fit, number of the next entry).
    """
    ts = ctx.typesetter
    spec = ctx.spec(language)
    sampler = ctx.sampler(language)
    size = body_size * ctx.uniform(1.1, 1.4)
    style = ctx.style(language, "heading", size)
    title = sampler.term(ctx.rng, "references")
    if numbered:
        title = f"{section}. {title}" if ctx.chance(0.5) else f"{section} {title}"
    title = ts.fit(title, style, spec)
    plan = ts.plan(title, style, spec, width, leading=1.2) if title else None
    entry_style = ctx.style(language, "body", max(7, body_size * ctx.uniform(0.8, 0.95)))
    if plan is None or plan.height() + entry_style.size * 4 > y_end - y:
        return None, 1
    y = _flow_plan(ctx, plan, x, y, "start") + size * 0.5
    bracketed = ctx.chance(0.75)
    caps_names = ctx.chance(0.25)  # author names in small capitals, as many journals set them
    number = 1
    for _ in range(int(ctx.rng.integers(3, 16))):
        label = f"[{number}]" if bracketed else f"{number}."
        entry = sampler.reference_entry(ctx.rng)
        bottom = _list_item(
            ctx,
            label,
            entry,
            entry_style,
            language,
            x,
            y,
            width,
            1.15,
            y_end - y,
            small_caps_words=_author_words(entry) if caps_names else 0,
        )
        if bottom is None:
            break
        y = bottom + entry_style.size * ctx.uniform(0.15, 0.5)
        number += 1
    return y, number


# ----------------------------------------------------------------------------------------------------- layouts
def article(ctx: PageContext) -> None:
    """A book or journal page: optional running header, title, byline, 1–3 columns of paragraphs, headings,
    lists, figures with captions and small tables, footnotes, and a page number."""
    rng = ctx.rng
    ts = ctx.typesetter
    lang = ctx.main
    sampler = ctx.sampler(lang)
    left, top, right, bottom = _margins(ctx)
    x0, x1 = left, ctx.width - right
    y, y_end = float(top), float(ctx.height - bottom)
    body_size = ctx.body_size()
    leading = ctx.uniform(1.15, 1.6)
    justify = ctx.chance(0.45) and ctx.spec(lang).spaced
    indent_first = ctx.chance(0.5)
    ctx.params.update({"body_size": body_size, "leading": round(leading, 3), "justify": justify})
    if ctx.chance(0.5):
        y = _running_header(ctx, x0, x1, y)
    footer = ctx.chance(0.65)
    if footer:
        y_end -= body_size * 2.2
    if ctx.chance(0.75):
        title_size = body_size * ctx.uniform(1.5, 2.8)
        style = ctx.style(lang, "title", title_size)
        align = "center" if ctx.chance(0.4) else "start"
        y = ts.paragraph(sampler.heading(rng, 2, 9), style, ctx.spec(lang), x0, y, x1 - x0, align=align, leading=1.15)
        y += title_size * ctx.uniform(0.4, 1.0)
        if ctx.chance(0.4):
            names = ", ".join(sampler.entity(rng, "name") for _ in range(int(rng.integers(1, 4))))
            style = ctx.style(lang, "caption", body_size * ctx.uniform(0.9, 1.15))
            y = ts.paragraph(names, style, ctx.spec(lang), x0, y, x1 - x0, align=align) + body_size
    # Footnotes are planned first so the columns stop above them.
    footnotes = []
    if ctx.chance(0.25):
        size = max(8, body_size * ctx.uniform(0.7, 0.85))
        style = ctx.style(lang, "body", size)
        for k in range(int(rng.integers(1, 4))):
            # The note's number is raised (a superscript) in most styles, as in the text that refers to it.
            mark = f"{SCRIPT_MARKS[0]}{k + 1}{SCRIPT_MARKS[2]}" if ctx.chance(0.7) else f"{k + 1}"
            text = ts.fit(f"{mark} " + sampler.paragraph(rng, 1, 2, scripts=True), style, ctx.spec(lang))
            if text:
                footnotes.append(ts.plan(text, style, ctx.spec(lang), x1 - x0, leading=1.2))
        notes_height = sum(p.height() + size * 0.4 for p in footnotes) + size
        if notes_height > (y_end - y) * 0.4:
            footnotes, notes_height = [], 0.0
        y_end -= notes_height
    min_column = body_size * 14
    max_columns = max(1, min(3, int((x1 - x0) // min_column)))
    columns = int(
        rng.choice(
            [1, 2, 3][:max_columns], p=np.array([0.45, 0.4, 0.15][:max_columns]) / sum([0.45, 0.4, 0.15][:max_columns])
        )
    )
    gutter = body_size * ctx.uniform(1.2, 2.5)
    col_width = (x1 - x0 - gutter * (columns - 1)) / columns
    ctx.params["columns"] = columns
    col_x = [x0 + i * (col_width + gutter) for i in range(columns)]
    if ctx.rtl:
        col_x = col_x[::-1]
    _flow(ctx, col_x, col_width, y, y_end, body_size, leading, justify, indent_first)
    if footnotes:
        ny = y_end + body_size * 0.5
        ctx.draw.line([(x0, ny), (x0 + (x1 - x0) * 0.3, ny)], fill=ctx.traits()["ink"], width=1)
        ny += body_size * 0.5
        for plan in footnotes:
            ny = _flow_plan(ctx, plan, x0, ny, "start") + plan.style.size * 0.4
    if footer:
        _running_footer(ctx, x0, x1, ctx.height - bottom)


def _flow(
    ctx: PageContext,
    col_x: list[float],
    col_width: float,
    y_start: float,
    y_end: float,
    body_size: int,
    leading: float,
    justify: bool,
    indent_first: bool,
) -> None:
    """Fill columns with headings, paragraphs, lists, figures and tables until the page is full."""
    rng = ctx.rng
    ts = ctx.typesetter
    column, y = 0, y_start
    section = int(rng.integers(1, 9))
    numbered = ctx.chance(0.4)
    # Papers emphasise words in italic or bold, hyphenate at line ends and end with a numbered reference list.
    emphasis_rate = 0.0 if ctx.chance(0.3) else ctx.uniform(0.01, 0.05)
    hyphen_prob = ctx.uniform(0.3, 0.9) if ctx.chance(0.5) else 0.0
    references_at = int(rng.integers(2, 14)) if ctx.chance(0.3) else -1
    ctx.params.update(
        {"emphasis_rate": round(emphasis_rate, 4), "hyphen_prob": round(hyphen_prob, 3), "references": references_at}
    )
    reference_number = 1
    blocks = 0
    while column < len(col_x) and blocks < 400:
        blocks += 1
        x = col_x[column]
        room = y_end - y
        lang = ctx.language()
        spec = ctx.spec(lang)
        sampler = ctx.sampler(lang)
        kind = ctx.pick(("paragraph",) * 13 + ("heading",) * 3 + ("list",) * 2 + ("figure", "table"))
        if blocks == 1 and ctx.chance(0.4):
            kind = "heading"
        if blocks >= references_at >= 0 and spec.script in ("latin", "cyrillic") and reference_number == 1:
            kind = "references"
        if kind == "references":
            bottom, reference_number = _references(ctx, lang, x, y, col_width, y_end, body_size, numbered, section)
            if bottom is None:
                column, y = column + 1, y_start
                continue
            y = bottom + body_size
        elif kind == "heading":
            size = body_size * ctx.uniform(1.1, 1.5)
            style = ctx.style(lang, "heading", size)
            text = sampler.heading(rng, 1, 6)
            if (
                spec.script in _CASED_SCRIPTS
                and ctx.chance(0.12)
                and ctx.typesetter.catalogue.covers(style.face, text.upper())
            ):
                style = replace(style, small_caps=True)
            if numbered:
                depth = int(rng.choice([1, 1, 2, 2, 3]))
                number = ".".join([str(section)] + [str(int(v)) for v in rng.integers(1, 6, size=depth - 1)])
                text = f"{number}. {text}" if depth == 1 and ctx.chance(0.6) else f"{number} {text}"
                section += 1
            text = ts.fit(text, style, spec)
            if not text:
                continue
            plan = ts.plan(text, style, spec, col_width, leading=1.2)
            needed = plan.height() + body_size * leading * 2
            if needed > room:
                column, y = column + 1, y_start
                continue
            y = _flow_plan(ctx, plan, x, y + (size * 0.6 if y > y_start else 0), "start") + size * 0.5
        elif kind == "list":
            size = body_size
            style = ctx.style(lang, "body", size)
            bullet_kind = int(rng.integers(4))
            symbol = ctx.pick(_BULLETS)
            indent = size * ctx.uniform(0.0, 2.0)
            for i in range(int(rng.integers(2, 7))):
                item = sampler.sentence(rng, 2, 14) if ctx.chance(0.6) else sampler.phrase(rng, 1, 5)
                bottom = _list_item(
                    ctx,
                    _bullet(i, bullet_kind, symbol),
                    item,
                    style,
                    lang,
                    x + indent,
                    y,
                    col_width - indent,
                    leading,
                    y_end - y,
                    emphasis_rate,
                )
                if bottom is None:
                    column, y = column + 1, y_start
                    break
                y = bottom + size * ctx.uniform(0.1, 0.5)
            y += size * 0.4
        elif kind == "figure":
            height = col_width * ctx.uniform(0.3, 0.7)
            caption_style = ctx.style(lang, "caption", body_size * 0.9)
            caption = ts.fit(
                f"{sampler.term(rng, 'figure')} {int(rng.integers(1, 20))}. {sampler.sentence(rng, 3, 12)}",
                caption_style,
                spec,
            )
            caption_styles = None
            if caption and ctx.chance(0.5):
                # "Figure 3." in the bold face of the caption's family, the rest as it is (a common journal style).
                bold = ts.catalogue.variant(caption_style.face, bold=True, italic=caption_style.face.italic)
                label_words = 2  # the figure terms of Latin and Cyrillic languages are one word, then "3."
                if bold is not None and spec.script in ("latin", "cyrillic"):
                    words = caption.split()
                    strong = TextStyle(bold, caption_style.size, caption_style.color)
                    caption_styles = [
                        strong if i < label_words and ts.catalogue.covers(bold, w) else caption_style
                        for i, w in enumerate(words)
                    ]
            plan = (
                ts.plan(caption, caption_style, spec, col_width, leading=1.2, word_styles=caption_styles)
                if caption
                else None
            )
            needed = height + (plan.height() if plan else 0) + body_size
            if needed > room:
                if room < body_size * 4:
                    column, y = column + 1, y_start
                continue
            _figure(ctx, x, y, col_width, height)
            y += height + body_size * 0.4
            if plan is not None:
                y = _flow_plan(ctx, plan, x, y, "center" if ctx.chance(0.5) else "start")
            y += body_size
        elif kind == "table":
            bottom = draw_table(ctx, x, y, col_width, room, language=lang, size=body_size * 0.9, max_rows=10)
            if bottom is None:
                if room < body_size * 6:
                    column, y = column + 1, y_start
                continue
            y = bottom + body_size
        else:
            style = ctx.style(lang, "body", body_size)
            text = ts.fit(sampler.paragraph(rng, 1, 6, scripts=True), style, spec)
            if not text:
                continue
            indent = body_size * ctx.uniform(1.0, 3.0) if indent_first else 0.0
            word_styles = _emphasis(ctx, text, style, spec, emphasis_rate) if emphasis_rate else None
            plan = ts.plan(
                text,
                style,
                spec,
                col_width,
                leading=leading,
                indent=indent,
                word_styles=word_styles,
                hyphenate=rng if hyphen_prob and spec.spaced else None,
                hyphen_prob=hyphen_prob,
            )
            align = "justify" if justify else "start"
            while plan.lines:
                fit = plan.lines_fitting(y_end - y)
                if fit == 0:
                    column, y = column + 1, y_start
                    if column >= len(col_x):
                        break
                    x = col_x[column]
                    continue
                head, plan = plan.split(fit)
                y = _flow_plan(ctx, head, x, y, align)
                if plan.lines:
                    column, y = column + 1, y_start
                    if column >= len(col_x):
                        break
                    x = col_x[column]
            y += 0 if indent_first else body_size * ctx.uniform(0.3, 1.0)
        if y >= y_end - body_size:
            column, y = column + 1, y_start


def form(ctx: PageContext) -> None:
    """A form: title, instructions, sections of label/value fields (inline, boxed or on lines), check boxes and a
    signature line. Values are often in a handwriting-like face and blue ink."""
    rng = ctx.rng
    ts = ctx.typesetter
    lang = ctx.main
    spec = ctx.spec(lang)
    sampler = ctx.sampler(lang)
    left, top, right, bottom = _margins(ctx, 0.05, 0.09)
    x0, x1 = left, ctx.width - right
    y, y_end = float(top), float(ctx.height - bottom)
    size = ctx.body_size()
    ink = ctx.traits()["ink"]
    handwritten = ctx.chance(0.5)
    value_color = ctx.pick(_HAND_INKS) if handwritten else ink
    value_role = "hand" if handwritten else ctx.pick(("body", "mono"))
    ctx.params.update({"body_size": size, "handwritten": handwritten})
    if ctx.chance(0.5):
        y = _running_header(ctx, x0, x1, y)
    title_style = ctx.style(lang, "title", size * ctx.uniform(1.4, 2.2))
    y = ts.paragraph(sampler.heading(rng, 2, 6), title_style, spec, x0, y, x1 - x0, align=ctx.pick(("center", "start")))
    y += size * 0.8
    if ctx.chance(0.5):
        y = ts.paragraph(sampler.paragraph(rng, 1, 2), ctx.style(lang, "body", size * 0.9), spec, x0, y, x1 - x0)
        y += size
    label_style = ctx.style(lang, "label", size)
    value_style = ctx.style(lang, value_role, size * ctx.uniform(1.0, 1.3), color=value_color)
    columns = int(rng.integers(1, 4)) if x1 - x0 > size * 40 else 1
    gutter = size * 1.5
    col_width = (x1 - x0 - gutter * (columns - 1)) / columns
    labels = sampler.labels()
    field_style = ctx.pick(("inline", "boxed", "underline"))
    ctx.params.update({"columns": columns, "field_style": field_style})
    row_height = size * (3.4 if field_style == "boxed" else 2.2)
    sections = int(rng.integers(1, 4))
    for s in range(sections):
        if y + size * 3 > y_end:
            break
        band = ctx.chance(0.4)
        heading_style = ctx.style(lang, "heading", size * 1.1, color=(255, 255, 255) if band else None)
        ascent, descent = ts.metrics(heading_style, spec)
        if band:
            fill = tuple(int(v) for v in rng.integers(0, 90, size=3))
            _rect(ctx.draw, [x0, y, x1, y + ascent + descent + size * 0.6], fill=fill)
        text = f"{s + 1}. {sampler.heading(rng, 1, 4)}" if ctx.chance(0.5) else sampler.heading(rng, 1, 4)
        _single(ctx, text, heading_style, lang, x0 + size * 0.3, y + size * 0.3 + ascent, x1 - x0 - size * 0.6)
        y += ascent + descent + size * 1.2
        for _ in range(int(rng.integers(2, 7))):
            if y + row_height > y_end:
                break
            for c in range(columns):
                cx = x0 + c * (col_width + gutter)
                if ctx.rtl:
                    cx = x1 - (c + 1) * col_width - c * gutter
                label, kind = ctx.pick(labels)
                value = sampler.entity(rng, kind) if ctx.chance(0.9) else ""
                _field(ctx, field_style, label, value, label_style, value_style, lang, cx, y, col_width)
            y += row_height
        if ctx.chance(0.5) and y + size * 2.5 < y_end:
            y = _checkboxes(ctx, lang, label_style, x0, y, x1 - x0) + size
        y += size * 0.6
    if y + size * 4 < y_end and ctx.chance(0.6):
        # Signature and date lines.
        y += size * 2
        for i, key in enumerate(("signature", "date")):
            width = (x1 - x0) * 0.4
            sx = x0 + i * (x1 - x0) * 0.55
            ctx.draw.line([(sx, y), (sx + width, y)], fill=ink, width=1)
            label = ctx.pick(labels)[0] if key == "signature" else ctx.pick([lb for lb, k in labels if k == "date"])
            _single(ctx, label, ctx.style(lang, "caption", size * 0.85), lang, sx, y + size * 1.1, width)
    if ctx.chance(0.5):
        _running_footer(ctx, x0, x1, ctx.height - bottom * 0.5)


def _field(
    ctx: PageContext,
    style_name: str,
    label: str,
    value: str,
    label_style: TextStyle,
    value_style: TextStyle,
    language: str,
    x: float,
    y: float,
    width: float,
) -> None:
    ts = ctx.typesetter
    spec = ctx.spec(language)
    ink = ctx.traits()["ink"]
    colon = "" if not spec.spaced and ctx.chance(0.5) else ":"
    label_text = label + colon if ctx.chance(0.8) else label
    size = label_style.size
    ascent, descent = ts.metrics(label_style, spec)
    if style_name == "inline":
        baseline = y + ascent + size * 0.3
        runs = [(label_text, label_style)] + ([(value, value_style)] if value else [])
        ids, _used = _place_runs(ctx, runs, language, x, baseline, width, size * ctx.uniform(0.4, 1.5))
        ctx.annotations.add_paragraph([ctx.annotations.add_line(ids)])
        return
    if style_name == "boxed":
        small = TextStyle(label_style.face, max(7, int(size * 0.8)), label_style.color)
        s_ascent, s_descent = ts.metrics(small, spec)
        _single(ctx, label_text, small, language, x, y + s_ascent, width)
        box_top = y + s_ascent + s_descent + size * 0.2
        box_bottom = y + size * 3.0
        _rect(ctx.draw, [x, box_top, x + width - size * 0.5, box_bottom], outline=ink, width=1)
        if value:
            v_ascent, v_descent = ts.metrics(value_style, spec)
            baseline = (box_top + box_bottom + v_ascent - v_descent) / 2
            _single(ctx, value, value_style, language, x + size * 0.4, baseline, width - size * 1.3)
        return
    # Underlined: label, then a line the value is written on.
    baseline = y + ascent + size * 0.4
    ids, used = _place_runs(ctx, [(label_text, label_style)], language, x, baseline, width, size * 0.5)
    ctx.annotations.add_paragraph([ctx.annotations.add_line(ids)])
    line_x0 = x + used if spec.direction != "rtl" else x
    line_x1 = x + width - size * 0.5 if spec.direction != "rtl" else x + width - used
    ctx.draw.line([(line_x0, baseline + descent + 1), (line_x1, baseline + descent + 1)], fill=ink, width=1)
    if value and line_x1 - line_x0 > size * 2:
        _single(ctx, value, value_style, language, line_x0 + size * 0.3, baseline, line_x1 - line_x0 - size * 0.3)


def _checkboxes(ctx: PageContext, language: str, style: TextStyle, x: float, y: float, width: float) -> float:
    """A question and a row of check boxes with option labels; some boxes ticked. Returns the bottom y."""
    ts = ctx.typesetter
    spec = ctx.spec(language)
    sampler = ctx.sampler(language)
    size = style.size
    ascent, descent = ts.metrics(style, spec)
    baseline = y + ascent
    question = sampler.phrase(ctx.rng, 2, 5) + ("?" if spec.script in ("latin", "cyrillic") else "")
    # The question takes the first half of the row (the right half in right-to-left text).
    question_x = x + width * 0.5 if ctx.rtl else x
    ids, used = _place_runs(ctx, [(question, style)], language, question_x, baseline, width * 0.5, size)
    ctx.annotations.add_paragraph([ctx.annotations.add_line(ids)])
    cursor = used + size
    ink = ctx.traits()["ink"]
    for _ in range(int(ctx.rng.integers(2, 5))):
        option = ts.fit(sampler.phrase(ctx.rng, 1, 2), style, spec)
        if not option:
            continue
        option_width = ts.text_width(option, style, spec)
        if cursor + size * 1.6 + option_width > width:
            break
        box = size * 0.9
        bx = x + cursor if not ctx.rtl else x + width - cursor - box
        by = baseline - box * 0.9
        _rect(ctx.draw, [bx, by, bx + box, by + box], outline=ink, width=1)
        if ctx.chance(0.4):
            ctx.draw.line(
                [(bx + 2, by + box * 0.5), (bx + box * 0.4, by + box - 2), (bx + box + 1, by - 2)], fill=ink, width=2
            )
        text_x = bx + box + size * 0.4 if not ctx.rtl else bx - size * 0.4 - option_width - 1
        ids, _ = _place_runs(ctx, [(option, style)], language, text_x, baseline, option_width + 2, 0)
        ctx.annotations.add_paragraph([ctx.annotations.add_line(ids)])
        cursor += box + size * 0.4 + option_width + size * 1.2
    return baseline + descent


def table_page(ctx: PageContext) -> None:
    """A page built around one or two tables, with a title, an introduction and notes."""
    rng = ctx.rng
    ts = ctx.typesetter
    lang = ctx.main
    spec = ctx.spec(lang)
    sampler = ctx.sampler(lang)
    left, top, right, bottom = _margins(ctx)
    x0, x1 = left, ctx.width - right
    y, y_end = float(top), float(ctx.height - bottom)
    size = ctx.body_size()
    ctx.params["body_size"] = size
    if ctx.chance(0.4):
        y = _running_header(ctx, x0, x1, y)
    if ctx.chance(0.7):
        y = ts.paragraph(sampler.heading(rng, 2, 7), ctx.style(lang, "title", size * 1.6), spec, x0, y, x1 - x0)
        y += size * 0.8
    if ctx.chance(0.5):
        y = ts.paragraph(sampler.paragraph(rng, 1, 3), ctx.style(lang, "body", size), spec, x0, y, x1 - x0) + size
    for _ in range(4):
        if y_end - y < size * 8:
            break
        if ctx.chance(0.5):
            caption = f"{sampler.term(rng, 'figure')} {int(rng.integers(1, 12))}. {sampler.heading(rng, 2, 6)}"
            y = ts.paragraph(caption, ctx.style(lang, "caption", size), spec, x0, y, x1 - x0) + size * 0.5
        max_rows = int(rng.integers(4, 40))
        bottom_y = draw_table(ctx, x0, y, x1 - x0, y_end - y, language=lang, size=size, max_rows=max_rows)
        if bottom_y is None:
            break
        y = bottom_y + size * 1.5
        if ctx.chance(0.6) and y_end - y > size * 3:
            note_style = ctx.style(lang, "caption", size * 0.8)
            y = ts.paragraph(sampler.paragraph(rng, 1, 2), note_style, spec, x0, y, x1 - x0) + size
    if ctx.chance(0.5):
        _running_footer(ctx, x0, x1, ctx.height - bottom * 0.5)


def receipt(ctx: PageContext) -> None:
    """A till receipt on a desk or plain background: shop name and address, items with prices, totals, payment,
    a thank-you line and a barcode, usually in a monospaced face."""
    rng = ctx.rng
    ts = ctx.typesetter
    lang = ctx.main
    spec = ctx.spec(lang)
    sampler = ctx.sampler(lang)
    if ctx.chance(0.6):
        ctx.image.paste(Image.fromarray(photo_background(int(rng.integers(2**31)), ctx.width, ctx.height)))
    else:
        _rect(ctx.draw, [0, 0, ctx.width, ctx.height], fill=tuple(int(v) for v in rng.integers(60, 230, size=3)))
    paper_width = int(ctx.width * ctx.uniform(0.38, 0.6))
    size = int(max(11, min(22, paper_width / ctx.uniform(24, 34))))
    role = "mono" if ctx.chance(0.7) else "body"
    style = ctx.style(lang, role, size)
    bold = ctx.style(lang, "title", size * ctx.uniform(1.1, 1.6))
    ascent, descent = ts.metrics(style, spec)
    pitch = size * ctx.uniform(1.25, 1.6)
    px0 = int(rng.integers(ctx.width // 20, ctx.width - paper_width - ctx.width // 20))
    py0 = int(ctx.height * ctx.uniform(0.02, 0.08))
    py1 = int(ctx.height * ctx.uniform(0.9, 0.99))
    paper = tuple(int(v) for v in rng.integers(235, 256, size=3))
    desk = ctx.image.crop((px0, py0, px0 + paper_width + 1, py1 + 1))
    _rect(ctx.draw, [px0, py0, px0 + paper_width, py1], fill=paper)
    pad = size * 1.2
    x0, x1 = px0 + pad, px0 + paper_width - pad
    width = x1 - x0
    y = py0 + pad
    ctx.params.update({"body_size": size, "paper_width": paper_width})
    ink = ctx.traits()["ink"]

    def centered(text: str, st: TextStyle) -> None:
        nonlocal y
        a, d = ts.metrics(st, spec)
        if y + a + d > py1 - pad:
            return
        _single(ctx, text, st, lang, x0, y + a, width, "center")
        y += max(pitch, (a + d) * 1.25)

    def separator() -> None:
        nonlocal y
        if ctx.chance(0.5):
            for dx in np.arange(x0, x1, size * 0.6):
                ctx.draw.line([(dx, y + size * 0.3), (dx + size * 0.35, y + size * 0.3)], fill=ink, width=1)
        else:
            ctx.draw.line([(x0, y + size * 0.3), (x1, y + size * 0.3)], fill=ink, width=1)
        y += size

    def row(left_text: str, right_text: str, st: TextStyle) -> None:
        nonlocal y
        a, d = ts.metrics(st, spec)
        if y + a + d > py1 - pad:
            return
        right_width = ts.text_width(ts.fit(right_text, st, spec), st, spec) + 2
        first, second = (right_text, left_text) if ctx.rtl else (left_text, right_text)
        # Reading order: item then price, whichever side each is on.
        if ctx.rtl:
            _single(ctx, second, st, lang, x0 + right_width + size, y + a, width - right_width - size, "start")
            _single(ctx, first, st, lang, x0, y + a, right_width, "start")
        else:
            _single(ctx, first, st, lang, x0, y + a, width - right_width - size, "start")
            _single(ctx, second, st, lang, x1 - right_width, y + a, right_width, "end")
        y += max(pitch, (a + d) * 1.2)

    centered(sampler.entity(rng, "company"), bold)
    for text in sampler.entity(rng, "address").split(", ")[:3]:
        centered(text, style)
    if ctx.chance(0.6):
        centered(sampler.entity(rng, "phone"), style)
    separator()
    stamp = f"{sampler.date(rng)} {int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}"
    row(stamp, sampler.code(rng), style)
    separator()
    total = 0.0
    for _ in range(int(rng.integers(2, 14))):
        item = sampler.phrase(rng, 1, 3)
        if spec.script in ("latin", "cyrillic") and ctx.chance(0.6):
            item = item.upper()
        quantity = int(rng.integers(1, 4))
        price = float(np.exp(rng.uniform(-0.5, 4)))
        total += quantity * price
        if quantity > 1 and ctx.chance(0.5):
            item = f"{quantity} x {item}"
        row(item, f"{quantity * price:.2f}", style)
    separator()
    tax = total * 0.08
    row(sampler.term(rng, "subtotal"), f"{total:.2f}", style)
    row(sampler.term(rng, "tax"), f"{tax:.2f}", style)
    row(sampler.term(rng, "total"), f"{total + tax:.2f}", bold)
    paid = math.ceil(total + tax)
    row(sampler.term(rng, "payment"), f"{paid:.2f}", style)
    row(sampler.term(rng, "change"), f"{paid - total - tax:.2f}", style)
    separator()
    centered(sampler.term(rng, "thanks"), style)
    if y + size * 4 < py1 - pad and ctx.chance(0.7):
        # A barcode: bars only, no text.
        bx, bar_top = x0 + width * 0.15, y + size * 0.5
        limit = x0 + width * 0.85
        while bx < limit:
            bar = float(rng.choice([1, 2, 3]))
            _rect(ctx.draw, [bx, bar_top, bx + bar - 1, bar_top + size * 2.5], fill=ink)
            bx += bar + float(rng.choice([1, 2, 3]))
        y += size * 3
    # The paper ends a little below the last line: put the desk back under the rest of the strip.
    cut = int(min(py1, y + pad * ctx.uniform(1.0, 3.0)))
    if cut < py1:
        ctx.image.paste(desk.crop((0, cut - py0, desk.width, desk.height)), (px0, cut))


def slide(ctx: PageContext) -> None:
    """A presentation slide: coloured, gradient or picture background, a large title, bullet points (two levels),
    sometimes a chart, and a footer with the slide number."""
    rng = ctx.rng
    ts = ctx.typesetter
    lang = ctx.main
    spec = ctx.spec(lang)
    sampler = ctx.sampler(lang)
    dark = ctx.chance(0.4)
    kind = ctx.pick(("plain", "gradient", "photo"))
    if kind == "photo":
        picture = photo_background(int(rng.integers(2**31)), ctx.width, ctx.height).astype(np.float32)
        # Wash the picture towards the text's opposite so that text stays readable.
        target = 20.0 if dark else 240.0
        picture = picture * 0.35 + target * 0.65
        ctx.image.paste(Image.fromarray(picture.astype(np.uint8)))
    else:
        base = rng.integers(0, 70, size=3) if dark else rng.integers(200, 256, size=3)
        other = np.clip(base + rng.integers(-40, 41, size=3), 0, 255) if kind == "gradient" else base
        ramp = np.linspace(0, 1, ctx.height, dtype=np.float32)[:, None, None]
        canvas = base[None, None, :] * (1 - ramp) + other[None, None, :] * ramp
        ctx.image.paste(Image.fromarray(np.broadcast_to(canvas, (ctx.height, ctx.width, 3)).astype(np.uint8)))
    ink = tuple(int(v) for v in (rng.integers(215, 256, size=3) if dark else rng.integers(0, 60, size=3)))
    accent = ink if ctx.chance(0.5) else tuple(int(v) for v in rng.integers(0, 256, size=3))
    ctx.params.update({"dark": dark, "background": kind})
    left = int(ctx.width * ctx.uniform(0.05, 0.1))
    x0, x1 = left, ctx.width - left
    y = ctx.height * ctx.uniform(0.06, 0.12)
    size = max(14, int(ctx.height / ctx.uniform(16, 26)))
    title_style = ctx.style(lang, "title", size * ctx.uniform(1.6, 2.4), color=accent)
    y = ts.paragraph(sampler.heading(rng, 2, 7), title_style, spec, x0, y, x1 - x0, align=ctx.pick(("start", "center")))
    y += size * 1.0
    if ctx.chance(0.5):
        ctx.draw.line([(x0, y - size * 0.5), (x1, y - size * 0.5)], fill=accent, width=int(rng.integers(1, 4)))
    chart = ctx.chance(0.3)
    text_right = x0 + (x1 - x0) * (0.55 if chart else 1.0)
    body_style = ctx.style(lang, "body", size, color=ink)
    small_style = ctx.style(lang, "body", size * 0.85, color=ink)
    y_end = ctx.height * 0.88
    for i in range(int(rng.integers(2, 7))):
        level = 1 if i > 0 and ctx.chance(0.3) else 0
        st = small_style if level else body_style
        indent = level * size * 1.5
        text = sampler.sentence(rng, 2, 10) if ctx.chance(0.5) else sampler.phrase(rng, 1, 5)
        bullet = "–" if level else ctx.pick(("•", "▪", "›", "-"))
        bottom = _list_item(ctx, bullet, text, st, lang, x0 + indent, y, text_right - x0 - indent, 1.2, y_end - y)
        if bottom is None:
            break
        y = bottom + size * ctx.uniform(0.4, 0.9)
    if chart:
        _figure(ctx, text_right + size, ctx.height * 0.3, x1 - text_right - size, ctx.height * 0.45)
    footer_style = ctx.style(lang, "caption", size * 0.6, color=ink)
    baseline = ctx.height * 0.95
    if ctx.chance(0.5):
        _single(ctx, sampler.entity(rng, "company"), footer_style, lang, x0, baseline, (x1 - x0) * 0.6)
    _single(
        ctx, str(int(rng.integers(1, 60))), footer_style, lang, x0, baseline, x1 - x0, "end" if not ctx.rtl else "start"
    )


def scene(ctx: PageContext) -> None:
    """Scattered text over a photo-like background: signs, labels and captions of varied size, colour and angle,
    some on plates or with outlines. Each item is drawn on its own patch and pasted with its rotation, its quads
    moved by the same matrix."""
    rng = ctx.rng
    ctx.image.paste(Image.fromarray(photo_background(int(rng.integers(2**31)), ctx.width, ctx.height)))
    occupied: list[tuple[float, float, float, float]] = []
    count = int(rng.integers(3, 13))
    placed = 0
    for _ in range(count * 4):
        if placed >= count:
            break
        lang = ctx.language()
        if _scene_item(ctx, lang, occupied):
            placed += 1
    ctx.params["items"] = placed


def _scene_item(ctx: PageContext, language: str, occupied: list[tuple[float, float, float, float]]) -> bool:
    """Place one scene text item; return False if it found no free spot."""
    rng = ctx.rng
    spec = ctx.spec(language)
    sampler = ctx.sampler(language)
    size = int(ctx.height * ctx.uniform(0.025, 0.09))
    face = ctx.face(language, ctx.pick(("title", "body", "heading", "hand")))
    text = sampler.phrase(rng, 1, 3) if ctx.chance(0.7) else sampler.entity(rng, ctx.pick(("phone", "amount", "name")))
    if spec.script in ("latin", "cyrillic") and ctx.chance(0.4):
        text = text.upper()
    plate = ctx.chance(0.4)
    patch_builder = AnnotationBuilder()
    catalogue = ctx.typesetter.catalogue
    white = TextStyle(face, size, (255, 255, 255))
    measure = Typesetter(Image.new("RGB", (1, 1)), catalogue, patch_builder)
    text = measure.fit(text, white, spec)
    if not text:
        return False
    plan = measure.plan(text, white, spec, ctx.width * 0.8, leading=1.15)
    if len(plan.lines) > 2:
        plan, _ = plan.split(2)
        plan.lines[-1].last = True
    plan.width = max(line.width for line in plan.lines)
    margin = size * (0.5 if plate else 0.2)
    pw, ph = int(plan.width + 2 * margin + 2), int(plan.height() + 2 * margin + 2)
    angle = ctx.uniform(-30, 30) if ctx.chance(0.5) else ctx.uniform(-4, 4)
    a = math.radians(angle)
    rotation = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    corners = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], dtype=np.float64) @ rotation.T
    span = corners.max(0) - corners.min(0)
    if span[0] >= ctx.width * 0.95 or span[1] >= ctx.height * 0.95:
        return False
    for _ in range(10):
        ox = ctx.uniform(0, ctx.width - span[0])
        oy = ctx.uniform(0, ctx.height - span[1])
        box = (ox, oy, ox + span[0], oy + span[1])
        if all(box[2] < o[0] or box[0] > o[2] or box[3] < o[1] or box[1] > o[3] for o in occupied):
            break
    else:
        return False
    occupied.append(box)
    x0, y0 = int(math.floor(box[0])), int(math.floor(box[1]))
    x1, y1 = min(ctx.width, int(math.ceil(box[2])) + 1), min(ctx.height, int(math.ceil(box[3])) + 1)
    region = np.asarray(ctx.image.crop((x0, y0, x1, y1)), dtype=np.float32)
    # Text contrasting with what lies under it (or with its plate), as signs and labels are designed.
    bright = float(region.mean()) > 128
    under = np.asarray(ctx.rng.integers(0, 256, size=3)) if plate else None
    if plate:
        bright = float(under.mean()) > 128
    color = rng.integers(0, 90, size=3) if bright else rng.integers(170, 256, size=3)
    if ctx.chance(0.15):
        # Sometimes a saturated colour, as long as it stays legible against what lies under it.
        candidate = rng.integers(0, 256, size=3)
        ground = under if plate else region.reshape(-1, 3).mean(0)
        if abs(float(candidate.mean()) - float(np.mean(ground))) > 90:
            color = candidate
    # The text is drawn white on black as a coverage mask, then coloured: no dark fringes on transparent edges.
    patch = Image.new("RGB", (pw, ph), (0, 0, 0))
    typesetter = Typesetter(patch, catalogue, patch_builder)
    line_ids, _ = typesetter.draw_plan(plan, margin, margin, align="center")
    patch_builder.add_paragraph(line_ids)
    matrix = np.eye(3)
    matrix[:2, :2] = rotation
    matrix[:2, 2] = np.array([ox, oy]) - corners.min(0)
    local = matrix.copy()
    local[:2, 2] -= (x0, y0)
    half = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    local_cv = (np.linalg.inv(half) @ local @ half)[:2]
    size_out = (x1 - x0, y1 - y0)
    coverage = cv2.warpAffine(np.asarray(patch)[..., 0], local_cv, size_out, flags=cv2.INTER_LINEAR)
    text_alpha = coverage.astype(np.float32)[..., None] / 255.0
    if plate:
        plate_alpha = cv2.warpAffine(np.full((ph, pw), 255, np.uint8), local_cv, size_out, flags=cv2.INTER_LINEAR)
        plate_alpha = plate_alpha.astype(np.float32)[..., None] / 255.0
        region = region * (1 - plate_alpha) + under.astype(np.float32) * plate_alpha
    blended = region * (1 - text_alpha) + color.astype(np.float32) * text_alpha
    ctx.image.paste(Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8)), (x0, y0))
    ctx.annotations.merge(patch_builder, matrix)
    return True


def vertical(ctx: PageContext) -> None:
    """Chinese or Japanese text in vertical columns read right to left, with a title column; other languages
    get an article instead."""
    lang = ctx.main
    spec = ctx.spec(lang)
    if not spec.vertical:
        ctx.params["fallback"] = "article"
        article(ctx)
        return
    rng = ctx.rng
    ts = ctx.typesetter
    sampler = ctx.sampler(lang)
    left, top, right, bottom = _margins(ctx, 0.06, 0.1)
    size = ctx.body_size()
    pitch = size * ctx.uniform(1.4, 2.0)
    x = ctx.width - right - size / 2
    y0, height = float(top), float(ctx.height - top - bottom)
    ctx.params.update({"body_size": size, "column_pitch": round(pitch, 2)})
    title_style = ctx.style(lang, "title", size * ctx.uniform(1.3, 1.8))
    _line, _used = ts.vertical_column(sampler.heading(rng, 2, 5), title_style, spec, x - size * 0.2, y0, height)
    if _line is not None:
        ctx.annotations.add_paragraph([_line])
    x -= pitch * 1.8
    style = ctx.style(lang, "body", size)
    while x > left + size / 2:
        text = sampler.paragraph(rng, 1, 3)
        lines: list[int | None] = []
        indent = size if ctx.chance(0.7) else 0.0
        while text and x > left + size / 2:
            line_id, consumed = ts.vertical_column(text, style, spec, x, y0 + indent, height - indent)
            indent = 0.0
            text = text[consumed:]
            if line_id is not None:
                lines.append(line_id)
            x -= pitch
        ctx.annotations.add_paragraph(lines)
        x -= pitch * 0.3


LAYOUTS: dict[str, Callable[[PageContext], None]] = {
    "article": article,
    "form": form,
    "table": table_page,
    "receipt": receipt,
    "slide": slide,
    "scene": scene,
    "vertical": vertical,
}
