"""textspotter.serve: the NIM-compatible HTTP service (``textspotter serve``; docs/serve.md).

``textspotter.serve.app.create_app(ServeConfig(...))`` builds the FastAPI app; ``batching`` holds the dynamic
batcher, ``schemas`` the wire format, ``config`` the settings. Nothing is imported here, so that the settings and
the batcher stay usable without FastAPI installed.
"""
