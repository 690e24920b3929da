"""Unit tests of jk2nginx (python3 -m unittest, run by t/72-import-rules.t).

The rule translation is held against mod_jk's own matcher as written in
C (jk_wildchar_match, jk_servlet_normalize, the sort of
uri_worker_map_add, map_uri_to_worker_ext), re-stated in rules.py;
t/71-import-parity.t holds both against the real mod_jk."""

import os
import random
import re
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import rules as R   # noqa: E402

JK2NGINX = os.path.join(HERE, "jk2nginx")


def nginx_uri(raw):
    """nginx's $uri of a raw path (no %-escapes): '//' merged, '.' and '..'
    segments resolved; None where nginx answers 400."""
    segs = re.sub(r"/{2,}", "/", raw).split("/")[1:]
    out = []
    for i, s in enumerate(segs):
        last = i == len(segs) - 1
        if s == ".":
            if last:
                out.append("")
        elif s == "..":
            if not out:
                return None
            out.pop()
            if last:
                out.append("")
        else:
            out.append(s)
    return "/" + "/".join(out)


def rule(pattern, worker="w", source=R.SOURCE_JKMOUNT, seq=0):
    return R.Rule(pattern, worker, source, "test", seq)


class MatcherTest(unittest.TestCase):
    """mod_jk's matcher as rules.py states it."""

    def test_wildchar(self):
        m = R.wildchar_match
        self.assertTrue(m("/app/x/y.jsp", "/app/*.jsp"))
        self.assertTrue(m("/app", "/app*"))          # '*' may be empty
        self.assertTrue(m("/a/b/c", "/*"))           # '*' crosses '/'
        self.assertTrue(m("/img/abc.png", "/img/???.png"))
        self.assertFalse(m("/img/ab.png", "/img/???.png"))
        self.assertFalse(m("/APP/x", "/app/*"))      # case-sensitive
        self.assertFalse(m("/app/x.jspx", "/app/*.jsp"))

    def test_normalize(self):
        n = R.servlet_normalize
        self.assertEqual(n("/a;x/b;y=1/c"), "/a/b/c")
        self.assertEqual(n("/a/;x/b"), "/a/b")
        self.assertEqual(n("//a///b"), "/a/b")
        self.assertEqual(n("/a/./b/../c"), "/a/c")
        self.assertEqual(n("/a/..;x/b"), "/b")      # the '..;' trick
        self.assertIsNone(n("/../a"))

    def test_pipe(self):
        self.assertEqual(R.expand_pipe("/app|/*"), ["/app", "/app/*"])
        self.assertEqual(R.expand_pipe("/x.??p"), ["/x.??p"])

    def test_prefixes(self):
        r = rule("-!/a/*")
        self.assertTrue(r.disabled and r.exclusion)
        self.assertEqual(r.pattern, "/a/*")
        self.assertTrue(rule("/a/*").wildcard)
        self.assertFalse(rule("/a").wildcard)
        self.assertFalse(rule("*.jsp").valid())   # must start with '/'

    def test_extensions(self):
        r = R.Rule("/a/*", "lb;reply_timeout=5000;stateless=1", R.SOURCE_URIMAP, "t", 0)
        self.assertEqual(r.worker, "lb")
        self.assertEqual(r.ext("reply_timeout"), "5000")
        self.assertEqual(r.ext("stateless"), "1")


