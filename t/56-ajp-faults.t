#!/usr/bin/perl
# ajp_pass when the container misbehaves (t/lib/AjpBackend.pm): a malformed,
# oversized or out-of-order packet is a 502 (or a cut answer once the header
# went out), never a hang or a crash; the connection is closed and the member
# goes to ERR (read failed) like a broken HTTP reply, so the session's next
# request fails over. No answer: 504 after ajp_read_timeout or the member's
# reply_timeout. A member speaking HTTP: 502 + ERR. CPing: ping_mode=C
# without a CPong is a failed connect (even a POST goes elsewhere); ping_mode=P
# pings before every request, C only on new connections. A wrong secret: 403
# and one error line. A POST whose body was partly sent is replayed only with
# non_idempotent.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::MD5 qw(md5_hex);
use Time::HiRes qw(sleep time);
use StickyTest qw(lb_properties header);
use StickyStatus qw(status_json worker);
use FailTest qw(transitions wait_for);
use AjpBackend qw(start_ajp_backend ajp_events ajp_requests http_raw ajp_echo);

my $t = StickyTest->new;
chmod 0755, $t->dir;    # nginx's workers (nobody under root) write request bodies in it
my $front = $t->port('front');
my %port = (
    bad    => start_ajp_backend($t, 'bad'),
    good   => start_ajp_backend($t, 'good'),
    web    => start_ajp_backend($t, 'web', http => 1),
    deaf   => start_ajp_backend($t, 'deaf', cping => 'never'),
    late   => start_ajp_backend($t, 'late', cping => 'late=1.5'),
    slowok => start_ajp_backend($t, 'slowok', cping => 'late=0.3'),
    pingp  => start_ajp_backend($t, 'pingp'),
    pingc  => start_ajp_backend($t, 'pingc'),
    sec    => start_ajp_backend($t, 'sec', secret => 'right'),
);

my @before = qw(bad_magic too_long unknown_type truncated_string body_before_headers);
my @after = qw(second_headers headers_then_junk close_mid_body bytes_after_end);

# upstream => [its first member and attributes, location directives]; the
# second member is always good. Each upstream has a zone of its own.
my %ups = (
    (map { $_ => [[bad => { port => $port{bad} }], ''] } @before, @after),
    hang      => [[bad => { port => $port{bad} }], 'ajp_read_timeout 1s; ajp_next_upstream off;'],
    rto       => [[bad => { port => $port{bad}, reply_timeout => 500 }],
                  'ajp_read_timeout 10s; ajp_next_upstream off;'],
    hangretry => [[bad => { port => $port{bad} }], 'ajp_read_timeout 1s;'],
    http      => [[web => { port => $port{web} }], ''],
    cping     => [[deaf => { port => $port{deaf}, ping_mode => 'C', ping_timeout => 500 }], ''],
    cpinglate => [[late => { port => $port{late}, ping_mode => 'C', ping_timeout => 500 }], ''],
    cpingslow => [[slowok => { port => $port{slowok}, ping_mode => 'C', ping_timeout => 2000 }], ''],
    post      => [[bad => { port => $port{bad} }], ''],
    postni    => [[bad => { port => $port{bad} }],
                  'ajp_next_upstream error timeout non_idempotent;'],
    getretry  => [[bad => { port => $port{bad} }], ''],
    secret    => [[sec => { port => $port{sec}, secret => 'wrong' }], ''],
);
my ($conf, $locations) = ('', '');
for my $name (sort keys %ups) {
    my ($member, $directives) = @{$ups{$name}};
    $t->write_file("$name.properties", lb_properties('cluster', { recover_time => 60 },
        $member, [good => { port => $port{good} }]));
    $conf .= "    upstream $name { sticky_workers $name.properties; keepalive 4; }\n";
    $locations .= "        location /$name/ { ajp_pass $name; $directives }\n";
}
for my $name (qw(pingp pingc)) {
    $t->write_file("$name.properties", lb_properties('cluster', {},
        [$name => { port => $port{$name}, ping_mode => $name eq 'pingp' ? 'P' : 'C' }]));
    $conf .= "    upstream $name { sticky_workers $name.properties; keepalive 4; }\n";
    $locations .= "        location /$name/ { ajp_pass $name; }\n";
}
$t->write_conf(<<"EOF");
$conf
    server {
        listen 127.0.0.1:$front;
        add_header X-Worker \$sticky_worker always;
$locations
        location /status { sticky_status; }
    }
