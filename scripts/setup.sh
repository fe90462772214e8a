#!/usr/bin/env bash
# Install what twice needs from the system: the tools its build variations
# use (bubblewrap, faketime, disorderfs, util-linux) and the toolchains its
# fixture scripts and the demo project drive (gcc, binutils, make, python3
# with setuptools and wheel, tar, gzip, zip), and PostgreSQL for the REAPI
# test cluster (scripts/reapi-cluster.sh), strace for `twice audit --trace`,
# npm for the SARIF validator.
# Idempotent: does nothing when everything is already present.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have bwrap || need+=(bubblewrap)
have faketime || need+=(faketime)
have disorderfs || need+=(disorderfs)
have unshare || need+=(util-linux)
have gcc || need+=(gcc)
have ar || need+=(binutils)
have python3 || need+=(python3)
have tar || need+=(tar)
have gzip || need+=(gzip)
have zip || need+=(zip)
have make || need+=(make)
have strace || need+=(strace)
have npm || need+=(npm)
have setpriv || need+=(util-linux)
have fusermount3 || have fusermount || need+=(fuse3)
have domainname || need+=(hostname)
have localedef || need+=(libc-bin)
[ -d /usr/share/i18n/locales ] || need+=(locales)
{ have pg_ctlcluster && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; } || need+=(postgresql)
have cargo || { echo "setup: cargo not found; install Rust with rustup first" >&2; exit 1; }

if ((${#need[@]})); then
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        have sudo || { echo "setup: need root or sudo to install: ${need[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    echo "setup: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The demo project and the archive fixtures build wheels with pip, setuptools
# and wheel (`pip wheel --no-build-isolation`), offline.
if ! python3 -c 'import setuptools, wheel' >/dev/null 2>&1; then
    echo "setup: installing the Python packages wheel and setuptools" >&2
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        wheel setuptools
fi

# Validators the CI renderers' tests check their output with: Microsoft's
# SARIF multitool (npm) and junitparser (PyPI), under target/. Each script
# says so and does nothing when its registry is out of reach.
here=$(cd "$(dirname "$0")" && pwd)
"$here/sarif-validator.sh" >/dev/null || true
"$here/junitparser.sh" >/dev/null || true
