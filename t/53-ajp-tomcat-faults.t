#!/usr/bin/perl
# Tomcat failing under `ajp_pass`: three real Tomcat 10 nodes (AJP
# connectors with a secret and packetSize=65536) behind nginx with the
# workers.properties cluster.sh writes. What a user sees:
#
#   1. a node killed (-9) in the middle of an answer, buffered and
#      unbuffered: the client gets a truncated answer or a clean error,
#      never a hang; the member goes to ERR (error.log and the status page);
#      the next requests, its sessions included, are answered by the others;
#   2. a wrong secret for one member in workers.properties: Tomcat answers
#      403, nginx logs one error line naming the member and the secret; the
#      other members answer as usual, and the member's connection closed
#      by Tomcat is not used again;
#   3. `error_page 502 503 = @retry` with a location that also uses
#      ajp_pass: a POST the first upstream could not take, or answered 502
#      after reading it, is sent again by @retry with its body intact, small
#      (in memory) and large (in a temp file).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::MD5 qw(md5 md5_hex);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use StickyTest qw(session_id free_port);
use StickyStatus qw(status_json worker admin);
use TomcatTest qw(front_conf http_request decode_json hdr wait_until);

my $T0 = time;
my $t = StickyTest->new;
TomcatTest::open_for_workers($t);    # request bodies in temp files
my $front = $t->port('front');

my $SECRET = 'faults-' . substr(md5_hex("$$ " . time), 0, 16);
my $cluster = TomcatTest::Cluster->start($t->dir . '/cluster', nodes => 3, ajp_secret => $SECRET,
                                         packet_size => 65536, ajp_attributes => 'X_[A-Z_]+');
note sprintf 'cluster up in %.1f s', $cluster->start_seconds;
my @nodes = map { $cluster->route($_) } 1 .. 3;
my $workers = $cluster->workers(ajp => 1);
$t->write_file('workers.properties', $workers);    # recover_time: mod_jk's 60 s

# The same file, tomcat3's secret wrong.
(my $bad = $workers) =~ s/^(worker\.tomcat3\.secret)=.*$/$1=not-the-secret/m
    or BAIL_OUT('no secret for tomcat3 in the workers file');
$t->write_file('badsecret.properties', $bad);
# A member nobody listens on: every attempt is refused.
my $dead_port = free_port();
$t->write_file('dead.properties', StickyTest::lb_properties('deadlb', {},
    [dead => { port => $dead_port, secret => $SECRET, max_packet_size => 65536 }]));

$t->write_conf(front_conf($front, <<'EOF', ajp => 1, upstream => "        keepalive 8;\n", http => <<'EOF2'));
        client_max_body_size 16m;
        location /stream/unbuffered/ {
            ajp_pass tomcats;
            ajp_buffering off;
        }
        location /echo/badsecret/ {
            ajp_pass badsecret;
        }
        location /echo/dead/ {
            ajp_pass dead;
            error_page 502 503 504 = @retry;
        }
        location /echo/fails/ {
            ajp_pass tomcats;
            ajp_intercept_errors on;
            error_page 502 = @retry;
        }
        location @retry {
            ajp_pass tomcats;
            ajp_param X_RETRIED "$request_method $uri";
        }
        location = /sticky-status {
            sticky_status read_write;
        }
EOF
    upstream badsecret {
        sticky_workers badsecret.properties;
        keepalive 8;
    }
    upstream dead {
        sticky_workers dead.properties;
    }
EOF2
$t->run($front);

sub describe {
    my ($r) = @_;
    my $b = $r->{body} // '';
    $b = substr($b, 0, 200) . '...' if length $b > 200;
    return "status $r->{status} worker " . hdr($r, 'X-Worker') . " complete $r->{complete} "
        . "timed_out $r->{timed_out} length $r->{length} body $b";
}

sub state_of {
    my ($upstream, $name) = @_;
    my $w = worker(status_json($t, $front, '/sticky-status'), $upstream, $name);
    return $w ? $w->{state} : '';
}

# --- 1. a node killed in the middle of an answer -----------------------------------------------

# Starts GET $path (a 30 s stream); returns the socket once the head is in
# and, if $first_chunk, the first chunk too (10 s at most), with what came.
sub start_stream {
    my ($path, $first_chunk) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $front, Proto => 'tcp')
        or die "connect: $!";
    print $s "GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    my $sel = IO::Select->new($s);
    my ($got, $deadline) = ('', time + 10);
    my $want = $first_chunk ? qr/\r\n\r\n[0-9a-f]+\r\nchunk 1 / : qr/\r\n\r\n/;
    while (time < $deadline && $got !~ $want) {
        last unless $sel->can_read($deadline - time);
        sysread($s, my $buf, 65536) or last;
        $got .= $buf;
    }
    return ($s, $got);
}

