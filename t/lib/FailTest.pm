package FailTest;

# Helpers for the failure and recovery tests (t/25..t/29), in core Perl:
#
#   start_raw_backend($t, $route)  a backend that misbehaves on demand, by path:
#       /hang...          reads the request and never answers
#       /slow/S...        answers 200 after S seconds
#       /close...         closes the connection without an answer
#       /partial...       sends a 200 header announcing 1000 bytes, 10 of them, closes
#       /status/NNN...    answers NNN
#       /health           200; 503 while the file raw-ROUTE.down exists; no
#                         answer while raw-ROUTE.hang exists
#       anything else     200 "ROUTE\n", X-Backend and a new JSESSIONID, like
#                         StickyTest's backends
#     Every request is logged to raw-ROUTE.log: time, method, path, and how
#     many /health requests are open at that moment (this one included).
#   start_blackhole($t, $name)  a port whose accept queue is full: connect()
#     to it times out.
#   transitions($t, $offset)  the module's health transitions in error.log.
#   wait_for(SECONDS, CODE)  polls CODE every 50 ms; the seconds it took or undef.
#   run_load($t, ...)  concurrent clients for a while, with actions meanwhile.
#   failover_scenario($t, ...)  kill -9 one backend under load and bring it
#     back: failed requests, session moves, recovery time (t/28, make bench).

use strict;
use warnings;

use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Socket;
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(start_raw_backend start_blackhole raw_requests transitions
                    wait_for run_load hold_request failover_scenario);

sub start_raw_backend {
    my ($t, $route) = @_;
    my $port = $t->port("raw:$route");
    my $base = $t->dir . "/raw-$route";
    my $listen;
    for (1 .. 50) {    # the port of a killed backend may linger a moment
        $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                        Proto => 'tcp', Listen => 128, ReuseAddr => 1)
            and last;
        sleep 0.1;
    }
    $listen or die "raw backend $route: cannot listen on $port: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        _serve($listen, $route, $base);
        POSIX::_exit(0);
    }
    close $listen;
    $t->{backends}{"raw:$route"} = $pid;    # StickyTest kills it at the end
    return $port;
}

# A listening socket with a backlog of 0 and one connection queued: the
# kernel drops further SYNs, so connecting to it times out.
sub start_blackhole {
    my ($t, $name) = @_;
    socket(my $l, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
    setsockopt($l, SOL_SOCKET, SO_REUSEADDR, 1);
    bind($l, sockaddr_in(0, inet_aton('127.0.0.1'))) or die "bind: $!";
    listen($l, 0) or die "listen: $!";
    my ($port) = sockaddr_in(getsockname($l));
    my $filler = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                       Timeout => 1) or die "blackhole filler: $!";
    $t->{blackholes}{$name} = [$l, $filler];
    return $port;
}

# The requests a raw backend saw: [time, method, path, open health requests].
sub raw_requests {
    my ($t, $route) = @_;
    return map { [split ' '] } split /\n/, $t->read_file("raw-$route.log");
}

# Health transitions logged after byte $offset of error.log:
# { upstream, worker, to, cause, from, level }.
sub transitions {
    my ($t, $offset) = @_;
    my @found;
    for (split /\n/, $t->log_since($offset // 0)) {
        next unless /\[(\w+)\].*upstream "([^"]+)" worker "([^"]+)" is now (\S+) \((.*), was (\S+)\)/;
        push @found, { level => $1, upstream => $2, worker => $3, to => $4,
                       cause => $5, from => $6 };
    }
    return @found;
}

sub wait_for {
    my ($seconds, $code) = @_;
    my $start = time;
    while (1) {
        return time - $start if $code->();
        return undef if time - $start > $seconds;
        sleep 0.05;
    }
}

# Sends a request on a socket it returns, without reading the answer: the
# request stays in flight until the socket is closed or answered.
sub hold_request {
    my ($port, $path, %h) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5) or die "connect: $!";
    my $req = "GET $path HTTP/1.0\r\nHost: localhost\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    print $s "$req\r\n";
    return $s;
}

