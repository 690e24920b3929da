#!/usr/bin/perl
# ajp_pass speaks AJP/1.3 as docs/ajp.md says: what a fake container
# (t/lib/AjpBackend.pm) decodes of each request, field by field, against what
# the client sent: method codes (WebDAV by code, others as stored_method),
# headers (coded or named, in order, Content-Length replaced by the real
# length), the URI (normalized or unparsed, `..;` refused), the query string,
# the client's address and port, the member's route, secret and live
# activation; ajp_param, ajp_remote_user, ajp_auth_type; bodies of every
# size in packets that fit the member's max_packet_size, read the way Tomcat
# reads them; ajp_buffering off passes a flush; kept-alive connections and
# END_RESPONSE's reuse flag; headers that do not fit a packet; WebSocket.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::MD5 qw(md5_hex);
use MIME::Base64 qw(encode_base64);
use List::Util qw(max sum);
use Time::HiRes qw(sleep time);
use StickyTest qw(lb_properties header);
use StickyStatus qw(status_json worker admin);
use FailTest qw(transitions wait_for);
use AjpBackend qw(start_ajp_backend ajp_events ajp_requests ajp_connections
                  http_raw ajp_echo);

my $t = StickyTest->new;
# nginx's worker processes (nobody, when the tests run as root) read
# htpasswd and write big request bodies into the temp directory
chmod 0755, $t->dir;
my $front = $t->port('front');
my %port = (
    n1  => start_ajp_backend($t, 'n1', secret => 'sekrit'),
    n2  => start_ajp_backend($t, 'n2', secret => 'lbsecret'),
    big => start_ajp_backend($t, 'big', packet_size => 16384),
);

# n1 has its own secret, n2 inherits the lb's.
$t->write_file('proto.properties', lb_properties('cluster', { secret => 'lbsecret' },
    [n1 => { port => $port{n1}, route => 'jvm1', secret => 'sekrit' }],
    [n2 => { port => $port{n2}, route => 'jvm2' }]));
$t->write_file('big.properties', lb_properties('cluster', {},
    [big => { port => $port{big}, max_packet_size => 16384 }]));
$t->write_file('htpasswd', "alice:{PLAIN}wonder\n");
$t->write_conf(<<"EOF");
    upstream proto { sticky_workers proto.properties; keepalive 4; }
    upstream big   { sticky_workers big.properties; keepalive 4; }
    server {
        listen 127.0.0.1:$front;
        add_header X-Worker \$sticky_worker always;
        location / { ajp_pass proto; }
        location /params/ {
            ajp_pass proto;
            ajp_param X_TEST "v-\$arg_x";
            ajp_param X_OPT \$arg_opt if_not_empty;
            ajp_param X_EMPTY \$arg_opt;
            ajp_param X_ADDR \$remote_addr;
        }
        location /auth/ {
            auth_basic staff;
            auth_basic_user_file htpasswd;
            ajp_pass proto;
            ajp_remote_user \$remote_user;
        }
        location /authtype/ {
            auth_basic staff;
            auth_basic_user_file htpasswd;
            ajp_pass proto;
            ajp_remote_user \$remote_user;
            ajp_auth_type SPNEGO;
        }
        location /unparsed/ { ajp_pass proto; ajp_forward_uri unparsed; }
        location /stream/ { ajp_pass proto; ajp_buffering off; }
        location /big/ { ajp_pass big; }
        location /status { sticky_status; }
        location /admin { sticky_status read_write; }
    }
EOF
$t->run($front);

