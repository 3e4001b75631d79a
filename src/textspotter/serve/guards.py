"""ASGI middleware that guards the service: who may call it (host, origin, API key) and how its bodies arrive.

Both run before FastAPI reads a body, so a refused request costs no parsing. The connection-level guards (header
timeout, connection cap) live in ``textspotter.serve.server``, where uvicorn's protocol can apply them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from .config import AccessPolicy

__all__ = ["AccessGuard", "BodyGuard", "error_response", "OPEN_PATHS", "METRICS_PATH"]

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
_App = Callable[[_Scope, _Receive, _Send], Awaitable[None]]

OPEN_PATHS = frozenset(
    {"/v1/health/live", "/v1/health/ready", "/docs", "/docs/docs.js", "/docs/docs.css", "/openapi.json"}
)
"""Paths served without the API key: health probes (process managers rarely send credentials) and the API docs."""

METRICS_PATH = "/metrics"
"""Open like :data:`OPEN_PATHS` unless ``AccessPolicy.metrics_need_key``."""

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def error_response(status_code: int, error_type: str, message: str, headers: dict[str, str] | None = None):
    """The service's error answer: ``{"error": {"type": ..., "message": ...}}``."""
    body = {"error": {"type": error_type, "message": message}}
    return JSONResponse(body, status_code=status_code, headers=headers)


def _split_host(value: str) -> tuple[str, str]:
    """``"Example.com:8000"`` → ``("example.com", "8000")``; ``"[::1]:80"`` → ``("::1", "80")``; port may be ``""``."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else ""
    if value.count(":") > 1:  # a bare IPv6 address (not valid in a Host header, but unambiguous)
        return value, ""
    host, _, port = value.partition(":")
    return host, port


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class AccessGuard:
    """Refuse requests for unexpected host names (403), from foreign browser origins (403) or without the API key
    (401), before anything else runs.

    A DNS-rebinding page always reaches the service under the attacker's domain name, so accepting only
    ``localhost``, IP addresses and configured names in ``Host`` defeats it. A browser marks every cross-origin
    POST with ``Origin``; accepting only the service's own origin and configured ones stops web pages from
    submitting forms or uploads to it.
    """

    def __init__(self, app: _App, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy
        self._any_host = "*" in policy.allowed_hosts
        self._any_origin = "*" in policy.allowed_origins
        # Keys are compared as SHA-256 digests: constant time, and the key's length does not leak either.
        self._key_digest = None if policy.api_key is None else hashlib.sha256(policy.api_key.encode()).digest()
        self._open_paths = OPEN_PATHS if policy.metrics_need_key else OPEN_PATHS | {METRICS_PATH}

    def _host_allowed(self, host: str) -> bool:
        if self._any_host or host == "localhost" or host.endswith(".localhost") or _is_address(host):
            return True
        return host in self.policy.allowed_hosts

    def _origin_allowed(self, origin: str, host_header: str) -> bool:
        if self._any_origin or origin in self.policy.allowed_origins:
            return True
        scheme, _, netloc = origin.partition("://")
        if not netloc or not host_header:
            return False
        # Same origin (the service's own /docs page): the same host and port as the request, whatever the scheme
        # (a TLS proxy in front changes it). The host itself has passed the host check.
        origin_host, origin_port = _split_host(netloc)
        host, port = _split_host(host_header)
        return origin_host == host and (origin_port or _DEFAULT_PORTS.get(scheme, "")) == (
            port or _DEFAULT_PORTS.get(scheme, "")
        )

    def _key_given(self, headers: dict[bytes, bytes]) -> bool:
        assert self._key_digest is not None
        given = headers.get(b"x-api-key")
        if given is None:
            scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
            given = token.strip() if scheme.lower() == b"bearer" else None
        if not given:
            return False
        return hmac.compare_digest(hashlib.sha256(given).digest(), self._key_digest)

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host_header = headers.get(b"host", b"").decode("latin-1")
        host, _ = _split_host(host_header)
        refusal = None
        if host_header and not self._host_allowed(host):
            refusal = error_response(
                403,
                "forbidden_host",
                f"host {host!r} is not served here; if it is this server's name, start the server with "
                f"--allowed-host {host} (AccessPolicy.allowed_hosts)",
            )
        elif b"origin" in headers:
            origin = headers[b"origin"].decode("latin-1").strip().lower().rstrip("/")
            if not self._origin_allowed(origin, host_header):
                refusal = error_response(
                    403,
                    "forbidden_origin",
                    f"requests from web pages of {origin!r} are not accepted; start the server with "
                    f"--allowed-origin {origin} to allow them (AccessPolicy.allowed_origins)",
                )
        if (
            refusal is None
            and self._key_digest is not None
            and scope["type"] == "http"
            and scope.get("method") != "OPTIONS"  # CORS preflights never carry credentials
            and scope.get("path") not in self._open_paths
            and not self._key_given(headers)
        ):
            refusal = error_response(
                401,
                "unauthorized",
                "this server needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                {"WWW-Authenticate": "Bearer"},
            )
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await refusal(scope, receive, send)
        else:
            await send({"type": "websocket.close", "code": 1008})


class BodyGuard:
    """Bound request bodies in size and in time.

    Size: refused at once from ``Content-Length``, or as soon as a streamed body passes the limit (413). Time: the
    whole body must arrive within ``body_timeout_s`` of the request's start, else 408. Both answers close the
    connection, since the rest of the body is never read.
    """

    def __init__(self, app: _App, *, max_body_bytes: int, body_timeout_s: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    def _too_large(self, size: str) -> str:
        return f"the request body ({size}) exceeds the limit of {self.max_body_bytes} bytes"

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            response = error_response(
                413, "payload_too_large", self._too_large(f"{int(declared)} bytes"), {"Connection": "close"}
            )
            await response(scope, receive, send)
            return
        deadline = time.monotonic() + self.body_timeout_s
        received = 0
        body_done = False

        async def guarded_receive() -> _Message:
            nonlocal received, body_done
            if body_done:
                return await receive()  # waiting for a disconnect, not for the body
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                # An HTTPException passes through FastAPI's body parsing untouched and reaches our handler.
                raise HTTPException(
                    408,
                    f"the request body did not arrive within {self.body_timeout_s:g} s",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.max_body_bytes:
                    raise HTTPException(
                        413,
                        self._too_large(f"more than {self.max_body_bytes} bytes"),
                        headers={"Connection": "close"},
                    )
            else:
                body_done = True
            return message

        await self.app(scope, guarded_receive, send)
