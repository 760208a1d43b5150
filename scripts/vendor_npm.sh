# Sourced by the scripts/vendor_*.sh: `vendor_npm PACKAGE VERSION DEST FILE...` copies FILEs
# (paths inside the package) of the npm package PACKAGE@VERSION into DEST, with a VERSION file.
# Reproducible: the pinned tarball is checked against the registry's published integrity.
vendor_npm() {
  local package=$1 version=$2 dest=$3
  shift 3
  local work
  work=$(mktemp -d)
  trap "rm -rf '$work'" EXIT  # expanded now: \$work is local to this function
  (cd "$work" && npm pack --silent "$package@$version" >/dev/null)
  local tarball="$work/$package-$version.tgz"
  local expected actual
  expected=$(npm view "$package@$version" dist.integrity)
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  [ "$expected" = "$actual" ] || { echo "integrity mismatch: $actual != $expected" >&2; exit 1; }
  tar -xzf "$tarball" -C "$work"
  rm -rf "$dest"
  mkdir -p "$dest"
  for file in "$@"; do
    cp "$work/package/$file" "$dest/"
  done
  echo "$version" > "$dest/VERSION"
  echo "vendored $package $version into $dest"
}
