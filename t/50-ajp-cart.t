#!/usr/bin/perl
# The cart story of t/30-tomcat-cart.t over AJP/1.3 (`ajp_pass`): three
# Tomcat 10 nodes (BackupManager) whose AJP connectors are set up as on a
# mod_jk site (secretRequired="true", packetSize="65536"), nginx in front
# reading the workers.properties cluster.sh writes for mod_jk (AJP ports,
# secret, max_packet_size=65536), unchanged but for recover_time, with a
# connection pool (`keepalive 8`). What a user sees:
#
#   1. one browser fills a cart with 20 books (one of them by the page's POST
#      form, in UTF-8): one node, one session, all 20 in order;
#   2. 150 new carts spread over the three nodes, each stays on its node;
#   3. a browser without cookies, its session in the URL (`;jsessionid=`),
#      reaches its cart on its node and adds to it;
#   4. the node holding most carts is killed (-9) while 30 carts shop: no
#      client error, no cart loses a book, each cart of the dead node
#      continues on exactly one other node (and says so), the others stay;
#   5. the node is restarted: it is usable again within recover_time + 1 s
#      (the status page), new carts reach it, and its old carts are served
#      by it again, complete.
#
# The steps t/30 tells as well are TomcatTest's, with their assertions
# (browser_fills_cart, new_carts_by_weight, kill_busiest_while_shopping,
# carts_after_kill, restart_victim, new_carts_reach_again); this file has
# what is AJP's own: the front, the workers file, the form POST, the
# session in the URL, error.log over AJP, the status page at the restart.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::MD5 qw(md5_hex);
use Time::HiRes qw(sleep time);
use StickyTest qw(header);
use StickyStatus qw(status_json worker);
use TomcatTest qw(front_conf uri_escape random_seed cluster_nodes lb_worker browser_fills_cart
                  new_carts_by_weight kill_busiest_while_shopping carts_after_kill
                  restart_victim new_carts_reach_again);

my $SEED = random_seed();

my $T0 = time;
my $t = StickyTest->new;
TomcatTest::open_for_workers($t);    # request bodies in temp files
my $front = $t->port('front');

# --- the cluster and nginx ----------------------------------------------------------

my $SECRET = 'cart-' . substr(md5_hex("$$ " . time), 0, 16);
my $cluster = TomcatTest::Cluster->start($t->dir . '/cluster', nodes => 3, manager => 'backup',
                                         ajp_secret => $SECRET, packet_size => 65536);
my @nodes = cluster_nodes($cluster);

my $workers = $cluster->workers(ajp => 1);
my $lb = lb_worker($workers, 'cluster.sh workers --ajp');
my @file_bad;
for my $n (1 .. 3) {
    my $w = "worker.tomcat$n";
    for my $line ("$w.type=ajp13", "$w.port=" . $cluster->ajp_port($n), "$w.secret=$SECRET",
                  "$w.max_packet_size=65536") {
        push @file_bad, "missing $line" unless $workers =~ /^\Q$line\E$/m;
    }
}
is_deeply(\@file_bad, [], "the file is mod_jk's: AJP ports, the secret, max_packet_size=65536")
    or diag $workers;
my $RECOVER = 2;
$t->write_file('workers.properties', "$workers\nworker.$lb.recover_time=$RECOVER\n");
$t->write_conf(front_conf($front, <<'EOF', ajp => 1, upstream => "        keepalive 8;\n"));
        location = /sticky-status {
            sticky_status read_write;
        }
EOF
$t->run($front);

# --- 1. one browser, 20 books ---------------------------------------------------------

# The UTF-8 book by the page's form: POST, 303 back to /, then the page.
my $browser = browser_fills_cart($t, $front, over => 'AJP', add_utf8 => sub {
    my ($browser, $book) = @_;    # in a POST body
    my $r = $browser->post_add($book);
    is($r->{status}, 303, 'browser: the form POST is answered 303 (Post/Redirect/Get)');
    like(header($r, 'Location'), qr{/$}, '... to the cart page');
    $r = $browser->get('/');
    like($r->{body}, qr{<li>\Q$book\E</li>}, 'browser: the page lists the book posted in UTF-8');
    $r->{books} = $browser->cart->{books};
    return $r;
});

# --- 2. 150 new carts ------------------------------------------------------------------------

my $NEW = 150;
my @carts = ($browser, new_carts_by_weight($t, $front, $NEW, \@nodes));    # the browser's first

# --- 3. the session in the URL ------------------------------------------------------------------

