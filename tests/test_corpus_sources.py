"""corpus sources without the network: fake apt-get/dpkg, licences, the index, HTML styles."""

import json
import os
import stat

import pytest

from textspotter.corpus import load_documents
from textspotter.corpus.pdfwrite import TextRun, write_pdf
from textspotter.corpus.sources import _css, _styled_copy, fetch_package, fetch_sources, html_style, package_licence


def fake_tools(folder, *, download_ok=True):
    """Put fake ``apt-get`` and ``dpkg`` on PATH: download writes a .deb name, -x unpacks a prepared tree."""
    folder.mkdir(parents=True, exist_ok=True)
    apt = folder / "apt-get"
    if download_ok:
        apt.write_text('#!/bin/sh\ntouch "${2}_1.0_all.deb"\n')
    else:
        apt.write_text("#!/bin/sh\necho 'E: Unable to locate package' >&2\nexit 100\n")
    dpkg = folder / "dpkg"
    dpkg.write_text('#!/bin/sh\nmkdir -p "$3" && cp -r "$FAKE_TREE"/. "$3"/\n')
    for tool in (apt, dpkg):
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def tools(tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    docs = tree / "usr" / "share" / "doc" / "demo-doc"
    docs.mkdir(parents=True)
    (docs / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: 2024 Someone\nLicense: LPPL-1.3c\n\nFiles: debian/*\nLicense: GPL-2+\n\n"
        "Files: vendored/*\nLicense: Redistribution and use in source and binary forms, with or without\n"
    )
    write_pdf(docs / "manual.pdf", [[TextRun(20, 150, 12, "Hello")]])
    (docs / "page.html").write_text("<html><head><title>t</title></head><body><p>Hello</p></body></html>")
    bin_dir = tmp_path / "bin"
    fake_tools(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_TREE", str(tree))
    return bin_dir


def test_fetch_unpacks_indexes_and_keeps_provenance(tools, tmp_path):
    out = tmp_path / "sources"
    index = fetch_sources(["demo-doc"], out, html_limit=0, office=False)
    entry = json.loads(index.read_text())["packages"]["demo-doc"]
    assert entry["licence"] == "LPPL-1.3c; GPL-2+" and entry["deb"] == "demo-doc_1.0_all.deb"
    (document,) = load_documents([out])
    assert document.key == "demo-doc/usr/share/doc/demo-doc/manual.pdf" and document.licence == "LPPL-1.3c; GPL-2+"
    assert document.converter == "" and os.path.isfile(document.path)
    assert (out / "demo-doc" / ".unpacked").is_file()


def test_a_failed_download_says_to_run_apt_get_update(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    fake_tools(bin_dir, download_ok=False)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ValueError, match="apt-get update"):
        fetch_package("no-such-doc", tmp_path / "out")
    with pytest.raises(ValueError, match="not a Debian package name"):
        fetch_package("bad name; rm", tmp_path / "out")


def test_free_form_copyright_files_name_the_licences_they_mention(tmp_path):
    docs = tmp_path / "usr" / "share" / "doc" / "texlive-demo"
    docs.mkdir(parents=True)
    (docs / "copyright").write_text("Parts are under the LaTeX Project Public License, others GPL or public domain.")
    licence = package_licence(tmp_path, "texlive-demo")
    assert licence.startswith("free-form, mentions LPPL, GPL, public domain")
    assert package_licence(tmp_path, "missing") == "unknown"


def test_html_styles_are_fixed_per_file_and_injected(tmp_path):
    style = html_style("pkg/a.html")
    assert style == html_style("pkg/a.html")
    assert len({str(html_style(f"pkg/{i}.html")) for i in range(20)}) > 10
    page = tmp_path / "doc" / "a.html"
    page.parent.mkdir()
    page.write_text("<html><HEAD><title>x</title></HEAD><body>text</body></html>")
    copy = _styled_copy(page, style, tmp_path)
    html = copy.read_text()
    assert f'<base href="{page.parent.resolve().as_uri()}/">' in html and style["font"] in html
    assert html.index("<base") < html.index("<title>")  # right after <head>
    assert "column-count" not in _css({**style, "columns": 2, "short": False})
