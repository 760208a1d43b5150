"""A quiet start: `finder run` in a fresh process prints no TensorFlow C++ log line unless
`--verbose`; and the package metadata uses the SPDX license form setuptools asks for."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from finder.cli.quiet import NATIVE_LOG_LINE
from tests.utils.processes import ROOT, run_python

# The lines a new user saw: absl's pre-init note, `I0000 ... cudart_stub`, `E0000 ... cuInit`.
NOISE = re.compile(r"^(?:[IWE]0000 |WARNING: All log messages before absl)|cuInit|cudart_stub")


def run_cli(tmp_path: Path, *extra: str) -> str:
    """The cheapest `finder run` that loads TensorFlow and trains: 5 steps of an MLP on 64
    images. Output of both streams, from a process with the user's plain environment."""
    data = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x_train=rng.random((64, 28, 28, 1), "float32"), y_train=np.arange(64) % 10)
    env = {
        k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY")
    }
    arguments = ["--model", "mlp", "--data", str(data), "--lr-range", "1e-3", "1", "--steps", "5"]
    arguments += ["--repeats", "1", "--epochs", "0", "--out", str(tmp_path / "out"), *extra]
    code = "from finder.cli import main; main()"
    completed = run_python("-c", code, "run", *arguments, cwd=tmp_path, env=env)
    assert (tmp_path / "out" / "result.json").exists()
    return completed.stdout + completed.stderr


def test_finder_run_prints_no_native_log_line(tmp_path: Path):
    output = run_cli(tmp_path)
    assert [line for line in output.splitlines() if NOISE.search(line)] == []
    assert "sweep" in output  # the summary itself still shows


def test_verbose_keeps_tensorflows_own_lines(tmp_path: Path):
    output = run_cli(tmp_path, "--verbose")
    # On a machine without CUDA, TensorFlow says so; a GPU machine logs its devices.
    assert any(NATIVE_LOG_LINE.match(line) for line in output.splitlines())


@pytest.mark.parametrize(
    "line, native",
    [
        # absl's format (TF 2.21): severity + MMDD, time, thread, file:line]
        ("E0000 00:00:1796251043.948358    3786 cuda_platform.cc:52] failed call to cuInit", True),
        ("I0000 00:00:1796251033.223808    3786 cudart_stub.cc:31] Could not find cuda", True),
        ("WARNING: All log messages before absl::InitializeLog() is called are written", True),
        # TensorFlow's older own format
        ("2025-09-17 14:44:05.157831: I external/local_xla/xla/tsl/cudart_stub.cc:32] x", True),
        # Python's warnings and finder's errors are kept
        ("UserWarning: Learning rate reduction is conditioned on metric", False),
        ("Error: The data's samples have shape (4,), the model expects (8,).", False),
    ],
)
def test_native_log_pattern(line: str, native: bool):
    assert bool(NATIVE_LOG_LINE.match(line)) is native


def test_license_is_an_spdx_string_with_its_file():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    for pattern in project["project"]["license-files"]:
        assert list(ROOT.glob(pattern)), pattern
    # PEP 639 license strings and license-files need setuptools >= 77.
    assert "setuptools>=77" in project["build-system"]["requires"]
