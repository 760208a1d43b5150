"""Request and response schemas, in layers: `*Create` in, `*Public` out, `*sPublic` lists.

Request bodies are strict (no type coercion, unknown fields refused), so a typo is a 422 that
names the field instead of a silently ignored option.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from finder.defaults import BATCH_SIZE, DIVERGENCE, JOB_REPEATS, SMOOTHING, is_auto
from finder.families import DEFAULT_TUNED_FAMILIES, FAMILY_NAMES

if TYPE_CHECKING:
    from service.db import Job

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
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]


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


class RangeCreate(StrictModel):
    """The swept learning rates: found automatically by default (`finder.rangetest.auto_range`,
    within `budget` optimizer steps), or `num_steps` values from `min_lr` to `max_lr`."""

    min_lr: PositiveFloat | Literal["auto"] = "auto"
    max_lr: PositiveFloat | Literal["auto"] = "auto"
    num_steps: Annotated[int, Field(ge=2, le=10_000)] | Literal["auto"] = "auto"
    budget: int | None = Field(default=None, ge=1, le=100_000)
    mode: Literal["exp", "linear"] = "exp"

    @field_validator("max_lr")
    @classmethod
    def above_min(cls, max_lr: float | str, info: ValidationInfo) -> float | str:
        min_lr = info.data.get("min_lr")
        numbers = isinstance(min_lr, float | int) and isinstance(max_lr, float | int)
        if numbers and max_lr <= min_lr:  # type: ignore[operator]
            raise ValueError(f"max_lr must be > min_lr (got min_lr={min_lr}, max_lr={max_lr})")
        return max_lr

    @property
    def auto(self) -> bool:
        return is_auto(self.min_lr, self.max_lr, self.num_steps)


class PlanCreate(StrictModel):
    """The training the schedules are proposed for."""

    epochs: int = Field(ge=1, le=10_000)
    steps_per_epoch: int | None = Field(
        default=None, ge=1, le=1_000_000, description="None: derived from the data and batch size."
    )


class RangeTestCreate(StrictModel):
    """What every job starts with: model, data, optimizer and the range test's sweep."""

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
    batch_size: int = Field(default=BATCH_SIZE, ge=1, le=8192)
    range: RangeCreate = Field(default_factory=RangeCreate)
    smoothing: float = Field(default=SMOOTHING, ge=0, lt=1, description="EMA coefficient; 0 = off.")
    divergence: float = Field(
        default=DIVERGENCE,
        gt=1,
        le=1e6,
        description="Stop when the smoothed loss exceeds this multiple of its minimum.",
    )
    repeats: int | None = Field(
        default=None,
        ge=1,
        le=10,
        description=f"Sweeps over different batch orders; default {JOB_REPEATS} for an explicit "
        "range, and for the auto range as many as its budget pays for.",
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
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
