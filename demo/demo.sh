#!/usr/bin/env bash
# `make demo`: three Tomcats with replicated sessions behind nginx on
# http://localhost:8080/, routed by the sticky module from a mod_jk
# workers.properties and spoken to over AJP/1.3 (`ajp_pass`), with the AJP
# ports and secret of that file, as mod_jk would.
#
#   demo/demo.sh start     install what is missing, start everything
#   demo/demo.sh stop      stop everything the demo started
#   demo/demo.sh status
#
# Environment:
#   MODULE               the module to load (default: build/ngx_http_sticky_workers_module.so)
#   NGINX_BIN            default /usr/sbin/nginx
#   DEMO_PORT            nginx's port on 127.0.0.1 (and [::1]), default 8080
#   DEMO_DIR             the state directory, default demo/.run: the cluster,
#                        the cart app's build, workers.properties, nginx's
#                        prefix (conf, logs, pid). `stop` and `status` need the
#                        same DEMO_DIR as `start`. (DEMO_STATE_DIR: older name.)
#   DEMO_MANAGER         backup (default) or delta: Tomcat's session manager
#   DEMO_PLAIN_UPSTREAM  1: plain round-robin `server` lines, no module (only
#                        for testing the demo itself while the module is not built)
#
# Two demos with different DEMO_DIR and DEMO_PORT run side by side (the
# tests do so); only processes recorded in DEMO_DIR are ever stopped.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CLUSTER=$REPO/t/tomcat/cluster.sh
STATE=$(realpath -m "${DEMO_DIR:-${DEMO_STATE_DIR:-$HERE/.run}}")   # nginx -p and pid checks want it absolute
MODULE=$(realpath -m "${MODULE:-$REPO/build/ngx_http_sticky_workers_module.so}")  # load_module needs it absolute
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
MANAGER=${DEMO_MANAGER:-backup}
PLAIN=${DEMO_PLAIN_UPSTREAM:-0}
PORT=${DEMO_PORT:-8080}            # the Tomcats get other free ports
[[ $PORT =~ ^[0-9]+$ ]] && ((PORT >= 1 && PORT <= 65535)) || { echo "demo: error: DEMO_PORT must be a port number, not '$PORT'" >&2; exit 2; }
NGINX_PREFIX=$STATE/nginx
NGINX_PID=$NGINX_PREFIX/logs/nginx.pid

say() { echo "demo: $*" >&2; }
die() { say "error: $*"; exit 1; }

# --- packages ------------------------------------------------------------------

