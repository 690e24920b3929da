#!/usr/bin/perl
# Recovery: without probe= a member whose recover_time is over is tested by
# one real request (ERR/REC -> ERR/PRB -> OK), as in mod_jk; with probe=URI
# the maintenance timer tests it with an HTTP probe (one nginx process at a
# time) and users never get it before it passed; probe_fails takes a
# healthy member out before a user hits it; when nothing is usable, forced
# recovery (ERR/FRC) tries members once more; sticky_session_force answers
# 503 and leaves the session's member alone.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use StickyTest qw(lb_properties session_id header served_by upstream_addrs);
use FailTest qw(start_raw_backend transitions wait_for raw_requests);

my $t = StickyTest->new;
my $front = $t->port('front');
my %port;
$port{$_} = $t->start_backend($_) for qw(r1 r2 f1 f2 o2);
$port{$_} = start_raw_backend($t, $_) for qw(p1 p2 s1 h1 h2);
$port{o1} = $t->port('o1 is never there');

my %ups = (
    byreq   => [{ recover_time => 1 }, qw(r1 r2)],
    byprobe => [{ recover_time => 1 }, qw(p1 p2)],
    single  => [{ recover_time => 1 }, qw(s1)],
    health  => [{ recover_time => 1 }, qw(h1 h2)],
    forced  => [{ recover_time => 60 }, qw(f1 f2)],
    force   => [{ recover_time => 60, sticky_session_force => 'true' }, qw(o1 o2)],
);
my %params = (
    byprobe => 'probe=/health probe_interval=500ms',
    single  => 'probe=/health probe_interval=200ms probe_timeout=1s probe_fails=1',
    health  => 'probe=/health probe_interval=300ms probe_fails=2',
);
my $conf = '';
for my $name (sort keys %ups) {
    my ($lb, @members) = @{$ups{$name}};
    $t->write_file("$name.properties", lb_properties('cluster', $lb,
        map { [$_ => { port => $port{$_} }] } @members));
    $conf .= "    upstream $name { sticky_workers $name.properties "
        . ($params{$name} // '') . "; }\n";
}
$t->write_file('raw-s1.hang', '');    # s1 never answers its probes
$t->write_conf(<<"EOF");
$conf
    server {
        listen 127.0.0.1:$front;
        add_header X-Upstream \$upstream_addr always;
        proxy_next_upstream error timeout;
        proxy_connect_timeout 1s;
        proxy_read_timeout 2s;
        location / {
            proxy_pass http://\$ups;
        }
        set \$ups "none";
        if (\$uri ~ ^/(\\w+)/) { set \$ups \$1; }
    }
    upstream none { server 127.0.0.1:1; }
EOF
$t->run($front);

# --- recovery by request (no probe=), mod_jk's way ---------------------------------

my $off = -s $t->error_log;
is(served_by(req('byreq', 'r1')), 'r1', 'by request: the session of r1 sticks to r1');
$t->kill_backend('r1');
is(served_by(req('byreq', 'r1')), 'r2', 'by request: r1 is killed, its session fails over');
$t->start_backend('r1');
my $start = time;
my $took = wait_for(5, sub { served_by(req('byreq', 'r1')) eq 'r1' });
ok(defined $took, 'by request: the restarted r1 gets its session back')
    and diag sprintf 'by request: r1 back %.2f s after its restart (recover_time=1)', $took;
my @steps = steps('byreq', 'r1', $off);
# (ERR/REC when a tick sees the recover time over before a request does)
like(join(', ', @steps),
     qr/^ERR \(connect failed\), (ERR\/REC \(recover time passed\), )?ERR\/PRB \(a request tests it\), OK \(request succeeded\)$/,
     'by request: ERR -> (ERR/REC) -> ERR/PRB -> OK') or diag explain \@steps;

# --- recovery by probe (probe=/health) ---------------------------------------------

$off = -s $t->error_log;
$t->kill_backend('raw:p1');
my $r = req('byprobe', 'p1');
is(served_by($r), 'p2', 'by probe: p1 is killed, its session fails over');
my $killed_at = time;
sleep 2.5;    # recover_time twice over: p1 is probed, and fails
my %tried;
for (1 .. 10) {
    $tried{$_}++ for upstream_addrs(req('byprobe', 'p1'));
}
is_deeply([sort keys %tried], ["127.0.0.1:$port{p2}"],
          'by probe: users never get the recovering member');
my @probed = grep { $_->{cause} eq 'probe failed' } grep { $_->{worker} eq 'p1' }
    transitions($t, $off);
ok(@probed >= 1, 'by probe: failed probes restart its recover timer') or diag scalar @probed;

start_raw_backend($t, 'p1');
$start = time;
$took = wait_for(10, sub { grep { $_->{worker} eq 'p1' && $_->{to} eq 'OK' }
                                transitions($t, $off) });
ok(defined $took && $took < 3 * (1 + 0.5 + 1),
   'by probe: back within recover_time + probe_interval + 1 s (bound: 3 x that)')
    or diag sprintf 'took %s', $took // 'too long';
diag sprintf 'by probe: p1 back %.2f s after its restart (recover_time=1, probe_interval=0.5)',
    $took // -1;
my @seen = raw_requests($t, 'p1');
is($seen[-1][2], '/health', 'by probe: a probe, not a user, was its first request after the restart')
    if @seen;
is(served_by(req('byprobe', 'p1')), 'p1', 'by probe: then its session returns to p1');
@steps = steps('byprobe', 'p1', $off);
like(join(', ', @steps),
     qr/^ERR \(connect failed\), ERR\/REC \(recover time passed\), ERR\/PRB \(probe sent\), (.*, )?ERR\/PRB \(probe sent\), OK \(probe passed\)$/,
     'by probe: ERR -> ERR/REC -> ERR/PRB -> ... -> OK (probe passed)') or diag explain \@steps;

# --- one prober at a time across processes ------------------------------------------------

# s1 never answers /health (probe_timeout=1s); two worker processes tick.
sleep 5;
my @health = grep { $_->[2] eq '/health' } raw_requests($t, 's1');
my ($most) = sort { $b <=> $a } map { $_->[3] } @health;
ok(@health >= 2, 's1 is probed') or diag scalar @health;
is($most, 1, 'one prober: never two probes of s1 at once');
ok(@health <= 8, 'no probe storm: at most one probe in flight, then the recover timer')
    or diag scalar(@health) . ' probes';
@steps = steps('single', 's1', 0);
is($steps[0], 'ERR (probe_fails probes failed)', 'a probe that times out counts as failed');

# --- health probes take a member out before users hit it -----------------------------------

$off = -s $t->error_log;
is(served_by(req('health', 'h1')), 'h1', 'health: the session of h1 sticks to h1');
$t->write_file('raw-h1.down', '');    # /health answers 503, users are still served
$took = wait_for(3, sub { grep { $_->{worker} eq 'h1' && $_->{to} eq 'ERR' }
                               transitions($t, $off) });
ok(defined $took, 'health: two failed probes take h1 out')
    and diag sprintf 'health: h1 out %.2f s after its probe started failing', $took;
my $users_before = grep { $_->[2] ne '/health' } raw_requests($t, 'h1');
$r = req('health', 'h1');
is_deeply([upstream_addrs($r)], ["127.0.0.1:$port{h2}"],
          'health: its session goes to h2 without trying h1');
is(scalar(grep { $_->[2] ne '/health' } raw_requests($t, 'h1')), $users_before,
   'health: no user request reached h1');
unlink $t->dir . '/raw-h1.down';
$took = wait_for(4, sub { served_by(req('health', 'h1')) eq 'h1' });
ok(defined $took, 'health: h1 passes its probe and gets its session back');

# --- forced recovery -------------------------------------------------------------------------

$t->kill_backend($_) for qw(f1 f2);
$off = -s $t->error_log;
is(req('forced', 'f1')->{status}, 503, 'forced: both members dead: 503');
is(scalar(grep { $_->{to} eq 'ERR' } transitions($t, $off)), 2, 'forced: both are in ERR');
$t->start_backend('f1');
$off = -s $t->error_log;
$r = req('forced', 'f2');
is(served_by($r), 'f1', 'forced: nothing usable, forced recovery finds the restarted f1');
my @frc = map { $_->{worker} } grep { $_->{to} eq 'ERR/FRC' } transitions($t, $off);
is_deeply([sort @frc], [qw(f1 f2)], 'forced: both went through ERR/FRC (forced recovery)');
ok(upstream_addrs($r) <= 2, 'forced: each member tried at most once');
$off = -s $t->error_log;
is(served_by(req('forced', 'f2')), 'f1', 'forced: f1 serves the next request at once');
is(scalar(grep { $_->{to} eq 'ERR/FRC' } transitions($t, $off)), 0,
   'forced: no forced recovery while a member is usable');

# --- sticky_session_force leaves the member alone ------------------------------------------

$off = -s $t->error_log;
is(req('force', 'o1')->{status}, 503, 'force: the session of the dead o1 gets 503');
my $quiet = -s $t->error_log;
my ($status, $tries) = ('', 0);
for (1 .. 5) {
    $r = req('force', 'o1');
    $status .= "$r->{status} ";
    $tries += grep { /:\d+$/ } upstream_addrs($r);
}
is($status, '503 ' x 5, 'force: 503 every time');
is($tries, 0, 'force: and no member is tried');
is(scalar(grep { $_->{worker} eq 'o1' } transitions($t, $quiet)), 0,
   'force: o1 is left in ERR, no forced recovery');
is(served_by(req('force', undef)), 'o2', 'force: new sessions are served');

$t->finish;
done_testing;

# --- helpers -----------------------------------------------------------------------------------

sub req {
    my ($upstream, $route) = @_;
    return $t->get($front, "/$upstream/page",
                   defined $route ? (Cookie => 'JSESSIONID=' . session_id("s-$upstream", $route))
                                  : ());
}

# The transitions of $worker in $upstream after $offset: "STATE (cause)".
sub steps {
    my ($upstream, $worker, $offset) = @_;
    return map { "$_->{to} ($_->{cause})" }
        grep { $_->{upstream} eq $upstream && $_->{worker} eq $worker && $_->{to} ne 'OK/IDLE'
               && !($_->{from} eq 'OK/IDLE' && $_->{to} eq 'OK') }
        transitions($t, $offset);
}
