#!/usr/bin/env bash
# A real Remote Execution (REAPI v2) test cluster for twice's integration tests
# and CI: BuildGrid (from PyPI, in a virtualenv under target/) on PostgreSQL,
# with N test bots (tests/support/reapi_bot.py, a stand-in for real workers).
#
#   scripts/reapi-cluster.sh start STATE_DIR [--workers N] [--instance NAME]
#   scripts/reapi-cluster.sh stop STATE_DIR
#   scripts/reapi-cluster.sh status STATE_DIR
#
# `start` leaves STATE_DIR/env (KEY=VALUE lines a shell can source:
# TWICE_REAPI_URL, TWICE_REAPI_INSTANCE, TWICE_REAPI_VARIATIONS, the PIDs, ...)
# and logs in STATE_DIR/logs. `stop` ends exactly the process groups `start`
# created, drops the database and role, and stops PostgreSQL if `start` started
# it and no other STATE_DIR still uses it. Both are idempotent; `stop` cleans
# whatever a half-finished `start` left. See tests/support/README.md.
#
# Environment: TWICE_REAPI_PYTHON (a CPython >= 3.11), TWICE_REAPI_VENV,
# TWICE_REAPI_START_TIMEOUT (seconds, default 120), TWICE_REAPI_POSTGRES
# (system: the Debian cluster, needs root; private: initdb in STATE_DIR, the
# default for other users), TWICE_REAPI_EXTRA_PROPERTY_KEYS (comma-separated
# platform property keys the server should accept, not match),
# TWICE_REAPI_BOT_ARGS (extra arguments for every bot, e.g. --no-namespaces).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(dirname "$here")
support=$repo/tests/support
reqs=$support/reapi-requirements.txt
venv=${TWICE_REAPI_VENV:-$repo/target/reapi-venv}
start_timeout=${TWICE_REAPI_START_TIMEOUT:-120}

