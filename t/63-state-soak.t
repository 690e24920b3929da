#!/usr/bin/perl
# A soak of the shared state: 60 s of wrk with 600 sessions while backends
# are killed and restarted, 10 reloads add, remove and reorder members, two
# reloads fail, and a worker process holding requests is killed (kill -9).
# Every answer is a 200; no session moves off a member that was present and
# healthy while it was handled; the killed process's requests leave the
# in-flight count within seconds; at the end nothing is in flight and the
# status page shows the last file's members, healthy, with the file's
# activations; the state of every replaced configuration is freed.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);
use StickyTest qw(lb_properties session_id served_by);
use StickyStatus qw(status_json worker);
use FailTest qw(start_raw_backend raw_requests);

my $WRK = (grep { -x } map { "$_/wrk" } split /:/, $ENV{PATH})[0]
    or die "wrk is not installed (make deps installs it)\n";
my $SECONDS = 60;         # of load
my $CONNECTIONS = 20;     # wrk's, over 2 threads
my $RECOVER = 5;          # recover_time

my $t = StickyTest->new;
my $front = $t->port('front');
my @routes = qw(t1 t2 t3 t4 t5);
my %port = map { $_ => $t->start_backend($_) } @routes;
# `slow`: answers /slow/S after S seconds; Disabled, so only the test's own
# requests (of its sessions) reach it.
$port{slow} = start_raw_backend($t, 'slow');

# A file of members: names, "NAME:D" for a Disabled one; `slow` always last.
sub workers {
    my @members = (@_, 'slow:D');
    return lb_properties('cluster', { recover_time => $RECOVER },
        map { my ($n, $a) = split /:/;
              [$n => { port => $port{$n}, $a ? (activation => $a) : () }] } @members);
}
sub names { map { (split /:/)[0] } @_, 'slow' }

