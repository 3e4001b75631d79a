"""Tests of textspotter.imageio: every accepted input kind, the conversion rules and every error case.

All inputs are generated here (PIL, hand-written PDFs), so the tests need no files and no network.
"""

import base64
import hashlib
import io
import pickle
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from textspotter.assets import example_image_path, example_text
from textspotter.corpus.pdfwrite import pdf_bytes
from textspotter.imageio import ImageError, ImageOptions, PageImage, describe_source, iter_pages, load_pages

# --------------------------------------------------------------------------------------------------------------
# Input builders


def _pattern(width: int = 40, height: int = 30) -> np.ndarray:
    """An RGB test pattern with distinct, smooth quadrants (survives JPEG / WebP within a small error)."""
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[: height // 2, : width // 2] = (220, 30, 30)
    image[: height // 2, width // 2 :] = (30, 200, 30)
    image[height // 2 :, : width // 2] = (30, 30, 210)
    image[height // 2 :, width // 2 :] = (240, 240, 240)
    return image


def _encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` RGB pixels but that carries almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _pdf(objects: list[bytes], trailer_extra: bytes = b"") -> bytes:
    """Assemble a PDF from object bodies numbered from 1 (object 1 must be the catalog)."""
    return pdf_bytes(dict(enumerate(objects, start=1)), trailer=trailer_extra)


def _pdf_with_pages(sizes: list[tuple[int, int]]) -> bytes:
    """A PDF whose pages (sizes in points) each have a blue 36×18 pt rectangle in their bottom-left corner."""
    content = b"0 0 1 rg 0 0 36 18 re f"
    stream = b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(len(sizes)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(sizes)),
        stream,
    ]
    for width, height in sizes:
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 3 0 R >>" % (width, height))
    return _pdf(objects)


# PDF standard security handler, revision 2 (40-bit RC4; PDF 1.7 spec §7.6.3), written out so that the encrypted-PDF
# tests need no PDF-writing package. The page has no strings or streams, so only /O and /U need computing.
_PASSWORD_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    i = j = 0
    out = bytearray()
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def _encrypted_pdf(user_password: str, owner_password: str) -> bytes:
    permissions = -44
    file_id = b"0123456789abcdef"
    owner_key = hashlib.md5((owner_password.encode() + _PASSWORD_PAD)[:32]).digest()[:5]
    owner_entry = _rc4(owner_key, (user_password.encode() + _PASSWORD_PAD)[:32])
    file_key = hashlib.md5(
        (user_password.encode() + _PASSWORD_PAD)[:32]
        + owner_entry
        + permissions.to_bytes(4, "little", signed=True)
        + file_id
    ).digest()[:5]
    user_entry = _rc4(file_key, _PASSWORD_PAD)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 36] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>"
        % (owner_entry.hex().encode(), user_entry.hex().encode(), permissions),
    ]
    return _pdf(objects, b"/Encrypt 4 0 R /ID [<%s> <%s>] " % (file_id.hex().encode(), file_id.hex().encode()))


# --------------------------------------------------------------------------------------------------------------
# Files and bytes


@pytest.mark.parametrize(
    ("fmt", "suffix", "params", "tolerance"),
    [
        ("PNG", ".png", {}, 0),
        ("BMP", ".bmp", {}, 0),
        ("TIFF", ".tif", {}, 0),
        ("WEBP", ".webp", {"lossless": True}, 0),
        ("JPEG", ".jpg", {"quality": 95, "subsampling": 0}, 12),
    ],
)
def test_image_files_decode_to_rgb_uint8(tmp_path, fmt, suffix, params, tolerance):
    expected = _pattern()
    path = tmp_path / f"page{suffix}"
    path.write_bytes(_encode(Image.fromarray(expected), fmt, **params))
    for source in (path, str(path)):
        (page,) = load_pages(source)
        assert page.image.shape == (30, 40, 3) and page.image.dtype == np.uint8
        assert page.image.flags["C_CONTIGUOUS"]
        assert np.abs(page.image.astype(int) - expected).max() <= tolerance
        assert (page.source, page.index, page.width, page.height) == (str(path), 0, 40, 30)


def test_bytes_base64_data_url_and_file_objects_give_the_same_page():
    expected = _pattern()
    png = _encode(Image.fromarray(expected), "PNG")
    b64 = base64.b64encode(png)
    sources = {
        "<bytes>": png,
        "<bytes #1>": bytearray(png),
        "<bytes #2>": b64,  # base64-encoded bytes, as the published v1 API took them
        "<base64>": b64.decode(),
        "<base64 #4>": base64.urlsafe_b64encode(png).decode().rstrip("=") + "\n",
        "<data URL>": "data:image/png;base64," + b64.decode(),
        "<file>": io.BytesIO(png),
    }
    for i, (label, source) in enumerate(sources.items()):
        position = None if "#" not in label else i
        assert describe_source(source, position=position) == label
        (page,) = load_pages(source, name=label if position is not None else None)
        np.testing.assert_array_equal(page.image, expected)
        assert page.source == label


def test_named_file_object_keeps_its_name(tmp_path):
    path = tmp_path / "named.png"
    path.write_bytes(_encode(Image.fromarray(_pattern()), "PNG"))
    with open(path, "rb") as f:
        assert load_pages(f)[0].source == str(path)


def test_multipage_tiff_gives_one_page_per_frame():
    frames = [Image.new("L", (12, 10), value) for value in (0, 100, 200)]
    data = _encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    pages = load_pages(data)
    assert [p.index for p in pages] == [0, 1, 2]
    assert [int(p.image[0, 0, 0]) for p in pages] == [0, 100, 200]
    assert all(p.image.shape == (10, 12, 3) for p in pages)


def test_pdf_pages_are_rendered_at_the_requested_dpi(tmp_path):
    path = tmp_path / "doc.pdf"
    path.write_bytes(_pdf_with_pages([(144, 72), (72, 72)]))
    pages = load_pages(path, options=ImageOptions(dpi=72))
    assert [p.image.shape for p in pages] == [(72, 144, 3), (72, 72, 3)]
    assert [p.index for p in pages] == [0, 1]
    first = pages[0].image
    # PDF y points up: the blue rectangle drawn at the origin is at the bottom-left of the image.
    np.testing.assert_array_equal(first[-5, 5], [0, 0, 255])
    np.testing.assert_array_equal(first[5, 5], [255, 255, 255])
    (double,) = load_pages(_pdf_with_pages([(144, 72)]), options=ImageOptions(dpi=144))
    assert double.image.shape == (144, 288, 3)


def test_a_long_pdf_is_reopened_as_it_is_read(tmp_path, monkeypatch):
    import textspotter.imageio as imageio

    sizes = [(72 + 8 * i, 72) for i in range(5)]
    path = tmp_path / "long.pdf"
    path.write_bytes(_pdf_with_pages(sizes))
    whole = load_pages(path, options=ImageOptions(dpi=72))
    monkeypatch.setattr(imageio, "_PDF_REOPEN_PAGES", 2)  # reopened before pages 2 and 4
    for source in (path, path.read_bytes()):
        pages = load_pages(source, options=ImageOptions(dpi=72))
        assert [p.index for p in pages] == [0, 1, 2, 3, 4]
        assert all(np.array_equal(a.image, b.image) for a, b in zip(pages, whole))
    # A file replaced between two openings is an error that names it, not pages of another document.
    pages = iter_pages(path, options=ImageOptions(dpi=72), name="long.pdf")
    assert [next(pages).index, next(pages).index] == [0, 1]
    path.write_bytes(_pdf_with_pages(sizes[:3]))
    with pytest.raises(ImageError, match=r"^long.pdf: the PDF changed while it was read \(5 pages, now 3\)"):
        next(pages)


def test_iter_pages_is_lazy():
    pages = iter_pages(_pdf_with_pages([(72, 72)] * 3), options=ImageOptions(dpi=36))
    first = next(pages)
    assert isinstance(first, PageImage) and first.index == 0
    assert [p.index for p in pages] == [1, 2]


def test_encrypted_pdf_needs_the_right_password():
    data = _encrypted_pdf("secret", "owner")
    with pytest.raises(ImageError, match="encrypted.*pdf_password") as caught:
        load_pages(data, name="locked.pdf")
    assert str(caught.value).startswith("locked.pdf: ") and "--pdf-password" in str(caught.value)
    with pytest.raises(ImageError, match="wrong password"):
        load_pages(data, options=ImageOptions(pdf_password="nope"))
    for password in ("secret", "owner"):
        (page,) = load_pages(data, options=ImageOptions(dpi=72, pdf_password=password))
        assert page.image.shape == (36, 72, 3)


def test_pdf_without_pages_is_an_error():
    data = _pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])
    with pytest.raises(ImageError, match="no pages"):
        load_pages(data)


@pytest.mark.parametrize("cut", [0.5, 0.1])
def test_corrupt_or_truncated_pdf(cut):
    data = _pdf_with_pages([(72, 72)])
    with pytest.raises(ImageError, match="not a readable PDF") as info:
        load_pages(data[: int(len(data) * cut)], name="<bytes #3>")
    assert str(info.value).startswith("<bytes #3>: ")


# --------------------------------------------------------------------------------------------------------------
# Conversion rules


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), (255, 255, 255))
    image.paste((0, 0, 255), (0, 0, 10, 10))  # blue block at the top-left of the stored pixels
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = _encode(image, "JPEG", quality=95, exif=exif.tobytes())
    (page,) = load_pages(data)
    assert page.image.shape == (40, 20, 3)
    assert page.image[3, -3, 2] > 200 and page.image[3, -3, 0] < 60  # now at the top-right
    assert page.image[3, 3].min() > 200
    with Image.open(io.BytesIO(data)) as opened:  # PIL images are turned upright too
        assert load_pages(opened)[0].image.shape == (40, 20, 3)


def test_alpha_is_composited_onto_white():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 128)  # half-transparent red
    rgba[0, 1] = (0, 0, 0, 0)  # fully transparent
    rgba[1, 0] = (10, 20, 30, 255)  # opaque
    for source in (_encode(Image.fromarray(rgba, "RGBA"), "PNG"), rgba):
        image = load_pages(source)[0].image
        # channel = (c * a + 255 * (255 - a)) / 255, rounded
        assert image[0, 0].tolist() == [255, 127, 127]
        assert image[0, 1].tolist() == [255, 255, 255]
        assert image[1, 0].tolist() == [10, 20, 30]


def test_grey_alpha_palette_cmyk_and_bilevel_modes():
    grey_alpha = Image.fromarray(np.array([[[0, 255], [0, 0]]], dtype=np.uint8), "LA")
    assert load_pages(grey_alpha)[0].image.tolist() == [[[0, 0, 0], [255, 255, 255]]]

    palette = Image.new("P", (2, 1))
    palette.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    palette.putpixel((0, 0), 0)
    palette.putpixel((1, 0), 1)
    assert load_pages(_encode(palette, "PNG"))[0].image.tolist() == [[[10, 20, 30], [200, 100, 50]]]
    palette.info["transparency"] = 1  # palette entry 1 transparent → white
    assert load_pages(_encode(palette, "PNG"))[0].image.tolist() == [[[10, 20, 30], [255, 255, 255]]]

    cmyk = Image.new("CMYK", (1, 1), (0, 255, 255, 0))  # pure red in naive CMYK
    assert load_pages(_encode(cmyk, "TIFF"))[0].image.tolist() == [[[255, 0, 0]]]

    bilevel = Image.new("1", (2, 1), 0)
    bilevel.putpixel((1, 0), 1)
    assert load_pages(_encode(bilevel, "PNG"))[0].image.tolist() == [[[0, 0, 0], [255, 255, 255]]]


def test_16_bit_grey_is_scaled_from_65535():
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    data = _encode(Image.fromarray(values), "PNG")
    with Image.open(io.BytesIO(data)) as check:
        assert check.mode.startswith("I")  # PIL keeps the 16 bits
    image = load_pages(data)[0].image
    assert image[0, :, 0].tolist() == [0, 1, 128, 255]
    assert load_pages(_encode(Image.fromarray(values), "TIFF"))[0].image[0, :, 0].tolist() == [0, 1, 128, 255]


def test_float_tiff_in_unit_range_is_scaled():
    values = np.array([[0.0, 0.2, 1.0]], dtype=np.float32)
    image = load_pages(_encode(Image.fromarray(values, "F"), "TIFF"))[0].image
    assert image[0, :, 0].tolist() == [0, 51, 255]


# --------------------------------------------------------------------------------------------------------------
# Arrays and tensors


def test_numpy_layouts_and_dtypes():
    grey = np.array([[0, 128], [255, 7]], dtype=np.uint8)
    expected = np.repeat(grey[..., None], 3, axis=2)
    np.testing.assert_array_equal(load_pages(grey)[0].image, expected)
    np.testing.assert_array_equal(load_pages(grey[..., None])[0].image, expected)
    rgb = _pattern(4, 2)
    np.testing.assert_array_equal(load_pages(rgb)[0].image, rgb)
    np.testing.assert_array_equal(load_pages(rgb[:, ::-1])[0].image, rgb[:, ::-1])  # non-contiguous view
    floats = np.array([[0.0, 0.2, 1.0]], dtype=np.float64)
    assert load_pages(floats)[0].image[0, :, 0].tolist() == [0, 51, 255]
    assert load_pages(floats.astype(np.float16))[0].image[0, :, 0].tolist() == [0, 51, 255]


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((3, 20, 30), dtype=np.uint8), "channels-first"),
        (np.zeros((2, 20, 30, 3), dtype=np.uint8), r"expected \[H, W\]"),
        (np.zeros((0, 5, 3), dtype=np.uint8), "zero-size"),
        (np.full((2, 2), 1.5, dtype=np.float32), r"\[0, 1\]"),
        (np.full((2, 2), -0.1, dtype=np.float32), r"\[0, 1\]"),
        (np.array([[0.1, np.nan]], dtype=np.float32), "NaN"),
        (np.zeros((2, 2), dtype=np.uint16), "dtype uint16"),
        (np.zeros((2, 2), dtype=bool), "dtype bool"),
    ],
)
def test_bad_arrays(array, message):
    with pytest.raises(ImageError, match=message) as info:
        load_pages(array)
    assert info.value.source == "<array>"


def test_pages_are_writeable_uint8_rgb():
    read_only = np.asarray(Image.new("RGB", (3, 2), (1, 2, 3)))
    assert not read_only.flags.writeable
    sources = [read_only, _encode(Image.new("RGB", (3, 2)), "PNG"), _pdf_with_pages([(72, 72)]), torch.zeros(3, 2, 2)]
    for source in sources:
        for page in load_pages(source, options=ImageOptions(dpi=18)):
            assert page.image.flags.writeable and page.image.flags.c_contiguous and page.image.dtype == np.uint8


def test_tensors_chw_and_bchw():
    chw = torch.tensor([[[0.0, 0.2]], [[1.0, 1.0]], [[0.0, 0.0]]])  # (3, 1, 2) float in [0, 1]
    (page,) = load_pages(chw)
    assert page.image.tolist() == [[[0, 255, 0], [51, 255, 0]]] and page.source == "<tensor>"
    batch = torch.arange(2 * 1 * 2 * 3, dtype=torch.uint8).reshape(2, 1, 2, 3)  # (B, 1, H, W) grey
    pages = load_pages(batch)
    assert [p.index for p in pages] == [0, 1]
    assert pages[1].image[:, :, 0].tolist() == [[6, 7, 8], [9, 10, 11]]
    assert load_pages(chw.to(torch.bfloat16))[0].image.shape == (1, 2, 3)
    assert load_pages(torch.zeros(4, 5))[0].image.shape == (4, 5, 3)


def test_bad_tensors():
    with pytest.raises(ImageError, match="channels-last"):
        load_pages(torch.zeros(20, 30, 3))
    with pytest.raises(ImageError, match="batch item 1: float values must lie in"):
        load_pages(torch.stack([torch.zeros(3, 4, 4), torch.full((3, 4, 4), 2.0)]))
    with pytest.raises(ImageError, match="dtype torch.int32"):
        load_pages(torch.zeros(3, 4, 4, dtype=torch.int32))
    with pytest.raises(ImageError, match="empty batch"):
        load_pages(torch.zeros(0, 3, 4, 4))
    with pytest.raises(ImageError, match="shape"):
        load_pages(torch.zeros(1, 1, 3, 4, 4))


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch warns that CSR, nested and quantized are beta/deprecated
def test_tensors_without_a_plain_pixel_grid_are_refused_by_name():
    dense = torch.rand(3, 8, 8)
    cases = [
        (dense.to_sparse(), "<tensor #0>: torch.sparse_coo tensor; pass a dense one"),
        (dense[0].to_sparse_csr(), "<tensor #0>: torch.sparse_csr tensor"),
        (torch.quantize_per_tensor(dense, 0.1, 0, torch.quint8), "<tensor #0>: quantized tensor"),
        (torch.empty(3, 8, 8, device="meta"), "<tensor #0>: tensor on the meta device"),
        (torch.nested.nested_tensor([dense, torch.rand(3, 8, 9)]), "<tensor #0>: nested tensor"),
    ]
    for tensor, message in cases:
        with pytest.raises(ImageError) as caught:
            load_pages(tensor, name="<tensor #0>")
        assert str(caught.value).startswith(message)


# --------------------------------------------------------------------------------------------------------------
# Errors


def test_missing_path_raises_file_not_found(tmp_path):
    missing = tmp_path / "missing.png"
    for source in (missing, str(missing)):
        with pytest.raises(FileNotFoundError, match="missing.png"):
            load_pages(source)


def test_directory_and_empty_file(tmp_path):
    with pytest.raises(ImageError, match="directory"):
        load_pages(tmp_path)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="empty") as info:
        load_pages(empty)
    assert info.value.source == str(empty)
    with pytest.raises(ImageError, match="empty"):
        load_pages(b"")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "BMP"])
def test_truncated_images(tmp_path, fmt):
    rng = np.random.default_rng(0)
    data = _encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated") as info:
        load_pages(path)
    assert str(info.value).startswith(str(path))


def test_corrupt_bytes_and_header():
    with pytest.raises(ImageError, match="not a supported image or PDF"):
        load_pages(b"this is plain text, not an image")
    png = _encode(Image.fromarray(_pattern()), "PNG")
    with pytest.raises(ImageError, match="corrupt|not a supported"):
        load_pages(png[:20])  # cut inside the header chunk


def test_pixel_limit_is_checked_before_decoding():
    # The header claims 5000×5000 pixels but no pixel data follows: reaching the decoder would report truncation.
    with pytest.raises(ImageError, match="above the limit of 1,000,000"):
        load_pages(_png_header_only(5000, 5000), options=ImageOptions(max_pixels=1_000_000))
    # Above PIL's own bomb threshold, PIL refuses at open; still an ImageError naming the input.
    with pytest.raises(ImageError, match="pixel limit") as info:
        load_pages(_png_header_only(40000, 40000), options=ImageOptions(max_pixels=10**10))
    assert info.value.source == "<bytes>"
    with pytest.raises(ImageError, match="page 0 at 200 dpi of 400x200"):
        load_pages(_pdf_with_pages([(144, 72)]), options=ImageOptions(max_pixels=10_000))
    with pytest.raises(ImageError, match="above the limit"):
        load_pages(np.zeros((100, 100), dtype=np.uint8), options=ImageOptions(max_pixels=9_999))


def test_zero_size_pil_image():
    with pytest.raises(ImageError, match="zero-size"):
        load_pages(Image.new("RGB", (0, 0)))


def test_unsupported_types(tmp_path):
    with pytest.raises(TypeError, match="unsupported input type builtins.int"):
        load_pages(12)
    with pytest.raises(TypeError, match="<list>"):
        load_pages([b"x"])
    path = tmp_path / "p.png"
    path.write_bytes(_encode(Image.fromarray(_pattern()), "PNG"))
    with open(path) as text_mode, pytest.raises(TypeError, match="binary mode"):
        load_pages(text_mode)


def test_bad_data_urls_and_base64():
    with pytest.raises(ImageError, match="malformed data URL"):
        load_pages("data:image/png;base64")
    with pytest.raises(ImageError, match="media type 'text/plain'"):
        load_pages("data:text/plain;base64,aGVsbG8=")
    with pytest.raises(ImageError, match="invalid base64"):
        load_pages("data:image/png;base64,@@@@")
    with pytest.raises(FileNotFoundError, match="not base64"):
        load_pages("aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=")  # base64 of text, not of an image


def test_image_error_is_a_value_error_that_pickles():
    error = ImageError("<bytes #2>", "is empty (0 bytes)")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == "<bytes #2>: is empty (0 bytes)" and copy.problem == "is empty (0 bytes)"


def test_image_options_are_validated():
    with pytest.raises(ValueError, match="dpi"):
        ImageOptions(dpi=0)
    with pytest.raises(TypeError, match="max_pixels"):
        ImageOptions(max_pixels=1.5)
    with pytest.raises(ValueError, match="max_pixels"):
        ImageOptions(max_pixels=0)
    with pytest.raises(TypeError, match="pdf_password"):
        ImageOptions(pdf_password=b"secret")
    with pytest.raises(TypeError, match="options"):
        load_pages(np.zeros((2, 2), np.uint8), options={"dpi": 100})


def test_describe_source_names():
    assert describe_source("scan.png") == "scan.png"
    assert describe_source(np.zeros(1)) == "<array>"
    assert describe_source(torch.zeros(1), position=3) == "<tensor #3>"
    assert describe_source(Image.new("L", (1, 1))) == "<PIL image>"
    assert describe_source(3.5) == "<float>"


def test_bundled_example_page():
    path = example_image_path()
    assert path.stat().st_size < 100_000
    (page,) = load_pages(path)
    assert page.image.shape == (700, 1000, 3)
    assert (page.image < 128).mean() > 0.01  # there is dark text on it
    assert example_text().startswith("Annual Report of the Riverside Library\n\n")
