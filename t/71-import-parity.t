#!/usr/bin/perl
# The importer's promise, held against the real thing: Apache httpd +
# mod_jk 1.2.48 with an Apache configuration, and nginx + the module with
# what tools/jk2nginx/jk2nginx made of it, in front of the same two Tomcat
# 10 nodes (AJP connectors), answer every URL of a list the same way: the
# same status, and the same Tomcat (X-Node, set by the test's web app) or
# no Tomcat at all.
#
# The configurations (t/data/import/*/) are Debian's shipped jk.conf and
# workers.properties, mod_jk's own sample (apache/tomcat-connectors), two
# public deployments, and one written here with each rule shape; each file
# names its source. Only paths and ports are the test's (@DIR@, @PORT@);
# the test points every ajp13 worker at a node.
#
# The URLs: mounted and not, excluded, wildcards, case, percent-encoding,
# '..', '//' and ';' tricks, static files next to mounts, access rules,
# several virtual hosts. A session cookie names a member of every lb, so
# that both pick the same member.
#
# Differences on purpose (README, "Where we differ from mod_jk"), checked
# as such: a '.;x' or '..;x' segment, which mod_jk resolves for matching
# only, gets 400 from the importer's configuration; nginx itself answers
# 400 to an encoded NUL (%00), Apache 404; a ';jsessionid=' in the path
# whose id names no member: mod_jk uses only the path's id, the module
# then reads the cookie (both reach a Tomcat, maybe not the same).
#
# IMPORT_DEBUG=1 prints every answer of both servers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use Test::More;
use StickyTest;
use TomcatTest;
use ApacheJk;

my $DATA = "$FindBin::Bin/data/import";
my $JK2NGINX = "$FindBin::Bin/../tools/jk2nginx/jk2nginx";

plan skip_all => 'apache2 or mod_jk not installed (make deps)'
    unless -x $ApacheJk::APACHE && -f "$ApacheJk::MODULES/mod_jk.so";

my $t = StickyTest->new;
TomcatTest::open_for_workers($t);
my $cluster = TomcatTest::Cluster->start($t->dir . '/cluster', nodes => 2, manager => 'delta',
                                         ajp => 1, app => "$DATA/nodeapp",
                                         # JkEnvVar's attribute (Tomcat answers 403 to others)
                                         ajp_attributes => 'APP_ENV');

# --- the configurations --------------------------------------------------------------

# name => { files => [[source, target under the ServerRoot]], conf => the
# httpd.conf body after the modules, hosts => Host headers to send }
my %FIXTURES = (
    debian => {
        files => [['debian/jk.conf', 'conf/jk.conf'],
                  ['debian/workers.properties', 'conf/workers.properties'],
                  ['debian/site.conf', 'conf/site.conf']],
        conf  => "Listen 127.0.0.1:\@PORT\@\nInclude conf/jk.conf\nInclude conf/site.conf\n",
        hosts => ['www.example.com', 'other.example.com'],
    },
    'tomcat-connectors' => {
        files => [['tomcat-connectors/httpd-jk.conf', 'conf/httpd-jk.conf'],
                  ['tomcat-connectors/workers.properties', 'conf/workers.properties'],
                  ['tomcat-connectors/uriworkermap.properties', 'conf/uriworkermap.properties']],
        conf  => "Listen 127.0.0.1:\@PORT\@\nDocumentRoot \@DIR\@/htdocs\n"
               . "<Directory \@DIR\@/htdocs>\n    Require all granted\n</Directory>\n"
               . "Include conf/httpd-jk.conf\nJkMountFile conf/uriworkermap.properties\n",
        hosts => ['localhost'],
    },
    'tges-httpd24-jk' => {
        files => [['tges-httpd24-jk/mod_jk.conf', 'conf/mod_jk.conf'],
                  ['tges-httpd24-jk/workers.properties', 'conf/workers.properties'],
                  ['tges-httpd24-jk/uriworkermap.properties', 'conf/uriworkermap.properties']],
        conf  => "Listen 127.0.0.1:\@PORT\@\nDocumentRoot \@DIR\@/htdocs\n"
               . "<Directory \@DIR\@/htdocs>\n    Require all granted\n</Directory>\n"
               . "Include conf/mod_jk.conf\n",
        hosts => ['localhost'],
    },
    'codejsha-infrastructure' => {
        files => [['codejsha-infrastructure/mod-jk.conf', 'conf/mod-jk.conf'],
                  ['codejsha-infrastructure/virtual-host.conf', 'conf/virtual-host.conf'],
                  ['codejsha-infrastructure/workers.properties', 'conf/workers.properties'],
                  ['codejsha-infrastructure/uriworkermap.properties', 'conf/uriworkermap.properties']],
        conf  => "Include conf/mod-jk.conf\nInclude conf/virtual-host.conf\n",
        hosts => ['test.example.com', 'test1.example.com', 'test2.example.com'],
    },
    rules => {
        files => [['rules/apache.conf', 'conf/apache.conf'],
                  ['rules/workers.properties', 'conf/workers.properties'],
                  ['rules/uriworkermap.properties', 'conf/uriworkermap.properties']],
        conf  => "Listen 127.0.0.1:\@PORT\@\nInclude conf/apache.conf\n",
        hosts => ['rules.example.com', 'strict.example.com', 'nojk.example.com'],
    },
);

