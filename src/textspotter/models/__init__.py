"""textspotter.models: the three networks, the registry of named configurations, and checkpoint I/O.

>>> from textspotter.models import create_model, list_models
>>> "v1" in list_models()
True
>>> model = create_model("tiny-test")
>>> type(model).__name__
'OCRModel'
"""

from .detector import Detector, DetectorOutput
from .recognizer import Recognizer, RecognizerOutput
from .registry import OCRModel, create_model, get_spec, list_models, module_sizes
from .relational import Relational, RelationalOutput, relations_to_dense
from .spec import ModelSpec

__all__ = [
    "OCRModel",
    "ModelSpec",
    "create_model",
    "get_spec",
    "list_models",
    "module_sizes",
    "Detector",
    "DetectorOutput",
    "Recognizer",
    "RecognizerOutput",
    "Relational",
    "RelationalOutput",
    "relations_to_dense",
    "load_model",
    "save_model",
]


def __getattr__(name: str):  # noqa: ANN202 - lazy re-export
    # checkpoints pulls in safetensors; keep it out of `import textspotter.models` until it is used.
    if name in ("load_model", "save_model"):
        from . import checkpoints

        return getattr(checkpoints, name)
    raise AttributeError(f"module 'textspotter.models' has no attribute {name!r}")
