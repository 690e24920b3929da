#!/usr/bin/env bash
# Checks that the Tomcat side of the demo and tests really works: for each
# session manager, starts a 3-node cluster (t/tomcat/cluster.sh), builds a
# cart on node 1 directly, and expects nodes 2 and 3 to see the same session
# and cart, and a change made on node 2 to be seen on node 3; then crashes
# node 1 (kill -9) under a second session used only there, expects nodes 2
# and 3 to take it over, restarts node 1 and expects it to serve it again.
#
#   t/tomcat/selfcheck.sh [backup] [delta]     default: both
#
# Prints PASS/FAIL per check and a closing "N passed, N failed" line; exits
# non-zero when any check failed. Logs of a failed run are kept (path shown).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER=$HERE/cluster.sh
PASSED=0
FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sticky-selfcheck.XXXXXX")
RUNNING=""   # cluster dir to stop on exit

cleanup() {
    if [[ -n $RUNNING ]]; then "$CLUSTER" stop "$RUNNING" 2>/dev/null || true; fi
    if ((FAILED)); then
        echo "logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }

# check DESCRIPTION EXPECTED ACTUAL
check() {
    if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}

# --- talking to the cart app -------------------------------------------------

# port of node $1 in the cluster loaded by load_cluster
port() { local v="NODE$1_HTTP"; echo "${!v}"; }

# GET a path on node $1 with the cookie jar $JAR; prints the body.
get() {
    curl -sS -m 20 -b "$JAR" -c "$JAR" "http://127.0.0.1:$(port "$1")$2"
}

add_book() {
    curl -sS -m 20 -o /dev/null -b "$JAR" -c "$JAR" --get --data-urlencode "book=$2" \
        "http://127.0.0.1:$(port "$1")/add"
}

# Fields of the app's own compact JSON ({"node":..,"session":..,"books":[..]}).
json_str() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<< "$2"; }
json_books() { sed -n 's/.*"books":\(\[.*\]\).*/\1/p' <<< "$1"; }

# Expects node $1 to answer with session $SESSION and books $2 (JSON array).
expect_cart() {
    local n=$1 books=$2 what=$3 body
    body=$(get "$n" /cart.json) || { fail "$what: node $n did not answer"; return; }
    check "$what: tomcat$n answers" "tomcat$n" "$(json_str node "$body")"
    check "$what: tomcat$n has session $SESSION" "$SESSION" "$(json_str session "$body")"
    check "$what: tomcat$n has the cart" "$books" "$(json_books "$body")"
}

# --- one manager ---------------------------------------------------------------

check_manager() {
    local manager=$1
    local dir=$WORK/$manager body n status
    echo "== $manager manager: starting a 3-node cluster"
    if ! "$CLUSTER" start "$dir" --nodes 3 --manager "$manager" --app "$WORK/app/ROOT"; then
        fail "$manager: cluster start"
        return
    fi
    RUNNING=$dir
    # shellcheck source=/dev/null
    . "$dir/cluster.env"
    pass "$manager: 3 nodes up in ${START_SECONDS}s"
    JAR=$dir/cookies.txt

    # /health answers without creating a session.
    status=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -D "$dir/health.hdr" \
        "http://127.0.0.1:$(port 1)/health")
    check "$manager: /health is 200" 200 "$status"
    check "$manager: /health sets no cookie" 0 "$(grep -ci '^set-cookie' "$dir/health.hdr" || true)"

    # A session on node 1, three books (one non-ASCII: UTF-8 end to end).
    add_book 1 "Dune"
    add_book 1 "Effective Java"
    add_book 1 "Café Tomcat"
    body=$(get 1 /cart.json)
    SESSION=$(json_str session "$body")
    check "$manager: session id ends with .tomcat1" tomcat1 "${SESSION##*.}"
    local three='["Dune","Effective Java","Café Tomcat"]'
    expect_cart 1 "$three" "$manager: created"
    for n in 2 3; do expect_cart "$n" "$three" "$manager: replicated"; done

    # The HTML page and the form post (303 back to /).
    status=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -b "$JAR" -c "$JAR" \
        --data-urlencode "book=Neuromancer" "http://127.0.0.1:$(port 2)/add")
    check "$manager: POST /add on tomcat2 redirects" 303 "$status"
    body=$(get 3 /)
    check "$manager: page on tomcat3 shows it" yes \
        "$(grep -q 'Neuromancer' <<< "$body" && grep -q "$SESSION" <<< "$body" && echo yes || echo no)"

    # A crash as a sticky balancer sees it: a second session, used only on
    # its own node tomcat1; tomcat1 is killed (-9); failing over to tomcat2,
    # then tomcat3, keeps the cart; tomcat1 restarted serves it again.
    # (BackupManager keeps a session on its primary and one backup node; the
    # others fetch it from the backup. The session above has been moved
    # around all nodes, so its backup may be the node that dies: right after
    # such a crash a node that is neither primary nor backup can miss it.)
    JAR=$dir/cookies-crash.txt
    add_book 1 "Snow Crash"
    add_book 1 "Hyperion"
    SESSION=$(json_str session "$(get 1 /cart.json)")
    local two='["Snow Crash","Hyperion"]'
    expect_cart 1 "$two" "$manager: before the crash"
    "$CLUSTER" kill "$dir" 1
    for n in 2 3; do expect_cart "$n" "$two" "$manager: after kill -9 of tomcat1"; done
    if "$CLUSTER" restart-node "$dir" 1; then
        # shellcheck source=/dev/null
        . "$dir/cluster.env"
        expect_cart 1 "$two" "$manager: tomcat1 restarted"
    else
        fail "$manager: restart-node 1"
    fi

    local pids=("$NODE1_PID" "$NODE2_PID" "$NODE3_PID") pid left=0
    "$CLUSTER" stop "$dir"
    RUNNING=""
    for pid in "${pids[@]}"; do
        if tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "^-Dcatalina.base=$dir/"; then
            left=$((left + 1))
        fi
    done
    check "$manager: stop leaves no JVM" 0 "$left"
}

main() {
    local managers=("$@") m
    ((${#managers[@]})) || managers=(backup delta)
    for m in "${managers[@]}"; do
        [[ $m == backup || $m == delta ]] || { echo "usage: $0 [backup] [delta]" >&2; exit 2; }
    done
    # Built once here, so that the start times below are Tomcat's alone.
    "$HERE/../../demo/cartapp/build.sh" "$WORK/app" > /dev/null
    for m in "${managers[@]}"; do check_manager "$m"; done
    echo "selfcheck: $PASSED passed, $FAILED failed"
    ((FAILED == 0))
}

main "$@"
