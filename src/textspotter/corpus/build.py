"""Render real documents into a training dataset: scanned-looking pages with trusted text-layer labels.

For each document (in id order) and each of its selected pages, a page is a pure function of
``(seed, document id, page number)``: its random generator is ``numpy.random.default_rng([seed, key_hash(id),
page])``, from which the resolution (``dpi``, log-uniform), the clean-or-scanned choice and every effect are drawn.
So the output is byte-identical for any number of workers.

Per page: render with pdfium at the drawn resolution; read the text layer (:mod:`textspotter.corpus.text_layer`);
run the checks (:mod:`textspotter.corpus.trust`) with the document's suspect fonts (counted over the selected pages
before any page is written); measure ink under each word in the clean render; drop the page or keep it with
``ignore`` words; add a don't-care word ``###`` (``ignore``) over each raster image (which may show text the text
layer lacks); then, for a share of ``1 - clean_share`` pages, apply the generator's effects
(:mod:`textspotter.synth.effects`: paper, stroke, rotation/shear/perspective with the same matrix on the quads,
shadows, light, blur, noise, scan/fax/photocopy looks, JPEG).

Output folder::

    OUT/train/  OUT/dev/  OUT/test/     manifest folders (images/ + manifest.jsonl), the document split;
                                        with ``shards > 1``: OUT/train/shard-000/ ... (each a manifest folder,
                                        whole documents per shard: shard = key_hash(document id) % shards)
    OUT/report.json, OUT/report.md      per package: documents, pages, words surviving each check
    OUT/split.json                      every document's split and kept pages
    OUT/build.json                      options, seed, rule of the split
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from textspotter.data.manifest import ManifestWriter, PageAnnotation
from textspotter.synth.annotate import AnnotationBuilder
from textspotter.synth.effects import (
    EffectConfig,
    apply_effect,
    make_paper,
    sample_effects,
    sample_geometry,
    sample_paper,
    sample_stroke,
    warp,
)
from textspotter.synth.languages import script_of

from .sources import Document
from .split import SPLIT_RULE, SPLITS, key_hash, split_of
from .text_layer import PageText, WordCandidate, extract_glyphs, group_lines, group_words
from .trust import (
    PAGE_REASONS,
    WORD_REASONS,
    FontStats,
    TrustOptions,
    check_words,
    ink_fractions,
    page_verdict,
    suspect_fonts,
    uncovered_ink,
)

__all__ = [
    "BuildOptions",
    "PageResult",
    "build_page",
    "process_document",
    "build_corpus",
    "built_pages",
    "CORPUS_VERSION",
]

# Bumped whenever the same (options, seed, document, page) would give a different page.
CORPUS_VERSION = 4  # 2: justified CJK lines stay one run (corpus.text_layer.group_words); 3: CJK runs up to 40
# characters are targets (corpus.trust: they were too_long above 31); 4: words of conjoining Hangul jamo are ignored
# (corpus.trust, "jamo")
IGNORE_REGION = "###"  # text of the don't-care words over raster images (the ICDAR convention)
_CACHED_PAGES = 64  # text layers kept between the font pass and the build pass (a few MB each)


@dataclass(frozen=True)
class BuildOptions:
    """How pages are rendered and what is kept.

    Attributes:
        dpi: range of rendering resolutions, drawn log-uniformly per page.
        clean_share: share of pages written without effects (as rendered).
        effects: probabilities and strengths of the scan and photo effects.
        trust: thresholds of the label checks.
        max_pages: pages per document at most (drawn reproducibly, kept in page order); None for all.
        max_pixels: pages larger than this many pixels at the drawn resolution are rendered smaller.
        image_format: ``jpg`` or ``png``.
        jpeg_quality: quality of ``jpg`` images (1..100).
        shards: manifest folders per split (1: the split's folder itself is the manifest folder).
        splits: which splits to write.
    """

    dpi: tuple[float, float] = (100.0, 300.0)
    clean_share: float = 0.25
    effects: EffectConfig = field(default_factory=EffectConfig)
    trust: TrustOptions = field(default_factory=TrustOptions)
    max_pages: int | None = None
    max_pixels: int = 12_000_000
    image_format: str = "jpg"
    jpeg_quality: int = 90
    shards: int = 1
    splits: tuple[str, ...] = SPLITS

    def __post_init__(self) -> None:
        low, high = self.dpi
        if not 18 <= low <= high <= 1200:
            raise ValueError(f"dpi must be a (low, high) range within 18..1200, got {self.dpi}")
        if not 0 <= self.clean_share <= 1:
            raise ValueError(f"clean_share must be within [0, 1], got {self.clean_share}")
        if self.max_pages is not None and self.max_pages < 1:
            raise ValueError(f"max_pages must be positive or None, got {self.max_pages}")
        if self.image_format not in ("jpg", "png"):
            raise ValueError(f"image_format must be 'jpg' or 'png', got {self.image_format!r}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be within 1..100, got {self.jpeg_quality}")
        if self.shards < 1:
            raise ValueError(f"shards must be positive, got {self.shards}")
        unknown = [s for s in self.splits if s not in SPLITS]
        if unknown or not self.splits:
            raise ValueError(f"splits must be a non-empty subset of {SPLITS}, got {self.splits}")


@dataclass
class PageResult:
    """What became of one page: the annotation (None if dropped), its image and the counts for the report."""

    number: int
    annotation: PageAnnotation | None
    image: np.ndarray | None
    drop_reason: str | None
    counts: Counter
    ink: list[float]


def _language(words: list[WordCandidate]) -> str:
    """The page's main language from the scripts of its trusted words (en for Latin, "" when unclear)."""
    scripts: Counter = Counter()
    for word in words:
        if not word.ignore_reasons:
            for char in word.text:
                scripts[script_of(char)] += 1
    scripts.pop("common", None)
    if not scripts:
        return ""
    if scripts["kana"] > 0.05 * sum(scripts.values()):
        return "ja"
    top = scripts.most_common(1)[0][0]
    return {"latin": "en", "cyrillic": "ru", "cjk": "zh-Hans", "hangul": "ko", "greek": "el"}.get(top, "")


def _scaled(page_text: PageText, words: list[WordCandidate], scale: float) -> tuple[PageText, list[WordCandidate]]:
    """The page size, image boxes and word quads of a text layer read at scale 1, in pixels at ``scale``.

    Glyph quads are not scaled: the checks read only the glyphs' fonts and flags.
    """
    images = [(order, box * scale) for order, box in page_text.images]
    page = PageText(
        glyphs=page_text.glyphs, images=images, width=page_text.width * scale, height=page_text.height * scale
    )
    moved = [replace(w, quad=w.quad * scale, ignore_reasons=[]) for w in words]
    return page, moved


def _apply_effects(
    image: np.ndarray, builder: AnnotationBuilder, rng: np.random.Generator, config: EffectConfig
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Scan and photo effects on a rendered page, moving the labels with the geometry (exactly)."""
    height, width = image.shape[:2]
    paper = sample_paper(rng, config)
    records: list[dict[str, Any]] = [paper]
    if paper["texture"] or tuple(paper["color"]) != (255, 255, 255):
        # Real pages are rendered on white: multiplying by the paper tints and textures it, ink stays dark.
        image = cv2.multiply(image, make_paper(paper, width, height), scale=1.0 / 255.0)
    stroke = sample_stroke(rng, config)
    if stroke is not None:
        image = apply_effect(image, stroke)
        records.append(stroke)
    geometry = sample_geometry(rng, config, width, height)
    if geometry is not None:
        image = warp(image, geometry)
        builder.transform(np.asarray(geometry["matrix"]))
        records.append(geometry)
    for record in sample_effects(rng, config):
        image = apply_effect(image, record)
        records.append(record)
    return image, records


def build_page(
    document: Document,
    page,  # noqa: ANN001 - pypdfium2.PdfPage
    number: int,
    page_text: PageText,
    page_words: list[WordCandidate],
    suspect: dict[str, str],
    options: BuildOptions,
    seed: int,
) -> PageResult:
    """Render, label, check and (maybe) degrade one page.

    Args:
        document: the page's document.
        page: the open pypdfium2 page.
        number: page number (from 1).
        page_text: its text layer read at scale 1 (PDF points).
        page_words: its words (:func:`group_words` of ``page_text``), quads in PDF points.
        suspect: the document's suspect fonts.
        options: build options.
        seed: master seed.

    Returns:
        The page's result; ``annotation`` quads are in pixels of ``image`` (after every effect).
    """
    rng = np.random.default_rng([seed, key_hash(document.id), number])
    low, high = options.dpi
    dpi = round(math.exp(rng.uniform(math.log(low), math.log(high))))
    area = page_text.width * page_text.height * (dpi / 72.0) ** 2
    if area > options.max_pixels:
        dpi = int(dpi * math.sqrt(options.max_pixels / area))
    scale = dpi / 72.0
    counts: Counter = Counter()
    # rev_byteorder: pdfium writes RGB directly (no conversion from its native BGR).
    image = np.asarray(page.render(scale=scale, may_draw_forms=False, rev_byteorder=True).to_numpy())
    if image.shape[2] == 4:
        image = np.ascontiguousarray(image[:, :, :3])
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    text, words = _scaled(page_text, page_words, scale)
    words, duplicates = check_words(words, text, suspect, options.trust)
    counts["duplicates_removed"] += duplicates
    trusted = [i for i, w in enumerate(words) if not w.ignore_reasons]
    kept_ink = []
    if trusted:
        for i, ink in zip(trusted, ink_fractions(gray, np.stack([words[i].quad for i in trusted]))):
            if ink < options.trust.min_ink:
                words[i].ignore_reasons.append("no_ink")
            else:
                kept_ink.append(float(ink))
    images = [box for _, box in text.images if min(box[2] - box[0], box[3] - box[1]) >= options.trust.min_image_side]
    boxes = []
    if words:
        quads = np.stack([w.quad for w in words])
        boxes = list(np.concatenate([quads.min(1), quads.max(1)], axis=1))
    uncovered = uncovered_ink(gray, boxes + images)
    counts["words"] += len(words)
    for word in words:
        for reason in word.ignore_reasons:
            counts[f"ignore_{reason}"] += 1
        counts["words_ignored" if word.ignore_reasons else "words_kept"] += 1
    verdict = page_verdict(words, uncovered, options.trust)
    if verdict is not None:
        return PageResult(number, None, None, verdict, counts, [])
    language = _language(words)
    builder = AnnotationBuilder()
    ids = [builder.add_word(w.text, w.quad, language) for w in words]
    for i, word in enumerate(words):
        builder.ignore[ids[i]] = bool(word.ignore_reasons)
    lines, paragraphs = group_lines(words)
    line_ids = [builder.add_line([ids[w] for w in line]) for line in lines]
    for paragraph in paragraphs:
        builder.add_paragraph([line_ids[li] for li in paragraph])
    for box in images:
        region = builder.add_word(IGNORE_REGION, np.array([box[:2], [box[2], box[1]], box[2:], [box[0], box[3]]]), "")
        builder.ignore[region] = True
    clean = bool(rng.random() < options.clean_share)
    records: list[dict[str, Any]] = []
    if not clean:
        image, records = _apply_effects(image, builder, rng, options.effects)
    out_h, out_w = image.shape[:2]
    builder.mark_outside(out_w, out_h)
    page_id = f"{document.package}-{key_hash(document.id) % 16**10:010x}-p{number:04d}"
    params = {
        "corpus": f"textspotter.corpus/{CORPUS_VERSION}",
        "seed": int(seed),
        "document": document.key,
        "converter": document.converter,
        "package": document.package,
        "licence": document.licence,
        "page": number,
        "dpi": dpi,
        "clean": clean,
        "uncovered_ink": round(uncovered, 4),
        "effects": records,
    }
    source = f"{document.package}:{document.key.split('/', 1)[-1]}#{number}"
    if document.converter:
        source += f"@{document.converter}"
    annotation = builder.build(
        page_id=page_id,
        image=f"images/{page_id}.{options.image_format}",
        width=out_w,
        height=out_h,
        language=language,
        params=params,
        source=source,
    )
    return PageResult(number, annotation, image, None, counts, kept_ink)


def _select_pages(
    count: int, document: Document, options: BuildOptions, seed: int, exclude: Collection[int] = ()
) -> list[int]:
    """Page numbers (from 1) of a document to build, in order; pages in ``exclude`` are never drawn."""
    candidates = [n for n in range(1, count + 1) if n not in exclude]
    if options.max_pages is None or len(candidates) <= options.max_pages:
        return candidates
    rng = np.random.default_rng([seed, key_hash(document.id)])
    return sorted(candidates[int(i)] for i in rng.choice(len(candidates), size=options.max_pages, replace=False))


def built_pages(folders: Sequence[str | os.PathLike[str]]) -> dict[str, set[int]]:
    """The pages earlier builds kept, by document id (key, plus ``#converter`` for converted documents).

    Read from each build's ``split.json``; a build that extends these (``build_corpus(..., exclude=...)``) draws
    only other pages, so the builds together hold distinct pages.

    Raises:
        FileNotFoundError: a folder without ``split.json`` (not a finished build).
    """
    pages: dict[str, set[int]] = defaultdict(set)
    for folder in folders:
        path = Path(folder) / "split.json"
        if not path.is_file():
            raise FileNotFoundError(f"{folder}: no split.json (not a finished corpus build)")
        record = json.loads(path.read_text(encoding="utf-8"))
        for key, entry in record.get("documents", {}).items():
            for converter, numbers in entry.get("pages", {}).items():
                pages[key if converter == "pdf" else f"{key}#{converter}"].update(int(n) for n in numbers)
    return dict(pages)


@dataclass
class DocumentResult:
    """The pages kept from a document (annotation and the folder they were written to) and its counts."""

    document: Document
    split: str
    folder: str
    pages: list[PageAnnotation]
    counts: Counter
    ink: list[float]
    suspect: dict[str, str]
    error: str = ""


def _folder(document: Document, split: str, options: BuildOptions) -> str:
    if options.shards == 1:
        return split
    return f"{split}/shard-{key_hash(document.id) % options.shards:03d}"


def _write_image(path: Path, image: np.ndarray, image_format: str, quality: int) -> None:
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if image_format == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    if not cv2.imwrite(str(path), bgr, params):
        raise OSError(f"could not write {path}")


def process_document(
    document: Document, options: BuildOptions, seed: int, out_dir: str, exclude: Collection[int] = ()
) -> DocumentResult:
    """Build every selected page of one document, writing its images; return the annotations and counts.

    A document that cannot be opened is reported with ``error`` set and no pages. Pages in ``exclude`` (numbers
    from 1) are not drawn.
    """
    import pypdfium2 as pdfium

    split = split_of(document.key)
    folder = _folder(document, split, options)
    result = DocumentResult(document, split, folder, [], Counter(), [], {})
    if split not in options.splits:
        return result
    try:
        pdf = pdfium.PdfDocument(document.path)
    except (pdfium.PdfiumError, OSError) as exc:
        result.error = f"unreadable: {exc}"
        return result
    try:
        numbers = _select_pages(len(pdf), document, options, seed, exclude)
        result.counts["pages"] += len(numbers)
        texts: dict[int, tuple[PageText, list[WordCandidate]]] = {}
        stats = FontStats()
        for number in numbers:
            page = pdf[number - 1]
            try:
                text = extract_glyphs(page, 1.0)
            finally:
                page.close()
            stats.add(text.glyphs)
            if len(texts) < _CACHED_PAGES:  # later pages are read again when built (bounded memory)
                texts[number] = (text, group_words(text.glyphs))
        result.suspect = suspect_fonts(stats, options.trust)
        images_dir = Path(out_dir) / folder / "images"
        images_dir.mkdir(parents=True, exist_ok=True)
        for number in numbers:
            page = pdf[number - 1]
            try:
                if number in texts:
                    text, words = texts.pop(number)
                else:
                    text = extract_glyphs(page, 1.0)
                    words = group_words(text.glyphs)
                page_result = build_page(document, page, number, text, words, result.suspect, options, seed)
            finally:
                page.close()
            result.counts.update(page_result.counts)
            if page_result.annotation is None:
                result.counts[f"drop_{page_result.drop_reason}"] += 1
                continue
            result.counts["pages_kept"] += 1
            result.ink.extend(page_result.ink)
            path = Path(out_dir) / folder / page_result.annotation.image
            _write_image(path, page_result.image, options.image_format, options.jpeg_quality)
            result.pages.append(page_result.annotation)
    except pdfium.PdfiumError as exc:
        # A page pdfium cannot load or render: keep what was built, report the document.
        result.error = f"pdfium failed: {exc}"
    finally:
        pdf.close()
    return result


def _process_excluding(
    job: tuple[Document, frozenset[int]], options: BuildOptions, seed: int, out_dir: str
) -> DocumentResult:
    return process_document(job[0], options, seed, out_dir, job[1])


def _init_worker() -> None:
    cv2.setNumThreads(1)  # the processes already use the cores


def _report(results_by_package: dict[str, dict[str, Any]]) -> str:
    """The report as Markdown: one table of pages, one of words, per package."""
    page_columns = ["documents", "pages", "pages_kept"] + [f"drop_{r}" for r in PAGE_REASONS]
    word_columns = ["words", "words_kept", "duplicates_removed"] + [f"ignore_{r}" for r in WORD_REASONS]
    lines = ["# Corpus build report", "", "## Pages", "", "| package | " + " | ".join(page_columns) + " |"]
    lines.append("|---" * (len(page_columns) + 1) + "|")
    for package, entry in sorted(results_by_package.items()):
        lines.append(f"| {package} | " + " | ".join(str(entry["counts"].get(c, 0)) for c in page_columns) + " |")
    lines += ["", "## Words (of pages checked, kept or dropped)", "", "| package | " + " | ".join(word_columns) + " |"]
    lines.append("|---" * (len(word_columns) + 1) + "|")
    for package, entry in sorted(results_by_package.items()):
        lines.append(f"| {package} | " + " | ".join(str(entry["counts"].get(c, 0)) for c in word_columns) + " |")
    lines += ["", "## Ink under kept words (clean render)", "", "| package | words | min | 1 % | 5 % | median |"]
    lines.append("|---|---|---|---|---|---|")
    for package, entry in sorted(results_by_package.items()):
        ink = entry["ink"]
        if ink:
            lines.append(
                f"| {package} | {ink['count']} | {ink['min']:.3f} | {ink['p01']:.3f} | {ink['p05']:.3f} | "
                f"{ink['median']:.3f} |"
            )
    suspects = [(p, f, r) for p, e in sorted(results_by_package.items()) for f, r in sorted(e["suspect"].items())]
    if suspects:
        lines += ["", "## Suspect fonts", "", "| package | font | reason | documents |", "|---|---|---|---|"]
        for package, font, (reason, count) in suspects:
            lines.append(f"| {package} | {font} | {reason} | {count} |")
    errors = [(p, e) for p, entry in sorted(results_by_package.items()) for e in entry.get("errors", [])]
    if errors:
        lines += ["", "## Documents that failed", ""] + [f"- {package}: {error}" for package, error in errors]
    return "\n".join(lines) + "\n"


def build_corpus(
    documents: Sequence[Document],
    out_dir: str | os.PathLike[str],
    options: BuildOptions | None = None,
    *,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    exclude: Mapping[str, Collection[int]] | None = None,
) -> dict[str, Any]:
    """Build the dataset folder from documents (see the module docstring for its layout) and return the report.

    Args:
        documents: the documents (:func:`textspotter.corpus.sources.load_documents`), built in id order.
        out_dir: output folder (manifests there are replaced).
        options: rendering, effects, checks, sharding.
        seed: master seed (non-negative).
        workers: processes (1 = this process); the output is identical for any count.
        progress: called with the number of pages handled after each document.
        exclude: pages not to draw, by document id (:func:`built_pages` of earlier builds): extends a corpus with
            new pages of the same documents.

    Returns:
        The report: per package, counts of documents, pages, and words surviving each check.

    Raises:
        ValueError: for a negative seed or fewer than one worker.
    """
    options = options or BuildOptions()
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ordered = sorted(documents, key=lambda d: d.id)
    writers: dict[str, ManifestWriter] = {}
    per_package: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"counts": Counter(), "ink_values": [], "suspect": {}, "errors": []}
    )
    split_record: dict[str, dict[str, Any]] = {}
    exclude = exclude or {}
    task = partial(_process_excluding, options=options, seed=seed, out_dir=str(out))
    jobs = [(document, frozenset(exclude.get(document.id, ()))) for document in ordered]
    try:
        if workers == 1 or len(ordered) <= 1:
            results = map(task, jobs)
            pool = None
        else:
            pool = multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker)
            results = pool.imap(task, jobs, chunksize=1)  # imap keeps document order
        for result in results:
            entry = per_package[result.document.package]
            entry["counts"]["documents"] += 1
            entry["counts"].update(result.counts)
            entry["ink_values"].extend(result.ink)
            for font, reason in result.suspect.items():
                previous = entry["suspect"].get(font, (reason, 0))
                entry["suspect"][font] = (previous[0], previous[1] + 1)
            if result.error:
                entry["errors"].append(f"{result.document.id}: {result.error}")
            record = split_record.setdefault(result.document.key, {"split": result.split, "pages": {}})
            record["pages"][result.document.converter or "pdf"] = [p.params["page"] for p in result.pages]
            if result.pages:
                if result.folder not in writers:
                    writers[result.folder] = ManifestWriter(out / result.folder)
                for page in result.pages:
                    writers[result.folder].write(page)
            if progress is not None:
                progress(int(result.counts.get("pages", 0)))
        if pool is not None:
            pool.close()
            pool.join()
    finally:
        for writer in writers.values():
            writer.close()
    report: dict[str, Any] = {}
    for package, entry in sorted(per_package.items()):
        values = np.asarray(entry["ink_values"], dtype=np.float64)
        ink = {}
        if len(values):
            ink = {
                "count": int(len(values)),
                "min": float(values.min()),
                "p01": float(np.quantile(values, 0.01)),
                "p05": float(np.quantile(values, 0.05)),
                "median": float(np.median(values)),
            }
        report[package] = {
            "counts": dict(sorted(entry["counts"].items())),
            "ink": ink,
            "suspect": {font: list(value) for font, value in sorted(entry["suspect"].items())},
            "errors": entry["errors"],
        }
    description = {
        "corpus": CORPUS_VERSION,
        "seed": seed,
        "documents": len(ordered),
        "split_rule": SPLIT_RULE,
        "excluded_pages": sum(len(exclude.get(d.id, ())) for d in ordered),
        "folders": sorted(writers),
        "options": asdict(options),
    }
    (out / "build.json").write_text(json.dumps(description, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "split.json").write_text(
        json.dumps({"rule": SPLIT_RULE, "documents": dict(sorted(split_record.items()))}, indent=1) + "\n",
        encoding="utf-8",
    )
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "report.md").write_text(
        _report({p: {**e, "suspect": {f: tuple(v) for f, v in e["suspect"].items()}} for p, e in report.items()}),
        encoding="utf-8",
    )
    return report
