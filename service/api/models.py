"""Request and response schemas, in layers: `*Create` in, `*Public` out, `*sPublic` lists.

Request bodies are strict (no type coercion, unknown fields refused), so a typo is a 422 that
names the field instead of a silently ignored option.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator

from finder.defaults import is_auto
from finder.families import DEFAULT_TUNED_FAMILIES, FAMILY_NAMES
from finder.rangetest.config import RangeTestConfig, config_fields, setting_of

if TYPE_CHECKING:
    from service.core.db import Job

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
JobKind = Literal["find_lr", "tune"]
# Kept equal to finder.zoo.BUILTIN_MODELS and finder.data.BUILTIN_DATASETS (a test checks it);
# spelled out so the OpenAPI document lists them without the API importing Keras.
BuiltinModelName = Literal["fashion_cnn", "mlp"]
BuiltinDatasetName = Literal["fashion_mnist", "fashion_mnist_sample"]
OptimizerName = Literal[
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "ftrl",
    "lamb",
    "lion",
    "nadam",
    "rmsprop",
    "sgd",
]
# The schedule families of finder's registry (`finder.families`, plain data: no Keras import).
FamilyName = Literal[FAMILY_NAMES]  # type: ignore[valid-type]
DEFAULT_FAMILIES: tuple[FamilyName, ...] = DEFAULT_TUNED_FAMILIES
UploadId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="An id from /uploads.")]
SettingName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,63}$")]
SettingValue = float | int | bool | str | None


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class BuiltinModel(StrictModel):
    builtin: BuiltinModelName = Field(description="A built-in model (see GET /builtins).")


class UploadedModel(StrictModel):
    upload_id: UploadId


class BuiltinData(StrictModel):
    builtin: BuiltinDatasetName = Field(description="A built-in dataset (see GET /builtins).")


class UploadedData(StrictModel):
    upload_id: UploadId


class OptimizerCreate(StrictModel):
    """A Keras optimizer by its registered name, with its constructor settings."""

    name: OptimizerName
    settings: dict[SettingName, SettingValue] = Field(
        default_factory=dict,
        max_length=32,
        description='Constructor arguments, e.g. {"momentum": 0.9, "nesterov": true}.',
    )


def setting_field(item: dataclasses.Field[Any]) -> tuple[Any, Any]:
    """A pydantic field (type, `Field`) from a `RangeTestConfig` field: its `Setting`'s type,
    bounds, choices, the service's cap on a request (`limit`), its default and help text."""
    rule = setting_of(item)
    if rule.choices:
        kind: Any = Literal[rule.choices]  # type: ignore[valid-type]
    else:
        bounds = {name: getattr(rule, name) for name in ("ge", "gt", "lt")}
        bounds = {name: value for name, value in bounds.items() if value is not None}
        if rule.limit is not None:
            bounds["le"] = rule.limit
        if rule.kind is float:
            bounds["allow_inf_nan"] = False
        kind = Annotated[rule.kind, Field(**bounds)] if bounds else rule.kind
    if rule.auto:
        kind = kind | Literal["auto"]
    if rule.optional:
        kind = kind | None
    return kind, Field(default=item.default, description=rule.help)


def settings_fields(
    config_type: type[Any] = RangeTestConfig, *, group: str | None = None
) -> dict[str, Any]:
    """The pydantic fields of the config's settings in `group` (None: those of the request
    itself), for `create_model`."""
    return {
        item.name: setting_field(item)
        for item in config_fields(config_type)
        if setting_of(item).group == group
    }


class RangeBase(StrictModel):
    """The checks of the swept range that span two fields."""

    @field_validator("max_lr", check_fields=False)
    @classmethod
    def above_min(cls, max_lr: float | str, info: ValidationInfo) -> float | str:
        min_lr = info.data.get("min_lr")
        numbers = isinstance(min_lr, float | int) and isinstance(max_lr, float | int)
        if numbers and max_lr <= min_lr:  # type: ignore[operator]
            raise ValueError(f"max_lr must be > min_lr (got min_lr={min_lr}, max_lr={max_lr})")
        return max_lr

    @property
    def auto(self) -> bool:
        return is_auto(*(getattr(self, name, None) for name in ("min_lr", "max_lr", "num_steps")))


