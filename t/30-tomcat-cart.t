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

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use JSON::PP ();
use Time::HiRes qw(sleep time);
use List::Util qw(shuffle);
use StickyTest qw(header);
use StickyStatus qw(status_json worker admin);
use TomcatTest qw(uniq front_conf);

my $SEED = $ENV{STICKY_SEED} // (time ^ $$) & 0xffff;
srand $SEED;
note "random order seed $SEED (STICKY_SEED=$SEED repeats it)";

my $T0 = time;
my $t = StickyTest->new;
my $front = $t->port('front');

# --- the cluster and nginx ----------------------------------------------------------

my $cluster = TomcatTest::Cluster->start($t->dir . '/cluster', nodes => 3, manager => 'backup');
note sprintf 'cluster up in %.1f s', $cluster->start_seconds;
my @nodes = map { $cluster->route($_) } 1 .. 3;
is_deeply(\@nodes, [qw(tomcat1 tomcat2 tomcat3)], 'three nodes, jvmRoute tomcat1..3');

my $workers = $cluster->workers;
my ($lb) = $workers =~ /^worker\.list=(\S+)$/m;
ok(defined $lb && $workers =~ /^worker\.\Q$lb\E\.type=lb$/m,
   'cluster.sh workers writes an lb worker in worker.list') or BAIL_OUT($workers);
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

my $browser = TomcatTest::Client->new($t, $front, 'browser');
my $page = $browser->get('/');
is($page->{status}, 200, 'browser: the cart page is served');
like($page->{node}, qr/^tomcat[123]$/, 'browser: the page names the node that answered');
my $home = $page->{node};
my $sid = $browser->session // '';
like($sid, qr/^[0-9A-F]{32}\.\Q$home\E$/, "browser: Tomcat's session id ends in .$home")
    or diag $page->{raw};
is($page->{session}, $sid, 'browser: the page shows the session of the cookie');

