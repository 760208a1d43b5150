"""Range-test defaults that light code (the CLI's options, the service's request models) reads
without importing Keras. `finder.auto_range` documents what they mean."""

from __future__ import annotations

# `min_lr`, `max_lr` and `num_steps` take this value to let the range test find them.
AUTO = "auto"
# Optimizer steps of an auto range test, all sweeps together, when the caller gives none.
DEFAULT_BUDGET = 1500
