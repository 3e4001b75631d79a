"""textspotter.train: joint training of the detector, recognizer and relational model (``docs/training.md``).

>>> from textspotter.train import resolve_config, train
>>> config = resolve_config("configs/small-en.yaml", overrides=["train.steps=100"])   # doctest: +SKIP
>>> result = train(config)                                                            # doctest: +SKIP
"""

from .config import TrainConfig, resolve_config
from .loop import Trainer, TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "Trainer", "resolve_config", "train"]