# Static files next to the mounts, in every DocumentRoot.
my @STATIC = qw(index.html x.jsp a.html static/a.css app/index.html app/static/logo.png
                examples/index.html servlets-examples/a.jpeg shop/static/s.css private/f.txt
                css/a.css js/a.js docs/readme.txt Case/x.txt case/x.txt api/public/p.txt
                main/m.txt cache/index.html test1/index.html test2/index.html img/abc.png
                jk-status.txt);

# Every URL is asked of every host of every configuration.
my @URLS = qw(
    / /index.html /index.html;jsessionid=ABC.x /nothing /static/a.css
    /static/a.css;jsessionid=1 /x.jsp /X.JSP /a/b/c.jsp /a/b/c.jsp;jsessionid=1
    /a/b;p=1/c.jsp /a/b/c.jsp/extra /a.html /b.do /examples /examples/
    /examples/index.html /examples/servlets/x /servlets-examples/a.jpeg
    /servlets-examples/A.JPEG /servlets-examples/a.jpeg;x /servlets-examples;x/a.jpeg
    /servlets-examples/sub/a.jpeg /jsp-examples/x /admin /admin/ /admin/x /Admin/x
    /manager/html /jk-status /jk-status/ /jk-status;x /jk-manager /jk-manager/
    /jkstatus/ /jkstatus/x /status /%73tatus /app /app/ /app/x /app/static/logo.png
    /app/static/x.jsp /lb/x /shop /shop/ /shop/cart /shop/static/s.css
    /shop/static/x.jsp /shop/secret/x /shop/secretx /cache/x /cache //cache//x
    /./cache/x /cache/./x /cache/%2e%2e/index.html /cache/../index.html /x/../cache/y
    /cache%2Fx /cache/a%2fb /cache/x%00 /cache/%25 /cache/a%5cb /cache/a%3bb
    /cache;jsessionid=1/x /;x/cache/y /cache/;x/y /failover/a/b /jdbc/x
    /jdbcdriver/x /x/ab /x/abc /x/a /img/abc.png /img/ab.png /img/abcd.png
    /Case/x.txt /case/x.txt /same /dup /pipe /pipe/x.jsp /pipe/x.abp /pipe/x.jspx
    /reports/r1 /api/x /api/v1/x /api/v2/x /api/public/p.txt /api/public/x.jsp
    /docs/readme.txt /timeout/t /private/f.txt /private/x.jsp /main/m.txt
    /test1/index.html /jk-status.txt /js/ /css /../x /%zz /a/..;x/cache/y /a/.;x/index.html
);

# The differences on purpose: (URL, what nginx answers instead).
sub deliberate {
    my ($host, $path, $apache, $nginx) = @_;
    return $nginx eq '400 -' if $path =~ m{(?:^|/)\.\.?;} || $path =~ /%00/;
    return $apache =~ /tomcat/ && $nginx =~ /tomcat/ if $path =~ /;jsessionid=/;
    # not carried over (a comment in the output, a line on stderr): the
    # rule's ;sticky_ignore=1 (mod_jk balances, the module follows the cookie)
    return $apache =~ /tomcat/ && $nginx =~ /tomcat/
        if $host eq 'rules.example.com' && $path =~ m{^/api/(?:x|v2/)};
    return undef;
}

