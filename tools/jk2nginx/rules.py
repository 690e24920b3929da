"""mod_jk's mount rules (jk_uri_worker_map.c, 1.2.48) and their translation
to PCRE for nginx locations.

How mod_jk decides, and what this file reproduces:
  - a rule is `[-][!]PATTERN=WORKER[;ext=value...]`: `-` disables it, `!`
    makes it an exclusion; PATTERN must start with '/'; `X|Y` is two
    rules, X and XY;
  - a pattern with `*` or `?` is a wildcard (`*` any run of characters,
    '/' included, `?` one character), any other is an exact match; both
    are case-sensitive and match the whole URI;
  - all rules are kept in ONE list sorted by (number of '/' descending,
    length descending, source descending: uriworkermap before JkMount
    before a worker's `mount`), exact and wildcard rules alike; the first
    enabled, non-exclusion rule that matches wins;
  - then, if any exclusion for that rule's worker (or for `*`) matches the
    URI, the request is not mapped at all (no later rule is tried);
  - the URI matched is Apache's decoded r->uri after jk_servlet_normalize():
    every `;param` cut up to the next '/', `//` merged, `/./` and `/../`
    resolved.

nginx's $uri is decoded and has `//`, `/./` and `/../` resolved, but keeps
`;params`. The regexes below therefore match $uri while letting a `;param`
stand wherever mod_jk would have cut one: before every '/' and at the end,
and as a segment of its own (`/a/;x/b` is `/a/b` for mod_jk).
"""

import re

SOURCE_WORKERDEF, SOURCE_JKMOUNT, SOURCE_URIMAP = 1, 2, 3
SOURCE_NAMES = {1: "workers.properties mount", 2: "JkMount", 3: "JkMountFile"}

KNOWN_EXTENSIONS = ("reply_timeout", "sticky_ignore", "stateless", "active",
                    "disabled", "stopped", "fail_on_status", "use_server_errors",
                    "session_cookie", "session_path", "set_session_cookie",
                    "session_cookie_path")


class Rule:
    def __init__(self, pattern, worker, source, where, seq):
        self.raw = pattern
        self.disabled = pattern.startswith("-")
        if self.disabled:
            pattern = pattern[1:]
        self.exclusion = pattern.startswith("!")
        if self.exclusion:
            pattern = pattern[1:]
        self.pattern = pattern
        parts = worker.split(";")
        self.worker = parts[0]
        self.extensions = []
        for p in parts[1:]:
            if not p:
                continue
            k, _, v = p.partition("=")
            self.extensions.append((k, v))
        self.source = source
        self.where = where
        self.seq = seq          # insertion order: glibc's qsort is stable here
        self.wildcard = "*" in pattern or "?" in pattern

    def valid(self):
        return self.pattern.startswith("/")

    def sort_key(self):
        return (-self.pattern.count("/"), -len(self.pattern), -self.source, self.seq)

    def matches(self, uri):
        """mod_jk's own test, on a URI already normalised as mod_jk does."""
        if self.wildcard:
            return wildchar_match(uri, self.pattern)
        return uri == self.pattern

    def ext(self, name):
        for k, v in self.extensions:
            if k == name:
                return v
        return None

    def __repr__(self):
        return "Rule(%r=%r)" % (self.raw, self.worker)


def expand_pipe(pattern):
    """`/app|/*` is two rules, `/app` and `/app/*` (uri_worker_map_open)."""
    if "|" not in pattern:
        return [pattern]
    a, _, b = pattern.partition("|")
    return [a, a + b]


def parse_urimap(path):
    """uriworkermap.properties as jk_map_read_properties() reads it: the
    first '#' starts a comment, key=value split at the first '=', trimmed;
    a repeated key keeps its first place and its last value."""
    entries = {}
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if "=" not in line:
                continue
            k, v = (s.strip() for s in line.split("=", 1))
            if k and v:
                if k in entries:
                    entries[k] = (entries[k][0], v, "%s:%d" % (path, n))
                else:
                    entries[k] = (len(entries), v, "%s:%d" % (path, n))
    return [(k, v, where) for k, (_, v, where) in sorted(entries.items(), key=lambda e: e[1][0])]


