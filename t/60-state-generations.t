#!/usr/bin/perl
# Each configuration has state of its own: a worker process of an old
# configuration, still finishing a long request across several reloads that
# reorder, add and remove members, writes its failure into its own
# configuration's records, never into the current ones (whose record order
# is another). Its memory is freed once none of its processes is left.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties session_id served_by);
use StickyStatus qw(status_json worker);

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } qw(t1 t2 t4);
$port{t3} = $t->start_hold_backend('t3');

# t3 is disabled: it gets no new session, only the held request's.
sub workers {
    return lb_properties('cluster', { recover_time => 60 },
                         map { [$_ => { port => $port{$_},
                                        $_ eq 't3' ? (activation => 'D') : () }] } @_);
}
$t->write_file('workers.properties', workers(qw(t1 t2 t3)));
$t->write_conf(<<"EOF");
    upstream tomcats { sticky_workers workers.properties; }
    server {
        listen 127.0.0.1:$front;
        location / {
            proxy_pass http://tomcats;
            proxy_read_timeout 120s;
            proxy_next_upstream off;
        }
        location /status { sticky_status; }
    }
EOF
$t->run($front);

sub state { status_json($t, $front, '/status') }
sub sticky_to {
    my ($route) = @_;
    return served_by($t->get($front, '/', Cookie => 'JSESSIONID=' . session_id('s', $route)));
}

# --- a request of the first configuration, held by t3 --------------------------------

my @first = $t->worker_pids;
my $held = $t->send_request($front, '/held', Cookie => 'JSESSIONID=' . session_id('held', 't3'));
ok($t->wait_for(5, sub { $t->held('t3') == 1 }), 't3 holds a request of the first configuration');
is(worker(state(), 'tomcats', 't3')->{in_flight}, 1, '... counted in flight');

# --- three reloads while it runs: reordered, a member added, one removed ----------------

my @files = ([qw(t3 t1 t2)], [qw(t2 t4 t3 t1)], [qw(t4 t3 t2)]);
for my $i (0 .. $#files) {
    my $members = join ',', @{$files[$i]};
    $t->write_file('workers.properties', workers(@{$files[$i]}));
    is($t->reload(old_may_stay => 1), 1, "reload " . ($i + 1) . ": members $members");
    my %who;
    $who{served_by($t->get($front, "/new$i$_"))}++ for 1 .. 6;
    ok(!grep({ !/^t[124]$/ } keys %who), "reload " . ($i + 1) . ": new sessions are served")
        or diag explain \%who;
}
my @alive = grep { kill 0, $_ } @first;
ok(@alive >= 1, 'a worker process of the first configuration still runs its request');
is(worker(state(), 'tomcats', 't3')->{in_flight}, 0,
   'the current records count no request of another configuration');

# --- its request fails at last ---------------------------------------------------------

my $offset = -s $t->error_log;
$t->kill_backend('t3');
my $r = $t->answer($held, 10);
is($r->{status}, 502, 'the held request fails when t3 dies');
my $log = '';
ok($t->wait_for(5, sub { ($log = $t->log_since($offset)) =~ /worker "t3" is now ERR/ }),
   'the old process puts t3 in error in its own configuration');
my ($logger) = $log =~ /(\d+)#\d+: .*worker "t3" is now ERR/;
ok($logger && grep({ $_ == $logger } @first), '... a process of the first configuration')
    or diag "logged by " . ($logger // 'nobody') . ", first workers: @first";
unlike($log, qr/worker "t[124]" is now ERR/, 'no other member is put in error');

# --- the current records are untouched -------------------------------------------------

my $doc = state();
for my $name (qw(t4 t3 t2)) {
    my $w = worker($doc, 'tomcats', $name);
    like($w->{state}, qr{^OK}, "current $name is healthy") or diag explain $w;
    is($w->{errors}, 0, "current $name has no error");
    is($w->{in_flight}, 0, "current $name has nothing in flight");
}
ok(!worker($doc, "tomcats", "t1"), "the removed member is not shown")
    or diag explain $doc;
is(sticky_to('t2'), 't2', "t2's sessions stay on t2");
is(sticky_to('t4'), 't4', "t4's sessions stay on t4");

# --- the replaced configurations are freed ---------------------------------------------

ok($t->wait_for(10, sub { !grep { kill 0, $_ } @first }),
   'the first configuration\'s processes exit once their requests are done');
ok($t->wait_for(10, sub {
       my $all = $t->read_file('logs/error.log');
       3 == grep { $all =~ /state of replaced configuration $_ is freed/ } 1 .. 3;
   }), 'the state of each replaced configuration is freed')
    or diag join "\n", grep { /freed/ } split /\n/, $t->read_file('logs/error.log');
unlike($t->read_file('logs/error.log'), qr/configuration 4 is freed/,
       'the current configuration is kept');

$t->finish;
done_testing;