# mod_jk facts the rules configuration shows (checked on both servers):
# "host path" => answer, with node1's worker on tomcat1 and the lb's
# session cookie naming node2's.
my %FACTS = (
    'rules.example.com /x/ab'  => '200 tomcat2',  # a longer wildcard before an exact rule
    'rules.example.com /dup'   => '200 tomcat2',  # JkMountFile before JkMount, same length
    'rules.example.com /same'  => '200 tomcat2',  # a repeated JkMount: the last worker
    'rules.example.com /docs/readme.txt' => '200 tomcat1',  # '-' disables its own line only
    'rules.example.com /api/v1/x' => '200 tomcat1',
    'rules.example.com /api/public/p.txt' => '200 -',  # an exclusion: served from DocumentRoot
    'rules.example.com /private/x.jsp' => '200 tomcat1',  # mounted: <Directory> does not apply
    'rules.example.com /private/f.txt' => '403 -',
    'rules.example.com /admin/x' => '403 -',  # <Location> applies to mounted URLs
    'rules.example.com /shop/secret/x' => '403 -',
    'rules.example.com /shop/secretx' => '200 tomcat2',  # <Location> ends at a '/'
    'rules.example.com /a/b;p=1/c.jsp' => '200 tomcat1',  # ;params cut before matching
    'rules.example.com /X.JSP' => '404 -',  # case-sensitive
    'rules.example.com /img/abc.png' => '200 tomcat2',  # '?' is one character
    'rules.example.com /img/abcd.png' => '404 -',
    'rules.example.com /pipe/x.jsp' => '200 tomcat2',  # X|Y is X and XY
    'rules.example.com /main/m.txt' => '200 -',
    'rules.example.com /js/' => '200 -',  # Options Indexes: a listing
    'nojk.example.com /x.jsp' => '403 -',  # no Jk directive, no mounts: a file (denied)
    'strict.example.com /cache/x' => '200 tomcat2',
    'strict.example.com /cache/%25' => '404 -',  # RejectUnsafeURI: not mapped
    'strict.example.com /index.html;jsessionid=ABC.x' => '200 -',  # JkStripSession
);

# --- helpers -------------------------------------------------------------------------

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    return <$fh>;
}

sub spew {
    my ($f, $text) = @_;
    (my $d = $f) =~ s{/[^/]*$}{};
    make_path($d);
    open my $fh, '>', $f or die "$f: $!";
    print $fh $text;
    close $fh;
}

