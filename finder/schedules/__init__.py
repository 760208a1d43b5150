"""Keras-serializable learning-rate schedules and factories for the Keras built-ins."""

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
from finder.schedules.one_cycle import OneCycle

__all__ = [
    "CycledHyperparameter",
    "CyclicalLearningRate",
    "MomentumCycler",
    "OneCycle",
    "PlateauPolicy",
    "cosine_warmup",
    "exponential",
    "inverse_time",
    "piecewise_constant",
    "power",
]
