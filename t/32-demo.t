#!/usr/bin/perl
# `make demo` as a user runs it: demo/demo.sh start (on a free port, in a
# temp directory: DEMO_PORT, DEMO_DIR, MODULE) brings up nginx with the
# module in front of three Tomcats; the cart page comes through nginx and
# names its node; books added through nginx stay in one cart on one node;
# `demo.sh status` tells what runs; a second start is refused; `demo.sh stop`
# leaves nothing running of what it started.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Cwd ();
use IO::Socket::INET;
use Time::HiRes qw(time);
use StickyTest;
use TomcatTest qw(on_exit proc_start_time);

my $T0 = time;
my $t = StickyTest->new;
my $port = StickyTest::free_port();
my $dir = $t->dir . '/demo';
my $log = $t->dir . '/demo.log';
my %env = (
    DEMO_PORT => $port,
    DEMO_DIR  => $dir,
    MODULE    => Cwd::abs_path($ENV{STICKY_MODULE}),
    NGINX_BIN => $ENV{NGINX_BIN} || '/usr/sbin/nginx',
);

# demo.sh CMD with our environment; returns (exit status, its output).
sub demo {
    my ($cmd) = @_;
    local @ENV{keys %env} = values %env;
    delete local $ENV{DEMO_STATE_DIR};
    delete local $ENV{DEMO_PLAIN_UPSTREAM};
    delete local $ENV{DEMO_MANAGER};
    my $out = eval { TomcatTest::run_logged($log, $TomcatTest::DEMO_SH, $cmd) };
    return (0, $out) if defined $out;
    return (1, $@);
}

# Whatever happens below, the demo is stopped at the end.
my $cleanup = on_exit(sub { demo('stop') });

# --- start ------------------------------------------------------------------------------

