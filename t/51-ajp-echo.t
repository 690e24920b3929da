#!/usr/bin/perl
# What Tomcat sees of a request that nginx passes over AJP/1.3 (`ajp_pass`),
# read back from the cart app's /echo (demo/cartapp DiagServlet): two real
# Tomcat 10 nodes with AJP connectors as on a mod_jk site (secretRequired,
# packetSize=65536, tomcatAuthentication="false", an
# allowedRequestAttributesPattern for ajp_param), nginx reading the
# workers.properties cluster.sh writes (AJP ports, secret,
# max_packet_size=65536), unchanged.
#
#   - TLS: isSecure, scheme, cipher, key size, session id, protocol, the
#     client certificate (ssl_verify_client on, a test CA made here); plain
#     HTTP: none of it;
#   - the client's address and port, the server's name and port, the method
#     (WebDAV and unknown ones too), the protocol, the URI and query string;
#   - getRemoteUser after auth_basic with ajp_remote_user, and none from a
#     client's Remote-User-like or Authorization headers;
#   - ajp_param (variables, if_not_empty), refused by Tomcat (403) when its
#     pattern does not allow the name;
#   - bodies of 20 MB, with a length and chunked, by checksum; 15 KB of
#     headers in 64 KiB packets, and a 400 (the member left alone) when they
#     do not fit;
#   - answers: 100 MB (checksum), streamed with ajp_buffering off (the first
#     bytes before the end), HEAD, 204 and 304 without bodies, the
#     WebSocket handshake refused (501);
#   - the "..;" path trick refused with 400, never reaching Tomcat.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::MD5 qw(md5 md5_hex);
use Digest::SHA qw(sha256_hex);
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(sleep time);
use StickyTest;
use StickyStatus qw(status_json worker);
use TomcatTest qw(front_conf http_request curl_request big_digest decode_json hdr);

my $T0 = time;
my $t = StickyTest->new;
TomcatTest::open_for_workers($t);    # htpasswd, request bodies in temp files
my $front = $t->port('front');
my $tls = $t->port('tls');
my $mtls = $t->port('mtls');
my $d = $t->dir;

# --- a test CA, the server's certificate, a client's ---------------------------------

