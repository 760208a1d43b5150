"""The API process stays free of TensorFlow: a job that fails inside TensorFlow reaches it as
plain data (status, reason, kind), not as a pickled TensorFlow exception. The bad labels sit
past the 1,000 that finder's own input checks read (`bench.api_memory.label_error_files`), so
the failure is TensorFlow's, as with any error those checks cannot see."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.api_memory import label_error_files, rss_mib, run_label_error_job, tensorflow_mapped
from tests.service.utils.jobs import auth

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # ~45 s: a real `finder serve` and a job process importing TensorFlow
def test_a_tensorflow_failure_leaves_the_api_process_without_tensorflow(
    serve: Any, tmp_path: Path
) -> None:
    server = serve()
    pid = server.process.pid
    assert not tensorflow_mapped(pid)
    before = rss_mib(pid)
    with httpx.Client(base_url=server.url, headers=auth(), timeout=30) as client:
        job = run_label_error_job(client, *label_error_files(tmp_path))

    # Failed once, classified, with the line of TensorFlow's message that says what went wrong.
    assert (job["status"], job["attempts"], job["failure_kind"]) == ("failed", 1, "input")
    assert job["error"].startswith("InvalidArgumentError: Received a label value of 50")
    assert not tensorflow_mapped(pid)
    # Importing TensorFlow adds ~740 MiB (see BENCHMARKS.md); a job's bookkeeping, a few.
    assert rss_mib(pid) - before < 100


def test_drawing_a_curve_leaves_the_api_process_without_keras(tmp_path: Path) -> None:
    """The curve route reads a finished job's result (its proposals included) and draws it in
    the API process: a fresh interpreter doing the same must not import Keras."""
    document = Path(__file__).parent / "utils" / "data" / "find_lr_result.json"
    assert json.loads(document.read_text())["proposals"]  # the case that imported Keras
    script = (
        "import sys, types\n"
        "from pathlib import Path\n"
        "from service.api.routes.jobs import render_curve\n"
        f"job = types.SimpleNamespace(id='j', status='succeeded', kind='find_lr',"
        f" result=Path({str(document)!r}).read_text())\n"
        f"path = render_curve(job, Path({str(tmp_path)!r}), 'svg')\n"
        "assert path.stat().st_size > 1000, path\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]", done.stdout
