"""TrainConfig: everything a training run depends on, checked when it is made."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from .._checks import check_choice, check_int, check_number, check_probability

__all__ = ["DATASETS", "SCHEDULES", "TrainConfig"]

SCHEDULES = ("cosine", "step", "constant")
DATASETS = ("mnist-rot", "digits")


@dataclass(frozen=True)
class TrainConfig:
    """A training run (the defaults are the seed's bag of tricks for MNIST-rot).

    Attributes:
        model: a name of :data:`eqcnn.training.MODEL_NAMES` (``cnn``, ``c8``, ``c16``, ``d16-c16``, ``so2``).
        data: ``"mnist-rot"`` (``eqcnn.datasets.load_mnist_rot``: 10,000 training, 2,000
            validation, 50,000 test digits) or ``"digits"`` (the bundled 4,000 / 1,000, randomly rotated).
        epochs, batch_size: the schedule's length and the batch (``lr`` is for ``base_batch``:
            the learning rate scales linearly with ``batch_size / base_batch``).
        lr, weight_decay: AdamW's.
        schedule: ``"cosine"`` (to zero), ``"step"`` (x0.1 at 50% and 75%) or ``"constant"``, after
            ``warmup_epochs`` of linear warm-up.
        label_smoothing: in [0, 1).  mixup: the Beta(a, a) parameter (0: off).
        augment_rotation: turn each training digit by a random angle (bicubic) every epoch.
        amp: bf16 autocast on a GPU (ignored on the CPU).
        width: multiplier on the model's widths.  match: how widths are matched to the plain CNN
            (``"params"``: about its parameter count).
        seed: seeds the model, the batches and the augmentation: a CPU run repeats exactly.
        limit_train, limit_test: use the first n digits of a split (0: all).
        angle_step: the test set is also evaluated turned by every multiple of this many degrees.
        angle_samples: how many test digits that evaluation uses (0: all).
        device: ``"auto"`` (a GPU when present), ``"cpu"`` or ``"cuda"``.
    """

    model: str = "c8"
    data: str = "mnist-rot"
    epochs: int = 30
    batch_size: int = 64
    base_batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    mixup: float = 0.0
    augment_rotation: bool = False
    amp: bool = True
    width: float = 1.0
    match: str = "params"
    seed: int = 0
    limit_train: int = 0
    limit_test: int = 0
    angle_step: float = 15.0
    angle_samples: int = 2000
    device: str = "auto"

    def __post_init__(self) -> None:
        from ._models import MODEL_NAMES

        check_choice("model", self.model, MODEL_NAMES)
        check_choice("data", self.data, DATASETS)
        check_int("epochs", self.epochs, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("base_batch", self.base_batch, minimum=1)
        for name in ("lr", "weight_decay", "warmup_epochs", "mixup", "width", "angle_step"):
            check_number(name, getattr(self, name), minimum=0)
        if self.lr <= 0 or self.width <= 0 or self.angle_step <= 0:
            bad = next(n for n in ("lr", "width", "angle_step") if getattr(self, n) <= 0)
            raise ValueError(f"`{bad}` must be > 0, got {getattr(self, bad)!r}")
        check_choice("schedule", self.schedule, SCHEDULES)
        check_probability("label_smoothing", self.label_smoothing)
        if self.label_smoothing >= 1:
            raise ValueError(f"`label_smoothing` must be below 1, got {self.label_smoothing!r}")
        check_choice("match", self.match, ("fields", "channels", "params"))
        check_int("seed", self.seed)
        for name in ("limit_train", "limit_test", "angle_samples"):
            check_int(name, getattr(self, name), minimum=0)
        check_choice("device", self.device, ("auto", "cpu", "cuda"))
        if not math.isfinite(self.lr):
            raise ValueError(f"`lr` must be finite, got {self.lr!r}")

    @property
    def effective_lr(self) -> float:
        """``lr`` scaled linearly with the batch: ``lr * batch_size / base_batch``."""
        return self.lr * self.batch_size / self.base_batch

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def protocol(self) -> dict[str, Any]:
        """What a resumed run must share with its checkpoint: everything but the device (the learning-rate
        schedule depends on the number of epochs, so that too)."""
        d = self.to_dict()
        d.pop("device")
        return d
