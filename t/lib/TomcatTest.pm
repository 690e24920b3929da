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
#
# For AJP (ajp_pass, t/5*.t): the cluster with AJP connectors as a mod_jk
# site has them, its workers.properties as mod_jk reads it, and the front:
#
#   my $c = TomcatTest::Cluster->start($dir, nodes => 3, ajp_secret => 's3cret',
#                                      packet_size => 65536);
#   $c->ajp_port(1); my $text = $c->workers(ajp => 1);
#   $t->write_conf(front_conf($front, $extra, ajp => 1));
#
# and the cart story that t/30 (HTTP) and t/50 (AJP) tell, step by step
# with its assertions (browser_fills_cart, new_carts_by_weight,
# kill_busiest_while_shopping, carts_after_kill, restart_victim,
# new_carts_reach_again), on new carts (new_carts) and 30 shoppers in
# forked processes while a node is killed, and what they saw
# (TomcatTest::Shoppers); a raw HTTP/1.1 client that tells a complete answer
# from a truncated one and times the first body bytes (http_request); curl
# for TLS (curl_request); the body of the cart app's /big (big_digest).

use strict;
use warnings;

use Exporter 'import';
use FindBin;
use JSON::PP ();
use Test::More;
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(on_exit uri_escape uniq jvm_alive proc_start_time
                    front_conf http_request curl_request big_digest
                    wait_until decode_json hdr
                    random_seed cluster_nodes lb_worker browser_fills_cart
                    new_carts_by_weight kill_busiest_while_shopping carts_after_kill
                    restart_victim new_carts_reach_again);

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
#
# ajp => 1: the same over AJP/1.3 (`ajp_pass`, workers.properties with the
# AJP ports: $cluster->workers(ajp => 1)), its temp files in the prefix.
# upstream => TEXT: more lines in the upstream block (`keepalive 8;`);
# http => TEXT: more at the http{} level (other upstreams, servers).
sub front_conf {
    my ($front, $extra, %opt) = @_;
    $extra //= '';
    my $up = $opt{upstream} // '';
    my $http = $opt{http} // '';
    my ($pass, $next, $connect, $temp) = $opt{ajp}
        ? ('ajp_pass tomcats', 'ajp_next_upstream', 'ajp_connect_timeout', "    ajp_temp_path temp/ajp;\n")
        : ('proxy_pass http://tomcats', 'proxy_next_upstream', 'proxy_connect_timeout', '');
    return <<"EOF";
$temp    upstream tomcats {
        sticky_workers workers.properties;
$up    }
$http
    server {
        listen 127.0.0.1:$front;
        add_header X-Worker \$sticky_worker always;
        add_header X-Route-Changed \$sticky_route_changed always;
        $next error timeout;
        $connect 1s;
        location / {
            $pass;
        }
$extra
    }
EOF
}

# nginx's worker processes run as another user (nobody) when the tests run
# as root: let them into the test's directory (mode 0700 from tempdir) to
# read files there (htpasswd) and use the temp directories nginx creates
# for them (request bodies, buffered answers).
sub open_for_workers {
    my ($t) = @_;
    chmod 0755, $t->dir, $t->dir . '/temp' or die "chmod: $!";
}

