"""Keras callbacks finder ships for training runs (the range test's own recorder lives in
`finder.rangetest.recorder`).
"""

from __future__ import annotations

from typing import Any

import keras

from finder.host import variable_to_numpy
from finder.integrations.tensorboard import EventWriter


def current_learning_rate(optimizer: Any, step: int) -> float:
    """The learning rate `optimizer` applies at optimizer step `step` (float or schedule)."""
    while hasattr(optimizer, "inner_optimizer"):
        optimizer = optimizer.inner_optimizer
    learning_rate = optimizer._learning_rate
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        return float(keras.ops.convert_to_numpy(learning_rate(step)))
    if callable(learning_rate) and not isinstance(learning_rate, keras.Variable):
        return float(keras.ops.convert_to_numpy(learning_rate()))
    return float(keras.ops.convert_to_numpy(learning_rate))


class LearningRateLogger(keras.callbacks.Callback):
    """Logs the learning rate actually used, per epoch (and optionally per batch).

    At the end of every epoch `logs[key]` holds the learning rate of the epoch's LAST step, so
    it lands in `History` next to the loss; with a schedule this is the decayed value. (Keras's
    `optimizer.learning_rate` is the rate of the NEXT step; this callback evaluates the
    schedule at the step just taken.) A float learning rate is read when the epoch starts, so
    a `ReduceLROnPlateau` cut at an epoch's end shows up in the next epoch, as applied. With
    `per_batch=True`, `logs[key]` also holds the rate of each batch's step in
    `on_train_batch_end`, and `batch_learning_rates` keeps them all. With `log_dir`, the values
    are also written as TensorBoard scalars, `epoch_<key>` against the epoch and `batch_<key>`
    against the optimizer step (`finder.integrations.tensorboard.EventWriter`; needs TensorFlow
    whatever the Keras backend).

    ```python
    logger = finder.LearningRateLogger()
    history = model.fit(x, y, epochs=3, callbacks=[logger])
    history.history["learning_rate"]
    ```

    Args:
        log_dir: str or None. TensorBoard log directory. Defaults to `None`.
        per_batch: bool. Also log every batch. Defaults to `False`.
        key: str. Name of the logged value. Defaults to `"learning_rate"`.
    """

    def __init__(
        self, log_dir: str | None = None, per_batch: bool = False, key: str = "learning_rate"
    ) -> None:
        super().__init__()
        self.log_dir = log_dir
        self.per_batch = per_batch
        self.key = key
        self.batch_learning_rates: list[float] = []
        self._writer: EventWriter | None = None
        self._epoch_start_rate: float | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.log_dir is not None and self._writer is None:
            self._writer = EventWriter(self.log_dir)

    def _last_step_rate(self) -> tuple[int, float]:
        step = max(int(variable_to_numpy(self.model.optimizer.iterations)) - 1, 0)
        return step, current_learning_rate(self.model.optimizer, step)

    def _holds_schedule(self) -> bool:
        optimizer = self.model.optimizer
        while hasattr(optimizer, "inner_optimizer"):
            optimizer = optimizer.inner_optimizer
        return isinstance(optimizer._learning_rate, keras.optimizers.schedules.LearningRateSchedule)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch_start_rate = None if self._holds_schedule() else self._last_step_rate()[1]

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.per_batch:
            return
        logs = logs if logs is not None else {}
        step, rate = self._last_step_rate()
        logs[self.key] = rate
        self.batch_learning_rates.append(rate)
        self._write(f"batch_{self.key}", rate, step)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs if logs is not None else {}
        rate = self._epoch_start_rate
        if rate is None:
            rate = self._last_step_rate()[1]
        logs[self.key] = rate
        self._write(f"epoch_{self.key}", rate, epoch)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._writer is not None:
            self._writer.flush()

    def _write(self, tag: str, value: float, step: int) -> None:
        if self._writer is not None:
            self._writer.scalar(tag, value, step)