# Reads until the server closes (or $seconds pass); (what came, closed?).
sub read_rest {
    my ($s, $seconds) = @_;
    my $sel = IO::Select->new($s);
    my ($got, $deadline) = ('', time + $seconds);
    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread($s, my $buf, 65536);
        return ($got, 1) unless $n;
        $got .= $buf;
    }
    return ($got, 0);
}

for my $case (['unbuffered', '/stream/unbuffered/kill?chunks=120&delay=250', 1],
              ['buffered', '/stream?chunks=120&delay=250', 0]) {
    my ($mode, $path, $first_chunk) = @$case;
    my $log0 = -s $t->error_log;
    my ($s, $head) = start_stream($path, $first_chunk);
    my ($node) = $head =~ /^X-Worker: (\S+)\r$/m;
    like($head, $first_chunk ? qr/^HTTP\/1\.1 200 .*\r\n\r\n[0-9a-f]+\r\nchunk 1 of 120/s
                             : qr/^HTTP\/1\.1 200 .*\r\n\r\n/s,
         "$mode: a 30 s stream started (chunked)" . ($first_chunk ? ', its first chunk arrived' : ''))
        or do { diag $head; next };
    my $n = $cluster->node_of($node // '');
    ok($n, "$mode: answered by $node");
    next unless $n;
    my $t_kill = time;
    $cluster->kill($n);
    my ($rest, $closed) = read_rest($s, 15);
    close $s;
    my $waited = time - $t_kill;
    ok($closed, sprintf("$mode: after the kill nginx closed the client's connection (%.1f s), no hang",
                        $waited));
    unlike($head . $rest, qr/\r\n0\r\n\r\n$/, "$mode: ... without the last chunk: the client can tell "
           . 'the answer is truncated');
    my $last = ($head . $rest) =~ /.*chunk (\d+) of 120/s ? $1 : 0;
    ok($last < 120, "$mode: ... after chunk $last of 120");
    my $w = wait_until(5, sub { state_of('tomcats', $node) =~ /^ERR/ });
    ok($w, "$mode: status page: $node is in error") or diag state_of('tomcats', $node);
    like($t->log_since($log0), qr/worker "\Q$node\E" is now ERR \(read failed/,
         "$mode: error.log: $node is now ERR (read failed)");

    my (%who, @bad);
    for my $i (1 .. 6) {
        my $r = http_request(port => $front, path => "/echo/after-kill$i", timeout => 10);
        push @bad, "new $i: " . describe($r) unless $r->{status} == 200;
        $who{hdr($r, 'X-Worker')}++;
        my $sid = session_id("victim $mode $i", $node);
        $r = http_request(port => $front, path => "/echo/after-kill-sticky$i", timeout => 10,
                          headers => [Cookie => "JSESSIONID=$sid"]);
        push @bad, "session of $node $i: " . describe($r)
            unless $r->{status} == 200 && hdr($r, 'X-Route-Changed') eq '1';
        $who{hdr($r, 'X-Worker')}++;
    }
    is_deeply(\@bad, [], "$mode: the next 12 requests, 6 of $node\'s sessions among them, are answered 200");
    ok(!$who{$node}, "$mode: ... none by $node") or diag explain \%who;

    # Back for the next case: restarted, and recovered now (recover_time is
    # 60 s) as an admin does on the status page.
    $cluster->restart($n);
    my $rec = admin($t, $front, '/sticky-status', upstream => 'tomcats', worker => $node,
                    action => 'recover');
    is($rec->{status}, 200, "$mode: $node restarted, recovered on the status page") or diag $rec->{body};
    my $back = wait_until(10, sub {
        my $r = http_request(port => $front, path => '/echo/probe', timeout => 5,
                             headers => [Cookie => 'JSESSIONID=' . session_id("back $mode", $node)]);
        hdr($r, 'X-Worker') eq $node && $r->{status} == 200;
    }, 0.2);
    ok($back, "$mode: $node serves its sessions again");
}

# --- 2. a wrong secret for one member --------------------------------------------------------------

my $log0 = -s $t->error_log;
my $sid3 = session_id('secret', 'tomcat3');
my $r = http_request(port => $front, path => '/echo/badsecret/x', headers => [Cookie => "JSESSIONID=$sid3"]);
is($r->{status}, 403, 'wrong secret: a request for tomcat3 is answered 403 by Tomcat');
is(hdr($r, 'X-Worker'), 'tomcat3', '... by tomcat3');
# The line is written when the exchange ends (END_RESPONSE), which may come
# just after the client has the whole 403.
my ($secret_log, @lines);
wait_until(5, sub {
    $secret_log = $t->log_since($log0);
    @lines = grep { /\[error\]/ } split /\n/, $secret_log;
    @lines > 0;
}, 0.1);
is(scalar @lines, 1, 'error.log: one error line')
    or diag "the 403: Content-Type " . hdr($r, 'Content-Type') . ', Content-Length '
        . hdr($r, 'Content-Length') . ', body ' . substr($r->{body}, 0, 120)
        . "\nerror.log meanwhile:\n$secret_log";
like($lines[0] // '', qr/tomcat3/, '... naming the member');
like($lines[0] // '', qr/secret/, '... and the secret');
unlike($lines[0] // '', qr/\Q$SECRET\E|not-the-secret/, '... without writing the secret itself');
my (@second);
for my $i (1 .. 3) {
    my $x = http_request(port => $front, path => "/echo/badsecret/again$i", headers => [Cookie => "JSESSIONID=$sid3"]);
    push @second, $x->{status};
}
is_deeply(\@second, [403, 403, 403], 'the next requests for tomcat3: 403 again (not 502: the connection '
          . 'Tomcat closed is not reused)');
my (%ok_others);
for my $node (qw(tomcat1 tomcat2)) {
    my $x = http_request(port => $front, path => '/echo/badsecret/ok',
                         headers => [Cookie => 'JSESSIONID=' . session_id('secret', $node)]);
    my $j = decode_json($x->{body});
    $ok_others{$node} = "$x->{status} " . ($j ? $j->{node} : '-');
}
is_deeply(\%ok_others, { tomcat1 => '200 tomcat1', tomcat2 => '200 tomcat2' },
          'the members with the right secret answer as usual');

# --- 3. error_page re-sends a POST to a location that also uses ajp_pass ---------------------------

my $small = 'small body ' . ('é' x 50);
my $large = join '', map { md5("large $_") } 1 .. (3 << 20) / 16;    # 3 MB: a temp file
for my $case (['small', $small], ['large', $large]) {
    my ($what, $body) = @$case;
    # the first upstream cannot be reached: 503 from the module, then @retry
    my $x = http_request(port => $front, method => 'POST', path => "/echo/dead/$what?k=v&attr=X_RETRIED",
                         body => $body, headers => ['Content-Type' => 'application/octet-stream']);
    my $j = decode_json($x->{body});
    is($x->{status}, 200, "error_page (unreachable upstream), $what body: \@retry answered 200")
        or diag describe($x);
    is_deeply($j && [$j->{method}, $j->{body}{length}, $j->{body}{md5}, $j->{contentLength}],
              ['POST', length $body, md5_hex($body), length $body],
              "... Tomcat got the POST with its body intact (" . length($body) . ' bytes)');
    is($j && $j->{attr}{X_RETRIED}, "POST /echo/dead/$what", '... through @retry');
    is($j && $j->{queryString}, 'k=v&attr=X_RETRIED', '... with its query string');

    # Tomcat reads the body, answers 502; intercepted, @retry sends it again
    $x = http_request(port => $front, method => 'POST',
                      path => "/echo/fails/$what?status=502&unless=X_RETRIED&attr=X_RETRIED",
                      body => $body, headers => ['Content-Type' => 'application/octet-stream']);
    $j = decode_json($x->{body});
    is($x->{status}, 200, "error_page (Tomcat answered 502), $what body: \@retry answered 200")
        or diag describe($x);
    is_deeply($j && [$j->{method}, $j->{body}{length}, $j->{body}{md5}, $j->{attr}{X_RETRIED}],
              ['POST', length $body, md5_hex($body), "POST /echo/fails/$what"],
              '... the second time Tomcat got the same body, intact, through @retry');
}

# --- the end -----------------------------------------------------------------------------------------

$t->finish;
my @left = $cluster->stop;
is_deeply(\@left, [], 'cluster.sh stop leaves no Tomcat running');
note sprintf 'the whole test took %.1f s', time - $T0;
done_testing;
