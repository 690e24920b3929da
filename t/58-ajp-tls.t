#!/usr/bin/perl
# ajp_pass over TLS (docs/ajp.md, "What Tomcat receives"): is_ssl, the
# cipher, its key size (an int, as mod_jk sends it), the session id,
# AJP_SSL_PROTOCOL, and the client certificate as PEM -- only one nginx
# verified (Tomcat takes it as the user's identity), never one that
# optional_no_ca let through unverified. Clients: curl; certificates: openssl.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha1_hex);
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use StickyTest qw(lb_properties);
use AjpBackend qw(start_ajp_backend);

for my $tool (qw(openssl curl)) {
    die "$tool is not installed (make deps installs it)\n"
        if system("command -v $tool >/dev/null 2>&1");
}

my $t = StickyTest->new;
my $d = $t->dir;
my ($front, $noca) = ($t->port('front'), $t->port('noca'));
my $port = start_ajp_backend($t, 'n1');

sub openssl {
    my ($args) = @_;
    my $out = `openssl $args 2>&1`;
    die "openssl $args:\n$out" if $?;
}
my $subj = sub { "-subj /CN=$_[0] -days 2" };
openssl("req -x509 -newkey rsa:2048 -nodes -keyout $d/ca.key -out $d/ca.pem " . $subj->('test-ca'));
openssl("req -x509 -newkey rsa:2048 -nodes -keyout $d/server.key -out $d/server.pem " . $subj->('localhost'));
openssl("req -newkey rsa:2048 -nodes -keyout $d/alice.key -out $d/alice.csr " . $subj->('alice'));
openssl("x509 -req -in $d/alice.csr -CA $d/ca.pem -CAkey $d/ca.key -CAcreateserial "
        . "-out $d/alice.pem -days 2");
openssl("req -x509 -newkey rsa:2048 -nodes -keyout $d/mallory.key -out $d/mallory.pem "
        . $subj->('mallory'));
chmod 0755, $d;

$t->write_file('workers.properties', lb_properties('cluster', {}, [n1 => { port => $port }]));
$t->write_conf(<<"EOF");
    upstream tomcats { sticky_workers workers.properties; }
    ssl_certificate $d/server.pem;
    ssl_certificate_key $d/server.key;
    add_header X-Cipher \$ssl_cipher always;
    add_header X-Protocol \$ssl_protocol always;
    add_header X-Session \$ssl_session_id always;
    add_header X-Verify \$ssl_client_verify always;
    server {
        listen 127.0.0.1:$front ssl;
        ssl_verify_client optional;
        ssl_client_certificate $d/ca.pem;
        location / { ajp_pass tomcats; }
    }
    server {
        listen 127.0.0.1:$noca ssl;
        ssl_verify_client optional_no_ca;
        location / { ajp_pass tomcats; }
    }
EOF
$t->run($front, $noca);

# GET over TLS with curl (a client certificate when given): { status,
# headers => { lc name => value }, echo => the request n1 decoded }.
sub tls_get {
    my ($port, $who) = @_;
    my $cert = $who ? "--cert $d/$who.pem --key $d/$who.key" : '';
    my $out = `curl -sk -i --max-time 10 $cert https://127.0.0.1:$port/app/tls 2>&1`;
    my ($head, $body) = split /\r\n\r\n/, $out, 2;
    my %h;
    for (split /\r\n/, $head // '') { $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/ }
    my ($status) = ($head // '') =~ m{^HTTP/\S+ (\d+)};
    my $echo = eval { JSON::PP->new->utf8->decode($body // '') };
    return { status => $status // 0, headers => \%h, echo => $echo, raw => $out };
}

my $r = tls_get($front, 'alice');
is($r->{status}, 200, 'TLS with a verified client certificate: 200') or diag $r->{raw};
my $q = $r->{echo} ? $r->{echo}{request} : {};
my $a = $q->{attr} || {};
is($q->{is_ssl}, 1, 'is_ssl true');
is($a->{ssl_cipher}, $r->{headers}{'x-cipher'}, 'ssl_cipher: nginx\'s $ssl_cipher');
is($a->{'req_attribute:AJP_SSL_PROTOCOL'}, $r->{headers}{'x-protocol'},
   'AJP_SSL_PROTOCOL: nginx\'s $ssl_protocol');
my $cipher = $r->{headers}{'x-cipher'} // '';
my ($bits) = $cipher =~ /(128|256)/;
$bits = 256 if $cipher =~ /CHACHA20/;
is($a->{ssl_key_size}, $bits, "ssl_key_size: $bits, the cipher's key bits, as an int");
if (length($r->{headers}{'x-session'} // '')) {
    is($a->{ssl_session}, $r->{headers}{'x-session'}, 'ssl_session: nginx\'s $ssl_session_id');
} else {
    ok(!defined $a->{ssl_session} || $a->{ssl_session} eq '', 'no session id: none sent');
}
is($r->{headers}{'x-verify'}, 'SUCCESS', 'nginx verified alice');
my $cert = $a->{ssl_cert} // '';
like($cert, qr/^-----BEGIN CERTIFICATE-----\n.*\n-----END CERTIFICATE-----\n?$/s,
     'ssl_cert: a PEM certificate, with its line breaks');
my ($b64) = $cert =~ /-----BEGIN CERTIFICATE-----(.*)-----END/s;
my ($want) = $t->read_file('alice.pem') =~ /-----BEGIN CERTIFICATE-----(.*)-----END/s;
is(sha1_hex(decode_base64($b64 // '')), sha1_hex(decode_base64($want // '')),
   '... alice\'s certificate');

$r = tls_get($front);
is($r->{status}, 200, 'TLS without a client certificate: 200');
$a = $r->{echo} ? $r->{echo}{request}{attr} : {};
is($r->{echo} && $r->{echo}{request}{is_ssl}, 1, '... is_ssl true');
ok(!exists $a->{ssl_cert}, '... no ssl_cert');

$r = tls_get($noca, 'mallory');
is($r->{status}, 200, 'optional_no_ca with an unverified certificate: 200');
like($r->{headers}{'x-verify'} // '', qr/^FAILED/, '... nginx did not verify it');
$a = $r->{echo} ? $r->{echo}{request}{attr} : {};
ok(!exists $a->{ssl_cert}, '... and does not pass it on as the user\'s identity');
ok(exists $a->{ssl_cipher}, '... the other TLS facts still are');

$t->finish;
done_testing;
