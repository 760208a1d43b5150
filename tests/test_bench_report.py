"""`bench/report.py`'s Markdown-table helper, which every table of BENCHMARKS.md goes through."""

from __future__ import annotations

import pytest
import report as bench_report


def test_table_writes_header_separator_and_one_line_per_row() -> None:
    lines = bench_report.table(["task", "score", "steps"], [["`a`", "0.9500", 12], ["`b`", "1", 3]])
    assert lines == [
        "| task | score | steps |",
        "|---|---|---|",
        "| `a` | 0.9500 | 12 |",
        "| `b` | 1 | 3 |",
    ]


def test_a_missing_value_is_formatted_by_the_caller_and_an_empty_cell_stays_empty() -> None:
    lines = bench_report.table(["a", "b", "c"], [[bench_report.fmt(None), "", "x"]])
    assert lines[2] == "| — | | x |"
    assert "None" not in lines[2]


def test_no_rows_gives_header_and_separator_only() -> None:
    assert bench_report.table(["a", "b"], []) == ["| a | b |", "|---|---|"]


@pytest.mark.parametrize("row", [["only one"], ["one", "two", "three"]])
def test_a_row_must_have_as_many_cells_as_the_header(row: list[str]) -> None:
    with pytest.raises(ValueError, match="cells under a header of 2"):
        bench_report.table(["a", "b"], [row])
