"""Reads an Apache httpd configuration as httpd does before it starts:
line continuations, comments, sections, Include/IncludeOptional (globs,
relative to ServerRoot), Define and ${VAR} (a Define first, then the
environment, as ap_resolve_env does), <IfModule>/<IfDefine>/<IfVersion>.

The result is a tree of Directive(name, args, children, where)."""

import glob
import os
import re
import subprocess

# Modules httpd always has (compiled in); anything else needs a LoadModule.
STATIC_MODULES = {"core", "so", "http", "mpm_event", "log_config",
                  "logio", "version", "unixd", "watchdog"}


class ConfigError(Exception):
    pass


class Directive:
    def __init__(self, name, args, where, children=None):
        self.name = name            # as written
        self.key = name.lower()     # directives are case-insensitive
        self.args = args
        self.where = where          # "file:line"
        self.children = children    # None unless a section

    def __repr__(self):
        return "<%s %s @%s>" % (self.name, self.args, self.where)


def debian_envvars(path, confdir):
    """The environment /etc/apache2/envvars sets (apache2ctl sources it)."""
    if not os.path.exists(path):
        return {}
    out = subprocess.run(
        ["sh", "-c", '. "$1" >/dev/null 2>&1; env -0', "sh", path],
        env={"APACHE_CONFDIR": confdir, "PATH": "/usr/bin:/bin"},
        capture_output=True, check=False).stdout.decode()
    env = {}
    for item in out.split("\0"):
        if "=" in item:
            k, v = item.split("=", 1)
            env[k] = v
    return env


def split_args(text, where):
    """Arguments as ap_getword_conf() splits them: "..." or '...' group
    (a backslash before the quote keeps it), anything else ends at white
    space; backslashes are otherwise literal."""
    args = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            return args
        q = text[i]
        if q in "\"'":
            i += 1
            word = []
            while i < n and text[i] != q:
                if text[i] == "\\" and i + 1 < n and text[i + 1] == q:
                    i += 1
                word.append(text[i])
                i += 1
            i += 1
            args.append("".join(word))
        else:
            j = i
            while j < n and text[j] not in " \t":
                j += 1
            args.append(text[i:j])
            i = j


class Reader:
    def __init__(self, server_root, env, defines=()):
        self.server_root = server_root
        self.env = env
        self.defines = {d: "" for d in defines}
        self.modules = set(STATIC_MODULES)
        self.notes = []         # (where, text): what was skipped and why

    # -- variables ---------------------------------------------------------

    def expand(self, text, where):
        def repl(m):
            name = m.group(1)
            if name in self.defines:
                return self.defines[name]
            if name in self.env:
                return self.env[name]
            # httpd warns and leaves the text as is
            self.notes.append((where, "undefined variable ${%s} left as is" % name))
            return m.group(0)
        return re.sub(r"\$\{([A-Za-z0-9_.:-]+)\}", repl, text)

    def resolve(self, path):
        """ap_server_root_relative()."""
        return path if path.startswith("/") else os.path.join(self.server_root, path)

    # -- lines --------------------------------------------------------------

    def logical_lines(self, path):
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                raw = f.read().split("\n")
        except OSError as e:
            raise ConfigError("cannot read %s: %s" % (path, e.strerror))
        i = 0
        while i < len(raw):
            start = i
            line = raw[i].rstrip("\r")
            while line.endswith("\\") and i + 1 < len(raw):
                i += 1
                line = line[:-1] + raw[i].rstrip("\r")
            i += 1
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                yield "%s:%d" % (path, start + 1), stripped

    def read_file(self, path):
        lines = list(self.logical_lines(path))
        pos = [0]
        return self._block(lines, pos, None)

    def _block(self, lines, pos, closing):
        out = []
        while pos[0] < len(lines):
            where, text = lines[pos[0]]
            pos[0] += 1
            if text.startswith("</"):
                name = text[2:].rstrip(">").strip()
                if closing is None or name.lower() != closing.lower():
                    raise ConfigError("%s: unexpected </%s>" % (where, name))
                return out
            if text.startswith("<"):
                if not text.endswith(">"):
                    raise ConfigError("%s: section without '>'" % where)
                body = text[1:-1]
                name, _, rest = body.partition(" ")
                rest = self.expand(rest, where)
                args = split_args(rest, where)
                children = self._block(lines, pos, name)
                out.extend(self._section(name, args, children, where))
                continue
            text = self.expand(text, where)
            name, _, rest = text.partition(" ")
            if "\t" in name:
                name, _, more = name.partition("\t")
                rest = more + " " + rest
            args = split_args(rest, where)
            out.extend(self._directive(name, args, where))
        if closing is not None:
            raise ConfigError("missing </%s>" % closing)
        return out

    # -- what httpd evaluates while reading ----------------------------------

    def _section(self, name, args, children, where):
        key = name.lower()
        if key in ("ifmodule", "ifdefine", "ifversion", "ifdirective", "iffile"):
            if self._condition(key, args):
                return children
            return []
        return [Directive(name, args, where, children)]

    def _condition(self, key, args):
        arg = args[0] if args else ""
        neg = arg.startswith("!")
        arg = arg.lstrip("!")
        if key == "ifmodule":
            m = arg
            if m.endswith(".c"):
                m = m[:-2]
            m = m.replace("mod_", "", 1) if m.startswith("mod_") else m
            m = m[:-7] if m.endswith("_module") else m
            ok = m in self.modules
        elif key == "ifdefine":
            ok = arg in self.defines
        elif key == "iffile":
            ok = os.path.exists(self.resolve(arg))
        else:                   # IfVersion, IfDirective: assume true
            ok = True
        return ok != neg

    def _directive(self, name, args, where):
        key = name.lower()
        if key == "define":
            if args:
                self.defines[args[0]] = args[1] if len(args) > 1 else ""
            return []
        if key == "undefine":
            if args:
                self.defines.pop(args[0], None)
            return []
        if key == "serverroot" and args:
            self.server_root = args[0]
            return []
        if key == "loadmodule" and len(args) >= 2:
            m = args[0]
            self.modules.add(m[:-7] if m.endswith("_module") else m)
            return [Directive(name, args, where)]
        if key in ("include", "includeoptional") and args:
            pattern = self.resolve(args[0])
            files = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") \
                else ([pattern] if os.path.exists(pattern) else [])
            if os.path.isdir(pattern):
                files = sorted(glob.glob(os.path.join(pattern, "*")))
            if not files and key == "include" and not any(c in pattern for c in "*?["):
                raise ConfigError("%s: Include %s: no such file" % (where, pattern))
            out = []
            for f in files:
                if os.path.isfile(f):
                    out.extend(self.read_file(f))
            return out
        return [Directive(name, args, where)]


def read_config(path, server_root=None, env=None, defines=()):
    path = os.path.abspath(path)
    if server_root is None:
        server_root = os.path.dirname(path)
    if env is None:
        env = dict(os.environ)
        # Debian's apache2.conf takes its paths from envvars (apache2ctl
        # sources it before it starts httpd).
        envvars = os.path.join(os.path.dirname(path), "envvars")
        for k, v in debian_envvars(envvars, os.path.dirname(path)).items():
            env.setdefault(k, v)
    reader = Reader(server_root, env, defines)
    tree = reader.read_file(path)
    return reader, tree
