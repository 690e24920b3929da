#!/usr/bin/perl
# ajp_request_buffering off: the forward request goes out as soon as the
# request's headers are read, and each body packet the container asks for
# is sent as soon as nginx has read that much of the body; the container
# gets the whole body, in packets that fit its packet size. A chunked body
# is still read whole first (AJP announces the length). On: nothing goes out
# before the whole body is in. Against the fake container of
# t/lib/AjpBackend.pm.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::MD5 qw(md5_hex);
use IO::Socket::INET;
use List::Util qw(max);
use Time::HiRes qw(sleep time);
use StickyTest qw(lb_properties);
use JSON::PP ();
use AjpBackend qw(start_ajp_backend ajp_requests ajp_events ajp_echo
                  http_raw);

my $t = StickyTest->new;
# nginx's worker processes (nobody, when the tests run as root) write
# buffered request bodies into the temp directory
chmod 0755, $t->dir;
my $front = $t->port('front');
my $port = start_ajp_backend($t, 'n1');

$t->write_file('w.properties', lb_properties('cluster', {},
    [n1 => { port => $port }]));
$t->write_conf(<<"EOF");
    upstream u { sticky_workers w.properties; }
    server {
        listen 127.0.0.1:$front;
        client_max_body_size 10m;
        location /ub/ { ajp_pass u; ajp_request_buffering off; }
        location /b/  { ajp_pass u; }
    }
EOF
$t->run($front);

# The body: 300,000 bytes of a pattern, sent in two parts with a pause
# between them that lasts until `$until` says the pause is over (or 10 s).
my $body = join '', map { sprintf "%07d\n", $_ } 1 .. 37500;

sub two_part_post {
    my ($path, $until) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$front", Timeout => 10)
        or die "connect: $!";
    my $half = 1000;
    print $s "POST $path HTTP/1.0\r\nHost: localhost\r\n"
           . "Content-Length: " . length($body) . "\r\n\r\n"
           . substr($body, 0, $half);
    my $deadline = time + 10;
    my $early = 0;
    until ($early = $until->() or time > $deadline) { sleep 0.05 }
    print $s substr($body, $half);
    local $/;
    my $answer = <$s>;
    close $s;
    return ($early, $answer);
}

sub requests_for { scalar grep { $_->{uri} eq $_[0] } ajp_requests($t, 'n1') }

# --- off: the request goes out before the body is in ----------------------------------

my ($early, $answer) = two_part_post('/ub/one', sub { requests_for('/ub/one') > 0 });
ok($early, 'ajp_request_buffering off: the container has the request while most of '
           . 'the body is still with the client');
like($answer // '', qr{^HTTP/1\.[01] 200 }, '... and the answer is 200');
my ($json) = ($answer // '') =~ /\r\n\r\n(.*)\z/s;
my $echo = $json ? eval { JSON::PP->new->decode($json) } : undef;
is($echo->{body}{length}, length $body, '... the container read the whole body');
is($echo->{body}{md5}, md5_hex($body), '... byte for byte');
ok(max(@{$echo->{body}{packet_sizes} || [0]}) <= 8192,
   '... in packets no bigger than max_packet_size');
ok(scalar(@{$echo->{body}{packets} || []}) > 1, '... several of them');

# --- on (the default): nothing goes out before the whole body -------------------------

# The pause lasts a second (or until the container has the request, which
# would be wrong): the container must get the request only after it.
my $t0 = time;
($early, $answer) = two_part_post('/b/two', sub { requests_for('/b/two') > 0 || time - $t0 > 1 });
is(requests_for('/b/two'), 1, 'ajp_request_buffering on: one request in the end');
like($answer // '', qr{^HTTP/1\.[01] 200 }, '... answered 200');
($json) = ($answer // '') =~ /\r\n\r\n(.*)\z/s;
$echo = $json ? eval { JSON::PP->new->decode($json) } : undef;
is($echo->{body}{md5}, md5_hex($body), '... with the whole body');
my ($req) = grep { $_->{request}{uri} eq '/b/two' } ajp_events($t, 'n1', 'request');
ok($req && $req->{t} >= $t0 + 1, '... which the container got only after the client '
                                  . 'sent all of it');

# --- off, chunked: read whole first, sent with its length ------------------------------

my $chunked = "POST /ub/chunked HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            . "Transfer-Encoding: chunked\r\n\r\n";
for (my $off = 0; $off < length $body; $off += 50000) {
    my $piece = substr($body, $off, 50000);
    $chunked .= sprintf("%x\r\n", length $piece) . "$piece\r\n";
}
$chunked .= "0\r\n\r\n";
my $r = http_raw($front, $chunked);
is($r->{status}, 200, 'ajp_request_buffering off, a chunked body: 200');
$echo = ajp_echo($r);
is($echo->{body}{md5}, md5_hex($body), '... the whole body');
is($echo->{request}{header}{'content-length'}, length $body, '... announced with its length');

$t->stop;
done_testing();
