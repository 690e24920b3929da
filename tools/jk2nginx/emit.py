"""Writes nginx configuration for a model.Config.

Location layout of each server, and why:
  - prefix locations serve what Apache serves from DocumentRoot (`root`,
    `index`), with the access rules and Indexes of their <Directory>;
  - each mod_jk rule is one regex location (a few more when a <Location>
    with access rules covers part of it), written in mod_jk's order:
    nginx tries regex locations in order and they win over prefix
    locations, so the first one that matches is mod_jk's first match;
  - a rule whose worker has exclusions (`!`, JkUnMount) does not match
    what they exclude, and no later rule matches what an earlier rule
    with exclusions matched: mod_jk does not try further rules once the
    first match is excluded, the URL is served from DocumentRoot;
  - <Location>s with access rules: lookaheads in the rules they cover
    part of, and regex locations after all of mod_jk's for the files.
mod_jk bypasses <Directory> for mounted URLs (its map_to_storage hook), so
only <Location> rules apply to them."""

import re

import rules as R

def q(s):
    """An nginx string in double quotes."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def upstream_name(worker):
    return "jk_" + re.sub(r"[^A-Za-z0-9_]", "_", worker)


class Emitter:
    def __init__(self, cfg, http=False):
        self.cfg = cfg
        # http: the workers' ports are Tomcat's HTTP connectors (proxy_pass)
        self.http = http
        self.p = "proxy" if http else "ajp"
        self.out = []
        self.upstreams = {}         # worker -> upstream name
        self.summary = []           # (where, what): for stderr

    def line(self, indent, text=""):
        self.out.append(("    " * indent + text) if text else "")

    def comment(self, indent, text):
        for part in text.split("\n"):
            self.line(indent, "# " + part)

    def unsupported(self, indent, where, text):
        self.comment(indent, "jk2nginx: %s (%s)" % (text, where))
        if (where, text) not in self.summary:     # a rule may be several locations
            self.summary.append((where, text))

    # -- workers ----------------------------------------------------------------

    def worker_kind(self, worker):
        w = self.cfg.workers
        if w is None:
            return "missing", "no JkWorkersFile"
        if worker not in w.worker_list():
            return "missing", "worker %r is not in worker.list of %s" % (worker, w.path)
        t = w.type(worker)
        if t == "status":
            return "status", None
        if t == "lb":
            return "lb", None
        if t in ("ajp13", "ajp14"):
            return "ajp", None
        return "missing", "worker %r has type %s, which nginx cannot reach" % (worker, t)

    def upstream_for(self, worker):
        if worker not in self.upstreams:
            name, n = upstream_name(worker), 1
            while name in self.upstreams.values():     # "a-b" and "a_b"
                n += 1
                name = "%s_%d" % (upstream_name(worker), n)
            self.upstreams[worker] = name
        return self.upstreams[worker]

    # -- one server -------------------------------------------------------------

    def server(self, srv, listens):
        cfg = self.cfg
        self.line(0, "server {")
        self.comment(1, "from the %s" % ("main server" if srv.main
                                          else "<VirtualHost %s> at %s" % (" ".join(srv.addresses), srv.where)))
        for l in listens:
            self.line(1, "listen %s;" % l)
        names = srv.names or ([cfg.main.names[0]] if cfg.main.names and not srv.main else [])
        self.line(1, "server_name %s;" % (" ".join(names) if names else '""'))
        docroot = srv.docroot or cfg.main.docroot or "/var/www/html"
        self.line(1, "root %s;" % q(docroot))
        index = srv.index if srv.index is not None else (cfg.main.index or ["index.html"])
        if index:
            self.line(1, "index %s;" % " ".join(index))
        self.line(0)
        self.comment(1, "Apache answers 404 to an encoded '/' or NUL in the path "
                        "(AllowEncodedSlashes Off)")
        self.line(1, 'if ($request_uri ~ "^[^?]*%(2[fF]|00)") {')
        self.line(2, "return 404;")
        self.line(1, "}")
        self.static_locations(srv, docroot)
        if srv.rules:
            self.jk_locations(srv)
        self.location_sections(srv)
        self.line(0, "}")
        self.line(0)

    # -- static files -------------------------------------------------------------

    def sections(self, srv):
        """<Location>s and <Directory>s that apply: a virtual host's own
        after the main server's (httpd merges them so)."""
        own = srv.sections
        return own if srv.main else self.cfg.main.sections + own

    def strip_session(self, srv, indent):
        if srv.strip_session:
            self.comment(indent, "JkStripSession: ;jsessionid=... off the files Apache serves")
            self.line(indent, 'rewrite "^(.*?);jsessionid=[^/;]*(.*)$" $1$2 break;')

    def static_locations(self, srv, docroot):
        """DocumentRoot and its <Directory> sections as prefix locations;
        each gets the access rules and Indexes of the deepest <Directory>
        above it that has them, as httpd merges them."""
        dirs = {"/": []}            # URL prefix -> its <Directory>s, in order
        for s in self.sections(srv):
            if s.kind != "directory":
                continue
            d = s.path.rstrip("/") or "/"
            if d == "/" or d == docroot or docroot.startswith(d + "/"):
                prefix = "/"
            elif d.startswith(docroot + "/"):
                prefix = d[len(docroot):] + "/"
            else:
                continue        # outside DocumentRoot: no URL reaches it
            dirs.setdefault(prefix, []).append(s)
        for p in sorted(dirs, key=lambda x: (x.count("/"), x)):
            cover = sorted((s for q in dirs if p.startswith(q) for s in dirs[q]),
                           key=lambda s: len(s.path.rstrip("/")))
            # the deepest <Directory> that says something wins (the later
            # of two for one directory)
            acc = next((s for s in reversed(cover) if s.access is not None), None)
            idx = next((s.indexes for s in reversed(cover) if s.indexes is not None), None)
            self.line(0)
            self.line(1, "location %s {" % p)
            if acc is not None:
                self.comment(2, "access of <Directory %s>" % acc.path)
                for a in acc.access:
                    self.line(2, a)
            if idx:
                self.line(2, "autoindex on;    # Options Indexes")
            self.strip_session(srv, 2)
            self.line(1, "}")

    def location_sections(self, srv):
        """<Location> sections with access rules, for what is served from
        DocumentRoot (httpd matches them against the URI as it is, ;params
        included, for what mod_jk does not take): regex locations after
        mod_jk's (so a mounted URL is not taken by them), the longest path
        first; a <Location> replaces the access rules of a <Directory>, as
        httpd merges them."""
        locs = [s for s in self.sections(srv) if s.kind == "location" and s.path != "/"
                and s.access is not None]
        root = [s for s in self.sections(srv) if s.kind == "location" and s.path == "/"
                and s.access is not None]
        for s in sorted(locs, key=lambda s: -len(s.path)) + root:
            self.line(0)
            self.comment(1, "<Location %s> (%s)" % (s.path, s.where))
            self.line(1, "location ~ %s {" % q("^" + R.literal_prefix_regex(s.path)))
            for a in s.access:
                self.line(2, a)
            self.strip_session(srv, 2)
            self.line(1, "}")

    # -- mod_jk's rules -----------------------------------------------------------

    def jk_locations(self, srv):
        rules = srv.rules
        unsafe = srv.options.get("rejectunsafeuri", False)
        self.line(0)
        self.comment(1, "mod_jk's rules, in mod_jk's order (more '/' first, then longer,\n"
                        "then JkMountFile before JkMount before a worker's mount).")
        self.comment(1, "A '.;x' or '..;x' segment: mod_jk would resolve it for matching "
                        "only;\nthe importer refuses it (a path traversal trick)")
        self.line(1, 'location ~ "(^|/)\\.\\.?;" {')
        self.line(2, "return 400;")
        self.line(1, "}")
        for r in rules:
            if r.disabled:
                self.comment(1, "%s=%s: disabled ('-'), as in mod_jk (%s)" % (r.pattern, r.worker, r.where))
        earlier_excluded = []
        locs = [s for s in self.sections(srv) if s.kind == "location" and s.access is not None]
        for r in rules:
            if r.disabled or r.exclusion:
                continue
            excl = [x for x in rules if x.exclusion and not x.disabled
                    and x.worker in (r.worker, "*")]
            head = "^"
            if earlier_excluded:
                head += "(?!(?:%s))" % "|".join(earlier_excluded)
            if excl:
                head += "(?!(?:%s))" % "|".join(R.pattern_regex(x.pattern) for x in excl)
            if unsafe:
                head += "(?!%s)" % R.UNSAFE
            body = R.pattern_regex(r.pattern)
            self.line(0)
            src = "%s %s %s" % (R.SOURCE_NAMES[r.source], r.pattern, r.worker)
            self.comment(1, "%s (%s)" % (src, r.where))
            for x in excl:
                self.comment(1, "  except %s (%s)" % (x.pattern, x.where))
            # <Location> rules, the most specific first: one that covers
            # every URL of the rule ends the list, one that covers some of
            # them gets a location of its own (a lookahead for its path)
            covering = None
            lit = re.split(r"[*?]", r.pattern)[0]     # what every URL starts with
            for s in sorted(locs, key=lambda s: -len(s.path)):
                at_boundary = (s.path.endswith("/") or lit[len(s.path):len(s.path) + 1] == "/"
                               or (not r.wildcard and lit == s.path))
                if lit.startswith(s.path) and at_boundary:
                    covering = s
                    break
                if s.path.startswith(lit) or lit.startswith(s.path):
                    self.rule_location(srv, r, head + "(?=%s)" % R.prefix_regex(s.path) + body,
                                       s.access, "<Location %s>" % s.path)
            self.rule_location(srv, r, head + body, covering.access if covering else None,
                               "<Location %s>" % covering.path if covering else None)
            if excl:
                earlier_excluded.append(body)

    def rule_location(self, srv, r, regex, acc, acc_from):
        kind, why = self.worker_kind(r.worker)
        self.line(1, "location ~ %s {" % q(regex))
        if acc_from:
            self.comment(2, "access of %s" % acc_from)
        for a in acc or []:
            self.line(2, a)
        if kind == "missing":
            self.unsupported(2, r.where, "%s: mod_jk cannot serve it either (500)" % why)
            self.line(2, "return 500;")
        elif kind == "status":
            ro = self.cfg.workers.read_only(r.worker)
            self.line(2, "sticky_status%s;" % ("" if ro else " read_write"))
        else:
            up = self.upstream_for(r.worker)
            if self.http:
                self.line(2, "proxy_pass http://%s;" % up)
                self.line(2, "proxy_http_version 1.1;    # keepalive to the upstream")
                self.line(2, 'proxy_set_header Connection "";')
                self.line(2, "proxy_set_header Host $host;")
            else:
                self.line(2, "ajp_pass %s;" % up)
            self.ajp_settings(srv, r)
        self.line(1, "}")

    def ajp_settings(self, srv, r):
        o = srv.options
        if o.get("forwarduricompatunparsed"):
            if self.http:
                self.comment(2, "ForwardURICompatUnparsed: proxy_pass without a URI sends the client's own")
            else:
                self.line(2, "ajp_forward_uri unparsed;")
        elif o.get("forwarduricompat") or o.get("forwarduriescaped"):
            self.unsupported(2, r.where, "JkOptions ForwardURICompat/ForwardURIEscaped: "
                                         "nginx forwards the normalized URI (as ForwardURIProxy)")
        if o.get("flushpackets"):
            self.line(2, "%s_buffering off;    # JkOptions FlushPackets" % self.p)
        for opt, text in (("forwardlocaladdress", "ForwardLocalAddress: Tomcat gets the client's address"),
                          ("forwardphysicaladdress", "ForwardPhysicalAddress: Tomcat gets the connection's address"),
                          ("forwarddirectories", "ForwardDirectories: nginx's index module serves directories"),
                          ("flushheader", "FlushHeader: nginx sends the header with the first body bytes"),
                          ("forwardsslcertchain", "ForwardSSLCertChain: only the client certificate is sent"),
                          ("forwardkeysize", "ForwardKeySize: nginx always sends the key size")):
            if o.get(opt):
                self.unsupported(2, r.where, "JkOptions %s" % text)
        for name, default, where in srv.envvars:
            if default is not None and self.http:
                self.unsupported(2, where, "JkEnvVar %s: a request attribute needs AJP "
                                           "(ajp_pass)" % name)
            elif default is not None:
                self.line(2, "ajp_param %s %s;    # JkEnvVar" % (name, q(default)))
            else:
                self.unsupported(2, where, "JkEnvVar %s without a default: nginx has no "
                                           "Apache environment; add `ajp_param %s VALUE;`"
                                 % (name, name))
        for k, v in r.extensions:
            if k == "reply_timeout":
                ms = int(v or "0")
                if ms > 0:
                    self.line(2, "%s_read_timeout %dms;    # ;reply_timeout (a member's "
                                 "reply_timeout still wins)" % (self.p, ms))
                elif ms == 0:
                    self.unsupported(2, r.where, ";reply_timeout=0 (no timeout) has no nginx "
                                                 "equivalent; the read timeout's default (60s) applies")
            elif k in ("sticky_ignore", "stateless"):
                if v not in ("0", ""):
                    self.unsupported(2, r.where, ";%s=%s: no per-location setting in the module"
                                     % (k, v))
            elif k in ("active", "disabled", "stopped"):
                self.unsupported(2, r.where, ";%s=%s: activation is per upstream "
                                             "(workers.properties or the status page)" % (k, v))
            elif k == "fail_on_status":
                self.unsupported(2, r.where, ";fail_on_status=%s: set fail_on_status on the "
                                             "members in workers.properties" % v)
            elif k == "use_server_errors":
                self.unsupported(2, r.where, ";use_server_errors=%s: nginx passes Tomcat's error "
                                             "pages; add %s_intercept_errors on + error_page" % (v, self.p))
            elif k in R.KNOWN_EXTENSIONS:
                self.unsupported(2, r.where, ";%s=%s: session settings are per upstream "
                                             "(workers.properties)" % (k, v))
            else:
                self.unsupported(2, r.where, ";%s: unknown rule extension (mod_jk ignores it)" % k)

    # -- the whole file ---------------------------------------------------------

    def upstream_blocks(self):
        w = self.cfg.workers
        out = []
        for worker, name in self.upstreams.items():
            sel = "lb" if w.type(worker) == "lb" else "worker"
            out.append("upstream %s {" % name)
            out.append("    sticky_workers %s %s=%s;" % (q(w.path), sel, worker))
            if self.cfg.main.options.get("disablereuse"):
                out.append("    # JkOptions DisableReuse: no keepalive")
            else:
                out.append("    keepalive 16;    # mod_jk reuses its connections")
            out.append("}")
            out.append("")
        return out
