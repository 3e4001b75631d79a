"""Hardening of the HTTP service (issue #17), in-process with a fake engine: requests measured before decoding,
pixel limits and budget, who may call (Host, Origin, API key), body deadline, deep JSON, PDF disguised as an image,
encrypted PDFs. The connection-level guards with a real server are in test_serve_stall.py."""

import asyncio
import base64
import json
import threading

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

import pypdfium2 as pdfium  # noqa: E402

from test_imageio import _encrypted_pdf, _pdf_with_pages  # noqa: E402
from test_serve_app import LOCAL, FakeOCR, TestClient, assert_error, data_url, encode, make_image, wait_until  # noqa: E402
from textspotter.cli.main import main  # noqa: E402
from textspotter.serve.app import create_app  # noqa: E402
from textspotter.serve.batching import BatchOptions  # noqa: E402
from textspotter.serve.config import AccessPolicy, ConnectionLimits, ServeConfig, ServeLimits  # noqa: E402


@pytest.fixture
def fake():
    return FakeOCR()


@pytest.fixture
def renders(monkeypatch):
    """Count PDF pages rendered by PDFium (the costly step that a refused request must not reach)."""
    calls = []
    original = pdfium.PdfPage.render

    def counting_render(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pdfium.PdfPage, "render", counting_render)
    return calls


def serve(fake, *, limits: ServeLimits | None = None, access: AccessPolicy | None = None, **config) -> TestClient:
    config = ServeConfig(
        model="folder/fake-model",
        batching=BatchOptions(max_batch_size=4, batch_timeout_ms=5),
        limits=limits or ServeLimits(),
        access=access or AccessPolicy(),
        **config,
    )
    return TestClient(create_app(config, ocr=fake), base_url=LOCAL, raise_server_exceptions=False)


def infer_body(*urls: str) -> dict:
    return {"input": [{"type": "image_url", "url": url} for url in urls]}


def pdf_upload(name: str, data: bytes):
    return ("files", (name, data, "application/pdf"))


# --- Measured before decoding --------------------------------------------------------------------------------------


def test_a_long_pdf_is_refused_before_any_page_is_rendered(fake, renders):
    # The audit's request: 65 pages of about 10 MP each at 200 dpi (1100 × 1300 pt), a file of a few KB.
    data = _pdf_with_pages([(1100, 1300)] * 65)
    assert len(data) < 40_000
    with serve(fake) as client:
        response = client.post("/v1/read", files=[pdf_upload("long.pdf", data)])
        assert_error(response, 413, "too_many_images", "64 pages")
        assert renders == [] and fake.batch_sizes == []
        # The page limit counts over all files of the request, still before rendering.
        files = [
            pdf_upload("a.pdf", _pdf_with_pages([(72, 72)] * 40)),
            pdf_upload("b.pdf", _pdf_with_pages([(72, 72)] * 25)),
        ]
        assert_error(client.post("/v1/read", files=files), 413, "too_many_images")
        assert renders == []


def test_page_and_request_pixel_limits_are_checked_from_the_page_boxes(fake, renders):
    limits = ServeLimits(
        max_pixels_per_image=1_000_000, max_pixels_per_request=2_500_000, max_pixels_in_flight=3_000_000
    )
    with serve(fake, limits=limits) as client:
        # One page of 720 × 720 pt = 2000 × 2000 px at 200 dpi: over the per-page limit.
        response = client.post("/v1/read", files=[pdf_upload("big.pdf", _pdf_with_pages([(72, 72), (720, 720)]))])
        assert_error(response, 413, "image_too_large", "big.pdf page 1", "2000x2000")
        # Three pages of 900 × 900 px, each within the page limit, 2.43 MP together: within the request limit...
        small = _pdf_with_pages([(324, 324)] * 3)
        assert client.post("/v1/read", files=[pdf_upload("three.pdf", small)]).status_code == 200
        assert len(renders) == 3
        # ... but four are not, whether in one file or spread over several.
        response = client.post(
            "/v1/read", files=[pdf_upload("x.pdf", small), pdf_upload("y.pdf", _pdf_with_pages([(324, 324)]))]
        )
        assert_error(response, 413, "request_too_large", "2,500,000", "y.pdf")
        # Images count too, from their headers.
        files = [("files", (f"{i}.png", encode(make_image(1000, 900, i)), "image/png")) for i in range(3)]
        assert_error(client.post("/v1/read", files=files), 413, "request_too_large")
        url = data_url(make_image(1000, 900, 1))
        assert_error(client.post("/v1/infer", json=infer_body(url, url, url)), 413, "request_too_large")
        assert len(renders) == 3
        assert client.get("/v1/metadata").json()["stats"]["pixels_in_flight"] == 0


