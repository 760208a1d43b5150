"""The benchmark suite's tasks: model, optimizer family, data and training budget, in one place.

Every task trains in about a minute or less on 2 CPU cores with TensorFlow (`fashion_cnn_sgd`,
the seed experiment, takes 70-130 s) and uses data that ships with a package, so benchmarks
and tests run offline: Fashion-MNIST from the Debian package `dataset-fashion-mnist`
(`/usr/share/datasets/fashion-mnist`) and scikit-learn's bundled data sets. Subsets are fixed,
seeded, stratified selections (`task_data.DATA_SEED`).

task                | model              | data: train/val   | optimizer (default LR) | epochs/batch
------------------- | ------------------ | ----------------- | ---------------------- | ------------
`fashion_cnn_sgd`   | zoo `fashion_cnn`  | Fashion 60k/10k   | SGD (0.01)             | 10/64
`mlp_adam`          | zoo `mlp`          | Fashion 20k/10k   | Adam (0.001)           | 10/64
`resnet_bn_sgdm`    | ResNet + BatchNorm | Fashion 12k/2k    | SGD m0.9 wd5e-4 (0.01) | 8/128
`transformer_adamw` | patch transformer  | Fashion 12k/2k    | AdamW (0.001)          | 10/128
`diabetes_mse_adam` | MLP regressor      | diabetes 353/89   | Adam (0.001)           | 40/32
`digits_rmsprop`    | MLP classifier     | digits 1437/360   | RMSprop (0.001)        | 20/32
`finetune_sgdm`     | pretrained CNN     | Fashion 5-9 5k/5k | SGD m0.9 (0.01)        | 10/64

"Fashion" is Fashion-MNIST; validation images come from its official test set, and subsets are
balanced across classes. diabetes and digits are 80/20 splits (digits stratified).

Why each is there:

- `fashion_cnn_sgd`: the seed experiment (TensorFlow's CLR tutorial), the one
  every earlier figure of finder was measured on.
- `mlp_adam`: the adaptive optimizer most users start with, on a model without convolutions.
- `resnet_bn_sgdm`: BatchNorm and residual connections with momentum and weight decay, the
  classic setting of super-convergence, where the best 1cycle peak sits above the range test's
  turn.
- `transformer_adamw`: attention and LayerNorm with AdamW, where warm-up matters.
- `diabetes_mse_adam`: regression (lower is better) on 442 samples: few steps, noisy curves.
- `digits_rmsprop`: a small tabular-like classifier and a third adaptive optimizer family.
- `finetune_sgdm`: transfer learning: the base, pretrained on classes 0-4 (cached, see
  `task_models.load_pretrained_base`), is frozen for the first third of training and then
  thawed by `UnfreezeAt`, so one LR (or schedule) must serve a head trained alone, then the
  whole net.

Import it with `bench/` on `sys.path` (`python bench/<script>.py`; the tests get it from
pytest's `pythonpath`): `from tasks import TASKS, train`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import task_models
from task_data import load_diabetes, load_digits, load_fashion, load_fashion_subset

import finder
from finder import zoo
from finder.data import Dataset
from finder.propose import Plan

# A run whose final validation accuracy is at most this multiple of chance learned nothing.
CHANCE_MARGIN = 1.5
OptimizerFactory = Callable[[Any], keras.optimizers.Optimizer]


class UnfreezeAt(keras.callbacks.Callback):
    """Thaws the layer `layer_name` (frozen by the model's builder) at the start of `epoch`.

    Keras reads `trainable` when it traces the train step, and `fit()` traces once, so a
    change during `fit()` needs `model.make_train_function(force=True)` (as `Layer.trainable`'s
    docstring says). The optimizer must also know the thawed weights already: a Keras 3
    optimizer fixes its variable list when first built and raises "Unknown variable" for any
    other, so `Task.compile` builds it over the thawed weights first (`build_optimizer_thawed`).
    Recompiling with a new optimizer, Keras's advice between two `fit()` calls, would reset the
    step count (schedules restart) and the momentum of the head.

    Args:
        epoch: int. The 0-based epoch at whose start the layer becomes trainable.
        layer_name: str. The name of the frozen layer (a nested model) to thaw.
    """

    def __init__(self, epoch: int, layer_name: str) -> None:
        super().__init__()
        if epoch < 0:
            raise ValueError(f"Argument `epoch` must be >= 0. Received: epoch={epoch}")
        self.epoch = epoch
        self.layer_name = layer_name

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        layer = self.model.get_layer(self.layer_name)
        if epoch < self.epoch or layer.trainable:
            return
        layer.trainable = True
        self.model.make_train_function(force=True)


def build_optimizer_thawed(
    model: keras.Model, optimizer: keras.optimizers.Optimizer, layer_name: str
) -> None:
    """Build `optimizer` over the weights `model` trains once `layer_name` is thawed."""
    layer = model.get_layer(layer_name)
    layer.trainable = True
    try:
        optimizer.build(model.trainable_variables)
    finally:
        layer.trainable = False


@dataclass(frozen=True)
class Task:
    """One benchmark task: how to build, compile, feed and train a model, and how to score it.

    Args:
        name: str. The registry key.
        description: str. One line for reports.
        build_model: callable `seed -> keras.Model`, UNCOMPILED, weights drawn from `seed`.
        make_optimizer: callable `learning_rate -> Optimizer` of the task's family; the rate
            may be a float or a `LearningRateSchedule`.
        default_lr: float. The optimizer's Keras default learning rate.
        loss: str. The Keras loss name.
        metric: str. The Keras metric scored on the validation data (`"accuracy"`, `"mse"`).
        higher_is_better: bool. Whether a larger `metric` is better.
        epochs: int. The training budget.
        batch_size: int.
        adaptive: bool. Whether the family is Adam-like (Adam, AdamW, RMSprop), for which
            `ScheduleFreeAdamW` is a fair baseline.
        load_data: callable `() -> Dataset`, cached: repeated calls return the same arrays.
        frozen_layer: str or None. A layer that `build_model` freezes and that
            `callbacks(plan)` thaws after the first third of the epochs. Defaults to `None`.
    """

    name: str
    description: str
    build_model: Callable[[int], keras.Model]
    make_optimizer: OptimizerFactory
    default_lr: float
    loss: str
    metric: str
    higher_is_better: bool
    epochs: int
    batch_size: int
    adaptive: bool
    load_data: Callable[[], Dataset]
    frozen_layer: str | None = None

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.load_data().x_train) / self.batch_size)

    @property
    def plan(self) -> Plan:
        return Plan(epochs=self.epochs, steps_per_epoch=self.steps_per_epoch)

    @property
    def chance_score(self) -> float:
        """The score of a model that learned nothing: 1 / classes, or the validation MSE of
        predicting the training mean."""
        data = self.load_data()
        assert data.y_val is not None
        if self.metric == "accuracy":
            return 1.0 / len(np.unique(data.y_train))
        return float(np.mean((data.y_val - data.y_train.mean()) ** 2))

    def compile(self, model: keras.Model, optimizer: keras.optimizers.Optimizer) -> None:
        """Compile `model` with `optimizer` and the task's loss and metric."""
        if self.frozen_layer is not None:
            build_optimizer_thawed(model, optimizer, self.frozen_layer)
        model.compile(optimizer=optimizer, loss=self.loss, metrics=[self.metric])

    def callbacks(self, plan: Plan) -> list[keras.callbacks.Callback]:
        """Callbacks the task itself needs during a run of `plan` (empty for most tasks)."""
        if self.frozen_layer is None:
            return []
        return [UnfreezeAt(max(1, plan.epochs // 3), self.frozen_layer)]


def _seeded(builder: Callable[..., keras.Model], seed: int, **kwargs: Any) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return builder(**kwargs)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


# --- the registry ----------------------------------------------------------------------------

_CLASSIFY = {"loss": "sparse_categorical_crossentropy", "metric": "accuracy"}
_ADAM_LIKE = {"default_lr": 1e-3, "adaptive": True}
_SGD_LIKE = {"default_lr": 1e-2, "adaptive": False}

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            name="fashion_cnn_sgd",
            description="fashion_cnn, plain SGD, full Fashion-MNIST (the seed experiment)",
            build_model=functools.partial(_seeded, zoo.fashion_cnn),
            make_optimizer=keras.optimizers.SGD,
            higher_is_better=True,
            epochs=10,
            batch_size=64,
            load_data=load_fashion,
            **_CLASSIFY,
            **_SGD_LIKE,
        ),
        Task(
            name="mlp_adam",
            description="mlp, Adam, Fashion-MNIST 20k",
            build_model=functools.partial(_seeded, zoo.mlp),
            make_optimizer=keras.optimizers.Adam,
            higher_is_better=True,
            epochs=10,
            batch_size=64,
            load_data=functools.partial(load_fashion_subset, 2000, None),
            **_CLASSIFY,
            **_ADAM_LIKE,
        ),
        Task(
            name="resnet_bn_sgdm",
            description="small ResNet with BatchNorm, SGD momentum 0.9 + weight decay, "
            "Fashion-MNIST 12k",
            build_model=functools.partial(_seeded, task_models.residual_cnn),
            make_optimizer=functools.partial(keras.optimizers.SGD, momentum=0.9, weight_decay=5e-4),
            higher_is_better=True,
            epochs=8,
            batch_size=128,
            load_data=functools.partial(load_fashion_subset, 1200, 200),
            **_CLASSIFY,
            **_SGD_LIKE,
        ),
        Task(
            name="transformer_adamw",
            description="2-block patch transformer, AdamW, Fashion-MNIST 12k",
            build_model=functools.partial(_seeded, task_models.patch_transformer),
            make_optimizer=keras.optimizers.AdamW,
            higher_is_better=True,
            epochs=10,
            batch_size=128,
            load_data=functools.partial(load_fashion_subset, 1200, 200),
            **_CLASSIFY,
            **_ADAM_LIKE,
        ),
        Task(
            name="diabetes_mse_adam",
            description="MLP regressor (32), Adam, scikit-learn diabetes, validation MSE",
            build_model=functools.partial(
                _seeded,
                task_models.dense_net,
                input_dim=10,
                units=(32,),
                outputs=1,
                activation=None,
                name="diabetes_mlp",
            ),
            make_optimizer=keras.optimizers.Adam,
            loss="mse",
            metric="mse",
            higher_is_better=False,
            epochs=40,
            batch_size=32,
            load_data=load_diabetes,
            **_ADAM_LIKE,
        ),
        Task(
            name="digits_rmsprop",
            description="MLP classifier (128), RMSprop, scikit-learn digits",
            build_model=functools.partial(
                _seeded,
                task_models.dense_net,
                input_dim=64,
                units=(128,),
                outputs=10,
                activation="softmax",
                name="digits_mlp",
            ),
            make_optimizer=keras.optimizers.RMSprop,
            higher_is_better=True,
            epochs=20,
            batch_size=32,
            load_data=load_digits,
            **_CLASSIFY,
            **_ADAM_LIKE,
        ),
        Task(
            name="finetune_sgdm",
            description="CNN pretrained on Fashion-MNIST classes 0-4, fine-tuned on 5-9 "
            "(base frozen for the first third), SGD momentum 0.9",
            build_model=task_models.finetune_model,
            make_optimizer=functools.partial(keras.optimizers.SGD, momentum=0.9),
            higher_is_better=True,
            epochs=10,
            batch_size=64,
            load_data=functools.partial(
                load_fashion_subset, 1000, None, task_models.FINETUNE_CLASSES
            ),
            frozen_layer="pretrained_base",
            **_CLASSIFY,
            **_SGD_LIKE,
        ),
    )
}


# The optimizers Keras ships beyond the seven tasks' families, each with its Keras default
# learning rate, as variants of two hosts of different architecture and data: the digits task
# (an MLP on 8x8 digits, the suite's cheapest: ~5 s a training run) and a small CNN on a
# 3,000-image Fashion-MNIST subset (~10 s a run). Their update rules scale the LR differently:
# Lion's sign update moves every weight by the LR itself, Adafactor's steps are relative to the
# weights' scale, Muon orthogonalises the update, Adagrad's and Adadelta's steps shrink with the
# accumulated squared gradients, Ftrl's regularised leader step follows no curvature at all,
# and ScheduleFreeAdamW trains at an interpolation of its Adam step with the running average of
# its iterates (the suite's baseline beside finder, here as the user's own optimizer). A
# reading of an optimizer's edge counts as validated only when it holds on both hosts.
OPTIMIZER_VARIANTS = (
    "Lion", "Lamb", "Adafactor", "Nadam", "Adamax", "Adagrad", "Adadelta", "Ftrl", "Muon",
    "ScheduleFreeAdamW",
)  # fmt: skip


# Keras's Adafactor, with its default epsilon_1=1e-30, divides 0 by 0 in float32 where a kernel
# entry gets no gradient along both its row and its column (digits' border pixels are zero across
# a batch, and a ReLU unit can be inactive for all of it): the first kernel goes NaN at the first
# step at every LR, so every schedule trains to chance. The variant measures Adafactor's
# learning rate with epsilon_1=1e-20, which avoids it; the default case is one of the verdict's
# controls (`bench/verdict.py`), where the range test must name the NaN weights.
OPTIMIZER_SETTINGS: dict[str, dict[str, Any]] = {"Adafactor": {"epsilon_1": 1e-20}}

# The second host: not a task of its own (its optimizer is each variant's).
CNN_HOST = Task(
    name="cnn",
    description="small CNN (conv 16, conv 32, dense 64), {optimizer}, Fashion-MNIST 3k",
    build_model=functools.partial(_seeded, task_models.small_cnn),
    make_optimizer=keras.optimizers.Adam,
    higher_is_better=True,
    epochs=8,
    batch_size=64,
    load_data=functools.partial(load_fashion_subset, 300, 100),
    **_CLASSIFY,
    **_ADAM_LIKE,
)
# The same net over twice the epochs: a plan (752 steps) where the range test's 100-step floor
# is a seventh of the run, not a quarter, as on the suite's other tasks.
CNN_LONG_HOST = dataclasses.replace(CNN_HOST, name="cnn16", epochs=16)
DIGITS_HOST = dataclasses.replace(
    TASKS["digits_rmsprop"],
    name="digits",
    description="MLP classifier (128), {optimizer}, scikit-learn digits",
)
# The digits host over 8 epochs (360 steps): a second short plan beside the CNN's 376 steps, on
# another architecture and data, so that what a short plan changes is not read off one net.
DIGITS_SHORT_HOST = dataclasses.replace(DIGITS_HOST, name="digits8", epochs=8)


def _optimizer_variant(host: Task, optimizer: str) -> Task:
    factory = functools.partial(
        getattr(keras.optimizers, optimizer), **OPTIMIZER_SETTINGS.get(optimizer, {})
    )
    settings = "".join(f" ({k}={v:g})" for k, v in OPTIMIZER_SETTINGS.get(optimizer, {}).items())
    return dataclasses.replace(
        host,
        name=f"{host.name}_{optimizer.lower()}",
        description=host.description.format(optimizer=optimizer + settings),
        make_optimizer=factory,
        default_lr=float(factory().learning_rate),
        adaptive=optimizer != "SGD",
    )


# The CNN hosts and the short digits host run the suite's four families too, as references for
# the variants beside them.
SUITE_FAMILIES = ("SGD", "Adam", "AdamW", "RMSprop")
TASKS.update(
    (variant.name, variant)
    for host, optimizers in (
        (DIGITS_HOST, OPTIMIZER_VARIANTS),
        (CNN_HOST, SUITE_FAMILIES + OPTIMIZER_VARIANTS),
        (CNN_LONG_HOST, SUITE_FAMILIES + OPTIMIZER_VARIANTS),
        (DIGITS_SHORT_HOST, SUITE_FAMILIES + OPTIMIZER_VARIANTS),
    )
    for variant in (_optimizer_variant(host, o) for o in optimizers)
)


def train(
    task: Task,
    learning_rate: Any,
    seed: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    optimizer: OptimizerFactory | None = None,
    before: Sequence[keras.callbacks.Callback] = (),
    fit: Callable[..., keras.callbacks.History] | None = None,
) -> dict[str, Any]:
    """One full training run of `task`, scored on its validation data.

    The model is built with `seed`, compiled with `optimizer(learning_rate)` (default: the
    task's own family) and fitted for `task.epochs` with the batch order drawn from `seed`.
    `TerminateOnNaN` ends a run whose loss is not finite.

    Args:
        task: Task.
        learning_rate: float or `LearningRateSchedule`.
        seed: int. Seeds the weights and the batch order.
        callbacks: more Keras callbacks (e.g. a schedule's). Defaults to `()`.
        optimizer: callable `learning_rate -> Optimizer` used instead of
            `task.make_optimizer` (e.g. `keras.optimizers.ScheduleFreeAdamW`).
            Defaults to `None`.
        before: callbacks listed before the task's own (e.g. `finder.LearningRateFinder`).
            Defaults to `()`.
        fit: callable `(model, x, y, **fit_kwargs) -> History` called instead of `model.fit`
            with the same arguments (e.g. `finder.fit`). Defaults to `None`.

    Returns:
        A dict: `score` (validation `task.metric` after the last epoch run, `None` when not
        finite), `scores_per_epoch`, `diverged` (stopped on a non-finite loss, or the score is
        not finite or no better than chance, see `Task.chance_score` and `CHANCE_MARGIN`),
        `train_steps` (optimizer steps taken) and `wall_s` (seconds in `fit`).
    """
    data = task.load_data()
    # Many runs share one process in a benchmark: drop the previous runs' graphs and names.
    keras.backend.clear_session()
    model = task.build_model(seed)
    task.compile(model, (optimizer or task.make_optimizer)(learning_rate))
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    history = (fit or type(model).fit)(
        model,
        data.x_train,
        data.y_train,
        batch_size=task.batch_size,
        epochs=task.epochs,
        validation_data=(data.x_val, data.y_val),
        shuffle=True,
        verbose=0,
        callbacks=[
            *before,
            keras.callbacks.TerminateOnNaN(),
            *task.callbacks(task.plan),
            *callbacks,
        ],
    )
    wall_s = time.perf_counter() - start
    scores = [_finite(v) for v in history.history[f"val_{task.metric}"]]
    losses = history.history["loss"]
    score = scores[-1]
    chance = task.chance_score
    learned = score is not None and (
        score > CHANCE_MARGIN * chance if task.higher_is_better else score < chance
    )
    return {
        "score": score,
        "scores_per_epoch": scores,
        "diverged": len(losses) < task.epochs or not math.isfinite(losses[-1]) or not learned,
        "train_steps": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "wall_s": round(wall_s, 2),
    }


def auto_range_test(
    task: Task, seed: int, *, order_seed: int | None = None, budget: int | None = None
) -> Any:
    """finder's auto range test as a user would run it before training `task` with `seed`:
    the model built with `seed`, the task's optimizer at its default LR, no range arguments,
    the task's plan as `plan_steps`, and its validation data (which the verdict reads).
    Returns the `RangeTestResult`.

    `order_seed` gives the test's batch order a seed of its own (default: `seed`), and
    `budget` an explicit step budget (default: finder's), for `bench/stability_sources.py`."""
    return range_test(
        task,
        seed,
        seed=seed if order_seed is None else order_seed,
        plan_steps=task.plan.total_steps,
        budget=budget,
    )


def range_test(task: Task, model_seed: int, /, **options: Any) -> Any:
    """`finder.range_test` on `task`'s model built with `model_seed`, its optimizer at its
    default LR, at its batch size, on its training data with its validation data; `options` go
    to `finder.range_test` (the batch order's `seed` defaults to `model_seed`)."""
    data = task.load_data()
    keras.backend.clear_session()
    model = task.build_model(model_seed)
    task.compile(model, task.make_optimizer(task.default_lr))
    options.setdefault("seed", model_seed)
    return finder.range_test(
        model,
        data.x_train,
        data.y_train,
        batch_size=task.batch_size,
        validation_data=(data.x_val, data.y_val),
        **options,
    )
