#!/usr/bin/env bash
# An N-node Tomcat 10 cluster of private instances on this machine, with real
# session replication (BackupManager or DeltaManager) over static membership,
# serving the cart app (demo/cartapp) as ROOT. Used by `make demo` and tests.
#
#   cluster.sh start DIR [--nodes N] [--manager backup|delta]
#                        [--http-ports P1,P2,...] [--app EXPLODED_ROOT_DIR]
#                        [--ajp]     also an AJP/1.3 connector per node (mod_jk)
#                        [--ajp-secret S]   ... with secretRequired="true"
#                                    and secret S (implies --ajp)
#                        [--packet-size N]  ... its packetSize (8192..65536)
#                        [--ajp-attributes REGEX]  ... its
#                                    allowedRequestAttributesPattern
#                        [--ajp-option NAME=VALUE]  any other attribute of
#                                    the AJP connector (repeatable), e.g.
#                                    keepAliveTimeout=500
#                        [--draining-valve engine|host]  Tomcat's
#                                    LoadBalancerDrainingValve there
#                        [--access-log unbuffered]  each request in
#                                    logs/access.log at once (default:
#                                    buffered, flushed every few seconds)
#   cluster.sh stop DIR              stop every node this DIR started
#   cluster.sh kill DIR N            kill -9 node N (a crash)
#   cluster.sh restart-node DIR N    start node N again, wait for /health
#   cluster.sh status DIR            one line per node: up/down, ports, pid
#   cluster.sh workers DIR [--ajp]   print a mod_jk workers.properties (ports:
#                                    HTTP connectors; --ajp: AJP connectors,
#                                    with the secret and max_packet_size)
#
# Every AJP connector is set up as on a mod_jk site: 127.0.0.1 only,
# tomcatAuthentication="false" (the web server authenticates: the user it
# sends is getRemoteUser()), secretRequired="true" with --ajp-secret (without
# it, secretRequired="false", as the benchmark's mod_jk runs).
#
# DIR/cluster.env (KEY=VALUE lines, bash-sourceable) records, for node i:
# NODEi_ROUTE (jvmRoute tomcat<i>), NODEi_HTTP, NODEi_TRIBES, NODEi_BASE,
# NODEi_PID (empty when not running), NODEi_AJP (empty without --ajp); plus
# NODES, MANAGER, START_SECONDS, and AJP_SECRET, AJP_PACKET_SIZE,
# AJP_ATTRIBUTES, AJP_OPTIONS (space-separated NAME=VALUE), DRAINING_VALVE,
# ACCESS_LOG (each empty when not given).
#
# Environment: CLUSTER_START_TIMEOUT (s, default 180), CLUSTER_STOP_TIMEOUT
# (s, default 20), CLUSTER_JAVA_OPTS (extra JVM options for every node),
# CLUSTER_AVOID_PORTS (ports, comma- or space-separated, that start must not
# pick: e.g. the port of the nginx in front, when it is not 8080).
#
# Processes are only ever signalled by the pid this script recorded, after
# checking that the pid still is the JVM of that instance: two clusters in
# different DIRs can run (and be started) side by side.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TOMCAT_HOME=/usr/share/tomcat10
START_TIMEOUT=${CLUSTER_START_TIMEOUT:-180}
STOP_TIMEOUT=${CLUSTER_STOP_TIMEOUT:-20}
# Serialises "pick free ports .. ports bound" between concurrent starts, so
# two clusters never pick the same port.
PORT_LOCK=${TMPDIR:-/tmp}/ngx-sticky-cluster-ports.lock