# One request written byte by byte: method, path, headers in order (a list of
# pairs; Host first unless `host` is undef), body with a Content-Length or
# chunked. Returns http_raw's answer with `echo`, the request the backend
# decoded (undef if it did not answer with one).
sub send_req {
    my (%o) = @_;
    my $version = $o{version} // '1.0';
    my @h = ((exists $o{host} && !defined $o{host}) ? () : (Host => $o{host} // 'localhost'),
             @{$o{headers} || []});
    my $req = ($o{method} // 'GET') . " $o{path} HTTP/$version\r\n";
    while (my ($k, $v) = splice @h, 0, 2) { $req .= "$k: $v\r\n" }
    $req .= "Connection: close\r\n" if $version eq '1.1' && !$o{keep};
    if (!defined $o{body}) {
        $req .= "\r\n";
    } elsif ($o{chunked}) {
        $req .= "Transfer-Encoding: chunked\r\n\r\n";
        for (my $off = 0; $off < length $o{body}; $off += $o{chunked}) {
            my $piece = substr($o{body}, $off, $o{chunked});
            $req .= sprintf("%x\r\n", length $piece) . "$piece\r\n";
        }
        $req .= "0\r\n\r\n";
    } else {
        $req .= "Content-Length: " . length($o{body}) . "\r\n\r\n$o{body}";
    }
    my $r = http_raw($front, $req);
    my $doc = ajp_echo($r);
    $r->{echo} = $doc;
    $r->{req} = $doc ? $doc->{request} : {};
    return $r;
}

sub cookie { (Cookie => "JSESSIONID=S$_[0].$_[1]") }
sub names { join ' ', map { $_->[0] } @{$_[0]} }
sub w { worker(status_json($t, $front, '/status'), 'proto', $_[0]) }
sub seen_uri { my ($name, $uri) = @_; scalar grep { $_->{uri} eq $uri } ajp_requests($t, $name) }

# --- one GET, every field ---------------------------------------------------------

my @sent = (
    Accept => 'text/html', 'Accept-Charset' => 'utf-8', 'Accept-Encoding' => 'gzip',
    'Accept-Language' => 'fr', Authorization => 'Bearer tok', Connection => 'close',
    'Content-Type' => 'text/plain', Cookie => 'JSESSIONID=S1.jvm1; other=1',
    Cookie2 => '$Version=1', Pragma => 'no-cache', Referer => 'http://ref.example/',
    'User-Agent' => 'ajp-test/1.0', 'X-Custom-Header' => 'Some  Value',
    'x-lower' => 'v2', 'X-Custom-Header' => 'second',
);
my $r = send_req(path => '/app/page?a=1&b=x%20y&c', host => 'app.example', headers => \@sent);
is($r->{status}, 200, 'GET: 200 through ajp_pass');
is(header($r, 'X-Backend'), 'n1', '... from the member of the route jvm1');
is(header($r, 'X-Worker'), 'n1', '... $sticky_worker says n1');
my $q = $r->{req};
is($q->{method}, 'GET', 'method GET');
is($q->{method_code}, 2, '... as code 2');
is($q->{protocol}, 'HTTP/1.0', 'protocol: the request line\'s');
is($q->{uri}, '/app/page', 'uri: the path without the query');
is($q->{attr}{query_string}, 'a=1&b=x%20y&c', 'query_string as it came');
is($q->{remote_addr}, '127.0.0.1', 'remote_addr: the client');
is($q->{remote_host}, '127.0.0.1', 'remote_host: the client address');
is($q->{server_name}, 'app.example', 'server_name: the request\'s host');
is($q->{server_port}, $front, 'server_port: the port the request came to');
is($q->{is_ssl}, 0, 'is_ssl false over plain HTTP');
is($q->{attr}{'req_attribute:AJP_REMOTE_PORT'}, $r->{local_port}, 'AJP_REMOTE_PORT: the client\'s port');
is($q->{attr}{'req_attribute:AJP_LOCAL_ADDR'}, '127.0.0.1', 'AJP_LOCAL_ADDR: the address the request came to');
is($q->{attr}{route}, 'jvm1', 'route: the member\'s route (jvmRoute)');
is($q->{attr}{secret}, 'sekrit', 'secret: the member\'s own');
is($q->{attr}{'req_attribute:JK_LB_ACTIVATION'}, 'ACT', 'JK_LB_ACTIVATION: ACT');
is_deeply([@{$q->{order}}[-3 .. -1]], [qw(route secret req_attribute:JK_LB_ACTIVATION)],
          'route, secret and JK_LB_ACTIVATION are the last attributes')
    or diag explain $q->{order};
is_deeply([sort @{$q->{order}}],
          [sort qw(query_string req_attribute:AJP_REMOTE_PORT req_attribute:AJP_LOCAL_ADDR
                   route secret req_attribute:JK_LB_ACTIVATION)],
          'no other attribute (no remote_user, auth_type, ssl_*, stored_method)')
    or diag explain $q->{order};

my @want;
{
    my %coded = map { $_ => 1 } qw(accept accept-charset accept-encoding accept-language
        authorization connection content-type cookie cookie2 host pragma referer user-agent);
    my @h = (Host => 'app.example', @sent);
    while (my ($k, $v) = splice @h, 0, 2) {
        push @want, $coded{lc $k} ? [lc $k, $v, 1] : [$k, $v, 0];
    }
}
is_deeply($q->{headers}, \@want,
          'headers: in order, known names by code, others by name as spelled, values as sent')
    or diag explain $q->{headers};
ok(!exists $q->{header}{'content-length'}, 'GET: no Content-Length');

$r = send_req(path => '/app/two', headers => [cookie(2, 'jvm2')]);
is(header($r, 'X-Backend'), 'n2', 'the session of jvm2 goes to n2');
is($r->{req}{attr}{route}, 'jvm2', '... route jvm2');
is($r->{req}{attr}{secret}, 'lbsecret', '... secret: the lb worker\'s, n2 has none of its own');
ok(!exists $r->{req}{attr}{query_string}, 'no query: no query_string attribute');

# --- methods -----------------------------------------------------------------------

my @codes = (OPTIONS => 1, GET => 2, POST => 4, PUT => 5, DELETE => 6,
    PROPFIND => 8, PROPPATCH => 9, MKCOL => 10, COPY => 11, MOVE => 12, LOCK => 13,
    UNLOCK => 14, ACL => 15, REPORT => 16, 'VERSION-CONTROL' => 17, CHECKIN => 18,
    CHECKOUT => 19, UNCHECKOUT => 20, SEARCH => 21, MKWORKSPACE => 22, UPDATE => 23,
    LABEL => 24, MERGE => 25, 'BASELINE-CONTROL' => 26, MKACTIVITY => 27);
my @bad;
while (my ($m, $code) = splice @codes, 0, 2) {
    $r = send_req(method => $m, path => "/app/method/$m");
    push @bad, "$m: status $r->{status}, method " . ($r->{req}{method} // '-')
        . ' code ' . ($r->{req}{method_code} // '-')
        unless $r->{status} == 200 && ($r->{req}{method} // '') eq $m
            && $r->{req}{method_code} == $code && !exists $r->{req}{attr}{stored_method};
}
is_deeply(\@bad, [], 'OPTIONS, GET, POST, PUT, DELETE and the 20 WebDAV methods travel by code');

$r = send_req(method => 'HEAD', path => '/app/method/HEAD');
is($r->{status}, 200, 'HEAD: 200');
my ($head) = grep { $_->{uri} eq '/app/method/HEAD' } ajp_requests($t, 'n1'), ajp_requests($t, 'n2');
is($head && $head->{method_code}, 3, '... sent with code 3');

for my $m (qw(FROBNICATE PATCH)) {
    $r = send_req(method => $m, path => "/app/method/$m");
    is($r->{status}, 200, "$m: 200");
    is($r->{req}{method_code}, 255, "... as code 0xFF (SC_M_JK_STORED)");
    is($r->{req}{attr}{stored_method}, $m, "... with stored_method $m");
}

# --- ajp_param ----------------------------------------------------------------------

$r = send_req(path => '/params/p?x=1', headers => [cookie(3, 'jvm1')]);
is($r->{status}, 200, 'ajp_param location: 200');
my $a = $r->{req}{attr};
is($a->{'req_attribute:X_TEST'}, 'v-1', 'ajp_param with a variable');
is($a->{'req_attribute:X_ADDR'}, '127.0.0.1', 'ajp_param $remote_addr');
ok(!exists $a->{'req_attribute:X_OPT'}, 'if_not_empty: an empty value is not sent');
ok(exists $a->{'req_attribute:X_EMPTY'} && $a->{'req_attribute:X_EMPTY'} eq '',
   'without if_not_empty: sent empty');
is_deeply([@{$r->{req}{order}}[-3 .. -1]], [qw(route secret req_attribute:JK_LB_ACTIVATION)],
          '... still before route, secret, JK_LB_ACTIVATION');
$r = send_req(path => '/params/p?x=2&opt=zz', headers => [cookie(3, 'jvm1')]);
is($r->{req}{attr}{'req_attribute:X_OPT'}, 'zz', 'if_not_empty: a value is sent');

# --- the user: only what nginx authenticated -------------------------------------------

my $basic = 'Basic ' . encode_base64('alice:wonder', '');
$r = send_req(path => '/auth/page');
is($r->{status}, 401, 'auth_basic without credentials: 401');
is(seen_uri('n1', '/auth/page') + seen_uri('n2', '/auth/page'), 0, '... nothing sent to Tomcat');
$r = send_req(path => '/auth/page', headers => [Authorization => $basic]);
is($r->{status}, 200, 'auth_basic with credentials: 200');
is($r->{req}{attr}{remote_user}, 'alice', 'ajp_remote_user $remote_user: remote_user alice');
is($r->{req}{attr}{auth_type}, 'Basic', '... auth_type Basic by default');
$r = send_req(path => '/authtype/page', headers => [Authorization => $basic]);
is($r->{req}{attr}{auth_type}, 'SPNEGO', 'ajp_auth_type SPNEGO');
$r = send_req(path => '/app/user', headers => [
    Authorization => 'Basic ' . encode_base64('mallory:x', ''),
    'Remote-User' => 'mallory', REMOTE_USER => 'mallory', 'X-Remote-User' => 'mallory']);
is($r->{status}, 200, 'a client claiming a user where nginx authenticates none: 200');
ok(!exists $r->{req}{attr}{remote_user} && !exists $r->{req}{attr}{auth_type},
   '... no remote_user, no auth_type sent')
    or diag explain $r->{req}{attributes};

# --- bodies -------------------------------------------------------------------------

my $data = join '', map { chr(($_ * 31 + ($_ >> 8)) % 256) } 1 .. 30000;
$r = send_req(method => 'POST', path => '/app/upload', body => $data, headers => [cookie(4, 'jvm1')]);
my $b = $r->{echo} ? $r->{echo}{body} : {};
is($r->{status}, 200, 'POST 30000 bytes: 200');
is($b->{md5}, md5_hex($data), '... the body arrived whole');
is($r->{req}{header}{'content-length'}, '30000', '... Content-Length: its length, by code');
ok(!grep({ lc($_->[0]) eq 'transfer-encoding' } @{$r->{req}{headers}}), '... no Transfer-Encoding');
ok(@{$b->{packets} || []} >= 4, '... in several packets') or diag explain $b;
ok(max(@{$b->{packet_sizes} || [0]}) <= 8192, '... none over max_packet_size 8192')
    or diag explain $b->{packet_sizes};
is(($b->{asked} || [])->[0], 0, '... the first packet right after the request, unasked');

$data = join '', map { chr(($_ * 7) % 251) } 1 .. 50000;
$r = send_req(method => 'POST', path => '/app/chunked', version => '1.1', chunked => 3000,
              body => $data, headers => [cookie(4, 'jvm1')]);
is($r->{status}, 200, 'a chunked POST of 50000 bytes: 200');
is($r->{echo} && $r->{echo}{body}{md5}, md5_hex($data), '... the body arrived whole');
is($r->{req}{header}{'content-length'}, '50000', '... with a Content-Length of its real length');
ok(!grep({ lc($_->[0]) eq 'transfer-encoding' } @{$r->{req}{headers}}), '... and no Transfer-Encoding');

$r = send_req(method => 'POST', path => '/app/asked?ask=1000', body => $data,
              headers => [cookie(4, 'jvm1')]);
$b = $r->{echo} ? $r->{echo}{body} : {};
is($b->{md5}, md5_hex($data), 'GET_BODY_CHUNK asking 1000 bytes: the body arrives whole');
my @later = @{$b->{packets} || []}[1 .. $#{$b->{packets} || []}];
ok(@later && max(@later) <= 1000, '... each packet no bigger than asked')
    or diag explain $b->{packets};

$r = send_req(method => 'POST', path => '/app/late?do=after_headers', body => $data,
              headers => [cookie(4, 'jvm1')]);
is($r->{status}, 200, 'GET_BODY_CHUNK after SEND_HEADERS: 200');
is($r->{echo} && $r->{echo}{body}{md5}, md5_hex($data), '... the body arrived whole');

$r = send_req(method => 'POST', path => '/app/empty', body => '', headers => [cookie(4, 'jvm1')]);
is($r->{status}, 200, 'a POST with an empty body: 200');
is($r->{echo} && $r->{echo}{body}{length}, 0, '... no body read');

$data = join '', map { chr(($_ * 13) % 256) } 1 .. 100000;
$r = send_req(method => 'POST', path => '/big/upload', body => $data);
$b = $r->{echo} ? $r->{echo}{body} : {};
is($b->{md5}, md5_hex($data), 'max_packet_size=16384: a POST of 100000 bytes arrives whole');
ok(max(@{$b->{packet_sizes} || [0]}) <= 16384, '... no packet over 16384')
    or diag explain $b->{packet_sizes};
ok(max(@{$b->{packet_sizes} || [0]}) > 8192, '... packets bigger than 8192 are used')
    or diag explain $b->{packet_sizes};

# --- answers of many packets ----------------------------------------------------------------

for my $where ('app', 'stream', 'big') {
    $r = send_req(path => "/$where/bytes?do=bytes&size=300000", headers => [cookie(5, 'jvm1')]);
    is($r->{status}, 200, "/$where/: an answer of 300000 bytes: 200");
    ok($r->{body} eq AjpBackend::pattern(300000), '... every byte of it, in order')
        or diag 'got ' . length($r->{body}) . ' bytes';
}

# --- ajp_buffering off: Tomcat's flush reaches the client -------------------------------

$r = send_req(path => '/stream/x?do=flush_delay&delay=2', headers => [cookie(5, 'jvm1')]);
is($r->{body}, "first\nsecond\n", 'ajp_buffering off: the whole body');
my ($first_at) = map { $_->[0] } grep { substr($r->{raw}, 0, $_->[1]) =~ /first\n/ } @{$r->{arrivals}};
ok(defined $first_at && $first_at < 1.5, 'ajp_buffering off: the flushed chunk reaches the client at once')
    or diag "first chunk after " . ($first_at // 'never') . " s";
ok($r->{took} >= 1.9, '... before the rest, 2 s later') or diag "took $r->{took}";

# --- keepalive ----------------------------------------------------------------------

my %conns;
for my $i (1 .. 30) {
    $r = send_req(path => "/app/ka$i", headers => [cookie(6, 'jvm1')]);
    $conns{$r->{echo}{conn}} = max($conns{$r->{echo}{conn}} // 0, $r->{echo}{conn_request})
        if $r->{echo};
}
ok(keys %conns && keys %conns <= 4, 'keepalive 4: 30 requests on at most 4 connections')
    or diag explain \%conns;
ok(max(values %conns) >= 8, '... many requests on one connection') or diag explain \%conns;

my @noreuse;
for my $i (1 .. 6) {
    $r = send_req(path => "/app/noreuse$i?reuse=0", headers => [cookie(6, 'jvm1')]);
    push @noreuse, $r->{echo}{conn} if $r->{echo};
}
my %distinct = map { $_ => 1 } @noreuse;
is(scalar keys %distinct, 6, 'END_RESPONSE reuse=0: every next request on a new connection')
    or diag "connections: @noreuse";
$r = send_req(path => '/app/after-noreuse', headers => [cookie(6, 'jvm1')]);
ok($r->{echo} && !$distinct{$r->{echo}{conn}}, '... and a connection with reuse=0 is never used again');
ok(wait_for(3, sub { my %closed = map { $_->{serial} => 1 } ajp_events($t, 'n1', 'peer_closed');
                     !grep { !$closed{$_} } @noreuse }),
   '... nginx closed each of them');

# --- the URI ------------------------------------------------------------------------

$r = send_req(path => '/app/x/../b/%41bc%20d');
is($r->{status}, 200, 'a path with dot segments and escapes: 200');
is($r->{req}{uri}, '/app/b/Abc%20d', 'normalized: decoded, dots resolved, re-encoded');
$r = send_req(path => '/unparsed/x/../b/%41bc%20d?q=1');
is($r->{req}{uri}, '/unparsed/x/../b/%41bc%20d', 'ajp_forward_uri unparsed: the path as it came');
is($r->{req}{attr}{query_string}, 'q=1', '... the query apart');
$r = send_req(path => '/app/doc;jsessionid=S7.jvm2');
is($r->{status}, 200, 'a path parameter: 200');
is(header($r, 'X-Backend'), 'n2', '... ;jsessionid routes to its member');
is($r->{req}{uri}, '/app/doc;jsessionid=S7.jvm2', '... and is sent to Tomcat');
for my $path ('/app/..;/manager/html', '/app/%2e%2e;x/manager/html', '/app/.;a/x', '/app/x/..;/y') {
    $r = send_req(path => $path);
    is($r->{status}, 400, "$path: 400");
}
is(scalar(grep { $_->{uri} =~ /manager|;a|\.\.;/ } ajp_requests($t, 'n1'), ajp_requests($t, 'n2')), 0,
   '... none reached Tomcat');

# --- headers that do not fit a packet -------------------------------------------------

my $off = -s $t->error_log;
my @fat = map { ("X-Fat-$_" => 'f' x 3000) } 1 .. 3;
$r = send_req(path => '/app/fat', headers => [cookie(8, 'jvm1'), @fat]);
is($r->{status}, 400, 'headers over max_packet_size 8192: 400');
like($t->log_since($off), qr/\[error\].*max_packet_size/, '... error.log names max_packet_size');
is(seen_uri('n1', '/app/fat'), 0, '... nothing sent');
is(scalar(grep { $_->{to} =~ /^ERR/ } transitions($t, $off)), 0, '... the member is not judged');
like(w('n1')->{state}, qr/^OK/, '... n1 is still OK');
$r = send_req(path => '/app/after-fat', headers => [cookie(8, 'jvm1')]);
is(header($r, 'X-Backend'), 'n1', '... and serves the next request');
$r = send_req(path => '/big/fat', headers => [@fat]);
is($r->{status}, 200, 'the same headers fit max_packet_size 16384: 200');
ok(max($r->{req}{packet_size} // 0) > 8192, '... in one packet over 8192 bytes');

# --- WebSocket ----------------------------------------------------------------------

$r = send_req(path => '/app/ws', version => '1.1', keep => 1, headers => [
    Upgrade => 'websocket', Connection => 'Upgrade', 'Sec-WebSocket-Version' => 13,
    'Sec-WebSocket-Key' => 'dGhlIHNhbXBsZSBub25jZQ==']);
is($r->{status}, 501, 'a WebSocket handshake: 501');
is(seen_uri('n1', '/app/ws') + seen_uri('n2', '/app/ws'), 0, '... not sent to Tomcat');

# --- JK_LB_ACTIVATION follows the status page -------------------------------------------

sub act { admin($t, $front, '/admin', upstream => 'proto', worker => $_[0], activation => $_[1]) }
is(act('n1', 'D')->{status}, 200, 'the status page disables n1');
$r = send_req(path => '/app/drained', headers => [cookie(9, 'jvm1')]);
is(header($r, 'X-Backend'), 'n1', 'disabled n1 still takes its own session');
is($r->{req}{attr}{'req_attribute:JK_LB_ACTIVATION'}, 'DIS', '... with JK_LB_ACTIVATION DIS');
is(act('n1', 'S')->{status}, 200, 'the status page stops n1');
$r = send_req(path => '/app/stopped', headers => [cookie(9, 'jvm1')]);
is(header($r, 'X-Backend'), 'n2', 'stopped n1 takes nothing: its session goes to n2');
is($r->{req}{attr}{'req_attribute:JK_LB_ACTIVATION'}, 'ACT', '... which is ACT');
is(seen_uri('n1', '/app/stopped'), 0, '... n1 gets nothing');
is(act('n1', 'A')->{status}, 200, 'the status page activates n1 again');
$r = send_req(path => '/app/active', headers => [cookie(9, 'jvm1')]);
is($r->{req}{attr}{'req_attribute:JK_LB_ACTIVATION'}, 'ACT', 'n1 active again: ACT');

# --- the backends saw nothing they could not read ---------------------------------------

for my $name (sort keys %port) {
    my @errors = (ajp_events($t, $name, 'protocol_error'), ajp_events($t, $name, 'too_big'),
                  ajp_events($t, $name, 'not_ajp'), ajp_events($t, $name, 'read_timeout'));
    ok(!@errors, "$name: every packet nginx sent was valid AJP") or diag explain \@errors;
}

$t->finish;
done_testing;
