#!/usr/bin/perl
# Every health transition is applied and logged, however many members change
# at once: 100 members fail together, the maintenance timer moves all of them
# to ERR/REC in one tick, and mod_jk's forced recovery takes all 100 back in
# one request. No buffer between the glue and the core is smaller than an
# upstream (it was 64 transitions per tick and 32 per forced recovery).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use StickyTest qw(header free_port);

my $N = 100;
my $t = StickyTest->new;
my $front = $t->port('front');
my %taken = ($front => 1);
my @ports;
while (@ports < $N) {           # free_port() may give a port twice
    my $p = free_port();
    push @ports, $p unless $taken{$p}++;
}
my @members = map { "m$_" } 1 .. $N;

# Two lb workers over the same 100 members: "frc" keeps its members in ERR
# for a minute (forced recovery is what brings them back), "rec" for 1 s
# (the timer's recovery).
my $props = "worker.list=frc,rec\n";
for my $lb (qw(frc rec)) {
    $props .= "worker.$lb.type=lb\n"
        . "worker.$lb.balance_workers=" . join(',', @members) . "\n"
        . "worker.$lb.recover_time=" . ($lb eq 'frc' ? 60 : 1) . "\n";
}
$props .= "worker.m$_.host=127.0.0.1\nworker.m$_.port=$ports[$_ - 1]\n" for 1 .. $N;
$t->write_file('workers.properties', $props);

$t->write_conf(<<"EOF");
    upstream frc { sticky_workers workers.properties lb=frc; }
    upstream rec { sticky_workers workers.properties lb=rec; }
    server {
        listen 127.0.0.1:$front;
        location /frc/ { proxy_pass http://frc; }
        location /rec/ { proxy_pass http://rec; }
    }
EOF
$t->run($front);

# The transitions of upstream $up into state $to logged since $offset, as
# { member => count }.
sub logged {
    my ($offset, $up, $to) = @_;
    my %seen;
    for (split /\n/, $t->log_since($offset)) {
        $seen{$1}++ if /upstream "\Q$up\E" worker "(m\d+)" is now \Q$to\E \(/;
    }
    return \%seen;
}

# --- 100 members fail at once ---------------------------------------------------

my $offset = -s $t->error_log;
my $r = $t->get($front, '/rec/x');
isnt($r->{status}, 200, 'rec: every member refuses: no answer');
is(scalar keys %{logged($offset, 'rec', 'ERR')}, $N, "rec: $N members in ERR, each logged");

# --- the timer recovers them all in one tick ---------------------------------------

my $deadline = time + 8;
my $recovering;
do {
    sleep 0.25;
    $recovering = logged($offset, 'rec', 'ERR/REC');
} while (keys %$recovering < $N && time < $deadline);
is(scalar keys %$recovering, $N,
   "rec: recover_time over: all $N members ERR/REC, each logged once")
    or diag scalar(keys %$recovering) . " logged";
ok(!grep({ $_ != 1 } values %$recovering), '... and none twice');

# --- forced recovery of 100 members ---------------------------------------------------

$offset = -s $t->error_log;
$r = $t->get($front, '/frc/x');
isnt($r->{status}, 200, 'frc: every member refuses: no answer');
is(scalar keys %{logged($offset, 'frc', 'ERR')}, $N, "frc: $N members in ERR");

my $backend = start_multi_backend($t, @ports);

$offset = -s $t->error_log;
$r = $t->get($front, '/frc/y');
is($r->{status}, 200, 'frc: every member in ERR: forced recovery, the request is served')
    or diag $r->{raw};
like(header($r, 'X-Port'), qr/^\d+$/, '... by one of the members');
my $forced = logged($offset, 'frc', 'ERR/FRC');
is(scalar keys %$forced, $N, "frc: forced recovery of all $N members, each logged")
    or diag scalar(keys %$forced) . " logged";
like($t->log_since($offset), qr/upstream "frc" worker "m\d+" is now OK/,
     '... and the member that answered is OK again');

kill 'KILL', $backend;
waitpid($backend, 0);

$t->finish;
done_testing;

# One single-process nginx (no module) answering 200 on every port of
# @ports, with the port in X-Port.
sub start_multi_backend {
    my ($t, @ports) = @_;
    my $listen = join '', map { "        listen 127.0.0.1:$_;\n" } @ports;
    return $t->start_plain_nginx('multi', <<"EOF", @ports);
    server {
$listen
        location / {
            add_header X-Port \$server_port always;
            return 200 "\$server_port\\n";
        }
    }
EOF
}
