#!/usr/bin/perl
# ajp_pass configuration: what `nginx -t` says about mistakes (an upstream
# without sticky_workers, a bad ajp_forward_uri, ajp_param without a value),
# with the file and line; plain ajp13 worker files (no lb worker: Debian's
# shipped file, `worker=NAME`) serve through ajp_pass; and `probe=` on an
# AJP upstream tests a recovering member with a CPing, never HTTP.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use StickyTest qw(lb_properties header);
use StickyStatus qw(status_json worker);
use FailTest qw(transitions wait_for);
use AjpBackend qw(start_ajp_backend set_ajp_backend ajp_events ajp_requests http_raw
                  ajp_echo);

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => start_ajp_backend($t, $_) } qw(deb w1 w2 pr good);

$t->write_file('one.properties', lb_properties('cluster', {}, [n1 => { port => $port{w1} }]));

# --- nginx -t ---------------------------------------------------------------------

# Writes a configuration whose server has `$body`; returns (ok, output, line of
# the first line of $body that matches $mark).
sub check {
    my ($upstreams, $body, $mark) = @_;
    $t->write_conf(<<"EOF", name => 'check.conf');
    upstream sticky { sticky_workers one.properties; }
$upstreams
    server {
        listen 127.0.0.1:$front;
$body
    }
EOF
    my ($ok, $out) = $t->test_config('check.conf');
    my $line;
    my @lines = split /\n/, $t->read_file('check.conf');
    for my $i (0 .. $#lines) {
        if (defined $mark && index($lines[$i], $mark) >= 0) { $line = $i + 1; last }
    }
    return ($ok, $out, $line);
}

my ($ok, $out, $line) = check('    upstream plain { server 127.0.0.1:1; }',
                              '        location / { ajp_pass plain; }', 'ajp_pass plain');
ok(!$ok, 'ajp_pass to an upstream without sticky_workers: nginx -t fails');
like($out, qr/upstream "plain"/, '... naming the upstream') or diag $out;
like($out, qr/sticky_workers/, '... saying it needs sticky_workers') or diag $out;
like($out, qr/check\.conf:$line\b/, "... with the file and line of ajp_pass (check.conf:$line)")
    or diag $out;

($ok, $out, $line) = check('', '        location / { ajp_pass nosuch; }', 'ajp_pass nosuch');
ok(!$ok, 'ajp_pass to an upstream that does not exist: nginx -t fails');
like($out, qr/no upstream "nosuch" is defined: "ajp_pass" in \S*check\.conf:$line needs an upstream\{\} block with "sticky_workers"/,
     '... saying so, with the file and line of ajp_pass') or diag $out;
unlike($out, qr/no port/, '... not as a host without a port') or diag $out;

# The upstream{} block after the server that uses it.
$t->write_conf(<<"EOF", name => 'check.conf');
    server {
        listen 127.0.0.1:$front;
        location / { ajp_pass later; }
        location /s { ajp_pass sticky; }
    }
    upstream later { server 127.0.0.1:1; }
    upstream sticky { sticky_workers one.properties; }
EOF
($ok, $out) = $t->test_config('check.conf');
ok(!$ok, 'ajp_pass to a later upstream without sticky_workers: nginx -t fails');
like($out, qr/upstream "later" of "ajp_pass" in \S*check\.conf:\d+ does not use "sticky_workers"/,
     '... naming the upstream and the ajp_pass') or diag $out;
$t->write_conf(<<"EOF", name => 'check.conf');
    server {
        listen 127.0.0.1:$front;
        location /s { ajp_pass sticky; }
    }
    upstream sticky { sticky_workers one.properties; }
EOF
($ok, $out) = $t->test_config('check.conf');
ok($ok, 'ajp_pass to a sticky upstream defined after it: nginx -t passes') or diag $out;
unlike($out, qr/redefined/, '... without a "load balancing method redefined" warning') or diag $out;

# A file of ajp13 workers none of which worker.list names: the message says
# what the file has and the two ways to use it, naming the file once.
$t->write_file('unlisted.properties', "worker.list=jkstatus\nworker.jkstatus.type=status\n"
    . join('', map { "worker.n$_.host=127.0.0.1\nworker.n$_.port=8009\n" } 1 .. 3));
($ok, $out, $line) = check('    upstream unlisted { sticky_workers unlisted.properties; }', '',
                           'unlisted.properties');
ok(!$ok, 'a file without an lb worker or a listed ajp13 worker: nginx -t fails');
like($out, qr/no lb worker in \S*unlisted\.properties: it defines 1 status worker \(jkstatus\) and 3 ajp13 workers \(n1, n2, n3\), and its "worker\.list" names no ajp13 or ajp14 worker\. Balance them with an lb worker .* or list one in "worker\.list" and use it alone with worker=NAME in \S*check\.conf:$line$/m,
     '... saying what the file defines and how to use it, with the line of sticky_workers')
    or diag $out;