sub openssl {
    my @args = @_;
    my $out = `openssl @args 2>&1`;
    die "openssl @args:\n$out" if $?;
    return $out;
}
my $ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
openssl("req -x509 $ec -keyout $d/ca.key -out $d/ca.crt -days 2 -subj '/O=Sticky Test/CN=Sticky Test CA'");
$t->write_file('server.ext', "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
openssl("req $ec -keyout $d/server.key -out $d/server.csr -subj '/CN=localhost'");
openssl("x509 -req -in $d/server.csr -CA $d/ca.crt -CAkey $d/ca.key -CAcreateserial "
        . "-out $d/server.crt -days 2 -extfile $d/server.ext");
$t->write_file('client.ext', "extendedKeyUsage=clientAuth\n");
openssl("req $ec -keyout $d/client.key -out $d/client.csr -subj '/O=Sticky Test/CN=alice'");
openssl("x509 -req -in $d/client.csr -CA $d/ca.crt -CAkey $d/ca.key -CAcreateserial "
        . "-out $d/client.crt -days 2 -extfile $d/client.ext");
$t->write_file('htpasswd', "alice:{PLAIN}wonderland\n");

# --- the cluster and nginx ----------------------------------------------------------------

my $SECRET = 'echo-' . substr(md5_hex("$$ " . time), 0, 16);
my $cluster = TomcatTest::Cluster->start("$d/cluster", nodes => 2, ajp_secret => $SECRET,
                                         packet_size => 65536, ajp_attributes => 'X_[A-Z_]+',
                                         access_log => 'unbuffered');
note sprintf 'cluster up in %.1f s', $cluster->start_seconds;
my $workers = $cluster->workers(ajp => 1);
like($workers, qr/^worker\.tomcat1\.max_packet_size=65536$/m, 'workers.properties: max_packet_size=65536');
$t->write_file('workers.properties', $workers);

my $tls_conf = <<"EOF";
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $d/server.crt;
        ssl_certificate_key $d/server.key;
        add_header X-Worker \$sticky_worker always;
        add_header X-SSL-Cipher \$ssl_cipher always;
        add_header X-SSL-Protocol \$ssl_protocol always;
        add_header X-SSL-Session \$ssl_session_id always;
EOF
$t->write_conf(front_conf($front, <<'EOF', ajp => 1, upstream => "        keepalive 8;\n", http => <<"EOF2"));
        client_max_body_size 64m;
        large_client_header_buffers 16 16k;
        location /echo/secure/ {
            auth_basic "staff";
            auth_basic_user_file htpasswd;
            ajp_pass tomcats;
            ajp_remote_user $remote_user;
        }
        location /echo/params/ {
            ajp_pass tomcats;
            ajp_param X_CLIENT $remote_addr;
            ajp_param X_ARG $arg_v;
            ajp_param X_COMBO "$request_method $arg_v";
            ajp_param X_FIXED "fixed value";
            ajp_param X_EMPTY $arg_none if_not_empty;
            ajp_param X_GIVEN $arg_v if_not_empty;
            ajp_param X_EMPTY_SENT $arg_none;
        }
        location /echo/badparam/ {
            ajp_pass tomcats;
            ajp_param NOT_ALLOWED yes;
        }
        location /stream/unbuffered/ {
            ajp_pass tomcats;
            ajp_buffering off;
        }
        location = /sticky-status {
            sticky_status;
        }
EOF
    server {
        listen 127.0.0.1:$tls ssl;
$tls_conf
        location / {
            ajp_pass tomcats;
        }
    }
    server {
        listen 127.0.0.1:$mtls ssl;
$tls_conf
        ssl_client_certificate $d/ca.crt;
        ssl_verify_client on;
        add_header X-SSL-Client-DN \$ssl_client_s_dn always;
        add_header X-SSL-Client-Issuer \$ssl_client_i_dn always;
        location / {
            ajp_pass tomcats;
        }
    }
EOF2
$t->run($front, $tls, $mtls);

# One request through nginx's plain server; the answer with its /echo
# document in {echo} (undef when the body is not JSON).
sub req {
    my (%o) = @_;
    my $r = http_request(port => $front, %o);
    $r->{echo} = decode_json($r->{body});
    return $r;
}

sub describe {
    my ($r) = @_;
    my $body = $r->{body} // '';
    $body = substr($body, 0, 300) . '...' if length $body > 300;
    return "status $r->{status}, complete $r->{complete}, body: $body";
}

# The values of header $name (case-insensitive) in an /echo document.
sub seen_header {
    my ($e, $name) = @_;
    return map { $_->[1] } grep { lc $_->[0] eq lc $name } @{$e->{headers} || []};
}

# --- plain HTTP: what the container saw -------------------------------------------------

my $r = req(path => '/echo/plain?x=1&y=%20z', headers => ['X-Custom' => 'one', 'X-Multi' => 'a',
                                                         'X-Multi' => 'b', 'Accept' => 'text/plain']);
my $e = $r->{echo} // {};    # without one, each check below fails
is($r->{status}, 200, 'plain: /echo answered 200 through ajp_pass') or diag describe($r);
is($e->{method}, 'GET', 'plain: method GET');
is($e->{protocol}, 'HTTP/1.1', "plain: the client's protocol, HTTP/1.1");
is($e->{requestURI}, '/echo/plain', 'plain: the request URI');
is($e->{queryString}, 'x=1&y=%20z', 'plain: the query string as sent');
is($e->{isSecure}, JSON::PP::false, 'plain: isSecure is false');
is($e->{scheme}, 'http', 'plain: scheme http');
is($e->{serverName}, 'localhost', 'plain: serverName is the Host of the request');
is($e->{serverPort}, $front, "plain: serverPort is nginx's ($front)");
is($e->{remoteAddr}, '127.0.0.1', "plain: remoteAddr is the client's");
is($e->{remoteHost}, '127.0.0.1', '... and so is remoteHost');
is($e->{remotePort}, $r->{local_port}, "plain: remotePort is the client's port ($r->{local_port}, AJP_REMOTE_PORT)");
is($e->{localAddr}, '127.0.0.1', "plain: localAddr is nginx's address (AJP_LOCAL_ADDR)");
is($e->{remoteUser}, undef, 'plain: no remote user');
is($e->{authType}, undef, 'plain: no auth type');
is($e->{tls}{cipherSuite}, undef, 'plain: no cipher');
is($e->{tls}{certSubject}, undef, 'plain: no client certificate');
is($e->{attr}{JK_LB_ACTIVATION}, 'ACT', 'plain: JK_LB_ACTIVATION is ACT (the member is active)');
is($e->{jvmRoute}, hdr($r, 'X-Worker'), "plain: answered by the member nginx chose ($e->{jvmRoute})");
is_deeply([seen_header($e, 'X-Multi')], ['a', 'b'], 'plain: a repeated header arrives twice, in order');
is_deeply([seen_header($e, 'X-Custom'), seen_header($e, 'Accept')], ['one', 'text/plain'],
          'plain: the other headers arrive as sent');
is_deeply([seen_header($e, 'Content-Length'), seen_header($e, 'Transfer-Encoding')], [],
          'plain: a GET carries no Content-Length or Transfer-Encoding');
$r = req(path => '/echo/old', version => '1.0');
is($r->{echo} && $r->{echo}{protocol}, 'HTTP/1.0', "an HTTP/1.0 client's protocol arrives as HTTP/1.0");

# The URI: normalised by nginx, re-encoded; path parameters kept.
$r = req(path => '/echo/./x/../a%20b/caf%C3%A9?q=caf%C3%A9&d&e=');
ok($r->{echo}, 'URI: /echo/./x/../a%20b/caf%C3%A9 answered') or diag describe($r);
is($r->{echo}{pathInfo}, "/a b/caf\x{e9}", 'URI: Tomcat decodes the path nginx resolved to "/a b/café"');
like($r->{echo}{requestURI}, qr{^/echo/a%20b/caf%C3%A9$}i, 'URI: ... sent percent-encoded again');
is($r->{echo}{queryString}, 'q=caf%C3%A9&d&e=', 'URI: the query string untouched');
$r = req(path => '/echo;jsessionid=0123456789ABCDEF.nowhere');
is($r->{echo} && $r->{echo}{requestedSessionId}, '0123456789ABCDEF.nowhere',
   'URI: a ;jsessionid= path parameter reaches Tomcat as one');

# Methods: WebDAV ones by code, others by name.
my @method_bad;
for my $m (qw(PUT DELETE OPTIONS PROPFIND MKCOL LOCK BREW)) {
    my $x = req(method => $m, path => '/echo/m', body => $m eq 'PUT' ? 'put body' : undef);
    push @method_bad, "$m: " . describe($x)
        unless $x->{status} == 200 && $x->{echo} && $x->{echo}{method} eq $m
        && ($m ne 'PUT' || $x->{echo}{body}{md5} eq md5_hex('put body'));
}
is_deeply(\@method_bad, [], 'methods PUT (with its body), DELETE, OPTIONS, PROPFIND, MKCOL, LOCK '
          . 'and an unknown BREW reach Tomcat as sent');

# --- TLS --------------------------------------------------------------------------------------

my @curl_tls = ('--cacert', "$d/ca.crt", '--resolve', "localhost:$tls:127.0.0.1",
                '--resolve', "localhost:$mtls:127.0.0.1");
my %KEY_BITS = (AES128 => 128, AES_128 => 128, AES256 => 256, AES_256 => 256, CHACHA20 => 256);
sub key_bits { my ($c) = @_; for (keys %KEY_BITS) { return $KEY_BITS{$_} if index($c, $_) >= 0 } return undef }

for my $v (['1.3', []], ['1.2', ['--tls-max', '1.2']]) {
    my ($want, $args) = @$v;
    my $c = curl_request(@curl_tls, @$args, "https://localhost:$tls/echo/tls?v=$want");
    my $j = decode_json($c->{body});
    is($c->{status}, 200, "TLS $want: /echo over https answered 200") or diag "$c->{stderr} $c->{body}";
    next unless $j;
    my $cipher = hdr($c, 'X-SSL-Cipher');
    is($j->{isSecure}, JSON::PP::true, "TLS $want: isSecure is true");
    is($j->{scheme}, 'https', "TLS $want: scheme https");
    is($j->{serverPort}, $tls, "TLS $want: serverPort is the TLS port");
    is(hdr($c, 'X-SSL-Protocol'), "TLSv$want", "TLS $want: nginx spoke TLSv$want");
    is($j->{tls}{protocol}, "TLSv$want", "TLS $want: Tomcat's secure protocol is TLSv$want (AJP_SSL_PROTOCOL)");
    ok(length $cipher, "TLS $want: nginx's cipher is $cipher");
    is($j->{tls}{cipherSuite}, $cipher, "TLS $want: Tomcat's cipher_suite is nginx's")
        or diag explain $j->{tls};
    is($j->{tls}{keySize}, key_bits($cipher), "TLS $want: key_size is the cipher's key size");
    is($j->{tls}{sessionId} // '', hdr($c, 'X-SSL-Session'), "TLS $want: ssl_session_id is nginx's");
    is($j->{tls}{certSubject}, undef, "TLS $want: no client certificate");
}

my $c = curl_request(@curl_tls, '--cert', "$d/client.crt", '--key', "$d/client.key",
                     "https://localhost:$mtls/echo/mtls");
my $j = decode_json($c->{body});
is($c->{status}, 200, 'client certificate: /echo answered 200 (ssl_verify_client on)')
    or diag "$c->{stderr} $c->{body}";
is($j && $j->{tls}{certSubject}, 'CN=alice,O=Sticky Test',
   "client certificate: Tomcat's X509Certificate is alice's");
is($j && $j->{tls}{certSubject}, hdr($c, 'X-SSL-Client-DN'), '... the subject nginx verified');
is($j && $j->{tls}{certIssuer}, 'CN=Sticky Test CA,O=Sticky Test', '... issued by the test CA');
is($j && $j->{isSecure}, JSON::PP::true, 'client certificate: isSecure is true');
$c = curl_request(@curl_tls, "https://localhost:$mtls/echo/mtls");
is($c->{status}, 400, 'client certificate: none sent, nginx answers 400 itself');

# --- the remote user ---------------------------------------------------------------------------

my $basic = 'Basic ' . encode_base64('alice:wonderland', '');
$r = req(path => '/echo/secure/page', headers => [Authorization => $basic, 'Remote-User' => 'mallory']);
is($r->{status}, 200, 'auth_basic: alice is let in') or diag describe($r);
is($r->{echo} && $r->{echo}{remoteUser}, 'alice', 'auth_basic: getRemoteUser() is alice (ajp_remote_user)');
is($r->{echo} && $r->{echo}{authType}, 'Basic', 'auth_basic: getAuthType() is Basic');
$r = req(path => '/echo/secure/page');
is($r->{status}, 401, 'auth_basic: without credentials nginx answers 401');
$r = req(path => '/echo/secure/page', headers => [Authorization => 'Basic ' . encode_base64('alice:guess', '')]);
is($r->{status}, 401, 'auth_basic: a wrong password gets 401');
$r = req(path => '/echo/noauth', headers => [Authorization => $basic, 'Remote-User' => 'admin',
                                             'X-Remote-User' => 'admin', 'Remote_User' => 'admin',
                                             'X-Forwarded-User' => 'admin', 'Auth-Type' => 'Basic']);
is($r->{status}, 200, 'no ajp_remote_user: answered');
is($r->{echo} && $r->{echo}{remoteUser}, undef,
   'no ajp_remote_user: getRemoteUser() is null whatever the client sends (Authorization, Remote-User, ...)');
is($r->{echo} && $r->{echo}{authType}, undef, '... and getAuthType() is null');

# --- ajp_param ------------------------------------------------------------------------------------

$r = req(path => '/echo/params/p?v=hello&attr=X_CLIENT,X_ARG,X_COMBO,X_FIXED,X_EMPTY,X_GIVEN,X_EMPTY_SENT');
is($r->{status}, 200, 'ajp_param: answered') or diag describe($r);
is_deeply($r->{echo} && $r->{echo}{attr} && { map { $_ => $r->{echo}{attr}{$_} } qw(X_CLIENT X_ARG X_COMBO X_FIXED X_EMPTY X_GIVEN X_EMPTY_SENT) },
          { X_CLIENT => '127.0.0.1', X_ARG => 'hello', X_COMBO => 'GET hello', X_FIXED => 'fixed value',
            X_EMPTY => undef, X_GIVEN => 'hello', X_EMPTY_SENT => '' },
          'ajp_param: request attributes from variables; an empty one with if_not_empty is not sent')
    or diag explain $r->{echo}{attributes};
$r = req(path => '/echo/badparam/p');
is($r->{status}, 403, 'ajp_param: a name the connector does not allow is refused by Tomcat (403)');

# --- request bodies ---------------------------------------------------------------------------

my $MB = 1 << 20;
my $block = join '', map { md5("block $_") } 1 .. $MB / 16;
my $big = join '', map { pack('N', $_) . substr($block, 4) } 0 .. 19;
my $t1 = time;
$r = req(method => 'POST', path => '/echo/body', body => $big,
         headers => ['Content-Type' => 'application/octet-stream'], timeout => 60);
note sprintf '20 MB body in %.1f s', time - $t1;
is($r->{status}, 200, '20 MB body: answered') or diag describe($r);
is_deeply($r->{echo} && [$r->{echo}{contentLength}, @{$r->{echo}{body}}{qw(length md5 sha256)}],
          [length $big, length $big, md5_hex($big), sha256_hex($big)],
          '20 MB body: Tomcat read all of it, MD5 and SHA-256 equal');
my @chunks;
for (my $off = 0; $off < length $big; ) {
    my $n = 1 + int rand 150_000;
    push @chunks, substr($big, $off, $n);
    $off += $n;
}
$t1 = time;
$r = req(method => 'POST', path => '/echo/chunked', chunks => \@chunks, timeout => 60);
note sprintf '20 MB chunked body (%d chunks) in %.1f s', scalar @chunks, time - $t1;
is($r->{status}, 200, '20 MB chunked body: answered') or diag describe($r);
is_deeply($r->{echo} && [$r->{echo}{contentLength}, @{$r->{echo}{body}}{qw(length md5 sha256)}],
          [length $big, length $big, md5_hex($big), sha256_hex($big)],
          '20 MB chunked body: Tomcat read all of it with a known length, checksums equal');
is_deeply($r->{echo} && [seen_header($r->{echo}, 'Transfer-Encoding')], [],
          '... and no Transfer-Encoding header');

# --- headers: 15 KB in 64 KiB packets; too many for one packet ---------------------------------

my @big_headers = map { ("X-Big-$_" => (chr(64 + $_) x 990) . sprintf('%010d', $_)) } 1 .. 15;
$r = req(path => '/echo/headers', headers => \@big_headers);
is($r->{status}, 200, '15 KB of headers (more than an 8 KiB packet): answered') or diag describe($r);
my @lost = grep { my $n = $big_headers[2 * $_]; ($r->{echo} ? join('|', seen_header($r->{echo}, $n)) : '')
                  ne $big_headers[2 * $_ + 1] } 0 .. 14;
is_deeply(\@lost, [], '... each of the 15 headers arrives whole');

my $status_before = status_json($t, $front, '/sticky-status');
my $log_before = -s $t->error_log;
my @huge = map { ("X-Huge-$_" => 'h' x 2000) } 1 .. 40;
$r = req(path => '/echo/huge', headers => \@huge);
is($r->{status}, 400, '80 KB of headers: 400, they do not fit a 64 KiB packet');
like($r->{body}, qr/Request Header Or Cookie Too Large/, '... "Request Header Or Cookie Too Large"');
my $log = $t->log_since($log_before);
like($log, qr/\[error\].*max_packet_size/, 'error.log: one line names max_packet_size') or diag $log;
my $status_after = status_json($t, $front, '/sticky-status');
my @judged;
for my $n (1 .. 2) {
    my ($w0, $w1) = map { worker($_, 'tomcats', "tomcat$n") } $status_before, $status_after;
    push @judged, "tomcat$n: state $w1->{state}, errors $w0->{errors} -> $w1->{errors}"
        unless $w1 && $w1->{state} =~ /^OK/ && $w1->{errors} == $w0->{errors};
}
is_deeply(\@judged, [], 'status page: both members still OK, no error counted');
$r = req(path => '/echo/after-huge');
is($r->{status}, 200, 'the next request is answered');

# --- answers -----------------------------------------------------------------------------------

$t1 = time;
$r = req(path => '/big?mb=100', digest => 1, timeout => 120);
note sprintf '100 MB answer in %.1f s', time - $t1;
is($r->{status}, 200, '100 MB answer: 200');
is(hdr($r, 'Content-Length'), 100 * $MB, "... with Tomcat's Content-Length");
ok($r->{complete} && $r->{length} == 100 * $MB, '... all of it') or diag "got $r->{length} bytes";
is($r->{md5}, big_digest(100 * $MB), '... its MD5 is the one of /big');
$r = req(path => '/big?mb=20&chunked=1', digest => 1, timeout => 60);
ok($r->{status} == 200 && $r->{framing} eq 'chunked' && $r->{complete}
   && $r->{md5} eq big_digest(20 * $MB), '20 MB answer without a length: chunked to the client, complete, MD5 equal');

# Streamed: 5 chunks 500 ms apart, each flushed by Tomcat.
my $lines = join '', map { "chunk $_ of 5\n" } 1 .. 5;
$r = req(path => '/stream/unbuffered/s?chunks=5&delay=500');
is($r->{status}, 200, 'ajp_buffering off: streamed answer, 200');
ok($r->{complete} && $r->{body} eq $lines, '... complete, the 5 chunks in order') or diag describe($r);
my ($first, $all) = map { defined $_ ? $_ - $r->{t0} : -1 } $r->{t_body}, $r->{t_end};
ok($first >= 0 && $first < 1.0 && $all >= 1.9,
   sprintf('... the first bytes came after %.2f s, before the end (%.2f s)', $first, $all));
$r = req(path => '/stream?chunks=5&delay=500');
ok($r->{status} == 200 && $r->{complete} && $r->{body} eq $lines,
   'ajp_buffering on: the same answer, complete') or diag describe($r);
note sprintf 'ajp_buffering on: first bytes after %.2f s, end after %.2f s',
    ($r->{t_body} // $r->{t0}) - $r->{t0}, $r->{t_end} - $r->{t0};

# HEAD, 204, 304 on one kept-alive connection: no body, nothing left over.
my ($sock, @ka_bad);
for my $step (['HEAD', '/echo/head'], ['HEAD', '/big?mb=1'], ['GET', '/status?code=204'],
              ['GET', '/status?code=304'], ['POST', '/status?code=204'], ['GET', '/echo/last']) {
    my ($m, $p) = @$step;
    my $x = http_request(port => $front, method => $m, path => $p, keep_alive => 1, sock => $sock,
                         timeout => 10, $m eq 'POST' ? (body => 'x' x 1000) : ());
    $sock = $x->{sock};
    my $want = $p =~ /code=(\d+)/ ? $1 : 200;
    push @ka_bad, "$m $p: status $x->{status}, complete $x->{complete}, body "
        . length($x->{body}) . ' bytes' . ($x->{rest} ? ', then ' . length($x->{rest}) . ' more' : '')
        unless $x->{status} == $want && $x->{complete} && !$x->{rest}
        && ($p eq '/echo/last' ? decode_json($x->{body}) : $x->{body} eq '')
        && hdr($x, 'X-Node') =~ /^tomcat/;
    push @ka_bad, "HEAD /big: Content-Length " . hdr($x, 'Content-Length')
        if $p eq '/big?mb=1' && hdr($x, 'Content-Length') ne $MB;
    last unless $sock;
}
is_deeply(\@ka_bad, [], 'HEAD, 204 and 304 come without a body: on one kept-alive connection, '
          . 'each answer ends where it should and the next one follows');

$r = req(path => '/echo/ws', headers => [Upgrade => 'websocket', Connection => 'Upgrade',
                                         'Sec-WebSocket-Key' => 'dGhlIHNhbXBsZSBub25jZQ==',
                                         'Sec-WebSocket-Version' => '13']);
is($r->{status}, 501, 'a WebSocket handshake is refused with 501 (AJP cannot carry it)');

# --- "..;" --------------------------------------------------------------------------------------

my @trick_bad;
for my $p ('/x/..;/echo/trick1', '/x/..;a=b/echo/trick2', '/x/%2e%2e;/echo/trick3',
           '/x/.%2E;/echo/trick4', '/x/.;/echo/trick5', '/..;/echo/trick6') {
    my $x = req(path => $p);
    push @trick_bad, "$p: " . describe($x) unless $x->{status} == 400;
}
is_deeply(\@trick_bad, [], 'a path segment Tomcat reads as . or .. after its ";" parameters '
          . '(..;  ..;a=b  %2e%2e;  .%2E;  .;) is refused with 400');
my $seen = join '', map { $cluster->access_log($_) } 1 .. 2;
unlike($seen, qr/trick/, '... none of them reached Tomcat (its access logs)');
$r = req(path => '/echo/x/../y');
is($r->{echo} && $r->{echo}{requestURI}, '/echo/y', 'a plain .. is resolved by nginx and passed');

# --- the end ----------------------------------------------------------------------------------

$t->finish;
my @left = $cluster->stop;
is_deeply(\@left, [], 'cluster.sh stop leaves no Tomcat running');
note sprintf 'the whole test took %.1f s', time - $T0;
done_testing;
