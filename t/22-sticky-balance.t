#!/usr/bin/perl
# New sessions: only the lowest distance with usable members; only Active
# members (Disabled takes its own sessions only, Stopped nothing); lbfactor
# ratios through lb_mult = LCM(lbfactors)/lbfactor; and mod_jk's methods
# Request, Session, Next, Traffic, Busyness. Requests are sequential, so
# R/S/N rotate almost exactly, B always sees 0 in flight (ties rotate) and
# T follows the bytes of near-identical exchanges.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties session_id header served_by route_changed within only);

my $t = StickyTest->new;
my $front = $t->port('front');
my @nodes = qw(tomcat1 tomcat2 tomcat3);
my %port = map { $_ => $t->start_backend($_) } @nodes, 'tomcat4';
$port{gone} = $t->port('dead');    # nothing listens there

my %file = (
    dist => [
        [tomcat1 => { distance => 0 }],
        [tomcat2 => { distance => 0 }],
        [tomcat3 => { distance => 1 }]],
    distdown => [
        [tomcat1 => { distance => 0, activation => 'S' }],
        [gone    => { distance => 0 }],
        [tomcat3 => { distance => 1 }],
        [tomcat4 => { distance => 1 }],
        [tomcat2 => { distance => 2 }]],
    act => [
        [tomcat1 => {}],
        [tomcat2 => {}],
        [tomcat3 => { activation => 'D' }],
        [tomcat4 => { activation => 'S' }]],
    ratio31 => [
        [tomcat1 => { lbfactor => 3 }],
        [tomcat2 => { lbfactor => 1 }]],
    ratio23 => [
        [tomcat1 => { lbfactor => 2 }],
        [tomcat2 => { lbfactor => 3 }]],
    map { ("m$_" => [map { [$_ => {}] } @nodes]) } qw(R S N T B),
);
my %method = map { ("m$_" => $_) } qw(R S N T B);

my ($conf, $locations) = ('', '');
for my $name (sort keys %file) {
    my @members = map { [$_->[0] => { port => $port{$_->[0]}, %{$_->[1]} }] }
        @{$file{$name}};
    $t->write_file("$name.properties", lb_properties('cluster',
        $method{$name} ? { method => $method{$name} } : {}, @members));
    $conf .= "    upstream $name { sticky_workers $name.properties; }\n";
    $locations .= "        location /$name/ { proxy_pass http://$name; }\n";
}
$t->write_conf($conf . <<"EOF");
    server {
        listen 127.0.0.1:$front;
        add_header X-Worker \$sticky_worker always;
        add_header X-Route-Changed \$sticky_route_changed always;
        add_header X-Upstream \$upstream_addr always;
$locations    }
EOF
$t->run($front);

# --- distance -------------------------------------------------------------------

my $who = new_sessions('dist', 30);
ok(only($who, qw(tomcat1 tomcat2)), 'new sessions go to distance 0 only')
    or diag explain $who;
ok(($who->{tomcat1} // 0) >= 10 && ($who->{tomcat2} // 0) >= 10,
   'new sessions use both distance-0 members') or diag explain $who;
is(sticky('dist', 'X.tomcat3', 10), 'tomcat3 10',
   'a session of a distance-1 member still sticks to it');

$who = new_sessions('distdown', 30);
ok(only($who, qw(tomcat3 tomcat4)),
   'distance 0 stopped or dead: new sessions go to distance 1, not 2')
    or diag explain $who;
ok($who->{tomcat3} && $who->{tomcat4}, 'new sessions use both distance-1 members')
    or diag explain $who;
$who = sessions('distdown', 'gone', 20);
ok(only($who, qw(tomcat3 tomcat4)),
   "the dead member's sessions fail over to distance 1, each to one member")
    or diag explain $who;

# --- activation --------------------------------------------------------------------

$who = new_sessions('act', 40);
ok(only($who, qw(tomcat1 tomcat2)),
   'new sessions avoid the disabled and the stopped member') or diag explain $who;
ok(($who->{tomcat1} // 0) >= 15 && ($who->{tomcat2} // 0) >= 15,
   'new sessions spread over the active members') or diag explain $who;

my ($changed, %seen) = (0);
for (1 .. 10) {
    my $r = req('act', 'JSESSIONID=X.tomcat3');
    $seen{served_by($r)}++;
    $changed++ if route_changed($r);
}
is_deeply(\%seen, { tomcat3 => 10 }, 'a disabled member still gets its own sessions')
    or diag explain \%seen;
is($changed, 0, '... and $sticky_route_changed is not 1 for them');

$who = sessions('act', 'tomcat4', 20);
ok(only($who, qw(tomcat1 tomcat2)),
   "a stopped member's sessions fail over to an active member, each to one member")
    or diag explain $who;
my $r = req('act', 'JSESSIONID=' . session_id('s', 'tomcat4'));
ok(route_changed($r), '... and $sticky_route_changed is 1 for them');

# --- lbfactor -------------------------------------------------------------------------

$who = new_sessions('ratio31', 400);
within($who->{tomcat1}, 300, 20, 'lbfactor 3:1: the lbfactor-3 member gets 300 of 400');
within($who->{tomcat2}, 100, 20, 'lbfactor 3:1: the lbfactor-1 member gets 100 of 400');
$who = new_sessions('ratio23', 300);
within($who->{tomcat1}, 120, 15, 'lbfactor 2:3: the lbfactor-2 member gets 120 of 300');
within($who->{tomcat2}, 180, 15, 'lbfactor 2:3: the lbfactor-3 member gets 180 of 300');

# --- methods ----------------------------------------------------------------------------

my %tolerance = (R => 3, S => 3, N => 3, T => 10, B => 6);
for my $m (qw(R S N T B)) {
    my $up = "m$m";
    $who = new_sessions($up, 60);
    ok(only($who, @nodes) && !grep({ !$who->{$_} } @nodes),
       "method $m: every member gets new sessions") or diag explain $who;
    within($who->{$_}, 20, $tolerance{$m}, "method $m: $_ gets 20 of 60 new sessions")
        for @nodes;
}

# 30 requests of a tomcat1 session, then 60 new sessions: Request counts the
# sticky requests as load, so tomcat1 gets (almost) none of the next new
# sessions; Session and Next count only new sessions, and Busyness only
# requests in flight, so the new sessions keep spreading evenly.
for my $m (qw(R S N B)) {
    my $up = "m$m";
    is(sticky($up, 'X.tomcat1', 30), 'tomcat1 30', "method $m: a tomcat1 session sticks");
    $who = new_sessions($up, 60);
    if ($m eq 'R') {
        ok(($who->{tomcat1} // 0) <= 10,
           'method R: the sticky requests count, tomcat1 gets few new sessions')
            or diag explain $who;
    } else {
        within($who->{tomcat1}, 20, $tolerance{$m},
               "method $m: the sticky requests do not count, tomcat1 gets 20 of 60");
    }
}

$t->finish;
done_testing;

# --- helpers ------------------------------------------------------------------------------

sub req { $t->upstream_get($front, @_) }

sub new_sessions { $t->new_sessions($front, @_) }

sub sticky { $t->sticky_spread($front, @_) }

# $n distinct sessions ID.$route, each sent twice; { who => sessions }, and
# "split" for a session whose two requests went to different members.
sub sessions {
    my ($upstream, $route, $n) = @_;
    my %who;
    for my $i (1 .. $n) {
        my $id = session_id("$upstream $i", $route);
        my @w = map { served_by(req($upstream, "JSESSIONID=$id")) } 1 .. 2;
        $who{$w[0] eq $w[1] ? $w[0] : 'split'}++;
    }
    return \%who;
}

