"""Time the detector post-processing and crop-extraction ops on CPU and print a markdown table.

Usage::

    python benchmarks/ops_speed.py [--threads 1] [--repeats 15]

Cases:

* ``quad_nms`` on one 256×256 feature map (a 1024×1024 detector input) that looks like a text page: lines of
  word-shaped blobs whose cells all predict (slightly jittered) boxes of their word, ~2,000 cells above threshold,
  plus weak background noise. ``rrect_to_quads`` and the v2 pre-filter are timed on the same map.
* Rectification + sampling of 500 quads from a ``[1, 128, 256, 256]`` feature map: the recognizer grid
  (8 × 32, isotropic) and the relational grid (2 × 3), each followed by ``indirect_grid_sample``; and both from
  one channels-last copy of the map, as a pipeline can do.
* The recognizer's pixel strips of 500 quads (8 × 48 at ``column_scale`` 1.5, subdivided 4 times: 32 × 192 samples
  each) from a 1024 × 1024 ink map: ``quad_rectify_grid`` + ``indirect_grid_sample`` against ``rectify_sample``,
  which the pipeline uses (same values to float rounding).
* Greedy CTC decoding of 500 readings (``[500, 32, 308]`` logits, the English charset): ``decode_greedy``, and its
  text lookup alone (``Charset.decode_batch``, the whole batch at once).

Each timing is the median (and the minimum, less sensitive to other work on a shared machine) of ``--repeats`` runs
after one warm-up run, with ``torch.set_num_threads`` pinned.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

from textspotter.charset import latin_charset
from textspotter.ops import (
    decode_greedy,
    indirect_grid_sample,
    prefilter_confidence,
    quad_nms,
    quad_rectify_grid,
    rectify_sample,
    region_counts_to_indices,
    rrect_to_quads,
)

FEATURE_SIZE = 256
DETECTOR_SIZE = 1024
CELL = DETECTOR_SIZE // FEATURE_SIZE


def text_like_detector_output(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(confidence logits [1, 256, 256], rboxes [1, 256, 256, 5])`` shaped like a page of text.

    Text lines are 3 cells (12 px) tall every 12 cells; each holds a run of 20–50 cells of words 3–12 cells wide
    with 2–3 cell gaps (about 2,000 text cells on the page). Every cell of a word predicts its word's box relative
    to the cell's prior point (with ±0.75 px jitter and a tiny angle), with a high logit; background cells get low
    random logits.
    """
    size = FEATURE_SIZE
    logits = torch.randn(1, size, size, generator=gen) - 4.0
    rboxes = torch.rand(1, size, size, 5, generator=gen) * 3.0
    rboxes[..., 4] = 0.0
    for line_top in range(4, size - 4, 12):
        x = int(torch.randint(2, 150, (1,), generator=gen))
        line_end = min(size - 4, x + int(torch.randint(20, 50, (1,), generator=gen)))
        while x < line_end:
            width = int(torch.randint(3, 13, (1,), generator=gen))
            x1 = min(x + width, size)
            box = (CELL * x, CELL * line_top, CELL * x1, CELL * (line_top + 3))  # x0, y0, x1, y1 in pixels
            rows = torch.arange(line_top, line_top + 3)
            cols = torch.arange(x, x1)
            prior_y = (rows.float() * CELL + CELL / 2)[:, None]
            prior_x = (cols.float() * CELL + CELL / 2)[None, :]
            shape = (len(rows), len(cols))
            jitter = (torch.rand(4, *shape, generator=gen) - 0.5) * 1.5
            block = torch.stack(
                [
                    prior_y - box[1] + jitter[0],  # top
                    box[2] - prior_x + jitter[1],  # right
                    box[3] - prior_y + jitter[2],  # bottom
                    prior_x - box[0] + jitter[3],  # left
                    (torch.rand(*shape, generator=gen) - 0.5) * 0.02,  # angle (radians)
                ],
                dim=-1,
            )
            rboxes[0, line_top : line_top + 3, x:x1] = block
            logits[0, line_top : line_top + 3, x:x1] = 2.0 + torch.rand(*shape, generator=gen) * 2.0
            x = x1 + int(torch.randint(2, 4, (1,), generator=gen))
    return logits, rboxes


def random_quads(gen: torch.Generator, count: int) -> torch.Tensor:
    """Return ``[count, 4, 2]`` slightly rotated word quads (20–200 × 10–30 px) inside the 1024² detector input."""
    centre = torch.rand(count, 1, 2, generator=gen) * (DETECTOR_SIZE - 240) + 120
    half = torch.stack([torch.rand(count, generator=gen) * 90 + 10, torch.rand(count, generator=gen) * 10 + 5], -1)
    signs = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    corners = signs[None] * half[:, None, :]
    angle = (torch.rand(count, generator=gen) - 0.5) * 0.2
    cos, sin = torch.cos(angle)[:, None], torch.sin(angle)[:, None]
    rotated = torch.stack(
        [corners[..., 0] * cos - corners[..., 1] * sin, corners[..., 0] * sin + corners[..., 1] * cos], -1
    )
    return centre + rotated


