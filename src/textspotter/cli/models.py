"""``textspotter models``: list the registry with parameter and state-dict-entry counts per module, and the shipped
model folders (``OCR(model="default")``, ``OCR(model="multi")``) with whether they are installed.

Models are built on the ``meta`` device, so listing allocates no weights and takes well under a second.
``--time`` instead builds the models with random weights and times one page through the three networks on the CPU
(how the figures in docs/models.md were measured).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from textspotter.models.registry import MODULE_NAMES, get_spec, list_models, module_sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="registered model names to show (default: all of them)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    timing = parser.add_argument_group("timing (--time)")
    timing.add_argument(
        "--time",
        action="store_true",
        help="time detector + recognizer + relational on random inputs (CPU, float32) instead of listing",
    )
    timing.add_argument("--size", type=int, default=1024, help="detector input side in pixels (default: 1024)")
    timing.add_argument("--regions", type=int, default=100, help="regions per page (default: 100)")
    timing.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: 2)")
    timing.add_argument("--repeat", type=int, default=5, help="timed runs after one warm-up (default: 5)")


def run(args: argparse.Namespace) -> int:
    names = list(args.names) or list_models()
    unknown = [n for n in names if n not in list_models()]
    if unknown:
        raise SystemExit(f"textspotter models: unknown model {unknown[0]!r}; known: {', '.join(list_models())}")
    if args.time:
        return _run_timing(names, args)
    sizes = {name: module_sizes(name) for name in names}
    if args.json:
        print(json.dumps(sizes, indent=2))
        return 0
    print(format_table(sizes, {name: get_spec(name).description for name in names}))
    if not args.names:
        print()
        print(format_shipped(shipped_models()))
    return 0


def shipped_models() -> list[dict[str, str | float | None]]:
    """The shipped model names (``OCR(model=NAME)``, ``--model NAME``) with their folder's state.

    Returns:
        Per name: ``name``, ``what`` (what the name is for), ``architecture`` (``model.json``'s name; None when the
        weights are not installed), ``mb`` (the weights file's size in MB, or None) and ``folder``.
    """
    from textspotter.pipeline.ocr import SHIPPED_MODELS, default_model_dir

    weights = default_model_dir().parent  # the package's weights folder, one subfolder per shipped name
    out: list[dict[str, str | float | None]] = []
    for name, what in SHIPPED_MODELS.items():
        folder = weights / name
        spec_path, tensors = folder / "model.json", folder / "model.safetensors"
        installed = spec_path.is_file() and tensors.is_file()
        architecture = json.loads(spec_path.read_text(encoding="utf-8")).get("name") if installed else None
        size = round(tensors.stat().st_size / 1e6, 1) if installed else None
        out.append({"name": name, "what": what, "architecture": architecture, "mb": size, "folder": str(folder)})
    return out


def format_shipped(models: list[dict[str, str | float | None]]) -> str:
    """Render :func:`shipped_models` as an aligned text table."""
    rows = [["shipped", "installed", "architecture", "MB", "what"]]
    for model in models:
        installed = model["architecture"] is not None
        rows.append(
            [
                str(model["name"]),
                "yes" if installed else "no (not shipped yet)",
                str(model["architecture"]) if installed else "-",
                f"{model['mb']:.1f}" if installed else "-",
                str(model["what"]),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def format_table(sizes: dict[str, dict[str, dict[str, int]]], descriptions: dict[str, str]) -> str:
    """Render ``{name: {module: {"parameters", "state_dict_entries"}}}`` as an aligned text table."""
    header = ["model"]
    for module in MODULE_NAMES:
        header += [f"{module} params", "entries"]
    header += ["total params", "fp32 MB", "description"]
    rows = [header]
    for name, per_module in sizes.items():
        total = sum(per_module[m]["parameters"] for m in MODULE_NAMES)
        row = [name]
        for module in MODULE_NAMES:
            row += [f"{per_module[module]['parameters']:,}", str(per_module[module]["state_dict_entries"])]
        row += [f"{total:,}", f"{total * 4 / 1e6:.1f}", descriptions.get(name, "")]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    numeric = set(range(1, len(header) - 1))

    def fmt(row: list[str]) -> str:
        cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(rows[0]), rule, *(fmt(r) for r in rows[1:])])


def time_forward(
    name: str, *, size: int = 1024, regions: int = 100, threads: int = 2, repeat: int = 5
) -> dict[str, dict[str, float]]:
    """Time one ``size``-px page through the three networks of a randomly initialised ``name`` on the CPU.

    The recognizer and relational inputs are random tensors of the shapes the pipeline would produce for
    ``regions`` regions (the ops between the networks are not timed).

    Returns:
        ``{"detector" | "recognizer" | "relational" | "total": {"min_ms": ..., "median_ms": ...}}``.
    """
    import torch

    from textspotter.models import create_model

    if size % 32 or size < 32:
        raise ValueError(f"--size must be a positive multiple of 32, got {size}")
    if regions < 1 or repeat < 1 or threads < 1:
        raise ValueError("--regions, --repeat and --threads must be positive")
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    model = create_model(name).eval()
    spec = model.spec
    channels, width = model.detector.feature_channels, spec.recognizer.max_width
    image = torch.rand(1, 3, size, size, generator=generator)
    strips = torch.randn(regions, channels, 8, width, generator=generator)
    crops = torch.randn(regions, channels, *spec.relational.grid_size, generator=generator)
    corners = torch.tensor([[0.0, 0.0], [80.0, 0.0], [80.0, 16.0], [0.0, 16.0]])
    quads = torch.rand(regions, 1, 2, generator=generator) * (size - 80) + corners
    counts = torch.tensor([regions])

    def once() -> list[float]:
        t0 = time.perf_counter()
        model.detector(image)
        t1 = time.perf_counter()
        features = model.recognizer(strips).features
        t2 = time.perf_counter()
        model.relational(crops, quads, counts, features)
        t3 = time.perf_counter()
        return [t1 - t0, t2 - t1, t3 - t2, t3 - t0]

    with torch.inference_mode():
        once()
        runs = [once() for _ in range(repeat)]
    keys = ("detector", "recognizer", "relational", "total")
    return {
        key: {
            "min_ms": round(1e3 * min(r[i] for r in runs), 1),
            "median_ms": round(1e3 * statistics.median(r[i] for r in runs), 1),
        }
        for i, key in enumerate(keys)
    }


def _run_timing(names: list[str], args: argparse.Namespace) -> int:
    try:
        results = {
            name: time_forward(name, size=args.size, regions=args.regions, threads=args.threads, repeat=args.repeat)
            for name in names
        }
    except ValueError as exc:
        raise SystemExit(f"textspotter models: {exc}") from exc
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"{args.size}x{args.size} page, {args.regions} regions, {args.threads} threads, "
        f"{args.repeat} runs: min / median ms"
    )
    for name, parts in results.items():
        cells = "  ".join(f"{key} {v['min_ms']:.0f} / {v['median_ms']:.0f}" for key, v in parts.items())
        print(f"{name:<10} {cells}")
    return 0
