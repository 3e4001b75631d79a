"""The HTTP app in-process (FastAPI's TestClient) with a fake OCR engine: routes, shapes, limits and errors.

The end-to-end tests with a real uvicorn process and the real pipeline are in test_serve_e2e.py.
"""

import base64
import gc
import io
import threading
import time
import warnings
from typing import get_args

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

with warnings.catch_warnings():
    # Starlette asks for `httpx2` behind its TestClient; the plain httpx it still supports is what we install.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient
from PIL import Image  # noqa: E402

from textspotter.cli.main import main  # noqa: E402
from textspotter.document import Document, Line, Page, Paragraph, Word  # noqa: E402
from textspotter.export import MERGE_LEVELS  # noqa: E402
from textspotter.serve.app import create_app  # noqa: E402
from textspotter.serve.batching import BatchOptions  # noqa: E402
from textspotter.serve.config import ServeConfig, ServeLimits  # noqa: E402
from textspotter.serve.schemas import MergeLevel  # noqa: E402


class FakeOCR:
    """Reads every image as two words whose text names the image (its size and first pixel), so that each answer
    can be matched to its own input. Records batch sizes; ``fail`` makes the next calls raise."""

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []
        self.fail = False
        self.lock = threading.Lock()
        self.gate = threading.Event()  # cleared: model calls wait (up to 10 s) until it is set again
        self.gate.set()
        self.entered = threading.Event()  # set by the first model call

    @staticmethod
    def label(image: np.ndarray) -> str:
        return f"{image.shape[1]}x{image.shape[0]}#{int(image[0, 0, 0])}"

    def read(self, images: list) -> list[Document]:
        self.entered.set()
        self.gate.wait(timeout=10)
        with self.lock:
            self.batch_sizes.append(len(images))
        if self.fail:
            raise RuntimeError("secret internal detail /home/model.bin")
        documents = []
        for image in images:
            height, width = image.shape[:2]
            left = ((2.0, 2.0), (width / 2, 2.0), (width / 2, height / 2), (2.0, height / 2))
            right = ((width / 2 + 1, 2.0), (width - 1.0, 2.0), (width - 1.0, height / 2), (width / 2 + 1, height / 2))
            words = (
                Word(self.label(image), left, 0.9, 0.95, 0.85, order=0),
                Word("tail", right, 0.7, 0.8, 0.6, order=1),
            )
            line = Line(words, ((2.0, 2.0), (width - 1.0, 2.0), (width - 1.0, height / 2), (2.0, height / 2)), 0.8)
            page = Page(width, height, (Paragraph((line,), line.quad, 0.8),))
            documents.append(Document(pages=(page,), source="<array>"))
        return documents


def encode(image: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt)
    return buffer.getvalue()


def data_url(image: np.ndarray, fmt: str = "PNG") -> str:
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(encode(image, fmt)).decode()}"


def make_image(width: int, height: int, value: int) -> np.ndarray:
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    image[0, 0] = value
    return image


@pytest.fixture
def fake():
    return FakeOCR()


@pytest.fixture
def client(fake):
    config = ServeConfig(
        model="folder/fake-model",
        batching=BatchOptions(max_batch_size=4, batch_timeout_ms=20),
        limits=ServeLimits(max_body_bytes=200_000, max_images_per_request=3, max_pixels_per_image=300 * 300),
    )
    with TestClient(create_app(config, ocr=fake), base_url=LOCAL, raise_server_exceptions=False) as test_client:
        yield test_client


MULTIPART = "multipart/form-data; boundary=textspotter-boundary"

# The service refuses host names it does not know (DNS rebinding); TestClient's default "testserver" is one.
LOCAL = "http://localhost"


