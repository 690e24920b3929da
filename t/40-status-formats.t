#!/usr/bin/perl
# sticky_status: every format. JSON parses and holds every worker with its
# counters; the Prometheus text passes a line-by-line check of the exposition
# format; the properties carry mod_jk's status worker keys; HTML is a whole
# self-contained page. Format by ?format=, mod_jk's ?mime=, or Accept;
# ?upstream= picks one upstream. Hostile names from workers.properties are
# escaped in every format.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties session_id header served_by);
use StickyStatus qw(status_json worker decode_json_or_diag);

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } qw(tomcat1 tomcat2);

# A route and a domain written to break out of HTML, JSON, Prometheus labels
# and properties lines, and a non-UTF-8 byte.
my $evil_route = q{<img src=x onerror=alert(1)>"'&\\};
my $evil_domain = "dom\xe9<b>";
$t->write_file('workers.properties', lb_properties('cluster', { maintain => 60 },
    [tomcat1 => { port => $port{tomcat1}, lbfactor => 2 }],
    [tomcat2 => { port => $port{tomcat2}, route => $evil_route,
                  domain => $evil_domain, redirect => 'tomcat1' }]));
# A worker name that mod_jk accepts and that breaks every format unescaped.
my $evil = q{w<x>"y'&z};
$t->write_file('other.properties', lb_properties('cluster', {},
    [tomcat1 => { port => $port{tomcat1} }],
    [$evil => { port => $t->port('dead'), activation => 'S' }]));
$t->write_conf(<<"EOF");
    upstream tomcats { sticky_workers workers.properties; }
    upstream other { sticky_workers other.properties; }
    upstream plain { server 127.0.0.1:$port{tomcat1}; }
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://tomcats; }
        location /status { sticky_status; }
    }
EOF
$t->run($front);

# Some traffic: new sessions, then sticky requests of tomcat1.
my %who;
$who{served_by($t->get($front, "/new$_"))}++ for 1 .. 6;
is(join(',', sort keys %who), 'tomcat1,tomcat2', 'new sessions reach both workers')
    or diag explain \%who;
my $sid = session_id('formats', 'tomcat1');
is(served_by($t->get($front, '/s', Cookie => "JSESSIONID=$sid")), 'tomcat1', 'sticky request')
    for 1 .. 3;

# --- JSON -------------------------------------------------------------------------

my $r = $t->get($front, '/status?format=json');
is($r->{status}, 200, 'json: 200');
like(header($r, 'Content-Type'), qr{^application/json}, 'json: content type');
is(header($r, 'Cache-Control'), 'no-store', 'json: not cached');
is(header($r, 'X-Content-Type-Options'), 'nosniff', 'json: nosniff');
my $doc = decode_json_or_diag($r->{body});
ok($doc, 'json: parses');
is_deeply([map { $_->{name} } @{$doc->{upstreams}}], ['tomcats', 'other'],
          'json: every sticky upstream, in configuration order, and no other');
my $u = $doc->{upstreams}[0];
is($u->{lb}, 'cluster', 'json: lb worker name');
is($u->{method}, 'Request', 'json: method');
is($u->{recover_time}, 60, 'json: recover_time');
is(scalar @{$u->{workers}}, 2, 'json: two workers');
my $w1 = worker($doc, 'tomcats', 'tomcat1');
my $w2 = worker($doc, 'tomcats', 'tomcat2');
is($w1->{activation}, 'A', 'json: activation A');
like($w1->{state}, qr{^OK}, 'json: state OK');
is($w1->{lbfactor}, 2, 'json: lbfactor');
is($w1->{port}, $port{tomcat1}, 'json: port');
is($w1->{host}, '127.0.0.1', 'json: host');
is($w1->{requests}, $w1->{sticky_hits} + $w1->{new_sessions}, 'json: requests add up');
cmp_ok($w1->{sticky_hits}, '>=', 3, 'json: sticky hits counted');
cmp_ok($w1->{sticky_last_minute}, '>=', 3, 'json: sticky hits of the last minute');
is($w1->{new_sessions} + $w2->{new_sessions}, 6, 'json: new sessions counted');
is($w1->{in_flight}, 0, 'json: nothing in flight');
is($w1->{errors}, 0, 'json: no errors');
ok(defined $w1->{last_request_ago_ms} && $w1->{last_request_ago_ms} < 60000,
   'json: last request a moment ago');
ok(!defined $w1->{last_error} && !defined $w1->{recover_in_ms},
   'json: no error, nothing to recover');
is($w2->{route}, $evil_route, 'json: a hostile route comes back intact');
is($w2->{domain}, "dom\x{fffd}<b>", 'json: a byte that is not UTF-8 becomes U+FFFD');
is($w2->{redirect}, 'tomcat1', 'json: redirect');
unlike($r->{body}, qr{<img|<b>|<x>}, 'json: no raw "<" in the text');
is(worker($doc, 'other', $evil)->{name}, $evil, 'json: a hostile worker name comes back intact');
is(worker($doc, 'other', $evil)->{activation}, 'S', 'json: ... Stopped as the file says');

$r = $t->get($front, '/status', Accept => 'application/json');
like(header($r, 'Content-Type'), qr{^application/json}, 'Accept: application/json gives json');
$doc = status_json($t, $front, '/status?upstream=other');
is_deeply([map { $_->{name} } @{$doc->{upstreams}}], ['other'], '?upstream= picks one');
$r = $t->get($front, '/status?upstream=nope&format=json');
is($r->{status}, 404, 'an unknown upstream: 404');
like($r->{body}, qr{no upstream \\?"nope\\?" uses sticky_workers}, '... with a message');
$r = $t->get($front, '/status?upstream=plain');
is($r->{status}, 404, 'an upstream without sticky_workers: 404');
$r = $t->get($front, '/status?format=xml');
is($r->{status}, 400, 'an unknown format: 400');

# --- Prometheus -------------------------------------------------------------------

$r = $t->get($front, '/status?format=prometheus');
is($r->{status}, 200, 'prometheus: 200');
like(header($r, 'Content-Type'), qr{^text/plain; version=0\.0\.4}, 'prometheus: content type');
my @problems = check_exposition($r->{body});
ok(!@problems, 'prometheus: every line follows the exposition format')
    or diag join "\n", @problems;
my %sample = samples($r->{body});
is($sample{qq(sticky_worker_requests_total{upstream="tomcats",worker="tomcat1"})},
   $w1->{requests} + 0, 'prometheus: requests of tomcat1');
is($sample{qq(sticky_worker_activation{upstream="tomcats",worker="tomcat1",activation="A"})},
   1, 'prometheus: activation A is 1');
is($sample{qq(sticky_worker_activation{upstream="tomcats",worker="tomcat1",activation="D"})},
   0, 'prometheus: activation D is 0');
is($sample{qq(sticky_worker_lbfactor{upstream="tomcats",worker="tomcat1"})}, 2,
   'prometheus: lbfactor');
is($sample{qq(sticky_worker_in_flight{upstream="other",worker="w<x>\\"y'&z"})}, 0,
   'prometheus: a double quote in a worker name is escaped');
my @states = grep { /^sticky_worker_state\{upstream="tomcats",worker="tomcat1"/ } keys %sample;
is(scalar @states, 7, 'prometheus: one state sample per mod_jk state');
is((grep { $sample{$_} == 1 } @states), 1, 'prometheus: exactly one state is 1');
ok(exists $sample{qq(sticky_worker_in_flight{upstream="other",worker="tomcat1"})},
   'prometheus: the second upstream too');
for my $family (qw(requests_total sticky_hits_total new_sessions_total errors_total
                   sent_bytes_total received_bytes_total in_flight sticky_last_minute
                   lbfactor lb_value activation state recover_seconds
                   last_error_timestamp_seconds)) {
    like($r->{body}, qr{^# TYPE sticky_worker_$family (counter|gauge)$}m,
         "prometheus: family sticky_worker_$family");
}
$r = $t->get($front, '/status',
             Accept => 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5');
like(header($r, 'Content-Type'), qr{^text/plain; version=0\.0\.4},
     "a Prometheus scraper's Accept gives the exposition format");

# --- properties (mod_jk's status worker) ------------------------------------------------

$r = $t->get($front, '/status?format=properties');
is($r->{status}, 200, 'properties: 200');
my %prop = properties($r->{body});
is($prop{'worker.result.type'}, 'OK', 'properties: result type');
is_deeply($prop{'worker.list'}, ['cluster', 'other'],
          'properties: worker.list once per lb, a repeated lb name keyed by its upstream');
is($prop{'worker.cluster.type'}, 'lb', 'properties: lb type');
is($prop{'worker.cluster.upstream'}, 'tomcats', 'properties: its upstream');
is_deeply($prop{'worker.cluster.balance_workers'}, ['tomcat1', 'tomcat2'],
          'properties: balance_workers once per member, as mod_jk');
is($prop{'worker.cluster.sticky_session'}, 'True', 'properties: sticky_session');
is($prop{'worker.cluster.method'}, 'Request', 'properties: method');
is($prop{'worker.cluster.member_count'}, 2, 'properties: member_count');
is($prop{'worker.cluster.good'}, 2, 'properties: good');
is($prop{'worker.other.bad'}, 1, 'properties: bad (the Stopped member)');
is($prop{qq(worker.$evil.activation)}, 'STP', 'properties: a hostile member name as mod_jk writes it');
# Member keys are named after the member, as in mod_jk: one upstream at a time
# when two lb workers share member names.
%prop = properties($t->get($front, '/status?format=properties&upstream=tomcats')->{body});
is_deeply($prop{'worker.list'}, ['cluster'], 'properties: ?upstream= picks one lb');
is($prop{'worker.tomcat1.activation'}, 'ACT', 'properties: activation ACT');
like($prop{'worker.tomcat1.state'}, qr{^OK}, 'properties: state');
is($prop{'worker.tomcat1.lbfactor'}, 2, 'properties: lbfactor');
is($prop{'worker.tomcat1.port'}, $port{tomcat1}, 'properties: port');
is($prop{'worker.tomcat1.address'}, "127.0.0.1:$port{tomcat1}", 'properties: address');
is($prop{'worker.tomcat1.elected'}, $w1->{requests}, 'properties: elected = requests');
is($prop{'worker.tomcat2.redirect'}, 'tomcat1', 'properties: redirect');
is($prop{'worker.tomcat2.route'}, q{<img src=x onerror=alert(1)>"'&\\\\},
   'properties: a backslash is escaped, the rest as is (plain text)');
for my $key (qw(type host port address activation lbfactor route redirect domain distance
                state lbmult lbvalue elected sessions errors transferred read busy
                time_to_recover_min time_to_recover_max)) {
    ok(defined $prop{"worker.tomcat1.$key"}, "properties: mod_jk key worker.tomcat1.$key");
}
$r = $t->get($front, '/status?cmd=list&mime=prop');
is(header($r, 'Content-Type'), 'text/plain; charset=utf-8', "mod_jk's ?mime=prop works");
like($r->{body}, qr{^worker\.list=cluster$}m, '... and lists the lb');

# --- HTML ---------------------------------------------------------------------------

$r = $t->get($front, '/status');
is($r->{status}, 200, 'html: 200');
like(header($r, 'Content-Type'), qr{^text/html}, 'html is the default');
my $csp = header($r, 'Content-Security-Policy');
like($csp, qr{default-src 'none'}, 'html: CSP forbids everything by default');
like($csp, qr{frame-ancestors 'none'}, 'html: CSP forbids framing');
my ($nonce) = $csp =~ /script-src 'nonce-([0-9a-f]+)'/;
ok($nonce && length $nonce == 32, 'html: the script runs by nonce');
like($r->{body}, qr{<script nonce="\Q$nonce\E">}, 'html: the script carries the nonce');
is(header($r, 'X-Frame-Options'), 'DENY', 'html: no framing');
unlike($r->{body}, qr{<(?:link|img|iframe)\b|<[^>]*\s(?:src|href)="?(?:https?:)?//|url\(\s*['"]?(?:https?:)?//|\@import}i,
       'html: no external resource');
like($r->{body}, qr{&lt;img src=x onerror=alert\(1\)&gt;&quot;&#39;&amp;\\},
     'html: the hostile route is escaped');
like($r->{body}, qr{dom\xef\xbf\xbd&lt;b&gt;}, 'html: the domain is escaped, its bad byte replaced');
unlike($r->{body}, qr{<img|dom.<b>|<x>}, 'html: no raw tag from the file');
like($r->{body}, qr{<tr data-worker="w&lt;x&gt;&quot;y&#39;&amp;z"}, 'html: a hostile name in an attribute');
like($r->{body}, qr{<b>w&lt;x&gt;&quot;y&#39;&amp;z</b>}, 'html: a hostile name in the text');
like($r->{body}, qr{<meta name="viewport"}, 'html: fits a phone (viewport)');
like($r->{body}, qr{<noscript><meta http-equiv="refresh"}, 'html: refreshes without JS');
like($r->{body}, qr{<table>.*tomcat1.*</table>}s, 'html: a table of workers');
unlike($r->{body}, qr{<button}, 'html: no buttons on a read-only location');
for my $column ('worker', 'route', 'domain', 'dist.', 'lbfactor', 'activation', 'state',
                'in flight', 'sticky / min', 'requests', 'sticky hits', 'new sessions',
                'errors', 'last error', 'probe', 'recover in') {
    like($r->{body}, qr{<th[^>]*>\Q$column\E</th>}, "html: column $column");
}

$r = $t->request($front, 'HEAD', '/status?format=json', '');
is($r->{status}, 200, 'HEAD: 200');
is($r->{body}, '', 'HEAD: no body');

$t->finish;
done_testing;

# --- helpers ------------------------------------------------------------------------

# Checks text against the Prometheus text exposition format 0.0.4: HELP and
# TYPE before a family's samples, one TYPE per family, samples grouped by
# family, valid names, label syntax and escapes, numeric values.
sub check_exposition {
    my ($text) = @_;
    my @problems;
    my (%typed, %helped, %closed, %series);
    my $current = '';
    push @problems, 'does not end with a newline' unless $text =~ /\n\z/;
    my $n = 0;
    for my $line (split /\n/, $text) {
        $n++;
        if ($line =~ /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/) {
            push @problems, "$n: a second HELP for $1" if $helped{$1}++;
            push @problems, "$n: bad escape in HELP" if $2 =~ /\\(?![\\n])/;
            next;
        }
        if ($line =~ /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/) {
            push @problems, "$n: a second TYPE for $1" if $typed{$1}++;
            push @problems, "$n: TYPE after samples of $1" if $closed{$1} || $current eq $1;
            push @problems, "$n: a counter not ending in _total: $1"
                if $2 eq 'counter' && $1 !~ /_total$/;
            next;
        }
        if ($line =~ /^#/) { push @problems, "$n: unknown comment: $line"; next }
        my ($name, $labels, $value) =
            $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/
            or do { push @problems, "$n: not a sample: $line"; next };
        push @problems, "$n: value $value is not a number"
            unless $value =~ /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?Inf$|^NaN$/;
        push @problems, "$n: sample of $name before its TYPE" unless $typed{$name};
        if ($current ne $name) {
            $closed{$current} = 1 if $current ne '';
            push @problems, "$n: samples of $name are not grouped" if $closed{$name};
            $current = $name;
        }
        if (defined $labels) {
            my $l = substr($labels, 1, -1);
            while (length $l) {
                $l =~ s/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)//
                    or do { push @problems, "$n: bad labels $labels"; last };
            }
        }
        push @problems, "$n: duplicate series $name$labels" if $series{$name . ($labels // '')}++;
    }
    return @problems;
}

sub samples {
    my ($text) = @_;
    my %s;
    for (split /\n/, $text) {
        next if /^#/;
        my ($series, $value) = /^(\S+(?:\{.*\})?) (\S+)$/ or next;
        $s{$series} = $value;
    }
    return %s;
}

# key => value, or key => [values] for keys that repeat.
sub properties {
    my ($text) = @_;
    my %p;
    for (split /\n/, $text) {
        my ($k, $v) = /^([^=]+)=(.*)$/ or next;
        if (exists $p{$k}) {
            $p{$k} = [$p{$k}] unless ref $p{$k};
            push @{$p{$k}}, $v;
        } else {
            $p{$k} = $v;
        }
    }
    for my $k ('worker.list', 'worker.cluster.balance_workers') {
        $p{$k} = [$p{$k}] if defined $p{$k} && !ref $p{$k};
    }
    return %p;
}