log() { echo "reapi-cluster: $*" >&2; }
die() { echo "reapi-cluster: error: $*" >&2; exit 1; }
usage() { sed -n '6,8p' "${BASH_SOURCE[0]}" | sed 's/^#   /usage: /' >&2; exit 2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Process bookkeeping: STATE/pids holds "NAME PID STARTTIME" per process group
# that start created; STARTTIME (field 22 of /proc/PID/stat) tells a PID from a
# later reuse of the same number.
starttime() { awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
alive() { # PID STARTTIME: running (not a zombie) and the same process
    local st
    st=$(awk '{ sub(/.*\) /, ""); print $1, $20 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "${st% *}" != Z ] && [ "${st#* }" = "$2" ]
}
spawn() { # NAME LOGFILE CMD...: a new session (process group) per process
    local name=$1 logfile=$2 pid
    shift 2
    # Not a group leader (no job control here), so setsid execs in place: $! is
    # the new group's id. The lock descriptors must not leak into the child.
    setsid "$@" </dev/null >"$logfile" 2>&1 8>&- 9>&- &
    pid=$!
    echo "$name $pid $(starttime "$pid")" >>"$state/pids"
    spawned_pid=$pid
}

lock_state() {
    exec 9>"$state/.lock"
    if ! flock -n 9; then
        log "waiting for another start/stop on $state to finish"
        flock -w 300 9 || die "another start/stop still holds $state/.lock after 300 s"
    fi
}

# --- Python and BuildGrid ---------------------------------------------------------

pick_python() {
    local c
    for c in ${TWICE_REAPI_PYTHON:-} python3.11 python3.12 python3.13 python3; do
        command -v "$c" >/dev/null 2>&1 || continue
        if "$c" -c 'import sys, venv; sys.exit(sys.version_info[:2] < (3, 11))' 2>/dev/null; then
            command -v "$c"
            return
        fi
    done
    die "BuildGrid 0.4.4 needs CPython >= 3.11 with the venv module; set TWICE_REAPI_PYTHON"
}

ensure_venv() {
    local py stamp want t0
    mkdir -p "$(dirname "$venv")"
    exec 8>"$venv.lock"
    flock -w 900 8 || die "another process is installing $venv"
    py=$(pick_python)
    want="$(sha256sum "$reqs" | cut -c1-64) $("$py" -c 'import sys; print(sys.version.split()[0])')"
    stamp=$venv/.twice-reapi-complete
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/bgd" ]; then
        venv_note="reused"
    else
        t0=$(now)
        log "installing BuildGrid into $venv (pip, PyPI)"
        rm -rf "$venv"
        "$py" -m venv "$venv" || die "python -m venv failed (Debian's python3 needs the python3-venv package)"
        PIP_NO_INPUT=1 "$venv/bin/pip" install --disable-pip-version-check --root-user-action=ignore \
            --quiet -r "$reqs" >"$state/logs/pip.log" 2>&1 ||
            { tail -n 20 "$state/logs/pip.log" >&2; rm -rf "$venv"; die "pip install failed (log: $state/logs/pip.log)"; }
        echo "$want" >"$stamp"
        venv_note="installed in $(since "$t0") s"
    fi
    flock -u 8
    exec 8>&-
}

# --- PostgreSQL ---------------------------------------------------------------------
# system: the Debian cluster (pg_ctlcluster), shared by every STATE_DIR; needs
#   root. A registry under /run/twice-reapi records which STATE_DIRs use it and
#   whether one of them started it, so the last one out stops it only then.
# private: a throw-away cluster made with initdb in STATE_DIR/pg (for users
#   who are not root: they cannot start or administer the Debian cluster).

pg_mode() {
    local m=${TWICE_REAPI_POSTGRES:-}
    [ -n "$m" ] || { [ "$(id -u)" -eq 0 ] && m=system || m=private; }
    case $m in system | private) echo "$m" ;; *) die "TWICE_REAPI_POSTGRES must be system or private" ;; esac
}

pg_bindir() {
    local d
    d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/postgres" ] ||
        die "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/postgres): run scripts/setup.sh"
    echo "$d"
}

pg_pick_cluster() { # sets pg_ver pg_name pg_port; creates a cluster if there is none
    command -v pg_lsclusters >/dev/null || die "pg_lsclusters not found: run scripts/setup.sh (package postgresql)"
    local line
    line=$(pg_lsclusters -h | awk '$1 == 15 && $2 == "main"' | head -n 1)
    [ -n "$line" ] || line=$(pg_lsclusters -h | head -n 1)
    if [ -z "$line" ]; then
        local bindir
        bindir=$(pg_bindir)
        bindir=${bindir%/bin}
        log "no PostgreSQL cluster: creating ${bindir##*/}/main"
        pg_createcluster "${bindir##*/}" main >/dev/null 8>&- 9>&-
        line=$(pg_lsclusters -h | head -n 1)
    fi
    read -r pg_ver pg_name pg_port _ <<<"$line"
}

pg_status() { pg_lsclusters -h | awk -v v="$1" -v n="$2" '$1 == v && $2 == n { print $4 }'; }

pg_registry_lock() {
    reg=/run/twice-reapi/postgresql-$pg_ver-$pg_name
    mkdir -p "$reg/users"
    exec 8>"$reg.lock"
    flock -w 300 8 || die "timed out waiting for $reg.lock"
}

admin_psql() { # SQL on stdin, as the cluster's superuser
    if [ "$pg_mode" = system ]; then
        (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$pg_port" -d postgres) 8>&- 9>&-
    else
        psql -X -q -v ON_ERROR_STOP=1 -h "$state/pg/sock" -p "$pg_port" -U postgres -d postgres 8>&- 9>&-
    fi
}

drop_db_sql() {
    printf 'SET client_min_messages = warning;\nDROP DATABASE IF EXISTS "%s" WITH (FORCE);\nDROP ROLE IF EXISTS "%s";\n' "$1" "$1"
}

prune_stale_users() { # registry entries whose STATE_DIR no longer records a database
    local f db dir
    for f in "$reg"/users/*; do
        [ -e "$f" ] || continue
        db=${f##*/}
        dir=$(cat "$f")
        if [ ! -f "$dir/db" ] || [ "$(cut -d' ' -f1 "$dir/db")" != "$db" ]; then
            log "dropping $db, left by $dir (gone)"
            drop_db_sql "$db" | admin_psql || true
            rm -f "$f"
        fi
    done
}

pg_acquire() { # start (or join) PostgreSQL; sets pg_port
    if [ "$pg_mode" = system ]; then
        [ "$(id -u)" -eq 0 ] || die "TWICE_REAPI_POSTGRES=system needs root (runuser, pg_ctlcluster)"
        pg_pick_cluster
        echo "system $pg_ver $pg_name $pg_port" >"$state/postgres"
        pg_registry_lock
        echo "$state" >"$reg/users/$db"
        if [ "$(pg_status "$pg_ver" "$pg_name")" != online ]; then
            log "starting PostgreSQL $pg_ver/$pg_name"
            touch "$reg/started"
            pg_ctlcluster "$pg_ver" "$pg_name" start 8>&- 9>&- || die "pg_ctlcluster $pg_ver $pg_name start failed"
        fi
        prune_stale_users
        flock -u 8
        exec 8>&-
    else
        local bindir pw
        bindir=$(pg_bindir)
        pg_port=$(free_port)
        echo "private ${bindir%/bin} - $pg_port" >"$state/postgres"
        mkdir -p "$state/pg/sock"
        chmod 700 "$state/pg" "$state/pg/sock"
        pw=$(random_hex)
        echo "$pw" >"$state/pg/admin-password"
        "$bindir/initdb" -D "$state/pg/data" -U postgres -A scram-sha-256 --auth-local=trust \
            --pwfile="$state/pg/admin-password" >"$state/logs/initdb.log" 2>&1 ||
            { tail -n 20 "$state/logs/initdb.log" >&2; die "initdb failed"; }
        "$bindir/pg_ctl" -D "$state/pg/data" -l "$state/logs/postgresql.log" -w -t 60 \
            -o "-p $pg_port -k $state/pg/sock -c listen_addresses=127.0.0.1" start >/dev/null 8>&- 9>&- ||
            { tail -n 20 "$state/logs/postgresql.log" >&2; die "pg_ctl start failed"; }
    fi
}

pg_release() { # drop our database and role; stop PostgreSQL when we started it and nobody uses it
    [ -f "$state/postgres" ] || return 0
    local mode ver name port
    read -r mode ver name port <"$state/postgres"
    pg_mode=$mode pg_port=$port
    if [ "$mode" = private ]; then
        if [ -f "$state/pg/data/postmaster.pid" ]; then
            "$ver/bin/pg_ctl" -D "$state/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 8>&- 9>&- || {
                local pm
                pm=$(head -n 1 "$state/pg/data/postmaster.pid" 2>/dev/null || true)
                if [ -n "$pm" ]; then kill -KILL "$pm" 2>/dev/null || true; fi
            }
        fi
        rm -rf "$state/pg" "$state/db" "$state/postgres"
        return 0
    fi
    pg_ver=$ver pg_name=$name
    pg_registry_lock
    if [ -f "$state/db" ] && [ "$(pg_status "$ver" "$name")" = online ]; then
        drop_db_sql "$(cut -d' ' -f1 "$state/db")" | admin_psql || log "could not drop the database (see above)"
    fi
    if [ -f "$state/db" ]; then rm -f "$reg/users/$(cut -d' ' -f1 "$state/db")"; fi
    rm -f "$state/db"
    if [ "$(pg_status "$ver" "$name")" = online ]; then
        prune_stale_users
    fi
    if [ -f "$reg/started" ] && [ -z "$(ls -A "$reg/users")" ]; then
        if [ "$(pg_status "$ver" "$name")" = online ]; then
            log "stopping PostgreSQL $ver/$name (started by reapi-cluster.sh, no other user)"
            pg_ctlcluster "$ver" "$name" stop 8>&- 9>&- || log "pg_ctlcluster $ver $name stop failed"
        fi
        rm -f "$reg/started"
    fi
    flock -u 8
    exec 8>&-
    rm -f "$state/postgres"
}

