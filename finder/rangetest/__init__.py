"""The LR range test: its settings (`RangeTestConfig`), the sweep, its recorder, batches, model
state, repeats, the auto range, the reliability verdict and `RangeTestResult` (the JSON
document).

`range_test` (in `finder.rangetest.run`) is the entry point; the other modules are its parts.
Names are re-exported lazily, so that the pure-numpy parts (`repeats`, `reliability`) import
without Keras.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from finder.lazy import lazy_exports

if TYPE_CHECKING:
    from finder.rangetest.config import RangeTestConfig
    from finder.rangetest.progress import SweepProgress
    from finder.rangetest.result import RangeTestResult
    from finder.rangetest.run import range_test

_EXPORTS = {
    "RangeTestConfig": "finder.rangetest.config",
    "RangeTestResult": "finder.rangetest.result",
    "SweepProgress": "finder.rangetest.progress",
    "range_test": "finder.rangetest.run",
}

__all__ = ["RangeTestConfig", "RangeTestResult", "SweepProgress", "range_test"]


__getattr__ = lazy_exports(__name__, globals(), _EXPORTS)
