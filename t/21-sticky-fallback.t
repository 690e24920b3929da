#!/usr/bin/perl
# Where a session goes when its route names no member or its member is not
# usable: a route that is a domain goes to a member of that domain; a down
# (killed or Stopped) sticky member sends its sessions to its `redirect`
# (a ROUTE, used even when that member is Disabled: hot standby), else to a
# member of its domain; with sticky_session_force the module answers 503
# instead, without trying any member; without force the request fails over.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties session_id header served_by upstream_addrs
                  route_changed only);

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) }
    qw(d1.w1 d1.w2 d2.w3 w4 w5 w6 r1 r2 r3 r4 f1 f2 f3);

# Domains: d1 and d2 derived from dotted routes, d3 given with domain=.
$t->write_file('dom.properties', lb_properties('dom', {},
    [w1 => { route => 'd1.w1', port => $port{'d1.w1'} }],
    [w2 => { route => 'd1.w2', port => $port{'d1.w2'} }],
    [w3 => { route => 'd2.w3', port => $port{'d2.w3'} }],
    [w4 => { domain => 'd3', port => $port{w4} }],
    [w5 => { domain => 'd3', port => $port{w5} }],
    [w6 => { domain => 'd3', port => $port{w6}, activation => 'S' }]));

# Redirects name routes, not workers: the worker *named* r2 has the route
# r3, so a redirect looked up by name would land on backend r3, not r2.
$t->write_file('red.properties', lb_properties('red', {},
    [n1 => { route => 'r1', redirect => 'r2', port => $port{r1} }],
    [n2 => { route => 'r2', activation => 'D', port => $port{r2} }],
    [r2 => { route => 'r3', port => $port{r3} }],
    [n4 => { route => 'r4', redirect => 'r2', activation => 'S', port => $port{r4} }]));

for my $force (qw(true false)) {
    $t->write_file("force-$force.properties", lb_properties('cluster',
        { sticky_session_force => $force },
        [f1 => { port => $port{f1} }],
        [f2 => { port => $port{f2} }],
        [f3 => { port => $port{f3}, activation => 'S' }]));
}

