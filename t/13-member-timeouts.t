#!/usr/bin/perl
# A member's own worker.X.reply_timeout and socket_connect_timeout replace
# the location's proxy_read_timeout and proxy_connect_timeout for attempts on
# that member only; the settings with them are copied once per worker
# process and location, not per request (nginx's debug log, which Debian's
# nginx has, names each copy).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use StickyTest qw(lb_properties session_id served_by);
use FailTest qw(start_raw_backend);

my $t = StickyTest->new;
my $front = $t->port('front');
my $short = start_raw_backend($t, 'short');
my $plain = start_raw_backend($t, 'plain');

# `short` waits 300 ms for a reply and 400 ms for a connection; `plain` has
# no timeouts of its own.
$t->write_file('workers.properties', lb_properties('cluster', {},
    [short => { port => $short, reply_timeout => 300, socket_connect_timeout => 400 }],
    [plain => { port => $plain }]));
$t->write_conf(<<"EOF", log_level => 'debug');
    upstream cluster { sticky_workers workers.properties; }
    server {
        listen 127.0.0.1:$front;
        proxy_next_upstream off;
        location /a/ { proxy_pass http://cluster; proxy_read_timeout 3s; }
        location /b/ { proxy_pass http://cluster; proxy_read_timeout 500ms; }
    }
EOF
$t->run($front);

my %cookie = map { $_ => 'JSESSIONID=' . session_id($_, $_) } qw(short plain);

# Every request of a session goes to its member, through both locations.
my $n = 60;
my %who;
for my $i (1 .. $n) {
    my $member = $i % 2 ? 'short' : 'plain';
    my $loc = $i % 3 ? 'a' : 'b';
    $who{served_by($t->get($front, "/$loc/page$i", Cookie => $cookie{$member}))
         eq $member ? 'own' : 'other'}++;
}
is_deeply(\%who, { own => $n }, "$n requests: each served by its session's member");

# The timeouts in force: the member's own, else the location's.
my ($r, $took) = timed('/a/slow/1', 'plain');
is($r->{status}, 200, 'plain, location a (3 s): an answer after 1 s arrives');
($r, $took) = timed('/b/slow/1', 'plain');
is($r->{status}, 504, 'plain, location b (500 ms): an answer after 1 s is too late');
ok($took >= 0.4 && $took < 0.9, 'plain, location b: cut after 500 ms')
    or diag "took $took s";
($r, $took) = timed('/a/slow/1', 'short');
is($r->{status}, 504, 'short, location a: its own reply_timeout (300 ms) applies');
ok($took >= 0.2 && $took < 0.8, 'short, location a: cut after 300 ms, not 3 s')
    or diag "took $took s";

# The copies: at most one per worker process and location, for `short`
# only, with its timeouts; none of them made per request.
my $log = $t->read_file('logs/error.log');
my @copies = $log =~ /^.*? (\d+)#\d+: .*?sticky: upstream settings of member (\d+) for (\S+) copied: read timeout (\d+), connect timeout (\d+)$/mg;
my (%per, %members, %timeouts);
while (my ($pid, $member, $location, $read, $connect) = splice @copies, 0, 5) {
    $per{"$pid $location"}++;
    $members{$member}++;
    $timeouts{"$read/$connect"}++;
}
ok(%per, 'the copies are in the debug log') or diag 'none found';
ok(!grep({ $_ != 1 } values %per), 'one copy per process and location')
    or diag explain \%per;
ok(keys(%per) <= 2 * 2, 'at most 2 processes x 2 locations copies for '
   . ($n + 3) . ' requests') or diag explain \%per;
is_deeply([keys %members], [0], 'copies for the member with timeouts only')
    or diag explain \%members;
is_deeply([keys %timeouts], ['300/400'], 'with its reply_timeout and socket_connect_timeout')
    or diag explain \%timeouts;

# The decisions, as nginx's balancers trace theirs.
like($log, qr/get sticky peer, try: 1, session route: "short" -> worker "short" \(sticky route\)/,
     'debug log: the decision of an attempt');

$t->finish;
done_testing;

sub timed {
    my ($path, $member) = @_;
    my $start = time;
    my $r = $t->get($front, $path, Cookie => $cookie{$member});
    return ($r, time - $start);
}
