#!/usr/bin/perl
# sticky_status read_write: what a change must come with besides
# X-Sticky-Admin. A Host that names this server: DNS rebinding (a page on
# rebind.example whose name now resolves to this server sends Host and Origin
# rebind.example) is refused, while localhost on a loopback address, the
# address the connection came in on and every kind of server_name are
# accepted. A body typed exactly application/x-www-form-urlencoded
# (parameters allowed). And on the page, an ?upstream= that is empty or not
# %-encoded right is a 400, never the page of every upstream.

use strict;
use warnings;

# The test runs in a network namespace of its own, whose loopback interface
# also has 192.0.2.1 and 2001:db8::1 (addresses reserved for documentation;
# with a non-loopback IPv6 address, getaddrinfo() also resolves ::1), so
# that the rules about a non-loopback address and about IPv6 are tested on
# any machine. (unshare and ip: util-linux and iproute2; as root.)
BEGIN {
    unless ($ENV{STICKY_TEST_NETNS}) {
        $ENV{STICKY_TEST_NETNS} = 1;
        exec 'unshare', '--net', 'sh', '-ec',
             'ip link set lo up; sysctl -qw net.ipv6.conf.lo.disable_ipv6=0 || true; '
             . 'ip addr add 192.0.2.1/32 dev lo; '
             . 'ip -6 addr add 2001:db8::1/128 dev lo nodad; exec "$@"',
             'sh', $^X, $0, @ARGV;
        die "cannot run unshare: $!\n";
    }
}

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Socket::IP;
use StickyTest qw(lb_properties header);
use StickyStatus qw(status_json worker form_encode decode_json_or_diag);

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } qw(tomcat1 tomcat2);

# An address of this namespace that is not a loopback one, and IPv6's
# loopback (see the top).
my $outside = '192.0.2.1';
my $ipv6 = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1) ? 1 : 0;
ok($ipv6, "IPv6's loopback ::1 is there to be tested");

$t->write_file('workers.properties', lb_properties('cluster', {},
    map { [$_ => { port => $port{$_} }] } qw(tomcat1 tomcat2)));
my $listen = "        listen 127.0.0.1:$front;\n";
$listen .= "        listen $outside:$front;\n";
$listen .= "        listen [::1]:$front;\n" if $ipv6;
$t->write_conf(<<"EOF");
    upstream tomcats { sticky_workers workers.properties; }
    upstream others { sticky_workers workers.properties; }
    server {
$listen
        server_name admin.example *.ops.example .corp.example www.tail.*
                    "~^node[0-9]+\\.regex\\.example\$";
        location /status { sticky_status; }
        location /admin {
            sticky_status read_write;
            if (\$arg_in_if) { set \$in_if 1; }
        }
    }
EOF
$t->run($front);

