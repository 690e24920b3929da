package TomcatTest;

# What the tests against a real Tomcat cluster (t/3*.t) share, in core Perl:
#
#   - a cluster started with t/tomcat/cluster.sh, stopped when the test ends
#     however it ends (an END block and INT/TERM handlers: `die`, a failed
#     BAIL_OUT or ^C included);
#   - cleanup commands of the same kind for anything else a test starts
#     (on_exit);
#   - a browser-like client with a cookie jar (the StickyTest harness speaks
#     HTTP/1.0 without cookies), reading the cart app's answers.
#
#   my $c = TomcatTest::Cluster->start($t->dir . '/cluster', nodes => 3, manager => 'backup');
#   $c->kill(2); $c->restart(2); $c->pid(1); $c->port(3);
#   my $text = $c->workers;           # cluster.sh workers
#   my $shop = TomcatTest::Client->new($t, $front, 'cart 1');
#   my $r = $shop->add('Dune');       # GET /add?book=Dune
#   $r->{status}, $r->{node}, $r->{session}, $r->{books}, $r->{worker}, $r->{changed}

use strict;
use warnings;

use Exporter 'import';
use FindBin;
use JSON::PP ();
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(on_exit uri_escape uniq jvm_alive proc_start_time
                    front_conf);

my $REPO = _repo();
our $CLUSTER_SH = "$REPO/t/tomcat/cluster.sh";
our $DEMO_SH    = "$REPO/demo/demo.sh";

sub _repo {
    my $here = __FILE__;
    $here =~ s{/[^/]+$}{};
    $here = '.' if $here eq __FILE__;
    my $repo = "$here/../..";
    return Cwd::abs_path($repo) // $repo;
}
use Cwd ();

# --- cleanup at exit -----------------------------------------------------------

my @CLEANUPS;      # [pid that registered, code], run last registered first
my $MAIN_PID = $$;

# Runs $code when this process ends (normally, by die, or by INT/TERM), not
# in forked children. Returns a handle for cancel().
sub on_exit {
    my ($code) = @_;
    my $entry = [$$, $code];
    push @CLEANUPS, $entry;
    return $entry;
}

sub cancel {
    my ($entry) = @_;
    @CLEANUPS = grep { $_ != $entry } @CLEANUPS;
}

sub _run_cleanups {
    while (my $entry = pop @CLEANUPS) {
        my ($pid, $code) = @$entry;
        next unless $pid == $$;
        eval { $code->(); 1 } or warn "cleanup failed: $@";
    }
}

# A signal ends the test through exit, so that END blocks (ours, and the
# harness's temp dir removal) run.
$SIG{$_} = sub { warn "caught SIG$_[0], cleaning up\n"; exit 130 } for qw(INT TERM HUP);

END {
    local $?;    # keep the test's exit status
    _run_cleanups();
}

# --- small helpers -----------------------------------------------------------------

sub uri_escape {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ge;
    return $s;
}

# The http{} body of the nginx in front of the cluster: the upstream from
# workers.properties, failover on connection errors, and headers that say
# which worker answered; $extra goes into the server block.
sub front_conf {
    my ($front, $extra) = @_;
    $extra //= '';
    return <<"EOF";
    upstream tomcats {
        sticky_workers workers.properties;
    }
    server {
        listen 127.0.0.1:$front;
        add_header X-Worker \$sticky_worker always;
        add_header X-Route-Changed \$sticky_route_changed always;
        proxy_next_upstream error timeout;
        proxy_connect_timeout 1s;
        location / {
            proxy_pass http://tomcats;
        }
$extra
    }
EOF
}

# The list without repeated elements, in the order of first appearance.
sub uniq {
    my %seen;
    return grep { !$seen{$_}++ } @_;
}

# True when pid $pid is alive and its command line contains $marker (a path
# only that process has): a recycled pid does not count.
sub jvm_alive {
    my ($pid, $marker) = @_;
    return 0 unless $pid && open my $fh, '<', "/proc/$pid/cmdline";
    local $/;
    my $cmd = <$fh> // '';
    return index($cmd, $marker) >= 0;
}

