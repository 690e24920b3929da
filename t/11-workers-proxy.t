#!/usr/bin/perl
# Requests reach the servers that workers.properties names, in a real nginx
# with 2 worker processes; a reload with a bad file keeps the old
# configuration serving, a reload with a good one takes the new servers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest;

my $t = StickyTest->new;
my $front = $t->port('front');
my %port = map { $_ => $t->start_backend($_) } qw(tomcat1 tomcat2 tomcat3);

sub workers_file {
    my (%activation) = @_;
    my $text = "worker.list=cluster\nworker.cluster.type=lb\n"
        . "worker.cluster.balance_workers=tomcat1,tomcat2,tomcat3\n";
    for my $w (sort keys %port) {
        $text .= "worker.$w.host=127.0.0.1\nworker.$w.port=$port{$w}\n";
        $text .= "worker.$w.activation=$activation{$w}\n" if $activation{$w};
    }
    return $text;
}

$t->write_file('workers.properties', workers_file(tomcat3 => 'S'));
$t->write_conf(<<"EOF");
    upstream tomcats {
        sticky_workers workers.properties;
    }
    server {
        listen 127.0.0.1:$front;
        location / {
            proxy_pass http://tomcats;
            add_header X-Upstream \$upstream_addr always;
        }
    }
EOF
$t->run($front);

# Counts which backend answered each of $n requests.
sub spread {
    my ($n) = @_;
    my %seen;
    for (1 .. $n) {
        my $r = $t->get($front, "/req$_");
        my $who = $r->{status} == 200 ? $r->{body} : "status $r->{status}";
        chomp $who;
        $seen{$who}++;
    }
    return \%seen;
}

my $seen = spread(40);
ok($seen->{tomcat1} && $seen->{tomcat2}, 'requests reach the members')
    or diag explain $seen;
ok(!$seen->{tomcat3}, 'a stopped member (activation=S) gets nothing')
    or diag explain $seen;
is(scalar(grep { !/^tomcat/ } keys %$seen), 0, 'every request is served')
    or diag explain $seen;

# A bad file on reload: nginx refuses it and keeps serving with the old one.
$t->write_file('workers.properties',
               workers_file() . "worker.tomcat1.lbfactr=3\n");
is($t->reload, 0, 'a reload with a bad file is refused');
like($t->read_file('logs/error.log'), qr/workers\.properties:\d+.*lbfactr/,
     'the refusal names the file, line and attribute');
$seen = spread(20);
ok($seen->{tomcat1} && $seen->{tomcat2} && !$seen->{tomcat3},
   'the old configuration keeps serving') or diag explain $seen;

# A good file on reload: the new servers take over.
$t->write_file('workers.properties',
               workers_file(tomcat1 => 'S', tomcat2 => 'S'));
is($t->reload, 1, 'a reload with a good file is taken');
$seen = spread(10);
is_deeply($seen, { tomcat3 => 10 }, 'the new configuration serves');

$t->finish;
done_testing;
