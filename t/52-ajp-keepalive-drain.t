#!/usr/bin/perl
# AJP connections kept alive (`keepalive 8;`, mod_jk's connection pool) and
# a node drained for a deploy, with three real Tomcat 10 nodes whose AJP
# connectors close idle connections after 1.5 s (keepAliveTimeout) and run
# Tomcat's LoadBalancerDrainingValve, behind nginx with `ajp_pass` and the
# workers.properties cluster.sh writes (AJP ports, secret,
# max_packet_size=65536), unchanged. Connections are counted on the Tomcat
# side: /conn and /echo name the connection a request came on
# (ServletRequest.getServletConnection(): for AJP, nginx's connection).
#
#   1. 1,000 sequential requests (a tenth of them POSTs with a body) of a
#      client use one AJP connection per node; without the pool, every
#      request has its own;
#   2. connections Tomcat closes are never used again: after its idle
#      timeout nginx closes its side too and opens new ones, without an
#      error; after an answer with which Tomcat closes the connection
#      (a 403), the next request on that nginx process is served; requests
#      sent around the moment Tomcat closes idle connections all succeed, on
#      the node of their session;
#   3. a node drained on the status page (activation D): Tomcat sees
#      JK_LB_ACTIVATION=DIS; its valid sessions are still served there; a
#      request with a session it does not have (invalidated, made up, in the
#      URL, a POST) is redirected by Tomcat's LoadBalancerDrainingValve (307)
#      and, followed, lands on another node; activated again, new carts
#      reach it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::MD5 qw(md5_hex);
use Time::HiRes qw(sleep time);
use StickyTest qw(header session_id);
use StickyStatus qw(status_json worker admin);
use TomcatTest qw(front_conf http_request decode_json hdr wait_until uri_escape);

my $T0 = time;
my $t = StickyTest->new;
TomcatTest::open_for_workers($t);    # request bodies in temp files
my $front = $t->port('front');

my $SECRET = 'ka-' . substr(md5_hex("$$ " . time), 0, 16);
my $IDLE_MS = 1500;
my $cluster = TomcatTest::Cluster->start($t->dir . '/cluster', nodes => 3, ajp_secret => $SECRET,
                                         packet_size => 65536, draining_valve => 'engine',
                                         ajp_options => ["keepAliveTimeout=$IDLE_MS"]);
note sprintf 'cluster up in %.1f s', $cluster->start_seconds;
my @nodes = map { $cluster->route($_) } 1 .. 3;
my @ajp_ports = map { $cluster->ajp_port($_) } 1 .. 3;
$t->write_file('workers.properties', $cluster->workers(ajp => 1));
$t->write_conf(front_conf($front, <<'EOF', ajp => 1, upstream => "        keepalive 8;\n", http => <<'EOF2'));
        location /conn/nopool {
            ajp_pass nopool;
        }
        location /echo/badparam/ {
            ajp_pass tomcats;
            ajp_param NOT_ALLOWED yes;
        }
        location = /sticky-status {
            sticky_status read_write;
        }
EOF
    upstream nopool {
        sticky_workers workers.properties;
    }
EOF2
$t->run($front);
my @workers = $t->worker_pids;
is(scalar @workers, 2, 'nginx runs 2 worker processes');

sub req {
    my (%o) = @_;
    my $r = http_request(port => $front, timeout => 15, %o);
    $r->{json} = decode_json($r->{body});
    return $r;
}

# The same on one client connection kept alive (one nginx worker process
# serves them all), opened again if it had to be closed.
my ($ka_sock, $ka_opened) = (undef, 0);
sub req_ka {
    my (%o) = @_;
    $ka_opened++ unless $ka_sock;
    my $r = req(%o, keep_alive => 1, sock => $ka_sock);
    $ka_sock = $r->{sock};
    return $r;
}

sub describe {
    my ($r) = @_;
    my $b = $r->{body} // '';
    $b = substr($b, 0, 200) . '...' if length $b > 200;
    return "status $r->{status} worker " . hdr($r, 'X-Worker') . " body $b";
}

# nginx's side of its connections to the AJP ports: { state => count }.
sub ajp_conns {
    my $filter = join ' or ', map { "dport = :$_" } @ajp_ports;
    my %state;
    for (`ss -tanH '( $filter )' 2>/dev/null`) {
        my ($st) = split ' ';
        $state{$st}++ if $st;
    }
    return \%state;
}

