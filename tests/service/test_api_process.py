"""The API process stays free of TensorFlow: a job that fails inside TensorFlow reaches it as
plain data (status, reason, kind), not as a pickled TensorFlow exception. The bad labels sit
past the 1,000 that finder's own input checks read (`bench.api_memory.label_error_files`), so
the failure is TensorFlow's, as with any error those checks cannot see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.api_memory import label_error_files, rss_mib, run_label_error_job, tensorflow_mapped
from tests.service.utils.jobs import auth


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
