#!/usr/bin/perl
# $sticky_activation: the activation letter (A, D, S) of the worker a
# request goes to, known already when nginx builds the request to the
# upstream, so that proxy_set_header can pass it to the backend (what AJP
# sends as JK_LB_ACTIVATION, for HTTP). Backends here echo the header they
# got; the status page drains and stops a worker as an operator would.
# Also: `sessions_window=` at nginx -t, and sessions counted per worker over
# real requests, kept by a reload (members reordered and added) and started
# afresh by a reload that changes the window.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties session_id header);
use StickyStatus qw(status_json worker admin);

my $t = StickyTest->new;
my $front = $t->port('front');

# Backends that answer "ROUTE ACTIVATION-HEADER".
my %port;
for my $route (qw(n1 n2)) {
    $port{$route} = $t->port("backend:$route");
    $t->{backends}{"echo-$route"} = $t->start_plain_nginx("echo-$route", <<"EOF", $port{$route});
    server {
        listen 127.0.0.1:$port{$route};
        location / { return 200 "$route \$http_x_lb_activation\\n"; }
    }
EOF
}
my $plain = $port{n1};

$t->write_file('workers.properties', lb_properties('cluster', {},
    map { [$_ => { port => $port{$_} }] } qw(n1 n2)));
my $conf = sub {
    my ($params) = @_;
    return <<"EOF";
    upstream cluster { sticky_workers workers.properties $params; }
    upstream pooled { sticky_workers workers.properties; keepalive 4; }
    server {
        listen 127.0.0.1:$front;
        proxy_set_header X-LB-Activation \$sticky_activation;
        add_header X-Activation-After \$sticky_activation always;
        location / { proxy_pass http://cluster; }
        location /pooled/ {
            proxy_pass http://pooled;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-LB-Activation \$sticky_activation;
        }
        location /implicit/ { proxy_pass http://127.0.0.1:$plain; }
        location /admin { sticky_status read_write; }
    }
EOF
};

# --- sessions_window= at nginx -t ----------------------------------------------------------

for my $bad ('sessions_window=90s', 'sessions_window=61m', 'sessions_window=2h',
             'sessions_window=abc', 'sessions_window=') {
    $t->write_conf($conf->($bad));
    my ($ok, $out) = $t->test_config;
    ok(!$ok, "nginx -t refuses $bad");
    like($out, qr/invalid parameter "\Q$bad\E"/, '... naming the parameter');
    like($out, qr/\Q$bad\E is not whole minutes from 0 \(off\) to 60m/, '... and saying what it takes')
        if $bad =~ /\d/;
}
for my $good ('sessions_window=0', 'sessions_window=1m', 'sessions_window=60m', 'sessions_window=120s') {
    $t->write_conf($conf->($good));
    my ($ok, $out) = $t->test_config;
    ok($ok, "nginx -t accepts $good") or diag $out;
}

# --- the variable -------------------------------------------------------------------------------

$t->write_conf($conf->('sessions_window=1m'));
$t->run($front);

sub ask {
    my ($path, $sid) = @_;
    my $r = $t->get($front, $path, $sid ? (Cookie => "JSESSIONID=$sid") : ());
    my ($who, $sent) = $r->{body} =~ /^(\S+) ?(\S*)$/m;
    return { status => $r->{status}, who => $who // '', sent => $sent // '',
             after => header($r, 'X-Activation-After') };
}

my $s2 = session_id(2, 'n2');
my $r = ask('/', $s2);
is_deeply([@$r{qw(status who sent after)}], [200, 'n2', 'A', 'A'],
          'an active worker: the backend gets A, and the response sees A');

is(admin($t, $front, '/admin', upstream => 'cluster', worker => 'n2', activation => 'D')->{status},
   200, 'n2 drained');
$r = ask('/', $s2);
is_deeply([@$r{qw(status who sent after)}], [200, 'n2', 'D', 'D'],
          "n2's session still goes to n2, which gets D: its application can tell users to move");
$r = ask('/');
is_deeply([@$r{qw(status who sent)}], [200, 'n1', 'A'], 'a new session goes to n1 with A');
$r = ask('/pooled/', $s2);
is_deeply([@$r{qw(status who sent)}], [200, 'n2', 'A'],
          'another upstream of the same file has its own state, and keepalive in it works');

is(admin($t, $front, '/admin', upstream => 'cluster', worker => 'n2', activation => 'S')->{status},
   200, 'n2 stopped');
$r = ask('/', $s2);
is_deeply([@$r{qw(status who sent after)}], [200, 'n1', 'A', 'A'],
          "n2's session now goes to n1: the header names the worker it goes to");
$r = ask('/implicit/', $s2);
is_deeply([@$r{qw(status who sent after)}], [200, 'n1', '', ''],
          'an upstream not balanced by sticky_workers: no header');

# --- sessions counted per worker ---------------------------------------------------------

is(admin($t, $front, '/admin', upstream => 'cluster', worker => 'n2', activation => 'A')->{status},
   200, 'n2 active again');
for my $i (1 .. 40) {
    for my $repeat (1 .. 3) {
        ask('/', session_id("n1-$i", 'n1'));
        ask('/', session_id("n2-$i", 'n2'));
    }
}
ask('/', session_id('n2-1', 'n1'));  # the same session, on n1 now: one more there
my $doc = status_json($t, $front, '/admin');
my $n1 = worker($doc, 'cluster', 'n1');
my $n2 = worker($doc, 'cluster', 'n2');
is($n1->{sessions_window_s}, 60, 'the window as configured');
# Below 2.5 x 2048 the sketch counts its empty registers: exact at this size.
is($n1->{sessions}, 42, 'n1: its 40 sessions, and the two that moved to it from n2');
is($n2->{sessions}, 41, 'n2: its 40 sessions and the one of the first requests');
ok(!$n2->{drain_done}, 'an active worker is never done draining');
is($n1->{history}{sessions}[-1], 42, 'the current minute of the history says the same')
    or diag explain $n1->{history};
my $props = $t->get($front, '/admin?format=properties')->{body};
like($props, qr/^worker\.n1\.sessions_in_window=42$/m, 'properties: sessions_in_window');
like($props, qr/^worker\.n1\.drain_done=False$/m, 'properties: drain_done');
my $prom = $t->get($front, '/admin?format=prometheus')->{body};
like($prom, qr/^sticky_worker_sessions\{upstream="cluster",worker="n1"[^}]*\} 42$/m,
     'prometheus: sticky_worker_sessions') or diag $prom;

# --- a reload keeps them, by worker name ----------------------------------------------------

sub sum { my $s = 0; $s += $_ for @_; return $s }
my %requests_before = map { $_ => sum(@{worker($doc, 'cluster', $_)->{history}{requests}}) } qw(n1 n2);
ok($requests_before{n1} > 0 && $requests_before{n2} > 0, 'the history has the requests')
    or diag explain \%requests_before;

# The members reordered, and one more (n3, on n1's backend): records go by name.
$t->write_file('workers.properties', lb_properties('cluster', {},
    map { [$_ => { port => $port{$_ eq 'n3' ? 'n1' : $_} }] } qw(n2 n3 n1)));
ok($t->reload, 'reload: members reordered, n3 added');
$doc = status_json($t, $front, '/admin');
is(worker($doc, 'cluster', 'n1')->{sessions}, 42, "n1's sessions are kept across the reload");
is(worker($doc, 'cluster', 'n2')->{sessions}, 41, "n2's too, though it is first now");
is(worker($doc, 'cluster', 'n3')->{sessions}, 0, 'the new member starts with none');
is(sum(@{worker($doc, 'cluster', $_)->{history}{requests}}), $requests_before{$_},
   "${_}'s history is kept") for qw(n1 n2);

# Another window: the sketches start afresh (they measured another span),
# the history stays.
$t->write_conf($conf->('sessions_window=2m'));
ok($t->reload, 'reload: sessions_window=2m');
$doc = status_json($t, $front, '/admin');
is(worker($doc, 'cluster', 'n1')->{sessions_window_s}, 120, 'the new window');
is(worker($doc, 'cluster', 'n1')->{sessions}, 0, 'a new window counts from the reload on');
is(sum(@{worker($doc, 'cluster', 'n1')->{history}{requests}}), $requests_before{n1},
   'the history is kept');
ask('/', session_id('n1-1', 'n1'));
is(worker(status_json($t, $front, '/admin'), 'cluster', 'n1')->{sessions}, 1,
   'and counts again');

$t->finish;
done_testing;
