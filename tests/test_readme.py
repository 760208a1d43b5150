"""README.md's Python examples run as written, one after the other, in one namespace."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import pytest

import finder
from finder.lr_finder.climb import INSIDE_THE_FIT

README = Path(__file__).resolve().parents[1] / "README.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def python_blocks() -> list[str]:
    return PYTHON_BLOCK.findall(README.read_text())


def test_readme_has_the_api_and_tuning_examples() -> None:
    blocks = python_blocks()
    assert any("finder.range_test(" in block for block in blocks)
    assert any("finder.tune(" in block for block in blocks)
    assert any("finder.fit(" in block for block in blocks)
    assert any("finder.tuning.hp_schedule(" in block for block in blocks)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_readme_python_examples_run(tmp_path: Path) -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    cwd = Path.cwd()
    os.chdir(tmp_path)  # the examples write curve.png and result.json
    # finder.fit warns when its range test calls its answer unreliable, as it may on this
    # 4,000-image sample (a user sees the warning printed); the examples still run through.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", finder.UnreliableAnswerWarning)
        try:
            for block in python_blocks():
                exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
        finally:
            os.chdir(cwd)
    history = namespace["history"]
    verdict = history.range_test_result.reliability  # type: ignore[attr-defined]
    unreliable = [w for w in caught if issubclass(w.category, finder.UnreliableAnswerWarning)]
    assert bool(unreliable) == (verdict.verdict == "unreliable")
    # The warning came at the handover; after a climb, the reason also says where it went.
    first = [reason.split(f"; {INSIDE_THE_FIT}")[0] for reason in verdict.reasons[:1]]
    assert all(reason in str(unreliable[0].message) for reason in first)
    assert (tmp_path / "curve.png").read_bytes().startswith(b"\x89PNG")
    tuning = namespace["tuning"]
    assert tuning.best is not None  # type: ignore[attr-defined]
    assert all(trial.status == "COMPLETED" for trial in tuning.trials)  # type: ignore[attr-defined]
    assert len(history.history["val_loss"]) == 10  # type: ignore[attr-defined]
    trials = namespace["tuner"].oracle.trials.values()  # type: ignore[attr-defined]
    assert len(trials) == 2 and all(trial.status == "COMPLETED" for trial in trials)
