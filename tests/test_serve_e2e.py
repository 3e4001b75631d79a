"""End to end: a real ``textspotter serve`` process on a loopback port, the real pipeline, a real HTTP client.

Every answer is compared with what :class:`textspotter.OCR` gives for the same image in this process, so a
response that went to the wrong request, or a page lost in a batch, shows.
"""

import asyncio
import base64
import io
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
import torch

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from PIL import Image, ImageDraw  # noqa: E402

from test_serve_app import MULTIPART, streamed_upload  # noqa: E402
from textspotter import OCR  # noqa: E402
from textspotter.export import to_nim  # noqa: E402
from textspotter.models import create_model  # noqa: E402
from textspotter.models.checkpoints import save_model  # noqa: E402

READY_TIMEOUT = 90.0  # seconds; start-up imports torch and loads the model on a shared 2-core machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A ``textspotter serve`` process on a free loopback port, ready when constructed.

    Its output goes to a temporary file: a pipe that nobody reads could fill up and block the server.
    """

    def __init__(self, model: str, *extra: str) -> None:
        port = free_port()
        command = [sys.executable, "-m", "textspotter", "serve", "--model", model, "--host", "127.0.0.1"]
        command += ["--port", str(port), "--device", "cpu", "--threads", "1", *extra]
        self.url = f"http://127.0.0.1:{port}"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - the server writes to it until stop() closes it
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/v1/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        _, output = self.stop()
        raise RuntimeError(f"the server was not ready within {READY_TIMEOUT} s:\n{output}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> tuple[int, str]:
        """Send SIGTERM (as a process manager does), wait; return the exit code and everything the server wrote."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        output = self.output()
        self.log.close()
        return self.process.returncode, output


