"""Range-test defaults that light code (the CLI's options, the service's request models) reads
without importing Keras. `finder.auto_range` documents what they mean."""

from __future__ import annotations

from typing import Any

# `min_lr`, `max_lr` and `num_steps` take this value to let the range test find them.
AUTO = "auto"
# Optimizer steps of an auto range test, all sweeps together, when the caller gives none.
DEFAULT_BUDGET = 1500


def is_auto(min_lr: Any, max_lr: Any, num_steps: Any) -> bool:
    """Whether a range test with these settings finds (part of) its range itself."""
    return AUTO in (min_lr, max_lr, num_steps)
