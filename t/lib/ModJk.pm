package ModJk;

# Apache httpd + Debian's mod_jk, as the reference a parity test holds the
# module against: one private Apache per call (its own ServerRoot in the
# test's temp directory, a free port, stopped by pid), and a reader of the
# properties format that mod_jk's status worker and `sticky_status
# ?format=properties` both write.
#
#   my $port = ModJk::start_apache($t, 'apache', workers => "$dir/w.properties",
#                                  conf => "JkMount /jkstatus jkstatus\n");
#   my $lbs = ModJk::parse_status(ModJk::status($t, $port, '/jkstatus'));

use strict;
use warnings;

use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $APACHE = '/usr/sbin/apache2';
my $MOD_JK = '/usr/lib/apache2/modules/mod_jk.so';

sub available {
    return !-x $APACHE ? "no $APACHE (Debian's apache2)"
         : !-f $MOD_JK ? "no $MOD_JK (Debian's libapache2-mod-jk)"
         : '';
}

# Starts Apache with mod_jk reading `workers`, plus the lines of `conf`;
# returns its port; `mpm`: the lines that size mpm_event (default
# `StartServers 1` and `ServerLimit 1`: one process). The process is the
# test's: StickyTest kills it at the end (it is kept as one of its backends).
sub start_apache {
    my ($t, $name, %opts) = @_;
    my $dir = $t->dir . "/$name";
    mkdir $dir;
    my $port = $t->port($name);
    # As root, Apache's children must not stay root; www-data reads the files.
    my $user = $> == 0 ? "User www-data\nGroup www-data\n" : '';
    my $mpm = $opts{mpm} // "StartServers 1\nServerLimit 1";
    $t->write_file("$name/httpd.conf", <<"EOF");
ServerRoot $dir
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile $dir/httpd.pid
DefaultRuntimeDir $dir
Mutex file:$dir default
ErrorLog $dir/error.log
LogLevel warn
$user
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule jk_module $MOD_JK
$mpm
JkWorkersFile $opts{workers}
JkShmFile $dir/jk.shm
JkLogFile $dir/mod_jk.log
JkLogLevel info
$opts{conf}
EOF
    chmod 0755, $t->dir, $dir;
    chown scalar(getpwnam('www-data')), -1, $dir if $> == 0 && getpwnam('www-data');
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$dir/stderr.log";
        open STDERR, '>>', "$dir/stderr.log";
        exec $APACHE, '-f', "$dir/httpd.conf", '-DFOREGROUND';
        die "exec: $!";
    }
    my $deadline = time + 15;
    until (_accepts($port)) {
        if (time > $deadline || waitpid($pid, WNOHANG) == $pid) {
            kill 'KILL', $pid;
            die "apache did not start\n" . $t->read_file("$name/error.log")
                . $t->read_file("$name/stderr.log") . $t->read_file("$name/mod_jk.log");
        }
        sleep 0.02;
    }
    $t->{backends}{"apache:$name"} = $pid;
    return $port;
}

sub stop_apache {
    my ($t, $name) = @_;
    my $pid = delete $t->{backends}{"apache:$name"} or return;
    kill 'TERM', $pid;
    waitpid($pid, 0);
}

sub _accepts {
    my ($port) = @_;
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                 Proto => 'tcp', Timeout => 1) ? 1 : 0;
}

# The lb workers of a status page in the properties format:
#   { LB => { attrs => { KEY => VALUE }, members => [NAME, ...],
#             member => { NAME => { KEY => VALUE } } } }
# Both writers give a member's lines after its `worker.LB.balance_workers=NAME`
# line, so a member's keys are the ones between that line and the next.
sub parse_status {
    my ($text) = @_;
    my (%lbs, %type, $lb, $member);
    for my $line (split /\r?\n/, $text) {
        my ($worker, $key, $value) = $line =~ /^worker\.([^.=]+)\.([^=]+)=(.*)$/ or next;
        if ($key eq 'type') {
            $type{$worker} = $value;
            if ($value eq 'lb') {
                ($lb, $member) = ($worker, undef);
                $lbs{$lb} = { attrs => { type => 'lb' }, members => [], member => {} };
            }
            elsif (defined $lb && defined $member && $worker eq $member) {
                $lbs{$lb}{member}{$member}{type} = $value;
            }
            next;
        }
        next unless defined $lb;
        if ($worker eq $lb && $key eq 'balance_workers') {
            $member = $value;
            push @{$lbs{$lb}{members}}, $member;
            $lbs{$lb}{member}{$member} //= {};
        }
        elsif ($worker eq $lb) {
            $lbs{$lb}{attrs}{$key} = $value;
        }
        elsif (defined $member && $worker eq $member) {
            $lbs{$lb}{member}{$member}{$key} = $value;
        }
    }
    return \%lbs;
}

1;
