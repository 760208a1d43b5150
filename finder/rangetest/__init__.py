"""The LR range test: the sweep, its recorder, batches, model state, repeats, the auto range,
the reliability verdict and `RangeTestResult` (the JSON document).

`range_test` (in `finder.rangetest.run`) is the entry point; the other modules are its parts.
"""

from finder.rangetest.recorder import SweepProgress
from finder.rangetest.result import RangeTestResult
from finder.rangetest.run import range_test

__all__ = ["RangeTestResult", "SweepProgress", "range_test"]