random_hex() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- BuildGrid -----------------------------------------------------------------------

write_config() { # URL PORT
    local keys extra k
    keys="twice-faketime, twice-file-order, twice-hostname"
    IFS=, read -r -a extra <<<"${TWICE_REAPI_EXTRA_PROPERTY_KEYS:-}"
    for k in "${extra[@]}"; do
        k=$(echo "$k" | tr -d ' ')
        if [ -n "$k" ]; then keys="$keys, $k"; fi
    done
    cat >"$state/server.yml" <<EOF
# Written by scripts/reapi-cluster.sh for one test cluster; removed by stop.
server:
  - !channel
    address: "127.0.0.1:$2"
    insecure-mode: true
authorization:
  method: none
monitoring:
  enabled: false
# Every Execute stream holds one gRPC thread until its action finishes; the
# default (5 per CPU, 10 here) refuses a client with more in flight
# ("Concurrent RPC limit exceeded", RESOURCE_EXHAUSTED).
thread-pool-size: 200
connections:
  - !sql-connection &sql
    connection-string: $1
    pool-size: 5
    max-overflow: 10
storages:
  - !disk-storage &cas
    path: $state/cas
caches:
  - !lru-action-cache &action-cache
    storage: *cas
    max-cached-refs: 4096
    allow-updates: true
    cache-failed-actions: false
schedulers:
  - !sql-scheduler &scheduler
    sql: *sql
    storage: *cas
    action-cache: *action-cache
    property-set: !dynamic-property-set
      # Matched against what each bot advertises (tests/support/reapi_bot.py).
      match-property-keys: [OSFamily, twice-variations]
      # Passed through to the bot, which applies them (or fails the action).
      wildcard-property-keys: [$keys]
      unique-property-keys: [OSFamily, twice-faketime, twice-file-order, twice-hostname]
    poll-interval: 0.1
    bot-poll-interval: 0.1
    bot-session-keepalive-timeout: 60
    max-job-attempts: 2
    assigners:
      - !priority-age-assigner
        count: 1
        interval: 0.1
        # The default adds up to 1 s of random delay to every assignment.
        jitter-factor: 0.05
instances:
  - name: "$instance"
    services:
      - !action-cache
        cache: *action-cache
      - !execution
        scheduler: *scheduler
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
EOF
}

