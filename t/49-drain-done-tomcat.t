#!/usr/bin/perl
# When is a drained node really done? End to end on the real Tomcat cluster
# (three Tomcat 10 nodes, t/tomcat/cluster.sh, the cart app), nginx in
# front with `sticky_workers ... sessions_window=1m`:
#
#   1. new carts of 3 books each are made until 50 are on tomcat2 (its
#      lbfactor is 3: it gets most of them); the status page counts 50
#      sessions on it;
#   2. tomcat2 is drained through the status API (activation=D);
#   3. its 50 carts keep shopping for ~20 s, a book a round each: every
#      answer 200 from tomcat2, each cart complete; the page counts ~50
#      sessions (48..52: an estimate), says "sessions left" in JSON,
#      Prometheus, properties and HTML; new carts never land on tomcat2;
#   4. the carts stop. drain_done stays false in every read until the last
#      cart's last request has left the window, and turns true at the
#      minute boundary the module's clock says, never before: buckets are
#      minutes of nginx's monotonic clock (CLOCK_MONOTONIC, which this test
#      reads too), and a session seen in minute m counts until the end of
#      minute m + 1 (the window), i.e. 60 to 120 s after its last request.
#      New carts keep coming and avoid tomcat2 all the while;
#   5. at the end JSON (sessions 0, drain_done true), Prometheus, properties
#      and the page (badge "done") agree.
#
# It takes 2 to 3 minutes on purpose: 20 s of shopping, then 60..120 s
# (by the minute boundaries) for the last session to leave the 1-minute
# window, plus the cluster's start. Times are measured, not slept: every
# read of the status records when it was sent and answered (on the
# monotonic clock), and the assertions are on those times.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(floor);
use Test::More;
use Time::HiRes qw(sleep clock_gettime CLOCK_MONOTONIC);
use JSON::PP ();
use StickyTest;
use StickyStatus qw(status_json worker admin);
use TomcatTest qw(front_conf cluster_nodes lb_worker);

my $DRAINED = 'tomcat2';
my $CARTS = 50;
my $WINDOW_MIN = 1;            # sessions_window=1m
my $WINDOW = 60 * $WINDOW_MIN;  # ... in seconds
my $SHOP = 20;                 # seconds the carts keep shopping after the drain
my $ROUND = 4;                 # a round of the carts starts every 4 s at most
my $DONE_BY = 2 * $WINDOW + 5; # done at the latest this long after the last request
my ($LOW, $HIGH) = (48, 52);   # 50 sessions, as the sketch estimates them

# nginx's clock: $ngx_current_msec is CLOCK_MONOTONIC in ms, cached when
# nginx wakes up for a request, so it lies between our send and our answer.
sub mono { clock_gettime(CLOCK_MONOTONIC) }
# The time a session seen at monotonic $m leaves the window: the end of
# minute-bucket(m) + W.
sub leaves_window { my ($m) = @_; return (floor($m / 60) + 1 + $WINDOW_MIN) * 60 }

my $T0 = mono();
my $t = StickyTest->new;
my $front = $t->port('front');

# --- the cluster and nginx ---------------------------------------------------------------

my $cluster = TomcatTest::Cluster->start($t->dir . '/cluster', nodes => 3, manager => 'backup');
my @nodes = cluster_nodes($cluster);
my @others = grep { $_ ne $DRAINED } @nodes;

my $workers = $cluster->workers;
lb_worker($workers, 'cluster.sh workers');
$workers =~ s/^(worker\.\Q$DRAINED\E\.lbfactor)=1$/$1=3/m
    or die "no worker.$DRAINED.lbfactor=1 in:\n$workers";
$t->write_file('workers.properties', $workers);
my $conf = front_conf($front, <<'EOF');
        location = /sticky-status {
            sticky_status read_write;
        }
EOF
$conf =~ s{sticky_workers workers\.properties;}
          {sticky_workers workers.properties sessions_window=${WINDOW_MIN}m;}
    or die "front_conf has no sticky_workers line:\n$conf";
$t->write_conf($conf);
$t->run($front);

