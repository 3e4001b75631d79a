"""Tune the lexicon rescoring (``LexiconOptions``) on DocBank's true word boxes, away from the reported pages.

The candidates of each reading and their CTC log-likelihoods do not depend on the weights and thresholds, so they
are gathered once (every ordinary word whatever its confidence) while ``OCR.recognize`` reads the true boxes of
the chosen pages, and every setting of a grid is then scored on them without reading again. Exact = the token
read character for character, as in ``benchmarks/truebox.py``; "fixed" and "broken" count the tokens a setting
turns right and wrong.

Tune on pages that ``truebox.py --pages 20`` (the first 20 in sorted order, the reported figures) does not read::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/lexicon_tune.py --skip 40 --pages 60 --threads 1 \
        --json runs/lexicon-tune.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from truebox import _quads, docbank_pages  # noqa: E402


@dataclass(frozen=True)
class Sample:
    """One token: its reference, the greedy reading, its confidence, and its hypotheses (None: not a word)."""

    truth: str
    greedy: str
    confidence: float
    hypotheses: Any


def gather(args: argparse.Namespace) -> tuple[list[Sample], float]:
    """Read the pages' true boxes and record every ordinary word's hypotheses; returns them and pages/s."""
    import torch

    from textspotter import OCR
    from textspotter.ops.lexicon import (
        LexiconOptions,
        held_on_pages,
        language_pages,
        lexicon_hypotheses,
        load_lexicon,
    )
    from textspotter.pipeline import DetectionOptions, RecognitionOptions, stages

    permissive = LexiconOptions(max_confidence=1.0, max_confidence_in_lexicon=1.0)
    lexicon = load_lexicon(permissive.language)
    recorded: list[tuple[list[str], list[float], list[Any]]] = []

    def record(
        texts: list[str], confidence: torch.Tensor, groups: list[int], held: list[Any], charset: Any, **_: Any
    ) -> Any:
        # The recognizer stage calls this name once per page batch, after greedy decoding and the long-word windows,
        # with the logits of every ordinary word (`held`, permissive: whatever its confidence). Record the
        # hypotheses of those on pages in the lexicon's language and return the greedy readings unchanged.
        pages = language_pages(texts, groups, permissive, lexicon)
        by_region: list[Any] = [None] * len(texts)
        for chosen, logits in held_on_pages(held, groups, pages):
            found = lexicon_hypotheses(
                logits,
                [texts[p] for p in chosen],
                confidence[chosen],
                charset,
                lexicon=lexicon,
                options=permissive,
            )
            for hypotheses in found:
                by_region[chosen[hypotheses.region]] = hypotheses
        recorded.append((list(texts), confidence.tolist(), by_region))
        return list(texts), confidence

    original = stages.rescore_pages
    stages.rescore_pages = record  # the recognizer stage calls this name after greedy decoding
    ocr = OCR(
        model=args.model,
        device="cpu",
        detection=DetectionOptions(precision=args.precision),
        recognition=RecognitionOptions(precision=args.precision, lexicon=permissive),
    )
    samples: list[Sample] = []
    start = time.perf_counter()
    pages = list(docbank_pages(Path(args.data), args.pages, args.skip))
    try:
        _read_pages(ocr, pages, recorded, samples)
    finally:
        stages.rescore_pages = original
    return samples, len(pages) / (time.perf_counter() - start)


def _read_pages(ocr: Any, pages: list[Any], recorded: list[Any], samples: list[Sample]) -> None:
    """Read each page's true boxes and append one :class:`Sample` per token (``gather``'s hook fills ``recorded``)."""
    from textspotter.imageio import load_pages

    for path, tokens in pages:
        recorded.clear()
        image = load_pages(str(path))[0].image
        result = ocr.recognize(image, _quads(tokens))
        read, confidence = list(result.texts), result.confidence.tolist()
        # The stage calls the hook only when some reading is an ordinary word; without any, nothing has candidates.
        hypotheses = [h for _, _, found in recorded for h in found] if recorded else [None] * len(read)
        greedy = [t for texts, _, _ in recorded for t in texts] if recorded else read
        if greedy != read or len(read) != len(tokens) or len(hypotheses) != len(read):
            raise RuntimeError(f"{path.name}: recorded readings do not line up with the tokens")
        samples.extend(Sample(t.text, g, c, h) for t, g, c, h in zip(tokens, greedy, confidence, hypotheses))
        print(f"{path.name}: {len(tokens)} tokens", file=sys.stderr, flush=True)


def save_samples(path: Path, samples: list[Sample], pages_per_second: float) -> None:
    """Write the gathered samples as JSON (plain data: a cache never loads pickled objects)."""
    rows = []
    for sample in samples:
        h = sample.hypotheses
        found = None if h is None else [h.region, list(h.texts), list(h.log_likelihoods), list(h.zipf)]
        rows.append([sample.truth, sample.greedy, sample.confidence, found])
    path.write_text(json.dumps({"pages_per_second": pages_per_second, "samples": rows}), encoding="utf-8")


def load_samples(path: Path) -> tuple[list[Sample], float]:
    """Read what :func:`save_samples` wrote; a file of another shape is an error naming it."""
    from textspotter.ops.lexicon import Hypotheses

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        samples = []
        for truth, greedy, confidence, found in data["samples"]:
            hypotheses = None
            if found is not None:
                region, texts, likelihoods, zipf = found
                hypotheses = Hypotheses(int(region), tuple(texts), tuple(map(float, likelihoods)), tuple(zipf))
            samples.append(Sample(str(truth), str(greedy), float(confidence), hypotheses))
        return samples, float(data["pages_per_second"])
    except (ValueError, KeyError, TypeError) as error:
        raise SystemExit(f"{path}: not a samples file written by lexicon_tune.py ({error})") from error


def evaluate(samples: list[Sample], options: Any) -> dict[str, int]:
    """Exact tokens before and after rescoring with ``options``, and the tokens fixed, broken and changed."""
    from textspotter.ops.lexicon import choose_reading

    before = after = fixed = broken = changed = 0
    for sample in samples:
        text = sample.greedy
        hypotheses = sample.hypotheses
        if hypotheses is not None:
            known = hypotheses.zipf[0] is not None
            if sample.confidence < (options.max_confidence_in_lexicon if known else options.max_confidence):
                text = hypotheses.texts[choose_reading(hypotheses, options)]
        right_before, right_after = sample.greedy == sample.truth, text == sample.truth
        before += right_before
        after += right_after
        fixed += right_after and not right_before
        broken += right_before and not right_after
        changed += text != sample.greedy
    return {
        "tokens": len(samples),
        "before": before,
        "after": after,
        "fixed": fixed,
        "broken": broken,
        "changed": changed,
    }


def sweep(samples: list[Sample], grid: dict[str, tuple[float, ...]]) -> list[dict[str, float]]:
    """:func:`evaluate` for every setting of ``grid``, vectorised over the samples (same decisions, ties aside)."""
    import numpy as np

    words = [s for s in samples if s.hypotheses is not None]
    right_before = sum(s.greedy == s.truth for s in samples)
    counts = np.array([len(s.hypotheses.texts) for s in words])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    likelihood = np.array([v for s in words for v in s.hypotheses.log_likelihoods])
    zipf = np.array([np.nan if v is None else v for s in words for v in s.hypotheses.zipf])
    is_truth = np.array([t == s.truth for s in words for t in s.hypotheses.texts])
    greedy_right = is_truth[starts]
    confidence = np.array([s.confidence for s in words])
    known = ~np.isnan(zipf[starts])
    first = np.zeros(len(likelihood), dtype=bool)
    first[starts] = True
    rows = []
    for weight in grid["weight"]:
        for oov_zipf in grid["oov_zipf"]:
            score = likelihood + weight * np.where(np.isnan(zipf), oov_zipf, zipf)
            greedy_score = score[starts]
            candidates = np.where(first, -np.inf, score)
            best = np.maximum.reduceat(candidates, starts)
            best_truth = np.maximum.reduceat(np.where(is_truth & ~first, score, -np.inf), starts)
            for margin in grid["margin"]:
                wins = best > greedy_score + margin
                for max_confidence, in_lexicon in itertools.product(
                    grid["max_confidence"], grid["max_confidence_in_lexicon"]
                ):
                    replaced = wins & (confidence < np.where(known, in_lexicon, max_confidence))
                    right_after = np.where(replaced, best_truth >= best, greedy_right)
                    fixed = int((right_after & ~greedy_right).sum())
                    broken = int((greedy_right & ~right_after).sum())
                    rows.append(
                        {
                            "weight": weight,
                            "oov_zipf": oov_zipf,
                            "margin": margin,
                            "max_confidence": max_confidence,
                            "max_confidence_in_lexicon": in_lexicon,
                            "tokens": len(samples),
                            "before": right_before,
                            "after": right_before + fixed - broken,
                            "fixed": fixed,
                            "broken": broken,
                            "changed": int(replaced.sum()),
                        }
                    )
    return rows


def speed(args: argparse.Namespace) -> dict[str, float]:
    """Time the rescoring inside full-page reading (``OCR.read``, detected regions) with the default options.

    Every call of the rescoring is timed (wall and thread CPU time around it); the lexicon is loaded before the
    first page and its load time measured in fresh processes (the best of three), where nothing is cached yet.
    """
    import subprocess

    from textspotter import OCR
    from textspotter.ops.lexicon import LexiconOptions
    from textspotter.pipeline import DetectionOptions, RecognitionOptions, stages

    code = "import time; from textspotter.ops.lexicon import load_lexicon as f; t = time.perf_counter(); f('en'); "
    code += "print(time.perf_counter() - t)"
    loads = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout) for _ in "123"]
    original = stages.rescore_pages
    seconds: list[float] = []
    cpu_seconds: list[float] = []
    regions: list[int] = []

    def timed(texts: list[str], *rest: Any, **options: Any) -> Any:
        # CPU time of this thread too: on a shared machine the wall time includes waiting for a core.
        start, start_cpu = time.perf_counter(), time.thread_time()
        out = original(texts, *rest, **options)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.thread_time() - start_cpu)
        regions.append(len(texts))
        return out

    stages.rescore_pages = timed
    ocr = OCR(
        model=args.model,
        device="cpu",
        detection=DetectionOptions(precision=args.precision),
        recognition=RecognitionOptions(precision=args.precision, lexicon=LexiconOptions()),
    )
    from textspotter.ops.lexicon import load_lexicon

    load_lexicon("en")
    pages = [path for path, _ in docbank_pages(Path(args.data), args.speed, args.skip)]
    start = time.perf_counter()
    try:
        for path in pages:
            ocr.read([str(path)])
    finally:
        stages.rescore_pages = original
    total = time.perf_counter() - start
    return {
        "pages": len(pages),
        "regions_per_page": sum(regions) / len(pages),
        "rescoring_ms_per_page": 1000 * sum(seconds) / len(pages),
        "rescoring_cpu_ms_per_page": 1000 * sum(cpu_seconds) / len(pages),
        "reading_s_per_page": total / len(pages),
        "load_s": min(loads),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/docbank-samples", help="DocBank folder")
    parser.add_argument("--skip", type=int, default=40, help="pages left out first (default: %(default)s)")
    parser.add_argument("--pages", type=int, default=60, help="pages tuned on (default: %(default)s)")
    parser.add_argument("--model", default=None, help="textspotter model folder (default: the shipped one)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--precision", default="auto", help="auto, model (float32), bf16")
    parser.add_argument(
        "--speed", type=int, default=0, help="instead: time the rescoring while reading N whole pages (OCR.read)"
    )
    parser.add_argument("--top", type=int, default=15, help="settings printed, best first")
    parser.add_argument("--json", default=None, help="write every setting's counts to this file")
    parser.add_argument(
        "--samples", default=None, help="JSON of the gathered hypotheses: read it if it exists, else write it"
    )
    args = parser.parse_args(argv)

    import torch

    from textspotter.ops.lexicon import LexiconOptions

    torch.set_num_threads(args.threads)
    if args.speed:
        print(json.dumps(speed(args), indent=1))
        return 0
    if args.skip < 20:
        print("warning: --skip < 20 tunes on pages that truebox.py reports", file=sys.stderr)
    if args.samples and Path(args.samples).exists():
        samples, pages_per_second = load_samples(Path(args.samples))
    else:
        samples, pages_per_second = gather(args)
        if args.samples:
            save_samples(Path(args.samples), samples, pages_per_second)
    words = sum(s.hypotheses is not None for s in samples)
    print(f"{len(samples)} tokens, {words} ordinary words with candidates, {pages_per_second:.2f} pages/s read")
    grid = {
        "weight": (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
        "oov_zipf": (0.0, 1.0, 1.5, 2.0, 2.5, 3.0),
        "margin": (0.0, 0.5, 1.0, 2.0, 3.0, 4.0),
        "max_confidence": (0.8, 0.9, 0.95, 0.98, 0.99, 1.0),
        "max_confidence_in_lexicon": (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0),
    }
    rows = sweep(samples, grid)
    rows.sort(key=lambda r: (-(r["after"]), r["broken"]))
    base = evaluate(samples, LexiconOptions())
    print(f"default LexiconOptions(): {base}")
    print(
        f"{'weight':>6} {'oov':>5} {'margin':>6} {'max conf':>8} {'in lex':>6} {'exact before':>12} {'after':>6} "
        f"{'fixed':>6} {'broken':>6} {'changed':>7}"
    )
    for row in rows[: args.top]:
        print(
            f"{row['weight']:>6} {row['oov_zipf']:>5} {row['margin']:>6} {row['max_confidence']:>8} "
            f"{row['max_confidence_in_lexicon']:>6} "
            f"{100 * row['before'] / row['tokens']:>11.2f}% {100 * row['after'] / row['tokens']:>5.2f}% "
            f"{row['fixed']:>6} {row['broken']:>6} {row['changed']:>7}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"default": base, "grid": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
