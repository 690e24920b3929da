#!/usr/bin/perl
# make bench-failover, second part: how soon a killed and restarted Tomcat
# takes new sessions again, Apache httpd + Debian's mod_jk 1.2.48 against
# nginx + the module, in front of the same real Tomcat 10 cluster over AJP.
#
#   3 Tomcat 10 nodes (t/tomcat/cluster.sh, tomcat10-user, jvmRoute
#   tomcat1..3, AJP connectors with a secret both fronts send); one front at
#   a time, started fresh for each run, with the lb `cluster` of the three
#   (recover_time=5 on the lb, where mod_jk reads it);
#   a steady light load: 8 clients, each one request after the other with
#   50 ms between them, three in four from a session of one of the routes
#   (30 a client, a fake id "HEX.tomcatN": Tomcat never looks it up), one in
#   four without a cookie (a new session), all GET /conn (the cart app's
#   diagnostics: X-Node says who answered, no session is made);
#   tomcat1 killed (kill -9) 5 s into the load, started again (cluster.sh
#   restart-node) some seconds later, a little later in each run so that the
#   restart falls at every point of the front's cycle;
#   measured: from the first CPong the restarted Tomcat answers on its AJP
#   port (polled every 50 ms: the JVM needs seconds to start, and binds the
#   port before it serves) until the first answer from tomcat1 to a request
#   without a cookie. Also the time from the restart command to that CPong,
#   and every request the clients saw fail (not 200). For mod_jk, tomcat1's
#   state on its status worker (/jkstatus, polled every 250 ms) along the way.
#
# Conditions (FAILOVER_CONDITIONS="A B5 ..." picks some; FAILOVER_RUNS=N
# runs each N times instead of its default):
#   A    mod_jk as Debian ships it: JkWatchdogInterval 60
#        (/etc/apache2/mods-available/jk.conf), no worker.maintain (60)
#   B60  mod_jk, no watchdog: maintenance driven by requests; no
#        worker.maintain (60)
#   B5   the same with worker.maintain=5
#   B1   the same with worker.maintain=1
#   Cp   nginx + module, ajp_pass, probe=/ probe_interval=1s (over AJP the
#        probe is a CPing), worker.maintain=5
#   Cr   nginx + module, ajp_pass, no probe= (a request tests the member),
#        worker.maintain=5
# Five runs each (B60: three); about 17 minutes on 2 cores. Apache:
# mpm_event, 2 processes x 32 threads, children as www-data when run as
# root, as bench/run.sh; nginx: 2 worker processes. bench/RESULTS.md keeps
# the output of a run ("Failover: a restarted Tomcat node").
#
#   STICKY_MODULE=build/ngx_http_sticky_workers_module.so perl -I t/lib t/bench/failover_tomcat.pl

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
use StickyTest qw(session_id header);
use TomcatTest ();
use ModJk ();

$| = 1;
my $SECRET = 's3cret';
my $CLIENTS = 8;
my $PAUSE = 0.05;
my $KILL_AT = 5;
my $VICTIM = 1;
my $LIMIT = 100;    # seconds after the CPong: give up

my @CONDITIONS = (
    { key => 'A', front => 'mod_jk', watchdog => 60, maintain => undef, runs => 5,
      restart => [10, 22, 34, 46, 58],
      what => "mod_jk, Debian's JkWatchdogInterval 60, worker.maintain unset (60)" },
    { key => 'B60', front => 'mod_jk', watchdog => 0, maintain => undef, runs => 3,
      restart => [10, 30, 50],
      what => 'mod_jk, no watchdog (maintenance by requests), worker.maintain unset (60)' },
    { key => 'B5', front => 'mod_jk', watchdog => 0, maintain => 5, runs => 5,
      restart => [10, 12, 14, 16, 18],
      what => 'mod_jk, no watchdog (maintenance by requests), worker.maintain=5' },
    { key => 'B1', front => 'mod_jk', watchdog => 0, maintain => 1, runs => 5,
      restart => [10, 11.25, 12.5, 13.75, 15],
      what => 'mod_jk, no watchdog (maintenance by requests), worker.maintain=1' },
    { key => 'Cp', front => 'module', probe => 'probe=/ probe_interval=1s', maintain => 5,
      runs => 5, restart => [10, 11.25, 12.5, 13.75, 15],
      what => 'module, ajp_pass, probe=/ probe_interval=1s (a CPing), worker.maintain=5' },
    { key => 'Cr', front => 'module', probe => '', maintain => 5, runs => 5,
      restart => [10, 11.25, 12.5, 13.75, 15],
      what => 'module, ajp_pass, no probe= (a request tests it), worker.maintain=5' },
);
if (my $pick = $ENV{FAILOVER_CONDITIONS}) {
    my %want = map { $_ => 1 } split ' ', $pick;
    @CONDITIONS = grep { $want{$_->{key}} } @CONDITIONS;
}

