#!/usr/bin/perl
# Stickiness by the session id: the JSESSIONID cookie and the ;jsessionid=
# path parameter, read as mod_jk reads them (path parameter first; every
# JSESSIONID cookie of every Cookie header, in order; name case-sensitive;
# quotes stripped; route = text after the FIRST '.'), and requests whose id
# names no usable member are balanced as new sessions. Hostile ids never
# give a 5xx or a crash.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties session_id header served_by route_changed);

my $t = StickyTest->new;
my $front = $t->port('front');
my @nodes = qw(tomcat1 tomcat2 tomcat3);
my %port = map { $_ => $t->start_backend($_) } @nodes, 'tomcat4';

# tomcat4 is Stopped: its backend runs, so any request it got would show.
my @members = ((map { [$_ => { port => $port{$_} }] } @nodes),
               [tomcat4 => { port => $port{tomcat4}, activation => 'S' }]);
# `tomcats` serves the sticky checks; `fresh` (same members, its own zone)
# only ever sees requests that must be balanced as new, so its spread stays
# even and shows at once whether a request was (wrongly) sticky.
$t->write_file('workers.properties', lb_properties('cluster', {}, @members));
$t->write_file('fresh.properties', lb_properties('cluster', {}, @members));
$t->write_conf(<<"EOF");
    upstream tomcats {
        sticky_workers workers.properties;
    }
    upstream fresh {
        sticky_workers fresh.properties;
    }
    server {
        listen 127.0.0.1:$front;
        add_header X-Worker \$sticky_worker always;
        add_header X-Session-Route \$sticky_session_route always;
        add_header X-Route-Changed \$sticky_route_changed always;
        add_header X-Upstream \$upstream_addr always;
        location / {
            proxy_pass http://tomcats;
        }
        location /fresh/ {
            proxy_pass http://fresh;
        }
    }
EOF
$t->run($front);

my %served;    # every backend that answered anything, over the whole file

# --- new sessions, then 20 requests each with the cookie ----------------------

my %session;   # node => the session id its backend handed out
for my $i (1 .. 60) {
    last if keys %session == @nodes;
    my $r = get('/login');
    my $who = served_by($r);
    my ($cookie) = (header($r, 'Set-Cookie') =~ /JSESSIONID=([^;]+)/);
    if ($i == 1) {
        is(header($r, 'X-Session-Route'), '',
           'a request without a session has an empty $sticky_session_route');
        ok(!route_changed($r), 'a new session is not a changed route');
        is(header($r, 'X-Worker'), $who, '$sticky_worker names the member that answered');
    }
    $session{$who} //= $cookie if $who =~ /^tomcat/ && defined $cookie;
}
for my $node (@nodes) {
    my $id = $session{$node};
    ok(defined $id, "$node handed out a new session") or next;
    like($id, qr/^[0-9a-f]{32}\.\Q$node\E$/i, "${node}'s session id ends in .$node");
    my (%who, %wk, $changed, %route);
    for (1 .. 20) {
        my $r = get("/cart/$_", Cookie => "JSESSIONID=$id");
        $who{served_by($r)}++;
        $wk{header($r, 'X-Worker')}++;
        $route{header($r, 'X-Session-Route')}++;
        $changed++ if route_changed($r);
    }
    is_deeply(\%who, { $node => 20 }, "the cookie session of $node sticks for 20 requests")
        or diag explain \%who;
    is_deeply(\%wk, { $node => 20 }, "\$sticky_worker is $node for its session");
    is_deeply(\%route, { $node => 20 }, "\$sticky_session_route is $node");
    ok(!$changed, "\$sticky_route_changed is not 1 for ${node}'s own session");
}

# --- the path parameter ------------------------------------------------------

for my $node (@nodes) {
    my $id = session_id("path-$node", $node);
    is(sticky_count("/app;jsessionid=$id?x=1"), "$node 10",
       ";jsessionid=ID.$node in the path sticks to $node");
}
is(sticky_count('/app;jsessionid=' . session_id('pq', 'tomcat3') . ';foo=bar'),
   'tomcat3 10', 'the path parameter ends at the next ";"');
is(sticky_count('/a;jsessionid=' . session_id('ps', 'tomcat1') . '/b/c'),
   'tomcat1 10', 'the path parameter ends at the next "/"');
