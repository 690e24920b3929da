#!/usr/bin/perl
# The fake AJP/1.3 container of the ajp_pass tests (t/lib/AjpBackend.pm),
# checked against a client of our own, without nginx: if it decoded or
# answered wrongly, t/55..t/57 would blame the module for it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
BEGIN { $ENV{STICKY_MODULE} //= '/nonexistent' }    # no nginx in this file
use Test::More;
use Digest::MD5 qw(md5_hex);
use IO::Socket::INET;
use JSON::PP;
use StickyTest;
use FailTest qw(wait_for);
use AjpBackend qw(start_ajp_backend set_ajp_backend ajp_events ajp_requests
                  ajp_connections encode_forward_request ajp_client_request);

my $t = StickyTest->new;
my $port = start_ajp_backend($t, 'n1', secret => 'sekrit', route => 'r1');
my $small = start_ajp_backend($t, 'small', packet_size => 8192, cping => 'never');
my $http = start_ajp_backend($t, 'http', http => 1);

sub connect_to {
    IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $_[0], Proto => 'tcp',
                          Timeout => 5) or die "connect: $!";
}

sub request {
    my (%r) = @_;
    return encode_forward_request(
        method => 'GET', protocol => 'HTTP/1.1', uri => '/app/x', remote_addr => '10.0.0.1',
        remote_host => '10.0.0.1', server_name => 'localhost', server_port => 8080,
        headers => [[Host => 'localhost'], ['X-Custom', 'v']],
        attributes => [[query_string => 'a=1'], ['req_attribute:AJP_REMOTE_PORT', '4242'],
                       [route => 'r1'], [secret => 'sekrit'],
                       ['req_attribute:JK_LB_ACTIVATION', 'ACT']],
        %r);
}

sub body_of { join '', map { $_->[1] } grep { $_->[0] eq 'SEND_BODY_CHUNK' } @_ }
sub types { join ' ', map { $_->[0] } @_ }

my $s = connect_to($port);
my @p = ajp_client_request($s, "\x12\x34\x00\x01\x0A", []);
is(types(@p), 'CPONG', 'CPING gets CPONG');

@p = ajp_client_request($s, request(), []);
is(types(@p), 'SEND_HEADERS SEND_BODY_CHUNK END_RESPONSE', 'a GET: headers, body, end');
is($p[0][1]{status}, 200, '... 200');
is($p[-1][1], 1, '... reuse=1');
my $echo = decode_json(body_of(@p));
my $req = $echo->{request};
is($req->{method}, 'GET', 'echo: method');
is($req->{uri}, '/app/x', 'echo: uri');
is($req->{server_port}, 8080, 'echo: server port');
is_deeply($req->{headers}, [['host', 'localhost', 1], ['X-Custom', 'v', 0]],
          'echo: headers, coded and named');
is_deeply($req->{order}, [qw(query_string req_attribute:AJP_REMOTE_PORT route secret
                             req_attribute:JK_LB_ACTIVATION)], 'echo: attributes in order');
is($req->{attr}{route}, 'r1', 'echo: route');
is($echo->{conn_request}, 1, 'echo: first request of its connection');

@p = ajp_client_request($s, request(method => 'FROB'), []);
$echo = decode_json(body_of(@p));
is($echo->{request}{method}, 'FROB', 'stored_method decoded');
is($echo->{request}{method_code}, 255, '... with the method code 0xFF');
is($echo->{conn_request}, 2, 'the same connection serves a second request');

my $data = join '', map { chr(($_ * 7) % 256) } 1 .. 20000;
my @chunks = map { substr($data, $_ * 8186, 8186) } 0 .. 2;
my $first = shift @chunks;
@p = ajp_client_request($s, request(method => 'POST',
        headers => [[Host => 'localhost'], ['Content-Length', length $data]])
    . "\x12\x34" . pack('n n', length($first) + 2, length $first) . $first, [@chunks]);
is(types(@p), 'GET_BODY_CHUNK GET_BODY_CHUNK SEND_HEADERS SEND_BODY_CHUNK END_RESPONSE',
   'a POST of 20000 bytes: the rest asked by two GET_BODY_CHUNKs');
