#!/usr/bin/perl
# What counts as a failure, as mod_jk counts it: a refused or timed-out
# connect, a broken read (before or during the body), a reply timeout
# (against max_reply_timeouts, decaying), a status in fail_on_status
# (positive: the member goes to ERR; negative: only the request fails over);
# a failure while other requests are in flight stays local until
# error_escalation_time; busy_limit gives OK/BUSY, not an error. Each
# transition is one error.log line naming upstream, worker, state and cause.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use StickyTest qw(lb_properties session_id header served_by upstream_addrs
                  route_changed);
use FailTest qw(start_raw_backend start_blackhole transitions wait_for
                hold_request);

my $t = StickyTest->new;
my $front = $t->port('front');
my $good = $t->start_backend('good');
my $raw = start_raw_backend($t, 'bad');
my $dead = $t->port('nothing listens here');
my $dark = start_blackhole($t, 'dark');

# upstream => [lb attributes, bad's attributes]; each its own zone.
my %ups = (
    refused  => [{}, { port => $dead }],
    ctimeout => [{}, { port => $dark, socket_connect_timeout => 400 }],
    broken   => [{}, { port => $raw }],
    body     => [{}, { port => $raw }],
    reply    => [{}, { port => $raw }],
    memto    => [{}, { port => $raw, reply_timeout => 300 }],
    rto      => [{ max_reply_timeouts => 2, maintain => 1 }, { port => $raw }],
    status   => [{}, { port => $raw, fail_on_status => 503 }],
    negative => [{}, { port => $raw, fail_on_status => -404 }],
    passed   => [{}, { port => $raw, fail_on_status => '500,-404' }],
    esc      => [{ recover_time => 2 }, { port => $raw }],
    busy     => [{}, { port => $raw, busy_limit => 1 }],
);
my %special = map { $_ => 1 } qw(ctimeout memto passed esc busy);
my ($conf, $locations) = ('', '');
for my $name (sort keys %ups) {
    my ($lb, $bad) = @{$ups{$name}};
    $t->write_file("$name.properties", lb_properties('cluster',
        { recover_time => 60, %$lb }, [bad => $bad], [good => { port => $good }]));
    $conf .= "    upstream $name { sticky_workers $name.properties; }\n";
    $locations .= "        location /$name/ { proxy_pass http://$name; }\n"
        unless $special{$name};
}
$t->write_file('dark.properties', lb_properties('cluster', {}, [dark => { port => $dark }]));
$t->write_conf(<<"EOF");
$conf
    upstream alldark { sticky_workers dark.properties; }
    server {
        listen 127.0.0.1:$front;
        add_header X-Worker \$sticky_worker always;
        add_header X-Route-Changed \$sticky_route_changed always;
        add_header X-Upstream \$upstream_addr always;
        proxy_next_upstream error timeout http_503 http_404;
        proxy_connect_timeout 500ms;
        proxy_read_timeout 500ms;
        location /ctimeout/ { proxy_pass http://ctimeout; proxy_connect_timeout 10s; }
        location /memto/    { proxy_pass http://memto; proxy_read_timeout 10s; }
        location /passed/   { proxy_pass http://passed; proxy_next_upstream error timeout; }
        location /esc/      { proxy_pass http://esc; proxy_read_timeout 10s; }
        location /busy/     { proxy_pass http://busy; proxy_read_timeout 10s; }
        location /alldark/  { proxy_pass http://alldark; }
$locations
    }
EOF

# --- the recovery parameters, checked by nginx -t ------------------------------------

for ([['probe_interval=1s'], qr/probe parameters need "probe=URI"/],
     [['probe=health'], qr/invalid parameter "probe=health"/],
     [['probe=/ok', 'probe_timeout=0'], qr/invalid parameter "probe_timeout=0"/],
     [['probe=/ok', 'probe_passes=0'], qr/invalid parameter "probe_passes=0"/],
     [['slow_start=soon'], qr/invalid parameter "slow_start=soon"/],
     [['probe=/ok', 'probe_interval=500ms', 'probe_timeout=2s', 'probe_passes=2',
       'probe_fails=3', 'slow_start=30s'], undef]) {
    my ($params, $error) = @$_;
    $t->write_conf(<<"EOF", name => 'params.conf');
    upstream params { sticky_workers refused.properties @$params; }
    server { listen 127.0.0.1:$front; location / { proxy_pass http://params; } }
EOF
    my ($ok, $out) = $t->test_config('params.conf');
    if ($error) {
        ok(!$ok && $out =~ $error, "nginx -t refuses @$params") or diag $out;
    } else {
        ok($ok, "nginx -t accepts @$params") or diag $out;
    }
}

$t->run($front);

my %port = (bad => $raw, good => $good);

# --- one failure of each kind puts the member in ERR, with its cause ---------

kind('refused',  'page',         'connect failed');
kind('ctimeout', 'page',         'connect failed', 3);
kind('broken',   'close',        'read failed');
kind('reply',    'hang',         'reply timeouts above max_reply_timeouts');
kind('memto',    'hang',         'reply timeouts above max_reply_timeouts', 3);
kind('status',   'status/503',   'status in fail_on_status');

# A body that stops short cannot be replayed: the client gets what came.
my $off = -s $t->error_log;
my $r = req('body', 'partial');
is($r->{status}, 200, 'body: the header was passed on');
ok(length($r->{body}) < 1000, 'body: the body is cut short') or diag length $r->{body};
wait_for(2, sub { err_of('body', $off) });
is(err_of('body', $off), 'ERR (read failed)', 'body: bad is in ERR (read failed)');
is_deeply([upstream_addrs(req('body', 'again'))], ["127.0.0.1:$good"],
          'body: the next request of the session does not try bad');

# --- fail_on_status --------------------------------------------------------------

$off = -s $t->error_log;
$r = req('negative', 'status/404');
is(served_by($r), 'good', 'negative fail_on_status: the request fails over');
$r = req('negative', 'page');
is(served_by($r), 'bad', 'negative fail_on_status: the member stays in use');
is(scalar(grep { $_->{upstream} eq 'negative' && $_->{to} =~ /^ERR/ } transitions($t, $off)), 0,
   'negative fail_on_status: no error');

# Without http_500 in proxy_next_upstream nginx cannot retry: the answer
# passes, and the member still goes to ERR.
$off = -s $t->error_log;
$r = req('passed', 'status/500');
is($r->{status}, 500, 'fail_on_status not in proxy_next_upstream: the answer passes');
wait_for(2, sub { err_of('passed', $off) });
is(err_of('passed', $off), 'ERR (status in fail_on_status)', '... and the member goes to ERR');

# --- a connect nobody answers: 503, not 504 ----------------------------------------

$r = $t->get($front, '/alldark/page');
is($r->{status}, 503, 'the only member cannot be reached: 503 (mod_jk), not 504');

# --- local errors and error_escalation_time -----------------------------------------

# recover_time 2 s: error_escalation_time is 1 s.
my $hold = hold_request($front, '/esc/hang', Cookie => cookie('esc'));
wait_for(2, sub { grep { $_->[2] eq '/esc/hang' } FailTest::raw_requests($t, 'bad') });
$off = -s $t->error_log;
my $failed_at = time;
$r = req('esc', 'close');
is(served_by($r), 'good', 'escalation: a failure while a request is in flight fails over');
$r = req('esc', 'close');
is((upstream_addrs($r))[0], "127.0.0.1:$raw", 'escalation: the error is local, bad is still tried');
is(err_of('esc', $off), '', 'escalation: no transition at once');
my $took = wait_for(4, sub { err_of('esc', $off) });
is(err_of('esc', $off), 'ERR (local error lasted error_escalation_time)',
   'escalation: the local error becomes ERR');
ok(defined $took && time - $failed_at >= 0.9, 'escalation: after error_escalation_time')
    or diag sprintf 'after %.2f s', time - $failed_at;
close $hold;

# --- max_reply_timeouts, decaying like load values -------------------------------------

# Timeouts at once, so that no decay (worker.maintain=1) falls between them.
$off = -s $t->error_log;
timeouts(2);
is(err_of('rto', $off), '', 'max_reply_timeouts=2: two reply timeouts are tolerated');
sleep 2.3;    # the counter halves twice
timeouts(2);
is(err_of('rto', $off), '', 'max_reply_timeouts=2: the counter decays at maintenance');
sleep 2.3;
timeouts(3);
wait_for(2, sub { err_of('rto', $off) });
is(err_of('rto', $off), 'ERR (reply timeouts above max_reply_timeouts)',
   'max_reply_timeouts=2: three timeouts take it out');

# --- busy_limit -----------------------------------------------------------------------

$off = -s $t->error_log;
$hold = hold_request($front, '/busy/slow/1.5', Cookie => cookie('busy'));
ok(wait_for(2, sub { grep { $_->{upstream} eq 'busy' && $_->{to} eq 'OK/BUSY' }
                          transitions($t, $off) }),
   'busy_limit=1: one request in flight makes bad OK/BUSY');
$r = req('busy', 'page');
is_deeply([upstream_addrs($r)], ["127.0.0.1:$good"],
          'busy: its session goes elsewhere without trying it');
ok(route_changed($r), 'busy: $sticky_route_changed says so');
my $answer = '';
while (sysread($hold, my $buf, 4096)) { $answer .= $buf }
like($answer, qr/^HTTP\/1\.1 200.*X-Backend: bad/s, 'busy: the slow request is answered by bad');
wait_for(2, sub { grep { $_->{upstream} eq 'busy' && $_->{from} eq 'OK/BUSY' }
                       transitions($t, $off) });
my @busy = map { "$_->{from} -> $_->{to}" }
    grep { $_->{upstream} eq 'busy' && $_->{worker} eq 'bad' } transitions($t, $off);
is_deeply(\@busy, ['OK/IDLE -> OK/BUSY', 'OK/BUSY -> OK'], 'busy: OK/BUSY, then OK, no error')
    or diag explain \@busy;
is(served_by(req('busy', 'page')), 'bad', 'busy: then bad serves its session again');

# --- one line per transition ----------------------------------------------------------

my %lines;
$lines{"$_->{upstream}/$_->{worker} $_->{from}->$_->{to}"}++ for transitions($t, 0);
my @twice = grep { $lines{$_} > 1 && !/OK\/BUSY|OK\/IDLE->OK$|->OK\/IDLE/ } sort keys %lines;
is_deeply(\@twice, [], 'each transition is logged once, by the process that made it');
like($t->read_file('logs/error.log'),
     qr/\[warn\] .*upstream "refused" worker "bad" is now ERR \(connect failed, was OK\/IDLE\)/,
     'the line names upstream, worker, new state, cause and old state, at warn');

$t->finish;
done_testing;

# --- helpers ------------------------------------------------------------------------------

sub cookie { 'JSESSIONID=' . session_id("s-$_[0]", 'bad') }

sub req {
    my ($upstream, $path) = @_;
    return $t->get($front, "/$upstream/$path", Cookie => cookie($upstream));
}

# The first transition of bad in $upstream after $offset, as "STATE (cause)".
sub err_of {
    my ($upstream, $offset) = @_;
    my ($tr) = grep { $_->{upstream} eq $upstream && $_->{worker} eq 'bad' }
        transitions($t, $offset);
    return $tr ? "$tr->{to} ($tr->{cause})" : '';
}

# One request of bad's session that good must serve.
sub served {
    my ($upstream, $path) = @_;
    my $r = req($upstream, $path);
    is(served_by($r), 'good', "$upstream: /$path fails over to good");
}

# $n requests of bad's session in $upstream at once, each reply timing out
# on bad and failing over to good.
sub timeouts {
    my ($n) = @_;
    my @held = map { hold_request($front, "/rto/hang$_", Cookie => cookie('rto')) } 1 .. $n;
    my @who;
    for my $s (@held) {
        my $raw = '';
        while (sysread($s, my $buf, 4096)) { $raw .= $buf }
        push @who, $raw =~ /^X-Backend: (\w+)/m ? $1 : 'none';
    }
    is("@who", join(' ', ('good') x $n), "rto: $n reply timeouts at once fail over to good");
}

sub kind {
    my ($upstream, $path, $cause, $max_seconds) = @_;
    my $offset = -s $t->error_log;
    my $start = time;
    my $r = req($upstream, $path);
    my @tried = upstream_addrs($r);
    is(served_by($r), 'good', "$upstream: the request fails over to good");
    like($tried[0] // '', qr/^127\.0\.0\.1:(\Q$ups{$upstream}[1]{port}\E)$/,
         "$upstream: after trying bad");
    ok(time - $start < $max_seconds, "$upstream: within $max_seconds s")
        if $max_seconds;
    wait_for(2, sub { err_of($upstream, $offset) });
    is(err_of($upstream, $offset), "ERR ($cause)", "$upstream: bad is in ERR ($cause)");
    is_deeply([upstream_addrs(req($upstream, 'again'))], ["127.0.0.1:$good"],
              "$upstream: the next request of the session does not try bad");
}
