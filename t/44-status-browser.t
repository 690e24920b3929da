#!/usr/bin/perl
# The dashboard in a real browser: Debian's chromium, headless, started by
# this test through Debian's chromium-driver and python3-selenium
# (t/browser/drain.py; no browser download, no network). It loads the page,
# presses "Drain" on tomcat2, sees the page change; the JSON then says D and
# the drain works. Screenshots go to the test's temp directory
# (STICKY_SCREENSHOT_DIR=docs keeps them for the README). make deps
# installs all three packages.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties served_by);
use StickyStatus qw(status_json worker decode_json_or_diag);

use BrowserTest qw(require_browser $PYTHON $BROWSER_DIR);

require_browser();
my ($python, $browser_dir) = ($PYTHON, $BROWSER_DIR);

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } qw(tomcat1 tomcat2 tomcat3);
$t->write_file('workers.properties', lb_properties('cluster', {},
    (map { [$_ => { port => $port{$_} }] } qw(tomcat1 tomcat2)),
    [tomcat3 => { port => $port{tomcat3}, route => 'node3.dc2', lbfactor => 2 }],
    [tomcat4 => { port => $t->port('dead'), redirect => 'tomcat1' }]));
$t->write_conf(<<"EOF");
    upstream tomcats { sticky_workers workers.properties; }
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://tomcats; }
        location /sticky-admin { sticky_status read_write; }
    }
EOF
$t->run($front);

# Some traffic, so the page has numbers to show, and tomcat4 (nothing
# listens on its port) in error.
$t->get($front, "/warm$_") for 1 .. 12;
$t->get($front, '/s', Cookie => "JSESSIONID=ABC.tomcat2") for 1 .. 3;
$t->get($front, '/s', Cookie => "JSESSIONID=DEF.tomcat4");

my $dir = $ENV{STICKY_SCREENSHOT_DIR} || $t->dir;
my ($shot, $phone) = ("$dir/status.png", "$dir/status-phone.png");
my $url = "http://127.0.0.1:$front/sticky-admin";
my $out = `$python '$browser_dir/drain.py' '$url' tomcats tomcat2 '$shot' '$phone' 2>&1`;
my $exit = $? >> 8;
my ($line) = $out =~ /^(\{.*\})\s*$/m;
my $result = $line ? decode_json_or_diag($line) : undef;
is($exit, 0, 'the browser drained tomcat2 with its button') or diag $out;
ok($result && !$result->{fatal}, 'the browser ran') or diag $out;
like($result->{before} // '', qr{\ba-A\b}, 'the page showed tomcat2 active');
like($result->{after} // '', qr{\ba-D\b}, 'after the click the page shows it drained');
ok($result->{drain_button_disabled}, '... and its Drain button disabled');
like($result->{message} // '', qr{worker "tomcat2" of upstream "tomcats": activation A -> D},
     'the page showed the answer');
ok($result->{refreshes}, 'the page refreshes itself');
my @errors = @{$result->{errors} || []};
is_deeply(\@errors, [], 'no console error, no CSP violation, no external request')
    or diag explain \@errors;
ok(!$result->{phone_overflow}, 'on a phone the page is no wider than the screen');
ok(-s $shot && -s $phone, 'screenshots taken');

my $w2 = worker(status_json($t, $front, '/sticky-admin'), 'tomcats', 'tomcat2');
is($w2->{activation}, 'D', 'the JSON says tomcat2 is drained');
my %who;
$who{served_by($t->get($front, "/new$_"))}++ for 1 .. 9;
ok(!$who{tomcat2}, 'new sessions avoid tomcat2') or diag explain \%who;
like($t->read_file('logs/error.log'),
     qr{\[notice\].*sticky_status: 127\.0\.0\.1: worker "tomcat2" of upstream "tomcats": activation A -> D.*POST /sticky-admin},
     "the browser's POST passed the header and Origin checks and was logged");

$t->finish;
done_testing;