# Messages go to stderr: `cluster.sh workers DIR > file` must stay clean.
say() { echo "cluster.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

usage() {
    sed -n '/^#   cluster.sh start/,/^#   cluster.sh workers/p' "${BASH_SOURCE[0]}" | sed 's/^#  //' >&2
    exit 2
}

# --- cluster.env -------------------------------------------------------------

load_env() {
    DIR=$(cd "$1" 2>/dev/null && pwd) || die "no such directory: $1"
    [[ -f $DIR/cluster.env ]] || die "$DIR/cluster.env not found (not started with cluster.sh start?)"
    # shellcheck source=/dev/null
    . "$DIR/cluster.env"
}

# Rewrites cluster.env from the NODE* variables (written via a temp file and
# mv, so a reader never sees half a file).
save_env() {
    local i v tmp="$DIR/.cluster.env.$$"
    {
        echo "# written by t/tomcat/cluster.sh; KEY=VALUE, bash-sourceable"
        printf '%s=%q\n' CLUSTER_DIR "$DIR" NODES "$NODES" MANAGER "$MANAGER" \
            START_SECONDS "${START_SECONDS:-}"
        for v in AJP_SECRET AJP_PACKET_SIZE AJP_ATTRIBUTES AJP_OPTIONS DRAINING_VALVE ACCESS_LOG; do
            if [[ -n ${!v:-} ]]; then printf '%s=%q\n' "$v" "${!v}"; else echo "$v="; fi
        done
        for ((i = 1; i <= NODES; i++)); do
            for v in ROUTE HTTP TRIBES BASE PID AJP; do
                local name="NODE${i}_$v"
                if [[ -n ${!name:-} ]]; then printf '%s=%q\n' "$name" "${!name}"; else echo "$name="; fi
            done
        done
    } > "$tmp"
    mv "$tmp" "$DIR/cluster.env"
}

node_var() { local name="NODE$1_$2"; echo "${!name:-}"; }
set_node_var() { printf -v "NODE$1_$2" '%s' "$3"; }

check_node_arg() {
    [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= NODES)) || die "node must be 1..$NODES, not '$1'"
}

# --- processes ---------------------------------------------------------------

# True when pid $2 is alive and is the JVM of node $1 (not a recycled pid).
is_our_jvm() {
    local n=$1 pid=$2 base
    base=$(node_var "$n" BASE)
    [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
    tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "-Dcatalina.base=$base"
}

node_running() {
    local pid
    pid=$(node_var "$1" PID)
    is_our_jvm "$1" "$pid"
}

log_tail() {
    local n=$1 out
    out=$(node_var "$n" BASE)/logs/catalina.out
    echo "---- last 40 lines of $out ----" >&2
    tail -n 40 "$out" >&2 2>/dev/null || echo "(no log)" >&2
    echo "----" >&2
}

# --- ports -------------------------------------------------------------------

# Prints N free TCP ports on 127.0.0.1, never 8080 (nginx's in the demo), one
# of CLUSTER_AVOID_PORTS or any port given after N. They are taken below the
# kernel's ephemeral range, so that a client connection of a running node
# cannot take one later.
# Perl, because perl-base is on every Debian system.
pick_ports() {
    perl -MIO::Socket::INET -e '
        my ($n, @exclude) = @ARGV;
        push @exclude, grep { /^\d+$/ } split /[\s,]+/, $ENV{CLUSTER_AVOID_PORTS} // "";
        my %seen = map { $_ => 1 } (8080, @exclude);
        my $lo = 32768;
        if (open my $f, "<", "/proc/sys/net/ipv4/ip_local_port_range") {
            ($lo) = split " ", scalar <$f>;
        }
        my ($min, $max) = (10000, $lo - 1);
        ($min, $max) = (1025, 65535) if $max - $min < 1000;
        my (@held, @ports);
        for (my $try = 0; @ports < $n; $try++) {
            die "no free ports found\n" if $try > 20000;
            my $p = $min + int rand($max - $min + 1);
            next if $seen{$p}++;
            # Held open until all are chosen, so the N ports are distinct.
            my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $p,
                                          Proto => "tcp", Listen => 1, ReuseAddr => 0) or next;
            push @held, $s;
            push @ports, $p;
        }
        print "@ports\n";
    ' "$@"
}

port_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- instance setup ----------------------------------------------------------

# A 16-byte tribes uniqueId, the same in every node's view of node $1.
unique_id() { echo "{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,$1}"; }