my ($status, $out) = demo('start');
is($status, 0, "demo.sh start (DEMO_PORT=$port, DEMO_DIR in a temp dir)") or do {
    diag $out;
    done_testing;
    exit 1;
};
like($out, qr{http://localhost:\Q$port\E/}, 'start tells the URL with DEMO_PORT');
like($out, qr{DEMO_DIR=\Q$dir\E demo/demo\.sh stop}, 'start tells how to stop it, with DEMO_DIR');

# What it started, from its state files.
my $nginx_pid = $t->read_file("$dir/nginx/logs/nginx.pid");
chomp $nginx_pid;
like($nginx_pid, qr/^\d+$/, 'nginx.pid in DEMO_DIR names the nginx master');
my $cluster = TomcatTest::Cluster->attach("$dir/cluster");
my @jvms = map { $cluster->pid($_) } 1 .. $cluster->nodes;
is(scalar(grep { /^\d+$/ } @jvms), 3, 'cluster.env in DEMO_DIR names 3 Tomcat pids');
my @workers = children($nginx_pid);
ok(@workers >= 1, 'the nginx master has worker processes');
my %started = map { $_ => proc_start_time($_) } $nginx_pid, @workers, @jvms;
is(scalar(grep { defined } values %started), 1 + @workers + 3, 'all of them are running');

like($t->read_file("$dir/nginx/conf/nginx.conf"), qr/^load_module \Q$env{MODULE}\E;$/m,
     'nginx loads the module given in MODULE');
like($t->read_file("$dir/nginx/conf/nginx.conf"), qr/sticky_workers \Q$dir\E\/workers\.properties;/,
     'the upstream is sticky_workers with the generated workers.properties');
like($t->read_file("$dir/nginx/conf/nginx.conf"), qr/^\s*ajp_pass tomcats;$/m,
     'nginx speaks AJP to the Tomcats (ajp_pass)');
my $workers_file = $t->read_file("$dir/workers.properties");
like($workers_file, qr/^worker\.tomcat1\.port=\Q${\ $cluster->ajp_port(1)}\E$/m,
     'the workers file points at the AJP connectors, as a mod_jk file does');
like($workers_file, qr/^worker\.tomcat1\.secret=\S+$/m, 'with the connectors\' secret');
like($out, qr/speaks AJP/, 'start says it speaks AJP');

my ($st, $status_out) = demo('status');
like($status_out, qr{^nginx\s+up\s+http://localhost:\Q$port\E/ pid=\Q$nginx_pid\E$}m,
     'demo.sh status: nginx up on DEMO_PORT');
is(scalar(() = $status_out =~ /^tomcat\d\s+up\s/mg), 3, 'demo.sh status: three Tomcats up');

# --- the cart through nginx -------------------------------------------------------------------

my $browser = TomcatTest::Client->new($t, $port, 'browser');
my $page = $browser->get('/');
is($page->{status}, 200, 'GET / through nginx: 200');
like($page->{body}, qr/<h1>Book cart<\/h1>/, 'it is the cart page');
like($page->{node}, qr/^tomcat[123]$/, 'the page names the Tomcat that answered');
my $node = $page->{node};
like($browser->session // '', qr/^[0-9A-F]{32}\.\Q$node\E$/,
     "the session cookie ends in .$node, the route nginx sticks to");

my @books = ('Tomcat: The Definitive Guide', 'Nginx HTTP Server', 'Effective Java');
my (%nodes, %codes);
for my $b (@books) {
    my $r = $browser->post_add($b);     # the page's form
    $codes{$r->{status}}++;
    $r = $browser->get('/');            # the browser follows the 303
    $nodes{$r->{node}}++;
}
is_deeply(\%codes, { 303 => 3 }, 'POST /add (the form) through nginx: 303 each time');
is_deeply(\%nodes, { $node => 3 }, "each page after adding is served by $node");
my $cart = $browser->cart;
is($cart->{node}, $node, "/cart.json is served by $node too");
is_deeply($cart->{books}, \@books, 'the cart holds the 3 books, in order');
is($cart->{session}, $browser->session, 'one session throughout');
my $last = $browser->get('/');
like($last->{body}, qr{<li>Effective Java</li>}, 'the page lists the books');

# New visitors are balanced: the demo shows more than one node.
my %fresh;
$fresh{TomcatTest::Client->new($t, $port, "visitor $_")->get('/')->{node}}++ for 1 .. 6;
ok(keys(%fresh) >= 2 && !grep({ !/^tomcat[123]$/ } keys %fresh),
   'six new visitors are spread over the nodes') or diag explain \%fresh;

# The status page of the demo shows the three workers and the cart's node.
my $st_page = $t->get($port, '/sticky-status?format=json');
is($st_page->{status}, 200, 'GET /sticky-status?format=json: 200');
my @names = $st_page->{body} =~ /"name":"(tomcat[123])"/g;
is_deeply([sort @names], [qw(tomcat1 tomcat2 tomcat3)],
          'the status page lists tomcat1..3') or diag $st_page->{body};

# --- a second start is refused ---------------------------------------------------------------

($st, my $again) = demo('start');
isnt($st, 0, 'a second demo.sh start with the same DEMO_DIR fails');
like($again, qr/already running/, '... saying the demo is already running');
is($browser->cart->{node}, $node, '... and the running demo still serves the cart');

# --- stop ----------------------------------------------------------------------------------------

($st, my $stop_out) = demo('stop');
is($st, 0, 'demo.sh stop') or diag $stop_out;
TomcatTest::cancel($cleanup);
my @left = grep { my $s = proc_start_time($_); defined $s && $s == $started{$_} } keys %started;
is_deeply(\@left, [], 'nothing it started runs any more (nginx master, workers, 3 JVMs)')
    or diag `ps -o pid,ppid,cmd -p @{[join ',', @left]}`;
ok(!-e "$dir/nginx/logs/nginx.pid", 'nginx.pid is gone');
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 2);
ok(!$s, "nothing listens on port $port any more");
($st, $status_out) = demo('status');
like($status_out, qr/^nginx\s+down$/m, 'demo.sh status: nginx down');
is(scalar(() = $status_out =~ /^tomcat\d\s+down\s/mg), 3, 'demo.sh status: three Tomcats down');

my @bad = grep { /\[alert\]|\[crit\]|\[emerg\]|exited on signal/ }
          split /\n/, $t->read_file("$dir/nginx/logs/error.log");
is_deeply(\@bad, [], "the demo's nginx error.log has no alerts or crashes");

note sprintf 'the whole test took %.1f s', time - $T0;
done_testing;

# The pids of the processes whose parent is $ppid.
sub children {
    my ($ppid) = @_;
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        my ($pid, $rest) = $line =~ /^(\d+) \(.*\) (.*)$/s or next;
        push @pids, $pid if (split ' ', $rest)[1] == $ppid;
    }
    return @pids;
}
