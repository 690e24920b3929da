#!/usr/bin/perl
# sticky_workers at configuration time: `nginx -t` accepts good files and
# refuses bad ones with FILE:LINE and what is wrong.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest;

my $t = StickyTest->new;
my $front = $t->port('front');

# nginx.conf with one upstream using `sticky_workers $args`.
sub conf_with {
    my ($args, $extra) = @_;
    $extra //= '';
    $t->write_conf(<<"EOF");
    upstream tomcats {
        sticky_workers $args;
        $extra
    }
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://tomcats; }
    }
EOF
}

my $good = <<'EOF';
# a 3-node cluster
worker.list=cluster
worker.cluster.type=lb
worker.cluster.balance_workers=tomcat1,tomcat2
worker.cluster.balance_workers=tomcat3
worker.tomcat1.host=127.0.0.1
worker.tomcat1.port=8081
worker.tomcat2.reference=worker.tomcat1
worker.tomcat2.port=8082
worker.tomcat3.reference=worker.tomcat1
worker.tomcat3.port=8083
worker.tomcat3.activation=D
EOF

my $wp = $t->write_file('workers.properties', $good);

conf_with($wp);
my ($ok, $out) = $t->test_config;
ok($ok, 'a good file passes nginx -t') or diag $out;

conf_with('workers.properties');
($ok, $out) = $t->test_config;
ok($ok, 'a relative path is resolved against the configuration prefix')
    or diag $out;

conf_with("$FindBin::Bin/../workers.properties.example");
($ok, $out) = $t->test_config;
ok($ok, 'workers.properties.example passes nginx -t') or diag $out;
unlike($out, qr/\[(warn|emerg)\]/, 'with no warning') or diag $out;

# nginx loads modules RTLD_GLOBAL: the C++ core must not export anything
my @exports = grep { !/ ngx_/ } split /\n/,
    `nm -D --defined-only $ENV{STICKY_MODULE}`;
is(scalar @exports, 0, 'the module exports only its ngx_ symbols')
    or diag join "\n", @exports[0 .. 4];

conf_with("$wp lb=cluster");
($ok, $out) = $t->test_config;
ok($ok, 'lb=NAME selects a listed lb worker') or diag $out;

# Each bad file: a line added to the good one, and what the message must name.
my @bad = (
    [ 'unknown attribute', "worker.tomcat2.lbfactr=2\n", qr/lbfactr/ ],
    [ 'unknown type', "worker.tomcat2.type=ajp15\n", qr/ajp15/ ],
    [ 'duplicate route', "worker.tomcat2.route=tomcat1\n", qr/tomcat1/ ],
    [ 'reference not found', "worker.tomcat2.reference=worker.nothere\n",
      qr/nothere/ ],
);

for my $case (@bad) {
    my ($what, $line, $names) = @$case;
    my $text = $good . $line;
    my $n = () = $text =~ /\n/g;
    $t->write_file('bad.properties', $text);
    conf_with($t->dir . '/bad.properties');
    ($ok, $out) = $t->test_config;
    ok(!$ok, "$what: nginx -t fails");
    like($out, qr/\[emerg\].*bad\.properties:$n\b/, "$what: names FILE:LINE")
        or diag $out;
    like($out, $names, "$what: names the problem") or diag $out;
}

$t->write_file('nomembers.properties', <<'EOF');
worker.list=lb
worker.lb.type=lb
EOF
conf_with($t->dir . '/nomembers.properties');
($ok, $out) = $t->test_config;
ok(!$ok, 'an lb without members fails');
like($out, qr/nomembers\.properties:\d+.*"lb/, 'and names the lb') or diag $out;

$t->write_file('undefined.properties', <<'EOF');
worker.list=lb
worker.lb.type=lb
worker.lb.balance_workers=n1,ghost
worker.n1.host=127.0.0.1
EOF
conf_with($t->dir . '/undefined.properties');
($ok, $out) = $t->test_config;
ok(!$ok, 'a member listed but not defined fails');
like($out, qr/undefined\.properties:3\b.*ghost/, 'and names it with its line')
    or diag $out;

$t->write_file('nohost.properties', <<'EOF');
worker.list=lb
worker.lb.type=lb
worker.lb.balance_workers=n1
worker.n1.host=no-such-host.invalid
worker.n1.port=8080
EOF
conf_with($t->dir . '/nohost.properties');
($ok, $out) = $t->test_config;
ok(!$ok, 'an unresolvable host fails');
like($out, qr/no-such-host\.invalid.*"n1".*nohost\.properties:\d+/,
     'and names the host, the worker and the file') or diag $out;

conf_with("$wp lb=nosuchlb");
($ok, $out) = $t->test_config;
ok(!$ok, 'an unknown lb=NAME fails');
like($out, qr/nosuchlb/, 'and names it') or diag $out;

conf_with("$wp foo=bar");
($ok, $out) = $t->test_config;
ok(!$ok, 'an unknown parameter fails');
like($out, qr/invalid parameter "foo=bar"/, 'and names it') or diag $out;

conf_with($t->dir . '/missing.properties');
($ok, $out) = $t->test_config;
ok(!$ok, 'a missing file fails');
like($out, qr/missing\.properties.*No such file/, 'and says why') or diag $out;

conf_with($wp, 'server 127.0.0.1:9;');
($ok, $out) = $t->test_config;
ok(!$ok, '"server" beside sticky_workers fails');
like($out, qr/cannot be combined/, 'and says so') or diag $out;

# A warning is not an error: mod_jk starts, and so does nginx, but says so.
$t->write_file('warn.properties', $good . "worker.tomcat1.port=8084\n");
conf_with($t->dir . '/warn.properties');
($ok, $out) = $t->test_config;
ok($ok, 'a repeated single-value key passes') or diag $out;
like($out, qr/\[warn\].*warn\.properties:\d+.*port/, 'with a warning naming it')
    or diag $out;

done_testing;
