"""`TuningResult`: a schedule search's ranked trials, its best schedule, and its JSON (schema v1).

Like the range test's result, the JSON is a public contract: `finder tune` writes it and the
service returns it. Its JSON Schema ships as `finder/schemas/tuning_result.v1.json` and embeds
the range-test result document (`range_test`, or null when an explicit space was searched);
`from_dict` refuses documents that do not match it.

```
{"schema_version": 1, "kind": "tuning", "role": "local" | "chief" | "worker",
 "tuner": "bayesian", "objective": {"name": "val_loss", "direction": "min"},
 "plan": {"epochs": 10, "steps_per_epoch": 938, "total_steps": 9380},
 "best": {"family": "one_cycle", "params": {...}},  "best_trial_id": "03",
 "trials": [{"trial_id", "rank", "status", "family", "spec", "values", "epochs", "score",
             "outcome", "metrics", "error"}, ...best first],
 "space": {"families", "peak_range", "held_range", "rule"},
 "range_test": {...range-test result...} | null, "config": {...}, "wall_time_s", ...}
```
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import jsonschema
import referencing

from finder.document import JsonDocument, check, jsonable, load_schema
from finder.errors import InvalidArgumentError
from finder.rangetest import result as range_test_result
from finder.rangetest.result import RangeTestResult
from finder.schedules import ScheduleSpec
from finder.tuning.space import SearchSpace

SCHEMA_VERSION = 1
RESULT_KIND = "tuning"
SCHEMA_RESOURCE = "tuning_result.v1.json"
OUTCOMES = ("ok", "diverged", "no_progress")
ROLES = ("local", "chief", "worker")


def schema() -> dict[str, Any]:
    """The JSON Schema of `TuningResult.to_dict()`."""
    return load_schema(SCHEMA_RESOURCE)


def validate(document: Any) -> None:
    """Check a tuning document (and the range-test document inside it) against the schemas.

    Raises:
        SchemaError: naming the first offending field.
    """
    range_schema = range_test_result.schema()
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        range_schema["$id"], referencing.Resource.from_contents(range_schema)
    )
    validator = jsonschema.Draft202012Validator(schema(), registry=registry)
    check(document, validator, f"tuning result (v{SCHEMA_VERSION})")


@dataclass(frozen=True)
class TrialRecord:
    """One keras-tuner trial: the schedule it trained with and how it scored.

    Attributes:
        trial_id: keras-tuner's trial id.
        rank: 1 for the best completed trial, 2 for the next...; None unless COMPLETED.
        status: keras-tuner's status: "COMPLETED", "FAILED", "INVALID", "RUNNING", ...
        family: the schedule family, None when the trial never got values.
        spec: the schedule exactly as trained, sized to this trial's `epochs`.
        values: keras-tuner's hyperparameter values (with Hyperband's `tuner/...` keys).
        epochs: epochs this trial trained (Hyperband rungs train fewer than `plan.epochs`).
        score: the objective keras-tuner ranked by: its value after the last epoch, but no
            worse than the untrained model's (see `finder.tuning`), None unless COMPLETED.
        outcome: "ok", "diverged" or "no_progress" (see `finder.tuning`), None unless
            COMPLETED.
        metrics: final metrics as reported (NaN as None).
        error: the traceback of a trial that raised, else None.
    """

    trial_id: str
    rank: int | None
    status: str
    family: str | None
    spec: ScheduleSpec | None
    values: dict[str, Any]
    epochs: int
    score: float | None
    outcome: str | None
    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None

    @property
    def params(self) -> dict[str, Any]:
        """The schedule's parameters (`spec.params`), `{}` without a spec."""
        return dict(self.spec.params) if self.spec is not None else {}

    def to_dict(self) -> dict[str, Any]:
        document = {f.name: getattr(self, f.name) for f in fields(self)}
        document["spec"] = self.spec.to_dict() if self.spec is not None else None
        return document

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialRecord:
        spec = data["spec"]
        return cls(
            trial_id=data["trial_id"],
            rank=data["rank"],
            status=data["status"],
            family=data["family"],
            spec=ScheduleSpec.from_dict(spec) if spec is not None else None,
            values=dict(data["values"]),
            epochs=data["epochs"],
            score=data["score"],
            outcome=data["outcome"],
            metrics=dict(data["metrics"]),
            error=data["error"],
        )


