#!/usr/bin/perl
# The whole story against a real cluster: three Tomcat 10 nodes replicating
# sessions with BackupManager (t/tomcat/cluster.sh), the cart app on each,
# nginx with the module in front reading the workers.properties written for
# the cluster. What a user sees:
#
#   1. one browser fills a cart with 20 books: one node, one session, all
#      20 books in order;
#   2. 300 new carts spread over the three nodes by weight (each node at
#      least a quarter), each cart stays on its node;
#   3. the node holding most carts is killed (-9) while 30 carts (the
#      browser among them) keep shopping in random order: no client error,
#      no cart loses a book, each cart of the dead node continues on exactly
#      one other node, and says so ($sticky_route_changed); the other carts
#      stay where they were;
#   4. the node is restarted: after recover_time new carts reach it again,
#      and a cart of it (the browser's when it lived there) is served by it
#      again, complete;
#   5. a node is drained through the status API (activation=D): its carts
#      keep working there, new carts avoid it, the JSON status shows "D";
#      activated again (activation=A), new carts reach it again.
#
# Steps 1 to 4 are told over AJP too (t/50-ajp-cart.t): the steps both tell,
# with their assertions, are TomcatTest's (browser_fills_cart,
# new_carts_by_weight, kill_busiest_while_shopping, carts_after_kill,
# restart_victim, new_carts_reach_again); this file has what is its own:
# the HTTP front, what nginx logs of the kill over HTTP, the browser's
# return home and the drain.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use StickyTest;
use StickyStatus qw(status_json worker admin);
use TomcatTest qw(front_conf random_seed cluster_nodes lb_worker browser_fills_cart
                  new_carts_by_weight kill_busiest_while_shopping carts_after_kill
                  restart_victim new_carts_reach_again);

my $SEED = random_seed();

my $T0 = time;
my $t = StickyTest->new;
my $front = $t->port('front');

# --- the cluster and nginx ----------------------------------------------------------

my $cluster = TomcatTest::Cluster->start($t->dir . '/cluster', nodes => 3, manager => 'backup');
my @nodes = cluster_nodes($cluster);

my $workers = $cluster->workers;
my $lb = lb_worker($workers, 'cluster.sh workers');
unlike($workers, qr/recover_time/, 'the generated file leaves recover_time at its default');
# The restarted node is to be used again within the test, not after 60 s.
my $RECOVER = 2;
$t->write_file('workers.properties', "$workers\nworker.$lb.recover_time=$RECOVER\n");
$t->write_conf(front_conf($front, <<'EOF'));
        location = /sticky-status {
            sticky_status read_write;
        }
EOF
$t->run($front);

# --- 1. one browser, 20 books ---------------------------------------------------------

my $browser = browser_fills_cart($t, $front);

# --- 2. 300 new carts ------------------------------------------------------------------------

my $NEW = 300;
my @carts = ($browser, new_carts_by_weight($t, $front, $NEW, \@nodes));    # the browser's first

# --- 3. kill -9 the node with most carts while 30 carts shop --------------------------------

my $kill = kill_busiest_while_shopping($t, $cluster, \@carts, \@nodes, seed => $SEED);
my ($victim, $shop) = @$kill{qw(victim shop)};
carts_after_kill($kill);

my $kill_log = $t->log_since($kill->{log_before_kill});
my $victim_addr = '127.0.0.1:' . $cluster->port($kill->{vn});
like($kill_log, qr/(?:connect\(\) failed \(111: Connection refused\)|recv\(\) failed \(104: Connection reset by peer\)|upstream prematurely closed connection).*upstream: "http:\/\/\Q$victim_addr\E\//,
     "error.log: nginx saw $victim fail (refused, reset or closed)");