is($p[0][1], 8186, '... each asking packet_size - 6 bytes');
$echo = decode_json(body_of(@p));
is($echo->{body}{md5}, md5_hex($data), '... the body arrived whole');
is_deeply($echo->{body}{packets}, [8186, 8186, 3628], '... in three packets');
is_deeply($echo->{body}{asked}, [0, 8186, 8186], '... the first one unasked');

@p = ajp_client_request($s, request(attributes => [[route => 'r1'], [secret => 'wrong']]), []);
is(types(@p), 'SEND_HEADERS END_RESPONSE', 'a wrong secret: headers and end, no body');
is($p[0][1]{status}, 403, '... 403');
is($p[-1][1], 0, '... reuse=0');
ok(!sysread($s, my $buf, 10), '... and the connection is closed');

$s = connect_to($port);
@p = ajp_client_request($s, request(attributes => [[query_string => 'do=after_headers'],
                                                   [secret => 'sekrit']],
        headers => [['Content-Length', 10]]) . "\x12\x34\x00\x0c\x00\x0a0123456789", []);
is(types(@p), 'SEND_HEADERS SEND_BODY_CHUNK END_RESPONSE',
   'after_headers: headers come before the body is read');

$s = connect_to($port);
@p = ajp_client_request($s, request(attributes => [[query_string => 'do=flush_delay&delay=0.2'],
                                                   [secret => 'sekrit']]), []);
is(join('|', map { $_->[0] eq 'SEND_BODY_CHUNK' ? "chunk:$_->[1]" : $_->[0] } @p),
   "SEND_HEADERS|chunk:first\n|chunk:|chunk:second\n|END_RESPONSE",
   'flush_delay: a chunk, an empty chunk, a chunk');

for my $bad (qw(bad_magic unknown_type body_before_headers)) {
    $s = connect_to($port);
    @p = ajp_client_request($s, request(attributes => [[query_string => "do=$bad"],
                                                       [secret => 'sekrit']]), [], timeout => 1);
    ok(@p >= 1, "$bad: sends something") or diag types(@p);
    close $s;
}
ok(wait_for(3, sub { grep { $_->{ev} eq 'peer_closed' } ajp_events($t, 'n1') }),
   'a malformed answer waits for the close, and logs it');

$s = connect_to($small);
ajp_client_request($s, request(headers => [['X-Big', 'x' x 9000]]), [], timeout => 1);
ok(wait_for(3, sub { grep { $_->{ev} eq 'too_big' } ajp_events($t, 'small') }),
   'a packet over packet_size is refused') or diag explain [ajp_events($t, 'small')];
ok(!sysread($s, $buf, 10), '... and the connection is closed');

$s = connect_to($small);
@p = ajp_client_request($s, "\x12\x34\x00\x01\x0A", [], timeout => 1);
is(types(@p), '', 'cping=never: no CPONG');

$s = connect_to($small);
print $s "GET /probe HTTP/1.0\r\n\r\n";
ok(wait_for(3, sub { grep { $_->{ev} eq 'not_ajp' } ajp_events($t, 'small') }),
   'an HTTP request is logged as not AJP');
is((ajp_events($t, 'small', 'not_ajp'))[0]{first_line}, 'GET /probe HTTP/1.0',
   '... with its first line');

$s = connect_to($http);
@p = ajp_client_request($s, request(), [], timeout => 1);
is(types(@p), 'bad_magic', 'http=1 answers HTTP to AJP');

set_ajp_backend($t, 'n1', reuse => 0);
$s = connect_to($port);
@p = ajp_client_request($s, request(), []);
is($p[-1][1], 0, 'set_ajp_backend: reuse=0 from now on');
my $conns = ajp_connections($t, 'n1');
ok(keys %$conns >= 5, 'ajp_connections counts connections') or diag explain $conns;
is(scalar(grep { $_->{method} eq 'FROB' } ajp_requests($t, 'n1')), 1, 'ajp_requests');

done_testing;
