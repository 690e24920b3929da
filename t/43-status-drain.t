#!/usr/bin/perl
# The drain view and the README's deploy recipe, run as written: drain a
# node (its session stays, new ones go elsewhere), watch its sessions and
# its requests in flight, wait until the drain is done, stop it, "deploy",
# activate it. Takes about two minutes: with sessions_window=1m the drain is
# done 1 to 2 minutes after the last request of its last session.

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

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } qw(tomcat1 tomcat2);

# A backend that accepts connections and never answers: requests in flight.
my $hang = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16,
                                 Proto => 'tcp', ReuseAddr => 1) or die "listen: $!";

$t->write_file('workers.properties', lb_properties('cluster', {},
    map { [$_ => { port => $port{$_} }] } qw(tomcat1 tomcat2)));
$t->write_file('slow.properties', lb_properties('slowlb', {},
    [slow => { port => $hang->sockport }]));
$t->write_conf(<<"EOF");
    upstream tomcats { sticky_workers workers.properties sessions_window=1m; }
    upstream slow { sticky_workers slow.properties; }
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://tomcats; }
        location /slow { proxy_pass http://slow; proxy_read_timeout 3s; }
        location /sticky-admin { sticky_status read_write; }
    }
EOF
$t->run($front);

sub w { worker(status_json($t, $front, '/sticky-admin'), $_[0], $_[1]) }

# --- requests in flight --------------------------------------------------------------------------

my @pending = map {
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $front, Proto => 'tcp')
        or die "connect: $!";
    print $c "GET /slow/$_ HTTP/1.0\r\nHost: localhost\r\n\r\n";
    $c;
} 1 .. 2;
my $deadline = time + 5;
my $slow;
do { sleep 0.1; $slow = w('slow', 'slow') } until ($slow && $slow->{in_flight} == 2) || time > $deadline;
is($slow->{in_flight}, 2, 'two requests in flight are shown');
like($t->get($front, '/sticky-admin?format=prometheus')->{body},
     qr{^sticky_worker_in_flight\{upstream="slow",worker="slow"\} 2$}m, '... in Prometheus too');
close $_ for @pending;
close $hang;

# --- the README's recipe -----------------------------------------------------------------------------

my $readme = $t->read_file("$FindBin::Bin/../README.md");
my ($recipe) = $readme =~ /<!-- deploy-recipe[^\n]*-->\n```sh\n(.*?)```/s;
ok($recipe, 'the README has the deploy recipe') or BAIL_OUT('no recipe in README.md');
my $script = $recipe;
ok($script =~ s{^ADMIN=\S+}{ADMIN=http://127.0.0.1:$front/sticky-admin}m, 'recipe: ADMIN');
ok($script =~ s{\bsleep 5\b}{sleep 1}, 'recipe: a shorter poll');
my $deployed = $t->dir . '/deployed.json';
ok($script =~ s{^# 4\..*$}{curl -fsS "\$ADMIN?format=json&upstream=\$UP" > $deployed}m,
   'recipe: the deploy step records the state');
$t->write_file('recipe.sh', "set -e\n$script");
like($script, qr{^UP=tomcats W=tomcat2$}m, 'the recipe drains tomcat2 of upstream tomcats');

my $sid2 = session_id('drain', 'tomcat2');
is(served_by($t->get($front, '/', Cookie => "JSESSIONID=$sid2")), 'tomcat2', "a user's session on tomcat2");

my $started = time;
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    open STDOUT, '>', $t->dir . '/recipe.out';
    open STDERR, '>&', \*STDOUT;
    exec 'bash', $t->dir . '/recipe.sh';
    die "exec: $!";
}

$deadline = time + 10;
my $w2;
do { sleep 0.2; $w2 = w('tomcats', 'tomcat2') } until $w2->{activation} ne 'A' || time > $deadline;
is($w2->{activation}, 'D', 'step 1: tomcat2 is drained');

# The user keeps working on tomcat2 for a few seconds; new users go elsewhere.
my (%sticky, %new);
for (1 .. 8) {
    $sticky{served_by($t->get($front, '/cart', Cookie => "JSESSIONID=$sid2"))}++;
    $new{served_by($t->get($front, "/new$_"))}++;
    sleep 0.25;
}
is_deeply(\%sticky, { tomcat2 => 8 }, "while drained: the user's session stays on tomcat2");
is_deeply(\%new, { tomcat1 => 8 }, 'while drained: new users go to tomcat1');
$w2 = w('tomcats', 'tomcat2');
cmp_ok($w2->{sticky_last_minute}, '>=', 8, 'drain view: sticky requests of the last minute');
is($w2->{sessions}, 1, 'drain view: one session in the window');
ok(!$w2->{drain_done}, 'drain view: not done yet');
like($t->get($front, '/sticky-admin?format=properties&upstream=tomcats')->{body},
     qr{^worker\.tomcat2\.drain_done=False$}m, 'properties: drain_done=False');
like($t->get($front, '/sticky-admin')->{body},
     qr{<tr data-worker="tomcat2" class="a-D[^"]*">.*?sessions left}s,
     'the dashboard marks tomcat2 drained with sessions left');
is(waitpid($pid, WNOHANG), 0, 'the recipe is still waiting');

# Nobody uses tomcat2 any more: once its session left the window (1 to 2
# minutes) the drain is done and the recipe goes on.
my $last_sticky = time;
my $status;
$deadline = time + 150;
while (time < $deadline) {
    if (waitpid($pid, WNOHANG) == $pid) { $status = $?; last }
    sleep 0.5;
}
is($status, 0, 'the recipe ran to its end') or diag $t->read_file('recipe.out');
my $waited = time - $last_sticky;
cmp_ok($waited, '>=', 59, sprintf('it waited for the drain to be done (%.0f s after the last request)', $waited));
my $at_deploy = StickyStatus::decode_json_or_diag($t->read_file($deployed));
my ($d2) = grep { $_->{name} eq 'tomcat2' } @{$at_deploy->{upstreams}[0]{workers}};
is($d2->{activation}, 'S', 'step 3: during the deploy tomcat2 was stopped');
ok($d2->{drain_done} && $d2->{in_flight} == 0 && $d2->{sessions} == 0,
   '... and done: nothing in flight, no session in the window');
is(w('tomcats', 'tomcat2')->{activation}, 'A', 'step 5: tomcat2 is back in service');
my %back;
$back{served_by($t->get($front, "/back$_"))}++ for 1 .. 6;
ok($back{tomcat2}, 'new users reach tomcat2 again') or diag explain \%back;
my @changes = $t->read_file('logs/error.log') =~ /\[notice\].*sticky_status: 127\.0\.0\.1: (worker "tomcat2"[^,]*)/g;
is_deeply(\@changes, ['worker "tomcat2" of upstream "tomcats": activation A -> D',
                      'worker "tomcat2" of upstream "tomcats": activation D -> S',
                      'worker "tomcat2" of upstream "tomcats": activation S -> A'],
          'error.log has the three changes');

$t->finish;
done_testing;
