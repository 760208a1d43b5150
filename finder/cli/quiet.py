"""A quiet start: TensorFlow loaded without its C++ log lines, unless `--verbose`.

On a machine without a GPU, importing TensorFlow 2.21 prints `I0000 ... cudart_stub.cc] Could
not find cuda drivers`, absl's `WARNING: All log messages before absl::InitializeLog() is
called are written to STDERR`, and the first op prints `E0000 ... failed call to cuInit`,
which reads like a failure to a new user. `TF_CPP_MIN_LOG_LEVEL=3` silences what TensorFlow
logs once it runs (the cuInit line included), but not the lines its libraries print while
they load (tensorflow/tensorflow#100442): those are written to file descriptor 2 by C++ code,
under Python's `sys.stderr`. So the commands that train call `load_tensorflow` first, which
sets the log levels and imports TensorFlow with descriptor 2 sent to a temporary file, then
writes back to stderr every captured line that is not such a log line (a Python warning or a
real error still shows).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module

# A C++ log line (absl / TensorFlow's: severity, MMDD, time, thread, file:line]) or absl's note.
NATIVE_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\]"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] \S+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called)"
)
# The environment of a quiet start: TensorFlow's C++ logs (3: none below FATAL) and gRPC's,
# which keras-tuner's distributed oracle uses.
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR"}


@contextmanager
def native_logs_dropped() -> Iterator[None]:
    """Run the block with descriptor 2 captured; replay its lines but the C++ log lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
            kept = [line for line in text.splitlines(True) if not NATIVE_LOG_LINE.match(line)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def load_tensorflow(verbose: bool) -> None:
    """Import TensorFlow for a command: quietly, or with all its logs when `verbose`."""
    if verbose:
        return
    os.environ.update(QUIET_ENVIRONMENT)
    if "tensorflow" in sys.modules:
        return
    with native_logs_dropped():
        import_module("tensorflow")
    # TensorFlow's Python side logs through absl too ("WARNING:absl:...").
    import_module("absl.logging").set_verbosity("error")