is(sticky_count('/app;jsessionid=' . session_id('pc', 'tomcat2'),
                Cookie => 'JSESSIONID=' . session_id('pc', 'tomcat3')),
   'tomcat2 10', 'the path parameter beats the cookie');
{
    my $r = get('/app;jsessionid=' . session_id('pr', 'tomcat3'));
    is(header($r, 'X-Session-Route'), 'tomcat3',
       '$sticky_session_route reports the route of the path parameter');
}

# --- several cookies ----------------------------------------------------------

my ($ida, $idb) = (session_id('a'), session_id('b'));
is(sticky_count('/m', Cookie => "JSESSIONID=$ida.zz; JSESSIONID=$idb.tomcat2"),
   'tomcat2 10', 'JSESSIONID=A.zz; JSESSIONID=B.tomcat2 goes to tomcat2');
is(sticky_count('/m', Cookie => "JSESSIONID=$ida.tomcat1; JSESSIONID=$idb.tomcat2"),
   'tomcat1 10', 'of two usable candidates the first one wins');
is(sticky_count('/m', Cookie => ["JSESSIONID=$ida.zz", "other=1; JSESSIONID=$idb.tomcat3"]),
   'tomcat3 10', 'candidates are read from every Cookie header, in order');
is(sticky_count('/m', Cookie => ["JSESSIONID=$ida.tomcat1", "JSESSIONID=$idb.tomcat3"]),
   'tomcat1 10', 'the first Cookie header comes first');
is(sticky_count('/m', Cookie => "JSESSIONID=$ida.tomcat4; JSESSIONID=$idb.tomcat2"),
   'tomcat2 10', 'a candidate naming a stopped member is passed over for the next one');
is(sticky_count('/m', Cookie => "JSESSIONID=$ida.zz, JSESSIONID=$idb.tomcat3"),
   'tomcat3 10', 'a "," also separates cookies');
is(sticky_count('/m', Cookie => "theme=dark; JSESSIONID=$idb.tomcat1; lang=en"),
   'tomcat1 10', 'JSESSIONID among other cookies');
is(sticky_count('/m', Cookie => "JSESSIONID =$idb.tomcat3"),
   'tomcat3 10', 'spaces are allowed before "="');

# --- quotes --------------------------------------------------------------------

is(sticky_count('/q', Cookie => qq{JSESSIONID="$ida.tomcat3"}),
   'tomcat3 10', 'a quoted "ID.tomcat3" sticks to tomcat3');
{
    my $r = get('/q', Cookie => qq{JSESSIONID="$ida.tomcat3"});
    is(header($r, 'X-Session-Route'), 'tomcat3', 'the quotes are not part of the route');
}

# --- not a session (or no usable route): balanced as new -------------------------
# Each check sends 30 distinct ids aiming at tomcat1 to `fresh`; a sticky
# reading would send all 30 to tomcat1, a balanced one spreads them.

not_sticky('jsessionid=%s.tomcat1', '', 'the cookie name is case-sensitive: jsessionid=');
not_sticky('XJSESSIONID=%s.tomcat1', '', 'XJSESSIONID= is not JSESSIONID=');
not_sticky('JSESSIONIDX=%s.tomcat1', '', 'JSESSIONIDX= is not JSESSIONID=');
not_sticky('JSESSIONID=%s.zz', 'zz', 'an unknown route is served as a new session');
not_sticky('JSESSIONID=%s.tomcat1.extra', 'tomcat1.extra',
           'ID.tomcat1.extra (route tomcat1.extra) is not sticky with plain routes');
not_sticky('JSESSIONID=%s', '', 'an id without a dot is a new session');
not_sticky('JSESSIONID=', '', 'an empty JSESSIONID is a new session');
not_sticky('JSESSIONID=""', '', 'an empty quoted JSESSIONID is a new session');
not_sticky('JSESSIONID=%s.tomcat4', 'tomcat4',
           'a session of a stopped member is balanced over the others', 1);

# --- hostile input: served or refused, never a 5xx ---------------------------------

