#!/usr/bin/env bash
# Vendor uPlot (the dashboard's chart library) into service/static/vendor/uplot/ from the npm
# registry: its ES module build, its stylesheet and its licence, served with the dashboard.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/vendor_npm.sh
vendor_npm uplot 1.6.32 service/static/vendor/uplot dist/uPlot.esm.js dist/uPlot.min.css LICENSE
