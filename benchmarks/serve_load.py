"""Load test of ``textspotter serve``: N concurrent clients for T seconds against a loopback server.

Starts ``python -m textspotter serve`` on a free loopback port (or uses ``--url`` of a running server), sends NIM
``/v1/infer`` requests from ``--clients`` concurrent clients for ``--rounds`` rounds of ``--duration`` seconds after
a warm-up, and reports requests per second, latency percentiles, errors, the server's mean batch size and its
resident memory (RSS, summed over its worker processes) after the warm-up and after each round, so that growth
shows. Results of runs on our machines are in benchmarks/RESULTS.md.

    python benchmarks/serve_load.py --model tiny-test --clients 8 --duration 20 --rounds 3

``--stalled N`` adds N hostile connections for the whole run, half of them sending half their request headers and
half sending their headers and half their body, each reopened as soon as the server drops it; the report then says
how many the server dropped, how long they lived and how many got 408, next to what the well-behaved clients saw.
``--header-timeout`` and ``--body-timeout`` are passed to the server it starts.

    python benchmarks/serve_load.py --clients 4 --stalled 200 --header-timeout 2 --body-timeout 4 --duration 10

``--model`` takes a model folder or a registry name (random weights are then saved to a temporary folder: fine
for measuring the service, meaningless as OCR). Linux only for the RSS figures (read from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from pages import PageLayout, word_page  # benchmarks/pages.py: the script's folder is on sys.path

SPARSE = PageLayout(font=24, margin=12, pitch=10, words=(2, 7))


def make_page(index: int, width: int, height: int) -> bytes:
    """A white page with a few lines of words, different for each index; returned as PNG bytes."""
    buffer = io.BytesIO()
    word_page(index, width, height, SPARSE).save(buffer, format="PNG")
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_tree_rss(pid: int) -> int:
    """Resident memory in bytes of a process and all its descendants (uvicorn workers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                # The command name (field 2) may hold spaces; the parent pid is the 2nd field after its ')'.
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, []))
        try:
            with open(f"/proc/{current}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


@dataclass
class RoundResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    images: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())


async def run_round(
    client: httpx.AsyncClient, url: str, bodies: list[dict], *, clients: int, seconds: float
) -> RoundResult:
    """Each client sends requests back to back until the time is up; latencies of successful requests only."""
    result = RoundResult(seconds=seconds)
    deadline = time.monotonic() + seconds

    async def one_client(number: int) -> None:
        k = number
        while time.monotonic() < deadline:
            body = bodies[k % len(bodies)]
            k += clients
            start = time.perf_counter()
            try:
                response = await client.post(url, json=body)
            except httpx.HTTPError as error:
                key = type(error).__name__
                result.errors[key] = result.errors.get(key, 0) + 1
                continue
            if response.status_code != 200 or len(response.json().get("data", ())) != len(body["input"]):
                key = f"HTTP {response.status_code}"
                result.errors[key] = result.errors.get(key, 0) + 1
                continue
            result.latencies.append(time.perf_counter() - start)
            result.images += len(body["input"])

    started = time.monotonic()
    await asyncio.gather(*(one_client(i) for i in range(clients)))
    result.seconds = time.monotonic() - started
    return result


_HALF_HEADERS = b"POST /v1/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Le"
_HALF_BODY = (
    b"POST /v1/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 20000\r\n\r\n"
    b'{"input": [{"type": "image_url", "url": "data:image/png;base64,' + b"A" * 5000
)


@dataclass
class StallResult:
    """What N stalled connections met: how often the server dropped them, after how long, with what answer."""

    opened: int = 0
    refused: int = 0  # connections the server would not accept (connect failed, 503 at once, or reset)
    dropped: dict[str, list[float]] = field(default_factory=lambda: {"headers": [], "body": []})
    answered_408: int = 0