my @browser_books = map { "Book $_ of the browser" } 1 .. 19;
splice @browser_books, 9, 0, 'Café Tomcat';    # UTF-8 through nginx and Tomcat
my (%b_node, %b_session, %b_status, $b_count_ok, $b_worker_ok) = ();
$b_count_ok = $b_worker_ok = 1;
for my $i (0 .. $#browser_books) {
    my $r = $browser->add($browser_books[$i]);
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

# --- 2. 300 new carts ------------------------------------------------------------------------

my @carts;    # { client, home, books => [...] }; the browser is $carts[0]
push @carts, { client => $browser, home => $home, books => [@browser_books] };
my %spread;
my ($split, $bad_new, $bad_id) = (0, 0, 0);
my $NEW = 300;
my $t_new = time;
for my $i (1 .. $NEW) {
    my $c = TomcatTest::Client->new($t, $front, "cart $i");
    my $book = "First book of cart $i";
    my $a = $c->add($book);
    my $j = $c->cart;
    $bad_new++ unless $a->{status} == 200 && $j->{status} == 200
        && ref $j->{books} && "@{$j->{books}}" eq $book;
    $split++ unless $a->{node} ne '' && $j->{node} eq $a->{node}
        && $a->{worker} eq $a->{node} && $j->{worker} eq $j->{node};
    $bad_id++ unless ($c->session // '') =~ /\.\Q$a->{node}\E$/;
    $spread{$a->{node}}++;
    push @carts, { client => $c, home => $a->{node}, books => [$book] };
}
note sprintf '%d new carts in %.1f s', $NEW, time - $t_new;
is($bad_new, 0, "$NEW new carts: each got its book, every answer 200");
is($split, 0, "$NEW new carts: each cart's two requests answered by one node");
is($bad_id, 0, "$NEW new carts: each session id ends in the route of its node");
# Equal weights, method Request: each node a third, less on the browser's
# node (its 22 requests count); a quarter each is the bound.
ok(!grep({ ($spread{$_} // 0) < $NEW / 4 } @nodes) && keys %spread == 3,
   "$NEW new carts: every node got at least a quarter") or diag explain \%spread;
note 'new carts per node: ' . join ', ', map { "$_ $spread{$_}" } sort keys %spread;

# --- 3. kill -9 the node with most carts while 30 carts shop --------------------------------

my %carts_on;
$carts_on{$_->{home}}++ for @carts;
my ($victim) = sort { $carts_on{$b} <=> $carts_on{$a} || $a cmp $b } @nodes;
note "carts per node (the browser's included): "
    . join(', ', map { "$_ " . ($carts_on{$_} // 0) } @nodes) . "; killing $victim";
my $vn = $cluster->node_of($victim);
my @survivors = grep { $_ ne $victim } @nodes;

# 30 shoppers: the browser, 12 carts of the victim in all, the rest from the
# others.
my $SHOPPERS = 30;
my @shoppers = (0);
my %want = ($victim => 12, map { $_ => 9 } @survivors);
$want{$home}--;
for my $k (1 .. $#carts) {
    last if @shoppers == $SHOPPERS;
    my $h = $carts[$k]{home};
    if (($want{$h} // 0) > 0) { $want{$h}--; push @shoppers, $k }
}
for my $k (1 .. $#carts) {    # fill up when a node had few carts
    last if @shoppers == $SHOPPERS;
    push @shoppers, $k unless grep { $_ == $k } @shoppers;
}
is(scalar @shoppers, $SHOPPERS, "$SHOPPERS shoppers, "
   . scalar(grep { $carts[$_]{home} eq $victim } @shoppers) . " of them on $victim");

# A few forked workers, each with its share of the carts (dealt in random
# order), shopping them in a new random order every round.
my $WORKERS = 6;
my @share;
my @dealt = shuffle @shoppers;
push @{$share[$_ % $WORKERS]}, $dealt[$_] for 0 .. $#dealt;
my $marker = $t->dir . '/killed';
my %child;    # pid => its carts
for my $mine (@share) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        srand($SEED + $$);
        my $ok = eval { shop(@$mine); 1 };
        print STDERR "shopper of @$mine: $@" unless $ok;
        POSIX::_exit($ok ? 0 : 1);    # no END blocks, no harness DESTROY here
    }
    $child{$pid} = $mine;
}

# Kill once every shopper has done two rounds (bounded).
my $deadline = time + 30;
until (!grep { lines_of($_) < 4 } @shoppers) {
    last if time > $deadline;
    sleep 0.05;
}
ok(!grep({ lines_of($_) < 4 } @shoppers), "all $SHOPPERS shoppers are shopping before the kill");
my $log_before_kill = -s $t->error_log // 0;
my ($victim_pid, $victim_jvm) = ($cluster->pid($vn), '-Dcatalina.base=' . $cluster->base($vn));
ok(TomcatTest::jvm_alive($victim_pid, $victim_jvm), "$victim runs before the kill");
my $kill_start = time;
$cluster->kill($vn);
my $kill_end = time;
ok(!TomcatTest::jvm_alive($victim_pid, $victim_jvm), "$victim is gone (kill -9)");
open my $m, '>', $marker or die "$marker: $!";
close $m;

# Each worker goes on for 4 rounds after it saw the marker; bounded wait.
$deadline = time + 60;
my $child_failed = 0;
while (%child && time < $deadline) {
    my $pid = waitpid(-1, POSIX::WNOHANG());
    if ($pid > 0) {
        $child_failed++ if $?;
        delete $child{$pid};
        next;
    }
    sleep 0.05;
}
ok(!%child, 'all shoppers finished within 60 s') or do {
    kill 'KILL', keys %child;
    waitpid($_, 0) for keys %child;
};
is($child_failed, 0, 'no shopper process died');

# What the shoppers saw.
my (@failed, @lost_session, @lost_book, @wrong_node, @not_changed, @changed_home,
    @bad_dup, %moved_to);
for my $k (@shoppers) {
    my $cart = $carts[$k];
    my @seen = records($k);
    my $moved = $cart->{home} eq $victim;
    my %after;     # nodes of requests sent after the kill
    my $sid_k = $cart->{client}->session;
    for my $rec (@seen) {
        push @failed, "$k: $rec->{desc}" unless $rec->{status} == 200;
        push @lost_session, "$k: $rec->{desc}" unless $rec->{session} eq $sid_k;
        push @{$cart->{books}}, $rec->{book} if $rec->{kind} eq 'add';
        push @{$cart->{added}}, $rec if $rec->{kind} eq 'add';
        if ($rec->{kind} eq 'cart' && $rec->{status} == 200) {
            # a read sees every book added before it
            my @expected = @{$cart->{books}};
            push @lost_book, "$k: read has " . scalar(@{$rec->{books}}) . ' of ' . scalar(@expected)
                unless "@{[uniq(@{$rec->{books}})]}" eq "@expected";
        }
        if ($rec->{t1} < $kill_start) {          # before: at home
            push @wrong_node, "$k before the kill: $rec->{desc}" unless $rec->{node} eq $cart->{home};
        } elsif ($rec->{t0} > $kill_end) {       # after: home, or one replacement
            $after{$rec->{node}}++;
            push @not_changed, "$k: $rec->{desc}" if $moved && !$rec->{changed};
            push @changed_home, "$k: $rec->{desc}" if !$moved && $rec->{changed};
        } elsif ($rec->{node} ne $cart->{home}) { # in flight: home or the replacement
            $after{$rec->{node}}++;
        }
    }
    my @after = sort keys %after;
    if ($moved) {
        push @wrong_node, "$k ($victim) after the kill: @after"
            unless @after == 1 && $after[0] ne $victim;
        $cart->{now} = $after[0];
        $moved_to{$after[0] // 'none'}++;
    } else {
        push @wrong_node, "$k ($cart->{home}) after the kill: @after"
            unless "@after" eq $cart->{home};
        $cart->{now} = $cart->{home};
    }
}
my ($requests, $in_flight) = (0, 0);
for my $k (@shoppers) {
    my @seen = records($k);
    $requests += @seen;
    $in_flight += grep { $_->{t0} < $kill_end && $_->{t1} > $kill_start } @seen;
}
note "$in_flight request(s) in flight during the kill";
ok($requests >= $SHOPPERS * 12, "the shoppers made $requests requests (at least 6 rounds each)");
is_deeply(\@failed, [], 'kill: every request of every shopper is answered 200');
is_deeply(\@lost_session, [], 'kill: no shopper got a new session');
is_deeply(\@lost_book, [], 'kill: every read shows all books added before it');
is_deeply(\@wrong_node, [], "kill: carts of $victim continue on exactly one other node, "
          . 'the other carts stay on theirs');
is_deeply(\@not_changed, [], "kill: \$sticky_route_changed is 1 for the carts of $victim");
is_deeply(\@changed_home, [], 'kill: $sticky_route_changed is not 1 for the other carts');

# Every one of the carts, read twice: complete, and where it should be.
my (@incomplete, @misplaced, @wrong_flag);
for my $k (0 .. $#carts) {
    my $cart = $carts[$k];
    my $moved = $cart->{home} eq $victim;
    my %where;
    for (1 .. 2) {
        my $r = $cart->{client}->cart;
        $where{$r->{node}}++;
        push @incomplete, "cart $k: " . TomcatTest::Client::describe($r)
            unless $r->{status} == 200 && ref $r->{books}
            && books_ok($cart, $r->{books});
        push @wrong_flag, "cart $k: " . TomcatTest::Client::describe($r)
            unless $r->{changed} == ($moved ? 1 : 0);
        $cart->{final} = $r->{books};
    }
    my @where = keys %where;
    my $expect = $cart->{now} // ($moved ? undef : $cart->{home});
    if (@where != 1 || $where[0] eq $victim
        || (defined $expect && $where[0] ne $expect)) {
        push @misplaced, "cart $k (home $cart->{home}" . ($expect ? ", expected $expect" : '')
            . '): ' . join(', ', map { "$_ $where{$_}" } @where);
    }
    if ($moved && !defined $cart->{now}) { $cart->{now} = $where[0]; $moved_to{$where[0]}++ }
}
is_deeply(\@incomplete, [], 'after the kill: all ' . scalar(@carts)
          . ' carts have all their books, in order');
is_deeply(\@misplaced, [], 'after the kill: each cart is read from one node, '
          . "the moved ones where they continued");
is_deeply(\@wrong_flag, [], "after the kill: \$sticky_route_changed is 1 exactly for $victim\'s carts");
ok(!grep({ !$moved_to{$_} } @survivors),
   "the carts of $victim are spread over both survivors") or diag explain \%moved_to;
note "carts of $victim moved to: " . join ', ', map { "$_ $moved_to{$_}" } sort keys %moved_to;
my $dups = grep { @{$_->{final}} != uniq(@{$_->{final}}) } @carts;
is_deeply(\@bad_dup, [], 'a book appears twice only when its request was in flight at the kill');
note "$dups cart(s) with a book twice (a request retried at the kill)" if $dups;
my $kill_log = $t->log_since($log_before_kill);
my $victim_addr = '127.0.0.1:' . $cluster->port($vn);
like($kill_log, qr/(?:connect\(\) failed \(111: Connection refused\)|recv\(\) failed \(104: Connection reset by peer\)|upstream prematurely closed connection).*upstream: "http:\/\/\Q$victim_addr\E\//,
     "error.log: nginx saw $victim fail (refused, reset or closed)");
like($kill_log, qr/worker "\Q$victim\E" is now ERR \((?:connect|read) failed/,
     "error.log: the module put $victim into error");

# --- 4. restart: the node is used again ------------------------------------------------------

$cluster->restart($vn);
ok(TomcatTest::jvm_alive($cluster->pid($vn), $victim_jvm), "$victim restarted");
my $restarted = time;
my ($back, %tries) = (undef);
$deadline = time + 20;
my $n = 0;
while (time < $deadline) {
    my $c = TomcatTest::Client->new($t, $front, 'after restart ' . ++$n);
    my $a = $c->add("Book after restart $n");
    $tries{$a->{node} || "status $a->{status}"}++;
    if ($a->{status} == 200 && $a->{node} eq $victim) { $back = $c; last }
    sleep 0.02;    # pacing only; the bound is the deadline
}
ok($back, "new carts reach $victim again (recover_time=$RECOVER)") or diag explain \%tries;
note sprintf "first new cart on $victim %.1f s after its restart, after %d new cart(s)",
    time - $restarted, $n;
is(join(',', grep { !/^tomcat/ } keys %tries), '', 'while it recovers new carts are answered 200');
if ($back) {
    $r = $back->cart;
    is($r->{node}, $victim, "a new cart on $victim stays there");
    is($r->{changed}, 0, '... with $sticky_route_changed not 1');
}
# A shopper of $victim (the browser when it lived there): its session names
# $victim, so it goes home, with its cart.
my ($ret) = grep { $carts[$_]{home} eq $victim } @shoppers;
my $rname = $carts[$ret]{client}->name;
$r = $carts[$ret]{client}->cart;
is($r->{node}, $victim, "$rname: its cart is served by $victim again");
ok(ref $r->{books} && books_ok($carts[$ret], $r->{books}),
   "$rname: its cart still has all its books there") or diag TomcatTest::Client::describe($r);
is($r->{changed}, 0, "$rname: no longer marked as moved");

# --- 5. drain a node through the status API, then activate it ------------------------------

my $drained = $survivors[0];
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
        && books_ok($cart, $j->{books});
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

# --- helpers ----------------------------------------------------------------------------------

# The cart's final books: all it was given, in order; a book twice only
# when its add request was in flight during the kill (nginx retried it).
sub books_ok {
    my ($cart, $got) = @_;
    return 0 unless "@{[uniq(@$got)]}" eq "@{$cart->{books}}";
    my %count;
    $count{$_}++ for @$got;
    for my $book (grep { $count{$_} > 1 } keys %count) {
        my ($rec) = grep { $_->{book} eq $book } @{$cart->{added} || []};
        unless ($rec && $count{$book} == 2 && $rec->{t0} < $kill_end && $rec->{t1} > $kill_start) {
            push @bad_dup, "$cart->{client}{name}: '$book' $count{$book} times";
            return 0;
        }
    }
    return 1;
}

# The shopper's log: one JSON line per request.
sub log_file { $t->dir . "/shopper-$_[0].log" }

sub lines_of {
    my ($k) = @_;
    open my $fh, '<', log_file($k) or return 0;
    my $n = 0;
    $n++ while defined(my $line = <$fh>);    # not into $_: callers alias it
    return $n;
}

sub records {
    my ($k) = @_;
    open my $fh, '<', log_file($k) or return ();
    my $json = JSON::PP->new;
    return map { $json->decode($_) } <$fh>;
}

# A shopper (in a child process) with carts @ks: rounds of "add a book,
# read the cart" for each of its carts in a random order, with a short think
# time, until 4 rounds after the kill marker appeared.
sub shop {
    my (@ks) = @_;
    my %log;
    for my $k (@ks) {
        open $log{$k}, '>>', log_file($k) or die "log: $!";
        $log{$k}->autoflush(1);
    }
    my $json = JSON::PP->new->canonical;
    my ($after, $round) = (0, 0);
    while ($after < 4 && $round < 200) {
        $after++ if -e $marker;
        $round++;
        for my $k (shuffle @ks) {
            my $c = $carts[$k]{client};
            my $name = $k == 0 ? 'browser' : "cart $k";
            for my $kind ('add', 'cart') {
                my $r = $kind eq 'add' ? $c->add("Book $round of $name while shopping") : $c->cart;
                print { $log{$k} } $json->encode({
                    kind => $kind, book => $r->{book} // '', t0 => $r->{t0}, t1 => $r->{t1},
                    status => $r->{status}, node => $r->{node}, session => $r->{session},
                    changed => $r->{changed}, books => $r->{books} || [],
                    desc => TomcatTest::Client::describe($r),
                }), "\n";
            }
        }
        sleep 0.05;
    }
}
