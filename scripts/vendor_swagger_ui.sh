#!/usr/bin/env bash
# Vendor Swagger UI into service/static/vendor/swagger-ui/ from the npm registry, so that the
# service's /docs page works offline (FastAPI's default page loads it from a CDN).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/vendor_npm.sh
vendor_npm swagger-ui-dist 5.35.0 service/static/vendor/swagger-ui \
  swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt
