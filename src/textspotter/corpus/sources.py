"""Real documents from Debian packages: download, unpack, convert HTML and office files to PDF, and index them.

Nothing here runs at import or when documents are read: :func:`fetch_sources` (``textspotter corpus sources``) is
the one step that touches the network, through ``apt-get download`` (so ``apt-get update`` must have run), and
unpacks each package with ``dpkg -x`` into ``OUT/<package>/``. Then:

* PDFs in the package are documents as they are (TeX Live documentation: manuals, papers, slides, exams; the
  ``texlive-lang-*`` packages hold Chinese, Japanese, Korean and Cyrillic ones);
* HTML pages (``python3.11-doc``, Debian manuals) are printed to PDF by headless Chromium with a page size,
  margins, fonts, text size, line spacing and column count drawn per file (CSS injected into a copy of the page),
  and, when LibreOffice is installed, also laid out by LibreOffice Writer (office fonts: Liberation, Carlito,
  Caladea); office files (``.odt``, ``.docx``, ``.doc``, ``.rtf``) are converted by LibreOffice.

Each document keeps its provenance: the package, the file inside it, the converter, and the licence named by the
package's ``usr/share/doc/<package>/copyright``. The index is ``OUT/sources.json``; :func:`load_documents` reads it.
A document's *key* (``package/path inside the package``) names the original file, so an HTML page printed by
Chromium and laid out by LibreOffice is one document for the split (:mod:`textspotter.corpus.split`).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "Document",
    "DEFAULT_PACKAGES",
    "fetch_sources",
    "fetch_package",
    "package_licence",
    "print_html",
    "convert_office",
    "load_documents",
    "INDEX_NAME",
]

INDEX_NAME = "sources.json"

# Small packages first; the big English ones (texlive-latex-extra-doc: 593 MB) last.
DEFAULT_PACKAGES = (
    "texlive-latex-base-doc",
    "texlive-latex-recommended-doc",
    "texlive-humanities-doc",
    "texlive-science-doc",
    "texlive-publishers-doc",
    "texlive-pictures-doc",
    "texlive-fonts-extra-doc",
    "texlive-latex-extra-doc",
    "texlive-lang-chinese",
    "texlive-lang-japanese",
    "texlive-lang-korean",
    "texlive-lang-cyrillic",
    "python3.11-doc",
    "debian-reference-en",
    "developers-reference",
)

_LICENCE_NAMES = (
    ("LPPL", r"LaTeX Project Public License|\bLPPL"),
    ("GPL", r"GNU (General )?Public License|\bGPL"),
    ("LGPL", r"Lesser General Public|\bLGPL"),
    ("GFDL", r"Free Documentation License|\bGFDL"),
    ("BSD", r"\bBSD\b"),
    ("MIT", r"\bMIT\b|X Window System license"),
    ("OFL", r"Open Font License|\bOFL\b"),
    ("CC", r"Creative Commons|\bCC-BY"),
    ("PSF", r"Python Software Foundation License|\bPSF\b"),
    ("public domain", r"[Pp]ublic [Dd]omain"),
)
_OFFICE_SUFFIXES = (".odt", ".docx", ".doc", ".rtf")
_HTML_SUFFIXES = (".html", ".htm")


@dataclass(frozen=True)
class Document:
    """One source document.

    Attributes:
        key: provenance key ``package/path inside the package`` of the original file (the split's unit).
        path: the PDF to read (the original, or the converter's output).
        package: the Debian package (or the folder name for a plain folder of PDFs).
        licence: licence(s) named by the package's copyright file, or ``unknown``.
        converter: ``""`` for an original PDF, ``chromium`` or ``libreoffice`` for a converted one.
    """

    key: str
    path: str
    package: str
    licence: str = "unknown"
    converter: str = ""

    @property
    def id(self) -> str:
        """The key plus the converter: unique per rendering of a document."""
        return f"{self.key}#{self.converter}" if self.converter else self.key


def _run(command: Sequence[str], *, timeout: float, cwd: str | os.PathLike[str] | None = None):  # noqa: ANN202
    """Run a command; on timeout kill its whole process group (browsers leave helper processes) and re-raise."""
    process = subprocess.Popen(
        list(command), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def package_licence(root: str | os.PathLike[str], package: str) -> str:
    """Licences named by ``usr/share/doc/<package>/copyright`` under an unpacked package (``unknown`` if none).

    Machine-readable copyright files list ``License:`` fields; their distinct short names are joined with
    ``; `` in order of appearance.
    """
    path = Path(root) / "usr" / "share" / "doc" / package / "copyright"
    if not path.is_file():
        return "unknown"
    names: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = re.match(r"^License:\s*(\S.*)$", line)
        # A short licence name ("GPL-2+", "LPPL-1.3c or GPL-2"), not the first line of an inline licence text.
        if match and len(match.group(1).split()) <= 5 and not match.group(1).rstrip().endswith((",", ".")):
            name = match.group(1).strip()
            if name not in names:
                names.append(name)
    if names:
        return "; ".join(names)
    # Free-form files (TeX Live's bundle notice): name the licences they mention, and where to read them.
    text = path.read_text(encoding="utf-8", errors="replace")
    mentioned = [name for name, pattern in _LICENCE_NAMES if re.search(pattern, text)]
    where = f"usr/share/doc/{package}/copyright"
    return f"free-form, mentions {', '.join(mentioned)} (see {where})" if mentioned else f"see {where}"


def fetch_package(package: str, out_dir: str | os.PathLike[str], *, timeout: float = 1800.0) -> Path:
    """Download a Debian package with ``apt-get download`` and unpack it with ``dpkg -x`` into ``OUT/<package>``.

    The ``.deb`` is kept in ``OUT/debs`` and an unpacked package is not unpacked again.

    Raises:
        FileNotFoundError: if ``apt-get`` or ``dpkg`` is missing.
        ValueError: if the download fails (unknown package, or ``apt-get update`` not run).
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", package):
        raise ValueError(f"not a Debian package name: {package!r}")
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise FileNotFoundError(f"{tool} not found: corpus sources need a Debian system")
    out = Path(out_dir)
    root = out / package
    if (root / ".unpacked").is_file():
        return root
    debs = out / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(glob.glob(str(debs / f"{package}_*.deb")))
    if not found:
        result = _run(["apt-get", "download", package], cwd=debs, timeout=timeout)
        found = sorted(glob.glob(str(debs / f"{package}_*.deb")))
        if result.returncode != 0 or not found:
            raise ValueError(
                f"apt-get download {package} failed (run `apt-get update` first; is the name right?): "
                f"{result.stderr.strip()[-400:]}"
            )
    root.mkdir(parents=True, exist_ok=True)
    result = _run(["dpkg", "-x", found[-1], str(root)], timeout=timeout)
    if result.returncode != 0:
        raise ValueError(f"dpkg -x {found[-1]} failed: {result.stderr.strip()[-400:]}")
    (root / ".unpacked").write_text(Path(found[-1]).name + "\n", encoding="utf-8")
    return root


def _files(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    out = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.lower().endswith(suffixes) and not name.startswith("."):
                path = Path(dirpath) / name
                if path.is_file() and not path.is_symlink():
                    out.append(path)
    return sorted(out)


def _stable_rng(key: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


def _pick(files: list[Path], limit: int, key: str) -> list[Path]:
    """At most ``limit`` files, drawn reproducibly (sorted order, seeded by ``key``)."""
    if limit <= 0 or len(files) <= limit:
        return files if limit != 0 else []
    chosen = _stable_rng(key).choice(len(files), size=limit, replace=False)
    return [files[i] for i in sorted(chosen)]


_PAGE_SIZES = ("A4", "letter", "A5", "B5", "legal")
_FONTS = (
    "Liberation Serif",
    "Liberation Sans",
    "DejaVu Serif",
    "DejaVu Sans",
    "Carlito",
    "Caladea",
    "Noto Serif",
    "Noto Sans",
    "FreeSerif",
)


def html_style(key: str) -> dict[str, object]:
    """The page look drawn for one HTML file (page size, margins, font, size, spacing, columns, alignment)."""
    rng = _stable_rng("html-style:" + key)
    return {
        "page": _PAGE_SIZES[int(rng.integers(len(_PAGE_SIZES)))],
        "landscape": bool(rng.random() < 0.1),
        "margin_mm": int(rng.integers(8, 26)),
        "font": _FONTS[int(rng.integers(len(_FONTS)))],
        "size_pt": round(float(rng.uniform(8.5, 13.0)), 1),
        "line_height": round(float(rng.uniform(1.1, 1.6)), 2),
        "columns": int(rng.choice([1, 1, 1, 2])),
        "justify": bool(rng.random() < 0.4),
    }


def _css(style: dict[str, object]) -> str:
    size = f"{style['page']} landscape" if style["landscape"] else str(style["page"])
    css = (
        f"@page {{ size: {size}; margin: {style['margin_mm']}mm; }}\n"
        f"html, body {{ font-family: '{style['font']}' !important; font-size: {style['size_pt']}pt !important; "
        f"line-height: {style['line_height']} !important; }}\n"
        f"p, li, dd, td {{ font-family: '{style['font']}' !important; }}\n"
        # Side bars and navigation of documentation sites are screen furniture; print the content.
        ".sphinxsidebar, .related, .navigation, nav, .footer, #searchbox, .mobile-nav { display: none !important; }\n"
        # A fixed or sticky bar is printed on every page over the text under it: let everything flow instead.
        "* { position: static !important; }\n"
    )
    if style["columns"] > 1 and style.get("short", True):
        css += f"body {{ column-count: {style['columns']}; column-gap: 8mm; }}\n"
    if style["justify"]:
        css += "p { text-align: justify; hyphens: auto; }\n"
    return css


def _styled_copy(source: Path, style: dict[str, object], folder: Path, *, name: str | None = None) -> Path:
    """Write a copy of an HTML page with the style injected and a base URL pointing at the original's folder.

    The copy is ``folder/<name>.html`` (by default a hash of the source path).
    """
    html = source.read_text(encoding="utf-8", errors="replace")
    head = f'<base href="{source.parent.resolve().as_uri()}/"><style>{_css(style)}</style>'
    match = re.search(r"<head[^>]*>", html, flags=re.IGNORECASE)
    html = html[: match.end()] + head + html[match.end() :] if match else head + html
    target = folder / ((name or hashlib.sha1(str(source).encode()).hexdigest()[:16]) + ".html")
    target.write_text(html, encoding="utf-8")
    return target


def print_html(source: Path, target: Path, style: dict[str, object], *, timeout: float = 120.0) -> None:
    """Print an HTML page to PDF with headless Chromium, with ``style`` (see :func:`html_style`) injected.

    Raises:
        FileNotFoundError: if Chromium is not installed (``apt-get install -y chromium``).
        ValueError: if Chromium fails or writes no PDF.
    """
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise FileNotFoundError("chromium not found: install it with `apt-get install -y chromium`")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Chromium paginates a multi-column body very slowly (minutes for a long page): columns for short pages only.
    style = {**style, "short": source.stat().st_size < 40_000}
    with tempfile.TemporaryDirectory(prefix="ts-chromium-", ignore_cleanup_errors=True) as tmp:
        copy = _styled_copy(source, style, Path(tmp))
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            # No network here: fail every host name at once instead of waiting for fonts or scripts online.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--no-first-run",
            f"--user-data-dir={tmp}/profile",
            f"--print-to-pdf={target}",
            copy.as_uri(),
        ]
        result = _run(command, timeout=timeout)
    if result.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        raise ValueError(f"chromium could not print {source}: {result.stderr.strip()[-400:]}")


def convert_office(sources: Sequence[Path], out_dir: Path, *, timeout: float = 600.0) -> list[Path]:
    """Convert office files (or HTML pages, laid out as Writer documents) to PDF with headless LibreOffice.

    Returns:
        The PDFs written (``out_dir/<stem>.pdf``), in the order of ``sources``; a file LibreOffice could not
        convert is left out.

    Raises:
        FileNotFoundError: if LibreOffice is not installed (``apt-get install -y libreoffice-writer-nogui``).
    """
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        raise FileNotFoundError("soffice not found: install it with `apt-get install -y libreoffice-writer-nogui`")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ts-soffice-", ignore_cleanup_errors=True) as tmp:
        # HTML opens in Writer/Web; its Writer PDF export paginates it (A4 here). The "HTML (StarWriter)" import
        # filter would keep the injected page size but cannot load most Sphinx pages ("source file could not be
        # loaded").
        command = [office, f"-env:UserInstallation={Path(tmp).as_uri()}", "--headless", "--norestore"]
        command += ["--convert-to", "pdf:writer_pdf_Export", "--outdir", str(out_dir), *map(str, sources)]
        _run(command, timeout=timeout)
    return [out_dir / (s.stem + ".pdf") for s in sources if (out_dir / (s.stem + ".pdf")).is_file()]


def _convert_package(
    package: str, root: Path, out: Path, html_limit: int, office: bool, log: Callable[[str], None]
) -> list[Document]:
    licence = package_licence(root, package)
    documents: list[Document] = []
    for pdf in _files(root, (".pdf",)):
        documents.append(Document(f"{package}/{pdf.relative_to(root)}", str(pdf), package, licence))
    html = _pick(_files(root, _HTML_SUFFIXES), html_limit, package)
    converted = out / "converted" / package
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if html and browser is None:
        log(f"{package}: chromium not installed, {len(html)} HTML pages not printed")
    for page in html if browser else []:
        relative = page.relative_to(root)
        target = converted / "chromium" / relative.with_suffix(".pdf")
        if not target.is_file():
            try:
                print_html(page, target, html_style(f"{package}/{relative}"))
            except (ValueError, subprocess.TimeoutExpired) as exc:
                log(f"{package}: {exc}")
                continue
        documents.append(Document(f"{package}/{relative}", str(target), package, licence, "chromium"))
    office_files = _files(root, _OFFICE_SUFFIXES)
    has_office = shutil.which("soffice") or shutil.which("libreoffice")
    if office and (html or office_files) and not has_office:
        log(f"{package}: LibreOffice not installed, office files and Writer layouts skipped")
    if office and has_office:
        # HTML pages are laid out by Writer with the same injected fonts, all in one LibreOffice run (it starts
        # slowly); the styled copies are numbered so that each output PDF maps back to its page.
        with tempfile.TemporaryDirectory(prefix="ts-writer-", ignore_cleanup_errors=True) as tmp:
            copies: dict[str, Path] = {}
            for i, page in enumerate(html):
                relative = page.relative_to(root)
                target = converted / "libreoffice" / relative.with_suffix(".pdf")
                if not target.is_file():
                    copy = _styled_copy(page, html_style(f"{package}/{relative}"), Path(tmp), name=f"{i:05d}")
                    copies[copy.stem] = target
            if copies:
                try:
                    written = convert_office([Path(tmp) / f"{stem}.html" for stem in copies], Path(tmp) / "out")
                except subprocess.TimeoutExpired:
                    log(f"{package}: LibreOffice timed out laying out HTML pages")
                    written = []
                for pdf in written:
                    copies[pdf.stem].parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(str(pdf), copies[pdf.stem])
        for page in html:
            relative = page.relative_to(root)
            target = converted / "libreoffice" / relative.with_suffix(".pdf")
            if target.is_file():
                documents.append(Document(f"{package}/{relative}", str(target), package, licence, "libreoffice"))
        for document in office_files:
            relative = document.relative_to(root)
            target = converted / "libreoffice" / relative.with_suffix(".pdf")
            if not target.is_file():
                try:
                    convert_office([document], target.parent)
                except subprocess.TimeoutExpired:
                    log(f"{package}: LibreOffice timed out on {relative}")
            if target.is_file():
                documents.append(Document(f"{package}/{relative}", str(target), package, licence, "libreoffice"))
    return documents


def fetch_sources(
    packages: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    html_limit: int = 40,
    office: bool = True,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Download, unpack and convert packages into ``out_dir`` and write the index ``out_dir/sources.json``.

    Args:
        packages: Debian package names.
        out_dir: the sources folder (packages already there are not fetched again; the index is merged).
        html_limit: HTML pages printed per package (drawn reproducibly; -1 for all, 0 for none).
        office: also lay out HTML pages and convert office files with LibreOffice when it is installed.
        log: called with a line for each problem or skipped step (the library never prints).

    Returns:
        The index path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = log or (lambda _line: None)
    index_path = out / INDEX_NAME
    index = json.loads(index_path.read_text(encoding="utf-8")) if index_path.is_file() else {"packages": {}}
    for package in packages:
        root = fetch_package(package, out)
        documents = _convert_package(package, root, out, html_limit, office, log)
        index["packages"][package] = {
            "deb": (root / ".unpacked").read_text(encoding="utf-8").strip(),
            "licence": package_licence(root, package),
            "documents": [asdict(d) for d in documents],
        }
        index_path.write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return index_path


def load_documents(sources: Sequence[str | os.PathLike[str]]) -> list[Document]:
    """Documents of sources folders (their ``sources.json``), plain folders of PDFs, or PDF files.

    A plain folder's PDFs get the folder's name as package; a PDF file gets ``local``. Paths in an index are
    resolved against the index's folder when relative. The result is sorted by document id (the build order).

    Raises:
        FileNotFoundError: for a source that does not exist.
    """
    documents: dict[str, Document] = {}
    for source in sources:
        path = Path(source)
        if path.is_dir() and (path / INDEX_NAME).is_file():
            index = json.loads((path / INDEX_NAME).read_text(encoding="utf-8"))
            for entry in index.get("packages", {}).values():
                for raw in entry.get("documents", []):
                    document = Document(**raw)
                    if not os.path.isabs(document.path):
                        document = Document(**{**raw, "path": str(path / document.path)})
                    documents[document.id] = document
        elif path.is_dir():
            for pdf in _files(path, (".pdf",)):
                document = Document(f"{path.name}/{pdf.relative_to(path)}", str(pdf), path.name)
                documents[document.id] = document
        elif path.is_file():
            document = Document(f"local/{path.name}", str(path), "local")
            documents[document.id] = document
        else:
            raise FileNotFoundError(f"corpus source not found: {path}")
    return [documents[k] for k in sorted(documents)]
