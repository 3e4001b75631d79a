"""Page orientation (``OrientationOptions``): decisions, cost and CER on upright and turned pages.

For each image: read it with ``orientation.mode="auto"`` and record the chosen rotation, the decision's scores (mean
text confidence of the sampled regions per rotation) and the decision's share of the page time
(``Page.timings["orientation"]`` over the sum of the other stages). With ``--compare`` the page is also read with
``mode="off"``, and with ``--reference`` (a text file, or ``auto``: ``<stem>.txt`` next to the image, the
``-rotated-*`` variants using the upright page's text) both reads are scored by CER.

    python benchmarks/orientation.py ../shared/data/docbank-samples/*_ori.jpg --out /tmp/docbank.json
    python benchmarks/orientation.py ../shared/data/tesseract-test/phototest*.{tif,png} --compare --reference auto
    python benchmarks/orientation.py PAGES --model FOLDER --turns 0,90,180,270 --sweep 0.4,0.5,0.6,0.7

``--turns`` reads each image turned clockwise by each given angle (the right decision is the opposite turn) and
scores all four rotations of every page (the quarter turns forced), so that ``--sweep`` can replay the decision
offline for each floor (``PostprocessConfig.orientation_confidence``: the ``min_confidence`` and
``quarter_turn_below`` a model sets) and count the right decisions and the pages that would pay the quarter turns.

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
    parser.add_argument("--model", help="model folder or shipped name (default: the shipped default model)")
    parser.add_argument("--turns", help="comma-separated clockwise turns to read each image at, e.g. 0,90,180,270")
    parser.add_argument("--sweep", help="with --turns: comma-separated floors to replay the decision at")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    turns = [int(t) for t in args.turns.split(",")] if args.turns else [None]
    if any(t not in (None, *orientation.ROTATIONS) for t in turns):
        parser.error(f"--turns takes angles among {orientation.ROTATIONS}")
    if args.sweep and not args.turns:
        parser.error("--sweep needs --turns")

    # Record the decision's scores: wrap the module's choice function (the pipeline calls it once per page).
    scores: list[dict[int, float]] = []
    shares: list[dict[int, float]] = []
    choose = orientation.choose_rotation

    def recording(page_scores: dict[int, float], **kwargs: object) -> int:
        scores.append({k: round(v, 4) for k, v in page_scores.items()})
        shares.append({k: round(v, 4) for k, v in (kwargs.get("word_shares") or {}).items()})  # type: ignore[union-attr]
        return choose(page_scores, **kwargs)  # type: ignore[arg-type]

    orientation.choose_rotation = recording  # type: ignore[assignment]
    # With --turns every rotation is scored (quarter turns forced) so that any floor can be replayed.
    options = OrientationOptions(quarter_turn_below=1.0) if args.turns else OrientationOptions()
    auto = (
        OCR(model=args.model, device="cpu", orientation=options)
        if args.model
        else OCR(device="cpu", orientation=options)
    )
    off = OCR(model=auto.model, device="cpu", orientation=OrientationOptions(mode="off")) if args.compare else None
    records = []
    for image, turn in ((image, turn) for image in args.images for turn in turns):
        scores.clear()
        shares.clear()
        source = str(image) if turn is None else orientation.rotate_image(_load(image), turn)
        start = time.perf_counter()
        page = auto.read(source)[0].pages[0]
        record = {
            "image": image.name,
            **({} if turn is None else {"turned": turn, "right": (360 - turn) % 360}),
            "rotation": page.rotation,
            "scores": scores[0] if scores else None,
            "word_shares": shares[0] if shares else None,
            "seconds": round(time.perf_counter() - start, 2),
            "orientation_seconds": round(page.timings.get("orientation", 0.0), 3),
            "overhead": round(
                page.timings.get("orientation", 0.0)
                / max(sum(v for k, v in page.timings.items() if k != "orientation"), 1e-9),
                4,
            ),
        }
        reference = reference_text(image) if args.reference == "auto" and turn is None else None
        if reference is not None:
            record["cer_auto"] = round(text_counts(reference, page.text()).rates()["cer"], 4)
        if off is not None:
            start = time.perf_counter()
            plain = off.read(source)[0].pages[0]
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
    if args.sweep:
        for floor in (float(f) for f in args.sweep.split(",")):
            print(json.dumps({"floor": floor, **replay(records, floor, options)}))
    if args.out:
        args.out.write_text(json.dumps(records, indent=1), encoding="utf-8")


def _load(image: Path) -> object:
    import numpy as np
    from PIL import Image

    with Image.open(image) as handle:
        return np.asarray(handle.convert("RGB"))


def replay(records: list[dict], floor: float, options: OrientationOptions) -> dict[str, object]:
    """The decisions the recorded scores give with ``floor`` as the model's orientation floor.

    Returns:
        ``right`` / ``pages`` (decisions equal to the opposite of the turn), ``wrong_turns`` (a page turned the wrong
        way, or an upright page turned), ``missed`` (a turned page left as it is) and ``quarter_turn_passes`` (pages
        whose upright sample would have paid the two extra detector passes).
    """
    right = wrong = missed = passes = 0
    scored = [r for r in records if r.get("scores") and "right" in r]
    for record in scored:
        page_scores = {int(k): v for k, v in record["scores"].items()}
        page_shares = {int(k): v for k, v in record["word_shares"].items()}
        doubtful = page_shares.get(0, 0.0) < options.min_word_share / 2
        if page_scores[0] < floor or doubtful:
            passes += 1
        else:
            page_scores = {k: v for k, v in page_scores.items() if k in (0, 180)}
        chosen = orientation.choose_rotation(
            page_scores,
            margin=options.margin,
            min_confidence=floor,
            word_shares=page_shares,
            min_word_share=options.min_word_share,
        )
        if chosen == record["right"]:
            right += 1
        elif chosen == 0:
            missed += 1
        else:
            wrong += 1
    return {"right": right, "pages": len(scored), "wrong_turns": wrong, "missed": missed, "quarter_turn_passes": passes}


if __name__ == "__main__":
    main()