# The path (and query) of a Location.
sub path_of { my ($l) = @_; $l =~ s{^[a-z]+://[^/]+}{}i; return $l }

# A session id routed to $node, which Tomcat does not have.
my $made_up = 0;
sub fake_sid { my ($node) = @_; return session_id('fake ' . ++$made_up . " $$", $node) }

# --- 1. 1,000 sequential requests -----------------------------------------------------------

# On one client connection: one nginx worker process, which keeps one
# connection per node (requests follow each other within milliseconds, far
# below Tomcat's idle timeout).
my (%conns, %per_node, @seq_bad);
my $t1 = time;
for my $i (1 .. 1000) {
    my $r;
    if ($i % 10 == 0) {
        my $body = join '', map { chr((($i * 31 + $_ * 7) ^ ($_ >> 3)) & 0xff) } 1 .. 3000 + $i;
        $r = req_ka(method => 'POST', path => "/echo/seq$i", body => $body,
                    headers => ['Content-Type' => 'application/octet-stream']);
        push @seq_bad, "POST $i: " . describe($r)
            unless $r->{status} == 200 && $r->{json} && $r->{json}{body}{md5} eq md5_hex($body);
    } else {
        $r = req_ka(path => "/conn?i=$i");
        push @seq_bad, "GET $i: " . describe($r) unless $r->{status} == 200 && $r->{json};
    }
    last if @seq_bad > 5;
    next unless $r->{json};
    my $key = "$r->{json}{node} $r->{json}{connection}";
    $conns{$key}++;
    $per_node{$r->{json}{node}}++;
}
note sprintf '1000 sequential requests in %.1f s, on %d client connection(s)', time - $t1, $ka_opened;
close $ka_sock if $ka_sock;
is_deeply(\@seq_bad, [], '1000 sequential requests (100 POSTs with bodies): every answer 200, '
          . 'every body intact');
ok(keys %per_node == 3, 'they were spread over the three nodes') or diag explain \%per_node;
my $n_conns = keys %conns;
note "AJP connections (node and id: requests): "
    . join(', ', map { "$_: $conns{$_}" } sort keys %conns);
ok($n_conns == 3 || ($ka_opened > 1 && $n_conns <= 3 * $ka_opened),
   "they came on $n_conns AJP connections: one per node") or diag explain \%conns;
my $open = ajp_conns();
ok(($open->{ESTAB} // 0) >= 1 && ($open->{ESTAB} // 0) <= 6,
   'ss: nginx keeps ' . ($open->{ESTAB} // 0) . ' of them open, at most 6') or diag explain $open;

my %nopool;
for my $i (1 .. 30) {
    my $r = req(path => "/conn/nopool?i=$i");
    $nopool{$r->{json} ? "$r->{json}{node} $r->{json}{connection}" : "status $r->{status}"}++;
}
is(scalar(grep { !/^status/ } keys %nopool), 30,
   'without keepalive in the upstream, 30 requests come on 30 connections (the count is right)')
    or diag explain \%nopool;

# --- 2. connections Tomcat closed --------------------------------------------------------------

my $log0 = -s $t->error_log;
my %primed;
for my $node (@nodes) {
    for (1 .. 2) {    # both nginx processes, most likely
        my $r = req(path => '/conn/prime', headers => [Cookie => 'JSESSIONID=' . fake_sid($node)]);
        $primed{"$node $r->{json}{connection}"}++ if $r->{json} && $r->{json}{node} eq $node;
    }
}
ok(keys %primed >= 3, 'connections to every node are open and idle');
my $closed = wait_until(10, sub { my $s = ajp_conns(); !$s->{ESTAB} && !$s->{'CLOSE-WAIT'} }, 0.1);
ok($closed, "after Tomcat's keepAliveTimeout (${IDLE_MS} ms) nginx has closed its side of every "
   . 'idle connection (none ESTAB or CLOSE-WAIT)') or diag explain ajp_conns();
my (@after_bad, %reused);
for my $node (@nodes) {
    for (1 .. 4) {
        my $r = req(path => '/conn/after-idle', headers => [Cookie => 'JSESSIONID=' . fake_sid($node)]);
        push @after_bad, "$node: " . describe($r)
            unless $r->{status} == 200 && $r->{json} && $r->{json}{node} eq $node;
        $reused{"$node $r->{json}{connection}"}++
            if $r->{json} && $primed{"$r->{json}{node} $r->{json}{connection}"};
    }
}
is_deeply(\@after_bad, [], '12 requests after the idle timeout: all 200, each on the node of its session');
is_deeply(\%reused, {}, '... none on a connection Tomcat had closed');
my $log = $t->log_since($log0);
unlike($log, qr/\[error\]|is now ERR/, 'error.log: no error, no member in error') or diag $log;

# Tomcat answers 403 and closes (an attribute its connector does not allow):
# the next request of the same nginx process (one client connection) is
# served on a new connection.
$log0 = -s $t->error_log;
my ($sock, @close_bad);
for my $round (1 .. 10) {
    my $node = $nodes[$round % 3];
    my $cookie = 'JSESSIONID=' . fake_sid($node);
    my $x = http_request(port => $front, path => '/echo/badparam/x', keep_alive => 1, sock => $sock,
                         headers => [Cookie => $cookie], timeout => 10);
    push @close_bad, "round $round 403: " . describe($x) unless $x->{status} == 403;
    $sock = $x->{sock};
    my $y = http_request(port => $front, path => '/echo/next', keep_alive => 1, sock => $sock,
                         headers => [Cookie => $cookie], timeout => 10);
    my $j = decode_json($y->{body});
    push @close_bad, "round $round next: " . describe($y)
        unless $y->{status} == 200 && $j && $j->{node} eq $node;
    $sock = $y->{sock} or last;
}
is_deeply(\@close_bad, [], '10 times a 403 with which Tomcat closes, then a request of the same '
          . 'session on the same client connection: 403, then 200 from the node of the session');
$log = $t->log_since($log0);
unlike($log, qr/prematurely closed|recv\(\) failed|is now ERR/,
       'error.log: no request went to a connection Tomcat had closed') or diag $log;

# Requests sent around the moment Tomcat closes idle connections.
$log0 = -s $t->error_log;
my (@race_bad, $race_n);
for my $round (1 .. 6) {
    for my $node (@nodes) {
        my $r = req(path => "/conn/race$round", headers => [Cookie => 'JSESSIONID=' . fake_sid($node)]);
        $race_n++;
        push @race_bad, "round $round $node: " . describe($r)
            unless $r->{status} == 200 && $r->{json} && $r->{json}{node} eq $node
            && hdr($r, 'X-Route-Changed') eq '0';
    }
    sleep(($IDLE_MS - 150 + rand 300) / 1000);    # the race is the point here
}
is_deeply(\@race_bad, [], "$race_n requests sent as Tomcat closes idle connections: all 200, "
          . 'each on the node of its session');
$log = $t->log_since($log0);
unlike($log, qr/is now ERR/, 'error.log: no member was put in error by a closed kept-alive connection')
    or diag $log;
note 'error.log lines during the race: ' . scalar(() = $log =~ /\[error\]/g);

# --- 3. drain a node -----------------------------------------------------------------------------

my $nc = TomcatTest::new_carts($t, $front, 12, 'drain cart');
is($nc->{bad} + $nc->{split}, 0, '12 carts, each on one node');
my ($D) = sort { ($nc->{spread}{$b} // 0) <=> ($nc->{spread}{$a} // 0) || $a cmp $b } @nodes;
my @mine = grep { $_->{home} eq $D } @{$nc->{carts}};
cmp_ok(scalar @mine, '>=', 3, "$D holds " . scalar(@mine) . ' carts');
my $echo = $mine[0]{client}->get('/echo/before');
my $ej = decode_json($echo->{body});
is($ej && $ej->{attr}{JK_LB_ACTIVATION}, 'ACT', "before the drain Tomcat on $D sees JK_LB_ACTIVATION=ACT");

my $r = admin($t, $front, '/sticky-status', upstream => 'tomcats', worker => $D, activation => 'D');
is($r->{status}, 200, "drain $D on the status page: 200");
like($r->{body}, qr/activation A -> D/, '... A -> D');

$echo = $mine[0]{client}->get('/echo/drained');
$ej = decode_json($echo->{body});
is($ej && $ej->{node}, $D, "a valid session of $D: still served there");
is($ej && $ej->{attr}{JK_LB_ACTIVATION}, 'DIS', "... and Tomcat sees JK_LB_ACTIVATION=DIS");

# Its valid sessions keep working there.
my @valid_bad;
for my $k (1 .. $#mine) {
    my $cart = $mine[$k];
    my $book = "Book while $D drains";
    push @{$cart->{books}}, $book;
    for my $x ($cart->{client}->add($book), $cart->{client}->cart) {
        push @valid_bad, "cart $k: " . TomcatTest::Client::describe($x)
            unless $x->{status} == 200 && $x->{node} eq $D && ref $x->{books}
            && "@{$x->{books}}" eq "@{$cart->{books}}";
    }
}
is_deeply(\@valid_bad, [], "the other carts of $D: a book added and read, all on $D");
my %new_while;
$new_while{TomcatTest::Client->new($t, $front, "new $_")->add("Book $_")->{node}}++ for 1 .. 9;
ok(!$new_while{$D} && keys %new_while == 2, "9 new carts: none on $D") or diag explain \%new_while;

# A session $D no longer has: invalidated.
my $gone = $mine[0]{client};
my $gone_id = $gone->session;
$r = $gone->get('/invalidate');
is(decode_json($r->{body}) && decode_json($r->{body})->{invalidated}, $gone_id,
   "a cart's session is invalidated on $D");
$r = $gone->get('/cart.json?after=invalidate');
is($r->{status}, 307, "its next request: Tomcat on $D redirects (307, LoadBalancerDrainingValve)")
    or diag $r->{raw};
is($r->{worker}, $D, "... it was sent to $D, the node of its session");
# (absolute for an HTTP/1.0 client: Tomcat then does not redirect relatively)
like(header($r, 'Location'), qr{^(?:http://localhost)?/cart\.json\?after=invalidate$}, '... to the same URI');
is($gone->session, undef, '... and the session cookie is deleted (Max-Age=0)');
$r = $gone->get(path_of(header($r, 'Location')));
ok($r->{status} == 200 && $r->{node} ne $D && $r->{node} ne '',
   "followed, it lands on another node ($r->{node})") or diag $r->{raw};
like($gone->session // '', qr/\.\Q$r->{node}\E$/, '... with a new session of that node');

# A made-up session id with $D's route, in a cookie and in the URL.
my $fake = TomcatTest::Client->new($t, $front, 'made up');
$fake->{jar}{JSESSIONID} = fake_sid($D);
$r = $fake->get('/cart.json');
is($r->{status}, 307, "a made-up session id of $D (cookie): 307 from $D") or diag $r->{raw};
$r = $fake->get(path_of(header($r, 'Location')));
ok($r->{status} == 200 && $r->{node} ne $D, "... followed: 200 from another node ($r->{node})");
my $url = TomcatTest::Client->new($t, $front, 'made up in the URL');
my $fid = fake_sid($D);
$r = $url->get("/cart.json;jsessionid=$fid?x=1");
is($r->{status}, 307, "a made-up session id of $D (;jsessionid=): 307") or diag $r->{raw};
like(header($r, 'Location'), qr{^(?:http://localhost)?/cart\.json\?x=1$}, '... to the URI without the session');
$r = $url->get(path_of(header($r, 'Location')));
ok($r->{status} == 200 && $r->{node} ne $D, "... followed: 200 from another node ($r->{node})");

# A POST: 307 keeps the method and the body.
my $poster = TomcatTest::Client->new($t, $front, 'poster');
$poster->{jar}{JSESSIONID} = fake_sid($D);
$r = $poster->post_add('Book posted to a drained node');
is($r->{status}, 307, "a POST with a made-up session of $D: 307") or diag $r->{raw};
$r = $poster->request('POST', path_of(header($r, 'Location')), 'book=' . uri_escape('Book posted to a drained node'),
                      'Content-Type' => 'application/x-www-form-urlencoded');
is($r->{status}, 303, '... posted again to the Location: added (303)');
$r = $poster->cart;
ok($r->{node} ne $D && ref $r->{books} && "@{$r->{books}}" eq 'Book posted to a drained node',
   "... the book is in a new cart on another node ($r->{node})") or diag $r->{raw};

# Activated again.
$r = admin($t, $front, '/sticky-status', upstream => 'tomcats', worker => $D, activation => 'A');
like($r->{body}, qr/activation D -> A/, "activate $D: D -> A");
$echo = $mine[1]{client}->get('/echo/activated');
$ej = decode_json($echo->{body});
ok($ej && $ej->{node} eq $D && $ej->{attr}{JK_LB_ACTIVATION} eq 'ACT',
   "Tomcat on $D sees JK_LB_ACTIVATION=ACT again");
my ($again, %seen) = (0);
for my $i (1 .. 30) {
    my $a = TomcatTest::Client->new($t, $front, "activated $i")->add("Book $i");
    $seen{$a->{node} || "status $a->{status}"}++;
    if ($a->{node} eq $D) { $again = $i; last }
}
ok($again, "new carts reach $D again") or diag explain \%seen;

# --- the end ----------------------------------------------------------------------------------------

$t->finish;
my @left = $cluster->stop;
is_deeply(\@left, [], 'cluster.sh stop leaves no Tomcat running');
note sprintf 'the whole test took %.1f s', time - $T0;
done_testing;
