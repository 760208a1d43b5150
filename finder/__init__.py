"""finder: learning-rate range test and schedule auto-tuning for Keras 3.

```python
import finder

result = finder.range_test(model, x_train, y_train, min_lr=1e-4, max_lr=10, num_steps=300)
result.bounds.max_lr, result.suggestions["valley"]
result.plot("curve.png")          # or finder.plot_range_test(result, path=...)
proposals = finder.propose_schedules(result, epochs=10, steps_per_epoch=938)
history = finder.fit(model, x_train, y_train, epochs=10)  # all of the above, then model.fit
tuning = finder.tune(build_model, x_train, y_train, validation_data=(x_val, y_val),
                     result=result, epochs=3, max_trials=10)
```

The submodules `finder.suggest` (pure numpy rules), `finder.plot`, `finder.data`, `finder.zoo`,
`finder.schedules` and `finder.tuning` hold the rest; each is an attribute of `finder` after a
plain `import finder`. Names and submodules are loaded lazily, so `import finder` (and
`finder --help`) does not load TensorFlow until a name that needs it is used.

Keras finds a saved model's custom classes (`OneCycle`, ...) only in its registry of
serializables, which a class enters when its module is imported; it never imports a package
outside Keras to look for one. So `import finder` makes sure `finder.schedules` is imported
whenever Keras is: at once when Keras is already loaded, else right after Keras's own import
finishes (a one-shot import hook, `_RegisterAfterKerasImport`). `keras.models.load_model` then
finds finder's schedules after a plain `import finder`, on any backend, and a process that never
imports Keras never pays for it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from finder.callbacks import LearningRateLogger
    from finder.errors import (
        DataError,
        DatasetNotFoundError,
        FinderError,
        InvalidArgumentError,
        InvalidRangeError,
        MissingDependencyError,
        ModelError,
        ScheduleCutShortWarning,
        SchemaError,
        TuningError,
        UnreliableAnswerWarning,
        UnsafeModelError,
        UnsupportedStrategyError,
    )
    from finder.lr_finder import LearningRateFinder
    from finder.plot import plot_range_test, plot_schedule
    from finder.propose import Plan, Proposal, propose_schedules
    from finder.rangetest import range_test
    from finder.rangetest.config import RangeTestConfig
    from finder.rangetest.progress import SweepProgress
    from finder.rangetest.result import RangeTestResult
    from finder.schedules import ScheduleSpec
    from finder.suggest import Bounds
    from finder.train import fit
    from finder.tuning import SearchSpace, TrialRecord, TuningResult, tune

_EXPORTS = {
    "Bounds": ("finder.suggest", "Bounds"),
    "DataError": ("finder.errors", "DataError"),
    "DatasetNotFoundError": ("finder.errors", "DatasetNotFoundError"),
    "FinderError": ("finder.errors", "FinderError"),
    "InvalidArgumentError": ("finder.errors", "InvalidArgumentError"),
    "InvalidRangeError": ("finder.errors", "InvalidRangeError"),
    "LearningRateFinder": ("finder.lr_finder", "LearningRateFinder"),
    "LearningRateLogger": ("finder.callbacks", "LearningRateLogger"),
    "MissingDependencyError": ("finder.errors", "MissingDependencyError"),
    "ModelError": ("finder.errors", "ModelError"),
    "Plan": ("finder.propose", "Plan"),
    "Proposal": ("finder.propose", "Proposal"),
    "RangeTestConfig": ("finder.rangetest.config", "RangeTestConfig"),
    "RangeTestResult": ("finder.rangetest.result", "RangeTestResult"),
    "ScheduleCutShortWarning": ("finder.errors", "ScheduleCutShortWarning"),
    "ScheduleSpec": ("finder.schedules", "ScheduleSpec"),
    "SchemaError": ("finder.errors", "SchemaError"),
    "SearchSpace": ("finder.tuning", "SearchSpace"),
    "SweepProgress": ("finder.rangetest.progress", "SweepProgress"),
    "TrialRecord": ("finder.tuning", "TrialRecord"),
    "TuningError": ("finder.errors", "TuningError"),
    "TuningResult": ("finder.tuning", "TuningResult"),
    "UnreliableAnswerWarning": ("finder.errors", "UnreliableAnswerWarning"),
    "UnsafeModelError": ("finder.errors", "UnsafeModelError"),
    "UnsupportedStrategyError": ("finder.errors", "UnsupportedStrategyError"),
    "fit": ("finder.train", "fit"),
    "plot_range_test": ("finder.plot", "plot_range_test"),
    "plot_schedule": ("finder.plot", "plot_schedule"),
    "propose_schedules": ("finder.propose", "propose_schedules"),
    "range_test": ("finder.rangetest", "range_test"),
    "tune": ("finder.tuning", "tune"),
}

__all__ = [
    "Bounds",
    "DataError",
    "DatasetNotFoundError",
    "FinderError",
    "InvalidArgumentError",
    "InvalidRangeError",
    "LearningRateFinder",
    "LearningRateLogger",
    "MissingDependencyError",
    "ModelError",
    "Plan",
    "Proposal",
    "RangeTestConfig",
    "RangeTestResult",
    "ScheduleCutShortWarning",
    "ScheduleSpec",
    "SchemaError",
    "SearchSpace",
    "SweepProgress",
    "TrialRecord",
    "TuningError",
    "TuningResult",
    "UnreliableAnswerWarning",
    "UnsafeModelError",
    "UnsupportedStrategyError",
    "fit",
    "plot_range_test",
    "plot_schedule",
    "propose_schedules",
    "range_test",
    "tune",
]


# Submodules reachable as attributes after `import finder` (`finder.schedules.ScheduleSpec`).
SUBMODULES = (
    "callbacks",
    "cli",
    "data",
    "defaults",
    "document",
    "errors",
    "families",
    "integrations",
    "jobs",
    "model_files",
    "npz",
    "plot",
    "propose",
    "rangetest",
    "schedules",
    "suggest",
    "train",
    "tuning",
    "zoo",
)
# Importing this package registers every Keras serializable finder defines.
SERIALIZABLES = "finder.schedules"


def __getattr__(name: str) -> Any:
    if name in SUBMODULES:
        return import_module(f"finder.{name}")
    if name not in _EXPORTS:
        raise AttributeError(f"module 'finder' has no attribute {name!r}")
    module_name, attribute = _EXPORTS[name]
    value = getattr(import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(SUBMODULES))


class _RegisterAfterKerasImport(importlib.abc.MetaPathFinder):
    """Imports `SERIALIZABLES` as soon as the top-level `keras` module has finished loading.

    It answers no import itself: for `keras` it takes the spec the other finders give, and
    wraps that module's own loader's `exec_module`. It then removes itself, so it runs once.
    When the first import of Keras comes from inside `finder.schedules` (say
    `import finder.schedules` as the first import), `import_module` returns the package
    already being imported, which registers its classes itself as it completes; the
    schedules depend only on modules below them (errors, families), so no module they need
    can be half-imported at that moment.
    """

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            load(module)
            import_module(SERIALIZABLES)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _register_with_keras() -> None:
    """Register finder's serializables with Keras now, or as soon as Keras is imported."""
    keras = sys.modules.get("keras")
    if keras is None:
        if not any(isinstance(f, _RegisterAfterKerasImport) for f in sys.meta_path):
            sys.meta_path.insert(0, _RegisterAfterKerasImport())
    elif not getattr(keras.__spec__, "_initializing", False):
        # (A Keras still loading is not ours to import from; it happens only when Keras's
        # own import chain imports finder.)
        import_module(SERIALIZABLES)


_register_with_keras()
