#!/usr/bin/env bash
# Set up everything the tests need (Debian packages, .venv with the service and dev extras),
# check the import contracts (`lint-imports`, pyproject.toml's [tool.importlinter]), lint and
# types (ruff, mypy), and run the test suite on two processes. Extra arguments go to pytest
# (default: the fast suite, `-m 'not slow'`; `bash scripts/test.sh -m slow -n 0` runs the long
# tests in one process, as CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
# dataset-fashion-mnist: the full data set (slow tests, benchmarks); postgresql: the service's
# PostgreSQL tests; chromium: the dashboard's browser tests; docker-compose: `docker-compose
# config` checks docker-compose.yml (no Docker engine needed).
bootstrap "[service,dev]" dataset-fashion-mnist postgresql chromium docker-compose
.venv/bin/lint-imports --no-cache
# Lint, format and the strict types of the library ([tool.ruff] and [tool.mypy] in pyproject.toml).
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# Two test processes (pytest-xdist): much of the suite waits on subprocesses, servers and Ray,
# so two share a small machine's cores well. `-n 0` after it runs them in one process.
exec .venv/bin/pytest -n 2 "$@"
