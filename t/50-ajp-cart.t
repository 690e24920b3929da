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

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::MD5 qw(md5_hex);
use Time::HiRes qw(sleep time);
use StickyTest qw(header);
use StickyStatus qw(status_json worker);
use TomcatTest qw(uniq front_conf uri_escape);

my $SEED = $ENV{STICKY_SEED} // (time ^ $$) & 0xffff;
srand $SEED;
note "random order seed $SEED (STICKY_SEED=$SEED repeats it)";

my $T0 = time;
my $t = StickyTest->new;
TomcatTest::open_for_workers($t);    # request bodies in temp files
my $front = $t->port('front');

# --- the cluster and nginx ----------------------------------------------------------

my $SECRET = 'cart-' . substr(md5_hex("$$ " . time), 0, 16);
my $cluster = TomcatTest::Cluster->start($t->dir . '/cluster', nodes => 3, manager => 'backup',
                                         ajp_secret => $SECRET, packet_size => 65536);
note sprintf 'cluster up in %.1f s', $cluster->start_seconds;
my @nodes = map { $cluster->route($_) } 1 .. 3;
is_deeply(\@nodes, [qw(tomcat1 tomcat2 tomcat3)], 'three nodes, jvmRoute tomcat1..3');

my $workers = $cluster->workers(ajp => 1);
my ($lb) = $workers =~ /^worker\.list=(\S+)$/m;
ok(defined $lb && $workers =~ /^worker\.\Q$lb\E\.type=lb$/m,
   'cluster.sh workers --ajp writes an lb worker in worker.list') or BAIL_OUT($workers);
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

my $browser = TomcatTest::Client->new($t, $front, 'browser');
my $page = $browser->get('/');
is($page->{status}, 200, 'browser: the cart page is served over AJP') or diag $page->{raw};
like($page->{node}, qr/^tomcat[123]$/, 'browser: the page names the node that answered');
my $home = $page->{node};
my $sid = $browser->session // '';
like($sid, qr/^[0-9A-F]{32}\.\Q$home\E$/, "browser: Tomcat's session id ends in .$home")
    or diag $page->{raw};
is($page->{session}, $sid, 'browser: the page shows the session of the cookie');

my @browser_books = map { "Book $_ of the browser" } 1 .. 19;
splice @browser_books, 9, 0, 'Café Tomcat';    # UTF-8, in a POST body
my (%b_node, %b_session, %b_status, $b_count_ok, $b_worker_ok) = ();
$b_count_ok = $b_worker_ok = 1;
for my $i (0 .. $#browser_books) {
    my $r;
    if ($browser_books[$i] =~ /Café/) {
        # the page's form: POST, 303 back to /, then the page
        $r = $browser->post_add($browser_books[$i]);
        is($r->{status}, 303, 'browser: the form POST is answered 303 (Post/Redirect/Get)');
        like(header($r, 'Location'), qr{/$}, '... to the cart page');
        $r = $browser->get('/');
        like($r->{body}, qr{<li>Café Tomcat</li>}, 'browser: the page lists the book posted in UTF-8');
        my $j = $browser->cart;
        $r->{books} = $j->{books};
    } else {
        $r = $browser->add($browser_books[$i]);
    }
    $b_status{$r->{status}}++;
    $b_node{$r->{node}}++;
    $b_session{$r->{session}}++;
    $b_count_ok = 0 unless ref $r->{books} && @{$r->{books}} == $i + 1;
    $b_worker_ok = 0 unless $r->{worker} eq $r->{node};
}
is_deeply(\%b_status, { 200 => 20 }, 'browser: 20 books added, every answer 200');
is_deeply(\%b_node, { $home => 20 }, "browser: every add answered by $home");
is_deeply(\%b_session, { $sid => 20 }, 'browser: one session for all 20');
ok($b_count_ok, 'browser: the cart grows by one book per add');
ok($b_worker_ok, '$sticky_worker names the node that answered');
my $r = $browser->cart;
is($r->{node}, $home, "browser: /cart.json from $home");
is_deeply($r->{books}, \@browser_books, 'browser: /cart.json lists all 20 books in order');
is($browser->session, $sid, 'browser: the session id never changed');

# --- 2. 150 new carts ------------------------------------------------------------------------

