"""``textspotter serve``: run the NIM-compatible HTTP service on uvicorn (docs/serve.md)."""

from __future__ import annotations

import argparse
import copy
import os
import sys

from ..serve.batching import BatchOptions
from ..serve.config import CONFIG_ENV, ServeConfig, ServeLimits

_MIB = 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="model folder (default: the shipped default model)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where the model runs")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for all interfaces, e.g. in a container)"
    )
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000, as the NIM)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes; each loads its own copy of the model and batches on its own (default: 1)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="PyTorch threads for the model (default: one per core; 1 is often faster on small or shared machines)",
    )
    default_batch, default_limits = BatchOptions(), ServeLimits()
    batching = parser.add_argument_group("dynamic batching")
    batching.add_argument(
        "--max-batch-size",
        type=int,
        default=default_batch.max_batch_size,
        help="most images per model call (default: %(default)d)",
    )
    batching.add_argument(
        "--batch-timeout-ms",
        type=float,
        default=default_batch.batch_timeout_ms,
        help="longest wait of the first image of a batch for others to join it (default: %(default)g)",
    )
    batching.add_argument(
        "--max-queue-size",
        type=int,
        default=default_batch.max_queue_size,
        help="images waiting at most; beyond it requests get 503 at once (default: %(default)d)",
    )
    limits = parser.add_argument_group("request limits")
    limits.add_argument(
        "--max-body-mb",
        type=float,
        default=default_limits.max_body_bytes / _MIB,
        help="largest request body, in MiB (default: %(default)g)",
    )
    limits.add_argument(
        "--max-images",
        type=int,
        default=default_limits.max_images_per_request,
        help="most images (or PDF pages) per request (default: %(default)d)",
    )
    limits.add_argument(
        "--max-pixels",
        type=float,
        default=default_limits.max_pixels_per_image,
        help="largest image or rendered PDF page, in pixels, width × height (default: %(default)g)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"), help="server log"
    )


def _log_config(level: str) -> dict:
    """Uvicorn's logging setup, extended to the ``textspotter`` loggers (the library itself configures nothing)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["textspotter"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..serve.app import create_app
    except ImportError as error:
        print(f"textspotter serve needs the [serve] extra: pip install 'textspotter[serve]' ({error})", file=sys.stderr)
        return 2
    if args.model is not None and not os.path.exists(args.model):
        print(f"textspotter serve: model folder {args.model!r} does not exist", file=sys.stderr)
        return 2
    if args.workers < 1:
        print(f"textspotter serve: --workers must be at least 1, got {args.workers}", file=sys.stderr)
        return 2
    try:
        config = ServeConfig(
            model=args.model,
            device=args.device,
            batching=BatchOptions(
                max_batch_size=args.max_batch_size,
                batch_timeout_ms=args.batch_timeout_ms,
                max_queue_size=args.max_queue_size,
            ),
            limits=ServeLimits(
                max_body_bytes=int(args.max_body_mb * _MIB),
                max_images_per_request=args.max_images,
                max_pixels_per_image=int(args.max_pixels),
            ),
            torch_threads=args.threads,
        )
    except ValueError as error:
        print(f"textspotter serve: {error}", file=sys.stderr)
        return 2
    common = {
        "host": args.host,
        "port": args.port,
        "log_config": _log_config(args.log_level),
        "log_level": args.log_level,
        # Clients such as NV-Ingest reuse connections between batches; uvicorn's 5 s default closes them often.
        "timeout_keep_alive": 30,
    }
    if args.workers == 1:
        uvicorn.run(create_app(config), **common)
    else:
        # Worker processes import the app by name, so the config travels in the environment (see app_from_environment).
        os.environ[CONFIG_ENV] = config.to_json()
        uvicorn.run("textspotter.serve.app:app_from_environment", factory=True, workers=args.workers, **common)
    return 0
