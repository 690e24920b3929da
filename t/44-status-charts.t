#!/usr/bin/perl
# The dashboard's charts in a real browser (Debian's chromium, headless,
# through chromium-driver and python3-selenium: t/browser/charts.py; no
# browser download, no network). Over a minute and a half or so of traffic
# (new sessions and sticky requests of the sessions the backends gave out,
# a backend down for a few seconds, then tomcat2 drained at a minute's start
# while its sessions send a few more requests and stop), the history fills
# at least two minutes; then, on a desktop and on a phone, every worker's
# chart must show exactly the JSON history of the same moment: the
# data-values of each series, a point per minute drawn placed as
# status_chart.cc places them (from the first minute with any count), a mark per minute with errors, a visible figure of non-zero size;
# and tomcat2's row its drain badge. The screenshots go to the test's temp
# directory (STICKY_SCREENSHOT_DIR=docs keeps them for the README:
# docs/status-drain-desktop.png and docs/status-drain-phone.png).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use List::Util qw(max sum0);
use Test::More;
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);
use StickyTest qw(lb_properties served_by header);
use StickyStatus qw(status_json worker admin decode_json_or_diag);

use BrowserTest qw(require_browser $PYTHON $BROWSER_DIR);

require_browser();
my ($python, $browser_dir) = ($PYTHON, $BROWSER_DIR);

my @nodes = qw(tomcat1 tomcat2 tomcat3);
my ($drained, $flaky) = qw(tomcat2 tomcat3);
my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } @nodes;
$t->write_file('workers.properties', lb_properties('cluster', { recover_time => 2 },
    map { [$_ => { port => $port{$_} }] } @nodes));
$t->write_conf(<<"EOF");
    upstream tomcats { sticky_workers workers.properties sessions_window=1m; }
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://tomcats; }
        location /sticky-admin { sticky_status read_write; }
    }
EOF
$t->run($front);

