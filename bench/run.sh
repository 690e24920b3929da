#!/usr/bin/env bash
# The benchmarks of `make bench`; writes bench/RESULTS.md. Not part of
# `make test`. Every comparison alternates A B A B ... on the same backends
# with the same traffic and reports each pair's ratio A/B and their median,
# never a lone absolute number.
#
#   bench/run.sh [PART...]     PART: core rr haproxy callgrind modjk (default: all)
#
# Parts:
#   core       Google Benchmark of the core (build/bench/core_bench)
#   rr         nginx + module vs nginx's own round robin, same upstream servers
#   haproxy    nginx + module vs HAProxy routing by the jvmRoute suffix
#   callgrind  instructions per proxied request, module vs round robin
#   modjk      real Tomcat cluster: nginx + module (HTTP) vs Apache httpd +
#              mod_jk (AJP)
#
# Environment: BENCH_PAIRS (5), BENCH_SECONDS (8, per run), BENCH_CONNECTIONS
# (32), BENCH_NEW_PERCENT (10), BENCH_OUT (bench/RESULTS.md; "-": no file),
# BENCH_KEEP=1 (keep the temp dir), MODULE, NGINX_BIN.
#
# Everything runs on 127.0.0.1, on free ports, in a temp dir; only processes
# this script started are stopped, by pid. The machine is small (2 cores):
# for the look-alike parts the proxy under test is pinned to CPU 0 (one
# nginx worker, one HAProxy thread) and wrk and the backends to CPU 1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
MODULE=${MODULE:-$REPO/build/ngx_http_sticky_module.so}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
PAIRS=${BENCH_PAIRS:-5}
RUN_SECONDS=${BENCH_SECONDS:-8}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
NEW_PERCENT=${BENCH_NEW_PERCENT:-10}
OUT=${BENCH_OUT:-$REPO/bench/RESULTS.md}
CALLGRIND_FEW=300
CALLGRIND_MANY=1300