# Polls $cond every $step s (default 0.05) until it returns true or
# $seconds have passed; returns its last value. No sleep-and-hope: callers
# assert on the result.
sub wait_until {
    my ($seconds, $cond, $step) = @_;
    my $deadline = time + $seconds;
    while (1) {
        my $v = $cond->();
        return $v if $v || time >= $deadline;
        sleep($step // 0.05);
    }
}

# JSON text to Perl (bytes in: strings stay bytes), undef when it is not JSON.
sub decode_json {
    my ($text) = @_;
    my $v = eval { JSON::PP->new->decode($text // '') };
    return $v;
}

# $n new carts through nginx on $front, each "add a book, read the cart"
# with a client of its own. Returns { carts => [{ client, home, books }],
# spread => { node => carts }, bad => answers not 200 or without the book,
# split => carts whose two answers came from two nodes (or X-Worker named
# another), bad_id => session ids not ending in their node's route }.
sub new_carts {
    my ($t, $front, $n, $label) = @_;
    $label //= 'cart';
    my %res = (carts => [], spread => {}, bad => 0, split => 0, bad_id => 0);
    for my $i (1 .. $n) {
        my $c = TomcatTest::Client->new($t, $front, "$label $i");
        my $book = "First book of $label $i";
        my $a = $c->add($book);
        my $j = $c->cart;
        $res{bad}++ unless $a->{status} == 200 && $j->{status} == 200
            && ref $j->{books} && "@{$j->{books}}" eq $book;
        $res{split}++ unless $a->{node} ne '' && $j->{node} eq $a->{node}
            && $a->{worker} eq $a->{node} && $j->{worker} eq $j->{node};
        $res{bad_id}++ unless ($c->session // '') =~ /\.\Q$a->{node}\E$/;
        $res{spread}{$a->{node}}++;
        push @{$res{carts}}, { client => $c, home => $a->{node}, books => [$book] };
    }
    return \%res;
}

# --- the cart story (t/30 over HTTP, t/50 over AJP) ---------------------------------
#
# The steps both files tell, each with its assertions; what a file tells on
# its own (its front, its protocol's traces in error.log, the session in the
# URL, the drain) stays in the file. A cart is { client, home, books }.
#
#   my $SEED = random_seed();
#   my @nodes = cluster_nodes($cluster);
#   my $browser = browser_fills_cart($t, $front);                  # 1.
#   my @carts = ($browser, new_carts_by_weight($t, $front, 300, \@nodes));   # 2.
#   my $kill = kill_busiest_while_shopping($t, $cluster, \@carts, \@nodes, seed => $SEED);
#   carts_after_kill($kill);                                        # 3.
#   my $restarted = restart_victim($kill);                          # 4.
#   new_carts_reach_again($t, $front, $kill->{victim}, since => $restarted);

# The seed of the story's random orders: STICKY_SEED, or a new one; seeds
# srand and is noted, so that a failed run can be repeated.
sub random_seed {
    my $seed = $ENV{STICKY_SEED} // (time ^ $$) & 0xffff;
    srand $seed;
    note "random order seed $seed (STICKY_SEED=$seed repeats it)";
    return $seed;
}

# The three nodes of the story's cluster, by jvmRoute (asserted: tomcat1..3).
sub cluster_nodes {
    my ($cluster) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    note sprintf 'cluster up in %.1f s', $cluster->start_seconds;
    my @nodes = map { $cluster->route($_) } 1 .. 3;
    is_deeply(\@nodes, [qw(tomcat1 tomcat2 tomcat3)], 'three nodes, jvmRoute tomcat1..3');
    return @nodes;
}

# The lb worker of worker.list in the workers.properties text $workers, as
# $what (the command) wrote it; bails out when there is none.
sub lb_worker {
    my ($workers, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($lb) = $workers =~ /^worker\.list=(\S+)$/m;
    ok(defined $lb && $workers =~ /^worker\.\Q$lb\E\.type=lb$/m,
       "$what writes an lb worker in worker.list") or BAIL_OUT($workers);
    return $lb;
}

# 1. One browser fills a cart with 20 books, the tenth "Café Tomcat" (UTF-8
# through nginx and Tomcat): first the cart page (it names its node; the
# session id Tomcat gives ends in .NODE), then each book by GET /add, the
# UTF-8 one by $opt{add_utf8}->($browser, $book) when given (the caller's
# own way and checks; it returns an answer with the cart's books). Asserts:
# every answer 200 from one node, one session, the cart grows by one book
# per add, X-Worker names the node, /cart.json lists all 20 in order.
# $opt{over} ('AJP') goes into the first assertion's name. Returns the
# browser's cart.
sub browser_fills_cart {
    my ($t, $front, %opt) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $browser = TomcatTest::Client->new($t, $front, 'browser');
    my $page = $browser->get('/');
    is($page->{status}, 200, 'browser: the cart page is served' . ($opt{over} ? " over $opt{over}" : ''))
        or diag $page->{raw};
    like($page->{node}, qr/^tomcat[123]$/, 'browser: the page names the node that answered');
    my $home = $page->{node};
    my $sid = $browser->session // '';
    like($sid, qr/^[0-9A-F]{32}\.\Q$home\E$/, "browser: Tomcat's session id ends in .$home")
        or diag $page->{raw};
    is($page->{session}, $sid, 'browser: the page shows the session of the cookie');

    my $utf8 = 'Café Tomcat';
    my @books = map { "Book $_ of the browser" } 1 .. 19;
    splice @books, 9, 0, $utf8;
    my (%node, %session, %status);
    my ($count_ok, $worker_ok) = (1, 1);
    for my $i (0 .. $#books) {
        my $r;
        if ($books[$i] eq $utf8 && $opt{add_utf8}) {
            local $Test::Builder::Level = $Test::Builder::Level - 1;    # its checks are the caller's
            $r = $opt{add_utf8}->($browser, $books[$i]);
        } else {
            $r = $browser->add($books[$i]);
        }
        $status{$r->{status}}++;
        $node{$r->{node}}++;
        $session{$r->{session}}++;
        $count_ok = 0 unless ref $r->{books} && @{$r->{books}} == $i + 1;
        $worker_ok = 0 unless $r->{worker} eq $r->{node};
    }
    is_deeply(\%status, { 200 => 20 }, 'browser: 20 books added, every answer 200');
    is_deeply(\%node, { $home => 20 }, "browser: every add answered by $home");
    is_deeply(\%session, { $sid => 20 }, 'browser: one session for all 20');
    ok($count_ok, 'browser: the cart grows by one book per add');
    ok($worker_ok, '$sticky_worker names the node that answered');
    my $r = $browser->cart;
    is($r->{node}, $home, "browser: /cart.json from $home");
    is_deeply($r->{books}, \@books, 'browser: /cart.json lists all 20 books in order');
    is($browser->session, $sid, 'browser: the session id never changed');
    return { client => $browser, home => $home, books => [@books] };
}

# 2. $n new carts (new_carts) spread over @$nodes by weight. Asserts: each
# got its book, every answer 200; each cart's two requests answered by one
# node; each session id ends in its node's route; every node got at least a
# quarter (equal weights, method Request: a third each, less on the
# browser's node, whose 22 requests count). Returns the carts.
sub new_carts_by_weight {
    my ($t, $front, $n, $nodes) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $t0 = time;
    my $nc = new_carts($t, $front, $n);
    note sprintf '%d new carts in %.1f s', $n, time - $t0;
    my %spread = %{$nc->{spread}};
    is($nc->{bad}, 0, "$n new carts: each got its book, every answer 200");
    is($nc->{split}, 0, "$n new carts: each cart's two requests answered by one node");
    is($nc->{bad_id}, 0, "$n new carts: each session id ends in the route of its node");
    ok(!grep({ ($spread{$_} // 0) < $n / 4 } @$nodes) && keys %spread == @$nodes,
       "$n new carts: every node got at least a quarter") or diag explain \%spread;
    note 'new carts per node: ' . join ', ', map { "$_ $spread{$_}" } sort keys %spread;
    return @{$nc->{carts}};
}

# 3. The node holding most of @$carts (the browser's included) is killed
# (-9) while $opt{shoppers} (30) of them shop (TomcatTest::Shoppers: the
# browser, 12 carts of that node in all, the rest from the others; rounds
# of "add a book, read the cart" in forked processes until 4 rounds after
# the kill). Asserts: all shop before the kill, the JVM runs before it and
# is gone after it, the shoppers end in time; then what they saw: every
# request answered 200, no session lost, every read has all books added
# before it, the carts of the dead node continue on exactly one other node
# and the others stay on theirs, $sticky_route_changed says so exactly for
# the moved ones. Returns { victim, vn (its node number), survivors => [...],
# jvm (its command line marker), shop, kill_start, kill_end,
# log_before_kill (error.log's size before the kill), moved_to => { node =>
# shoppers of the victim it took }, cluster, carts }.
sub kill_busiest_while_shopping {
    my ($t, $cluster, $carts, $nodes, %opt) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $n = $opt{shoppers} // 30;
    my %carts_on;
    $carts_on{$_->{home}}++ for @$carts;
    my ($victim) = sort { $carts_on{$b} <=> $carts_on{$a} || $a cmp $b } @$nodes;
    note "carts per node (the browser's included): "
        . join(', ', map { "$_ " . ($carts_on{$_} // 0) } @$nodes) . "; killing $victim";
    my $vn = $cluster->node_of($victim);
    my %kill = (cluster => $cluster, carts => $carts, victim => $victim, vn => $vn,
                survivors => [grep { $_ ne $victim } @$nodes],
                jvm => '-Dcatalina.base=' . $cluster->base($vn));

    my @shoppers = TomcatTest::Shoppers->pick($carts, $victim, $nodes, $n);
    is(scalar @shoppers, $n, "$n shoppers, "
       . scalar(grep { $carts->[$_]{home} eq $victim } @shoppers) . " of them on $victim");
    my $shop = $kill{shop} = TomcatTest::Shoppers->new($t, $carts, \@shoppers, seed => $opt{seed})->start;
    ok($shop->wait_rounds(2, 30), "all $n shoppers are shopping before the kill");

    $kill{log_before_kill} = -s $t->error_log // 0;
    my $pid = $cluster->pid($vn);
    ok(jvm_alive($pid, $kill{jvm}), "$victim runs before the kill");
    $kill{kill_start} = time;
    $cluster->kill($vn);
    $kill{kill_end} = time;
    ok(!jvm_alive($pid, $kill{jvm}), "$victim is gone (kill -9)");
    $shop->mark;
    my ($all_done, $failed_procs) = $shop->finish(60);
    ok($all_done, 'all shoppers finished within 60 s');
    is($failed_procs, 0, 'no shopper process died');

    my $f = $shop->findings($victim, @kill{qw(kill_start kill_end)});
    note "$f->{in_flight} request(s) in flight during the kill";
    ok($f->{requests} >= $n * 12, "the shoppers made $f->{requests} requests (at least 6 rounds each)");
    is_deeply($f->{failed}, [], 'kill: every request of every shopper is answered 200');
    is_deeply($f->{lost_session}, [], 'kill: no shopper got a new session')
        or diag_lost_sessions($cluster, $carts, $f->{lost_carts});
    is_deeply($f->{lost_book}, [], 'kill: every read shows all books added before it');
    is_deeply($f->{wrong_node}, [], "kill: carts of $victim continue on exactly one other node, "
              . 'the other carts stay on theirs');
    is_deeply($f->{not_changed}, [], "kill: \$sticky_route_changed is 1 for the carts of $victim");
    is_deeply($f->{changed_home}, [], 'kill: $sticky_route_changed is not 1 for the other carts');
    $kill{moved_to} = { %{$f->{moved_to}} };
    return \%kill;
}

# After the kill every cart (Shoppers::final_reads), read twice. Asserts:
# each has all its books, in order; each is read from one node, the moved
# ones where they continued; $sticky_route_changed is 1 exactly for the dead
# node's carts; those are spread over both survivors (the carts that did
# not shop are added to $kill->{moved_to}); a book is there twice only when
# its add was in flight at the kill.
sub carts_after_kill {
    my ($kill) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($shop, $victim) = @$kill{qw(shop victim)};
    my $g = $shop->final_reads($victim);
    my $moved_to = $kill->{moved_to};
    $moved_to->{$_} += $g->{moved_to}{$_} for keys %{$g->{moved_to}};
    is_deeply($g->{incomplete}, [], 'after the kill: all ' . scalar(@{$kill->{carts}})
              . ' carts have all their books, in order');
    is_deeply($g->{misplaced}, [], 'after the kill: each cart is read from one node, '
              . 'the moved ones where they continued');
    is_deeply($g->{wrong_flag}, [], "after the kill: \$sticky_route_changed is 1 exactly for $victim\'s carts");
    ok(!grep({ !$moved_to->{$_} } @{$kill->{survivors}}),
       "the carts of $victim are spread over both survivors") or diag explain $moved_to;
    note "carts of $victim moved to: " . join ', ', map { "$_ $moved_to->{$_}" } sort keys %$moved_to;
    is_deeply([$shop->bad_dups], [], 'a book appears twice only when its request was in flight at the kill');
    note "$g->{dups} cart(s) with a book twice (a request retried at the kill)" if $g->{dups};
}

# When carts lost their session at the kill: what each node's Tomcat logged
# of those sessions (by the id without its route) and of its replication
# (tribes' "Unable to ..." warnings), so that a session the cluster could not
# hand over is told apart from a request sent to the wrong node.
sub diag_lost_sessions {
    my ($cluster, $carts, $lost) = @_;
    my @ids = grep { length } map { (($carts->[$_]{client}->session // '') =~ /^([^.]+)/)[0] // '' } @$lost;
    diag 'carts that lost their session: ' . join(', ', map { "$_ (" . ($carts->[$_]{client}->session // 'none') . ')' } @$lost);
    for my $n (1 .. $cluster->nodes) {
        my @lines = grep { my $l = $_; $l =~ /Unable to|tribes.*(?:SEVERE|WARNING)/ || grep { index($l, $_) >= 0 } @ids }
                    split /\n/, $cluster->catalina_since($n, 0);
        diag "tomcat$n catalina.out, " . scalar(@lines) . ' line(s):' . join('', map { "\n  $_" } @lines[0 .. ($#lines < 40 ? $#lines : 39)]);
    }
}

# 4. The killed node started again (cluster.sh restart-node returns when it
# answers and has rejoined); asserts its JVM runs. Returns the time.
sub restart_victim {
    my ($kill) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($cluster, $vn) = @$kill{qw(cluster vn)};
    $cluster->restart($vn);
    ok(jvm_alive($cluster->pid($vn), $kill->{jvm}), "$kill->{victim} restarted");
    return time;
}

# New carts one after the other (a pause of $opt{pace} s between them, none
# by default) until one is answered by $node, at most until $opt{seconds}
# (30) after $opt{since} (the restart). Asserts that one is ($opt{why} goes
# into the name), that all are answered 200 meanwhile, and that this cart
# stays on $node, not marked as moved. Returns its client, undef when none.
sub new_carts_reach_again {
    my ($t, $front, $node, %opt) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $since = $opt{since} // time;
    my ($back, $after, %tries);
    my $n = 0;
    while (time < $since + ($opt{seconds} // 30)) {
        my $c = TomcatTest::Client->new($t, $front, 'after restart ' . ++$n);
        my $a = $c->add("Book after restart $n");
        $tries{$a->{node} || "status $a->{status}"}++;
        if ($a->{status} == 200 && $a->{node} eq $node) {
            ($back, $after) = ($c, time - $since);
            last;
        }
        sleep $opt{pace} if $opt{pace};    # pacing only; the bound is the deadline
    }
    ok($back, sprintf("new carts reach $node again (%s%.1f s after its restart, after %d new cart(s))",
                      defined $opt{why} ? "$opt{why}: " : '', $after // -1, $n)) or diag explain \%tries;
    is(join(',', grep { !/^tomcat/ } keys %tries), '', 'while it recovers new carts are answered 200');
    if ($back) {
        my $r = $back->cart;
        is($r->{node}, $node, "a new cart on $node stays there");
        is($r->{changed}, 0, '... with $sticky_route_changed not 1');
    }
    return $back;
}

# --- the cart app's /big ----------------------------------------------------------

# /big sends 1 KiB lines: line k (from 0) is sprintf("%010d ", k), then
# BIG_FILLER (1012 characters), then "\n" (demo/cartapp DiagServlet.java).
our $BIG_FILLER = substr(join('', 'a' .. 'z', 'A' .. 'Z', 0 .. 9) x 20, 0, 1012);

# The MD5 (hex) of the first $bytes bytes of /big.
sub big_digest {
    my ($bytes) = @_;
    my $md5 = Digest::MD5->new;
    my ($k, $left) = (0, $bytes);
    while ($left > 0) {
        my $block = '';
        $block .= sprintf("%010d ", $k++) . $BIG_FILLER . "\n" for 1 .. 64;
        $block = substr($block, 0, $left) if $left < length $block;
        $md5->add($block);
        $left -= length $block;
    }
    return $md5->hexdigest;
}
use Digest::MD5 ();

# --- a raw HTTP/1.1 client ----------------------------------------------------------

# One request on a new connection (or on $o{sock}, kept alive), and its
# answer read as far as its framing says, within $o{timeout} s (default 30).
#
#   port, method (GET), path, version ('1.1'),
#   headers => [NAME => VALUE, ...] in order (Host: localhost:PORT and, for
#              HTTP/1.1, Connection: close are added unless given),
#   body => BYTES (with Content-Length), or
#   chunks => [BYTES, ...] (Transfer-Encoding: chunked, one chunk each),
#   digest => 1: do not keep the body, only its length and MD5,
#   keep_alive => 1: no Connection: close; a complete answer leaves the
#              socket in {sock}, for the next request's sock => ...
#
# Returns { status, reason, headers => { lc name => [values] }, body,
# length, md5, framing (length|chunked|close|none), complete (the body
# ended as its framing said), timed_out, closed (the server closed),
# t0, t_head, t_body (first body bytes), t_end, local_port, sock }.
sub http_request {
    my (%o) = @_;
    local $SIG{PIPE} = 'IGNORE';
    my $method = $o{method} // 'GET';
    my $version = $o{version} // '1.1';
    my @h = @{$o{headers} || []};
    my %given;
    for (my $i = 0; $i < @h; $i += 2) { $given{lc $h[$i]} = 1 }
    unshift @h, Host => "localhost:$o{port}" unless $given{host};
    push @h, Connection => 'close'
        if $version eq '1.1' && !$given{connection} && !$o{keep_alive};
    my $req = "$method $o{path} HTTP/$version\r\n";
    for (my $i = 0; $i < @h; $i += 2) { $req .= "$h[$i]: $h[$i + 1]\r\n" }
    if (defined $o{body}) {
        $req .= "Content-Length: " . length($o{body}) . "\r\n" unless $given{'content-length'};
        $req .= "\r\n" . $o{body};
    } elsif ($o{chunks}) {
        $req .= "Transfer-Encoding: chunked\r\n\r\n";
        $req .= sprintf("%x\r\n%s\r\n", length $_, $_) for grep { length } @{$o{chunks}};
        $req .= "0\r\n\r\n";
    } else {
        $req .= "\r\n";
    }
    my $r = { status => 0, headers => {}, body => '', length => 0, complete => 0,
              timed_out => 0, closed => 0, framing => 'none', t0 => time };
    my $md5 = Digest::MD5->new;
    my $s = $o{sock} // IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $o{port},
                                             Proto => 'tcp', Timeout => 5);
    unless ($s) { $r->{error} = "connect: $!"; $r->{t_end} = time; return $r }
    $r->{local_port} = $s->sockport;
    my $deadline = time + ($o{timeout} // 30);
    my $sel_w = IO::Select->new($s);
    for (my $off = 0; $off < length $req; ) {
        last unless $sel_w->can_write(_left($deadline));
        my $n = syswrite($s, $req, 1 << 20, $off);
        unless (defined $n) { $r->{write_error} = "$!"; last }    # answered early?
        $off += $n;
    }
    my $sel = IO::Select->new($s);
    my $buf = '';
    my ($state, $want, $chunk_left) = ('head', 0, 0);
    my $keep = !$o{digest};
    my $add = sub {
        my ($bytes) = @_;
        return unless length $bytes;
        $r->{t_body} //= time;
        $r->{length} += length $bytes;
        $md5->add($bytes);
        $r->{body} .= $bytes if $keep;
    };
    READ: while (1) {
        # consume what the buffer holds
        while (1) {
            if ($state eq 'head') {
                my $end = index($buf, "\r\n\r\n");
                last if $end < 0;
                my $head = substr($buf, 0, $end);
                substr($buf, 0, $end + 4) = '';
                my @lines = split /\r\n/, $head;
                my $sl = shift @lines // '';
                ($r->{status}, $r->{reason}) = $sl =~ m{^HTTP/\d\.\d (\d{3}) ?(.*)$};
                $r->{status} //= 0;
                $r->{status_line} = $sl;
                $r->{headers} = {};
                for (@lines) {
                    my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
                    push @{$r->{headers}{lc $k}}, $v;
                }
                $r->{t_head} = time;
                next if $r->{status} >= 100 && $r->{status} < 200;    # 1xx: the next head
                my $te = join ',', @{$r->{headers}{'transfer-encoding'} || []};
                my $cl = $r->{headers}{'content-length'};
                if ($method eq 'HEAD' || $r->{status} == 204 || $r->{status} == 304) {
                    $r->{framing} = 'none';
                    $state = 'done';
                } elsif ($te =~ /chunked/i) {
                    $r->{framing} = 'chunked';
                    $state = 'chunk-size';
                } elsif ($cl) {
                    $r->{framing} = 'length';
                    $want = $cl->[0];
                    $state = $want > 0 ? 'length' : 'done';
                } else {
                    $r->{framing} = 'close';
                    $state = 'close';
                }
            } elsif ($state eq 'length') {
                last unless length $buf;
                my $take = length($buf) < $want ? length($buf) : $want;
                $add->(substr($buf, 0, $take, ''));
                $want -= $take;
                $state = 'done' if $want == 0;
            } elsif ($state eq 'close') {
                $add->($buf);
                $buf = '';
                last;
            } elsif ($state eq 'chunk-size') {
                my $end = index($buf, "\r\n");
                last if $end < 0;
                my $line = substr($buf, 0, $end + 2, '');
                my ($hex) = $line =~ /^([0-9a-fA-F]+)/;
                unless (defined $hex) { $r->{error} = 'bad chunk size line'; last READ }
                $chunk_left = hex $hex;
                $state = $chunk_left ? 'chunk-data' : 'trailer';
            } elsif ($state eq 'chunk-data') {
                last unless length $buf;
                my $take = length($buf) < $chunk_left ? length($buf) : $chunk_left;
                $add->(substr($buf, 0, $take, ''));
                $chunk_left -= $take;
                $state = 'chunk-crlf' if $chunk_left == 0;
            } elsif ($state eq 'chunk-crlf') {
                last if length($buf) < 2;
                substr($buf, 0, 2) = '';
                $state = 'chunk-size';
            } elsif ($state eq 'trailer') {
                my $end = index($buf, "\r\n");
                last if $end < 0;
                my $line = substr($buf, 0, $end + 2, '');
                $state = 'done' if $line eq "\r\n";
            } else {    # done
                last;
            }
        }
        if ($state eq 'done') {
            $r->{complete} = 1;
            last;
        }
        unless ($sel->can_read(_left($deadline))) {
            $r->{timed_out} = 1;
            last;
        }
        my $n = sysread($s, my $chunk, 1 << 18);
        if (!$n) {
            $r->{closed} = 1;
            $r->{read_error} = "$!" unless defined $n;
            $r->{complete} = 1 if $state eq 'close';
            last;
        }
        $buf .= $chunk;
    }
    $r->{t_end} = time;
    $r->{md5} = $md5->hexdigest;
    $r->{rest} = $buf if length $buf;
    if ($o{keep_alive} && $r->{complete} && !$r->{closed}) {
        $r->{sock} = $s;
    } else {
        close $s;
    }
    return $r;
}
use IO::Select ();
use IO::Socket::INET ();

sub _left { my $l = $_[0] - time; return $l > 0 ? $l : 0 }

# The first value of header $name of an answer, '' if none.
sub hdr {
    my ($r, $name) = @_;
    my $v = $r->{headers}{lc $name};
    return $v && @$v ? $v->[0] : '';
}

# curl (for TLS: core Perl has none) with @args, the URL last. Returns
# { status, headers => { lc name => [values] }, body, exit, stderr }.
sub curl_request {
    my (@args) = @_;
    my $dir = File::Temp::tempdir('curl-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my @cmd = ('curl', '-sS', '--max-time', '30', '-D', "$dir/head", '-o', "$dir/body", @args);
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', "$dir/err";
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $r = { exit => $? >> 8, headers => {}, status => 0 };
    for my $f (qw(head body err)) {
        open my $fh, '<', "$dir/$f" or next;
        local $/;
        $r->{$f} = <$fh>;
    }
    $r->{body} //= '';
    $r->{stderr} = delete $r->{err} // '';
    # the last head (after a 100 Continue)
    my @heads = split /\r\n\r\n/, $r->{head} // '';
    my @lines = split /\r\n/, $heads[-1] // '';
    ($r->{status}) = (shift(@lines) // '') =~ m{^HTTP/[\d.]+ (\d{3})};
    $r->{status} //= 0;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        push @{$r->{headers}{lc $k}}, $v;
    }
    return $r;
}
use File::Temp ();

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
#
# AJP options (cluster.sh start): ajp => 1 (connectors, no secret),
# ajp_secret => S, packet_size => N, ajp_attributes => REGEX,
# ajp_options => [NAME=VALUE, ...], draining_valve => engine|host;
# access_log => 'unbuffered' (each request in access.log at once);
# app => DIR: an exploded web app served as ROOT instead of the cart app.
sub start {
    my ($class, $dir, %opt) = @_;
    my $self = bless { dir => $dir, log => "$dir.log" }, $class;
    my @args = ('--nodes', $opt{nodes} // 3, '--manager', $opt{manager} // 'backup');
    push @args, '--ajp' if $opt{ajp};
    push @args, '--ajp-secret', $opt{ajp_secret} if defined $opt{ajp_secret};
    push @args, '--packet-size', $opt{packet_size} if defined $opt{packet_size};
    push @args, '--ajp-attributes', $opt{ajp_attributes} if defined $opt{ajp_attributes};
    push @args, map { ('--ajp-option', $_) } @{$opt{ajp_options} || []};
    push @args, '--draining-valve', $opt{draining_valve} if defined $opt{draining_valve};
    push @args, '--access-log', $opt{access_log} if defined $opt{access_log};
    push @args, '--app', $opt{app} if defined $opt{app};
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
sub ajp_port { $_[0]{env}{"NODE$_[1]_AJP"} }
sub ajp_secret { $_[0]{env}{AJP_SECRET} }
sub packet_size { $_[0]{env}{AJP_PACKET_SIZE} }

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
        $env{$k} = $v if $k =~ /^(?:NODES|MANAGER|START_SECONDS|NODE\d+_\w+|AJP_\w+|DRAINING_VALVE|ACCESS_LOG)$/;
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

# `cluster.sh workers DIR` (ajp => 1: `... --ajp`: the AJP ports, the
# secret and max_packet_size).
sub workers {
    my ($self, %opt) = @_;
    my $ajp = $opt{ajp} ? ' --ajp' : '';
    my $text = `'$TomcatTest::CLUSTER_SH' workers '$self->{dir}'$ajp 2>>'$self->{log}'`;
    die "cluster.sh workers failed" if $?;
    return $text;
}

# Node $n's catalina.out (where Tomcat logs) from byte $offset on;
# catalina_size($n) is the offset to start from.
sub catalina_size { my ($self, $n) = @_; return -s $self->base($n) . '/logs/catalina.out' // 0 }
sub catalina_since {
    my ($self, $n, $offset) = @_;
    open my $fh, '<', $self->base($n) . '/logs/catalina.out' or return '';
    seek $fh, $offset // 0, 0;
    local $/;
    return <$fh> // '';
}

# Node $n's access log (AccessLogValve, one line a request: "%h %t \"%r\" %s ...").
sub access_log {
    my ($self, $n) = @_;
    open my $fh, '<', $self->base($n) . '/logs/access.log' or return '';
    local $/;
    return <$fh> // '';
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
        next unless $sc =~ /^\s*([^=;\s]+)\s*=\s*([^;]*)/;
        my ($name, $value) = ($1, $2);
        # a browser deletes a cookie that expires now (Max-Age=0: Tomcat's
        # LoadBalancerDrainingValve)
        if ($sc =~ /;\s*max-age\s*=\s*0+\s*(?:;|$)/i) { delete $jar->{$name} }
        else { $jar->{$name} = $value }
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

# --- shoppers while a node dies (the story of t/30, t/50) ---------------------------

package TomcatTest::Shoppers;

# Carts are { client => TomcatTest::Client, home => NODE, books => [...] };
# $carts->[$k] for each $k of @$shoppers shops in a forked process: rounds
# of "add a book, read the cart" over its share of the carts in a random
# order, each request a JSON line in shopper-K.log, until 4 rounds after
# mark() (at most 200 rounds).
#
#   my $shop = TomcatTest::Shoppers->new($t, \@carts, \@shoppers, seed => $SEED);
#   $shop->start;
#   $shop->wait_rounds(2, 30) or ...;    # all shopping
#   ($kill_start, $kill_end) = ...; $shop->mark;
#   my ($all_done, $failed_processes) = $shop->finish(60);
#   my $f = $shop->findings($victim, $kill_start, $kill_end);
#   my $g = $shop->final_reads($victim);   # every cart read twice afterwards

use POSIX ();
use JSON::PP ();
use List::Util qw(shuffle);
use Time::HiRes qw(sleep time);

sub new {
    my ($class, $t, $carts, $shoppers, %opt) = @_;
    return bless { t => $t, carts => $carts, shoppers => $shoppers,
                   seed => $opt{seed} // 0, workers => $opt{workers} // 6,
                   marker => $t->dir . '/shoppers-marker', bad_dup => [] }, $class;
}

sub log_file { my ($self, $k) = @_; return $self->{t}->dir . "/shopper-$k.log" }

sub start {
    my ($self) = @_;
    my @share;
    my @dealt = shuffle @{$self->{shoppers}};
    push @{$share[$_ % $self->{workers}]}, $dealt[$_] for 0 .. $#dealt;
    for my $mine (grep { $_ } @share) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            srand($self->{seed} + $$);
            my $ok = eval { $self->_shop(@$mine); 1 };
            print STDERR "shopper of @$mine: $@" unless $ok;
            POSIX::_exit($ok ? 0 : 1);    # no END blocks, no harness DESTROY here
        }
        $self->{child}{$pid} = $mine;
    }
    return $self;
}

sub lines_of {
    my ($self, $k) = @_;
    open my $fh, '<', $self->log_file($k) or return 0;
    my $n = 0;
    $n++ while defined(my $line = <$fh>);    # not into $_: callers alias it
    return $n;
}

# True once every shopper has done $rounds rounds (2 requests each), within
# $seconds.
sub wait_rounds {
    my ($self, $rounds, $seconds) = @_;
    return TomcatTest::wait_until($seconds, sub {
        !grep { $self->lines_of($_) < 2 * $rounds } @{$self->{shoppers}};
    });
}

sub mark {
    my ($self) = @_;
    open my $m, '>', $self->{marker} or die "$self->{marker}: $!";
    close $m;
}

# Waits (at most $seconds) for the shopper processes; kills what is left.
# Returns (all ended by themselves, number that failed).
sub finish {
    my ($self, $seconds) = @_;
    my $child = $self->{child};
    my $failed = 0;
    my $deadline = time + $seconds;
    while (%$child && time < $deadline) {
        my $pid = waitpid(-1, POSIX::WNOHANG());
        if ($pid > 0) {
            $failed++ if $? && $child->{$pid};
            delete $child->{$pid};
            next;
        }
        sleep 0.05;
    }
    my $all = !%$child;
    unless ($all) {
        kill 'KILL', keys %$child;
        waitpid($_, 0) for keys %$child;
        %$child = ();
    }
    return ($all, $failed);
}

sub records {
    my ($self, $k) = @_;
    open my $fh, '<', $self->log_file($k) or return ();
    my $json = JSON::PP->new;
    return map { $json->decode($_) } <$fh>;
}

sub _shop {
    my ($self, @ks) = @_;
    my %log;
    for my $k (@ks) {
        open $log{$k}, '>>', $self->log_file($k) or die "log: $!";
        $log{$k}->autoflush(1);
    }
    my $json = JSON::PP->new->canonical;
    my ($after, $round) = (0, 0);
    while ($after < 4 && $round < 200) {
        $after++ if -e $self->{marker};
        $round++;
        for my $k (shuffle @ks) {
            my $c = $self->{carts}[$k]{client};
            my $name = $c->name;
            for my $kind ('add', 'cart') {
                my $r = $kind eq 'add' ? $c->add("Book $round of $name while shopping") : $c->cart;
                print { $log{$k} } $json->encode({
                    kind => $kind, book => $r->{book} // '', t0 => $r->{t0}, t1 => $r->{t1},
                    status => $r->{status}, node => $r->{node}, session => $r->{session},
                    changed => $r->{changed}, books => $r->{books} || [],
                    desc => TomcatTest::Client::describe($r),
                }), "\n";
            }
        }
        sleep 0.05;
    }
}

# What the shoppers saw around the kill of $victim between $kill_start and
# $kill_end. Adds the books they added to their carts (books, added) and
# where each continued (now). Returns { failed, lost_session, lost_book,
# wrong_node, not_changed, changed_home: [descriptions], moved_to =>
# { node => carts }, requests, in_flight }.
sub findings {
    my ($self, $victim, $kill_start, $kill_end) = @_;
    @$self{qw(kill_start kill_end)} = ($kill_start, $kill_end);
    my %f = map { $_ => [] } qw(failed lost_session lost_carts lost_book wrong_node not_changed changed_home);
    my %moved_to;
    my ($requests, $in_flight) = (0, 0);
    for my $k (@{$self->{shoppers}}) {
        my $cart = $self->{carts}[$k];
        my @seen = $self->records($k);
        $requests += @seen;
        $in_flight += grep { $_->{t0} < $kill_end && $_->{t1} > $kill_start } @seen;
        my $moved = $cart->{home} eq $victim;
        my %after;    # nodes of requests sent after the kill
        my $sid = $cart->{client}->session // '';
        for my $rec (@seen) {
            push @{$f{failed}}, "$k: $rec->{desc}" unless $rec->{status} == 200;
            unless ($rec->{session} eq $sid) {
                push @{$f{lost_session}}, "$k: $rec->{desc}";
                push @{$f{lost_carts}}, $k unless grep { $_ == $k } @{$f{lost_carts}};
            }
            push @{$cart->{books}}, $rec->{book} if $rec->{kind} eq 'add';
            push @{$cart->{added}}, $rec if $rec->{kind} eq 'add';
            if ($rec->{kind} eq 'cart' && $rec->{status} == 200) {
                # a read sees every book added before it
                my @expected = @{$cart->{books}};
                push @{$f{lost_book}}, "$k: read has " . scalar(@{$rec->{books}}) . ' of ' . scalar(@expected)
                    unless "@{[TomcatTest::uniq(@{$rec->{books}})]}" eq "@expected";
            }
            if ($rec->{t1} < $kill_start) {          # before: at home
                push @{$f{wrong_node}}, "$k before the kill: $rec->{desc}" unless $rec->{node} eq $cart->{home};
            } elsif ($rec->{t0} > $kill_end) {       # after: home, or one replacement
                $after{$rec->{node}}++;
                push @{$f{not_changed}}, "$k: $rec->{desc}" if $moved && !$rec->{changed};
                push @{$f{changed_home}}, "$k: $rec->{desc}" if !$moved && $rec->{changed};
            } elsif ($rec->{node} ne $cart->{home}) { # in flight: home or the replacement
                $after{$rec->{node}}++;
            }
        }
        my @after = sort keys %after;
        if ($moved) {
            push @{$f{wrong_node}}, "$k ($victim) after the kill: @after"
                unless @after == 1 && $after[0] ne $victim;
            $cart->{now} = $after[0];
            $moved_to{$after[0] // 'none'}++;
        } else {
            push @{$f{wrong_node}}, "$k ($cart->{home}) after the kill: @after"
                unless "@after" eq $cart->{home};
            $cart->{now} = $cart->{home};
        }
    }
    $f{moved_to} = \%moved_to;
    $f{requests} = $requests;
    $f{in_flight} = $in_flight;
    return \%f;
}

# Every cart read twice after the kill: { incomplete, misplaced, wrong_flag:
# [descriptions], moved_to => { node => carts of $victim not shopping },
# dups => carts with a book twice }. A cart of $victim must be read from one
# node (where it continued, if it shopped), the others from their home;
# $sticky_route_changed is 1 exactly for $victim's carts.
sub final_reads {
    my ($self, $victim) = @_;
    my %g = map { $_ => [] } qw(incomplete misplaced wrong_flag);
    my %moved_to;
    my $carts = $self->{carts};
    for my $k (0 .. $#$carts) {
        my $cart = $carts->[$k];
        my $moved = $cart->{home} eq $victim;
        my %where;
        for (1 .. 2) {
            my $r = $cart->{client}->cart;
            $where{$r->{node}}++;
            push @{$g{incomplete}}, "cart $k: " . TomcatTest::Client::describe($r)
                unless $r->{status} == 200 && ref $r->{books} && $self->books_ok($cart, $r->{books});
            push @{$g{wrong_flag}}, "cart $k: " . TomcatTest::Client::describe($r)
                unless $r->{changed} == ($moved ? 1 : 0);
            $cart->{final} = $r->{books};
        }
        my @where = keys %where;
        my $expect = $cart->{now} // ($moved ? undef : $cart->{home});
        if (@where != 1 || $where[0] eq $victim
            || (defined $expect && $where[0] ne $expect)) {
            push @{$g{misplaced}}, "cart $k (home $cart->{home}" . ($expect ? ", expected $expect" : '')
                . '): ' . join(', ', map { "$_ $where{$_}" } @where);
        }
        if ($moved && !defined $cart->{now}) { $cart->{now} = $where[0]; $moved_to{$where[0]}++ }
    }
    $g{moved_to} = \%moved_to;
    $g{dups} = grep { ref $_->{final} && @{$_->{final}} != TomcatTest::uniq(@{$_->{final}}) } @$carts;
    return \%g;
}

# True when $got are the cart's books, in order; a book twice only when its
# add was in flight during the kill (nginx retried it). Otherwise the
# reason goes to bad_dups().
sub books_ok {
    my ($self, $cart, $got) = @_;
    return 0 unless "@{[TomcatTest::uniq(@$got)]}" eq "@{$cart->{books}}";
    my %count;
    $count{$_}++ for @$got;
    for my $book (grep { $count{$_} > 1 } keys %count) {
        my ($rec) = grep { $_->{book} eq $book } @{$cart->{added} || []};
        unless ($rec && $count{$book} == 2 && defined $self->{kill_start}
                && $rec->{t0} < $self->{kill_end} && $rec->{t1} > $self->{kill_start}) {
            push @{$self->{bad_dup}}, $cart->{client}->name . ": '$book' $count{$book} times";
            return 0;
        }
    }
    return 1;
}

sub bad_dups { @{$_[0]{bad_dup}} }

# The carts (their numbers in the carts list) that shop.
sub shoppers { @{$_[0]{shoppers}} }

# The 30 shoppers of the story: $carts->[0] (the browser) and carts of each
# node: 12 carts of $victim in all, 9 of each other node (fewer of the
# browser's home), filled up from any node when a node had too few.
sub pick {
    my ($class, $carts, $victim, $nodes, $n) = @_;
    $n //= 30;
    my @shoppers = (0);
    my %want = map { $_ => ($_ eq $victim ? 12 : 9) } @$nodes;
    $want{$carts->[0]{home}}--;
    for my $k (1 .. $#$carts) {
        last if @shoppers == $n;
        my $h = $carts->[$k]{home};
        if (($want{$h} // 0) > 0) { $want{$h}--; push @shoppers, $k }
    }
    my %in = map { $_ => 1 } @shoppers;
    for my $k (1 .. $#$carts) {
        last if @shoppers == $n;
        push @shoppers, $k unless $in{$k}++;
    }
    return @shoppers;
}

1;
