"""Start-up time and memory of ``textspotter read`` (issue #20): import, ``OCR()``, peak RSS, RSS over a long PDF.

Every figure comes from fresh interpreters (this process imports nothing heavy itself):

* ``import textspotter`` and ``import torch`` (the floor: the pipeline needs torch), median of ``--repeats``;
* ``OCR()`` with the shipped default model, timed inside a fresh process after ``import textspotter``, so it includes
  importing torch; and again after torch is imported, which is the part textspotter controls;
* peak RSS (``ru_maxrss``) of ``textspotter read`` on a generated 300-dpi US-letter page (2550 × 3300, two columns
  of 10-pt text), with the default options;
* RSS of one process reading a generated ``--pages``-page PDF through ``OCR.read_iter``, sampled after the first
  batch and the batches that end past pages 100, 200, ... (``VmRSS``; ``VmHWM`` is the peak so far): it must not
  grow with the pages. Pages go to
  ``on_page`` and are not kept (``keep_pages=False``, what ``textspotter read`` does when every output format is
  written page by page); ``--keep-pages`` keeps them in their Document, as ``OCR.read`` must.

    python benchmarks/startup_memory.py --out runs/startup-memory
    python benchmarks/startup_memory.py --out runs/startup-memory --pages 500 --pdf-infer-length 512  # cheaper PDF

The PDF run reads every page at the model's detector side unless ``--pdf-infer-length`` is given (about 3 CPU-s per
page at 1536 on 2 cores; memory per page does not depend on the page's content).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

LETTER_300DPI = (2550, 3300)
WORDS = (  # noqa: SIM905 - a word list reads better as one string
    "the of and to in is that for it as with was on be by this are from at or an which have not but "
    "document engine reading order paragraph column detector recognizer relational model page memory start"
).split()
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"


def make_page(seed: int, size: tuple[int, int] = LETTER_300DPI, columns: int = 2, max_lines: int | None = None):  # noqa: ANN201 - PIL image
    """Render a white page with a title and ``columns`` columns of 10-pt text (at 300 dpi) from a seeded word list.

    ``max_lines`` caps the lines per column (None: down to the bottom margin).
    """
    import random

    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    scale = size[0] / LETTER_300DPI[0]
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    try:
        font = ImageFont.truetype(FONT, round(42 * scale))
        title = ImageFont.truetype(FONT, round(72 * scale))
    except OSError:  # no DejaVu here: PIL's own scalable font
        font, title = ImageFont.load_default(round(42 * scale)), ImageFont.load_default(round(72 * scale))
    margin, gap, line = round(300 * scale), round(150 * scale), round(58 * scale)
    draw.text((margin, round(250 * scale)), f"Page {seed + 1}: a test page", font=title, fill=0)
    column_width = (size[0] - 2 * margin - (columns - 1) * gap) // columns
    for column in range(columns):
        x, y = margin + column * (column_width + gap), round(450 * scale)
        lines = 0
        while y < size[1] - margin and (max_lines is None or lines < max_lines):
            lines += 1
            words, width = [], 0.0
            while True:
                word = rng.choice(WORDS)
                advance = draw.textlength(word + " ", font=font)
                if width + advance > column_width:
                    break
                words.append(word)
                width += advance
            draw.text((x, y), " ".join(words), font=font, fill=0)
            y += line * (2 if rng.random() < 0.08 else 1)
    return image


def make_pdf(path: Path, pages: int, dpi: int = 200, max_lines: int = 8) -> None:
    """Write a ``pages``-page PDF of images: US letter at ``dpi``, eight distinct pages of a title and ``max_lines``
    lines of text, repeated (light pages keep a long run affordable: memory per page does not depend on the text).
    """
    size = (round(8.5 * dpi), round(11 * dpi))
    distinct = [make_page(1000 + i, size, columns=1, max_lines=max_lines) for i in range(min(8, pages))]
    sequence = [distinct[i % len(distinct)] for i in range(pages)]
    sequence[0].save(path, save_all=True, append_images=sequence[1:], resolution=float(dpi))


def _fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter and return its last line of output."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1]


def _median_seconds(code: str, repeats: int) -> tuple[float, list[float]]:
    values = [float(_fresh(code)) for _ in range(repeats)]
    return statistics.median(values), values


def _peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """Run ``command``; return its peak RSS in MB (``ru_maxrss`` of that child alone) and its wall time."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed: {process.stderr.read().decode(errors='replace')[-2000:]}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start