my @named = $out =~ /unlisted\.properties/g;
is(scalar @named, 1, '... naming the file once') or diag $out;

($ok, $out, $line) = check('', "        location / {\n            ajp_pass sticky;\n"
                           . "            ajp_forward_uri raw;\n        }", 'ajp_forward_uri');
ok(!$ok, 'ajp_forward_uri raw: nginx -t fails');
like($out, qr/invalid value "raw"/, '... invalid value "raw"') or diag $out;
like($out, qr/check\.conf:$line\b/, '... with file and line') or diag $out;

for my $args ('ONLY', '') {
    ($ok, $out, $line) = check('', "        location / {\n            ajp_pass sticky;\n"
                               . "            ajp_param $args;\n        }", 'ajp_param');
    ok(!$ok, "ajp_param $args: nginx -t fails");
    like($out, qr/invalid number of arguments in "ajp_param" directive in .*check\.conf:$line/,
         '... invalid number of arguments, with file and line') or diag $out;
}

($ok, $out) = check('', "        location / {\n            ajp_pass sticky;\n"
                    . "            ajp_param NAME value sometimes;\n        }");
ok(!$ok, 'ajp_param NAME VALUE sometimes: nginx -t fails') or diag $out;

($ok, $out) = check('', "        location / { ajp_pass sticky; ajp_pass sticky; }");
ok(!$ok && $out =~ /duplicate/, 'ajp_pass twice in a location: "is duplicate"') or diag $out;

($ok, $out) = check('', "        ajp_pass sticky;");
ok(!$ok && $out =~ /not allowed here/, 'ajp_pass in server: not allowed here') or diag $out;

# ajp_buffer_size is raised to the largest max_packet_size (docs/ajp.md):
# the other buffer sizes must follow without the user's help.
# mod_jk's connection pool is nginx's keepalive: a file that sizes one,
# used without "keepalive", gets a notice saying what to add.
$t->write_file('pool.properties', lb_properties('cluster', {},
    [n1 => { port => $port{w1}, connection_pool_size => 12 }]));
# (nginx -t writes notices to its log, logs/test.log, not to stderr)
sub test_log_since { my ($off) = @_; substr($t->read_file('logs/test.log'), $off) }
my $log_off = -s $t->dir . '/logs/test.log' // 0;
($ok, $out) = check("    upstream pool { sticky_workers pool.properties; }",
                    "        location / { ajp_pass pool; }");
ok($ok, 'connection_pool_size without keepalive: nginx -t passes') or diag $out;
like(test_log_since($log_off),
     qr/\[notice\].*upstream "pool".*connection_pool_size of 12.*"keepalive 12;"/,
     '... with a notice to add "keepalive 12;"');
$log_off = -s $t->dir . '/logs/test.log';
($ok, $out) = check("    upstream pool { sticky_workers pool.properties; keepalive 12; }",
                    "        location / { ajp_pass pool; }");
ok($ok, '... with keepalive: nginx -t passes') or diag $out;
unlike(test_log_since($log_off), qr/connection_pool_size/, '... and no notice');

for my $size (16384, 65536) {
    $t->write_file("big$size.properties", lb_properties('cluster', {},
        [n1 => { port => $port{w1}, max_packet_size => $size }]));
    ($ok, $out) = check("    upstream big$size { sticky_workers big$size.properties; }",
                        "        location / { ajp_pass big$size; }");
    ok($ok, "max_packet_size=$size and no ajp_buffer* directive: nginx -t passes") or diag $out;
}

($ok, $out) = check('', <<'EOF');
        location / {
            if ($arg_ajp) { ajp_pass sticky; }
            ajp_pass sticky;
            ajp_param A "$remote_addr" if_not_empty;
            ajp_forward_uri unparsed;
            ajp_buffering off;
            ajp_next_upstream error timeout invalid_header http_503 non_idempotent;
        }
EOF
ok($ok, 'a correct configuration with ajp_pass in if in location: nginx -t passes') or diag $out;

# --- plain ajp13 worker files ---------------------------------------------------------

# Debian's shipped file, unchanged but for where the worker is.
my $debian = $t->read_file("$FindBin::Bin/data/debian-workers.properties");
ok($debian =~ s/^worker\.ajp13_worker\.port=8009$/worker.ajp13_worker.port=$port{deb}/m
   && $debian =~ s/^worker\.ajp13_worker\.host=localhost$/worker.ajp13_worker.host=127.0.0.1/m,
   "Debian's workers.properties: only its port and host changed");
$t->write_file('debian.properties', $debian);
$t->write_file('plain.properties', <<"EOF");
worker.list=w1,w2
worker.w1.type=ajp13
worker.w1.host=127.0.0.1
worker.w1.port=$port{w1}
worker.w2.type=ajp13
worker.w2.host=127.0.0.1
worker.w2.port=$port{w2}
EOF
$t->write_file('probed.properties', lb_properties('cluster', { recover_time => 1 },
    [pr => { port => $port{pr} }], [good => { port => $port{good} }]));

