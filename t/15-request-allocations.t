#!/usr/bin/perl
# The module allocates nothing on the request path that round robin does
# not: nginx's debug log (Debian's nginx has it) names every malloc and
# every new pool block, with the client connection's number. The same
# requests through round robin and through sticky_workers (new sessions,
# sticky sessions, a member with timeouts of its own, keepalive to the
# backends) must make the same allocations.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties session_id served_by);

my $t = StickyTest->new(workers => 1);
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } qw(tomcat1 tomcat2);

$t->write_file('workers.properties', lb_properties('cluster', {},
    [tomcat1 => { port => $port{tomcat1}, reply_timeout => 5000 }],
    [tomcat2 => { port => $port{tomcat2} }]));
$t->write_conf(<<"EOF", log_level => 'debug');
    upstream rr {
        server 127.0.0.1:$port{tomcat1};
        server 127.0.0.1:$port{tomcat2};
        keepalive 8;
    }
    upstream sticky {
        sticky_workers workers.properties;
        keepalive 8;
    }
    server {
        listen 127.0.0.1:$front;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location /rr/ { proxy_pass http://rr; }
        location /sticky/ { proxy_pass http://sticky; }
    }
EOF
$t->run($front);

# Warm up: the per-process copies of a member's settings, a keepalive
# connection to each backend from each upstream (a new one costs a pool),
# nginx's own first-request work.
for my $round (1 .. 2) {
    for my $member (qw(tomcat1 tomcat2)) {
        $t->get($front, "/$_/warm", Cookie => 'JSESSIONID=' . session_id($round, $member))
            for qw(rr sticky);
    }
}

my %cookie = (new => undef,
              tomcat1 => 'JSESSIONID=' . session_id(1, 'tomcat1'),   # its own timeouts
              tomcat2 => 'JSESSIONID=' . session_id(2, 'tomcat2'));
my $start = length $t->read_file('logs/error.log');
my %served;
for my $i (1 .. 12) {
    for my $kind (qw(new tomcat1 tomcat2)) {
        for my $up (qw(rr sticky)) {
            my $r = $t->get($front, "/$up/$kind/p$i",
                            $cookie{$kind} ? (Cookie => $cookie{$kind}) : ());
            $served{"$up $kind " . served_by($r)}++ if $up eq 'sticky' && $kind ne 'new';
        }
    }
}
is_deeply(\%served, { 'sticky tomcat1 tomcat1' => 12, 'sticky tomcat2 tomcat2' => 12 },
          'the sticky requests went to their members');

# Per client connection (one request each): its request and allocations. A
# request that had to open a connection to its backend (one the backend
# closed since) pays for that connection's pool: it is left out.
my $log = substr $t->read_file('logs/error.log'), $start;
my (%request, %allocs, %connected);
for (split /\n/, $log) {
    my ($conn) = / \*(\d+) / or next;
    $request{$conn} = "$1 $2" if m{ http request line: "GET /(rr|sticky)/(\w+)/p\d+ };
    $allocs{$conn}++ if / (?:malloc|posix_memalign): /;
    $connected{$conn} = 1 if / connect to /;
}
is(scalar keys %request, 72, 'the 72 requests are in the debug log');
my (%count, %compared);
for my $conn (keys %request) {
    next if $connected{$conn};
    my ($up, $kind) = split / /, $request{$conn};
    $count{$up}{$kind}{$allocs{$conn} // 0}++;
    $compared{"$up $kind"}++;
}
ok(!grep({ ($compared{$_} // 0) < 8 } map { ("rr $_", "sticky $_") } qw(new tomcat1 tomcat2)),
   'at least 8 requests of each kind reused a backend connection') or diag explain \%compared;
for my $kind (qw(new tomcat1 tomcat2)) {
    my %rr = %{$count{rr}{$kind} || {}};
    my %st = %{$count{sticky}{$kind} || {}};
    my ($rr_most) = sort { $b <=> $a } keys %rr;
    my ($st_most) = sort { $b <=> $a } keys %st;
    ok(defined $rr_most && $rr_most > 0, "$kind: round robin's requests allocate ($rr_most at most)");
    cmp_ok($st_most // 99, '<=', $rr_most // -1,
           "$kind: sticky_workers' requests allocate no more than round robin's")
        or diag explain { rr => \%rr, sticky => \%st };
}

$t->finish;
done_testing;