# One request with exactly the Host given (undef: none), on $addr.
sub raw {
    my ($method, $path, $host, $body, %h) = @_;
    my $addr = delete $h{addr} // '127.0.0.1';
    my $req = "$method $path HTTP/1.0\r\n";
    $req .= "Host: $host\r\n" if defined $host;
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    $req .= "Content-Length: " . length($body) . "\r\n" if length $body;
    $req .= "\r\n$body";
    my $s = IO::Socket::IP->new(PeerHost => $addr, PeerPort => $front, Timeout => 5)
        or return { status => 0, headers => {}, body => '', raw => '' };
    print $s $req;
    local $/;
    my $raw = <$s> // '';
    my ($head, $rest) = split /\r\n\r\n/, $raw, 2;
    my ($status) = ($head // '') =~ m{^HTTP/\d\.\d (\d+)};
    return { status => $status // 0, body => $rest // '', raw => $raw };
}

# A change (drain tomcat2) with this Host, and the X-Sticky-Admin header.
sub drain {
    my ($host, %h) = @_;
    return raw('POST', '/admin', $host,
               form_encode(upstream => 'tomcats', worker => 'tomcat2', activation => 'D'),
               'X-Sticky-Admin' => 1,
               'Content-Type' => 'application/x-www-form-urlencoded', %h);
}

# Back to A through localhost, so that each case starts from A.
sub activate {
    raw('POST', '/admin', 'localhost',
        form_encode(upstream => 'tomcats', worker => 'tomcat2', activation => 'A'),
        'X-Sticky-Admin' => 1, 'Content-Type' => 'application/x-www-form-urlencoded');
}

sub activation { worker(status_json($t, $front, '/status'), 'tomcats', 'tomcat2')->{activation} }

# --- DNS rebinding ---------------------------------------------------------------------

my $offset = -s $t->error_log;
my $r = drain('rebind.example', Origin => 'http://rebind.example');
is($r->{status}, 403, 'DNS rebinding: Host and Origin rebind.example: 403');
like($r->{body}, qr{Host of this request does not name this server}, '... saying why');
is(activation(), 'A', '... and nothing changed');
like($t->log_since($offset),
     qr{\[info\].*change refused, Host "rebind\.example" does not name this server},
     '... logged with the Host');
is(drain('rebind.example:' . $front, Origin => "http://rebind.example:$front")->{status}, 403,
   'the same with the port: 403');
is(drain('rebind.example')->{status}, 403, 'a foreign Host without Origin: 403');
is(drain('admin.example.rebind.example')->{status}, 403,
   'a Host that only starts with a server_name: 403');
is(drain('ops.example')->{status}, 403, '"*.ops.example" does not take ops.example itself');
is(drain('node7.regex.example.evil')->{status}, 403, 'the regular expression is anchored');
is(drain('127.0.0.1:1')->{status}, 403, 'our address with another port: 403');
is(drain('127.0.0.2')->{status}, 403, 'another loopback address than ours: 403');
is(drain('local"host')->{status}, 403, 'a quote in the Host: 403');
like($t->log_since($offset), qr{Host "local\\x22host"}, '... escaped in the log');
is(activation(), 'A', 'none of them changed anything');

# --- what names this server -----------------------------------------------------------

my @accepted = (
    ['localhost', 'localhost on a loopback address'],
    ["localhost:$front", 'localhost with the port'],
    ['LocalHost.', 'in any case, with a final dot'],
    ['127.0.0.1', 'the address the connection came in on'],
    ["127.0.0.1:$front", '... with its port'],
    ['admin.example', 'an exact server_name'],
    ["admin.example:$front", '... with a port'],
    ['lb.ops.example', 'a "*.ops.example" server_name'],
    ['a.b.ops.example', '... any depth below it'],
    ['corp.example', 'a ".corp.example" server_name, itself'],
    ['x.corp.example', '... and below it'],
    ['www.tail.net', 'a "www.tail.*" server_name'],
    ['node7.regex.example', 'a regular expression server_name'],
);
for my $case (@accepted) {
    my ($host, $what) = @$case;
    $r = drain($host, Origin => "http://$host");
    is($r->{status}, 200, "accepted: $what ($host)") or diag $r->{body};
    activate();
}
is(drain(undef)->{status}, 200, 'no Host at all (HTTP/1.0, not a browser): accepted');
activate();

# an "if" block runs its location's handler with a configuration of its own
sub drain_in_if {
    my ($host) = @_;
    return raw('POST', '/admin?in_if=1', $host,
               form_encode(upstream => 'tomcats', worker => 'tomcat2', activation => 'D'),
               'X-Sticky-Admin' => 1,
               'Content-Type' => 'application/x-www-form-urlencoded');
}
is(drain_in_if('admin.example')->{status}, 200, 'inside an "if" block: a server_name is accepted');
activate();
is(drain_in_if('rebind.example')->{status}, 403, '... and a foreign Host refused');

$r = drain("$outside:$front", addr => $outside);
is($r->{status}, 200, "on $outside: Host $outside:$front is accepted");
activate();
is(drain($outside, addr => $outside)->{status}, 200, '... without the port too');
activate();
is(drain('localhost', addr => $outside)->{status}, 403,
   '... but localhost is not: the connection did not come in on a loopback');

is(drain("[::1]:$front", addr => '::1')->{status}, 200, 'IPv6: [::1] with the port');
activate();
is(drain('[0:0::1]', addr => '::1')->{status}, 200, '... written another way');
activate();
is(drain('[::2]', addr => '::1')->{status}, 403, '... another IPv6 address: 403');
is(activation(), 'A', 'back to A');

# --- the type of the body ---------------------------------------------------------------

my %types = (
    'application/x-www-form-urlencodedXYZ'        => 415,
    'application/x-www-form-urlencoded-evil'      => 415,
    'application/x-www-form-urlencoded, text/plain' => 415,
    'application/x-www-form'                      => 415,
    'text/plain'                                  => 415,
    'application/x-www-form-urlencoded'           => 200,
    'application/x-www-form-urlencoded; charset=UTF-8' => 200,
    'application/x-www-form-urlencoded;charset=utf-8'  => 200,
    'Application/X-WWW-Form-URLEncoded'           => 200,
);
for my $type (sort keys %types) {
    $r = raw('POST', '/admin', 'localhost',
             form_encode(upstream => 'tomcats', worker => 'tomcat2', activation => 'D'),
             'X-Sticky-Admin' => 1, 'Content-Type' => $type);
    is($r->{status}, $types{$type}, "Content-Type: $type: $types{$type}");
    activate();
}

# --- ?upstream= on the page -------------------------------------------------------------

for my $case (['%', 'a lone %'], ['%4', 'a cut %-escape'], ['%zz', 'not hex'],
              ['tom%zzcats', 'a bad escape inside'], ['', 'empty']) {
    my ($arg, $what) = @$case;
    $r = $t->get($front, "/status?upstream=$arg&format=json");
    is($r->{status}, 400, "?upstream=$arg ($what): 400");
    unlike($r->{body}, qr{"upstreams"}, '... and no page of every upstream');
}
like($t->get($front, '/status?upstream=%&format=json')->{body}, qr{invalid %-escape},
     'the answer says why');
$r = $t->get($front, '/status?upstream=tom%63ats&format=json');
is($r->{status}, 200, '?upstream=tom%63ats: decoded');
my $doc = decode_json_or_diag($r->{body});
is_deeply([map { $_->{name} } @{$doc->{upstreams}}], ['tomcats'], '... to tomcats only');
$r = $t->get($front, '/status?upstream=no%22pe%0a');
is($r->{status}, 404, 'an unknown upstream: 404');
like($r->{body}, qr{no upstream "no\\x22pe\\x0a" uses sticky_workers},
     '... its name escaped in the answer');

$t->finish;
done_testing;
