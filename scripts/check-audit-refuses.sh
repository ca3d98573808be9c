#!/usr/bin/env bash
# The audit of scripts/audit-dist.sh must refuse a bad wheel, not only pass a good one. From a
# good WHEEL it makes two bad ones and checks that each fails the audit with its reason:
#   - the same wheel tagged linux_x86_64 (PyPI refuses that tag);
#   - the same wheel without its LICENSE (dropped from the archive and from RECORD).
#   scripts/check-audit-refuses.sh WHEEL SDIST
set -euo pipefail
wheel=$(realpath "$1")
sdist=$(realpath "$2")
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

expect_refusal() {
    local what=$1 bad=$2 reason=$3
    if scripts/audit-dist.sh "$bad" "$sdist" >"$work/log" 2>&1; then
        echo "check-audit-refuses: the audit passed $what" >&2
        exit 1
    fi
    if ! grep -q "$reason" "$work/log"; then
        echo "check-audit-refuses: the audit refused $what, but not for: $reason" >&2
        tail -n 5 "$work/log" >&2
        exit 1
    fi
    echo "check-audit-refuses: $what refused: $(grep "$reason" "$work/log" | head -n 1)"
}

name=$(basename "$wheel")
linux=$work/${name%%-cp39-abi3-*}-cp39-abi3-linux_x86_64.whl
cp "$wheel" "$linux"
expect_refusal "a linux_x86_64 wheel" "$linux" "does not carry the tag manylinux_2_17_x86_64"

mkdir "$work/nolicense"
python - "$wheel" "$work/nolicense/$name" <<'PY'
import sys
import zipfile

src, dst = sys.argv[1:]
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
    for item in zin.infolist():
        if item.filename.endswith("/licenses/LICENSE"):
            continue
        data = zin.read(item.filename)
        if item.filename.endswith(".dist-info/RECORD"):
            data = b"".join(line + b"\n" for line in data.splitlines() if b"/licenses/LICENSE" not in line)
        zout.writestr(item, data)
PY
expect_refusal "a wheel without LICENSE" "$work/nolicense/$name" "no LICENSE in"
