#!/usr/bin/perl
# Timers, probes and the process life cycle: a reload keeps a member's ERR
# and its recover timer (not restarted by the reload); a reload or a quit
# while a probe is in flight finishes at once (the probe is cut short,
# without a verdict, and the new processes probe again); a restart (stop +
# start) starts fresh.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use StickyTest qw(lb_properties session_id served_by upstream_addrs);
use FailTest qw(start_raw_backend transitions wait_for raw_requests);

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = (a => $t->start_backend('a'), b => $t->start_backend('b'),
            p => start_raw_backend($t, 'p'), q => $t->start_backend('q'));

$t->write_file('timer.properties', lb_properties('cluster', { recover_time => 3 },
    map { [$_ => { port => $port{$_} }] } qw(a b)));
$t->write_file('probe.properties', lb_properties('cluster', { recover_time => 1 },
    map { [$_ => { port => $port{$_} }] } qw(p q)));
$t->write_conf(<<"EOF");
    upstream timer { sticky_workers timer.properties; }
    upstream probe {
        sticky_workers probe.properties probe=/health probe_interval=200ms probe_timeout=30s;
    }
    server {
        listen 127.0.0.1:$front;
        add_header X-Upstream \$upstream_addr always;
        proxy_next_upstream error timeout;
        location /timer/ { proxy_pass http://timer; }
        location /probe/ { proxy_pass http://probe; }
    }
EOF
$t->run($front);
my $a_addr = "127.0.0.1:$port{a}";

# --- a reload keeps ERR and the time it started -------------------------------------

is(served_by(req('timer', 'a')), 'a', 'the session sticks to a');
$t->kill_backend('a');
my $r = req('timer', 'a');
my $failed_at = time;
is((upstream_addrs($r))[0], $a_addr, 'a is killed: its session tries it and fails over');
sleep 1;
is($t->reload, 1, 'reload, 1 s into the 3 s recover_time');
$t->start_backend('a');
my ($tried_early, $back) = (0, undef);
while (time - $failed_at < 8) {
    $r = req('timer', 'a');
    my $tried = grep { $_ eq $a_addr } upstream_addrs($r);
    $tried_early++ if $tried && time - $failed_at < 2.8;
    if (served_by($r) eq 'a') { $back = time - $failed_at; last }
    sleep 0.05;
}
is($tried_early, 0, 'after the reload a still rests: ERR was kept');
ok(defined $back && $back < 3 + 1.5,
   'a is back recover_time after its failure: the reload did not restart the timer')
    or diag sprintf 'back after %s s', $back // 'never';

# --- a reload with a probe in flight ---------------------------------------------------

$t->write_file('raw-p.hang', '');    # probes of p never get an answer (probe_timeout 30 s)
my $off = -s $t->error_log;
req('probe', 'p', '/close');         # p fails a request: ERR, then ERR/REC, then a probe
ok(wait_for(5, sub { grep { $_->{worker} eq 'p' && $_->{to} eq 'ERR/PRB' }
                          transitions($t, $off) }),
   'p is probed, and the probe hangs');
my $probes = () = grep { $_->[2] eq '/health' } raw_requests($t, 'p');
my $start = time;
is($t->reload, 1, 'reload with a probe in flight');
my $took = time - $start;
ok($took < 3, 'the old processes exit at once') or diag sprintf '%.2f s', $took;
ok(wait_for(3, sub { (() = grep { $_->[2] eq '/health' } raw_requests($t, 'p')) > $probes }),
   'the new processes probe p again: the old claim did not stick');

# --- quit with timers armed and a probe in flight ----------------------------------------

ok(wait_for(3, sub { grep { $_->[3] >= 1 && $_->[2] eq '/health' } raw_requests($t, 'p') }),
   'a probe is in flight');
$start = time;
ok($t->stop, 'quit');
$took = time - $start;
ok($took < 3, 'quit with a probe in flight and timers armed: done at once')
    or diag sprintf '%.2f s', $took;
unlike($t->read_file("logs/error.log"), qr/open socket/,
       'no socket left open');

# --- a restart starts fresh ----------------------------------------------------------------

$t->kill_backend('a');
$t->run($front);
$r = req('timer', 'a');
is((upstream_addrs($r))[0], $a_addr, 'after a restart the state is fresh: a is tried again');

$t->finish;
done_testing;

sub req {
    my ($upstream, $route, $path) = @_;
    return $t->get($front, "/$upstream" . ($path // '/page'),
                   Cookie => 'JSESSIONID=' . session_id("s-$upstream", $route));
}