def streamed_upload(size: int, chunk: int = 10_000):
    """A well-formed multipart body with one file of ``size`` bytes, sent in chunks (so without Content-Length)."""
    yield (
        b'--textspotter-boundary\r\nContent-Disposition: form-data; name="files"; filename="big.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    )
    for start in range(0, size, chunk):
        yield b"x" * min(chunk, size - start)
    yield b"\r\n--textspotter-boundary--\r\n"


def assert_error(response, status: int, error_type: str, *fragments: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == error_type
    for fragment in fragments:
        assert fragment in body["error"]["message"]


def test_infer_answers_one_entry_per_image_in_order(client):
    images = [make_image(60, 40, 10), make_image(50, 80, 20), make_image(90, 30, 30)]
    body = {"input": [{"type": "image_url", "url": data_url(im)} for im in images], "merge_levels": ["word"]}
    response = client.post("/v1/infer", json=body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert len(data) == 3
    for image, entry in zip(images, data):
        detections = entry["text_detections"]
        assert [d["text_prediction"]["text"] for d in detections] == [FakeOCR.label(image), "tail"]
        assert detections[0]["text_prediction"]["confidence"] == pytest.approx(0.9)
        box = detections[0]["bounding_box"]
        assert box["type"] == "quadrilateral"
        height, width = image.shape[:2]
        expected = [2 / width, 2 / height, 0.5, 2 / height, 0.5, 0.5, 2 / width, 0.5]
        # A flat list: pytest >= 9.2 refuses nested structures in approx.
        assert [c for p in box["points"] for c in (p["x"], p["y"])] == pytest.approx(expected)


def test_merge_levels_default_broadcast_and_per_image(client):
    url = data_url(make_image(64, 64, 5))
    two = [{"type": "image_url", "url": url}] * 2
    default = client.post("/v1/infer", json={"input": two}).json()["data"]
    # paragraph (the default) and sentence merge the two words into one item with the texts joined.
    assert [len(d["text_detections"]) for d in default] == [1, 1]
    assert default[0]["text_detections"][0]["text_prediction"]["text"] == "64x64#5 tail"
    mixed = client.post("/v1/ocr", json={"input": two, "merge_levels": ["word", "sentence"]}).json()["data"]
    assert [len(d["text_detections"]) for d in mixed] == [2, 1]
    # "line" is accepted as "sentence"; the answer is the same.
    assert client.post("/v1/ocr", json={"input": two, "merge_levels": ["word", "line"]}).json()["data"] == mixed


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(client, fake):
    images = [make_image(40 + i, 40, i) for i in range(8)]
    answers: dict[int, list] = {}

    def request(i: int) -> None:
        body = {"input": [{"type": "image_url", "url": data_url(images[i])}], "merge_levels": ["word"]}
        answers[i] = client.post("/v1/infer", json=body).json()["data"]

    threads = [threading.Thread(target=request, args=(i,)) for i in range(len(images))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for i, image in enumerate(images):
        assert answers[i][0]["text_detections"][0]["text_prediction"]["text"] == FakeOCR.label(image)
    assert sum(fake.batch_sizes) == 8 and max(fake.batch_sizes) <= 4
    assert len(fake.batch_sizes) < 8  # at least some requests shared a model call
    stats = client.get("/v1/metadata").json()["stats"]
    # pixels_in_flight back to 0: every page gave its reservation back once read.
    assert stats == {"batches_run": len(fake.batch_sizes), "images_run": 8, "images_queued": 0, "pixels_in_flight": 0}


def test_read_answers_document_json_for_images_and_pdf_pages(client):
    page0, page1 = make_image(100, 80, 0), make_image(120, 90, 0)
    pdf = io.BytesIO()
    Image.fromarray(page0).save(pdf, format="PDF", save_all=True, append_images=[Image.fromarray(page1)])
    files = [
        ("files", ("scan.png", encode(make_image(70, 50, 7)), "image/png")),
        ("files", ("two-pages.pdf", pdf.getvalue(), "application/pdf")),
    ]
    response = client.post("/v1/read", files=files)
    assert response.status_code == 200, response.text
    documents = response.json()["documents"]
    assert [d["source"] for d in documents] == ["scan.png", "two-pages.pdf"]
    assert [len(d["pages"]) for d in documents] == [1, 2]
    assert [p["index"] for p in documents[1]["pages"]] == [0, 1]
    first_word = documents[0]["pages"][0]["paragraphs"][0]["lines"][0]["words"][0]
    assert first_word["text"] == "70x50#7" and first_word["quad"][0] == [2.0, 2.0]
    assert set(first_word) == {
        "text",
        "quad",
        "confidence",
        "detection_confidence",
        "text_confidence",
        "order",
        "valid",
    }
    # PDF pages are rendered at the decoder's default 200 dpi from their 72-dpi point size.
    assert documents[1]["pages"][1]["width"] == pytest.approx(120 * 200 / 72, abs=1)


def test_info_endpoints(client):
    assert client.get("/v1/health/live").json() == {"status": "live"}
    assert client.get("/v1/health/ready").json() == {"status": "ready"}
    assert client.get("/v1/models").json() == {
        "object": "list",
        "data": [{"id": "fake-model", "object": "model", "owned_by": "textspotter"}],
    }
    metadata = client.get("/v1/metadata").json()
    assert metadata["modelInfo"] == [{"shortName": "fake-model", "modelUrl": "folder/fake-model"}]
    assert metadata["limits"] == {
        "max_body_bytes": 200_000,
        "max_images_per_request": 3,
        "max_pixels_per_image": 90_000,
        "max_pixels_per_request": 250_000_000,
        "max_pixels_in_flight": 500_000_000,
    }
    assert metadata["connections"]["header_timeout_s"] == 10.0
    assert metadata["batching"]["max_batch_size"] == 4
    assert metadata["merge_levels"] == ["word", "sentence", "paragraph"]


def test_openapi_documents_the_schemas(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/v1/infer", "/v1/ocr", "/v1/read"):
        assert "post" in paths[path]
    infer = paths["/v1/infer"]["post"]
    assert infer["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/InferRequest")
    assert infer["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/InferResponse")
    assert infer["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    components = schema["components"]["schemas"]
    assert components["ImageUrlInput"]["properties"]["type"]["const"] == "image_url"
    assert {"TextDetection", "DocumentJSON", "WordJSON", "ErrorResponse", "MetadataResponse"} <= set(components)
    assert client.get("/docs").status_code == 200


def test_schema_merge_levels_match_the_exporter():
    from textspotter.export import MERGE_LEVEL_ALIASES
    from textspotter.serve import schemas

    assert get_args(MergeLevel) == MERGE_LEVELS
    assert schemas._LEVEL_ALIASES == MERGE_LEVEL_ALIASES


@pytest.mark.parametrize(
    "item, status, error_type, fragment",
    [
        ({"type": "image_url", "url": "https://example.com/a.png"}, 400, "unsupported_input", "does not fetch"),
        ({"type": "image_url", "url": "data:application/pdf;base64,JVBERi0="}, 400, "unsupported_input", "pdf"),
        ({"type": "image_url", "url": "data:image/png,plain"}, 400, "unsupported_input", "base64"),
        ({"type": "image_url", "url": "iVBORw0KGgo="}, 400, "unsupported_input", "data URL"),
        ({"type": "image_url", "url": "data:image/png;base64,@@not base64@@"}, 400, "invalid_image", "base64"),
        ({"type": "image_url", "url": "data:image/png;base64,aGVsbG8gd29ybGQ="}, 400, "invalid_image", "input[0]"),
        ({"type": "text", "text": "hello"}, 422, "invalid_request", "input[0].type"),
        ({"type": "image_url"}, 422, "invalid_request", "input[0].url"),
    ],
)
def test_bad_inputs_get_clear_errors(client, item, status, error_type, fragment):
    assert_error(client.post("/v1/infer", json={"input": [item]}), status, error_type, fragment)


def test_bad_requests_get_clear_errors(client, fake):
    url = data_url(make_image(32, 32, 1))
    one = [{"type": "image_url", "url": url}]
    assert_error(
        client.post("/v1/infer", json={"input": one, "merge_levels": ["lines"]}),
        422,
        "invalid_request",
        "merge_levels[0]",
        "'word', 'sentence' or 'paragraph'",
    )
    assert_error(
        client.post("/v1/infer", json={"input": one * 3, "merge_levels": ["word", "word"]}),
        422,
        "invalid_request",
        "2 entries for 3 images",
    )
    assert_error(client.post("/v1/infer", json={"input": []}), 422, "invalid_request", "input")
    assert_error(
        client.post("/v1/infer", content=b"{not json", headers={"content-type": "application/json"}),
        422,
        "invalid_request",
        "JSON",
    )
    assert_error(client.post("/v1/infer", json={"input": one * 4}), 413, "too_many_images", "4 images", "3")
    assert_error(client.get("/v1/nothing"), 404, "not_found")
    assert_error(client.get("/v1/infer"), 405, "method_not_allowed")
    assert fake.batch_sizes == []  # none of these reached the model


def test_size_limits(client, fake):
    big = make_image(400, 300, 1)  # 120 000 pixels > 90 000
    assert_error(
        client.post("/v1/infer", json={"input": [{"type": "image_url", "url": data_url(big)}]}),
        413,
        "image_too_large",
        "input[0]",
        "400x300",
    )
    noise = np.random.default_rng(0).integers(0, 256, (250, 250, 3), dtype=np.uint8)  # ~250 KB as PNG
    assert_error(
        client.post("/v1/infer", json={"input": [{"type": "image_url", "url": data_url(noise)}]}),
        413,
        "payload_too_large",
        "200000 bytes",
    )

    # No Content-Length: the limit must also hold for a body that streams in (a multipart upload here).
    assert_error(
        client.post("/v1/read", content=streamed_upload(300_000), headers={"content-type": MULTIPART}),
        413,
        "payload_too_large",
    )
    pdf = io.BytesIO()
    page = Image.fromarray(make_image(20, 20, 0))
    page.save(pdf, format="PDF", save_all=True, append_images=[page] * 3)
    files = [("files", ("four.pdf", pdf.getvalue(), "application/pdf"))]
    assert_error(client.post("/v1/read", files=files), 413, "too_many_images", "3 pages")
    files = [("files", ("notes.txt", b"just some text", "text/plain"))]
    assert_error(client.post("/v1/read", files=files), 400, "invalid_image", "notes.txt")
    assert fake.batch_sizes == []


def test_multi_frame_image_is_refused_on_infer(client):
    frames = [Image.fromarray(make_image(20, 20, v)) for v in (1, 2)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:])
    url = "data:image/tiff;base64," + base64.b64encode(buffer.getvalue()).decode()
    assert_error(
        client.post("/v1/infer", json={"input": [{"type": "image_url", "url": url}]}),
        400,
        "unsupported_input",
        "several pages",
    )


def test_model_failure_is_a_500_without_internals(client, fake):
    fake.fail = True
    response = client.post("/v1/infer", json={"input": [{"type": "image_url", "url": data_url(make_image(30, 30, 1))}]})
    assert_error(response, 500, "internal_error")
    assert "secret" not in response.text and "Traceback" not in response.text
    fake.fail = False
    response = client.post("/v1/infer", json={"input": [{"type": "image_url", "url": data_url(make_image(30, 30, 1))}]})
    assert response.status_code == 200  # the batcher survived the failure


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_overload_is_refused_at_once_with_retry_after(fake):
    config = ServeConfig(batching=BatchOptions(max_batch_size=1, batch_timeout_ms=0, max_queue_size=1))
    body = {"input": [{"type": "image_url", "url": data_url(make_image(16, 16, 3))}]}
    statuses = []
    fake.gate.clear()
    with TestClient(create_app(config, ocr=fake), base_url=LOCAL, raise_server_exceptions=False) as client:
        batcher = client.app.state.service.batcher

        def send() -> None:
            statuses.append(client.post("/v1/infer", json=body).status_code)

        senders = [threading.Thread(target=send), threading.Thread(target=send)]
        senders[0].start()
        assert wait_until(fake.entered.is_set)  # the first image is in the (blocked) model
        senders[1].start()
        assert wait_until(lambda: batcher.queued == 1)  # the second waits: the queue is full
        response = client.post("/v1/infer", json=body)
        fake.gate.set()
        for sender in senders:
            sender.join(timeout=30)
    assert_error(response, 503, "overloaded", "already waiting")
    assert response.headers["retry-after"] == "1"
    assert statuses == [200, 200]


def test_requests_leave_no_objects_behind(fake):
    config = ServeConfig(batching=BatchOptions(max_batch_size=4, batch_timeout_ms=1))
    good = {"input": [{"type": "image_url", "url": data_url(make_image(40, 30, 1))}] * 2, "merge_levels": ["word"]}
    bad = {"input": [{"type": "image_url", "url": "data:image/png;base64,AAAA"}]}

    def traffic(client, rounds: int) -> None:
        for _ in range(rounds):
            assert client.post("/v1/infer", json=good).status_code == 200
            assert client.post("/v1/infer", json=bad).status_code == 400
            assert client.post("/v1/infer", json={"input": []}).status_code == 422

    with TestClient(create_app(config, ocr=fake), base_url=LOCAL) as client:
        traffic(client, 10)  # first uses fill caches (pydantic, FastAPI, PIL plugins)
        gc.collect()
        before = len(gc.get_objects())
        traffic(client, 30)
        gc.collect()
        after = len(gc.get_objects())
    assert after - before < 100, f"{after - before} more live objects after 90 more requests"


def test_not_ready_outside_the_lifespan(fake):
    app = create_app(ServeConfig(), ocr=fake)
    client = TestClient(app, base_url=LOCAL, raise_server_exceptions=False)  # not entered: the lifespan never ran
    assert_error(client.get("/v1/health/ready"), 503, "not_ready")
    response = client.post("/v1/infer", json={"input": [{"type": "image_url", "url": data_url(make_image(9, 9, 0))}]})
    assert_error(response, 503, "not_ready")
    assert response.headers["retry-after"] == "1"
    assert client.get("/v1/health/live").status_code == 200


def test_config_round_trips_through_json():
    config = ServeConfig(model="m", device="cpu", batching=BatchOptions(3, 7.5, 9), limits=ServeLimits(1000, 2, 3000))
    assert ServeConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="max_images_per_request"):
        ServeLimits(max_images_per_request=0)
    with pytest.raises(ValueError, match="torch_threads"):
        ServeConfig(torch_threads=0)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--model", "/nonexistent/model"], "does not exist"),
        (["--workers", "0"], "--workers"),
        (["--max-batch-size", "0"], "max_batch_size"),
        (["--max-images", "0"], "max_images_per_request"),
        (["--threads", "0"], "torch_threads"),
    ],
)
def test_cli_refuses_bad_options_before_starting(arguments, message, capsys):
    assert main(["serve", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_a_page_too_elongated_for_the_model_is_a_400_before_decoding(fake):
    from textspotter.models.spec import PreprocessConfig

    fake.preprocess = PreprocessConfig(infer_length=64)  # the model reads at most 64:1 pages
    config = ServeConfig(model="folder/fake-model", batching=BatchOptions(max_batch_size=4, batch_timeout_ms=20))
    with TestClient(create_app(config, ocr=fake), base_url=LOCAL, raise_server_exceptions=False) as client:
        strip = {"input": [{"type": "image_url", "url": data_url(make_image(130, 1, 0))}]}
        assert_error(client.post("/v1/infer", json=strip), 400, "invalid_image", "too elongated", "130x1")
        files = [("files", ("strip.png", encode(make_image(1, 200, 0)), "image/png"))]
        assert_error(client.post("/v1/read", files=files), 400, "invalid_image", "strip.png page 0", "too elongated")
        assert fake.batch_sizes == []  # nothing reached the model
        ok = {"input": [{"type": "image_url", "url": data_url(make_image(64, 1, 0))}]}
        assert client.post("/v1/infer", json=ok).status_code == 200