EOF
$t->run($front);

sub get {
    my ($path, $route, %o) = @_;
    my $req = ($o{method} // 'GET') . " $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    $req .= "Cookie: JSESSIONID=S1.$route\r\n" if $route;
    $req .= defined $o{body} ? "Content-Length: " . length($o{body}) . "\r\n\r\n$o{body}" : "\r\n";
    return http_raw($front, $req);
}

sub state { my $w = worker(status_json($t, $front, '/status'), @_); $w ? $w->{state} : '?' }

# The health changes of one worker of one upstream since $off: "TO (cause)".
sub changes {
    my ($upstream, $worker, $off) = @_;
    return join ', ', map { "$_->{to} ($_->{cause})" }
        grep { $_->{upstream} eq $upstream && $_->{worker} eq $worker } transitions($t, $off);
}

# The serial of the connection that carried the request for $uri to $backend.
sub conn_of {
    my ($backend, $uri) = @_;
    my ($e) = grep { $_->{request}{uri} eq $uri } ajp_events($t, $backend, 'request');
    return $e ? $e->{serial} : undef;
}

sub closed_by_nginx {
    my ($backend, $serial) = @_;
    return defined $serial && wait_for(3, sub {
        grep { $_->{serial} == $serial } ajp_events($t, $backend, 'peer_closed') });
}

# --- malformed packets before the header: 502 ----------------------------------------

for my $kind (@before) {
    my $off = -s $t->error_log;
    my $r = get("/$kind/page?do=$kind", 'bad');
    is($r->{status}, 502, "$kind: 502");
    ok($r->{took} < 5, "$kind: at once, no hang") or diag "took $r->{took} s";
    ok(closed_by_nginx('bad', conn_of('bad', "/$kind/page")), "$kind: nginx closed the connection");
    wait_for(2, sub { changes($kind, 'bad', $off) });
    is(changes($kind, 'bad', $off), 'ERR (read failed)', "$kind: the member is ERR (read failed)");
    is(state($kind, 'bad'), 'ERR', "$kind: the status page says ERR");
    is(header(get("/$kind/next", 'bad'), 'X-Backend'), 'good', "$kind: the session's next request fails over");
}

# --- after the header went out: the answer is cut, the member judged the same ---------

# (nginx may not have flushed the header yet: then the client gets nothing)
for my $kind (qw(second_headers headers_then_junk close_mid_body)) {
    my $off = -s $t->error_log;
    my $r = get("/$kind/page?do=$kind", 'bad');
    ok($r->{status} == 200 || $r->{raw} eq '', "$kind: 200 or nothing, never another answer")
        or diag "status $r->{status}";
    ok(!$r->{complete}, "$kind: the answer is not complete (the client can tell)")
        or diag $r->{raw};
    ok($r->{took} < 5, "$kind: at once, no hang") or diag "took $r->{took} s";
    ok(closed_by_nginx('bad', conn_of('bad', "/$kind/page")), "$kind: nginx closed the connection")
        unless $kind eq 'close_mid_body';    # the backend closed it
    wait_for(2, sub { changes($kind, 'bad', $off) });
    is(changes($kind, 'bad', $off), 'ERR (read failed)', "$kind: the member is ERR (read failed)");
    is(header(get("/$kind/next", 'bad'), 'X-Backend'), 'good', "$kind: the session's next request fails over");
}

# A whole answer, then a stray packet after END_RESPONSE (reuse=1): the
# connection must never carry another request.
{
    my $kind = 'bytes_after_end';
    my $off = -s $t->error_log;
    my $r = get("/$kind/page?do=$kind", 'bad');
    ok($r->{status} == 200 || $r->{status} == 502, "$kind: 200 or 502, no hang")
        or diag "status $r->{status}";
    my $serial = conn_of('bad', "/$kind/page");
    ok(closed_by_nginx('bad', $serial), "$kind: nginx closed the connection");
    get("/$kind/next$_", 'bad') for 1 .. 3;
    is(scalar(grep { $_->{serial} == ($serial // -1) } ajp_events($t, 'bad', 'request')), 1,
       "$kind: the connection carried nothing more");
    diag "$kind: the client got $r->{status}, complete=$r->{complete}; the member: "
        . (changes($kind, 'bad', $off) || 'no change');
}

# --- no answer: 504 -------------------------------------------------------------------

my $off = -s $t->error_log;
my $r = get('/hang/page?do=hang', 'bad');
is($r->{status}, 504, 'no answer within ajp_read_timeout 1s: 504');
ok($r->{took} > 0.9 && $r->{took} < 4, '... after about 1 s') or diag "took $r->{took} s";
wait_for(2, sub { changes('hang', 'bad', $off) });
is(changes('hang', 'bad', $off), 'ERR (reply timeouts above max_reply_timeouts)',
   '... the member is ERR (reply timeout)');
is(header(get('/hang/next', 'bad'), 'X-Backend'), 'good', '... the next request fails over');

$off = -s $t->error_log;
$r = get('/rto/page?do=hang', 'bad');
is($r->{status}, 504, 'no answer within the member\'s reply_timeout=500: 504');
ok($r->{took} > 0.4 && $r->{took} < 3, '... after about 0.5 s, not ajp_read_timeout 10s')
    or diag "took $r->{took} s";
wait_for(2, sub { changes('rto', 'bad', $off) });
is(changes('rto', 'bad', $off), 'ERR (reply timeouts above max_reply_timeouts)',
   '... the member is ERR (reply timeout)');

$r = get('/hangretry/page?do.bad=hang', 'bad');
is(header($r, 'X-Backend'), 'good', 'a GET without an answer is retried on another member (error timeout)');
ok($r->{took} > 0.9 && $r->{took} < 4, '... after ajp_read_timeout') or diag "took $r->{took} s";

# --- a member that speaks HTTP ----------------------------------------------------------

$off = -s $t->error_log;
$r = get('/http/page', 'web');
is($r->{status}, 502, 'a member that answers in HTTP: 502');
ok($r->{took} < 5, '... at once') or diag "took $r->{took} s";
wait_for(2, sub { changes('http', 'web', $off) });
is(changes('http', 'web', $off), 'ERR (read failed)', '... the member is ERR (read failed)');
is(header(get('/http/next', 'web'), 'X-Backend'), 'good', '... the next request fails over');

# --- CPing -----------------------------------------------------------------------------

$off = -s $t->error_log;
my $body = join '', map { chr(($_ * 3) % 256) } 1 .. 20000;
$r = get('/cping/form', 'deaf', method => 'POST', body => $body);
is($r->{status}, 200, 'ping_mode=C, no CPong: the POST is answered');
is(header($r, 'X-Backend'), 'good', '... by another member, as after a failed connect');
my $echo = ajp_echo($r);
is($echo && $echo->{body}{md5}, md5_hex($body), '... with the whole body');
ok($r->{took} < 4, '... after ping_timeout 500 ms') or diag "took $r->{took} s";
ok(scalar(ajp_events($t, 'deaf', 'cping')), '... deaf got the CPing');
is(scalar(ajp_events($t, 'deaf', 'request')), 0, '... and never the request');
wait_for(2, sub { changes('cping', 'deaf', $off) });
is(changes('cping', 'deaf', $off), 'ERR (connect failed)', '... deaf is ERR (connect failed)');

$off = -s $t->error_log;
$r = get('/cpinglate/page', 'late');
is(header($r, 'X-Backend'), 'good', 'a CPong later than ping_timeout: another member answers');
ok($r->{took} < 1.4, '... without waiting for the CPong') or diag "took $r->{took} s";
wait_for(2, sub { changes('cpinglate', 'late', $off) });
is(changes('cpinglate', 'late', $off), 'ERR (connect failed)', '... late is ERR (connect failed)');
$r = get('/cpingslow/page', 'slowok');
is(header($r, 'X-Backend'), 'slowok', 'a CPong within ping_timeout: the member answers');

# Before every request (P) or only on new connections (C): the order of
# CPings and requests on each connection.
for my $name (qw(pingp pingc)) {
    for my $i (1 .. 12) {
        my $answer = get("/$name/r$i");
        ok(0, "$name: request $i: status $answer->{status}") unless $answer->{status} == 200;
    }
    my %seq;
    for (ajp_events($t, $name)) {
        $seq{$_->{serial}} .= $_->{ev} eq 'cping' ? 'C' : $_->{ev} eq 'request' ? 'R' : '';
    }
    my @conns = grep { $seq{$_} =~ /R/ } sort { $a <=> $b } keys %seq;
    ok(grep({ $seq{$_} =~ /R.*R/ } @conns), "$name: connections are reused")
        or diag explain \%seq;
    if ($name eq 'pingp') {
        ok(!grep({ $seq{$_} !~ /^(CR)+$/ } @conns), 'ping_mode=P: a CPing before every request')
            or diag explain \%seq;
    } else {
        ok(!grep({ $seq{$_} !~ /^CR+$/ } @conns), 'ping_mode=C: one CPing per new connection')
            or diag explain \%seq;
    }
}

# --- a wrong secret ------------------------------------------------------------------------

$off = -s $t->error_log;
$r = get('/secret/page', 'sec');
is($r->{status}, 403, 'a wrong secret: Tomcat\'s 403 reaches the client');
is(scalar(ajp_events($t, 'sec', 'secret_refused')), 1, '... the container refused it');
my @lines = grep { /\[error\]/ && /secret/ } split /\n/, $t->log_since($off);
is(scalar @lines, 1, '... one error line about the secret') or diag join "\n", @lines;
like($lines[0] // '', qr/"sec"/, '... naming the member');

# --- replay of a POST whose body was partly sent ---------------------------------------

$body = join '', map { chr(($_ * 5) % 256) } 1 .. 30000;
$r = get('/post/form?do.bad=close_early', 'bad', method => 'POST', body => $body);
is($r->{status}, 502, 'a POST cut after part of its body: 502, not replayed');
is(scalar(grep { $_->{uri} eq '/post/form' } ajp_requests($t, 'good')), 0,
   '... the other member never got it');
$r = get('/postni/form?do.bad=close_early', 'bad', method => 'POST', body => $body);
is(header($r, 'X-Backend'), 'good', 'with ajp_next_upstream non_idempotent: replayed on another member');
$echo = ajp_echo($r);
is($echo && $echo->{body}{md5}, md5_hex($body), '... with the whole body, from its start');
$r = get('/getretry/page?do.bad=close_early', 'bad');
is(header($r, 'X-Backend'), 'good', 'a GET cut the same way is replayed without it');

# --- no crash -------------------------------------------------------------------------------

ok($t->read_file('logs/error.log') !~ /exited on signal/, 'no worker process crashed');
for my $name (qw(good pingp pingc)) {
    my @errors = (ajp_events($t, $name, 'protocol_error'), ajp_events($t, $name, 'too_big'),
                  ajp_events($t, $name, 'not_ajp'));
    ok(!@errors, "$name: every packet nginx sent was valid AJP") or diag explain \@errors;
}

$t->finish;
done_testing;
