"""What a batch run does: :class:`BatchJob`, a frozen description of inputs, output, model and resources."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..imageio import ImageOptions

if TYPE_CHECKING:
    from ..pipeline.preprocess import ScaleOptions
    from ..pipeline.stages import DetectionOptions, RecognitionOptions, RelationOptions
    from ..pipeline.textlayer import TextLayerOptions

__all__ = ["BatchJob", "OUTPUT_FORMATS"]

# Output format name → file extension of its part files.
OUTPUT_FORMATS: dict[str, str] = {"parquet": ".parquet", "jsonl": ".jsonl"}


def _positive_number(name: str, value: object, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"BatchJob.{name} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"BatchJob.{name} must be {bound}, got {value!r}")


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"BatchJob.{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"BatchJob.{name} must be >= 1, got {value!r}")


@dataclass(frozen=True)
class BatchJob:
    """One OCR run over a corpus, written as one row per page into ``output``.

    Attributes:
        inputs: files, folders (searched recursively for images and PDFs) or glob patterns; local paths or fsspec
            URLs (``s3://bucket/scans/``, ``gs://b/**/*.pdf``, ``file:///data/x.png``).
        output: folder (local path or fsspec URL) that receives the part files; created if missing. Rows already
            there are not redone (see ``docs/batch.md``, "Resume").
        list_files: text files (local or fsspec URLs) naming one input file per line; blank lines and lines
            starting with ``#`` are skipped. Entries are taken as they are (no folder search, no globbing), so a list
            of millions of object-store keys costs no request per key.
        format: ``"parquet"`` or ``"jsonl"``.
        model: model folder readable on every node, or None for the shipped default model.
        batch_size: pages per OCR call in an actor (the detector's batch).
        actors: OCR actors, each holding one copy of the model.
        cpus_per_actor: CPUs Ray reserves for each actor; a CPU actor also runs this many PyTorch threads (rounded
            up).
        gpus_per_actor: GPUs Ray reserves for each actor; above 0 the model runs on CUDA (fractions such as 0.5 put
            several actors on one GPU).
        reader_cpus: CPUs Ray reserves for each task that fetches inputs and renders their pages.
        rows_per_file: pages gathered into one part file: at least this many (a little more when OCR batches do not
            divide it), except in the last files of a run. Pages not yet in a file when a run is killed are redone
            by the next run.
        retry_errors: redo pages whose earlier row records an error (the old row stays; see ``read_results``).
        image_options: PDF resolution and password, pixel limit (as for ``textspotter read``).
        scale: single view or tiled reading (as for ``textspotter read``); None for the single view.
        detection: detector settings (thresholds, precision; as for ``textspotter read``); None for the model's.
        recognition: recognizer settings (chunk size, precision); None for the defaults.
        relation: relational model settings (chunk size, precision); None for the defaults.
        text_layer: when PDF pages are read from their own text layer (as for ``textspotter read``, docs/usage.md
            §7); None for the default, mode ``"auto"``. Pages read from their text layer are finished by the reader
            tasks and never enter an OCR call.
    """

    inputs: tuple[str, ...]
    output: str
    list_files: tuple[str, ...] = ()
    format: str = "parquet"
    model: str | None = None
    batch_size: int = 8
    actors: int = 1
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0
    reader_cpus: float = 1.0
    rows_per_file: int = 1000
    retry_errors: bool = False
    image_options: ImageOptions = field(default_factory=ImageOptions)
    scale: ScaleOptions | None = None
    detection: DetectionOptions | None = None
    recognition: RecognitionOptions | None = None
    relation: RelationOptions | None = None
    text_layer: TextLayerOptions | None = None

    def __post_init__(self) -> None:
        for name in ("inputs", "list_files"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise TypeError(f"BatchJob.{name} must be a sequence of str, got {value!r}")
            # A list is accepted for convenience; the stored value is a tuple so the job stays hashable.
            object.__setattr__(self, name, tuple(value))
        if not self.inputs and not self.list_files:
            raise ValueError("BatchJob needs at least one input or list file")
        if not isinstance(self.output, str) or not self.output:
            raise ValueError(f"BatchJob.output must be a non-empty path or URL, got {self.output!r}")
        if self.format not in OUTPUT_FORMATS:
            raise ValueError(f"BatchJob.format must be one of {', '.join(OUTPUT_FORMATS)}, got {self.format!r}")
        if self.model is not None and not isinstance(self.model, str):
            raise TypeError(f"BatchJob.model must be a model folder path or None, got {type(self.model).__name__}")
        for name in ("batch_size", "actors", "rows_per_file"):
            _positive_int(name, getattr(self, name))
        _positive_number("cpus_per_actor", self.cpus_per_actor, allow_zero=True)
        _positive_number("gpus_per_actor", self.gpus_per_actor, allow_zero=True)
        _positive_number("reader_cpus", self.reader_cpus, allow_zero=True)
        if not isinstance(self.image_options, ImageOptions):
            raise TypeError(f"BatchJob.image_options must be an ImageOptions, got {type(self.image_options).__name__}")
        # Imported here: the pipeline needs torch, which listing inputs or reading results do not.
        from ..pipeline.preprocess import ScaleOptions
        from ..pipeline.stages import DetectionOptions, RecognitionOptions, RelationOptions
        from ..pipeline.textlayer import TextLayerOptions

        if self.scale is not None and not isinstance(self.scale, ScaleOptions):
            raise TypeError(f"BatchJob.scale must be a ScaleOptions, got {type(self.scale).__name__}")
        if self.detection is not None and not isinstance(self.detection, DetectionOptions):
            raise TypeError(f"BatchJob.detection must be a DetectionOptions, got {type(self.detection).__name__}")
        if self.recognition is not None and not isinstance(self.recognition, RecognitionOptions):
            kind = type(self.recognition).__name__
            raise TypeError(f"BatchJob.recognition must be a RecognitionOptions, got {kind}")
        if self.relation is not None and not isinstance(self.relation, RelationOptions):
            raise TypeError(f"BatchJob.relation must be a RelationOptions, got {type(self.relation).__name__}")
        if self.text_layer is not None and not isinstance(self.text_layer, TextLayerOptions):
            kind = type(self.text_layer).__name__
            raise TypeError(f"BatchJob.text_layer must be a TextLayerOptions, got {kind}")

    @property
    def device(self) -> str:
        """Where each actor runs the model: ``"cuda"`` when it holds a GPU share, else ``"cpu"``."""
        return "cuda" if self.gpus_per_actor > 0 else "cpu"

    @property
    def threads_per_actor(self) -> int:
        """PyTorch threads of a CPU actor: its CPU reservation rounded up, at least 1."""
        return max(1, math.ceil(self.cpus_per_actor))
