#!/usr/bin/env bash
# Vendor Swagger UI into service/static/vendor/swagger-ui/ from the npm registry, so that the
# service's /docs page works offline (FastAPI's default page loads it from a CDN).
# Reproducible: a pinned version, checked against the registry's published integrity.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=5.35.0
DEST=service/static/vendor/swagger-ui
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$VERSION" >/dev/null)
tarball="$work/swagger-ui-dist-$VERSION.tgz"
expected=$(npm view "swagger-ui-dist@$VERSION" dist.integrity)
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
[ "$expected" = "$actual" ] || { echo "integrity mismatch: $actual != $expected" >&2; exit 1; }
tar -xzf "$tarball" -C "$work"
rm -rf "$DEST"
mkdir -p "$DEST"
for file in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt; do
  cp "$work/package/$file" "$DEST/"
done
echo "$VERSION" > "$DEST/VERSION"
echo "vendored swagger-ui-dist $VERSION into $DEST"
