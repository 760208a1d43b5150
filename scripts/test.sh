#!/usr/bin/env bash
# Set up everything the tests need (Debian packages, .venv with the service and dev extras)
# and run the test suite. Extra arguments go to pytest (default: the fast suite, `-m 'not slow'`;
# `bash scripts/test.sh -m slow` runs the long tests).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
# dataset-fashion-mnist: the full data set (slow tests, benchmarks); postgresql: the service's
# PostgreSQL tests; chromium: the dashboard's browser tests.
bootstrap "[service,dev]" dataset-fashion-mnist postgresql chromium
exec .venv/bin/pytest "$@"