$t->write_conf(<<"EOF");
    upstream dom     { sticky_workers dom.properties; }
    upstream red     { sticky_workers red.properties; }
    upstream force   { sticky_workers force-true.properties; }
    upstream noforce { sticky_workers force-false.properties; }
    server {
        listen 127.0.0.1:$front;
        add_header X-Worker \$sticky_worker always;
        add_header X-Session-Route \$sticky_session_route always;
        add_header X-Route-Changed \$sticky_route_changed always;
        add_header X-Upstream \$upstream_addr always;
        location /dom/     { proxy_pass http://dom; }
        location /red/     { proxy_pass http://red; }
        location /force/   { proxy_pass http://force; }
        location /noforce/ { proxy_pass http://noforce; }
    }
EOF
$t->run($front);

# --- domains -------------------------------------------------------------------

is(spread('dom', 10, 'X.d1.w1'), 'd1.w1 10', 'X.d1.w1 sticks to the member with route d1.w1');
is(spread('dom', 10, 'X.d2.w3'), 'd2.w3 10', 'X.d2.w3 sticks to the member with route d2.w3');
is(spread('dom', 10, 'X.w4'), 'w4 10', 'X.w4 sticks to w4 (route = name)');
is(spread('dom', 10, 'X.d2'), 'd2.w3 10', 'X.d2 (a domain) goes to the only member of d2');

my $who = spread_ids('dom', 20, 'd1');
ok(only($who, qw(d1.w1 d1.w2)), 'ID.d1 goes to a member of domain d1')
    or diag explain $who;
ok($who->{'d1.w1'} && $who->{'d1.w2'}, 'sessions of domain d1 use both of its members')
    or diag explain $who;
is(header(req('dom', 'JSESSIONID=' . session_id('r', 'd1')), 'X-Session-Route'), 'd1',
   '$sticky_session_route is the domain d1');

$who = spread_ids('dom', 20, 'd3');
ok(only($who, qw(w4 w5)), 'ID.d3 goes to a member of domain d3 (domain=d3)')
    or diag explain $who;
ok($who->{w4} && $who->{w5}, 'sessions of domain d3 use both active members')
    or diag explain $who;

# w6 is Stopped, has no redirect, and is in domain d3.
$who = spread_ids('dom', 20, 'w6', 2);
ok(only($who, qw(w4 w5)), "a stopped member's sessions go to a member of its domain")
    or diag explain $who;

# A killed member without redirect: its sessions go to its domain.
$t->kill_backend('d1.w1');
my $changed = 0;
my %seen;
for my $i (1 .. 10) {
    my $r = req('dom', 'JSESSIONID=' . session_id('dead-d1', 'd1.w1'));
    $seen{served_by($r)}++;
    $changed++ if route_changed($r);
}
is_deeply(\%seen, { 'd1.w2' => 10 },
          "a killed member's session goes to the other member of its domain")
    or diag explain \%seen;
is($changed, 10, '$sticky_route_changed is 1 for them');
$who = spread_ids('dom', 20, 'd1.w1');
is_deeply($who, { 'd1.w2' => 40 }, "every session of the killed member goes to its domain")
    or diag explain $who;

# --- redirect ----------------------------------------------------------------------

$who = spread_new('red', 30);
ok(only($who, qw(r1 r3)), 'new sessions avoid the disabled and the stopped member')
    or diag explain $who;
ok($who->{r1} && $who->{r3}, 'new sessions use both active members') or diag explain $who;
is(spread('red', 5, 'X.r1'), 'r1 5', 'X.r1 sticks to r1 while it is up');
is(spread('red', 5, 'X.r2'), 'r2 5', 'a disabled member still takes its own sessions');

my $r = req('red', 'JSESSIONID=X.r4');
is(served_by($r), 'r2', 'a stopped member with redirect=r2 sends its session to route r2');
is(header($r, 'X-Worker'), 'n2', '... which is the worker n2 (not the worker named r2)');
ok(route_changed($r), '... and $sticky_route_changed is 1');
is(spread('red', 10, 'X.r4'), 'r2 10', "every request of the stopped member's session goes to r2");

$t->kill_backend('r1');
$r = req('red', 'JSESSIONID=X.r1');
is(served_by($r), 'r2', 'a killed member with redirect=r2 sends its session to the disabled r2');
ok(route_changed($r), '... and $sticky_route_changed is 1');
is(spread('red', 10, 'X.r1'), 'r2 10', "every request of the killed member's session goes to r2");
$who = spread_ids('red', 10, 'r1');
is_deeply($who, { r2 => 20 }, "every session of the killed member goes to its redirect")
    or diag explain $who;
is(spread_new('red', 20)->{r3}, 20,
   'new sessions still go to the active member, not to the hot standby');

# --- sticky_session_force ------------------------------------------------------------

is(spread('force', 5, 'X.f1'), 'f1 5', 'force: X.f1 sticks to f1 while it is up');
is(spread('noforce', 5, 'X.f1'), 'f1 5', 'no force: X.f1 sticks to f1 while it is up');

refused('force', 'X.f3', 'force: a session of a stopped member');
$who = spread('noforce', 5, 'X.f3');
like($who, qr/^f[12] 5$/, 'no force: a session of a stopped member fails over, to one member');

$t->kill_backend('f1');
$r = req('force', 'JSESSIONID=X.f1');
ok($r->{status} == 503 || $r->{status} == 502,
   'force: the first request after f1 died fails (nothing else is tried)')
    or diag "status $r->{status}";
is(header($r, 'X-Backend'), '', '... and no other member answered it');
ok(!grep({ /:$port{f2}$/ } upstream_addrs($r)), '... nor was sent to one')
    or diag header($r, 'X-Upstream');
refused('force', 'X.f1', 'force: a session of the dead member f1');
is(spread('force', 5, 'X.f2'), 'f2 5', 'force: other sessions are served');
is(spread_new('force', 5)->{f2}, 5, 'force: new sessions are served by f2');

$r = req('noforce', 'JSESSIONID=X.f1');
is(served_by($r), 'f2', 'no force: a session of the dead member fails over to f2');
ok(route_changed($r), '... and $sticky_route_changed is 1');
is(spread('noforce', 5, 'X.f1'), 'f2 5', 'no force: every request of it is served by f2');

$t->finish;
done_testing;

# --- helpers --------------------------------------------------------------------------

sub req { $t->upstream_get($front, @_) }

sub spread { my ($up, $n, $id) = @_; $t->sticky_spread($front, $up, $id, $n) }

# $n distinct sessions ID.$route, each sent $repeat (2) times; returns
# { who => requests }. A session answered by two members is counted as
# "split" (the replacement of a session must not change between requests).
sub spread_ids {
    my ($upstream, $n, $route, $repeat) = @_;
    $repeat //= 2;
    my %who;
    for my $i (1 .. $n) {
        my $id = session_id("$upstream $route $i", $route);
        my %one;
        $one{served_by(req($upstream, "JSESSIONID=$id"))}++ for 1 .. $repeat;
        if (keys %one == 1) { $who{$_} += $one{$_} for keys %one }
        else                { $who{split}++ }
    }
    return \%who;
}

sub spread_new { $t->new_sessions($front, @_) }

# With sticky_session_force, a session whose member is down gets 503 from the
# module, without trying any member: no backend answers, $upstream_addr
# names no address (nginx may put the upstream's name there).
sub refused {
    my ($upstream, $id, $what) = @_;
    my (%status, @tried, %backend);
    for (1 .. 5) {
        my $r = req($upstream, "JSESSIONID=$id");
        $status{$r->{status}}++;
        push @tried, grep { /:\d+$/ } upstream_addrs($r);
        $backend{header($r, 'X-Backend')}++ if header($r, 'X-Backend') ne '';
    }
    is_deeply(\%status, { 503 => 5 }, "$what gets 503") or diag explain \%status;
    is_deeply(\@tried, [], "$what is not sent to any member") or diag explain \@tried;
    is_deeply(\%backend, {}, "$what is answered by no backend") or diag explain \%backend;
}
