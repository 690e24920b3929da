#!/usr/bin/perl
# Active probes over TLS: when a proxy_pass https:// uses the upstream, the
# probes speak TLS to its members with that location's proxy_ssl_* settings.
# Healthy HTTPS members stay OK under probe_fails; a killed one goes to ERR
# by probe and comes back by probe; proxy_ssl_verify with the right
# proxy_ssl_name passes (SNI and Host name it), a wrong name or an unknown
# CA fails with the verify reason; a member that speaks plain HTTP fails the
# handshake and nginx stays up; a handshake that never ends times out, and
# a quit does not wait for it; the config-time notices name the location
# the probes follow. Backends: plain nginx over HTTPS; certificates: openssl.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use StickyTest qw(lb_properties served_by);
use StickyStatus qw(status_json worker);
use FailTest qw(transitions wait_for);

die "openssl is not installed (make deps installs it)\n"
    if system('command -v openssl >/dev/null 2>&1');

my $t = StickyTest->new;
my $d = $t->dir;
my $front = $t->port('front');

sub openssl {
    my ($args) = @_;
    my $out = `openssl $args 2>&1`;
    die "openssl $args:\n$out" if $?;
}
# a CA, the backends' certificate for backend.test signed by it, and a
# second CA that signed nothing
$t->write_file('san.ext', "subjectAltName=DNS:backend.test\n");
openssl("req -x509 -newkey rsa:2048 -nodes -keyout $d/ca.key -out $d/ca.pem "
        . "-subj /CN=probe-test-ca -days 2");
openssl("req -x509 -newkey rsa:2048 -nodes -keyout $d/other-ca.key -out $d/other-ca.pem "
        . "-subj /CN=other-ca -days 2");
openssl("req -newkey rsa:2048 -nodes -keyout $d/backend.key -out $d/backend.csr "
        . "-subj /CN=backend.test");
openssl("x509 -req -in $d/backend.csr -CA $d/ca.pem -CAkey $d/ca.key -CAcreateserial "
        . "-extfile $d/san.ext -out $d/backend.pem -days 2");

# An HTTPS backend: a plain nginx whose access log says, per request, the
# TLS protocol, the SNI name, the Host header and the User-Agent.
sub start_tls_backend {
    my ($name) = @_;
    my $port = $t->port("tls:$name");
    $t->{backends}{"tls:$name"} = $t->start_plain_nginx("backend-$name", <<"EOF", $port);
    log_format probe '\$ssl_protocol|\$ssl_server_name|\$http_host|\$http_user_agent';
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $d/backend.pem;
        ssl_certificate_key $d/backend.key;
        access_log $d/backend-$name/access.log probe;
        location / {
            add_header X-Backend $name always;
            return 200 "$name\\n";
        }
    }
EOF
    return $port;
}

my %port = map { $_ => start_tls_backend($_) } qw(b1 b2 b3);
$port{p1} = $t->start_backend('p1');    # plain HTTP
# accepts connections (the kernel does) and never answers a ClientHello
my $hang = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Proto => 'tcp', Listen => 128, ReuseAddr => 1)
    or die "listen: $!";
$port{h1} = $hang->sockport;