my $err = ModJk::available();
die "$err\n" if $err;

my $t = StickyTest->new;
TomcatTest::open_for_workers($t);
my $t_start = time;
my $cluster = TomcatTest::Cluster->start($t->dir . '/cluster', nodes => 3,
                                         ajp_secret => $SECRET);
printf "3-node Tomcat cluster up in %.1f s\n", time - $t_start;
# cluster.sh's file (the lb `cluster`, sticky, the AJP ports and secret),
# read as it is by mod_jk and by sticky_workers
my $WORKERS = $cluster->workers(ajp => 1) . "worker.cluster.recover_time=5\n";

my @rows;
for my $c (@CONDITIONS) {
    my $runs = $ENV{FAILOVER_RUNS} // $c->{runs};
    for my $run (1 .. $runs) {
        my @r = @{$c->{restart}};
        my $restart_at = $r[($run - 1) % @r] + int(($run - 1) / @r) * 0.6;
        my $res = one_run($c, $run, $restart_at);
        push @rows, [$c, $res];
        printf "%-4s run %d: restart at %5.2f s, CPong %5.2f s later, %5d requests, "
            . "%d failed; a new session on tomcat1 %s after the CPong%s\n",
            $c->{key}, $run, $restart_at, $res->{start}, $res->{requests}, $res->{failed},
            defined $res->{recovery} ? sprintf('%.2f s', secs($res->{recovery})) : "not within $LIMIT s",
            $res->{states} ? "; tomcat1: $res->{states}" : '';
    }
}

