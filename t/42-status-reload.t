#!/usr/bin/perl
# Changes made on the status page live in the shared zone: they survive a
# graceful reload (nginx -s reload), unless the file changed that very
# attribute (then the file wins), and a restart starts from the file again.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest qw(lb_properties session_id served_by);
use StickyStatus qw(status_json worker admin);

my $t = StickyTest->new;
my $front = $t->port('front');
my @nodes = qw(tomcat1 tomcat2 tomcat3);
my %port = map { $_ => $t->start_backend($_) } @nodes;

sub file {
    my (%attrs) = @_;
    $t->write_file('workers.properties', lb_properties('cluster', {},
        map { [$_ => { port => $port{$_}, %{$attrs{$_} || {}} }] } @nodes));
}
file();
$t->write_conf(<<"EOF");
    upstream tomcats { sticky_workers workers.properties; }
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://tomcats; }
        location /admin { sticky_status read_write; }
    }
EOF
$t->run($front);

sub w { worker(status_json($t, $front, '/admin'), 'tomcats', $_[0]) }
sub act { admin($t, $front, '/admin', upstream => 'tomcats', @_)->{status} }
sub new_sessions {
    my %who;
    $who{served_by($t->get($front, "/n$_"))}++ for 1 .. $_[0];
    return \%who;
}

is(act(worker => 'tomcat2', activation => 'D'), 200, 'drain tomcat2');
is(act(worker => 'tomcat1', lbfactor => 3), 200, 'lbfactor 3 for tomcat1');
my $who = new_sessions(12);
ok(!$who->{tomcat2}, 'tomcat2 gets no new session') or diag explain $who;
my $requests = w('tomcat1')->{requests};
cmp_ok($requests, '>', 0, 'tomcat1 served requests');

# --- a reload with the same file keeps the changes -------------------------------------------

is($t->reload, 1, 'reload');
is(w('tomcat2')->{activation}, 'D', 'after reload: tomcat2 is still drained');
is(w('tomcat1')->{lbfactor}, 3, 'after reload: the lbfactor is still 3');
is(w('tomcat1')->{configured_lbfactor}, 1, '... the file says 1');
is(w('tomcat1')->{requests}, $requests, 'after reload: the counters are kept');
$who = new_sessions(12);
ok(!$who->{tomcat2}, 'after reload: tomcat2 still gets no new session') or diag explain $who;
is(served_by($t->get($front, '/', Cookie => 'JSESSIONID=' . session_id('r', 'tomcat2'))),
   'tomcat2', "after reload: tomcat2's sessions still reach it");

# --- a reload whose file changes an attribute: the file wins for that one ------------------------

file(tomcat1 => { lbfactor => 2 });
is($t->reload, 1, 'reload with lbfactor=2 for tomcat1 in the file');
is(w('tomcat1')->{lbfactor}, 2, 'the file changed the lbfactor: the file wins');
is(w('tomcat2')->{activation}, 'D', 'the runtime drain of tomcat2 is kept');

file(tomcat1 => { lbfactor => 2 }, tomcat2 => { activation => 'S' });
is($t->reload, 1, 'reload with tomcat2 Stopped in the file');
is(w('tomcat2')->{activation}, 'S', 'the file changed the activation: the file wins');
is(act(worker => 'tomcat2', activation => 'A'), 200, 'activate tomcat2 at runtime');
is($t->reload, 1, 'reload with the same file');
is(w('tomcat2')->{activation}, 'A', 'the runtime activation survives this reload');

# --- a restart starts from the file --------------------------------------------------------------------

ok($t->stop, 'stop');
$t->run($front);
is(w('tomcat2')->{activation}, 'S', 'after a restart: the activation of the file');
is(w('tomcat1')->{requests}, 0, 'after a restart: the counters start at 0');

$t->finish;
done_testing;
