#!/usr/bin/env bash
# The backend-neutral tests on Keras's PyTorch backend: installs torch's CPU build into .venv
# (set up by scripts/test.sh) and runs them with KERAS_BACKEND=torch. The CPU build is torch
# 2.13.0+cpu, the version tests/schedules/torch_reference.json was written with; where the
# package index does not serve it, `pip install torch --index-url
# https://download.pytorch.org/whl/cpu` installs a CPU build by hand. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/pip install --quiet "torch==2.13.0+cpu"
fi
KERAS_BACKEND=torch exec .venv/bin/pytest -m 'backend_neutral and not slow' "$@"
