#!/usr/bin/perl
# What `nginx -t` says of a workers.properties that is too large or repeats
# itself: a file over 16 MiB is refused with its name and the limit; a key
# repeated 150,000 times gives 100 warnings and one line counting the rest,
# not 150,000 lines.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties);

my $t = StickyTest->new;
my $front = $t->port('front');
my $valid = lb_properties('cluster', {}, [tomcat1 => { port => $t->port('t1') }]);

sub conf {
    my ($file) = @_;
    $t->write_conf(<<"EOF", name => "$file.conf");
    upstream tomcats { sticky_workers $file; }
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://tomcats; }
    }
EOF
    return "$file.conf";
}

# --- over 16 MiB ----------------------------------------------------------------------------

my $big = $t->write_file('big.properties',
                         $valid . '#' . ('x' x (16 * 1024 * 1024)) . "\n");
my ($ok, $out) = $t->test_config(conf('big.properties'));
ok(!$ok, 'a workers file over 16 MiB: nginx -t fails');
like($out, qr{\[emerg\] \Q$big\E: the file is \d+ bytes, over the limit of 16 MiB},
     '... naming the file and the limit');

my $fits = $t->write_file('fits.properties', $valid . '#' . ('x' x (1024 * 1024)) . "\n");
($ok, $out) = $t->test_config(conf('fits.properties'));
ok($ok, 'a workers file of 1 MiB is fine') or diag $out;

# --- one key 150,000 times -------------------------------------------------------------------

$t->write_file('repeated.properties', $valid . ("worker.tomcat1.port=8009\n" x 150_000));
($ok, $out) = $t->test_config(conf('repeated.properties'));
ok($ok, 'a key repeated 150,000 times: accepted (mod_jk takes the last value)') or diag $out;
my @warn = grep { /\[warn\]/ } split /\n/, $out;
is(scalar @warn, 101, '... with 101 warnings, not 150,000');
is(scalar(grep { /duplicate "worker\.tomcat1\.port"/ } @warn), 100, '... 100 of them shown');
like($warn[-1], qr{repeated\.properties: 149900 more warnings like the one on line \d+ are not shown},
     '... and one line counting the others');

done_testing;
