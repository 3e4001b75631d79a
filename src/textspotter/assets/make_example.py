"""Render the bundled example pages and their ground truth.

``example.png`` / ``example.txt``: an English page (the default model's example). ``example-multi.png`` /
``example-multi.txt``: one notice in the six languages of the multilingual model, one line each (Simplified and
Traditional Chinese, Japanese and Korean in the matching Noto Sans CJK face, English and Russian in DejaVu Sans).

Run ``python -m textspotter.assets.make_example`` to regenerate all four files next to this script. The drawing is
deterministic for a given Pillow / FreeType version and needs the DejaVu fonts (Debian ``fonts-dejavu-core``) and,
for the multilingual page, Noto CJK (``fonts-noto-cjk``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
PAGE_SIZE = (1000, 700)
MARGIN = 60

TITLE = "Annual Report of the Riverside Library"
PARAGRAPHS = (
    "The Riverside Library welcomed more visitors this year than in any year since it opened. Most of them "
    "came for the reading room, the children's corner and the evening classes on local history.",
    "A new roof was finished in the spring, and the old card catalogue was replaced by a public computer "
    "system. The library thanks every volunteer who helped to move the books back onto the shelves.",
)
FACTS = (
    ("Opening hours:", "9 am to 6 pm, Monday to Saturday"),
    ("Books on loan:", "12,480"),
    ("New members:", "1,163"),
    ("Address:", "14 Mill Street, Riverside"),
)


def wrap(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Greedily break ``text`` into lines no wider than ``max_width`` pixels."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and font.getlength(candidate) > max_width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def render() -> tuple[Image.Image, str]:
    """Draw the page and return it with its ground truth (lines joined by newlines, paragraphs by blank lines)."""
    title_font = ImageFont.truetype(str(FONT_DIR / "DejaVuSerif-Bold.ttf"), 28)
    body_font = ImageFont.truetype(str(FONT_DIR / "DejaVuSerif.ttf"), 20)
    label_font = ImageFont.truetype(str(FONT_DIR / "DejaVuSans-Bold.ttf"), 18)
    value_font = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), 18)

    # Grey-scale keeps the PNG small; the loader turns it into RGB.
    page = Image.new("L", PAGE_SIZE, 255)
    draw = ImageDraw.Draw(page)
    truth: list[str] = []

    y = 50
    draw.text((MARGIN, y), TITLE, font=title_font, fill=0)
    truth.append(TITLE)
    y += 70
    for paragraph in PARAGRAPHS:
        lines = wrap(paragraph, body_font, PAGE_SIZE[0] - 2 * MARGIN)
        for line in lines:
            draw.text((MARGIN, y), line, font=body_font, fill=0)
            y += 30
        truth.append("\n".join(lines))
        y += 24

    y += 16
    value_x = MARGIN + 200  # the second column
    for label, value in FACTS:
        draw.text((MARGIN, y), label, font=label_font, fill=0)
        draw.text((value_x, y), value, font=value_font, fill=0)
        y += 32
    truth.append("\n".join(f"{label} {value}" for label, value in FACTS))
    return page, "\n\n".join(truth) + "\n"


NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
# Face index of each language in NotoSansCJK-Regular.ttc (JP, KR, SC, TC, HK in that order).
CJK_FACE = {"ja": 0, "ko": 1, "zh-Hans": 2, "zh-Hant": 3}
MULTI_PAGE_SIZE = (900, 420)
MULTI_LINES = (
    ("en", "Notice to readers of the city library"),
    ("zh-Hans", "图书馆每天上午九点开门，晚上六点关门。"),
    ("zh-Hant", "新的閱覽室已經開放，歡迎大家使用。"),
    ("ja", "本の返却は入口の右側にある箱へお願いします。"),
    ("ko", "도서관은 일요일과 공휴일에 문을 닫습니다."),
    ("ru", "Читальный зал открыт с понедельника по субботу."),
)


def render_multi() -> tuple[Image.Image, str]:
    """Draw the multilingual notice and return it with its ground truth (one line per language)."""
    page = Image.new("L", MULTI_PAGE_SIZE, 255)
    draw = ImageDraw.Draw(page)
    y = 40
    for language, line in MULTI_LINES:
        if language in CJK_FACE:
            font = ImageFont.truetype(str(NOTO_CJK), 26, index=CJK_FACE[language])
        else:
            font = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), 24)
        draw.text((MARGIN, y), line, font=font, fill=0)
        y += 58
    return page, "\n".join(line for _, line in MULTI_LINES) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent, help="where to write the two files")
    args = parser.parse_args()
    image, text = render()
    image.save(args.out_dir / "example.png", optimize=True)
    (args.out_dir / "example.txt").write_text(text, encoding="utf-8")
    image, text = render_multi()
    image.save(args.out_dir / "example-multi.png", optimize=True)
    (args.out_dir / "example-multi.txt").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