my %ups = (
    tls   => [qw(b1 b2)],    # proxy_ssl_* defaults
    vok   => [qw(b3)],       # verified, SNI
    vname => [qw(b3)],       # verified against a name not in the certificate
    vca   => [qw(b3)],       # verified against a CA that did not sign it
    plain => [qw(p1)],       # https:// to a member that speaks plain HTTP
    hang  => [qw(h1)],       # a handshake that never ends
    hangq => [qw(h1)],       # the same, for the quit
);
my %timeout = (hangq => '60s');
my $upstreams = '';
for my $name (sort keys %ups) {
    $t->write_file("$name.properties", lb_properties('cluster', { recover_time => 1 },
        map { ["$name-$_" => { port => $port{$_} }] } @{$ups{$name}}));
    $upstreams .= "    upstream $name { sticky_workers $name.properties "
        . "probe=/ probe_interval=1s probe_timeout=" . ($timeout{$name} // '1s')
        . " probe_fails=2; }\n";
}
$t->write_conf(<<"EOF");
$upstreams
    server {
        listen 127.0.0.1:$front;
        location /status { sticky_status; }
        location /tls/ { proxy_pass https://tls; }
        location /tls-plain/ { proxy_pass http://tls; }
        location /tls-again/ {
            proxy_pass https://tls;
            if (\$arg_x) { return 404; }
        }
        location /vok/ {
            proxy_pass https://vok;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $d/ca.pem;
            proxy_ssl_name backend.test;
            proxy_ssl_server_name on;
        }
        location /vok-unverified/ { proxy_pass https://vok; }
        location /vname/ {
            proxy_pass https://vname;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $d/ca.pem;
            proxy_ssl_name wrong.test;
        }
        location /vca/ {
            proxy_pass https://vca;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $d/other-ca.pem;
            proxy_ssl_name backend.test;
        }
        location /plain/ { proxy_pass https://plain; }
        location /hang/ { proxy_pass https://hang; }
        location /hangq/ { proxy_pass https://hangq; }
    }
EOF
$t->run($front);
my @workers = $t->worker_pids;

# --- configuration time: which location the probes follow --------------------------

my $log = $t->read_file('logs/error.log');
like($log, qr/\[notice\].*upstream "tls" is used by "proxy_pass https:\/\/" in location "\/tls\/" and by "proxy_pass http:\/\/" in location "\/tls-plain\/": its probes use TLS, with the settings of location "\/tls\/"/,
     'notice: an upstream used over https:// and http://, the probes use TLS');
like($log, qr/\[notice\].*upstream "vok" is used by "proxy_pass https:\/\/" in locations "\/vok\/" and "\/vok-unverified\/" with different TLS settings: its probes use those of location "\/vok\/"/,
     'notice: two https:// locations with different settings, the first one wins');
unlike($log, qr/upstream "tls" is used .* with different TLS settings/,
       'no notice for https:// locations with the same settings');

# --- (a) healthy HTTPS members stay OK, their probes pass ---------------------------

like(served_by($t->get($front, '/tls/page')), qr/^b[12]$/,
     'a request through proxy_pass https:// is served');
my (%first, %last, @bad);
my $until = time + 6;
while (time < $until) {
    my $doc = status_json($t, $front, '/status?upstream=tls');
    for my $m (qw(b1 b2)) {
        my $w = worker($doc, 'tls', "tls-$m") or do { push @bad, "$m missing"; next };
        $first{$m} //= $w->{probes};
        $last{$m} = $w;
        push @bad, "$m: $w->{state}, $w->{probe_failures} failed probes"
            if $w->{state} !~ /^OK/ || $w->{probe_failures};
    }
    sleep 0.25;
}
ok(!@bad, 'healthy: both members stay OK for 6 s, no probe fails')
    or diag join "\n", grep { defined } @bad[0 .. 4];
for my $m (qw(b1 b2)) {
    ok(($last{$m}{probes} // 0) >= $first{$m} + 4,
       "healthy: the probes of $m are counted (one a second)")
        or diag "probes: $first{$m} -> " . ($last{$m}{probes} // 'none');
    is($last{$m}{probe_failures}, 0, "healthy: none of them failed ($m)");
}
my @probes = grep { /\|nginx-sticky-probe$/ } split /\n/, $t->read_file("backend-b1/access.log");
ok(@probes >= 4, 'b1 saw the probes') or diag scalar @probes;
like($probes[-1] // '', qr/^TLSv1\.[23]\|-\|127\.0\.0\.1:$port{b1}\|/,
     'over TLS; no SNI (proxy_ssl_server_name off), Host names the member')
    or diag $probes[-1];
is(scalar(grep { /upstream "tls" .*probe failed/ } split /\n/, $t->log_since(0)), 0,
   'healthy: no probe failure in error.log');

# --- (b) a killed member goes to ERR by probe and comes back by probe ---------------

my $users = users('b1');
my $off = -s $t->error_log;
$t->kill_backend('tls:b1');
my $took = wait_for(8, sub { grep { $_->{worker} eq 'tls-b1' && $_->{to} eq 'ERR' }
                                  transitions($t, $off) });
ok(defined $took, 'killed: b1 goes to ERR') or diag $t->log_since($off);
my ($err) = grep { $_->{worker} eq 'tls-b1' && $_->{to} eq 'ERR' } transitions($t, $off);
is($err && $err->{cause}, 'probe_fails probes failed', '... by probe, no request needed');
like($t->log_since($off), qr/worker "tls-b1" probe failed: connect failed/,
     '... the probes failed to connect');
my $w = worker(status_json($t, $front, '/status?upstream=tls'), 'tls', 'tls-b1');
like($w && $w->{state} // '', qr/^ERR/, '... the status page says so');

$off = -s $t->error_log;
start_tls_backend('b1');
$took = wait_for(10, sub { grep { $_->{worker} eq 'tls-b1' && $_->{to} eq 'OK' }
                                transitions($t, $off) });
ok(defined $took, 'restarted: b1 comes back to OK') or diag $t->log_since($off);
my ($ok) = grep { $_->{worker} eq 'tls-b1' && $_->{to} eq 'OK' } transitions($t, $off);
is($ok && $ok->{cause}, 'probe passed', '... by probe');
$w = worker(status_json($t, $front, '/status?upstream=tls'), 'tls', 'tls-b1');
like($w && $w->{state} // '', qr/^OK/, '... the status page says OK');
is(users('b1'), $users, '... and no user request reached b1 meanwhile');

# --- (c) proxy_ssl_verify ------------------------------------------------------------

$took = wait_for(6, sub {
    my $w = worker(status_json($t, $front, '/status?upstream=vok'), 'vok', 'vok-b3');
    $w && $w->{probes} >= 2 });
ok(defined $took, 'verify: probes of a verified member run');
$w = worker(status_json($t, $front, '/status?upstream=vok'), 'vok', 'vok-b3');
like($w->{state}, qr/^OK/, 'verify: the right name and CA: OK');
is($w->{probe_failures}, 0, 'verify: ... and no probe failed');
@probes = grep { /\|nginx-sticky-probe$/ } split /\n/, $t->read_file("backend-b3/access.log");
ok(grep({ /^TLSv1\.[23]\|backend\.test\|backend\.test\|/ } @probes),
   'verify: SNI is proxy_ssl_name, and so is Host')
    or diag join "\n", @probes[0 .. 2];

$took = wait_for(6, sub { grep { $_->{upstream} eq 'vname' && $_->{to} eq 'ERR' }
                               transitions($t, 0) });
ok(defined $took, 'verify: a wrong proxy_ssl_name takes the member out');
like($t->log_since(0),
     qr/upstream "vname" worker "vname-b3" probe failed: certificate verify failed: certificate does not match "wrong\.test"/,
     '... the log says the certificate does not match the name');
$took = wait_for(6, sub { grep { $_->{upstream} eq 'vca' && $_->{to} eq 'ERR' }
                               transitions($t, 0) });
ok(defined $took, 'verify: an unknown CA takes the member out');
like($t->log_since(0),
     qr/upstream "vca" worker "vca-b3" probe failed: certificate verify failed: \(\d+:[^)]+\)/,
     '... the log gives the verify error');

# --- (d) plain HTTP where TLS is expected ---------------------------------------------

$took = wait_for(6, sub { grep { $_->{upstream} eq 'plain' && $_->{to} eq 'ERR' }
                               transitions($t, 0) });
ok(defined $took, 'plain HTTP member: the probes take it out');
like($t->log_since(0), qr/upstream "plain" worker "plain-p1" probe failed: TLS handshake failed/,
     '... the log says the handshake failed');
is_deeply([$t->worker_pids], \@workers, 'nginx stays up: the same worker processes');
ok(status_json($t, $front, '/status'), '... and answers');

# --- a handshake that never ends ------------------------------------------------------

$took = wait_for(6, sub { $t->log_since(0) =~
                              /upstream "hang" worker "hang-h1" probe failed: TLS handshake timed out/ });
ok(defined $took, 'no answer to the handshake: the probe times out, and says where');
$took = wait_for(5, sub {
    my $w = worker(status_json($t, $front, '/status?upstream=hangq'), 'hangq', 'hangq-h1');
    $w && $w->{probe} eq 'probing' });
ok(defined $took, 'a handshake is in flight (probe_timeout=60s)');
my $t0 = time;
ok($t->stop && time - $t0 < 5, '... a quit does not wait for it')
    or diag sprintf 'stopped after %.1f s', time - $t0;

$t->finish;
done_testing;

# The requests a backend's access log holds that are not probes.
sub users {
    my ($name) = @_;
    return scalar grep { !/\|nginx-sticky-probe$/ }
        split /\n/, $t->read_file("backend-$name/access.log");
}