PARTS=("$@")
((${#PARTS[@]})) || PARTS=(core rr haproxy callgrind modjk)

say() { echo "bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

[[ -f $MODULE ]] || die "$MODULE missing: make module"
for tool in wrk haproxy valgrind taskset perl curl; do
    command -v "$tool" > /dev/null || die "$tool missing: make bench installs BENCH_PKGS"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sticky-bench-XXXXXX")
STARTED=()          # pids of the processes we started
CLUSTER_DIR=""

stop_pid() {
    local pid=$1 i
    kill -0 "$pid" 2> /dev/null || return 0
    kill -TERM "$pid" 2> /dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2> /dev/null || { wait "$pid" 2> /dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
}

cleanup() {
    local pid
    for pid in "${STARTED[@]+"${STARTED[@]}"}"; do stop_pid "$pid"; done
    if [[ -n $CLUSTER_DIR ]]; then "$REPO/t/tomcat/cluster.sh" stop "$CLUSTER_DIR" 2> /dev/null || true; fi
    if [[ -n ${BENCH_KEEP:-} ]]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# N free TCP ports on 127.0.0.1 (held until all are chosen: distinct).
free_ports() {
    perl -MIO::Socket::INET -e '
        my @s = map { IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                      Proto => "tcp", Listen => 1) or die "no port: $!" } 1 .. $ARGV[0];
        print join(" ", map { $_->sockport } @s), "\n";' "$1"
}

port_open() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

wait_ports() {
    local deadline=$((SECONDS + ${WAIT_SECONDS:-20})) port
    for port in "$@"; do
        until port_open "$port"; do
            ((SECONDS < deadline)) || return 1
            sleep 0.1
        done
    done
}

# start NAME CPUS COMMAND...: in the background, pinned to CPUS ("" : not
# pinned), output to $WORK/NAME.out; sets LAST_PID.
start() {
    local name=$1 cpus=$2
    shift 2
    if [[ -n $cpus ]]; then
        taskset -c "$cpus" "$@" > "$WORK/$name.out" 2>&1 &
    else
        "$@" > "$WORK/$name.out" 2>&1 &
    fi
    LAST_PID=$!
    STARTED+=("$LAST_PID")
}

# The pids of the children of $1 (nginx's workers).
children() { ps -o pid= --ppid "$1" | tr -d ' ' | tr '\n' ' '; }

# CPU seconds (user + system) used so far by the pids given.
cpu_seconds() {
    local pid total=0 hz
    hz=$(getconf CLK_TCK)
    for pid in "$@"; do
        local stat
        stat=$(< "/proc/$pid/stat") || continue
        stat=${stat##*) }    # fields from 3 on; comm may hold spaces
        read -r -a f <<< "$stat"
        total=$((total + f[11] + f[12]))    # utime, stime (fields 14, 15)
    done
    echo "$total $hz" | awk '{ printf "%.3f", $1 / $2 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- the Tomcat look-alike backends -------------------------------------------

# One nginx (one process) on three ports, each a Tomcat look-alike: it hands
# out JSESSIONID=<hex>.tomcatN to requests without a session, as
# t/lib/StickyTest.pm's start_backend does.
start_backends() {
    read -r -a BACKEND_PORTS <<< "$(free_ports 3)"
    local d=$WORK/backends servers="" i
    mkdir -p "$d/temp"
    for i in 1 2 3; do
        servers+="
    server {
        listen 127.0.0.1:${BACKEND_PORTS[i - 1]} backlog=4096;
        keepalive_requests 1000000;
        location / {
            add_header Set-Cookie \$new_session_$i;
            return 200 \"tomcat$i\n\";
        }
    }
    map \$cookie_JSESSIONID \$new_session_$i {
        \"\"        \"JSESSIONID=\$request_id.tomcat$i; Path=/\";
        default   \"\";
    }"
    done
    cat > "$d/nginx.conf" << EOF
daemon off;
master_process off;
worker_rlimit_nofile 8192;
pid $d/nginx.pid;
error_log $d/error.log error;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $d/temp;
    proxy_temp_path $d/temp;
    fastcgi_temp_path $d/temp;
    uwsgi_temp_path $d/temp;
    scgi_temp_path $d/temp;
$servers
}
EOF
    start backends 1 "$NGINX_BIN" -p "$d/" -c "$d/nginx.conf" -e "$d/error.log"
    BACKENDS_PID=$LAST_PID
    wait_ports "${BACKEND_PORTS[@]}" || die "backends did not start: $(cat "$WORK/backends.out" "$d/error.log")"
    {
        echo "worker.list=lb"
        echo "worker.lb.type=lb"
        echo "worker.lb.balance_workers=tomcat1,tomcat2,tomcat3"
        for i in 1 2 3; do
            echo "worker.tomcat$i.host=127.0.0.1"
            echo "worker.tomcat$i.port=${BACKEND_PORTS[i - 1]}"
        done
    } > "$WORK/lookalike.properties"
}

# nginx.conf of a front nginx: the module's upstream on port $2 and round
# robin over the same servers on port $3. $1: directory; $4: workers
# properties; $5: worker_processes; $6: extra main-context lines.
write_front_conf() {
    local d=$1 sticky_port=$2 rr_port=$3 props=$4 workers=$5 extra=${6:-} servers="" line
    while read -r line; do
        servers+="        server $line;
"
    done < <(awk -F= '/\.host=/ { split($1, k, "."); h[k[2]] = $2 }
                       /\.port=/ { split($1, k, "."); print h[k[2]] ":" $2 }' "$props")
    mkdir -p "$d/logs" "$d/temp"
    cat > "$d/nginx.conf" << EOF
load_module $MODULE;
$extra
worker_processes $workers;
worker_rlimit_nofile 8192;
pid $d/logs/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $d/temp;
    proxy_temp_path $d/temp;
    fastcgi_temp_path $d/temp;
    uwsgi_temp_path $d/temp;
    scgi_temp_path $d/temp;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    keepalive_requests 1000000;

    upstream sticky {
        sticky_workers $props;
        keepalive 64;
    }
    upstream rr {
$servers        keepalive 64;
    }
    server {
        listen 127.0.0.1:$sticky_port backlog=4096;
        location / { proxy_pass http://sticky; }
    }
    server {
        listen 127.0.0.1:$rr_port backlog=4096;
        location / { proxy_pass http://rr; }
    }
}
EOF
}

# --- wrk runs ----------------------------------------------------------------------

# wrk_run LABEL URL CPUS SCRIPT_ARGS... -> "rps cpu_s errors" on stdout;
# PROXY_PIDS: the processes whose CPU time counts.
wrk_run() {
    local label=$1 url=$2 cpus=$3 out cpu0 cpu1 rps non2xx errors
    shift 3
    out=$WORK/wrk-$label.txt
    cpu0=$(cpu_seconds $PROXY_PIDS)
    if [[ -n $cpus ]]; then
        taskset -c "$cpus" wrk -t1 -c"$CONNECTIONS" -d"${RUN_SECONDS}s" --timeout 10s \
            -s "$HERE/sessions.lua" "$url" -- "$@" > "$out" 2>&1 || true
    else
        wrk -t1 -c"$CONNECTIONS" -d"${RUN_SECONDS}s" --timeout 10s \
            -s "$HERE/sessions.lua" "$url" -- "$@" > "$out" 2>&1 || true
    fi
    cpu1=$(cpu_seconds $PROXY_PIDS)
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    [[ -n $rps ]] || die "wrk failed for $label: $(cat "$out")"
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    errors=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
    echo "$rps $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }') $((${non2xx:-0} + ${errors:-0}))"
}

# checked: compare's output, "median cpu_median errors"
checked() { [[ $# -eq 3 ]] || die "a comparison failed (see the messages above)"; }

# compare NAME A_LABEL A_URL A_PIDS B_LABEL B_URL B_PIDS CPUS SCRIPT_ARGS...
# Runs a warm-up of each, then PAIRS pairs A B; appends the rows of the pair
# table to $WORK/NAME.rows and prints "median_ratio median_cpu_ratio errors".
compare() {
    local name=$1 a_label=$2 a_url=$3 a_pids=$4 b_label=$5 b_url=$6 b_pids=$7 cpus=$8 p
    shift 8
    local saved=$RUN_SECONDS a b ratios=() cpu_ratios=() errors=0
    RUN_SECONDS=2
    PROXY_PIDS=$a_pids wrk_run "$name-warm-a" "$a_url" "$cpus" "$@" > /dev/null
    PROXY_PIDS=$b_pids wrk_run "$name-warm-b" "$b_url" "$cpus" "$@" > /dev/null
    RUN_SECONDS=$saved
    : > "$WORK/$name.rows"
    for ((p = 1; p <= PAIRS; p++)); do
        read -r -a a <<< "$(PROXY_PIDS=$a_pids wrk_run "$name-$p-a" "$a_url" "$cpus" "$@")"
        read -r -a b <<< "$(PROXY_PIDS=$b_pids wrk_run "$name-$p-b" "$b_url" "$cpus" "$@")"
        local r c
        r=$(awk -v a="${a[0]}" -v b="${b[0]}" 'BEGIN { printf "%.3f", a / b }')
        # requests per CPU second of the proxy: A's over B's
        c=$(awk -v a="${a[0]}" -v ac="${a[1]}" -v b="${b[0]}" -v bc="${b[1]}" \
            'BEGIN { if (ac > 0 && bc > 0) printf "%.3f", (a / ac) / (b / bc); else print "n/a" }')
        ratios+=("$r")
        [[ $c != n/a ]] && cpu_ratios+=("$c")
        errors=$((errors + a[2] + b[2]))
        printf '| %s | %s | %s | %s | %s | **%s** | %s |\n' "$p" "${a[0]}" "${a[1]}" "${b[0]}" "${b[1]}" "$r" "$c" \
            >> "$WORK/$name.rows"
        say "$name pair $p: $a_label ${a[0]} req/s (${a[1]} cpu s), $b_label ${b[0]} req/s (${b[1]} cpu s): $r"
    done
    local m mc="n/a"
    ((${#ratios[@]} == PAIRS)) || exit 1
    m=$(printf '%s\n' "${ratios[@]}" | median)
    ((${#cpu_ratios[@]})) && mc=$(printf '%s\n' "${cpu_ratios[@]}" | median)
    echo "$m $mc $errors"
}

# --- parts ---------------------------------------------------------------------------

RESULT_ROWS=()     # | comparison | goal | median | met |
SECTIONS=""

verdict() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
    if (v == "n/a" || v == "") { print "n/a"; exit }
    ok = (op == ">=") ? (v >= g) : (v <= g); print ok ? "met" : "**not met**" }'; }

pair_table() {   # NAME A_LABEL B_LABEL
    printf '| pair | %s req/s | %s CPU s | %s req/s | %s CPU s | ratio A/B | CPU efficiency A/B |\n' "$2" "$2" "$3" "$3"
    echo "|---|---|---|---|---|---|---|"
    cat "$WORK/$1.rows"
}

part_core() {
    say "core: Google Benchmark"
    local bin=$REPO/build/bench/core_bench json=$WORK/core.json
    [[ -x $bin ]] || die "$bin missing: make bench-core-build"
    taskset -c 0 "$bin" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
        --benchmark_min_time=0.3 --benchmark_format=json --benchmark_out="$WORK/core.json" \
        --benchmark_out_format=json > "$WORK/core.out" 2>&1 || die "core_bench failed: $(tail "$WORK/core.out")"
    # name -> median cpu_time (ns or ms as reported) and allocs/op
    perl -MJSON::PP -e '
        my $text = do { local $/; open my $f, "<", $ARGV[0] or die; <$f> };
        $text =~ s/(?<=[:\s])-?(?:nan|inf(?:inity)?)\b/null/gi;   # the cv of 0 allocs
        my $j = decode_json($text);
        for my $b (@{ $j->{benchmarks} }) {
            next unless ($b->{aggregate_name} // "") eq "median";
            (my $n = $b->{run_name}) =~ s/^BM_//;
            printf "%s\t%.1f\t%s\t%s\n", $n, $b->{cpu_time}, $b->{time_unit}, $b->{"allocs/op"} // 0;
        }' "$json" > "$WORK/core.tsv"
    local select100 decision100 load1000 allocs
    select100=$(awk -F'\t' '$1 == "Select/members:100/new%:10" { print $2 }' "$WORK/core.tsv")
    decision100=$(awk -F'\t' '$1 == "Decision/members:100/new%:10" { print $2 }' "$WORK/core.tsv")
    load1000=$(awk -F'\t' '$1 == "LoadConfig/1000" { print $2 }' "$WORK/core.tsv")
    allocs=$(awk -F'\t' '$1 ~ /^(Decision|Select|Request|FindSessions)/ { s += $4 } END { print s + 0 }' "$WORK/core.tsv")
    RESULT_ROWS+=("| route decision, 100 workers, 10 % new sessions: Select() | ≤ 100 ns | ${select100} ns | $(verdict "$select100" "<=" 100) |")
    RESULT_ROWS+=("| the same with the request's cookies parsed (FindSessionCandidates + Select) | ≤ 100 ns | ${decision100} ns | $(verdict "$decision100" "<=" 100) |")
    RESULT_ROWS+=("| allocations per decision (every request-time benchmark) | 0 | $allocs | $(verdict "$allocs" "<=" 0) |")
    RESULT_ROWS+=("| parsing a 1,000-worker workers.properties (LoadConfig) | ≤ 20 ms | ${load1000} ms | $(verdict "$load1000" "<=" 20) |")
    SECTIONS+="
## Core (Google Benchmark)

\`build/bench/core_bench\` (bench/core_bench.cc), pinned to CPU 0, median of
5 repetitions, CPU time. *members* = workers of the lb; *new%* = share of
requests without a session (10: the headline mix; 0: sticky sessions only,
a route lookup; 100: new sessions only, a scan of the members). Decision =
FindSessionCandidates() on the raw URI and Cookie header + Select(); Select =
Select() alone; Request = Decision + ReportStart + ReportEnd.
allocs/op counts every \`operator new\` in the timed loop.

| benchmark | CPU time | unit | allocs/op |
|---|---|---|---|
$(awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$WORK/core.tsv")
"
}

part_rr() {
    say "rr: nginx + module vs nginx round robin"
    local d=$WORK/front ports
    read -r -a ports <<< "$(free_ports 2)"
    write_front_conf "$d" "${ports[0]}" "${ports[1]}" "$WORK/lookalike.properties" 1 "daemon off;"
    start front 0 "$NGINX_BIN" -p "$d/" -c "$d/nginx.conf" -e "$d/logs/error.log"
    FRONT_PID=$LAST_PID
    wait_ports "${ports[@]}" || die "front nginx did not start: $(cat "$d/logs/error.log")"
    sleep 0.3
    local workers
    workers=$(children "$FRONT_PID")
    local res
    read -r -a res <<< "$(compare rr module "http://127.0.0.1:${ports[0]}/" "$workers" \
        roundrobin "http://127.0.0.1:${ports[1]}/" "$workers" 1 3000 "$NEW_PERCENT")"
    checked "${res[@]}"
    RESULT_ROWS+=("| nginx + module vs nginx round robin (same upstream, keepalive), throughput | ≥ 0.98 | ${res[0]} | $(verdict "${res[0]}" ">=" 0.98) |")
    RESULT_ROWS+=("| the same, requests per CPU second of the nginx worker | (≥ 0.98) | ${res[1]} | $(verdict "${res[1]}" ">=" 0.98) |")
    SECTIONS+="
## nginx + module vs nginx round robin

One nginx (1 worker process, pinned to CPU 0) with two servers: A proxies to
\`upstream { sticky_workers; keepalive 64; }\`, B to \`upstream { server ×3;
keepalive 64; }\` over the same three look-alike backends. wrk (1 thread,
$CONNECTIONS connections, ${RUN_SECONDS} s per run) and the backends share CPU 1.
Traffic: 3,000 sessions of tomcat1..3 in a Cookie header among other cookies,
$NEW_PERCENT % requests without a session. Socket errors + non-2xx: ${res[2]}.

$(pair_table rr module "round robin")
"
    stop_pid "$FRONT_PID"
}

part_haproxy() {
    say "haproxy: nginx + module vs HAProxy"
    local d=$WORK/front-h ports i servers="" rules=""
    read -r -a ports <<< "$(free_ports 3)"
    write_front_conf "$d" "${ports[0]}" "${ports[1]}" "$WORK/lookalike.properties" 1 "daemon off;"
    start front-h 0 "$NGINX_BIN" -p "$d/" -c "$d/nginx.conf" -e "$d/logs/error.log"
    FRONT_PID=$LAST_PID
    for i in 1 2 3; do
        servers+="    server tomcat$i 127.0.0.1:${BACKEND_PORTS[i - 1]}
"
        rules+="    use-server tomcat$i if { req.cook(JSESSIONID) -m end .tomcat$i }
"
    done
    cat > "$WORK/haproxy.cfg" << EOF
global
    nbthread 1
    maxconn 8192
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
    http-reuse always
frontend fe
    bind 127.0.0.1:${ports[2]}
    default_backend tomcats
backend tomcats
    balance roundrobin
$rules$servers
EOF
    haproxy -c -q -f "$WORK/haproxy.cfg" || die "haproxy.cfg refused"
    start haproxy 0 haproxy -db -f "$WORK/haproxy.cfg"
    local haproxy_pid=$LAST_PID
    wait_ports "${ports[0]}" "${ports[2]}" || die "nginx or haproxy did not start"
    sleep 0.3
    local res
    read -r -a res <<< "$(compare haproxy module "http://127.0.0.1:${ports[0]}/" "$(children "$FRONT_PID")" \
        haproxy "http://127.0.0.1:${ports[2]}/" "$haproxy_pid" 1 3000 "$NEW_PERCENT")"
    checked "${res[@]}"
    RESULT_ROWS+=("| nginx + module vs HAProxy 2.6 routing by the jvmRoute suffix, throughput | ≥ 1.0 | ${res[0]} | $(verdict "${res[0]}" ">=" 1.0) |")
    RESULT_ROWS+=("| the same, requests per CPU second of the proxy | (≥ 1.0) | ${res[1]} | $(verdict "${res[1]}" ">=" 1.0) |")
    SECTIONS+="
## nginx + module vs HAProxy

A: the nginx of the previous section (1 worker, CPU 0). B: HAProxy, 1 thread
(\`nbthread 1\`), pinned to CPU 0, \`http-reuse always\`, one
\`use-server tomcatN if { req.cook(JSESSIONID) -m end .tomcatN }\` per server
and \`balance roundrobin\` for new sessions. Same backends, wrk and traffic.
Socket errors + non-2xx: ${res[2]}.

$(pair_table haproxy module haproxy)
"
    stop_pid "$haproxy_pid"
    stop_pid "$FRONT_PID"
}

part_callgrind() {
    say "callgrind: instructions per proxied request"
    local d=$WORK/cg ports
    read -r -a ports <<< "$(free_ports 2)"
    write_front_conf "$d" "${ports[0]}" "${ports[1]}" "$WORK/lookalike.properties" 1 \
        "daemon off; master_process off;"
    local kind port n out pid ir
    declare -A IR
    for kind in module rr; do
        port=${ports[0]}
        [[ $kind == rr ]] && port=${ports[1]}
        for n in "$CALLGRIND_FEW" "$CALLGRIND_MANY"; do
            out=$WORK/callgrind.$kind.$n
            start "cg-$kind-$n" 0 valgrind --tool=callgrind --callgrind-out-file="$out" \
                "$NGINX_BIN" -p "$d/" -c "$d/nginx.conf" -e "$d/logs/error.log"
            pid=$LAST_PID
            WAIT_SECONDS=120 wait_ports "$port" || die "nginx under valgrind did not start: $(tail "$WORK/cg-$kind-$n.out")"
            taskset -c 1 perl "$HERE/client.pl" "$port" "$n" "$NEW_PERCENT" || die "client failed on $kind"
            kill -QUIT "$pid"
            local t
            for ((t = 0; t < 600; t++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
            stop_pid "$pid"
            ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$out")
            [[ -n $ir ]] || die "no callgrind totals in $out"
            IR[$kind.$n]=$ir
            say "callgrind $kind $n requests: $ir instructions"
        done
    done
    local span=$((CALLGRIND_MANY - CALLGRIND_FEW)) per_module per_rr extra
    per_module=$(((IR[module.$CALLGRIND_MANY] - IR[module.$CALLGRIND_FEW]) / span))
    per_rr=$(((IR[rr.$CALLGRIND_MANY] - IR[rr.$CALLGRIND_FEW]) / span))
    extra=$(awk -v m="$per_module" -v r="$per_rr" 'BEGIN { printf "%+.2f", (m - r) * 100 / r }')
    RESULT_ROWS+=("| callgrind instructions per proxied request, module vs round robin | ≤ +2 % | $extra % ($per_module vs $per_rr) | $(verdict "${extra#+}" "<=" 2) |")
    SECTIONS+="
## Instructions per proxied request (callgrind)

nginx with \`master_process off; daemon off;\` under \`valgrind --tool=callgrind\`,
the same nginx.conf as above; bench/client.pl sends $CALLGRIND_FEW, then (in
a second run) $CALLGRIND_MANY requests one after the other on one keep-alive
connection (the same cookie mix). Instructions per request = (total of the
long run − total of the short run) / $span: start-up and shutdown cancel out.

| upstream | instructions, $CALLGRIND_FEW requests | instructions, $CALLGRIND_MANY requests | per request |
|---|---|---|---|
| module | ${IR[module.$CALLGRIND_FEW]} | ${IR[module.$CALLGRIND_MANY]} | $per_module |
| round robin | ${IR[rr.$CALLGRIND_FEW]} | ${IR[rr.$CALLGRIND_MANY]} | $per_rr |

The module costs **$extra %** instructions per request (goal ≤ +2 %).
"
}

part_modjk() {
    say "modjk: real Tomcat cluster, nginx + module vs Apache httpd + mod_jk"
    command -v tomcat10-instance-create > /dev/null || die "tomcat10-user missing"
    [[ -f /usr/lib/apache2/modules/mod_jk.so ]] || die "libapache2-mod-jk missing"
    local ports
    read -r -a ports <<< "$(free_ports 3)"
    CLUSTER_DIR=$WORK/cluster
    CLUSTER_AVOID_PORTS="${ports[*]} ${BACKEND_PORTS[*]:-}" \
        "$REPO/t/tomcat/cluster.sh" start "$CLUSTER_DIR" --nodes 3 --ajp > "$WORK/cluster.out" 2>&1 \
        || die "cluster did not start: $(tail -30 "$WORK/cluster.out")"
    "$REPO/t/tomcat/cluster.sh" workers "$CLUSTER_DIR" > "$WORK/tomcat-http.properties"
    "$REPO/t/tomcat/cluster.sh" workers "$CLUSTER_DIR" --ajp > "$WORK/tomcat-ajp.properties"
    # Real sessions: 100 made on each node directly.
    local http i
    : > "$WORK/tomcat-sessions.txt"
    for i in 1 2 3; do
        http=$(awk -F= -v k="worker.tomcat$i.port" '$1 == k { print $2 }' "$WORK/tomcat-http.properties")
        local urls=()
        for ((n = 0; n < 100; n++)); do urls+=("http://127.0.0.1:$http/add?book=b$n"); done
        curl -s -m 60 -D - -o /dev/null "${urls[@]}" \
            | sed -n 's/^Set-Cookie: JSESSIONID=\([^;]*\).*/\1/Ip' >> "$WORK/tomcat-sessions.txt"
    done
    local made
    made=$(wc -l < "$WORK/tomcat-sessions.txt")
    ((made >= 250)) || die "only $made Tomcat sessions made"

    # nginx + module: 2 workers, HTTP to the Tomcats; not pinned (the JVMs
    # need both cores too).
    local d=$WORK/front-t
    write_front_conf "$d" "${ports[0]}" "${ports[1]}" "$WORK/tomcat-http.properties" 2 "daemon off;"
    start front-t "" "$NGINX_BIN" -p "$d/" -c "$d/nginx.conf" -e "$d/logs/error.log"
    local nginx_pid=$LAST_PID

    # Apache httpd 2.4 (mpm_event) + mod_jk, AJP to the same Tomcats.
    local a=$WORK/apache user_lines=""
    mkdir -p "$a"
    [[ $(id -u) -eq 0 ]] && user_lines="User www-data
Group www-data"
    chmod 755 "$WORK"
    cat > "$a/httpd.conf" << EOF
ServerRoot $a
ServerName 127.0.0.1
Listen 127.0.0.1:${ports[2]}
PidFile $a/httpd.pid
DefaultRuntimeDir $a
Mutex file:$a default
ErrorLog $a/error.log
LogLevel warn
$user_lines
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule jk_module /usr/lib/apache2/modules/mod_jk.so
StartServers 2
ServerLimit 2
ThreadLimit 32
ThreadsPerChild 32
MinSpareThreads 32
MaxSpareThreads 64
MaxRequestWorkers 64
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
JkWorkersFile $WORK/tomcat-ajp.properties
JkShmFile $a/jk.shm
JkLogFile $a/mod_jk.log
JkLogLevel error
JkMount /* cluster
EOF
    chown -R www-data "$a" 2> /dev/null || true
    /usr/sbin/apache2 -t -f "$a/httpd.conf" > "$WORK/apache-t.out" 2>&1 || die "apache config: $(cat "$WORK/apache-t.out")"
    start apache "" /usr/sbin/apache2 -f "$a/httpd.conf" -DFOREGROUND
    local apache_pid=$LAST_PID
    wait_ports "${ports[0]}" "${ports[2]}" || die "nginx or apache did not start: $(cat "$a/error.log" 2> /dev/null)"
    sleep 1
    # both must route the sessions to their own node
    local sid
    sid=$(head -1 "$WORK/tomcat-sessions.txt")
    for port in "${ports[0]}" "${ports[2]}"; do
        curl -s -m 10 -b "JSESSIONID=$sid" "http://127.0.0.1:$port/cart.json" | grep -q "\"node\":\"${sid##*.}\"" \
            || die "port $port did not route $sid to ${sid##*.}"
    done
    local res
    read -r -a res <<< "$(compare modjk module "http://127.0.0.1:${ports[0]}/" "$(children "$nginx_pid")" \
        mod_jk "http://127.0.0.1:${ports[2]}/" "$apache_pid $(children "$apache_pid")" "" \
        "$WORK/tomcat-sessions.txt" "$NEW_PERCENT" /cart.json /health)"
    checked "${res[@]}"
    RESULT_ROWS+=("| real Tomcat 10 cluster: nginx + module (HTTP) vs Apache httpd + mod_jk 1.2.48 (AJP), throughput | ≥ 2.0 | ${res[0]} | $(verdict "${res[0]}" ">=" 2.0) |")
    RESULT_ROWS+=("| the same, requests per CPU second of the proxy | (≥ 2.0) | ${res[1]} | $(verdict "${res[1]}" ">=" 2.0) |")
    SECTIONS+="
## Real Tomcat cluster: nginx + module vs Apache httpd + mod_jk

t/tomcat/cluster.sh: 3 Tomcat 10 nodes (BackupManager, the cart app), each
with an HTTP and an AJP/1.3 connector (\`--ajp\`). A: nginx + module, 2
worker processes, HTTP with keepalive. B: Apache httpd 2.4 (mpm_event, 2
processes × 32 threads) + mod_jk, \`JkMount /* cluster\`, AJP (mod_jk keeps
its AJP connections). Nothing is pinned: the JVMs need both cores, so
**the Tomcats are the bottleneck** and the throughput ratio mostly measures
them; the CPU efficiency column (requests per CPU second of the proxy's own
processes) shows the proxies apart. Traffic: $made real sessions (made on the
nodes directly) on \`/cart.json\`, $NEW_PERCENT % without a session on
\`/health\`; wrk 1 thread, $CONNECTIONS connections. Socket errors + non-2xx: ${res[2]}.

$(pair_table modjk module mod_jk)
"
    stop_pid "$apache_pid"
    stop_pid "$nginx_pid"
    "$REPO/t/tomcat/cluster.sh" stop "$CLUSTER_DIR" > /dev/null 2>&1 || true
    CLUSTER_DIR=""
}

# --- main ------------------------------------------------------------------------------

need_backends=0
for part in "${PARTS[@]}"; do
    case $part in
        core | modjk) ;;
        rr | haproxy | callgrind) need_backends=1 ;;
        *) die "unknown part $part (core rr haproxy callgrind modjk)" ;;
    esac
done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
((need_backends)) && start_backends
START=$(date +%s)
for part in "${PARTS[@]}"; do "part_$part"; done

version() { "$@" 2>&1 | head -1; }
report() {
    cat << EOF
# Benchmark results

Written by \`make bench\` (bench/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC') in $(($(date +%s) - START)) s.
Each comparison alternates A B A B … ($PAIRS pairs of ${RUN_SECONDS}-second wrk runs,
after a 2-second warm-up of each) and reports every pair's ratio A/B and
their median: absolute numbers depend on the machine and are shown only to
read the ratios. Parts run: ${PARTS[*]}.

| | |
|---|---|
| machine | $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM |
| load average (1, 5, 15 min) | before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes the ratios noisier) |
| OS | $(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r) |
| nginx | $(version "$NGINX_BIN" -v) |
| HAProxy | $(version haproxy -v) |
| Apache httpd | $(version /usr/sbin/apache2 -v | sed 's/^Server version: //') |
| mod_jk | $(dpkg-query -W -f='${Version}' libapache2-mod-jk 2> /dev/null) |
| Tomcat | $(dpkg-query -W -f='${Version}' tomcat10-user 2> /dev/null) (tomcat10-user), $(java -version 2>&1 | head -1) |
| wrk | $(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }') |
| valgrind | $(valgrind --version) |
| compiler | $(g++ --version | head -1) |

## Summary

| comparison | goal | median | |
|---|---|---|---|
$(printf '%s\n' "${RESULT_ROWS[@]}")
$SECTIONS
EOF
}
if [[ $OUT == - ]]; then
    report
else
    report > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
    say "wrote $OUT"
    sed -n '/^## Summary/,/^## [^S]/p' "$OUT" | head -20 >&2
fi