def cpu_name() -> str:
    """Return the CPU model from /proc/cpuinfo where available, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_ms(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Run ``fn`` once to warm up, then ``repeats`` times; return (median, min) wall time in milliseconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per case (default 15)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)

    logits, rboxes = text_like_detector_output(gen)
    probs = torch.sigmoid(logits)
    quads_dense = rrect_to_quads(rboxes)
    cells_above = int((probs >= 0.5).sum())
    _, _, counts = quad_nms(quads_dense, probs)

    features = torch.randn(1, 128, FEATURE_SIZE, FEATURE_SIZE, generator=gen)
    quads = random_quads(gen, 500)
    indices = region_counts_to_indices(torch.tensor([500]), 500)

    def recognizer_crops() -> torch.Tensor:
        grid = quad_rectify_grid(quads, DETECTOR_SIZE, DETECTOR_SIZE, 8, 32, isotropic=True)
        return indirect_grid_sample(features, grid, indices)

    def relational_crops() -> torch.Tensor:
        grid = quad_rectify_grid(quads, DETECTOR_SIZE, DETECTOR_SIZE, 2, 3, isotropic=False)
        return indirect_grid_sample(features, grid, indices)

    # A pipeline that samples F twice (recognizer and relational crops) can convert it to channels-last once.
    def both_crops_channels_last() -> tuple[torch.Tensor, torch.Tensor]:
        converted = features.contiguous(memory_format=torch.channels_last)
        recognizer_grid = quad_rectify_grid(quads, DETECTOR_SIZE, DETECTOR_SIZE, 8, 32, isotropic=True)
        relational_grid = quad_rectify_grid(quads, DETECTOR_SIZE, DETECTOR_SIZE, 2, 3, isotropic=False)
        return (
            indirect_grid_sample(converted, recognizer_grid, indices),
            indirect_grid_sample(converted, relational_grid, indices),
        )

    ink = torch.rand(1, 1, DETECTOR_SIZE, DETECTOR_SIZE, generator=gen)
    pixel_options = {"column_scale": 1.5, "subdivide": 4}

    def pixel_strips_two_steps() -> torch.Tensor:
        grid = quad_rectify_grid(quads, DETECTOR_SIZE, DETECTOR_SIZE, 8, 48, **pixel_options)
        return indirect_grid_sample(ink, grid, indices)

    def pixel_strips() -> torch.Tensor:
        size = (DETECTOR_SIZE, DETECTOR_SIZE)
        return rectify_sample(ink, quads, indices, input_size=size, output_size=(8, 48), **pixel_options)

    charset = latin_charset()
    logits_text = torch.randn(500, 32, charset.num_tokens, generator=gen) * 4
    token_ids = logits_text.argmax(-1)

    rows = [
        ("rrect_to_quads [1,256,256,5]", time_ms(lambda: rrect_to_quads(rboxes), args.repeats)),
        ("prefilter_confidence [1,256,256]", time_ms(lambda: prefilter_confidence(logits, rboxes), args.repeats)),
        (
            f"quad_nms 256×256, {cells_above} cells ≥ 0.5 → {int(counts.sum())} regions",
            time_ms(lambda: quad_nms(quads_dense, probs), args.repeats),
        ),
        ("rectify + sample 500 quads → [500,128,8,32]", time_ms(recognizer_crops, args.repeats)),
        ("rectify + sample 500 quads → [500,128,2,3]", time_ms(relational_crops, args.repeats)),
        (
            "both crops from one channels-last copy of F (conversion included)",
            time_ms(both_crops_channels_last, args.repeats),
        ),
        ("pixel strips of 500 quads → [500,1,32,192], grid then sample", time_ms(pixel_strips_two_steps, args.repeats)),
        ("pixel strips of 500 quads → [500,1,32,192], rectify_sample", time_ms(pixel_strips, args.repeats)),
        (
            "decode_greedy of 500 readings [500,32,308], CTC",
            time_ms(lambda: decode_greedy(logits_text, charset, collapse_repeats=True), args.repeats),
        ),
        ("their texts alone (Charset.decode_batch)", time_ms(lambda: charset.decode_batch(token_ids), args.repeats)),
    ]
    print(f"Date: {datetime.date.today().isoformat()}  ")
    print(
        f"Machine: {cpu_name()} ({platform.system()} {platform.machine()}), "
        f"{os.cpu_count()} CPUs visible, torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
        f"median of {args.repeats} runs after 1 warm-up, load average {os.getloadavg()[0]:.1f} at the end "
        "(other work on the machine slows every row)"
    )
    print()
    print("| Operation | Median (ms) | Min (ms) |")
    print("|---|---:|---:|")
    for name, (median, fastest) in rows:
        print(f"| {name} | {median:.1f} | {fastest:.1f} |")


if __name__ == "__main__":
    main()