print "\nSummary (seconds from the restarted Tomcat's first CPong until a new session reaches it):\n";
for my $c (@CONDITIONS) {
    my @r = map { $_->[1] } grep { $_->[0] == $c } @rows;
    next unless @r;
    my @back = sort { $a <=> $b } map { $_->{recovery} // 999 } @r;
    my @start = sort { $a <=> $b } map { $_->{start} } @r;
    my ($req, $failed) = (0, 0);
    $req += $_->{requests}, $failed += $_->{failed} for @r;
    printf "%-4s %s\n     %d runs: back after %s s (median %.2f); Tomcat's start %.1f to %.1f s; "
        . "%d requests, %d failed\n",
        $c->{key}, $c->{what}, scalar @r, join(', ', map { sprintf '%.2f', secs($_) } @back),
        secs($back[$#back / 2]), $start[0], $start[-1], $req, $failed;
}
$cluster->stop;

# An answer can come a few ms before the poll sees the first CPong: 0, not -0.00.
sub secs { my ($s) = @_; return $s < 0 && $s > -0.005 ? 0 : $s }

# --- one run --------------------------------------------------------------------

sub one_run {
    my ($c, $run, $restart_at) = @_;
    my $f = StickyTest->new;
    my $props = (defined $c->{maintain} ? "worker.maintain=$c->{maintain}\n" : '') . $WORKERS;
    my ($front, $stop_front);
    if ($c->{front} eq 'mod_jk') {
        $f->write_file('workers.properties', $props
            . "worker.list=jkstatus\nworker.jkstatus.type=status\n");
        chmod 0755, $f->dir;
        chmod 0644, $f->dir . '/workers.properties';
        $front = ModJk::start_apache($f, 'apache', workers => $f->dir . '/workers.properties',
            mpm => "StartServers 2\nServerLimit 2\nThreadLimit 32\nThreadsPerChild 32\n"
                . "MinSpareThreads 32\nMaxSpareThreads 64\nMaxRequestWorkers 64",
            conf => ($c->{watchdog} ? "JkWatchdogInterval $c->{watchdog}\n" : '')
                . "JkMount /* cluster\nJkMount /jkstatus jkstatus\n");
        $stop_front = sub { ModJk::stop_apache($f, 'apache') };
    } else {
        $f->write_file('workers.properties', $props);
        TomcatTest::open_for_workers($f);
        $front = $f->port('front');
        $f->write_conf(<<"EOF");
    ajp_temp_path temp/ajp;
    upstream tomcats { sticky_workers workers.properties $c->{probe}; }
    server {
        listen 127.0.0.1:$front;
        ajp_next_upstream error timeout;
        location / { ajp_pass tomcats; }
    }
EOF
        $f->run($front);
        $stop_front = sub { $f->stop };
    }
    # every node answers its own sessions before the load starts
    for my $n (1 .. 3) {
        my $node = TomcatTest::wait_until(20, sub {
            my $r = $f->get($front, '/conn', Cookie => 'JSESSIONID=' . session_id("warm", "tomcat$n"));
            header($r, 'X-Node') eq "tomcat$n" });
        die "$c->{key}: tomcat$n does not answer through the front\n" unless $node;
    }

    my $dir = $f->dir;
    my $stop = "$dir/stop-load";
    my $t0 = time;
    my @pids;
    for my $cl (1 .. $CLIENTS) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            client($f, $front, $cl, "$dir/load-$cl.txt", $stop, $t0);
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    my %fh;
    my $victim = "tomcat$VICTIM";
    my ($killed, $restarted, $bound, $ready, $first, $restart_pid);
    my (@states, $last_state, $next_status);
    my $ajp = $cluster->ajp_port($VICTIM);
    while (1) {
        my $now = time;
        if (!$killed && $now >= $t0 + $KILL_AT) {
            $cluster->kill($VICTIM);
            $killed = time;
        }
        if ($killed && !$restarted && $now >= $t0 + $restart_at) {
            $restarted = time;
            $restart_pid = fork // die "fork: $!";
            if ($restart_pid == 0) {
                open STDIN, '<', '/dev/null';
                open STDOUT, '>>', $cluster->dir . '.log';
                open STDERR, '>&', \*STDOUT;
                { exec $TomcatTest::CLUSTER_SH, 'restart-node', $cluster->dir, $VICTIM }
                POSIX::_exit(127);
            }
        }
        if ($restarted && !$ready) {
            my $p = cping($ajp);
            $bound //= time if $p;
            $ready = time if $p == 2;
        }
        if ($c->{front} eq 'mod_jk' && $killed && (!$next_status || $now >= $next_status)) {
            $next_status = $now + 0.25;
            my $page = $f->get($front, '/jkstatus?cmd=list&mime=prop')->{body};
            my ($s) = $page =~ /^worker\.$victim\.state=(.*)$/m;
            $s //= '?';
            if (!defined $last_state || $s ne $last_state) {
                push @states, [time, $s];
                $last_state = $s;
            }
        }
        if ($ready) {
            for my $cl (1 .. $CLIENTS) {
                $fh{$cl} //= do { open my $h, '<', "$dir/load-$cl.txt" or next; $h };
                my $h = $fh{$cl};
                while (my $line = <$h>) {
                    my ($c_, $i, $sent, $done, $status, $node, $new) = split ' ', $line;
                    next unless defined $new && $new && $node eq $victim
                        && $t0 + $done >= $restarted;
                    $first = $t0 + $done if !defined $first || $t0 + $done < $first;
                }
                seek $h, 0, 1;
            }
        }
        last if $first && time > $first + 1;
        last if $ready && time > $ready + $LIMIT;
        die "$c->{key}: tomcat1 serves no CPong $LIMIT s after its restart\n"
            if $restarted && !$ready && time > $restarted + 120;
        sleep 0.05;
    }
    open my $s, '>', $stop or die "$stop: $!";
    close $s;
    waitpid($_, 0) for @pids;
    waitpid($restart_pid, 0);
    die "$c->{key}: cluster.sh restart-node failed; see " . $cluster->dir . ".log\n" if $?;
    $cluster->load_env;
    $stop_front->();

    my %r = (requests => 0, failed => 0, start => $ready - $restarted,
             bound => defined $bound ? $bound - $restarted : undef,
             recovery => defined $first ? $first - $ready : undef);
    for my $cl (1 .. $CLIENTS) {
        for (split /\n/, $f->read_file("load-$cl.txt")) {
            my (undef, undef, undef, undef, $status) = split ' ';
            $r{requests}++;
            $r{failed}++ if $status != 200;
        }
    }
    $r{states} = join ', ', map { sprintf '%s %+.1f', $_->[1], $_->[0] - $ready } @states
        if @states;
    return \%r;
}

# One client: requests one after the other until the file $stop exists.
# Each line: client, i, sent, answered (s since $t0), status, X-Node, new.
sub client {
    my ($f, $front, $cl, $file, $stop, $t0) = @_;
    open my $out, '>', $file or POSIX::_exit(1);
    $out->autoflush(1);
    my $i = 0;
    my $parent = getppid;
    # also ends when the parent is gone or after 10 minutes, whatever happened
    until (-e $stop || getppid != $parent || time - $t0 > 600) {
        my $new = $i % 4 == 3 ? 1 : 0;
        my $s = $i % 30;
        my $sent = time;
        my $r = $new ? $f->get($front, '/conn')
            : $f->get($front, '/conn', Cookie => 'JSESSIONID='
                      . session_id("c$cl-s$s", 'tomcat' . ($s % 3 + 1)));
        printf $out "%d %d %.3f %.3f %d %s %d\n", $cl, $i++, $sent - $t0, time - $t0,
            $r->{status}, header($r, 'X-Node') || '-', $new;
        sleep $PAUSE;
    }
    close $out;
}

# 0: the AJP port refuses; 1: it accepts but answers no CPong in 0.3 s
# (bound, not serving yet); 2: a CPong.
sub cping {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 0.5) or return 0;
    syswrite $s, "\x12\x34\x00\x01\x0a";
    my $buf = '';
    sysread($s, $buf, 5) if IO::Select->new($s)->can_read(0.3);
    close $s;
    return $buf eq "AB\x00\x01\x09" ? 2 : 1;
}
