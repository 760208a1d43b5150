"""finder: learning-rate range test and schedule auto-tuning for Keras 3.

```python
import finder

result = finder.range_test(model, x_train, y_train, min_lr=1e-4, max_lr=10, num_steps=300)
result.bounds.max_lr, result.suggestions["valley"]
result.plot("curve.png")          # or finder.plot_range_test(result, path=...)
```

The submodules `finder.suggest` (pure numpy rules), `finder.plot`, `finder.data`, `finder.zoo`
and `finder.schedules` hold the rest. Names are re-exported lazily, so `import finder` (and
`finder --help`) does not load TensorFlow until a name that needs it is used.
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
    )
    from finder.plot import plot_range_test, plot_schedule
    from finder.propose import Proposal, propose_schedules
    from finder.rangetest import range_test
    from finder.recorder import SweepProgress
    from finder.result import RangeTestResult
    from finder.suggest import Bounds

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
    "RangeTestResult": ("finder.result", "RangeTestResult"),
    "SchemaError": ("finder.errors", "SchemaError"),
    "SweepProgress": ("finder.recorder", "SweepProgress"),
    "TuningError": ("finder.errors", "TuningError"),
    "UnsafeModelError": ("finder.errors", "UnsafeModelError"),
    "plot_range_test": ("finder.plot", "plot_range_test"),
    "plot_schedule": ("finder.plot", "plot_schedule"),
    "propose_schedules": ("finder.propose", "propose_schedules"),
    "range_test": ("finder.rangetest", "range_test"),
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
    "SchemaError",
    "SweepProgress",
    "TuningError",
    "UnsafeModelError",
    "plot_range_test",
    "plot_schedule",
    "propose_schedules",
    "range_test",
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
