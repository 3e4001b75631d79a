"""Prometheus metrics of the HTTP service, written in the text exposition format 0.0.4 without any dependency.

:class:`ServiceMetrics` holds the counters and histograms (requests by route and status, errors by type, files,
pages and pixels read, request latency, model batches); :class:`MetricsMiddleware` feeds it from every HTTP
request, including those refused by the access and body guards; :data:`CONNECTIONS` is counted by the guarded h11
protocol (``textspotter.serve.server``), since connections exist below the ASGI app. Gauges (queue depth, pixels in
flight, open connections) are read when ``/metrics`` is scraped. docs/serve.md lists every metric with its labels.

Every update takes one lock for a few dictionary operations: requests are counted on the event loop and batches on
the model's worker thread, so the lock is what keeps a scrape consistent.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS_S",
    "ConnectionStats",
    "CONNECTIONS",
    "Histogram",
    "ServiceMetrics",
    "MetricsMiddleware",
    "batch_size_buckets",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The media type of the Prometheus text exposition format."""

LATENCY_BUCKETS_S: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
"""Upper bounds (seconds) of the latency histograms: an image on a GPU takes tens of milliseconds, a long PDF on a
CPU a minute."""

OTHER_ROUTE = "other"
"""The ``route`` label of requests for paths the app does not serve (so that scanners cannot add label values)."""

_ERROR_BODY_LIMIT = 8192  # bytes of an error answer kept to read its type; the service's are a few hundred

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
_App = Callable[[_Scope, _Receive, _Send], Awaitable[None]]


def batch_size_buckets(max_batch_size: int) -> tuple[float, ...]:
    """Powers of two below ``max_batch_size``, then ``max_batch_size`` itself: ``8`` → ``(1, 2, 4, 8)``."""
    if max_batch_size < 1:
        raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
    bounds = [float(2**k) for k in range(max_batch_size.bit_length()) if 2**k < max_batch_size]
    return (*bounds, float(max_batch_size))


