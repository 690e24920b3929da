package ModJk;

# Apache httpd + Debian's mod_jk, as the reference a parity test holds the
# module against: one private Apache per call (its own ServerRoot in the
# test's temp directory, a free port, stopped by pid), and a reader of the
# properties format that mod_jk's status worker and `sticky_status
# ?format=properties` both write.
#
#   my $port = ModJk::start_apache($t, 'apache', workers => "$dir/w.properties",
#                                  conf => "JkMount /jkstatus jkstatus\n");
#   my $lbs = ModJk::parse_status($t->get($port, '/jkstatus?cmd=list&mime=prop')->{body});

use strict;
use warnings;

use ApacheJk;

my $MOD_JK = "$ApacheJk::MODULES/mod_jk.so";

sub available {
    return !-x $ApacheJk::APACHE ? "no $ApacheJk::APACHE (Debian's apache2)"
         : !-f $MOD_JK ? "no $MOD_JK (Debian's libapache2-mod-jk)"
         : '';
}

# Starts Apache (ApacheJk: a private instance, stopped by pid) with mod_jk
# reading `workers`, plus the lines of `conf`; returns its port. `mpm`: the
# lines that size mpm_event (default `StartServers 1` and `ServerLimit 1`:
# one process). The instance is the test's: it stops with $t at the latest.
sub start_apache {
    my ($t, $name, %opts) = @_;
    my $dir = $t->dir . "/$name";
    my $port = $t->port($name);
    my $mpm = $opts{mpm} // "StartServers 1\nServerLimit 1";
    # The children run as nobody: they read what the test directory holds.
    chmod 0755, $t->dir;
    my $apache = ApacheJk->new($dir, $port);
    $apache->write_conf(<<"EOF");
Listen 127.0.0.1:$port
$mpm
JkWorkersFile $opts{workers}
JkShmFile $dir/logs/jk.shm
JkLogFile $dir/logs/mod_jk.log
JkLogLevel info
$opts{conf}
EOF
    $apache->start;
    $t->{apaches}{$name} = $apache;
    return $port;
}

sub stop_apache {
    my ($t, $name) = @_;
    my $apache = delete $t->{apaches}{$name} or return;
    $apache->stop;
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
