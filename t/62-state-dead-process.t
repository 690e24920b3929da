#!/usr/bin/perl
# What a worker process holds (requests in flight, OK/BUSY, a request probe)
# is its own: when it is killed mid-request (kill -9, a crash, the OOM
# killer), the others give it back within a tick or two. in_flight returns
# to the truth, a busy member leaves OK/BUSY, a drained member reaches idle.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties session_id served_by);
use StickyStatus qw(status_json worker admin);

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } qw(t2 t3);
$port{t1} = $t->start_hold_backend('t1');
$port{$_} = $t->start_hold_backend($_) for qw(s1 s2);

# New sessions go to t1 only, whose busy_limit is 1.
$t->write_file('workers.properties', lb_properties('cluster', {},
    [t1 => { port => $port{t1}, busy_limit => 1 }],
    map { [$_ => { port => $port{$_}, activation => 'D' }] } qw(t2 t3)));
$t->write_file('slow.properties', lb_properties('slowlb', {},
    map { [$_ => { port => $port{$_} }] } qw(s1 s2)));
$t->write_conf(<<"EOF");
    upstream tomcats { sticky_workers workers.properties; }
    upstream slow { sticky_workers slow.properties; }
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://tomcats; proxy_read_timeout 120s; }
        location /slow/ { proxy_pass http://slow; proxy_read_timeout 120s; }
        location /admin { sticky_status read_write; }
    }
EOF
$t->run($front);

sub doc { status_json($t, $front, '/admin') }
sub w { worker(doc(), $_[0], $_[1]) }
sub act { admin($t, $front, '/admin', upstream => 'tomcats', @_)->{status} }

# --- a busy member, drained, whose request's process dies ---------------------------------

my $held = $t->send_request($front, '/cart');
ok($t->wait_for(5, sub { $t->held('t1') == 1 }), 't1 holds a request');
is(w('tomcats', 't1')->{state}, 'OK/BUSY', 't1 reached its busy_limit');
is(act(worker => 't1', activation => 'D'), 200, 'drain t1');
is(act(worker => $_, activation => 'A'), 200, "activate $_") for qw(t2 t3);
ok(!w('tomcats', 't1')->{idle}, 'a drained t1 with a request in flight is not idle');

my ($owner) = $t->connections_to($port{t1});
ok($owner, "the worker process holding it is known ($owner)");
my $offset = -s $t->error_log;
kill 'KILL', $owner;
my $r = $t->answer($held, 10);
isnt($r->{status}, 200, 'the client of the killed process gets no answer');

my $t1;
ok($t->wait_for(5, sub { $t1 = w('tomcats', 't1'); $t1->{in_flight} == 0 }),
   'in_flight of t1 is back to 0') or diag explain $t1;
is($t1->{state}, 'OK', 't1 is no longer busy');
ok($t1->{idle}, 'the drained t1 is idle: a deploy may go on');
like($t->log_since($offset), qr/worker process $owner is gone, what it held is released/,
     'the release is logged');
like($t->log_since($offset), qr{worker "t1" is now OK \(below busy_limit, was OK/BUSY\)},
     'the transition is logged');

# --- under load: requests held in both processes, one process killed ----------------------

my @clients = map { $t->send_request($front, "/slow/$_") } 1 .. 12;
ok($t->wait_for(5, sub { $t->held('s1') + $t->held('s2') == 12 }), '12 requests in flight');
my %by_pid;
$by_pid{$_}++ for map { $t->connections_to($port{$_}) } qw(s1 s2);
my ($victim) = sort { $by_pid{$b} <=> $by_pid{$a} } keys %by_pid;
ok($victim, "a worker process holds $by_pid{$victim} of them");
kill 'KILL', $victim;

# The truth: connections of the surviving processes.
sub truth { my $m = shift; scalar(() = $t->connections_to($port{$m})) }
ok($t->wait_for(5, sub {
       my $d = doc();
       !grep { worker($d, 'slow', $_)->{in_flight} != truth($_) } qw(s1 s2);
   }), 'in_flight equals the requests really in flight')
    or diag explain { map { $_ => [worker(doc(), 'slow', $_)->{in_flight}, truth($_)] } qw(s1 s2) };

# --- both processes killed at once: the new ones have room and clean up --------------------

$offset = -s $t->error_log;
my @pids = $t->worker_pids;
kill 'KILL', @pids;
ok($t->wait_for(5, sub { my @now = $t->worker_pids; @now == 2 && !grep { my $p = $_; grep { $_ == $p } @pids } @now }),
   'the master starts two new worker processes');
ok($t->wait_for(5, sub {
       my $d = doc();
       !grep { worker($d, 'slow', $_)->{in_flight} != 0 } qw(s1 s2);
   }), 'in_flight of every member is back to 0');
unlike($t->log_since($offset), qr/no process slot/, 'every new process had a slot');
close $_ for @clients;

is(served_by($t->get($front, '/', Cookie => 'JSESSIONID=' . session_id('x', 't2'))), 't2',
   'requests are served');

$t->finish(allow => qr/exited on signal 9/);
done_testing;