# The request's parts built from `RangeTestConfig`'s fields: a field added there is a field of
# every job request (and of the OpenAPI document) without an edit here.
RangeCreate: Any = create_model(
    "RangeCreate",
    __base__=RangeBase,
    __doc__="The swept learning rates: found automatically by default "
    "(`finder.rangetest.auto_range`, within `budget` optimizer steps), or `num_steps` values "
    "from `min_lr` to `max_lr`.",
    **settings_fields(group="range"),
)
RangeTestSettings: Any = create_model(
    "RangeTestSettings",
    __base__=StrictModel,
    __doc__="The range test's settings outside the swept range.",
    **settings_fields(),
)


class PlanCreate(StrictModel):
    """The training the schedules are proposed for."""

    epochs: int = Field(ge=1, le=10_000)
    steps_per_epoch: int | None = Field(
        default=None, ge=1, le=1_000_000, description="None: derived from the data and batch size."
    )


class RangeTestCreate(RangeTestSettings):  # type: ignore[misc]
    """What every job starts with: model, data, optimizer and the range test's settings (the
    sweep's range in `range`)."""

    model: BuiltinModel | UploadedModel = Field(
        default_factory=lambda: BuiltinModel(builtin="fashion_cnn")
    )
    data: BuiltinData | UploadedData = Field(
        default_factory=lambda: BuiltinData(builtin="fashion_mnist_sample")
    )
    optimizer: OptimizerCreate | None = Field(
        default=None, description="None: an uploaded model's own optimizer, else plain SGD."
    )
    loss: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,63}$")] | None = Field(
        default=None, description="A Keras loss name. None: the model's own, else sparse CE."
    )
    range: RangeCreate = Field(default_factory=RangeCreate)
    validation: bool = True


class FindLRCreate(RangeTestCreate):
    """A range-test job: model, data, optimizer, the sweep, and optionally a training plan."""

    plan: PlanCreate | None = Field(default=None, description="Ask for schedule proposals.")


class TuningCreate(StrictModel):
    """The keras-tuner search inside the range test's bounds (see `finder.tune`)."""

    families: list[FamilyName] = Field(
        default_factory=lambda: list(DEFAULT_FAMILIES),
        min_length=1,
        max_length=9,
        description="Schedule families to search.",
    )
    tuner: Literal["bayesian", "random", "hyperband"] = "bayesian"
    max_trials: int = Field(
        default=6, ge=1, le=100, description="Trial budget (a cap for hyperband)."
    )
    epochs: int = Field(
        default=3, ge=1, le=1000, description="Epochs per trial; `best` is sized to this plan."
    )
    executions_per_trial: int = Field(default=1, ge=1, le=5)
    objective: Literal["val_loss", "val_accuracy"] = "val_loss"
    workers: int = Field(
        default=0,
        ge=0,
        le=16,
        description="Ray tasks that run the trials beside the job (0: the job runs them); "
        "each needs a free CPU on the cluster.",
    )

    @field_validator("families")
    @classmethod
    def distinct(cls, families: list[str]) -> list[str]:
        if len(set(families)) != len(families):
            raise ValueError(f"families must be distinct (got {families})")
        return families


class TuneCreate(RangeTestCreate):
    """A tuning job: a range test, then a keras-tuner search of schedules inside its bounds."""

    tuning: TuningCreate = Field(default_factory=TuningCreate)


class ProgressPublic(BaseModel):
    """How far a job got. A range-test job counts to the most steps its test may run (an auto
    range's budget, sized once it runs), and once it succeeded to the steps it ran; a tuning
    job counts its range test's steps, then one unit per trial epoch. `message` says where it
    is in words."""

    steps_done: int
    steps_total: int
    fraction: float
    phase: Literal["range_test", "tuning"] | None = Field(
        default=None, description="None until the job reports progress."
    )
    message: str | None = None
    lr: float | None
    loss: float | None
    smoothed_loss: float | None