$t->write_conf(<<"EOF");
    upstream debian { sticky_workers debian.properties; }
    upstream plain  { sticky_workers plain.properties; }
    upstream w2     { sticky_workers plain.properties worker=w2; }
    upstream probed {
        sticky_workers probed.properties probe=/health probe_interval=300ms probe_timeout=1s;
    }
    server {
        listen 127.0.0.1:$front;
        add_header X-Worker \$sticky_worker always;
        location /debian/ { ajp_pass debian; }
        location /plain/  { ajp_pass plain; }
        location /w2/     { ajp_pass w2; }
        location /probed/ { ajp_pass probed; }
        location /status  { sticky_status; }
    }
EOF
($ok, $out) = $t->test_config;
ok($ok, 'nginx -t accepts plain ajp13 files with ajp_pass') or diag $out;
$t->run($front);

sub get {
    my ($path, $route) = @_;
    my $r = http_raw($front, "GET $path HTTP/1.0\r\nHost: localhost\r\n"
                     . ($route ? "Cookie: JSESSIONID=S1.$route\r\n" : '') . "\r\n");
    $r->{echo} = ajp_echo($r);
    return $r;
}

my $r = get('/debian/page');
is($r->{status}, 200, "Debian's file (worker.list=ajp13_worker): 200 through ajp_pass");
is(header($r, 'X-Backend'), 'deb', '... from its ajp13_worker');
is(header($r, 'X-Worker'), 'ajp13_worker', '... $sticky_worker is ajp13_worker');
is($r->{echo} && $r->{echo}{request}{attr}{route}, 'ajp13_worker', '... route: the worker name');
is($r->{echo} && $r->{echo}{request}{attr}{'req_attribute:JK_LB_ACTIVATION'}, 'ACT',
   '... JK_LB_ACTIVATION ACT');

$r = get('/plain/page');
is(header($r, 'X-Backend'), 'w1', 'a file of two ajp13 workers, no lb: the first of worker.list');
$r = get('/w2/page');
is($r->{status}, 200, 'sticky_workers FILE worker=w2: 200');
is(header($r, 'X-Backend'), 'w2', '... from w2');
is($r->{echo} && $r->{echo}{request}{attr}{route}, 'w2', '... route w2');
my %who;
$who{header(get("/w2/n$_"), 'X-Backend')}++ for 1 .. 5;
is_deeply(\%who, { w2 => 5 }, '... and only w2');

# --- probe= on an AJP upstream: a CPing -------------------------------------------------------

sub changes {
    my ($off) = @_;
    return join ', ', map { "$_->{to} ($_->{cause})" }
        grep { $_->{upstream} eq 'probed' && $_->{worker} eq 'pr' } transitions($t, $off);
}

my $off = -s $t->error_log;
$r = get('/probed/page?do=bad_magic', 'pr');
is($r->{status}, 502, 'probed: a bad packet from pr: 502');
ok(wait_for(6, sub { changes($off) =~ /OK \(probe passed\)/ }),
   'probed: pr is back after a probe') or diag changes($off);
like(changes($off), qr/^ERR \(read failed\), ERR\/REC \(recover time passed\), ERR\/PRB \(probe sent\), OK \(probe passed\)$/,
     '... ERR, ERR/REC, ERR/PRB, OK');
my %served = map { $_->{serial} => 1 } ajp_events($t, 'pr', 'request');
my @probes = grep { !$served{$_->{serial}} } ajp_events($t, 'pr', 'cping');
ok(@probes >= 1, '... the probe was a CPing on a connection of its own') or diag explain [ajp_events($t, 'pr')];
is(scalar(ajp_events($t, 'pr', 'not_ajp')), 0, '... never an HTTP request');
is(scalar(grep { $_->{uri} eq '/health' } ajp_requests($t, 'pr')), 0, '... nor an AJP request for /health');
is(header(get('/probed/again', 'pr'), 'X-Backend'), 'pr', '... and pr serves its session again');

set_ajp_backend($t, 'pr', cping => 'never');
$off = -s $t->error_log;
$r = get('/probed/page?do=bad_magic', 'pr');
is($r->{status}, 502, 'probed: pr fails again');
ok(wait_for(6, sub { changes($off) =~ /probe failed/ }), 'probed: no CPong: the probe fails')
    or diag changes($off);
like(changes($off), qr/^ERR \(read failed\), ERR\/REC \(recover time passed\), ERR\/PRB \(probe sent\), ERR \(probe failed\)/,
     '... ERR, ERR/REC, ERR/PRB, ERR (probe failed)');
is(header(get('/probed/meanwhile', 'pr'), 'X-Backend'), 'good', '... and users never get pr meanwhile');
is(scalar(ajp_events($t, 'pr', 'not_ajp')), 0, '... still no HTTP request');

$t->finish;
done_testing;
