#!/usr/bin/env bash
# Build ferrograd's release files and audit them:
#   - one abi3 wheel for CPython >= 3.9 on x86_64 Linux with glibc >= 2.17 (manylinux2014), linked
#     by zig (the `ziglang` package from PyPI) against an old glibc, so this machine's newer glibc
#     does not leak into the wheel;
#   - the sdist.
# Then: auditwheel show (the platform tag the wheel really qualifies for), abi3audit (no symbol
# outside the stable ABI of 3.9), check-wheel-contents (no stray or duplicate files), twine check
# (metadata PyPI accepts, README renders), and the LICENSE inside both files. Any failed check
# stops the script with that tool's own message and a non-zero exit.
#
# Usage, inside a virtualenv (the pinned tools in scripts/release-tools.txt are installed into it):
#   scripts/build-dist.sh [OUT_DIR]      # default: dist/
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
tag=manylinux_2_17_x86_64

python -m pip install --quiet -r scripts/release-tools.txt
mkdir -p "$out"
rm -f "$out"/ferrograd-*.whl "$out"/ferrograd-*.tar.gz

echo "+ maturin build --release --zig --compatibility manylinux2014"
maturin build --quiet --release --zig --compatibility manylinux2014 --out "$out"
echo "+ maturin sdist"
maturin sdist --out "$out"
wheel=$(ls "$out"/ferrograd-*.whl)
sdist=$(ls "$out"/ferrograd-*.tar.gz)

scripts/audit-dist.sh "$wheel" "$sdist" "$tag"
