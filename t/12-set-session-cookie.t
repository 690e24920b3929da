#!/usr/bin/perl
# mod_jk's set_session_cookie: an answer that did not go to its session's
# member tells the client its new route, `JSESSIONID=.ROUTE`, unless the
# backend sets that cookie itself. sticky_workers' cookie_domain=,
# cookie_path=, cookie_samesite= and cookie_secure= add attributes (Secure
# over TLS by default); a value that could add an attribute of its own is
# refused by nginx -t, as are a session_cookie or session_cookie_path of the
# file that could.

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

# --- the options -------------------------------------------------------------

my $d = $t->dir;
my $cert = `openssl req -x509 -newkey rsa:2048 -nodes -keyout $d/server.key -out $d/server.pem -days 2 -subj /CN=localhost 2>&1`;
die "openssl: $cert" if $?;
my $tls = $t->port('tls');
$t->write_file('opts.properties', lb_properties('opts',
    { set_session_cookie => 'true', session_cookie_path => '/shop' }, @members));
$t->write_conf(<<"EOF");
    upstream on   { sticky_workers on.properties; }
    upstream opts { sticky_workers opts.properties cookie_domain=.example.com
                    cookie_path=/app cookie_samesite=lax; }
    upstream strict { sticky_workers opts.properties cookie_samesite=Strict cookie_secure=on; }
    upstream none { sticky_workers opts.properties cookie_samesite=none; }
    upstream nosecure { sticky_workers opts.properties cookie_secure=off; }
    server {
        listen 127.0.0.1:$front;
        listen 127.0.0.1:$tls ssl;
        ssl_certificate $d/server.pem;
        ssl_certificate_key $d/server.key;
        location /on/     { proxy_pass http://on; }
        location /opts/   { proxy_pass http://opts; }
        location /strict/ { proxy_pass http://strict; }
        location /none/   { proxy_pass http://none; }
        location /nosecure/ { proxy_pass http://nosecure; }
    }
EOF
$t->reload;

my $stale = 'JSESSIONID=' . session_id(4, 'tomcat1');
my %expect = (
    '/on/'     => ['JSESSIONID=.tomcat2; Path=/; HttpOnly',
                   'JSESSIONID=.tomcat2; Path=/; HttpOnly; Secure'],
    '/opts/'   => ['JSESSIONID=.tomcat2; Path=/app; Domain=.example.com; HttpOnly; SameSite=Lax',
                   'JSESSIONID=.tomcat2; Path=/app; Domain=.example.com; HttpOnly; SameSite=Lax; Secure'],
    '/strict/' => ['JSESSIONID=.tomcat2; Path=/shop; HttpOnly; SameSite=Strict; Secure',
                   'JSESSIONID=.tomcat2; Path=/shop; HttpOnly; SameSite=Strict; Secure'],
    '/none/'   => ['JSESSIONID=.tomcat2; Path=/shop; HttpOnly; SameSite=None; Secure',
                   'JSESSIONID=.tomcat2; Path=/shop; HttpOnly; SameSite=None; Secure'],
    '/nosecure/' => ['JSESSIONID=.tomcat2; Path=/shop; HttpOnly',
                     'JSESSIONID=.tomcat2; Path=/shop; HttpOnly'],
);
for my $path (sort keys %expect) {
    my ($plain, $over_tls) = @{$expect{$path}};
    $r = $t->get($front, "${path}x", Cookie => $stale);
    is_deeply($r->{headers}{'set-cookie'}, [$plain], "$path over HTTP: $plain");
    my $out = `curl -sk -i --max-time 10 -H 'Cookie: $stale' https://127.0.0.1:$tls${path}x 2>&1`;
    my @set = $out =~ /^set-cookie: ([^\r\n]*)/mgi;
    is_deeply(\@set, [$over_tls], "$path over TLS: $over_tls") or diag $out;
}

# nginx -t refuses what could add an attribute, and what does not fit.
my @refused = (
    ['"cookie_domain=example.com;Secure"', qr/cookie domain "example\.com;Secure" holds a byte other than/],
    ['cookie_domain=a..b', qr/cookie domain "a\.\.b" has an empty label/],
    ['"cookie_path=/a;Domain=evil"', qr/cookie path "\/a;Domain=evil" holds a ";"/],
    ['"cookie_path=/a\r\nX-Evil: 1"', qr/cookie path "\/a\\x0d\\x0aX-Evil: 1" holds a ";" or a control character/],
    ['cookie_path=app', qr/cookie path "app" does not start with "\/"/],
    ['"cookie_samesite=lax;x"', qr/cookie samesite "lax;x" is not strict, lax or none/],
    ['cookie_secure=yes', qr/cookie secure "yes" is not on, off or auto/],
    ['cookie_samesite=none cookie_secure=off', qr/samesite=none needs the Secure attribute/],
);
for my $case (@refused) {
    my ($params, $why) = @$case;
    check_refused("upstream u { sticky_workers opts.properties $params; }", $why, $params);
}
check_refused('upstream u { sticky_workers off.properties cookie_samesite=lax; }',
              qr/cookie_samesite= needs set_session_cookie=true on lb "off"/,
              'a cookie option without set_session_cookie');
$t->write_file('badpath.properties', lb_properties('bad',
    { set_session_cookie => 'true', session_cookie_path => '/a;Domain=evil.example' }, @members));
check_refused('upstream u { sticky_workers badpath.properties; }',
              qr/lb "bad": cookie path "\/a;Domain=evil\.example" holds a ";"/,
              "the file's session_cookie_path with a ';'");
$t->write_file('badroute.properties', lb_properties('bad', { set_session_cookie => 'true' },
    [tomcat1 => { port => $port{tomcat1}, route => 'r1;Domain=evil.example' }],
    [tomcat2 => { port => $port{tomcat2} }]));
check_refused('upstream u { sticky_workers badroute.properties; }',
              qr/lb "bad": cookie value "r1;Domain=evil\.example" holds a byte a cookie value cannot hold/,
              "a route with a ';' (the cookie's value is .ROUTE)");
$t->write_file('badname.properties', lb_properties('bad',
    { set_session_cookie => 'true', session_cookie => 'JSESSIONID;Domain' }, @members));
check_refused('upstream u { sticky_workers badname.properties; }',
              qr/lb "bad": cookie name "JSESSIONID;Domain" holds ";"/,
              "the file's session_cookie with a ';'");

$t->finish;
done_testing;

sub check_refused {
    my ($upstream, $why, $what) = @_;
    $t->write_conf(<<"EOF", name => 'check.conf');
    $upstream
    server { listen 127.0.0.1:$front; location / { proxy_pass http://u; } }
EOF
    my ($ok, $out) = $t->test_config('check.conf');
    ok(!$ok, "nginx -t refuses $what");
    like($out, $why, '... saying why') or diag $out;
}