@dataclass
class TuningResult(JsonDocument):
    """The outcome of `finder.tune`.

    Attributes:
        best: the best trial's schedule re-sized to the whole plan (`plan["total_steps"]`
            steps): what to train with. None only on a worker that ran no trial.
        best_trial_id: the trial `best` comes from.
        trials: every trial, best first (completed ones by score, then the others).
        space: the search space.
        objective: `{"name", "direction"}`.
        tuner: "bayesian", "random" or "hyperband".
        role: "local"; "chief" or "worker" in keras-tuner's distributed mode (a worker's
            result holds only the trials it ran).
        plan: `{"epochs", "steps_per_epoch", "total_steps"}` of the training runs.
        config: the other tuning arguments (batch size, trial budget, seed, workers, ...).
        range_test: the range test whose bounds made the space, None for an explicit space.
        wall_time_s: seconds the whole call took, range test included.
        metadata: free-form JSON the caller attached.
    """

    DOCUMENT_NAME: ClassVar[str] = "tuning result"

    best: ScheduleSpec | None
    best_trial_id: str | None
    trials: list[TrialRecord]
    space: SearchSpace
    objective: dict[str, str]
    tuner: str
    role: str
    plan: dict[str, int]
    config: dict[str, Any]
    range_test: RangeTestResult | None = None
    wall_time_s: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    finder_version: str = ""

    @property
    def best_trial(self) -> TrialRecord | None:
        """The record of the best trial."""
        return next((t for t in self.trials if t.trial_id == self.best_trial_id), None)

    def outcome_counts(self) -> dict[str, int]:
        """How many completed trials ended "ok", "diverged" and "no_progress"."""
        counts = Counter(t.outcome for t in self.trials if t.outcome is not None)
        return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}

    def spec_for(self, total_steps: int, trial_id: str | None = None) -> ScheduleSpec:
        """A trial's schedule (the best by default) re-sized to a run of `total_steps`.

        Use it to retrain on more data or for more epochs than the search used.

        Raises:
            InvalidArgumentError: no such trial, or it has no values.
        """
        wanted = trial_id if trial_id is not None else self.best_trial_id
        trial = next((t for t in self.trials if t.trial_id == wanted), None)
        if trial is None or trial.family is None:
            raise InvalidArgumentError(f"No trial with schedule values: trial_id={wanted!r}")
        return self.space.spec(trial.values, total_steps)

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON document (plain Python values)."""
        document: dict[str, Any] = jsonable(
            {
                "schema_version": SCHEMA_VERSION,
                "kind": RESULT_KIND,
                "finder_version": self.finder_version,
                "created_at": self.created_at,
                "role": self.role,
                "tuner": self.tuner,
                "objective": self.objective,
                "plan": self.plan,
                "best": self.best.to_dict() if self.best is not None else None,
                "best_trial_id": self.best_trial_id,
                "trials": [trial.to_dict() for trial in self.trials],
                "space": self.space.to_dict(),
                "config": self.config,
                "wall_time_s": self.wall_time_s,
                "metadata": self.metadata,
            }
        )
        document["range_test"] = self.range_test.to_dict() if self.range_test else None
        return document

    @classmethod
    def from_dict(cls, document: Any) -> TuningResult:
        """Rebuild a result from `to_dict()` output, after validating it against the schema.

        Raises:
            SchemaError: the document is not a v1 tuning result.
        """
        validate(document)
        best = document["best"]
        range_test = document["range_test"]
        return cls(
            best=ScheduleSpec.from_dict(best) if best is not None else None,
            best_trial_id=document["best_trial_id"],
            trials=[TrialRecord.from_dict(trial) for trial in document["trials"]],
            space=SearchSpace.from_dict(document["space"]),
            objective=dict(document["objective"]),
            tuner=document["tuner"],
            role=document["role"],
            plan=dict(document["plan"]),
            config=dict(document["config"]),
            range_test=RangeTestResult.from_dict(range_test) if range_test else None,
            wall_time_s=document["wall_time_s"],
            metadata=dict(document["metadata"]),
            created_at=document["created_at"],
            finder_version=document["finder_version"],
        )
