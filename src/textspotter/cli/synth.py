"""``textspotter synth``: generate synthetic annotated pages, or convert PDFs with a text layer, into a dataset.

Examples::

    textspotter synth --lang ja --pages 100 --out data/ja --seed 1 --workers 2 --layout article,vertical
    textspotter synth --lang en,ru --pages 20 --out data/mixed --mixed 0.3 --preview
    textspotter synth --pdf papers/*.pdf --out data/real --dpi 150 --preview
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="dataset folder to write (images/ and manifest.jsonl)")
    parser.add_argument(
        "--lang", default="en", help="comma-separated languages: en, zh-Hans (zh), zh-Hant, ja, ko, ru, ar, he"
    )
    parser.add_argument(
        "--layout",
        default=None,
        help="comma-separated layouts: article, form, table, receipt, slide, scene, vertical "
        "(default: article,form,table,receipt)",
    )
    parser.add_argument("--pages", type=int, default=100, help="number of pages to generate (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="master seed; page i uses the seed (seed, i)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (output is the same for any count)")
    parser.add_argument("--format", choices=("png", "jpg"), default="png", help="image file format")
    parser.add_argument("--clean", action="store_true", help="turn every image effect off")
    parser.add_argument("--mixed", type=float, default=None, help="chance of a second configured language per page")
    parser.add_argument("--font-dir", action="append", default=None, help="font folder to scan (repeatable)")
    parser.add_argument("--font-cache", default=None, help="font catalogue cache file")
    parser.add_argument(
        "--preview",
        nargs="?",
        type=int,
        const=12,
        default=None,
        metavar="N",
        help="also write preview.png: the first N pages (default 12) with their boxes drawn",
    )
    parser.add_argument("--pdf", nargs="+", default=None, metavar="FILE", help="convert these PDFs instead")
    parser.add_argument("--dpi", type=float, default=150.0, help="PDF rendering resolution (default 150)")


def _progress_bar(total: int, description: str):  # noqa: ANN202 - tqdm bar
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="page", dynamic_ncols=True)


def run(args: argparse.Namespace) -> int:
    from textspotter.synth import EffectConfig, SynthConfig, generate_dataset
    from textspotter.synth.languages import normalize_language
    from textspotter.synth.pdf import PdfOptions, convert_pdfs
    from textspotter.synth.preview import contact_sheet

    try:
        if args.pdf:
            codes = [code for code in args.lang.split(",") if code.strip()]
            language = normalize_language(codes[0]) if len(codes) == 1 else ""
            options = PdfOptions(dpi=args.dpi, language=language, image_format=args.format)
            with _progress_bar(0, "pdf") as bar:
                manifest = convert_pdfs(args.pdf, args.out, options, progress=bar.update)
                total = bar.n
            print(f"wrote {total} pages to {manifest}")
        else:
            config = SynthConfig(
                languages=tuple(code for code in args.lang.split(",") if code.strip()),
                image_format=args.format,
            )
            if args.layout:
                config = replace(config, layouts=tuple(name.strip() for name in args.layout.split(",") if name.strip()))
            if args.clean:
                config = replace(config, effects=EffectConfig.none())
            if args.mixed is not None:
                config = replace(config, mixed_language=args.mixed)
            if args.font_dir:
                config = replace(config, font_dirs=tuple(args.font_dir))
            if args.font_cache:
                config = replace(config, font_cache=args.font_cache)
            with _progress_bar(args.pages, "synth") as bar:
                manifest = generate_dataset(
                    config, args.out, pages=args.pages, seed=args.seed, workers=args.workers, progress=bar.update
                )
            print(f"wrote {args.pages} pages to {manifest}")
        if args.preview:
            sheet = contact_sheet(args.out, pages=args.preview)
            path = f"{args.out.rstrip('/')}/preview.png"
            sheet.save(path)
            print(f"wrote {path}")
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"textspotter synth: error: {exc}", file=sys.stderr)
        return 2
    return 0
