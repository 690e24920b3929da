#!/usr/bin/perl
# `nginx -s reload` keeps the shared state: a member in error stays avoided
# by the new worker processes; a member removed from the file disappears; a
# member added starts fresh (usable at once).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties session_id header served_by upstream_addrs);

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } map { "tomcat$_" } 1 .. 4;
my $dead = "127.0.0.1:$port{tomcat1}";

# recover_time=60: tomcat1, once failed, is in error for the whole test.
sub workers {
    return lb_properties('cluster', { recover_time => 60 },
                         map { [$_ => { port => $port{$_} }] } @_);
}
$t->write_file('workers.properties', workers(qw(tomcat1 tomcat2 tomcat3)));
$t->write_conf(<<"EOF");
    upstream tomcats {
        sticky_workers workers.properties;
    }
    server {
        listen 127.0.0.1:$front;
        add_header X-Worker \$sticky_worker always;
        add_header X-Upstream \$upstream_addr always;
        location / { proxy_pass http://tomcats; }
    }
EOF
$t->run($front);

my $sid = session_id('reload', 'tomcat1');
is(sticky($sid, 3), 'tomcat1 3', 'the session sticks to tomcat1 while it is up');

# tomcat1 dies; one request finds out and puts it in error.
$t->kill_backend('tomcat1');
my $r = get("JSESSIONID=$sid");
like(served_by($r), qr/^tomcat[23]$/, 'the session fails over when tomcat1 dies');
is((upstream_addrs($r))[0], $dead, '... after trying tomcat1');
my $s = traffic(10, 0);
is($s->{tried_dead}, 0, 'tomcat1 is in error: new sessions do not try it')
    or diag explain $s;

# --- a reload with the same file ------------------------------------------------

my $offset = -s $t->error_log;
is($t->reload, 1, 'reload with the same file');
$s = traffic(30, 10);
is($s->{failed}, 0, 'after reload: every request is served') or diag explain $s;
is($s->{tried_dead}, 0, 'after reload: tomcat1 is still in error, nothing tries it')
    or diag explain $s;
unlike($t->log_since($offset), qr/connect\(\) failed.*\Q$dead\E/,
       'after reload: no connection to tomcat1 was attempted');

# --- a reload that removes tomcat3 and adds tomcat4 ----------------------------------

$t->write_file('workers.properties', workers(qw(tomcat1 tomcat2 tomcat4)));
$offset = -s $t->error_log;
is($t->reload, 1, 'reload with tomcat3 removed and tomcat4 added');
$s = traffic(30, 0);
is($s->{failed}, 0, 'after the second reload: every request is served') or diag explain $s;
ok(!$s->{who}{tomcat3}, 'the removed member tomcat3 gets no new sessions')
    or diag explain $s;
ok($s->{who}{tomcat4}, 'the added member tomcat4 gets new sessions at once')
    or diag explain $s;
is($s->{tried_dead}, 0, 'the kept member tomcat1 is still in error') or diag explain $s;
unlike($t->log_since($offset), qr/connect\(\) failed.*\Q$dead\E/,
       'after the second reload: no connection to tomcat1 was attempted');

my (%who, %worker);
for (1 .. 10) {
    $r = get('JSESSIONID=' . session_id('old', 'tomcat3'));
    $who{served_by($r)}++;
    $worker{header($r, 'X-Worker')}++;
}
ok(!$who{tomcat3} && !grep({ !/^tomcat[24]$/ } keys %who),
   "a session of the removed member is served by the others") or diag explain \%who;
ok(!$worker{tomcat3}, '$sticky_worker never names the removed member')
    or diag explain \%worker;
is(sticky(session_id('new', 'tomcat4'), 10), 'tomcat4 10',
   'a session of the added member sticks to it');

# --- a reload that grows the file past the zone's capacity -------------------------
# The zone gets a new size, so nginx maps new memory; the state is read from
# the previous configuration's zone.

my @extra = map { ["extra$_" => { port => $port{tomcat2}, activation => 'S' }] } 1 .. 40;
$t->write_file('workers.properties',
               lb_properties('cluster', { recover_time => 60 },
                             (map { [$_ => { port => $port{$_} }] } qw(tomcat1 tomcat2 tomcat4)),
                             @extra));
$offset = -s $t->error_log;
is($t->reload, 1, 'reload with 43 members (a larger zone)');
like($t->log_since($offset), qr/state of 3 workers kept, 40 new/,
     'the larger zone took the state of the kept members');
$s = traffic(20, 5);
is($s->{failed}, 0, 'after growing: every request is served') or diag explain $s;
is($s->{tried_dead}, 0, 'after growing: tomcat1 is still in error') or diag explain $s;

$t->finish;
done_testing;

# --- helpers ------------------------------------------------------------------------

sub get {
    my ($cookie, $path) = @_;
    return $t->get($front, $path // '/page', defined $cookie ? (Cookie => $cookie) : ());
}

# $n requests with JSESSIONID=$id; "WHO N[, WHO N]".
sub sticky {
    my ($id, $n) = @_;
    my %who;
    $who{served_by(get("JSESSIONID=$id"))}++ for 1 .. $n;
    return join ', ', map { "$_ $who{$_}" } sort keys %who;
}

# $new requests without a session and $old requests of tomcat1's session $sid;
# returns { who => {..}, failed => N, tried_dead => N (requests whose
# $upstream_addr lists tomcat1) }.
sub traffic {
    my ($new, $old) = @_;
    my %s = (who => {}, failed => 0, tried_dead => 0);
    for my $i (1 .. $new + $old) {
        my $r = get($i <= $new ? undef : "JSESSIONID=$sid", "/t$i");
        $s{who}{served_by($r)}++;
        $s{failed}++ unless $r->{status} == 200;
        $s{tried_dead}++ if grep { $_ eq $dead } upstream_addrs($r);
    }
    return \%s;
}
