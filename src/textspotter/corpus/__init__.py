"""Real born-digital documents as training data: sources, text-layer labels, trust checks, document split.

``textspotter corpus sources`` fetches Debian packages of documents (:mod:`.sources`); ``textspotter corpus build``
renders their pages into manifest folders (:mod:`.build`) with labels from the text layer (:mod:`.text_layer`)
that passed the checks (:mod:`.trust`), split by document (:mod:`.split`). See docs/corpus.md.
"""

from .build import BuildOptions, build_corpus, built_pages
from .sources import Document, fetch_sources, load_documents
from .split import SPLITS, split_of
from .trust import TrustOptions

__all__ = [
    "BuildOptions",
    "Document",
    "SPLITS",
    "TrustOptions",
    "build_corpus",
    "built_pages",
    "fetch_sources",
    "load_documents",
    "split_of",
]
