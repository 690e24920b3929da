package StickyTest;

# A small harness for testing the module in a real nginx, in core Perl only:
# a temp prefix, free ports, 2 worker processes, raw HTTP requests, reload and
# stop by pid, and a check of error.log after every test file.
#
#   my $t = StickyTest->new;
#   my $port = $t->port('front');
#   $t->write_file('workers.properties', ...);
#   $t->write_conf(<<"EOF");   # the http{} body; globals are added
#   $t->run;
#   my $r = $t->get($port, '/', Cookie => 'JSESSIONID=ABC.tomcat1');
#   is($r->{status}, 200, 'served');

use strict;
use warnings;

use Exporter 'import';
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);
use Digest::MD5 qw(md5_hex);

our @EXPORT_OK = qw(free_port lb_properties session_id header served_by
                    upstream_addrs route_changed within only);

my $NGINX  = $ENV{NGINX_BIN} || '/usr/sbin/nginx';
my $MODULE = $ENV{STICKY_MODULE}
    or die "STICKY_MODULE must name the built ngx_http_sticky_workers_module.so\n";

sub new {
    my ($class, %opts) = @_;
    my $dir = tempdir('sticky-test-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{STICKY_TEST_LEAVE});
    my $self = bless { dir => $dir, ports => {}, workers => 2, %opts }, $class;
    mkdir "$dir/$_" for qw(logs temp);
    return $self;
}

sub dir { $_[0]{dir} }
sub error_log { "$_[0]{dir}/logs/error.log" }

# A free TCP port on 127.0.0.1, the same one for the same name.
sub port {
    my ($self, $name) = @_;
    return $self->{ports}{$name} //= free_port();
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "cannot bind a free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub write_file {
    my ($self, $name, $content) = @_;
    my $path = "$self->{dir}/$name";
    open my $fh, '>', $path or die "write $path: $!";
    print $fh $content;
    close $fh;
    return $path;
}

sub read_file {
    my ($self, $name) = @_;
    my $path = $name =~ m{^/} ? $name : "$self->{dir}/$name";
    open my $fh, '<', $path or return '';
    local $/;
    return scalar <$fh>;
}

# Writes nginx.conf: the module, 2 workers (to exercise shared state), every
# path inside the temp prefix, and `$http` as the body of the http{} block.
# Options: workers, name (of the file), log_level (of error.log, "info").
# With new(stock_modules => 1) the module is loaded as Debian's nginx.conf
# loads installed modules (include modules-enabled/*.conf), and nginx runs
# with its stock prefix (no -p), where their relative load_module paths
# point.
sub write_conf {
    my ($self, $http, %opts) = @_;
    my $d = $self->{dir};
    my $workers = $opts{workers} // $self->{workers};
    my $level = $opts{log_level} // 'info';
    my $load = $self->{stock_modules} ? 'include /etc/nginx/modules-enabled/*.conf;'
                                      : "load_module $MODULE;";
    $self->write_file($opts{name} // 'nginx.conf', <<"EOF");
$load
daemon off;
master_process on;
worker_processes $workers;
pid $d/logs/nginx.pid;
error_log $d/logs/error.log $level;
events { worker_connections 1024; }
http {
    access_log $d/logs/access.log;
    client_body_temp_path $d/temp/body;
    proxy_temp_path $d/temp/proxy;
    fastcgi_temp_path $d/temp/fastcgi;
    uwsgi_temp_path $d/temp/uwsgi;
    scgi_temp_path $d/temp/scgi;
$http
}
EOF
}

# Runs `nginx -t`; returns (ok, output).
sub test_config {
    my ($self, $conf) = @_;
    $conf //= 'nginx.conf';
    my $d = $self->{dir};
    my $prefix = $self->{stock_modules} ? '' : "-p $d/";
    my $out = `$NGINX -t $prefix -c $d/$conf -e $d/logs/test.log 2>&1`;
    return ($? == 0, $out);
}

# Starts nginx in the foreground (daemon off) as our child and waits until it
# writes its pid file and every port in @wait accepts connections.
sub run {
    my ($self, @wait) = @_;
    my $d = $self->{dir};
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$d/logs/stdout.log";
        open STDERR, '>>', "$d/logs/stderr.log";
        exec $NGINX, ($self->{stock_modules} ? () : ('-p', "$d/")),
             '-c', "$d/nginx.conf", '-e', "$d/logs/error.log";
        die "exec $NGINX: $!";
    }
    $self->{pid} = $pid;
    my $deadline = time + 10;
    until (-s "$d/logs/nginx.pid" && (!@wait || _all_accept(@wait))) {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pid};
            die "nginx exited at start:\n" . $self->read_file('logs/stderr.log')
                . $self->read_file('logs/error.log');
        }
        die "nginx did not start in 10 s\n" . $self->read_file('logs/error.log')
            if time > $deadline;
        sleep 0.02;
    }
    return $self;
}

