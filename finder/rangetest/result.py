"""`RangeTestResult`: everything a range test measured and suggests, and its JSON (schema v2).

The JSON is a public contract: the CLI writes it, the service returns it, dashboards read it.
Its JSON Schema ships in the package (`finder/schemas/range_test_result.v2.json`, see
`schema()`), and `from_dict` refuses documents that do not match it. Version 2 adds
`reliability` and `auto`; version 1 documents (written before them) still load, with both
None. Numbers that JSON cannot carry (NaN, infinity) are written as `null`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import jsonschema

from finder.document import JsonDocument, check, jsonable, load_schema
from finder.rangetest.reliability import Reliability
from finder.suggest import Bounds

if TYPE_CHECKING:  # a proposal's schedule spec loads Keras: imported when a document has some
    from finder.propose import Proposal

SCHEMA_VERSION = 2
RESULT_KIND = "range_test"
SCHEMA_RESOURCE = "range_test_result.v2.json"


def schema() -> dict[str, Any]:
    """The JSON Schema of `RangeTestResult.to_dict()`."""
    return load_schema(SCHEMA_RESOURCE)


def validate(document: Any) -> None:
    """Check a result document against the shipped schema.

    Raises:
        SchemaError: naming the first offending field.
    """
    check(
        document,
        jsonschema.Draft202012Validator(schema()),
        f"range-test result (v1 or v{SCHEMA_VERSION})",
    )


@dataclass
class RangeTestResult(JsonDocument):
    """The outcome of `finder.range_test`.

    Attributes:
        lrs: learning rate of each recorded step (the median curve's grid with repeats).
        losses: each step's true batch loss (median across repeats).
        smoothed_losses: the debiased EMA of `losses` (median of the repeats' EMAs).
        val_lrs, val_losses: the optional validation curve (first repeat), else None.
        stop_reason: "completed", "diverged" or "non_finite".
        stopped_at_lr: LR of the step that stopped the sweep, None when completed.
        steps_run: optimizer steps executed over all sweeps.
        extra_steps: the steps the test added to the user's training (its cost): all of
            `steps_run` for a standalone test, whose model is restored afterwards.
        skipped_steps: steps a loss-scaling optimizer skipped (non-finite scaled gradients,
            mixed_float16), over all sweeps; run, but not recorded and not in `steps_run`.
        wall_time_s: seconds the whole test took; steps_per_second = steps_run / wall_time_s.
        optimizer: {"name", "config"} of the user's optimizer.
        model, data: JSON descriptions of the model and input.
        config: the range-test arguments used.
        repeats: None for one sweep; else per-run curves, the spread band and suggestion
            spreads.
        suggestions: name -> LR (None where the rule does not apply; see suggestion_notes).
        suggestion_notes: name -> why a suggestion is None or is only a bound.
        bounds: Smith's (min_lr, max_lr).
        metadata: free-form JSON the caller attached.
        proposals: ranked schedule `Proposal`s for the training plan the test was given (empty
            without a plan, or without bounds).
        reliability: the verdict and the 80% interval of the bound (None in v1 documents).
        auto: the auto range test's budget, first sweep ("coarse", its name in documents
            written before the auto range swept one grid) and grid (None for an explicit
            range).
    """

    DOCUMENT_NAME: ClassVar[str] = "range-test result"

    lrs: list[float]
    losses: list[float]
    smoothed_losses: list[float]
    stop_reason: str
    steps_run: int
    wall_time_s: float
    steps_per_second: float
    optimizer: dict[str, Any]
    model: dict[str, Any]
    data: dict[str, Any]
    config: dict[str, Any]
    suggestions: dict[str, float | None]
    bounds: Bounds
    val_lrs: list[float] | None = None
    val_losses: list[float] | None = None
    stopped_at_lr: float | None = None
    repeats: dict[str, Any] | None = None
    suggestion_notes: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    proposals: list[Proposal] = field(default_factory=list)
    created_at: str = ""
    finder_version: str = ""
    reliability: Reliability | None = None
    auto: dict[str, Any] | None = None
    skipped_steps: int = 0
    extra_steps: int | None = None

    def __post_init__(self) -> None:
        if self.extra_steps is None:
            self.extra_steps = self.steps_run

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON document (plain Python values)."""
        return jsonable(
            {
                "schema_version": SCHEMA_VERSION,
                "kind": RESULT_KIND,
                "finder_version": self.finder_version,
                "created_at": self.created_at,
                "lrs": self.lrs,
                "losses": self.losses,
                "smoothed_losses": self.smoothed_losses,
                "val_lrs": self.val_lrs,
                "val_losses": self.val_losses,
                "stop_reason": self.stop_reason,
                "stopped_at_lr": self.stopped_at_lr,
                "steps_run": self.steps_run,
                "skipped_steps": self.skipped_steps,
                "extra_steps": self.extra_steps,
                "wall_time_s": self.wall_time_s,
                "steps_per_second": self.steps_per_second,
                "optimizer": self.optimizer,
                "model": self.model,
                "data": self.data,
                "config": self.config,
                "repeats": self.repeats,
                "suggestions": self.suggestions,
                "suggestion_notes": self.suggestion_notes,
                "bounds": self.bounds.to_dict(),
                "proposals": [proposal.to_dict() for proposal in self.proposals],
                "metadata": self.metadata,
                "reliability": None if self.reliability is None else self.reliability.to_dict(),
                "auto": self.auto,
            }
        )

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> RangeTestResult:
        """Rebuild a result from `to_dict()` output, after validating it against the schema.

        Raises:
            SchemaError: the document is not a v1 or v2 range-test result.
        """
        validate(document)
        bounds = document["bounds"]
        reliability = document.get("reliability")
        # Every other field is stored as it is (its list or dict copied).
        stored = {
            f.name: copy.copy(document[f.name])
            for f in fields(cls)
            if f.name
            not in ("bounds", "reliability", "auto", "skipped_steps", "extra_steps", "proposals")
        }
        return cls(
            **stored,
            bounds=Bounds(bounds["min_lr"], bounds["max_lr"], bounds["note"], bounds["edge_lr"]),
            reliability=None if reliability is None else Reliability.from_dict(reliability),
            proposals=_proposals(document["proposals"]),
            auto=document.get("auto"),  # v1 documents have no `reliability` and no `auto`
            # absent from v2 documents written before it was added: none were skipped then
            skipped_steps=document.get("skipped_steps", 0),
            # absent from documents written before it was added: every step was extra then
            extra_steps=document.get("extra_steps", document["steps_run"]),
        )

    def plot(self, path: str | Path | None = None, **options: Any) -> Any:
        """The loss-vs-LR figure (`finder.plot.plot_range_test`), written when `path` is given;
        `ax=` draws into a matplotlib axes of your own."""
        from finder.plot import plot_range_test

        return plot_range_test(self, path=path, **options)

    def __repr__(self) -> str:
        """One line a notebook can print: verdict, bounds, cost and suggestions, never the
        curves (`to_dict()` has them)."""
        bounds = self.bounds
        verdict = self.reliability.verdict if self.reliability else None
        suggestions = ", ".join(f"{k}={_short(v)}" for k, v in self.suggestions.items())
        return (
            f"RangeTestResult(verdict={verdict!r}, min_lr={_short(bounds.min_lr)}, "
            f"max_lr={_short(bounds.max_lr)}, edge_lr={_short(bounds.edge_lr)}, "
            f"steps_run={self.steps_run}, extra_steps={self.extra_steps}, points={len(self.lrs)}, "
            f"suggestions=({suggestions}))"
        )

    def _repr_png_(self) -> bytes:
        """The curve as PNG bytes: Jupyter shows a result by drawing it."""
        import io

        from finder.plot import plot_range_test

        buffer = io.BytesIO()
        plot_range_test(self).savefig(buffer, format="png", dpi=90)
        return buffer.getvalue()

    def to_tensorboard(self, log_dir: str | Path) -> Path:
        """Write the curve, suggestions, bounds and figure as TensorBoard event files under
        `log_dir` (`finder.integrations.tensorboard.write_range_test`)."""
        from finder.integrations.tensorboard import write_range_test

        return write_range_test(self, log_dir)

    def log_to_mlflow(self, run: Any = None) -> str:
        """Log bounds and suggestions as params, the curve as metric histories and result.json
        and curve.png as artifacts to `run`, the active run or a new one; returns the run id
        (`finder.integrations.mlflow.log_range_test`; needs `pip install 'finder[mlflow]'`)."""
        from finder.integrations.mlflow import log_range_test

        return log_range_test(self, run)


def _short(value: float | None) -> str:
    return "None" if value is None else f"{value:.3g}"


def _proposals(documents: list[dict[str, Any]]) -> list[Proposal]:
    """`Proposal`s from their JSON. Their schedules are Keras objects, so Keras is imported only
    when there are some: a reader of a result without proposals (the service's API process
    drawing a curve) stays free of TensorFlow."""
    if not documents:
        return []
    from finder.propose import Proposal

    return [Proposal.from_dict(document) for document in documents]
