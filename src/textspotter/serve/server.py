"""Connection-level guards for uvicorn: a header deadline, a body backstop and a cap on open connections.

uvicorn's h11 protocol closes idle kept-alive connections (``timeout_keep_alive``) but waits forever for a
request's headers, on a fresh connection or a kept-alive one, and answers over-the-limit connections only once
their headers are in. :class:`GuardedH11Protocol` adds the missing deadlines; :func:`uvicorn_options` gives the
``uvicorn.run`` / ``uvicorn.Config`` arguments that apply a :class:`ConnectionLimits` (the CLI uses it).

>>> import uvicorn                                                                          # doctest: +SKIP
>>> config = ServeConfig(model="weights/v1")                                               # doctest: +SKIP
>>> uvicorn.run(create_app(config), port=8000, **uvicorn_options(config.connections))      # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .config import ConnectionLimits
from .metrics import CONNECTIONS

__all__ = ["GuardedH11Protocol", "uvicorn_options"]

_logger = logging.getLogger(__name__)

# The ASGI body deadline (textspotter.serve.guards.BodyGuard) answers 408 first; this closes the connection a little
# later in case the application is not reading the body at all.
_BODY_BACKSTOP_S = 2.0

_BUSY_BODY = b'{"error": {"type": "overloaded", "message": "too many open connections; retry later"}}'
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\nretry-after: 1\r\n"
    + b"content-length: %d\r\n\r\n" % len(_BUSY_BODY)
    + _BUSY_BODY
)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines on the request's headers and body and a cap on connections.

    Args:
        config, server_state, app_state, _loop: as uvicorn passes them to its protocols.
        limits: the connection limits (``max_connections``, ``header_timeout_s``, ``body_timeout_s``).
    """

    def __init__(self, config: Any, server_state: Any, app_state: Any, _loop: Any = None, *, limits: ConnectionLimits):
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_phase: str | None = None  # "headers" or "body": what the armed deadline waits for

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        CONNECTIONS.open = len(self.connections)
        if len(self.connections) > self.limits.max_connections:
            CONNECTIONS.refused += 1
            # Answer before reading anything: the request would never be served anyway.
            _logger.warning(
                "refusing a connection: %d are open (limit %d)", len(self.connections) - 1, self.limits.max_connections
            )
            transport.write(_BUSY)
            transport.close()
            return
        self._arm("headers")

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
        CONNECTIONS.open = len(self.connections)

    def _follow_request(self) -> None:
        """Arm the deadline that matches where the client is in its request (called after every state change)."""
        if self.transport.is_closing():
            self._disarm()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            # Part of a request's headers is buffered: the header deadline runs. With nothing buffered after a
            # response, the connection is idle between requests, which uvicorn's keep-alive timeout governs; before
            # the first request, the deadline armed when the connection opened keeps running.
            if self.conn.trailing_data[0]:
                self._arm("headers")
            elif self.cycle is not None:
                self._disarm()
        elif state is h11.SEND_BODY:
            self._arm("body")
        else:
            self._disarm()

    def _arm(self, phase: str) -> None:
        if self._deadline_phase == phase:
            return  # keep the deadline counted from the phase's start
        self._disarm()
        seconds = self.limits.header_timeout_s if phase == "headers" else self.limits.body_timeout_s + _BODY_BACKSTOP_S
        self._deadline = self.loop.call_later(seconds, self._expire, phase, seconds)
        self._deadline_phase = phase

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._deadline_phase = None

    def _expire(self, phase: str, seconds: float) -> None:
        self._deadline = None
        self._deadline_phase = None
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        _logger.info("closing the connection of %s: request %s not received within %g s", client, phase, seconds)
        CONNECTIONS.timed_out[phase] += 1
        self.transport.close()


def uvicorn_options(limits: ConnectionLimits) -> dict[str, Any]:
    """The ``uvicorn.run`` keyword arguments that apply ``limits``.

    The protocol is h11 with our deadlines whatever else is installed (httptools would lack them), given as a
    ``functools.partial`` of a module-level class so that it pickles to ``--workers`` processes.
    """
    return {
        "http": functools.partial(GuardedH11Protocol, limits=limits),
        "timeout_keep_alive": limits.keep_alive_timeout_s,
        "timeout_graceful_shutdown": limits.shutdown_timeout_s,
    }