def test_limits_must_be_consistent():
    with pytest.raises(ValueError, match="max_pixels_in_flight"):
        ServeLimits(max_pixels_per_request=100, max_pixels_in_flight=50)
    with pytest.raises(TypeError, match="max_pixels_per_image"):
        ServeLimits(max_pixels_per_image=1.5e6)
    with pytest.raises(ValueError, match="header_timeout_s"):
        ConnectionLimits(header_timeout_s=0)
    with pytest.raises(ValueError, match="max_connections"):
        ConnectionLimits(max_connections=0)


def test_the_server_wide_pixel_budget_refuses_what_it_cannot_hold(fake):
    limits = ServeLimits(max_pixels_per_request=10_000, max_pixels_in_flight=15_000)
    fake.gate.clear()  # the model blocks: the first request's pages stay in flight
    statuses = []
    with serve(fake, limits=limits) as client:
        first = threading.Thread(
            target=lambda: statuses.append(
                client.post("/v1/infer", json=infer_body(data_url(make_image(100, 80, 1)))).status_code
            )
        )
        first.start()
        assert wait_until(fake.entered.is_set)
        assert client.get("/v1/metadata").json()["stats"]["pixels_in_flight"] == 8_000
        response = client.post("/v1/infer", json=infer_body(data_url(make_image(100, 80, 2))))
        assert_error(response, 503, "overloaded", "8,000", "15,000")
        assert response.headers["retry-after"] == "1"
        fake.gate.set()
        first.join(timeout=30)
        assert statuses == [200]
        # Pixels are given back once pages are read: the same request now fits.
        assert client.get("/v1/metadata").json()["stats"]["pixels_in_flight"] == 0
        assert client.post("/v1/infer", json=infer_body(data_url(make_image(100, 80, 2)))).status_code == 200


def test_a_bad_page_after_good_ones_fails_the_request_and_frees_its_pixels(fake):
    with serve(fake) as client:
        broken = encode(make_image(30, 30, 1))[:60]  # a PNG header whose pixel data is cut off
        files = [
            ("files", ("ok.png", encode(make_image(30, 30, 1)), "image/png")),
            ("files", ("cut.png", broken, "image/png")),
        ]
        assert_error(client.post("/v1/read", files=files), 400, "invalid_image", "cut.png")
        assert wait_until(lambda: client.get("/v1/metadata").json()["stats"]["pixels_in_flight"] == 0)


# --- What the bytes are, not what they claim ------------------------------------------------------------------------


def test_a_pdf_labelled_as_an_image_is_refused_on_infer(fake, renders):
    pdf = _pdf_with_pages([(72, 72)])
    with serve(fake) as client:
        url = "data:image/png;base64," + base64.b64encode(pdf).decode()
        assert_error(client.post("/v1/infer", json=infer_body(url)), 400, "unsupported_input", "input[0]", "PDF")
        # Nor through the decoder's base64-in-bytes fallback: base64 of the PDF, base64-encoded again.
        twice = "data:image/png;base64," + base64.b64encode(base64.b64encode(pdf)).decode()
        assert_error(client.post("/v1/infer", json=infer_body(twice)), 400, "invalid_image", "input[0]")
        assert renders == [] and fake.batch_sizes == []


