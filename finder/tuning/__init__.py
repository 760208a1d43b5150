"""Schedule tuning with keras-tuner inside a range test's bounds.

`tune` (in `finder.tuning.search`) is the entry point: a thin function over the local, chief
and worker paths (`finder.tuning.roles`); `space` derives the `SearchSpace` from bounds,
`hypermodel` builds and scores trials, `tuners` makes the keras-tuner tuner, `distributed`
serves the oracle and runs Ray workers, `result` is the `TuningResult` JSON document, and
`compat` holds every import of keras-tuner's private `keras_tuner.src`. `hyperparameters`
(`hp_learning_rate`, `hp_schedule`) puts the bounds into a HyperModel of your own.

Names are re-exported lazily, so that the parts without keras-tuner (`space`, `result`) import
without it: `finder run` never loads keras-tuner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from finder.lazy import lazy_exports

if TYPE_CHECKING:
    from finder.tuning.hypermodel import TrialProgress
    from finder.tuning.hyperparameters import hp_learning_rate, hp_schedule
    from finder.tuning.result import TrialRecord, TuningResult
    from finder.tuning.search import DEFAULT_RANGE_TEST, tune
    from finder.tuning.space import DEFAULT_FAMILIES, TUNABLE_FAMILIES, SearchSpace

_EXPORTS = {
    "DEFAULT_FAMILIES": "finder.tuning.space",
    "DEFAULT_RANGE_TEST": "finder.tuning.search",
    "SearchSpace": "finder.tuning.space",
    "TUNABLE_FAMILIES": "finder.tuning.space",
    "TrialProgress": "finder.tuning.hypermodel",
    "TrialRecord": "finder.tuning.result",
    "TuningResult": "finder.tuning.result",
    "hp_learning_rate": "finder.tuning.hyperparameters",
    "hp_schedule": "finder.tuning.hyperparameters",
    "tune": "finder.tuning.search",
}

__all__ = [
    "DEFAULT_FAMILIES",
    "DEFAULT_RANGE_TEST",
    "SearchSpace",
    "TUNABLE_FAMILIES",
    "TrialProgress",
    "TrialRecord",
    "TuningResult",
    "hp_learning_rate",
    "hp_schedule",
    "tune",
]


__getattr__ = lazy_exports(__name__, globals(), _EXPORTS)