like($kill_log, qr/worker "\Q$victim\E" is now ERR \((?:connect|read) failed/,
     "error.log: the module put $victim into error");

# --- 4. restart: the node is used again ------------------------------------------------------

my $restarted = restart_victim($kill);
new_carts_reach_again($t, $front, $victim, since => $restarted, seconds => 20, pace => 0.02,
                      why => "recover_time=$RECOVER");
# A shopper of $victim (the browser when it lived there): its session names
# $victim, so it goes home, with its cart.
my ($ret) = grep { $carts[$_]{home} eq $victim } $shop->shoppers;
my $rname = $carts[$ret]{client}->name;
my $r = $carts[$ret]{client}->cart;
is($r->{node}, $victim, "$rname: its cart is served by $victim again");
ok(ref $r->{books} && $shop->books_ok($carts[$ret], $r->{books}),
   "$rname: its cart still has all its books there") or diag TomcatTest::Client::describe($r);
is($r->{changed}, 0, "$rname: no longer marked as moved");

# --- 5. drain a node through the status API, then activate it ------------------------------

my $drained = $kill->{survivors}[0];
my @mine = grep { $carts[$_]{home} eq $drained } 0 .. $#carts;
sub status_of { my $w = worker(status_json($t, $front, '/sticky-status'), 'tomcats', $_[0]); $w ? $w->{activation} // '' : '' }
is(status_of($drained), 'A', "status JSON: $drained is active before the drain");
$r = admin($t, $front, '/sticky-status', upstream => 'tomcats', worker => $drained,
           activation => 'D');
is($r->{status}, 200, "drain $drained: POST activation=D answered 200");
like($r->{body}, qr{activation A -> D}, '... saying A -> D') or diag $r->{body};
is(status_of($drained), 'D', "status JSON: $drained shows activation D");

# Each of its carts: one more book, then a read; both answered by it.
my (@drain_away, @drain_bad);
for my $k (@mine) {
    my $cart = $carts[$k];
    my $book = "Book while $drained drains";
    my $a = $cart->{client}->add($book);
    push @{$cart->{books}}, $book;
    my $j = $cart->{client}->cart;
    for my $x ($a, $j) {
        push @drain_away, "cart $k: " . TomcatTest::Client::describe($x) unless $x->{node} eq $drained;
    }
    push @drain_bad, "cart $k: " . TomcatTest::Client::describe($j)
        unless $a->{status} == 200 && $j->{status} == 200 && ref $j->{books}
        && $shop->books_ok($cart, $j->{books});
}
cmp_ok(scalar @mine, '>=', $NEW / 4, "drained: $drained holds " . scalar(@mine) . ' carts');
is_deeply(\@drain_away, [], "drained: each of its carts is still answered by $drained");
is_deeply(\@drain_bad, [], "drained: each of its carts got its new book and has all its books");

my %drain_new;
my $drain_bad_new = 0;
for my $i (1 .. 30) {
    my $c = TomcatTest::Client->new($t, $front, "while drained $i");
    my $a = $c->add("Book $i while drained");
    $drain_bad_new++ unless $a->{status} == 200;
    $drain_new{$a->{node}}++;
}
is($drain_bad_new, 0, 'drained: 30 new carts, every answer 200');
ok(!$drain_new{$drained}, "drained: none of 30 new carts on $drained") or diag explain \%drain_new;
ok(!grep({ !$drain_new{$_} } grep { $_ ne $drained } @nodes),
   'drained: the new carts go to both other nodes') or diag explain \%drain_new;

$r = admin($t, $front, '/sticky-status', upstream => 'tomcats', worker => $drained,
           activation => 'A');
is($r->{status}, 200, "activate $drained: POST activation=A answered 200");
like($r->{body}, qr{activation D -> A}, '... saying D -> A') or diag $r->{body};
is(status_of($drained), 'A', "status JSON: $drained shows activation A again");
my ($again, %again) = (0);
for my $i (1 .. 30) {
    my $c = TomcatTest::Client->new($t, $front, "activated $i");
    my $a = $c->add("Book $i after activation");
    $again{$a->{node} || "status $a->{status}"}++;
    if ($a->{node} eq $drained) { $again = $i; last }
}
ok($again, "activated: new carts reach $drained again") or diag explain \%again;
note "after activation the first new cart on $drained was number $again" if $again;

# --- the end ---------------------------------------------------------------------------------

$t->finish;
my @left = $cluster->stop;
is_deeply(\@left, [], 'cluster.sh stop leaves no Tomcat running');
note sprintf 'the whole test took %.1f s', time - $T0;
done_testing;
