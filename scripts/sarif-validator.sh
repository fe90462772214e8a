#!/usr/bin/env bash
# Install Microsoft's SARIF validator (npm @microsoft/sarif-multitool, a
# self-contained .NET program in a per-platform npm package) into
# target/sarif-validator/, for tests/it/ci.rs and .ci/run.
#
#   scripts/sarif-validator.sh          install (idempotent), print the tool's path
#   scripts/sarif-validator.sh --check  only say whether it is installed
#
# Offline-tolerant: when node/npm are missing or the registry cannot be
# reached, it says so and exits 0, and the SARIF validation test skips with a
# message (unless TWICE_REQUIRE_VALIDATORS=1, as in CI, makes it fail).
# Environment: TWICE_SARIF_VALIDATOR_DIR (default target/sarif-validator).
set -euo pipefail

version=5.7.0
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(dirname "$here")
dir=${TWICE_SARIF_VALIDATOR_DIR:-$repo/target/sarif-validator}
tool=$dir/node_modules/.bin/sarif-multitool

log() { echo "sarif-validator: $*" >&2; }

installed() {
    [ -x "$tool" ] && [ -f "$dir/.version" ] && [ "$(cat "$dir/.version")" = "$version" ] \
        && "$tool" --version >/dev/null 2>&1
}

if installed; then
    echo "$tool"
    exit 0
fi
if [ "${1:-}" = --check ]; then
    log "not installed (run scripts/sarif-validator.sh)"
    exit 1
fi
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    log "node and npm are not installed: the SARIF validation test will skip"
    log "(apt-get install nodejs npm, then run this script again)"
    exit 0
fi
mkdir -p "$dir"
# A package.json of its own, so npm installs here and not into a parent
# project; no lock file, no audit, no funding messages.
[ -f "$dir/package.json" ] || echo '{ "name": "twice-sarif-validator", "private": true }' > "$dir/package.json"
log "installing @microsoft/sarif-multitool@$version into $dir"
if ! npm install --prefix "$dir" --no-audit --no-fund --no-package-lock --loglevel=error \
    "@microsoft/sarif-multitool@$version" >&2; then
    log "npm install failed (offline?): the SARIF validation test will skip"
    exit 0
fi
echo "$version" > "$dir/.version"
if ! installed; then
    log "installed, but $tool does not run: the SARIF validation test will skip"
    exit 0
fi
echo "$tool"