def test_deeply_nested_json_is_a_422(fake):
    with serve(fake) as client:
        for depth in (100_000, 5_000):
            body = b'{"input": ' + b"[" * depth + b"]" * depth + b"}"
            response = client.post("/v1/infer", content=body, headers={"content-type": "application/json"})
            assert_error(response, 422, "invalid_request", "nested more than")
        response = client.post("/v1/infer", content=b'{"input": "\xff"}', headers={"content-type": "application/json"})
        assert_error(response, 422, "invalid_request", "UTF-8")
        assert client.get("/v1/health/live").status_code == 200


def test_encrypted_pdfs_take_a_password_form_field(fake):
    data = _encrypted_pdf("secret", "owner")
    with serve(fake) as client:
        files = [pdf_upload("locked.pdf", data)]
        assert_error(
            client.post("/v1/read", files=files), 400, "invalid_image", "locked.pdf", "encrypted", "pdf_password"
        )
        response = client.post("/v1/read", files=files, data={"pdf_password": "wrong"})
        assert_error(response, 400, "invalid_image", "wrong PDF password")
        response = client.post("/v1/read", files=files, data={"pdf_password": "secret"})
        assert response.status_code == 200, response.text
        page = response.json()["documents"][0]["pages"][0]
        assert (page["width"], page["height"]) == (200, 100)  # 72 × 36 pt at 200 dpi


# --- Who may call -------------------------------------------------------------------------------------------------


def test_unknown_host_names_are_refused(fake):
    url = data_url(make_image(20, 20, 1))
    with serve(fake) as client:
        for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "10.1.2.3", "api.localhost"):
            assert client.get("/v1/models", headers={"host": host}).status_code == 200, host
        response = client.post("/v1/infer", json=infer_body(url), headers={"host": "rebind.attacker.example"})
        assert_error(response, 403, "forbidden_host", "rebind.attacker.example", "--allowed-host")
        assert fake.batch_sizes == []
    with serve(fake, access=AccessPolicy(allowed_hosts=("ocr.internal",))) as client:
        assert client.get("/v1/models", headers={"host": "OCR.internal:8000"}).status_code == 200
        assert client.get("/v1/models", headers={"host": "other.internal"}).status_code == 403
    with serve(fake, access=AccessPolicy(allowed_hosts=("*",))) as client:
        assert client.get("/v1/models", headers={"host": "anything.example"}).status_code == 200
    assert AccessPolicy().with_bound_host("ocr.lan").allowed_hosts == ("ocr.lan",)
    assert AccessPolicy().with_bound_host("192.168.1.5").allowed_hosts == ()


