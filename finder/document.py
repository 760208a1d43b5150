"""The base of finder's versioned JSON documents (`RangeTestResult`, `TuningResult`).

Each document is a dataclass with `to_dict()` / `from_dict()` and a JSON Schema shipped in
`finder/schemas/`; `JsonDocument` gives it the JSON text and file round trip, and this module
the schema loading, the validation message, the JSON-safe conversion of values and the one
`finder_version()` every document (and the service's OpenAPI document) records.
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any, ClassVar, Self

import jsonschema

from finder.errors import SchemaError

# The version a document records when finder runs from a source tree that is not installed.
UNKNOWN_VERSION = "0+unknown"


def finder_version() -> str:
    """The installed finder's version, `UNKNOWN_VERSION` when it is not installed."""
    try:
        return metadata.version("finder")
    except metadata.PackageNotFoundError:
        return UNKNOWN_VERSION


@cache
def load_schema(resource: str) -> dict[str, Any]:
    """A JSON Schema shipped in `finder/schemas/`."""
    text = resources.files("finder.schemas").joinpath(resource).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def check(document: Any, validator: jsonschema.protocols.Validator, what: str) -> None:
    """Raise `SchemaError("Not a finder <what>: <field>: <why>")` for the first offending field
    of `document` that `validator` finds."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "<root>"
        raise SchemaError(f"Not a finder {what}: {where}: {error.message}")


def jsonable(value: Any) -> Any:
    """`value` with numpy scalars/arrays turned into Python ones and NaN/inf into None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class JsonDocument:
    """JSON text and files for a document class with `to_dict()` and `from_dict()`.

    `DOCUMENT_NAME` names the document in error messages ("range-test result").
    """

    DOCUMENT_NAME: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, document: Any) -> Self:
        raise NotImplementedError

    def to_json(self, *, indent: int | None = 2) -> str:
        """The document as JSON text (strict JSON: no NaN or Infinity)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Parse and validate JSON text written by `to_json`.

        Raises:
            SchemaError: not JSON, not an object, or not a document of this kind.
        """
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"Not JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise SchemaError(f"A {cls.DOCUMENT_NAME} must be a JSON object.")
        return cls.from_dict(document)

    def save(self, path: str | Path) -> Path:
        """Write `to_json()` to `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a document written by `save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
