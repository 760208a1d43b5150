"""The warning when a user's `EarlyStopping` cuts finder's schedule before it has annealed.

Why: a 1cycle (and a cosine or warmup-stable-decay schedule) trains at high rates through the
middle of the plan, where the validation loss often stalls or rises, and gets most of its
result from the anneal at the end, where the rate falls by orders of magnitude (Smith, 2018,
"A disciplined approach to neural network hyper-parameters"; Smith & Topin, 2019,
"Super-convergence"). `EarlyStopping` with a patience of a few epochs reads that middle as a
plateau and stops the fit there, with the rate still near its peak: on scikit-learn's digits
(an MLP, Adam, a 25-epoch plan), `patience=2` with `restore_best_weights` stopped `finder.fit`
within the first third of its plan and ended below the whole plan's validation accuracy, on
both seeds tried. Keras's own remedy is `EarlyStopping(start_from_epoch=...)`, which leaves the
first epochs unmonitored.

What: after the fit, where an `EarlyStopping` among the user's callbacks stopped it before its
last epoch with the installed schedule's rate still above `HIGH` times its peak (and due to
anneal below that by the plan's end), a `ScheduleCutShortWarning` says where it stopped, the
rate there against the peak, and the first epoch that ends at or below that share, to pass as
`start_from_epoch` (an `EarlyStopping` stops at the end of an epoch it monitors). A tenth of
the peak, an order of magnitude down, is where the anneal turns into its last, low-rate phase
(on a 1cycle's cosine anneal, the last fifth): a stop there keeps what the anneal gives, and a
run that follows the advice is not warned again. The fit itself is the user's: finder changes
neither their callbacks nor the run.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import keras
import numpy as np

from finder.errors import ScheduleCutShortWarning
from finder.host import innermost_optimizer, micro_batch_count

# A stop with the rate above this share of the schedule's peak is warned about.
HIGH = 0.1
# The schedule is sampled at this many steps to find its peak.
PEAK_SAMPLES = 512


def warn_if_cut_short(
    history: keras.callbacks.History,
    model: keras.Model,
    callbacks: Sequence[keras.callbacks.Callback],
    epochs: int,
    caller: str,
) -> None:
    """Warn (`ScheduleCutShortWarning`) where an `EarlyStopping` in `callbacks` stopped the
    fit of `history` before epoch `epochs` with the optimizer's schedule still above `HIGH`
    times its peak (module docstring)."""
    stopped = any(
        isinstance(c, keras.callbacks.EarlyStopping) and c.stopped_epoch > 0 for c in callbacks
    )
    if not stopped or not history.epoch:
        return
    last = int(history.epoch[-1]) + 1  # epochs count from 0; the stop came after this one
    schedule = innermost_optimizer(model.optimizer)._learning_rate
    steps_per_epoch = history.params.get("steps")  # None for data of unknown length
    scheduled = isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule)
    if last >= epochs or not scheduled or not steps_per_epoch:
        return
    now = micro_batch_count(model.optimizer)
    end = now + (epochs - last) * steps_per_epoch

    def rate(step: float) -> float:
        return float(keras.ops.convert_to_numpy(schedule(np.int64(step))))

    peak = max(rate(s) for s in np.linspace(0, end, PEAK_SAMPLES).round())
    at_stop, at_end = rate(now), rate(end)
    if at_stop <= HIGH * peak or at_end > HIGH * peak:  # the stop was low, or no anneal to cut
        return
    message = (
        f"{caller}: EarlyStopping stopped the fit after epoch {last} of {epochs}, with the "
        f"learning rate at {at_stop:.3g} ({at_stop / peak:.0%} of the schedule's peak, "
        f"{peak:.3g}), where it was to anneal to {at_end:.3g} by the last epoch. Under a "
        "schedule that anneals, the validation loss often stalls or rises while the rate is "
        "high and falls most in the anneal, which the stop cut off. "
    )
    # The first epoch that ends at or below HIGH times the peak (the plan's end always does).
    first = next(
        epoch
        for epoch in range(last, epochs)
        if rate(now + (epoch + 1 - last) * steps_per_epoch) <= HIGH * peak
    )
    if first < epochs - 1:
        message += (
            f"Pass EarlyStopping(start_from_epoch={first}, ...): from epoch {first} on "
            f"(counting from 0) every epoch ends at a rate of at most {HIGH:.0%} of the peak."
        )
    else:
        message += "Train without EarlyStopping, or give it a longer patience."
    warnings.warn(message, ScheduleCutShortWarning, stacklevel=3)
