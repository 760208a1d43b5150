"""`RangeTestConfig`: the range test's settings, each with its default, help and bounds.

One frozen dataclass holds every setting of a sweep (not the model, the data or the training
plan): `finder.range_test` takes it (or its fields as keywords), `finder.jobs.RunSpec` extends
it, and the CLI's options (`finder.cli.options.config_options`) and the service's request
models are generated from its fields. A field's metadata (`Setting`, see `setting_of`) says how
it is checked, described and spelled on each face, so a new field appears in `finder run
--help` and in the service's OpenAPI schema without editing either. It imports no Keras.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from finder.defaults import (
    AUTO,
    BATCH_SIZE,
    DEFAULT_BUDGET,
    DIVERGENCE,
    EXPLICIT_STEPS,
    JOB_REPEATS,
    MAX_STEPS_PER_DECADE,
    MIN_PLAN_BUDGET,
    PLAN_FRACTION,
    SMOOTHING,
    VALIDATION_SAMPLES,
    is_auto,
)
from finder.errors import InvalidArgumentError, InvalidRangeError

SWEEP_MODES = ("exp", "linear")
SETTING = "setting"  # the key of a field's `Setting` in its metadata


@dataclass(frozen=True)
class Setting:
    """How one field of `RangeTestConfig` is typed, checked and shown.

    `kind` is the value's type apart from "auto" (`auto`) and None (`optional`); `ge`, `gt`,
    `lt` bound numbers and `choices` strings, for every face. `limit` is the service's cap on
    a request (a resource bound, not a validity one). `flag` is the CLI's option name (None:
    `--field-name`; "" when the CLI spells the field together with others, as `--lr-range`
    does `min_lr` and `max_lr`); `group` names the nested object of the service's request
    that holds it (None: the request itself)."""

    help: str
    kind: type
    auto: bool = False
    optional: bool = False
    ge: float | None = None
    gt: float | None = None
    lt: float | None = None
    choices: tuple[str, ...] = ()
    limit: float | None = None
    flag: str | None = None
    group: str | None = None

    def rule(self) -> str:
        """The accepted values in words, for error messages."""
        if self.choices:
            return f"one of {self.choices}"
        noun = "an integer" if self.kind is int else "a number"
        if self.kind is float and self.ge is not None and self.lt is not None:
            return f"in [{self.ge:g}, {self.lt:g})"
        if self.kind is float and self.gt is not None:
            return f"a finite number > {self.gt:g}"
        if self.kind is int and self.ge == 1:
            return "an integer > 0"
        if self.ge is not None:
            return f"{noun} >= {self.ge:g}"
        if self.gt is not None:
            return f"{noun} > {self.gt:g}"
        return {bool: "a bool", str: "a string"}.get(self.kind, noun)


def setting(default: Any, help: str, kind: type, **options: Any) -> Any:
    """A `RangeTestConfig` field with `default` and its `Setting`."""
    return field(default=default, metadata={SETTING: Setting(help, kind, **options)})


def setting_of(item: dataclasses.Field[Any]) -> Setting:
    """The `Setting` of a config field."""
    found = item.metadata.get(SETTING)
    if not isinstance(found, Setting):
        raise TypeError(f"Field {item.name!r} of a range-test config has no Setting.")
    return found


@dataclass(frozen=True)
class RangeTestConfig:
    """The settings of a range test (`finder.range_test`); each field's `Setting` holds its
    help text and bounds, and the config checks them when it is built.

    Attributes:
        {attributes}

    Raises:
        InvalidRangeError: an empty or inverted LR range, or `num_steps < 2`.
        InvalidArgumentError: another setting out of range.
    """

    batch_size: int = setting(
        BATCH_SIZE,
        "Samples per step for array input (datasets bring their own).",
        int,
        ge=1,
        limit=8192,
    )
    min_lr: float | str = setting(
        AUTO,
        'First learning rate of the sweep; in the auto range the start of the grid ("auto": '
        "two decades below the optimizer's LR).",
        float,
        auto=True,
        gt=0,
        flag="",
        group="range",
    )
    max_lr: float | str = setting(
        AUTO,
        'Last learning rate of the sweep; in the auto range the ceiling of all sweeps ("auto": '
        "1e4).",
        float,
        auto=True,
        gt=0,
        flag="",
        group="range",
    )
    num_steps: int | str = setting(
        AUTO,
        f"Optimizer steps per sweep, >= 2 (jobs: {EXPLICIT_STEPS} with an explicit range); in "
        f'the auto range the steps of its grid ("auto": as dense as the budget allows, at most '
        f"{MAX_STEPS_PER_DECADE} per decade).",
        int,
        auto=True,
        ge=2,
        limit=10_000,
        flag="--steps",
        group="range",
    )
    budget: int | None = setting(
        None,
        f"Auto range: optimizer steps for all sweeps. Default: {PLAN_FRACTION:.0%} of the "
        f"training plan, at least {MIN_PLAN_BUDGET}; {DEFAULT_BUDGET} without a plan (times "
        "`repeats`).",
        int,
        optional=True,
        ge=1,
        limit=100_000,
        group="range",
    )
    mode: str = setting(
        "exp",
        "Steps of an explicit range: geometric (exp) or linear; the auto range is geometric.",
        str,
        choices=SWEEP_MODES,
        group="range",
    )
    smoothing: float = setting(
        SMOOTHING, "EMA coefficient of the smoothed curve (0 = off).", float, ge=0, lt=1
    )
    divergence: float = setting(
        DIVERGENCE,
        "Stop when the smoothed loss exceeds this multiple of its minimum.",
        float,
        gt=1,
        limit=1e6,
    )
    repeats: int | None = setting(
        None,
        "Sweeps over different batch orders; more than one gives the median curve and the "
        f"spread of every suggestion. Default: 1 (jobs: {JOB_REPEATS} with an explicit range); "
        "the auto range sweeps as its budget allows.",
        int,
        optional=True,
        ge=1,
        limit=10,
    )
    seed: int = setting(
        0, "Seed of the batch order (sweep r uses seed + r).", int, ge=0, limit=2**31 - 1
    )
    shuffle: bool = setting(
        True, "Shuffle array input; datasets keep their order in the first sweep.", bool
    )
    validation_every: int | None = setting(
        None,
        "Steps between validation scores of the first sweep. Default: about 20 per sweep.",
        int,
        optional=True,
        ge=1,
        limit=100_000,
    )
    validation_samples: int = setting(
        VALIDATION_SAMPLES,
        "Size of the fixed validation subset scored along the sweep.",
        int,
        ge=1,
        limit=10_000,
    )

    def __post_init__(self) -> None:
        for item in config_fields(type(self)):
            check_setting(item.name, getattr(self, item.name), setting_of(item))
        if not self.auto:
            check_explicit_range(self.min_lr, self.max_lr, self.num_steps)  # type: ignore[arg-type]
            if self.budget is not None:
                raise InvalidArgumentError(
                    "Arguments `budget` and `plan_steps` apply to the auto range only; with "
                    "explicit `min_lr`, `max_lr` and `num_steps` the sweep runs all its steps."
                )

    @property
    def auto(self) -> bool:
        """Whether the test finds (part of) its range itself (`finder.rangetest.auto_range`)."""
        return is_auto(self.min_lr, self.max_lr, self.num_steps)

    @property
    def sweeps(self) -> int:
        """The repeats asked for, 1 when none were."""
        return 1 if self.repeats is None else self.repeats

    def settings(self) -> dict[str, Any]:
        """The config's own fields by name (a subclass's other fields left out)."""
        return {item.name: getattr(self, item.name) for item in config_fields(RangeTestConfig)}

    @classmethod
    def build(cls, config: RangeTestConfig | None, overrides: Mapping[str, Any]) -> RangeTestConfig:
        """`config` (default: the defaults) with `overrides` by field name.

        Raises:
            TypeError: a name that is not a field.
        """
        names = {item.name for item in config_fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"Unexpected range-test setting(s): {', '.join(unknown)}")
        base = config.settings() if config is not None else {}
        return cls(**{**base, **overrides})


def config_fields(config_type: type[Any] = RangeTestConfig) -> tuple[dataclasses.Field[Any], ...]:
    """The fields of a config class that carry a `Setting` (a subclass's plain fields left out)."""
    return tuple(item for item in dataclasses.fields(config_type) if SETTING in item.metadata)


def check_setting(name: str, value: Any, rule: Setting) -> None:
    """Raise InvalidArgumentError (InvalidRangeError for the LR range) when `value` breaks
    `rule`."""
    if (rule.auto and value == AUTO) or (rule.optional and value is None):
        return
    error = InvalidRangeError if name in ("min_lr", "max_lr", "num_steps") else InvalidArgumentError
    if not _fits(value, rule):
        raise error(f"Argument `{name}` must be {rule.rule()}. Received: {name}={value!r}")


def _fits(value: Any, rule: Setting) -> bool:
    if rule.choices:
        return value in rule.choices
    if rule.kind is bool or rule.kind is str:
        return isinstance(value, rule.kind)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    if rule.kind is int and not isinstance(value, numbers.Integral):
        return False
    number = float(value)
    return (
        math.isfinite(number)
        and (rule.ge is None or number >= rule.ge)
        and (rule.gt is None or number > rule.gt)
        and (rule.lt is None or number < rule.lt)
    )


def check_explicit_range(min_lr: float, max_lr: float, num_steps: int) -> None:
    """Raise InvalidRangeError for a range that cannot be swept (`min_lr >= max_lr`)."""
    if min_lr >= max_lr:
        raise InvalidRangeError(
            f"Argument `min_lr` must be < `max_lr`. Received: min_lr={min_lr!r}, max_lr={max_lr!r}"
        )


def describe(config_type: type[Any] = RangeTestConfig, indent: int = 8) -> str:
    """Each field's help text and default, as the lines of a docstring's `Attributes:`."""
    lines = []
    for item in config_fields(config_type):
        help_text = setting_of(item).help
        default = "" if "Default:" in help_text else f" Defaults to `{item.default!r}`."
        lines += textwrap.wrap(
            f"{item.name}: {help_text}{default}",
            width=96,
            initial_indent=" " * indent,
            subsequent_indent=" " * (indent + 4),
        )
    return "\n".join(lines)


# The class's documentation lists its fields from their own help texts.
RangeTestConfig.__doc__ = re.sub(
    r"^ *\{attributes\}$",
    lambda _: describe(indent=4),
    inspect.cleandoc(RangeTestConfig.__doc__ or ""),
    flags=re.MULTILINE,
)