# One read of the JSON status: $DRAINED's row, with the monotonic times the
# read was sent (m0) and answered (m1).
sub poll {
    my $m0 = mono();
    my $w = worker(status_json($t, $front, '/sticky-status'), 'tomcats', $DRAINED);
    my $m1 = mono();
    return { m0 => $m0, m1 => $m1, missing => 1 } unless $w;
    return { m0 => $m0, m1 => $m1, activation => $w->{activation}, sessions => $w->{sessions},
             window => $w->{sessions_window_s}, in_flight => $w->{in_flight},
             done => $w->{drain_done} ? 1 : 0, done_raw => $w->{drain_done} };
}

# What reads @$polls said, one line per run of equal answers, with times
# relative to $from.
sub trace {
    my ($polls, $from) = @_;
    my @runs;
    for my $p (@$polls) {
        my $said = $p->{missing} ? 'no such worker in the JSON'
            : sprintf 'activation %s sessions %s in_flight %s drain_done %s',
                map { $_ // 'undef' } @$p{qw(activation sessions in_flight done)};
        if (@runs && $runs[-1]{said} eq $said) { $runs[-1]{to} = $p->{m1}; $runs[-1]{n}++ }
        else { push @runs, { said => $said, from => $p->{m0}, to => $p->{m1}, n => 1 } }
    }
    return join "\n", map { sprintf '%+.1f..%+.1f s (%d reads): %s', $_->{from} - $from,
                                     $_->{to} - $from, $_->{n}, $_->{said} } @runs;
}

# The other formats, for $DRAINED.
sub prometheus {
    my ($family, $who) = @_;
    my $body = $t->get($front, '/sticky-status?format=prometheus')->{body};
    my ($v) = $body =~ /^\Q$family\E\{upstream="tomcats",worker="\Q$who\E"\} (\S+)$/m;
    return $v // 'none';
}
sub properties {
    my $body = $t->get($front, '/sticky-status?format=properties')->{body};
    return { map { /^([^=#\s]+)=(.*)$/ ? ($1 => $2) : () } split /\n/, $body };
}
# $DRAINED's row of the page: (its activation cell, its sessions cell).
sub page_row {
    my $html = $t->get($front, '/sticky-status')->{body};
    my ($row) = $html =~ m{(<tr data-worker="\Q$DRAINED\E"[^>]*>.*?</tr>)}s or return ('', '');
    my ($act) = $row =~ m{<td data-label="activation"[^>]*>(.*?)</td>}s;
    my ($ses) = $row =~ m{<td data-label="sessions"[^>]*>(.*?)</td>}s;
    return ($act // '', $ses // '');
}

# One request of a cart, with the monotonic times around it.
sub timed {
    my ($code) = @_;
    my $m0 = mono();
    my $r = $code->();
    @$r{qw(m0 m1)} = ($m0, mono());
    return $r;
}

# New carts, made while $DRAINED drains: add a book, read the cart. Each
# must be answered 200 by one node, never $DRAINED.
my (%new_spread, @new_bad, $new_n);
sub new_cart {
    my $c = TomcatTest::Client->new($t, $front, 'new cart ' . ++$new_n);
    my $a = $c->add("Book of new cart $new_n");
    my $j = $c->cart;
    $new_spread{$a->{node} || "status $a->{status}"}++;
    push @new_bad, "new cart $new_n: " . TomcatTest::Client::describe($a) . ' / '
        . TomcatTest::Client::describe($j)
        unless $a->{status} == 200 && $j->{status} == 200 && $a->{node} ne $DRAINED
            && $j->{node} eq $a->{node} && ref $j->{books} && @{$j->{books}} == 1;
}

# --- 1. 50 carts on tomcat2 ----------------------------------------------------------------

my (@carts, %spread, @make_bad);
my $made = 0;
my $made_t0 = mono();
while (@carts < $CARTS && $made < 400) {
    my $c = TomcatTest::Client->new($t, $front, 'cart ' . ++$made);
    my (@books, %where);
    for my $k (1 .. 3) {
        push @books, "Book $k of cart $made";
        my $a = $c->add($books[-1]);
        $where{$a->{node} || "status $a->{status}"}++;
        push @make_bad, "cart $made: " . TomcatTest::Client::describe($a)
            unless $a->{status} == 200 && $a->{worker} eq $a->{node}
                && ref $a->{books} && "@{$a->{books}}" eq "@books";
    }
    my ($home, @more) = keys %where;
    push @make_bad, "cart $made on " . join(', ', sort keys %where) if @more;
    $spread{$home}++;
    next unless $home eq $DRAINED;    # carts elsewhere are left alone
    push @make_bad, "cart $made: session " . ($c->session // '-') . " is not of $DRAINED"
        unless ($c->session // '') =~ /^[0-9A-F]{32}\.\Q$DRAINED\E$/;
    push @carts, { client => $c, books => \@books, sid => $c->session, n => $made };
}
is(scalar @carts, $CARTS, "$CARTS carts on $DRAINED, of $made new carts ("
   . join(', ', map { "$_ $spread{$_}" } sort keys %spread) . ')');
is_deeply(\@make_bad, [], "each cart got its 3 books from one node, every answer 200");
ok(!grep({ ($spread{$_} // 0) >= $CARTS } @others), "lbfactor 3: most new carts went to $DRAINED")
    or diag explain \%spread;
note sprintf '%d carts made in %.1f s', $made, mono() - $made_t0;

# A round of the carts: $what->($cart) is one request; each answer must be
# 200 from $DRAINED, in the cart's session, with all its books. Returns the
# answer of the round's last request.
my (@shop_bad, $requests);
sub round {
    my ($label, $what) = @_;
    my $last;
    for my $cart (@carts) {
        my $r = timed(sub { $what->($cart) });
        $requests++;
        push @shop_bad, "$label, cart $cart->{n}: " . TomcatTest::Client::describe($r)
            unless $r->{status} == 200 && $r->{node} eq $DRAINED && $r->{worker} eq $DRAINED
                && $r->{session} eq $cart->{sid} && ($cart->{client}->session // '') eq $cart->{sid}
                && ref $r->{books} && "@{$r->{books}}" eq "@{$cart->{books}}";
        $last = $r;
    }
    return $last;
}

round('before the drain', sub { $_[0]{client}->cart });
is_deeply(\@shop_bad, [], "every cart reads its 3 books from $DRAINED");
my $p = poll();
is($p->{activation}, 'A', "status: $DRAINED is active before the drain");
cmp_ok($p->{sessions} // -1, '>=', $LOW, "status: $DRAINED counts $p->{sessions} sessions (>= $LOW)");
cmp_ok($p->{sessions} // 1e9, '<=', $HIGH, "... (<= $HIGH)");
is($p->{window}, $WINDOW, "status: sessions_window_s is $WINDOW");
is($p->{done_raw}, JSON::PP::false, 'status: drain_done is false (active)');

# --- 2. drain tomcat2 ------------------------------------------------------------------------

my $r = admin($t, $front, '/sticky-status', upstream => 'tomcats', worker => $DRAINED,
              activation => 'D');
my $drain_at = mono();
is($r->{status}, 200, "drain $DRAINED: POST activation=D answered 200");
like($r->{body}, qr{activation A -> D}, '... saying A -> D') or diag $r->{body};
$p = poll();
is($p->{activation}, 'D', "status: $DRAINED shows activation D");
is($p->{done}, 0, 'status: drain_done false right after the drain') or diag trace([$p], $drain_at);

# --- 3. its carts keep shopping for 20 s; new carts avoid it ----------------------------------

my (@shop_polls, $round, $page_while, $prom_while, $prop_while);
my $shop_requests_before = $requests;
for ($round = 1; $round <= 3 || mono() < $drain_at + $SHOP; $round++) {
    my $start = mono();
    round("round $round", sub {
        my ($cart) = @_;
        push @{$cart->{books}}, "Book of round $round while $DRAINED drains";
        return $cart->{client}->add($cart->{books}[-1]);
    });
    new_cart();
    # Read the page until the next round is due (at least once).
    do { push @shop_polls, poll(); sleep 0.5 } while mono() < $start + $ROUND;
    if ($round == 2) {    # the other formats, once, while the carts shop
        $page_while = [page_row()];
        $prom_while = [map { prometheus($_, $DRAINED) } qw(sticky_worker_drain_done sticky_worker_sessions)];
        $prop_while = properties();
    }
}
# The last round reads every cart: complete. Its last request is the last
# one $DRAINED sees.
my $last = round('final read', sub { $_[0]{client}->cart });
my $shopped = mono() - $drain_at;
my $per_cart = ($requests - $shop_requests_before) / $CARTS;
is_deeply(\@shop_bad, [], sprintf('drained: its %d carts shopped %.0f s (%d requests each), every answer '
          . "200 from $DRAINED in the cart's session, every cart complete", $CARTS, $shopped, $per_cart))
    or diag join "\n", @shop_bad[0 .. ($#shop_bad < 9 ? $#shop_bad : 9)];
cmp_ok($per_cart, '>=', 4, 'drained: several requests per cart');

my @sessions = map { $_->{sessions} // -1 } @shop_polls;
my ($min, $max) = (sort { $a <=> $b } @sessions)[0, -1];
ok($min >= $LOW && $max <= $HIGH, sprintf('while they shop: %d reads of the status count %d..%d '
   . "sessions on $DRAINED (%d..%d)", scalar @shop_polls, $min, $max, $LOW, $HIGH))
    or diag trace(\@shop_polls, $drain_at);
is(scalar(grep { $_->{done} || ($_->{activation} // '') ne 'D' } @shop_polls), 0,
   'while they shop: every read says activation D, drain_done false')
    or diag trace(\@shop_polls, $drain_at);
like($page_while->[0], qr{<span class="badge busy">sessions left</span>},
     "while they shop: the page marks $DRAINED 'sessions left'") or diag $page_while->[0];
like($page_while->[1], qr/^\s*(\d+)\s*$/, '... and shows its sessions') or diag $page_while->[1];
my ($page_n) = $page_while->[1] =~ /(\d+)/;
ok(defined $page_n && $page_n >= $LOW && $page_n <= $HIGH, "... $LOW..$HIGH of them")
    or diag $page_while->[1];
is($prom_while->[0], 0, 'while they shop: Prometheus sticky_worker_drain_done 0');
ok($prom_while->[1] =~ /^\d+$/ && $prom_while->[1] >= $LOW && $prom_while->[1] <= $HIGH,
   "... sticky_worker_sessions $LOW..$HIGH") or diag "got $prom_while->[1]";
is($prop_while->{"worker.$DRAINED.drain_done"}, 'False', 'while they shop: properties drain_done=False');
is($prop_while->{"worker.$DRAINED.sessions_window"}, $WINDOW, "... sessions_window=$WINDOW");

# --- 4. the carts stop: done exactly when the last session leaves the window ------------------

my ($l0, $l1) = @$last{qw(m0 m1)};
# nginx saw the last request at some time in [l0, l1]; it leaves the window
# at the end of its minute + 1: $early when seen at l0, $late at l1 (the
# same unless the request straddled a minute).
my ($early, $late) = (leaves_window($l0), leaves_window($l1));
note sprintf 'last cart request at %+.1f s after the drain; its session leaves the window '
    . '%.1f s after it (the end of the next monotonic minute)', $l1 - $drain_at, $late - $l1;

my (@wait, $first_done);
my $next_cart = mono();
while (mono() < $l1 + $DONE_BY) {
    my $q = poll();
    push @wait, $q;
    $first_done //= $q if $q->{done};
    last if $first_done && $q->{m0} > $first_done->{m0} + 3;    # and it stays done
    if (mono() >= $next_cart) { new_cart(); $next_cart += 5 }
    sleep 0.5;
}
my $trace = sub { 'reads after the last cart request:' . "\n" . trace(\@wait, $l1) };

ok($first_done, sprintf('drain_done turns true %.1f s after the last cart request (by %d s)',
   ($first_done ? $first_done->{m1} : mono()) - $l1, $DONE_BY)) or diag $trace->();
my @too_early = grep { $_->{done} && $_->{m1} < $l0 + $WINDOW } @wait;
is(scalar @too_early, 0, "drain_done is never true within $WINDOW s of the last cart request")
    or diag $trace->();
my @before_edge = grep { $_->{done} && $_->{m1} < $early } @wait;
is(scalar @before_edge, 0, sprintf('... nor before the minute boundary when the session leaves '
   . 'the window (%.1f s after it)', $early - $l0)) or diag $trace->();
my @late = grep { !$_->{done} && $_->{m0} >= $late } @wait;
is(scalar @late, 0, 'every read sent after that boundary says done') or diag $trace->();
my $reads_false = grep { !$_->{done} } @wait;
cmp_ok($reads_false, '>=', $WINDOW / 2, "drain_done was false in all $reads_false reads before it");
my $gap = 0;
for my $i (1 .. $#wait) {
    my $g = $wait[$i]{m0} - $wait[$i - 1]{m0};
    $gap = $g if $g > $gap;
}
cmp_ok($gap, '<', 5, sprintf('... read without a pause (the longest: %.1f s), from the last '
       . 'request to done', $gap));
is(scalar(grep { $_->{done} != (($_->{sessions} // -1) == 0 && ($_->{in_flight} // -1) == 0) } @wait),
   0, 'in every read drain_done is exactly "no session in the window, nothing in flight"')
    or diag $trace->();
is(scalar(grep { ($_->{sessions} // 0) > $HIGH || ($_->{activation} // '') ne 'D'
                 || ($_->{window} // 0) != $WINDOW } @wait), 0,
   "while waiting: activation D, never more than $HIGH sessions, window $WINDOW s")
    or diag $trace->();
is(scalar(grep { !$_->{done} && $first_done && $_->{m0} > $first_done->{m1} } @wait), 0,
   'once done, it stays done') or diag $trace->();

# --- new carts never reached it ----------------------------------------------------------------

is_deeply(\@new_bad, [], "$new_n new carts during the drain: answered 200, none by $DRAINED")
    or diag join "\n", @new_bad;
ok(!grep({ !$new_spread{$_} } @others), 'the new carts went to ' . join(' and ', @others))
    or diag explain \%new_spread;

# --- 5. every format agrees: done ---------------------------------------------------------------

$p = poll();
is($p->{sessions}, 0, "JSON: $DRAINED sessions 0");
is($p->{done_raw}, JSON::PP::true, 'JSON: drain_done true');
is($p->{in_flight}, 0, 'JSON: nothing in flight');
is(prometheus('sticky_worker_drain_done', $DRAINED), 1, 'Prometheus: sticky_worker_drain_done 1');
is(prometheus('sticky_worker_sessions', $DRAINED), 0, 'Prometheus: sticky_worker_sessions 0');
is(join(' ', map { prometheus('sticky_worker_drain_done', $_) } @others), '0 0',
   'Prometheus: the active nodes are not done');
my $prop = properties();
is($prop->{"worker.$DRAINED.drain_done"}, 'True', 'properties: drain_done=True');
is($prop->{"worker.$DRAINED.sessions_in_window"}, 0, 'properties: sessions_in_window=0');
is($prop->{"worker.$DRAINED.sessions_window"}, $WINDOW, "properties: sessions_window=$WINDOW");
is(join(' ', map { $prop->{"worker.$_.drain_done"} // 'none' } @others), 'False False',
   'properties: the active nodes are not done');
my ($act, $ses) = page_row();
like($act, qr{<span class="badge idle">done</span>}, "the page: $DRAINED has the badge 'done'")
    or diag $act;
unlike($act, qr{sessions left}, '... and no longer "sessions left"');
like($ses, qr/^\s*0\s*$/, '... and 0 sessions') or diag $ses;

# --- the end -----------------------------------------------------------------------------------

$t->finish;
my @left = $cluster->stop;
is_deeply(\@left, [], 'cluster.sh stop leaves no Tomcat running');
note sprintf 'the whole test took %.1f s', mono() - $T0;
done_testing;
