#!/usr/bin/perl
# mod_jk's set_session_cookie: an answer that did not go to its session's
# member tells the client its new route, `JSESSIONID=.ROUTE`, unless the
# backend sets that cookie itself.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties session_id served_by);

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } qw(tomcat1 tomcat2);

# tomcat1 is Stopped: its sessions fail over to tomcat2.
my @members = ([tomcat1 => { port => $port{tomcat1}, activation => 'S' }],
               [tomcat2 => { port => $port{tomcat2} }]);
$t->write_file('on.properties',
               lb_properties('on', { set_session_cookie => 'true' }, @members));
$t->write_file('off.properties', lb_properties('off', {}, @members));
$t->write_conf(<<"EOF");
    upstream on  { sticky_workers on.properties; }
    upstream off { sticky_workers off.properties; }
    server {
        listen 127.0.0.1:$front;
        location /on/  { proxy_pass http://on; }
        location /off/ { proxy_pass http://off; }
    }
EOF
$t->run($front);

my $r = $t->get($front, '/on/x', Cookie => 'JSESSIONID=' . session_id(1, 'tomcat1'));
is(served_by($r), 'tomcat2', 'a session of the stopped member fails over');
is_deeply($r->{headers}{'set-cookie'}, ['JSESSIONID=.tomcat2; Path=/; HttpOnly'],
          'the answer sets the new route, as mod_jk does');

$r = $t->get($front, '/on/x', Cookie => 'JSESSIONID=' . session_id(2, 'tomcat2'));
is(served_by($r), 'tomcat2', 'a session of tomcat2 sticks');
ok(!$r->{headers}{'set-cookie'}, 'a sticky answer sets no cookie');

$r = $t->get($front, '/on/x');
my @cookies = @{$r->{headers}{'set-cookie'} || []};
is(scalar @cookies, 1, 'a new session gets one cookie') or diag explain \@cookies;
like($cookies[0] // '', qr/^JSESSIONID=[0-9a-f]{32}\.tomcat2;/,
     "... the backend's own, not ours competing with it");

$r = $t->get($front, '/off/x', Cookie => 'JSESSIONID=' . session_id(3, 'tomcat1'));
is(served_by($r), 'tomcat2', 'without set_session_cookie: the session fails over');
ok(!$r->{headers}{'set-cookie'}, '... and no cookie is set');

$t->finish;
done_testing;