def sort_rules(rules):
    return sorted(rules, key=Rule.sort_key)


def wildchar_match(s, exp):
    """jk_wildchar_match(), case-sensitive: True on a match."""
    def m(x, y):
        while y < len(exp):
            if exp[y] == "*":
                while y < len(exp) and exp[y] == "*":
                    y += 1
                if y == len(exp):
                    return 0
                while x < len(s):
                    r = m(x, y)
                    x += 1
                    if r != 1:
                        return r
                return -1
            if x >= len(s):
                return -1
            if exp[y] != "?" and s[x] != exp[y]:
                return 1
            x += 1
            y += 1
        return 0 if x == len(s) else 1
    return m(0, 0) == 0


def servlet_normalize(path):
    """jk_servlet_normalize(): None where mod_jk answers 400."""
    if not path.startswith("/"):
        return None
    out = "/" + re.sub(r";[^/]*", "", path[1:])
    out = re.sub(r"/{2,}", "/", out)
    segs = out.split("/")[1:]
    res = []
    for i, seg in enumerate(segs):
        last = i == len(segs) - 1
        if seg == ".":
            if last:
                res.append("")
            continue
        if seg == "..":
            if not res:
                return None
            res.pop()
            if last:
                res.append("")
            continue
        res.append(seg)
    return "/" + "/".join(res)


def map_uri(rules, uri, reject_unsafe=False):
    """mod_jk's whole decision for a normalised URI: the rule, or None."""
    if reject_unsafe and ("%" in uri or "\\" in uri):
        return None
    for r in rules:
        if r.disabled or r.exclusion:
            continue
        if r.matches(uri):
            for x in rules:
                if x.exclusion and not x.disabled and x.worker in (r.worker, "*") \
                        and x.matches(uri):
                    return None
            return r
    return None


# --- PCRE over nginx's $uri --------------------------------------------------

PCRE_META = set("\\^$.|?*+()[]{}")
PARAM = r"(?:;[^/]*)?"
# one '/' of the normalised URI: a ;param before it, and the segments that
# are only a ;param after it (they vanish when mod_jk merges '//'), taken
# possessively: such a segment never counts as a character of its own
SLASH = r"(?:;[^/]*)?/(?:;[^/]*/)*+"
ANY = r"(?:[^;/]|" + SLASH + ")"
END = PARAM + "$"


def pattern_regex(pattern, anchored_end=True):
    if ";" in pattern:
        return "(?!)"   # mod_jk matches URIs without ;params: never
    out = []
    for c in pattern:
        if c == "/":
            out.append(SLASH)
        elif c == "*":
            if not out or out[-1] != ANY + "*":
                out.append(ANY + "*")
        elif c == "?":
            out.append(ANY)
        else:
            out.append("\\" + c if c in PCRE_META else c)
    return "".join(out) + (END if anchored_end else "")


def prefix_regex(prefix):
    """An Apache <Location> path: a prefix that ends at a '/' boundary."""
    body = pattern_regex(prefix, anchored_end=False)
    if prefix.endswith("/"):
        return body
    return body + r"(?=" + PARAM + r"(?:/|$))"


def literal_prefix_regex(prefix):
    """A <Location> path matched as httpd does for a URI mod_jk does not
    take: a literal prefix ending at a '/' boundary."""
    body = "".join("\\" + c if c in PCRE_META else c for c in prefix)
    return body if prefix.endswith("/") else body + "(?:/|$)"


# mod_jk's RejectUnsafeURI: a '%' or '\' left in the URI once the ;params
# are cut (a ;param is consumed whole, up to the next '/').
UNSAFE = r"(?:[^;%\\]|;[^/]*(?![^/]))*[%\\]"
