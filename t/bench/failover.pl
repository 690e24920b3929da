#!/usr/bin/perl
# make bench-failover: the failure and recovery figures of README.md, measured on a
# real nginx (2 worker processes) with three killable backends:
#
#   kill -9 one of three backends under a steady load of idempotent GETs
#   (16 clients, 3 of 4 requests in a session), start it again 10 to 14 s
#   later (four runs, so that the restart falls at every point of the
#   recover_time cycle);
#   how many client requests failed, whether the dead member's sessions
#   stayed on one replacement each, and how long after its restart the
#   member served new sessions again. recover_time=5 and worker.maintain=5,
#   as in the mod_jk 1.2.48 measurement the README compares with, once with
#   probe=/ probe_interval=1s and once the mod_jk way (a request probes).
#
#   STICKY_MODULE=build/ngx_http_sticky_workers_module.so perl -I t/lib t/bench/failover.pl

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use StickyTest qw(lb_properties);
use FailTest qw(failover_scenario);

my %mode = (
    'probe=/ probe_interval=1s' => 'probe=/ probe_interval=1s',
    'no probe= (a request probes)' => '',
);
my @rows;
for my $name (sort keys %mode) {
    for my $run (1 .. 4) {
        my $restart_at = 15 + ($run - 1) * 1.25;
        my $t = StickyTest->new;
        my $front = $t->port('front');
        my %port = map { $_ => $t->start_backend($_) } qw(t1 t2 t3);
        $t->write_file('workers.properties', lb_properties('cluster',
            { recover_time => 5, maintain => 5 },
            map { [$_ => { port => $port{$_} }] } qw(t1 t2 t3)));
        $t->write_conf(<<"EOF");
    upstream tomcats { sticky_workers workers.properties $mode{$name}; }
    server {
        listen 127.0.0.1:$front;
        proxy_next_upstream error timeout;
        location /load/ { proxy_pass http://tomcats; }
    }
EOF
        $t->run($front);
        my $r = failover_scenario($t, front => $front, path => '/load',
                                  routes => [qw(t1 t2 t3)], victim => 't1', clients => 16,
                                  seconds => $restart_at + 9, kill_at => 5,
                                  restart_at => $restart_at,
                                  recovery_limit => 120);
        $t->stop;
        push @rows, [$name, $r];
        printf "%-30s run %d: %6d requests, %d failed; %d sessions of t1 moved, %d hopped, "
            . "%d served by t1 while down; back %.2f s after its restart\n",
            $name, $run, @$r{qw(requests failed victim_sessions hopped victim_served)},
            $r->{recovery} // -1;
    }
}

print "\n";
for my $name (sort keys %mode) {
    my @r = map { $_->[1] } grep { $_->[0] eq $name } @rows;
    my %sum;
    for my $r (@r) { $sum{$_} += $r->{$_} for qw(requests failed hopped) }
    my @back = sort { $a <=> $b } map { $_->{recovery} // 999 } @r;
    printf "%-30s %d requests, %d failed, %d sessions hopped; back after %.1f to %.1f s\n",
        $name, @sum{qw(requests failed hopped)}, $back[0], $back[-1];
}
