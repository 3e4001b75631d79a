"""Service operations (issue #21): Prometheus ``/metrics``, the offline ``/docs`` page, ``/v1/read``'s ``dpi`` and
``format``. In-process with the fake engine of test_serve_app.py; the connection counters are checked against a
real server in test_serve_stall.py."""

import io
import math
import re
import shutil
import socket
import subprocess
import tempfile
import threading

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from PIL import Image  # noqa: E402

from test_serve_app import LOCAL, FakeOCR, TestClient, assert_error, data_url, encode, make_image, wait_until  # noqa: E402
from textspotter import __version__  # noqa: E402
from textspotter.cli.main import main  # noqa: E402
from textspotter.serve.app import create_app  # noqa: E402
from textspotter.serve.batching import BatchOptions  # noqa: E402
from textspotter.serve.config import AccessPolicy, ServeConfig, ServeLimits  # noqa: E402
from textspotter.serve.metrics import Histogram, ServiceMetrics, batch_size_buckets  # noqa: E402

# --- A parser of the Prometheus text format 0.0.4 (strict enough to catch malformed output) ------------------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_SAMPLE = re.compile(rf"^({_NAME})(\{{(?:{_LABEL})(?:,{_LABEL})*\}})? (\S+)$")
_LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_metrics(text: str) -> tuple[dict[str, str], dict[tuple[str, frozenset], float]]:
    """Return ``({family: type}, {(sample name, frozenset of label pairs): value})``, checking the grammar, that
    each family is declared (HELP, then TYPE) before its samples and once only, and every histogram's invariants."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    samples: dict[tuple[str, frozenset], float] = {}
    helped: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert re.fullmatch(_NAME, name) and name not in helped, line
            helped.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name in helped and name not in types, line
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            types[name] = kind
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"{name} has no TYPE line before it"
        if types[family] == "counter":
            assert name.endswith("_total"), name
        pairs = frozenset(_LABEL_PAIR.findall(labels or ""))
        key = (name, pairs)
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(value.replace("+Inf", "inf"))
    for family, kind in types.items():
        if kind != "histogram":
            continue
        series: dict[frozenset, list[tuple[float, float]]] = {}
        for (name, pairs), value in samples.items():
            if name == family + "_bucket":
                le = dict(pairs)["le"]
                series.setdefault(pairs - {("le", le)}, []).append((float(le.replace("+Inf", "inf")), value))
        for labels, buckets in series.items():
            buckets.sort()
            counts = [count for _, count in buckets]
            assert counts == sorted(counts), f"{family}{dict(labels)}: buckets not cumulative"
            assert buckets[-1][0] == math.inf
            assert samples[(family + "_count", labels)] == counts[-1]
            assert (family + "_sum", labels) in samples
    return types, samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(client: TestClient, **headers: str) -> tuple[dict, dict]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse_metrics(response.text)


def two_page_pdf(*sizes: tuple[int, int]) -> bytes:
    images = [Image.fromarray(make_image(width, height, 0)) for width, height in sizes]
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=72.0)
    return buffer.getvalue()


def serve(fake, *, limits: ServeLimits | None = None, access: AccessPolicy | None = None) -> TestClient:
    config = ServeConfig(
        model="folder/fake-model",
        batching=BatchOptions(max_batch_size=4, batch_timeout_ms=5),
        limits=limits or ServeLimits(),
        access=access or AccessPolicy(),
    )
    return TestClient(create_app(config, ocr=fake), base_url=LOCAL, raise_server_exceptions=False)


@pytest.fixture
def fake():
    return FakeOCR()


# --- /metrics ------------------------------------------------------------------------------------------------------


def test_metrics_count_requests_errors_pages_and_batches(fake):
    with serve(fake) as client:
        images = [make_image(60, 40, 1), make_image(50, 30, 2)]
        ok = {"input": [{"type": "image_url", "url": data_url(image)} for image in images]}
        assert client.post("/v1/infer", json=ok).status_code == 200
        assert client.post("/v1/infer", json={"input": ok["input"][:1]}).status_code == 200
        bad = {"input": [{"type": "image_url", "url": "data:image/png;base64,AAAA"}]}
        assert_error(client.post("/v1/infer", json=bad), 400, "invalid_image")
        assert_error(client.post("/v1/infer", json={"input": []}), 422, "invalid_request")
        files = [("files", ("scan.png", encode(make_image(70, 50, 7)), "image/png"))]
        files.append(("files", ("two.pdf", two_page_pdf((72, 36), (36, 72)), "application/pdf")))
        assert client.post("/v1/read", files=files, data={"dpi": "100"}).status_code == 200
        assert_error(client.get("/no/such/path"), 404, "not_found")
        types, samples = scrape(client)

    assert types["textspotter_requests_total"] == "counter"
    assert types["textspotter_request_duration_seconds"] == "histogram"
    assert value(samples, "textspotter_requests_total", route="/v1/infer", code="200") == 2
    assert value(samples, "textspotter_requests_total", route="/v1/infer", code="400") == 1
    assert value(samples, "textspotter_requests_total", route="/v1/infer", code="422") == 1
    assert value(samples, "textspotter_requests_total", route="/v1/read", code="200") == 1
    # A path the app does not serve is counted under one label value, whatever the path.
    assert value(samples, "textspotter_requests_total", route="other", code="404") == 1
    assert value(samples, "textspotter_errors_total", route="/v1/infer", type="invalid_image") == 1
    assert value(samples, "textspotter_errors_total", route="/v1/infer", type="invalid_request") == 1
    assert value(samples, "textspotter_errors_total", route="other", type="not_found") == 1
    assert not any(name == "textspotter_errors_total" and ("route", "/v1/read") in pairs for name, pairs in samples)
    # Latency: one observation per request, all of them within the last bucket's bound on this fake.
    assert value(samples, "textspotter_request_duration_seconds_count", route="/v1/infer") == 4
    assert value(samples, "textspotter_request_duration_seconds_bucket", route="/v1/infer", le="+Inf") == 4
    assert 0 < value(samples, "textspotter_request_duration_seconds_sum", route="/v1/infer") < 60
    assert value(samples, "textspotter_request_duration_seconds_bucket", route="/v1/infer", le="60") == 4
    # Files and pages of the answered requests: 3 + 1 images, one PDF of two pages rendered at 100 dpi.
    assert value(samples, "textspotter_files_total", kind="image") == 4
    assert value(samples, "textspotter_pages_total", kind="image") == 4
    assert value(samples, "textspotter_files_total", kind="pdf") == 1
    assert value(samples, "textspotter_pages_total", kind="pdf") == 2
    pdf_pixels = 2 * math.ceil(72 * 100 / 72) * math.ceil(36 * 100 / 72)
    assert value(samples, "textspotter_pixels_total") == 60 * 40 * 2 + 50 * 30 + 70 * 50 + pdf_pixels
    # Batches: the histogram's sum is the number of images through the model, its count the model calls.
    assert value(samples, "textspotter_batch_size_sum") == sum(fake.batch_sizes) == 2 + 1 + 1 + 2
    assert value(samples, "textspotter_batch_size_count") == len(fake.batch_sizes)
    assert value(samples, "textspotter_batch_size_bucket", le="4") == len(fake.batch_sizes)
    assert value(samples, "textspotter_batch_duration_seconds_count") == len(fake.batch_sizes)
    assert value(samples, "textspotter_batch_failures_total") == 0
    assert value(samples, "textspotter_ready") == 1
    assert value(samples, "textspotter_queue_depth") == 0
    assert value(samples, "textspotter_pixels_in_flight") == 0
    assert value(samples, "textspotter_pixels_in_flight_limit") == ServeLimits().max_pixels_in_flight
    assert value(samples, "textspotter_info", version=__version__, model="fake-model", device="auto") == 1
    assert value(samples, "textspotter_requests_in_progress") == 1  # the scrape itself


def test_metrics_gauges_show_queued_images_and_pixels_in_flight(fake):
    image = make_image(40, 30, 3)
    body = {"input": [{"type": "image_url", "url": data_url(image)}]}
    fake.gate.clear()
    statuses = []
    config = ServeConfig(batching=BatchOptions(max_batch_size=1, batch_timeout_ms=0))
    with TestClient(create_app(config, ocr=fake), base_url=LOCAL, raise_server_exceptions=False) as client:
        batcher = client.app.state.service.batcher

        def send() -> None:
            statuses.append(client.post("/v1/infer", json=body).status_code)

        senders = [threading.Thread(target=send) for _ in range(2)]
        senders[0].start()
        assert wait_until(fake.entered.is_set)  # the first image is in the (blocked) model
        senders[1].start()
        assert wait_until(lambda: batcher.queued == 1)
        _, busy = scrape(client)
        fake.gate.set()
        for sender in senders:
            sender.join(timeout=30)
        _, idle = scrape(client)
    assert statuses == [200, 200]
    assert value(busy, "textspotter_queue_depth") == 1
    assert value(busy, "textspotter_pixels_in_flight") == 2 * 40 * 30
    assert value(busy, "textspotter_requests_in_progress") == 3  # two requests and the scrape
    assert value(idle, "textspotter_queue_depth") == 0 and value(idle, "textspotter_pixels_in_flight") == 0


def test_a_model_failure_counts_a_failed_batch_and_an_internal_error(fake):
    fake.fail = True
    with serve(fake) as client:
        body = {"input": [{"type": "image_url", "url": data_url(make_image(20, 20, 1))}]}
        assert_error(client.post("/v1/infer", json=body), 500, "internal_error")
        _, samples = scrape(client)
    assert value(samples, "textspotter_batch_failures_total") == 1
    assert value(samples, "textspotter_errors_total", route="/v1/infer", type="internal_error") == 1
    assert value(samples, "textspotter_pages_total", kind="image") == 0


def test_metrics_are_open_like_health_checks_unless_configured(fake):
    with serve(fake, access=AccessPolicy(api_key="s3cret")) as client:
        assert_error(client.get("/v1/metadata"), 401, "unauthorized")
        assert client.get("/metrics").status_code == 200  # like /v1/health/*: no key needed
        # The Host check applies to it as to the health checks.
        assert_error(client.get("/metrics", headers={"Host": "evil.example"}), 403, "forbidden_host")
        _, samples = scrape(client)
    assert value(samples, "textspotter_errors_total", route="/v1/metadata", type="unauthorized") == 1
    assert value(samples, "textspotter_errors_total", route="/metrics", type="forbidden_host") == 1

    with serve(fake, access=AccessPolicy(api_key="s3cret", metrics_need_key=True)) as client:
        assert_error(client.get("/metrics"), 401, "unauthorized")
        scrape(client, Authorization="Bearer s3cret")
        scrape(client, **{"X-API-Key": "s3cret"})
        schema = client.get("/openapi.json").json()
    assert schema["paths"]["/metrics"]["get"].get("security")


def test_metrics_need_key_travels_through_json_and_the_cli(monkeypatch):
    config = ServeConfig(access=AccessPolicy(api_key="k", metrics_need_key=True))
    assert ServeConfig.from_json(config.to_json()).access.metrics_need_key is True
    assert ServeConfig.from_json(ServeConfig().to_json()).access.metrics_need_key is False
    with pytest.raises(TypeError, match="metrics_need_key"):
        AccessPolicy(metrics_need_key="yes")
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append(app))
    monkeypatch.delenv("TEXTSPOTTER_API_KEY", raising=False)
    assert main(["serve", "--metrics-need-key"]) == 0
    assert main(["serve"]) == 0
    assert [app.state.service.config.access.metrics_need_key for app in served] == [True, False]


def test_histogram_buckets_are_cumulative_with_inclusive_bounds():
    histogram = Histogram("x_seconds", "help", (0.1, 1.0), ("route",))
    for seconds in (0.05, 0.1, 0.5, 1.0, 7.0):
        histogram.observe(("/a",), seconds)
    lines = histogram.lines()
    assert 'x_seconds_bucket{route="/a",le="0.1"} 2' in lines  # a value on a bound falls in that bucket (le)
    assert 'x_seconds_bucket{route="/a",le="1"} 4' in lines
    assert 'x_seconds_bucket{route="/a",le="+Inf"} 5' in lines
    assert 'x_seconds_sum{route="/a"} 8.65' in lines
    assert 'x_seconds_count{route="/a"} 5' in lines
    with pytest.raises(ValueError, match="increasing"):
        Histogram("y", "help", (1.0, 0.5))
    assert batch_size_buckets(8) == (1, 2, 4, 8)
    assert batch_size_buckets(6) == (1, 2, 4, 6)
    assert batch_size_buckets(1) == (1,)


def test_label_values_and_help_are_escaped():
    metrics = ServiceMetrics(max_batch_size=2)
    text = metrics.render(info={"version": "1", "model": 'we"ird\\name\nx', "device": "cpu"})
    _, samples = parse_metrics(text)
    assert value(samples, "textspotter_info", version="1", model='we\\"ird\\\\name\\nx', device="cpu") == 1


# --- /docs without a CDN -------------------------------------------------------------------------------------------


def test_docs_page_loads_only_assets_served_by_the_app(fake):
    with serve(fake, access=AccessPolicy(api_key="k")) as client:
        page = client.get("/docs")  # open without the key, as are its assets
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert not re.search(r"(https?:)?//[a-z0-9]", page.text, re.IGNORECASE), "the page names an outside URL"
        assets = re.findall(r'(?:src|href|data-openapi)="([^"]+)"', page.text)
        assert {"/docs/docs.js", "/docs/docs.css", "/openapi.json"} <= set(assets)
        expected_types = {"js": "text/javascript", "css": "text/css", "json": "application/json"}
        for asset in assets:
            response = client.get(asset)
            assert response.status_code == 200, asset
            assert response.headers["content-type"].startswith(expected_types[asset.rsplit(".", 1)[1]])
            if not asset.endswith(".json"):
                # Scripts and style sheets fetch nothing from elsewhere either.
                assert not re.search(r"https?://|//cdn|@import|url\(", response.text), asset
        # FastAPI's CDN-backed pages are gone.
        assert client.get("/redoc", headers={"X-API-Key": "k"}).status_code == 404
        assert client.get("/docs/oauth2-redirect", headers={"X-API-Key": "k"}).status_code == 404


def test_docs_page_follows_the_root_path_of_a_proxy(fake):
    config = ServeConfig(model="folder/fake-model")
    app = create_app(config, ocr=fake)
    with TestClient(app, base_url=LOCAL, root_path="/ocr") as client:
        page = client.get("/docs").text
    assert 'src="/ocr/docs/docs.js"' in page and 'data-openapi="/ocr/openapi.json"' in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs a headless chromium")
def test_docs_page_renders_every_endpoint_in_a_browser_offline(fake):
    """The page in a real browser (no network here), under its Content-Security-Policy: every endpoint and schema
    is listed, each endpoint with its Try-it form."""
    import uvicorn

    app = create_app(ServeConfig(model="folder/fake-model"), ocr=fake)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started, timeout=30)
        with tempfile.TemporaryDirectory() as profile:
            browser = subprocess.run(
                ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                 "--virtual-time-budget=5000", "--dump-dom", f"http://127.0.0.1:{port}/docs"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    dom = browser.stdout
    assert "Could not load" not in dom, dom[:2000]
    with TestClient(app, base_url=LOCAL) as client:
        schema = client.get("/openapi.json").json()
    for path, item in schema["paths"].items():
        for method in item:
            assert f'<span class="method {method}">{method}</span><span class="path">{path}</span>' in dom, path
    for name in schema["components"]["schemas"]:
        assert f'id="schema-{name}"' in dom, name
    operations = sum(len(item) for item in schema["paths"].values())
    assert dom.count("<summary>Try it</summary>") == operations


# --- /v1/read options ----------------------------------------------------------------------------------------------


def read(client: TestClient, files: list, **form: str):
    return client.post("/v1/read", files=files, data=form)


def test_read_renders_pdf_pages_at_the_requested_dpi(fake):
    pdf = [("files", ("page.pdf", two_page_pdf((144, 72)), "application/pdf"))]
    png = [("files", ("scan.png", encode(make_image(70, 50, 7)), "image/png"))]
    with serve(fake) as client:
        for dpi, expected in (("72", (144, 72)), ("150", (300, 150)), ("36", (72, 36))):
            response = read(client, pdf + png, dpi=dpi)
            assert response.status_code == 200, response.text
            pdf_page, png_page = (d["pages"][0] for d in response.json()["documents"])
            assert (pdf_page["width"], pdf_page["height"]) == expected
            assert (png_page["width"], png_page["height"]) == (70, 50)  # images are read as they are
        default = read(client, pdf).json()["documents"][0]["pages"][0]
        assert default["width"] == 400  # 200 dpi when not given


def test_read_dpi_goes_through_the_page_limits_before_rendering(fake, monkeypatch):
    import pypdfium2 as pdfium

    rendered = []
    original = pdfium.PdfPage.render
    monkeypatch.setattr(pdfium.PdfPage, "render", lambda self, *a, **k: rendered.append(1) or original(self, *a, **k))
    pdf = [("files", ("page.pdf", two_page_pdf((144, 72)), "application/pdf"))]
    limits = ServeLimits(max_pixels_per_image=300 * 150)
    with serve(fake, limits=limits) as client:
        assert read(client, pdf, dpi="150").status_code == 200  # 300 x 150: just within the limit
        assert rendered == [1]
        assert_error(read(client, pdf, dpi="151"), 413, "image_too_large", "page.pdf page 0 at 151 dpi", "302x151")
        assert rendered == [1]  # refused from the page box: nothing rendered


@pytest.mark.parametrize(
    "form, fragment",
    [
        ({"dpi": "35"}, "dpi: Input should be greater than or equal to 36"),
        ({"dpi": "601"}, "dpi: Input should be less than or equal to 600"),
        ({"dpi": "nan"}, "dpi: Input should be a finite number"),
        ({"dpi": "high"}, "dpi: Input should be a valid number"),
        ({"format": "pdf"}, "format: Input should be 'document', 'text', 'markdown', 'hocr' or 'alto'"),
    ],
)
def test_read_options_are_validated(fake, form, fragment):
    png = [("files", ("scan.png", encode(make_image(70, 50, 7)), "image/png"))]
    with serve(fake) as client:
        assert_error(read(client, png, **form), 422, "invalid_request", fragment)
    assert fake.batch_sizes == []


@pytest.mark.parametrize(
    "output_format, media_type, fragments",
    [
        ("text", "text/plain", ["70x50#7 tail"]),
        ("markdown", "text/markdown", ["70x50#7 tail"]),
        ("hocr", "application/xhtml+xml", ["ocrx_word", ">70x50#7<", "ocr_page"]),
        ("alto", "application/xml", ["<alto", 'CONTENT="70x50#7"']),
    ],
)
def test_read_answers_text_views_with_format(fake, output_format, media_type, fragments):
    files = [
        ("files", ("scan.png", encode(make_image(70, 50, 7)), "image/png")),
        ("files", ("two.pdf", two_page_pdf((72, 36), (36, 72)), "application/pdf")),
    ]
    with serve(fake) as client:
        response = read(client, files, format=output_format, dpi="72")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["format"] == output_format and set(body) == {"format", "outputs"}
    assert [output["source"] for output in body["outputs"]] == ["scan.png", "two.pdf"]
    assert all(output["media_type"] == media_type for output in body["outputs"])
    for fragment in fragments:
        assert fragment in body["outputs"][0]["content"]
    assert "72x36#" in body["outputs"][1]["content"] and "36x72#" in body["outputs"][1]["content"]


def test_openapi_describes_the_read_options(fake):
    with serve(fake) as client:
        schema = client.get("/openapi.json").json()
    body_ref = schema["paths"]["/v1/read"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    body = schema["components"]["schemas"][body_ref.rsplit("/", 1)[1]]["properties"]
    assert (body["dpi"]["minimum"], body["dpi"]["maximum"], body["dpi"]["default"]) == (36, 600, 200)
    assert body["format"]["enum"] == ["document", "text", "markdown", "hocr", "alto"]
    answer = schema["paths"]["/v1/read"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in answer["anyOf"]} == {"ReadResponse", "ExportResponse"}