# XML attribute value.
xml_attr() {
    local s=$1
    s=${s//&/&amp;}
    s=${s//</&lt;}
    s=${s//>/&gt;}
    s=${s//\"/&quot;}
    printf '%s' "$s"
}

# The AJP/1.3 connector on port $1, as a mod_jk site has it (see the top).
# On 127.0.0.1 only. The LoadBalancerDrainingValve needs nothing here:
# JK_LB_ACTIVATION is always accepted.
ajp_connector_xml() {
    local port=$1 opt opts=()
    read -r -a opts <<< "${AJP_OPTIONS:-}"
    printf '\n    <Connector address="127.0.0.1" port="%s" protocol="AJP/1.3" maxThreads="50"' "$port"
    printf '\n               tomcatAuthentication="false"'
    if [[ -n ${AJP_SECRET:-} ]]; then
        printf ' secretRequired="true" secret="%s"' "$(xml_attr "$AJP_SECRET")"
    else
        printf ' secretRequired="false"'
    fi
    if [[ -n ${AJP_PACKET_SIZE:-} ]]; then
        printf '\n               packetSize="%s"' "$AJP_PACKET_SIZE"
    fi
    if [[ -n ${AJP_ATTRIBUTES:-} ]]; then
        printf '\n               allowedRequestAttributesPattern="%s"' "$(xml_attr "$AJP_ATTRIBUTES")"
    fi
    for opt in "${opts[@]+"${opts[@]}"}"; do
        printf '\n               %s="%s"' "${opt%%=*}" "$(xml_attr "${opt#*=}")"
    done
    printf '/>'
}

write_server_xml() {
    local n=$1 base http tribes manager_xml members="" j
    base=$(node_var "$n" BASE)
    http=$(node_var "$n" HTTP)
    tribes=$(node_var "$n" TRIBES)
    local ajp_xml="" ajp
    ajp=$(node_var "$n" AJP)
    [[ -n $ajp ]] && ajp_xml=$(ajp_connector_xml "$ajp")
    local engine_valve="" host_valve="" valve
    valve='
      <Valve className="org.apache.catalina.valves.LoadBalancerDrainingValve"/>'
    case ${DRAINING_VALVE:-} in
        engine) engine_valve=$valve ;;
        host) host_valve=$valve ;;
    esac
    local log_buffered=true
    [[ ${ACCESS_LOG:-} == unbuffered ]] && log_buffered=false
    for ((j = 1; j <= NODES; j++)); do
        ((j == n)) && continue
        members+="
            <Member className=\"org.apache.catalina.tribes.membership.StaticMember\"
                    host=\"127.0.0.1\" port=\"$(node_var "$j" TRIBES)\" uniqueId=\"$(unique_id "$j")\"/>"
    done
    case $MANAGER in
        # BackupManager: each session has one backup node; another node that
        # gets a request for it fetches it from the primary or the backup.
        backup) manager_xml='<Manager className="org.apache.catalina.ha.session.BackupManager"
                 notifyListenersOnReplication="true" mapSendOptions="6"/>' ;;
        # DeltaManager: every session on every node (all-to-all).
        delta) manager_xml='<Manager className="org.apache.catalina.ha.session.DeltaManager"
                 expireSessionsOnShutdown="false" notifyListenersOnReplication="true"
                 stateTransferTimeout="15"/>' ;;
    esac

    # Shutdown port -1: nodes are stopped by pid, one port less to collide.
    # Everything listens on 127.0.0.1 only.
    # Membership is static and TCP-only (StaticMembershipService, Tomcat
    # 9.0.17+): no multicast. TcpPingInterceptor(staticOnly) keeps static
    # members checked, TcpFailureDetector confirms a failure over TCP before
    # a member is dropped. (The older StaticMembershipInterceptor recipe
    # still runs multicast McastService underneath, so it is not used.)
    # channelSendOptions/mapSendOptions 6 = use ack + synchronized ack: the
    # ReplicationValve waits for the other nodes before the response leaves,
    # so a test can ask another node right after a change.
    # No JvmRouteBinderValve: a session keeps its ".tomcatN" after failover.
    cat > "$base/conf/server.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by t/tomcat/cluster.sh: node $n of $NODES, $MANAGER manager. -->
<Server port="-1" shutdown="SHUTDOWN">
  <Listener className="org.apache.catalina.startup.VersionLoggerListener"/>
  <Listener className="org.apache.catalina.core.JreMemoryLeakPreventionListener"/>
  <Listener className="org.apache.catalina.core.ThreadLocalLeakPreventionListener"/>
  <Service name="Catalina">
    <Connector address="127.0.0.1" port="$http" protocol="HTTP/1.1"
               connectionTimeout="20000" maxThreads="50" maxParameterCount="1000"/>$ajp_xml
    <Engine name="Catalina" defaultHost="localhost" jvmRoute="tomcat$n">$engine_valve
      <Cluster className="org.apache.catalina.ha.tcp.SimpleTcpCluster"
               channelSendOptions="6">
        $manager_xml
        <Channel className="org.apache.catalina.tribes.group.GroupChannel">
          <Membership className="org.apache.catalina.tribes.membership.StaticMembershipService"
                      rpcTimeout="1000">
            <LocalMember className="org.apache.catalina.tribes.membership.StaticMember"
                         uniqueId="$(unique_id "$n")"/>$members
          </Membership>
          <Receiver className="org.apache.catalina.tribes.transport.nio.NioReceiver"
                    address="127.0.0.1" port="$tribes" autoBind="1"
                    selectorTimeout="5000" maxThreads="6"/>
          <Sender className="org.apache.catalina.tribes.transport.ReplicationTransmitter">
            <Transport className="org.apache.catalina.tribes.transport.nio.PooledParallelSender"/>
          </Sender>
          <Interceptor className="org.apache.catalina.tribes.group.interceptors.TcpPingInterceptor"
                       staticOnly="true"/>
          <Interceptor className="org.apache.catalina.tribes.group.interceptors.TcpFailureDetector"/>
          <Interceptor className="org.apache.catalina.tribes.group.interceptors.MessageDispatchInterceptor"/>
        </Channel>
        <Valve className="org.apache.catalina.ha.tcp.ReplicationValve"
               filter=".*\.(gif|jpg|jpeg|png|ico|css|js)$"/>
        <ClusterListener className="org.apache.catalina.ha.session.ClusterSessionListener"/>
      </Cluster>
      <Host name="localhost" appBase="webapps" unpackWARs="true"
            autoDeploy="false" deployOnStartup="true">$host_valve
        <Valve className="org.apache.catalina.valves.AccessLogValve" directory="logs"
               prefix="access" suffix=".log" rotatable="false" buffered="$log_buffered"
               pattern="%h %t &quot;%r&quot; %s %b %{JSESSIONID}c %D"/>
      </Host>
    </Engine>
  </Service>
</Server>
EOF
}

# The skeleton's context.xml, less jar scanning for TLDs and annotations: the
# cart app has neither, and scanning Tomcat's jars slows every start.
write_context_xml() {
    cat > "$1/conf/context.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by t/tomcat/cluster.sh. No <Manager> here: the Cluster's one
     (BackupManager or DeltaManager) is used for the distributable app. -->
<Context>
  <WatchedResource>WEB-INF/web.xml</WatchedResource>
  <JarScanner scanClassPath="false" scanManifest="false"/>
</Context>
EOF
}

# All logging to catalina.out (one file to tail), with timestamps.
write_logging_properties() {
    cat > "$1/conf/logging.properties" <<'EOF'
# Written by t/tomcat/cluster.sh: everything goes to catalina.out.
handlers = java.util.logging.ConsoleHandler
.handlers = java.util.logging.ConsoleHandler
.level = INFO
java.util.logging.ConsoleHandler.level = FINE
java.util.logging.ConsoleHandler.formatter = org.apache.juli.OneLineFormatter
EOF
}

write_setenv() {
    local n=$1 base
    base=$(node_var "$n" BASE)
    # Sourced by catalina.sh. Small heap and a fast-starting JVM: C1 only
    # (TieredStopAtLevel=1), serial GC (few threads: 2 cores for N JVMs),
    # class data sharing on; urandom so session ids never wait for entropy.
    cat > "$base/bin/setenv.sh" <<EOF
# Written by t/tomcat/cluster.sh
CATALINA_HOME=$TOMCAT_HOME
. /usr/libexec/tomcat10/tomcat-locate-java.sh
CATALINA_PID="$base/catalina.pid"
JAVA_OPTS="-Djava.awt.headless=true -Xms32m -Xmx128m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Djava.security.egd=file:/dev/./urandom ${CLUSTER_JAVA_OPTS:-}"
CATALINA_OPTS="-Dsticky.node=tomcat$n"
EOF
}

create_node() {
    local n=$1 base
    base=$(node_var "$n" BASE)
    # -c is only there to satisfy the tool (it checks the port); server.xml
    # is ours and disables the shutdown port. stdin: the tool asks for
    # <ENTER> when it thinks a port is in use.
    tomcat10-instance-create -p "$(node_var "$n" HTTP)" -c "$(node_var "$n" TRIBES)" \
        "$base" < /dev/null > "$base.create.log" 2>&1 \
        || { cat "$base.create.log" >&2; die "tomcat10-instance-create failed for node $n"; }
    rm -f "$base.create.log"
    write_server_xml "$n"
    write_context_xml "$base"
    write_logging_properties "$base"
    write_setenv "$n"
    cp -r "$APP" "$base/webapps/ROOT"
}

# --- start / wait --------------------------------------------------------------

# The instance's bin/startup.sh (catalina.sh start), with a clean environment:
# setenv.sh sets what the JVM gets.
run_startup() {
    env -u JAVA_OPTS -u CATALINA_OPTS -u CATALINA_HOME -u CATALINA_OUT -u JAVA_HOME \
        "$1/bin/startup.sh" < /dev/null >> "$1/logs/startup.log" 2>&1
}

# Starts node $1 in the background (catalina.sh start) and records its pid,
# and in LOG_OFFSET_<n> where this start's part of catalina.out begins.
# The port lock's fd is closed for the JVM, else it would hold the lock.
start_node() {
    local n=$1 base pid
    base=$(node_var "$n" BASE)
    rm -f "$base/catalina.pid"
    printf -v "LOG_OFFSET_$n" '%s' "$(stat -c %s "$base/logs/catalina.out" 2>/dev/null || echo 0)"
    if [[ -n ${LOCK_FD:-} ]]; then
        run_startup "$base" {LOCK_FD}>&-
    else
        run_startup "$base"
    fi || { cat "$base/logs/startup.log" >&2; die "startup.sh failed for node $n"; }
    pid=$(cat "$base/catalina.pid" 2>/dev/null || true)
    [[ -n $pid ]] || die "node $n: no pid in $base/catalina.pid"
    set_node_var "$n" PID "$pid"
}

# This start's part of node $1's catalina.out.
start_log() {
    local offset="LOG_OFFSET_$1"
    tail -c +"$((${!offset:-0} + 1))" "$(node_var "$1" BASE)/logs/catalina.out" 2>/dev/null
}

# Fails (after printing the log) when node $1 has died, or could not bind a
# port (Tomcat then runs on without that connector, so don't wait for it).
check_alive() {
    if ! node_running "$1"; then
        say "node $1 (tomcat$1) died during startup"
    elif start_log "$1" | grep -q 'java.net.BindException'; then
        say "node $1 (tomcat$1) could not bind its ports (in use?)"
    else
        return 0
    fi
    log_tail "$1"
    return 1
}

# Waits until node $1 has bound its HTTP and tribes ports.
ports_bound() {
    port_listening "$(node_var "$1" HTTP)" && port_listening "$(node_var "$1" TRIBES)" &&
        { [[ -z $(node_var "$1" AJP) ]] || port_listening "$(node_var "$1" AJP)"; }
}

health_ok() {
    curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$(node_var "$1" HTTP)/health" 2>/dev/null
}

# True once node $1's log shows MEMBERS_WANT members joined: for
# BackupManager the members of its session map (a node's map learns of the
# others a little after its channel does), for DeltaManager the channel's.
members_ok() {
    local have pattern='Replication member added'
    [[ $MANAGER == backup ]] && pattern='Map member added'
    have=$(start_log "$1" | grep -c "$pattern" || true)
    ((have >= MEMBERS_WANT))
}

# wait_for WHAT CHECK NODE... : polls CHECK NODE for each node until all
# pass, or fails (with the log tails) once START_TIMEOUT, counted from
# START_EPOCH, is over, or a node died.
wait_for() {
    local what=$1 check=$2 n pending
    shift 2
    pending=("$@")
    while ((${#pending[@]})); do
        local left=()
        for n in "${pending[@]}"; do
            check_alive "$n" || return 1
            $check "$n" || left+=("$n")
        done
        pending=("${left[@]+"${left[@]}"}")
        ((${#pending[@]})) || break
        if ((SECONDS - START_EPOCH > START_TIMEOUT)); then
            say "timeout (${START_TIMEOUT}s) waiting for $what on node(s) ${pending[*]}"
            for n in "${pending[@]}"; do log_tail "$n"; done
            return 1
        fi
        sleep 0.3
    done
}

take_port_lock() {
    exec {LOCK_FD}> "$PORT_LOCK"
    flock -w 300 "$LOCK_FD" || die "could not lock $PORT_LOCK"
}

release_port_lock() {
    if [[ -n ${LOCK_FD:-} ]]; then
        exec {LOCK_FD}>&-
        LOCK_FD=
    fi
}

cmd_start() {
    local dir="" http_ports="" i n ajp=0 opt
    NODES=3 MANAGER=backup APP=""
    AJP_SECRET="" AJP_PACKET_SIZE="" AJP_ATTRIBUTES="" AJP_OPTIONS="" DRAINING_VALVE="" ACCESS_LOG=""
    [[ $# -ge 1 ]] || usage
    dir=$1
    shift
    while (($#)); do
        case $1 in
            --nodes) NODES=${2:?}; shift 2 ;;
            --manager) MANAGER=${2:?}; shift 2 ;;
            --http-ports) http_ports=${2:?}; shift 2 ;;
            --app) APP=${2:?}; shift 2 ;;
            --ajp) ajp=1; shift ;;
            --ajp-secret) AJP_SECRET=${2:?}; ajp=1; shift 2 ;;
            --packet-size) AJP_PACKET_SIZE=${2:?}; ajp=1; shift 2 ;;
            --ajp-attributes) AJP_ATTRIBUTES=${2:?}; ajp=1; shift 2 ;;
            --ajp-option) AJP_OPTIONS="${AJP_OPTIONS:+$AJP_OPTIONS }${2:?}"; ajp=1; shift 2 ;;
            --draining-valve) DRAINING_VALVE=${2:?}; shift 2 ;;
            --access-log) ACCESS_LOG=${2:?}; shift 2 ;;
            *) die "unknown option $1" ;;
        esac
    done
    [[ $NODES =~ ^[1-9][0-9]?$ ]] || die "--nodes must be 1..99"
    [[ $MANAGER == backup || $MANAGER == delta ]] || die "--manager must be backup or delta"
    # The secret goes unquoted into workers.properties, where "#" starts a
    # comment and "$(" a reference: keep it to characters both files take.
    [[ -z $AJP_SECRET || $AJP_SECRET =~ ^[A-Za-z0-9._~+/=-]+$ ]] ||
        die "--ajp-secret: use letters, digits and ._~+/=- only"
    [[ -z $AJP_PACKET_SIZE || ($AJP_PACKET_SIZE =~ ^[0-9]+$ &&
        AJP_PACKET_SIZE -ge 8192 && AJP_PACKET_SIZE -le 65536) ]] ||
        die "--packet-size must be 8192..65536"
    local opts=()
    read -r -a opts <<< "$AJP_OPTIONS"
    for opt in "${opts[@]+"${opts[@]}"}"; do
        [[ $opt =~ ^[A-Za-z]+=[^[:space:]]*$ ]] || die "--ajp-option wants NAME=VALUE, not '$opt'"
    done
    [[ -z $DRAINING_VALVE || $DRAINING_VALVE == engine || $DRAINING_VALVE == host ]] ||
        die "--draining-valve must be engine or host"
    [[ -z $ACCESS_LOG || $ACCESS_LOG == unbuffered ]] || die "--access-log takes only 'unbuffered'"
    command -v tomcat10-instance-create >/dev/null || die "tomcat10-instance-create missing: apt-get install tomcat10-user"
    command -v curl >/dev/null || die "curl missing: apt-get install curl"

    mkdir -p "$dir"
    DIR=$(cd "$dir" && pwd)
    # A DIR that held a cluster is reused only when none of its nodes runs.
    if [[ -f $DIR/cluster.env ]]; then
        (   # subshell: keep the old env out of ours
            . "$DIR/cluster.env"
            for ((i = 1; i <= NODES; i++)); do
                node_running "$i" && die "$DIR: node $i is still running; cluster.sh stop $DIR first"
            done
            true
        )
        rm -rf "$DIR"/node[0-9]* "$DIR/cluster.env"
    fi

    START_EPOCH=$SECONDS
    local t0
    t0=$(date +%s%N)

    if [[ -z $APP ]]; then
        "$REPO/demo/cartapp/build.sh" "$DIR/cartapp" > /dev/null
        APP=$DIR/cartapp/ROOT
    fi
    [[ -f $APP/WEB-INF/web.xml ]] || die "--app $APP is not an exploded web app"

    # Ports: picked and bound under a machine-wide lock, so that a
    # concurrent start in another DIR cannot pick the same ones.
    take_port_lock
    local given=() picked=() ajp_ports=() extra=0
    ((ajp)) && extra=$NODES
    if [[ -n $http_ports ]]; then
        IFS=, read -r -a given <<< "$http_ports"
        ((${#given[@]} == NODES)) || die "--http-ports needs $NODES ports, got ${#given[@]}"
        for i in "${given[@]}"; do
            [[ $i =~ ^[0-9]+$ && $i != 8080 ]] || die "bad --http-ports entry '$i' (8080 is nginx's)"
            ! port_listening "$i" || die "--http-ports: port $i is in use"
        done
        read -r -a picked <<< "$(pick_ports "$((NODES + extra))" "${given[@]}")"
        ajp_ports=("${picked[@]:NODES}")
    else
        read -r -a picked <<< "$(pick_ports "$((2 * NODES + extra))")"
        given=("${picked[@]:NODES:NODES}")
        ajp_ports=("${picked[@]:2*NODES}")
    fi
    for ((i = 1; i <= NODES; i++)); do
        set_node_var "$i" ROUTE "tomcat$i"
        set_node_var "$i" HTTP "${given[i - 1]}"
        set_node_var "$i" TRIBES "${picked[i - 1]}"
        set_node_var "$i" BASE "$DIR/node$i"
        set_node_var "$i" PID ""
        set_node_var "$i" AJP "${ajp_ports[i - 1]:-}"
    done
    save_env

    for ((i = 1; i <= NODES; i++)); do create_node "$i"; done

    # From here on, any failure (die, a failed wait) stops what was started.
    trap 'release_port_lock; say "start failed; stopping the nodes started"; stop_nodes; save_env' EXIT

    # Nodes start in parallel: catalina.sh start returns once the JVM forked.
    # DeltaManager: a starting node asks the longest-running member for all
    # sessions, and a node still waiting for its own answer drops such
    # requests: two nodes started together can wait for each other until
    # stateTransferTimeout (seen here: 30 s). So node 1 comes up first and
    # the others, started together, all ask it.
    local all=() rest=()
    for ((i = 1; i <= NODES; i++)); do all+=("$i"); done
    rest=("${all[@]}")
    if [[ $MANAGER == delta ]]; then
        start_node 1
        save_env
        wait_for "ports to be bound" ports_bound 1
        wait_for "/health" health_ok 1
        rest=("${all[@]:1}")
    fi
    for i in "${rest[@]+"${rest[@]}"}"; do start_node "$i"; done
    save_env
    wait_for "ports to be bound" ports_bound "${all[@]}"
    release_port_lock
    wait_for "/health" health_ok "${all[@]}"
    # Sessions only replicate to members a node knows: wait until each node
    # has seen all the others join.
    MEMBERS_WANT=$((NODES - 1))
    wait_for "cluster membership" members_ok "${all[@]}"
    trap - EXIT

    local ms=$((($(date +%s%N) - t0) / 1000000))
    START_SECONDS=$((ms / 1000)).$((ms % 1000 / 100))
    save_env
    say "$NODES-node cluster ($MANAGER manager) up in ${START_SECONDS}s; env: $DIR/cluster.env"
    for ((i = 1; i <= NODES; i++)); do
        say "  tomcat$i http://127.0.0.1:$(node_var "$i" HTTP)/  pid $(node_var "$i" PID)"
    done
}

# --- stop / kill / restart -----------------------------------------------------

# TERM to every running node (Tomcat shuts down cleanly), KILL whatever is
# left after STOP_TIMEOUT. Only pids verified by is_our_jvm are signalled.
stop_nodes() {
    local i pid running=() deadline
    for ((i = 1; i <= NODES; i++)); do
        pid=$(node_var "$i" PID)
        if is_our_jvm "$i" "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            running+=("$i")
        fi
    done
    deadline=$((SECONDS + STOP_TIMEOUT))
    for i in "${running[@]+"${running[@]}"}"; do
        pid=$(node_var "$i" PID)
        while is_our_jvm "$i" "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
        if is_our_jvm "$i" "$pid"; then
            say "node $i (pid $pid) still running after ${STOP_TIMEOUT}s: KILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$i" "$pid"
        fi
    done
    for ((i = 1; i <= NODES; i++)); do
        set_node_var "$i" PID ""
        rm -f "$(node_var "$i" BASE)/catalina.pid"
    done
}

wait_gone() {
    local n=$1 pid=$2 end=$((SECONDS + 10))
    while is_our_jvm "$n" "$pid"; do
        ((SECONDS < end)) || die "pid $pid of node $n does not die"
        sleep 0.1
    done
}

cmd_stop() {
    [[ $# -eq 1 ]] || usage
    load_env "$1"
    stop_nodes
    save_env
    say "stopped the cluster in $DIR"
}

cmd_kill() {
    [[ $# -eq 2 ]] || usage
    load_env "$1"
    check_node_arg "$2"
    local n=$2 pid
    pid=$(node_var "$n" PID)
    is_our_jvm "$n" "$pid" || die "node $n is not running"
    kill -KILL "$pid"
    wait_gone "$n" "$pid"
    set_node_var "$n" PID ""
    rm -f "$(node_var "$n" BASE)/catalina.pid"
    save_env
    say "killed node $n (tomcat$n, pid $pid)"
}

cmd_restart_node() {
    [[ $# -eq 2 ]] || usage
    load_env "$1"
    check_node_arg "$2"
    local n=$2 i
    node_running "$n" && die "node $n is already running"
    MEMBERS_WANT=0
    for ((i = 1; i <= NODES; i++)); do
        if ((i != n)) && node_running "$i"; then MEMBERS_WANT=$((MEMBERS_WANT + 1)); fi
    done
    START_EPOCH=$SECONDS
    # shellcheck disable=SC2064 # $n is expanded now on purpose
    trap "say 'restart of node $n failed; stopping it'; stop_one $n; save_env" EXIT
    start_node "$n"
    save_env
    wait_for "/health" health_ok "$n"
    wait_for "cluster membership" members_ok "$n"
    trap - EXIT
    say "node $n (tomcat$n) up again in $((SECONDS - START_EPOCH))s, pid $(node_var "$n" PID)"
}

stop_one() {
    local n=$1 pid
    pid=$(node_var "$n" PID)
    if is_our_jvm "$n" "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$n" "$pid"
    fi
    set_node_var "$n" PID ""
}

# --- status / workers ------------------------------------------------------------

cmd_status() {
    [[ $# -eq 1 ]] || usage
    load_env "$1"
    local i state
    for ((i = 1; i <= NODES; i++)); do
        if ! node_running "$i"; then state=down
        elif health_ok "$i"; then state=up
        else state=starting; fi
        printf 'tomcat%s %-8s http=%s tribes=%s pid=%s%s\n' "$i" "$state" \
            "$(node_var "$i" HTTP)" "$(node_var "$i" TRIBES)" "$(node_var "$i" PID)" \
            "$([[ -z $(node_var "$i" AJP) ]] || echo " ajp=$(node_var "$i" AJP)")"
    done
}

# mod_jk's format. Without --ajp each member's port is the node's HTTP
# connector (for proxy_pass); with --ajp it is its AJP connector, with the
# secret and max_packet_size the connectors were started with: the file a
# mod_jk site has (for ajp_pass, or mod_jk itself).
cmd_workers() {
    local port_var=HTTP
    [[ $# -eq 2 && $2 == --ajp ]] && { port_var=AJP; set -- "$1"; }
    [[ $# -eq 1 ]] || usage
    load_env "$1"
    local i names=()
    if [[ $port_var == AJP ]]; then
        [[ -n ${NODE1_AJP:-} ]] || die "$DIR was started without --ajp"
    fi
    for ((i = 1; i <= NODES; i++)); do names+=("tomcat$i"); done
    echo "# workers.properties for the $NODES-node Tomcat cluster in $DIR"
    echo "# (written by t/tomcat/cluster.sh workers; ports are $port_var connectors)"
    echo "worker.list=cluster"
    echo
    echo "worker.cluster.type=lb"
    echo "worker.cluster.balance_workers=$(IFS=,; echo "${names[*]}")"
    echo "worker.cluster.sticky_session=true"
    for ((i = 1; i <= NODES; i++)); do
        echo
        echo "worker.tomcat$i.type=ajp13"
        echo "worker.tomcat$i.host=127.0.0.1"
        echo "worker.tomcat$i.port=$(node_var "$i" "$port_var")"
        echo "worker.tomcat$i.route=tomcat$i"
        echo "worker.tomcat$i.lbfactor=1"
        if [[ $port_var == AJP && -n ${AJP_SECRET:-} ]]; then
            echo "worker.tomcat$i.secret=$AJP_SECRET"
        fi
        if [[ $port_var == AJP && -n ${AJP_PACKET_SIZE:-} ]]; then
            echo "worker.tomcat$i.max_packet_size=$AJP_PACKET_SIZE"
        fi
    done
}

main() {
    [[ $# -ge 1 ]] || usage
    local cmd=$1
    shift
    case $cmd in
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        kill) cmd_kill "$@" ;;
        restart-node) cmd_restart_node "$@" ;;
        status) cmd_status "$@" ;;
        workers) cmd_workers "$@" ;;
        -h | --help | help) usage ;;
        *) say "unknown command $cmd"; usage ;;
    esac
}

main "$@"
