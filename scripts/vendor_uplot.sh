#!/usr/bin/env bash
# Vendor uPlot (the dashboard's chart library) into service/static/vendor/uplot/ from the npm
# registry: its ES module build, its stylesheet and its licence, served with the dashboard.
# Reproducible: a pinned version, checked against the registry's published integrity.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.6.32
DEST=service/static/vendor/uplot
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$VERSION" >/dev/null)
tarball="$work/uplot-$VERSION.tgz"
expected=$(npm view "uplot@$VERSION" dist.integrity)
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
[ "$expected" = "$actual" ] || { echo "integrity mismatch: $actual != $expected" >&2; exit 1; }
tar -xzf "$tarball" -C "$work"
rm -rf "$DEST"
mkdir -p "$DEST"
for file in dist/uPlot.esm.js dist/uPlot.min.css LICENSE; do
  cp "$work/package/$file" "$DEST/"
done
echo "$VERSION" > "$DEST/VERSION"
echo "vendored uplot $VERSION into $DEST"
