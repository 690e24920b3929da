#!/usr/bin/perl
# workers.properties files in the shapes found on real servers, read by
# Debian's mod_jk 1.2.48 (in a private Apache) and by the module: both must
# build the same load balancer. Each side is asked through its status page
# in mod_jk's properties format, and the lb's members (in order) and every
# key both pages show are compared. The shapes: CRLF line ends, a UTF-8
# byte order mark (before a comment, before a property, before the lb's
# type: then neither has the lb), a shell prompt
# pasted into the file, lines commented with `;` instead of `#`, comments at
# the end of a line, blanks and tabs around `=`.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use StickyTest;
use ModJk;

if (my $missing = ModJk::available()) {
    plan tests => 1;
    fail("mod_jk can run: $missing (make deps installs it)");
    exit;
}

# The lb every shape starts from: each member attribute mod_jk's status
# shows, set to a value other than its default on some member.
my $BASE = <<'EOF';
# workers.properties of a 3-node cluster
worker.list=cluster
worker.cluster.type=lb
worker.cluster.balance_workers=node1,node2,node3
worker.cluster.method=B
worker.cluster.lock=P
worker.cluster.sticky_session_force=true
worker.cluster.retries=3
worker.cluster.recover_time=30
worker.node1.type=ajp13
worker.node1.host=127.0.0.1
worker.node1.port=8109
worker.node1.lbfactor=2
worker.node1.route=r1
worker.node1.ping_timeout=5000
worker.node2.type=ajp13
worker.node2.host=127.0.0.1
worker.node2.port=8209
worker.node2.domain=dc1
worker.node2.redirect=node3
worker.node2.activation=disabled
worker.node2.max_packet_size=16384
worker.node3.type=ajp13
worker.node3.host=127.0.0.1
worker.node3.port=8309
worker.node3.distance=1
worker.node3.activation=S
worker.node3.reply_timeout=60000
EOF

my %shapes = (
    'LF' => $BASE,
    'CRLF line ends' => crlf($BASE),
    'BOM before a comment' => "\xEF\xBB\xBF" . $BASE,
    'BOM before a property, CRLF' => crlf("\xEF\xBB\xBF" . ($BASE =~ s/^#[^\n]*\n//r)),
    'BOM before the lb type' => "\xEF\xBB\xBF" . join("\n", (sort { ($b =~ /\.type=lb/) <=> ($a =~ /\.type=lb/) }
        grep { !/^#/ } split /\n/, $BASE), ''),
    'a shell prompt pasted in' =>
        "root\@web1:/etc/libapache2-mod-jk# cat workers.properties\n$BASE"
        . "root\@web1:/etc/libapache2-mod-jk# \n",
    'lines commented with ;' => $BASE
        . ";worker.node1.lbfactor=9\n; worker.node2.route=other\n;worker.cluster.method=R\n",
    'comments after values, blanks and tabs' => join('', map {
        s/^(worker\.\S+?)=(.*)$/$1 \t= $2\t# was: $2/r . "\n" } split /\n/, $BASE),
);

my $t = StickyTest->new;
my $front = $t->port('front');
my $shape_no = 0;
for my $shape (sort keys %shapes) {
    my $file = "shape" . ++$shape_no . ".properties";
    $t->write_file($file, $shapes{$shape});

    # mod_jk reads the file as it is, then a status worker of our own
    # (its lines after the file's, listing the lb so its status shows it).
    $t->write_file("modjk-$file", $shapes{$shape}
        . "\nworker.list=jkstatus,cluster\nworker.jkstatus.type=status\n");
    my $apache = "apache$shape_no";
    my $port = ModJk::start_apache($t, $apache, workers => $t->dir . "/modjk-$file",
                                   conf => "JkMount /jkstatus jkstatus\n");
    my $their_page = $t->get($port, '/jkstatus?cmd=list&mime=prop')->{body};
    my $theirs = ModJk::parse_status($their_page);
    ModJk::stop_apache($t, $apache);

    $t->write_conf(<<"EOF");
    upstream cluster { sticky_workers $file lb=cluster; }
    server {
        listen 127.0.0.1:$front;
        location / { ajp_pass cluster; }
        location /status { sticky_status; }
    }
EOF
    if ($shape_no == 1) { $t->run($front) } else { $t->reload }
    my $our_page = $t->get($front, '/status?format=properties')->{body};

    if ($shape eq 'BOM before the lb type') {
        # The mark makes line 1's key "\xEF\xBB\xBFworker.cluster.type", a
        # variable: "cluster" is then an ajp13 worker with the defaults.
        ok(!$theirs->{cluster}, "$shape: mod_jk has no lb cluster");
        like($their_page, qr/^worker\.cluster\.type=ajp13\r?\n(?s:.*)^worker\.cluster\.host=localhost\r?\nworker\.cluster\.port=8009\r?$/m,
             "$shape: mod_jk's cluster is an ajp13 worker on localhost:8009");
        like($our_page, qr/^worker\.cluster\.host=localhost\r?\nworker\.cluster\.port=8009\r?$/m,
             "$shape: the module's upstream is that one worker");
        like($t->read_file('logs/error.log'),
             qr/\Q$file\E:1: "worker\.cluster\.type" follows a UTF-8 byte order mark/,
             "$shape: nginx -t says why, with file:line");
        next;
    }
    compare($shape, $theirs->{cluster}, ModJk::parse_status($our_page)->{cluster});
}
$t->finish;
done_testing;

sub crlf { $_[0] =~ s/\n/\r\n/gr }

# The members in order, then each key both status pages show, lb and members.
sub compare {
    my ($shape, $theirs, $ours) = @_;
    ok($theirs && $ours, "$shape: both show the lb")
        or return diag(explain { mod_jk => $theirs, module => $ours });
    is_deeply($ours->{members}, $theirs->{members}, "$shape: the same members in order");
    my @diff;
    for my $key (sort keys %{$theirs->{attrs}}) {
        next unless exists $ours->{attrs}{$key} && !volatile($key);
        push @diff, "cluster.$key: mod_jk $theirs->{attrs}{$key}, module $ours->{attrs}{$key}"
            if $theirs->{attrs}{$key} ne $ours->{attrs}{$key};
    }
    my $compared = 0;
    for my $m (@{$theirs->{members}}) {
        my ($a, $b) = ($theirs->{member}{$m}, $ours->{member}{$m} || {});
        for my $key (sort keys %$a) {
            next unless exists $b->{$key} && !volatile($key);
            $compared++;
            push @diff, "$m.$key: mod_jk $a->{$key}, module $b->{$key}" if $a->{$key} ne $b->{$key};
        }
    }
    cmp_ok($compared, '>=', 24, "$shape: at least 8 keys compared per member");
    is_deeply(\@diff, [], "$shape: every key both show is equal") or diag explain \@diff;
}

# Counters and clocks, not configuration.
sub volatile {
    my ($key) = @_;
    return $key =~ /^(?:state|lbvalue|elected|sessions|errors|client_errors|reply_timeouts
                      |transferred|read|busy|max_busy|connected|max_connected|good|degraded
                      |bad|map_count|last_reset_at|last_reset_ago|time_to_\w+|lbmult
                      |address|source|used|map_count)$/x;
}
