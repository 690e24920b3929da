#!/usr/bin/perl
# Failover with DeltaManager (every session on every node): a 3-node Tomcat
# cluster behind nginx with the module, 12 carts of 3 books; the node with
# the most carts is killed (-9); every cart keeps all its books, each cart
# of the dead node continues on exactly one other node (and says so in
# $sticky_route_changed), the others stay where they were.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use StickyTest;
use TomcatTest qw(uniq jvm_alive front_conf);

my $T0 = time;
my $t = StickyTest->new;
my $front = $t->port('front');

my $cluster = TomcatTest::Cluster->start($t->dir . '/cluster', nodes => 3, manager => 'delta');
note sprintf 'DeltaManager cluster up in %.1f s', $cluster->start_seconds;
my @nodes = map { $cluster->route($_) } 1 .. 3;

$t->write_file('workers.properties', $cluster->workers);
$t->write_conf(front_conf($front));
$t->run($front);

# --- 12 carts of 3 books ---------------------------------------------------------------

my (@carts, %per_node, @bad);
for my $i (1 .. 12) {
    my $c = TomcatTest::Client->new($t, $front, "cart $i");
    my @books = map { "Book $_ of cart $i" } 1 .. 3;
    my %where;
    for my $b (@books) {
        my $r = $c->add($b);
        $where{$r->{node}}++;
        push @bad, "cart $i: " . TomcatTest::Client::describe($r)
            unless $r->{status} == 200 && $r->{worker} eq $r->{node};
    }
    my ($home) = keys %where;
    push @bad, "cart $i on " . join(',', keys %where) unless keys %where == 1;
    push @bad, "cart $i: session " . ($c->session // '-') . " is not of $home"
        unless ($c->session // '') =~ /\.\Q$home\E$/;
    $per_node{$home}++;
    push @carts, { client => $c, home => $home, books => \@books };
}
is_deeply(\@bad, [], '12 carts of 3 books, each on one node, every answer 200');
is(scalar(grep { $per_node{$_} } @nodes), 3, 'the carts are on all three nodes')
    or diag explain \%per_node;

# --- kill the node with the most carts ----------------------------------------------------------

my ($victim) = sort { $per_node{$b} <=> $per_node{$a} || $a cmp $b } keys %per_node;
my $vn = $cluster->node_of($victim);
my ($pid, $jvm) = ($cluster->pid($vn), '-Dcatalina.base=' . $cluster->base($vn));
$cluster->kill($vn);
ok(!jvm_alive($pid, $jvm), "$victim ($per_node{$victim} carts) killed with -9");

my (@failed, @lost, @split, @flag, %moved_to);
for my $k (0 .. $#carts) {
    my $cart = $carts[$k];
    my $moved = $cart->{home} eq $victim;
    my %where;
    for my $step (1 .. 4) {    # add, read, add, read
        my $r;
        if ($step % 2) {
            my $b = "Book " . (3 + ($step + 1) / 2) . " of cart " . ($k + 1);
            push @{$cart->{books}}, $b;
            $r = $cart->{client}->add($b);
        } else {
            $r = $cart->{client}->cart;
            push @lost, "cart $k: has " . join('|', @{$r->{books} || []})
                unless ref $r->{books} && "@{$r->{books}}" eq "@{$cart->{books}}";
        }
        push @failed, "cart $k: " . TomcatTest::Client::describe($r) unless $r->{status} == 200;
        push @flag, "cart $k: " . TomcatTest::Client::describe($r) unless $r->{changed} == ($moved ? 1 : 0);
        $where{$r->{node}}++;
    }
    my @where = keys %where;
    if ($moved) {
        push @split, "cart $k of $victim: @where" unless @where == 1 && $where[0] ne $victim;
        $moved_to{$where[0]}++ if @where == 1;
    } else {
        push @split, "cart $k of $cart->{home}: @where" unless "@where" eq $cart->{home};
    }
    push @lost, "cart $k: new session " . ($cart->{client}->session // '-')
        unless ($cart->{client}->session // '') =~ /\.\Q$cart->{home}\E$/;
}
is_deeply(\@failed, [], 'after the kill: every request answered 200');
is_deeply(\@lost, [], 'after the kill: every cart keeps its session and all its books');
is_deeply(\@split, [], "after the kill: each cart of $victim continues on exactly one other node, "
          . 'the others stay on theirs');
is_deeply(\@flag, [], "after the kill: \$sticky_route_changed is 1 exactly for the carts of $victim");
note "carts of $victim moved to: " . join ', ', map { "$_ $moved_to{$_}" } sort keys %moved_to;

$t->finish;
my @left = $cluster->stop;
is_deeply(\@left, [], 'cluster.sh stop leaves no Tomcat running');
note sprintf 'the whole test took %.1f s', time - $T0;
done_testing;
