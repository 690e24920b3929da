#!/usr/bin/env bash
# The benchmarks of `make bench`; writes bench/RESULTS.md. Not part of
# `make test`. Every comparison alternates A B A B ... on the same backends
# with the same traffic and reports each pair's ratio A/B and their median,
# never a lone absolute number.
#
#   bench/run.sh [PART...]     PART: one of the parts below (default: all)
#
# Parts:
#   core       Google Benchmark of the core (build/bench/core_bench)
#   rr         nginx + module vs nginx's own round robin, same upstream servers
#   haproxy    nginx + module vs HAProxy routing by the jvmRoute suffix
#   callgrind  instructions per proxied request, module vs round robin
#   modjk      real Tomcat cluster: nginx + module (HTTP) vs Apache httpd +
#              mod_jk (AJP)
#   ajp-modjk  real Tomcat cluster: nginx + module (AJP, `ajp_pass`) vs
#              Apache httpd + mod_jk (AJP)
#   ajp-http   real Tomcat cluster: nginx + module over AJP vs over HTTP; the
#              proxy's and the Tomcats' CPU per request
#   ajp-callgrind  instructions per proxied request through the module, AJP
#              (bench/ajp_responder.c) vs HTTP (the look-alike backends)
# The Tomcat parts (modjk ajp-modjk ajp-http) share one cluster, one nginx
# and one Apache httpd, started by the first of them, stopped after the last.
#
# Environment: BENCH_PAIRS (5), BENCH_SECONDS (8, per run), BENCH_CONNECTIONS
# (32), BENCH_NEW_PERCENT (10), BENCH_OUT (bench/RESULTS.md; "-": stdout),
# BENCH_KEEP=1 (keep the temp dir), MODULE, NGINX_BIN, AJP_RESPONDER
# (build/bench/ajp_responder).
#
# All parts (the default) rewrite BENCH_OUT. Some parts only: their report
# (machine, summary, sections) replaces the block of a previous run of the
# same parts in BENCH_OUT, or is appended; the rest of the file stays.
#
# Everything runs on 127.0.0.1, on free ports, in a temp dir; only processes
# this script started are stopped, by pid. The machine is small (2 cores):
# for the look-alike parts the proxy under test is pinned to CPU 0 (one
# nginx worker, one HAProxy thread) and wrk and the backends to CPU 1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
MODULE=${MODULE:-$REPO/build/ngx_http_sticky_workers_module.so}
AJP_RESPONDER=${AJP_RESPONDER:-$REPO/build/bench/ajp_responder}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
PAIRS=${BENCH_PAIRS:-5}
RUN_SECONDS=${BENCH_SECONDS:-8}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
NEW_PERCENT=${BENCH_NEW_PERCENT:-10}
OUT=${BENCH_OUT:-$REPO/bench/RESULTS.md}
CALLGRIND_FEW=300
CALLGRIND_MANY=1300
# The AJP connectors of the Tomcat parts require this secret (as mod_jk
# sites do); both proxies read it from the same workers.properties.
AJP_SECRET=bench-ajp-secret

ALL_PARTS=(core rr haproxy callgrind modjk ajp-modjk ajp-http ajp-callgrind)
PARTS=("$@")
((${#PARTS[@]})) || PARTS=("${ALL_PARTS[@]}")

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
    lookalike_properties "${BACKEND_PORTS[@]}" > "$WORK/lookalike.properties"
}

# The workers.properties of three look-alikes tomcat1..3 on ports $1 $2 $3.
lookalike_properties() {
    local i ports=("$@")
    echo "worker.list=lb"
    echo "worker.lb.type=lb"
    echo "worker.lb.balance_workers=tomcat1,tomcat2,tomcat3"
    for i in 1 2 3; do
        echo "worker.tomcat$i.host=127.0.0.1"
        echo "worker.tomcat$i.port=${ports[i - 1]}"
    done
}

# The AJP look-alikes: bench/ajp_responder (one process, pinned to CPU 1)
# on three ports, tomcat1..3, answering as the HTTP look-alikes do.
start_ajp_backends() {
    local ports
    [[ -x $AJP_RESPONDER ]] || die "$AJP_RESPONDER missing: make bench-ajp-responder"
    read -r -a ports <<< "$(free_ports 3)"
    start ajp-backends 1 "$AJP_RESPONDER" "${ports[0]}" tomcat1 "${ports[1]}" tomcat2 "${ports[2]}" tomcat3
    wait_ports "${ports[@]}" || die "ajp_responder did not start: $(cat "$WORK/ajp-backends.out")"
    lookalike_properties "${ports[@]}" > "$WORK/ajp-lookalike.properties"
}

# nginx.conf of a front nginx. $1: directory; $2: worker_processes; $3:
# extra main-context lines; then one SERVER per server block,
# PORT:KIND:PROPERTIES, KIND being
#   sticky  proxy_pass to `upstream { sticky_workers PROPERTIES; keepalive 64; }`
#   ajp     ajp_pass to the same kind of upstream (AJP ports in PROPERTIES)
#   rr      proxy_pass to nginx's round robin over PROPERTIES' host:port pairs
write_front_conf() {
    local d=$1 workers=$2 extra=$3 spec port kind props upstreams="" servers="" line
    shift 3
    for spec in "$@"; do
        IFS=: read -r port kind props <<< "$spec"
        upstreams+="
    upstream u$port {
"
        case $kind in
            sticky | ajp) upstreams+="        sticky_workers $props;
" ;;
            rr)
                while read -r line; do
                    upstreams+="        server $line;
"
                done < <(awk -F= '/\.host=/ { split($1, k, "."); h[k[2]] = $2 }
                                   /\.port=/ { split($1, k, "."); print h[k[2]] ":" $2 }' "$props")
                ;;
            *) die "write_front_conf: unknown kind $kind" ;;
        esac
        upstreams+="        keepalive 64;
    }"
        local pass="proxy_pass http://u$port;"
        [[ $kind == ajp ]] && pass="ajp_pass u$port;"
        servers+="
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / { $pass }
    }"
    done
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
    ajp_temp_path $d/temp;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    keepalive_requests 1000000;
