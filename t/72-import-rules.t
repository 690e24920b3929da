#!/usr/bin/perl
# The importer (tools/jk2nginx/jk2nginx) without Apache or Tomcat:
#   - its unit tests (tools/jk2nginx/test_jk2nginx.py): mod_jk's matcher,
#     the order of rules, each rule shape's regex held against mod_jk's
#     matcher on 20,000 random patterns and URIs, every directive it
#     cannot carry over reported in the output and on stderr;
#   - Debian's own layout: a copy of /etc/apache2 with mod_jk enabled as
#     `a2enmod jk` enables it (envvars, Include of mods-enabled/,
#     <IfModule>, ${APACHE_LOG_DIR}), and `JkMountCopy All` as Debian's
#     jk.conf suggests (its default site has no Jk directive: without it,
#     mod_jk gives the site no mounts): the complete nginx.conf it prints
#     passes `nginx -t` as printed, and each thing not carried over is a
#     comment in it and a line on stderr.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use Test::More;
use ApacheJk;

my $TOOL = "$FindBin::Bin/../tools/jk2nginx";
my $NGINX = $ENV{NGINX_BIN} || '/usr/sbin/nginx';
my $MODULE = $ENV{STICKY_MODULE} or die "STICKY_MODULE must name the built module\n";

# --- unit tests ------------------------------------------------------------------------

my $out = `cd '$TOOL' && python3 -m unittest -v test_jk2nginx 2>&1`;
is($?, 0, 'python3 -m unittest test_jk2nginx') or diag $out;
my ($ran) = $out =~ /^Ran (\d+) tests?/m;
cmp_ok($ran // 0, '>=', 20, "unit tests ran (" . ($ran // 0) . ")");

# --- Debian's layout -------------------------------------------------------------------

# Never skipped: make deps installs apache2 and libapache2-mod-jk.
ok(-f '/etc/apache2/apache2.conf' && -f '/etc/apache2/mods-available/jk.conf',
   "Debian's apache2 and libapache2-mod-jk are installed (make deps installs them)");
{
    my $dir = tempdir('sticky-test-import-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{STICKY_TEST_LEAVE});
    my $apache_conf = ApacheJk::debian_copy($dir);
    my $conf = `'$TOOL/jk2nginx' --load-module '$MODULE' '$apache_conf' 2>'$dir/err'`;
    is($?, 0, 'jk2nginx on Debian\'s apache2.conf with mod_jk enabled');
    open my $fh, '>', "$dir/nginx.conf" or die $!;
    print $fh $conf;
    close $fh;
    my $t = `'$NGINX' -t -c '$dir/nginx.conf' -e '$dir/error.log' 2>&1`;
    is($?, 0, 'nginx -t accepts the complete nginx.conf as printed') or diag $t, $conf;
    open my $efh, '<', "$dir/err" or die $!;
    my $err = do { local $/; <$efh> };
    like($err, qr{worker 'jk-status' is not in worker\.list}, 'stderr: jk-status is not a worker of the shipped file');
    like($conf, qr{# jk2nginx: worker 'jk-status' is not in worker\.list[^\n]*\n\s+return 500;},
         'the output: a comment and mod_jk\'s answer (500)');
    like($conf, qr{JkLogFile: not needed}, 'Debian\'s JkLogFile (from envvars) is a comment');
}

done_testing;
