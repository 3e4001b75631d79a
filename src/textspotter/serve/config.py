"""Settings of the HTTP service, importable without FastAPI (the CLI reads their defaults for ``--help``)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from .batching import BatchOptions

__all__ = ["ServeLimits", "ServeConfig", "CONFIG_ENV"]

CONFIG_ENV = "TEXTSPOTTER_SERVE_CONFIG"
"""Environment variable through which the CLI hands a :class:`ServeConfig` (JSON) to uvicorn worker processes."""


@dataclass(frozen=True)
class ServeLimits:
    """Bounds on what one request may ask for; a request beyond them gets a 413 before any model work.

    Attributes:
        max_body_bytes: request body size (a base64 data URL is 4/3 of the image file).
        max_images_per_request: images on ``/v1/infer``; pages over all files on ``/v1/read``.
        max_pixels_per_image: width × height of one image or rendered PDF page.
    """

    max_body_bytes: int = 32 * 1024 * 1024
    max_images_per_request: int = 64
    max_pixels_per_image: int = 40_000_000

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_images_per_request", "max_pixels_per_image"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class ServeConfig:
    """Everything the app needs to start.

    Attributes:
        model: a model folder, or ``None`` for the shipped default model.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"`` (as for :class:`textspotter.OCR`).
        batching: dynamic batching settings.
        limits: request limits.
        torch_threads: PyTorch intra-op threads of the process (``torch.set_num_threads``), set when the model
            loads; ``None`` keeps PyTorch's default (one per core). The server's own threads (event loop, image
            decoding) need CPU too: on a small or shared machine fewer model threads are often faster.
    """

    model: str | None = None
    device: str = "auto"
    batching: BatchOptions = field(default_factory=BatchOptions)
    limits: ServeLimits = field(default_factory=ServeLimits)
    torch_threads: int | None = None

    def __post_init__(self) -> None:
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ValueError(f"torch_threads must be at least 1 (or None), got {self.torch_threads}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        data = json.loads(text)
        return cls(
            model=data.get("model"),
            device=data.get("device", "auto"),
            batching=BatchOptions(**data.get("batching", {})),
            limits=ServeLimits(**data.get("limits", {})),
            torch_threads=data.get("torch_threads"),
        )
