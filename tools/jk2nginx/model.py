"""The Apache configuration as mod_jk sees it: the main server and each
<VirtualHost>, with their mounts (JkMount, JkUnMount, JkMountFile and the
workers' `mount`, merged as mod_jk's merge_jk_config() and init_jk() do),
options, and the <Location>/<Directory> access rules."""

import os

import access
import rules as R
from workers import Workers

# Directives that only tune mod_jk inside Apache: nothing to carry over.
JK_NOT_NEEDED = {
    "jklogfile": "nginx logs to its error_log",
    "jkloglevel": "nginx logs to its error_log",
    "jklogstampformat": "nginx logs to its error_log",
    "jkrequestlogformat": "use log_format with $sticky_worker",
    "jkshmfile": "the module sizes its shared zone itself",
    "jkshmsize": "the module sizes its shared zone itself",
    "jkwatchdoginterval": "the module's timer runs every second",
    "jkmountfilereload": "nginx reads the rules at start and reload",
}
JK_UNSUPPORTED = {
    "jkautoalias": "serving a webapp's static files from its directory: use root/alias",
    "jkworkerindicator": "no per-request worker choice by environment in nginx",
    "jkremoteaddrindicator": "nginx sends the connection's address",
    "jkremoteportindicator": "nginx sends the connection's port",
    "jkremotehostindicator": "nginx sends the connection's address",
    "jkremoteuserindicator": "use ajp_remote_user",
    "jkauthtypeindicator": "use ajp_auth_type",
    "jklocalnameindicator": "nginx sends its server name",
    "jklocalportindicator": "nginx sends its port",
    "jkhttpsindicator": "nginx sends its own TLS facts",
    "jkcertsindicator": "nginx sends its own TLS facts",
    "jkciphersindicator": "nginx sends its own TLS facts",
    "jksessionindicator": "nginx sends its own TLS facts",
    "jkkeysizeindicator": "nginx sends its own TLS facts",
    "jksslprotocolindicator": "nginx sends its own TLS facts",
    "jkcertchainprefix": "nginx sends its own TLS facts",
    "jkextractssl": "nginx always sends its TLS facts over AJP",
    "jkignoreclindicator": "not applicable",
    "jklbworkerindicator": "not applicable",
}
KNOWN_OPTIONS = {"forwarduricompat", "forwarduricompatunparsed", "forwarduriescaped",
                 "forwarduriproxy", "collapseslashesall", "collapseslashesnone",
                 "collapseslashesunmount", "forwarddirectories", "forwardlocaladdress",
                 "forwardphysicaladdress", "flushpackets", "flushheader", "disablereuse",
                 "forwardsslcertchain", "forwardkeysize", "rejectunsafeuri"}
FWDURI = {"forwarduricompat", "forwarduricompatunparsed", "forwarduriescaped", "forwarduriproxy"}


class Section:
    """A <Location> or <Directory> with access rules (None: none of its
    own) or, for a <Directory>, Options that turn Indexes on or off."""
    def __init__(self, kind, path, access_lines, where, indexes=None):
        self.kind, self.path, self.access, self.where = kind, path, access_lines, where
        self.indexes = indexes


def options_indexes(children):
    """What the section's Options say of Indexes: True, False, or None
    (nothing). A list without +/- replaces the whole set (All has it)."""
    state = None
    for d in children:
        if d.key != "options":
            continue
        plain = [a for a in d.args if a[:1] not in ("+", "-")]
        if plain:
            state = any(a.lower() in ("indexes", "all") for a in plain)
        for a in d.args:
            if a[:1] in ("+", "-") and a[1:].lower() == "indexes":
                state = a[0] == "+"
    return state


class Server:
    def __init__(self, main, where):
        self.main = main
        self.where = where
        self.addresses = []         # VirtualHost addresses
        self.names = []
        self.docroot = None
        self.index = None
        self.mounts = []            # (pattern, worker, where): JkMount/JkUnMount
        self.has_own_mounts = main  # mod_jk: uri_to_context allocated
        self.mount_file = None
        self.mountcopy = None       # None: unset
        self.options = {}           # option -> True/False ("+x"/"-x")
        self.envvars = []           # (name, default or None, where)
        self.envvars_own = False
        self.strip_session = None
        self.sections = []
        self.ssl = False
        self.jk_seen = False
        self.rules = []             # the merged, sorted rule list


