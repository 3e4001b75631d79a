"""Pages per second of ``--text-layer auto`` against ``--text-layer ocr`` on the same born-digital PDF pages (#21).

The first ``--pages`` pages of a PDF are copied into one PDF and read once per mode by one ``OCR`` instance per mode
(the model is loaded before the clock starts), with the shipped model unless ``--model`` is given. Prints one JSON
line per mode: pages, seconds and CPU seconds, pages per (CPU) second, pages by ``text_source`` and the number of
words.

    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/text_layer_speed.py \\
        /work/corpus/texlive-latex-base-doc/usr/share/doc/texlive-doc/latex/natbib/natbib.pdf --pages 10
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pdf", help="a born-digital PDF")
    parser.add_argument("--pages", type=int, default=10, help="how many of its first pages to read (default: 10)")
    parser.add_argument("--modes", default="auto,ocr", help="text-layer modes, comma-separated (default: auto,ocr)")
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    parser.add_argument("--dpi", type=float, default=200.0, help="PDF render resolution (default: 200)")
    args = parser.parse_args()

    import pypdfium2 as pdfium
    import torch

    from textspotter import OCR
    from textspotter.imageio import ImageOptions
    from textspotter.pipeline.textlayer import TextLayerOptions

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        pages_pdf = Path(folder) / "pages.pdf"
        source = pdfium.PdfDocument(args.pdf)
        copy = pdfium.PdfDocument.new()
        try:
            copy.import_pages(source, list(range(min(args.pages, len(source)))))
            copy.save(pages_pdf)
        finally:
            copy.close()
            source.close()
        for mode in args.modes.split(","):
            ocr = OCR(
                model=args.model,
                device="cpu",
                image_options=ImageOptions(dpi=args.dpi),
                text_layer=TextLayerOptions(mode=mode),
            )
            start, cpu_start = time.perf_counter(), time.process_time()
            (document,) = ocr.read(str(pages_pdf))
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
            record = {
                "pdf": args.pdf,
                "mode": mode,
                "pages": len(document.pages),
                "seconds": round(seconds, 2),
                "pages_per_second": round(len(document.pages) / seconds, 3),
                # CPU time of this process: on a shared machine less noisy than the wall clock.
                "cpu_seconds": round(cpu_seconds, 2),
                "pages_per_cpu_second": round(len(document.pages) / cpu_seconds, 3),
                "text_source": dict(collections.Counter(page.text_source for page in document.pages)),
                "words": sum(len(page.words) for page in document.pages),
                "threads": args.threads,
            }
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