class OrderTest(unittest.TestCase):
    """uri_worker_map_add's sort and map_uri_to_worker_ext's choice."""

    def order(self, *rules_):
        return [r.pattern for r in R.sort_rules(rules_)]

    def test_more_slashes_first(self):
        self.assertEqual(self.order(rule("/*.jsp"), rule("/app/*")), ["/app/*", "/*.jsp"])

    def test_longer_first_exact_or_not(self):
        # not "exact before wildcard": the longer rule comes first
        self.assertEqual(self.order(rule("/x/ab"), rule("/x/ab*")), ["/x/ab*", "/x/ab"])
        rs = R.sort_rules([rule("/x/ab", "exact"), rule("/x/ab*", "wild")])
        self.assertEqual(R.map_uri(rs, "/x/ab").worker, "wild")

    def test_source_order(self):
        rs = R.sort_rules([rule("/dup", "jkmount", R.SOURCE_JKMOUNT, 0),
                           rule("/dup", "file", R.SOURCE_URIMAP, 1),
                           rule("/dup", "mount", R.SOURCE_WORKERDEF, 2)])
        self.assertEqual([r.worker for r in rs], ["file", "jkmount", "mount"])

    def test_exclusion_stops_the_search(self):
        rs = R.sort_rules([rule("/app/*", "a", seq=0), rule("/*", "b", seq=1),
                           rule("!/app/static/*", "a", seq=2)])
        self.assertIsNone(R.map_uri(rs, "/app/static/x"))    # not /* = b
        self.assertEqual(R.map_uri(rs, "/app/x").worker, "a")
        self.assertEqual(R.map_uri(rs, "/other").worker, "b")

    def test_exclusion_of_another_worker(self):
        rs = R.sort_rules([rule("/*", "b"), rule("!/x", "a", seq=1)])
        self.assertEqual(R.map_uri(rs, "/x").worker, "b")
        rs = R.sort_rules([rule("/*", "b"), rule("!/x", "*", seq=1)])
        self.assertIsNone(R.map_uri(rs, "/x"))

    def test_disabled(self):
        rs = R.sort_rules([rule("-/x", "a"), rule("/x", "b", seq=1)])
        self.assertEqual(R.map_uri(rs, "/x").worker, "b")

    def test_reject_unsafe(self):
        rs = [rule("/*")]
        self.assertIsNone(R.map_uri(rs, "/a%b", reject_unsafe=True))
        self.assertIsNotNone(R.map_uri(rs, "/a%b"))


class RegexTest(unittest.TestCase):
    """The PCRE of a rule over nginx's $uri matches exactly what mod_jk's
    matcher matches over its normalised URI."""

    def check(self, pattern, raw):
        uri = nginx_uri(raw)
        jk = R.servlet_normalize(raw)
        if uri is None or jk is None or re.search(r"(^|/)\.\.?;", uri):
            return      # 400 from nginx, or the importer's 400 rule
        if re.search(r"/;[^/]*/", raw) and re.search(r"/\.\.(/|$)", raw):
            return      # README: a ;param-only segment before '..' (on purpose)
        want = R.wildchar_match(jk, pattern) if "*" in pattern or "?" in pattern \
            else jk == pattern
        got = re.search("^" + R.pattern_regex(pattern), uri) is not None
        self.assertEqual(got, want, "pattern %r, URI %r (nginx %r, mod_jk %r)"
                         % (pattern, raw, uri, jk))

    def test_shapes(self):
        for p, uris in {
            "/app": ["/app", "/app;x", "/app/", "/;x/app", "/ap", "/appx"],
            "/app/*": ["/app/", "/app/x", "/app;j=1/x", "/app/;x/y", "/app", "/appx/y"],
            "/*.jsp": ["/a.jsp", "/a/b.jsp;s=1", "/a.jsp/b", "/a.jspx", "/a;x.jsp"],
            "/img/???.png": ["/img/abc.png", "/img/ab.png", "/img/a;x/b.png", "/img/a/b.png"],
            "/a*b": ["/ab", "/a;b", "/a/x/b", "/a;x/b"],
            "/a.b": ["/a.b", "/aXb"],
        }.items():
            for u in uris:
                self.check(p, u)

    def test_random(self):
        rnd = random.Random(71)
        for _ in range(20000):
            p = "/" + "".join(rnd.choice("ab/*?.;") for _ in range(rnd.randint(0, 6)))
            u = "/" + "".join(rnd.choice("ab/;.x") for _ in range(rnd.randint(0, 10)))
            self.check(p, u)

    def test_unsafe(self):
        rx = re.compile("^(?!" + R.UNSAFE + ")")
        self.assertIsNone(rx.search("/a%25b"))
        self.assertIsNone(rx.search("/a\\b"))
        self.assertIsNotNone(rx.search("/a;x%25/b"))    # in a ;param: cut first
        self.assertIsNone(rx.search("/a;x/b%"))


