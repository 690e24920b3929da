#!/usr/bin/perl
# slow_start=TIME: a member back from an error gets a share of new sessions
# that grows linearly to its weight over TIME, instead of mod_jk's rule
# (its load value starts at the current maximum, here: its full share at
# once). The share is measured per second of new sessions after recovery.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use StickyTest qw(lb_properties served_by);
use FailTest qw(transitions wait_for);

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } qw(n1 n2 n3);

$t->write_file('workers.properties', lb_properties('cluster', { recover_time => 1 },
    map { [$_ => { port => $port{$_} }] } qw(n1 n2 n3)));
$t->write_conf(<<"EOF");
    upstream ramp {
        sticky_workers workers.properties probe=/health probe_interval=200ms slow_start=4s;
    }
    upstream plain {
        sticky_workers workers.properties probe=/health probe_interval=200ms;
    }
    server {
        listen 127.0.0.1:$front;
        proxy_next_upstream error timeout;
        location /ramp/  { proxy_pass http://ramp; }
        location /plain/ { proxy_pass http://plain; }
    }
EOF
$t->run($front);

my @ramp = shares('ramp', 5);
diag 'slow_start=4s: n1 share of new sessions per second after recovery: '
    . join(' ', map { sprintf '%.0f%%', 100 * $_ } @ramp);
ok($ramp[0] < 0.15, 'slow start: a small share in the first second') or diag $ramp[0];
ok($ramp[0] < $ramp[2] && $ramp[2] < $ramp[4], 'slow start: the share grows');
ok(abs($ramp[4] - 1 / 3) < 0.08, 'slow start: a third once the ramp is over') or diag $ramp[4];

my @plain = shares('plain', 2);
diag 'without slow_start: n1 share per second after recovery: '
    . join(' ', map { sprintf '%.0f%%', 100 * $_ } @plain);
ok($plain[0] > 0.2, 'without slow_start: its share at once (mod_jk)') or diag $plain[0];

$t->finish;
done_testing;

# n1 dies and comes back in $upstream; then new sessions for $seconds s:
# n1's share of them in each second after its recovery.
sub shares {
    my ($upstream, $seconds) = @_;
    my $offset = -s $t->error_log;
    $t->kill_backend('n1');
    my $down = sub { grep { $_->{upstream} eq $upstream && $_->{worker} eq 'n1'
                            && $_->{to} eq 'ERR' } transitions($t, $offset) };
    $t->get($front, "/$upstream/x") until $down->();
    $t->start_backend('n1');
    wait_for(5, sub { grep { $_->{upstream} eq $upstream && $_->{worker} eq 'n1'
                             && $_->{to} eq 'OK' } transitions($t, $offset) });
    my $t0 = time;
    my (@n1, @all);
    while ((my $s = int(time - $t0)) < $seconds) {
        my $who = served_by($t->get($front, "/$upstream/new"));
        $all[$s]++;
        $n1[$s]++ if $who eq 'n1';
    }
    return map { ($n1[$_] // 0) / ($all[$_] || 1) } 0 .. $seconds - 1;
}
