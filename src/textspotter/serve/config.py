"""Settings of the HTTP service, importable without FastAPI (the CLI reads their defaults for ``--help``).

docs/serve.md lists every limit with its default, its CLI flag and its field here.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from dataclasses import dataclass, field

from .batching import BatchOptions

__all__ = ["ServeLimits", "ConnectionLimits", "AccessPolicy", "ServeConfig", "CONFIG_ENV"]

CONFIG_ENV = "TEXTSPOTTER_SERVE_CONFIG"
"""Environment variable through which the CLI hands a :class:`ServeConfig` (JSON) to uvicorn worker processes."""


@dataclass(frozen=True)
class ServeLimits:
    """Bounds on what requests may ask for; a request beyond them is refused before any page is decoded.

    Pixel counts are width × height of decoded pages (3 bytes each once decoded); a PDF page counts at the dpi it
    is rendered at (200 unless the ``/v1/read`` request asks for another), judged from its page box before it is
    rendered.

    Attributes:
        max_body_bytes: request body size (a base64 data URL is 4/3 of the image file).
        max_images_per_request: images on ``/v1/infer``; pages over all files on ``/v1/read``.
        max_pixels_per_image: one image or rendered PDF page.
        max_pixels_per_request: all the images or pages of one request together.
        max_pixels_in_flight: all decoded pages of all requests that are being decoded or wait for the model, in
            one server process; a request that would pass it gets 503 ``overloaded`` at once. At least
            ``max_pixels_per_request``.
    """

    max_body_bytes: int = 32 * 1024 * 1024
    max_images_per_request: int = 64
    max_pixels_per_image: int = 40_000_000
    max_pixels_per_request: int = 250_000_000
    max_pixels_in_flight: int = 500_000_000

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"ServeLimits.{item.name} must be an int, got {value!r}")
            if value < 1:
                raise ValueError(f"{item.name} must be at least 1, got {value}")
        if self.max_pixels_in_flight < self.max_pixels_per_request:
            # Otherwise a request within its own limit could never be admitted.
            raise ValueError(
                f"max_pixels_in_flight ({self.max_pixels_in_flight}) must be at least max_pixels_per_request "
                f"({self.max_pixels_per_request})"
            )


@dataclass(frozen=True)
class ConnectionLimits:
    """Bounds on connections, so that slow or stalled clients cannot hold the server.

    Attributes:
        max_connections: open connections of one server process; one more is answered 503 and closed at once.
        header_timeout_s: time to send a request's headers, counted from the connection's opening or from the
            first byte of a request on a kept-alive connection; then the connection is closed.
        body_timeout_s: time to send a request's body once its headers are in; then the answer is 408
            ``request_timeout`` and the connection is closed.
        keep_alive_timeout_s: how long an idle connection is kept open between requests.
        shutdown_timeout_s: on SIGTERM, how long requests in flight may still finish before they are cancelled.
    """

    max_connections: int = 100
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    keep_alive_timeout_s: float = 30.0
    shutdown_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if isinstance(self.max_connections, bool) or not isinstance(self.max_connections, int):
            raise TypeError(f"ConnectionLimits.max_connections must be an int, got {self.max_connections!r}")
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {self.max_connections}")
        for name in ("header_timeout_s", "body_timeout_s", "keep_alive_timeout_s", "shutdown_timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


def _check_host_name(name: str) -> None:
    if name == "*":
        return
    if not name or any(c in name for c in "/@ \t") or name.startswith(("http:", "https:")):
        raise ValueError(f"allowed host {name!r} must be a bare host name or address (no scheme, path or port)")


def _check_origin(origin: str) -> None:
    if origin in ("*", "null"):
        return
    scheme, sep, rest = origin.partition("://")
    if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
        raise ValueError(f"allowed origin {origin!r} must look like https://example.com or http://host:8080")


@dataclass(frozen=True)
class AccessPolicy:
    """Who may call the service: checked on every request before its body is read.

    Attributes:
        allowed_hosts: host names accepted in the ``Host`` header besides ``localhost`` and IP addresses (which
            are always accepted); ``"*"`` accepts any. Refusing other names defeats DNS rebinding, where a web
            page of a domain the attacker controls makes the browser of a user of this service call it.
        allowed_origins: browser origins (``https://app.example.com``) whose pages may call the service; the
            service's own pages (``/docs``) are always allowed, ``"*"`` allows any. A request with any other
            ``Origin`` header gets 403; allowed origins also get CORS headers.
        api_key: when set, every request except the health checks, the API documentation and (unless
            ``metrics_need_key``) ``/metrics`` must carry it, as ``Authorization: Bearer <key>`` or
            ``X-API-Key: <key>``; otherwise 401. Not shown by ``repr``.
        metrics_need_key: whether ``/metrics`` needs the API key too. By default it is open like the health
            checks, since Prometheus scrapers usually run inside the network and are rarely given credentials; the
            metrics show counts and sizes, no content and no file names.
    """

    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    api_key: str | None = field(default=None, repr=False)
    metrics_need_key: bool = False

    def __post_init__(self) -> None:
        for name in ("allowed_hosts", "allowed_origins"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise TypeError(f"AccessPolicy.{name} must be a tuple of str, got {value!r}")
            object.__setattr__(self, name, tuple(v.strip().lower().rstrip("/") for v in value))
        for host in self.allowed_hosts:
            _check_host_name(host)
        for origin in self.allowed_origins:
            _check_origin(origin)
        if self.api_key is not None:
            if not isinstance(self.api_key, str) or not self.api_key.strip():
                raise ValueError("api_key must be a non-empty string (or None for no key)")
            if not self.api_key.isascii() or any(c.isspace() for c in self.api_key):
                raise ValueError("api_key must be printable ASCII without spaces (it travels in an HTTP header)")
        if not isinstance(self.metrics_need_key, bool):
            raise TypeError(f"AccessPolicy.metrics_need_key must be a bool, got {self.metrics_need_key!r}")

    def with_bound_host(self, host: str) -> AccessPolicy:
        """Return the policy that also accepts the name the server listens on (an address needs nothing)."""
        name = host.strip("[]").lower()
        try:
            ipaddress.ip_address(name)
            return self
        except ValueError:
            pass
        if name in self.allowed_hosts:
            return self
        return dataclasses.replace(self, allowed_hosts=(*self.allowed_hosts, name))


@dataclass(frozen=True)
class ServeConfig:
    """Everything the app needs to start.

    Attributes:
        model: a model folder, or ``None`` for the shipped default model.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"`` (as for :class:`textspotter.OCR`).
        batching: dynamic batching settings.
        limits: request size and memory limits.
        connections: connection count and timeouts (applied by the server: see ``textspotter.serve.server``).
        access: allowed hosts and origins, API key.
        torch_threads: PyTorch intra-op threads of the process (``torch.set_num_threads``), set when the model
            loads; ``None`` keeps PyTorch's default (one per core). The server's own threads (event loop, image
            decoding) need CPU too: on a small or shared machine fewer model threads are often faster.
        decode_threads: threads that decode images and render PDF pages (one process-wide pool, so that many
            clients cannot start many decodes at once).
    """

    model: str | None = None
    device: str = "auto"
    batching: BatchOptions = field(default_factory=BatchOptions)
    limits: ServeLimits = field(default_factory=ServeLimits)
    connections: ConnectionLimits = field(default_factory=ConnectionLimits)
    access: AccessPolicy = field(default_factory=AccessPolicy)
    torch_threads: int | None = None
    decode_threads: int = 2

    def __post_init__(self) -> None:
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ValueError(f"torch_threads must be at least 1 (or None), got {self.torch_threads}")
        if self.decode_threads < 1:
            raise ValueError(f"decode_threads must be at least 1, got {self.decode_threads}")

    def to_json(self) -> str:
        """The config as JSON, API key included (the CLI passes it to worker processes in their environment)."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        data = json.loads(text)
        access = data.get("access", {})
        return cls(
            model=data.get("model"),
            device=data.get("device", "auto"),
            batching=BatchOptions(**data.get("batching", {})),
            limits=ServeLimits(**data.get("limits", {})),
            connections=ConnectionLimits(**data.get("connections", {})),
            access=AccessPolicy(
                allowed_hosts=tuple(access.get("allowed_hosts", ())),
                allowed_origins=tuple(access.get("allowed_origins", ())),
                api_key=access.get("api_key"),
                metrics_need_key=access.get("metrics_need_key", False),
            ),
            torch_threads=data.get("torch_threads"),
            decode_threads=data.get("decode_threads", 2),
        )