# The start time of process $pid (field 22 of /proc/PID/stat, clock ticks
# since boot), undef when there is no such process or it is a zombie. A pid
# with the same start time is the same process.
sub proc_start_time {
    my ($pid) = @_;
    return undef unless $pid && open my $fh, '<', "/proc/$pid/stat";
    my $line = <$fh> // return undef;
    my ($rest) = $line =~ /^\d+ \(.*\) (.*)$/s or return undef;
    my @f = split ' ', $rest;    # f[0] is field 3 (state)
    return undef if $f[0] eq 'Z' || $f[0] eq 'X';
    return $f[19];
}

# Runs a command with stdout and stderr appended to $log; dies with the
# log's tail when it fails. Returns the stdout+stderr of this run.
sub run_logged {
    my ($log, @cmd) = @_;
    my $before = -s $log // 0;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or die "open $log: $!";
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $status = $?;
    my $out = '';
    if (open my $fh, '<', $log) {
        local $/;
        $out = substr(<$fh> // '', $before);
    }
    die "@cmd failed (exit " . ($status >> 8) . "):\n$out" if $status;
    return $out;
}
use POSIX ();

# --- the cluster -------------------------------------------------------------------

package TomcatTest::Cluster;

use Time::HiRes qw(sleep time);

# Starts `cluster.sh start DIR --nodes N --manager M` and arranges for
# `cluster.sh stop DIR` when the test ends. Dies (with the script's output)
# when the cluster does not come up.
sub start {
    my ($class, $dir, %opt) = @_;
    my $self = bless { dir => $dir, log => "$dir.log" }, $class;
    my @args = ('--nodes', $opt{nodes} // 3, '--manager', $opt{manager} // 'backup');
    # Registered before the start: a start that dies halfway stops its nodes
    # itself, and one interrupted by a signal is stopped here.
    $self->{cleanup} = TomcatTest::on_exit(sub { $self->stop });
    my $t0 = time;
    TomcatTest::run_logged($self->{log}, $TomcatTest::CLUSTER_SH, 'start', $dir, @args);
    $self->{start_seconds} = time - $t0;
    $self->load_env;
    return $self;
}

# A cluster someone else started (demo/demo.sh): its cluster.env only; it is
# not stopped at exit.
sub attach {
    my ($class, $dir) = @_;
    my $self = bless { dir => $dir, log => "$dir.log", stopped => 1 }, $class;
    $self->load_env;
    return $self;
}

sub dir { $_[0]{dir} }
sub start_seconds { $_[0]{start_seconds} }
sub nodes { $_[0]{env}{NODES} }
sub port { $_[0]{env}{"NODE$_[1]_HTTP"} }
sub pid { $_[0]{env}{"NODE$_[1]_PID"} }
sub base { $_[0]{env}{"NODE$_[1]_BASE"} }
sub route { $_[0]{env}{"NODE$_[1]_ROUTE"} }

# Node number of a route ("tomcat2" -> 2).
sub node_of {
    my ($self, $route) = @_;
    for my $n (1 .. $self->nodes) {
        return $n if $self->route($n) eq $route;
    }
    return undef;
}

# DIR/cluster.env, read by bash itself (the values are %q-quoted).
sub load_env {
    my ($self) = @_;
    my $file = "$self->{dir}/cluster.env";
    open my $fh, '-|', 'bash', '-c', 'set -a; . "$1"; set +a; env -0', '_', $file
        or die "bash: $!";
    local $/ = "\0";
    my %env;
    while (my $kv = <$fh>) {
        chomp $kv;
        my ($k, $v) = split /=/, $kv, 2;
        $env{$k} = $v if $k =~ /^(?:NODES|MANAGER|START_SECONDS|NODE\d+_\w+)$/;
    }
    close $fh or die "reading $file failed";
    die "no NODES in $file" unless $env{NODES};
    $self->{env} = \%env;
    return \%env;
}

sub run {
    my ($self, @args) = @_;
    my $out = TomcatTest::run_logged($self->{log}, $TomcatTest::CLUSTER_SH, @args);
    $self->load_env;
    return $out;
}

# kill -9 of node $n; returns when the JVM is gone.
sub kill { my ($self, $n) = @_; $self->run('kill', $self->{dir}, $n) }

# Starts node $n again; returns when it answers /health and has rejoined.
sub restart { my ($self, $n) = @_; $self->run('restart-node', $self->{dir}, $n) }

sub workers {
    my ($self) = @_;
    my $text = `'$TomcatTest::CLUSTER_SH' workers '$self->{dir}' 2>>'$self->{log}'`;
    die "cluster.sh workers failed" if $?;
    return $text;
}

# Stops every node; returns the pids that were running and are still alive
# afterwards (an empty list when all is well). Safe to call twice.
sub stop {
    my ($self) = @_;
    return () if $self->{stopped};
    my @was = map { [$self->pid($_), $self->base($_)] } grep { $self->pid($_) }
              1 .. ($self->nodes // 0);
    eval { $self->run('stop', $self->{dir}); 1 } or warn $@;
    $self->{stopped} = 1;
    TomcatTest::cancel($self->{cleanup}) if $self->{cleanup};
    return map { $_->[0] } grep { TomcatTest::jvm_alive($_->[0], "-Dcatalina.base=$_->[1]") } @was;
}

sub log_text {
    my ($self) = @_;
    open my $fh, '<', $self->{log} or return '';
    local $/;
    return <$fh>;
}

# --- a browser ---------------------------------------------------------------------

package TomcatTest::Client;

use Time::HiRes qw(time);

my $JSON = JSON::PP->new;    # bytes in, bytes out: titles compare as bytes

# A client of nginx on $port with its own cookie jar.
sub new {
    my ($class, $t, $port, $name) = @_;
    return bless { t => $t, port => $port, name => $name, jar => {} }, $class;
}

sub name { $_[0]{name} }
sub session { $_[0]{jar}{JSESSIONID} }

# One request with the jar's cookies; keeps the cookies of Set-Cookie.
# Adds to the harness's answer: t0, t1 (times sent and answered), worker
# (X-Worker), changed (X-Route-Changed is 1), and for JSON answers node,
# session and books (array ref).
sub request {
    my ($self, $method, $path, $body, %h) = @_;
    my $jar = $self->{jar};
    $h{Cookie} = join '; ', map { "$_=$jar->{$_}" } sort keys %$jar if %$jar;
    my $t0 = time;
    my $r = $self->{t}->request($self->{port}, $method, $path, $body // '', %h);
    $r->{t0} = $t0;
    $r->{t1} = time;
    for my $sc (@{$r->{headers}{'set-cookie'} || []}) {
        $jar->{$1} = $2 if $sc =~ /^\s*([^=;\s]+)\s*=\s*([^;]*)/;
    }
    $r->{worker} = StickyTest::header($r, 'X-Worker');
    $r->{changed} = StickyTest::header($r, 'X-Route-Changed') eq '1' ? 1 : 0;
    if (StickyTest::header($r, 'Content-Type') =~ m{^application/json}) {
        my $j = eval { $JSON->decode($r->{body}) };
        if (ref $j eq 'HASH') {
            $r->{$_} = $j->{$_} for qw(node session books);
        }
    } elsif ($r->{body} =~ m{<b id="node">([^<]*)</b>}) {
        $r->{node} = $1;
        ($r->{session}) = $r->{body} =~ m{<code id="session">([^<]*)</code>};
    }
    $r->{node} //= '';
    $r->{session} //= '';
    return $r;
}

sub get { my ($self, $path, %h) = @_; return $self->request('GET', $path, '', %h) }

# GET /add?book=TITLE (the app answers like /cart.json).
sub add {
    my ($self, $book) = @_;
    my $r = $self->get('/add?book=' . TomcatTest::uri_escape($book));
    $r->{book} = $book;
    return $r;
}

# POST /add, as the page's form does (303 to /).
sub post_add {
    my ($self, $book) = @_;
    my $r = $self->request('POST', '/add', 'book=' . TomcatTest::uri_escape($book),
                           'Content-Type' => 'application/x-www-form-urlencoded');
    $r->{book} = $book;
    return $r;
}

sub cart { $_[0]->get('/cart.json') }

# One line describing an answer, for diagnostics.
sub describe {
    my ($r) = @_;
    return sprintf 'status %s node %s worker %s changed %s session %s books %s',
        $r->{status}, $r->{node} || '-', $r->{worker} || '-', $r->{changed},
        $r->{session} || '-', ref $r->{books} ? scalar @{$r->{books}} : '-';
}

1;
