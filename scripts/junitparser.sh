#!/usr/bin/env bash
# Install PyPI's junitparser (a maintained JUnit XML reader) into a
# virtualenv under target/junitparser-venv/, for tests/it/ci.rs and .ci/run:
# the JUnit report is read back by a consumer that is not twice's own code.
#
#   scripts/junitparser.sh          install (idempotent), print the venv's python
#   scripts/junitparser.sh --check  only say whether it is installed
#
# Offline-tolerant: when python3 (with venv) is missing or PyPI cannot be
# reached, it says so and exits 0, and the JUnit consumer test skips with a
# message (unless TWICE_REQUIRE_VALIDATORS=1, as in CI, makes it fail).
# Environment: TWICE_JUNITPARSER_VENV (default target/junitparser-venv),
# TWICE_JUNITPARSER_PYTHON (the interpreter to make it with, default python3).
set -euo pipefail

version=5.0.3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(dirname "$here")
venv=${TWICE_JUNITPARSER_VENV:-$repo/target/junitparser-venv}
python=${TWICE_JUNITPARSER_PYTHON:-python3}

log() { echo "junitparser: $*" >&2; }

installed() {
    [ -x "$venv/bin/python" ] \
        && [ "$("$venv/bin/python" -c 'import junitparser; print(junitparser.version)' 2>/dev/null)" = "$version" ]
}

if installed; then
    echo "$venv/bin/python"
    exit 0
fi
if [ "${1:-}" = --check ]; then
    log "not installed (run scripts/junitparser.sh)"
    exit 1
fi
if ! command -v "$python" >/dev/null 2>&1; then
    log "$python not found: the JUnit consumer test will skip"
    exit 0
fi
if [ ! -x "$venv/bin/python" ] && ! "$python" -m venv "$venv" >&2; then
    log "could not create a virtualenv (apt-get install python3-venv): the JUnit consumer test will skip"
    rm -rf "$venv"
    exit 0
fi
log "installing junitparser==$version into $venv"
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "junitparser==$version" >&2; then
    log "pip install failed (offline?): the JUnit consumer test will skip"
    exit 0
fi
if ! installed; then
    log "installed, but junitparser $version does not import: the JUnit consumer test will skip"
    exit 0
fi
echo "$venv/bin/python"