# Runs `clients` processes for `seconds`, each sending requests one after the
# other: $request->($t, $client, $i) returns the response. While they run,
# the parent calls each [$at_seconds, $code] of `actions` in time. Returns
# one record per request: [client, i, sent_at, status, backend].
sub run_load {
    my ($t, %o) = @_;
    my ($clients, $seconds, $request) = @o{qw(clients seconds request)};
    my $dir = $t->dir;
    my $t0 = time;
    my @pids;
    for my $c (1 .. $clients) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open my $out, '>', "$dir/load-$c.txt" or POSIX::_exit(1);
            my $i = 0;
            while (time - $t0 < $seconds) {
                my $sent = time - $t0;
                my $r = $request->($t, $c, $i);
                my $who = $r->{status} == 200
                    ? (join('', @{$r->{headers}{'x-backend'} || []}) || '-') : '-';
                my $body_ok = $r->{status} != 200 || $r->{body} eq "$who\n" ? 1 : 0;
                printf $out "%d %d %.3f %d %s %d\n", $c, $i++, $sent, $r->{status}, $who,
                    $body_ok;
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    for my $a (sort { $a->[0] <=> $b->[0] } @{$o{actions} || []}) {
        my $wait = $t0 + $a->[0] - time;
        sleep $wait if $wait > 0;
        $a->[1]->();
    }
    waitpid($_, 0) for @pids;
    my @records;
    for my $c (1 .. $clients) {
        push @records, map { [split ' '] } split /\n/, $t->read_file("load-$c.txt");
    }
    return @records;
}

# Steady load on `path` (e.g. "/load") of `front`: `clients` processes for
# `seconds`, three in four requests from a session of one of `routes` (30
# per client, spread over the routes), one in four a new session. The
# backend `victim` is killed (-9) at `kill_at` s and started again (same
# port) at `restart_at` s. Returns:
#   requests, failed   every request; those not answered 200 by a backend in full
#   hopped             victim's sessions served by more than one member while it was down
#   victim_served      requests served by the victim while it was down
#   moved              requests of the other sessions served off their own member
#   recovery           seconds from the restart until a new session reached it
sub failover_scenario {
    my ($t, %o) = @_;
    my ($front, $path, $victim) = @o{qw(front path victim)};
    my @routes = @{$o{routes}};
    my $per_client = 30;
    my ($killed, $restarted);
    my $t0 = time;
    my @records = run_load($t, clients => $o{clients}, seconds => $o{seconds},
        request => sub {
            my ($t, $c, $i) = @_;
            return $t->get($front, "$path/new") if $i % 4 == 3;
            my $s = $i % $per_client;
            return $t->get($front, "$path/page", Cookie => 'JSESSIONID='
                           . StickyTest::session_id("c$c-s$s", $routes[$s % @routes]));
        },
        actions => [[$o{kill_at}, sub { $t->kill_backend($victim); $killed = time - $t0 }],
                    [$o{restart_at}, sub { $t->start_backend($victim); $restarted = time }]]);
    my %r = (requests => scalar @records, failed => 0, hopped => 0, moved => 0,
             victim_served => 0);
    my %by;
    for (@records) {
        my ($c, $i, $sent, $status, $who, $body_ok) = @$_;
        $r{failed}++ unless $status == 200 && $body_ok && $who ne '-';
        next if $i % 4 == 3;
        my $s = $i % $per_client;
        my $own = $routes[$s % @routes];
        if ($own ne $victim) {
            $r{moved}++ if $who ne $own && $status == 200;
        } elsif ($sent > $killed + 0.1 && $sent < $o{restart_at} - 0.1) {
            $by{"$c-$s"}{$who}++;
            $r{victim_served}++ if $who eq $victim;
        }
    }
    $r{hopped} = grep { keys %$_ > 1 } values %by;
    $r{victim_sessions} = keys %by;
    my ($first) = sort { $a <=> $b } map { $_->[2] } grep {
        $_->[1] % 4 == 3 && $_->[4] eq $victim && $_->[2] >= $restarted - $t0 } @records;
    if (defined $first) {
        $r{recovery} = $first - ($restarted - $t0);
    } else {    # not within the load: new sessions until one reaches it
        my $deadline = time + ($o{recovery_limit} // 30);
        while (time < $deadline) {
            my $r = $t->get($front, "$path/new");
            if (StickyTest::served_by($r) eq $victim) { $r{recovery} = time - $restarted; last }
            sleep 0.02;
        }
    }
    return \%r;
}

# --- the raw backend --------------------------------------------------------------

sub _serve {
    my ($listen, $route, $base) = @_;
    $SIG{$_} = 'DEFAULT' for qw(TERM INT);
    $listen->blocking(0);
    my $sel = IO::Select->new($listen);
    my (%conn, @later);
    open my $log, '>>', "$base.log" or POSIX::_exit(1);
    $log->autoflush(1);
    my $seq = 0;
    my $close = sub {
        my ($s) = @_;
        $sel->remove($s);
        delete $conn{fileno $s};
        close $s;
    };
    while (1) {
        my $now = time;
        for my $due (grep { $_->[0] <= $now } @later) {
            my ($at, $s) = @$due;
            my $fd = fileno $s;    # undef: the client went away meanwhile
            next unless defined $fd && $conn{$fd} && $conn{$fd}{sock} == $s;
            _answer($s, 200, $route, "$route\n");
            $close->($s);
        }
        @later = grep { $_->[0] > $now } @later;
        for my $s ($sel->can_read(0.05)) {
            if ($s == $listen) {
                while (my $c = $listen->accept) {
                    $c->blocking(0);
                    $sel->add($c);
                    $conn{fileno $c} = { sock => $c, buf => '' };
                }
                next;
            }
            my $st = $conn{fileno $s} or next;
            my $n = sysread($s, my $chunk, 65536);
            if (!defined $n) {
                $close->($s) unless $!{EAGAIN} || $!{EWOULDBLOCK};
                next;
            }
            if ($n == 0) {    # the peer closed: a held request ends
                $close->($s);
                next;
            }
            next if defined $st->{path};
            $st->{buf} .= $chunk;
            next unless $st->{buf} =~ /\r\n\r\n/;
            my ($method, $path) = $st->{buf} =~ m{^(\S+) (\S+)};
            $st->{path} = $path // '';
            my $open = grep { ($_->{path} // '') eq '/health' } values %conn;
            printf $log "%.3f %s %s %d\n", time, $method // '-', $path // '-', $open;
            if ($path =~ m{^/health}) {
                next if -e "$base.hang";
                _answer($s, -e "$base.down" ? 503 : 200, $route, "health\n");
            } elsif ($path =~ m{/hang}) {
                next;
            } elsif ($path =~ m{/slow/(\d+(?:\.\d+)?)}) {
                push @later, [time + $1, $s];
                next;
            } elsif ($path =~ m{/close}) {
                # fall through to close
            } elsif ($path =~ m{/partial}) {
                syswrite $s, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n"
                    . "X-Backend: $route\r\nConnection: close\r\n\r\n0123456789";
            } elsif ($path =~ m{/status/(\d{3})}) {
                _answer($s, $1, $route, "status $1\n");
            } else {
                my $new = $st->{buf} =~ /^Cookie:.*JSESSIONID=/mi || $path =~ /;jsessionid=/
                    ? '' : sprintf("Set-Cookie: JSESSIONID=%08X%08X.%s; Path=/\r\n",
                                   $$, ++$seq, $route);
                _answer($s, 200, $route, "$route\n", $new);
            }
            $close->($s);
        }
    }
}

sub _answer {
    my ($s, $status, $route, $body, $extra) = @_;
    $s->blocking(1);
    syswrite $s, "HTTP/1.1 $status X\r\nContent-Length: " . length($body)
        . "\r\nX-Backend: $route\r\n" . ($extra // '') . "Connection: close\r\n\r\n$body";
}

1;