sub _all_accept {
    for my $port (@_) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                      Proto => 'tcp', Timeout => 1) or return 0;
        close $s;
    }
    return 1;
}

# The pids of the master's worker processes.
sub worker_pids {
    my ($self) = @_;
    my $master = $self->{pid} or return ();
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        # pid (comm) state ppid ...: comm may hold spaces, so split after ')'
        my ($pid, $rest) = $line =~ /^(\d+) \(.*\) (.*)$/ or next;
        my (undef, $ppid) = split ' ', $rest;
        push @pids, $pid if $ppid == $master;
    }
    return sort { $a <=> $b } @pids;
}

# Sends HUP and waits until the old workers are gone and new ones run (with
# old_may_stay => N: all but N of them). Returns 1 when the workers
# were replaced, 0 when nginx kept the old ones (a configuration it
# refused), after at most 10 s.
sub reload {
    my ($self, %opts) = @_;
    my %old = map { $_ => 1 } $self->worker_pids;
    my $log_before = -s $self->error_log // 0;
    kill 'HUP', $self->{pid};
    my $deadline = time + 10;
    while (time < $deadline) {
        my @now = $self->worker_pids;
        my @new = grep { !$old{$_} } @now;
        # old_may_stay => N: N old workers finishing requests may outlive it
        my $stay = grep { $old{$_} } @now;
        return 1 if @new && $stay <= ($opts{old_may_stay} // 0)
            && (!$stay || @new >= $self->{workers});
        my $log = $self->read_file('logs/error.log');
        # a refused configuration is logged and the old workers stay
        return 0 if length($log) > $log_before
            && substr($log, $log_before) =~ /\[(?:emerg|crit)\]/
            && !@new;
        sleep 0.05;
    }
    return 0;
}

# QUIT, then wait; a graceful stop that hangs is itself a failure.
sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return 1;
    kill 'QUIT', $pid;
    my $deadline = time + 15;
    while (time < $deadline) {
        return 1 if waitpid($pid, WNOHANG) == $pid;
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return 0;
}

# One HTTP/1.0 request on a new connection. %h: headers; an array ref as a
# value sends the header once per element, in order. Returns
# { status, headers => { lc name => [values] }, body, raw }.
sub get {
    my ($self, $port, $path, %h) = @_;
    return $self->request($port, 'GET', $path, '', %h);
}

sub request {
    my ($self, $port, $method, $path, $body, %h) = @_;
    my $req = "$method $path HTTP/1.0\r\nHost: localhost\r\n";
    for my $name (sort keys %h) {
        my @values = ref $h{$name} ? @{$h{$name}} : ($h{$name});
        $req .= "$name: $_\r\n" for @values;
    }
    $req .= "Content-Length: " . length($body) . "\r\n" if length $body;
    $req .= "\r\n$body";
    my $raw = _exchange($port, $req);
    return _parse_response($raw);
}

sub _exchange {
    my ($port, $req) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or return '';
    print $s $req;
    my $sel = IO::Select->new($s);
    my $raw = '';
    my $deadline = time + 10;
    while (time < $deadline && $sel->can_read($deadline - time)) {
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $raw .= $buf;
    }
    close $s;
    return $raw;
}

sub _parse_response {
    my ($raw) = @_;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my @lines = split /\r\n/, $head // '';
    my ($status) = (shift(@lines) // '') =~ m{^HTTP/\d\.\d (\d+)};
    my %headers;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        push @{$headers{lc $k}}, $v;
    }
    return { status => $status // 0, headers => \%headers,
             body => $body // '', raw => $raw };
}

# Tomcat look-alike backends: one single-process nginx (no module) per route,
# each killable on its own. A request without a session gets
# `Set-Cookie: JSESSIONID=<32 hex>.<route>`, as Tomcat with jvmRoute does; the
# body and the X-Backend header say who answered.
sub start_backend {
    my ($self, $route) = @_;
    my $port = $self->port("backend:$route");
    $self->{backends}{$route} = $self->start_plain_nginx("backend-$route", <<"EOF", $port);
    map "\$cookie_JSESSIONID|\$request_uri" \$new_session {
        "~^\\|(?!.*;jsessionid=)"  "JSESSIONID=\$request_id.$route; Path=/";
        default                    "";
    }
    server {
        listen 127.0.0.1:$port;
        keepalive_requests 100000;
        location / {
            add_header X-Backend $route always;
            add_header Set-Cookie \$new_session;
            return 200 "$route\n";
        }
    }
EOF
    return $port;
}

# A single-process nginx without the module, in DIR/NAME, whose http{} block
# is $http after the temp paths; our child, returned (its pid) once every
# port of @ports accepts connections.
sub start_plain_nginx {
    my ($self, $name, $http, @ports) = @_;
    my $d = "$self->{dir}/$name";
    mkdir $d;
    mkdir "$d/temp";
    $self->write_file("$name/nginx.conf", <<"EOF");
daemon off;
master_process off;
pid $d/nginx.pid;
error_log $d/error.log error;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path $d/temp;
    proxy_temp_path $d/temp;
    fastcgi_temp_path $d/temp;
    uwsgi_temp_path $d/temp;
    scgi_temp_path $d/temp;
$http}
EOF
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>>', "$d/stderr.log";
        exec $NGINX, '-p', "$d/", '-c', "$d/nginx.conf", '-e', "$d/error.log";
        die "exec: $!";
    }
    my $deadline = time + 10;
    until (_all_accept(@ports)) {
        die "$name did not start\n" . $self->read_file("$d/error.log")
            . $self->read_file("$d/stderr.log")
            if time > $deadline || waitpid($pid, WNOHANG) == $pid;
        sleep 0.02;
    }
    return $pid;
}

