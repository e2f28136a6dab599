"""Training on rotated digits: the engine under ``eqcnn train`` and ``benchmarks/rotated_digits.py``.

``train(TrainConfig(model="c8", epochs=10))`` trains a named model on a named data set (MNIST-rot's
protocol rebuilt from MNIST, or the bundled digits), with checkpoints every epoch, exact resume, a
metrics CSV/JSON, learning curves, and the test accuracy at every multiple of 15 degrees.
"""

from ._checkpoint import CheckpointError
from ._config import SCHEDULES, TrainConfig
from ._loop import TrainingError, TrainResult, evaluate, train
from ._models import MODEL_NAMES, build_model

__all__ = [
    "MODEL_NAMES",
    "SCHEDULES",
    "CheckpointError",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "build_model",
    "evaluate",
    "train",
]
