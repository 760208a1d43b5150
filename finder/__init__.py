"""finder: learning-rate range test and schedule auto-tuning for Keras 3.

```python
import finder

result = finder.range_test(model, x_train, y_train, min_lr=1e-4, max_lr=10, num_steps=300)
result.bounds.max_lr, result.suggestions["valley"]
result.plot("curve.png")          # or finder.plot_range_test(result, path=...)
proposals = finder.propose_schedules(result, epochs=10, steps_per_epoch=938)
tuning = finder.tune(build_model, x_train, y_train, validation_data=(x_val, y_val),
                     result=result, epochs=3, max_trials=10)
```

The submodules `finder.suggest` (pure numpy rules), `finder.plot`, `finder.data`, `finder.zoo`,
`finder.schedules` and `finder.tuning` hold the rest. Names are re-exported lazily, so
`import finder` (and `finder --help`) does not load TensorFlow until a name that needs it is
used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from finder.callbacks import LearningRateLogger
    from finder.errors import (
        DataError,
        DatasetNotFoundError,
        FinderError,
        InvalidArgumentError,
        InvalidRangeError,
        ModelError,
        SchemaError,
        TuningError,
        UnsafeModelError,
        UnsupportedStrategyError,
    )
    from finder.plot import plot_range_test, plot_schedule
    from finder.propose import Proposal, propose_schedules
    from finder.rangetest import range_test
    from finder.rangetest.recorder import SweepProgress
    from finder.rangetest.result import RangeTestResult
    from finder.schedules import ScheduleSpec
    from finder.suggest import Bounds
    from finder.tuning import SearchSpace, TrialRecord, TuningResult, tune

_EXPORTS = {
    "Bounds": ("finder.suggest", "Bounds"),
    "DataError": ("finder.errors", "DataError"),
    "DatasetNotFoundError": ("finder.errors", "DatasetNotFoundError"),
    "FinderError": ("finder.errors", "FinderError"),
    "InvalidArgumentError": ("finder.errors", "InvalidArgumentError"),
    "InvalidRangeError": ("finder.errors", "InvalidRangeError"),
    "LearningRateLogger": ("finder.callbacks", "LearningRateLogger"),
    "ModelError": ("finder.errors", "ModelError"),
    "Proposal": ("finder.propose", "Proposal"),
    "RangeTestResult": ("finder.rangetest.result", "RangeTestResult"),
    "ScheduleSpec": ("finder.schedules", "ScheduleSpec"),
    "SchemaError": ("finder.errors", "SchemaError"),
    "SearchSpace": ("finder.tuning", "SearchSpace"),
    "SweepProgress": ("finder.rangetest.recorder", "SweepProgress"),
    "TrialRecord": ("finder.tuning", "TrialRecord"),
    "TuningError": ("finder.errors", "TuningError"),
    "TuningResult": ("finder.tuning", "TuningResult"),
    "UnsafeModelError": ("finder.errors", "UnsafeModelError"),
    "UnsupportedStrategyError": ("finder.errors", "UnsupportedStrategyError"),
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
    "LearningRateLogger",
    "ModelError",
    "Proposal",
    "RangeTestResult",
    "ScheduleSpec",
    "SchemaError",
    "SearchSpace",
    "SweepProgress",
    "TrialRecord",
    "TuningError",
    "TuningResult",
    "UnsafeModelError",
    "UnsupportedStrategyError",
    "plot_range_test",
    "plot_schedule",
    "propose_schedules",
    "range_test",
    "tune",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'finder' has no attribute {name!r}")
    module_name, attribute = _EXPORTS[name]
    value = getattr(import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