$upstreams
$servers
}
EOF
}

# start_front NAME CPUS DIR: runs the nginx of DIR/nginx.conf (written by
# write_front_conf), waits for PORTS...; sets FRONT_PID.
start_front() {
    local name=$1 cpus=$2 d=$3
    shift 3
    start "$name" "$cpus" "$NGINX_BIN" -p "$d/" -c "$d/nginx.conf" -e "$d/logs/error.log"
    FRONT_PID=$LAST_PID
    wait_ports "$@" || die "front nginx $name did not start: $(cat "$WORK/$name.out" "$d/logs/error.log")"
    sleep 0.3
}

# --- wrk runs ----------------------------------------------------------------------

# wrk_run LABEL URL CPUS SCRIPT_ARGS... -> "rps cpu_s errors requests
# backend_cpu_s" on stdout; PROXY_PIDS: the processes whose CPU time counts;
# BACKEND_PIDS (may be empty): the backends', counted apart.
wrk_run() {
    local label=$1 url=$2 cpus=$3 out cpu0 cpu1 bcpu0 bcpu1 rps non2xx errors requests
    shift 3
    out=$WORK/wrk-$label.txt
    cpu0=$(cpu_seconds $PROXY_PIDS)
    bcpu0=$(cpu_seconds ${BACKEND_PIDS:-})
    if [[ -n $cpus ]]; then
        taskset -c "$cpus" wrk -t1 -c"$CONNECTIONS" -d"${RUN_SECONDS}s" --timeout 10s \
            -s "$HERE/sessions.lua" "$url" -- "$@" > "$out" 2>&1 || true
    else
        wrk -t1 -c"$CONNECTIONS" -d"${RUN_SECONDS}s" --timeout 10s \
            -s "$HERE/sessions.lua" "$url" -- "$@" > "$out" 2>&1 || true
    fi
    cpu1=$(cpu_seconds $PROXY_PIDS)
    bcpu1=$(cpu_seconds ${BACKEND_PIDS:-})
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    requests=$(awk '/ requests in / { print $1; exit }' "$out")
    [[ -n $rps && -n $requests ]] || die "wrk failed for $label: $(cat "$out")"
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    errors=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
    echo "$rps $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }') $((${non2xx:-0} + ${errors:-0}))" \
        "$requests $(awk -v a="$bcpu0" -v b="$bcpu1" 'BEGIN { printf "%.2f", b - a }')"
}

