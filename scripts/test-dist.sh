#!/usr/bin/env bash
# Install a built wheel or sdist, with its test extra, into a fresh virtualenv made by PYTHON, and
# run the test suite of this checkout against it (the installed package, never python/ here).
#   scripts/test-dist.sh PYTHON WHEEL_OR_SDIST [VENV_DIR]    # venv default: build/venv-test
# .ci/run calls it with a PATH that has no cargo, so a wheel that needs a Rust toolchain fails.
set -euo pipefail
py=$1
dist=$(realpath "$2")
cd "$(dirname "$0")/.."
venv=${3:-build/venv-test}
rm -rf "$venv"
"$py" -m venv "$venv"
bin=$venv/bin
[ -d "$bin" ] || bin=$venv/Scripts # Windows
"$bin/python" -m pip install --quiet --upgrade pip
"$bin/python" -m pip install --quiet "${dist}[test]"
"$bin/python" -c '
import sys, ferrograd
assert "site-packages" in ferrograd.__file__, ferrograd.__file__
print("ferrograd", ferrograd.__version__, "from", ferrograd.__file__, "on Python", sys.version.split()[0])
'
"$bin/python" -m pytest -q -p no:cacheprovider