my $long = 'A' x 6000;
my @hostile = (
    [cookie => "JSESSIONID=$long.tomcat2", '6 KB session id'],
    [cookie => 'JSESSIONID=A.' . ('t' x 6000), '6 KB route'],
    [cookie => 'JSESSIONID=' . ('x' x 20000), '20 KB cookie'],
    [cookie => join('; ', ("JSESSIONID=$ida.zz") x 150) . "; JSESSIONID=$idb.tomcat2",
     '150 JSESSIONID cookies in 7 KB'],
    [cookie => [("JSESSIONID=$ida.zz") x 50], '50 Cookie headers'],
    [cookie => 'JSESSIONID="', 'an unbalanced quote'],
    [cookie => 'JSESSIONID="A.tomcat1', 'an unbalanced quote before a route'],
    [cookie => 'JSESSIONID=.', 'a lone dot'],
    [cookie => 'JSESSIONID=...', 'only dots'],
    [cookie => 'JSESSIONID=A.', 'an empty route'],
    [cookie => 'JSESSIONID=.tomcat1', 'an empty id before the route'],
    [cookie => 'JSESSIONID==;=;;,,JSESSIONID', 'separators only'],
    [cookie => "JSESSIONID=A.tomcat1\x01\x7f\xff", 'control and 8-bit bytes'],
    [cookie => "JSESSIONID=A.tom\x00cat1", 'a NUL byte'],
    [path => '/;jsessionid', 'a path parameter without "="'],
    [path => '/;jsessionid=', 'an empty path parameter'],
    [path => '/;jsessionid=.', 'a path parameter of a lone dot'],
    [path => '/;jsessionid=;jsessionid=;jsessionid=A.tomcat1', 'repeated path parameters'],
    [path => '/' . (";jsessionid=$ida.zz" x 150), 'a 6 KB path of path parameters'],
    [path => '/x;jsessionid=' . ('B' x 6000) . '.tomcat1', 'a 6 KB path parameter'],
    [path => '/' . ('p' x 12000), 'a 12 KB path'],
    [path => '/%3Bjsessionid=A.tomcat1', 'an escaped ";"'],
    [path => '/a;jsessionid=A.tomcat1%00', 'an escaped NUL'],
    [path => '/../../;jsessionid=A.tomcat1', 'a path above the root'],
    [path => '/a;jsessionid=A.tomcat1#frag', 'a fragment'],
    [path => "/a;jsessionid=A.tomcat1\x01", 'a control byte in the path'],
);
for my $h (@hostile) {
    my ($kind, $value, $what) = @$h;
    my $r = $kind eq 'path' ? get($value) : get('/h', Cookie => $value);
    ok($r->{status} >= 200 && $r->{status} < 500, "hostile input ($what): served or a 4xx")
        or diag "status $r->{status}";
}
is(sticky_count('/after', Cookie => "JSESSIONID=$idb.tomcat2"), 'tomcat2 10',
   'sessions still stick after the hostile requests');

ok(!$served{tomcat4}, 'the stopped member tomcat4 answered nothing')
    or diag explain \%served;

$t->finish;
done_testing;

# --- helpers ------------------------------------------------------------------

# One request to the front; counts who answered.
sub get {
    my ($path, %h) = @_;
    my $r = $t->get($front, $path, %h);
    $served{served_by($r)}++;
    return $r;
}

# Sends the same request $n (10) times; "NODE N" when one node answered all
# of them, else a description of the spread (for is()).
sub sticky_count {
    my ($path, %h) = @_;
    my %who;
    $who{served_by(get($path, %h))}++ for 1 .. 10;
    return join ', ', map { "$_ $who{$_}" } sort keys %who;
}

# 30 requests to `fresh` with Cookie sprintf($format, distinct id): each
# must be served, none may be sticky to tomcat1 (the target of every id):
# every active member gets some, the stopped one none. With $changed, every
# response must also say $sticky_route_changed=1 (the session had a member).
sub not_sticky {
    my ($format, $route, $what, $changed) = @_;
    my (%who, %route, $unchanged);
    for my $i (1 .. 30) {
        my $cookie = $format =~ /%s/ ? sprintf($format, session_id("$what $i")) : $format;
        my $r = get("/fresh/$i", Cookie => $cookie);
        $who{served_by($r)}++;
        $route{header($r, 'X-Session-Route')}++;
        $unchanged++ unless route_changed($r);
    }
    ok(!$unchanged, "$what: \$sticky_route_changed is 1") if $changed;
    my $ok = !grep { !/^tomcat[123]$/ } keys %who;
    $ok &&= ($who{$_} // 0) >= 5 for @nodes;
    ok($ok, "$what: balanced over the members") or diag explain \%who;
    is_deeply(\%route, { $route => 30 },
              "$what: \$sticky_session_route is '$route'") or diag explain \%route;
}