# checked: compare's output, "median cpu_median errors ..."
checked() { [[ $# -ge 3 ]] || die "a comparison failed (see the messages above)"; }

# ratio X Y [FORMAT]: X / Y, "n/a" unless both are > 0.
ratio() { awk -v x="$1" -v y="$2" -v f="${3:-%.3f}" 'BEGIN { if (x > 0 && y > 0) printf f, x / y; else print "n/a" }'; }

# per_request CPU_S REQUESTS: microseconds of CPU per request.
per_request() { ratio "$(awk -v c="$1" 'BEGIN { print c * 1e6 }')" "$2" "%.1f"; }

# median of the words given that are not "n/a" ("n/a" when none is).
median_of() {
    local v=() x
    for x in "$@"; do [[ $x != n/a ]] && v+=("$x"); done
    if ((${#v[@]})); then printf '%s\n' "${v[@]}" | median; else echo n/a; fi
}

# compare NAME A_LABEL A_URL A_PIDS B_LABEL B_URL B_PIDS CPUS SCRIPT_ARGS...
# Runs a warm-up of each, then PAIRS pairs A B; writes the pair table to
# $WORK/NAME.rows (pair_table prints it) and prints "median_ratio
# median_cpu_ratio errors". With BACKEND_PIDS (and BACKEND_LABEL), the CPU
# per request of the proxy and of the backends too: the table gets their
# columns and the output 6 more medians, "proxy_us_a proxy_us_b
# proxy_per_request_ratio backend_us_a backend_us_b backend_per_request_ratio"
# (µs of CPU per request; ratios A/B).
compare() {
    local name=$1 a_label=$2 a_url=$3 a_pids=$4 b_label=$5 b_url=$6 b_pids=$7 cpus=$8 p
    shift 8
    local saved=$RUN_SECONDS a b errors=0 blabel=${BACKEND_LABEL:-backend}
    local ratios=() cpu_ratios=() pa=() pb=() pr=() ba=() bb=() br=()
    RUN_SECONDS=2
    PROXY_PIDS=$a_pids wrk_run "$name-warm-a" "$a_url" "$cpus" "$@" > /dev/null
    PROXY_PIDS=$b_pids wrk_run "$name-warm-b" "$b_url" "$cpus" "$@" > /dev/null
    RUN_SECONDS=$saved
    {
        printf '| pair | %s req/s | %s CPU s | %s req/s | %s CPU s | ratio A/B | CPU efficiency A/B |' \
            "$a_label" "$a_label" "$b_label" "$b_label"
        [[ -z ${BACKEND_PIDS:-} ]] || printf ' %s proxy µs CPU/req | %s proxy µs CPU/req | %s %s µs CPU/req | %s %s µs CPU/req | %s CPU/req A/B |' \
            "$a_label" "$b_label" "$a_label" "$blabel" "$b_label" "$blabel" "$blabel"
        printf '\n|---|---|---|---|---|---|---|%s\n' "${BACKEND_PIDS:+---|---|---|---|---|}"
    } > "$WORK/$name.rows"
    for ((p = 1; p <= PAIRS; p++)); do
        read -r -a a <<< "$(PROXY_PIDS=$a_pids wrk_run "$name-$p-a" "$a_url" "$cpus" "$@")"
        read -r -a b <<< "$(PROXY_PIDS=$b_pids wrk_run "$name-$p-b" "$b_url" "$cpus" "$@")"
        local r c
        r=$(ratio "${a[0]}" "${b[0]}")
        # requests per CPU second of the proxy: A's over B's
        c=$(ratio "$(ratio "${a[0]}" "${a[1]}" %f)" "$(ratio "${b[0]}" "${b[1]}" %f)")
        ratios+=("$r")
        cpu_ratios+=("$c")
        errors=$((errors + a[2] + b[2]))
        printf '| %s | %s | %s | %s | %s | **%s** | %s |' "$p" "${a[0]}" "${a[1]}" "${b[0]}" "${b[1]}" "$r" "$c" \
            >> "$WORK/$name.rows"
        if [[ -n ${BACKEND_PIDS:-} ]]; then
            pa+=("$(per_request "${a[1]}" "${a[3]}")") pb+=("$(per_request "${b[1]}" "${b[3]}")")
            ba+=("$(per_request "${a[4]}" "${a[3]}")") bb+=("$(per_request "${b[4]}" "${b[3]}")")
            pr+=("$(ratio "${pa[-1]}" "${pb[-1]}")") br+=("$(ratio "${ba[-1]}" "${bb[-1]}")")
            printf ' %s | %s | %s | %s | **%s** |' "${pa[-1]}" "${pb[-1]}" "${ba[-1]}" "${bb[-1]}" "${br[-1]}" \
                >> "$WORK/$name.rows"
            say "$name pair $p: $blabel ${a[4]} vs ${b[4]} cpu s"
        fi
        echo >> "$WORK/$name.rows"
        say "$name pair $p: $a_label ${a[0]} req/s (${a[1]} cpu s), $b_label ${b[0]} req/s (${b[1]} cpu s): $r"
    done
    ((${#ratios[@]} == PAIRS)) || exit 1
    echo "$(median_of "${ratios[@]}") $(median_of "${cpu_ratios[@]}") $errors" \
        "${BACKEND_PIDS:+$(median_of "${pa[@]}") $(median_of "${pb[@]}") $(median_of "${pr[@]}")}" \
        "${BACKEND_PIDS:+$(median_of "${ba[@]}") $(median_of "${bb[@]}") $(median_of "${br[@]}")}"
}

# --- parts ---------------------------------------------------------------------------

RESULT_ROWS=()     # | comparison | goal | median | met |
SECTIONS=""

verdict() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
    if (v == "n/a" || v == "") { print "n/a"; exit }
    ok = (op == ">=") ? (v >= g) : (v <= g); print ok ? "met" : "**not met**" }'; }

pair_table() { cat "$WORK/$1.rows"; }   # NAME: compare's table

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
    write_front_conf "$d" 1 "daemon off;" \
        "${ports[0]}:sticky:$WORK/lookalike.properties" "${ports[1]}:rr:$WORK/lookalike.properties"
    start_front front 0 "$d" "${ports[@]}"
    local workers res
    workers=$(children "$FRONT_PID")
    read -r -a res <<< "$(compare rr module "http://127.0.0.1:${ports[0]}/" "$workers" \
        "round robin" "http://127.0.0.1:${ports[1]}/" "$workers" 1 3000 "$NEW_PERCENT")"
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

$(pair_table rr)
"
    stop_pid "$FRONT_PID"
}

part_haproxy() {
    say "haproxy: nginx + module vs HAProxy"
    local d=$WORK/front-h ports i servers="" rules=""
    read -r -a ports <<< "$(free_ports 2)"
    write_front_conf "$d" 1 "daemon off;" "${ports[0]}:sticky:$WORK/lookalike.properties"
    start_front front-h 0 "$d" "${ports[0]}"
    for i in 1 2 3; do
        servers+="    server tomcat$i 127.0.0.1:${BACKEND_PORTS[i - 1]}
"
        rules+="    use-server tomcat$i if { req.cook(JSESSIONID) -m end .tomcat$i }
"
    done
    cat > "$WORK/haproxy.cfg" << EOC
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
    bind 127.0.0.1:${ports[1]}
    default_backend tomcats
backend tomcats
    balance roundrobin
$rules$servers
EOC
    haproxy -c -q -f "$WORK/haproxy.cfg" || die "haproxy.cfg refused"
    start haproxy 0 haproxy -db -f "$WORK/haproxy.cfg"
    local haproxy_pid=$LAST_PID
    wait_ports "${ports[1]}" || die "haproxy did not start: $(cat "$WORK/haproxy.out")"
    sleep 0.3
    local res
    read -r -a res <<< "$(compare haproxy module "http://127.0.0.1:${ports[0]}/" "$(children "$FRONT_PID")" \
        haproxy "http://127.0.0.1:${ports[1]}/" "$haproxy_pid" 1 3000 "$NEW_PERCENT")"
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

$(pair_table haproxy)
"
    stop_pid "$haproxy_pid"
    stop_pid "$FRONT_PID"
}

# --- callgrind ---------------------------------------------------------------------

declare -A IR      # LABEL.N -> instructions of nginx for N requests
declare -A PER     # LABEL -> instructions per request
declare -A LOCKS   # LABEL.N -> calls of ngx_shmtx_lock (the zone lock) for N requests
declare -A LOCKS_PER  # LABEL -> zone lock acquisitions per request

# callgrind_calls FILE FUNCTION: how many times FUNCTION was called, from the
# calls= lines under each cfn= naming it (a name is written once, with its
# number; later mentions give the number alone).
callgrind_calls() {
    perl -ne '
        BEGIN { ($want) = splice @ARGV, 1, 1; $n = 0 }
        if (/^(c?)fn=\((\d+)\)(?: (.*))?$/) { my ($called, $id, $named) = ($1, $2, $3);
            $name{$id} = $named if defined $named;
            $in = $called eq "c" && ($name{$id} // "") eq $want; next }
        if ($in && /^calls=(\d+)/) { $n += $1; $in = 0 }
        END { print $n }' "$1" "$2"
}

# callgrind_measure LABEL DIR PORT: nginx of DIR/nginx.conf (written with
# `daemon off; master_process off;`) under callgrind, bench/client.pl sending
# CALLGRIND_FEW, then (in a second run) CALLGRIND_MANY requests to PORT; sets
# IR[LABEL.N] and PER[LABEL] (start-up and shutdown cancel out).
callgrind_measure() {
    local label=$1 d=$2 port=$3 n out pid ir t
    for n in "$CALLGRIND_FEW" "$CALLGRIND_MANY"; do
        out=$WORK/callgrind.$label.$n
        start "cg-$label-$n" 0 valgrind --tool=callgrind --callgrind-out-file="$out" \
            "$NGINX_BIN" -p "$d/" -c "$d/nginx.conf" -e "$d/logs/error.log"
        pid=$LAST_PID
        WAIT_SECONDS=120 wait_ports "$port" || die "nginx under valgrind did not start: $(tail "$WORK/cg-$label-$n.out")"
        taskset -c 1 perl "$HERE/client.pl" "$port" "$n" "$NEW_PERCENT" || die "client failed on $label"
        kill -QUIT "$pid"
        for ((t = 0; t < 600; t++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
        stop_pid "$pid"
        ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$out")
        [[ -n $ir ]] || die "no callgrind totals in $out"
        IR[$label.$n]=$ir
        LOCKS[$label.$n]=$(callgrind_calls "$out" ngx_shmtx_lock)
        say "callgrind $label $n requests: $ir instructions, ${LOCKS[$label.$n]} zone locks"
    done
    PER[$label]=$(((IR[$label.$CALLGRIND_MANY] - IR[$label.$CALLGRIND_FEW]) / (CALLGRIND_MANY - CALLGRIND_FEW)))
    LOCKS_PER[$label]=$(awk -v a="${LOCKS[$label.$CALLGRIND_MANY]}" -v b="${LOCKS[$label.$CALLGRIND_FEW]}" \
        -v n=$((CALLGRIND_MANY - CALLGRIND_FEW)) 'BEGIN { printf "%.2f", (a - b) / n }')
}

# callgrind_table LABEL NAME...: the rows of the table of these measurements.
callgrind_table() {
    local label
    echo "| upstream | instructions, $CALLGRIND_FEW requests | instructions, $CALLGRIND_MANY requests | per request | zone locks per request |"
    echo "|---|---|---|---|---|"
    while (($#)); do
        label=$1
        printf '| %s | %s | %s | %s | %s |\n' "$2" "${IR[$label.$CALLGRIND_FEW]}" "${IR[$label.$CALLGRIND_MANY]}" "${PER[$label]}" "${LOCKS_PER[$label]}"
        shift 2
    done
}

CALLGRIND_METHOD="bench/client.pl sends $CALLGRIND_FEW, then (in
a second run) $CALLGRIND_MANY requests one after the other on one keep-alive
connection (the same cookie mix). Instructions per request = (total of the
long run − total of the short run) / $((CALLGRIND_MANY - CALLGRIND_FEW)): start-up and shutdown cancel out."

part_callgrind() {
    say "callgrind: instructions per proxied request"
    local d=$WORK/cg ports
    read -r -a ports <<< "$(free_ports 2)"
    write_front_conf "$d" 1 "daemon off; master_process off;" \
        "${ports[0]}:sticky:$WORK/lookalike.properties" "${ports[1]}:rr:$WORK/lookalike.properties"
    callgrind_measure module "$d" "${ports[0]}"
    callgrind_measure rr "$d" "${ports[1]}"
    local extra
    extra=$(awk -v m="${PER[module]}" -v r="${PER[rr]}" 'BEGIN { printf "%+.2f", (m - r) * 100 / r }')
    RESULT_ROWS+=("| callgrind instructions per proxied request, module vs round robin | ≤ +2 % | $extra % (${PER[module]} vs ${PER[rr]}) | $(verdict "${extra#+}" "<=" 2) |")
    SECTIONS+="
## Instructions per proxied request (callgrind)

nginx with \`master_process off; daemon off;\` under \`valgrind --tool=callgrind\`,
the same nginx.conf as above; $CALLGRIND_METHOD

$(callgrind_table module module rr "round robin")

The module costs **$extra %** instructions per request (goal ≤ +2 %).
"
}

part_ajp_callgrind() {
    say "ajp-callgrind: instructions per request through the module, AJP vs HTTP"
    start_ajp_backends
    local d=$WORK/cg-ajp ports
    read -r -a ports <<< "$(free_ports 2)"
    write_front_conf "$d" 1 "daemon off; master_process off;" \
        "${ports[0]}:ajp:$WORK/ajp-lookalike.properties" "${ports[1]}:sticky:$WORK/lookalike.properties"
    callgrind_measure ajp "$d" "${ports[0]}"
    callgrind_measure http "$d" "${ports[1]}"
    local r
    r=$(ratio "${PER[ajp]}" "${PER[http]}")
    RESULT_ROWS+=("| callgrind instructions per request through the module, \`ajp_pass\` vs \`proxy_pass\` (fast backends) | (reported) | $r (${PER[ajp]} vs ${PER[http]}) | |")
    SECTIONS+="
## Instructions per request, AJP vs HTTP (callgrind)

nginx (\`master_process off; daemon off;\`) under \`valgrind --tool=callgrind\`
with two servers over the module's upstreams (\`keepalive 64\`): A
\`ajp_pass\` to three bench/ajp_responder ports (a C AJP/1.3 container: one
SEND_HEADERS with Content-Type, Content-Length and, for a request without a
session, Set-Cookie; one SEND_BODY_CHUNK \`\"tomcatN\\n\"\`; END_RESPONSE reuse=1), B
\`proxy_pass\` to the look-alike HTTP backends (the same answer). Only nginx's
instructions are counted. $CALLGRIND_METHOD

$(callgrind_table ajp "ajp_pass (AJP/1.3)" http "proxy_pass (HTTP/1.1)")

An AJP request costs **$r×** the instructions of an HTTP one.
"
}

# --- the real Tomcat cluster -------------------------------------------------------

# Started once for the Tomcat parts (cluster_up), stopped after the last
# (cluster_down): 3 Tomcat 10 nodes with HTTP and AJP connectors, real
# sessions, one nginx with the module (server HTTP on TC_PORTS[0]: proxy_pass;
# TC_PORTS[1]: ajp_pass) and Apache httpd + mod_jk (TC_PORTS[2]).
TC_UP=0
cluster_up() {
    ((TC_UP)) && return 0
    command -v tomcat10-instance-create > /dev/null || die "tomcat10-user missing"
    [[ -f /usr/lib/apache2/modules/mod_jk.so ]] || die "libapache2-mod-jk missing"
    read -r -a TC_PORTS <<< "$(free_ports 3)"
    CLUSTER_DIR=$WORK/cluster
    CLUSTER_AVOID_PORTS="${TC_PORTS[*]} ${BACKEND_PORTS[*]:-}" \
        "$REPO/t/tomcat/cluster.sh" start "$CLUSTER_DIR" --nodes 3 --ajp-secret "$AJP_SECRET" \
        > "$WORK/cluster.out" 2>&1 || die "cluster did not start: $(tail -30 "$WORK/cluster.out")"
    "$REPO/t/tomcat/cluster.sh" workers "$CLUSTER_DIR" > "$WORK/tomcat-http.properties"
    "$REPO/t/tomcat/cluster.sh" workers "$CLUSTER_DIR" --ajp > "$WORK/tomcat-ajp.properties"
    grep -q "^worker.tomcat1.secret=$AJP_SECRET\$" "$WORK/tomcat-ajp.properties" \
        || die "cluster.sh workers --ajp wrote no secret: $(cat "$WORK/tomcat-ajp.properties")"
    TOMCAT_PIDS=$(. "$CLUSTER_DIR/cluster.env"; for ((i = 1; i <= NODES; i++)); do v=NODE${i}_PID; echo "${!v}"; done)
    TOMCAT_PIDS=$(echo $TOMCAT_PIDS)
    [[ $TOMCAT_PIDS =~ ^[0-9]+\ [0-9]+\ [0-9]+$ ]] || die "no pids of the 3 Tomcats in cluster.env: '$TOMCAT_PIDS'"
    # Real sessions: 100 made on each node directly.
    local http i n
    : > "$WORK/tomcat-sessions.txt"
    for i in 1 2 3; do
        http=$(awk -F= -v k="worker.tomcat$i.port" '$1 == k { print $2 }' "$WORK/tomcat-http.properties")
        local urls=()
        for ((n = 0; n < 100; n++)); do urls+=("http://127.0.0.1:$http/add?book=b$n"); done
        curl -s -m 60 -D - -o /dev/null "${urls[@]}" \
            | sed -n 's/^Set-Cookie: JSESSIONID=\([^;]*\).*/\1/Ip' >> "$WORK/tomcat-sessions.txt"
    done
    TC_SESSIONS=$(wc -l < "$WORK/tomcat-sessions.txt")
    ((TC_SESSIONS >= 250)) || die "only $TC_SESSIONS Tomcat sessions made"

    # nginx + module: 2 workers; not pinned (the JVMs need both cores too).
    local d=$WORK/front-t
    write_front_conf "$d" 2 "daemon off;" \
        "${TC_PORTS[0]}:sticky:$WORK/tomcat-http.properties" "${TC_PORTS[1]}:ajp:$WORK/tomcat-ajp.properties"
    start_front front-t "" "$d" "${TC_PORTS[0]}" "${TC_PORTS[1]}"
    TC_NGINX_PID=$FRONT_PID
    TC_NGINX_WORKERS=$(children "$TC_NGINX_PID")

    # Apache httpd 2.4 (mpm_event) + mod_jk, AJP to the same Tomcats.
    local a=$WORK/apache user_lines=""
    mkdir -p "$a"
    [[ $(id -u) -eq 0 ]] && user_lines="User www-data
Group www-data"
    chmod 755 "$WORK"
    cat > "$a/httpd.conf" << EOC
ServerRoot $a
ServerName 127.0.0.1
Listen 127.0.0.1:${TC_PORTS[2]}
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
EOC
    chown -R www-data "$a" 2> /dev/null || true
    /usr/sbin/apache2 -t -f "$a/httpd.conf" > "$WORK/apache-t.out" 2>&1 || die "apache config: $(cat "$WORK/apache-t.out")"
    start apache "" /usr/sbin/apache2 -f "$a/httpd.conf" -DFOREGROUND
    TC_APACHE_PID=$LAST_PID
    wait_ports "${TC_PORTS[2]}" || die "apache did not start: $(cat "$a/error.log" 2> /dev/null)"
    sleep 1
    TC_APACHE_PIDS="$TC_APACHE_PID $(children "$TC_APACHE_PID")"
    # each front must route the sessions to their own node
    local sid port
    sid=$(head -1 "$WORK/tomcat-sessions.txt")
    for port in "${TC_PORTS[@]}"; do
        curl -s -m 10 -b "JSESSIONID=$sid" "http://127.0.0.1:$port/cart.json" | grep -q "\"node\":\"${sid##*.}\"" \
            || die "port $port did not route $sid to ${sid##*.}"
    done
    TC_UP=1
}

cluster_down() {
    ((TC_UP)) || return 0
    stop_pid "$TC_APACHE_PID"
    stop_pid "$TC_NGINX_PID"
    "$REPO/t/tomcat/cluster.sh" stop "$CLUSTER_DIR" > /dev/null 2>&1 || true
    CLUSTER_DIR=""
    TC_UP=0
}

# tomcat_compare NAME A_LABEL A_PORT A_PIDS B_LABEL B_PORT B_PIDS: compare
# with the cluster's traffic: the real sessions on /cart.json, NEW_PERCENT
# % without a session on /health; nothing pinned.
tomcat_compare() {
    compare "$1" "$2" "http://127.0.0.1:$3/" "$4" "$5" "http://127.0.0.1:$6/" "$7" "" \
        "$WORK/tomcat-sessions.txt" "$NEW_PERCENT" /cart.json /health
}

TOMCAT_SETUP="t/tomcat/cluster.sh: 3 Tomcat 10 nodes (BackupManager, the cart
app), each with an HTTP and an AJP/1.3 connector (\`--ajp-secret\`:
\`secretRequired\` as on a mod_jk site; the workers.properties of
\`cluster.sh workers --ajp\`, with the secret, read unchanged by mod_jk and
by \`sticky_workers\`)."
TOMCAT_APACHE="Apache httpd 2.4 (mpm_event, 2 processes × 32 threads) +
mod_jk, \`JkMount /* cluster\`, AJP (mod_jk keeps its AJP connections)"
tomcat_traffic() { echo "Traffic: $TC_SESSIONS real sessions (made on the
nodes directly) on \`/cart.json\`, $NEW_PERCENT % without a session on
\`/health\`; wrk 1 thread, $CONNECTIONS connections, ${RUN_SECONDS} s per run."; }

part_modjk() {
    say "modjk: real Tomcat cluster, nginx + module vs Apache httpd + mod_jk"
    cluster_up
    local res
    read -r -a res <<< "$(tomcat_compare modjk module "${TC_PORTS[0]}" "$TC_NGINX_WORKERS" \
        mod_jk "${TC_PORTS[2]}" "$TC_APACHE_PIDS")"
    checked "${res[@]}"
    RESULT_ROWS+=("| real Tomcat 10 cluster: nginx + module (HTTP) vs Apache httpd + mod_jk 1.2.48 (AJP), throughput | ≥ 2.0 | ${res[0]} | $(verdict "${res[0]}" ">=" 2.0) |")
    RESULT_ROWS+=("| the same, requests per CPU second of the proxy | (≥ 2.0) | ${res[1]} | $(verdict "${res[1]}" ">=" 2.0) |")
    SECTIONS+="
## Real Tomcat cluster: nginx + module vs Apache httpd + mod_jk

$TOMCAT_SETUP

A: nginx + module, 2 worker processes, HTTP with keepalive. B:
$TOMCAT_APACHE. Nothing is pinned: the JVMs need both cores, so
**the Tomcats are the bottleneck** and the throughput ratio mostly measures
them; the CPU efficiency column (requests per CPU second of the proxy's own
processes) shows the proxies apart. $(tomcat_traffic)
Socket errors + non-2xx: ${res[2]}.

$(pair_table modjk)
"
}

part_ajp_modjk() {
    say "ajp-modjk: real Tomcat cluster, nginx + module (AJP) vs Apache httpd + mod_jk (AJP)"
    cluster_up
    local res
    read -r -a res <<< "$(tomcat_compare ajp-modjk ajp_pass "${TC_PORTS[1]}" "$TC_NGINX_WORKERS" \
        mod_jk "${TC_PORTS[2]}" "$TC_APACHE_PIDS")"
    checked "${res[@]}"
    RESULT_ROWS+=("| real Tomcat 10 cluster, both over AJP: nginx + module (\`ajp_pass\`) vs Apache httpd + mod_jk 1.2.48, throughput | ≥ 1.0 | ${res[0]} | $(verdict "${res[0]}" ">=" 1.0) |")
    RESULT_ROWS+=("| the same, requests per CPU second of the proxy | ≥ 2.0 | ${res[1]} | $(verdict "${res[1]}" ">=" 2.0) |")
    SECTIONS+="
## Real Tomcat cluster over AJP: nginx + module (\`ajp_pass\`) vs Apache httpd + mod_jk

$TOMCAT_SETUP

A: nginx + module, 2 worker processes, \`ajp_pass\` to \`upstream {
sticky_workers (the AJP file); keepalive 64; }\`. B: $TOMCAT_APACHE, the
same file. Both proxies speak AJP to the same connectors, so the Tomcats do
the same work for either; nothing is pinned (the JVMs need both cores) and
**the Tomcats are the bottleneck** of the throughput; the CPU efficiency
column (requests per CPU second of the proxy's own processes) shows the
proxies apart. $(tomcat_traffic)
Socket errors + non-2xx: ${res[2]}.

$(pair_table ajp-modjk)
"
}

part_ajp_http() {
    say "ajp-http: real Tomcat cluster, nginx + module over AJP vs over HTTP"
    cluster_up
    local res
    read -r -a res <<< "$(BACKEND_PIDS=$TOMCAT_PIDS BACKEND_LABEL=Tomcat \
        tomcat_compare ajp-http AJP "${TC_PORTS[1]}" "$TC_NGINX_WORKERS" \
        HTTP "${TC_PORTS[0]}" "$TC_NGINX_WORKERS")"
    checked "${res[@]}"
    [[ ${#res[@]} -eq 9 ]] || die "ajp-http: no CPU per request figures"
    RESULT_ROWS+=("| real Tomcat 10 cluster: nginx + module over AJP (\`ajp_pass\`) vs over HTTP (\`proxy_pass\`), throughput | (reported) | ${res[0]} | |")
    RESULT_ROWS+=("| the same, nginx's CPU per request, AJP / HTTP | (reported) | ${res[5]} (${res[3]} vs ${res[4]} µs) | |")
    RESULT_ROWS+=("| the same, the Tomcats' CPU per request, AJP / HTTP | (reported) | ${res[8]} (${res[6]} vs ${res[7]} µs) | |")
    SECTIONS+="
## Real Tomcat cluster: nginx + module over AJP vs over HTTP

$TOMCAT_SETUP

One nginx + module (2 worker processes, not pinned) with two servers: A \`ajp_pass\` to \`upstream { sticky_workers (AJP file); keepalive 64; }\`,
B \`proxy_pass\` to \`upstream { sticky_workers (HTTP file); keepalive 64; }\`
(HTTP/1.1, keepalive): the same nodes, the same sessions, only the protocol
between nginx and Tomcat differs. CPU per request = the CPU seconds (user +
system) of nginx's workers, or of the three JVMs (everything they do, GC and
session replication included), over the requests wrk completed in the run.
$(tomcat_traffic) Socket errors + non-2xx: ${res[2]}.

$(pair_table ajp-http)

Medians: nginx **${res[3]} µs** of CPU per request over AJP, **${res[4]} µs**
over HTTP (AJP/HTTP ${res[5]}); the Tomcats **${res[6]} µs** over AJP,
**${res[7]} µs** over HTTP (AJP/HTTP ${res[8]}).
"
}

# --- main ------------------------------------------------------------------------------

need_backends=0
for part in "${PARTS[@]}"; do
    case $part in
        core | modjk | ajp-modjk | ajp-http) ;;
        rr | haproxy | callgrind | ajp-callgrind) need_backends=1 ;;
        *) die "unknown part $part (${ALL_PARTS[*]})" ;;
    esac
done
is_tomcat_part() { [[ $1 == modjk || $1 == ajp-modjk || $1 == ajp-http ]]; }
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
((need_backends)) && start_backends
START=$(date +%s)
for ((i = 0; i < ${#PARTS[@]}; i++)); do
    "part_${PARTS[i]//-/_}"
    # the cluster idles on after its last part: stop it before other parts
    later_tomcat=0
    for part in "${PARTS[@]:i+1}"; do is_tomcat_part "$part" && later_tomcat=1; done
    ((later_tomcat)) || cluster_down
done

version() { "$@" 2>&1 | head -1; }
# report HEADING: the whole report; HEADING is the level of its title ("#"),
# the other headings are one level below.
report() {
    local h=$1 title="Benchmark results" how="\`make bench\` (bench/run.sh)"
    if [[ $h != "#" ]]; then
        title="Benchmark results: ${PARTS[*]}"
        how="\`bench/run.sh ${PARTS[*]}\` (\`make bench-compare BENCH_PARTS=\"${PARTS[*]}\"\`)"
    fi
    cat << EOF
$h $title

Written by $how on $(date -u '+%Y-%m-%d %H:%M UTC') in $(($(date +%s) - START)) s.
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

#$h Summary

| comparison | goal | median | |
|---|---|---|---|
$(printf '%s\n' "${RESULT_ROWS[@]}")
$(if [[ $h == "#" ]]; then echo "$SECTIONS"; else echo "$SECTIONS" | sed 's/^## /### /'; fi)
EOF
}

# A run of some parts: its report, between markers naming the parts,
# replaces the block of a previous run of the same parts in $OUT, or is
# appended to it.
merge_report() {
    local key="${PARTS[*]}"
    report "##" > "$WORK/block.md"
    perl -e '
        my ($file, $key, $blockfile) = @ARGV;
        local $/;
        open my $f, "<", $file or die "$file: $!";
        my $text = <$f>;
        open my $b, "<", $blockfile or die "$blockfile: $!";
        my $block = <$b>;
        my ($begin, $end) = ("<!-- bench-run: $key -->", "<!-- /bench-run: $key -->");
        $block =~ s/\n*\z/\n/;
        $block = "$begin\n$block$end\n";
        unless ($text =~ s/^\Q$begin\E\n.*?^\Q$end\E\n/$block/ms) {
            $text =~ s/\n*\z/\n\n/;
            $text .= $block;
        }
        print $text;' "$OUT" "$key" "$WORK/block.md"
}

all_parts=$(printf '%s\n' "${ALL_PARTS[@]}" | sort | tr '\n' ' ')
run_parts=$(printf '%s\n' "${PARTS[@]}" | sort -u | tr '\n' ' ')
if [[ $OUT == - ]]; then
    report "#"
elif [[ $run_parts == "$all_parts" || ! -f $OUT ]]; then
    report "#" > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
    say "wrote $OUT"
    sed -n '/^## Summary/,/^## [^S]/p' "$OUT" | head -30 >&2
else
    merge_report > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
    say "wrote the block of \"${PARTS[*]}\" in $OUT"
    sed -n "/^<!-- bench-run: ${PARTS[*]} -->/,\$p" "$OUT" | sed -n '/^### Summary/,/^### [^S]/p' | head -30 >&2
fi