class JobPublic(BaseModel):
    id: str
    kind: JobKind
    status: JobStatus
    request: dict[str, Any]
    progress: ProgressPublic
    attempts: int
    max_attempts: int
    cancel_requested: bool
    error: str | None = Field(
        description="Why the job failed or was cancelled; while a retry runs, why the previous "
        "attempt was lost."
    )
    failure_kind: str | None = Field(
        default=None,
        description="Why it failed (or why the last attempt was lost), as a class: `input` (the "
        "request, model or data is invalid), `resources` (too large), `internal` (a bug), "
        "`infrastructure` (a lost process or database error; the only kind retried), `timeout`.",
    )
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None = Field(
        default=None,
        description="The library's result JSON once succeeded: a range-test result (schema "
        "finder/schemas/range_test_result.v2.json) for find_lr jobs, a tuning result "
        "(tuning_result.v1.json) for tune jobs; only in GET /jobs/{id}, not in lists.",
    )

    @classmethod
    def from_row(cls, job: Job, *, with_result: bool = False) -> JobPublic:
        """The job row's columns of the same names, its progress, and (`with_result`) its
        result document."""
        fraction = job.steps_done / max(job.steps_total, 1)
        progress = ProgressPublic(fraction=fraction, **_columns(job, ProgressPublic, "fraction"))
        return cls(
            **_columns(job, cls, "progress", "result"),
            progress=progress,
            result=json.loads(job.result) if with_result and job.result else None,
        )


def _columns(job: Job, model: type[BaseModel], *computed: str) -> dict[str, Any]:
    return {name: getattr(job, name) for name in model.model_fields if name not in computed}


def job_document(job: Job) -> bytes:
    """`JobPublic` JSON with the stored result spliced in as is (it is never re-encoded)."""
    head = JobPublic.from_row(job).model_dump_json(exclude={"result"})
    return f'{head[:-1]},"result":{job.result or "null"}}}'.encode()


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int = Field(description="Jobs matching the filter, before limit/offset.")


class UploadPublic(BaseModel):
    upload_id: str
    kind: Literal["model", "dataset"]
    filename: str
    size_bytes: int
    description: dict[str, Any]
    created_at: datetime


class BuiltinModelPublic(BaseModel):
    name: str
    description: str
    input_shape: list[int]


class BuiltinDatasetPublic(BaseModel):
    name: str
    description: str
    input_shape: list[int]
    num_classes: int
    available: bool


class BuiltinFamilyPublic(BaseModel):
    name: str
    required: list[str] = Field(description="Params a schedule spec of this family must give.")
    optional: list[str]
    lr_param: str = Field(description="The learning rate a tuning job searches (log scale).")
    bounds: Literal["peak", "held"] = Field(
        description="peak: searched in [max_lr/2, 2 edge_lr]; held: in [min_lr, edge_lr]."
    )
    default: bool = Field(description="Searched by a tuning job that names no families.")


class BuiltinsPublic(BaseModel):
    models: list[BuiltinModelPublic]
    datasets: list[BuiltinDatasetPublic]
    families: list[BuiltinFamilyPublic]


class HealthPublic(BaseModel):
    status: Literal["ok", "draining"] = Field(
        description="`draining` (with status code 503) once the process got SIGTERM: it takes "
        "no new jobs and is about to stop."
    )
    database: Literal["ok"]
    dispatchers: int = Field(description="Dispatchers whose heartbeat is fresh.")


class ErrorPublic(BaseModel):
    detail: str | list[dict[str, Any]]


class LimitPublic(ErrorPublic):
    """A refusal by a bound (429, or 413 for the upload quota), or by a drain (503)."""

    limit: Literal["max_queued_jobs", "max_queued_per_key", "upload_quota_mb", "draining"] = Field(
        description="The setting whose bound was reached (FINDER_ + its name in capitals), "
        "or `draining`: the service is shutting down (SIGTERM) and takes no new jobs."
    )
    value: float = Field(description="That setting's value (for `draining`, FINDER_DRAIN_GRACE_S).")