my (@url_bad);
for my $node (@nodes) {
    my ($k) = grep { $carts[$_]{home} eq $node } 1 .. $#carts;
    my $cart = $carts[$k];
    my $id = $cart->{client}->session;
    my $cookieless = TomcatTest::Client->new($t, $front, "no cookies for cart $k");
    my $book = "Book by URL for cart $k";
    my $a = $cookieless->get("/add;jsessionid=$id?book=" . uri_escape($book));
    push @{$cart->{books}}, $book;
    my $j = $cookieless->get("/cart.json;jsessionid=$id");
    for my $x ($a, $j) {
        push @url_bad, "cart $k of $node: " . TomcatTest::Client::describe($x)
            unless $x->{status} == 200 && $x->{node} eq $node && $x->{worker} eq $node
            && $x->{session} eq $id && !$x->{changed};
    }
    push @url_bad, "cart $k: by URL it has " . join('|', @{$j->{books} || []})
        unless ref $j->{books} && "@{$j->{books}}" eq "@{$cart->{books}}";
    push @url_bad, "cart $k: the cookieless browser got a cookie" if $cookieless->session;
    my $c = $cart->{client}->cart;
    push @url_bad, "cart $k: by cookie it has " . join('|', @{$c->{books} || []})
        unless $c->{node} eq $node && ref $c->{books} && "@{$c->{books}}" eq "@{$cart->{books}}";
}
is_deeply(\@url_bad, [], ';jsessionid= in the URL: on each node, the cart is found on its node '
          . 'and a book added by URL is in it');

# --- 4. kill -9 the node with most carts while 30 carts shop --------------------------------

my $kill = kill_busiest_while_shopping($t, $cluster, \@carts, \@nodes, seed => $SEED);
my ($victim, $shop) = @$kill{qw(victim shop)};
carts_after_kill($kill);

my $kill_log = $t->log_since($kill->{log_before_kill});
my $victim_addr = '127.0.0.1:' . $cluster->ajp_port($kill->{vn});
like($kill_log, qr/upstream: "[a-z]+:\/\/\Q$victim_addr\E/,
     "error.log: nginx saw $victim fail (its AJP address)");
like($kill_log, qr/worker "\Q$victim\E" is now ERR \((?:connect|read) failed/,
     "error.log: the module put $victim into error");
# 403 as a number of its own: a port (14403) or a connection (*403) is not one.
unlike($t->read_file('logs/error.log'), qr/\[(?:error|warn)\].*(?:secret|(?<![\d.:*#])403(?!\d))/i,
       'error.log: no word of a wrong secret');

# --- 5. restart: the node is used again ------------------------------------------------------

my $restarted = restart_victim($kill);
# Out of ERR (ERR/REC: the next request that picks it tests it) within
# recover_time + 1 s: the restart itself takes longer than recover_time, so
# at once, unless a request tested it in the meantime.
my $usable = TomcatTest::wait_until($RECOVER + 1, sub {
    my $w = worker(status_json($t, $front, '/sticky-status'), 'tomcats', $victim);
    $w && $w->{state} ne 'ERR' ? $w : undef;
}, 0.1);
ok($usable, sprintf("status page: $victim is usable again within recover_time + 1 s (%s after %.1f s)",
                    $usable ? $usable->{state} : 'still ERR', time - $restarted));
my $st = status_json($t, $front, '/sticky-status');
note 'load values at the restart (a recovered member starts at the highest, as in mod_jk): '
    . join ', ', map { my $w = worker($st, 'tomcats', $_); "$_ " . ($w ? ($w->{lbvalue} // '?') . " $w->{state}" : '?') } @nodes;
# New carts reach it once the survivors' load values passed its own.
new_carts_reach_again($t, $front, $victim, since => $restarted, seconds => 30);
my $vw = worker(status_json($t, $front, '/sticky-status'), 'tomcats', $victim);
like($vw ? $vw->{state} : '', qr/^OK/, "status page: $victim is OK again");

# Its old carts: their sessions name $victim, so they go home, complete.
my @home_bad;
my @old = grep { $carts[$_]{home} eq $victim } 0 .. $#carts;
splice @old, 10 if @old > 10;
my $home_checked = @old;
for my $k (@old) {
    my $c = $carts[$k]{client};
    my $x = $c->cart;
    push @home_bad, "cart $k: " . TomcatTest::Client::describe($x)
        unless $x->{status} == 200 && $x->{node} eq $victim && !$x->{changed}
        && ref $x->{books} && $shop->books_ok($carts[$k], $x->{books});
}
is_deeply(\@home_bad, [], "$home_checked old carts of $victim: served by it again, complete, "
          . 'not marked as moved');

# --- the end ---------------------------------------------------------------------------------

$t->finish;
my @left = $cluster->stop;
is_deeply(\@left, [], 'cluster.sh stop leaves no Tomcat running');
note sprintf 'the whole test took %.1f s', time - $T0;
done_testing;
