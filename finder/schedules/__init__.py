"""Keras-serializable learning-rate schedules, factories for the Keras built-ins, and
`ScheduleSpec`, their JSON form."""

from finder.schedules.builtins import (
    PlateauPolicy,
    cosine_warmup,
    exponential,
    inverse_time,
    piecewise_constant,
    power,
)
from finder.schedules.cyclical import CyclicalLearningRate
from finder.schedules.momentum import CycledHyperparameter, MomentumCycler
from finder.schedules.offset import StartingAt
from finder.schedules.one_cycle import OneCycle
from finder.schedules.sampling import evaluate_learning_rate
from finder.schedules.spec import SCHEDULE_FAMILIES, ScheduleSpec
from finder.schedules.wsd import WarmupStableDecay

__all__ = [
    "CycledHyperparameter",
    "CyclicalLearningRate",
    "MomentumCycler",
    "OneCycle",
    "PlateauPolicy",
    "SCHEDULE_FAMILIES",
    "ScheduleSpec",
    "StartingAt",
    "WarmupStableDecay",
    "cosine_warmup",
    "evaluate_learning_rate",
    "exponential",
    "inverse_time",
    "piecewise_constant",
    "power",
]
