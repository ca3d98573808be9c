#!/usr/bin/env bash
# Release check: the manylinux2014 wheel on an older system than this one. Makes a Debian bullseye
# root (glibc 2.31, Python 3.9) with debootstrap from Debian's packages, installs the wheel into a
# virtualenv inside it with the extras the README examples use (dask, scipy; from PyPI), and runs `python -m ferrograd demo`
# and every Python example of the README (tests/test_readme.py) there.
#
# Usage, as root on a Debian or Ubuntu machine with network access to both archives:
#   scripts/check-bullseye.sh WHEEL [ROOT_DIR]     # root default: build/bullseye (kept for reuse)
set -euo pipefail
cd "$(dirname "$0")/.."
wheel=$(realpath "$1")
root=$(realpath -m "${2:-build/bullseye}")
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

[ "$(id -u)" = 0 ] || { echo "check-bullseye: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
if ! command -v debootstrap >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

cleanup() {
    umount "$root/dev/shm" 2>/dev/null || true
    umount "$root/proc" 2>/dev/null || true
}
trap cleanup EXIT
cleanup  # after an interrupted run
if findmnt -rn -o TARGET | grep -q "^$root/"; then
    echo "check-bullseye: something is still mounted under $root; unmount it first" >&2
    exit 1
fi

start=$SECONDS
if [ ! -e "$root/.ferrograd-ready" ]; then
    rm -rf "$root"
    mkdir -p "$root"
    echo "+ debootstrap bullseye $root"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bullseye "$root" "$mirror" >"$root.debootstrap.log" 2>&1 \
        || { tail -n 20 "$root.debootstrap.log" >&2; exit 1; }
    touch "$root/.ferrograd-ready"
    echo "+ root ready in $((SECONDS - start)) s"
fi

# debootstrap made the device nodes; processes need /proc, and multiprocessing a /dev/shm.
mount -t proc proc "$root/proc"
mkdir -p "$root/dev/shm"
mount -t tmpfs shm "$root/dev/shm"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The root trusts what this machine trusts (a local certificate authority in front of PyPI, say).
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" /usr/sbin/update-ca-certificates >/dev/null
fi

rm -rf "$root/check"
mkdir -p "$root/check/tests"
cp "$wheel" "$root/check/"
cp README.md "$root/check/"
cp tests/conftest.py tests/test_readme.py "$root/check/tests/"
name=$(basename "$wheel")

chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin:/usr/sbin LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 /bin/bash -euo pipefail -c "
    . /etc/os-release
    echo \"+ inside: \$PRETTY_NAME, \$(ldd --version | head -n 1), \$(python3 --version)\"
    python3 -m venv /check/venv
    /check/venv/bin/python -m pip install --quiet --upgrade pip
    /check/venv/bin/python -m pip install --quiet '/check/${name}[dask,scipy]' pytest
    cd /check
    echo '+ python -m ferrograd demo --no-progress'
    /check/venv/bin/python -m ferrograd demo --no-progress
    echo '+ the README examples: python -m pytest tests/test_readme.py'
    /check/venv/bin/python -m pytest -q -p no:cacheprovider tests/test_readme.py
"
echo "check-bullseye: $name passes on bullseye ($((SECONDS - start)) s)"