def test_cross_origin_browser_requests_are_refused(fake):
    pdf = _pdf_with_pages([(72, 72)])
    with serve(fake) as client:
        # The CSRF vector: a web page posting a multipart form (a "simple" request, sent without a preflight).
        response = client.post("/v1/read", files=[pdf_upload("a.pdf", pdf)], headers={"origin": "https://evil.example"})
        assert_error(response, 403, "forbidden_origin", "https://evil.example", "--allowed-origin")
        response = client.post(
            "/v1/infer", json=infer_body(data_url(make_image(20, 20, 1))), headers={"origin": "null"}
        )
        assert_error(response, 403, "forbidden_origin")
        assert fake.batch_sizes == []
        # The service's own pages (/docs) are same-origin: allowed, whatever the scheme in front.
        for origin in ("http://localhost", "https://localhost"):
            response = client.post("/v1/read", files=[pdf_upload("a.pdf", pdf)], headers={"origin": origin})
            assert response.status_code == 200, (origin, response.text)
        assert (
            client.post(
                "/v1/read", files=[pdf_upload("a.pdf", pdf)], headers={"origin": "http://localhost:9999"}
            ).status_code
            == 403
        )
    with serve(fake, access=AccessPolicy(allowed_origins=("https://app.example/",))) as client:
        response = client.post("/v1/read", files=[pdf_upload("a.pdf", pdf)], headers={"origin": "https://app.example"})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://app.example"
        preflight = client.options(
            "/v1/infer",
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert (
            client.options(
                "/v1/infer", headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
            ).status_code
            == 403
        )
    with pytest.raises(ValueError, match="allowed origin"):
        AccessPolicy(allowed_origins=("app.example",))


def test_api_key_is_required_when_configured(fake):
    url = data_url(make_image(20, 20, 1))
    access = AccessPolicy(api_key="s3cret-key")
    assert "s3cret" not in repr(ServeConfig(access=access))
    with serve(fake, access=access) as client:
        response = client.post("/v1/infer", json=infer_body(url))
        assert_error(response, 401, "unauthorized", "Authorization: Bearer")
        assert response.headers["www-authenticate"] == "Bearer"
        for headers in ({"authorization": "Bearer wrong"}, {"x-api-key": "s3cret-ke"}, {"authorization": "s3cret-key"}):
            assert client.post("/v1/infer", json=infer_body(url), headers=headers).status_code == 401, headers
        assert client.get("/v1/metadata").status_code == 401
        assert fake.batch_sizes == []
        for headers in (
            {"authorization": "Bearer s3cret-key"},
            {"authorization": "bearer s3cret-key"},
            {"x-api-key": "s3cret-key"},
        ):
            assert client.post("/v1/infer", json=infer_body(url), headers=headers).status_code == 200, headers
        # Health probes and the API documentation need no key; the schema declares it, for /docs' "Authorize".
        for path in ("/v1/health/live", "/v1/health/ready", "/docs", "/openapi.json"):
            assert client.get(path).status_code == 200, path
        schema = client.get("/openapi.json").json()
        assert set(schema["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
        assert schema["paths"]["/v1/infer"]["post"]["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}]
        assert "security" not in schema["paths"]["/v1/health/ready"]["get"]
    with serve(fake) as client:
        assert "securitySchemes" not in client.get("/openapi.json").json().get("components", {})


def test_config_with_access_and_connections_round_trips_through_json():
    config = ServeConfig(
        limits=ServeLimits(max_pixels_per_request=1000, max_pixels_in_flight=2000),
        connections=ConnectionLimits(max_connections=7, header_timeout_s=1.5),
        access=AccessPolicy(allowed_hosts=("a.example",), allowed_origins=("https://b.example",), api_key="k"),
        decode_threads=3,
    )
    assert ServeConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--allowed-origin", "app.example"], "allowed origin"),
        (["--allowed-host", "http://a.example"], "allowed host"),
        (["--max-pixels-per-request", "6e8"], "max_pixels_in_flight"),
        (["--header-timeout", "0"], "header_timeout_s"),
        (["--api-key-file", "/nonexistent/key"], "/nonexistent/key"),
    ],
)
def test_cli_refuses_bad_access_and_limit_options(arguments, message, capsys):
    assert main(["serve", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_an_empty_api_key_file(tmp_path, capsys):
    key_file = tmp_path / "key"
    key_file.write_text("\n")
    assert main(["serve", "--api-key-file", str(key_file)]) == 2
    assert "empty" in capsys.readouterr().err


# --- Body deadline -------------------------------------------------------------------------------------------------


def test_a_stalled_body_gets_408_and_the_connection_is_closed():
    app = create_app(ServeConfig(connections=ConnectionLimits(body_timeout_s=0.3)), ocr=FakeOCR())
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/infer",
        "raw_path": b"/v1/infer",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"content-type", b"application/json"), (b"content-length", b"1000")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    sent = []

    async def run() -> float:
        chunks = [{"type": "http.request", "body": b'{"input": [', "more_body": True}]

        async def receive():
            if chunks:
                return chunks.pop()
            await asyncio.sleep(3600)  # the client sends nothing more

        async def send(message):
            sent.append(message)

        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.wait_for(app(scope, receive, send), 5)
        return loop.time() - start

    elapsed = asyncio.run(run())
    assert 0.25 < elapsed < 2
    start = sent[0]
    assert start["status"] == 408
    headers = dict(start["headers"])
    assert headers[b"connection"] == b"close"  # uvicorn closes the connection after this answer
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["error"]["type"] == "request_timeout" and "0.3 s" in body["error"]["message"]