# Installs, with apt-get, only the packages whose command or file is missing.
install_missing() {
    local missing=()
    command -v tomcat10-instance-create >/dev/null || missing+=(tomcat10-user)
    [[ -r /usr/share/java/tomcat10-servlet-api.jar ]] || missing+=(libtomcat10-java)
    command -v javac >/dev/null || missing+=(default-jdk-headless)
    [[ -x $NGINX_BIN ]] || missing+=(nginx)
    command -v curl >/dev/null || missing+=(curl)
    ((${#missing[@]})) || return 0

    say "installing ${missing[*]}"
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# --- nginx -----------------------------------------------------------------------

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid in our pid file, if it is alive and is the nginx master of our prefix.
nginx_master_pid() {
    local pid
    pid=$(cat "$NGINX_PID" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$NGINX_PREFIX" || return 1
    echo "$pid"
}

# localhost may be ::1 for a browser: listen there too when it exists.
listen_lines() {
    echo "        listen 127.0.0.1:$PORT;"
    if grep -qs ' lo$' /proc/net/if_inet6; then echo "        listen [::1]:$PORT;"; fi
}

upstream_block() {
    local i port
    echo "    upstream tomcats {"
    if [[ $PLAIN == 1 ]]; then
        . "$STATE/cluster/cluster.env"
        echo "        # DEMO_PLAIN_UPSTREAM=1: round robin, no stickiness (demo self-test only)"
        for ((i = 1; i <= NODES; i++)); do
            port="NODE${i}_HTTP"
            echo "        server 127.0.0.1:${!port};"
        done
    else
        echo "        # mod_jk's file for the cluster, unchanged: AJP ports, secret"
        echo "        sticky_workers $STATE/workers.properties;"
        echo "        keepalive 16;"
    fi
    echo "    }"
}

# Over AJP, as mod_jk: the module's upstream; plain round robin speaks HTTP.
pass_lines() {
    if [[ $PLAIN == 1 ]]; then
        printf '            proxy_pass http://tomcats;\n'
        printf '            proxy_set_header Host $http_host;\n'
    else
        printf '            ajp_pass tomcats;\n'
    fi
}

# The module's status page; read_write: the demo listens on localhost only.
status_location() {
    [[ $PLAIN == 1 ]] && return
    printf '\n        location = /sticky-status {\n            sticky_status read_write;\n        }\n'
}

write_nginx_conf() {
    mkdir -p "$NGINX_PREFIX"/{conf,logs,temp}
    {
        echo "# Written by demo/demo.sh: nginx -p $NGINX_PREFIX -c conf/nginx.conf"
        [[ $PLAIN == 1 ]] || echo "load_module $MODULE;"
        cat <<'EOF'
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log info;

events {
    worker_connections 256;
}

http {
    # Everything under the prefix: this nginx shares nothing with the system's.
    client_body_temp_path temp/client_body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;

    # Which Tomcat answered, for which session: the demo's point.
    log_format sticky '$remote_addr [$time_local] "$request" $status '
                      'upstream=$upstream_addr JSESSIONID=$cookie_JSESSIONID';
    access_log logs/access.log sticky;

EOF
        upstream_block
        cat <<EOF

    server {
$(listen_lines)
        server_name localhost;

        location / {
$(pass_lines)
        }
$(status_location)
    }
}
EOF
    } > "$NGINX_PREFIX/conf/nginx.conf"
}

nginx_cmd() {
    "$NGINX_BIN" -p "$NGINX_PREFIX" -c conf/nginx.conf -e logs/error.log "$@"
}

start_nginx() {
    write_nginx_conf
    # -t first: a bad config (or module) is reported here with its message.
    nginx_cmd -t -q || die "nginx rejected $NGINX_PREFIX/conf/nginx.conf"
    nginx_cmd
    local end=$((SECONDS + 20))
    until curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$PORT/health" 2>/dev/null; do
        ((SECONDS < end)) || { tail -20 "$NGINX_PREFIX/logs/error.log" >&2; die "nginx does not answer on :$PORT"; }
        sleep 0.3
    done
}

stop_nginx() {
    local pid end
    pid=$(nginx_master_pid) || return 0
    kill -TERM "$pid"
    end=$((SECONDS + 15))
    while [[ -e /proc/$pid ]] && ((SECONDS < end)); do sleep 0.2; done
    if [[ -e /proc/$pid ]]; then
        say "nginx (pid $pid) still running: KILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$NGINX_PID"
    say "stopped nginx (pid $pid)"
}

# --- commands --------------------------------------------------------------------

cluster_running() {
    [[ -f $STATE/cluster/cluster.env ]] && "$CLUSTER" status "$STATE/cluster" 2>/dev/null | grep -qv ' down '
}

cmd_start() {
    [[ $MANAGER == backup || $MANAGER == delta ]] || die "DEMO_MANAGER must be backup or delta"
    if nginx_master_pid >/dev/null || cluster_running; then
        die "the demo is already running (demo/demo.sh stop first)"
    fi
    if [[ $PLAIN != 1 && ! -f $MODULE ]]; then
        die "no module at $MODULE: run make first (or set MODULE=)"
    fi
    port_in_use "$PORT" && die "port $PORT is in use by another program"

    install_missing
    mkdir -p "$STATE"
    # Built into the state dir: a demo started beside this one does not
    # replace the app under our feet.
    "$REPO/demo/cartapp/build.sh" "$STATE/cartapp" >&2

    say "starting 3 Tomcats ($MANAGER manager)"
    # The Tomcats' ports are picked freely, but never nginx's.
    # AJP connectors as a mod_jk site has them since CVE-2020-1938: a secret
    # (a new one per demo), and Tomcat's LoadBalancerDrainingValve, which
    # moves users whose session is gone off a node drained on the page.
    CLUSTER_AVOID_PORTS=$PORT "$CLUSTER" start "$STATE/cluster" --nodes 3 --manager "$MANAGER" \
        --app "$STATE/cartapp/ROOT" --ajp-secret "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" \
        --draining-valve engine
    # From here on any failure (die included) stops what was started.
    trap 'say "start failed; stopping what was started"; stop_nginx; "$CLUSTER" stop "$STATE/cluster" || true' EXIT
    "$CLUSTER" workers "$STATE/cluster" --ajp > "$STATE/workers.properties"
    start_nginx
    trap - EXIT

    . "$STATE/cluster/cluster.env"
    cat <<EOF

The demo is up.
  Open http://localhost:$PORT/            the shopping cart, through nginx
       http://localhost:$PORT/cart.json   the same cart as JSON
       http://localhost:$PORT/sticky-status   the status page: drain, stop, activate
  The page shows which Tomcat answered and the session id: its suffix
  (.tomcat1 ...) is the jvmRoute nginx routes by. Add books, reload, and
  stop one with "t/tomcat/cluster.sh kill $STATE/cluster N" to see failover.
  nginx speaks AJP/1.3 to the Tomcats (ajp_pass), as mod_jk does: the AJP
  ports and the secret come from workers.properties, unchanged. Drain a node
  on the status page: Tomcat's LoadBalancerDrainingValve sends users whose
  session is gone to another node.

  Tomcats (AJP):     tomcat1 127.0.0.1:$NODE1_AJP  tomcat2 127.0.0.1:$NODE2_AJP  tomcat3 127.0.0.1:$NODE3_AJP
  Tomcats (HTTP):    tomcat1 http://127.0.0.1:$NODE1_HTTP/  tomcat2 http://127.0.0.1:$NODE2_HTTP/  tomcat3 http://127.0.0.1:$NODE3_HTTP/
  workers.properties: $STATE/workers.properties
  nginx:             $NGINX_PREFIX/conf/nginx.conf, logs in $NGINX_PREFIX/logs/
  Tomcat logs:       $STATE/cluster/node*/logs/catalina.out
  Stop with:         $(stop_command)
EOF
}

# How to stop this demo: with the DEMO_DIR it was started with.
stop_command() {
    if [[ -n ${DEMO_DIR:-${DEMO_STATE_DIR:-}} ]]; then
        echo "DEMO_DIR=$STATE demo/demo.sh stop"
    else
        echo "demo/demo.sh stop"
    fi
}

# The port the running nginx listens on, from its configuration.
running_port() {
    sed -n 's/^ *listen 127\.0\.0\.1:\([0-9]*\);.*/\1/p' "$NGINX_PREFIX/conf/nginx.conf" 2>/dev/null | head -n 1
}

cmd_stop() {
    stop_nginx
    if [[ -f $STATE/cluster/cluster.env ]]; then
        "$CLUSTER" stop "$STATE/cluster"
    fi
}

cmd_status() {
    local pid
    if pid=$(nginx_master_pid); then
        echo "nginx   up       http://localhost:$(running_port)/ pid=$pid"
    else
        echo "nginx   down"
    fi
    if [[ -f $STATE/cluster/cluster.env ]]; then
        "$CLUSTER" status "$STATE/cluster"
    else
        echo "tomcats not started"
    fi
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