class Config:
    def __init__(self, reader, tree, notes):
        self.reader = reader
        self.notes = notes          # list of (where, directive, text)
        self.listens = []
        self.workers_file = None
        self.workers = None
        self.mountcopy_all = False
        self.main = Server(True, "main server")
        self.vhosts = []
        self.ignored = {}           # directive name -> count (httpd's own)
        self._walk(tree, self.main, top=True)
        if self.workers_file:
            self.workers = Workers(self.workers_file)
        self._merge()

    def note(self, d, text):
        self.notes.append((d.where, d.name, text))

    # -- reading --------------------------------------------------------------

    def _walk(self, tree, srv, top):
        for d in tree:
            k = d.key
            if d.children is not None:
                if k == "virtualhost" and top:
                    v = Server(False, d.where)
                    v.addresses = list(d.args)
                    self._walk(d.children, v, top=False)
                    self.vhosts.append(v)
                elif k in ("location", "directory"):
                    self._section(d, srv)
                else:
                    self.note(d, "<%s %s> is not carried over" % (d.name, " ".join(d.args)))
                continue
            self._directive(d, srv, top)

    def _section(self, d, srv):
        kind = d.key
        path = d.args[0] if d.args else ""
        if not d.args or path.startswith("~") or any(c in path for c in "*?["):
            self.note(d, "<%s %s>: regular expression or wildcard sections are not "
                         "carried over" % (d.name, " ".join(d.args)))
            return
        inner = []
        for c in d.children:
            if c.key in ("jkmount", "jkunmount") and kind == "location":
                srv.jk_seen = True
                srv.has_own_mounts = True
                if len(c.args) != 1:
                    self.note(c, "JkMount with a path inside <Location> is refused by mod_jk")
                    continue
                # mod_jk: the Location's path is the rule, matched exactly
                pat = path if c.key == "jkmount" else "!" + path
                srv.mounts.append((pat, c.args[0], c.where))
            elif c.key in ("require", "requireany", "requireall", "requirenone",
                           "order", "allow", "deny", "satisfy"):
                pass
            elif c.key in ("options", "allowoverride"):
                pass        # static file serving details nginx has its own way for
            else:
                self.note(c, "%s inside <%s %s> is not carried over"
                          % (c.name, d.name, path))
        notes = []
        lines = access.from_section(d.children, notes)
        for nd, text in notes:
            self.note(nd, text)
        indexes = options_indexes(d.children) if kind == "directory" else None
        if lines is not None or indexes is not None:
            srv.sections.append(Section(kind, path, lines, d.where, indexes))

    def _directive(self, d, srv, top):
        k, a = d.key, d.args
        if k == "jkworkersfile":
            self.workers_file = self.reader.resolve(a[0])
        elif k == "jkmount" or k == "jkunmount":
            srv.jk_seen = True
            srv.has_own_mounts = True
            if len(a) < 2:
                self.note(d, "%s needs a path outside <Location> (mod_jk refuses it)" % d.name)
                return
            srv.mounts.append((a[0] if k == "jkmount" else "!" + a[0], a[1], d.where))
        elif k == "jkmountfile":
            srv.jk_seen = True
            srv.has_own_mounts = True
            srv.mount_file = self.reader.resolve(a[0])
        elif k == "jkmountcopy":
            srv.jk_seen = True
            v = a[0].lower()
            if v == "all" and top:
                self.mountcopy_all = True
            else:
                srv.mountcopy = v == "on"
        elif k == "jkoptions":
            srv.jk_seen = True
            for w in a:
                sign = w[0] if w[0] in "+-" else "+"
                name = w.lstrip("+-").lower()
                if name not in KNOWN_OPTIONS:
                    self.note(d, "JkOptions %s: unknown option (mod_jk refuses it)" % w)
                    continue
                if name in FWDURI:
                    for o in FWDURI:
                        srv.options.pop(o, None)
                srv.options[name] = sign == "+"
        elif k == "jkenvvar":
            srv.jk_seen = True
            srv.envvars_own = True
            srv.envvars.append((a[0], a[1] if len(a) > 1 else None, d.where))
        elif k == "jkstripsession":
            srv.jk_seen = True
            srv.strip_session = a[0].lower() != "off"
        elif k in JK_NOT_NEEDED:
            self.note(d, "%s: not needed (%s)" % (d.name, JK_NOT_NEEDED[k]))
        elif k in JK_UNSUPPORTED:
            self.note(d, "%s is not carried over: %s" % (d.name, JK_UNSUPPORTED[k]))
        elif k.startswith("jk"):
            self.note(d, "%s is not carried over" % d.name)
        elif k == "listen" and top:
            self.listens.append(a[0])
        elif k == "servername":
            srv.names.insert(0, a[0].split("://")[-1].rsplit(":", 1)[0])
        elif k == "serveralias":
            srv.names.extend(a)
        elif k == "documentroot":
            srv.docroot = a[0].rstrip("/") or "/"
        elif k == "directoryindex":
            srv.index = [x for x in a if x.lower() != "disabled"]
        elif k == "sslengine" and a and a[0].lower() == "on":
            srv.ssl = True
            self.note(d, "SSLEngine: TLS is not carried over; add `ssl` to listen "
                         "with ssl_certificate/ssl_certificate_key")
        else:
            self.ignored[d.name] = self.ignored.get(d.name, 0) + 1

    # -- mod_jk's merge -----------------------------------------------------------

    def _merge(self):
        main = self.main
        main.rules = self._rules_of(main.mounts, main.mount_file, main)
        for v in self.vhosts:
            if v.mountcopy is None and self.mountcopy_all:
                v.mountcopy = True
            if not v.jk_seen and not self.mountcopy_all:
                # httpd shares the main config; mod_jk makes the vhost its own
                # without mounts (init_jk: "we don't want to share JkMount")
                v.rules = []
            elif v.has_own_mounts:
                mounts = list(v.mounts)
                mount_file = v.mount_file
                if v.mountcopy:
                    own = {m[0] for m in mounts}
                    mounts += [m for m in main.mounts if m[0] not in own]
                    mount_file = mount_file or main.mount_file
                v.rules = self._rules_of(mounts, mount_file, v)
            elif v.mountcopy:
                v.rules = main.rules        # the main server's map itself
            else:
                v.rules = []
            # options, env vars and JkStripSession inherit (merge_jk_config)
            if not any(o in v.options for o in FWDURI):
                for o in FWDURI:
                    if o in main.options:
                        v.options[o] = main.options[o]
            for o, on in main.options.items():
                if o not in FWDURI and o not in v.options and on:
                    v.options[o] = True
            if main.envvars:
                have = {e[0] for e in v.envvars}
                v.envvars = v.envvars + [e for e in main.envvars if e[0] not in have] \
                    if v.envvars_own else list(main.envvars)
            if v.strip_session is None:
                v.strip_session = main.strip_session

    def _rules_of(self, mounts, mount_file, srv):
        out = []
        seq = [0]

        def add(pattern, worker, source, where):
            # a worker's mount goes to uri_worker_map_add() as it is: no X|Y
            pats = [pattern] if source == R.SOURCE_WORKERDEF else R.expand_pipe(pattern)
            for p in pats:
                r = R.Rule(p, worker, source, where, seq[0])
                seq[0] += 1
                if not r.valid():
                    self.notes.append((where, "rule", "%s=%s: mod_jk refuses a pattern that "
                                       "does not start with '/'" % (p, worker)))
                    continue
                out.append(r)
        # JkMount: a repeated path keeps its first place and its last worker
        seen = {}
        for pat, worker, where in mounts:
            if pat in seen:
                seen[pat] = (seen[pat][0], worker, where)
            else:
                seen[pat] = (len(seen), worker, where)
        for pat, (_, worker, where) in sorted(seen.items(), key=lambda e: e[1][0]):
            add(pat, worker, R.SOURCE_JKMOUNT, where)
        # a worker's `mount` goes into the main server's map (jk_worker.c)
        if self.workers is not None and srv.main:
            for w in self.workers.worker_list():
                for m in self.workers.mounts(w):
                    add(m, w, R.SOURCE_WORKERDEF, "%s: worker.%s.mount" % (self.workers_file, w))
        if mount_file:
            if not os.path.exists(mount_file):
                self.notes.append((mount_file, "JkMountFile", "file not found (mod_jk refuses to start)"))
            else:
                for pat, worker, where in R.parse_urimap(mount_file):
                    add(pat, worker, R.SOURCE_URIMAP, where)
        return R.sort_rules(out)
