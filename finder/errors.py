"""Every exception finder raises.

Each one subclasses `FinderError` AND the built-in it refines, so callers can write
`except finder.FinderError` to catch ours or `except ValueError` as they would anyway.

```
Exception
└── FinderError
    ├── InvalidArgumentError(ValueError)     a bad keyword, range or option
    │   └── InvalidRangeError                min_lr >= max_lr, non-positive steps, ...
    ├── DataError(ValueError)                unreadable data, wrong shapes or dtypes
    │   └── DatasetNotFoundError(FileNotFoundError)
    ├── ModelError(ValueError)               model not compiled, unreadable or unsafe
    │   ├── UnsafeModelError                 refused before loading (Lambda layer, ...)
    │   └── UnsupportedStrategyError         a tf.distribute strategy finder cannot drive
    ├── SchemaError(ValueError)              JSON that does not match a finder schema
    ├── TuningError(RuntimeError)            every keras-tuner trial failed
    └── MissingDependencyError(ImportError)  an optional package (mlflow, ...) is not installed

UserWarning
├── UnreliableAnswerWarning                  finder.fit trains on an answer it calls unreliable
└── ScheduleCutShortWarning                  an EarlyStopping stopped finder.fit's schedule early
```
"""

from __future__ import annotations


class FinderError(Exception):
    """Base class of every error finder raises on purpose."""


class InvalidArgumentError(FinderError, ValueError):
    """An argument has a value finder cannot use."""


class InvalidRangeError(InvalidArgumentError):
    """A learning-rate range or step count is empty or inverted."""


class DataError(FinderError, ValueError):
    """Input data cannot be read or does not fit the model."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """A dataset was asked for but no copy of it could be found."""


class ModelError(FinderError, ValueError):
    """A model cannot be used: not compiled, unreadable, or wrong shape."""


class UnsafeModelError(ModelError):
    """A model file was refused before loading because it could run code."""


class SchemaError(FinderError, ValueError):
    """A JSON document does not match the finder schema it claims."""


class TuningError(FinderError, RuntimeError):
    """A tuning search produced no usable trial."""


class MissingDependencyError(FinderError, ImportError):
    """A feature needs a package that is not installed; the message says what to install."""


class UnsupportedStrategyError(ModelError):
    """A model is distributed with a strategy (or backend) the range test cannot drive."""


class UnreliableAnswerWarning(UserWarning):
    """`finder.fit` trains on a range test whose verdict is "unreliable" (the warning names
    the reasons), or, with no bounds at all, at the optimizer's own learning rate."""


class ScheduleCutShortWarning(UserWarning):
    """An `EarlyStopping` among `finder.fit`'s callbacks stopped the fit while its schedule's
    rate was still high, before the anneal a 1cycle gets most of its result from (the warning
    says where, and the `start_from_epoch` that lets the anneal run)."""
