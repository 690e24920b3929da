#!/usr/bin/perl
# kill -9 one of three backends under a steady load of idempotent requests
# (proxy_next_upstream error timeout): no client request fails, each
# session of the dead member is served by one replacement while it is
# down, the other sessions do not move, and once restarted it serves new
# sessions again within recover_time + probe_interval + 1 s. The figures go
# to the test's output (and, measured longer by `make bench-failover`, to
# README.md).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties);
use FailTest qw(failover_scenario);

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } qw(t1 t2 t3);

$t->write_file('workers.properties', lb_properties('cluster', { recover_time => 2 },
    map { [$_ => { port => $port{$_} }] } qw(t1 t2 t3)));
$t->write_conf(<<"EOF");
    upstream tomcats {
        sticky_workers workers.properties probe=/ probe_interval=1s;
    }
    server {
        listen 127.0.0.1:$front;
        proxy_next_upstream error timeout;
        location /load/ { proxy_pass http://tomcats; }
    }
EOF
$t->run($front);

my $r = failover_scenario($t, front => $front, path => '/load', routes => [qw(t1 t2 t3)],
                          victim => 't1', clients => 4, seconds => 8,
                          kill_at => 1.5, restart_at => 4, recovery_limit => 12);
diag sprintf 'kill -9 under load: %d requests by 4 clients, %d failed; %d sessions of t1 '
    . 'moved, %d of them to more than one member; t1 back for new sessions %.2f s after '
    . 'its restart (recover_time=2, probe_interval=1)',
    @$r{qw(requests failed victim_sessions hopped)}, $r->{recovery} // -1;

ok($r->{requests} > 200, 'a steady load') or diag $r->{requests};
is($r->{failed}, 0, 'kill -9 under load: no client request failed');
ok($r->{victim_sessions} >= 10, "the dead member's sessions kept coming");
is($r->{hopped}, 0, 'while it is down, each of its sessions stays on one replacement');
is($r->{victim_served}, 0, 'and none is served by the dead member');
is($r->{moved}, 0, 'the other sessions never move');
ok(defined $r->{recovery} && $r->{recovery} <= 3 * (2 + 1 + 1),
   'restarted, it gets new sessions again (generous bound: 3 x (recover_time + probe_interval + 1 s))')
    or diag explain $r;

$t->finish;
done_testing;
