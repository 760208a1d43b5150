"""Argument checks shared by the schedules, worded like Keras' own messages, and their
`get_config`.

Every check raises `InvalidArgumentError` with the argument's name and the value received:
``Argument `step_size_up` must be an integer > 0. Received: step_size_up=0``.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Collection
from typing import Any

from finder.errors import InvalidArgumentError


def fail(name: str, rule: str, value: Any) -> InvalidArgumentError:
    """The error for argument `name` breaking `rule` (returned so callers `raise` it)."""
    return InvalidArgumentError(f"Argument `{name}` must be {rule}. Received: {name}={value!r}")


def real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """`value` as a float, checked to be finite and inside the given bounds."""
    if low is not None and high is not None:
        rule = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        rule = f"a number {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        rule = f"a number {'<' if high_open else '<='} {high:g}"
    else:
        rule = "a finite number"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise fail(name, rule, value)
    number = float(value)
    if not math.isfinite(number):
        raise fail(name, rule, value)
    if low is not None and (number < low or (low_open and number == low)):
        raise fail(name, rule, value)
    if high is not None and (number > high or (high_open and number == high)):
        raise fail(name, rule, value)
    return number


def integer(name: str, value: Any, *, low: int) -> int:
    """`value` as an int, checked to be an integer (not a bool) and >= `low`."""
    rule = f"an integer >= {low}" if low != 1 else "an integer > 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise fail(name, rule, value)
    return int(value)


def optional_integer(name: str, value: Any, *, low: int) -> int | None:
    """`value` as an int >= `low` (see `integer`), or None."""
    if value is None:
        return None
    try:
        return integer(name, value, low=low)
    except InvalidArgumentError:
        rule = f"an integer >= {low}" if low != 1 else "an integer > 0"
        raise fail(name, rule + " or None", value) from None


def boolean(name: str, value: Any) -> bool:
    """`value`, checked to be a bool."""
    if not isinstance(value, bool):
        raise fail(name, "a bool", value)
    return value


def choice(name: str, value: Any, options: Collection[str]) -> str:
    """`value`, checked to be one of `options`."""
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(option) for option in options)
        raise fail(name, f"one of {listed}", value)
    return value


def constructor_config(obj: Any) -> dict[str, Any]:
    """`get_config()` of a schedule or callback that keeps each constructor argument (checked)
    as the attribute of the same name: exactly its constructor's arguments, in their order, so
    that `cls(**obj.get_config())` rebuilds it."""
    names = [name for name in inspect.signature(type(obj).__init__).parameters if name != "self"]
    return {name: getattr(obj, name) for name in names}