# A backend that reads requests and never answers them, until it is killed
# (kill_backend): its connections then break, and each request held that
# long fails. held($route) counts the requests it has read.
sub start_hold_backend {
    my ($self, $route) = @_;
    my $port = $self->port("backend:$route");
    my $count = "$self->{dir}/hold-$route.count";
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                       Proto => 'tcp', Listen => 128, ReuseAddr => 1)
        or die "hold backend $route: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $sel = IO::Select->new($listen);
        my %head;
        while (1) {
            for my $s ($sel->can_read) {
                if ($s == $listen) {
                    my $c = $listen->accept or next;
                    $sel->add($c);
                    next;
                }
                my $n = sysread($s, my $buf, 65536);
                if (!$n) {
                    $sel->remove($s);
                    delete $head{$s};
                    close $s;
                    next;
                }
                next if $head{$s};
                $head{$s} = 1;
                open my $fh, '>>', $count or die;
                print $fh "request\n";
                close $fh;
            }
        }
    }
    close $listen;
    $self->{backends}{$route} = $pid;
    return $port;
}

# Requests the hold backend $route has read so far.
sub held {
    my ($self, $route) = @_;
    my @lines = split /\n/, $self->read_file("hold-$route.count");
    return scalar @lines;
}

# A request sent on a connection of its own and left waiting for its answer;
# read it with answer(). The socket is returned.
sub send_request {
    my ($self, $port, $path, %h) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "connect to $port: $!";
    my $req = "GET $path HTTP/1.0\r\nHost: localhost\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    print $s "$req\r\n";
    return $s;
}

