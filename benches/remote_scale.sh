#!/usr/bin/env bash
# Scale measurements of `twice` on Remote Execution (issue 17), against the
# BuildGrid test cluster of scripts/reapi-cluster.sh with 2 workers:
#   (a) one audit of fixtures/demo locally vs remotely (median of 3);
#   (b) re-executing 200 logged actions (2 runs each) with -j 1 vs -j 16;
#   (c) bytes uploaded by a second audit of an unchanged tree;
#   (d) bytes of output files downloaded when the outputs are identical.
# Prints a Markdown table (the numbers in docs/PERFORMANCE.md come from it).
#
# usage: benches/remote_scale.sh            # starts and stops its own cluster
#        TWICE_REAPI_ENV=STATE/env benches/remote_scale.sh   # uses a running one
# TWICE=path/to/twice picks the binary (default: target/release/twice, built).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}
twice=${TWICE:-$target/release/twice}
[ -x "$twice" ] || cargo build --release --locked -q
work=$(mktemp -d /tmp/twice-remote-scale.XXXXXX)
state=""
cleanup() {
    if [ -n "$state" ]; then scripts/reapi-cluster.sh stop "$state" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${TWICE_REAPI_ENV:-}" ]; then
    state=$work/cluster
    scripts/reapi-cluster.sh start "$state" --workers 2 >&2
    TWICE_REAPI_ENV=$state/env
fi
# shellcheck disable=SC1090
. "$TWICE_REAPI_ENV"
remote=(--remote "$TWICE_REAPI_URL" --remote-instance "$TWICE_REAPI_INSTANCE")
declared=$(echo "$TWICE_REAPI_VARIATIONS" | sed 's/faketime/time/; s/file-order/file_order/')

median3() { sort -n | sed -n 2p; }
seconds() { # run "$@", print its wall time in seconds
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null 2>"$work/last.err" || [ $? -le 1 ]
    e=$(date +%s.%N)
    echo "$e - $s" | bc
}
field() { # the number after "$1" in the traffic line of the last run
    grep -o "$1 [0-9]*" "$work/last.err" | head -n 1 | awk '{print $NF}'
}

# (a) local vs remote audit of the demo.
local_s=$(for _ in 1 2 3; do seconds "$twice" audit -C fixtures/demo -q -- make; done | median3)
remote_s=$(for _ in 1 2 3; do
    seconds "$twice" audit -C fixtures/demo "${remote[@]}" --remote-variations "$declared" -- make
done | median3)

# (c) a second audit of the unchanged tree (the first ran just above).
"$twice" audit -C fixtures/demo "${remote[@]}" -- make >/dev/null 2>"$work/last.err" || true
second_up=$(field uploaded)

# (d) identical outputs: the fixed demo under every variation.
"$twice" audit -C fixtures/demo-fixed --vary all "${remote[@]}" --remote-variations "$declared" \
    -- make >/dev/null 2>"$work/last.err"
identical_down=$(field downloaded)
identical_meta=$(grep -o 'and [0-9]* B of trees' "$work/last.err" | awk '{print $2}')

# (b) 200 logged actions: a Bazel JSON log written here, one shared input.
mkdir -p "$work/execroot"
printf 'shared input\n' >"$work/execroot/in.txt"
hash=$(sha256sum "$work/execroot/in.txt" | cut -c1-64)
for i in $(seq 1 200); do
    cat <<EOF
{"commandArgs": ["/bin/sh", "-c", "cat in.txt > out/a$i.txt; echo $i >> out/a$i.txt"],
 "environmentVariables": [{"name": "PATH", "value": "/bin:/usr/bin"}],
 "inputs": [{"path": "in.txt", "digest": {"hash": "$hash", "sizeBytes": "13"}}],
 "listedOutputs": ["out/a$i.txt"], "mnemonic": "Genrule",
 "progressMessage": "Executing genrule //:a$i"}
EOF
done >"$work/200.exec.json"
reexec() {
    seconds "$twice" execlog "$work/200.exec.json" --reexecute "$TWICE_REAPI_URL" \
        --remote-instance "$TWICE_REAPI_INSTANCE" --action Genrule --exec-root "$work/execroot" \
        -j "$1"
}
j1=$(reexec 1)
j16=$(reexec 16)

cat <<EOF
| measurement | value |
|---|---|
| (a) audit of fixtures/demo, local (bubblewrap), median of 3 | ${local_s} s |
| (a) audit of fixtures/demo, remote, 2 workers, median of 3 | ${remote_s} s |
| (b) re-execute 200 actions x 2 runs, -j 1 | ${j1} s |
| (b) re-execute 200 actions x 2 runs, -j 16 | ${j16} s |
| (c) bytes uploaded by a second audit of the unchanged demo | ${second_up} B |
| (d) output-file bytes downloaded, fixed demo (identical outputs) | ${identical_down} B (trees and wrapper records: ${identical_meta} B) |
EOF