# workers.properties with every ajp13 worker that has a host or port on a
# node of the cluster (in turn), and the routes to ask for: one member of
# each lb, the one on node 2 when there is one.
sub point_workers {
    my ($text) = @_;
    my (%node, $next);
    for my $w ($text =~ /^\s*worker\.([^.\s]+)\.(?:host|port)\s*=/mg) {
        $node{$w} //= ($next++ % 2) + 1;
    }
    $text =~ s/^(\s*worker\.([^.\s]+)\.port\s*=).*$/$1 . $cluster->ajp_port($node{$2})/mge;
    $text =~ s/^(\s*worker\.([^.\s]+)\.host\s*=).*$/${1}127.0.0.1/mg;
    my @routes;
    for my $lb ($text =~ /^\s*worker\.([^.\s]+)\.type\s*=\s*lb\s*$/mg) {
        my ($list) = $text =~ /^\s*worker\.\Q$lb\E\.balance_workers\s*=\s*(.*?)\s*$/m;
        my @members = split /[\s,]+/, $list // '';
        my ($pick) = (grep({ ($node{$_} // 0) == 2 } @members), @members);
        next unless defined $pick;
        my ($route) = $text =~ /^\s*worker\.\Q$pick\E\.(?:route|jvm_route)\s*=\s*(\S+)/m;
        push @routes, $route // $pick;
    }
    return ($text, \@routes);
}

# A fixture under $root with @DIR@ = $root and @PORT@ = $port.
sub render {
    my ($fx, $root, $port) = @_;
    my $routes;
    for my $pair (@{$fx->{files}}) {
        my ($src, $dst) = @$pair;
        my $text = slurp("$DATA/$src");
        ($text, $routes) = point_workers($text) if $dst =~ /workers\.properties$/;
        $text =~ s/\@DIR\@/$root/g;
        $text =~ s/\@PORT\@/$port/g;
        spew("$root/$dst", $text);
    }
    for my $f (@STATIC) {
        spew("$root/htdocs/$f", "static $f\n");
    }
    (my $conf = $fx->{conf}) =~ s/\@DIR\@/$root/g;
    $conf =~ s/\@PORT\@/$port/g;
    return ($conf, $routes);
}

# One GET with a Host header of our choice, as sent (no normalisation).
sub ask {
    my ($port, $host, $path, $cookie) = @_;
    my $raw = StickyTest::_exchange($port, "GET $path HTTP/1.0\r\nHost: $host\r\n"
                                           . "Cookie: $cookie\r\n\r\n");
    my $r = StickyTest::_parse_response($raw);
    my $node = $r->{headers}{'x-node'} ? $r->{headers}{'x-node'}[0] : '-';
    return "$r->{status} $node";
}

# --- each configuration ------------------------------------------------------------------

my ($asked, $same, @diffs, @deliberate) = (0, 0);
for my $name (sort keys %FIXTURES) {
    my $fx = $FIXTURES{$name};
    my $aport = StickyTest::free_port();
    my $nport = StickyTest::free_port();

    # Apache, with the configuration as written
    my $apache = ApacheJk->new($t->dir . "/$name-apache", $aport);
    my ($aconf, $routes) = render($fx, $apache->root, $aport);
    $apache->write_conf($aconf);
    my ($aok, $aout) = $apache->test_config;
    ok($aok, "$name: apache2 -t") or diag $aout;
    $apache->start;
    # stopped however the test ends (a die, ^C), as the cluster is
    my $stop_apache = TomcatTest::on_exit(sub { $apache->stop });

    # nginx, with what jk2nginx made of the same files: a twin of the
    # configuration on nginx's port, which jk2nginx reads (no Apache runs it)
    my $nroot = $t->dir . "/$name-nginx";
    my $twin = ApacheJk->new($nroot, $nport);
    my ($nconf) = render($fx, $nroot, $nport);
    $twin->write_conf($nconf);
    my $out = `$JK2NGINX --conf-d $nroot/httpd.conf 2>$nroot/jk2nginx.err`;
    is($?, 0, "$name: jk2nginx") or diag slurp("$nroot/jk2nginx.err");
    like(slurp("$nroot/jk2nginx.err"), qr{sticky_ignore=1: no per-location setting},
         "$name: what is not carried over is on stderr") if $name eq 'rules';
    my $n = StickyTest->new;
    chmod 0755, $n->dir;
    $n->write_conf($out);
    my ($nok, $nout) = $n->test_config;
    ok($nok, "$name: nginx -t accepts the output as printed") or diag $nout, $out;
    $n->run($nport);

    my $cookie = join '; ', map { "JSESSIONID=0123456789ABCDEF.$_" } @$routes;
    $cookie ||= 'JSESSIONID=0123456789ABCDEF.none';
    my $served = 0;
    for my $host (@{$fx->{hosts}}) {
        for my $path (@URLS) {
            my $ap = ask($aport, $host, $path, $cookie);
            my $ng = ask($nport, $host, $path, $cookie);
            $served++ if $ap =~ /tomcat/;
            print STDERR "ASK $name $host $path => $ap | $ng\n" if $ENV{IMPORT_DEBUG};
            $asked++;
            if (defined(my $fact = $FACTS{"$host $path"})) {
                is($ap, $fact, "mod_jk: $host $path is $fact");
                is($ng, $fact, "nginx: $host $path is $fact");
            }
            if ($ap eq $ng) {
                $same++;
            } elsif (deliberate($host, $path, $ap, $ng)) {
                push @deliberate, "$name $host $path: apache $ap, nginx $ng";
            } else {
                push @diffs, "$name $host $path: apache $ap, nginx $ng";
            }
        }
    }
    ok($served > 0, "$name: some URLs reach Tomcat ($served)");
    $n->finish;
    $apache->stop;
    TomcatTest::cancel($stop_apache);
}

cmp_ok($asked, '>=', 100, "at least 100 URLs compared ($asked)");
is(scalar @diffs, 0, "Apache + mod_jk and nginx + the importer's output: $same of $asked "
                     . "answers equal, " . scalar(@deliberate) . " differ on purpose")
    or diag join "\n", @diffs;
note "on purpose: $_" for @deliberate;

done_testing;