# The answer to a request of send_request(), within $timeout seconds.
sub answer {
    my ($self, $s, $timeout) = @_;
    my $sel = IO::Select->new($s);
    my $raw = '';
    my $deadline = time + ($timeout // 10);
    while (time < $deadline && $sel->can_read($deadline - time)) {
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $raw .= $buf;
    }
    close $s;
    return _parse_response($raw);
}

# Polls $check (a code ref) every 50 ms until it returns true or $seconds
# pass; returns its last result.
sub wait_for {
    my ($self, $seconds, $check) = @_;
    my $deadline = time + $seconds;
    while (1) {
        my $v = $check->();
        return $v if $v || time > $deadline;
        sleep 0.05;
    }
}

# The worker processes of our nginx with an established connection to
# 127.0.0.1:$port, one entry per connection (from /proc/net/tcp and the
# processes' file descriptors).
sub connections_to {
    my ($self, $port) = @_;
    my %inode;
    if (open my $fh, '<', '/proc/net/tcp') {
        while (my $line = <$fh>) {
            my @f = split ' ', $line;
            next unless @f > 9 && $f[3] eq '01';
            my (undef, $rport) = split /:/, $f[2];
            $inode{$f[9]} = 1 if hex($rport) == $port;
        }
    }
    my @pids;
    for my $pid ($self->worker_pids) {
        for my $fd (glob "/proc/$pid/fd/*") {
            my $link = readlink($fd) // next;
            push @pids, $pid if $link =~ /^socket:\[(\d+)\]$/ && $inode{$1};
        }
    }
    return @pids;
}

# kill -9 one backend: connections to its port are refused from now on.
sub kill_backend {
    my ($self, $route) = @_;
    my $pid = delete $self->{backends}{$route} or return;
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

# Problems in error.log that no test may leave behind, except lines
# matching $allow (a regex: what the test itself provoked).
sub log_problems {
    my ($self, $allow) = @_;
    my @bad;
    for my $log ('logs/error.log', 'logs/stderr.log') {
        for (split /\n/, $self->read_file($log)) {
            next if $allow && /$allow/;
            push @bad, $_ if /\[alert\]|\[crit\]|exited on signal|is full|sanitizer/i;
        }
    }
    return @bad;
}

# Stops nginx and checks the log; call once at the end of a test file.
# allow => qr/.../: log lines the test provoked on purpose.
sub finish {
    my ($self, %opts) = @_;
    ok($self->stop, 'nginx stopped gracefully');
    my @bad = $self->log_problems($opts{allow});
    ok(!@bad, 'no alerts or crashes in error.log') or diag(join "\n", @bad);
}

sub DESTROY {
    my ($self) = @_;
    local $?;    # waitpid would otherwise become the test's exit status
    for my $pid (grep { defined } delete $self->{pid},
                 values %{$self->{backends} || {}}) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }
}

# --- helpers for the routing tests (t/2*.t) ---------------------------------

# workers.properties text for one lb worker:
#   lb_properties('cluster', { method => 'S' },
#                 [tomcat1 => { port => 8081, lbfactor => 3 }], ...)
# gives worker.list, worker.cluster.type=lb, its balance_workers, every
# worker.cluster.KEY from the hash, and per member host (127.0.0.1 unless
# given) and every worker.MEMBER.KEY from its hash. A key `maintain` in the
# lb hash becomes the global worker.maintain.
sub lb_properties {
    my ($lb, $attrs, @members) = @_;
    my %lb = %{$attrs || {}};
    my $text = '';
    $text .= "worker.maintain=" . delete($lb{maintain}) . "\n"
        if exists $lb{maintain};
    $text .= "worker.list=$lb\nworker.$lb.type=lb\n"
        . "worker.$lb.balance_workers=" . join(',', map { $_->[0] } @members) . "\n";
    $text .= "worker.$lb.$_=$lb{$_}\n" for sort keys %lb;
    for my $m (@members) {
        my ($name, $a) = @$m;
        my %a = (host => '127.0.0.1', %{$a || {}});
        $text .= "worker.$name.$_=$a{$_}\n" for sort keys %a;
    }
    return $text;
}

# A Tomcat-like session id: 32 upper-case hex digits, the same for the same
# arguments, followed by ".ROUTE" when a route is given.
sub session_id {
    my ($seed, $route) = @_;
    my $id = uc md5_hex("session:$seed");
    return defined $route ? "$id.$route" : $id;
}

# The first value of a response header, '' when absent.
sub header {
    my ($r, $name) = @_;
    my $v = $r->{headers}{lc $name};
    return $v && @$v ? $v->[0] : '';
}

# Who answered: the backend's route (X-Backend) for a 200, else "status N".
# $got within $want +- $tol, as one named test.
sub within {
    my ($got, $want, $tol, $what) = @_;
    $got //= 0;
    ok(abs($got - $want) <= $tol, $what) or diag "got $got, want $want +- $tol";
}

# True when every key of %$who (who answered => count) is one of @allowed.
sub only {
    my ($who, @allowed) = @_;
    my %ok = map { $_ => 1 } @allowed;
    return !grep { !$ok{$_} } keys %$who;
}

# For test files whose front server has one location per upstream,
# `/<upstream>/...`: one request, with a Cookie header when given.
sub upstream_get {
    my ($self, $front, $upstream, $cookie, $path) = @_;
    return $self->get($front, "/$upstream/" . ($path // 'page'),
                      defined $cookie ? (Cookie => $cookie) : ());
}

# $n requests without a session; { who answered => count }.
sub new_sessions {
    my ($self, $front, $upstream, $n) = @_;
    my %who;
    $who{served_by($self->upstream_get($front, $upstream, undef, "new$_"))}++
        for 1 .. $n;
    return \%who;
}

# $n requests with JSESSIONID=$id; "WHO N[, WHO N]" of who answered.
sub sticky_spread {
    my ($self, $front, $upstream, $id, $n) = @_;
    my %who;
    $who{served_by($self->upstream_get($front, $upstream, "JSESSIONID=$id"))}++
        for 1 .. $n;
    return join ', ', map { "$_ $who{$_}" } sort keys %who;
}

sub served_by {
    my ($r) = @_;
    return $r->{status} == 200 && header($r, 'X-Backend') ne ''
        ? header($r, 'X-Backend') : "status $r->{status}";
}

# The peers nginx tried, in order, from an `X-Upstream: $upstream_addr`
# header ("127.0.0.1:1, 127.0.0.1:2" and " : " between upstream groups).
sub upstream_addrs {
    my ($r) = @_;
    return grep { length && $_ ne '-' } split /\s*,\s*|\s+:\s+/,
        header($r, 'X-Upstream');
}

# True when `X-Route-Changed: $sticky_route_changed` says 1.
sub route_changed {
    my ($r) = @_;
    return header($r, 'X-Route-Changed') eq '1';
}

# Lines of error.log written after byte $offset (see `-s $t->error_log`).
sub log_since {
    my ($self, $offset) = @_;
    my $log = $self->read_file('logs/error.log');
    return length($log) > $offset ? substr($log, $offset) : '';
}

1;