sub json { status_json($t, $front, '/sticky-admin') }
sub w { worker($_[1] // json(), 'tomcats', $_[0]) }

# The start of the module's current minute (of nginx's monotonic clock), as
# wall-clock seconds.
sub minute_start {
    my ($doc) = @_;
    my $iso = w('tomcat1', $doc)->{history}{current_minute} // '';
    my ($y, $mo, $d, $h, $mi, $s, $ms) = $iso =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)Z$/
        or die "no current_minute in the JSON: '$iso'";
    return timegm($s, $mi, $h, $d, $mo - 1, $y) + $ms / 1000;
}

# --- the traffic ------------------------------------------------------------------------

# Sessions the backends gave out, each used for $lifetime seconds (or less):
# { id => "HEX.route", route, until }.
my $lifetime = 10;
my @pool;
my %got;        # "phase: wanted -> who answered" => count
my $failed = 0;     # answers that were not a 200 of a backend
my $last_drained_request = 0;
my $drained_at;

sub new_session {
    my ($phase) = @_;
    my $r = $t->get($front, '/login');
    my $who = served_by($r);
    $got{"$phase: new -> $who"}++;
    my ($id) = header($r, 'Set-Cookie') =~ /JSESSIONID=([^;]+)/;
    if ($r->{status} != 200 || !$id) { $failed++; return }
    my ($route) = $id =~ /\.([^.]+)$/;
    push @pool, { id => $id, route => $route, until => time + $lifetime };
}

sub sticky_request {
    my ($phase, $s) = @_;
    my $r = $t->get($front, '/cart', Cookie => "JSESSIONID=$s->{id}");
    my $who = served_by($r);
    $got{"$phase: $s->{route} -> $who"}++;
    $failed++ if $r->{status} != 200;
    $last_drained_request = time if $who eq $drained;
}

# One tick, every 100 ms: a new session and 5 requests of live sessions.
sub tick {
    my ($phase) = @_;
    my $now = time;
    @pool = grep { $_->{until} > $now } @pool;
    new_session($phase);
    sticky_request($phase, $pool[rand @pool]) for 1 .. 5;
}

# Ticks until $done->() is true; dies after $seconds.
sub traffic {
    my ($phase, $seconds, $done) = @_;
    my $deadline = time + $seconds;
    my $next = time;
    until ($done->()) {
        die "$phase: not done after $seconds s\n" if time > $deadline;
        tick($phase);
        $next += 0.1;
        my $wait = $next - time;
        if ($wait > 0) { sleep $wait } else { $next = time }   # late: no catching up
    }
}

my $started = time;
my $first = json();
ok($first && w('tomcat1', $first)->{sessions_window_s} == 60, 'sessions_window=1m: 60 s');
is_deeply(w('tomcat1', $first)->{history}{requests}, [(0) x 60], 'no history yet');

# Phase 1, until the first minute to begin at least 25 s from now: every
# worker takes new sessions; tomcat3 is down for a few seconds of it.
my $boundary = minute_start($first) + 60;
$boundary += 60 while $boundary < $started + 25;
traffic('warm', 10, sub { time > $started + 4 });
$t->kill_backend($flaky);
my $errors_before = w($flaky)->{errors};
# Its sessions' next requests find it down (an error each, then another
# worker answers), until it rests in error.
my @down = grep { $_->{route} eq $flaky } @pool;
ok(@down >= 2, "$flaky has sessions") or diag scalar @down;
sticky_request('down', $_) for grep { defined } @down[0 .. 1];
traffic('down', 10, sub { time > $started + 8 });
ok(w($flaky)->{errors} > $errors_before, "$flaky down: errors counted");
is($t->start_backend($flaky), $port{$flaky}, "$flaky is back on its port");
traffic('up', $boundary - time + 10, sub { time >= $boundary });
# The JSON's minute turns within a moment of the expected time.
my $minute1;
traffic('up', 10, sub { $minute1 = minute_start(json()); $minute1 >= $boundary - 1 });

# Phase 2: tomcat2 drained as the new minute begins. Its sessions keep
# sending requests until each one ends (within $lifetime s); new sessions
# go elsewhere, and the others' traffic goes on for half a minute (so that
# the current minute, the charts' last point, is not just a few seconds).
my $r = admin($t, $front, '/sticky-admin', upstream => 'tomcats', worker => $drained,
              activation => 'D');
is($r->{status}, 200, "$drained drained through the page's POST") or diag $r->{raw};
$drained_at = time;
diag sprintf 'tomcat2 drained %.0f s after the start, as minute %s began', $drained_at - $started,
    w('tomcat1')->{history}{current_minute};
# Each live session of tomcat2 asks once at once. How many there are depends
# on when the drain falls: under the Request method new sessions go to the
# least loaded member, so a member's share of live sessions swings with its
# sessions' own requests. Below 6, the pool gets more sessions of tomcat2's
# route (a user's other tab), so that the drain has sessions to keep serving.
my @drained_sessions = grep { $_->{route} eq $drained } @pool;
while (@drained_sessions < 6) {
    my $s = { id => sprintf('%08X%04X.%s', int(rand 2**32), scalar @drained_sessions, $drained),
              route => $drained, until => time + $lifetime };
    push @pool, $s;
    push @drained_sessions, $s;
}
sticky_request('drain', $_) for @drained_sessions;
traffic('drain', 40, sub { time > $drained_at + 30 });
my $quiet_since = time;

# --- what the traffic did -----------------------------------------------------------------

my $doc = json();
my %w = map { $_ => w($_, $doc) } @nodes;
my %who = map { my ($p, $from, $to) = /^(\w+): (\S+) -> (.*)$/; ($_ => [$p, $from, $to]) } keys %got;
sub count_of { my ($want) = @_; sum0 map { $got{$_} } grep { $want->(@{$who{$_}}) } keys %got }
is(count_of(sub { $_[0] eq 'drain' && $_[1] eq 'new' && $_[2] eq $drained }), 0,
   'while drained: no new session reaches tomcat2');
ok(count_of(sub { $_[0] eq 'drain' && $_[1] eq $drained && $_[2] eq $drained }) >= @drained_sessions,
   "while drained: tomcat2's sessions still reach it (" . @drained_sessions . ' live at the drain)')
    or diag explain \%got;
is(count_of(sub { $_[0] eq 'drain' && $_[1] eq $drained && $_[2] ne $drained }), 0,
   '... all of them');
ok($last_drained_request > $drained_at && $last_drained_request <= $drained_at + $lifetime + 1,
   "then tomcat2's sessions stopped")
    or diag sprintf('last %.1f s after the drain, quiet %.1f s after', $last_drained_request - $drained_at,
                    $quiet_since - $drained_at);
is($failed, 0, 'every request was answered (the down backend\'s by another)') or diag explain \%got;
for my $n (@nodes) {
    my $busy = grep { $_ } @{$w{$n}{history}{requests}};
    ok($busy >= 2, "$n: requests in $busy minutes of its history");
}
my @errors = @{$w{$flaky}{history}{errors}};
ok(sum0(@errors) >= 1, "$flaky: errors in the history (@{[sum0 @errors]})");
is($w{$drained}{activation}, 'D', 'tomcat2 is drained');
ok(!$w{$drained}{drain_done} && $w{$drained}{sessions} > 0,
   "tomcat2's drain is not done: $w{$drained}{sessions} sessions in the window");
# Its sessions per minute: the minute before the drain, and the minute of
# the drain, when only its old sessions came back.
my @sessions = @{$w{$drained}{history}{sessions}};
my $now_i = minute_start($doc) >= $minute1 + 30 ? 58 : 59;   # a minute may have begun since
my ($before, $during) = @sessions[$now_i - 1, $now_i];
ok($before > 0 && $during > 0 && $during < $before,
   "tomcat2's sessions fall after the drain: $before, then $during a minute")
    or diag "@sessions[50 .. 59]";

# --- the browser --------------------------------------------------------------------------

my $dir = $ENV{STICKY_SCREENSHOT_DIR} || $t->dir;
my ($desktop_shot, $phone_shot) = ("$dir/status-drain-desktop.png", "$dir/status-drain-phone.png");
my $url = "http://127.0.0.1:$front/sticky-admin";
unlink $desktop_shot, $phone_shot;
my $out = `$python '$browser_dir/charts.py' '$url' tomcats '$desktop_shot' '$phone_shot' 2>&1`;
my $exit = $? >> 8;
my ($line) = $out =~ /^(\{.*\})\s*$/m;
my $result = $line ? decode_json_or_diag($line) : undef;
is($exit, 0, 'the browser read the charts on both screens') or diag $out;
ok($result && !$result->{fatal}, 'the browser ran') or diag $out;
is_deeply($result->{errors} || ['no result'], [],
          'no console error, no CSP violation, no external request')
    or diag explain $result->{errors};

my @series = qw(sessions requests);
for my $screen (qw(desktop phone)) {
    my $s = $result->{screens}{$screen} or do { fail("$screen: read"); next };
    my $page = $s->{page};
    my $width = $s->{viewport}[0];
    my $tries = @{$s->{tries}};
    ok($tries <= 2, "$screen: the page and the JSON agreed on the minute (reads: $tries)");
    is_deeply($page->{chart_order}, \@nodes, "$screen: a chart per worker, in order");
    ok($page->{scroll_width} <= $width + 1, "$screen: the page is no wider than the screen")
        or diag "scrollWidth $page->{scroll_width}";
    for my $n (@nodes) {
        my $jw = w($n, $s->{json});
        my $h = $jw->{history};
        my $c = $page->{charts}{$n} or do { fail("$screen $n: a chart"); next };
        # The figure: shown, with a size, inside the screen.
        my ($fig, $svg) = @$c{qw(figure svg)};
        ok($c->{figure_shown} && $c->{svg_shown}, "$screen $n: the chart is visible");
        ok($fig->{width} > 0 && $fig->{height} > 0 && $svg->{width} >= 100 && $svg->{height} >= 40,
           "$screen $n: it has a size")
            or diag explain [$fig, $svg];
        ok($fig->{x} >= 0 && $fig->{x} + $fig->{width} <= $width + 0.5,
           "$screen $n: within the screen's width") or diag explain $fig;
        is($c->{viewbox}, '0 0 300 64', "$screen $n: viewBox");
        # The time axis: from the first minute with any count (at most 50,
        # so at least 10 minutes are drawn) to the current one.
        my @series_all = qw(requests sticky_hits new_sessions errors sessions in_flight_peak);
        my ($first) = grep { my $i = $_; grep { $h->{$_}[$i] } @series_all } 0 .. 49;
        $first //= 50;
        is($c->{first}, $first, "$screen $n: the chart starts at minute $first of the hour");
        my $x_of = sub { 300 * ($_[0] - $first) / (59 - $first) };
        # Every series: the JSON's 60 minutes.
        for my $name (@series) {
            my $line = $c->{series}{$name} or do { fail("$screen $n: a $name line"); next };
            my @want = @{$h->{$name} || []};
            is(scalar @want, 60, "$screen $n $name: the JSON has 60 minutes");
            is_deeply([split ' ', $line->{values}], [map { "$_" } @want],
                      "$screen $n $name: data-values are the JSON's history");
            my $max = max(@want);
            is($line->{max}, $max, "$screen $n $name: data-max");
            my @points = @{$line->{points}};
            is(scalar @points, 60 - $first, "$screen $n $name: a point per minute drawn");
            my @bad;
            for my $k (0 .. $#points) {
                my $i = $first + $k;
                my ($x, $y) = @{$points[$k]};
                my ($wx, $wy) = ($x_of->($i), 57 - 54 * ($want[$i] // 0) / ($max || 1));
                push @bad, "point $i: ($x, $y), want ($wx, $wy)"
                    if abs($x - $wx) > 0.051 || abs($y - $wy) > 0.051;
            }
            is_deeply(\@bad, [], "$screen $n $name: points at x = 300 (i - first) / (59 - first), y = 57 - 54 v / max");
            like($c->{caption}, qr{\Q$name\E/min, max \Q$max\E\b}, "$screen $n: caption '$name/min, max $max'");
        }
        # The sessions area: the sessions line closed along the bottom.
        my $area = $c->{areas}{'area sessions'} // '';
        my @xy = map { [$_->[0], $_->[1]] } @{$c->{series}{sessions}{points} || []};
        my @area_xy = map { [split /,/] } $area =~ /(-?[\d.]+,-?[\d.]+)/g;
        my @off = grep { abs($area_xy[$_ + 1][0] - $xy[$_][0]) > 0.051
                         || abs($area_xy[$_ + 1][1] - $xy[$_][1]) > 0.051 } 0 .. $#xy;
        ok(@xy == 60 - $first && @area_xy == 62 - $first && $area =~ /^M0,57 L.* ?L300,57 Z$/ && !@off,
           "$screen $n: the sessions area follows its line") or diag $area;
        # Errors: the JSON's, and a mark for each minute with some.
        my $e = $c->{errors} || {};
        is_deeply([split ' ', $e->{values} // ''], [map { "$_" } @{$h->{errors}}],
                  "$screen $n errors: data-values are the JSON's history");
        my @marks = map { sprintf '%.1f', $_->{x} } @{$e->{rects} || []};
        my @want_marks = map { sprintf '%.1f', max(0, $x_of->($_) - 2) }
                         grep { $h->{errors}[$_] } $first .. 59;
        is_deeply(\@marks, \@want_marks, "$screen $n errors: a mark per minute with errors");
        is($c->{caption} =~ /\berrors\b/ ? 1 : 0, @want_marks ? 1 : 0,
           "$screen $n: the caption names errors when there are some");
        ok(!grep({ $_->{y} != 58 || $_->{height} != 6 || $_->{width} != 4 } @{$e->{rects} || []}),
           "$screen $n errors: marks under the plot");
        # The row's badges.
        my @badges = map { $_->{text} } grep { $_->{shown} } @{$page->{rows}{$n}{badges} || []};
        my @want_badges = $n ne $drained ? ('A active')
                        : ('D drained', $jw->{drain_done} ? 'done' : 'sessions left');
        is_deeply(\@badges, \@want_badges, "$screen $n: badges @want_badges");
    }
    my $shot = $screen eq 'desktop' ? $desktop_shot : $phone_shot;
    ok(-s $shot, "$screen: screenshot $shot");
}
ok(!w($drained, $result->{screens}{phone}{json})->{drain_done},
   'the screenshots show the drain in progress');
ok(sum0(map { $_ ? 1 : 0 } @{w($flaky, $result->{screens}{desktop}{json})->{history}{errors}}) >= 1,
   "the page had $flaky\'s error marks to show");
diag sprintf 'took %.0f s', time - $started;

$t->finish;
done_testing;