class CliTest(unittest.TestCase):
    """The command on whole configurations: every directive it cannot carry
    over is a comment in the output and a line on stderr."""

    def run_conf(self, conf, workers=None, urimap=None, args=()):
        d = tempfile.mkdtemp(prefix="jk2nginx-")
        with open(os.path.join(d, "workers.properties"), "w") as f:
            f.write(workers or textwrap.dedent("""\
                worker.list=lb,status,node1
                worker.node1.type=ajp13
                worker.node1.port=8009
                worker.lb.type=lb
                worker.lb.balance_workers=node1
                worker.status.type=status
                """))
        if urimap is not None:
            with open(os.path.join(d, "uriworkermap.properties"), "w") as f:
                f.write(urimap)
        with open(os.path.join(d, "httpd.conf"), "w") as f:
            f.write("JkWorkersFile workers.properties\nListen 8080\nDocumentRoot /srv/www\n"
                    + textwrap.dedent(conf))
        p = subprocess.run([JK2NGINX, "--conf-d", *args, os.path.join(d, "httpd.conf")],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout, p.stderr

    def assertReported(self, out, err, text):
        self.assertIn(text, out)
        self.assertIn(text, err)

    def test_unsupported_extensions(self):
        out, err = self.run_conf("JkMountFile uriworkermap.properties\n", urimap=textwrap.dedent("""\
            /a/*=lb;sticky_ignore=1
            /b/*=lb;stateless=1
            /c/*=lb;stopped=node1
            /d/*=lb;fail_on_status=503
            /e/*=lb;use_server_errors=500
            /f/*=lb;session_cookie=SID
            /g/*=lb;frobnicate=1
            /h/*=lb;reply_timeout=0
            """))
        for text in ("sticky_ignore=1", "stateless=1", "stopped=node1", "fail_on_status=503",
                     "use_server_errors=500", "session_cookie=SID", "frobnicate",
                     "reply_timeout=0"):
            self.assertReported(out, err, text)

    def test_carried(self):
        out, err = self.run_conf("""\
            JkMount /app/* lb;reply_timeout=5000
            JkMount /jkstatus status
            JkEnvVar SITE main
            JkOptions +ForwardURICompatUnparsed +FlushPackets
            """)
        self.assertIn("ajp_read_timeout 5000ms;", out)
        self.assertIn("sticky_status read_write;", out)
        self.assertIn('ajp_param SITE "main";', out)
        self.assertIn("ajp_forward_uri unparsed;", out)
        self.assertIn("ajp_buffering off;", out)
        self.assertIn('sticky_workers "', out)
        self.assertIn("lb=lb;", out)

    def test_proxy_pass(self):
        out, err = self.run_conf("JkMount /app/* lb;reply_timeout=5000\nJkEnvVar A b\n",
                                 args=["--proxy-pass"])
        self.assertIn("proxy_pass http://jk_lb;", out)
        self.assertIn("proxy_read_timeout 5000ms;", out)
        directives = [l for l in out.splitlines() if not l.lstrip().startswith("#")]
        self.assertFalse([l for l in directives if "ajp_" in l])
        self.assertReported(out, err, "JkEnvVar A: a request attribute needs AJP")

    def test_unsupported_directives(self):
        out, err = self.run_conf("""\
            JkMount /app/* lb
            JkAutoAlias /srv/webapps
            JkWorkerIndicator JKW
            JkOptions +ForwardLocalAddress +ForwardSSLCertChain
            JkEnvVar NO_DEFAULT
            JkMount /x/* nosuchworker
            <LocationMatch "^/re">
                Require all denied
            </LocationMatch>
            <Location /h>
                Require host example.com
            </Location>
            <Location /u>
                Require valid-user
            </Location>
            <Directory /elsewhere>
                Require all denied
            </Directory>
            Listen 8081
            <VirtualHost *:8081>
                SSLEngine on
                JkMount /v/* lb
            </VirtualHost>
            """)
        for text in ("JkAutoAlias", "JkWorkerIndicator", "ForwardLocalAddress",
                     "ForwardSSLCertChain", "JkEnvVar NO_DEFAULT", "nosuchworker",
                     "LocationMatch", "Require host example.com", "Require valid-user",
                     "SSLEngine"):
            self.assertReported(out, err, text)
        self.assertIn("return 500;", out)       # mod_jk answers 500 too

    def test_not_needed(self):
        out, err = self.run_conf("JkMount /a lb\nJkLogFile x.log\nJkShmFile x.shm\n")
        self.assertReported(out, err, "JkLogFile: not needed")
        self.assertReported(out, err, "JkShmFile: not needed")

    def test_define_and_include(self):
        d = tempfile.mkdtemp(prefix="jk2nginx-")
        with open(os.path.join(d, "jk.conf"), "w") as f:
            f.write("JkMount ${APP}/* lb\n")
        out, err = self.run_conf("Define APP /shop\nInclude %s/jk.conf\n"
                                 "IncludeOptional %s/none-*.conf\n" % (d, d))
        self.assertIn("JkMount /shop/* lb", out)

    def test_access(self):
        out, err = self.run_conf("""\
            JkMount /jkstatus status
            <Location /jkstatus>
                Require ip 10.1 192.168.0.0/255.255.0.0
                Require local
            </Location>
            <Location /old>
                Order deny,allow
                Deny from all
                Allow from 127.0.0.1
            </Location>
            """)
        for line in ("allow 10.1.0.0/16;", "allow 192.168.0.0/16;", "allow 127.0.0.0/8;",
                     "allow ::1;", "deny all;"):
            self.assertIn(line, out)
        self.assertRegex(out, r"allow 127\.0\.0\.1;\s+deny all;\s+allow all;")

    def test_indexes(self):
        out, err = self.run_conf("""\
            JkMount /app/* lb
            <Directory /srv/www>
                Options Indexes FollowSymLinks
            </Directory>
            <Directory /srv/www/private>
                Options -Indexes
                Require all denied
            </Directory>
            """)
        self.assertRegex(out, r"location / \{\n\s+autoindex on;")
        self.assertRegex(out, r"location /private/ \{\n[^}]*deny all;\n\s+\}")
        self.assertNotRegex(out, r"location /private/ \{[^}]*autoindex")

    def test_vhost_inheritance(self):
        out, err = self.run_conf("""\
            JkMount /main/* lb
            <VirtualHost *:8080>
                ServerName copy.example.com
                JkMountCopy On
                JkMount /own/* lb
            </VirtualHost>
            <VirtualHost *:8080>
                ServerName plain.example.com
                JkMount /plain/* lb
            </VirtualHost>
            <VirtualHost *:8080>
                ServerName nojk.example.com
            </VirtualHost>
            """)
        servers = out.split("server {")[1:]
        copy = next(s for s in servers if "copy.example.com" in s)
        plain = next(s for s in servers if "plain.example.com" in s)
        nojk = next(s for s in servers if "nojk.example.com" in s)
        self.assertIn("JkMount /main/*", copy)
        self.assertIn("JkMount /own/*", copy)
        self.assertNotIn("JkMount /main/*", plain)
        self.assertNotIn("ajp_pass", nojk)
        self.assertIn("listen 8080 default_server;", copy)


if __name__ == "__main__":
    unittest.main()
