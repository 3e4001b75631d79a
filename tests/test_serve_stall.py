"""Stalled clients against a real ``textspotter serve`` process (issue #17): 50 connections that send half their
headers or half their body, next to well-behaved requests and more connections than the cap allows.

The server runs with short timeouts (header 1.5 s, body 2.5 s, graceful shutdown 1 s) so that the whole test,
start-up included, takes well under 20 s.
"""

import base64
import io
import signal
import socket
import time

import pytest
import torch

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from PIL import Image  # noqa: E402

from test_serve_e2e import Server  # noqa: E402
from test_serve_ops import parse_metrics, value  # noqa: E402
from textspotter.models import create_model  # noqa: E402
from textspotter.models.checkpoints import save_model  # noqa: E402

HEADER_TIMEOUT = 1.5
BODY_TIMEOUT = 2.5
MAX_CONNECTIONS = 60
SLACK = 2.0  # seconds of scheduling delay allowed on a busy machine
SHUTDOWN_BOUND = 10.0  # seconds from SIGTERM to exit, whatever the clients do


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model") / "tiny-test"
    save_model(create_model("tiny-test"), folder)
    return str(folder)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def half_headers(port: int) -> socket.socket:
    sock = connect(port)
    sock.sendall(b"POST /v1/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Le")
    return sock


def half_body(port: int) -> socket.socket:
    sock = connect(port)
    head = (
        b"POST /v1/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 20000\r\n\r\n"
    )
    sock.sendall(head + b'{"input": [{"type": "image_url", "url": "data:image/png;base64,' + b"A" * 5000)
    return sock


def kept_alive_then_half_headers(port: int) -> socket.socket:
    """A connection that completes one request, then stalls in the headers of the next (uvicorn's own keep-alive
    timer stops at the first byte of a request, so only the header deadline closes it)."""
    sock = connect(port)
    sock.sendall(b"GET /v1/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while not answer.endswith(b'{"status":"live"}'):
        chunk = sock.recv(4096)
        assert chunk, answer
        answer += chunk
    sock.sendall(b"GET /v1/health/live HTTP/1.1\r\nHo")
    return sock


def read_until_closed(sock: socket.socket, deadline: float) -> tuple[bytes, float | None]:
    """Everything the server sends until it closes the connection; and when it did (None: still open at deadline)."""
    received = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return received, None
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return received, None
        except ConnectionResetError:
            return received, time.monotonic()
        if not chunk:
            return received, time.monotonic()
        received += chunk


def infer_body(seed: int) -> dict:
    buffer = io.BytesIO()
    Image.new("RGB", (64 + seed, 48), (255 - seed, 255, 255)).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"input": [{"type": "image_url", "url": url}], "merge_levels": ["word"]}


def test_stalled_clients_are_dropped_and_sigterm_stops_the_server_in_bounded_time(model_folder):
    server = Server(
        model_folder,
        "--header-timeout",
        str(HEADER_TIMEOUT),
        "--body-timeout",
        str(BODY_TIMEOUT),
        "--shutdown-timeout",
        "1",
        "--max-connections",
        str(MAX_CONNECTIONS),
        "--log-level",
        "warning",
    )
    port = int(server.url.rsplit(":", 1)[1])
    stalled: list[socket.socket] = []
    extra: list[socket.socket] = []
    try:
        opened = time.monotonic()
        stalled = [half_headers(port) if i % 2 == 0 else half_body(port) for i in range(48)]
        stalled += [kept_alive_then_half_headers(port) for _ in range(2)]
        with httpx.Client(base_url=server.url, timeout=30) as client:
            statuses = [client.post("/v1/infer", json=infer_body(0)).status_code]
            # Beyond the cap (50 stalled + this client's connection + 15 = 66 > 60): refused at once with a 503.
            extra = [connect(port) for _ in range(15)]
            answers = [read_until_closed(sock, time.monotonic() + 0.5)[0] for sock in extra]
            refused = [a for a in answers if a.startswith(b"HTTP/1.1 503") and b"too many open connections" in a]
            assert len(refused) >= 5, answers
            # The well-behaved client is served all along, on its kept-alive connection.
            statuses += [client.post("/v1/infer", json=infer_body(seed)).status_code for seed in range(1, 8)]
            assert statuses == [200] * 8
            deadline = opened + BODY_TIMEOUT + 2 + SLACK
            results = [read_until_closed(sock, deadline) for sock in stalled]
            for i, (received, closed_at) in enumerate(results):
                assert closed_at is not None, f"stalled connection {i} still open after {deadline - opened:.1f} s"
                if i % 2 == 0 or i >= 48:  # half headers: closed without an answer once the header deadline passed
                    assert received == b"" and closed_at - opened < HEADER_TIMEOUT + SLACK, (i, closed_at - opened)
                else:  # half a body: 408, then closed
                    assert received.startswith(b"HTTP/1.1 408"), received[:200]
                    assert b"request_timeout" in received
            # And the server still answers once they are gone.
            assert client.get("/v1/health/ready").status_code == 200
            # /metrics saw it all: the refused connections, the stalled headers, the 408s and the served requests.
            _, samples = parse_metrics(client.get("/metrics").text)
            assert value(samples, "textspotter_connections_refused_total") == len(refused)
            # 24 + 2 stalled in their headers, and the extra connections that were let in but never sent a byte.
            timed_out = value(samples, "textspotter_connections_timed_out_total", phase="headers")
            assert 26 <= timed_out <= 26 + len(extra) - len(refused)
            assert value(samples, "textspotter_requests_total", route="/v1/infer", code="408") == 24
            assert value(samples, "textspotter_errors_total", route="/v1/infer", type="request_timeout") == 24
            assert value(samples, "textspotter_requests_total", route="/v1/infer", code="200") == 8
            assert value(samples, "textspotter_pages_total", kind="image") == 8
            assert value(samples, "textspotter_open_connections") >= 1  # this client's

        # SIGTERM with stalled clients connected: the server must still exit within the bound.
        stalled = [half_headers(port), half_body(port), half_body(port)]
        time.sleep(0.2)
        sent = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=SHUTDOWN_BOUND + 5)
        took = time.monotonic() - sent
        code, output = server.stop()
        # uvicorn re-raises the signal once it has shut down, so the exit status may say "terminated by SIGTERM".
        assert code in (0, -signal.SIGTERM), output
        assert took < SHUTDOWN_BOUND, f"{took:.1f} s from SIGTERM to exit\n{output}"
    finally:
        for sock in stalled + extra:
            sock.close()
        if not server.log.closed:
            server.stop()
