"""The result's JSON: exact round trip, the shipped schema, and refusal of foreign documents."""

from __future__ import annotations

import json

import jsonschema
import pytest

from finder.errors import SchemaError
from finder.propose import Plan, Proposal
from finder.rangetest.result import RangeTestResult, schema
from tests.utils.factories import tiny_range_test

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral


@pytest.fixture(scope="module")
def repeated_result():
    return tiny_range_test(num_steps=40, repeats=3, metadata={"dataset": "tiny"}, plan=Plan(3, 8))


def test_json_round_trip_is_exact(repeated_result):
    text = repeated_result.to_json()
    again = RangeTestResult.from_json(text)
    assert again.to_dict() == repeated_result.to_dict()
    assert again.to_json() == text
    assert again.bounds == repeated_result.bounds
    assert again.lrs == repeated_result.lrs and again.losses == repeated_result.losses
    # The proposals come back as objects, equal to those the test built.
    assert all(isinstance(p, Proposal) for p in again.proposals)
    assert again.proposals == repeated_result.proposals


def test_document_validates_against_the_shipped_schema(repeated_result):
    document = json.loads(repeated_result.to_json())
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.Draft202012Validator(schema()).validate(document)
    assert document["schema_version"] == 2 and document["kind"] == "range_test"
    assert document["repeats"]["count"] == 3
    assert len(document["proposals"]) == 6 and document["proposals"][0]["rank"] == 1


def test_json_is_strict_even_when_the_spread_band_ends(repeated_result):
    text = repeated_result.to_json()
    assert "NaN" not in text and "Infinity" not in text


def test_save_and_load(tmp_path, repeated_result):
    path = repeated_result.save(tmp_path / "out" / "result.json")
    assert RangeTestResult.load(path).to_dict() == repeated_result.to_dict()


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        # A future schema version is not silently accepted.
        (lambda d: d.update(schema_version=3), "schema_version"),
        # Learning rates must be positive.
        (lambda d: d["lrs"].__setitem__(0, -1.0), "lrs/0"),
        # Unknown stop reasons are refused.
        (lambda d: d.update(stop_reason="bored"), "stop_reason"),
        # A required field missing.
        (lambda d: d.pop("bounds"), "bounds"),
        # Typos in field names are caught (no additional properties).
        (lambda d: d.update(suggestion={}), "suggestion"),
    ],
)
def test_foreign_documents_are_refused_naming_the_field(repeated_result, mutate, where):
    document = json.loads(repeated_result.to_json())
    mutate(document)
    with pytest.raises(SchemaError) as excinfo:
        RangeTestResult.from_dict(document)
    assert where.split("/")[0] in str(excinfo.value)


def test_not_json_is_a_schema_error():
    with pytest.raises(SchemaError, match="Not JSON"):
        RangeTestResult.from_json("{nope")
    with pytest.raises(SchemaError, match="object"):
        RangeTestResult.from_json("[1, 2]")


def test_a_result_prints_in_one_short_line_and_draws_itself_in_a_notebook(repeated_result):
    text = repr(repeated_result)
    assert len(text) < 1000 and "\n" not in text
    assert text.startswith("RangeTestResult(verdict=")
    assert f"steps_run={repeated_result.steps_run}" in text and "valley=" in text
    assert repeated_result._repr_png_().startswith(b"\x89PNG\r\n\x1a\n")


def test_plot_draws_into_the_axes_it_is_given(repeated_result):
    from matplotlib.figure import Figure

    figure = Figure()
    left, right = figure.subplots(1, 2)
    drawn = repeated_result.plot(ax=right)
    assert drawn is figure
    assert right.get_lines() and not left.get_lines()
    assert right.get_xscale() == "log"
