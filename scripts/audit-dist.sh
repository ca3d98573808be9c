#!/usr/bin/env bash
# Audit a built wheel and sdist (scripts/build-dist.sh calls this; it also runs on its own):
#   scripts/audit-dist.sh WHEEL SDIST [PLATFORM_TAG]   # tag default: manylinux_2_17_x86_64
# Exits non-zero, after the failing tool's own message, at the first check that fails.
set -euo pipefail
wheel=$1
sdist=$2
tag=${3:-manylinux_2_17_x86_64}

fail() {
    echo "audit-dist: $*" >&2
    exit 1
}

echo "+ auditwheel show $(basename "$wheel")"
shown=$(auditwheel show "$wheel" 2>&1) || fail "auditwheel show failed: $shown"
echo "$shown"
# auditwheel names the most compatible tag the wheel's symbols allow; it must be the one promised.
flat=$(echo "$shown" | tr -s ' \n' '  ')
case "$flat" in
    *"consistent with the following platform tag: \"$tag\""*) ;;
    *) fail "auditwheel does not find $(basename "$wheel") consistent with $tag (see above)" ;;
esac
case "$(basename "$wheel")" in
    *-cp39-abi3-*"${tag#manylinux_2_17_}"*) ;;
    *) fail "$(basename "$wheel") is not tagged cp39-abi3 for ${tag#manylinux_2_17_}" ;;
esac
case "$(basename "$wheel")" in
    *"$tag"*) ;;
    *) fail "$(basename "$wheel") does not carry the tag $tag" ;;
esac

echo "+ abi3audit --strict --verbose $(basename "$wheel")"
abi3audit --strict --verbose "$wheel"

echo "+ check-wheel-contents $(basename "$wheel")"
check-wheel-contents "$wheel"

echo "+ twine check --strict"
twine check --strict "$wheel" "$sdist"

echo "+ LICENSE in both"
python - "$wheel" "$sdist" <<'PY'
import sys
import tarfile
import zipfile

wheel, sdist = sys.argv[1:]
in_wheel = [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/licenses/LICENSE")]
with tarfile.open(sdist) as tar:
    names = tar.getnames()
in_sdist = [n for n in names if n.count("/") == 1 and n.endswith("/LICENSE")]
missing = [f for f, found in ((wheel, in_wheel), (sdist, in_sdist)) if not found]
if missing:
    sys.exit("audit-dist: no LICENSE in " + ", ".join(missing))
# What users do not need stays out of the sdist: benchmark results and CI scratch.
junk = [n for n in names if "/benchmarks/results" in n or "/.ci/" in n or "/.venv" in n
        or "/target/" in n or "/.github/" in n or "/dist/" in n or "__pycache__" in n]
if junk:
    sys.exit("audit-dist: the sdist carries files users do not need: " + ", ".join(junk))
print(f"LICENSE: {in_wheel[0]} in the wheel, {in_sdist[0]} in the sdist; no junk in the sdist")
PY
size=$(du -k "$wheel" | cut -f1)
echo "audit-dist: $(basename "$wheel") (${size} KiB) and $(basename "$sdist") pass"