start_server() { # URL; sets port
    local t0 pid
    for _ in 1 2 3; do
        port=$(free_port)
        write_config "$1" "$port"
        mkdir -p "$state/cas"
        spawn server "$state/logs/server.log" "$venv/bin/bgd" server start "$state/server.yml"
        pid=$spawned_pid
        t0=$(now)
        while ! listening "$port"; do
            if ! kill -0 "$pid" 2>/dev/null; then
                if grep -qi 'address already in use\|failed to bind' "$state/logs/server.log"; then
                    log "port $port was taken; trying another"
                    sed -i '$d' "$state/pids"
                    continue 2
                fi
                tail -n 30 "$state/logs/server.log" >&2
                die "bgd server exited before listening (log: $state/logs/server.log)"
            fi
            if [ "$(since "$t0" | cut -d. -f1)" -ge "$start_timeout" ]; then
                tail -n 30 "$state/logs/server.log" >&2
                die "bgd server not listening on 127.0.0.1:$port after ${start_timeout} s (log: $state/logs/server.log)"
            fi
            sleep 0.2
        done
        server_pid=$pid
        return 0
    done
    die "could not find a free port for bgd server"
}

start_bots() { # N
    local i dir t0 pid missing
    bot_pids=()
    for ((i = 1; i <= $1; i++)); do
        dir=$state/bots/$i
        mkdir -p "$dir"
        # shellcheck disable=SC2086 # TWICE_REAPI_BOT_ARGS is split into words on purpose
        spawn "bot-$i" "$state/logs/bot-$i.log" "$venv/bin/python" "$support/reapi_bot.py" \
            --remote "grpc://127.0.0.1:$port" --instance "$instance" --name "twice-$id-bot-$i" \
            --work-dir "$dir" --exec-root-path "$state/execroot" --ready-file "$dir/ready" \
            ${TWICE_REAPI_BOT_ARGS:-}
        bot_pids+=("$spawned_pid")
    done
    t0=$(now)
    while :; do
        missing=0
        for ((i = 1; i <= $1; i++)); do
            [ -f "$state/bots/$i/ready" ] && continue
            missing=1
            pid=${bot_pids[i - 1]}
            if ! kill -0 "$pid" 2>/dev/null; then
                tail -n 30 "$state/logs/bot-$i.log" >&2
                die "bot $i exited before registering (log: $state/logs/bot-$i.log)"
            fi
        done
        [ "$missing" -eq 0 ] && break
        if [ "$(since "$t0" | cut -d. -f1)" -ge "$start_timeout" ]; then
            tail -n 30 "$state/logs/bot-1.log" >&2
            die "bots not registered after ${start_timeout} s (logs: $state/logs/bot-*.log)"
        fi
        sleep 0.2
    done
}

