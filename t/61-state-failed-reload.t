#!/usr/bin/perl
# A reload that fails, at any step (the file, a shared zone, a listening
# socket), changes nothing in the running state, leaves nothing behind in
# the zone, and changes made on the status page after it survive the next
# good reload.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use StickyTest qw(lb_properties session_id served_by);
use StickyStatus qw(status_json worker admin);

my $t = StickyTest->new;
my $front = $t->port('front');
my @nodes = qw(t1 t2 t3 t4);
my %port = map { $_ => $t->start_backend($_) } @nodes;

sub file {
    $t->write_file('workers.properties', lb_properties('cluster', { recover_time => 60 },
        map { [$_ => { port => $port{$_} }] } @nodes));
}
my $server = <<"EOF";
    upstream tomcats { sticky_workers workers.properties; }
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://tomcats; }
        location /admin { sticky_status read_write; }
    }
EOF
file();
$t->write_conf($server);
$t->run($front);

sub w { worker(status_json($t, $front, '/admin'), 'tomcats', $_[0]) }
sub act { admin($t, $front, '/admin', upstream => 'tomcats', @_)->{status} }
sub snapshot {
    my $doc = status_json($t, $front, '/admin');
    return join ' ', map {
        my $w = worker($doc, 'tomcats', $_);
        "$_:$w->{activation}/$w->{state}/$w->{lbfactor}/$w->{errors}/$w->{requests}"
    } @nodes;
}

# The running state: t1 drained, t2 weighted, t3 in error, some traffic.
is(act(worker => 't1', activation => 'D'), 200, 'drain t1');
is(act(worker => 't2', lbfactor => 4), 200, 'lbfactor 4 for t2');
$t->kill_backend('t3');
my %who;
$who{served_by($t->get($front, "/n$_"))}++ for 1 .. 20;
ok(!$who{t1} && !grep({ /status/ } keys %who), 'served, t1 drained') or diag explain \%who;
is(w('t3')->{state}, 'ERR', 't3 is in error');
my $before = snapshot();

# --- failures at each step ------------------------------------------------------------

my $taken = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1,
                                  Proto => 'tcp', ReuseAddr => 1) or die "listen: $!";
my $bind_conflict = $server . "    server { listen 127.0.0.1:" . $taken->sockport
    . "; return 204; }\n";
# 200 servers in a 32 KB upstream zone: its initialisation fails after ours.
my $zone_overflow = $server . "    upstream small { zone small 32k;\n"
    . join('', map { "        server 127.0.0.1:" . (20000 + $_) . ";\n" } 1 .. 200)
    . "    }\n";

# Each with the last line nginx logs for it: a HUP sent before the master is
# done with the previous one would be taken for part of it.
my @failures = (
    ['the file' => sub {
        $t->write_file('workers.properties', "worker.list=cluster\nworker.cluster.type=lb\n");
     }, qr/invalid workers file/],
    ['a shared zone' => sub { file(); $t->write_conf($zone_overflow) },
     qr/no memory in upstream zone "small"/],
    ['a listening socket' => sub { file(); $t->write_conf($bind_conflict) },
     qr/still could not bind/],
);
for my $f (@failures) {
    my ($step, $break, $last_line) = @$f;
    $break->();
    for my $try (1 .. 3) {
        my $offset = -s $t->error_log;
        is($t->reload, 0, "a reload failing at $step is refused ($try)");
        ok($t->wait_for(10, sub { $t->log_since($offset) =~ $last_line }),
           '... with the reason in the log');
    }
    is(snapshot(), $before, "... and the running state is unchanged");
    is(served_by($t->get($front, '/', Cookie => 'JSESSIONID=' . session_id('s', 't2'))), 't2',
       '... sessions are served as before');
    $before = snapshot();   # that request counted
}

# --- changes after the failures survive the next good reload ------------------------------

file();
$t->write_conf($server);
is(act(worker => 't4', activation => 'D'), 200, 'drain t4 after the failed reloads');
is(act(worker => 't2', lbfactor => 5), 200, 'lbfactor 5 for t2');
is($t->reload, 1, 'a good reload');
is(w('t1')->{activation}, 'D', 'the drain made before the failures is kept');
is(w('t4')->{activation}, 'D', 'the drain made after them is kept');
is(w('t2')->{lbfactor}, 5, 'the lbfactor set after them is kept');
is(w('t3')->{state}, 'ERR', 't3 is still in error');
unlike($t->read_file('logs/error.log'), qr/no room for the state/,
       'nine failed reloads left nothing behind in the zone');

$t->finish(allow => qr/no memory in upstream zone "small"/);
done_testing;