async def stall(host: str, port: int, kind: str, result: StallResult, stop: asyncio.Event) -> None:
    """Keep one connection stalled in its headers or body until ``stop``; reopen it whenever the server drops it."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            result.refused += 1
            await asyncio.sleep(0.1)
            continue
        result.opened += 1
        started = time.monotonic()
        writer.write(_HALF_HEADERS if kind == "headers" else _HALF_BODY)
        reading = asyncio.ensure_future(reader.read())  # everything until the server closes
        stopping = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if reading in done:
            try:
                answer = reading.result()
            except OSError:  # reset: the server closed while our request was still arriving (a refusal, mostly)
                answer = b"HTTP/1.1 503 (reset)"
            if answer.startswith(b"HTTP/1.1 503"):
                result.refused += 1
                await asyncio.sleep(0.1)
            else:
                result.dropped[kind].append(time.monotonic() - started)
                result.answered_408 += answer.startswith(b"HTTP/1.1 408")
        else:
            reading.cancel()
        stopping.cancel()
        writer.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values), q))


async def measure(args: argparse.Namespace, base_url: str, server_pid: int | None) -> dict:
    pages = [make_page(i, args.width, args.height) for i in range(args.distinct_images)]
    urls = [f"data:image/png;base64,{base64.b64encode(p).decode()}" for p in pages]
    bodies = [
        {
            "input": [{"type": "image_url", "url": urls[(i + j) % len(urls)]} for j in range(args.images_per_request)],
            "merge_levels": [args.merge_level],
        }
        for i in range(len(urls))
    ]
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    stop_stalling = asyncio.Event()
    stalled = StallResult()
    address = urllib.parse.urlsplit(base_url)
    stallers = [
        asyncio.ensure_future(
            stall(address.hostname, address.port or 80, ("headers", "body")[i % 2], stalled, stop_stalling)
        )
        for i in range(args.stalled)
    ]
    async with httpx.AsyncClient(base_url=base_url, timeout=args.request_timeout, limits=limits) as client:
        rss_loaded = process_tree_rss(server_pid) if server_pid else None
        await run_round(client, "/v1/infer", bodies, clients=args.clients, seconds=args.warmup)
        metadata_before = (await client.get("/v1/metadata")).json()
        rss = [process_tree_rss(server_pid) if server_pid else None]
        rounds = []
        for _ in range(args.rounds):
            rounds.append(await run_round(client, "/v1/infer", bodies, clients=args.clients, seconds=args.duration))
            rss.append(process_tree_rss(server_pid) if server_pid else None)
        metadata_after = (await client.get("/v1/metadata")).json()
    stop_stalling.set()
    await asyncio.gather(*stallers)
    latencies = [latency for r in rounds for latency in r.latencies]
    seconds = sum(r.seconds for r in rounds)
    errors: dict[str, int] = {}
    for r in rounds:
        for key, count in r.errors.items():
            errors[key] = errors.get(key, 0) + count
    batches = metadata_after["stats"]["batches_run"] - metadata_before["stats"]["batches_run"]
    images_run = metadata_after["stats"]["images_run"] - metadata_before["stats"]["images_run"]
    return {
        "requests": sum(r.requests for r in rounds),
        "requests_per_second": sum(len(r.latencies) for r in rounds) / seconds,
        "images_per_second": sum(r.images for r in rounds) / seconds,
        "requests_per_second_by_round": [len(r.latencies) / r.seconds for r in rounds],
        "latency_p50_ms": 1000 * percentile(latencies, 50),
        "latency_p95_ms": 1000 * percentile(latencies, 95),
        "latency_p99_ms": 1000 * percentile(latencies, 99),
        "errors": errors,
        "mean_batch_size": images_run / batches if batches else float("nan"),
        "rss_after_load_mib": None if rss_loaded is None else rss_loaded / 2**20,
        "rss_mib": [None if value is None else value / 2**20 for value in rss],
        "device": metadata_after["device"],
        "model": metadata_after["modelInfo"][0]["shortName"],
        "batching": metadata_after["batching"],
        "stalled": None
        if not args.stalled
        else {
            "connections": args.stalled,
            "opened": stalled.opened,
            "refused": stalled.refused,
            "answered_408": stalled.answered_408,
            **{
                f"dropped_in_{kind}": {
                    "count": len(times),
                    "lifetime_p50_s": percentile(times, 50),
                    "lifetime_max_s": max(times, default=float("nan")),
                }
                for kind, times in stalled.dropped.items()
            },
        },
    }


def prepare_model(name_or_folder: str, workdir: str) -> str:
    if os.path.isdir(name_or_folder):
        return name_or_folder
    from textspotter.models import create_model
    from textspotter.models.checkpoints import save_model

    folder = os.path.join(workdir, name_or_folder)
    save_model(create_model(name_or_folder), folder)
    return folder


def start_server(args: argparse.Namespace, model: str, port: int, log_path: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "textspotter",
        "serve",
        "--model",
        model,
        "--device",
        args.device,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--max-batch-size",
        str(args.max_batch_size),
        "--batch-timeout-ms",
        str(args.batch_timeout_ms),
        "--log-level",
        "warning",
    ]
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    for flag in ("header_timeout", "body_timeout", "max_connections"):
        if getattr(args, flag) is not None:
            command += ["--" + flag.replace("_", "-"), str(getattr(args, flag))]
    log = open(log_path, "wb")  # noqa: SIM115 - the server writes to it until it is stopped
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(base_url: str, server: subprocess.Popen | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode} before it was ready")
        try:
            if httpx.get(f"{base_url}/v1/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {base_url} was not ready within {timeout:.0f} s")


def report(args: argparse.Namespace, command: str, results: dict) -> str:
    rss = results["rss_mib"]
    rss_text = " → ".join("n/a" if v is None else f"{v:.0f}" for v in rss)
    if rss[0] is None:
        growth = "n/a"
    else:
        # Allocators keep their high-water mark, so early rounds may grow; a leak keeps growing in the later half.
        half = rss[len(rss) // 2]
        growth = f"{rss[-1] - rss[0]:+.1f} MiB over all rounds, {rss[-1] - half:+.1f} MiB over the second half"
    errors = ", ".join(f"{k}: {v}" for k, v in results["errors"].items()) or "0"
    batching = results["batching"]
    rows = [
        ("command", f"`{command}`"),
        ("date", time.strftime("%Y-%m-%d %H:%M %Z")),
        ("load average at the end (1 / 5 min)", "{:.1f} / {:.1f}".format(*os.getloadavg()[:2])),
        (
            "machine",
            f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}",
        ),
        ("model / device", f"{results['model']} on {results['device']}"),
        (
            "workload",
            f"{args.clients} clients × {args.rounds} rounds × {args.duration:g} s (after {args.warmup:g} s "
            f"warm-up); {args.images_per_request} image(s) of {args.width}×{args.height} per request, merge level "
            f"{args.merge_level}",
        ),
        (
            "batching",
            f"max batch {batching['max_batch_size']}, window {batching['batch_timeout_ms']:g} ms; "
            f"mean batch {results['mean_batch_size']:.2f} images",
        ),
        ("requests", f"{results['requests']} ({errors} errors)"),
        (
            "requests / s",
            f"{results['requests_per_second']:.2f} (rounds: "
            + ", ".join(f"{v:.2f}" for v in results["requests_per_second_by_round"])
            + ")",
        ),
        ("images / s", f"{results['images_per_second']:.2f}"),
        (
            "latency p50 / p95 / p99",
            f"{results['latency_p50_ms']:.0f} / {results['latency_p95_ms']:.0f} / {results['latency_p99_ms']:.0f} ms",
        ),
        *(
            []
            if results["stalled"] is None
            else [
                (
                    "stalled connections",
                    "{connections} kept open (half headers / half body), {opened} opened in all, {refused} refused; "
                    "dropped by the server: {h[count]} in their headers (lived p50 {h[lifetime_p50_s]:.1f} s, max "
                    "{h[lifetime_max_s]:.1f} s), {b[count]} in their body (p50 {b[lifetime_p50_s]:.1f} s, max "
                    "{b[lifetime_max_s]:.1f} s; {answered_408} answered 408)".format(
                        h=results["stalled"]["dropped_in_headers"],
                        b=results["stalled"]["dropped_in_body"],
                        **results["stalled"],
                    ),
                )
            ]
        ),
        (
            "server RSS (MiB)",
            f"after model load {results['rss_after_load_mib'] or float('nan'):.0f}; after warm-up "
            f"→ each round: {rss_text} (growth {growth})",
        ),
    ]
    return "\n".join(["| | |", "|---|---|"] + [f"| {key} | {value} |" for key, value in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an already running server (default: start one on a free loopback port)")
    parser.add_argument("--server-pid", type=int, help="pid of the --url server, for its RSS")
    parser.add_argument("--model", default="tiny-test", help="model folder or registry name (default: tiny-test)")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, help="PyTorch threads of the server (its --threads)")
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--batch-timeout-ms", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--stalled", type=int, default=0, help="stalled connections kept open during the run")
    parser.add_argument("--header-timeout", type=float, help="the started server's --header-timeout")
    parser.add_argument("--body-timeout", type=float, help="the started server's --body-timeout")
    parser.add_argument("--max-connections", type=int, help="the started server's --max-connections")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (RSS is read after each)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring")
    parser.add_argument("--images-per-request", type=int, default=1)
    parser.add_argument("--distinct-images", type=int, default=16)
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--height", type=int, default=600)
    parser.add_argument("--merge-level", default="paragraph", choices=("word", "sentence", "paragraph"))
    parser.add_argument("--request-timeout", type=float, default=120.0)
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    command = "python benchmarks/serve_load.py " + " ".join(argv if argv is not None else sys.argv[1:])

    server = None
    with tempfile.TemporaryDirectory() as workdir:
        if args.url:
            base_url, server_pid = args.url.rstrip("/"), args.server_pid
        else:
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            server = start_server(args, prepare_model(args.model, workdir), port, Path(workdir) / "server.log")
            server_pid = server.pid
        try:
            wait_ready(base_url, server, args.ready_timeout)
            results = asyncio.run(measure(args, base_url, server_pid))
        except BaseException:
            if server is not None:
                sys.stderr.write((Path(workdir) / "server.log").read_text(errors="replace")[-4000:])
            raise
        finally:
            if server is not None:
                server.terminate()
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
    print(report(args, command, results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