kv() { # KEY VALUE
    if [[ $2 =~ ^[A-Za-z0-9_./:,+@%=-]*$ ]]; then
        echo "$1=$2"
    else
        printf "%s='%s'\n" "$1" "${2//\'/\'\\\'\'}"
    fi
}

write_env() {
    local variations exec_root
    # What every bot can do: the variations all of them apply, and whether all
    # of them run commands at the one shared exec root path (namespaces).
    read -r variations exec_root < <("$venv/bin/python" - "$state"/bots/*/ready <<'EOF'
import json, sys
bots = [json.load(open(p)) for p in sys.argv[1:]]
common = set.intersection(*(set(b["variations"]) for b in bots))
paths = {b["exec_root_path"] for b in bots}
stable = all(b["namespaces"] for b in bots) and len(paths) == 1
print(",".join(sorted(common)) or "-", paths.pop() if stable else "-")
EOF
)
    [ "$variations" != - ] || variations=
    [ "$exec_root" != - ] || exec_root=
    {
        echo "# Written by scripts/reapi-cluster.sh start: KEY=VALUE lines a shell can source;"
        echo "# a value is single-quoted only if it holds characters a shell would interpret."
        kv TWICE_REAPI_URL "grpc://127.0.0.1:$port"
        kv TWICE_REAPI_INSTANCE "$instance"
        kv TWICE_REAPI_WORKERS "$workers"
        kv TWICE_REAPI_VARIATIONS "$variations"
        kv TWICE_REAPI_EXEC_ROOT "$exec_root"
        kv TWICE_REAPI_SERVER_PID "$server_pid"
        kv TWICE_REAPI_BOT_PIDS "$(IFS=,; echo "${bot_pids[*]}")"
        kv TWICE_REAPI_PYTHON "$venv/bin/python"
        kv TWICE_REAPI_STATE_DIR "$state"
        kv TWICE_REAPI_LOG_DIR "$state/logs"
    } >"$state/env.tmp"
    mv "$state/env.tmp" "$state/env"
}

# --- commands ---------------------------------------------------------------------------

healthy() { # every recorded process alive and the env written
    [ -f "$state/env" ] && [ -f "$state/pids" ] || return 1
    local name pid st
    while read -r name pid st; do
        alive "$pid" "$st" || return 1
    done <"$state/pids"
}

do_start() {
    local t0
    t0=$(now)
    mkdir -p "$state"
    state=$(cd "$state" && pwd -P)
    lock_state
    if healthy; then
        log "already running ($state/env)"
        return 0
    fi
    if [ -f "$state/pids" ] || [ -f "$state/postgres" ] || [ -f "$state/db" ]; then
        log "cleaning a previous, unhealthy start first"
        cleanup
    fi
    mkdir -p "$state/logs"
    : >"$state/pids"
    trap 'start_failed' EXIT
    trap 'exit 130' INT TERM
    id=$(printf '%s' "$state" | sha256sum | cut -c1-16)
    db=twice_reapi_$id
    local pw url
    pw=$(random_hex)
    local t=$t0 phases=""
    phase() { phases="$phases, $1 $(since "$t") s"; t=$(now); }
    ensure_venv
    phase "venv ($venv_note)"
    pg_mode=$(pg_mode)
    echo "$db" >"$state/db" # recorded before it exists, so stop drops it whatever happens next
    pg_acquire
    drop_db_sql "$db" | admin_psql
    printf 'CREATE ROLE "%s" LOGIN PASSWORD '\''%s'\'';\nCREATE DATABASE "%s" OWNER "%s";\n' \
        "$db" "$pw" "$db" "$db" | admin_psql
    phase "postgres ($pg_mode)"
    url="postgresql+psycopg2://$db:$pw@127.0.0.1:$pg_port/$db"
    "$venv/bin/bgd" migrate apply "$url" >"$state/logs/migrate.log" 2>&1 ||
        { tail -n 20 "$state/logs/migrate.log" >&2; die "bgd migrate apply failed"; }
    phase migrate
    mkdir -p "$state/execroot"
    start_server "$url"
    phase server
    start_bots "$workers"
    phase bots
    write_env
    trap - EXIT INT TERM
    log "started in $(since "$t0") s: grpc://127.0.0.1:$port instance '$instance', $workers bot(s)," \
        "variations: $(grep '^TWICE_REAPI_VARIATIONS=' "$state/env" | cut -d= -f2-)"
    log "  ${phases#, }"
}

start_failed() {
    local rc=$?
    trap - EXIT INT TERM
    [ "$rc" -ne 0 ] || return 0
    log "start failed; cleaning up (logs stay in $state/logs)"
    cleanup || true
    exit "$rc"
}

kill_recorded() {
    [ -f "$state/pids" ] || return 0
    local name pid st left i f cpid cst
    # Bots before the server, so none of them starts a command while we wait.
    tac "$state/pids" | while read -r name pid st; do
        if alive "$pid" "$st"; then kill -TERM -- "-$pid" 2>/dev/null || true; fi
    done
    for ((i = 0; i < 50; i++)); do
        left=0
        while read -r name pid st; do
            if alive "$pid" "$st"; then left=1; fi
        done <"$state/pids"
        [ "$left" -eq 0 ] && break
        sleep 0.2
    done
    while read -r name pid st; do
        if alive "$pid" "$st"; then
            log "$name ($pid) ignored SIGTERM; killing its process group"
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    done <"$state/pids"
    # A command a bot was running when it died (the bot runs each in its own group).
    for f in "$state"/bots/*/command.pgid; do
        [ -f "$f" ] || continue
        read -r cpid cst <"$f"
        if alive "$cpid" "$cst"; then kill -KILL -- "-$cpid" 2>/dev/null || true; fi
    done
}

unmount_leftovers() { # disorderfs mounts of bots that were killed mid-lease
    local m
    awk -v p="$state/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
        log "unmounting $m"
        { fusermount3 -u -z "$m" || fusermount -u -z "$m" || umount -l "$m"; } 2>/dev/null || true
    done
}

cleanup() {
    kill_recorded
    unmount_leftovers
    pg_release
    rm -rf "$state/bots" "$state/cas" "$state/execroot"
    rm -f "$state/pids" "$state/env" "$state/env.tmp" "$state/server.yml" "$state/db"
}

do_stop() {
    if [ ! -d "$state" ]; then
        log "nothing to stop: $state does not exist"
        return 0
    fi
    local t0
    t0=$(now)
    state=$(cd "$state" && pwd -P)
    lock_state
    cleanup
    log "stopped in $(since "$t0") s"
}

do_status() {
    [ -d "$state" ] || { echo "not started: $state does not exist"; return 3; }
    state=$(cd "$state" && pwd -P)
    [ -f "$state/pids" ] || { echo "not started"; return 3; }
    local name pid st down=0
    while read -r name pid st; do
        if alive "$pid" "$st"; then echo "$name: running (pid $pid)"; else echo "$name: not running (pid $pid)"; down=1; fi
    done <"$state/pids"
    if [ -f "$state/env" ]; then
        grep '^TWICE_' "$state/env"
    else
        echo "env: not written (start did not finish)"
        down=1
    fi
    return "$down"
}

[ $# -ge 2 ] || usage
cmd=$1
state=$2
shift 2
workers=2
instance=twice
while [ $# -gt 0 ]; do
    case $1 in
    --workers) workers=${2:?}; shift 2 ;;
    --workers=*) workers=${1#*=}; shift ;;
    --instance) instance=${2?}; shift 2 ;;
    --instance=*) instance=${1#*=}; shift ;;
    *) usage ;;
    esac
done
[[ $workers =~ ^[0-9]+$ ]] && [ "$workers" -ge 1 ] || die "--workers wants a positive number"
case $cmd in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
*) usage ;;
esac
