#!/usr/bin/perl
# Failover: while a member is down, every request of one of its sessions
# reaches the same replacement and its sessions spread evenly over the
# survivors; a member whose connection failed rests recover_time and then
# gets traffic again. nginx's machinery keeps working: proxy_next_upstream
# retries never go back to a member that failed, `keepalive` in the same
# upstream keeps stickiness, and 503 (mod_jk's answer) comes only when no
# member can be reached.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use StickyTest qw(lb_properties session_id header served_by upstream_addrs
                  route_changed within);

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } map { "tomcat$_" } 1 .. 5;
$port{"gone$_"} = $t->port("dead$_") for 1 .. 3;    # nothing listens there

my %file = (
    main  => [{}, qw(tomcat1 tomcat2 tomcat3)],
    ka    => [{}, qw(tomcat1 tomcat2 tomcat3)],
    rec   => [{ recover_time => 1 }, qw(tomcat4 tomcat5)],
    retry => [{}, qw(gone1 gone2 tomcat2 tomcat3)],
    none  => [{}, qw(gone1 gone2 gone3)],
);
for my $name (keys %file) {
    my ($lb, @members) = @{$file{$name}};
    $t->write_file("$name.properties", lb_properties('cluster', $lb,
        map { [$_ => { port => $port{$_} }] } @members));
}
$t->write_conf(<<"EOF");
    upstream main  { sticky_workers main.properties; }
    upstream rec   { sticky_workers rec.properties; }
    upstream retry { sticky_workers retry.properties; }
    upstream none  { sticky_workers none.properties; }
    upstream ka {
        sticky_workers ka.properties;
        keepalive 8;
    }
    server {
        listen 127.0.0.1:$front;
        add_header X-Worker \$sticky_worker always;
        add_header X-Route-Changed \$sticky_route_changed always;
        add_header X-Upstream \$upstream_addr always;
        proxy_next_upstream error timeout;
        proxy_connect_timeout 2s;
        location /main/  { proxy_pass http://main; }
        location /rec/   { proxy_pass http://rec; }
        location /retry/ { proxy_pass http://retry; }
        location /none/  { proxy_pass http://none; }
        location /ka/ {
            proxy_pass http://ka;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
EOF
$t->run($front);

# --- keepalive in the same upstream ----------------------------------------------

my %session;    # node => a session id its backend handed out
for my $i (1 .. 30) {
    last if keys %session == 3;
    my $r = req('ka', undef, "login$i");
    my ($id) = header($r, 'Set-Cookie') =~ /JSESSIONID=([^;]+)/;
    $session{served_by($r)} //= $id if defined $id;
}
for my $node (qw(tomcat1 tomcat2 tomcat3)) {
    ok(defined $session{$node}, "keepalive: $node hands out sessions") or next;
    is(sticky('ka', $session{$node}, 20), "$node 20",
       "keepalive: a $node session sticks for 20 requests");
}

# --- proxy_next_upstream ------------------------------------------------------------

my $r = req('retry', 'JSESSIONID=' . session_id('first', 'gone1'));
my @tried = upstream_addrs($r);
is(served_by($r) =~ /^tomcat[23]$/ ? 'served' : served_by($r), 'served',
   'a session of a dead member is served by a live one');
is($tried[0], "127.0.0.1:$port{gone1}", '... after trying its own member first');

my ($bad, $dup, $last) = (0, 0, 0);
for my $i (1 .. 40) {
    my $cookie = $i <= 10 ? 'JSESSIONID=' . session_id("retry $i", 'gone1')
               : $i <= 20 ? 'JSESSIONID=' . session_id("retry $i", 'gone2')
               : undef;
    $r = req('retry', $cookie, "r$i");
    @tried = upstream_addrs($r);
    my %once;
    $bad++ unless served_by($r) =~ /^tomcat[23]$/;
    $dup++ if grep { $once{$_}++ } @tried;
    $last++ unless @tried && $tried[-1] eq '127.0.0.1:' . ($port{served_by($r)} // 0);
}
is($bad, 0, 'proxy_next_upstream: every request is served by a live member');
is($dup, 0, 'proxy_next_upstream: no request tries a member twice');
is($last, 0, 'proxy_next_upstream: the last member tried is the one that answered');

# --- failover determinism --------------------------------------------------------------

is(sticky('main', 'X.tomcat1', 5), 'tomcat1 5', 'X.tomcat1 sticks to tomcat1 while it is up');
$t->kill_backend('tomcat1');

my @ids = map { session_id("failover $_", 'tomcat1') } 1 .. 300;
my %by;
my ($failed, $unchanged, $worker_mismatch, $probed) = (0, 0, 0, 0);
for my $round (1 .. 3) {
    for my $id (@ids) {       # interleaved: every session once per round
        $r = req('main', "JSESSIONID=$id");
        my $who = served_by($r);
        $by{$id}{$who}++;
        $failed++ unless $r->{status} == 200;
        $unchanged++ unless route_changed($r);
        $worker_mismatch++ unless header($r, 'X-Worker') eq $who;
        $probed++ if grep { $_ eq "127.0.0.1:$port{tomcat1}" } upstream_addrs($r);
    }
}
is($failed, 0, 'failover: all 900 requests of the dead member\'s sessions are served');
my @split = grep { keys %{$by{$_}} != 1 } @ids;
is(scalar @split, 0, 'failover: all requests of a session reach one replacement')
    or diag explain [map { $by{$_} } @split[0 .. ($#split < 4 ? $#split : 4)]];
my %sessions_on;
$sessions_on{(keys %{$by{$_}})[0]}++ for @ids;
ok(!$sessions_on{tomcat1}, 'failover: no session reaches the dead member');
within($sessions_on{tomcat2}, 150, 30, 'failover: tomcat2 takes 150 +- 30 of 300 sessions');
within($sessions_on{tomcat3}, 150, 30, 'failover: tomcat3 takes 150 +- 30 of 300 sessions');
is($unchanged, 0, 'failover: $sticky_route_changed is 1 for every request');
is($worker_mismatch, 0, 'failover: $sticky_worker names the replacement');
ok($probed <= 1, 'failover: the dead member is tried at most once (then it is in error)')
    or diag "tried in $probed requests";

# (which survivor: the one with less load so far, by mod_jk's Request method)
my $who = new_sessions('main', 20);
ok(!$who->{tomcat1} && ($who->{tomcat2} // 0) + ($who->{tomcat3} // 0) == 20,
   'failover: new sessions go to the survivors') or diag explain $who;

# --- recover_time ----------------------------------------------------------------------

my $sid = session_id('recover', 'tomcat4');
is(sticky('rec', $sid, 3), 'tomcat4 3', 'recover: the session sticks to tomcat4');
$t->kill_backend('tomcat4');
my $failed_at = time;
my ($early_probe, %after) = (0);
for (1 .. 3) {
    my $sent = time;
    $r = req('rec', "JSESSIONID=$sid");
    $after{served_by($r)}++;
    $early_probe++ if $_ > 1 && $sent - $failed_at < 0.5
        && grep { $_ eq "127.0.0.1:$port{tomcat4}" } upstream_addrs($r);
}
is_deeply(\%after, { tomcat5 => 3 }, 'recover: while tomcat4 is down its session fails over')
    or diag explain \%after;
is($early_probe, 0, 'recover: a failed member is not tried again within recover_time');

$t->start_backend('tomcat4');    # the same port again
my ($back, $deadline) = (0, time + 10);
while (time < $deadline) {
    $r = req('rec', "JSESSIONID=$sid");
    if (served_by($r) eq 'tomcat4') { $back = 1; last }
    sleep 0.1;
}
ok($back, 'recover: with recover_time=1 the restarted tomcat4 gets its session back')
    or diag sprintf 'still failing over %.1f s after the failure', time - $failed_at;
is(sticky('rec', $sid, 5), 'tomcat4 5', 'recover: and keeps it');
$who = new_sessions('rec', 30);
ok($who->{tomcat4}, 'recover: new sessions reach tomcat4 again')
    or diag explain $who;

# --- nothing usable: 503 -----------------------------------------------------------------

my %status;
my ($twice, $slow) = (0, 0);
for my $i (1 .. 10) {
    my $start = time;
    $r = req('none', $i % 2 ? 'JSESSIONID=X.gone1' : undef, "n$i");
    $slow++ if time - $start > 5;
    $status{$r->{status}}++;
    my %once;
    $twice++ if grep { $once{$_}++ } grep { /:\d+$/ } upstream_addrs($r);
}
is_deeply(\%status, { 503 => 10 }, 'all members dead: 503') or diag explain \%status;
is($twice, 0, 'all members dead: no member is tried twice in one request');
is($slow, 0, 'all members dead: the 503 comes at once (no retry loop)');

$t->finish;
done_testing;

# --- helpers --------------------------------------------------------------------------------

sub req { $t->upstream_get($front, @_) }

sub new_sessions { $t->new_sessions($front, @_) }

sub sticky { $t->sticky_spread($front, @_) }