PDF_READER = """
import json, sys, time
from textspotter import OCR
from textspotter.pipeline import ScaleOptions

def status():
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024

path, every, length, keep = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "keep"
ocr = OCR(device="cpu", scale=ScaleOptions(infer_length=length or None))
done, start = 0, time.perf_counter()
print(json.dumps({"page": 0, "rss_mb": status()[0], "peak_mb": status()[1], "seconds": 0.0}), flush=True)

def progress(pages):  # after each batch: its pages are out and its memory released
    global done
    before, done = done, done + pages
    if before == 0 or done // every > before // every:
        rss, peak = status()
        row = {"page": done, "rss_mb": rss, "peak_mb": peak, "seconds": round(time.perf_counter() - start, 1)}
        print(json.dumps(row), flush=True)

for document in ocr.read_iter(path, on_page=lambda position, page: None, keep_pages=keep, progress=progress):
    if document.error:
        raise SystemExit(document.error)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/startup-memory"), help="folder for generated inputs")
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per start-up timing (median)")
    parser.add_argument("--pages", type=int, default=500, help="pages of the generated PDF (0 skips the PDF run)")
    parser.add_argument("--every", type=int, default=100, help="sample RSS after page 1 and every N pages")
    parser.add_argument(
        "--pdf-infer-length", type=int, default=0, help="detector side for the PDF run (0: the model's own)"
    )
    parser.add_argument("--skip-startup", action="store_true", help="only the memory measurements")
    parser.add_argument("--keep-pages", action="store_true", help="PDF run: keep every page in its Document")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    loads = [os.getloadavg()]
    lines = [
        f"- command: python benchmarks/startup_memory.py --out {args.out} --repeats {args.repeats} --pages {args.pages}"
        + (f" --pdf-infer-length {args.pdf_infer_length}" if args.pdf_infer_length else "")
        + (" --skip-startup" if args.skip_startup else "")
        + (" --keep-pages" if args.keep_pages else "")
    ]

    if not args.skip_startup:
        timer = "import time\nt = time.perf_counter()\n{}\nprint(time.perf_counter() - t)"
        torch_s, _ = _median_seconds(timer.format("import torch"), args.repeats)
        import_s, _ = _median_seconds(timer.format("import textspotter"), args.repeats)
        ocr_code = "import time, textspotter\nt = time.perf_counter()\ntextspotter.OCR(device='cpu')\n"
        ocr_s, _ = _median_seconds(ocr_code + "print(time.perf_counter() - t)", args.repeats)
        warm_code = "import torch, numpy, textspotter.pipeline.ocr\n" + ocr_code + "print(time.perf_counter() - t)"
        warm_s, _ = _median_seconds(warm_code, args.repeats)
        lines += [
            f"- `import textspotter`: {import_s:.3f} s (median of {args.repeats} fresh processes)",
            f"- `import torch` alone (the floor of everything below): {torch_s:.2f} s",
            f"- `OCR()` in a fresh process after `import textspotter` (imports torch): {ocr_s:.2f} s",
            f"- `OCR()` once torch is imported (model build + weights): {warm_s:.2f} s",
        ]

    page = args.out / "letter-300dpi.png"
    if not page.exists():
        make_page(0).save(page, dpi=(300, 300))
    command = [sys.executable, "-m", "textspotter", "read", str(page), "--format", "json"]
    peak_mb, wall = _peak_rss_mb(command)
    lines.append(
        f"- peak RSS of `textspotter read` on a 300-dpi letter page (2550 x 3300): {peak_mb:.0f} MB ({wall:.0f} s)"
    )

    if args.pages:
        pdf = args.out / f"text-{args.pages}pages-8lines.pdf"
        if not pdf.exists():
            make_pdf(pdf, args.pages)
        keep = "keep" if args.keep_pages else "drop"
        reader = [sys.executable, "-c", PDF_READER, str(pdf), str(args.every), str(args.pdf_infer_length), keep]
        rows = []
        with subprocess.Popen(reader, stdout=subprocess.PIPE, text=True) as process:
            for line in process.stdout:  # one JSON row per sample, shown as it comes (a long run)
                rows.append(json.loads(line))
                print(f"  sample {line.strip()}", file=sys.stderr, flush=True)
        if process.returncode:
            raise RuntimeError(f"PDF run failed with exit status {process.returncode}")
        length = args.pdf_infer_length or "the model's"
        kept = "kept in their Document" if args.keep_pages else "passed on, not kept"
        lines.append(
            f"- RSS over a {args.pages}-page PDF (200 dpi, 8 lines a page, detector side {length}, pages {kept}), MB:"
        )
        lines.append("  | after page | RSS | peak so far | seconds |")
        lines.append("  |---|---|---|---|")
        lines += [f"  | {r['page']} | {r['rss_mb']} | {r['peak_mb']} | {r['seconds']} |" for r in rows]

    loads.append(os.getloadavg())
    import torch  # only for the version line, after every measurement

    lines.insert(
        1,
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} "
        f"CPUs, torch {torch.__version__}; load average (1 min) {loads[0][0]:.1f} at start, {loads[1][0]:.1f} at end",
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