# --- Text format ---------------------------------------------------------------------------------------------------


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    """A sample value as the format writes it: integers without a fraction, ``+Inf``, ``NaN``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{name}="{_escape_label(str(value))}"' for name, value in zip(names, values)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _header(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {_escape_help(help_text)}", f"# TYPE {name} {kind}"]


class _Counter:
    """A counter (or a gauge set from outside) with a fixed tuple of label names; not locked (the owner locks)."""

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = (), *, kind: str = "counter") -> None:
        self.name, self.help, self.label_names, self.kind = name, help_text, tuple(labels), kind
        self.values: dict[tuple[str, ...], float] = {}

    def add(self, labels: tuple[str, ...], amount: float = 1) -> None:
        self.values[labels] = self.values.get(labels, 0) + amount

    def lines(self) -> list[str]:
        out = _header(self.name, self.kind, self.help)
        if not self.label_names and not self.values:
            out.append(f"{self.name} 0")  # an unlabelled metric always has its one sample
        for labels, value in sorted(self.values.items()):
            out.append(f"{self.name}{_labels(self.label_names, labels)} {_number(value)}")
        return out


class Histogram:
    """A cumulative histogram per label set, as Prometheus defines it; not locked (the owner locks).

    Args:
        name: metric name (``_bucket``, ``_sum`` and ``_count`` are appended to its samples).
        help_text: the ``# HELP`` line.
        buckets: increasing finite upper bounds; ``+Inf`` is implied.
        labels: label names.
    """

    def __init__(self, name: str, help_text: str, buckets: Iterable[float], labels: Sequence[str] = ()) -> None:
        bounds = tuple(float(b) for b in buckets)
        if not bounds or any(b >= c for b, c in zip(bounds, bounds[1:])) or not all(map(math.isfinite, bounds)):
            raise ValueError(f"histogram {name}: buckets must be finite and strictly increasing, got {bounds}")
        self.name, self.help, self.buckets, self.label_names = name, help_text, bounds, tuple(labels)
        # Per label set: [count per bucket (not cumulative, +Inf last), sum]
        self.series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        counts, total = self.series.setdefault(labels, ([0] * (len(self.buckets) + 1), [0.0]))
        counts[bisect.bisect_left(self.buckets, value)] += 1  # le: a value equal to a bound falls in its bucket
        total[0] += value

    def lines(self) -> list[str]:
        out = _header(self.name, "histogram", self.help)
        for labels, (counts, total) in sorted(self.series.items()):
            cumulative = 0
            for bound, count in zip((*self.buckets, math.inf), counts):
                cumulative += count
                le = 'le="' + _number(bound) + '"'
                out.append(f"{self.name}_bucket{_labels(self.label_names, labels, le)} {cumulative}")
            out.append(f"{self.name}_sum{_labels(self.label_names, labels)} {_number(total[0])}")
            out.append(f"{self.name}_count{_labels(self.label_names, labels)} {cumulative}")
        return out


# --- Connections (counted by the h11 protocol) ---------------------------------------------------------------------


class ConnectionStats:
    """Connections of this process, updated by ``GuardedH11Protocol`` on the event loop.

    Attributes:
        open: connections open now (those being refused included, until they close).
        refused: connections answered 503 because ``max_connections`` were open.
        timed_out: connections closed because their request's headers or body did not arrive in time, by phase.
    """

    def __init__(self) -> None:
        self.open = 0
        self.refused = 0
        self.timed_out = {"headers": 0, "body": 0}


CONNECTIONS = ConnectionStats()
"""The process's connection counters: one per process, as uvicorn's connections are (each ``--workers`` process
has its own)."""


# --- Service metrics -----------------------------------------------------------------------------------------------


class ServiceMetrics:
    """The counters and histograms of one service; every method is thread-safe.

    Args:
        max_batch_size: the batcher's largest batch (sets the batch-size buckets).
        latency_buckets: upper bounds, in seconds, of the request and batch duration histograms.
    """

    def __init__(self, *, max_batch_size: int, latency_buckets: Sequence[float] = LATENCY_BUCKETS_S) -> None:
        self._lock = threading.Lock()
        self.requests = _Counter(
            "textspotter_requests_total", "HTTP requests answered, by route and status code.", ("route", "code")
        )
        self.errors = _Counter(
            "textspotter_errors_total", "Error answers (status 4xx, 5xx), by route and error type.", ("route", "type")
        )
        self.latency = Histogram(
            "textspotter_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route.",
            latency_buckets,
            ("route",),
        )
        self.files = _Counter(
            "textspotter_files_total", "Input files (images, PDFs) of requests answered 200, by kind.", ("kind",)
        )
        self.pages = _Counter(
            "textspotter_pages_total", "Pages read by the model for requests answered 200, by file kind.", ("kind",)
        )
        self.pixels = _Counter("textspotter_pixels_total", "Decoded pixels (width x height) of the pages read.")
        self.batch_sizes = Histogram(
            "textspotter_batch_size", "Images per model call.", batch_size_buckets(max_batch_size)
        )
        self.batch_seconds = Histogram(
            "textspotter_batch_duration_seconds", "Time of one model call (a batch of images).", latency_buckets
        )
        self.batch_failures = _Counter(
            "textspotter_batch_failures_total", "Model calls that raised an error or returned a failed page."
        )
        self._in_progress = 0

    def request_started(self) -> None:
        with self._lock:
            self._in_progress += 1

    def request_finished(self, route: str, status: int, seconds: float, error_type: str | None) -> None:
        """Count one answered request (``error_type`` for a status of 400 or more)."""
        with self._lock:
            self._in_progress -= 1
            self.requests.add((route, str(status)))
            self.latency.observe((route,), seconds)
            if status >= 400:
                self.errors.add((route, error_type or "http_error"))

    def pages_read(self, kind: str, *, files: int, pages: int, pixels: int) -> None:
        """Count the files and pages of kind ``"image"`` or ``"pdf"`` of a request answered 200."""
        with self._lock:
            self.files.add((kind,), files)
            self.pages.add((kind,), pages)
            self.pixels.add((), pixels)

    def batch_run(self, size: int, seconds: float, *, failed: bool) -> None:
        """Count one model call of ``size`` images (called on the model's worker thread)."""
        with self._lock:
            self.batch_sizes.observe((), size)
            self.batch_seconds.observe((), seconds)
            if failed:
                self.batch_failures.add(())

    def render(self, *, gauges: Sequence[tuple[str, str, float]] = (), info: dict[str, str] | None = None) -> str:
        """Return every metric in the text exposition format 0.0.4.

        Args:
            gauges: ``(name, help, value)`` of gauges read at scrape time (queue depth, pixels in flight, ...).
            info: labels of the constant ``textspotter_info`` gauge (version, model, device).
        """
        lines: list[str] = []
        if info is not None:
            lines += _header("textspotter_info", "gauge", "The served version, model and device (always 1).")
            lines.append(f"textspotter_info{_labels(tuple(info), tuple(info.values()))} 1")
        with self._lock:
            lines += _header(
                "textspotter_requests_in_progress", "gauge", "HTTP requests received and not yet answered."
            )
            lines.append(f"textspotter_requests_in_progress {self._in_progress}")
            for metric in (
                self.requests,
                self.errors,
                self.latency,
                self.files,
                self.pages,
                self.pixels,
                self.batch_sizes,
                self.batch_seconds,
                self.batch_failures,
            ):
                lines += metric.lines()
        for name, help_text, value in gauges:
            lines += _header(name, "counter" if name.endswith("_total") else "gauge", help_text)
            lines.append(f"{name} {_number(value)}")
        timed_out = _Counter(
            "textspotter_connections_timed_out_total",
            "Connections closed because a request's headers or body did not arrive in time, by phase.",
            ("phase",),
        )
        for phase, count in CONNECTIONS.timed_out.items():
            timed_out.add((phase,), count)
        lines += timed_out.lines()
        return "\n".join(lines) + "\n"


# --- ASGI middleware -----------------------------------------------------------------------------------------------


def _error_type(body: bytes) -> str | None:
    """The ``error.type`` of the service's error body, or ``None`` for another body."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    value = error.get("type") if isinstance(error, dict) else None
    return value if isinstance(value, str) and len(value) <= 64 else None


class MetricsMiddleware:
    """Count every HTTP request: its route, status, latency and, for an error answer, the error type of its body.

    Placed outermost, so that it also counts the requests that the access and body guards refuse. Requests for
    paths outside ``routes`` are counted under the route ``"other"``.

    Args:
        app: the ASGI app it wraps.
        metrics: where to count.
        routes: the paths the app serves (route labels).
    """

    def __init__(self, app: _App, *, metrics: ServiceMetrics, routes: Iterable[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = frozenset(routes)

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        route = path if path in self.routes else OTHER_ROUTE
        start = time.perf_counter()
        status = 0
        error_body = bytearray()
        finished = False

        def finish(code: int, error_type: str | None = None) -> None:
            nonlocal finished
            if not finished:
                finished = True
                if error_type is None and code >= 400:
                    error_type = _error_type(bytes(error_body))
                if code >= 500 and error_type is None:
                    error_type = "internal_error"
                self.metrics.request_finished(route, code, time.perf_counter() - start, error_type)

        async def counting_send(message: _Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                if status >= 400 and len(error_body) < _ERROR_BODY_LIMIT:
                    error_body.extend(message.get("body", b"")[: _ERROR_BODY_LIMIT - len(error_body)])
                if not message.get("more_body", False):
                    await send(message)
                    finish(status)
                    return
            await send(message)

        self.metrics.request_started()
        try:
            await self.app(scope, receive, counting_send)
        except asyncio.CancelledError:
            # The server cancelled the request (shutdown timeout): 499, nginx's "client closed request".
            finish(499, "cancelled")
            raise
        except BaseException:
            # An exception that escapes the app becomes a 500 from Starlette's outermost handler.
            finish(500)
            raise
        finally:
            if not finished:
                finish(status or 500)