my $NEW = 150;
my $t_new = time;
my $nc = TomcatTest::new_carts($t, $front, $NEW);
note sprintf '%d new carts in %.1f s', $NEW, time - $t_new;
my %spread = %{$nc->{spread}};
is($nc->{bad}, 0, "$NEW new carts: each got its book, every answer 200");
is($nc->{split}, 0, "$NEW new carts: each cart's two requests answered by one node");
is($nc->{bad_id}, 0, "$NEW new carts: each session id ends in the route of its node");
ok(!grep({ ($spread{$_} // 0) < $NEW / 4 } @nodes) && keys %spread == 3,
   "$NEW new carts: every node got at least a quarter") or diag explain \%spread;
note 'new carts per node: ' . join ', ', map { "$_ $spread{$_}" } sort keys %spread;
my @carts = ({ client => $browser, home => $home, books => [@browser_books] }, @{$nc->{carts}});

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

my %carts_on;
$carts_on{$_->{home}}++ for @carts;
my ($victim) = sort { $carts_on{$b} <=> $carts_on{$a} || $a cmp $b } @nodes;
note "carts per node (the browser's included): "
    . join(', ', map { "$_ " . ($carts_on{$_} // 0) } @nodes) . "; killing $victim";
my $vn = $cluster->node_of($victim);
my @survivors = grep { $_ ne $victim } @nodes;

my @shoppers = TomcatTest::Shoppers->pick(\@carts, $victim, \@nodes, 30);
is(scalar @shoppers, 30, '30 shoppers, '
   . scalar(grep { $carts[$_]{home} eq $victim } @shoppers) . " of them on $victim");
my $shop = TomcatTest::Shoppers->new($t, \@carts, \@shoppers, seed => $SEED)->start;
ok($shop->wait_rounds(2, 30), 'all 30 shoppers are shopping before the kill');

my $log_before_kill = -s $t->error_log // 0;
my ($victim_pid, $victim_jvm) = ($cluster->pid($vn), '-Dcatalina.base=' . $cluster->base($vn));
ok(TomcatTest::jvm_alive($victim_pid, $victim_jvm), "$victim runs before the kill");
my $kill_start = time;
$cluster->kill($vn);
my $kill_end = time;
ok(!TomcatTest::jvm_alive($victim_pid, $victim_jvm), "$victim is gone (kill -9)");
$shop->mark;
my ($all_done, $failed_procs) = $shop->finish(60);
ok($all_done, 'all shoppers finished within 60 s');
is($failed_procs, 0, 'no shopper process died');

my $f = $shop->findings($victim, $kill_start, $kill_end);
note "$f->{in_flight} request(s) in flight during the kill";
ok($f->{requests} >= 30 * 12, "the shoppers made $f->{requests} requests (at least 6 rounds each)");
is_deeply($f->{failed}, [], 'kill: every request of every shopper is answered 200');
is_deeply($f->{lost_session}, [], 'kill: no shopper got a new session');
is_deeply($f->{lost_book}, [], 'kill: every read shows all books added before it');
is_deeply($f->{wrong_node}, [], "kill: carts of $victim continue on exactly one other node, "
          . 'the other carts stay on theirs');
is_deeply($f->{not_changed}, [], "kill: \$sticky_route_changed is 1 for the carts of $victim");
is_deeply($f->{changed_home}, [], 'kill: $sticky_route_changed is not 1 for the other carts');

my $g = $shop->final_reads($victim);
my %moved_to = (%{$f->{moved_to}});
$moved_to{$_} += $g->{moved_to}{$_} for keys %{$g->{moved_to}};
is_deeply($g->{incomplete}, [], 'after the kill: all ' . scalar(@carts)
          . ' carts have all their books, in order');
is_deeply($g->{misplaced}, [], 'after the kill: each cart is read from one node, '
          . 'the moved ones where they continued');
is_deeply($g->{wrong_flag}, [], "after the kill: \$sticky_route_changed is 1 exactly for $victim\'s carts");
ok(!grep({ !$moved_to{$_} } @survivors),
   "the carts of $victim are spread over both survivors") or diag explain \%moved_to;
note "carts of $victim moved to: " . join ', ', map { "$_ $moved_to{$_}" } sort keys %moved_to;
is_deeply([$shop->bad_dups], [], 'a book appears twice only when its request was in flight at the kill');
note "$g->{dups} cart(s) with a book twice (a request retried at the kill)" if $g->{dups};

my $kill_log = $t->log_since($log_before_kill);
my $victim_addr = '127.0.0.1:' . $cluster->ajp_port($vn);
like($kill_log, qr/upstream: "[a-z]+:\/\/\Q$victim_addr\E/,
     "error.log: nginx saw $victim fail (its AJP address)");
like($kill_log, qr/worker "\Q$victim\E" is now ERR \((?:connect|read) failed/,
     "error.log: the module put $victim into error");
unlike($t->read_file('logs/error.log'), qr/\[(?:error|warn)\].*(?:secret|403)/i,
       'error.log: no word of a wrong secret');

# --- 5. restart: the node is used again ------------------------------------------------------

$cluster->restart($vn);
ok(TomcatTest::jvm_alive($cluster->pid($vn), $victim_jvm), "$victim restarted");
my $restarted = time;
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
my ($back, $back_after, %tries) = (undef, undef);
my $n = 0;
while (time < $restarted + 30) {
    my $c = TomcatTest::Client->new($t, $front, 'after restart ' . ++$n);
    my $a = $c->add("Book after restart $n");
    $tries{$a->{node} || "status $a->{status}"}++;
    if ($a->{status} == 200 && $a->{node} eq $victim) {
        ($back, $back_after) = ($c, time - $restarted);
        last;
    }
}
ok($back, sprintf("new carts reach $victim again (%.1f s after its restart, after %d new cart(s))",
                  $back_after // -1, $n)) or diag explain \%tries;
is(join(',', grep { !/^tomcat/ } keys %tries), '', 'while it recovers new carts are answered 200');
if ($back) {
    $r = $back->cart;
    is($r->{node}, $victim, "a new cart on $victim stays there");
    is($r->{changed}, 0, '... with $sticky_route_changed not 1');
}
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
