#!/usr/bin/env bash
# The release workflow publishes only when the pushed tag names the package's one version, the
# one in Cargo.toml that maturin writes into the wheel and sdist metadata.
#   scripts/check-tag-version.sh vX.Y.Z     # exit 0 when it matches, 1 with a message otherwise
#   scripts/check-tag-version.sh --print    # the version in Cargo.toml
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(python3 -c '
import re, sys
text = open("Cargo.toml", encoding="utf-8").read()
package = re.search(r"^\[package\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M).group(1)
print(re.search(r"^version\s*=\s*\"([^\"]+)\"", package, re.M).group(1))
')
if [ "${1:-}" = "--print" ]; then
    echo "$version"
    exit 0
fi
tag=${1:?usage: scripts/check-tag-version.sh vX.Y.Z | --print}
if [ "${tag#refs/tags/}" != "v$version" ]; then
    echo "check-tag-version: tag ${tag#refs/tags/} does not match the package version $version (Cargo.toml); refusing to publish" >&2
    exit 1
fi
echo "check-tag-version: tag ${tag#refs/tags/} is version $version"
