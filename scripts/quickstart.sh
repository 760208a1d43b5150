#!/usr/bin/env bash
# Set up finder in .venv and run the range test on its bundled default (fashion_cnn, the
# bundled Fashion-MNIST sample, SGD). Extra arguments go to `finder run`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
bootstrap ""
exec .venv/bin/finder run "$@"