my @first = qw(t1 t2 t3 t4);
$t->write_file('workers.properties', workers(@first));
my $http = <<"EOF";
    upstream tomcats {
        sticky_workers workers.properties;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$front;
        # the session of the request, for the wrk script (nginx's own reading)
        add_header X-Session \$cookie_JSESSIONID always;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location / { proxy_pass http://tomcats; }
        location /status { sticky_status; }
    }
EOF
$t->write_conf($http);
$t->run($front);

sub state { status_json($t, $front, '/status') }
sub member { worker(state(), 'tomcats', $_[0]) // {} }
sub shown { map { $_->{name} } map { @{$_->{workers}} } grep { $_->{name} eq 'tomcats' }
            @{(state() // {})->{upstreams} || []} }

# --- the timeline the answers are judged by ---------------------------------------------------

# Who may answer, from when to when: [from, to (undef: still), { member => 1 }].
# Between a HUP and the moment the last old worker process is gone, either
# configuration may answer: only the members of both are there for sure.
my @present = ([0, undef, { map { $_ => 1 } @first }]);
my %down;             # route => [[killed, seen OK again], ...]
my @events;           # "SECONDS WHAT", for the output
# The zone numbers each configuration it builds state for: the running one,
# the next one, those replaced, and one built for a reload that failed.
my ($current, $next) = (1, 2);
my (@replaced, @failed);
my $reloads = 0;
my $killed_worker = 0;

sub reload_to {
    my (@members) = @_;
    $reloads++;
    $t->write_file('workers.properties', workers(@members));
    my $hup = time;
    my $ok = $t->reload;
    my $done = $ok ? time : time + 10;
    is($ok, 1, "reload $reloads: " . join(' ', names(@members)));
    my %new = map { $_ => 1 } names(@members);
    my $old = $present[-1][2];
    $present[-1][1] = $hup;
    push @present, [$hup, $done, { map { $_ => 1 } grep { $old->{$_} } keys %new }],
                   [$done, undef, \%new];
    push @replaced, $current;
    $current = $next++;
}

sub kill_member {
    my ($route) = @_;
    push @{$down{$route}}, [time, undef];
    $t->kill_backend($route);
}

# Started again on its port; sessions come back once the page shows it OK.
sub restart_member {
    my ($route) = @_;
    $t->start_backend($route);
    my $ok = $t->wait_for($RECOVER + 6, sub { (member($route)->{state} // '') =~ /^OK/ });
    ok($ok, "$route is OK again within recover_time + 6 s of its restart")
        or diag explain member($route);
    $down{$route}[-1][1] = time if $ok;
}

# --- a worker process that holds requests is killed -------------------------------------------

# Requests held by slow (answered 8 s after they came), sent one at a time
# until both worker processes hold some; the one holding more is killed.
# Only its requests leave the in-flight count, within the seconds the
# process check takes, before any other request ends.
sub kill_worker {
    my (@s, %by);
    # every request sent is read by slow, on a connection of a worker process
    my $all_held = sub {
        my @pids = $t->connections_to($port{slow});
        %by = ();
        $by{$_}++ for @pids;
        return @pids == @s && grep({ $_->[2] =~ m{^/slow/} } raw_requests($t, 'slow')) == @s;
    };
    my $ok = 1;
    while ($ok && @s < 12) {
        my $i = @s;
        push @s, $t->send_request($front, "/slow/8/$i",
                                  Cookie => 'JSESSIONID=' . session_id("held$i", 'slow'));
        $ok = $t->wait_for(5, $all_held);
        last if @s >= 4 && keys %by == 2;
    }
    my $held = @s;
    ok($ok, "$held requests held by slow, in " . keys(%by) . ' worker processes')
        or diag explain \%by;
    is(member('slow')->{in_flight}, $held, '... counted in flight');
    my ($victim) = sort { $by{$b} <=> $by{$a} } keys %by;
    my $left = $held - $by{$victim};
    my $offset = -s $t->error_log;
    my $killed = time;
    $killed_worker = $victim;
    kill 'KILL', $victim;
    my $released = $t->wait_for(4, sub { member('slow')->{in_flight} == $left });
    ok($released, "kill -9 of the worker process holding $by{$victim} of them: "
       . "in flight back to $left within 4 s") or diag explain member('slow');
    diag sprintf 'in flight back to the truth %.2f s after the kill -9', time - $killed
        if $released;
    like($t->log_since($offset), qr/worker process $victim is gone, what it held is released/,
         '... and the log says so');
    ok($t->wait_for(5, sub { grep({ $_ != $victim } $t->worker_pids) == 2 }),
       'the master started another worker process');
    my @answers = map { $t->answer($_, 12) } @s;
    is(scalar(grep { served_by($_) eq 'slow' } @answers), $left,
       "the other worker process's requests are answered by slow");
    is(member('slow')->{in_flight}, 0, 'nothing is in flight on slow any more');
}

# --- reloads that fail change nothing ---------------------------------------------------------

sub failed_reload {
    my ($what, $break, $repair) = @_;
    my @pids = $t->worker_pids;
    my @before = shown();
    $break->();
    is($t->reload, 0, "a reload with $what fails");
    $repair->();
    is_deeply([$t->worker_pids], \@pids, '... the worker processes stay');
    is_deeply([shown()], \@before, '... the members stay');
}

sub bad_file {
    my $good = $t->read_file('workers.properties');
    failed_reload('an unknown attribute in the file',
        sub { $t->write_file('workers.properties', "$good\nworker.t1.lbfactr=2\n") },
        sub { $t->write_file('workers.properties', $good) });
}

# After the state is built: the listening socket cannot be bound.
sub bad_bind {
    my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                      Proto => 'tcp', Listen => 1) or die "listen: $!";
    my $offset = -s $t->error_log;
    my $listen = '    server { listen 127.0.0.1:' . $busy->sockport . "; }\n";
    failed_reload('a port in use',
        sub { $t->write_conf($http . $listen) },
        sub {
            # nginx tries the bind for 2.5 s before it gives the reload up
            $t->wait_for(10, sub { $t->log_since($offset) =~ /still could not bind/ });
            $t->write_conf($http);
        });
    push @failed, $next++;
    close $busy;
}

# --- the load ---------------------------------------------------------------------------------

my $sessions = $t->write_file('sessions.txt',
    join '', map { session_id("soak$_", $routes[$_ % @routes]) . "\n" } 0 .. 599);
my $out = $t->dir . '/wrk.out';
my $t0 = time;
my $wrk = fork // die "fork: $!";
if ($wrk == 0) {
    open STDOUT, '>', $t->dir . '/wrk.log';
    open STDERR, '>&', \*STDOUT;
    exec $WRK, '-t2', "-c$CONNECTIONS", "-d${SECONDS}s", '--timeout', '10s',
        '-s', "$FindBin::Bin/wrk/soak.lua", "http://127.0.0.1:$front", '--', $sessions, $out;
    die "exec $WRK: $!";
}
$t->{backends}{wrk} = $wrk;    # killed by the harness if the test dies
$present[0][0] = $t0;

my @plan = (
    [ 2, reload  => [qw(t2 t1 t3 t4)]],              # reordered
    [ 4, kill    => 't3'],
    [ 6, reload  => [qw(t1 t2 t3 t4 t5)]],           # t5 added while t3 is down
    [ 8, reload  => [qw(t5 t4 t3 t2 t1)]],           # reordered
    [10, restart => 't3'],                           # and seen OK again
    [17, reload  => [qw(t1 t2 t3 t5)]],              # t4 removed
    [19, 'kill_worker'],                             # about 9 s
    [29, reload  => [qw(t3 t5 t1 t2)]],              # reordered
    [30, 'bad_file'],
    [31, 'bad_bind'],                                # about 3 s
    [35, reload  => [qw(t1 t2 t3 t4 t5)]],           # t4 back, fresh
    [37, kill    => 't5'],
    [39, reload  => [qw(t4 t1 t5 t2 t3)]],           # reordered while t5 is down
    [41, restart => 't5'],
    [48, reload  => [qw(t1 t2 t3 t4)]],              # t5 removed
    [50, reload  => [qw(t2 t3 t4:D t1 t5)]],         # t5 back, t4 Disabled
    [53, reload  => [qw(t1 t2 t3 t4:D t5)]],         # the last file
);
my %do = (reload => \&reload_to, kill => \&kill_member, restart => \&restart_member,
          kill_worker => \&kill_worker, bad_file => \&bad_file, bad_bind => \&bad_bind);
for my $step (@plan) {
    my ($when, $what, $arg) = @$step;
    my $wait = $t0 + $when - time;
    sleep $wait if $wait > 0;
    push @events, sprintf '%.1f %s', time - $t0,
        join ' ', $what, ref $arg ? @$arg : $arg // ();
    $do{$what}->(ref $arg ? @$arg : defined $arg ? $arg : ());
}
my $events_done = time - $t0;
ok($events_done < $SECONDS, sprintf 'every event happened under load (the last at %.1f s)',
   $events_done);

my $wrk_status;
ok($t->wait_for($SECONDS + 30 - (time - $t0), sub {
       waitpid($wrk, WNOHANG) == $wrk and defined($wrk_status = $?) }),
   'wrk ends') or diag $t->read_file('wrk.log');
delete $t->{backends}{wrk};
is($wrk_status, 0, 'wrk succeeded') or diag $t->read_file('wrk.log');

# --- what the users saw -----------------------------------------------------------------------

my ($summary) = $t->read_file($out) =~ /^summary (.*)$/m;
ok($summary, 'the wrk script wrote its counts') or diag $t->read_file('wrk.log');
my ($requests, $connect, $read, $write, $status_errors, $timeouts, $latency_max)
    = split ' ', $summary // '';
my $lat = ($latency_max // 0) / 1e6;
my (%status, %checked, %moved, %elsewhere, %who_new, @bad);
my $answers = 0;
for (split /\n/, $t->read_file($out)) {
    my ($tenth, $route, $backend, $status, $n) = /^at (\d+) (\S+) (\S+) (\d+) (\d+)$/ or next;
    $answers += $n;
    $status{$status} += $n;
    push @bad, sprintf('%.1f s: %d x %d (route %s, %s)', $tenth / 10 - $t0, $n, $status, $route,
                       $backend) if $status != 200;
    if ($route eq '-') {
        $who_new{$backend} += $n;
        next;
    }
    # handled between the request (at most the slowest latency before) and the answer
    if (present_and_healthy($route, $tenth / 10 - $lat - 0.05, ($tenth + 1) / 10 + 0.05)) {
        $checked{$route} += $n;
        $moved{$route} += $n if $backend ne $route;
    } elsif ($backend ne $route) {
        $elsewhere{$route} += $n;
    }
}

# From $from to $to, $route was in every configuration that may have
# answered, and its backend was neither down nor waiting to be seen OK.
sub present_and_healthy {
    my ($route, $from, $to) = @_;
    return 0 if $from < $present[0][0];
    return 0 if grep { $_->[0] < $to && (!defined $_->[1] || $_->[1] > $from)
                       && !$_->[2]{$route} } @present;
    return !grep { $from < ($_->[1] // 9e9) && $to > $_->[0] } @{$down{$route} || []};
}

diag sprintf 'wrk: %d answers in %d s (%d/s), socket errors: connect %d, read %d, write %d, '
    . 'timeout %d; non-2xx %d; slowest %.3f s', $requests // 0, $SECONDS,
    ($requests // 0) / $SECONDS, $connect // 0, $read // 0, $write // 0, $timeouts // 0,
    $status_errors // 0, $lat;
diag 'statuses: ' . join(', ', map { "$_ x $status{$_}" } sort keys %status);
diag 'answers to the sessions of a member while it was there and healthy (moved), '
    . 'answered elsewhere while it was not: '
    . join(', ', map { sprintf '%s %d (%d), %d', $_, $checked{$_} // 0, $moved{$_} // 0,
                       $elsewhere{$_} // 0 } @routes);
diag 'events (s into the load): ' . join '; ', @events;

is($answers, $requests, 'the script saw every answer wrk counted');
ok($requests > 20 * $SECONDS, 'a steady load') or diag $requests;
is($status{200} // 0, $answers, 'every answer is a 200')
    or diag join "\n", @bad[0 .. ($#bad < 20 ? $#bad : 19)];
is($status_errors, 0, 'wrk counted no non-2xx answer');
is($connect + $timeouts, 0, 'no connection refused or timed out');
# Each request has a connection of its own (Connection: close), so a reload
# cuts none: only the connections the killed worker process had are cut.
ok($read + $write <= $CONNECTIONS,
   "connections cut: only those the killed worker process had (at most $CONNECTIONS)")
    or diag "read $read, write $write";
for my $r (@routes) {
    ok(($checked{$r} // 0) > 100, "sessions of $r checked while it was present and healthy");
    is($moved{$r} // 0, 0, "... none of them moved");
}
# their sessions failed over (a 200 from another member) while they were down or absent
ok($elsewhere{$_}, "sessions of $_ were answered elsewhere while it was not there")
    for qw(t3 t4 t5);
ok(!$who_new{slow}, 'no new session reached the Disabled member');

# --- the state afterwards ---------------------------------------------------------------------

my @last = qw(t1 t2 t3 t4 t5 slow);
ok($t->wait_for(5, sub {
       my $doc = state();
       !grep { (worker($doc, 'tomcats', $_) // { in_flight => -1 })->{in_flight} != 0 } @last;
   }), 'nothing is in flight once the load stops') or diag explain state();
my $doc = state();
is_deeply([shown()], \@last, "the page shows the last file's members, in its order");
my %activation = (t4 => 'D', slow => 'D');
for my $name (@last) {
    my $w = worker($doc, 'tomcats', $name) // {};
    like($w->{state} // '', qr{^OK(/IDLE)?$}, "$name is healthy");
    is($w->{activation}, $activation{$name} // 'A', "$name: activation as configured");
}
is(worker($doc, 'tomcats', $_)->{errors}, 0, "$_ never failed") for qw(t1 t2 t4 slow);
ok(worker($doc, 'tomcats', 't3')->{errors} > 0, "t3's failures are remembered across 10 reloads");
is(worker($doc, 'tomcats', 't5')->{errors}, 0, 't5 was removed and added back: it started fresh');
for my $r (@routes) {
    my %who;
    $who{served_by($t->get($front, '/', Cookie => 'JSESSIONID=' . session_id("soak$_", $r)))}++
        for 1 .. 5;
    is(join(',', keys %who), $r, "sessions of $r are served by $r");
}

# Each configuration replaced is freed once its processes are gone (the
# killed one included); a configuration that failed to load was never in use.
ok($t->wait_for(5, sub {
       my $log = $t->read_file('logs/error.log');
       !grep { $log !~ /state of replaced configuration $_ is freed/ } @replaced;
   }), 'the state of each of the ' . @replaced . ' replaced configurations is freed')
    or diag join "\n", grep { /freed/ } split /\n/, $t->read_file('logs/error.log');
my $never = join '|', @failed, $current;
unlike($t->read_file('logs/error.log'), qr/state of replaced configuration (?:$never) is freed/,
       'neither the current configuration nor the one that failed to load is "replaced"');

$t->finish(allow => qr/\[alert\] \d+#\d+: worker process $killed_worker exited on signal 9$/);
done_testing;
