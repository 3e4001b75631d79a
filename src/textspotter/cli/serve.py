"""``textspotter serve``: run the NIM-compatible HTTP service on uvicorn (docs/serve.md)."""

from __future__ import annotations

import argparse
import copy
import os
import sys

from ..serve.batching import BatchOptions
from ..serve.config import CONFIG_ENV, AccessPolicy, ConnectionLimits, ServeConfig, ServeLimits

_MIB = 1024 * 1024

API_KEY_ENV = "TEXTSPOTTER_API_KEY"
"""Environment variable holding the API key when ``--api-key-file`` is not given (read by the CLI only)."""

_WILDCARD_HOSTS = ("0.0.0.0", "::", "")


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
    limits.add_argument(
        "--max-pixels-per-request",
        type=float,
        default=default_limits.max_pixels_per_request,
        help="pixels of all images or pages of one request together (default: %(default)g)",
    )
    limits.add_argument(
        "--max-pixels-in-flight",
        type=float,
        default=default_limits.max_pixels_in_flight,
        help="decoded pixels held at once by all requests of a server process; beyond it, 503 (default: %(default)g)",
    )
    limits.add_argument(
        "--decode-threads",
        type=int,
        default=ServeConfig().decode_threads,
        help="threads that decode images and render PDF pages, per process (default: %(default)d)",
    )
    default_connections = ConnectionLimits()
    connections = parser.add_argument_group("connections")
    connections.add_argument(
        "--max-connections",
        type=int,
        default=default_connections.max_connections,
        help="open connections per process; one more is answered 503 and closed (default: %(default)d)",
    )
    connections.add_argument(
        "--header-timeout",
        type=float,
        default=default_connections.header_timeout_s,
        help="seconds a client has to send a request's headers (default: %(default)g)",
    )
    connections.add_argument(
        "--body-timeout",
        type=float,
        default=default_connections.body_timeout_s,
        help="seconds a client has to send a request's body; then 408 (default: %(default)g)",
    )
    connections.add_argument(
        "--keep-alive",
        type=float,
        default=default_connections.keep_alive_timeout_s,
        help="seconds an idle connection stays open between requests (default: %(default)g)",
    )
    connections.add_argument(
        "--shutdown-timeout",
        type=float,
        default=default_connections.shutdown_timeout_s,
        help="on SIGTERM, seconds requests in flight may still finish before they are cancelled (default: %(default)g)",
    )
    access = parser.add_argument_group("access")
    access.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name clients use to reach the server (Host header), besides localhost, IP addresses and the "
        "--host name; repeatable; '*' accepts any (default: none)",
    )
    access.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web origin (https://app.example.com) whose pages may call the server; repeatable; '*' allows any "
        "(default: none but the server's own pages)",
    )
    access.add_argument(
        "--api-key-file",
        default=None,
        metavar="PATH",
        help=f"file holding an API key that requests must send (Authorization: Bearer or X-API-Key); default: "
        f"${API_KEY_ENV} if set, else no key",
    )
    access.add_argument(
        "--metrics-need-key",
        action="store_true",
        help="/metrics needs the API key too (default: open like /v1/health/*, for scrapers inside the network)",
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


def _read_api_key(path: str | None) -> str | None:
    """The API key from ``path`` (surrounding whitespace dropped), else from ``$TEXTSPOTTER_API_KEY``, else None."""
    if path is None:
        key = os.environ.get(API_KEY_ENV)
        return key.strip() if key else None
    with open(path, encoding="utf-8") as f:
        key = f.read().strip()
    if not key:
        raise ValueError(f"the API key file {path!r} is empty")
    return key


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..serve.app import create_app
        from ..serve.server import uvicorn_options
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
        api_key = _read_api_key(args.api_key_file)
    except (OSError, ValueError) as error:
        print(f"textspotter serve: {error}", file=sys.stderr)
        return 2
    try:
        access = AccessPolicy(
            allowed_hosts=tuple(args.allowed_host),
            allowed_origins=tuple(args.allowed_origin),
            api_key=api_key,
            metrics_need_key=args.metrics_need_key,
        )
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
                max_pixels_per_request=int(args.max_pixels_per_request),
                max_pixels_in_flight=int(args.max_pixels_in_flight),
            ),
            connections=ConnectionLimits(
                max_connections=args.max_connections,
                header_timeout_s=args.header_timeout,
                body_timeout_s=args.body_timeout,
                keep_alive_timeout_s=args.keep_alive,
                shutdown_timeout_s=args.shutdown_timeout,
            ),
            access=access if args.host in _WILDCARD_HOSTS else access.with_bound_host(args.host),
            torch_threads=args.threads,
            decode_threads=args.decode_threads,
        )
    except (TypeError, ValueError) as error:
        print(f"textspotter serve: {error}", file=sys.stderr)
        return 2
    if args.host in _WILDCARD_HOSTS and not config.access.allowed_hosts:
        print(
            "textspotter serve: listening on all interfaces; clients that use a host name (not an IP address) need "
            "--allowed-host NAME, or they get 403",
            file=sys.stderr,
        )
    common = {
        "host": args.host,
        "port": args.port,
        "log_config": _log_config(args.log_level),
        "log_level": args.log_level,
        # Our h11 protocol with header deadlines and a connection cap; keep-alive (30 s by default: clients such as
        # NV-Ingest reuse connections between batches, uvicorn's 5 s closes them often) and shutdown timeouts.
        **uvicorn_options(config.connections),
    }
    if args.workers == 1:
        uvicorn.run(create_app(config), **common)
    else:
        # Worker processes import the app by name, so the config travels in the environment (see app_from_environment).
        os.environ[CONFIG_ENV] = config.to_json()
        uvicorn.run("textspotter.serve.app:app_from_environment", factory=True, workers=args.workers, **common)
    return 0