def make_page(seed: int, width: int, height: int) -> np.ndarray:
    """A white page with dark bars of different lengths, so that each page reads differently."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for row in range(int(rng.integers(3, 7))):
        y = 20 + row * (height - 40) // 7
        x0 = int(rng.integers(10, width // 3))
        draw.rectangle((x0, y, x0 + int(rng.integers(width // 6, width // 2)), y + height // 20), fill=(20, 20, 20))
        draw.text((x0, y + height // 18), f"line {seed} {row}", fill=(0, 0, 0))
    return np.asarray(image)


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def assert_close(actual, expected, path="") -> None:
    """Equal structure and strings; floats within 0.02 (quads are rounded to 0.01 px, and a batch of several
    pages may differ from a single page in the last float bits)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), path
        for key in expected:
            assert_close(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, f"{path}[{i}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, abs=0.02), path
    else:
        assert actual == expected, path


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("tiny-test")
    with torch.no_grad():
        # Random weights read nothing: all confidences sit near 0.5 and every word is pruned as invalid. Sharpen
        # the detector's confidence and box outputs and the recognizer's classifier so that pages yield valid
        # (random but deterministic) words, and answers can be told apart.
        head = model.detector.output.preds[-1].weight
        head[0] *= 3000
        head[1:5] *= 100
        model.recognizer.classifier.weight *= 200
    folder = tmp_path_factory.mktemp("model") / "tiny-test"
    save_model(model, folder)
    return str(folder)


@pytest.fixture(scope="module")
def direct(model_folder):
    return OCR(model=model_folder, device="cpu", batch_size=4)


@pytest.fixture(scope="module")
def server(model_folder):
    limits = ["--max-body-mb", "1"]
    # The same thread count as this process (conftest), whose direct reads are the expected answers: the sharpened
    # random weights put some paragraph links so near their threshold that the order of a sum decides them.
    threads = ["--threads", str(torch.get_num_threads())]
    running = Server(
        model_folder, "--max-batch-size", "4", "--batch-timeout-ms", "20", *limits, *threads, "--log-level", "warning"
    )
    yield running.url
    running.stop()


def infer_body(images: list[np.ndarray], merge_levels: list[str] | None = None) -> dict:
    urls = ["data:image/png;base64," + base64.b64encode(png_bytes(image)).decode() for image in images]
    body: dict = {"input": [{"type": "image_url", "url": url} for url in urls]}
    if merge_levels is not None:
        body["merge_levels"] = merge_levels
    return body


def test_concurrent_infer_requests_each_get_their_own_answer(server, direct):
    pages = [make_page(seed, 320 + 40 * seed, 240 + 30 * (seed % 3)) for seed in range(7)]
    expected_pages = [document.pages[0] for document in direct.read(pages)]
    assert sum(len(page.words) for page in expected_pages) > 10  # the pages do read as something
    # (page indices, merge_levels sent, the level each page should be answered at)
    requests = [
        ([0], ["word"], ["word"]),
        ([1, 2], ["sentence"], ["sentence", "sentence"]),
        ([3], None, ["paragraph"]),
        ([4, 5], ["word", "paragraph"], ["word", "paragraph"]),
        ([6], None, ["paragraph"]),
    ] * 2  # twice over, all at once, so that requests share batches

    async def send_all():
        async with httpx.AsyncClient(base_url=server, timeout=60) as client:
            bodies = [infer_body([pages[i] for i in indices], sent) for indices, sent, _ in requests]
            return await asyncio.gather(*(client.post("/v1/infer", json=body) for body in bodies))

    before = httpx.get(f"{server}/v1/metadata").json()["stats"]
    responses = asyncio.run(send_all())
    after = httpx.get(f"{server}/v1/metadata").json()["stats"]
    for response, (indices, _, levels) in zip(responses, requests):
        assert response.status_code == 200, response.text
        expected = [to_nim(expected_pages[i], level) for i, level in zip(indices, levels)]
        assert_close(response.json()["data"], expected)
    assert after["images_run"] - before["images_run"] == 14
    assert after["batches_run"] - before["batches_run"] < 14  # some requests shared a model call


def test_read_answers_the_document_json_of_images_and_pdfs(server, direct):
    image = make_page(11, 400, 300)
    pdf = io.BytesIO()
    first, second = Image.fromarray(make_page(12, 300, 200)), Image.fromarray(make_page(13, 200, 300))
    first.save(pdf, format="PDF", save_all=True, append_images=[second])
    files = [
        ("files", ("page.png", png_bytes(image), "image/png")),
        ("files", ("doc.pdf", pdf.getvalue(), "application/pdf")),
    ]
    response = httpx.post(f"{server}/v1/read", files=files, timeout=60)
    assert response.status_code == 200, response.text
    documents = response.json()["documents"]
    expected = direct.read([png_bytes(image), pdf.getvalue()])
    expected_json = [dict(doc.to_dict(), source=name) for doc, name in zip(expected, ("page.png", "doc.pdf"))]
    assert [len(d["pages"]) for d in documents] == [1, 2]
    assert any(page["paragraphs"] for document in documents for page in document["pages"])
    assert_close(documents, expected_json)


def test_service_endpoints_and_errors_over_http(server):
    with httpx.Client(base_url=server, timeout=30) as client:
        assert client.get("/v1/health/live").json() == {"status": "live"}
        assert client.get("/v1/health/ready").json() == {"status": "ready"}
        assert client.get("/v1/models").json()["data"][0]["id"] == "tiny-test"
        metadata = client.get("/v1/metadata").json()
        assert metadata["device"] == "cpu" and metadata["batching"]["max_batch_size"] == 4
        assert "/v1/infer" in client.get("/openapi.json").json()["paths"]
        refused = client.post("/v1/infer", json={"input": [{"type": "image_url", "url": "http://example.com/a.png"}]})
        assert refused.status_code == 400
        assert refused.json()["error"]["type"] == "unsupported_input"
        broken = client.post("/v1/infer", json={"input": [{"type": "image_url", "url": "data:image/png;base64,AAAA"}]})
        assert broken.status_code == 400 and broken.json()["error"]["type"] == "invalid_image"
        assert client.get("/v1/nope").json()["error"]["type"] == "not_found"
        # Over the 1 MiB body limit: refused from Content-Length, and while a body without one streams in.
        too_big = {"input": [{"type": "image_url", "url": "data:image/png;base64," + "A" * 1_200_000}]}
        response = client.post("/v1/infer", json=too_big)
        assert response.status_code == 413 and response.json()["error"]["type"] == "payload_too_large"
        response = client.post(
            "/v1/read", content=streamed_upload(2_000_000, 100_000), headers={"content-type": MULTIPART}
        )
        assert response.status_code == 413 and response.json()["error"]["type"] == "payload_too_large"
        assert client.get("/v1/health/ready").status_code == 200  # and the server carries on


@pytest.mark.slow  # two more processes that import torch and load the model
def test_several_workers_serve_and_stop_cleanly_on_sigterm(model_folder, direct):
    server = Server(model_folder, "--workers", "2")
    try:
        page = make_page(21, 300, 200)
        response = httpx.post(f"{server.url}/v1/infer", json=infer_body([page], ["word"]), timeout=60)
        assert response.status_code == 200, response.text
        assert_close(response.json()["data"], [to_nim(direct.read([page])[0].pages[0], "word")])
    finally:
        code, output = server.stop()
    assert code == 0, output
    # Each worker loaded the model once, and ran its shutdown (the batcher's worker thread joined).
    assert output.count("ready: model tiny-test on cpu") == 2, output
    assert output.count("Application shutdown complete") == 2, output
