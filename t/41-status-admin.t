#!/usr/bin/perl
# sticky_status read_write: the actions (activation A/D/S, lbfactor, reset,
# recover) and their effect on routing in every worker process; and the
# safety rules: a GET never changes anything (mod_jk's cmd=update included),
# a read-only location answers 405 to a POST, a POST needs X-Sticky-Admin: 1
# and an Origin naming the host when there is one (else 403), a bad request
# is a 400 with a message, and every change is logged at notice.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties session_id header served_by);
use StickyStatus qw(status_json worker admin decode_json_or_diag);

my $t = StickyTest->new;
my $front = $t->port('front');
my @nodes = qw(tomcat1 tomcat2 tomcat3);
my %port = map { $_ => $t->start_backend($_) } @nodes;
my $evil = q{w<x>"y'&z};

$t->write_file('workers.properties', lb_properties('cluster', { recover_time => 60 },
    (map { [$_ => { port => $port{$_} }] } @nodes),
    [$evil => { port => $t->port('dead'), activation => 'S' }]));
$t->write_conf(<<"EOF");
    upstream tomcats { sticky_workers workers.properties; }
    upstream plain { server 127.0.0.1:$port{tomcat1}; }
    server {
        listen 127.0.0.1:$front reuseport;
        add_header X-Pid \$pid always;
        location / { proxy_pass http://tomcats; }
        location /status { sticky_status; }
        location /admin { sticky_status read_write; }
    }
EOF
$t->run($front);

sub w { worker(status_json($t, $front, '/status'), 'tomcats', $_[0]) }
sub activation { w($_[0])->{activation} }
sub act { admin($t, $front, '/admin', upstream => 'tomcats', @_) }

# --- method and CSRF rules ----------------------------------------------------------

my $r = admin($t, $front, '/status', upstream => 'tomcats', worker => 'tomcat2',
              activation => 'D');
is($r->{status}, 405, 'read-only location: POST is 405');
is(header($r, 'Allow'), 'GET, HEAD', '... Allow: GET, HEAD');
like($r->{body}, qr{read-only}, '... saying why');
is(activation('tomcat2'), 'A', '... and nothing changed');

$r = $t->request($front, 'PUT', '/admin', 'upstream=tomcats&worker=tomcat2&activation=D',
                 'X-Sticky-Admin' => 1);
is($r->{status}, 405, 'PUT is 405');
is(header($r, 'Allow'), 'GET, HEAD, POST', '... Allow names POST on a read_write location');
$r = $t->request($front, 'DELETE', '/admin', '', 'X-Sticky-Admin' => 1);
is($r->{status}, 405, 'DELETE is 405');

$r = act(worker => 'tomcat2', activation => 'D', { 'X-Sticky-Admin' => undef });
is($r->{status}, 403, 'POST without X-Sticky-Admin: 403');
like($r->{body}, qr{X-Sticky-Admin: 1}, '... naming the header');
$r = act(worker => 'tomcat2', activation => 'D', { 'X-Sticky-Admin' => '0' });
is($r->{status}, 403, 'X-Sticky-Admin: 0 is 403');
# what a cross-site form can send: no custom header, a foreign Origin
$r = act(worker => 'tomcat2', activation => 'D',
         { 'X-Sticky-Admin' => undef, Origin => 'http://evil.example' });
is($r->{status}, 403, 'a cross-site form: 403');
$r = act(worker => 'tomcat2', activation => 'D', { Origin => 'http://evil.example' });
is($r->{status}, 403, 'a foreign Origin with the header: 403');
$r = act(worker => 'tomcat2', activation => 'D', { Origin => 'null' });
is($r->{status}, 403, 'Origin: null: 403');
$r = act(worker => 'tomcat2', activation => 'D', { Origin => 'http://localhost.evil.example' });
is($r->{status}, 403, 'an Origin that only starts with the host: 403');
is(activation('tomcat2'), 'A', 'none of them changed anything');

# GETs never change state, mod_jk's own included
$r = $t->get($front, '/admin?cmd=update&w=cluster&sw=tomcat2&vwa=1');
is($r->{status}, 405, "mod_jk's GET cmd=update: 405");
like($r->{body}, qr{POST}, '... pointing to POST');
$r = $t->get($front, '/admin?cmd=recover&w=cluster&sw=tomcat2');
is($r->{status}, 405, "mod_jk's GET cmd=recover: 405");
$r = $t->get($front, '/admin?upstream=tomcats&worker=tomcat2&activation=D');
is($r->{status}, 200, 'a GET with the form fields shows the page');
is(activation('tomcat2'), 'A', 'no GET changed anything');

# --- activation: drain, stop, activate -------------------------------------------------

my $sid2 = session_id('admin', 'tomcat2');
is(served_by($t->get($front, '/', Cookie => "JSESSIONID=$sid2")), 'tomcat2',
   'a session of tomcat2 sticks to it');

my $offset = -s $t->error_log;
$r = act(worker => 'tomcat2', activation => 'D', { Origin => "http://localhost" });
is($r->{status}, 200, 'drain tomcat2 (same-host Origin): 200');
like($r->{body}, qr{^OK: worker "tomcat2" of upstream "tomcats": activation A -> D$}m,
     '... text answer for curl');
like($t->log_since($offset),
     qr{\[notice\].*sticky_status: 127\.0\.0\.1: worker "tomcat2" of upstream "tomcats": activation A -> D},
     '... logged at notice with the client address');
is(activation('tomcat2'), 'D', 'the JSON shows D');

my (%who, %pid);
for (1 .. 30) {
    my $n = $t->get($front, "/new$_");
    $who{served_by($n)}++;
    $pid{header($n, 'X-Pid')}++;
}
ok(!$who{tomcat2} && $who{tomcat1} && $who{tomcat3}, 'drained: no new session reaches tomcat2')
    or diag explain \%who;
ok(keys %pid >= 2, 'drained in every worker process (both answered)') or diag explain \%pid;
is(served_by($t->get($front, '/', Cookie => "JSESSIONID=$sid2")), 'tomcat2',
   "drained: tomcat2's own session still reaches it");

$r = act(worker => 'tomcat2', activation => 'D');
is($r->{status}, 200, 'the same activation again: 200');
like($r->{body}, qr{activation already D}, '... saying so');

$r = act(worker => 'tomcat2', activation => 'S', { Accept => 'application/json' });
is($r->{status}, 200, 'stop tomcat2');
my $answer = decode_json_or_diag($r->{body});
ok($answer && $answer->{ok}, '... JSON answer for the dashboard') or diag $r->{body};
like($answer->{message}, qr{activation D -> S}, '... with the message');
like(served_by($t->get($front, '/', Cookie => "JSESSIONID=$sid2")), qr{^tomcat[13]$},
     "stopped: tomcat2's session goes elsewhere");

$r = act(worker => 'tomcat2', activation => 'A');
is($r->{status}, 200, 'activate tomcat2');
%who = ();
$who{served_by($t->get($front, "/again$_"))}++ for 1 .. 9;
ok($who{tomcat2}, 'active again: new sessions reach tomcat2') or diag explain \%who;
for my $v (qw(DIS stopped Active)) {
    is(act(worker => 'tomcat1', activation => $v)->{status}, 200, "activation=$v is accepted");
}
is(activation('tomcat1'), 'A', "mod_jk's and long names work");

# --- lbfactor ----------------------------------------------------------------------

$r = act(worker => 'tomcat1', lbfactor => 3);
is($r->{status}, 200, 'lbfactor=3');
like($r->{body}, qr{lbfactor 1 -> 3}, '... said');
is(w('tomcat1')->{lbfactor}, 3, 'the JSON shows lbfactor 3');
is(w('tomcat1')->{lbmult}, 1, 'lb_mult recomputed: tomcat1 1');
is(w('tomcat2')->{lbmult}, 3, 'lb_mult recomputed: tomcat2 3');
is(w('tomcat1')->{configured_lbfactor}, 1, 'the configured lbfactor stays');

# --- reset ---------------------------------------------------------------------------

cmp_ok(w('tomcat1')->{requests}, '>', 0, 'tomcat1 has served requests');
$r = act(worker => 'tomcat1', action => 'reset');
is($r->{status}, 200, 'reset tomcat1');
my $w1 = w('tomcat1');
is(join(',', map { $w1->{$_} } qw(requests sticky_hits new_sessions errors lbvalue state)),
   '0,0,0,0,0,OK/IDLE', 'its counters and load are 0, state OK/IDLE');
cmp_ok(w('tomcat3')->{requests}, '>', 0, '... the others keep theirs');
$r = act(action => 'reset');
is($r->{status}, 200, 'reset of the whole upstream');
is(w('tomcat3')->{requests}, 0, '... resets every worker');

# --- recover -----------------------------------------------------------------------

$r = act(worker => 'tomcat3', action => 'recover');
is($r->{status}, 400, 'recover a worker that is not in error: 400');
like($r->{body}, qr{cannot recover: not in error \(state OK}, '... as mod_jk says');

$t->kill_backend('tomcat3');
my $sid3 = session_id('admin', 'tomcat3');
like(served_by($t->get($front, '/', Cookie => "JSESSIONID=$sid3")), qr{^tomcat[12]$},
     'tomcat3 dies: its session fails over');
my $w3 = w('tomcat3');
is($w3->{state}, 'ERR', 'tomcat3 is in error');
ok(defined $w3->{last_error} && $w3->{last_error} =~ /^\d{4}-\d\d-\d\dT/, '... with the time of the error');
ok(defined $w3->{recover_in_ms} && $w3->{recover_in_ms} > 50000, '... and the time left before recovery');
is($w3->{errors}, 1, '... one error counted');
$r = act(worker => 'tomcat3', action => 'recover');
is($r->{status}, 200, 'recover tomcat3');
like($r->{body}, qr{recovering: state ERR/REC}, '... said');
is(w('tomcat3')->{state}, 'ERR/REC', 'the JSON shows ERR/REC: the next request tries it');

# --- bad requests: 400 with a message, never 200 --------------------------------------------

my @bad = (
    [[upstream => 'nope', worker => 'tomcat1', activation => 'D'], qr{no upstream "nope" uses sticky_workers}],
    [[upstream => 'plain', worker => 'tomcat1', activation => 'D'], qr{no upstream "plain"}],
    [[upstream => 'tomcats', worker => 'nope', activation => 'D'], qr{upstream "tomcats" has no worker "nope"}],
    [[upstream => 'tomcats', worker => "a\nb", activation => 'D'], qr{no worker "a\\x0ab"}],
    [[upstream => 'tomcats', worker => 'tomcat1', activation => 'X'], qr{invalid activation "X"}],
    [[upstream => 'tomcats', worker => 'tomcat1', lbfactor => 0], qr{invalid lbfactor "0"}],
    [[upstream => 'tomcats', worker => 'tomcat1', lbfactor => 'abc'], qr{invalid lbfactor}],
    [[upstream => 'tomcats', worker => 'tomcat1', lbfactor => 100001], qr{invalid lbfactor}],
    [[upstream => 'tomcats', worker => 'tomcat1', action => 'explode'], qr{invalid action}],
    [[upstream => 'tomcats', activation => 'D'], qr{"worker" is missing}],
    [[worker => 'tomcat1', activation => 'D'], qr{"upstream" is missing}],
    [[upstream => 'tomcats', worker => 'tomcat1'], qr{nothing to do}],
    [[upstream => 'tomcats', worker => 'tomcat1', activation => 'D', lbfactor => 2], qr{one change at a time}],
    [[upstream => 'tomcats', worker => 'tomcat1', activaton => 'D'], qr{unknown field "activaton"}],
    [[upstream => 'tomcats', upstream => 'tomcats', worker => 'tomcat1', activation => 'D'], qr{repeated}],
);
for my $case (@bad) {
    my ($fields, $message) = @$case;
    $r = admin($t, $front, '/admin', @$fields);
    (my $name = "@$fields") =~ s/\n/\\n/g;
    is($r->{status}, 400, "400 for $name");
    like($r->{body}, $message, '... with a message');
}
$r = $t->request($front, 'POST', '/admin', 'upstream=tomcats&worker=%zz&activation=D',
                 'X-Sticky-Admin' => 1);
is($r->{status}, 400, 'a bad %-escape: 400');
$r = act(worker => 'nope', activation => 'D', { Accept => 'application/json' });
$answer = decode_json_or_diag($r->{body});
ok($answer && !$answer->{ok} && $answer->{message} =~ /no worker/, 'errors in JSON too');
$r = $t->request($front, 'POST', '/admin', 'upstream=tomcats&worker=tomcat1&activation=D',
                 'X-Sticky-Admin' => 1, 'Content-Type' => 'text/plain');
is($r->{status}, 415, 'a body that is not a form: 415');
$r = $t->request($front, 'POST', '/admin', 'upstream=tomcats&worker=tomcat1&activation=D&'
                 . ('x' x 5000), 'X-Sticky-Admin' => 1);
is($r->{status}, 413, 'a form over 4 KB: 413');
is(activation('tomcat1'), 'A', 'no bad request changed anything');
unlike($t->read_file('logs/error.log'), qr{^b"}m, 'a newline in a name does not split a log line');

# --- a hostile worker name -------------------------------------------------------------

$r = act(worker => $evil, activation => 'D');
is($r->{status}, 200, 'a worker with a hostile name can be changed');
like($r->{body}, qr{worker "w<x>\\x22y'&z" of upstream}, '... its name quoted in the answer');
like($r->{body}, qr{activation S -> D}, '... from S to D');
is(w($evil)->{activation}, 'D', '... the JSON shows it');
$r = $t->get($front, '/admin');
like($r->{body}, qr{data-worker="w&lt;x&gt;&quot;y&#39;&amp;z"}, 'the dashboard escapes it in the buttons');
like($r->{body}, qr{<button type="button" class="act"[^>]*data-value="D"[^>]*>Drain</button>},
     'the read_write dashboard has buttons');

$t->finish;
done_testing;
