#!/usr/bin/perl
# The Debian package on this machine, as a user installs it: `make deb`'s
# .deb (STICKY_DEB, else this test runs `make deb`) has no lintian error,
# depends on the nginx ABI that the installed nginx provides; `dpkg -i`
# installs the module and enables it as Debian's libnginx-mod-* packages do
# (/etc/nginx/modules-enabled/50-mod-http-sticky-workers.conf, a link into
# modules-available); the stock /usr/sbin/nginx, with a configuration that
# includes modules-enabled/*.conf as Debian's nginx.conf does and has no
# load_module of its own, accepts sticky_workers (`nginx -t`), maps the
# package's .so and serves sticky requests through it; `dpkg --purge` then
# leaves /etc/nginx and the module directories as they were.
#
# Needs root (dpkg): fails without it. Two runs at once take turns (a lock
# around install .. purge). A package a user installed is never touched:
# the test fails instead. Neither /etc/nginx/nginx.conf nor the system's
# nginx service is used; our nginx has its own files and port.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Cwd ();
use Fcntl qw(:flock);
use Test::More;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);
# StickyTest wants the built .so; this test loads the package's instead.
BEGIN { $ENV{STICKY_MODULE} //= 'unused-by-t70' }
use ApacheJk;
use StickyTest qw(lb_properties session_id header served_by);

my $PKG     = 'libnginx-mod-http-sticky-workers';
my $SO      = '/usr/lib/nginx/modules/ngx_http_sticky_workers_module.so';
my $AVAIL   = '/usr/share/nginx/modules-available/mod-http-sticky-workers.conf';
my $ENABLED = '/etc/nginx/modules-enabled/50-mod-http-sticky-workers.conf';
my $DOC     = "/usr/share/doc/$PKG";
my $NGINX   = '/usr/sbin/nginx';
my $LOCK    = '/tmp/sticky-deb-package.lock';
my $REPO    = Cwd::abs_path("$FindBin::Bin/..");

if ($> != 0) {
    fail('t/70-deb-package.t must run as root: it installs and purges '
         . "$PKG with dpkg (CI runs as root; locally: sudo prove ...)");
    done_testing;
    exit;
}

# --- the package and lintian (no lock needed) --------------------------------

my $deb = $ENV{STICKY_DEB};
if (!$deb) {
    my $out = `make -C '$REPO' deb 2>&1`;
    is($?, 0, 'make deb') or diag $out;
    ($deb) = sort { -M $a <=> -M $b } glob "$REPO/build/${PKG}_*.deb";
}
ok($deb && -f $deb, "the package: " . ($deb // 'none'))
    or BAIL_OUT('no .deb to test');

my $fields = `dpkg-deb -f '$deb' Package Depends`;
like($fields, qr/^Package: \Q$PKG\E$/m, 'package name');
my ($abi) = `cat /usr/share/nginx/src/debian/libnginx-mod.abisubstvars`
    =~ /^nginx:abi=(\S+)/m;
ok($abi, "nginx-dev names the nginx ABI ($abi)");
like($fields, qr/^Depends:.*\b\Q$abi\E\b/m,
     'Depends on the ABI of the nginx it was built for');
like(`dpkg-query -W -f='\${Provides}' nginx 2>/dev/null`, qr/\b\Q$abi\E\b/,
     'the installed nginx provides that ABI');

my $contents = `dpkg-deb -c '$deb'`;
like($contents, qr{\s\.\Q$_\E$}m, "the package holds $_")
    for $SO, $AVAIL, "$DOC/README.md.gz", "$DOC/workers.properties.example",
        "$DOC/copyright", '/usr/share/jk2nginx/jk2nginx', '/usr/share/man/man1/jk2nginx.1.gz';
like($contents, qr{\s\./usr/bin/jk2nginx -> \.\./share/jk2nginx/jk2nginx$}m,
     'the package links /usr/bin/jk2nginx to the importer');
like($fields, qr/^Depends:.*\bpython3\b/m, 'Depends on python3 (the importer)');

my $lintian = `lintian '$deb' 2>&1`;
my @errors = grep { /^E: / } split /\n/, $lintian;
ok(!@errors, 'lintian: no error') or diag $lintian;
note "lintian:\n$lintian" if $lintian =~ /\S/;

# --- install .. purge, one run at a time ----------------------------------------

open my $lock, '>>', $LOCK or BAIL_OUT("open $LOCK: $!");
my $deadline = time + 900;
until (flock $lock, LOCK_EX | LOCK_NB) {
    BAIL_OUT("$LOCK still locked after 900 s") if time > $deadline;
    sleep 0.5;
}

# dpkg's own lock may be held by apt or dpkg run by someone else: wait for it.
sub dpkg {
    my @args = @_;
    my $until = time + 300;
    while (1) {
        my $out = `dpkg @args 2>&1`;
        my $rc = $?;
        return ($rc, $out) unless $rc && $out =~ /\block\b/i && time < $until;
        sleep 2;
    }
}

# dpkg's two letters (wanted, current: "ii", "rc", ...), '' when unknown.
sub status {
    my $s = `dpkg-query -W -f='\${db:Status-Abbrev}' $PKG 2>/dev/null`;
    $s =~ s/\s+//g;
    return $s;
}

# What install and purge may change, to compare after the purge.
sub machine_state {
    my @state;
    for my $dir ('/etc/nginx/modules-enabled', '/usr/share/nginx/modules-available',
                 '/usr/lib/nginx/modules') {
        opendir my $dh, $dir or next;
        for my $f (sort grep { !/^\.\.?$/ } readdir $dh) {
            my $p = "$dir/$f";
            push @state, -l $p ? "$p -> " . readlink($p) : $p;
        }
    }
    push @state, "$DOC exists" if -e $DOC;
    return join "\n", @state;
}

my $before = status();
if ($before =~ /^.[^n]/) {
    fail("$PKG is already known to dpkg here (status '$before', installed "
         . "by someone): this test would remove it, so it stops; "
         . "`dpkg --purge $PKG` first if it may go");
    done_testing;
    exit;
}
ok(!-e $ENABLED && !-l $ENABLED && !-e $SO,
   'before: no module file and no modules-enabled link of ours')
    or BAIL_OUT("$ENABLED or $SO exists without the package: left by hand?");
my $state_before = machine_state();

# A test that dies between install and purge still purges what it
# installed (in this process: not in a forked child).
my $installed;
my $installer = $$;
END {
    if ($installed && $$ == $installer) {
        local $?;
        my (undef, $out) = dpkg('--purge', $PKG);
        print STDERR "# purged $PKG after a failure: $out";
    }
}

my ($rc, $out) = dpkg('-i', $deb);
$installed = 1;
is($rc, 0, 'dpkg -i') or diag $out;
like(status(), qr/^ii/, 'installed');
ok(-l $ENABLED && readlink($ENABLED) eq $AVAIL,
   "enabled as Debian's modules are: $ENABLED -> $AVAIL")
    or diag(`ls -l /etc/nginx/modules-enabled/`);
is(`cat $AVAIL`, "load_module modules/ngx_http_sticky_workers_module.so;\n",
   'modules-available: the load_module line');
ok(-f $SO, "the module is in $SO");

# The importer, as a command on the PATH: a copy of Debian's shipped Apache
# configuration with mod_jk enabled in, an nginx configuration out.
my $apache_conf = ApacheJk::debian_copy(
    tempdir('sticky-test-deb-apache-XXXXXX', TMPDIR => 1, CLEANUP => 1));
my $imported = `/usr/bin/jk2nginx --conf-d '$apache_conf' 2>/dev/null`;
is($?, 0, 'jk2nginx runs from /usr/bin');
like($imported, qr/^server \{\n(?s:.*)^\s*# JkMount \/jk-status jk-status /m,
     "... and prints a server with the mounts of Debian's jk.conf") or diag $imported;

# --- the stock nginx with Debian's include ---------------------------------------

my $t = StickyTest->new(stock_modules => 1);
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } qw(tomcat1 tomcat2);
$t->write_file('workers.properties', lb_properties('cluster', {},
    map { [$_ => { port => $port{$_} }] } sort keys %port));
# Debian's way of loading modules (include modules-enabled/*.conf), our own
# paths and port; nginx runs with its stock prefix, where the snippet's
# relative load_module path points.
$t->write_conf(<<"EOF");
    upstream tomcats {
        sticky_workers workers.properties;
    }
    server {
        listen 127.0.0.1:$front;
        location / {
            add_header X-Sticky-Worker \$sticky_worker;
            proxy_pass http://tomcats;
        }
    }
EOF
unlike($t->read_file('nginx.conf'), qr/^\s*load_module/m,
       'the configuration has no load_module of its own');

my ($test_ok, $test) = $t->test_config;
ok($test_ok, "$NGINX -t accepts sticky_workers through modules-enabled") or diag $test;

$t->run($front);
my $pid = $t->{pid};
like(`cat /proc/$pid/maps`, qr/\Q$SO\E/, "nginx mapped the package's $SO");

my $r = $t->get($front, '/');
is($r->{status}, 200, 'a request through the module: 200');
my $first = served_by($r);
like($first, qr/^tomcat[12]$/, "a new session balanced ($first)");
is(header($r, 'X-Sticky-Worker'), $first, '$sticky_worker names it');
my $other = $first eq 'tomcat1' ? 'tomcat2' : 'tomcat1';
is(served_by($t->get($front, '/', Cookie => 'JSESSIONID=' . session_id(1, $other))),
   $other, "a session of $other goes to $other");
$t->finish;

# --- purge: the machine as it was --------------------------------------------------

($rc, $out) = dpkg('--purge', $PKG);
is($rc, 0, 'dpkg --purge') or diag $out;
$installed = 0 unless $rc;
like(status(), qr/^(?:.n)?$/, 'purged: dpkg no longer knows it');
ok(!-e $ENABLED && !-l $ENABLED && !-l "$ENABLED.removed",
   'the modules-enabled link is gone');
ok(!-e $SO && !-e $AVAIL && !-e $DOC, 'module, snippet and docs are gone');
ok(!-e '/usr/bin/jk2nginx' && !-e '/usr/share/jk2nginx', 'the importer is gone');
is(machine_state(), $state_before,
   'modules-enabled, modules-available and the module directory as before');

close $lock;
done_testing;
