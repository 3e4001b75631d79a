"""Page orientation (``OrientationOptions``): decisions, cost and CER on upright and turned pages.

For each image: read it with ``orientation.mode="auto"`` and record the chosen rotation, the decision's scores (mean
text confidence of the sampled regions per rotation) and the decision's share of the page time
(``Page.timings["orientation"]`` over the sum of the other stages). With ``--compare`` the page is also read with
``mode="off"``, and with ``--reference`` (a text file, or ``auto``: ``<stem>.txt`` next to the image, the
``-rotated-*`` variants using the upright page's text) both reads are scored by CER.

    python benchmarks/orientation.py ../shared/data/docbank-samples/*_ori.jpg --out /tmp/docbank.json
    python benchmarks/orientation.py ../shared/data/tesseract-test/phototest*.{tif,png} --compare --reference auto

Runs on one CPU thread (``--threads``) so that figures compare on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import torch

import textspotter.pipeline.orientation as orientation
from textspotter import OCR
from textspotter.metrics.text import text_counts
from textspotter.pipeline.orientation import OrientationOptions


def reference_text(image: Path) -> str | None:
    stem = re.sub(r"(-rotated-.*|rot)$", "", image.stem)
    candidate = image.with_name(stem + ".txt")
    return candidate.read_text(encoding="utf-8") if candidate.is_file() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--compare", action="store_true", help="also read with orientation off")
    parser.add_argument("--reference", choices=("auto", "none"), default="none")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the per-page records as JSON")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    # Record the decision's scores: wrap the module's choice function (the pipeline calls it once per page).
    scores: list[dict[int, float]] = []
    choose = orientation.choose_rotation

    def recording(page_scores: dict[int, float], *, margin: float, min_confidence: float) -> int:
        scores.append({k: round(v, 4) for k, v in page_scores.items()})
        return choose(page_scores, margin=margin, min_confidence=min_confidence)

    orientation.choose_rotation = recording  # type: ignore[assignment]
    auto = OCR(device="cpu")
    off = OCR(model=auto.model, device="cpu", orientation=OrientationOptions(mode="off")) if args.compare else None
    records = []
    for image in args.images:
        scores.clear()
        start = time.perf_counter()
        page = auto.read(str(image))[0].pages[0]
        record = {
            "image": image.name,
            "rotation": page.rotation,
            "scores": scores[0] if scores else None,
            "seconds": round(time.perf_counter() - start, 2),
            "orientation_seconds": round(page.timings.get("orientation", 0.0), 3),
            "overhead": round(
                page.timings.get("orientation", 0.0)
                / max(sum(v for k, v in page.timings.items() if k != "orientation"), 1e-9),
                4,
            ),
        }
        reference = reference_text(image) if args.reference == "auto" else None
        if reference is not None:
            record["cer_auto"] = round(text_counts(reference, page.text()).rates()["cer"], 4)
        if off is not None:
            start = time.perf_counter()
            plain = off.read(str(image))[0].pages[0]
            record["seconds_off"] = round(time.perf_counter() - start, 2)
            if reference is not None:
                record["cer_off"] = round(text_counts(reference, plain.text()).rates()["cer"], 4)
        records.append(record)
        print(json.dumps(record), flush=True)
    flipped = [r["image"] for r in records if r["rotation"]]
    overheads = sorted(r["overhead"] for r in records)
    print(
        json.dumps(
            {
                "pages": len(records),
                "turned": flipped,
                "quarter_turn_trials": sum(1 for r in records if r["scores"] and 90 in r["scores"]),
                "median_overhead": overheads[len(overheads) // 2] if overheads else None,
                "max_overhead": overheads[-1] if overheads else None,
            }
        )
    )
    if args.out:
        args.out.write_text(json.dumps(records, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
