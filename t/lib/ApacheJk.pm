package ApacheJk;

# Apache httpd + mod_jk 1.2.48 (Debian's apache2 and libapache2-mod-jk) as
# a private instance for tests, in core Perl: its own ServerRoot, pid file,
# runtime directory, logs and port, started in the foreground as our child
# (-D FOREGROUND) and stopped by that pid. The system's apache2 service is
# never touched. It runs a whole Apache configuration as given, Jk
# directives included (t/71-import-parity.t); ModJk.pm uses it to start one
# around a workers.properties.
#
#   my $a = ApacheJk->new($root, $port);     # $root: the ServerRoot
#   $a->write_conf($includes);               # httpd.conf: modules + Include lines
#   $a->start; ...; $a->stop;

use strict;
use warnings;

use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

our $APACHE  = $ENV{APACHE_BIN} || '/usr/sbin/apache2';
our $MODULES = '/usr/lib/apache2/modules';

sub new {
    my ($class, $root, $port) = @_;
    mkdir "$root/$_" for '', qw(conf logs);
    return bless { root => $root, port => $port }, $class;
}

sub root { $_[0]{root} }
sub port { $_[0]{port} }
sub error_log { "$_[0]{root}/logs/error.log" }

# The modules the tests' configurations use (Debian's default set from
# mods-enabled, and mod_jk), the server's own files under its root, and $body.
sub write_conf {
    my ($self, $body) = @_;
    my $r = $self->{root};
    my $user = $> == 0 ? "User nobody\nGroup nogroup\n" : '';
    my $mods = join '', map { "LoadModule ${_}_module $MODULES/mod_$_.so\n" }
        qw(mpm_event authz_core authz_host access_compat mime dir autoindex alias jk);
    open my $fh, '>', "$r/httpd.conf" or die "$r/httpd.conf: $!";
    print $fh <<"EOF";
# Written by t/lib/ApacheJk.pm
ServerRoot $r
PidFile $r/logs/httpd.pid
DefaultRuntimeDir $r/logs
ErrorLog $r/logs/error.log
LogLevel warn
ServerName localhost
$mods${user}TypesConfig /etc/mime.types
Mutex file:$r/logs
<Directory />
    Require all denied
</Directory>
$body
EOF
    close $fh;
}

# `apache2 -t`: (ok, output).
sub test_config {
    my ($self) = @_;
    my $out = `$APACHE -t -f $self->{root}/httpd.conf 2>&1`;
    return ($? == 0, $out);
}

sub start {
    my ($self) = @_;
    my $r = $self->{root};
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$r/logs/stdout.log";
        open STDERR, '>>', "$r/logs/stdout.log";
        exec $APACHE, '-D', 'FOREGROUND', '-f', "$r/httpd.conf";
        die "exec $APACHE: $!";
    }
    $self->{pid} = $pid;
    my $deadline = time + 20;
    until (IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                 Proto => 'tcp', Timeout => 1)) {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pid};
            die "apache2 exited at start:\n" . _slurp("$r/logs/stdout.log")
                . _slurp("$r/logs/error.log");
        }
        die "apache2 did not start in 20 s\n" . _slurp("$r/logs/error.log") if time > $deadline;
        sleep 0.05;
    }
    return $self;
}

# TERM to our child (httpd's graceless stop), then wait for it.
sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    kill 'TERM', $pid;
    my $deadline = time + 20;
    while (waitpid($pid, WNOHANG) != $pid) {
        if (time > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); last }
        sleep 0.05;
    }
}

sub DESTROY { $_[0]->stop }

# A copy of Debian's /etc/apache2 in $dir with mod_jk enabled (as a2enmod
# does) and the main server's mounts copied into the virtual hosts (Debian's
# jk.conf mounts its status workers in the main server); returns the path
# of the copy's apache2.conf.
sub debian_copy {
    my ($dir) = @_;
    system('cp', '-a', '/etc/apache2', "$dir/apache2") == 0 or die "cp /etc/apache2: $?";
    for my $f (qw(jk.load jk.conf)) {
        unlink "$dir/apache2/mods-enabled/$f";
        symlink "../mods-available/$f", "$dir/apache2/mods-enabled/$f" or die "symlink: $!";
    }
    open my $fh, '>', "$dir/apache2/conf-enabled/jk-copy.conf" or die "jk-copy.conf: $!";
    print $fh "JkMountCopy All\n";
    close $fh;
    return "$dir/apache2/apache2.conf";
}

sub _slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    return <$fh>;
}

1;
